// Traffic detector counts on the roads (docs/mobility.md, "In the viewer", "Detector counts"):
// a store written here with detectors on a small imported town, placed by their `edge`
// property and by location + heading, the count picked at several times and its flow, and
// `citytwin render --color-roads-by counts` on lavapipe with the validation layer on. Expected
// edges come from the road geometry written here, expected colours from the Volume map's stops
// computed by hand, expected pixels from two reference renders (as test_mobility_view.cpp).
#include "TestSupport.h"
#include "city/CityMesh.h"
#include "core/Geo.h"
#include "feeds/SensorStore.h"
#include "gis/Gdal.h"
#include "render/Camera.h"
#include "ui/CityScene.h"
#include "ui/RoadCounts.h"
#include "ui/Traffic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;
using render::rgba;
namespace fs = std::filesystem;

namespace {

const double E0 = 476000, N0 = 5734000;  // EPSG:25832, the town's centre
const double T0 = 1'773'140'400;         // 2026-03-10T11:00:00Z (noon in the town: the sun is up)

// Terrain at 80 m; Nordstraße two-way from west to east along N0 + 20, Südstraße two-way from
// west to east along N0 − 20, the short Querweg (two-way, north–south) along E0 − 30 between
// them, touching neither. All residential, 50 km/h.
void writeTown(const fs::path& dir) {
    writeDem(dir / "dem.tif", 60, 60, 2, E0 - 60, N0 - 60, std::vector<float>(3600, 80));
    auto street = [](double x0, double y0, double x1, double y1, const char* name) {
        return TestFeature{fmt::format("LINESTRING({} {}, {} {})", x0, y0, x1, y1),
                           {{"name", name}, {"highway", "residential"}, {"maxspeed", "50"}}};
    };
    writeLayer(dir / "roads.geojson", "GeoJSON", "roads", 25832, {{"name"}, {"highway"}, {"maxspeed", true}},
               {street(E0 - 50, N0 + 20, E0 + 50, N0 + 20, "Nordstraße"), street(E0 - 50, N0 - 20, E0 + 50, N0 - 20, "Südstraße"),
                street(E0 - 30, N0 - 10, E0 - 30, N0 + 10, "Querweg")});
    writeText(dir / "town.yaml", "name: town\nseed: 1\ncity: {terrain: dem.tif, roads: roads.geojson}\n"
                                 "time: {start: 2026-03-10T07:00:00+01:00, duration: 30min}\n"
                                 "modules:\n  mobility: {network: city}\noutputs: {dir: out}\n");
}

// The city edge of a street that runs east (dx > 0) or west, from the geometry as imported.
uint32_t streetEdge(const CityModel& city, const std::string& name, bool east) {
    const RoadNetwork& r = city.roads;
    for (size_t e = 0; e < r.edgeCount(); ++e) {
        if (r.wayName[r.way[e]] != name) continue;
        auto shape = r.shape(EdgeId(uint32_t(e)));
        if ((shape.back().x() - shape.front().x() > 0) == east) return uint32_t(e);
    }
    ADD_FAILURE() << "no " << (east ? "eastbound" : "westbound") << " edge of " << name;
    return 0;
}

// The mesh names a two-way street's ribbon by the lower of its two edge indices.
size_t ribbonOf(const CityModel& city, uint32_t e) {
    const RoadNetwork& r = city.roads;
    return r.reverse[e].valid() ? std::min<size_t>(e, r.reverse[e].value) : e;
}

feeds::SensorInfo detector(const std::string& id, Vec2 world, const std::string& properties) {
    feeds::SensorInfo s;
    s.id = id;
    s.feed = "counts";
    s.name = id;
    // WGS84 of a point in the town's CRS.
    if (std::isfinite(world.x())) {
        Vec2 ll = Reprojector(Crs::fromEpsg(25832), Crs::fromEpsg(4326)).apply(world);
        s.lon = ll.x();
        s.lat = ll.y();
    }
    s.quantity = "traffic_count";
    s.unit = "veh/15min";
    s.properties = properties;
    return s;
}

feeds::Observation obs(const std::string& sensor, double t, double v) {
    feeds::Observation o;
    o.sensor = sensor;
    o.phenomenonTime = o.resultTime = t;
    o.value = v;
    return o;
}

// Detectors (15-min counts, interval_s 900):
//   t:nord  by `edge`: Nordstraße eastbound; 30 at T0, 45 at T0 + 900, 60 at T0 + 2700 (no count
//           for T0 + 1800 .. T0 + 2700)
//   t:sw    2 m north of Südstraße's centre line, heading 180 (westbound); 10 at T0, 20 at T0 + 900
//   t:se    the same point, heading 0 (eastbound); 35 at T0 + 900
//   t:far   2 km away from every road; t:nope an edge that does not exist; both 5 at T0
//   w:pegel a water level (not a detector)
void writeStore(const fs::path& file, const CityModel& city) {
    feeds::SensorStore store(file);
    const Vec2 nowhere(NAN, NAN); // placed by edge only
    std::string nord = std::to_string(streetEdge(city, "Nordstraße", true));
    store.upsertSensor(detector("t:nord", nowhere, fmt::format(R"({{"edge": "{}", "interval_s": 900}})", nord)));
    store.upsertSensor(detector("t:sw", Vec2(E0 + 10, N0 - 18), R"({"heading": 180, "interval_s": 900})"));
    store.upsertSensor(detector("t:se", Vec2(E0 + 10, N0 - 18), R"({"heading": 0, "interval_s": 900})"));
    store.upsertSensor(detector("t:far", Vec2(E0 + 2000, N0 + 2000), R"({"heading": 0, "interval_s": 900})"));
    store.upsertSensor(detector("t:nope", nowhere, R"({"edge": "999", "interval_s": 900})"));
    feeds::SensorInfo level = detector("w:pegel", Vec2(E0, N0), "");
    level.quantity = "water_level";
    level.unit = "m";
    store.upsertSensor(level);
    std::vector<feeds::Observation> batch = {
        obs("t:nord", T0, 30), obs("t:nord", T0 + 900, 45), obs("t:nord", T0 + 2700, 60),
        obs("t:sw", T0, 10),   obs("t:sw", T0 + 900, 20),   obs("t:se", T0 + 900, 35),
        obs("t:far", T0, 5),   obs("t:nope", T0, 5),        obs("w:pegel", T0, 1.2),
    };
    ASSERT_EQ(store.insert(batch).inserted, batch.size());
}

const ui::CountedRoad* find(const ui::RoadCounts& c, const std::string& sensor) {
    for (const auto& r : c.roads)
        if (r.sensor == sensor) return &r;
    return nullptr;
}

bool skippedNames(const ui::RoadCounts& c, const std::string& sensor) {
    return std::any_of(c.skipped.begin(), c.skipped.end(), [&](const std::string& s) { return s.find("'" + sensor + "'") != std::string::npos; });
}

} // namespace

TEST(CountsView, DetectorsArePlacedAndTheCountAtATimeIsPicked) {
    TempDir tmp;
    writeTown(tmp.path());
    ui::CityScene scene = ui::loadScene(tmp / "town.yaml", {{}, false, {}});
    const CityModel& city = scene.city;
    writeStore(tmp / "sensors.sqlite", city);
    // The WGS84 the store holds is near the town (zone 32's central meridian is 9° E).
    auto sw = feeds::SensorStore(tmp / "sensors.sqlite").sensor("t:sw");
    ASSERT_TRUE(sw);
    EXPECT_GT(sw->lon, 8.0);
    EXPECT_LT(sw->lon, 9.0);
    EXPECT_GT(sw->lat, 51.5);
    EXPECT_LT(sw->lat, 52.0);

    ui::CityTraffic traffic(city);
    const mobility::Network& net = traffic.network();
    // Expected edges from the geometry: the mobility edge of city edge k has the id "k".
    const std::string nordEast = std::to_string(streetEdge(city, "Nordstraße", true));
    const std::string suedWest = std::to_string(streetEdge(city, "Südstraße", false));
    const std::string suedEast = std::to_string(streetEdge(city, "Südstraße", true));
    ASSERT_NE(suedWest, suedEast);
    feeds::SensorStore store(tmp / "sensors.sqlite");

    struct Case {
        double at;
        double nord, sw, se;      // expected vehicles in the interval; NaN: left out
        double nordBegin;         // expected interval of t:nord
    };
    const Case cases[] = {
        {T0 + 100, 30, 10, NAN, T0},            // inside the first interval; t:se has none yet
        {T0 + 900, 45, 20, 35, T0 + 900},       // an interval begins at its start
        {T0 + 1799, 45, 20, 35, T0 + 900},      // and ends just after
        {T0 + 2000, 45, 20, 35, T0 + 900},      // between counts: the newest that began before
        {T0 + 3599, 60, 20, 35, T0 + 2700},     // the last interval
        {T0 + 86400, 60, 20, 35, T0 + 2700},    // a day later: still the newest
        {T0 - 1, NAN, NAN, NAN, 0},             // before any count: nobody
        {NAN, 60, 20, 35, T0 + 2700},           // no time: each detector's newest
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(fmt::format("at T0 {:+.0f} s", c.at - T0));
        ui::RoadCounts counts = ui::countedRoads(store, traffic, city, c.at);
        auto check = [&](const std::string& sensor, double vehicles, const std::string& edge, double begin) {
            const ui::CountedRoad* r = find(counts, sensor);
            if (std::isnan(vehicles)) {
                EXPECT_FALSE(r) << sensor;
                return;
            }
            ASSERT_TRUE(r) << sensor;
            EXPECT_EQ(r->edgeId, edge) << sensor;
            ASSERT_LT(r->mobilityEdge, net.edges.size());
            EXPECT_EQ(net.edges[r->mobilityEdge].id, edge) << sensor;
            EXPECT_DOUBLE_EQ(r->flowVehH, vehicles * 4) << sensor; // 15-min counts: × 4 per hour
            if (!std::isnan(begin)) {
                EXPECT_DOUBLE_EQ(r->beginUtc, begin) << sensor;
                EXPECT_DOUBLE_EQ(r->endUtc, begin + 900) << sensor;
            }
        };
        check("t:nord", c.nord, nordEast, c.nordBegin);
        check("t:sw", c.sw, suedWest, NAN);
        check("t:se", c.se, suedEast, NAN);
        EXPECT_FALSE(find(counts, "t:far"));
        EXPECT_FALSE(find(counts, "t:nope"));
        EXPECT_FALSE(find(counts, "w:pegel"));
        if (!std::isnan(c.nord)) {
            // Unplaceable detectors are reported by id; the water level is not a detector.
            EXPECT_TRUE(skippedNames(counts, "t:far"));
            EXPECT_TRUE(skippedNames(counts, "t:nope"));
            EXPECT_FALSE(skippedNames(counts, "w:pegel"));
            EXPECT_EQ(counts.skippedCount, 2u);
        }
    }
    // Names and directions of travel from the geometry written above.
    ui::RoadCounts newest = ui::countedRoads(store, traffic, city);
    ASSERT_EQ(newest.roads.size(), 3u);
    EXPECT_EQ(find(newest, "t:nord")->name, "Nordstraße");
    EXPECT_EQ(find(newest, "t:sw")->name, "Südstraße");
    EXPECT_NEAR(find(newest, "t:nord")->headingDeg, 0, 1);
    EXPECT_NEAR(find(newest, "t:sw")->headingDeg, 180, 1);
    EXPECT_STREQ(ui::directionWord(find(newest, "t:nord")->headingDeg), "eastbound");
    EXPECT_STREQ(ui::directionWord(find(newest, "t:sw")->headingDeg), "westbound");
    EXPECT_STREQ(ui::directionWord(90), "northbound");
    EXPECT_STREQ(ui::directionWord(-90), "southbound");
    EXPECT_STREQ(ui::directionWord(359), "eastbound");
    EXPECT_STREQ(ui::directionWord(135), "north-westbound");
    // No store file: nothing, no error.
    EXPECT_TRUE(ui::countedRoads(tmp / "none.sqlite", traffic, city).roads.empty());
}

TEST(CountsView, RoadsShowTheSumOfBothDirectionsOnTheFlowScale) {
    TempDir tmp;
    writeTown(tmp.path());
    ui::CityScene scene = ui::loadScene(tmp / "town.yaml", {{}, false, {}});
    const CityModel& city = scene.city;
    writeStore(tmp / "sensors.sqlite", city);
    ui::CityTraffic traffic(city);
    feeds::SensorStore store(tmp / "sensors.sqlite");
    const uint32_t nord = streetEdge(city, "Nordstraße", true), suedW = streetEdge(city, "Südstraße", false);

    // At T0 + 900: Nordstraße 45 × 4 = 180 veh/h; Südstraße 20 × 4 + 35 × 4 = 220 veh/h (its
    // two directions on one ribbon); the Querweg and the other ribbons' second index: NaN.
    render::ValueOverlay v = ui::countedRoadValues(ui::countedRoads(store, traffic, city, T0 + 900).roads, traffic);
    ASSERT_EQ(v.values.size(), city.roads.edgeCount());
    EXPECT_FLOAT_EQ(v.values[ribbonOf(city, nord)], 180);
    EXPECT_FLOAT_EQ(v.values[ribbonOf(city, suedW)], 220);
    size_t coloured = 0;
    for (size_t e = 0; e < v.values.size(); ++e) coloured += !std::isnan(v.values[e]);
    EXPECT_EQ(coloured, 2u);
    // The scale: 0 to 600 veh/h (the floor), the Volume map (YlOrRd); legend texts.
    EXPECT_EQ(v.scale.map, render::ColorMap::Volume);
    EXPECT_EQ(v.scale.min, 0);
    EXPECT_EQ(v.scale.max, 600);
    EXPECT_EQ(v.scale.title, "Counted flow");
    EXPECT_EQ(v.scale.unit, "veh/h");
    // Colours by hand from ColorBrewer's YlOrRd (0: #ffffb2, 0.25: #fecc5c, 0.5: #fd8d3c,
    // 0.75: #f03b20, 1: #bd0026): 180/600 = 0.3 → 0.2 of the way from #fecc5c to #fd8d3c.
    EXPECT_EQ(v.scale.colorOf(0), rgba(255, 255, 178));
    EXPECT_EQ(v.scale.colorOf(180), rgba(254, 191, 86));
    EXPECT_EQ(v.scale.colorOf(600), rgba(189, 0, 38));

    // Hand-made: the largest flow rounded up to 100 tops the scale; two detectors on one edge
    // count the same vehicles (the larger), the two directions add up.
    const mobility::Network& net = traffic.network();
    uint32_t mNord = *net.findEdge(std::to_string(nord)), mNordBack = *net.findEdge(std::to_string(city.roads.reverse[nord].value));
    std::vector<ui::CountedRoad> roads = {{"a", "", mNord, "", 0, 1000, 0, 900},
                                          {"b", "", mNord, "", 0, 900, 0, 900},
                                          {"c", "", mNordBack, "", 180, 234, 0, 900}};
    render::ValueOverlay w = ui::countedRoadValues(roads, traffic);
    EXPECT_FLOAT_EQ(w.values[ribbonOf(city, nord)], 1234);
    EXPECT_EQ(w.scale.max, 1300);
    EXPECT_EQ(ui::countedFlowScale(600).max, 600);
    EXPECT_EQ(ui::countedFlowScale(601).max, 700);
    EXPECT_EQ(ui::countedFlowScale(0).max, 600);
}

// `citytwin render --color-roads-by counts` through the CLI: the counted streets in the
// scale's colour for their flow at --time, the uncounted Querweg untouched, and clear errors
// (exit code 2) without a store and without a count. The store lies where `citytwin feeds`
// writes it: the scenario's outputs.
TEST(CountsViewCommand, RenderColoursRoadsByDetectorCounts) {
    TempDir tmp;
    writeTown(tmp.path());
    ui::CityScene scene = ui::loadScene(tmp / "town.yaml", {{}, false, {}});
    fs::create_directories(tmp / "out" / "feeds");
    writeStore(tmp / "out" / "feeds" / "sensors.sqlite", scene.city);

    // Straight down from 120 m above the ground at the town centre.
    const std::string camera = fmt::format("{},{},{},0,-89.9", E0, N0 - 0.01, 80 + 120);
    auto cmd = [&](const std::string& extra, const fs::path& png) {
        return runCitytwin("render " + (tmp / "town.yaml").string() + " --out " + png.string() +
                           " --size 400x400 --validate --no-legend --no-shadows --camera " + camera + " " + extra);
    };
    // At 11:01:40Z: Nordstraße 30 × 4 = 120 veh/h, Südstraße westbound 10 × 4 = 40 veh/h
    // (eastbound has no count yet). The sun: this time too.
    const std::string at = "--time 2026-03-10T12:01:40+01:00";
    auto r = cmd(at + " --color-roads-by counts", tmp / "c.png");
    ASSERT_EQ(r.exitCode, 0) << r.err << r.out;
    EXPECT_NE(r.err.find("t:far"), std::string::npos) << "a warning names the detector that cannot be placed: " << r.err;
    // References: the roads in their own grey (80, 80, 82), and by speed limit: 50 km/h on the
    // Traffic map from 100 to 10 km/h is t = 5/9, 0.185 of the way from (250, 220, 50) to
    // (240, 110, 30): (248, 200, 46).
    auto plain = cmd(at, tmp / "p.png");
    ASSERT_EQ(plain.exitCode, 0) << plain.err;
    auto speed = cmd(at + " --color-roads-by speed", tmp / "s.png");
    ASSERT_EQ(speed.exitCode, 0) << speed.err;

    gis::initGdal();
    auto load = [](const fs::path& f) {
        GDALDatasetUniquePtr ds(GDALDataset::Open(f.c_str(), GDAL_OF_RASTER));
        std::vector<std::vector<uint8_t>> bands(3, std::vector<uint8_t>(400 * 400));
        EXPECT_TRUE(ds);
        for (int b = 0; ds && b < 3; ++b) {
            CPLErr err = ds->GetRasterBand(b + 1)->RasterIO(GF_Read, 0, 0, 400, 400, bands[size_t(b)].data(), 400, 400, GDT_Byte, 0, 0);
            EXPECT_EQ(err, CE_None);
        }
        return bands;
    };
    auto counts = load(tmp / "c.png"), grey = load(tmp / "p.png"), limit = load(tmp / "s.png");
    render::Camera cam = *render::Camera::parse(camera);
    cam.eye.head<2>() = scene.city.frame.toLocal(cam.eye.head<2>());
    using Rgb = std::array<int, 3>;
    auto pixel = [&](const std::vector<std::vector<uint8_t>>& img, double x, double y) {
        Vec2 local = scene.city.frame.toLocal(Vec2(E0 + x, N0 + y));
        auto q = cam.project(Vec3(local.x(), local.y(), 80 + CityMeshOptions{}.roadLift), 400, 400);
        EXPECT_TRUE(q);
        size_t i = q ? size_t(int(q->y())) * 400 + size_t(int(q->x())) : 0;
        return Rgb{img[0][i], img[1][i], img[2][i]};
    };
    // The shader lights a base colour c (linear, (byte/255)²) per channel as A·c + B: the two
    // references give A and B at the pixel, the expected base colour the pixel.
    auto predict = [&](double x, double y, Rgb base) {
        Rgb p0 = pixel(grey, x, y), p1 = pixel(limit, x, y), c0 = {80, 80, 82}, c1 = {248, 200, 46}, out{};
        auto lin = [](int byte) { return (byte / 255.0) * (byte / 255.0); };
        for (int k = 0; k < 3; ++k) {
            double A = (lin(p1[k]) - lin(p0[k])) / (lin(c1[k]) - lin(c0[k]));
            double B = lin(p0[k]) - A * lin(c0[k]);
            out[k] = int(std::lround(255 * std::sqrt(std::clamp(A * lin(base[k]) + B, 0.0, 1.0))));
        }
        return out;
    };
    EXPECT_EQ(roadColor(RoadClass::Residential), rgba(80, 80, 82));
    // Scale 0–600 veh/h (the floor: the largest flow, 120, rounds up to 200). 120 → t = 0.2,
    // 0.8 of the way from (255, 255, 178) to (254, 204, 92): (254, 214, 109); 40 → t = 1/15,
    // 4/15 of the way: (255, 241, 155). Tolerance 6 per channel (the lighting fit and PNG bytes; it fits within 1).
    struct Expect {
        double x, y;
        Rgb base;
        const char* what;
    };
    for (const Expect& e : {Expect{-20, 20, {254, 214, 109}, "Nordstraße, 120 veh/h"}, Expect{20, 20, {254, 214, 109}, "Nordstraße east"},
                            Expect{-20, -20, {255, 241, 155}, "Südstraße, 40 veh/h"}}) {
        Rgb want = predict(e.x, e.y, e.base), got = pixel(counts, e.x, e.y);
        for (int k = 0; k < 3; ++k) EXPECT_NEAR(got[k], want[k], 6) << e.what << " channel " << k;
        Rgb before = pixel(grey, e.x, e.y);
        EXPECT_GT(std::abs(got[0] - before[0]) + std::abs(got[1] - before[1]) + std::abs(got[2] - before[2]), 40)
            << e.what << ": not in the road's grey";
    }
    // The Querweg has no detector: its own grey, exactly as without counts.
    EXPECT_EQ(pixel(counts, -30, 0), pixel(grey, -30, 0));
    EXPECT_NE(pixel(limit, -30, 0), pixel(grey, -30, 0)); // (it is a road the references colour)

    // No store: exit code 2 with what is missing and what to run.
    fs::create_directories(tmp / "empty");
    auto none = cmd("--results " + (tmp / "empty").string() + " --color-roads-by counts", tmp / "n.png");
    EXPECT_EQ(none.exitCode, 2);
    EXPECT_NE(none.err.find("no sensor store"), std::string::npos) << none.err;
    EXPECT_NE(none.err.find("citytwin feeds"), std::string::npos) << none.err;
    EXPECT_FALSE(fs::exists(tmp / "n.png"));
    // Before any count: no detector to draw, exit code 2.
    auto early = cmd("--time 2026-03-10T11:00:00+01:00 --color-roads-by counts", tmp / "e.png");
    EXPECT_EQ(early.exitCode, 2);
    EXPECT_NE(early.err.find("no traffic detector"), std::string::npos) << early.err;
}
