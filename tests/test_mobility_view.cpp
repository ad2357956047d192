// Traffic in the viewer and in stills (docs/mobility.md, "In the viewer"): the edges.csv and
// fcd.csv readers against hand-written files, live snapshots mapped onto the city's roads,
// vehicles and road colours on lavapipe with the validation layer on. Pixels are checked where
// the camera projects known points, colours against values computed here from the colour
// map's stops and two reference renders.
#include "TestSupport.h"
#include "city/CityMesh.h"
#include "core/Error.h"
#include "gis/Gdal.h"
#include "render/Offscreen.h"
#include "sim/mobility/CityNetwork.h"
#include "ui/CityScene.h"
#include "ui/Traffic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;
using namespace ct::render;
namespace fs = std::filesystem;

namespace {

const std::string kEdgesHeader =
    "edge_id,name,interval_begin_s,interval_end_s,entered,flow_veh_h,mean_speed_kmh,density_veh_km,travel_time_s,speed_ratio\n";

// --- Readers ---------------------------------------------------------------------------------

TEST(MobilityView, EdgesCsvReaderReadsAHandWrittenFile) {
    TempDir tmp;
    writeText(tmp / "edges.csv", kEdgesHeader +
                                     "0,Hauptstraße,0,900,10,40,36,2.5,10,0.72\n"
                                     "0,Hauptstraße,900,1800,0,0,,0,8,\n"
                                     "3,\"Allee, \"\"Nord\"\"\",0,900,5,20,18,1.25,20,0.36\r\n"
                                     "3,\"Allee, \"\"Nord\"\"\",900,1500,2,12,45,0.5,8,0.9\n"
                                     "X7,,0,900,1,4,50,0.1,3,1\n"
                                     "9,beyond the city,0,900,1,4,50,0.1,3,1\n");
    ui::TrafficResults r = ui::readEdgesCsv(tmp / "edges.csv", 5);
    ASSERT_EQ(r.edges.size(), 4u);
    const ui::EdgeSeries& a = r.edges[0];
    EXPECT_EQ(a.id, "0");
    EXPECT_EQ(a.name, "Hauptstraße");
    EXPECT_EQ(a.roadEdge, 0u);
    ASSERT_EQ(a.beginS.size(), 2u);
    EXPECT_EQ(a.beginS[1], 900);
    EXPECT_EQ(a.endS[1], 1800);
    EXPECT_EQ(a.entered[0], 10);
    EXPECT_EQ(a.flowVehH[0], 40);
    EXPECT_FLOAT_EQ(a.meanSpeedKmh[0], 36);
    EXPECT_FLOAT_EQ(a.densityVehKm[0], 2.5f);
    EXPECT_EQ(a.travelTimeS[1], 8);
    EXPECT_FLOAT_EQ(a.speedRatio[0], 0.72f);
    EXPECT_TRUE(std::isnan(a.meanSpeedKmh[1])); // nobody drove: empty fields
    EXPECT_TRUE(std::isnan(a.speedRatio[1]));
    const ui::EdgeSeries& b = r.edges[1];
    EXPECT_EQ(b.name, "Allee, \"Nord\"");
    EXPECT_EQ(b.roadEdge, 3u);
    EXPECT_EQ(b.endS[1], 1500); // the last interval ends with the run
    EXPECT_FLOAT_EQ(b.densityVehKm[1], 0.5f);
    EXPECT_FLOAT_EQ(b.speedRatio[1], 0.9f);
    EXPECT_EQ(r.edges[2].roadEdge, UINT32_MAX); // a SUMO id
    EXPECT_EQ(r.edges[3].roadEdge, UINT32_MAX); // no such city edge
    ASSERT_EQ(r.byRoadEdge.size(), 5u);
    EXPECT_EQ(r.forRoadEdge(3), &r.edges[1]);
    EXPECT_EQ(r.forRoadEdge(1), nullptr);
    // Intervals: begin ≤ t < end, the last one also at its end.
    EXPECT_EQ(b.intervalAt(0), 0);
    EXPECT_EQ(b.intervalAt(899.9), 0);
    EXPECT_EQ(b.intervalAt(900), 1);
    EXPECT_EQ(b.intervalAt(1500), 1);
    EXPECT_EQ(b.intervalAt(1500.1), -1);
    EXPECT_EQ(b.intervalAt(-1), -1);
    // Busiest interval: 0–900 s with 10 + 5 + 1 + 1 vehicles entering.
    EXPECT_EQ(ui::busiestTrafficTime(r), 450);

    writeText(tmp / "bad.csv", kEdgesHeader + "0,x,0,900,1,4,fast,0.1,3,1\n");
    try {
        ui::readEdgesCsv(tmp / "bad.csv", 5);
        ADD_FAILURE() << "no error for a bad number";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("bad.csv:2"), std::string::npos) << e.what();
    }
    writeText(tmp / "nocol.csv", "edge_id,name,interval_begin_s\n0,x,0\n");
    EXPECT_THROW(ui::readEdgesCsv(tmp / "nocol.csv", 5), InputError);
    // A run folder: baseline/ and variant/ when the scenario has edits.
    fs::create_directories(tmp / "run" / "variant" / "mobility");
    fs::create_directories(tmp / "run" / "baseline" / "mobility");
    fs::copy_file(tmp / "edges.csv", tmp / "run" / "variant" / "mobility" / "edges.csv");
    CityModel noRoads;
    EXPECT_TRUE(ui::readTrafficResults(tmp / "run", noRoads).empty());
    EXPECT_EQ(ui::readTrafficResults(tmp / "run", noRoads, true).edges.size(), 4u);
}

TEST(MobilityView, FcdTracksAreInterpolatedPerVehicle) {
    TempDir tmp;
    CityModel city;
    city.frame.origin = Vec2(1000, 2000); // fcd.csv is in the CRS: local = world − origin
    writeText(tmp / "fcd.csv",
              "time,trip,x,y,speed\n"
              "0,a,1000,2000,0\n"
              "0,b,1050,2000,5\n"
              "10,c,1000,2030,4\n"
              "10,a,1010,2000,2\n"
              "20,a,1010,2010,0\n");
    writeText(tmp / "trips.csv", "id,mode,depart\na,car,0\nb,bicycle,0\nc,car,10\n");
    ui::VehicleTracks v = ui::readFcdCsv(tmp / "fcd.csv", city, tmp / "trips.csv");
    ASSERT_EQ(v.times, (std::vector<double>{0, 10, 20}));
    ASSERT_EQ(v.ids, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(v.bicycle, (std::vector<uint8_t>{0, 1, 0}));
    auto find = [](const std::vector<ui::VehicleTracks::Sample>& s, uint32_t vehicle) -> const ui::VehicleTracks::Sample* {
        for (const auto& x : s)
            if (x.vehicle == vehicle) return &x;
        return nullptr;
    };
    // t = 2: a a fifth of the way from (0, 0) to (10, 0), heading east; b (gone by t = 10)
    // still shown, nearer its last sample; c not yet.
    auto at2 = v.at(2);
    ASSERT_EQ(at2.size(), 2u);
    const auto* a = find(at2, 0);
    ASSERT_TRUE(a);
    EXPECT_FLOAT_EQ(a->x, 2);
    EXPECT_FLOAT_EQ(a->y, 0);
    EXPECT_FLOAT_EQ(a->speedMps, 0.4f);
    EXPECT_NEAR(a->headingRad, 0, 1e-6);
    ASSERT_TRUE(find(at2, 1));
    EXPECT_FLOAT_EQ(find(at2, 1)->x, 50);
    // t = 5: b is gone, c (first seen at 10) has appeared at its first position.
    auto at5 = v.at(5);
    ASSERT_EQ(at5.size(), 2u);
    ASSERT_TRUE(find(at5, 2));
    EXPECT_FLOAT_EQ(find(at5, 2)->y, 30);
    EXPECT_FALSE(find(at5, 1));
    // t = 15: a halfway from (10, 0) to (10, 10), heading north.
    auto at15 = v.at(15);
    ASSERT_EQ(at15.size(), 1u);
    EXPECT_FLOAT_EQ(at15[0].x, 10);
    EXPECT_FLOAT_EQ(at15[0].y, 5);
    EXPECT_NEAR(at15[0].headingRad, M_PI / 2, 1e-6);
    EXPECT_EQ(v.at(20).size(), 1u);
    EXPECT_TRUE(v.at(20.5).empty());
    EXPECT_TRUE(v.at(-1).empty());
}

// --- A hand-made flat town -------------------------------------------------------------------

// Terrain at 10 m; Nordstraße two-way along y = 25 (edges 0 east, 1 west), Südstraße two-way
// along y = −25 (edges 2 east, 3 west), a one-way lane north along x = 0 from y = −12 to 12
// (edge 4). All residential, 50 km/h, one lane per direction.
CityModel flatTown() {
    CityModel city;
    city.terrain = flatTerrain(200, 1, 10);
    RoadNetwork& n = city.roads;
    auto addEdge = [&](uint32_t a, uint32_t b, bool reverseOfLast) {
        uint32_t e = uint32_t(n.from.size());
        n.from.push_back(NodeId(a));
        n.to.push_back(NodeId(b));
        n.shapePoints.insert(n.shapePoints.end(), {n.nodePos[a], n.nodePos[b]});
        n.shapeStart.push_back(uint32_t(n.shapePoints.size()));
        n.lengthM.push_back(float((n.nodePos[b] - n.nodePos[a]).norm()));
        n.speedMps.push_back(50 / 3.6f);
        n.lanes.push_back(1);
        n.roadClass.push_back(RoadClass::Residential);
        n.layer.push_back(0);
        n.flags.push_back(0);
        n.reverse.emplace_back();
        n.way.push_back(uint32_t(n.wayId.size() - 1));
        if (reverseOfLast) {
            n.reverse[e] = EdgeId(e - 1);
            n.reverse[e - 1] = EdgeId(e);
        }
    };
    auto road = [&](Vec2 a, Vec2 b, const char* name, bool twoWay) {
        uint32_t na = uint32_t(n.nodePos.size());
        n.nodePos.insert(n.nodePos.end(), {a, b});
        n.wayId.push_back(name);
        n.wayName.push_back(name);
        addEdge(na, na + 1, false);
        if (twoWay) addEdge(na + 1, na, true);
    };
    road({-55, 25}, {55, 25}, "Nordstraße", true);
    road({-55, -25}, {55, -25}, "Südstraße", true);
    road({0, -12}, {0, 12}, "Querweg", false);
    n.buildAdjacency();
    return city;
}

TEST(MobilityView, SnapshotsMapOntoCityRoadsAndVehiclesStandOnThem) {
    CityModel city = flatTown();
    ui::CityTraffic traffic(city);
    // The mobility edge of city edge k has the id "k" (docs/mobility.md): found by id here,
    // not through sourceEdge.
    const mobility::Network net = mobility::buildCityNetwork(city.roads);
    auto mobilityEdge = [&](uint32_t cityEdge) {
        auto e = net.findEdge(std::to_string(cityEdge));
        EXPECT_TRUE(e) << cityEdge;
        return e.value_or(0);
    };
    std::vector<float> ratio(net.edges.size(), NAN);
    ratio[mobilityEdge(0)] = 0.8f;
    ratio[mobilityEdge(1)] = 0.4f;  // Nordstraße: the slower direction counts
    ratio[mobilityEdge(3)] = 0.95f; // Südstraße westbound only
    ValueOverlay v = traffic.roadValues(ratio);
    ASSERT_EQ(v.values.size(), 5u);
    EXPECT_FLOAT_EQ(v.values[0], 0.4f); // the ribbon of edges 0 and 1 is named 0
    EXPECT_FLOAT_EQ(v.values[2], 0.95f);
    EXPECT_TRUE(std::isnan(v.values[4])); // no traffic: the road's own grey
    EXPECT_EQ(v.scale.map, ColorMap::Traffic);
    // The scale's ends: free flow green, 0.3 of the limit red (the Traffic map's end stops).
    EXPECT_EQ(v.scale.colorOf(1.0f), rgba(26, 150, 65));
    EXPECT_EQ(v.scale.colorOf(0.3f), rgba(200, 20, 30));
    EXPECT_EQ(v.scale.colorOf(0.1f), rgba(200, 20, 30));
    // Vehicles: at the limit green, standing red; on the road: terrain 10 m + 0.25 m lift.
    EXPECT_EQ(ui::vehicleColor(50 / 3.6, 50 / 3.6), rgba(26, 150, 65));
    EXPECT_EQ(ui::vehicleColor(0, 50 / 3.6), rgba(200, 20, 30));
    Agent car = traffic.agent({10, 23.4}, 0.5f, 50 / 3.6f, mobility::VClass::Passenger);
    EXPECT_FLOAT_EQ(car.z, 10.25f);
    EXPECT_FLOAT_EQ(car.x, 10);
    EXPECT_FLOAT_EQ(car.headingRad, 0.5f);
    EXPECT_EQ(car.length, 4.5f);
    EXPECT_EQ(car.width, 1.8f);
    EXPECT_EQ(car.height, 1.5f);
    EXPECT_EQ(car.rgba, rgba(26, 150, 65));
    // A bicycle at 5.56 m/s (SUMO's bicycle top speed, 20 km/h) is at its limit: green, though
    // the road allows 50 km/h.
    Agent bike = traffic.agent({-20, 26.6}, 0, 5.56f, mobility::VClass::Bicycle);
    EXPECT_EQ(bike.length, 1.8f);
    EXPECT_EQ(bike.width, 0.6f);
    EXPECT_EQ(bike.height, 1.6f);
    EXPECT_EQ(bike.rgba, rgba(26, 150, 65));
    EXPECT_NEAR(traffic.limitAt({10, 23.4}, mobility::VClass::Passenger), 50 / 3.6, 1e-4);
    // Live snapshots on the city's roads only.
    Scenario s;
    EXPECT_FALSE(ui::mobilityOnCityNetwork(s));
    s.modules.push_back({"mobility", YAML::Load("{network: city}"), ""});
    EXPECT_TRUE(ui::mobilityOnCityNetwork(s));
    s.modules.back().spec = YAML::Load("{}");
    EXPECT_TRUE(ui::mobilityOnCityNetwork(s));
    s.modules.back().spec = YAML::Load("{network: town.net.xml}");
    EXPECT_FALSE(ui::mobilityOnCityNetwork(s));
    s.modules.back().spec = YAML::Load("{sumo_config: run.sumocfg}");
    EXPECT_FALSE(ui::mobilityOnCityNetwork(s));
}

// --- Pictures ----------------------------------------------------------------------------------

struct Rgb {
    int r, g, b;
};
Rgb rgbAt(const Picture& p, const Vec2& q) {
    uint32_t c = p.at(int(q.x()), int(q.y()));
    return {int(c & 0xff), int((c >> 8) & 0xff), int((c >> 16) & 0xff)};
}

class FlatTownRender : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        city = new CityModel(flatTown());
        mesh = new CityMesh(buildCityMesh(*city));
        ContextOptions o;
        o.validation = true;
        ctx = new VulkanContext(o);
        renderer = new Renderer(*ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
        renderer->setCity(*mesh, 51.7, 8.75);
        target = new OffscreenTarget(*ctx, *renderer, size, size);
    }
    static void TearDownTestSuite() {
        delete target;
        delete renderer;
        delete ctx;
        delete mesh;
        delete city;
    }
    void TearDown() override { EXPECT_EQ(ctx->validationMessages(), 0u) << ctx->lastValidationMessage(); }
    static Camera camera() {
        Camera cam;
        cam.eye = Vec3(0, -0.01, 150);
        cam.pitchDeg = -89.9;
        return cam;
    }
    static RenderSettings settings() {
        RenderSettings s;
        s.sun = SunPosition{180, 60};
        return s;
    }
    static Vec2 px(const Vec3& p) {
        auto q = camera().project(p, size, size);
        EXPECT_TRUE(q);
        return q ? Vec2(q->x(), q->y()) : Vec2(0, 0);
    }
    static constexpr int size = 512;
    static CityModel* city;
    static CityMesh* mesh;
    static VulkanContext* ctx;
    static Renderer* renderer;
    static OffscreenTarget* target;
};
CityModel* FlatTownRender::city = nullptr;
CityMesh* FlatTownRender::mesh = nullptr;
VulkanContext* FlatTownRender::ctx = nullptr;
Renderer* FlatTownRender::renderer = nullptr;
OffscreenTarget* FlatTownRender::target = nullptr;

TEST_F(FlatTownRender, VehiclesAppearWhereTheCameraProjectsThem) {
    ui::CityTraffic traffic(*city);
    // As a snapshot has them: a car at the limit eastbound on Nordstraße's lane, a slow
    // bicycle westbound, a standing car on Südstraße.
    std::vector<mobility::VehicleState> vehicles = {
        {0, Vec2(10, 23.4), 0.0f, 50 / 3.6f, mobility::VClass::Passenger},
        {1, Vec2(-20, 26.6), float(M_PI), 1.0f, mobility::VClass::Bicycle},
        {2, Vec2(20, -26.6), float(M_PI), 0.0f, mobility::VClass::Passenger},
    };
    renderer->setAgents({});
    Picture without = target->render(camera(), settings());
    renderer->setAgents(traffic.agents(vehicles));
    Picture with = target->render(camera(), settings());
    renderer->setAgents({});
    // The roof of each box: the ground point + road lift + height, projected.
    const double ground = 10 + CityMeshOptions{}.roadLift;
    struct Expect {
        Vec3 top;
        bool green;
    };
    for (const Expect& e : {Expect{{10, 23.4, ground + 1.5}, true}, Expect{{-20, 26.6, ground + 1.6}, false},
                            Expect{{20, -26.6, ground + 1.5}, false}}) {
        Vec2 q = px(e.top);
        Rgb a = rgbAt(without, q), b = rgbAt(with, q);
        EXPECT_GT(std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b), 40) << e.top.transpose();
        if (e.green) EXPECT_GT(b.g, b.r + 40) << b.r << "," << b.g << "," << b.b;
        else EXPECT_GT(b.r, b.g + 60) << b.r << "," << b.g << "," << b.b;
        // 4 m ahead of the box (the road, beyond its 2.25 m half length): untouched.
        Vec2 beside = px(Vec3(e.top.x() + 4, e.top.y(), ground));
        EXPECT_EQ(without.at(int(beside.x()), int(beside.y())), with.at(int(beside.x()), int(beside.y())));
    }
    // Widths across the road (north–south), in metres on the roof's plane: the roof plus the
    // south wall the camera (at y ≈ 0) sees beyond it, whose foot at y − w/2 on the ground
    // appears at (y − w/2)·(eye − roof)/(eye − ground) on the roof's plane.
    auto measured = [&](double x, double y, double z) {
        int n = 0;
        for (double dy = -3; dy <= 3; dy += 0.05) {
            Vec2 q = px(Vec3(x, y + dy, z));
            n += without.at(int(q.x()), int(q.y())) != with.at(int(q.x()), int(q.y()));
        }
        return n * 0.05;
    };
    auto expected = [&](double y, double w, double h) {
        double eye = camera().eye.z(), roof = ground + h;
        return (y + w / 2) - (y - w / 2) * (eye - roof) / (eye - ground);
    };
    EXPECT_NEAR(measured(10, 23.4, ground + 1.5), expected(23.4, 1.8, 1.5), 0.3);   // ≈ 2.04 m
    EXPECT_NEAR(measured(-20, 26.6, ground + 1.6), expected(26.6, 0.6, 1.6), 0.3); // ≈ 0.90 m
}

// Road colours from a hand-written edges.csv at two times. The expected pixel comes from two
// reference renders (the road in its own grey, and in the first stop of the map): the shader
// lights a base colour c (linear, c = (byte/255)²) per channel as A·c + B, so the two give A
// and B at that pixel, and the colour from the map's stops (computed here by hand) the pixel.
TEST_F(FlatTownRender, RoadsShowTheSpeedRatioOfTheIntervalAtTheClock) {
    TempDir tmp;
    writeText(tmp / "edges.csv", kEdgesHeader +
                                     "0,Nordstraße,0,900,20,80,15,4,13.2,0.3\n"
                                     "0,Nordstraße,900,1800,20,80,50,1,7.9,1\n"
                                     "1,Nordstraße,0,900,20,80,45,1,8.8,0.9\n"
                                     "1,Nordstraße,900,1800,20,80,45,1,8.8,0.9\n"
                                     "2,Südstraße,0,900,20,80,50,1,7.9,1\n"
                                     "2,Südstraße,900,1800,20,80,15,4,13.2,0.3\n");
    ui::TrafficResults results = ui::readEdgesCsv(tmp / "edges.csv", city->roads.edgeCount());
    const Vec2 north = px(Vec3(0, 25, 10.25)), south = px(Vec3(0, -25, 10.25)), lane = px(Vec3(0, 0, 10.25));

    renderer->setRoadValues(nullptr);
    Picture grey = target->render(camera(), settings());
    ValueOverlay first;
    first.values.assign(city->roads.edgeCount(), 0.0f);
    first.scale = {ColorMap::Traffic, 0, 1, "", ""}; // 0 → the first stop, (26, 150, 65)
    renderer->setRoadValues(&first);
    Picture green = target->render(camera(), settings());

    auto predict = [&](const Vec2& q, std::array<int, 3> base) {
        Rgb g0 = rgbAt(grey, q), g1 = rgbAt(green, q);
        uint32_t road = roadColor(RoadClass::Residential);
        std::array<int, 3> c0 = {int(road & 0xff), int((road >> 8) & 0xff), int((road >> 16) & 0xff)}, c1 = {26, 150, 65};
        std::array<int, 3> p0 = {g0.r, g0.g, g0.b}, p1 = {g1.r, g1.g, g1.b}, out{};
        auto lin = [](int byte) { return (byte / 255.0) * (byte / 255.0); };
        for (int k = 0; k < 3; ++k) {
            double A = (lin(p1[k]) - lin(p0[k])) / (lin(c1[k]) - lin(c0[k]));
            double B = lin(p0[k]) - A * lin(c0[k]);
            out[k] = int(std::lround(255 * std::sqrt(std::clamp(A * lin(base[k]) + B, 0.0, 1.0))));
        }
        return out;
    };
    auto expectColour = [&](const Picture& p, const Vec2& q, std::array<int, 3> base, const char* what) {
        std::array<int, 3> want = predict(q, base);
        Rgb got = rgbAt(p, q);
        EXPECT_NEAR(got.r, want[0], 6) << what;
        EXPECT_NEAR(got.g, want[1], 6) << what;
        EXPECT_NEAR(got.b, want[2], 6) << what;
    };
    // 0–900 s: Nordstraße 0.3 one way, 0.9 the other → 0.3: the last stop, red (200, 20, 30).
    // Südstraße 1 → green. The one-way Querweg has no rows: its own grey.
    ValueOverlay early = ui::trafficRoadValues(results, *city, 450);
    renderer->setRoadValues(&early);
    Picture at450 = target->render(camera(), settings());
    expectColour(at450, north, {200, 20, 30}, "Nordstraße at 450 s");
    expectColour(at450, south, {26, 150, 65}, "Südstraße at 450 s");
    EXPECT_EQ(at450.at(int(lane.x()), int(lane.y())), grey.at(int(lane.x()), int(lane.y())));
    // 900–1800 s: Nordstraße min(1, 0.9) = 0.9 → t = (0.9 − 1)/(0.3 − 1) = 1/7 on the map,
    // 2/7 of the way from (26, 150, 65) to the yellow stop (250, 220, 50) at 0.5: (90, 170, 61).
    ValueOverlay late = ui::trafficRoadValues(results, *city, 1200);
    renderer->setRoadValues(&late);
    Picture at1200 = target->render(camera(), settings());
    expectColour(at1200, north, {90, 170, 61}, "Nordstraße at 1200 s");
    expectColour(at1200, south, {200, 20, 30}, "Südstraße at 1200 s");
    // After the run: nothing.
    ValueOverlay after = ui::trafficRoadValues(results, *city, 4000);
    for (float v : after.values) EXPECT_TRUE(std::isnan(v));
    renderer->setRoadValues(nullptr);
}

// `citytwin render --color-roads-by traffic` on a small imported town with a hand-written run
// folder: the road red at the projected pixel, vehicles from fcd.csv, and a clear error without
// traffic results.
TEST(MobilityViewCommand, RenderColoursRoadsByTrafficAndDrawsVehicles) {
    TempDir tmp;
    const double E0 = 476000, N0 = 5734000;
    writeDem(tmp / "dem.tif", 60, 60, 2, E0 - 60, N0 - 60, std::vector<float>(3600, 80));
    writeLayer(tmp / "roads.geojson", "GeoJSON", "roads", 25832, {{"name"}, {"highway"}, {"maxspeed", true}},
               {{fmt::format("LINESTRING({} {}, {} {})", E0 - 50, N0 + 20, E0 + 50, N0 + 20),
                 {{"name", "Nordstraße"}, {"highway", "residential"}, {"maxspeed", "50"}}},
                {fmt::format("LINESTRING({} {}, {} {})", E0 - 50, N0 - 20, E0 + 50, N0 - 20),
                 {{"name", "Südstraße"}, {"highway", "residential"}, {"maxspeed", "50"}}}});
    writeText(tmp / "town.yaml", "name: town\nseed: 1\ncity: {terrain: dem.tif, roads: roads.geojson}\n"
                                 "time: {start: 2026-03-10T07:00:00+01:00, duration: 30min}\n"
                                 "modules:\n  mobility: {network: city}\noutputs: {dir: out}\n");
    // Which city edges the import made of the streets: found on the same import.
    ui::CityScene scene = ui::loadScene(tmp / "town.yaml", {{}, false, {}});
    std::string north, south;
    for (size_t e = 0; e < scene.city.roads.edgeCount(); ++e) {
        const std::string& name = scene.city.roads.wayName[scene.city.roads.way[e]];
        if (name == "Nordstraße" && north.empty()) north = std::to_string(e);
        if (name == "Südstraße" && south.empty()) south = std::to_string(e);
    }
    ASSERT_FALSE(north.empty());
    ASSERT_FALSE(south.empty());
    fs::create_directories(tmp / "run" / "mobility");
    writeText(tmp / "run" / "mobility" / "edges.csv", kEdgesHeader + north + ",Nordstraße,0,900,20,80,10,4,13,0.2\n" + south +
                                                          ",Südstraße,0,900,20,80,50,1,7,1\n");
    // A standing car on Südstraße at 300 s (local (10, −21.6) → the CRS).
    writeText(tmp / "run" / "mobility" / "fcd.csv", fmt::format("time,trip,x,y,speed\n300,h1_0,{},{},0\n", E0 + 10, N0 - 21.6));
    writeText(tmp / "run" / "mobility" / "trips.csv", "id,mode\nh1_0,car\n");

    // Straight down from 120 m above the ground at the town centre.
    const std::string camera = fmt::format("{},{},{},0,-89.9", E0, N0 - 0.01, 80 + 120);
    auto cmd = [&](const std::string& extra, const fs::path& png) {
        return runCitytwin("render " + (tmp / "town.yaml").string() + " --out " + png.string() +
                           " --size 400x400 --validate --no-legend --no-shadows --time 2026-03-10T12:00:00+01:00 --camera " + camera +
                           " " + extra);
    };
    auto r = cmd("--results " + (tmp / "run").string() + " --color-roads-by traffic --sim-time 300", tmp / "t.png");
    ASSERT_EQ(r.exitCode, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("1 vehicles drawn"), std::string::npos) << r.out;
    auto plain = cmd("", tmp / "p.png");
    ASSERT_EQ(plain.exitCode, 0) << plain.err;
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
    auto traffic = load(tmp / "t.png"), base = load(tmp / "p.png");
    Camera cam = *Camera::parse(camera);
    cam.eye.head<2>() = scene.city.frame.toLocal(cam.eye.head<2>());
    auto pixel = [&](const std::vector<std::vector<uint8_t>>& img, double x, double y, double z) {
        Vec2 local = scene.city.frame.toLocal(Vec2(E0 + x, N0 + y));
        auto q = cam.project(Vec3(local.x(), local.y(), z), 400, 400);
        EXPECT_TRUE(q);
        size_t i = q ? size_t(int(q->y())) * 400 + size_t(int(q->x())) : 0;
        return Rgb{img[0][i], img[1][i], img[2][i]};
    };
    Rgb n = pixel(traffic, -20, 20, 80.25), nBase = pixel(base, -20, 20, 80.25);
    EXPECT_GT(n.r, n.g + 60) << n.r << "," << n.g << "," << n.b; // 0.2 of the limit: red
    EXPECT_LT(std::abs(nBase.r - nBase.g), 12) << "grey without traffic colours";
    Rgb s = pixel(traffic, -20, -20, 80.25);
    EXPECT_GT(s.g, s.r + 40) << s.r << "," << s.g << "," << s.b; // free flow: green
    Rgb car = pixel(traffic, 10, -21.6, 80.25 + 1.5), carBase = pixel(base, 10, -21.6, 80.25 + 1.5);
    EXPECT_GT(car.r, car.g + 60) << "a standing car is red: " << car.r << "," << car.g << "," << car.b;
    EXPECT_LT(std::abs(carBase.r - carBase.g), 12);

    // Without traffic results: an error naming the option.
    fs::create_directories(tmp / "empty");
    auto none = cmd("--results " + (tmp / "empty").string() + " --color-roads-by traffic", tmp / "n.png");
    EXPECT_EQ(none.exitCode, 2);
    EXPECT_NE(none.err.find("no traffic results"), std::string::npos) << none.err;
}

} // namespace
