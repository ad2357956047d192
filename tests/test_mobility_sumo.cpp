// SUMO XML in and out: networks, zones, configs, routes. Every expectation comes from the
// input file read by other means (plain string scans, not pugixml), from SUMO's own tools
// (netgenerate, duarouter, sumo) or from arithmetic on the file's numbers.
#include "sim/mobility/Router.h"
#include "sim/mobility/SumoXml.h"

#include "TestSupport.h"
#include "core/Error.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace ct;
using namespace ct::mobility;
namespace fs = std::filesystem;

namespace {

const char* kNetgenerate = "/usr/bin/netgenerate";
const char* kSumo = "/usr/bin/sumo";
const char* kDuarouter = "/usr/bin/duarouter";

#define REQUIRE_TOOL(path)                                                                                     \
    if (!fs::exists(path)) GTEST_SKIP() << (path) << " is missing (install the Debian package sumo)"
#define REQUIRE_FILE(path)                                                                                     \
    if (!fs::exists(path)) GTEST_SKIP() << "real data not present: " << (path)

fs::path real(const std::string& rel) { return test::sharedData() / "real" / rel; }

std::string slurp(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a shell command quietly (its own redirections still apply); the exit status.
int run(const std::string& command) { return std::system(("{ " + command + "; } >/dev/null 2>&1").c_str()); }

// A 3×3 grid of 100 m blocks from SUMO's netgenerate.
fs::path netgenerate(const test::TempDir& dir, const std::string& name, const std::string& extra = "") {
    fs::path out = dir / name;
    int rc = run(std::string(kNetgenerate) + " --grid --grid.number 3 --grid.length 100 " + extra + " -o " +
                 out.string());
    EXPECT_EQ(rc, 0) << "netgenerate failed";
    return out;
}

// Every "<tag ...>" opening element of a file as its text, by plain string search.
std::vector<std::string> elements(const std::string& text, const std::string& tag) {
    std::vector<std::string> out;
    const std::string open = "<" + tag + " ";
    for (size_t at = text.find(open); at != std::string::npos; at = text.find(open, at + 1))
        out.push_back(text.substr(at, text.find('>', at) - at + 1));
    return out;
}

// The value of attribute `name` in an element's text ("" when absent).
std::string attr(const std::string& element, const std::string& name) {
    const std::string key = " " + name + "=\"";
    size_t at = element.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    return element.substr(at, element.find('"', at) - at);
}

size_t countOccurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// The connection from lane `fromLane` of edge `from` to lane `toLane` of edge `to`.
const Connection* findConnection(const Network& net, const std::string& from, int fromLane, const std::string& to,
                                 int toLane) {
    auto f = net.findEdge(from), t = net.findEdge(to);
    if (!f || !t) return nullptr;
    for (const Connection& c : net.outgoing(net.edges[*f].firstLane + uint32_t(fromLane)))
        if (c.toLane == net.edges[*t].firstLane + uint32_t(toLane)) return &c;
    return nullptr;
}

std::string describe(const Network& net, const Connection& c) {
    const Lane &a = net.lanes[c.fromLane], &b = net.lanes[c.toLane];
    return net.edges[a.edge].id + "_" + std::to_string(a.index) + "->" + net.edges[b.edge].id + "_" +
           std::to_string(b.index);
}

// Expects a reader to throw InputError whose message names `file`.
template <class F> void expectInputError(const fs::path& file, F&& read) {
    try {
        read();
        ADD_FAILURE() << "no InputError for " << file;
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(file.filename().string()), std::string::npos) << e.what();
    }
}

} // namespace

// ---------------------------------------------------------------- demand basics

TEST(SumoDemand, ClassDefaultsAreSumos) {
    // SUMO 1.15's values as reported by TraCI (vehicletype.getLength ... getSpeedDeviation).
    VehicleType car = VehicleType::defaults(VClass::Passenger);
    EXPECT_EQ(car.id, "DEFAULT_VEHTYPE");
    EXPECT_FLOAT_EQ(car.lengthM, 5.0f);
    EXPECT_FLOAT_EQ(car.minGapM, 2.5f);
    EXPECT_FLOAT_EQ(car.accel, 2.6f);
    EXPECT_FLOAT_EQ(car.decel, 4.5f);
    EXPECT_FLOAT_EQ(car.emergencyDecel, 9.0f);
    EXPECT_FLOAT_EQ(car.sigma, 0.5f);
    EXPECT_FLOAT_EQ(car.tau, 1.0f);
    EXPECT_NEAR(car.maxSpeedMps, 200 / 3.6, 0.01);
    EXPECT_FLOAT_EQ(car.speedDev, 0.1f);
    VehicleType truck = VehicleType::defaults(VClass::Truck);
    EXPECT_FLOAT_EQ(truck.lengthM, 7.1f);
    EXPECT_FLOAT_EQ(truck.accel, 1.3f);
    EXPECT_FLOAT_EQ(truck.decel, 4.0f);
    EXPECT_NEAR(truck.maxSpeedMps, 130 / 3.6, 0.01);
    EXPECT_FLOAT_EQ(truck.speedDev, 0.05f);
    VehicleType bus = VehicleType::defaults(VClass::Bus);
    EXPECT_FLOAT_EQ(bus.lengthM, 12.0f);
    EXPECT_FLOAT_EQ(bus.accel, 1.2f);
    EXPECT_NEAR(bus.maxSpeedMps, 100 / 3.6, 0.01);
    VehicleType bike = VehicleType::defaults(VClass::Bicycle);
    EXPECT_EQ(bike.vclass, VClass::Bicycle);
    EXPECT_FLOAT_EQ(bike.lengthM, 1.6f);
    EXPECT_FLOAT_EQ(bike.minGapM, 0.5f);
    EXPECT_FLOAT_EQ(bike.decel, 3.0f);
    EXPECT_FLOAT_EQ(bike.emergencyDecel, 7.0f);
    EXPECT_NEAR(bike.maxSpeedMps, 20 / 3.6, 0.01);
    VehicleType walker = VehicleType::defaults(VClass::Pedestrian);
    EXPECT_FLOAT_EQ(walker.lengthM, 0.215f);
    EXPECT_FLOAT_EQ(walker.minGapM, 0.25f);
    EXPECT_NEAR(walker.maxSpeedMps, 5 / 3.6, 0.01);
    EXPECT_STREQ(toString(Mode::Bicycle), "bicycle");
    EXPECT_STREQ(toString(CarFollowing::IDM), "IDM");
}

TEST(SumoDemand, SkipReportKeepsTwentyReasonsAndCountsAll) {
    SkipReport r;
    for (int i = 0; i < 25; ++i) r.add("reason " + std::to_string(i));
    EXPECT_EQ(r.count, 25u);
    ASSERT_EQ(r.reasons.size(), 20u);
    EXPECT_EQ(r.reasons.front(), "reason 0");
    EXPECT_EQ(r.reasons.back(), "reason 19");
}

TEST(SumoDemand, SortTripsByDepartThenIdAndFindType) {
    Demand d;
    d.types.push_back(VehicleType::defaults(VClass::Bicycle));
    EXPECT_EQ(d.findType("DEFAULT_VEHTYPE"), 0u);
    EXPECT_EQ(d.findType("DEFAULT_BIKETYPE"), 1u);
    EXPECT_FALSE(d.findType("nope"));
    for (auto [id, t] : std::vector<std::pair<std::string, double>>{{"c", 5}, {"b", 1}, {"a", 5}, {"d", 0}}) {
        Trip trip;
        trip.id = id;
        trip.departS = t;
        d.trips.push_back(trip);
    }
    d.sortTrips();
    std::string order;
    for (const Trip& t : d.trips) order += t.id;
    EXPECT_EQ(order, "dbac");
}

// ---------------------------------------------------------------- networks

TEST(SumoNet, GridMatchesNetgenerateAndTheFileText) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    fs::path file = netgenerate(dir, "grid.net.xml");
    const std::string text = slurp(file);
    SumoNetInfo info;
    Network net = readSumoNet(file, &info);

    // netgenerate's grid: n×n junctions, 2·2·n·(n-1) one-way edges (both directions of
    // every street segment).
    EXPECT_EQ(net.junctions.size(), 9u);
    EXPECT_EQ(net.edges.size(), 24u);
    size_t normalEdges = 0, normalJunctions = 0;
    std::map<std::string, double> laneLength;
    for (const std::string& e : elements(text, "edge")) normalEdges += attr(e, "function").empty();
    for (const std::string& j : elements(text, "junction")) normalJunctions += attr(j, "type") != "internal";
    for (const std::string& l : elements(text, "lane")) laneLength[attr(l, "id")] = std::stod(attr(l, "length"));
    EXPECT_EQ(net.edges.size(), normalEdges);
    EXPECT_EQ(net.junctions.size(), normalJunctions);

    for (const Edge& e : net.edges)
        for (uint32_t l = e.firstLane; l < e.firstLane + e.laneCount; ++l) {
            std::string id = e.id + "_" + std::to_string(net.lanes[l].index);
            ASSERT_TRUE(laneLength.count(id)) << id;
            EXPECT_NEAR(net.lanes[l].lengthM, laneLength[id], 1e-4) << id;
        }

    // Connections between normal edges, and each internal lane = its chain in the file.
    std::map<std::string, std::string> nextVia; // internal lane -> via of the connection leaving it
    size_t normalConnections = 0;
    for (const std::string& c : elements(text, "connection")) {
        if (attr(c, "from")[0] == ':') nextVia[attr(c, "from") + "_" + attr(c, "fromLane")] = attr(c, "via");
        else ++normalConnections;
    }
    EXPECT_EQ(net.connections.size(), normalConnections);
    for (const std::string& c : elements(text, "connection")) {
        if (attr(c, "from")[0] == ':') continue;
        const Connection* conn = findConnection(net, attr(c, "from"), std::stoi(attr(c, "fromLane")), attr(c, "to"),
                                                std::stoi(attr(c, "toLane")));
        ASSERT_NE(conn, nullptr) << c;
        double chain = 0;
        for (std::string via = attr(c, "via"); !via.empty(); via = nextVia[via]) chain += laneLength.at(via);
        ASSERT_NE(conn->viaLane, kNone);
        EXPECT_NEAR(net.lanes[conn->viaLane].lengthM, chain, 1e-3) << c;
        EXPECT_EQ(net.lanes[conn->viaLane].connection, uint32_t(conn - net.connections.data()));
    }
}

TEST(SumoNet, SignalisedTwoLaneGridKeepsLinkIndicesAndChains) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    fs::path file = netgenerate(dir, "tls.net.xml", "--tls.guess true --default.lanenumber 2");
    const std::string text = slurp(file);
    Network net = readSumoNet(file);

    EXPECT_EQ(net.signals.size(), elements(text, "tlLogic").size());
    size_t tlsJunctions = 0;
    for (const Junction& j : net.junctions) tlsJunctions += j.type == JunctionType::TrafficLight;
    EXPECT_EQ(tlsJunctions, countOccurrences(text, "type=\"traffic_light\""));
    for (const Edge& e : net.edges) EXPECT_EQ(e.laneCount, 2) << e.id;

    std::map<std::string, double> laneLength;
    std::map<std::string, std::string> nextVia;
    for (const std::string& l : elements(text, "lane")) laneLength[attr(l, "id")] = std::stod(attr(l, "length"));
    for (const std::string& c : elements(text, "connection"))
        if (attr(c, "from")[0] == ':') nextVia[attr(c, "from") + "_" + attr(c, "fromLane")] = attr(c, "via");
    size_t chained = 0;
    for (const std::string& c : elements(text, "connection")) {
        if (attr(c, "from")[0] == ':') continue;
        const Connection* conn = findConnection(net, attr(c, "from"), std::stoi(attr(c, "fromLane")), attr(c, "to"),
                                                std::stoi(attr(c, "toLane")));
        ASSERT_NE(conn, nullptr) << c;
        if (!attr(c, "tl").empty()) {
            ASSERT_NE(conn->signal, kNone) << c;
            EXPECT_EQ(net.signals[conn->signal].id, attr(c, "tl"));
            EXPECT_EQ(conn->signalIndex, std::stoi(attr(c, "linkIndex"))) << c;
        }
        double chain = 0;
        int pieces = 0;
        for (std::string via = attr(c, "via"); !via.empty(); via = nextVia[via], ++pieces) chain += laneLength.at(via);
        chained += pieces > 1;
        EXPECT_NEAR(net.lanes[conn->viaLane].lengthM, chain, 1e-3) << c;
    }
    EXPECT_GT(chained, 0u) << "the signalised grid should have left turns through internal junctions";
}

TEST(SumoNet, LemgoSignalProgramAndRightOfWay) {
    fs::path file = real("sumo-lemgo-owl322/sumo.net.xml");
    REQUIRE_FILE(file);
    const std::string text = slurp(file);
    SumoNetInfo info;
    Network net = readSumoNet(file, &info);

    EXPECT_NEAR(info.netOffset.x(), -490613.69, 1e-6);
    EXPECT_NEAR(info.netOffset.y(), -5763184.61, 1e-6);
    EXPECT_NE(info.projection.find("+proj=utm +zone=32"), std::string::npos);
    size_t normalEdges = 0, normalJunctions = 0;
    for (const std::string& e : elements(text, "edge")) normalEdges += attr(e, "function").empty();
    for (const std::string& j : elements(text, "junction")) normalJunctions += attr(j, "type") != "internal";
    EXPECT_EQ(net.edges.size(), normalEdges);
    EXPECT_EQ(net.junctions.size(), normalJunctions);

    // Lane classes as the file's allow/disallow lists say: bicycle and pedestrian lanes stay
    // (allowing only their class), the car lanes exclude both.
    size_t bikeLanes = 0, footLanes = 0, carLanes = 0;
    for (const std::string& l : elements(text, "lane")) {
        std::string id = attr(l, "id");
        if (id[0] == ':') continue;
        auto edge = net.findEdge(id.substr(0, id.rfind('_')));
        ASSERT_TRUE(edge) << id;
        const Lane& lane = net.lanes[net.edges[*edge].firstLane + uint32_t(std::stoi(attr(l, "index")))];
        if (attr(l, "allow") == "pedestrian") {
            ++footLanes;
            EXPECT_EQ(lane.allow, classBit(VClass::Pedestrian)) << id;
        } else if (attr(l, "allow") == "bicycle") {
            ++bikeLanes;
            EXPECT_EQ(lane.allow, classBit(VClass::Bicycle)) << id;
        } else if (attr(l, "disallow").rfind("pedestrian bicycle ", 0) == 0) {
            ++carLanes;
            EXPECT_EQ(lane.allow, kMotorVehicles) << id;
        }
    }
    EXPECT_GT(bikeLanes, 0u);
    EXPECT_GT(footLanes, 0u);
    EXPECT_GT(carLanes, 0u);

    // The program OWL322: phases read by a regex from the file.
    std::vector<std::pair<double, std::string>> phases;
    std::regex phaseRe("<phase duration=\"([0-9.]+)\"\\s+state=\"([A-Za-z]+)\"");
    for (std::sregex_iterator it(text.begin(), text.end(), phaseRe), end; it != end; ++it)
        phases.emplace_back(std::stod((*it)[1]), (*it)[2]);
    ASSERT_EQ(net.signals.size(), 1u);
    const SignalProgram& p = net.signals[0];
    EXPECT_EQ(p.id, "OWL322");
    double cycle = 0;
    for (auto& ph : phases) cycle += ph.first;
    EXPECT_DOUBLE_EQ(p.cycleS(), cycle);
    EXPECT_DOUBLE_EQ(cycle, 70.0);
    for (double t : {0.0, 39.9, 40.0, 44.5, 47.2, 53.0, 58.0, 63.5, 66.0, 68.0, 69.99, 70.0 + 41.0, 7 * 70.0 + 55.0}) {
        double inCycle = std::fmod(t, cycle);
        size_t k = 0;
        while (inCycle >= phases[k].first) inCycle -= phases[k++].first;
        for (int index : {0, 2, 6, 10, 14, 22, 26})
            EXPECT_EQ(p.stateAt(index, t), phases[k].second[size_t(index)]) << "t=" << t << " index=" << index;
    }

    // Right of way at the signalised junction. The left turn from Richard-Wagner-Strasse.W.6
    // lane 1 to EntruperWeg.S.9 has via ":..._2_0", which continues through ":..._24_0";
    // the junction's intLanes list ":..._24_0" third, so it is link 2 (and linkIndex="2").
    // <request index="2" response="001100000011011000000110000">: 27 characters, the last
    // is link 0, so the '1's at string positions 2,3,10,11,13,14,21,22 are links
    // 24,23,16,15,13,12,5,4. Links 23-26 are the pedestrian crossings :..._c0_0 .. _c3_0
    // (not simulated); links 4,5,12,13,15,16 are the connections with linkIndex 4,5,12,13,
    // 15,16 (lines 436, 437, 422, 423, 425, 426 of the file):
    const Connection* left = findConnection(net, "Richard-Wagner-Strasse.W.6", 1, "EntruperWeg.S.9", 1);
    ASSERT_NE(left, nullptr);
    EXPECT_EQ(left->signalIndex, 2);
    EXPECT_EQ(left->dir, LinkDir::Left);
    std::set<std::string> expected = {"Richard-Wagner-Strasse.W.6_2->Gosebrede.S.1_2",
                                      "Richard-Wagner-Strasse.W.6_3->EntruperWeg.S.9_1",
                                      "Gosebrede.N.8_1->EntruperWeg.S.9_1",
                                      "Gosebrede.N.8_1->Richard-Wagner-Strasse.E.1_1",
                                      "Gosebrede.N.8_2->EntruperWeg.S.9_1",
                                      "Gosebrede.N.8_2->Richard-Wagner-Strasse.E.1_2"};
    std::set<std::string> yieldTo;
    for (uint32_t c : net.yieldTo(*left)) yieldTo.insert(describe(net, net.connections[c]));
    EXPECT_EQ(yieldTo, expected);
    // Its foes string "001111100111111111010111000" has every response bit set too.
    std::set<std::string> foes;
    for (uint32_t c : net.foes(*left)) foes.insert(describe(net, net.connections[c]));
    for (const auto& y : expected) EXPECT_TRUE(foes.count(y)) << y;
    EXPECT_FALSE(left->major); // state="o": yields when the signal is off
}

TEST(SumoNet, OsnabrueckAndCologneGzipRead) {
    fs::path martini = real("osm-sumo-osnabrueck-martini/martini.net.xml");
    fs::path cologne = real("sumo-cologne-port/osm.net.xml.gz");
    REQUIRE_FILE(martini);
    REQUIRE_FILE(cologne);
    std::string martiniText = slurp(martini);
    Network a = readSumoNet(martini);
    size_t normal = 0;
    for (const std::string& e : elements(martiniText, "edge")) normal += attr(e, "function").empty();
    EXPECT_EQ(a.edges.size(), normal);
    EXPECT_EQ(a.signals.size(), elements(martiniText, "tlLogic").size());

    // The reference count comes from gzip's own decompression, not from zlib in the reader.
    test::TempDir dir;
    ASSERT_EQ(run("gzip -dc " + cologne.string() + " > " + (dir / "osm.net.xml").string()), 0);
    std::string text = slurp(dir / "osm.net.xml");
    SumoNetInfo info;
    Network net = readSumoNet(cologne, &info);
    normal = 0;
    for (const std::string& e : elements(text, "edge")) normal += attr(e, "function").empty();
    EXPECT_EQ(net.edges.size(), normal);
    size_t junctions = 0;
    for (const std::string& j : elements(text, "junction")) junctions += attr(j, "type") != "internal";
    EXPECT_EQ(net.junctions.size(), junctions);
    // 38 of the 47 programs are actuated: run with their phase durations, said once.
    size_t actuatedNotes = 0;
    for (const auto& r : info.skipped.reasons) actuatedNotes += r.find("actuated") != std::string::npos;
    EXPECT_EQ(actuatedNotes, 1u);
}

// ---------------------------------------------------------------- bad input

TEST(SumoBadInput, ClearErrorsNamingTheFile) {
    test::TempDir dir;
    fs::path notXml = dir / "broken.net.xml";
    test::writeText(notXml, "this is not XML at all <<<");
    expectInputError(notXml, [&] { readSumoNet(notXml); });

    fs::path wrongRoot = dir / "foo.net.xml";
    test::writeText(wrongRoot, "<?xml version=\"1.0\"?>\n<foo><edge id=\"a\"/></foo>\n");
    expectInputError(wrongRoot, [&] { readSumoNet(wrongRoot); });
    expectInputError(wrongRoot, [&] {
        Demand d;
        readSumoRoutes(wrongRoot, Network{}, d);
    });
    expectInputError(wrongRoot, [&] { readSumoConfig(wrongRoot); });

    fs::path missing = dir / "absent.net.xml";
    expectInputError(missing, [&] { readSumoNet(missing); });

    // An edge naming junction "ghost", which the file does not define.
    fs::path ghost = dir / "ghost.net.xml";
    test::writeText(ghost, R"XML(<net>
  <junction id="a" type="priority" x="0" y="0" incLanes="" intLanes=""/>
  <edge id="e" from="a" to="ghost" priority="1">
    <lane id="e_0" index="0" speed="13.9" length="100" shape="0,0 100,0"/>
  </edge>
</net>
)XML");
    try {
        readSumoNet(ghost);
        ADD_FAILURE() << "no InputError";
    } catch (const InputError& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("ghost.net.xml:3"), std::string::npos) << what;
        EXPECT_NE(what.find("'ghost'"), std::string::npos) << what;
    }
}

TEST(SumoBadInput, TruncatedGzipIsAnErrorAndAbsurdLanesAreSkipped) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    fs::path file = netgenerate(dir, "grid.net.xml");
    ASSERT_EQ(run("gzip -c " + file.string() + " > " + (dir / "grid.net.xml.gz").string()), 0);
    // The whole file reads the same as the plain one.
    EXPECT_EQ(readSumoNet(dir / "grid.net.xml.gz").edges.size(), readSumoNet(file).edges.size());
    fs::path cut = dir / "cut.net.xml.gz";
    fs::copy_file(dir / "grid.net.xml.gz", cut);
    fs::resize_file(cut, fs::file_size(cut) / 2);
    expectInputError(cut, [&] { readSumoNet(cut); });

    // One lane at 500 m/s: its edge is skipped and counted, the rest still reads.
    std::string text = slurp(file);
    size_t at = text.find("<lane id=\"A0A1_0\"");
    ASSERT_NE(at, std::string::npos);
    size_t speed = text.find("speed=\"", at) + 7;
    text.replace(speed, text.find('"', speed) - speed, "500");
    test::writeText(dir / "fast.net.xml", text);
    SumoNetInfo info;
    Network net = readSumoNet(dir / "fast.net.xml", &info);
    EXPECT_EQ(net.edges.size(), 23u);
    EXPECT_FALSE(net.findEdge("A0A1"));
    // The edge, plus the connections into and out of it between normal edges (counted from
    // the file; links inside junctions start with ':').
    size_t touching = 0;
    for (const std::string& c : elements(text, "connection"))
        touching += attr(c, "from")[0] != ':' && (attr(c, "from") == "A0A1" || attr(c, "to") == "A0A1");
    EXPECT_EQ(info.skipped.count, 1 + touching);
}

// ---------------------------------------------------------------- routes

namespace {

// Departure times per flow from duarouter's output ("<vehicle id="p.3" depart="21.00"").
std::map<std::string, std::vector<double>> duarouterDepartures(const fs::path& net, const fs::path& routes,
                                                               const fs::path& out) {
    std::map<std::string, std::vector<double>> byFlow;
    if (run(std::string(kDuarouter) + " -n " + net.string() + " -r " + routes.string() + " -o " + out.string() +
            " --no-step-log --ignore-errors") != 0)
        return byFlow;
    for (const std::string& v : elements(slurp(out), "vehicle")) {
        std::string id = attr(v, "id");
        byFlow[id.substr(0, id.rfind('.'))].push_back(std::stod(attr(v, "depart")));
    }
    return byFlow;
}

} // namespace

TEST(SumoRoutes, FlowExpansionMatchesSumoAndArithmetic) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    fs::path netFile = netgenerate(dir, "grid.net.xml");
    Network net = readSumoNet(netFile);
    fs::path routes = dir / "flows.rou.xml";
    test::writeText(routes, R"XML(<routes>
    <vType id="slow" accel="1.5" decel="4" sigma="0.2" length="4.5" minGap="2" maxSpeed="30" speedFactor="normc(0.9,0.05,0.2,2)"/>
    <vType id="idm" vClass="truck" carFollowModel="IDM" delta="3.5" tau="1.4"/>
    <route id="r1" edges="A0A1 A1A2"/>
    <vehicle id="v0" type="slow" depart="3" route="r1" departLane="0" departSpeed="max" departPos="10" arrivalPos="-5"/>
    <vehicle id="v1" depart="00:01:05"><route edges="A0A1 A1B1"/></vehicle>
    <trip id="t0" type="later" depart="7.5" from="A0A1" to="B1B2"/>
    <flow id="per" type="idm" begin="0" end="100" period="7" from="A0A1" to="A1A2"/>
    <flow id="perEdge" begin="0" end="98" period="7" from="A0A1" to="A1A2"/>
    <flow id="vph" begin="10" end="70" vehsPerHour="200" route="r1"/>
    <flow id="num" begin="5" end="65" number="7" from="A0A1" to="A1A2"/>
    <flow id="prob" begin="0" end="1000" probability="0.3" from="A0A1" to="A1A2"/>
    <flow id="poisson" begin="0" end="2000" period="exp(0.2)" from="A0A1" to="A1A2"/>
    <vType id="later" vClass="bicycle"/>
</routes>
)XML");
    Demand demand;
    readSumoRoutes(routes, net, demand, 42);
    EXPECT_EQ(demand.skipped.count, 0u) << (demand.skipped.reasons.empty() ? "" : demand.skipped.reasons[0]);

    std::map<std::string, std::vector<double>> ours;
    for (const Trip& t : demand.trips)
        if (t.id.find('.') != std::string::npos) ours[t.id.substr(0, t.id.rfind('.'))].push_back(t.departS);
    // Arithmetic: begin + k·period while < end; number n spaced (end-begin)/n.
    EXPECT_EQ(ours["per"].size(), size_t(std::ceil(100.0 / 7))); // 15: 0..98
    EXPECT_EQ(ours["perEdge"].size(), 14u);                        // 98 itself is not < 98
    EXPECT_EQ(ours["vph"].size(), size_t(std::ceil(60.0 / (3600.0 / 200))));
    EXPECT_EQ(ours["num"].size(), 7u);
    EXPECT_NEAR(ours["num"][1] - ours["num"][0], 60.0 / 7, 1e-9);
    // Bernoulli(0.3) on 1000 seconds: mean 300, sd 14.5; 5 sd.
    EXPECT_NEAR(double(ours["prob"].size()), 300.0, 5 * std::sqrt(1000 * 0.3 * 0.7));
    for (double t : ours["prob"]) EXPECT_EQ(t, std::floor(t));
    // Poisson arrivals at 0.2/s for 2000 s: mean 400, sd 20.
    EXPECT_NEAR(double(ours["poisson"].size()), 400.0, 5 * 20.0);

    // SUMO's own expansion of the deterministic flows.
    if (fs::exists(kDuarouter)) {
        auto sumo = duarouterDepartures(netFile, routes, dir / "out.rou.xml");
        for (const char* flow : {"per", "perEdge", "vph", "num"}) {
            ASSERT_EQ(ours[flow].size(), sumo[flow].size()) << flow;
            for (size_t k = 0; k < sumo[flow].size(); ++k) EXPECT_NEAR(ours[flow][k], sumo[flow][k], 0.006) << flow;
        }
    }

    // The same seed gives the same draw; another seed another one.
    Demand again, other;
    readSumoRoutes(routes, net, again, 42);
    readSumoRoutes(routes, net, other, 43);
    auto probTimes = [](const Demand& d) {
        std::vector<double> t;
        for (const Trip& trip : d.trips)
            if (trip.id.rfind("prob.", 0) == 0) t.push_back(trip.departS);
        return t;
    };
    EXPECT_EQ(probTimes(again), probTimes(demand));
    EXPECT_NE(probTimes(other), probTimes(demand));

    // Attributes as written in the file.
    auto trip = [&](const std::string& id) -> const Trip& {
        for (const Trip& t : demand.trips)
            if (t.id == id) return t;
        throw std::runtime_error("no trip " + id);
    };
    const Trip& v0 = trip("v0");
    const VehicleType& slow = demand.types[v0.type];
    EXPECT_EQ(slow.id, "slow");
    EXPECT_FLOAT_EQ(slow.speedFactor, 0.9f);
    EXPECT_FLOAT_EQ(slow.speedDev, 0.05f);
    EXPECT_FLOAT_EQ(slow.sigma, 0.2f);
    EXPECT_EQ(v0.departLane, 0);
    EXPECT_LT(v0.departSpeed, 0);
    EXPECT_FLOAT_EQ(v0.departPos, 10);
    EXPECT_NEAR(v0.arrivalPos, net.edges[*net.findEdge("A1A2")].lengthM - 5, 1e-4);
    ASSERT_EQ(v0.route.size(), 2u);
    EXPECT_EQ(net.edges[v0.route[1]].id, "A1A2");
    EXPECT_DOUBLE_EQ(trip("v1").departS, 65.0);
    const Trip& t0 = trip("t0"); // its type is defined further down the file
    EXPECT_EQ(demand.types[t0.type].id, "later");
    EXPECT_EQ(t0.mode, Mode::Bicycle);
    EXPECT_TRUE(t0.route.empty());
    EXPECT_EQ(net.edges[t0.toEdge].id, "B1B2");
    const VehicleType& idm = demand.types[trip("per.0").type];
    EXPECT_EQ(idm.model, CarFollowing::IDM);
    EXPECT_FLOAT_EQ(idm.idmDelta, 3.5f);
    EXPECT_FLOAT_EQ(idm.lengthM, 7.1f); // the truck default
    for (size_t i = 1; i < demand.trips.size(); ++i) EXPECT_LE(demand.trips[i - 1].departS, demand.trips[i].departS);
}

TEST(SumoRoutes, BadVehiclesAreSkippedWithFileAndLine) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    Network net = readSumoNet(netgenerate(dir, "grid.net.xml"));
    fs::path routes = dir / "bad.rou.xml";
    const std::string text = R"XML(<routes>
    <vehicle id="ok" depart="0"><route edges="A0A1 A1A2"/></vehicle>
    <vehicle id="unknownEdge" depart="1"><route edges="A0A1 nowhere"/></vehicle>
    <vehicle id="gap" depart="2"><route edges="A0A1 B1B2"/></vehicle>
    <vehicle id="waits" depart="triggered"><route edges="A0A1 A1A2"/></vehicle>
    <trip id="zoned" depart="3" fromTaz="1" toTaz="2"/>
    <person id="p1" depart="0"><walk from="A0A1" to="A1A2"/></person>
    <person id="p2" depart="0"><walk from="A0A1" to="A1A2"/></person>
    <trip id="ok2" depart="4" from="A0A1" to="C2B2"/>
</routes>
)XML";
    test::writeText(routes, text);
    Demand demand;
    readSumoRoutes(routes, net, demand);
    ASSERT_EQ(demand.trips.size(), 2u);
    EXPECT_EQ(demand.trips[0].id, "ok");
    EXPECT_EQ(demand.trips[1].id, "ok2");
    // 4 bad vehicles + 2 persons.
    EXPECT_EQ(demand.skipped.count, 6u);
    auto lineOf = [&](const std::string& needle) {
        size_t at = text.find(needle);
        return 1 + std::count(text.begin(), text.begin() + ptrdiff_t(at), '\n');
    };
    auto reasonAt = [&](const std::string& needle, const std::string& word) {
        std::string where = routes.string() + ":" + std::to_string(lineOf(needle)) + ":";
        for (const auto& r : demand.skipped.reasons)
            if (r.rfind(where, 0) == 0 && r.find(word) != std::string::npos) return true;
        return false;
    };
    EXPECT_TRUE(reasonAt("id=\"unknownEdge\"", "nowhere"));
    EXPECT_TRUE(reasonAt("id=\"gap\"", "not connected"));
    EXPECT_TRUE(reasonAt("id=\"waits\"", "triggered"));
    EXPECT_TRUE(reasonAt("id=\"zoned\"", "TAZ"));
    EXPECT_TRUE(reasonAt("id=\"p1\"", "2 persons"));
}

TEST(SumoRoutes, ZoneWeightsDrawTripEnds) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    Network net = readSumoNet(netgenerate(dir, "grid.net.xml"));
    test::writeText(dir / "zones.add.xml", R"XML(<additional>
    <taz id="w">
        <tazSource id="A0A1" weight="3"/>
        <tazSource id="B0B1" weight="1"/>
        <tazSource id="noSuchEdge" weight="5"/>
        <tazSink id="C2B2" weight="1"/>
    </taz>
    <taz id="e" edges="C1C2 C2B2"/>
</additional>
)XML");
    std::vector<Taz> zones = readSumoTaz(dir / "zones.add.xml", net);
    ASSERT_EQ(zones.size(), 2u);
    EXPECT_EQ(zones[0].sources.size(), 2u); // the unknown edge is dropped
    EXPECT_EQ(zones[1].sinks.size(), 2u);
    test::writeText(dir / "od.rou.xml", R"XML(<routes>
    <flow id="od" begin="0" end="4000" number="4000" fromTaz="w" to="C1C2"/>
    <flow id="zz" begin="0" end="100" number="100" fromTaz="w" toTaz="e"/>
</routes>
)XML");
    Demand demand;
    readSumoRoutes(dir / "od.rou.xml", net, demand, 5, zones);
    ASSERT_EQ(demand.trips.size(), 4100u);
    // One end in a zone: source weights 3:1 -> share 0.75 of A0A1, binomial sd sqrt(n·p·q).
    size_t fromA = 0;
    for (const Trip& t : demand.trips)
        if (t.id.rfind("od.", 0) == 0) fromA += net.edges[t.fromEdge].id == "A0A1";
    EXPECT_NEAR(double(fromA), 3000.0, 5 * std::sqrt(4000 * 0.75 * 0.25));
    // Zone to zone: SUMO's virtual source and sink nodes make every trip take the pair with
    // the fastest route (source edge included), found here by plain Dijkstra over all pairs.
    Router router(net, VClass::Passenger, 0);
    double best = std::numeric_limits<double>::infinity();
    std::pair<uint32_t, uint32_t> bestPair{kNone, kNone};
    for (uint32_t a : zones[0].sources)
        for (uint32_t b : zones[1].sinks) {
            RouteResult r = router.dijkstra(a, b);
            double cost = r.costS + net.edges[a].lengthM / net.edges[a].speedMps;
            if (r.found() && cost < best) {
                best = cost;
                bestPair = {a, b};
            }
        }
    for (const Trip& t : demand.trips)
        if (t.id.rfind("zz.", 0) == 0) {
            EXPECT_EQ(t.fromEdge, bestPair.first) << t.id;
            EXPECT_EQ(t.toEdge, bestPair.second) << t.id;
        }
}

TEST(SumoRoutes, LemgoConfigZonesAndOdFlows) {
    fs::path cfgFile = real("sumo-lemgo-owl322/sumo.sumocfg");
    REQUIRE_FILE(cfgFile);
    SumoConfig cfg = readSumoConfig(cfgFile);
    EXPECT_EQ(cfg.netFile, cfgFile.parent_path() / "sumo.net.xml");
    ASSERT_EQ(cfg.routeFiles.size(), 4u);
    EXPECT_EQ(cfg.routeFiles[1], cfgFile.parent_path() / "vehicle_types.rou.xml");
    ASSERT_EQ(cfg.additionalFiles.size(), 2u);
    EXPECT_EQ(cfg.additionalFiles[1].filename(), "taz.xml");
    EXPECT_DOUBLE_EQ(cfg.beginS, 15 * 3600.0);
    EXPECT_DOUBLE_EQ(cfg.endS, 16 * 3600.0 + 10 * 60);
    EXPECT_DOUBLE_EQ(cfg.timeToTeleportS, 300);

    Network net = readSumoNet(cfg.netFile);
    std::vector<Taz> zones = readSumoTaz(cfg.additionalFiles[1], net);
    const std::string tazText = slurp(cfg.additionalFiles[1]);
    std::set<std::string> tazEdges;
    for (const std::string& z : elements(tazText, "taz"))
        for (std::istringstream in(attr(z, "edges")); in;) {
            std::string e;
            if (in >> e) tazEdges.insert(e);
        }
    ASSERT_EQ(zones.size(), elements(tazText, "taz").size());
    EXPECT_EQ(tazEdges.size(), 8u);

    Demand demand;
    for (const fs::path& f : cfg.routeFiles) readSumoRoutes(f, net, demand, 7, zones);
    for (const char* type : {"car", "truck", "trailer", "bicycle", "passenger_dist0", "BUS_882"})
        EXPECT_TRUE(demand.findType(type)) << type;
    EXPECT_EQ(demand.types[*demand.findType("car")].lengthM, demand.types[*demand.findType("passenger_dist0")].lengthM);

    // OD flows: every trip starts and ends on a TAZ edge; their number is the sum over
    // flows of probability × duration (from the file's numbers), within 5 sd.
    size_t odTrips = 0;
    for (const Trip& t : demand.trips) {
        if (t.route.empty()) {
            ++odTrips;
            EXPECT_TRUE(tazEdges.count(net.edges[t.fromEdge].id)) << t.id;
            EXPECT_TRUE(tazEdges.count(net.edges[t.toEdge].id)) << t.id;
        }
    }
    double mean = 0, var = 0;
    auto hms = [](const std::string& s) {
        int h = 0, m = 0, sec = 0;
        std::sscanf(s.c_str(), "%d:%d:%d", &h, &m, &sec);
        return h * 3600.0 + m * 60 + sec;
    };
    for (const std::string& f : elements(slurp(cfg.routeFiles[2]), "flow")) {
        double p = std::stod(attr(f, "probability")), n = hms(attr(f, "end")) - hms(attr(f, "begin"));
        mean += p * n;
        var += p * (1 - p) * n;
    }
    EXPECT_GT(odTrips, 0u);
    EXPECT_NEAR(double(odTrips), mean, 5 * std::sqrt(var));
    // 76 personFlows in pedestrian_flows.rou.xml, counted in one line.
    bool personsNoted = false;
    for (const auto& r : demand.skipped.reasons) personsNoted |= r.find("76 persons") != std::string::npos;
    EXPECT_TRUE(personsNoted);
}

TEST(SumoRoutes, OsnabrueckVehiclesAllRead) {
    fs::path netFile = real("osm-sumo-osnabrueck-martini/martini.net.xml");
    fs::path routes = real("osm-sumo-osnabrueck-martini/martini.rou.xml");
    REQUIRE_FILE(routes);
    Network net = readSumoNet(netFile);
    Demand demand;
    readSumoRoutes(routes, net, demand);
    EXPECT_EQ(demand.trips.size(), countOccurrences(slurp(routes), "<vehicle "));
    EXPECT_EQ(demand.skipped.count, 0u) << (demand.skipped.reasons.empty() ? "" : demand.skipped.reasons[0]);
    for (const Trip& t : demand.trips) EXPECT_FALSE(t.route.empty()) << t.id;
}

// ---------------------------------------------------------------- writing

TEST(SumoWrite, TripsRoundTripAndSumoRunsThem) {
    REQUIRE_TOOL(kNetgenerate);
    test::TempDir dir;
    fs::path netFile = netgenerate(dir, "grid.net.xml");
    Network net = readSumoNet(netFile);
    fs::path routes = dir / "in.rou.xml";
    test::writeText(routes, R"XML(<routes>
    <vType id="idm" vClass="passenger" carFollowModel="IDM" delta="3.5" accel="1.8" speedFactor="1.1"/>
    <vType id="bike" vClass="bicycle"/>
    <vehicle id="r0" type="idm" depart="2.5" departLane="0" departSpeed="4.5" departPos="12" arrivalPos="30"><route edges="A0A1 A1A2 A2B2"/></vehicle>
    <trip id="t0" depart="1" from="A0A1" to="C1C2" departLane="best" departSpeed="max"/>
    <trip id="b0" type="bike" depart="1" from="B0B1" to="B1A1"/>
    <flow id="f" begin="0" end="30" period="10" from="C0C1" to="B2A2"/>
</routes>
)XML");
    Demand demand;
    readSumoRoutes(routes, net, demand);
    ASSERT_EQ(demand.skipped.count, 0u) << demand.skipped.reasons[0];
    ASSERT_EQ(demand.trips.size(), 6u);
    fs::path written = dir / "out.trips.xml";
    writeSumoTrips(written, net, demand);

    Demand back;
    readSumoRoutes(written, net, back);
    EXPECT_EQ(back.skipped.count, 0u);
    ASSERT_EQ(back.trips.size(), demand.trips.size());
    for (size_t i = 0; i < demand.trips.size(); ++i) {
        const Trip &a = demand.trips[i], &b = back.trips[i];
        EXPECT_EQ(a.id, b.id);
        EXPECT_DOUBLE_EQ(a.departS, b.departS);
        EXPECT_EQ(a.route, b.route);
        EXPECT_EQ(a.fromEdge, b.fromEdge);
        EXPECT_EQ(a.toEdge, b.toEdge);
        EXPECT_EQ(a.departLane, b.departLane);
        EXPECT_FLOAT_EQ(a.departSpeed, b.departSpeed);
        EXPECT_FLOAT_EQ(a.departPos, b.departPos);
        EXPECT_FLOAT_EQ(a.arrivalPos, b.arrivalPos);
        EXPECT_EQ(a.mode, b.mode);
        const VehicleType &ta = demand.types[a.type], &tb = back.types[b.type];
        EXPECT_EQ(ta.id, tb.id);
        EXPECT_EQ(ta.vclass, tb.vclass);
        EXPECT_EQ(ta.model, tb.model);
        EXPECT_FLOAT_EQ(ta.accel, tb.accel);
        EXPECT_FLOAT_EQ(ta.speedFactor, tb.speedFactor);
        EXPECT_FLOAT_EQ(ta.speedDev, tb.speedDev);
        EXPECT_FLOAT_EQ(ta.idmDelta, tb.idmDelta);
        EXPECT_FLOAT_EQ(ta.maxSpeedMps, tb.maxSpeedMps);
    }

    if (!fs::exists(kSumo)) GTEST_SKIP() << kSumo << " is missing: SUMO acceptance not checked";
    fs::path tripinfo = dir / "tripinfo.xml";
    int rc = run(std::string(kSumo) + " -n " + netFile.string() + " -r " + written.string() +
                 " --no-step-log --end 200 --tripinfo-output " + tripinfo.string());
    EXPECT_EQ(rc, 0) << "sumo rejected " << written;
    // SUMO drove every vehicle of the file to its destination.
    EXPECT_EQ(elements(slurp(tripinfo), "tripinfo").size(), demand.trips.size());
}

// The routing settings of a .sumocfg: SUMO's defaults (adapt every 1 s over 180 samples) when
// absent, the written values when given (interval 0 = no adaptation), a clear error for a
// sample count that is not a positive whole number.
TEST(SumoConfigFile, ReroutingAdaptationSettings) {
    test::TempDir dir;
    auto config = [&](const std::string& name, const std::string& routing) {
        fs::path f = dir / name;
        test::writeText(f, "<configuration><input><net-file value=\"x.net.xml\"/></input>" + routing + "</configuration>\n");
        return f;
    };
    SumoConfig plain = readSumoConfig(config("plain.sumocfg", ""));
    EXPECT_DOUBLE_EQ(plain.adaptationIntervalS, 1);
    EXPECT_EQ(plain.adaptationSteps, 180);
    SumoConfig off = readSumoConfig(config("off.sumocfg", "<routing><device.rerouting.adaptation-interval value=\"0\"/>"
                                                          "<device.rerouting.adaptation-steps value=\"30\"/></routing>"));
    EXPECT_DOUBLE_EQ(off.adaptationIntervalS, 0);
    EXPECT_EQ(off.adaptationSteps, 30);
    for (const char* bad : {"0", "-5", "ten", "12.5"}) {
        fs::path f = config(std::string("bad") + bad + ".sumocfg",
                            std::string("<routing><device.rerouting.adaptation-steps value=\"") + bad + "\"/></routing>");
        expectInputError(f, [&] { readSumoConfig(f); });
    }
}
