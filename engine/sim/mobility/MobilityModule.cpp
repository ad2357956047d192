#include "sim/mobility/MobilityModule.h"

#include "core/Error.h"
#include "core/Geometry.h"
#include "core/Hash.h"
#include "core/Geo.h"
#include "core/SimClock.h"
#include "feeds/SensorStore.h"
#include "gis/Writers.h"
#include "sim/YamlReader.h"
#include "sim/mobility/CityDemand.h"
#include "sim/mobility/CityNetwork.h"
#include "sim/mobility/Counts.h"
#include "sim/mobility/Outputs.h"
#include "sim/mobility/SumoXml.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>

namespace ct::mobility {

namespace fs = std::filesystem;

namespace {

constexpr double kResidentsPerHome = 2.0; // German average household size (Destatis 2022: 2.0)
constexpr double kLaneWidthM = 3.2;

// Deterministic draws keyed by (seed, key, purpose): results do not depend on order or threads.
double draw(uint64_t seed, uint64_t key, uint64_t purpose) { return keyedUniform(seed, key, purpose); }
uint64_t hashText(std::string_view s) { // FNV-1a with its standard offset basis
    return fnv1a(s.data(), s.size(), 0xcbf29ce484222325ull);
}

double distanceToPolyline(const Vec2& p, std::span<const Vec2> line) {
    if (line.empty()) return std::numeric_limits<double>::infinity();
    double best = (p - line[0]).norm();
    for (size_t i = 1; i < line.size(); ++i) {
        Vec2 d = line[i] - line[i - 1];
        double len2 = d.squaredNorm();
        double t = len2 > 0 ? std::clamp((p - line[i - 1]).dot(d) / len2, 0.0, 1.0) : 0.0;
        best = std::min(best, (p - (line[i - 1] + t * d)).norm());
    }
    return best;
}

struct GenerateSpec {
    double scale = 1, tripsPerResident = 3.1;
    std::optional<double> fromOfDayS, toOfDayS;
    YAML::Node node; // for messages
};

struct Config {
    bool cityNetwork = true;
    fs::path networkFile, sumoConfigFile;
    std::vector<GenerateSpec> generate;
    std::vector<fs::path> tripFiles;
    bool demandGiven = false;
    std::optional<CarFollowing> carFollowing;
    std::optional<double> stepS, teleportAfterS;
    int threads = 0; // 0: the run's
    int assignmentIterations = 0;
    double edgeIntervalS = 900;
    double fcdIntervalS = 0; // 0: no fcd.csv
    Co2Factors co2;
    // Detector counts to compare with (calibration, GEH): a counts CSV and where each detector
    // is, or a sensor store the traffic plugin fed (placements from the sensors' properties).
    fs::path countsFile, countsStore;
    std::vector<std::string> countsSensors; // from the store; empty: every traffic_count sensor
    struct Detector {
        std::string id, edge;
        std::optional<Vec2> worldPoint; // the city's CRS
        std::optional<double> headingDeg;
    };
    std::vector<Detector> detectors;
};

// A demand what-if, applied when the demand is built in start().
struct DemandEdit {
    double scale = 1;
    std::vector<Vec2> polygon; // network frame
    double homes = 0;
    std::string where;
};

struct FcdRecord {
    double timeS;
    uint32_t trip;
    float x, y, speedMps; // network frame; written with the world offset
};

class MobilityModule : public SimulationModule {
public:
    void configure(const YAML::Node& block, const std::string& where, const CityModel& city) override;
    bool handlesEdit(const std::string& type) const override {
        return type == "close_road" || type == "set_speed" || type == "set_lanes" || type == "bike_lane" ||
               type == "signal_timing" || type == "add_road" || type == "demand";
    }
    void applyEdit(const Edit& edit) override;
    void start(const RunContext& context) override;
    void advance(double timeS) override;
    std::shared_ptr<const Snapshot> snapshot() const override;
    void writeOutputs(const fs::path& dir) override;
    Kpis kpis() const override;
    std::string status() const override;

private:
    void readConfig(const YAML::Node& b, const YamlReader& y);
    void readCounts(const YAML::Node& c, const YamlReader& y);
    void writeCountComparison(const fs::path& dir);
    void buildNetwork();
    std::vector<uint32_t> selectEdges(const YAML::Node& e, const YamlReader& y) const;
    uint32_t findJunction(const YAML::Node& n, const YamlReader& y, const std::string& key) const;
    void keepTurnsReachable(uint32_t edge, const std::vector<ClassMask>& allowBefore);
    void addBikeLanes(const std::vector<uint32_t>& edges);
    void addRoad(const YAML::Node& e, const YamlReader& y);
    void retimeSignal(const YAML::Node& e, const YamlReader& y);
    Demand buildDemand();
    void addHomes(Demand& demand, const DemandEdit& edit, double windowShare, double tripsPerResident, size_t editIndex);
    SimulationOptions simulationOptions() const;
    void recordFcd();

    const CityModel* city = nullptr;
    std::string where;
    Config cfg;

    Network net;
    WorldFrame world;
    SumoConfig sumo;       // when sumo_config is given
    double beginS = 0;     // simulation clock at the scenario start
    std::vector<DemandEdit> demandEdits;
    size_t addedRoads = 0;

    // Set up by start().
    bool started = false;
    uint64_t seed = 1;
    double durationS = 0, startOfDayS = 0;
    double startUtc = 0; // the scenario start, s since 1970
    int threads = 1;
    Demand demand;         // as configured plus demand edits (written as demand.trips.xml)
    Demand runDemand;      // the same trips, routes fixed by the assignment where it chose so
    std::unique_ptr<Simulation> sim;
    std::vector<FcdRecord> fcd;
    double nextFcdS = 0;
    double countsGehShare = std::numeric_limits<double>::quiet_NaN(); // set by writeOutputs
    double countsRatio = std::numeric_limits<double>::quiet_NaN();    // simulated / counted, all rows
};

void MobilityModule::configure(const YAML::Node& block, const std::string& whereIn, const CityModel& cityIn) {
    city = &cityIn;
    where = whereIn;
    std::string file = where.substr(0, where.rfind(':'));
    YamlReader y(file, fs::path(file).parent_path(), where); // paths relative to the scenario
    YAML::Node b = block.IsNull() ? YAML::Node(YAML::NodeType::Map) : block;
    readConfig(b, y);
    buildNetwork();
}

// counts: {file: counts.csv, detectors: [{id, edge: ID} | {id, near: [x, y], heading: deg}]}
//     or {store: sensors.sqlite, sensors: [ids], detectors: [...]}: the detectors' placement
//     from the store's properties unless listed under detectors.
void MobilityModule::readCounts(const YAML::Node& c, const YamlReader& y) {
    y.checkKeys(c, "counts", {"file", "detectors", "store", "sensors"});
    if (bool(c["file"]) == bool(c["store"]))
        y.fail(c, "counts needs either 'file' (detector,begin,end,count) or 'store' (a sensor store, docs/plugins.md)");
    if (c["file"] && (!c["detectors"] || !c["detectors"].IsSequence()))
        y.fail(c, "counts from a file need a list of 'detectors'");
    if (c["file"]) cfg.countsFile = y.path(c["file"], "counts.file");
    if (c["store"]) {
        cfg.countsStore = y.path(c["store"], "counts.store", false); // `citytwin feeds` may write it later
        if (!fs::exists(cfg.countsStore))
            y.fail(c["store"], "no sensor store at " + cfg.countsStore.string(),
                   "run `citytwin feeds SCENARIO` first (it writes DIR/feeds/sensors.sqlite)");
        if (auto list = c["sensors"]) {
            if (!list.IsSequence()) y.fail(list, "'sensors' is a list of sensor ids of the store");
            for (const auto& id : list) cfg.countsSensors.push_back(y.str(id, "sensor"));
        }
    } else if (c["sensors"]) {
        y.fail(c["sensors"], "'sensors' goes with 'store'");
    }
    for (const auto& d : c["detectors"]) {
        y.checkKeys(d, "detector", {"id", "edge", "near", "heading"});
        Config::Detector det;
        if (!d["id"]) y.fail(d, "a detector needs an 'id' (as in the counts file)");
        det.id = y.str(d["id"], "id");
        if (bool(d["edge"]) == bool(d["near"])) y.fail(d, "give a detector either 'edge' or 'near' ([x, y] in the city's CRS)");
        if (d["edge"]) det.edge = y.str(d["edge"], "edge");
        if (d["near"]) det.worldPoint = y.point(d["near"], "near");
        if (d["heading"]) det.headingDeg = y.number(d["heading"], "heading");
        cfg.detectors.push_back(det);
    }
}

void MobilityModule::readConfig(const YAML::Node& b, const YamlReader& y) {
    y.checkKeys(b, "mobility", {"network", "sumo_config", "demand", "car_following", "step", "threads", "assignment_iterations",
                                "teleport_after", "edge_interval", "fcd", "co2", "counts"});
    if (auto c = b["counts"]) readCounts(c, y);
    if (b["network"] && b["sumo_config"])
        y.fail(b["sumo_config"], "give either 'network' or 'sumo_config'", "a .sumocfg names its network itself");
    if (auto n = b["network"]) {
        std::string v = y.str(n, "network");
        if (v != "city") {
            cfg.cityNetwork = false;
            cfg.networkFile = y.path(n, "network");
        }
    }
    if (auto c = b["sumo_config"]) {
        cfg.cityNetwork = false;
        cfg.sumoConfigFile = y.path(c, "sumo_config");
    }
    if (auto d = b["demand"]) {
        cfg.demandGiven = true;
        auto item = [&](const YAML::Node& m) {
            y.checkKeys(m, "demand", {"generate", "trips"});
            if (auto g = m["generate"]) {
                GenerateSpec s;
                s.node = g;
                if (!g.IsNull() && !(g.IsScalar() && g.Scalar() == "true")) {
                    y.checkKeys(g, "demand.generate", {"scale", "trips_per_resident", "from", "to"});
                    if (g["scale"]) s.scale = y.number(g["scale"], "generate.scale");
                    if (!(s.scale > 0) || s.scale > 100) y.fail(g["scale"], "generate.scale must be in (0, 100]");
                    if (g["trips_per_resident"]) s.tripsPerResident = y.number(g["trips_per_resident"], "generate.trips_per_resident");
                    if (!(s.tripsPerResident > 0) || s.tripsPerResident > 20)
                        y.fail(g["trips_per_resident"], "generate.trips_per_resident must be in (0, 20]", "MiD 2017: 3.1");
                    for (const char* key : {"from", "to"})
                        if (auto t = g[key]) {
                            auto v = parseClockSeconds(y.str(t, std::string("generate.") + key));
                            if (!v) y.fail(t, fmt::format("generate.{} '{}' is not a time of day", key, t.Scalar()), "HH:MM, e.g. 06:00");
                            (std::string(key) == "from" ? s.fromOfDayS : s.toOfDayS) = *v;
                        }
                    if (s.fromOfDayS && s.toOfDayS && *s.toOfDayS <= *s.fromOfDayS)
                        y.fail(g["to"], "generate.to must be after generate.from");
                }
                if (!cfg.sumoConfigFile.empty() || !cfg.networkFile.empty())
                    y.fail(g, "demand generated from the city needs network: city",
                           "a SUMO network's edges are not the city's; give trips: files instead");
                cfg.generate.push_back(s);
            }
            if (auto t = m["trips"]) {
                if (t.IsSequence())
                    for (auto f : t) cfg.tripFiles.push_back(y.path(f, "demand.trips"));
                else cfg.tripFiles.push_back(y.path(t, "demand.trips"));
            }
        };
        if (d.IsSequence())
            for (auto m : d) item(m);
        else item(d);
    }
    if (cfg.cityNetwork && !cfg.demandGiven) cfg.generate.push_back({}); // the town's own trips by default
    if (!cfg.cityNetwork && cfg.sumoConfigFile.empty() && cfg.tripFiles.empty())
        y.fail(b["network"], "a SUMO network needs demand", "add demand: {trips: file.rou.xml}");
    if (auto c = b["car_following"]) {
        std::string v = y.str(c, "car_following");
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
        if (v == "krauss") cfg.carFollowing = CarFollowing::Krauss;
        else if (v == "idm") cfg.carFollowing = CarFollowing::IDM;
        else y.fail(c, fmt::format("unknown car_following '{}'", c.Scalar()), "use krauss or idm");
    }
    if (auto s = b["step"]) {
        cfg.stepS = y.number(s, "step");
        if (!(*cfg.stepS > 0) || *cfg.stepS > 5) y.fail(s, "step must be in (0, 5] seconds", "SUMO's default is 1");
    }
    if (auto t = b["threads"]) {
        double v = y.number(t, "threads");
        if (v < 1 || v != std::floor(v)) y.fail(t, "threads must be a whole number ≥ 1");
        cfg.threads = int(v);
    }
    if (auto a = b["assignment_iterations"]) {
        double v = y.number(a, "assignment_iterations");
        if (v < 0 || v > 5 || v != std::floor(v)) y.fail(a, "assignment_iterations must be a whole number 0–5");
        cfg.assignmentIterations = int(v);
    }
    // A number of seconds (0 or less: never) or a duration such as 5min.
    auto seconds = [&](const YAML::Node& n, const std::string& key) {
        if (n.IsScalar()) try {
                return n.as<double>();
            } catch (const YAML::Exception&) {
            }
        return y.duration(n, key);
    };
    if (auto t = b["teleport_after"]) cfg.teleportAfterS = seconds(t, "teleport_after");
    if (auto e = b["edge_interval"]) {
        cfg.edgeIntervalS = seconds(e, "edge_interval");
        if (!(cfg.edgeIntervalS >= 1)) y.fail(e, "edge_interval must be at least 1 s", "e.g. 900 or 15min");
    }
    if (auto f = b["fcd"]) {
        y.checkKeys(f, "fcd", {"interval"});
        cfg.fcdIntervalS = f["interval"] ? seconds(f["interval"], "fcd.interval") : 10;
        if (!(cfg.fcdIntervalS >= 0.1)) y.fail(f, "fcd.interval must be at least 0.1 s");
    }
    if (auto c = b["co2"]) {
        y.checkKeys(c, "co2", {"car_g_km", "truck_g_km", "bus_g_km"});
        if (c["car_g_km"]) cfg.co2.carGPerKm = y.number(c["car_g_km"], "co2.car_g_km");
        if (c["truck_g_km"]) cfg.co2.truckGPerKm = y.number(c["truck_g_km"], "co2.truck_g_km");
        if (c["bus_g_km"]) cfg.co2.busGPerKm = y.number(c["bus_g_km"], "co2.bus_g_km");
        if (cfg.co2.carGPerKm < 0 || cfg.co2.truckGPerKm < 0 || cfg.co2.busGPerKm < 0) y.fail(c, "co2 factors must not be negative");
    }
}

void MobilityModule::buildNetwork() {
    if (cfg.cityNetwork) {
        if (city->roads.edgeCount() == 0)
            throw InputError("the city has no roads to drive on", where, "add roads: under city:, or give network: file.net.xml");
        net = buildCityNetwork(city->roads);
        world = {city->frame.crs, city->frame.origin};
    } else {
        fs::path netFile = cfg.networkFile;
        if (!cfg.sumoConfigFile.empty()) {
            sumo = readSumoConfig(cfg.sumoConfigFile);
            netFile = sumo.netFile;
            beginS = sumo.beginS;
        }
        SumoNetInfo info;
        net = readSumoNet(netFile, &info);
        if (info.skipped.count)
            spdlog::info("mobility: {} elements of {} skipped (first: {})", info.skipped.count, netFile.string(),
                         info.skipped.reasons.empty() ? "" : info.skipped.reasons.front());
        // SUMO x/y = projected + netOffset; with no projection the net's own x/y are written.
        world = {};
        if (!info.projection.empty() && info.projection != "!") {
            try {
                world.crs = Crs::fromUserString(info.projection);
                world.offset = -info.netOffset;
            } catch (const InputError& e) {
                spdlog::warn("mobility: {}: projection not understood ({}); outputs are in the net's x/y", netFile.string(),
                             e.what());
            }
        }
    }
    if (net.edges.empty())
        throw InputError("the traffic network has no edges", where, "check the roads (footways and paths are left out)");
}

std::vector<uint32_t> MobilityModule::selectEdges(const YAML::Node& e, const YamlReader& y) const {
    int given = int(bool(e["edges"])) + int(bool(e["street"])) + int(bool(e["near"]));
    if (given != 1)
        y.fail(e, "say which edges: exactly one of 'edges' ([id, ...]), 'street' (a name) or 'near' ([x, y], with 'radius')");
    std::vector<uint32_t> out;
    if (auto list = e["edges"]) {
        auto one = [&](const YAML::Node& n) {
            std::string id = y.str(n, "edges");
            auto found = net.findEdge(id);
            if (!found)
                y.fail(n, fmt::format("unknown edge '{}'", id),
                       cfg.cityNetwork ? "city edge ids are the road graph's edge numbers: see edge_id in a run's edges.gpkg"
                                       : "use the edge ids of the .net.xml");
            out.push_back(*found);
        };
        if (list.IsSequence()) {
            if (list.size() == 0) y.fail(list, "'edges' is empty");
            for (auto n : list) one(n);
        } else one(list);
    } else if (auto s = e["street"]) {
        std::string name = y.str(s, "street");
        for (uint32_t i = 0; i < net.edges.size(); ++i)
            if (net.edges[i].name == name) out.push_back(i);
        if (out.empty()) y.fail(s, fmt::format("no edge of the network is named '{}'", name), "street names as in the roads' name attribute");
    } else {
        Vec2 p = y.point(e["near"], "near") - world.offset;
        double radius = 15;
        if (e["radius"]) radius = y.number(e["radius"], "radius");
        if (!(radius > 0)) y.fail(e["radius"], "radius must be positive (metres)");
        double nearest = std::numeric_limits<double>::infinity();
        for (uint32_t i = 0; i < net.edges.size(); ++i) {
            const Edge& edge = net.edges[i];
            double d = std::numeric_limits<double>::infinity();
            for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l)
                d = std::min(d, distanceToPolyline(p, net.laneShape(l)));
            nearest = std::min(nearest, d);
            if (d <= radius) out.push_back(i);
        }
        if (out.empty())
            y.fail(e["near"], fmt::format("no edge within {} m of the point", radius),
                   std::isfinite(nearest) ? fmt::format("the nearest is {:.0f} m away; coordinates are in the city's CRS", nearest)
                                          : "the network has no edges");
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

uint32_t MobilityModule::findJunction(const YAML::Node& n, const YamlReader& y, const std::string& key) const {
    std::string id = y.str(n, key);
    for (uint32_t j = 0; j < net.junctions.size(); ++j)
        if (net.junctions[j].id == id) return j;
    y.fail(n, fmt::format("unknown junction '{}'", id), "junction ids are in a run's junctions.csv");
}

// After lanes lost classes (set_lanes, bike_lane): every turn a class could make from the edge
// must still start on a lane that class may use, else vehicles would reach the junction with
// no way on. A missing turn is copied onto the nearest lane still open to the class (no
// internal lane: it crosses in one step, with the original link's right of way).
void MobilityModule::keepTurnsReachable(uint32_t e, const std::vector<ClassMask>& allowBefore) {
    const Edge& edge = net.edges[e];
    std::vector<Connection> added;
    for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l) {
        ClassMask lost = ClassMask(allowBefore[l - edge.firstLane] & ~net.lanes[l].allow);
        if (!lost) continue;
        for (const Connection& c : net.outgoing(l)) {
            uint32_t target = net.lanes[c.toLane].edge;
            for (unsigned k = 0; k < unsigned(VClass::Count); ++k) {
                ClassMask bit = ClassMask(1u << k);
                if (!(lost & bit) || !(net.lanes[c.toLane].allow & bit)) continue;
                bool reachable = false;
                for (uint32_t m = edge.firstLane; m < edge.firstLane + edge.laneCount && !reachable; ++m)
                    if (net.lanes[m].allow & bit)
                        for (const Connection& o : net.outgoing(m)) reachable = reachable || net.lanes[o.toLane].edge == target;
                for (const Connection& a : added)
                    reachable = reachable || (net.lanes[a.fromLane].allow & bit && net.lanes[a.toLane].edge == target);
                if (reachable) continue;
                uint32_t best = kNone;
                for (uint32_t m = edge.firstLane; m < edge.firstLane + edge.laneCount; ++m)
                    if ((net.lanes[m].allow & bit) &&
                        (best == kNone || std::abs(int(m) - int(l)) < std::abs(int(best) - int(l))))
                        best = m;
                if (best == kNone) continue; // the class may not drive this edge at all any more
                Connection copy = c;
                copy.fromLane = best;
                copy.viaLane = kNone;
                added.push_back(copy);
            }
        }
    }
    if (added.empty()) return;
    net.connections.insert(net.connections.end(), added.begin(), added.end());
    net.finalize("the what-if edits");
}

// A new bicycle-only lane to the right of each edge (space taken from parking or the verge);
// the existing lanes keep their turns but no longer carry bicycles. The lane array is rebuilt
// with the new lane in front of each edge's lanes (edges keep contiguous lanes, rightmost
// first). Bicycles reach the new lane from every lane that fed the edge and leave it towards
// every edge the edge led to (copies of the existing links, crossing in one step).
void MobilityModule::addBikeLanes(const std::vector<uint32_t>& edges) {
    const ClassMask bike = classBit(VClass::Bicycle);
    std::map<uint32_t, uint32_t> bikeEdgeAt; // old first lane → edge
    for (uint32_t e : edges)
        if (net.edges[e].laneCount < 254) bikeEdgeAt[net.edges[e].firstLane] = e;
    std::vector<Lane> lanes;
    std::vector<uint32_t> remap(net.lanes.size());
    std::map<uint32_t, uint32_t> bikeLaneOf; // edge → its new bicycle lane
    for (uint32_t l = 0; l < net.lanes.size(); ++l) {
        auto it = bikeEdgeAt.find(l);
        if (it != bikeEdgeAt.end()) {
            // The new lane's centre line: lane 0's, shifted right by half a car lane plus 1 m.
            auto shape = net.laneShape(l);
            std::vector<Vec2> shifted(shape.begin(), shape.end());
            for (size_t i = 0; i < shape.size() && shape.size() > 1; ++i) {
                Vec2 d = shape[std::min(i + 1, shape.size() - 1)] - shape[i > 0 ? i - 1 : 0];
                if (d.norm() > 0) shifted[i] = shape[i] + Vec2(d.y(), -d.x()) / d.norm() * (kLaneWidthM / 2 + 1.0);
            }
            Lane lane = net.lanes[l];
            lane.index = 0;
            lane.allow = bike;
            lane.connection = kNone;
            lane.shapeStart = uint32_t(net.shapePoints.size());
            net.shapePoints.insert(net.shapePoints.end(), shifted.begin(), shifted.end());
            lane.shapeEnd = uint32_t(net.shapePoints.size());
            bikeLaneOf[it->second] = uint32_t(lanes.size());
            lanes.push_back(lane);
        }
        remap[l] = uint32_t(lanes.size());
        Lane lane = net.lanes[l];
        if (lane.edge != kNone && bikeLaneOf.count(lane.edge)) {
            lane.index = uint8_t(lane.index + 1);
            if (lane.allow & ~bike) lane.allow = ClassMask(lane.allow & ~bike); // a bicycle-only lane stays one
        }
        lanes.push_back(lane);
    }
    net.lanes = std::move(lanes);
    for (uint32_t e = 0; e < net.edges.size(); ++e) {
        Edge& ed = net.edges[e];
        auto it = bikeLaneOf.find(e);
        if (it != bikeLaneOf.end()) ed.firstLane = it->second, ed.laneCount = uint8_t(ed.laneCount + 1);
        else ed.firstLane = remap[ed.firstLane];
    }
    for (Connection& c : net.connections) {
        c.fromLane = remap[c.fromLane], c.toLane = remap[c.toLane];
        if (c.viaLane != kNone) c.viaLane = remap[c.viaLane];
    }
    std::vector<Connection> added;
    std::set<std::pair<uint32_t, uint32_t>> linked; // (from lane, to edge) already given to bicycles
    for (const auto& [e, bikeLane] : bikeLaneOf) {
        // Out of the bicycle lane: one link per edge the old lanes led to, lowest lane's first.
        std::set<uint32_t> targets;
        for (const Connection& c : net.connections) {
            const Lane& from = net.lanes[c.fromLane];
            if (from.edge != e || c.fromLane == bikeLane) continue;
            uint32_t target = net.lanes[c.toLane].edge;
            if (!targets.insert(target).second) continue;
            Connection copy = c;
            copy.fromLane = bikeLane, copy.viaLane = kNone;
            auto bt = bikeLaneOf.find(target);
            if (bt != bikeLaneOf.end()) copy.toLane = bt->second;
            else if (!(net.lanes[c.toLane].allow & bike)) {
                uint32_t alt = kNone;
                const Edge& te = net.edges[target];
                for (uint32_t l = te.firstLane; l < te.firstLane + te.laneCount && alt == kNone; ++l)
                    if (net.lanes[l].allow & bike) alt = l;
                if (alt == kNone) continue;
                copy.toLane = alt;
            }
            if (linked.insert({copy.fromLane, target}).second) added.push_back(copy);
        }
        // Into it: from every lane that allows bicycles and fed this edge (lanes with their own
        // new bicycle lane are linked above).
        for (const Connection& c : net.connections) {
            if (net.lanes[c.toLane].edge != e || !(net.lanes[c.fromLane].allow & bike)) continue;
            if (bikeLaneOf.count(net.lanes[c.fromLane].edge)) continue;
            Connection copy = c;
            copy.toLane = bikeLane, copy.viaLane = kNone;
            if (linked.insert({copy.fromLane, e}).second) added.push_back(copy);
        }
    }
    net.connections.insert(net.connections.end(), added.begin(), added.end());
    net.finalize("bike_lane");
}

void MobilityModule::addRoad(const YAML::Node& e, const YamlReader& y) {
    uint32_t from = findJunction(e["from_junction"], y, "from_junction"), to = findJunction(e["to_junction"], y, "to_junction");
    if (from == to) y.fail(e["to_junction"], "add_road needs two different junctions");
    int lanes = 1;
    if (e["lanes"]) {
        double v = y.number(e["lanes"], "lanes");
        if (v < 1 || v > 8 || v != std::floor(v)) y.fail(e["lanes"], "lanes must be a whole number 1–8");
        lanes = int(v);
    }
    double speedKmh = e["speed_kmh"] ? y.number(e["speed_kmh"], "speed_kmh") : 50;
    if (!(speedKmh >= 5) || speedKmh > 200) y.fail(e["speed_kmh"], "speed_kmh must be in [5, 200]");
    bool twoWay = true;
    if (e["two_way"]) {
        try {
            twoWay = e["two_way"].as<bool>();
        } catch (const YAML::Exception&) {
            y.fail(e["two_way"], "two_way must be true or false");
        }
    }
    std::string baseId = e["id"] ? y.str(e["id"], "id") : fmt::format("added_{}", addedRoads);
    std::string name = e["road_name"] ? y.str(e["road_name"], "road_name") : "";
    ++addedRoads;

    const size_t oldConnections = net.connections.size();
    auto addEdge = [&](uint32_t a, uint32_t b, const std::string& id) {
        if (net.findEdge(id)) y.fail(e, fmt::format("an edge '{}' exists already", id), "give the new road another id");
        Vec2 pa = net.junctions[a].pos, pb = net.junctions[b].pos;
        Vec2 dir = pb - pa;
        double len = dir.norm();
        if (len < 1) y.fail(e, "the two junctions are less than 1 m apart");
        Vec2 right(dir.y() / len, -dir.x() / len);
        Edge edge;
        edge.id = id;
        edge.name = name;
        edge.fromJunction = a, edge.toJunction = b;
        edge.firstLane = uint32_t(net.lanes.size());
        edge.laneCount = uint8_t(lanes);
        edge.lengthM = float(len);
        edge.speedMps = float(speedKmh / 3.6);
        uint32_t index = uint32_t(net.edges.size());
        for (int i = 0; i < lanes; ++i) {
            Lane lane;
            lane.edge = index;
            lane.index = uint8_t(i);
            lane.lengthM = edge.lengthM, lane.speedMps = edge.speedMps;
            Vec2 offset = right * (kLaneWidthM * (lanes - i - 0.5)); // lane 0 rightmost
            lane.shapeStart = uint32_t(net.shapePoints.size());
            net.shapePoints.push_back(pa + offset);
            net.shapePoints.push_back(pb + offset);
            lane.shapeEnd = uint32_t(net.shapePoints.size());
            net.lanes.push_back(lane);
        }
        net.edges.push_back(edge);
        return index;
    };
    uint32_t forward = addEdge(from, to, twoWay ? baseId + "_fwd" : baseId);
    uint32_t backward = twoWay ? addEdge(to, from, baseId + "_bwd") : kNone;
    // The new links yield to every link already at their junction (a new side road joins as
    // the minor road).
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> yieldList;
    auto yieldsAt = [&](uint32_t junction) {
        auto it = yieldList.find(junction);
        if (it != yieldList.end()) return it->second;
        uint32_t start = uint32_t(net.linkRefs.size());
        for (uint32_t c = 0; c < oldConnections; ++c)
            if (net.connections[c].junction == junction) net.linkRefs.push_back(c);
        return yieldList[junction] = {start, uint32_t(net.linkRefs.size())};
    };
    auto connect = [&](uint32_t fromLane, uint32_t toLane, uint32_t junction) {
        Connection c;
        c.fromLane = fromLane, c.toLane = toLane, c.junction = junction;
        auto [s, t] = yieldsAt(junction);
        c.major = s == t;
        c.yieldStart = c.foeStart = s;
        c.yieldEnd = c.foeEnd = t;
        net.connections.push_back(c);
    };
    auto link = [&](uint32_t added, uint32_t other) {
        const Edge nw = net.edges[added];
        for (uint32_t e2 = 0; e2 < net.edges.size(); ++e2) {
            if (e2 == added || e2 == other) continue;
            const Edge& ex = net.edges[e2];
            if (ex.toJunction == nw.fromJunction) // into the new road
                for (uint32_t l = ex.firstLane; l < ex.firstLane + ex.laneCount; ++l)
                    connect(l, nw.firstLane + std::min<uint32_t>(net.lanes[l].index, nw.laneCount - 1u), nw.fromJunction);
            if (ex.fromJunction == nw.toJunction) // out of it
                for (uint32_t i = 0; i < nw.laneCount; ++i)
                    connect(nw.firstLane + i, ex.firstLane + std::min<uint32_t>(i, ex.laneCount - 1u), nw.toJunction);
        }
    };
    link(forward, backward);
    if (backward != kNone) link(backward, forward);
    net.finalize("add_road");
}

void MobilityModule::retimeSignal(const YAML::Node& e, const YamlReader& y) {
    uint32_t j = findJunction(e["junction"], y, "junction");
    if (net.junctions[j].signal == kNone)
        y.fail(e["junction"], fmt::format("junction '{}' has no traffic signal", net.junctions[j].id));
    SignalProgram& program = net.signals[net.junctions[j].signal];
    if (bool(e["phases"]) == bool(e["cycle"])) y.fail(e, "give either 'phases' (durations) or 'cycle' (with 'green_split')");
    if (auto p = e["phases"]) {
        if (!p.IsSequence() || p.size() != program.phases.size())
            y.fail(p, fmt::format("'phases' must list {} durations, one per phase of the program", program.phases.size()));
        for (size_t i = 0; i < p.size(); ++i) {
            double d = y.number(p[i], "phases");
            if (!(d > 0) || d > 600) y.fail(p[i], "phase durations must be in (0, 600] seconds");
            program.phases[i].durationS = float(d);
        }
        return;
    }
    // Yellow and all-red phases keep their length; the green phases share the rest.
    double cycle = y.number(e["cycle"], "cycle");
    std::vector<size_t> green;
    double fixed = 0;
    for (size_t i = 0; i < program.phases.size(); ++i) {
        const std::string& s = program.phases[i].state;
        bool isGreen = s.find_first_of("Gg") != std::string::npos && s.find_first_of("yY") == std::string::npos;
        if (isGreen) green.push_back(i);
        else fixed += program.phases[i].durationS;
    }
    if (green.empty()) y.fail(e["junction"], "the signal program has no green phase");
    if (!(cycle > fixed + green.size()) || cycle > 600)
        y.fail(e["cycle"], fmt::format("cycle must be longer than the {:.0f} s of yellow and red phases plus 1 s per green, and at most 600 s", fixed));
    std::vector<double> split;
    if (auto g = e["green_split"]) {
        if (!g.IsSequence() || g.size() != green.size())
            y.fail(g, fmt::format("'green_split' must list {} shares, one per green phase", green.size()));
        for (auto v : g) {
            double s = y.number(v, "green_split");
            if (!(s > 0)) y.fail(v, "green shares must be positive");
            split.push_back(s);
        }
    } else {
        for (size_t i : green) split.push_back(program.phases[i].durationS); // keep the proportions
    }
    double sum = 0;
    for (double s : split) sum += s;
    for (size_t k = 0; k < green.size(); ++k) program.phases[green[k]].durationS = float((cycle - fixed) * split[k] / sum);
}

void MobilityModule::applyEdit(const Edit& edit) {
    std::string file = edit.where.substr(0, edit.where.rfind(':'));
    YamlReader y(file, fs::path(file).parent_path(), edit.where);
    const YAML::Node& e = edit.spec;
    const std::string& type = edit.type;
    if (started && type != "close_road" && type != "set_speed")
        y.fail(e, fmt::format("'{}' can only be applied before the run", type), "during a run: close_road and set_speed");
    const std::set<std::string> selector = {"type", "name", "edges", "street", "near", "radius"};
    auto keys = [&](std::set<std::string> extra) {
        extra.insert(selector.begin(), selector.end());
        y.checkKeys(e, type, extra);
    };
    if (type == "close_road") {
        keys({});
        for (uint32_t edge : selectEdges(e, y)) {
            const Edge& ed = net.edges[edge];
            for (uint32_t l = ed.firstLane; l < ed.firstLane + ed.laneCount; ++l) net.lanes[l].allow = 0;
        }
    } else if (type == "set_speed") {
        keys({"kmh"});
        if (!e["kmh"]) y.fail(e, "set_speed needs 'kmh'");
        double kmh = y.number(e["kmh"], "kmh");
        if (!(kmh >= 5) || kmh > 200) y.fail(e["kmh"], "kmh must be in [5, 200]", "to close a road use close_road");
        for (uint32_t edge : selectEdges(e, y)) {
            Edge& ed = net.edges[edge];
            ed.speedMps = float(kmh / 3.6);
            for (uint32_t l = ed.firstLane; l < ed.firstLane + ed.laneCount; ++l) net.lanes[l].speedMps = ed.speedMps;
        }
    } else if (type == "set_lanes") {
        keys({"lanes"});
        if (!e["lanes"]) y.fail(e, "set_lanes needs 'lanes'");
        double v = y.number(e["lanes"], "lanes");
        if (v < 1 || v != std::floor(v)) y.fail(e["lanes"], "lanes must be a whole number ≥ 1", "to close a road use close_road");
        for (uint32_t edge : selectEdges(e, y)) {
            const Edge& ed = net.edges[edge];
            if (v > ed.laneCount)
                y.fail(e["lanes"], fmt::format("edge '{}' has {} lane(s); the network cannot grow lanes", ed.id, int(ed.laneCount)),
                       "use add_road for new capacity");
            std::vector<ClassMask> before;
            for (uint32_t l = ed.firstLane; l < ed.firstLane + ed.laneCount; ++l) before.push_back(net.lanes[l].allow);
            for (uint32_t l = ed.firstLane + uint32_t(v); l < ed.firstLane + ed.laneCount; ++l) net.lanes[l].allow = 0;
            keepTurnsReachable(edge, before);
        }
    } else if (type == "bike_lane") {
        keys({"add_lane"});
        bool addLane = false;
        if (e["add_lane"]) {
            try {
                addLane = e["add_lane"].as<bool>();
            } catch (const YAML::Exception&) {
                y.fail(e["add_lane"], "add_lane must be true or false");
            }
        }
        std::vector<uint32_t> edges = selectEdges(e, y);
        if (addLane) {
            addBikeLanes(edges);
            return;
        }
        for (uint32_t edge : edges) {
            const Edge& ed = net.edges[edge];
            if (ed.laneCount < 2)
                y.fail(e, fmt::format("edge '{}' has one lane: a bike lane would close it to cars", ed.id),
                       "use close_road or set_lanes, or add_lane: true for a new bicycle lane beside it");
            std::vector<ClassMask> before;
            for (uint32_t l = ed.firstLane; l < ed.firstLane + ed.laneCount; ++l) before.push_back(net.lanes[l].allow);
            net.lanes[ed.firstLane].allow = classBit(VClass::Bicycle);
            keepTurnsReachable(edge, before);
        }
    } else if (type == "signal_timing") {
        y.checkKeys(e, type, {"type", "name", "junction", "cycle", "green_split", "phases"});
        if (!e["junction"]) y.fail(e, "signal_timing needs 'junction'");
        retimeSignal(e, y);
    } else if (type == "add_road") {
        y.checkKeys(e, type, {"type", "name", "from_junction", "to_junction", "lanes", "speed_kmh", "two_way", "id", "road_name"});
        if (!e["from_junction"] || !e["to_junction"]) y.fail(e, "add_road needs 'from_junction' and 'to_junction'");
        addRoad(e, y);
    } else if (type == "demand") {
        y.checkKeys(e, type, {"type", "name", "scale", "polygon", "homes"});
        DemandEdit d;
        d.where = edit.where;
        if (bool(e["scale"]) == bool(e["polygon"]))
            y.fail(e, "give either 'scale' or 'polygon' with 'homes'", "e.g. {type: demand, scale: 1.1}");
        if (e["scale"]) {
            d.scale = y.number(e["scale"], "scale");
            if (!(d.scale >= 0) || d.scale > 10) y.fail(e["scale"], "scale must be in [0, 10]");
        } else {
            for (const Vec2& p : y.points(e["polygon"], "polygon", 3)) d.polygon.push_back(p - world.offset);
            if (!e["homes"]) y.fail(e, "a new development needs 'homes' (dwellings)");
            d.homes = y.number(e["homes"], "homes");
            if (!(d.homes > 0) || d.homes > 1e6) y.fail(e["homes"], "homes must be in (0, 1e6]");
        }
        demandEdits.push_back(std::move(d));
    }
}

// Appends `from` to `into`, vehicle types matched by id.
void mergeDemand(Demand& into, Demand&& from) {
    std::vector<uint32_t> typeMap;
    for (const VehicleType& t : from.types) {
        auto found = into.findType(t.id);
        if (!found) {
            into.types.push_back(t);
            found = uint32_t(into.types.size() - 1);
        }
        typeMap.push_back(*found);
    }
    for (Trip& t : from.trips) {
        t.type = t.type < typeMap.size() ? typeMap[t.type] : 0;
        into.trips.push_back(std::move(t));
    }
    into.skipped.count += from.skipped.count;
    for (auto& r : from.skipped.reasons)
        if (into.skipped.reasons.size() < 20) into.skipped.reasons.push_back(std::move(r));
}

Demand MobilityModule::buildDemand() {
    Demand d;
    std::vector<Taz> zones;
    if (!cfg.sumoConfigFile.empty()) {
        for (const auto& f : sumo.additionalFiles) {
            auto z = readSumoTaz(f, net);
            zones.insert(zones.end(), z.begin(), z.end());
        }
        for (const auto& f : sumo.routeFiles) readSumoRoutes(f, net, d, seed, zones);
    }
    for (const auto& f : cfg.tripFiles) {
        std::string ext = f.extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (ext == ".csv") mergeDemand(d, readTripsCsv(f, net));
        else readSumoRoutes(f, net, d, seed, zones);
    }
    // Generated trips: the whole day is generated and cut here to the window, so the daily
    // total is known (a new development's share of it, below) and the window is in the
    // scenario's clock.
    double windowShare = durationS / 86400, tripsPerResident = 3.1;
    for (const GenerateSpec& g : cfg.generate) {
        CityDemandOptions o;
        o.scale = g.scale;
        o.tripsPerResidentPerDay = g.tripsPerResident;
        o.startOfDayS = startOfDayS;
        o.fromS = -1e9, o.toS = 1e9;
        Demand day = generateCityDemand(*city, net, o, seed);
        double from = g.fromOfDayS ? *g.fromOfDayS - startOfDayS : 0;
        double to = g.toOfDayS ? *g.toOfDayS - startOfDayS : durationS;
        if (from < 0)
            throw InputError(fmt::format("generate.from is before the scenario starts ({:02d}:{:02d})", int(startOfDayS / 3600),
                                         int(std::fmod(startOfDayS, 3600) / 60)),
                             yamlWhere(where.substr(0, where.rfind(':')), g.node), "move time.start earlier or generate.from later");
        size_t total = day.trips.size();
        std::erase_if(day.trips, [&](const Trip& t) { return t.departS < from || t.departS >= to; });
        if (total > 0) windowShare = double(day.trips.size()) / double(total);
        tripsPerResident = g.tripsPerResident * g.scale;
        mergeDemand(d, std::move(day));
    }
    if (cfg.carFollowing)
        for (VehicleType& t : d.types) t.model = *cfg.carFollowing;
    d.sortTrips();
    for (size_t k = 0; k < demandEdits.size(); ++k) {
        const DemandEdit& edit = demandEdits[k];
        if (!edit.polygon.empty()) {
            addHomes(d, edit, windowShare, tripsPerResident, k);
            continue;
        }
        // Scale: whole copies plus a share drawn per trip id, so a larger scale keeps every
        // trip of a smaller one.
        std::vector<Trip> scaled;
        double whole = std::floor(edit.scale), part = edit.scale - whole;
        for (const Trip& t : d.trips) {
            int copies = int(whole) + (draw(seed, hashText(t.id), 0x5ca1e + k) < part ? 1 : 0);
            for (int c = 0; c < copies; ++c) {
                scaled.push_back(t);
                if (c > 0) scaled.back().id += fmt::format("#{}", c);
            }
        }
        d.trips = std::move(scaled);
    }
    d.sortTrips();
    if (d.skipped.count)
        spdlog::info("mobility: {} trips skipped (first: {})", d.skipped.count,
                     d.skipped.reasons.empty() ? "" : d.skipped.reasons.front());
    return d;
}

// Trips of a new development: residents = homes × 2.0, each making the configured trips per
// day, of which the share that falls into the simulated window. Each trip copies a trip of
// the existing demand drawn at random (its time, mode and the far end), half leaving the
// development, half coming back to it: the new homes travel like the town does.
void MobilityModule::addHomes(Demand& d, const DemandEdit& edit, double windowShare, double tripsPerResident,
                              size_t editIndex) {
    std::vector<uint32_t> templates;
    for (uint32_t i = 0; i < d.trips.size(); ++i) {
        const Trip& t = d.trips[i];
        bool hasEnds = (t.fromEdge != kNone && t.toEdge != kNone) || !t.route.empty();
        if (hasEnds) templates.push_back(i);
    }
    if (templates.empty())
        throw InputError("a new development needs existing trips to copy", edit.where, "give the scenario some demand");
    Vec2 centre = Vec2::Zero();
    for (const Vec2& p : edit.polygon) centre += p;
    centre /= double(edit.polygon.size());
    if (!pointInRing(centre, edit.polygon)) centre = edit.polygon.front();
    // The development's access edge per class: the nearest edge that class may use.
    std::map<VClass, uint32_t> access;
    auto accessEdge = [&](VClass c) {
        auto it = access.find(c);
        if (it != access.end()) return it->second;
        uint32_t best = kNone;
        double bestD = std::numeric_limits<double>::infinity();
        for (uint32_t e = 0; e < net.edges.size(); ++e) {
            if (!net.allows(e, c)) continue;
            double dist = distanceToPolyline(centre, net.laneShape(net.edges[e].firstLane));
            if (dist < bestD) bestD = dist, best = e;
        }
        return access[c] = best;
    };
    double expected = edit.homes * kResidentsPerHome * tripsPerResident * windowShare;
    size_t n = size_t(std::floor(expected)) + (draw(seed, editIndex, 0x40e5) < expected - std::floor(expected) ? 1 : 0);
    size_t added = 0;
    for (size_t i = 0; i < n; ++i) {
        const Trip& tpl = d.trips[templates[size_t(draw(seed, i, 0x7e3b1a7e + editIndex) * double(templates.size()))]];
        VClass c = tpl.type < d.types.size() ? d.types[tpl.type].vclass : VClass::Passenger;
        uint32_t home = accessEdge(c);
        if (home == kNone) continue;
        uint32_t from = tpl.fromEdge != kNone ? tpl.fromEdge : tpl.route.front();
        uint32_t to = tpl.toEdge != kNone ? tpl.toEdge : tpl.route.back();
        Trip t;
        t.id = fmt::format("new{}_{}", editIndex, i);
        t.departS = tpl.departS;
        t.type = tpl.type;
        t.mode = tpl.mode;
        bool leaving = draw(seed, i, 0xd1ec + editIndex) < 0.5;
        t.fromEdge = leaving ? home : from;
        t.toEdge = leaving ? to : home;
        if (t.fromEdge == t.toEdge) continue;
        d.trips.push_back(std::move(t));
        ++added;
    }
    spdlog::info("mobility: {} trips from {} new homes ({})", added, edit.homes, edit.where);
}

SimulationOptions MobilityModule::simulationOptions() const {
    SimulationOptions o;
    o.beginS = beginS;
    o.stepS = cfg.stepS.value_or(cfg.sumoConfigFile.empty() ? 1.0 : sumo.stepS);
    o.timeToTeleportS = cfg.teleportAfterS.value_or(cfg.sumoConfigFile.empty() ? 300.0 : sumo.timeToTeleportS);
    o.threads = threads;
    o.seed = seed;
    o.edgeIntervalS = cfg.edgeIntervalS;
    return o;
}

void MobilityModule::start(const RunContext& ctx) {
    seed = ctx.seed;
    durationS = ctx.scenario.durationS;
    threads = cfg.threads > 0 ? cfg.threads : std::max(1, ctx.threads);
    startUtc = double(ctx.scenario.start.utcSeconds);
    int64_t local = ctx.scenario.start.utcSeconds + int64_t(ctx.scenario.start.offsetMinutes) * 60;
    startOfDayS = double(((local % 86400) + 86400) % 86400);
    demand = buildDemand();
    runDemand = demand;

    // Dynamic user assignment by the method of successive averages: after each full run,
    // a share 1/(k+1) of the trips the router placed takes the fastest route on the measured
    // travel times; the others keep the route they drove.
    const double endS = beginS + durationS;
    std::vector<double> travelTimes;
    std::vector<uint8_t> routedBySimulation(demand.trips.size());
    for (size_t i = 0; i < demand.trips.size(); ++i) routedBySimulation[i] = demand.trips[i].route.empty();
    for (int k = 1; k <= cfg.assignmentIterations; ++k) {
        std::vector<std::vector<uint32_t>> routes(runDemand.trips.size());
        {
            // The trial reads runDemand: routes change only after it is gone.
            Simulation trial(net, runDemand, simulationOptions(), travelTimes);
            trial.runToEnd(endS);
            travelTimes = trial.measuredTravelTimes();
            double share = 1.0 / (k + 1);
            for (size_t i = 0; i < runDemand.trips.size(); ++i)
                if (routedBySimulation[i] && draw(seed, hashText(runDemand.trips[i].id), 0xa551 + uint64_t(k)) >= share)
                    routes[i] = trial.route(uint32_t(i)); // kept; empty (not inserted) is routed afresh
            spdlog::debug("mobility: assignment round {} of {}: {} arrived", k, cfg.assignmentIterations, trial.counts().arrived);
        }
        for (size_t i = 0; i < runDemand.trips.size(); ++i)
            if (routedBySimulation[i]) runDemand.trips[i].route = std::move(routes[i]);
    }
    sim = std::make_unique<Simulation>(net, runDemand, simulationOptions(), travelTimes);
    fcd.clear();
    nextFcdS = beginS;
    started = true;
}

void MobilityModule::recordFcd() {
    std::vector<VehicleState> v;
    sim->vehicles(v);
    for (const VehicleState& s : v) fcd.push_back({sim->time(), s.trip, float(s.pos.x()), float(s.pos.y()), s.speedMps});
}

void MobilityModule::advance(double timeS) {
    if (!sim) return;
    double target = beginS + std::min(timeS, durationS);
    if (cfg.fcdIntervalS > 0)
        while (nextFcdS <= target) {
            sim->advance(nextFcdS);
            recordFcd();
            nextFcdS += cfg.fcdIntervalS;
        }
    sim->advance(target);
}

std::shared_ptr<const Snapshot> MobilityModule::snapshot() const {
    auto s = std::make_shared<MobilitySnapshot>();
    if (!sim) return s;
    s->simTimeS = sim->time() - beginS;
    sim->vehicles(s->vehicles);
    s->edgeSpeedRatio.assign(net.edges.size(), std::numeric_limits<float>::quiet_NaN());
    const auto& samples = sim->edgeSamples();
    size_t k = size_t(std::max(0.0, std::floor((sim->time() - beginS) / sim->intervalS())));
    if (!samples.empty()) {
        const auto& now = samples[std::min(k, samples.size() - 1)];
        for (size_t e = 0; e < now.size() && e < net.edges.size(); ++e)
            s->edgeSpeedRatio[e] = float(now[e].meanSpeed() / net.edges[e].speedMps);
    }
    return s;
}

std::string MobilityModule::status() const {
    if (!sim) return {};
    Simulation::Counts c = sim->counts();
    return fmt::format("t={:.0f} running={} arrived={} teleports={}", sim->time(), c.running, c.arrived, c.teleports);
}

void MobilityModule::writeOutputs(const fs::path& dir) {
    if (!sim) return;
    std::vector<std::vector<uint32_t>> routes(runDemand.trips.size());
    for (size_t i = 0; i < routes.size(); ++i) routes[i] = sim->route(uint32_t(i));
    writeTripsCsv(dir / "trips.csv", runDemand, sim->results(), &net, &routes);
    double endS = sim->time();
    // Interval times relative to the scenario start (the simulation counts them from beginS).
    const std::vector<std::vector<EdgeSample>>& samples = sim->edgeSamples();
    writeEdgesCsv(dir / "edges.csv", net, samples, sim->intervalS(), endS - beginS);
    writeEdgesGpkg(dir / "edges.gpkg", net, samples, sim->intervalS(), world, endS - beginS);
    writeJunctionsCsv(dir / "junctions.csv", net, sim->junctionSamples(), world);
    if (cfg.fcdIntervalS > 0) {
        gis::CsvWriter csv(dir / "fcd.csv", {"time", "trip", "x", "y", "speed"});
        for (const FcdRecord& r : fcd) {
            csv << r.timeS << (r.trip < runDemand.trips.size() ? runDemand.trips[r.trip].id : std::to_string(r.trip))
                << double(r.x) + world.offset.x() << double(r.y) + world.offset.y() << double(r.speedMps);
            csv.endRow();
        }
    }
    writeSumoTrips(dir / "demand.trips.xml", net, demand);
    if (!cfg.countsFile.empty() || !cfg.countsStore.empty()) writeCountComparison(dir);
}

// counts_comparison.csv: each detector's counts against the vehicles the simulation let onto
// its edge. Count times are of the day (seconds or HH:MM); intervals must be whole multiples
// of edge_interval within the run.
void MobilityModule::writeCountComparison(const fs::path& dir) {
    SkipReport skipped;
    std::vector<Count> counts;
    std::vector<DetectorPlacement> placements;
    if (!cfg.countsFile.empty()) {
        counts = readCountsCsv(cfg.countsFile, skipped);
        for (Count& c : counts) {
            c.beginS = beginS + (c.beginS - startOfDayS);
            c.endS = beginS + (c.endS - startOfDayS);
        }
    } else {
        feeds::SensorStore store(cfg.countsStore);
        // A network without a CRS (a SUMO net without projection) places detectors by edge only.
        std::optional<Reprojector> fromWgs84;
        if (!world.crs.empty()) fromWgs84.emplace(Crs::fromEpsg(4326), world.crs);
        auto toNetwork = [&](double lon, double lat) -> std::optional<Vec2> {
            if (!fromWgs84) return std::nullopt;
            try {
                return fromWgs84->apply(Vec2(lon, lat)) - world.offset;
            } catch (const InputError&) {
                return std::nullopt;
            }
        };
        StoreCounts fromStore = readStoreCounts(store, cfg.countsSensors, toNetwork, startUtc, startUtc + durationS,
                                                beginS - startUtc, skipped);
        counts = std::move(fromStore.counts);
        placements = std::move(fromStore.detectors);
    }
    // Detectors listed in the scenario are placed as listed (they override a store's properties).
    for (const auto& d : cfg.detectors) {
        DetectorPlacement p{d.id, d.edge, std::nullopt, d.headingDeg};
        if (d.worldPoint) p.point = *d.worldPoint - world.offset;
        auto same = std::find_if(placements.begin(), placements.end(), [&](auto& q) { return q.id == d.id; });
        if (same != placements.end()) *same = p;
        else placements.push_back(p);
    }
    const auto edges = placeDetectors(net, placements, skipped);
    const auto rows = compareCounts(net, placements, edges, counts, sim->edgeSamples(), sim->intervalS(), beginS);
    writeCountComparisonCsv(dir / "counts_comparison.csv", rows);
    for (const auto& r : skipped.reasons) spdlog::warn("counts: {}", r);
    countsGehShare = shareGehBelow5(rows);
    // In total: how far the demand is off. A demand scale of 1 / ratio matches the counts in sum.
    double simulated = 0, counted = 0;
    for (const auto& r : rows) simulated += r.simulated, counted += r.counted;
    countsRatio = counted > 0 ? simulated / counted : std::numeric_limits<double>::quiet_NaN();
}

Kpis MobilityModule::kpis() const {
    Kpis k = sim ? mobilityKpis(runDemand, sim->results(), cfg.co2) : mobilityKpis(runDemand, {}, cfg.co2);
    if (!cfg.countsFile.empty() || !cfg.countsStore.empty())
        k.push_back({"counts_geh_below_5_share", countsGehShare, ""});
    if (!cfg.countsFile.empty() || !cfg.countsStore.empty())
        k.push_back({"counts_simulated_to_counted", countsRatio, ""});
    return k;
}

} // namespace

void registerMobilityModule() {
    ModuleRegistry::instance().add("mobility", [] { return std::make_unique<MobilityModule>(); });
    ModuleRegistry::instance().addComparison("mobility", writeComparison);
}

} // namespace ct::mobility
