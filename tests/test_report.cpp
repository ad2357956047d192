// The run report (report.html) read back independently: a short heavy-rain run of Musterstadt
// with a variant through the CLI, then the HTML parsed here — KPI rows against kpis.json, no
// external references, every embedded PNG decoded with GDAL and not blank, the gauge chart's
// polylines read back through its tick labels against gauges.csv parsed here. Plus the chart
// helpers against hand-computed values, --no-report, and the 2D fallback without a GPU.
#include "TestSupport.h"
#include "app/SvgChart.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

using namespace ct;
using namespace ct::test;
using namespace ct::app;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The heavy-rain scenario shortened: 10 min of a 10 min Euler II storm on 8 m cells.
std::string shortHeavyRain(const fs::path& out, bool withVariant) {
    fs::path a = sourceDir() / "assets" / "musterstadt";
    std::string s = fmt::format(R"(name: report-test
description: short cloudburst for the report test
seed: 7
city:
  terrain: {0}/terrain.tif
  buildings: {0}/buildings.gpkg
  roads: {0}/roads.gpkg
  water: {0}/water.gpkg
  landuse: {0}/landuse.gpkg
time:
  start: 2026-07-14T15:00:00+02:00
  duration: 10min
modules:
  flood:
    scheme: hllc
    cell_size: 8
    buildings: blocked
    boundary: open
    rain:
      design_storm:
        type: euler2
        duration: 10min
        interval: 5min
        depths_mm: {{5min: 15.6, 10min: 23.0}}
    losses:
      drainage_mm_h: 20
      infiltration_mm_h: 12
    gauges:
      - {{name: Marktplatz, at: [475502, 5734290]}}
      - {{name: Uferpark, at: [475300, 5734150]}}
      - {{name: Industrie, at: [476600, 5734100]}}
    gauge_interval: 60
outputs:
  dir: {1}
)",
                                a.string(), out.string());
    if (withVariant)
        s += R"(edits:
  - type: drainage
    name: double sewer capacity in the old town
    polygon: [[475250, 5734150], [475750, 5734150], [475750, 5734450], [475250, 5734450]]
    mm_h: 40
)";
    return s;
}

std::string townOnly(const fs::path& out) {
    fs::path a = sourceDir() / "assets" / "musterstadt";
    return fmt::format("name: town-only\ncity:\n  terrain: {0}/terrain.tif\n  buildings: {0}/buildings.gpkg\n"
                       "  roads: {0}/roads.gpkg\ntime:\n  start: 2026-07-14T15:00:00+02:00\n  duration: 1h\n"
                       "outputs:\n  dir: {1}\n",
                       a.string(), out.string());
}

// "12,345.6" / "+1.5" / "-3.2e-07" → number.
double parseShown(std::string text) {
    std::string t;
    for (char c : text)
        if (c != ',' && c != '+' && c != ' ') t += c;
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (end == t.c_str()) return NAN;
    return v;
}

bool closeTo(double shown, double exact) {
    return std::abs(shown - exact) <= 1e-3 * std::abs(exact) + 1e-12;
}

// module → kpi → column → shown text, from the KPI tables.
using KpiCells = std::map<std::string, std::map<std::string, std::map<std::string, std::string>>>;
KpiCells parseKpiTables(const std::string& html) {
    KpiCells out;
    std::regex table(R"re(<table class="kpis" data-module="([^"]+)">([\s\S]*?)</table>)re");
    std::regex tr(R"re(<tr data-kpi="([^"]+)">([\s\S]*?)</tr>)re");
    std::regex td(R"re(<td class="num" data-col="([^"]+)">([^<]*)</td>)re");
    for (std::sregex_iterator t(html.begin(), html.end(), table), e; t != e; ++t) {
        std::string body = (*t)[2];
        for (std::sregex_iterator r(body.begin(), body.end(), tr); r != e; ++r) {
            std::string cells = (*r)[2];
            for (std::sregex_iterator c(cells.begin(), cells.end(), td); c != e; ++c)
                out[(*t)[1]][(*r)[1]][(*c)[1]] = (*c)[2];
        }
    }
    return out;
}

std::vector<uint8_t> decodeBase64(const std::string& s) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        int v = val(c);
        if (v < 0) continue; // '=' padding
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(uint8_t((acc >> bits) & 0xff));
        }
    }
    return out;
}

struct DecodedPng {
    int width = 0, height = 0;
    double maxBandStdDev = 0;
};
DecodedPng decodePng(const std::vector<uint8_t>& bytes) {
    GDALAllRegister();
    static int counter = 0;
    std::string name = fmt::format("/vsimem/test_report_{}.png", counter++);
    VSIFCloseL(VSIFileFromMemBuffer(name.c_str(), const_cast<GByte*>(bytes.data()),
                                    vsi_l_offset(bytes.size()), FALSE));
    DecodedPng d;
    {
        std::unique_ptr<GDALDataset> ds(GDALDataset::Open(name.c_str(), GDAL_OF_RASTER));
        if (ds) {
            d.width = ds->GetRasterXSize();
            d.height = ds->GetRasterYSize();
            for (int b = 1; b <= std::min(3, ds->GetRasterCount()); ++b) {
                std::vector<uint8_t> px(size_t(d.width) * d.height);
                if (ds->GetRasterBand(b)->RasterIO(GF_Read, 0, 0, d.width, d.height, px.data(), d.width,
                                                   d.height, GDT_Byte, 0, 0) != CE_None)
                    continue;
                double s = 0, s2 = 0;
                for (uint8_t v : px)
                    s += v, s2 += double(v) * v;
                double n = double(px.size()), m = s / n;
                d.maxBandStdDev = std::max(d.maxBandStdDev, std::sqrt(std::max(0.0, s2 / n - m * m)));
            }
        }
    }
    VSIUnlink(name.c_str());
    return d;
}

// Scanned by hand: std::regex recurses per character and overflows the stack on 200 kB of base64.
std::vector<std::string> embeddedPngs(const std::string& html) {
    std::vector<std::string> out;
    const std::string prefix = "src=\"data:image/png;base64,";
    for (size_t p = html.find(prefix); p != std::string::npos; p = html.find(prefix, p + 1)) {
        size_t start = p + prefix.size(), end = html.find('"', start);
        out.push_back(html.substr(start, end - start));
    }
    return out;
}

// Every src= / href= value (attribute names matched case-insensitively).
std::vector<std::string> references(const std::string& html) {
    std::string lower = html;
    for (char& c : lower)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    std::vector<std::string> out;
    for (const std::string attr : {"src", "href"})
        for (size_t p = lower.find(attr); p != std::string::npos; p = lower.find(attr, p + 1)) {
            if (p > 0 && (std::isalnum(static_cast<unsigned char>(lower[p - 1])) || lower[p - 1] == '-'))
                continue;
            size_t q = p + attr.size();
            while (q < lower.size() && lower[q] == ' ')
                ++q;
            if (q >= lower.size() || lower[q] != '=') continue;
            ++q;
            while (q < lower.size() && lower[q] == ' ')
                ++q;
            char quote = q < lower.size() && (lower[q] == '"' || lower[q] == '\'') ? lower[q++] : 0;
            size_t end = q;
            while (end < lower.size() &&
                   (quote ? lower[end] != quote
                          : !std::isspace(static_cast<unsigned char>(lower[end])) && lower[end] != '>'))
                ++end;
            out.push_back(html.substr(q, end - q));
        }
    return out;
}

// Maximum of each "<gauge>_depth_m" column, read with a plain split (names have no commas).
std::map<std::string, double> gaugeMaxima(const fs::path& csv) {
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    for (std::stringstream ss(line); std::getline(ss, line, ',');)
        header.push_back(line);
    std::map<std::string, double> max;
    while (std::getline(in, line)) {
        std::stringstream ss(line);
        std::string cell;
        for (size_t c = 0; std::getline(ss, cell, ','); ++c) {
            const std::string& h = header[c];
            if (h.size() > 8 && h.substr(h.size() - 8) == "_depth_m") {
                std::string g = h.substr(0, h.size() - 8);
                double v = std::stod(cell);
                max[g] = max.count(g) ? std::max(max[g], v) : v;
            }
        }
    }
    return max;
}

// The gauge chart: label → largest value of its polyline, through the y tick labels.
std::map<std::string, double> plottedMaxima(const std::string& html) {
    auto start = html.find("<figure id=\"chart-flood-gauges\">");
    EXPECT_NE(start, std::string::npos);
    if (start == std::string::npos) return {};
    std::string svg = html.substr(start, html.find("</figure>", start) - start);
    std::vector<std::pair<double, double>> ticks; // pixel y, value
    std::regex ytick(R"re(<text class="ytick" x="[^"]*" y="([^"]+)"[^>]*>([^<]+)</text>)re");
    for (std::sregex_iterator i(svg.begin(), svg.end(), ytick), e; i != e; ++i)
        ticks.emplace_back(std::stod((*i)[1]), parseShown((*i)[2]));
    EXPECT_GE(ticks.size(), 2u);
    if (ticks.size() < 2) return {};
    auto [y0, v0] = ticks.front();
    auto [y1, v1] = ticks.back();
    std::map<std::string, double> out;
    std::regex poly(R"re(<polyline class="series" data-label="([^"]+)"[^>]*points="([^"]*)")re");
    for (std::sregex_iterator i(svg.begin(), svg.end(), poly), e; i != e; ++i) {
        double top = INFINITY;
        std::stringstream pts((*i)[2].str());
        std::string p;
        while (pts >> p)
            top = std::min(top, std::stod(p.substr(p.find(',') + 1)));
        out[(*i)[1]] = v0 + (top - y0) * (v1 - v0) / (y1 - y0);
    }
    return out;
}

class ReportRun : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir = new TempDir();
        fs::path yaml = *dir / "heavy-rain.yaml";
        writeText(yaml, shortHeavyRain(*dir / "out", true));
        auto t0 = std::chrono::steady_clock::now();
        result = new CommandResult(runCitytwin("run --quiet " + yaml.string()));
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        html = new std::string(slurp(*dir / "out" / "report.html"));
    }
    static void TearDownTestSuite() {
        delete html;
        delete result;
        delete dir;
    }
    static fs::path out() { return *dir / "out"; }
    static TempDir* dir;
    static CommandResult* result;
    static std::string* html;
    static double seconds;
};
TempDir* ReportRun::dir = nullptr;
CommandResult* ReportRun::result = nullptr;
std::string* ReportRun::html = nullptr;
double ReportRun::seconds = 0;

TEST_F(ReportRun, RunWritesReportAndSaysWhere) {
    ASSERT_EQ(result->exitCode, 0) << result->err;
    EXPECT_TRUE(fs::exists(out() / "report.html"));
    EXPECT_FALSE(fs::exists(out() / "report.html.part"));
    EXPECT_NE(result->out.find("Report: "), std::string::npos) << result->out;
    EXPECT_NE(result->out.find("report.html"), std::string::npos);
    // The terminal summary names each flood KPI with baseline → variant.
    EXPECT_NE(result->out.find("flooded_area"), std::string::npos);
    EXPECT_NE(result->out.find("→"), std::string::npos);
    reportFigure("report", "run_with_report_s", seconds);
}

TEST_F(ReportRun, EveryKpiOfKpisJsonIsInTheTable) {
    ASSERT_EQ(result->exitCode, 0) << result->err;
    json k = json::parse(slurp(out() / "kpis.json"));
    KpiCells cells = parseKpiTables(*html);
    size_t checked = 0;
    auto check = [&](const std::string& module, const std::string& kpi, const std::string& col,
                     double exact) {
        SCOPED_TRACE(module + "/" + kpi + "/" + col);
        ASSERT_TRUE(cells[module][kpi].count(col)) << "missing cell";
        double shown = parseShown(cells[module][kpi][col]);
        EXPECT_TRUE(closeTo(shown, exact)) << cells[module][kpi][col] << " vs " << exact;
        ++checked;
    };
    for (auto& [name, v] : k["city"].items())
        check("city", name, "baseline", v["value"].get<double>());
    for (auto& [module, kpis] : k["baseline"].items())
        for (auto& [name, v] : kpis.items())
            check(module, name, "baseline", v["value"].get<double>());
    for (auto& [module, kpis] : k["variant"].items())
        for (auto& [name, v] : kpis.items())
            check(module, name, "variant", v["value"].get<double>());
    for (auto& [module, kpis] : k["difference"].items())
        for (auto& [name, v] : kpis.items()) {
            check(module, name, "difference", v["value"].get<double>());
            double base = k["baseline"][module][name]["value"].get<double>();
            if (base == 0) continue;
            // Percentages are rounded to what a reader needs: within half the last digit shown.
            SCOPED_TRACE(module + "/" + name + "/relative");
            std::string text = cells[module][name]["relative"];
            ASSERT_NE(text.find('%'), std::string::npos) << text;
            double shown = parseShown(text.substr(0, text.find('%'))),
                   exact = v["relative"].get<double>() * 100;
            size_t point = text.find('.'), e = text.find('e');
            double tol = e != std::string::npos ? 0.051 * std::abs(exact)
                         : point == std::string::npos
                             ? 0.5
                             : 0.5001 * std::pow(10.0, -double(text.find(' ') - point - 1));
            EXPECT_NEAR(shown, exact, tol + 1e-12) << text;
        }
    EXPECT_GT(checked, 40u);
}

TEST_F(ReportRun, ReferencesNothingExternal) {
    ASSERT_FALSE(html->empty());
    auto refs = references(*html);
    for (auto& target : refs)
        EXPECT_TRUE(target.rfind("data:", 0) == 0 || target.rfind("#", 0) == 0) << target.substr(0, 80);
    EXPECT_GE(refs.size(), 2u); // the two pictures
    EXPECT_EQ(html->find("@import"), std::string::npos);
    EXPECT_EQ(html->find("url("), std::string::npos);
    EXPECT_EQ(html->find("<script"), std::string::npos);
    EXPECT_EQ(html->find("<link"), std::string::npos);
}

TEST_F(ReportRun, PicturesDecodeAndAreNotBlank) {
    auto pngs = embeddedPngs(*html);
    ASSERT_EQ(pngs.size(), 2u); // max depth of baseline and variant
    bool rendered = html->find("id=\"preview-reason\"") == std::string::npos;
    for (auto& b64 : pngs) {
        DecodedPng d = decodePng(decodeBase64(b64));
        if (rendered) {
            EXPECT_EQ(d.width, 1280);
            EXPECT_EQ(d.height, 720);
        } else {
            EXPECT_GT(d.width, 100);
            EXPECT_GT(d.height, 100);
        }
        EXPECT_GT(d.maxBandStdDev, 5);
    }
    if (!rendered) GTEST_SKIP() << "no Vulkan device here: the report fell back to 2D previews";
}

TEST_F(ReportRun, GaugeChartPlotsEveryGaugeToItsMaximum) {
    auto plotted = plottedMaxima(*html);
    for (const char* variant : {"baseline", "variant"}) {
        auto expected = gaugeMaxima(out() / variant / "flood" / "gauges.csv");
        ASSERT_EQ(expected.size(), 3u);
        for (auto& [gauge, max] : expected) {
            std::string label = gauge + " (" + variant + ")";
            ASSERT_TRUE(plotted.count(label)) << label;
            EXPECT_NEAR(plotted[label], max, 1e-3 * std::max(0.1, max)) << label;
        }
    }
    EXPECT_EQ(plotted.size(), 6u); // one polyline per gauge and variant
}

TEST(Report, NoReportFlagWritesNone) {
    TempDir dir;
    writeText(dir / "town.yaml", townOnly(dir / "out"));
    auto r = runCitytwin("run --quiet --no-report " + (dir / "town.yaml").string());
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir / "out" / "kpis.json"));
    EXPECT_FALSE(fs::exists(dir / "out" / "report.html"));
}

TEST(Report, AFailingReportKeepsTheRunsResults) {
    TempDir dir;
    writeText(dir / "town.yaml", townOnly(dir / "out"));
    // A folder in the report's place (with a file in it) cannot be replaced by the report.
    fs::create_directories(dir / "out" / "report.html");
    writeText(dir / "out" / "report.html" / "keep", "x");
    auto r = runCitytwin("run --quiet " + (dir / "town.yaml").string());
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir / "out" / "kpis.json"));
    EXPECT_TRUE(fs::exists(dir / "out" / "manifest.json"));
    EXPECT_NE(r.err.find("warning: report.html not written"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "out" / "report.html.part"));
}

TEST(Report, RunWithoutModulesGetsSummaryAndTownPicture) {
    TempDir dir;
    writeText(dir / "town.yaml", townOnly(dir / "out"));
    auto r = runCitytwin("run --quiet " + (dir / "town.yaml").string());
    ASSERT_EQ(r.exitCode, 0) << r.err;
    std::string html = slurp(dir / "out" / "report.html");
    EXPECT_NE(html.find("town-only"), std::string::npos);
    json k = json::parse(slurp(dir / "out" / "kpis.json"));
    KpiCells cells = parseKpiTables(html);
    for (auto& [name, v] : k["city"].items())
        EXPECT_TRUE(closeTo(parseShown(cells["city"][name]["baseline"]), v["value"].get<double>())) << name;
    auto pngs = embeddedPngs(html);
    if (html.find("id=\"preview-reason\"") != std::string::npos) {
        EXPECT_TRUE(pngs.empty());
        GTEST_SKIP() << "no Vulkan device: no town picture";
    }
    ASSERT_EQ(pngs.size(), 1u);
    DecodedPng d = decodePng(decodeBase64(pngs[0]));
    EXPECT_EQ(d.width, 1280);
    EXPECT_EQ(d.height, 720);
    EXPECT_GT(d.maxBandStdDev, 5);
}

TEST(Report, MissingGpuFallsBackToPreviewsAndSaysWhy) {
    TempDir dir;
    writeText(dir / "rain.yaml", shortHeavyRain(dir / "out", false));
    const char* previous = std::getenv("CITYTWIN_GPU");
    std::string saved = previous ? previous : "";
    setenv("CITYTWIN_GPU", "no-such-gpu-xyz", 1);
    auto r = runCitytwin("run --quiet " + (dir / "rain.yaml").string());
    if (previous)
        setenv("CITYTWIN_GPU", saved.c_str(), 1);
    else
        unsetenv("CITYTWIN_GPU");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    std::string html = slurp(dir / "out" / "report.html");
    auto note = html.find("id=\"preview-reason\"");
    ASSERT_NE(note, std::string::npos);
    EXPECT_NE(html.find("no-such-gpu-xyz", note), std::string::npos)
        << "the reason names the device asked for";
    auto pngs = embeddedPngs(html);
    ASSERT_EQ(pngs.size(), 1u);
    DecodedPng d = decodePng(decodeBase64(pngs[0]));
    // The 8 m flood grid scaled into 1280×720 in whole cells, not a 3D picture.
    EXPECT_GT(d.width, 100);
    EXPECT_LE(d.width, 1280);
    EXPECT_LE(d.height, 720);
    EXPECT_FALSE(d.width == 1280 && d.height == 720);
    EXPECT_GT(d.maxBandStdDev, 5);
}

TEST(SvgChart, NiceTicksAreRoundAndCoverTheRange) {
    auto unit = niceTicks(0, 1, 6);
    ASSERT_EQ(unit.size(), 6u);
    for (size_t k = 0; k < unit.size(); ++k)
        EXPECT_NEAR(unit[k], 0.2 * double(k), 1e-12);
    auto t = niceTicks(0.013, 0.87, 5);
    EXPECT_LE(t.front(), 0.013);
    EXPECT_GE(t.back(), 0.87);
    EXPECT_NEAR(t[1] - t[0], 0.25, 1e-12);
    auto big = niceTicks(0, 12345, 6);
    EXPECT_NEAR(big[1] - big[0], 2500, 1e-9);
    EXPECT_GE(big.back(), 12345);
}

TEST(SvgChart, HistogramCountsBins) {
    EXPECT_EQ(histogram({0, 0.5, 1, 1.5, 2, 2.5, 3, 7}, {0, 1, 2, 3}), (std::vector<double>{2, 2, 3}));
}

TEST(SvgChart, BarsAndLinesCarryTheirData) {
    ChartSeries before{"before", {0, 10, 20, 30}, {3, 5, 1}, "", false};
    ChartSeries after{"after", {0, 10, 20, 30}, {2, 6, 0}, "", false};
    ChartOptions o{"Trip times", "minutes", "trips", ChartKind::Bars};
    std::string svg = svgChart({before, after}, o);
    size_t bars = 0;
    for (size_t p = svg.find("class=\"bar\""); p != std::string::npos; p = svg.find("class=\"bar\"", p + 1))
        ++bars;
    EXPECT_EQ(bars, 6u);
    EXPECT_NE(svg.find("Trip times"), std::string::npos);
    std::string line = svgChart({{"a<b", {0, 1, 2}, {0, 4, 2}, "", true}}, {"T", "x", "y"});
    EXPECT_NE(line.find("a&lt;b"), std::string::npos);
    EXPECT_NE(line.find("stroke-dasharray"), std::string::npos);
    auto m = plottedMaxima("<figure id=\"chart-flood-gauges\">" + line + "</figure>");
    EXPECT_NEAR(m["a&lt;b"], 4, 1e-3); // labels stay escaped in the attribute
}

} // namespace
