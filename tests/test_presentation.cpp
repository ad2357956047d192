// Presentation mode: tours (interpolation through bookmarks, tour YAML), the German catalogue
// and localised numbers, and the headless exports (4K still with overlays, MP4 of a tour,
// checked with GDAL and ffprobe).
#include "TestSupport.h"
#include "core/Error.h"
#include "city/CityModel.h"
#include "core/I18n.h"
#include "render/Overlays.h"
#include "ui/Presentation.h"
#include "ui/Tour.h"

#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;

namespace {

// Restores the language a test changed.
struct LanguageGuard {
    Language saved = language();
    ~LanguageGuard() { setLanguage(saved); }
};

render::Camera camera(double x, double y, double z, double yaw, double pitch) {
    render::Camera c;
    c.eye = Vec3(x, y, z);
    c.yawDeg = yaw;
    c.pitchDeg = pitch;
    return c;
}

ui::Tour threeStopTour() {
    ui::Tour t;
    t.bookmarks = {{"a", camera(0, 0, 300, 350, -40)}, {"b", camera(800, 200, 150, 10, -25)}, {"c", camera(-300, 900, 600, 200, -60)}};
    t.stops.resize(3);
    t.stops[0] = {0, 0, 2, std::make_pair(0.0, 600.0), {}};
    t.stops[1] = {1, 4, 3, std::nullopt, {}};
    t.stops[2] = {2, 5, 1, std::make_pair(1200.0, 1800.0), {}};
    return t;
}

// A flat 1 km square at 100 m, centred on 475500 / 5734200 (EPSG:25832).
CityModel flatCity() {
    CityModel city;
    city.frame.origin = Vec2(475500, 5734200);
    city.frame.crs = Crs::fromEpsg(25832);
    city.terrain = flatTerrain(100, 10, 100);
    return city;
}

double angleBetween(const Vec3& a, const Vec3& b) { return std::acos(std::clamp(a.normalized().dot(b.normalized()), -1.0, 1.0)); }

} // namespace

TEST(Tour, ArrivesExactlyAtItsBookmarks) {
    ui::Tour t = threeStopTour();
    EXPECT_DOUBLE_EQ(t.duration(), 2 + 4 + 3 + 5 + 1);
    for (size_t i = 0; i < t.stops.size(); ++i) {
        double arrive = t.arrival(i);
        for (double at : {arrive, arrive + t.stops[i].holdS / 2, arrive + t.stops[i].holdS}) {
            ui::TourFrame f = t.at(at);
            const render::Camera& b = t.bookmarks[t.stops[i].bookmark].camera;
            // At the end of a hold the next glide begins (still at this bookmark).
            if (at < arrive + t.stops[i].holdS || i + 1 == t.stops.size()) {
                EXPECT_EQ(f.stop, i) << at;
            }
            EXPECT_NEAR((f.camera.eye - b.eye).norm(), 0, 1e-9) << "stop " << i << " t " << at;
            EXPECT_NEAR(std::remainder(f.camera.yawDeg - b.yawDeg, 360), 0, 1e-9);
            EXPECT_NEAR(f.camera.pitchDeg, b.pitchDeg, 1e-9);
        }
    }
    // Clamped outside the tour.
    EXPECT_NEAR((t.at(-5).camera.eye - t.bookmarks[0].camera.eye).norm(), 0, 1e-9);
    EXPECT_NEAR((t.at(1e6).camera.eye - t.bookmarks[2].camera.eye).norm(), 0, 1e-9);
}

TEST(Tour, MotionIsContinuousWithoutFlips) {
    ui::Tour t = threeStopTour();
    const double dt = 1.0 / 600;
    // Bound on the eye's speed in a glide: smootherstep's steepest slope is 15/8, the arc
    // adds at most π·rise per glide.
    auto maxSpeed = [&](size_t i) {
        const auto& a = t.bookmarks[t.stops[i - 1].bookmark].camera.eye;
        const auto& b = t.bookmarks[t.stops[i].bookmark].camera.eye;
        double rise = std::min(0.2 * (b - a).head<2>().norm(), 300.0);
        return (15.0 / 8 * (b - a).norm() + 15.0 / 8 * 3.14159265 * rise) / t.stops[i].glideS;
    };
    double worstStep = 0, worstTurn = 0;
    ui::TourFrame prev = t.at(0);
    for (double x = dt; x <= t.duration() + 1e-9; x += dt) {
        ui::TourFrame f = t.at(x);
        double step = (f.camera.eye - prev.camera.eye).norm();
        size_t seg = std::max<size_t>(1, f.stop);
        EXPECT_LE(step, maxSpeed(seg) * dt * 1.01) << "jump at t = " << x;
        double turn = angleBetween(f.camera.forward(), prev.camera.forward());
        worstStep = std::max(worstStep, step);
        worstTurn = std::max(worstTurn, turn);
        // A flip would turn the view by a large angle in one small step.
        EXPECT_LT(turn, 0.01) << "view turns " << turn << " rad in " << dt << " s at t = " << x;
        EXPECT_GT(f.camera.pitchDeg, -89.9);
        EXPECT_LT(f.camera.pitchDeg, 89.9);
        prev = f;
    }
    EXPECT_GT(worstStep, 0); // it moved at all
    // From heading 350 to 10 the short way: through north, never looking south.
    for (double s = 0; s <= 1; s += 0.01) {
        double yaw = ui::glide(t.bookmarks[0].camera, t.bookmarks[1].camera, s).yawDeg;
        EXPECT_LE(std::abs(std::remainder(yaw, 360)), 10 + 1e-9) << s;
    }
}

TEST(Tour, PlaysSimulationTimeDuringStops) {
    ui::Tour t = threeStopTour();
    EXPECT_NEAR(*t.at(0).simTimeS, 0, 1e-9);
    EXPECT_NEAR(*t.at(1).simTimeS, 300, 1e-9);   // halfway through stop 0's 2 s
    EXPECT_NEAR(*t.at(4).simTimeS, 600, 1e-9);   // stop 1 has no range: time stands
    double s2 = t.arrival(2) - 5;                  // stop 2's glide begins
    EXPECT_NEAR(*t.at(s2 + 3).simTimeS, 1200 + 600 * 3 / 6.0, 1e-9);
    EXPECT_NEAR(*t.at(t.duration()).simTimeS, 1800, 1e-9);
}

TEST(Tour, ReadsYamlAndNamesTheLineOfAMistake) {
    TempDir dir;
    CityModel city = flatCity();
    writeText(dir / "t.yaml",
              "title: {de: Hochwasser, en: Flood}\n"
              "bookmarks:\n"
              "  - {name: a, look_at: [475500, 5734200], distance: 500, heading: 90, pitch: -30}\n"
              "  - {name: b, camera: [475600, 5734300, 400, 180, -45]}\n"
              "stops:\n"
              "  - {bookmark: a, hold: 2, sim_time: [0, 1h]}\n"
              "  - {bookmark: b, glide: 3, caption: {de: Brücke, en: Bridge}}\n"
              "labels:\n"
              "  - {text: Markt, at: [475510, 5734210]}\n");
    ui::Tour t = ui::loadTour(dir / "t.yaml", city);
    ASSERT_EQ(t.bookmarks.size(), 2u);
    // look_at: the view's centre line passes through the point on the terrain (z = 100).
    const render::Camera& a = t.bookmarks[0].camera;
    Vec3 target(0, 0, 100);
    EXPECT_NEAR((a.eye + a.forward() * 500 - target).norm(), 0, 1e-6);
    EXPECT_NEAR(a.yawDeg, 90, 1e-12);
    EXPECT_NEAR((t.bookmarks[1].camera.eye - Vec3(100, 100, 400)).norm(), 0, 1e-9);
    EXPECT_DOUBLE_EQ(t.stops[0].simTime->second, 3600);
    EXPECT_DOUBLE_EQ(t.stops[1].holdS, 3); // default
    EXPECT_DOUBLE_EQ(t.duration(), 2 + 3 + 3);
    EXPECT_EQ(t.labels.size(), 1u);
    {
        LanguageGuard g;
        setLanguage(Language::German);
        EXPECT_EQ(t.stops[1].caption.get(), "Brücke");
        setLanguage(Language::English);
        EXPECT_EQ(t.title.get(), "Flood");
    }

    auto expectError = [&](const std::string& text, const std::string& line, const std::string& words) {
        writeText(dir / "bad.yaml", text);
        try {
            ui::loadTour(dir / "bad.yaml", city);
            ADD_FAILURE() << "no error for:\n" << text;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("bad.yaml:" + line), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
        }
    };
    expectError("bookmarks:\n  - {name: a, look_at: [475500, 5734200]}\nstops:\n  - {bookmark: x}\n", "4", "no bookmark named 'x'");
    expectError("bookmarks:\n  - {name: a, look_at: [475500, 5734200], zoom: 3}\n", "2", "unknown key 'zoom'");
    expectError("bookmarks:\n  - {name: a, look_at: [12, 5734200]}\n", "2", "far outside the city");
    expectError("bookmarks:\n  - {name: a, look_at: [475500, 5734200], pitch: -95}\n", "2", "pitch");
    expectError("bookmarks:\n  - {name: a, look_at: [475500, 5734200]}\nstops:\n  - {bookmark: a, hold: soon}\n", "4", "not a duration");
}

TEST(Tour, SavesWhatItReads) {
    TempDir dir;
    CityModel city = flatCity();
    ui::Tour t = threeStopTour();
    t.title = {"Flood", "Hochwasser"};
    ui::saveTour(t, dir / "saved.yaml", city);
    ui::Tour back = ui::loadTour(dir / "saved.yaml", city);
    ASSERT_EQ(back.bookmarks.size(), t.bookmarks.size());
    for (size_t i = 0; i < t.bookmarks.size(); ++i) EXPECT_NEAR((back.bookmarks[i].camera.eye - t.bookmarks[i].camera.eye).norm(), 0, 0.1);
    EXPECT_DOUBLE_EQ(back.duration(), t.duration());
    EXPECT_EQ(back.title.de, "Hochwasser");
}

TEST(Labels, StayReadableWithoutOverlaps) {
    render::Camera cam = camera(0, -500, 300, 0, -30);
    const int w = 1280, h = 720;
    Vec3 ahead = cam.eye + cam.forward() * 400;
    std::vector<ui::PlaceLabel> labels = {
        {{"Markt", "Markt"}, ahead},
        {{"Rathaus", "Rathaus"}, ahead + Vec3(1, 0, 0)},  // on top of the first: dropped
        {{"Kirche", "Kirche"}, ahead + Vec3(150, 0, 0)},  // clear of it: kept
        {{"Hinten", "Hinten"}, cam.eye - cam.forward() * 50}, // behind the camera: dropped
        {{"Oben", "Oben"}, ahead + Vec3(-150, 0, 0)},     // under a panel: dropped
    };
    auto where = cam.project(labels[4].position, w, h);
    ASSERT_TRUE(where);
    std::vector<ui::ScreenBox> panels = {{float(where->x()) - 200, float(where->y()) - 80, float(where->x()) + 200, float(where->y())}};
    auto placed = ui::placeLabels(labels, cam, w, h, 1.6f, panels);
    std::vector<size_t> kept;
    for (auto& p : placed) kept.push_back(p.index);
    EXPECT_EQ(kept, (std::vector<size_t>{0, 2}));
    for (size_t i = 0; i < placed.size(); ++i) {
        // The box stands just above its place, which projects where the camera says.
        auto q = cam.project(labels[placed[i].index].position, w, h);
        EXPECT_NEAR(placed[i].px, q->x(), 1e-3);
        EXPECT_LT(placed[i].box.y1, placed[i].py);
        EXPECT_LT(placed[i].box.x0, placed[i].px);
        EXPECT_GT(placed[i].box.x1, placed[i].px);
        for (size_t j = 0; j < i; ++j) EXPECT_FALSE(placed[i].box.overlaps(placed[j].box));
    }
}

TEST(Language, GermanCatalogueIsComplete) {
    std::set<std::string> keys;
    auto placeholders = [](const std::string& s) {
        size_t n = 0;
        for (size_t p = s.find("{}"); p != std::string::npos; p = s.find("{}", p + 2)) ++n;
        return n;
    };
    for (auto& [en, de] : catalogue()) {
        EXPECT_TRUE(keys.insert(en).second) << "twice in the catalogue: " << en;
        EXPECT_STRNE(de, "") << "no German for: " << en;
        EXPECT_EQ(placeholders(en), placeholders(de)) << en << " | " << de;
    }
    // Every text the program looks up (tr("...") in the sources) is in the catalogue, and
    // every catalogue text is written somewhere in the sources (no dead entries).
    std::regex call(R"(\btr\(\s*"((?:[^"\\]|\\.)*)\"\s*\))");
    size_t found = 0;
    std::string allSources;
    for (const char* sub : {"engine/ui", "engine/app", "engine/render", "engine/core", "engine/sim", "engine/city"}) {
        for (auto& entry : fs::recursive_directory_iterator(sourceDir() / sub)) {
            if (entry.path().extension() != ".cpp" && entry.path().extension() != ".h") continue;
            std::ifstream in(entry.path());
            std::stringstream ss;
            ss << in.rdbuf();
            std::string text = ss.str();
            if (entry.path().filename() != "I18n.cpp") allSources += text;
            for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) {
                ++found;
                EXPECT_TRUE(keys.count((*it)[1].str())) << entry.path().filename() << ": tr(\"" << (*it)[1].str() << "\") is not in the catalogue";
            }
        }
    }
    EXPECT_GT(found, 50u); // the scan works at all
    for (const std::string& key : keys)
        EXPECT_NE(allSources.find("\"" + key + "\""), std::string::npos) << "catalogue text used nowhere: " << key;
    // Legend titles come from code as data, not tr("..."): they must be in the catalogue too.
    for (const char* title : {"Water depth", "Flow velocity", "Flood hazard rating", "Arrival time", "Building height", "Speed limit",
                              "Building use"})
        EXPECT_TRUE(keys.count(title)) << title;
    for (int u = 0; u <= int(BuildingUse::Unknown); ++u) // the use legend's classes
        EXPECT_TRUE(keys.count(toString(BuildingUse(u)))) << toString(BuildingUse(u));
}

TEST(Language, NumbersAndDatesFollowTheLanguage) {
    LanguageGuard g;
    setLanguage(Language::German);
    EXPECT_EQ(formatNumber(1234.5, 1), "1.234,5");
    EXPECT_EQ(formatNumber(1234567, 0), "1.234.567");
    EXPECT_EQ(formatNumber(-0.04, 1), "0,0");
    EXPECT_EQ(formatNumber(-12.25, 2), "-12,25");
    EXPECT_EQ(formatQuantity(1234.5, "m³", 1), "1.234,5\u00a0m³");
    Instant t = *parseIsoInstant("2026-02-03T09:30:00+01:00");
    EXPECT_EQ(formatDateTime(t), "03.02.2026 09:30");
    EXPECT_STREQ(tr("Water depth"), "Wassertiefe");
    setLanguage(Language::English);
    EXPECT_EQ(formatNumber(1234.5, 1), "1,234.5");
    EXPECT_EQ(formatNumber(999.996, 2), "1,000.00");
    EXPECT_EQ(formatDateTime(t), "2026-02-03 09:30");
    EXPECT_STREQ(tr("Water depth"), "Water depth");
    EXPECT_EQ(parseLanguage("de_DE.UTF-8"), Language::German);
    EXPECT_EQ(parseLanguage("en"), Language::English);
    EXPECT_FALSE(parseLanguage("fr"));
}

// ---- Headless exports through the CLI, on a small made-up town with flood results ----

namespace {

// A 400 m × 400 m valley (EPSG:25832), a row of houses, and "results": depth snapshots at
// 0, 1 h and 2 h for baseline and variant (the variant keeps the north half dry).
struct ExportTown {
    TempDir dir;
    fs::path scenario = dir / "town.yaml", tour = dir / "town.tour.yaml", results = dir / "results";
    static constexpr double west = 475000, south = 5734000;
    ExportTown() {
        const int n = 100;
        std::vector<float> z(n * n);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < n; ++c) z[size_t(r) * n + c] = 100 + 0.05f * std::abs(r - n / 2) * 4;
        writeDem(dir / "dem.tif", n, n, 4, west, south, z);
        std::vector<TestFeature> houses;
        for (int i = 0; i < 6; ++i) {
            double x = west + 60 + i * 50, y = south + 300;
            houses.push_back({fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", x, y, x + 20, y + 15), {{"height", "12"}}});
        }
        writeLayer(dir / "houses.gpkg", "GPKG", "buildings", 25832, {{"height", true}}, houses);
        writeText(scenario, "name: town\ndescription: a test valley\n"
                            "city: {terrain: dem.tif, buildings: houses.gpkg}\n"
                            "time: {start: 2026-06-03T11:00:00+02:00, duration: 2h}\n");
        for (const char* side : {"baseline", "variant"})
            for (int hour : {0, 1, 2}) {
                std::vector<float> d(n * n, 0.0f);
                for (int r = 0; r < n; ++r)
                    for (int c = 0; c < n; ++c) {
                        float depth = std::max(0.0f, 0.6f * hour - 0.05f * std::abs(r - n / 2) * 4 * 0.5f);
                        if (std::string(side) == "variant" && r < n / 2) depth = 0;
                        d[size_t(r) * n + c] = depth;
                    }
                fs::create_directories(results / side / "flood");
                writeDem(results / side / "flood" / fmt::format("depth_{:06d}s.tif", hour * 3600), n, n, 4, west, south, d);
            }
        writeText(tour, "title: {de: Hochwasser im Tal, en: Flood in the valley}\nsplit: true\n"
                        "bookmarks:\n"
                        "  - {name: far, look_at: [475200, 5734200], distance: 700, heading: 0, pitch: -45}\n"
                        "  - {name: near, look_at: [475150, 5734250], distance: 250, heading: 40, pitch: -30}\n"
                        "stops:\n"
                        "  - {bookmark: far, hold: 0.5, sim_time: [0, 1h]}\n"
                        "  - {bookmark: near, glide: 1, hold: 0.5, sim_time: [1h, 2h], caption: {de: Am Fluss, en: At the river}}\n"
                        "labels:\n  - {text: Dorf, at: [475200, 5734310]}\n");
    }
};

struct RgbImage {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
    std::array<int, 3> at(int x, int y) const {
        const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
        return {p[0], p[1], p[2]};
    }
};

// A PNG read back by GDAL (an independent reader).
RgbImage readPng(const fs::path& file) {
    GDALAllRegister();
    GDALDatasetUniquePtr ds(GDALDataset::Open(file.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    RgbImage img;
    if (!ds) return img;
    img.width = ds->GetRasterXSize();
    img.height = ds->GetRasterYSize();
    img.rgb.resize(size_t(img.width) * img.height * 3);
    int bands[3] = {1, 2, 3};
    if (ds->RasterIO(GF_Read, 0, 0, img.width, img.height, img.rgb.data(), img.width, img.height, GDT_Byte, 3, bands, 3,
                     img.width * 3, 1, nullptr) != CE_None)
        img.width = 0;
    return img;
}

std::string run(const std::string& command) {
    std::string out;
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    char buf[4096];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    if (p) pclose(p);
    return out;
}

} // namespace

TEST(Export, FourKStillHasTitleAndLegend) {
    ExportTown town;
    fs::path png = town.dir / "still.png";
    auto r = runCitytwin(fmt::format("render {} --tour {} --at 0.5 --results {} --size 3840x2160 --lang de --validate --out {}",
                                     town.scenario.string(), town.tour.string(), town.results.string(), png.string()));
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    RgbImage img = readPng(png);
    ASSERT_EQ(img.width, 3840);
    ASSERT_EQ(img.height, 2160);
    // Not blank: the picture varies.
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < img.rgb.size(); i += 3 * 7) {
        double l = img.rgb[i] * 0.3 + img.rgb[i + 1] * 0.59 + img.rgb[i + 2] * 0.11;
        sum += l, sum2 += l * l;
    }
    double n = double(img.rgb.size()) / (3 * 7);
    EXPECT_GT(std::sqrt(sum2 / n - (sum / n) * (sum / n)), 15);
    // The legend: the water colour map's colours at 10 %, 50 % and 90 % appear in the
    // bottom-left quarter, each over a patch bigger than a 4K legend bar step.
    for (double t : {0.1, 0.5, 0.9}) {
        uint32_t c = render::sampleColorMap(render::ColorMap::Water, t);
        int want[3] = {int(c & 255), int(c >> 8 & 255), int(c >> 16 & 255)};
        size_t match = 0;
        for (int y = img.height / 2; y < img.height; ++y)
            for (int x = 0; x < img.width / 2; ++x) {
                auto p = img.at(x, y);
                if (std::abs(p[0] - want[0]) <= 3 && std::abs(p[1] - want[1]) <= 3 && std::abs(p[2] - want[2]) <= 3) ++match;
            }
        EXPECT_GT(match, 400u) << "legend colour at " << t;
    }
    // The title panel, top left: light panel with dark text of a 4K title size (≥ 60 px tall).
    int inkTop = img.height, inkBottom = 0;
    for (int y = 0; y < 400; ++y)
        for (int x = 0; x < 1200; ++x) {
            auto p = img.at(x, y);
            if (p[0] < 60 && p[1] < 60 && p[2] < 60) inkTop = std::min(inkTop, y), inkBottom = std::max(inkBottom, y);
        }
    EXPECT_GT(inkBottom - inkTop, 40); // a 1080p-sized title would be about 25 px
}

// Ten distinct class colours, each over its whole share of the map (not blended).
TEST(Legend, CategoriesHaveTenDistinctUnblendedColours) {
    std::vector<std::array<int, 3>> colours;
    for (int k = 0; k < 10; ++k) {
        const uint32_t c = render::sampleColorMap(render::ColorMap::Categories, (k + 0.5) / 10);
        EXPECT_EQ(render::sampleColorMap(render::ColorMap::Categories, k / 10.0 + 1e-6), c) << k;
        EXPECT_EQ(render::sampleColorMap(render::ColorMap::Categories, (k + 1) / 10.0 - 1e-6), c) << k;
        colours.push_back({int(c & 255), int(c >> 8 & 255), int(c >> 16 & 255)});
    }
    for (size_t a = 0; a < colours.size(); ++a)
        for (size_t b = a + 1; b < colours.size(); ++b) {
            const int d = std::abs(colours[a][0] - colours[b][0]) + std::abs(colours[a][1] - colours[b][1]) + std::abs(colours[a][2] - colours[b][2]);
            EXPECT_GE(d, 40) << "classes " << a << " and " << b << " look alike";
        }
    // Fewer classes take the first colours.
    const render::ColorScale four = render::categoryScale({"a", "b", "c", "d"}, "four");
    std::set<uint32_t> distinct;
    for (int k = 0; k < 4; ++k) distinct.insert(four.colorOf(float(k)));
    EXPECT_EQ(distinct.size(), 4u);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(four.colorOf(float(k)), render::sampleColorMap(render::ColorMap::Categories, k / 10.0)) << k;
}

// Buildings coloured by use: the picture's legend shows each class's colour as a swatch (the
// colours the buildings get), not a continuous bar from 0 to 9.
TEST(Export, UseLegendShowsEachClass) {
    TempDir tmp;
    const fs::path png = tmp / "use.png";
    auto r = runCitytwin(fmt::format("render {} --color-by use --size 1280x720 --out {}", (sourceDir() / "scenarios" / "musterstadt.yaml").string(),
                                     png.string()));
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    const RgbImage img = readPng(png);
    ASSERT_EQ(img.width, 1280);
    for (int k = 0; k < 10; ++k) {
        const uint32_t c = render::sampleColorMap(render::ColorMap::Categories, (k + 0.5) / 10);
        size_t match = 0; // in the bottom-left quarter, where the legend is
        for (int y = img.height / 2; y < img.height; ++y)
            for (int x = 0; x < img.width / 2; ++x) {
                auto p = img.at(x, y);
                match += std::abs(p[0] - int(c & 255)) <= 2 && std::abs(p[1] - int(c >> 8 & 255)) <= 2 && std::abs(p[2] - int(c >> 16 & 255)) <= 2;
            }
        EXPECT_GE(match, 40u) << toString(BuildingUse(k)) << "'s swatch"; // a swatch is about 9 × 9 pixels here
    }
}

TEST(Export, TourVideoHasTheFramesSizeAndCodecAsked) {
    if (run("command -v ffprobe").empty()) GTEST_SKIP() << "ffprobe not installed";
    ExportTown town;
    fs::path mp4 = town.dir / "tour.mp4";
    // The tour lasts 0.5 + 1 + 0.5 = 2 s: at 10 frames/s, 20 frames.
    auto r = runCitytwin(fmt::format("render-tour {} {} --results {} --size 320x240 --fps 10 --validate --quiet --out {}",
                                     town.scenario.string(), town.tour.string(), town.results.string(), mp4.string()));
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    std::string probe = run(fmt::format("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                                        "stream=codec_name,width,height,nb_read_frames -of default=noprint_wrappers=1 {}",
                                        mp4.string()));
    EXPECT_NE(probe.find("codec_name=h264"), std::string::npos) << probe;
    EXPECT_NE(probe.find("width=320"), std::string::npos) << probe;
    EXPECT_NE(probe.find("height=240"), std::string::npos) << probe;
    EXPECT_NE(probe.find("nb_read_frames=20"), std::string::npos) << probe;
    // Frames differ over time: the first and the last, decoded by ffmpeg.
    auto frame = [&](int index) {
        return run(fmt::format("ffmpeg -v error -i {} -vf \"select=eq(n\\,{})\" -frames:v 1 -f rawvideo -pix_fmt gray -", mp4.string(), index));
    };
    std::string first = frame(0), last = frame(19);
    ASSERT_EQ(first.size(), 320u * 240u);
    ASSERT_EQ(last.size(), first.size());
    size_t differ = 0;
    for (size_t i = 0; i < first.size(); ++i) differ += std::abs(int(uint8_t(first[i])) - int(uint8_t(last[i]))) > 24;
    // The camera flies from 700 m to 250 m away and the water rises: a large part changes
    // (a still scene would change by a few levels of compression noise only).
    EXPECT_GT(differ, first.size() / 10);
}

TEST(Export, BadTourAndMissingResultsSayWhatToDo) {
    ExportTown town;
    writeText(town.dir / "bad.tour.yaml", "bookmarks:\n  - {name: a}\n");
    auto r = runCitytwin(fmt::format("render-tour {} {} --out {}", town.scenario.string(), (town.dir / "bad.tour.yaml").string(),
                                     (town.dir / "x.mp4").string()));
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("bad.tour.yaml:2"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(town.dir / "x.mp4"));
    r = runCitytwin(fmt::format("render-tour {} {} --results {} --out {}", town.scenario.string(), town.tour.string(),
                                (town.dir / "nothing").string(), (town.dir / "x.mp4").string()));
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("results folder not found"), std::string::npos) << r.err;
    r = runCitytwin(fmt::format("render-tour {} {} --size 321x240 --out {}", town.scenario.string(), town.tour.string(),
                                (town.dir / "x.mp4").string()));
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("even"), std::string::npos) << r.err;
}

// The viewer's presentation mode under Xvfb: full screen, the overlay drawn, German, the
// validation layer silent.
TEST(Viewer, PresentsFullScreenUnderXvfb) {
    if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) {
        if (std::getenv("CI")) FAIL() << "xvfb-run missing (tools/setup installs xvfb)";
        GTEST_SKIP() << "xvfb-run not installed";
    }
    ExportTown town;
    fs::path png = town.dir / "present.png";
    std::string out = run(fmt::format("xvfb-run -a -s '-screen 0 1024x640x24' {} --no-cache view {} --tour {} --results {} --present "
                                      "--lang de --size 640x400 --frames 10 --validate --screenshot {}; echo exit=$?",
                                      CITYTWIN_BINARY, town.scenario.string(), town.tour.string(), town.results.string(), png.string()));
    ASSERT_NE(out.find("exit=0"), std::string::npos) << out;
    RgbImage img = readPng(png);
    // Full screen: the screen's size, not the window's 640 × 400.
    ASSERT_EQ(img.width, 1024) << out;
    ASSERT_EQ(img.height, 640);
    // The title panel, top left: light, with dark text in it.
    size_t light = 0, dark = 0;
    for (int y = 20; y < 60; ++y)
        for (int x = 20; x < 200; ++x) {
            auto p = img.at(x, y);
            light += p[0] > 225 && p[1] > 225 && p[2] > 225;
            dark += p[0] < 60 && p[1] < 60 && p[2] < 60;
        }
    EXPECT_GT(light, 1500u);
    EXPECT_GT(dark, 100u);
}
