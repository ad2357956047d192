// The mobility module's outputs and configuration: trips.csv, edges.csv, edges.gpkg and the
// KPIs of a hand-built network with made-up results, every number recomputed here by hand;
// the baseline/variant comparison on hand-written files; YAML mistakes named by file:line;
// a bridge closure on a small town whose detour is 600 m longer, worked out by hand.
#include "TestSupport.h"
#include "core/Error.h"
#include "gis/Gdal.h"
#include "city/Import.h"
#include "sim/Runner.h"
#include "sim/mobility/CityNetwork.h"
#include "sim/mobility/Counts.h"
#include "feeds/SensorStore.h"
#include "sim/mobility/MobilityModule.h"
#include "sim/mobility/Outputs.h"

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>
#include <sstream>

using namespace ct;
using namespace ct::test;
using namespace ct::mobility;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Rows of a CSV without quoted fields, keyed by the header.
struct Rows {
    std::vector<std::map<std::string, std::string>> rows;
    std::vector<std::string> header;
};
Rows readRows(const fs::path& file) {
    std::ifstream in(file);
    Rows r;
    std::string line;
    auto split = [](const std::string& l) {
        std::vector<std::string> c;
        std::string cell;
        std::stringstream ss(l);
        while (std::getline(ss, cell, ',')) c.push_back(cell);
        if (!l.empty() && l.back() == ',') c.push_back("");
        return c;
    };
    if (!std::getline(in, line)) return r;
    r.header = split(line);
    while (std::getline(in, line)) {
        auto c = split(line);
        std::map<std::string, std::string> row;
        for (size_t i = 0; i < r.header.size(); ++i) row[r.header[i]] = i < c.size() ? c[i] : "";
        r.rows.push_back(row);
    }
    return r;
}
double num(const std::map<std::string, std::string>& row, const std::string& key) { return std::stod(row.at(key)); }

// Three edges in a line and a branch: a (300 m, 2 lanes, 50 km/h) → b (400 m, 1 lane, 36 km/h),
// and c (100 m) that nobody uses.
Network tinyNetwork() {
    Network n;
    n.junctions = {{"J0", {0, 0}}, {"J1", {300, 0}}, {"J2", {300, 400}}, {"J3", {200, 0}}};
    n.junctions[1].type = JunctionType::TrafficLight;
    auto addLane = [&](uint32_t edge, uint8_t index, float length, float speed, std::vector<Vec2> shape) {
        Lane l;
        l.edge = edge, l.index = index, l.lengthM = length, l.speedMps = speed;
        l.shapeStart = uint32_t(n.shapePoints.size());
        n.shapePoints.insert(n.shapePoints.end(), shape.begin(), shape.end());
        l.shapeEnd = uint32_t(n.shapePoints.size());
        n.lanes.push_back(l);
    };
    Edge a{"a", "Hauptstraße", 0, 1, 0, 2, 2, 300, float(50 / 3.6)};
    Edge b{"b", "Nebenweg", 1, 2, 2, 1, 1, 400, 10};
    Edge c{"c", "", 3, 1, 3, 1, 1, 100, 10};
    n.edges = {a, b, c};
    addLane(0, 0, 300, float(50 / 3.6), {{0, -4.8}, {300, -4.8}});
    addLane(0, 1, 300, float(50 / 3.6), {{0, -1.6}, {300, -1.6}});
    addLane(1, 0, 400, 10, {{301.6, 0}, {301.6, 400}});
    addLane(2, 0, 100, 10, {{200, 1.6}, {300, 1.6}});
    Connection ab;
    ab.fromLane = 0, ab.toLane = 2, ab.junction = 1;
    n.connections = {ab};
    n.finalize("tiny");
    return n;
}

// Interval 0 (0–900 s): 30 vehicles enter a, 900 vehicle-seconds over 9 km (10 m/s).
// Interval 1 (900–1500 s, the run ends at 1500 s): 12 enter b, 600 vehicle-seconds over 3 km.
std::vector<std::vector<EdgeSample>> tinySamples() {
    std::vector<std::vector<EdgeSample>> s(2, std::vector<EdgeSample>(3));
    s[0][0] = {30, 900, 9000};
    s[1][1] = {12, 600, 3000};
    return s;
}

TEST(MobilityOutputs, EdgesCsvFlowDensityAndTravelTimeByHand) {
    TempDir dir;
    Network net = tinyNetwork();
    writeEdgesCsv(dir / "edges.csv", net, tinySamples(), 900, 1500);
    Rows r = readRows(dir / "edges.csv");
    ASSERT_EQ(r.header, (std::vector<std::string>{"edge_id", "name", "interval_begin_s", "interval_end_s", "entered",
                                                  "flow_veh_h", "mean_speed_kmh", "density_veh_km", "travel_time_s",
                                                  "speed_ratio"}));
    // a and b had traffic: both intervals each; c never did and is left out.
    ASSERT_EQ(r.rows.size(), 4u);
    auto& a0 = r.rows[0];
    EXPECT_EQ(a0.at("edge_id"), "a");
    EXPECT_EQ(a0.at("name"), "Hauptstraße");
    EXPECT_EQ(num(a0, "interval_begin_s"), 0);
    EXPECT_EQ(num(a0, "interval_end_s"), 900);
    EXPECT_EQ(num(a0, "entered"), 30);
    EXPECT_NEAR(num(a0, "flow_veh_h"), 120, 1e-9);                 // 30 × 3600 / 900
    EXPECT_NEAR(num(a0, "mean_speed_kmh"), 36, 1e-9);              // 9000 m / 900 s = 10 m/s
    EXPECT_NEAR(num(a0, "density_veh_km"), 900.0 / (900 * 0.3), 1e-9); // 3.33 veh/km
    EXPECT_NEAR(num(a0, "travel_time_s"), 30, 1e-9);               // 300 m at 10 m/s
    EXPECT_NEAR(num(a0, "speed_ratio"), 10 / (50 / 3.6), 1e-6);
    // a in the second interval: nobody drove, the travel time is the free-flow one.
    auto& a1 = r.rows[1];
    EXPECT_EQ(num(a1, "interval_begin_s"), 900);
    EXPECT_EQ(num(a1, "interval_end_s"), 1500); // the run's end cuts the interval
    EXPECT_EQ(num(a1, "entered"), 0);
    EXPECT_EQ(num(a1, "flow_veh_h"), 0);
    EXPECT_EQ(a1.at("mean_speed_kmh"), "");
    EXPECT_EQ(num(a1, "density_veh_km"), 0);
    EXPECT_NEAR(num(a1, "travel_time_s"), 300 / (50 / 3.6), 1e-4);  // 21.6 s
    EXPECT_EQ(a1.at("speed_ratio"), "");
    // b in the 600 s second interval.
    auto& b1 = r.rows[3];
    EXPECT_EQ(b1.at("edge_id"), "b");
    EXPECT_NEAR(num(b1, "flow_veh_h"), 72, 1e-9);                  // 12 × 3600 / 600
    EXPECT_NEAR(num(b1, "mean_speed_kmh"), 18, 1e-9);              // 3000 m / 600 s
    EXPECT_NEAR(num(b1, "density_veh_km"), 2.5, 1e-9);             // 600 / (600 × 0.4)
    EXPECT_NEAR(num(b1, "travel_time_s"), 80, 1e-9);
    EXPECT_NEAR(num(b1, "speed_ratio"), 0.5, 1e-9);
}

TEST(MobilityOutputs, EdgesGpkgReadsBackWithGdal) {
    TempDir dir;
    Network net = tinyNetwork();
    WorldFrame world{Crs::fromEpsg(25832), Vec2(476000, 5734000)};
    writeEdgesGpkg(dir / "edges.gpkg", net, tinySamples(), 900, world, 1500);
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "edges.gpkg").c_str(), GDAL_OF_VECTOR));
    ASSERT_TRUE(ds);
    OGRLayer* layer = ds->GetLayerByName("edges");
    ASSERT_TRUE(layer);
    EXPECT_EQ(layer->GetFeatureCount(), 3); // every edge, used or not
    ASSERT_TRUE(layer->GetSpatialRef());
    EXPECT_STREQ(layer->GetSpatialRef()->GetAuthorityCode(nullptr), "25832");
    std::map<std::string, int> seen;
    for (auto& f : *layer) {
        std::string id = f->GetFieldAsString("edge_id");
        ++seen[id];
        auto* line = f->GetGeometryRef()->toLineString();
        if (id == "a") {
            EXPECT_NEAR(line->get_Length(), 300, 1e-6);
            EXPECT_NEAR(line->getX(0), 476000, 1e-6);   // lane 0 at local (0, −4.8)
            EXPECT_NEAR(line->getY(0), 5733995.2, 1e-6);
            EXPECT_EQ(f->GetFieldAsInteger64("lanes"), 2);
            EXPECT_EQ(f->GetFieldAsInteger64("entered_total"), 30);
            EXPECT_NEAR(f->GetFieldAsDouble("speed_limit_kmh"), 50, 1e-4);
            EXPECT_NEAR(f->GetFieldAsDouble("mean_speed_kmh"), 36, 1e-9);
            EXPECT_NEAR(f->GetFieldAsDouble("vehicle_km"), 9, 1e-9);
            EXPECT_NEAR(f->GetFieldAsDouble("peak_flow_veh_h"), 120, 1e-9);
            EXPECT_EQ(f->GetFieldAsDouble("peak_interval_begin_s"), 0);
        } else if (id == "b") {
            EXPECT_NEAR(line->get_Length(), 400, 1e-6);
            EXPECT_NEAR(f->GetFieldAsDouble("speed_ratio"), 0.5, 1e-9);
            EXPECT_NEAR(f->GetFieldAsDouble("peak_flow_veh_h"), 72, 1e-9); // in the 600 s interval
            EXPECT_EQ(f->GetFieldAsDouble("peak_interval_begin_s"), 900);
        } else {
            EXPECT_EQ(f->GetFieldAsInteger64("entered_total"), 0);
            EXPECT_FALSE(f->IsFieldSetAndNotNull(f->GetFieldIndex("mean_speed_kmh"))); // no traffic: null
        }
    }
    EXPECT_EQ(seen, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
    // Without a CRS (a SUMO net with no projection) the file is still written.
    writeEdgesGpkg(dir / "plain.gpkg", net, tinySamples(), 900, WorldFrame{}, 1500);
    GDALDatasetUniquePtr plain(GDALDataset::Open((dir / "plain.gpkg").c_str(), GDAL_OF_VECTOR));
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->GetLayer(0)->GetFeatureCount(), 3);
    ASSERT_TRUE(plain->GetLayer(0)->GetSpatialRef());
    EXPECT_TRUE(plain->GetLayer(0)->GetSpatialRef()->IsLocal());
}

TEST(MobilityOutputs, JunctionsCsvMeanDelay) {
    TempDir dir;
    Network net = tinyNetwork();
    std::vector<JunctionSample> j(4);
    j[1] = {40, 400, 120};
    writeJunctionsCsv(dir / "junctions.csv", net, j, WorldFrame{Crs(), Vec2(1000, 2000)});
    Rows r = readRows(dir / "junctions.csv");
    ASSERT_EQ(r.rows.size(), 4u);
    EXPECT_EQ(r.rows[1].at("junction_id"), "J1");
    EXPECT_EQ(num(r.rows[1], "x"), 1300);
    EXPECT_EQ(num(r.rows[1], "y"), 2000);
    EXPECT_EQ(r.rows[1].at("type"), "traffic_light");
    EXPECT_EQ(num(r.rows[1], "passed"), 40);
    EXPECT_NEAR(num(r.rows[1], "mean_delay_s"), 10, 1e-12); // 400 s / 40
    EXPECT_EQ(num(r.rows[1], "waiting_s"), 120);
    EXPECT_EQ(r.rows[0].at("mean_delay_s"), ""); // nobody passed
}

// Four cars and a bicycle with made-up results.
struct TinyRun {
    Demand demand;
    std::vector<TripResult> results;
    TinyRun() {
        demand.types.push_back(VehicleType::defaults(VClass::Bicycle));
        auto trip = [&](std::string id, double depart, Mode mode, uint32_t type) {
            Trip t;
            t.id = std::move(id), t.departS = depart, t.mode = mode, t.type = type;
            demand.trips.push_back(t);
        };
        trip("car1", 10, Mode::Car, 0);
        trip("car2", 20, Mode::Car, 0);
        trip("car3", 30, Mode::Car, 0);
        trip("car4", 40, Mode::Car, 0);
        trip("bike1", 50, Mode::Bicycle, 1);
        trip("car5", 60, Mode::Car, 0);
        auto arrived = [](double depart, double arrival, double length, double planned) {
            TripResult r;
            r.status = TripResult::Status::Arrived;
            r.departS = depart, r.arrivalS = arrival, r.routeLengthM = length, r.departDelayS = depart - planned;
            r.timeLossS = 60, r.waitingS = 20;
            return r;
        };
        results.push_back(arrived(12, 312, 3000, 10)); // 300 s
        results.push_back(arrived(20, 520, 5000, 20)); // 500 s
        TripResult running;
        running.status = TripResult::Status::Running;
        running.departS = 35, running.departDelayS = 5, running.routeLengthM = 1000, running.timeLossS = 120;
        running.teleports = 1;
        results.push_back(running);
        TripResult noRoute;
        noRoute.status = TripResult::Status::NoRoute;
        results.push_back(noRoute);
        results.push_back(arrived(50, 650, 2400, 50)); // bicycle, 600 s
        results.push_back(TripResult{});               // still pending
    }
};

TEST(MobilityOutputs, TripsCsvColumnsByHand) {
    TempDir dir;
    TinyRun run;
    Network net = tinyNetwork();
    std::vector<std::vector<uint32_t>> routes = {{0, 1}, {0}, {}, {}, {1}, {}};
    writeTripsCsv(dir / "trips.csv", run.demand, run.results, &net, &routes);
    Rows r = readRows(dir / "trips.csv");
    ASSERT_EQ(r.header, (std::vector<std::string>{"id", "mode", "depart", "depart_actual", "arrival", "duration_s",
                                                  "route_length_m", "time_loss_s", "waiting_s", "depart_delay_s",
                                                  "teleports", "status", "route"}));
    ASSERT_EQ(r.rows.size(), 6u);
    EXPECT_EQ(r.rows[0].at("id"), "car1");
    EXPECT_EQ(r.rows[0].at("mode"), "car");
    EXPECT_EQ(num(r.rows[0], "depart"), 10);
    EXPECT_EQ(num(r.rows[0], "depart_actual"), 12);
    EXPECT_EQ(num(r.rows[0], "arrival"), 312);
    EXPECT_EQ(num(r.rows[0], "duration_s"), 300);
    EXPECT_EQ(num(r.rows[0], "depart_delay_s"), 2);
    EXPECT_EQ(num(r.rows[0], "route_length_m"), 3000);
    EXPECT_EQ(r.rows[0].at("status"), "arrived");
    EXPECT_EQ(r.rows[0].at("route"), "a b");
    EXPECT_EQ(r.rows[2].at("status"), "running");
    EXPECT_EQ(r.rows[2].at("arrival"), "");
    EXPECT_EQ(r.rows[2].at("duration_s"), "");
    EXPECT_EQ(num(r.rows[2], "teleports"), 1);
    EXPECT_EQ(r.rows[3].at("status"), "no_route");
    EXPECT_EQ(r.rows[3].at("depart_actual"), "");
    EXPECT_EQ(r.rows[4].at("mode"), "bicycle");
    EXPECT_EQ(r.rows[5].at("status"), "pending");
}

TEST(MobilityOutputs, KpisByHand) {
    TinyRun run;
    Kpis k = mobilityKpis(run.demand, run.results);
    std::map<std::string, double> v;
    for (auto& x : k) v[x.name] = x.value;
    EXPECT_EQ(v.at("trips_total"), 6);
    EXPECT_EQ(v.at("trips_completed"), 3);
    EXPECT_EQ(v.at("trips_no_route"), 1);
    EXPECT_EQ(v.at("teleports"), 1);
    EXPECT_EQ(v.at("mean_trip_time_car_s"), 400);   // (300 + 500) / 2
    EXPECT_EQ(v.at("median_trip_time_car_s"), 400);
    EXPECT_EQ(v.at("mean_trip_time_bicycle_s"), 600);
    EXPECT_EQ(v.at("mean_trip_time_walk_s"), 0); // no walking trips: listed, as 0
    EXPECT_NEAR(v.at("total_time_loss_h"), (3 * 60 + 120) / 3600.0, 1e-12);
    EXPECT_NEAR(v.at("vehicle_km"), 9, 1e-12);        // cars: 3 + 5 + 1 (still running) km
    EXPECT_NEAR(v.at("co2_t"), 9 * 147 / 1e6, 1e-15); // 147 g/km (UBA TREMOD)
    EXPECT_NEAR(v.at("mean_speed_kmh"), 8000.0 / 800 * 3.6, 1e-12);
}

// Two trips.csv files written by hand: Δ = variant − baseline.
//   t1  600 → 400  (−200: faster; 1.5 km; bin −300..−60)
//   t2  600 → 610  (+10 < 2 % of 600 = 12: unchanged; 3 km; bin 5..60)
//   t3 1000 → 1400 (+400: slower; 7 km; bin > 300)
//   t4  300 → 303  (+3: unchanged; 12 km; bin ±5)
//   t5  100 → 120  (+20: slower; 0.5 km; bin 5..60)
//   t6 arrived only in the baseline, t7 only in the variant.
const char* kTripsHeader = "id,mode,depart,depart_actual,arrival,duration_s,route_length_m,time_loss_s,waiting_s,"
                           "depart_delay_s,teleports,status\n";
void writeComparisonInputs(const fs::path& base, const fs::path& variant) {
    fs::create_directories(base);
    fs::create_directories(variant);
    writeText(base / "trips.csv", std::string(kTripsHeader) +
                                      "t1,car,0,0,600,600,1500,0,0,0,0,arrived\n"
                                      "t2,car,0,0,600,600,3000,0,0,0,0,arrived\n"
                                      "t3,car,0,0,1000,1000,7000,0,0,0,0,arrived\n"
                                      "t4,car,0,0,300,300,12000,0,0,0,0,arrived\n"
                                      "t5,bicycle,0,0,100,100,500,0,0,0,0,arrived\n"
                                      "t6,car,0,0,200,200,900,0,0,0,0,arrived\n"
                                      "t7,car,0,,,,0,0,0,,0,no_route\n");
    writeText(variant / "trips.csv", std::string(kTripsHeader) +
                                         "t1,car,0,0,400,400,1700,0,0,0,0,arrived\n"
                                         "t2,car,0,0,610,610,3000,0,0,0,0,arrived\n"
                                         "t3,car,0,0,1400,1400,9000,0,0,0,0,arrived\n"
                                         "t4,car,0,0,303,303,12000,0,0,0,0,arrived\n"
                                         "t5,bicycle,0,0,120,120,500,0,0,0,0,arrived\n"
                                         "t6,car,0,0,,,500,0,0,0,0,running\n"
                                         "t7,car,0,0,50,50,400,0,0,0,0,arrived\n");
    // e1 closed in the variant; e2 takes the traffic and slows down; e3 unchanged.
    const char* h = "edge_id,name,interval_begin_s,interval_end_s,entered,flow_veh_h,mean_speed_kmh,density_veh_km,"
                    "travel_time_s,speed_ratio\n";
    writeText(base / "edges.csv", std::string(h) +
                                      "e1,\"Brücke, alt\",0,900,60,240,40,5,9,0.8\n"
                                      "e1,\"Brücke, alt\",900,1800,40,160,40,4,9,0.8\n"
                                      "e2,Umweg,0,900,30,120,40,2,9,0.8\n"
                                      "e2,Umweg,900,1800,20,80,40,1,9,0.8\n"
                                      "e3,Ruhig,0,900,5,20,30,1,9,0.6\n");
    writeText(variant / "edges.csv", std::string(h) +
                                         "e2,Umweg,0,900,50,200,30,10,12,0.6\n"
                                         "e2,Umweg,900,1800,30,120,20,20,18,0.4\n"
                                         "e3,Ruhig,0,900,5,20,30,1,9,0.6\n");
}

TEST(MobilityComparison, CountsHistogramAndTopEdgesByHand) {
    TempDir dir;
    writeComparisonInputs(dir / "base", dir / "variant");
    TripComparison c = compareTrips(dir / "base" / "trips.csv", dir / "variant" / "trips.csv");
    EXPECT_EQ(c.matched, 5u);
    EXPECT_EQ(c.faster, 1u);
    EXPECT_EQ(c.slower, 2u);
    EXPECT_EQ(c.unchanged, 2u);
    EXPECT_EQ(c.arrivedOnlyBaseline, 1u);
    EXPECT_EQ(c.arrivedOnlyVariant, 1u);
    EXPECT_NEAR(c.meanDeltaS, (-200 + 10 + 400 + 3 + 20) / 5.0, 1e-12);
    EXPECT_EQ(c.medianDeltaS, 10); // −200, 3, 10, 20, 400
    std::array<std::array<size_t, 7>, 4> expected{};
    expected[0][1] = 1; // t1
    expected[1][4] = 1; // t2
    expected[2][6] = 1; // t3
    expected[3][3] = 1; // t4
    expected[0][4] = 1; // t5
    EXPECT_EQ(c.histogram, expected);
    // Bin edges: ±5 belongs to "unchanged", −60 to −60..−5, 300 to 60..300.
    EXPECT_EQ(TripComparison::deltaBin(-5), 3);
    EXPECT_EQ(TripComparison::deltaBin(5), 3);
    EXPECT_EQ(TripComparison::deltaBin(-60), 2);
    EXPECT_EQ(TripComparison::deltaBin(300), 5);
    EXPECT_EQ(TripComparison::lengthClass(2000), 1);

    auto edges = topChangedEdges(dir / "base" / "edges.csv", dir / "variant" / "edges.csv");
    ASSERT_EQ(edges.size(), 2u); // e3 did not change
    EXPECT_EQ(edges[0].id, "e1"); // |Δ entered| = 100
    EXPECT_EQ(edges[0].name, "Brücke, alt");
    EXPECT_EQ(edges[0].enteredBase, 100);
    EXPECT_EQ(edges[0].enteredVariant, 0);
    EXPECT_EQ(edges[0].speedBaseKmh, 40);
    EXPECT_TRUE(std::isnan(edges[0].speedVariantKmh));
    EXPECT_EQ(edges[1].id, "e2");
    EXPECT_EQ(edges[1].enteredVariant, 80);
    // Space-mean speed Σ v·ρ·T / Σ ρ·T = (30·10 + 20·20) / 30.
    EXPECT_NEAR(edges[1].speedVariantKmh, 700.0 / 30, 1e-12);

    writeComparison(dir / "base", dir / "variant", dir / "cmp");
    std::ifstream in(dir / "cmp" / "comparison.json");
    json j = json::parse(in);
    EXPECT_EQ(j["trips_faster"], 1);
    EXPECT_NEAR(j["share_slower"].get<double>(), 0.4, 1e-12);
    EXPECT_EQ(j["histogram"]["5-10km"][">300s"], 1);
    Rows cmp = readRows(dir / "cmp" / "comparison.csv");
    size_t histogramTrips = 0;
    for (auto& row : cmp.rows)
        if (row.at("metric") == "trips") histogramTrips += size_t(num(row, "value"));
    EXPECT_EQ(histogramTrips, 5u);
    Rows top = readRows(dir / "cmp" / "top_changed_edges.csv");
    EXPECT_EQ(top.header, (std::vector<std::string>{"edge_id", "name", "entered_base", "entered_variant", "speed_base",
                                                    "speed_variant"}));
    EXPECT_EQ(top.rows.size(), 2u);
}

TEST(MobilityComparison, MissingFileIsAnInputError) {
    TempDir dir;
    EXPECT_THROW(compareTrips(dir / "nope.csv", dir / "nope2.csv"), InputError);
}

// A small town (EPSG:25832): Weststraße, the Brücke and Oststraße in a line west → east
// (400 + 200 + 400 m); the Umweg leaves at the bridge's west end, goes 300 m north, 200 m east
// and 300 m back south to its east end (800 m instead of the bridge's 200 m). Apart from them
// an Allee with two lanes each way. Every street is 50 km/h.
class SmallTown : public ::testing::Test {
protected:
    static constexpr double E0 = 476000, N0 = 5734000;
    static std::string line(std::vector<std::pair<double, double>> pts) {
        std::string s = "LINESTRING(";
        for (size_t i = 0; i < pts.size(); ++i) s += fmt::format("{}{} {}", i ? "," : "", E0 + pts[i].first, N0 + pts[i].second);
        return s + ")";
    }
    void SetUp() override {
        registerMobilityModule();
        std::vector<TestFeature> roads = {
            {line({{0, 0}, {400, 0}}), {{"name", "Weststraße"}, {"highway", "secondary"}, {"lanes", "2"}, {"maxspeed", "50"}}},
            {line({{400, 0}, {600, 0}}), {{"name", "Brücke"}, {"highway", "secondary"}, {"lanes", "2"}, {"maxspeed", "50"}}},
            {line({{600, 0}, {1000, 0}}), {{"name", "Oststraße"}, {"highway", "secondary"}, {"lanes", "2"}, {"maxspeed", "50"}}},
            {line({{400, 0}, {400, 300}, {600, 300}, {600, 0}}),
             {{"name", "Umweg"}, {"highway", "residential"}, {"lanes", "2"}, {"maxspeed", "50"}}},
            {line({{0, -300}, {1000, -300}}), {{"name", "Allee"}, {"highway", "primary"}, {"lanes", "4"}, {"maxspeed", "50"}}},
        };
        writeLayer(dir / "roads.geojson", "GeoJSON", "roads", 25832, {{"name"}, {"highway"}, {"lanes", true}, {"maxspeed", true}},
                   roads);
        // The mobility edges the trips use, found here on the same import the runner does.
        CityConfig config;
        config.roads = {LayerSource{dir / "roads.geojson", "", ""}};
        CityModel city = importCity(config, ImportOptions{{}, false});
        Network net = buildCityNetwork(city.roads);
        auto eastbound = [&](const std::string& name) {
            for (const Edge& e : net.edges) {
                auto shape = net.laneShape(e.firstLane);
                if (e.name == name && shape.back().x() > shape.front().x() + 1) return e.id;
            }
            ADD_FAILURE() << "no eastbound edge " << name;
            return std::string();
        };
        west = eastbound("Weststraße"), bridge = eastbound("Brücke"), east = eastbound("Oststraße");
        auto junctionAt = [&](double x, double y) {
            Vec2 p = Vec2(E0 + x, N0 + y) - city.frame.origin;
            for (const Junction& j : net.junctions)
                if ((j.pos - p).norm() < 1) return j.id;
            ADD_FAILURE() << "no junction at " << x << ", " << y;
            return std::string();
        };
        bridgeWest = junctionAt(400, 0), bridgeEast = junctionAt(600, 0);
        std::string csv = "id,depart,from_edge,to_edge\n";
        for (int i = 0; i < 20; ++i) csv += fmt::format("car{},{},{},{}\n", i, i * 15, west, east);
        writeText(dir / "trips.csv", csv);
    }
    // The scenario text; the mobility block starts on line 7, "edits:" follows it.
    std::string scenario(const std::string& block, const std::string& edits) const {
        return "name: town\nseed: 3\ncity: {roads: roads.geojson}\ntime: {start: 2026-03-10T07:00:00+01:00, duration: 30min}\n"
               "modules:\n  mobility:\n" + block + (edits.empty() ? "" : "edits:\n" + edits);
    }
    // The InputError a session raises while configuring and applying the edits.
    InputError errorOf(const std::string& block, const std::string& edits) {
        writeText(dir / "bad.yaml", scenario(block, edits));
        Scenario s = Scenario::fromYaml(dir / "bad.yaml");
        CityModel city = importCity(s.city, ImportOptions{{}, false});
        try {
            SimulationSession session(s, city, true, 1);
        } catch (const InputError& e) {
            return e;
        }
        ADD_FAILURE() << "no error for:\n" << scenario(block, edits);
        return InputError("none");
    }
    std::string at(int lineNo) const { return (dir / "bad.yaml").string() + ":" + std::to_string(lineNo); }
    TempDir dir;
    std::string west, bridge, east, bridgeWest, bridgeEast;
    // Rows of <run>/<side>/mobility/trips.csv.
    Rows tripsOf(const std::string& run, const char* side) const { return readRows(dir / run / side / "mobility" / "trips.csv"); }
};

TEST_F(SmallTown, YamlMistakesNameFileAndLine) {
    // Lines 1–5 name, seed, city, time, modules; 6 "mobility:"; the block from line 7.
    InputError e = errorOf("    demand: {trips: trips.csv}\n    netwrk: city\n", "");
    EXPECT_EQ(e.where(), at(8));
    EXPECT_NE(e.problem().find("unknown key 'netwrk'"), std::string::npos) << e.what();
    e = errorOf("    car_following: wiedemann\n", "");
    EXPECT_EQ(e.where(), at(7));
    EXPECT_NE(e.problem().find("wiedemann"), std::string::npos) << e.what();
    // With a one-line block, "edits:" is line 8 and the first edit line 9.
    e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: close_road, edges: [\"" + west + "\", nope]}\n");
    EXPECT_EQ(e.where(), at(9));
    EXPECT_NE(e.problem().find("unknown edge 'nope'"), std::string::npos) << e.what();
    e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: close_road, street: Hauptstraße}\n");
    EXPECT_EQ(e.where(), at(9));
    EXPECT_NE(e.problem().find("Hauptstraße"), std::string::npos) << e.what();
    // Weststraße has one lane each way: a bike lane would leave cars nothing.
    e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: close_road, street: Umweg}\n  - {type: bike_lane, street: Weststraße}\n");
    EXPECT_EQ(e.where(), at(10));
    EXPECT_NE(e.problem().find("would close it to cars"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("close_road or set_lanes"), std::string::npos) << e.what();
    e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: set_lanes, street: Allee, lanes: 3}\n");
    EXPECT_EQ(e.where(), at(9));
    EXPECT_NE(e.problem().find("cannot grow lanes"), std::string::npos) << e.what();
    e = errorOf("    demand: {trips: trips.csv}\n", fmt::format("  - {{type: close_road, near: [{}, {}]}}\n", E0 + 500, N0 + 150));
    EXPECT_NE(e.problem().find("no edge within 15 m"), std::string::npos) << e.what();
    e = errorOf("    demand:\n      generate: {from: \"05:00\"}\n", "");
    EXPECT_NE(e.problem().find("before the scenario starts"), std::string::npos) << e.what();
    EXPECT_EQ(e.where(), at(8));
    // During a run only closures and speed changes can be made.
    {
        writeText(dir / "live.yaml", scenario("    demand: {trips: trips.csv}\n", ""));
        Scenario live = Scenario::fromYaml(dir / "live.yaml");
        CityModel city = importCity(live.city, ImportOptions{{}, false});
        SimulationSession session(live, city, false, 1);
        session.advanceTo(60);
        YAML::Node lanes = YAML::Load("{type: set_lanes, street: Allee, lanes: 1}");
        try {
            session.applyEdit(Edit{"set_lanes", lanes, "live.yaml:20"});
            ADD_FAILURE() << "set_lanes accepted during the run";
        } catch (const InputError& err) {
            EXPECT_NE(err.problem().find("only be applied before the run"), std::string::npos) << err.what();
            EXPECT_EQ(err.where().rfind("live.yaml", 0), 0u) << err.where(); // the edit's own text
        }
        EXPECT_NO_THROW(session.applyEdit(Edit{"close_road", YAML::Load("{type: close_road, street: Umweg}"), "live.yaml:21"}));
        EXPECT_NO_THROW(session.advanceTo(120));
    }
    // A bike lane on the two-lane Allee and a lane cut are fine.
    writeText(dir / "ok.yaml", scenario("    demand: {trips: trips.csv}\n",
                                        "  - {type: bike_lane, street: Allee}\n  - {type: set_speed, street: Umweg, kmh: 30}\n"));
    Scenario s = Scenario::fromYaml(dir / "ok.yaml");
    CityModel city = importCity(s.city, ImportOptions{{}, false});
    EXPECT_NO_THROW(SimulationSession(s, city, true, 1));
}

// The bridge closed: no vehicle crosses it and every trip drives the Umweg, 600 m longer
// (800 m instead of 200 m; by hand from the street lengths).
TEST_F(SmallTown, ClosedBridgeCarriesNobodyAndTripsDetour) {
    writeText(dir / "closure.yaml",
              scenario("    demand: {trips: trips.csv}\n    edge_interval: 600\n", "  - {type: close_road, street: Brücke}\n"));
    Scenario s = Scenario::fromYaml(dir / "closure.yaml");
    runScenario(s, RunOptions{dir / "out", 2, false, {}});
    fs::path base = dir / "out" / "baseline" / "mobility", variant = dir / "out" / "variant" / "mobility";
    Rows tb = readRows(base / "trips.csv"), tv = readRows(variant / "trips.csv");
    ASSERT_EQ(tb.rows.size(), 20u);
    ASSERT_EQ(tv.rows.size(), 20u);
    for (size_t i = 0; i < 20; ++i) {
        ASSERT_EQ(tb.rows[i].at("id"), tv.rows[i].at("id"));
        EXPECT_EQ(tb.rows[i].at("status"), "arrived") << tb.rows[i].at("id");
        EXPECT_EQ(tv.rows[i].at("status"), "arrived") << tv.rows[i].at("id");
        auto edgesOf = [](const std::string& route) {
            std::vector<std::string> out;
            std::stringstream ss(route);
            for (std::string id; ss >> id;) out.push_back(id);
            return out;
        };
        auto rb = edgesOf(tb.rows[i].at("route")), rv = edgesOf(tv.rows[i].at("route"));
        EXPECT_NE(std::find(rb.begin(), rb.end(), bridge), rb.end()) << tb.rows[i].at("route");
        EXPECT_EQ(std::find(rv.begin(), rv.end(), bridge), rv.end()) << tv.rows[i].at("route");
        EXPECT_NEAR(num(tv.rows[i], "route_length_m") - num(tb.rows[i], "route_length_m"), 600, 40)
            << tb.rows[i].at("route") << " / " << tv.rows[i].at("route");
    }
    auto enteredOn = [&](const fs::path& file, const std::string& name) {
        double n = 0;
        for (auto& row : readRows(file).rows)
            if (row.at("name") == name) n += num(row, "entered");
        return n;
    };
    EXPECT_EQ(enteredOn(base / "edges.csv", "Brücke"), 20);
    EXPECT_EQ(enteredOn(variant / "edges.csv", "Brücke"), 0);
    EXPECT_EQ(enteredOn(base / "edges.csv", "Umweg"), 0);
    EXPECT_EQ(enteredOn(variant / "edges.csv", "Umweg"), 20); // one edge: no junction on the way
    // The comparison: the same 20 trips, all slower (600 m more at ≤ 50 km/h is > 40 s).
    std::ifstream in(dir / "out" / "mobility_comparison" / "comparison.json");
    ASSERT_TRUE(in);
    json j = json::parse(in);
    EXPECT_EQ(j["trips_matched"], 20);
    EXPECT_EQ(j["trips_slower"], 20);
    EXPECT_GT(j["mean_delta_s"].get<double>(), 600 / (50 / 3.6));
    EXPECT_TRUE(fs::exists(dir / "out" / "mobility_comparison" / "top_changed_edges.csv"));
    for (const char* f : {"edges.gpkg", "junctions.csv", "demand.trips.xml"}) EXPECT_TRUE(fs::exists(variant / f)) << f;
}

// A bicycle lane added beside Weststraße's single lane: edges.gpkg counts one lane more there
// (and nowhere else), and cars and bicycles along the street still arrive.
TEST_F(SmallTown, AddedBikeLaneKeepsCarsAndBicyclesMoving) {
    std::string csv = "id,depart,from_edge,to_edge,mode\n";
    for (int i = 0; i < 10; ++i) csv += fmt::format("car{},{},{},{},car\nbike{},{},{},{},bicycle\n", i, i * 20, west, east, i, i * 20 + 5, west, east);
    writeText(dir / "mixed.csv", csv);
    writeText(dir / "bike.yaml", scenario("    demand: {trips: mixed.csv}\n",
                                          "  - {type: bike_lane, street: Weststraße, add_lane: true}\n"));
    Scenario s = Scenario::fromYaml(dir / "bike.yaml");
    runScenario(s, RunOptions{dir / "out", 2, false, {}});
    auto lanesByEdge = [&](const char* side) {
        gis::initGdal();
        GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "out" / side / "mobility" / "edges.gpkg").c_str(), GDAL_OF_VECTOR));
        std::map<std::string, std::pair<std::string, int64_t>> out;
        if (!ds) return out;
        for (auto& f : *ds->GetLayer(0)) out[f->GetFieldAsString("edge_id")] = {f->GetFieldAsString("name"), f->GetFieldAsInteger64("lanes")};
        return out;
    };
    auto base = lanesByEdge("baseline"), variant = lanesByEdge("variant");
    ASSERT_EQ(base.size(), variant.size());
    ASSERT_FALSE(base.empty());
    for (auto& [id, b] : base) {
        int64_t extra = b.first == "Weststraße" ? 1 : 0;
        EXPECT_EQ(variant.at(id).second, b.second + extra) << id << " " << b.first;
    }
    Rows trips = readRows(dir / "out" / "variant" / "mobility" / "trips.csv");
    ASSERT_EQ(trips.rows.size(), 20u);
    for (auto& row : trips.rows) EXPECT_EQ(row.at("status"), "arrived") << row.at("id");
}

// The two Musterstadt what-ifs: their edits find their streets (the bridge by the documented
// point, Hauptstraße by name) without running anything.
TEST(MusterstadtScenarios, EditsFindTheirStreets) {
    registerMobilityModule();
    for (const char* name : {"musterstadt-bridge-closure.yaml", "musterstadt-bike-lane.yaml"}) {
        Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / name);
        s.durationS = 60; // only configure, apply the edits and start
        CityModel city = importCity(s.city, ImportOptions{{}, false});
        EXPECT_NO_THROW(SimulationSession(s, city, true, 2)) << name;
    }
}

// The bridge closure end to end, shortened to the first 20 minutes: the two edges on the
// importer's bridge-flagged main bridge (the way at the documented point) carry traffic in
// the baseline and nobody in the variant, and the comparison is written.
TEST(MusterstadtScenarios, BridgeClosureRunsAndEmptiesTheBridge) {
    registerMobilityModule();
    Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt-bridge-closure.yaml");
    s.durationS = 1200;
    TempDir dir;
    runScenario(s, RunOptions{dir / "out", 0, false, {}});
    CityModel city = importCity(s.city, ImportOptions{{}, false});
    std::set<std::string> bridgeEdges;
    Vec2 bridgePoint = city.frame.toLocal(Vec2(475452.7, 5734076.3));
    for (uint32_t e = 0; e < city.roads.edgeCount(); ++e) {
        if (!(city.roads.flags[e] & RoadNetwork::Bridge)) continue;
        auto shape = city.roads.shape(EdgeId(e));
        for (const Vec2& p : shape)
            if ((p - bridgePoint).norm() < 30) bridgeEdges.insert(std::to_string(e));
    }
    ASSERT_EQ(bridgeEdges.size(), 2u); // one per direction
    auto entered = [&](const char* side) {
        double n = 0;
        for (auto& row : readRows(dir / "out" / side / "mobility" / "edges.csv").rows)
            if (bridgeEdges.count(row.at("edge_id"))) n += num(row, "entered");
        return n;
    };
    EXPECT_GT(entered("baseline"), 0);
    EXPECT_EQ(entered("variant"), 0);
    for (const char* f : {"comparison.csv", "comparison.json", "top_changed_edges.csv"})
        EXPECT_TRUE(fs::exists(dir / "out" / "mobility_comparison" / f)) << f;
}

// The bike lane what-if end to end, shortened to 15 minutes: every Hauptstraße edge has one
// lane more in the variant (the added bicycle lane), no other edge changes, and the
// comparison is written.
TEST(MusterstadtScenarios, BikeLaneRunsAndAddsALaneOnHauptstrasse) {
    registerMobilityModule();
    Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt-bike-lane.yaml");
    s.durationS = 900;
    TempDir dir;
    runScenario(s, RunOptions{dir / "out", 0, false, {}});
    auto lanes = [&](const char* side) {
        gis::initGdal();
        std::map<std::string, std::pair<std::string, int64_t>> out;
        GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "out" / side / "mobility" / "edges.gpkg").c_str(), GDAL_OF_VECTOR));
        if (!ds) return out;
        for (auto& f : *ds->GetLayer(0)) out[f->GetFieldAsString("edge_id")] = {f->GetFieldAsString("name"), f->GetFieldAsInteger64("lanes")};
        return out;
    };
    auto base = lanes("baseline"), variant = lanes("variant");
    ASSERT_FALSE(base.empty());
    ASSERT_EQ(base.size(), variant.size());
    size_t widened = 0;
    for (auto& [id, b] : base) {
        bool main = b.first == "Hauptstraße";
        widened += main;
        EXPECT_EQ(variant.at(id).second, b.second + (main ? 1 : 0)) << id << " " << b.first;
    }
    EXPECT_GE(widened, 2u); // both directions of at least one stretch
    for (const char* f : {"comparison.csv", "comparison.json", "top_changed_edges.csv"})
        EXPECT_TRUE(fs::exists(dir / "out" / "mobility_comparison" / f)) << f;
}

// A SUMO network made by netconvert (no projection): the run writes edges.gpkg without a
// CRS in the net's own x/y, lane geometry as long as the net file says, and generated demand
// is refused for it (it needs the city's roads).
TEST(MobilitySumoNetwork, OutputsInTheNetsFrame) {
    if (std::system("netconvert --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "netconvert not installed";
    registerMobilityModule();
    TempDir dir;
    writeText(dir / "n.nod.xml", "<nodes><node id=\"a\" x=\"0\" y=\"0\"/><node id=\"b\" x=\"500\" y=\"0\"/>"
                                 "<node id=\"c\" x=\"1000\" y=\"0\"/></nodes>\n");
    writeText(dir / "e.edg.xml", "<edges><edge id=\"ab\" from=\"a\" to=\"b\" numLanes=\"1\" speed=\"13.89\"/>"
                                 "<edge id=\"bc\" from=\"b\" to=\"c\" numLanes=\"2\" speed=\"13.89\"/></edges>\n");
    ASSERT_EQ(std::system(("netconvert -n " + (dir / "n.nod.xml").string() + " -e " + (dir / "e.edg.xml").string() + " -o " +
                           (dir / "net.net.xml").string() + " > /dev/null 2>&1").c_str()),
              0);
    std::string routes = "<routes>\n";
    for (int i = 0; i < 5; ++i) routes += fmt::format("  <vehicle id=\"v{}\" depart=\"{}\"><route edges=\"ab bc\"/></vehicle>\n", i, i * 10);
    writeText(dir / "r.rou.xml", routes + "</routes>\n");
    // The length netconvert gave lane ab_0, read straight from the file.
    std::ifstream netFile(dir / "net.net.xml");
    std::string text((std::istreambuf_iterator<char>(netFile)), std::istreambuf_iterator<char>());
    size_t lane = text.find("id=\"ab_0\"");
    ASSERT_NE(lane, std::string::npos);
    size_t at = text.find("length=\"", lane) + 8;
    double abLength = std::stod(text.substr(at, text.find('"', at) - at));

    auto scenarioText = [&](const std::string& demand) {
        return "name: sumo\nseed: 1\ncity: {roads: none.geojson}\ntime: {duration: 10min}\nmodules:\n  mobility:\n"
               "    network: net.net.xml\n" + demand;
    };
    // The city is only needed for the runner; a dummy road far away.
    writeLayer(dir / "none.geojson", "GeoJSON", "roads", 25832, {{"highway"}},
               {{"LINESTRING(476000 5734000,476100 5734000)", {{"highway", "residential"}}}});
    writeText(dir / "sumo.yaml", scenarioText("    demand: {trips: r.rou.xml}\n"));
    runScenario(Scenario::fromYaml(dir / "sumo.yaml"), RunOptions{dir / "out", 1, false, {}});
    Rows trips = readRows(dir / "out" / "mobility" / "trips.csv");
    ASSERT_EQ(trips.rows.size(), 5u);
    EXPECT_EQ(trips.rows[0].at("id"), "v0");
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "out" / "mobility" / "edges.gpkg").c_str(), GDAL_OF_VECTOR));
    ASSERT_TRUE(ds);
    OGRLayer* layer = ds->GetLayer(0);
    // No georeference: a local CRS in metres (not GeoPackage's default "undefined geographic").
    ASSERT_TRUE(layer->GetSpatialRef());
    EXPECT_TRUE(layer->GetSpatialRef()->IsLocal());
    EXPECT_FALSE(layer->GetSpatialRef()->IsGeographic());
    EXPECT_EQ(layer->GetFeatureCount(), 2); // internal edges are not edges
    for (auto& f : *layer) {
        double len = f->GetGeometryRef()->toLineString()->get_Length();
        if (std::string(f->GetFieldAsString("edge_id")) == "ab") {
            EXPECT_NEAR(len, abLength, 0.5);
            EXPECT_EQ(f->GetFieldAsInteger64("lanes"), 1);
        } else {
            EXPECT_EQ(f->GetFieldAsInteger64("lanes"), 2);
        }
    }
    EXPECT_TRUE(fs::exists(dir / "out" / "mobility" / "demand.trips.xml"));

    writeText(dir / "gen.yaml", scenarioText("    demand:\n      generate: {scale: 1}\n"));
    Scenario gen = Scenario::fromYaml(dir / "gen.yaml");
    CityModel city = importCity(gen.city, ImportOptions{{}, false});
    try {
        SimulationSession session(gen, city, false, 1);
        ADD_FAILURE() << "generated demand accepted on a SUMO network";
    } catch (const InputError& e) {
        EXPECT_EQ(e.where(), (dir / "gen.yaml").string() + ":9");
        EXPECT_NE(e.problem().find("network: city"), std::string::npos) << e.what();
    }
}

// A new road beside the closed bridge: every trip takes it (its id in the route), arrives,
// and drives as far as over the bridge (both 200 m between the junction centres) but for the
// junction crossings, which the new road's links make in one step.
TEST_F(SmallTown, AddedRoadReplacesTheClosedBridge) {
    writeText(dir / "road.yaml",
              scenario("    demand: {trips: trips.csv}\n",
                       "  - {type: close_road, street: Brücke}\n"
                       "  - {type: add_road, from_junction: \"" + bridgeWest + "\", to_junction: \"" + bridgeEast +
                           "\", lanes: 1, speed_kmh: 50, id: neu}\n"));
    runScenario(Scenario::fromYaml(dir / "road.yaml"), RunOptions{dir / "road", 2, false, {}});
    Rows base = tripsOf("road", "baseline"), variant = tripsOf("road", "variant");
    ASSERT_EQ(variant.rows.size(), 20u);
    for (size_t i = 0; i < 20; ++i) {
        EXPECT_EQ(variant.rows[i].at("status"), "arrived") << variant.rows[i].at("id");
        EXPECT_NE(variant.rows[i].at("route").find("neu_fwd"), std::string::npos) << variant.rows[i].at("route");
        // The same 200 m, less the two junction radii (6 m each) the new road's links jump
        // instead of driving an internal lane; a vehicle arrives in the step it passes its
        // arrival position, so each run may overshoot it by up to one step at 50 km/h.
        EXPECT_NEAR(num(variant.rows[i], "route_length_m") - num(base.rows[i], "route_length_m"), -12, 50 / 3.6);
    }
    // Junction ids and signal programs are checked when the edit is read.
    InputError e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: add_road, from_junction: \"" + bridgeWest + "\", to_junction: nowhere}\n");
    EXPECT_EQ(e.where(), at(9));
    EXPECT_NE(e.problem().find("unknown junction 'nowhere'"), std::string::npos) << e.what();
    e = errorOf("    demand: {trips: trips.csv}\n", "  - {type: signal_timing, junction: \"" + bridgeWest + "\", cycle: 60}\n");
    EXPECT_NE(e.problem().find("has no traffic signal"), std::string::npos) << e.what();
}

// Demand edits against counts worked out by hand: scale 2 doubles every trip (copies named
// id#1); 1000 new homes with CSV demand only make 1000 × 2.0 residents × 3.1 trips × 30 min /
// 24 h = 129.17 trips (129 or 130 after the random rounding), all between the development
// and the existing trips' ends.
TEST_F(SmallTown, DemandEditsByHand) {
    writeText(dir / "scale.yaml", scenario("    demand: {trips: trips.csv}\n", "  - {type: demand, scale: 2}\n"));
    runScenario(Scenario::fromYaml(dir / "scale.yaml"), RunOptions{dir / "scale", 2, false, {}});
    Rows scaled = tripsOf("scale", "variant");
    EXPECT_EQ(scaled.rows.size(), 40u);
    size_t copies = 0;
    for (auto& row : scaled.rows) copies += row.at("id").find("#1") != std::string::npos;
    EXPECT_EQ(copies, 20u);

    writeText(dir / "homes.yaml",
              scenario("    demand: {trips: trips.csv}\n",
                       fmt::format("  - {{type: demand, homes: 1000, polygon: [[{0}, {1}], [{2}, {1}], [{2}, {3}], [{0}, {3}]]}}\n",
                                   E0 + 420, N0 + 100, E0 + 580, N0 + 250)));
    runScenario(Scenario::fromYaml(dir / "homes.yaml"), RunOptions{dir / "homes", 2, false, {}});
    Rows homes = tripsOf("homes", "variant");
    size_t added = homes.rows.size() - 20;
    EXPECT_GE(added, 129u);
    EXPECT_LE(added, 130u);
    size_t fresh = 0;
    for (auto& row : homes.rows) fresh += row.at("id").rfind("new0_", 0) == 0;
    EXPECT_EQ(fresh, added);
}

// Dynamic assignment is reproducible: two runs, on 1 and on 4 threads, write the same trips.
TEST_F(SmallTown, AssignmentIsDeterministic) {
    std::string csv = "id,depart,from_edge,to_edge\n";
    for (int i = 0; i < 120; ++i) csv += fmt::format("car{},{},{},{}\n", i, i * 2, west, east); // the bridge queues
    writeText(dir / "busy.csv", csv);
    writeText(dir / "assign.yaml", scenario("    demand: {trips: busy.csv}\n    assignment_iterations: 2\n", ""));
    auto trips = [&](const std::string& out, int threads) {
        runScenario(Scenario::fromYaml(dir / "assign.yaml"), RunOptions{dir / out, threads, false, {}});
        std::ifstream in(dir / out / "mobility" / "trips.csv");
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    std::string one = trips("a1", 1), four = trips("a4", 4);
    EXPECT_GT(one.size(), 120u * 20);
    EXPECT_EQ(one, four);
}

} // namespace

// Detector counts (calibration): GEH by the formula, and a detector on the bridge (placed by a
// point and a heading) against a counts file: the simulated counts are the 20 trips crossing
// the bridge (every trip leaves at 07:00 + 15 s·i and needs under 2 min to reach it).
TEST(MobilityCounts, GehByHand) {
    EXPECT_NEAR(geh(100, 80), std::sqrt(2.0 * 20 * 20 / 180), 1e-12);
    EXPECT_NEAR(geh(0, 50), 10.0, 1e-12);
    EXPECT_EQ(geh(0, 0), 0.0);
}

TEST_F(SmallTown, CountsComparedOnTheBridge) {
    // A counted row for a detector that cannot be placed, and a row with too few columns.
    writeText(dir / "counts.csv", "detector,begin,end,count\nbridge-east,07:00,07:10,30\nbridge-east,07:10,07:20,0\n"
                                  "nowhere,07:00,07:10,5\nbridge-east,07:00\n");
    writeText(dir / "counts.yaml",
              scenario("    demand: {trips: trips.csv}\n    edge_interval: 600\n"
                       "    counts:\n      file: counts.csv\n      detectors:\n"
                       "        - {id: bridge-east, near: [476500, 5734000], heading: 0}\n"
                       "        - {id: nowhere, edge: no-such-edge}\n",
                       ""));
    Scenario s = Scenario::fromYaml(dir / "counts.yaml");
    runScenario(s, RunOptions{dir / "out", 1, false, {}});
    Rows rows = readRows(dir / "out" / "mobility" / "counts_comparison.csv");
    ASSERT_EQ(rows.rows.size(), 2u) << "the unplaced detector and the bad row are skipped";
    // The eastbound bridge edge (heading 0° = east), not its westbound twin.
    EXPECT_EQ(rows.rows[0].at("edge_id"), bridge);
    // Simulated: the bridge's entered count in edges.csv for the same intervals.
    double enteredFirst = 0, enteredSecond = 0;
    for (auto& row : readRows(dir / "out" / "mobility" / "edges.csv").rows)
        if (row.at("edge_id") == bridge) (num(row, "interval_begin_s") < 1 ? enteredFirst : enteredSecond) += num(row, "entered");
    EXPECT_EQ(enteredFirst + enteredSecond, 20);
    EXPECT_EQ(num(rows.rows[0], "simulated"), enteredFirst);
    EXPECT_EQ(num(rows.rows[1], "simulated"), enteredSecond);
    EXPECT_NEAR(num(rows.rows[0], "geh_hourly"), geh(enteredFirst * 6, 30 * 6), 1e-6);
    EXPECT_NEAR(num(rows.rows[1], "geh_hourly"), geh(enteredSecond * 6, 0), 1e-6);
}

// The same bridge detector, fed by the traffic plugin into a sensor store instead of a counts
// file: placed from the sensor's location (gdaltransform: 476500, 5734000 in EPSG:25832 is
// 8.659531 E, 51.756402 N) and its "heading" property, hourly flows turned back into counts
// over "interval_s". The run starts 2026-03-10 07:00+01:00 = 1773122400 s UTC and lasts 30 min.
TEST_F(SmallTown, CountsFromASensorStore) {
    const double t0 = 1773122400;
    {
        feeds::SensorStore store(dir / "sensors.sqlite");
        feeds::SensorInfo det;
        det.id = "traffic:bridge-east";
        det.feed = "traffic";
        det.lon = 8.65953107274286;
        det.lat = 51.7564024405317;
        det.quantity = "traffic_count";
        det.unit = "veh/h";
        det.properties = R"({"heading": 0, "interval_s": 600})";
        store.upsertSensor(det);
        feeds::SensorInfo gauge;
        gauge.id = "gauges:river", gauge.feed = "gauges", gauge.lon = 8.66, gauge.lat = 51.75;
        gauge.quantity = "river_level";
        gauge.unit = "m";
        store.upsertSensor(gauge);
        auto obs = [](const char* sensor, double t, double v) {
            feeds::Observation o;
            o.sensor = sensor;
            o.phenomenonTime = t;
            o.value = v;
            return o;
        };
        store.insert(std::vector<feeds::Observation>{
            obs("traffic:bridge-east", t0 - 600, 50), // before the run
            obs("traffic:bridge-east", t0, 180),      // 30 vehicles in 10 min
            obs("traffic:bridge-east", t0 + 600, 0),
            obs("traffic:bridge-east", t0 + 1200, 60), // 10 vehicles
            obs("traffic:bridge-east", t0 + 1800, 90), // after the run
            obs("gauges:river", t0, 99.1)});
    }
    writeText(dir / "store.yaml", scenario("    demand: {trips: trips.csv}\n    edge_interval: 600\n"
                                           "    counts: {store: sensors.sqlite}\n",
                                           ""));
    Scenario s = Scenario::fromYaml(dir / "store.yaml");
    runScenario(s, RunOptions{dir / "out", 1, false, {}});
    Rows rows = readRows(dir / "out" / "mobility" / "counts_comparison.csv");
    ASSERT_EQ(rows.rows.size(), 3u) << "the three intervals inside the run; the river gauge is no detector";
    double entered[3] = {0, 0, 0};
    for (auto& row : readRows(dir / "out" / "mobility" / "edges.csv").rows)
        if (row.at("edge_id") == bridge) entered[std::min(2, int(num(row, "interval_begin_s") / 600))] += num(row, "entered");
    const double counted[3] = {30, 0, 10};
    for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(rows.rows[k].at("detector"), "traffic:bridge-east");
        EXPECT_EQ(rows.rows[k].at("edge_id"), bridge) << "eastbound, as the heading says";
        EXPECT_NEAR(num(rows.rows[k], "counted"), counted[k], 1e-9);
        EXPECT_EQ(num(rows.rows[k], "simulated"), entered[k]);
        EXPECT_NEAR(num(rows.rows[k], "geh_hourly"), geh(entered[k] * 6, counted[k] * 6), 5e-5) << "written with 4 decimals";
    }

    // In total: simulated / counted, the factor the demand is off by.
    std::ifstream kin(dir / "out" / "kpis.json");
    json k = json::parse(kin);
    EXPECT_NEAR(k["baseline"]["mobility"]["counts_simulated_to_counted"]["value"].get<double>(),
                (entered[0] + entered[1] + entered[2]) / 40.0, 1e-12);

    // No store there: an error that says what to run.
    writeText(dir / "nostore.yaml", scenario("    demand: {trips: trips.csv}\n    counts: {store: missing.sqlite}\n", ""));
    Scenario missing = Scenario::fromYaml(dir / "nostore.yaml");
    try {
        runScenario(missing, RunOptions{dir / "out2", 1, false, {}});
        ADD_FAILURE() << "no error for a missing store";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("citytwin feeds"), std::string::npos) << e.what();
    }
}

// Units and intervals: vehicles per period ("veh/15min") are counts as they are; an hourly
// flow without "interval_s" takes the shortest gap between observations; a detector placed by
// "edge" needs no location; other units and unplaceable sensors are skipped with a reason.
TEST(MobilityCounts, StoreUnitsAndIntervals) {
    TempDir dir;
    feeds::SensorStore store(dir / "s.sqlite");
    auto sensor = [&](const std::string& id, const std::string& unit, const std::string& props, double lon = NAN) {
        feeds::SensorInfo s;
        s.id = id, s.feed = "f", s.lon = lon, s.lat = lon;
        s.quantity = "traffic_count";
        s.unit = unit;
        s.properties = props;
        store.upsertSensor(s);
    };
    sensor("f:q", "veh/15min", R"({"edge": "e1"})");
    sensor("f:h", "veh/h", R"({"edge": "e2"})");
    sensor("f:bad-unit", "m", R"({"edge": "e3"})");
    sensor("f:nowhere", "veh/h", R"({"interval_s": 300})");
    std::vector<feeds::Observation> rows;
    for (int k = 0; k < 4; ++k) {
        feeds::Observation a, b;
        a.sensor = "f:q", a.phenomenonTime = 1000 + 900 * k, a.value = 25 + k;
        b.sensor = "f:h", b.phenomenonTime = 1000 + 300 * k * (k == 3 ? 2 : 1), b.value = 120;
        rows.push_back(a), rows.push_back(b);
    }
    store.insert(rows);
    SkipReport skipped;
    auto toNet = [](double, double) { return std::optional<Vec2>(); };
    StoreCounts c = readStoreCounts(store, {}, toNet, 0, 1e9, -1000, skipped);
    ASSERT_EQ(c.detectors.size(), 2u);
    EXPECT_EQ(c.detectors[0].edge, "e2"); // sorted by id: f:bad-unit, f:h, f:nowhere, f:q
    EXPECT_EQ(c.detectors[1].edge, "e1");
    EXPECT_EQ(skipped.count, 2u);
    ASSERT_EQ(c.counts.size(), 8u);
    // f:h: 120 veh/h over 300 s (the shortest gap) = 10 vehicles, clock = utc − 1000.
    EXPECT_EQ(c.counts[0].detector, "f:h");
    EXPECT_DOUBLE_EQ(c.counts[0].beginS, 0);
    EXPECT_DOUBLE_EQ(c.counts[0].endS, 300);
    EXPECT_DOUBLE_EQ(c.counts[0].vehicles, 10);
    // f:q: 25..28 vehicles per 15 min, as they are.
    EXPECT_EQ(c.counts[4].detector, "f:q");
    EXPECT_DOUBLE_EQ(c.counts[5].beginS, 900);
    EXPECT_DOUBLE_EQ(c.counts[5].endS, 1800);
    EXPECT_DOUBLE_EQ(c.counts[5].vehicles, 26);
    // Only the listed sensors, and a listed one that is not there is reported.
    SkipReport listed;
    EXPECT_EQ(readStoreCounts(store, {"f:q", "f:gone"}, toNet, 0, 1e9, 0, listed).detectors.size(), 1u);
    EXPECT_EQ(listed.count, 1u);
}

// The whole chain on the sample town: `citytwin feeds scenarios/musterstadt-live.yaml` replays
// the recorded series into a sensor store (3600×: 15 s of wall clock are 15 h of data from
// 2026-02-01T00:00+01:00), then a traffic run from 07:00 compares itself with the two counters
// the traffic plugin placed, and a flood run starts from the river gauge. The references are
// the rows of assets/musterstadt/sensors.csv itself, read here.
TEST(FeedsChain, MusterstadtLiveFeedsTheSimulations) {
    TempDir dir;
    const fs::path src = sourceDir();
    auto feeds = runCitytwin("feeds " + (src / "scenarios" / "musterstadt-live.yaml").string() + " --for 15s -q --out " +
                             (dir / "live").string());
    ASSERT_EQ(feeds.exitCode, 0) << feeds.out << feeds.err;
    const fs::path store = dir / "live" / "feeds" / "sensors.sqlite";

    // The recorded counts and gauge readings, by local time of the row.
    std::map<std::string, std::map<std::string, double>> recorded; // time → column → value
    {
        Rows csv = readRows(src / "assets" / "musterstadt" / "sensors.csv");
        for (auto& row : csv.rows)
            for (auto& [column, value] : row)
                if (column != "time" && !value.empty() && value != "-") recorded[row.at("time")][column] = std::stod(value);
    }

    const std::string city = fmt::format("city: {{terrain: {0}/terrain.tif, buildings: {0}/buildings.gpkg, roads: {0}/roads.gpkg, "
                                         "water: {0}/water.gpkg, landuse: {0}/landuse.gpkg}}\n",
                                         (src / "assets" / "musterstadt").string());
    writeText(dir / "traffic.yaml", "name: counts\nseed: 7\n" + city +
                                        "time: {start: 2026-02-01T07:00:00+01:00, duration: 1h}\n"
                                        "modules:\n  mobility:\n    demand: {generate: {from: \"07:00\", to: \"08:00\"}}\n"
                                        "    edge_interval: 15min\n    counts: {store: " + store.string() + "}\n");
    auto run = runCitytwin("run " + (dir / "traffic.yaml").string() + " --out " + (dir / "traffic").string());
    ASSERT_EQ(run.exitCode, 0) << run.err;
    Rows rows = readRows(dir / "traffic" / "mobility" / "counts_comparison.csv");
    ASSERT_EQ(rows.rows.size(), 8u) << "two counters × four 15-minute intervals";

    // Where the counters count: Hauptstraße running north, the Ostwall running north-east.
    Scenario s = Scenario::fromYaml(dir / "traffic.yaml");
    CityModel model = importCity(s.city, ImportOptions{{}, false});
    Network net = buildCityNetwork(model.roads);
    const std::map<std::string, std::pair<std::string, std::string>> detectors = {
        {"counters:verkehr/hauptstrasse", {"Hauptstraße", "Zaehlung-Hauptstrasse"}},
        {"counters:verkehr/ring", {"Ostwall", "Zaehlung-Ring"}}};
    for (auto& row : rows.rows) {
        auto d = detectors.find(row.at("detector"));
        ASSERT_NE(d, detectors.end()) << row.at("detector");
        const Edge& e = net.edges[*net.findEdge(row.at("edge_id"))];
        EXPECT_EQ(e.name, d->second.first);
        auto shape = net.laneShape(e.firstLane);
        Vec2 way = shape.back() - shape.front();
        EXPECT_GT(way.y(), 0) << e.name << " runs north(east)ward";
        if (e.name == "Hauptstraße") {
            EXPECT_GT(way.y(), 3 * std::abs(way.x()));
        }
        // The count of that interval in the file (15-minute counts, begin_s after 07:00).
        int minute = int(num(row, "begin_s")) / 60;
        std::string time = fmt::format("2026-02-01T07:{:02d}:00", minute);
        ASSERT_TRUE(recorded.count(time)) << time;
        EXPECT_NEAR(num(row, "counted"), recorded[time][d->second.second], 1e-9) << d->first << " at " << time;
        EXPECT_EQ(num(row, "end_s") - num(row, "begin_s"), 900);
    }

    // The flood run starts with the river at the gauge's reading at 07:00 (its zero is sea level).
    writeText(dir / "flood.yaml", "name: river\n" + city +
                                      "time: {start: 2026-02-01T07:00:00+01:00, duration: 60s}\n"
                                      "modules:\n  flood:\n    cell_size: 20\n    sensor_store: " + store.string() + "\n"
                                      "    initial_levels: [{polygon: [[475400, 5734040], [475500, 5734040], [475500, 5734110], "
                                      "[475400, 5734110]], level: {sensor: \"sensors (replay):muster/pegel-hauptbruecke\"}}]\n");
    run = runCitytwin("run " + (dir / "flood.yaml").string() + " --out " + (dir / "flood").string());
    ASSERT_EQ(run.exitCode, 0) << run.err;
    Rows used = readRows(dir / "flood" / "flood" / "sensor_inputs.csv");
    ASSERT_EQ(used.rows.size(), 1u);
    EXPECT_EQ(used.rows[0].at("time"), "2026-02-01T06:00:00.000Z");
    EXPECT_NEAR(num(used.rows[0], "value_m"), recorded["2026-02-01T07:00:00"]["Pegel-Hauptbruecke"], 1e-9);
}
