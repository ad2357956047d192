// The run report: one self-contained HTML file (inline CSS, inline SVG charts, PNG pictures as
// base64 data URIs) so it opens offline and survives being mailed or copied off a cluster.
#include "app/Report.h"

#include "GitVersion.h"
#include "app/SvgChart.h"
#include "core/Error.h"
#include "core/Geo.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"
#include "ui/Presentation.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <gdal_priv.h>
#include <spdlog/spdlog.h>
#include <sstream>

namespace ct::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int pictureWidth = 1280, pictureHeight = 720;

// ---- text and numbers -------------------------------------------------------------------

std::string withThousands(const std::string& fixed) {
    bool negative = !fixed.empty() && fixed[0] == '-';
    std::string s = negative ? fixed.substr(1) : fixed;
    size_t intEnd = std::min(s.find('.'), s.size());
    std::string out;
    for (size_t i = 0; i < intEnd; ++i) {
        if (i > 0 && (intEnd - i) % 3 == 0) out += ',';
        out += s[i];
    }
    return (negative ? "-" : "") + out + s.substr(intEnd);
}

// Readable with 4 significant digits: "123,457", "12.35", "0.004321", "1.235e-07".
std::string formatValue(double v) {
    if (!std::isfinite(v)) return "–";
    if (v == 0) return "0";
    double a = std::abs(v);
    if (a >= 1e15 || a < 1e-3) return fmt::format("{:.3e}", v);
    if (v == std::round(v) || a >= 1000) return withThousands(fmt::format("{:.0f}", v));
    int decimals = 3 - int(std::floor(std::log10(a)));
    std::string s = fmt::format("{:.{}f}", v, decimals);
    if (s.find('.') != std::string::npos) { // 2.500 → 2.5
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
    }
    return withThousands(s);
}

std::string signedValue(double v) {
    return (v > 0 ? "+" : "") + formatValue(v);
}

// A relative change in percent, to the digits a reader needs: "+27.5 %", "-0.49 %", "+6.6e-03 %".
std::string formatPercent(double p) {
    if (!std::isfinite(p)) return "–";
    if (p == 0) return "0 %";
    std::string sign = p > 0 ? "+" : "";
    double a = std::abs(p);
    if (a >= 1) return sign + withThousands(fmt::format("{:.1f}", p)) + " %";
    if (a >= 0.01) return sign + fmt::format("{:.2f}", p) + " %";
    return sign + fmt::format("{:.1e}", p) + " %";
}

std::string prettyUnit(const std::string& unit) {
    if (unit == "m2") return "m²";
    if (unit == "m3") return "m³";
    if (unit == "km2") return "km²";
    return unit;
}

std::string formatDuration(double s) {
    if (s < 120) return fmt::format("{:.0f} s", s);
    int minutes = int(std::lround(s / 60));
    if (minutes < 120) return fmt::format("{} min", minutes);
    return minutes % 60 ? fmt::format("{} h {} min", minutes / 60, minutes % 60)
                        : fmt::format("{} h", minutes / 60);
}

size_t displayWidth(const std::string& s) { // UTF-8 code points
    size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}
std::string pad(const std::string& s, size_t width, bool right = false) {
    size_t w = displayWidth(s);
    if (w >= width) return s;
    return right ? std::string(width - w, ' ') + s : s + std::string(width - w, ' ');
}

// ---- data files -------------------------------------------------------------------------

std::string base64(const uint8_t* data, size_t size) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (size_t i = 0; i < size; i += 3) {
        uint32_t n = uint32_t(data[i]) << 16;
        if (i + 1 < size) n |= uint32_t(data[i + 1]) << 8;
        if (i + 2 < size) n |= data[i + 2];
        out += abc[(n >> 18) & 63];
        out += abc[(n >> 12) & 63];
        out += i + 1 < size ? abc[(n >> 6) & 63] : '=';
        out += i + 2 < size ? abc[n & 63] : '=';
    }
    return out;
}

// A numeric CSV as written by gis::CsvWriter (RFC 4180; quotes only around names).
struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows;
    int column(const std::string& name) const {
        auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? -1 : int(it - header.begin());
    }
};

std::vector<std::string> splitCsvLine(const std::string& line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
                out.back() += '"', ++i;
            else if (c == '"')
                quoted = false;
            else
                out.back() += c;
        } else if (c == '"')
            quoted = true;
        else if (c == ',')
            out.emplace_back();
        else if (c != '\r')
            out.back() += c;
    }
    return out;
}

Table readCsv(const fs::path& file) {
    Table t;
    std::ifstream in(file);
    std::string line;
    if (!std::getline(in, line)) return t;
    t.header = splitCsvLine(line);
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::vector<double> row;
        for (auto& cell : splitCsvLine(line)) {
            char* end = nullptr;
            double v = std::strtod(cell.c_str(), &end);
            row.push_back(end == cell.c_str() ? NAN : v);
        }
        t.rows.push_back(std::move(row));
    }
    return t;
}

json readJson(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return json::object();
    try {
        return json::parse(in);
    } catch (const std::exception&) {
        return json::object();
    }
}

// Where a module's files of one variant lie.
fs::path moduleDir(const RunResult& r, bool variant, const std::string& module) {
    if (!r.hasVariant) return r.outDir / module;
    return r.outDir / (variant ? "variant" : "baseline") / module;
}

// ---- pictures ---------------------------------------------------------------------------

struct Image {
    std::string title, caption;
    int width = 0, height = 0;
    std::string png;                          // base64
    std::optional<render::ColorScale> legend; // drawn in HTML (2D previews)
};

// RGBA pixels (rows top to bottom) to PNG bytes through GDAL's PNG driver and /vsimem/.
std::string encodePng(const std::vector<uint8_t>& rgba, int width, int height) {
    GDALAllRegister();
    GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
    GDALDriver* png = GetGDALDriverManager()->GetDriverByName("PNG");
    if (!mem || !png) throw std::runtime_error("GDAL has no MEM or PNG driver");
    std::unique_ptr<GDALDataset> ds(mem->Create("", width, height, 4, GDT_Byte, nullptr));
    if (!ds || ds->RasterIO(GF_Write, 0, 0, width, height, const_cast<uint8_t*>(rgba.data()), width, height,
                            GDT_Byte, 4, nullptr, 4, GSpacing(width) * 4, 1, nullptr) != CE_None)
        throw std::runtime_error("could not fill an in-memory image");
    static std::atomic<int> counter{0};
    std::string name = fmt::format("/vsimem/citytwin_report_{}.png", counter++);
    std::unique_ptr<GDALDataset> out(
        png->CreateCopy(name.c_str(), ds.get(), FALSE, nullptr, nullptr, nullptr));
    if (!out) throw std::runtime_error("GDAL could not encode a PNG");
    out.reset();
    vsi_l_offset size = 0;
    GByte* bytes = VSIGetMemFileBuffer(name.c_str(), &size, FALSE);
    std::string b64 = bytes ? base64(bytes, size_t(size)) : std::string();
    VSIUnlink(name.c_str());
    if (b64.empty()) throw std::runtime_error("GDAL wrote an empty PNG");
    return b64;
}

struct RasterData {
    int width = 0, height = 0;
    std::vector<float> values; // NaN = nodata
};

RasterData readBand(const fs::path& file) {
    GDALAllRegister();
    std::unique_ptr<GDALDataset> ds(GDALDataset::Open(file.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    if (!ds || ds->GetRasterCount() < 1) throw InputError("cannot open the raster", file.string());
    RasterData r{ds->GetRasterXSize(), ds->GetRasterYSize(), {}};
    r.values.resize(size_t(r.width) * r.height);
    GDALRasterBand* b = ds->GetRasterBand(1);
    if (b->RasterIO(GF_Read, 0, 0, r.width, r.height, r.values.data(), r.width, r.height, GDT_Float32, 0,
                    0) != CE_None)
        throw InputError("cannot read the raster", file.string());
    int hasNodata = 0;
    double nodata = b->GetNoDataValue(&hasNodata);
    if (hasNodata)
        for (float& v : r.values)
            if (v == float(nodata)) v = NAN;
    return r;
}

// A plain top-down picture of a grid: dry cells light grey, nodata white, at most 1280×720.
Image preview(const RasterData& r, const render::ColorScale& scale, float hideAtOrBelow) {
    double f = std::min(double(pictureWidth) / r.width, double(pictureHeight) / r.height);
    if (f > 1) f = std::floor(f); // whole-cell blocks when enlarging
    Image img;
    img.width = std::max(1, int(std::lround(r.width * f)));
    img.height = std::max(1, int(std::lround(r.height * f)));
    std::vector<uint8_t> rgba(size_t(img.width) * img.height * 4);
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            int cx = std::min(r.width - 1, int(x / f)), cy = std::min(r.height - 1, int(y / f));
            float v = r.values[size_t(cy) * r.width + cx];
            uint32_t c = !std::isfinite(v) ? render::rgba(255, 255, 255)
                         : v <= hideAtOrBelow
                             ? render::rgba(228, 228, 224)
                             : scale.colorOf(std::clamp(v, scale.min, scale.max)) | 0xff000000u;
            std::memcpy(&rgba[(size_t(y) * img.width + x) * 4], &c, 4);
        }
    img.png = encodePng(rgba, img.width, img.height);
    img.legend = scale;
    return img;
}

struct MapSource {
    std::string title; // "Baseline: maximum water depth"
    fs::path file;
};

// Each map draped over the 3D town (or the town alone when there are none), headless.
std::vector<Image> renderMaps(const Scenario& scenario, const std::vector<MapSource>& maps,
                              const fs::path& cacheDir, std::string& deviceName) {
    render::VulkanContext ctx(render::ContextOptions{}); // first: fail fast without a device
    deviceName = ctx.deviceName();
    // The scenario object is what ran (a sweep or Python may have changed it after reading).
    ui::CityScene scene = ui::sceneFromScenario(scenario, {cacheDir, false, {}});
    render::Renderer renderer(ctx, render::OffscreenTarget::colorFormat,
                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(scene.mesh, scene.latDeg, scene.lonDeg);
    render::OffscreenTarget target(ctx, renderer, pictureWidth, pictureHeight);
    render::RenderSettings settings;
    settings.time = scenario.start;
    settings.shadows = true;
    render::Camera camera = ui::overviewCamera(scene, double(pictureWidth) / pictureHeight);

    std::vector<render::GridOverlay> grids;
    for (auto& m : maps)
        grids.push_back(ui::gridFromRaster(m.file, scene.city));
    // One colour scale per kind of map so baseline and variant compare at a glance.
    for (size_t i = 0; i < grids.size(); ++i)
        for (size_t j = 0; j < grids.size(); ++j)
            if (maps[i].file.filename() == maps[j].file.filename() &&
                grids[i].scale.title == grids[j].scale.title)
                grids[i].scale.max = std::max(grids[i].scale.max, grids[j].scale.max);

    auto draw = [&](const std::string& title, const render::GridOverlay* grid) {
        renderer.setGrid(grid);
        render::Hud hud;
        ui::OverlayContent content; // the same title, legend and clock as stills and tours
        content.title = title;
        if (grid) content.legends.push_back(grid->scale);
        content.clock = settings.time;
        ui::drawOverlay(hud, content, camera, pictureWidth, pictureHeight, ui::typicalGroundZ(scene.city));
        render::Picture p = target.render(camera, settings, &hud);
        Image img;
        img.title = title;
        img.width = p.width, img.height = p.height;
        img.png = encodePng(p.rgba, p.width, p.height);
        img.caption = fmt::format("Drawn headless on {} from the south-south-west; sun at {}.",
                                  ctx.deviceName(), settings.time.iso());
        return img;
    };
    std::vector<Image> out;
    if (maps.empty()) out.push_back(draw(scenario.name, nullptr));
    for (size_t i = 0; i < maps.size(); ++i)
        out.push_back(draw(maps[i].title, &grids[i]));
    return out;
}

std::vector<Image> previewMaps(const std::vector<MapSource>& maps) {
    std::vector<RasterData> rasters;
    for (auto& m : maps)
        rasters.push_back(readBand(m.file));
    std::vector<Image> out;
    for (size_t i = 0; i < maps.size(); ++i) {
        std::string stem = maps[i].file.stem().string();
        std::vector<const std::vector<float>*> same;
        for (size_t j = 0; j < maps.size(); ++j)
            if (maps[j].file.stem() == maps[i].file.stem()) same.push_back(&rasters[j].values);
        ui::ResultStyle style = ui::resultStyle(stem, same);
        Image img = preview(rasters[i], style.scale, style.hideAtOrBelow);
        img.title = maps[i].title;
        img.caption = fmt::format("Top view of {} (north up; one block per grid cell; grey: dry).",
                                  maps[i].file.filename().string());
        out.push_back(std::move(img));
    }
    return out;
}

// ---- HTML -------------------------------------------------------------------------------

const char* const css = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1320px;padding:0 1rem;color:#1a1a1a;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #1f6fb4;padding-bottom:.2rem;margin-top:2.2rem}
.lead{color:#444;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{padding:.25rem .7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f2f5f8}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts th{background:none;font-weight:600;width:14rem}
code{font-size:.92em}.small{font-size:.85em;color:#555}
figure{margin:1rem 0 1.6rem}figcaption{color:#444;font-size:.9em;margin-top:.3rem}
img.map{max-width:100%;height:auto;border:1px solid #ccc}
.note{background:#fff6e0;border-left:4px solid #e0a000;padding:.5rem .8rem}
.bar{display:inline-block;width:320px;height:14px;vertical-align:middle;border:1px solid #999}
svg.chart{max-width:100%;height:auto;background:#fff}
)";

std::string row(const std::string& key, const std::string& value) {
    return fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", escapeXml(key), value);
}

std::string legendHtml(const render::ColorScale& s) {
    std::string stops;
    for (int k = 0; k <= 10; ++k) {
        uint32_t c = render::sampleColorMap(s.map, k / 10.0);
        stops += fmt::format(",#{:02x}{:02x}{:02x}", c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff);
    }
    std::string unit = s.unit.empty() ? "" : " " + prettyUnit(s.unit);
    return fmt::format(
        "<div class=\"small\">{}: {}{} <span class=\"bar\" style=\"background:linear-gradient(to right{})\">"
        "</span> {}{}</div>",
        escapeXml(s.title), formatValue(s.min), escapeXml(unit), stops, formatValue(s.max), escapeXml(unit));
}

std::string kpiTable(const std::string& module, const RunResult& r) {
    auto b = r.baseline.find(module);
    auto v = r.variant.find(module);
    std::string h = fmt::format("<table class=\"kpis\" data-module=\"{}\">\n<tr><th>KPI</th><th>unit</th>",
                                escapeXml(module));
    h +=
        r.hasVariant
            ? "<th class=\"num\">baseline</th><th class=\"num\">variant</th><th class=\"num\">difference</th>"
              "<th class=\"num\">relative</th></tr>\n"
            : "<th class=\"num\">value</th></tr>\n";
    const Kpis& base = b->second;
    for (size_t i = 0; i < base.size(); ++i) {
        const Kpi& k = base[i];
        h += fmt::format("<tr data-kpi=\"{}\"><td><code>{}</code></td><td>{}</td><td class=\"num\" "
                         "data-col=\"baseline\">{}</td>",
                         escapeXml(k.name), escapeXml(k.name), escapeXml(prettyUnit(k.unit)),
                         formatValue(k.value));
        if (r.hasVariant) {
            // Matched by name: a variant may report a KPI the baseline lacks (or the order may differ).
            const Kpi* kv = nullptr;
            if (v != r.variant.end())
                for (auto& x : v->second)
                    if (x.name == k.name) kv = &x;
            if (kv) {
                double d = kv->value - k.value;
                std::string rel = k.value != 0 ? formatPercent(d / std::abs(k.value) * 100) : "–";
                h += fmt::format("<td class=\"num\" data-col=\"variant\">{}</td><td class=\"num\" "
                                 "data-col=\"difference\">{}</td>"
                                 "<td class=\"num\" data-col=\"relative\">{}</td>",
                                 formatValue(kv->value), signedValue(d), rel);
            } else {
                h += "<td class=\"num\">–</td><td class=\"num\">–</td><td class=\"num\">–</td>";
            }
        }
        h += "</tr>\n";
    }
    return h + "</table>\n";
}

// Every n-th row so a chart keeps a few hundred points (mass balance is logged per step).
std::vector<size_t> thin(size_t n, size_t most = 600) {
    std::vector<size_t> idx;
    size_t stride = std::max<size_t>(1, (n + most - 1) / most);
    for (size_t i = 0; i < n; i += stride)
        idx.push_back(i);
    if (n > 0 && idx.back() != n - 1) idx.push_back(n - 1);
    return idx;
}

const char* const palette[] = {"#1f6fb4", "#e07b00", "#2a9d3a", "#c8283c",
                               "#7b4fb0", "#8a5a2b", "#d0559f", "#178f9f"};

std::string floodPlots(const RunResult& r) {
    std::string h;
    std::vector<std::pair<std::string, Table>> runs; // label, table
    // Gauges: water depth over time, baseline solid and variant dashed in the gauge's colour.
    std::vector<ChartSeries> series;
    std::vector<std::string> variants = {"baseline"};
    if (r.hasVariant) variants.push_back("variant");
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        Table t = readCsv(moduleDir(r, vi == 1, "flood") / "gauges.csv");
        int tc = t.column("time_s");
        if (tc < 0) continue;
        int g = 0;
        for (size_t c = 0; c < t.header.size(); ++c) {
            const std::string& name = t.header[c];
            const std::string suffix = "_depth_m";
            if (name.size() <= suffix.size() ||
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            ChartSeries s;
            s.label =
                name.substr(0, name.size() - suffix.size()) + (r.hasVariant ? " (" + variants[vi] + ")" : "");
            s.color = palette[g++ % std::size(palette)];
            s.dashed = vi == 1;
            for (auto& row : t.rows) {
                s.x.push_back(row[size_t(tc)] / 60);
                s.y.push_back(c < row.size() ? row[c] : NAN);
            }
            series.push_back(std::move(s));
        }
    }
    if (!series.empty()) {
        h += "<h3>Water depth at the gauges</h3>\n<figure id=\"chart-flood-gauges\">\n";
        h += svgChart(series, {"Water depth at the gauges", "time since start [min]", "depth [m]"});
        h += fmt::format("<figcaption>From <code>gauges.csv</code>{}.</figcaption></figure>\n",
                         r.hasVariant ? "; solid: baseline, dashed: variant" : "");
    }
    // Mass balance: where the water went, and the bookkeeping error.
    std::vector<ChartSeries> volumes, errors;
    const std::vector<std::pair<std::string, std::string>> terms = {{"rain_m3", "rain"},
                                                                    {"inflow_m3", "inflow"},
                                                                    {"loss_m3", "drained + infiltrated"},
                                                                    {"outflow_m3", "outflow"},
                                                                    {"storage_m3", "on the surface"}};
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        Table t = readCsv(moduleDir(r, vi == 1, "flood") / "mass_balance.csv");
        int tc = t.column("time_s"), ec = t.column("relative_error");
        if (tc < 0 || t.rows.empty()) continue;
        auto idx = thin(t.rows.size());
        std::string suffix = r.hasVariant ? " (" + variants[vi] + ")" : "";
        for (size_t k = 0; k < terms.size(); ++k) {
            int c = t.column(terms[k].first);
            if (c < 0) continue;
            ChartSeries s{terms[k].second + suffix, {}, {}, palette[k % std::size(palette)], vi == 1};
            bool any = false;
            for (size_t i : idx) {
                s.x.push_back(t.rows[i][size_t(tc)] / 60);
                s.y.push_back(t.rows[i][size_t(c)]);
                any = any || s.y.back() != 0;
            }
            if (any) volumes.push_back(std::move(s));
        }
        if (ec >= 0) {
            ChartSeries s{"relative error" + suffix, {}, {}, palette[3], vi == 1};
            for (size_t i : idx) {
                s.x.push_back(t.rows[i][size_t(tc)] / 60);
                s.y.push_back(t.rows[i][size_t(ec)] * 100);
            }
            errors.push_back(std::move(s));
        }
    }
    if (!volumes.empty()) {
        h += "<h3>Water volumes</h3>\n<figure id=\"chart-flood-volumes\">\n";
        h += svgChart(volumes, {"Cumulative water volumes", "time since start [min]", "volume [m³]"});
        h += "<figcaption>From <code>mass_balance.csv</code>: rain and inflow in, drainage, infiltration and "
             "outflow out, "
             "the rest on the surface.</figcaption></figure>\n";
    }
    if (!errors.empty()) {
        h += "<figure id=\"chart-flood-mass-error\">\n";
        h += svgChart(errors, {"Mass balance error", "time since start [min]", "error [% of the water in]"});
        h += "<figcaption>Volume not accounted for, relative to all water that came in: a check of the "
             "solver, "
             "ideally far below 0.1 %.</figcaption></figure>\n";
    }
    return h;
}

std::string imageHtml(const Image& img) {
    std::string h =
        fmt::format("<figure><img class=\"map\" alt=\"{0}\" title=\"{0}\" width=\"{1}\" height=\"{2}\" "
                    "src=\"data:image/png;base64,{3}\">\n<figcaption><b>{0}</b>. {4}</figcaption>\n",
                    escapeXml(img.title), img.width, img.height, img.png, escapeXml(img.caption));
    if (img.legend) h += legendHtml(*img.legend);
    return h + "</figure>\n";
}

} // namespace

fs::path writeRunReport(const Scenario& scenario, const RunResult& result, const ReportOptions& options) {
    auto t0 = std::chrono::steady_clock::now();
    json manifest = readJson(result.outDir / "manifest.json");
    auto str = [&](const char* key, const std::string& fallback) {
        return manifest.contains(key) && manifest[key].is_string() ? manifest[key].get<std::string>()
                                                                   : fallback;
    };
    std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    h += fmt::format("<title>{} — citytwin run report</title>\n<style>{}</style>\n</head>\n<body>\n",
                     escapeXml(scenario.name), css);
    h += fmt::format("<h1>{}</h1>\n", escapeXml(scenario.name));
    if (!scenario.description.empty())
        h += fmt::format("<p class=\"lead\">{}</p>\n", escapeXml(scenario.description));

    // Summary.
    h += "<h2>Summary</h2>\n<table class=\"facts\">\n";
    h += row("Simulated start", escapeXml(scenario.start.iso()));
    h += row("Simulated duration", formatDuration(scenario.durationS));
    h += row("Seed", std::to_string(scenario.seed));
    std::string modules;
    for (auto& m : scenario.modules)
        modules += (modules.empty() ? "" : ", ") + m.name;
    h += row("Modules", modules.empty() ? "none (the city was imported and summarised)" : escapeXml(modules));
    if (!scenario.edits.empty()) {
        std::string edits = "<ul style=\"margin:0;padding-left:1.2rem\">";
        for (auto& e : scenario.edits) {
            std::string name =
                e.spec && e.spec.IsMap() && e.spec["name"] ? e.spec["name"].as<std::string>("") : "";
            edits += fmt::format("<li><code>{}</code>{}</li>", escapeXml(e.type),
                                 name.empty() ? "" : ": " + escapeXml(name));
        }
        h += row("What-if edits (variant)", edits + "</ul>");
    }
    h += row("citytwin", escapeXml(fmt::format("{} (commit {})", str("version", CITYTWIN_VERSION),
                                               str("git", CITYTWIN_GIT))));
    h += row("Wall time", fmt::format("{:.1f} s", result.wallS));
    if (manifest.contains("threads")) h += row("Threads", manifest["threads"].dump());
    h += row("CRS", escapeXml(str("crs", "")));
    if (manifest.contains("finished_utc")) h += row("Finished (UTC)", escapeXml(str("finished_utc", "")));
    if (manifest.contains("interrupted_at_s"))
        h += row("Interrupted", fmt::format("at t = {:.0f} s: the results cover only that far",
                                            manifest["interrupted_at_s"].get<double>()));
    h += row("Results folder",
             "<code>" + escapeXml(fs::absolute(result.outDir).lexically_normal().string()) + "</code>");
    h += "</table>\n";

    // Inputs.
    if (manifest.contains("inputs") && manifest["inputs"].is_array() && !manifest["inputs"].empty()) {
        h += "<h3>Inputs</h3>\n<table>\n<tr><th>role</th><th>file</th><th "
             "class=\"num\">size</th><th>SHA-256</th></tr>\n";
        for (auto& in : manifest["inputs"]) {
            std::string sha = in.value("sha256", "");
            std::string size =
                in.contains("bytes") ? formatValue(in["bytes"].get<double>() / 1024) + " KiB" : "";
            h += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td><code "
                             "title=\"{}\">{}…</code></td></tr>\n",
                             escapeXml(in.value("role", "")), escapeXml(in.value("path", "")), size,
                             escapeXml(sha), escapeXml(sha.substr(0, 12)));
        }
        h += "</table>\n";
    }

    // City facts.
    h += "<h3>The city</h3>\n<table class=\"kpis\" data-module=\"city\">\n<tr><th>fact</th><th>unit</th><th "
         "class=\"num\">value</th></tr>\n";
    for (auto& k : result.city)
        h += fmt::format("<tr data-kpi=\"{0}\"><td><code>{0}</code></td><td>{1}</td><td class=\"num\" "
                         "data-col=\"baseline\">{2}</td></tr>\n",
                         escapeXml(k.name), escapeXml(prettyUnit(k.unit)), formatValue(k.value));
    h += "</table>\n";

    // KPIs.
    if (!result.baseline.empty()) {
        h += "<h2>KPIs</h2>\n";
        if (result.hasVariant)
            h += "<p>Baseline and variant ran with the same seed; difference = variant − baseline, relative "
                 "to the "
                 "baseline.</p>\n";
        for (auto& [module, _] : result.baseline)
            h += fmt::format("<h3>{}</h3>\n", escapeXml(module)) + kpiTable(module, result);
    }

    // Module plots.
    std::string plots;
    if (result.baseline.count("flood")) plots += floodPlots(result);
    if (!plots.empty()) h += "<h2>Plots</h2>\n" + plots;

    // Result maps.
    std::vector<MapSource> maps;
    if (result.baseline.count("flood")) {
        for (bool variant : {false, true}) {
            if (variant && !result.hasVariant) continue;
            fs::path f = moduleDir(result, variant, "flood") / "max_depth.tif";
            if (fs::exists(f))
                maps.push_back({result.hasVariant ? (variant ? "Variant: maximum water depth"
                                                             : "Baseline: maximum water depth")
                                                  : "Maximum water depth",
                                f});
        }
    }
    std::vector<Image> images;
    std::string why;
    if (options.images) {
        try {
            std::string device;
            images = renderMaps(scenario, maps, options.cacheDir, device);
        } catch (const std::exception& e) {
            why = fmt::format(
                "The 3D pictures could not be drawn ({}), so these are plain top views of the grids.",
                e.what());
            spdlog::warn("report: 3D pictures failed, using 2D previews: {}", e.what());
        }
    } else if (!maps.empty()) {
        why = "3D pictures were turned off for this report, so these are plain top views of the grids.";
    }
    if (images.empty() && !maps.empty()) {
        try {
            images = previewMaps(maps);
        } catch (const std::exception& e) {
            why += fmt::format(" The previews failed too: {}", e.what());
        }
    }
    if (!images.empty() || !why.empty()) {
        h += maps.empty() ? "<h2>The town</h2>\n" : "<h2>Result maps</h2>\n";
        if (!why.empty())
            h += fmt::format("<p class=\"note\" id=\"preview-reason\">{}</p>\n", escapeXml(why));
        for (auto& img : images)
            h += imageHtml(img);
    }

    double reportS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    h += fmt::format(
        "<p class=\"small\">Written by citytwin {} in {:.1f} s. The result files beside this report "
        "(GeoTIFF, CSV, GeoPackage) open in QGIS; <code>kpis.json</code> and <code>manifest.json</code> hold "
        "these numbers in full precision.</p>\n</body>\n</html>\n",
        escapeXml(CITYTWIN_VERSION), reportS);

    // Written beside and renamed, so a reader (or a resumed sweep) never sees half a report.
    fs::path out = result.outDir / "report.html", tmp = result.outDir / "report.html.part";
    {
        std::ofstream f(tmp, std::ios::binary);
        f << h;
        if (!f) throw std::runtime_error("could not write " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, out, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw std::runtime_error("could not write " + out.string() + ": " + ec.message());
    }
    return out;
}

std::string runSummary(const RunResult& r) {
    std::string s;
    for (auto& [module, base] : r.baseline) {
        s += r.hasVariant ? fmt::format("{}: baseline → variant (difference)\n", module)
                          : fmt::format("{}:\n", module);
        const Kpis* var = nullptr;
        if (auto it = r.variant.find(module); it != r.variant.end()) var = &it->second;
        size_t nameW = 0;
        for (auto& k : base)
            nameW = std::max(nameW, k.name.size());
        for (auto& k : base) {
            std::string unit = prettyUnit(k.unit);
            std::string b = formatValue(k.value) + (unit.empty() ? "" : " " + unit);
            s += "  " + pad(k.name, nameW + 2);
            const Kpi* v = nullptr;
            if (var)
                for (auto& x : *var)
                    if (x.name == k.name) v = &x;
            if (!v) {
                s += b + "\n";
                continue;
            }
            double d = v->value - k.value;
            std::string vt = formatValue(v->value) + (unit.empty() ? "" : " " + unit);
            std::string dt = "(no change)";
            if (d != 0) {
                dt = "(" + signedValue(d) + (unit.empty() ? "" : " " + unit);
                if (k.value != 0) dt += ", " + formatPercent(d / std::abs(k.value) * 100);
                dt += ")";
            }
            s += pad(b, 16, true) + " → " + pad(vt, 16, true) + "  " + dt + "\n";
        }
    }
    return s;
}

} // namespace ct::app
