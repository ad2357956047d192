// The microscopic model against theory: SUMO's Krauss stopping rule against a direct step
// simulation, the fundamental diagram on a ring road against the Krauss and IDM equilibrium
// formulas, queue discharge at a signal against the theoretical headway, right of way, and
// results independent of the thread count.
#include "sim/mobility/Simulation.h"

#include <gtest/gtest.h>

#include "TestSupport.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <cstdio>
#include <numbers>

using namespace ct;
using namespace ct::mobility;

namespace {

// A chain of straight single-lane edges between junctions; edge i runs from junction i to
// junction i+1 (the last to junction 0 when `ring`). Links are major, no conflicts.
Network chain(const std::vector<double>& lengths, double speed, bool ring) {
    Network net;
    const size_t n = lengths.size();
    const size_t junctions = ring ? n : n + 1;
    double total = 0;
    for (double l : lengths) total += l;
    const double radius = total / (2 * std::numbers::pi);
    std::vector<Vec2> pos;
    double along = 0;
    for (size_t j = 0; j < junctions; ++j) {
        if (ring) {
            double a = 2 * std::numbers::pi * along / total;
            pos.emplace_back(radius * std::cos(a), radius * std::sin(a));
        } else {
            pos.emplace_back(along, 0);
        }
        if (j < n) along += lengths[j];
        Junction jn;
        jn.id = "j" + std::to_string(j);
        jn.pos = pos.back();
        net.junctions.push_back(jn);
    }
    for (size_t i = 0; i < n; ++i) {
        Edge e;
        e.id = "e" + std::to_string(i);
        e.fromJunction = uint32_t(i);
        e.toJunction = uint32_t((i + 1) % junctions);
        e.firstLane = uint32_t(net.lanes.size());
        e.laneCount = 1;
        e.lengthM = float(lengths[i]);
        e.speedMps = float(speed);
        Lane l;
        l.edge = uint32_t(i);
        l.lengthM = e.lengthM;
        l.speedMps = e.speedMps;
        l.shapeStart = uint32_t(net.shapePoints.size());
        net.shapePoints.push_back(pos[e.fromJunction]);
        net.shapePoints.push_back(pos[e.toJunction]);
        l.shapeEnd = uint32_t(net.shapePoints.size());
        net.edges.push_back(e);
        net.lanes.push_back(l);
    }
    const size_t links = ring ? n : n - 1;
    for (size_t i = 0; i < links; ++i) {
        Connection c;
        c.fromLane = uint32_t(i);
        c.toLane = uint32_t((i + 1) % n);
        c.junction = net.edges[i].toJunction;
        net.connections.push_back(c);
    }
    net.finalize("test chain");
    return net;
}

VehicleType carType(CarFollowing model, double sigma) {
    VehicleType t = VehicleType::defaults(VClass::Passenger);
    t.id = "car";
    t.model = model;
    t.sigma = float(sigma);
    t.speedDev = 0;
    return t;
}

struct RingResult {
    double density, flow, speed; // veh/km, veh/h, m/s
};

// N vehicles spread evenly on a 4 × 250 m ring, run `warmup` s, then measure for `measure` s.
RingResult runRing(int vehicles, CarFollowing model, double stepS, double sigma = 0, double warmup = 900,
                   double measure = 900) {
    const double edgeLength = 250, ringLength = 4 * edgeLength, speed = 13.89;
    Network net = chain({edgeLength, edgeLength, edgeLength, edgeLength}, speed, true);
    Demand demand;
    demand.types = {carType(model, sigma)};
    const double spacing = ringLength / vehicles;
    const int laps = 2 + int((warmup + measure) * speed / ringLength);
    for (int i = 0; i < vehicles; ++i) {
        double p = 5.0 + i * spacing; // front position along the ring
        uint32_t edge = uint32_t(p / edgeLength) % 4;
        Trip trip;
        trip.id = "v" + std::to_string(1000 + i);
        trip.departPos = float(std::fmod(p, edgeLength));
        trip.departSpeed = 0;
        for (int k = 0; k < 4 * laps; ++k) trip.route.push_back((edge + uint32_t(k)) % 4);
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    SimulationOptions opt;
    opt.stepS = stepS;
    opt.edgeIntervalS = warmup;
    opt.timeToTeleportS = 0;
    Simulation sim(net, demand, opt);
    sim.advance(warmup + measure);
    EXPECT_EQ(sim.counts().running, size_t(vehicles)) << "every vehicle stays on the ring";
    // Interval 1 = the measurement window; flow past every edge start, averaged.
    const auto& s = sim.edgeSamples().at(1);
    double entered = 0, seconds = 0, distance = 0;
    for (const auto& e : s) {
        entered += e.entered;
        seconds += e.vehicleSeconds;
        distance += e.distanceM;
    }
    RingResult r;
    r.density = vehicles / (ringLength / 1000);
    r.flow = entered / 4 / measure * 3600;
    r.speed = seconds > 0 ? distance / seconds : 0;
    return r;
}

} // namespace

// SUMO's Euler stopping rule: from the returned speed, braking by decel·dt every step (Euler
// positions: each step moves by the new speed) must stop within the gap; a bit faster must not.
TEST(MobilityModel, KraussStopSpeedAgainstStepSimulation) {
    auto stoppingDistance = [](double v0, double decel, double headway, double dt) {
        // The first step still moves at v0 (reaction: `headway`), then brakes.
        double d = v0 * headway, v = v0;
        while (v > 0) {
            d += v * dt;
            v -= decel * dt;
        }
        return d;
    };
    for (double dt : {1.0, 0.5}) {
        for (double gap : {0.5, 3.0, 10.0, 27.3, 80.0, 200.0}) {
            const double v = krauss::maximumSafeStopSpeed(gap, 4.5, dt, dt);
            // With headway = one step, the step the speed is applied in is the reaction step.
            EXPECT_LE(stoppingDistance(v, 4.5, 0, dt), gap + 1e-6) << "gap " << gap << " dt " << dt;
            EXPECT_GT(stoppingDistance(v + 0.05, 4.5, 0, dt), gap - 0.01) << "gap " << gap << " dt " << dt;
        }
    }
    // Brake gap: distance covered while braking after the current step.
    EXPECT_NEAR(krauss::brakeGap(9.0, 4.5, 0, 1.0), 4.5, 1e-12); // 4.5 then 0
    EXPECT_NEAR(krauss::brakeGap(13.5, 4.5, 1.0, 1.0), 9 + 4.5 + 13.5, 1e-12);
}

// Ring road, Krauss without dawdling: free branch q = k·v0, congested q = (1 − k·s)/τ with
// s = length + minGap (Krauss 1998: equilibrium gap v·τ). Capacity at k = 1/(v0·τ + s).
TEST(MobilityModel, KraussFundamentalDiagramOnRing) {
    const double v0 = 13.89, tau = 1.0, s = 5.0 + 2.5;
    const double qMax = v0 / (v0 * tau + s) * 3600;   // veh/h
    const double kJam = 1000 / s;                       // veh/km
    double bestFlow = 0;
    std::vector<RingResult> congested;
    for (int n : {20, 35, 45, 47, 50, 60, 80, 100, 120}) {
        RingResult r = runRing(n, CarFollowing::Krauss, 1.0);
        std::printf("krauss k=%.1f veh/km q=%.0f veh/h v=%.2f m/s\n", r.density, r.flow, r.speed);
        bestFlow = std::max(bestFlow, r.flow);
        if (r.density > 60) congested.push_back(r);
        // Free branch: every vehicle at its desired speed.
        if (r.density < 30) EXPECT_NEAR(r.speed, v0, 0.02 * v0) << "density " << r.density;
    }
    std::printf("krauss capacity: theory %.0f veh/h, simulated %.0f\n", qMax, bestFlow);
    EXPECT_NEAR(bestFlow, qMax, 0.05 * qMax);
    // Congested branch: least-squares line through (k, q); its zero is the jam density.
    double sk = 0, sq = 0, skk = 0, skq = 0, m = double(congested.size());
    for (auto& r : congested) {
        sk += r.density;
        sq += r.flow;
        skk += r.density * r.density;
        skq += r.density * r.flow;
    }
    const double slope = (m * skq - sk * sq) / (m * skk - sk * sk), intercept = (sq - slope * sk) / m;
    const double fittedJam = -intercept / slope;
    std::printf("krauss jam density: theory %.1f veh/km, fitted %.1f\n", kJam, fittedJam);
    EXPECT_NEAR(fittedJam, kJam, 0.05 * kJam) << "slope " << slope << " intercept " << intercept;
}

// IDM (Treiber et al. 2000): equilibrium gap s*(v) = (s0 + v·T) / sqrt(1 − (v/v0)^δ), flow
// q(v) = v / (s*(v) + l). Capacity = max over v; jam density = 1 / (s0 + l).
TEST(MobilityModel, IdmFundamentalDiagramOnRing) {
    const double v0 = 13.89, T = 1.0, s0 = 2.5, l = 5.0, delta = 4;
    double qMax = 0;
    for (double v = 0.01; v < v0; v += 0.001) {
        double sStar = (s0 + v * T) / std::sqrt(1 - std::pow(v / v0, delta));
        qMax = std::max(qMax, v / (sStar + l) * 3600);
    }
    double bestFlow = 0;
    for (int n : {30, 40, 45, 50, 55, 60, 70}) {
        RingResult r = runRing(n, CarFollowing::IDM, 0.2);
        std::printf("idm k=%.1f veh/km q=%.0f veh/h v=%.2f m/s\n", r.density, r.flow, r.speed);
        bestFlow = std::max(bestFlow, r.flow);
    }
    std::printf("idm capacity: theory %.0f veh/h, simulated %.0f\n", qMax, bestFlow);
    EXPECT_NEAR(bestFlow, qMax, 0.05 * qMax);
    // Near jam density (95 % of 1/(s0+l)) the flow is a small fraction of capacity and the
    // speed is the equilibrium speed for that spacing.
    const double spacing = 1000.0 / 127;
    RingResult dense = runRing(127, CarFollowing::IDM, 0.2);
    double vEq = 0; // solve s*(v) + l = spacing
    for (double v = 0; v < v0; v += 1e-4)
        if ((s0 + v * T) / std::sqrt(1 - std::pow(v / v0, delta)) + l <= spacing) vEq = v;
    EXPECT_NEAR(dense.speed, vEq, 0.05 * v0);
}

// A queue released by a fixed-time signal: the discharge headway of Krauss without dawdling
// is not the capacity headway τ + (length + minGap)/v0 = 1.54 s — followers start one step
// after their leader and accelerate against its brake gap — so the reference is SUMO itself
// on the same road, signal and vehicles (the 20 headways after the 10th vehicle).
TEST(MobilityModel, QueueDischargeAtSignalMatchesSumo) {
    if (std::system("command -v sumo > /dev/null && command -v netconvert > /dev/null") != 0)
        GTEST_SKIP() << "SUMO is not installed (Debian package sumo)";
    constexpr int kVehicles = 40;
    auto departOf = [](int i) { return i * 2.5; };
    // citytwin.
    Network net = chain({1500, 1500}, 13.89, false);
    SignalProgram program;
    program.id = "tl";
    program.phases = {{120, "r"}, {600, "G"}};
    net.signals.push_back(program);
    net.connections[0].signal = 0;
    net.connections[0].signalIndex = 0;
    net.junctions[1].type = JunctionType::TrafficLight;
    net.junctions[1].signal = 0;
    net.finalize("signal test");
    Demand demand;
    demand.types = {carType(CarFollowing::Krauss, 0)};
    for (int i = 0; i < kVehicles; ++i) {
        Trip trip;
        trip.id = "q" + std::to_string(100 + i);
        trip.departS = departOf(i);
        trip.route = {0, 1};
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    Simulation sim(net, demand, SimulationOptions{});
    sim.runToEnd(1000);
    std::vector<double> ours;
    for (const auto& r : sim.results()) ours.push_back(r.arrivalS);
    std::sort(ours.begin(), ours.end());
    ASSERT_EQ(ours.size(), size_t(kVehicles));
    EXPECT_GE(ours.front(), 120.0 + 1500 / 13.89) << "nobody crosses on red";

    // SUMO on the same road: nodes and edges through netconvert, the same fixed-time program.
    test::TempDir dir;
    test::writeText(dir / "n.nod.xml", R"(<nodes><node id="a" x="0" y="0"/><node id="b" x="1500" y="0" type="traffic_light"/>
<node id="c" x="3000" y="0"/></nodes>)");
    test::writeText(dir / "e.edg.xml", R"(<edges><edge id="e0" from="a" to="b" numLanes="1" speed="13.89"/>
<edge id="e1" from="b" to="c" numLanes="1" speed="13.89"/></edges>)");
    test::writeText(dir / "p.tll.xml", R"(<additional><tlLogic id="b" type="static" programID="0" offset="0">
<phase duration="120" state="r"/><phase duration="600" state="G"/></tlLogic></additional>)");
    std::string routes = R"(<routes><vType id="car" sigma="0" speedDev="0"/>)";
    for (int i = 0; i < kVehicles; ++i)
        routes += "<vehicle id=\"q" + std::to_string(100 + i) + "\" type=\"car\" depart=\"" +
                  std::to_string(departOf(i)) + "\"><route edges=\"e0 e1\"/></vehicle>";
    test::writeText(dir / "q.rou.xml", routes + "</routes>");
    const std::string d = dir.path().string();
    const std::string cmd = "cd '" + d + "' && netconvert -n n.nod.xml -e e.edg.xml -i p.tll.xml -o q.net.xml > log.txt 2>&1 && " +
                            "sumo -n q.net.xml -r q.rou.xml --tripinfo-output ti.xml --no-step-log -e 1000 >> log.txt 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "see " << d << "/log.txt";
    std::ifstream in(dir / "ti.xml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<double> sumo;
    std::regex arrival(R"re(arrival="([0-9.]+)")re");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), arrival); it != std::sregex_iterator(); ++it)
        sumo.push_back(std::stod((*it)[1]));
    std::sort(sumo.begin(), sumo.end());
    ASSERT_EQ(sumo.size(), size_t(kVehicles));

    const double headwayOurs = (ours[30] - ours[10]) / 20, headwaySumo = (sumo[30] - sumo[10]) / 20;
    std::printf("queue discharge headway: citytwin %.3f s, SUMO %.3f s, capacity headway %.3f s\n", headwayOurs,
                headwaySumo, 1.0 + 7.5 / 13.89);
    EXPECT_NEAR(headwayOurs, headwaySumo, 0.05 * headwaySumo);
    EXPECT_NEAR(ours.front(), sumo.front(), 3.0) << "first vehicle's arrival";
}

namespace {

// An n × n grid of two-way single-lane streets, 100 m apart, every junction unregulated with
// all turns but U-turns: enough traffic for the parallel paths to run.
Network grid(int n, double speed) {
    Network net;
    auto junction = [n](int x, int y) { return uint32_t(y * n + x); };
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            Junction j;
            j.id = std::to_string(x) + "/" + std::to_string(y);
            j.pos = Vec2(100.0 * x, 100.0 * y);
            j.type = JunctionType::Unregulated;
            net.junctions.push_back(j);
        }
    auto addEdge = [&](uint32_t a, uint32_t b) {
        Edge e;
        e.id = net.junctions[a].id + "-" + net.junctions[b].id;
        e.fromJunction = a;
        e.toJunction = b;
        e.firstLane = uint32_t(net.lanes.size());
        e.laneCount = 1;
        e.lengthM = 100;
        e.speedMps = float(speed);
        Lane l;
        l.edge = uint32_t(net.edges.size());
        l.lengthM = 100;
        l.speedMps = float(speed);
        l.shapeStart = uint32_t(net.shapePoints.size());
        net.shapePoints.push_back(net.junctions[a].pos);
        net.shapePoints.push_back(net.junctions[b].pos);
        l.shapeEnd = uint32_t(net.shapePoints.size());
        net.edges.push_back(e);
        net.lanes.push_back(l);
    };
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            if (x + 1 < n) {
                addEdge(junction(x, y), junction(x + 1, y));
                addEdge(junction(x + 1, y), junction(x, y));
            }
            if (y + 1 < n) {
                addEdge(junction(x, y), junction(x, y + 1));
                addEdge(junction(x, y + 1), junction(x, y));
            }
        }
    for (uint32_t a = 0; a < net.edges.size(); ++a)
        for (uint32_t b = 0; b < net.edges.size(); ++b) {
            const Edge &in = net.edges[a], &out = net.edges[b];
            if (in.toJunction != out.fromJunction || out.toJunction == in.fromJunction) continue;
            Connection c;
            c.fromLane = in.firstLane;
            c.toLane = out.firstLane;
            c.junction = in.toJunction;
            net.connections.push_back(c);
        }
    net.finalize("test grid");
    return net;
}

Demand randomTrips(const Network& net, int count, double periodS, uint64_t seed) {
    Demand demand;
    demand.types = {VehicleType::defaults(VClass::Passenger)};
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<uint32_t> edge(0, uint32_t(net.edges.size() - 1));
    for (int i = 0; i < count; ++i) {
        Trip trip;
        trip.id = "t" + std::to_string(i);
        trip.departS = i * periodS;
        trip.fromEdge = edge(rng);
        do trip.toEdge = edge(rng);
        while (trip.toEdge == trip.fromEdge);
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    return demand;
}

} // namespace

// Dawdling, speed factors, routing (ahead, or adaptive at departure) and the parallel phases:
// the same trips give bit-identical results and routes with 1 and 2 threads, and a different
// seed gives different ones.
TEST(MobilityModel, ResultsDoNotDependOnThreads) {
    Network net = grid(12, 13.89);
    Demand demand = randomTrips(net, 3000, 0.5, 7);
    struct Run {
        std::vector<TripResult> results;
        std::vector<std::vector<uint32_t>> routes;
    };
    auto run = [&](int threads, uint64_t seed, bool adaptive) {
        SimulationOptions opt;
        opt.threads = threads;
        opt.seed = seed;
        opt.adaptiveRouting = adaptive;
        Simulation sim(net, demand, opt);
        sim.runToEnd(4 * 3600);
        EXPECT_TRUE(sim.finished());
        EXPECT_GT(sim.counts().vehicleUpdates, 100000u);
        Run r{sim.results(), {}};
        for (uint32_t i = 0; i < demand.trips.size(); ++i) r.routes.push_back(sim.route(i));
        return r;
    };
    for (bool adaptive : {false, true}) {
        Run one = run(1, 1, adaptive), two = run(2, 1, adaptive), other = run(2, 2, adaptive);
        size_t arrived = 0, differ = 0;
        for (size_t i = 0; i < one.results.size(); ++i) {
            ASSERT_EQ(one.results[i].status, two.results[i].status) << i;
            EXPECT_EQ(one.routes[i], two.routes[i]) << "trip " << i;
            if (one.results[i].status != TripResult::Status::Arrived) continue;
            ++arrived;
            EXPECT_EQ(one.results[i].arrivalS, two.results[i].arrivalS) << "trip " << i;
            EXPECT_EQ(one.results[i].routeLengthM, two.results[i].routeLengthM) << "trip " << i;
            if (other.results[i].arrivalS != one.results[i].arrivalS) ++differ;
        }
        std::printf("%s routing: %zu of %zu arrived, %zu differ with another seed\n", adaptive ? "adaptive" : "static",
                    arrived, one.results.size(), differ);
        EXPECT_GT(arrived, one.results.size() * 9 / 10);
        EXPECT_GT(differ, arrived / 4) << "another seed dawdles differently";
    }
}

// A minor road joining a busy major road: minor vehicles wait for gaps; at no step do two
// vehicles overlap on the shared lane, and the minor road still gets through.
TEST(MobilityModel, MinorRoadYieldsAtMerge) {
    // Junction 1 at (1000, 0): west edge 0 → east edge 1 (major), south edge 2 → east (minor).
    Network net;
    for (Vec2 p : {Vec2(0, 0), Vec2(1000, 0), Vec2(2000, 0), Vec2(1000, -500)}) {
        Junction j;
        j.id = "j" + std::to_string(net.junctions.size());
        j.pos = p;
        net.junctions.push_back(j);
    }
    auto addEdge = [&](uint32_t a, uint32_t b) {
        Edge e;
        e.id = "e" + std::to_string(net.edges.size());
        e.fromJunction = a;
        e.toJunction = b;
        e.firstLane = uint32_t(net.lanes.size());
        e.laneCount = 1;
        e.lengthM = float((net.junctions[b].pos - net.junctions[a].pos).norm());
        e.speedMps = 13.89f;
        Lane l;
        l.edge = uint32_t(net.edges.size());
        l.lengthM = e.lengthM;
        l.speedMps = e.speedMps;
        l.shapeStart = uint32_t(net.shapePoints.size());
        net.shapePoints.push_back(net.junctions[a].pos);
        net.shapePoints.push_back(net.junctions[b].pos);
        l.shapeEnd = uint32_t(net.shapePoints.size());
        net.edges.push_back(e);
        net.lanes.push_back(l);
    };
    addEdge(0, 1);
    addEdge(1, 2);
    addEdge(3, 1);
    Connection major, minor;
    major.fromLane = 0;
    major.toLane = 1;
    major.junction = 1;
    minor.fromLane = 2;
    minor.toLane = 1;
    minor.junction = 1;
    minor.major = false;
    minor.dir = LinkDir::Right;
    // Conflict lists hold connection indices (major = 0, minor = 1): the minor link crosses
    // and yields to the major one; the major link only crosses the minor one.
    net.linkRefs = {1, 0};
    major.foeStart = 0;
    major.foeEnd = 1;
    minor.yieldStart = minor.foeStart = 1;
    minor.yieldEnd = minor.foeEnd = 2;
    net.connections = {major, minor};
    net.finalize("merge test");

    Demand demand;
    demand.types = {carType(CarFollowing::Krauss, 0)}; // no dawdling: any time loss is yielding
    std::mt19937_64 rng(3);
    std::exponential_distribution<double> headway(1.0 / 4.0);
    double depart = 0;
    for (int i = 0; i < 200; ++i) { // major: random arrivals, 900 veh/h
        Trip trip;
        trip.id = "m" + std::to_string(1000 + i);
        trip.departS = depart;
        depart += std::max(1.6, headway(rng));
        trip.route = {0, 1};
        demand.trips.push_back(trip);
    }
    for (int i = 0; i < 40; ++i) { // minor: one every 20 s
        Trip trip;
        trip.id = "s" + std::to_string(1000 + i);
        trip.departS = 20.0 * i;
        trip.route = {2, 1};
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    SimulationOptions opt;
    opt.timeToTeleportS = 0;
    Simulation sim(net, demand, opt);
    std::vector<VehicleState> states;
    size_t overlaps = 0;
    while (!sim.finished() && sim.time() < 3000) {
        sim.step();
        sim.vehicles(states);
        std::vector<double> east; // centre positions on the shared east edge
        for (auto& s : states)
            if (s.pos.x() > 1000.5 && std::abs(s.pos.y()) < 1e-6) east.push_back(s.pos.x());
        std::sort(east.begin(), east.end());
        for (size_t i = 1; i < east.size(); ++i)
            if (east[i] - east[i - 1] < 5.0 - 1e-6) ++overlaps;
    }
    EXPECT_TRUE(sim.finished());
    EXPECT_EQ(overlaps, 0u);
    double minorWait = 0, majorWait = 0;
    for (size_t i = 0; i < demand.trips.size(); ++i) {
        ASSERT_EQ(sim.results()[i].status, TripResult::Status::Arrived);
        (demand.trips[i].id[0] == 's' ? minorWait : majorWait) += sim.results()[i].timeLossS;
    }
    // Without dawdling the only time loss of an undisturbed trip is the start from standstill:
    // Σ (1 − v_k/v0)·dt over the Euler steps v_k = min(k·a·dt, v0) (2.19 s; v0/2a = 2.67 s in
    // continuous time). The minor road adds the waiting for gaps.
    double startLoss = 0;
    for (int k = 1; k * 2.6 < 13.89; ++k) startLoss += 1 - k * 2.6 / 13.89;
    std::printf("mean time loss: minor %.1f s, major %.1f s\n", minorWait / 40, majorWait / 200);
    EXPECT_NEAR(majorWait / 200, startLoss, 0.3) << "major vehicles are hardly delayed";
    EXPECT_GT(minorWait / 40, majorWait / 200 + 2.0) << "minor vehicles wait for gaps";
}

// A road closed while the run goes on (the viewer's or a script's live edit): trips departing
// afterwards go around it instead of being given up; trips that passed before used it.
TEST(MobilityModel, LiveClosureReroutesLaterDepartures) {
    Network net = grid(5, 13.89);
    // Trips along the bottom row from (0,0) to (4,0): the straight route uses the edge
    // (2,0)→(3,0); closing it forces a detour through the row above.
    auto edgeBetween = [&](const std::string& a, const std::string& b) {
        return *net.findEdge(a + "-" + b);
    };
    const uint32_t from = edgeBetween("0/0", "1/0"), to = edgeBetween("3/0", "4/0"),
                   closed = edgeBetween("2/0", "3/0");
    Demand demand;
    demand.types = {carType(CarFollowing::Krauss, 0)};
    for (int i = 0; i < 10; ++i) {
        Trip trip;
        trip.id = "t" + std::to_string(100 + i);
        trip.departS = i < 5 ? 10.0 * i : 400 + 10.0 * i;
        trip.fromEdge = from;
        trip.toEdge = to;
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    Simulation sim(net, demand, SimulationOptions{});
    sim.advance(300);
    for (uint32_t l = net.edges[closed].firstLane; l < net.edges[closed].firstLane + net.edges[closed].laneCount; ++l)
        net.lanes[l].allow = 0;
    sim.runToEnd(2000);
    for (uint32_t i = 0; i < demand.trips.size(); ++i) {
        ASSERT_EQ(sim.results()[i].status, TripResult::Status::Arrived) << demand.trips[i].id;
        const auto& route = sim.route(i);
        const bool usesClosed = std::find(route.begin(), route.end(), closed) != route.end();
        EXPECT_EQ(usesClosed, demand.trips[i].departS < 300) << demand.trips[i].id;
        // Straight: 4 edges; around the closed block: 2 more.
        EXPECT_EQ(route.size(), demand.trips[i].departS < 300 ? 4u : 6u) << demand.trips[i].id;
    }
}

// Adaptive routing (SUMO's default for trips): a trip is routed when it departs, on each
// edge's speed averaged over the last 180 one-second samples. Tractors at 2 m/s occupy the
// bottom row's edge (2,0)→(3,0) from t = 0. Worked out by hand: the straight route (3 more
// edges of 100 m at 13.89 m/s after the first) beats the detour through the row above (2 edges
// more, +14.4 s) until that edge's averaged speed falls below 100 / (7.2 + 14.4) = 4.63 m/s,
// i.e. after about 0.78 × 180 = 140 s of samples at ~2 m/s. Cars departing at t ≤ 40 s go
// straight; cars departing from t = 400 s go around — and with static routing straight.
TEST(MobilityModel, AdaptiveRoutingAvoidsASlowEdge) {
    Network net = grid(5, 13.89);
    auto edgeBetween = [&](const std::string& a, const std::string& b) { return *net.findEdge(a + "-" + b); };
    const uint32_t from = edgeBetween("0/0", "1/0"), to = edgeBetween("3/0", "4/0"), slow = edgeBetween("2/0", "3/0");
    Demand demand;
    demand.types = {carType(CarFollowing::Krauss, 0), carType(CarFollowing::Krauss, 0)};
    demand.types[1].id = "tractor";
    demand.types[1].maxSpeedMps = 2;
    for (int i = 0; i < 40; ++i) { // one every 15 s on the slow edge, each ~50 s on it
        Trip trip;
        trip.id = "tractor" + std::to_string(i);
        trip.type = 1;
        trip.departS = 15.0 * i;
        trip.fromEdge = slow;
        trip.toEdge = to;
        demand.trips.push_back(trip);
    }
    for (double depart : {0.0, 20.0, 40.0, 400.0, 420.0, 440.0}) {
        Trip trip;
        trip.id = "car" + std::to_string(int(depart));
        trip.departS = depart;
        trip.fromEdge = from;
        trip.toEdge = to;
        demand.trips.push_back(trip);
    }
    demand.sortTrips();
    for (bool adaptive : {true, false}) {
        SimulationOptions opt;
        opt.adaptiveRouting = adaptive;
        Simulation sim(net, demand, opt);
        sim.runToEnd(3000);
        for (uint32_t i = 0; i < demand.trips.size(); ++i) {
            const Trip& trip = demand.trips[i];
            ASSERT_EQ(sim.results()[i].status, TripResult::Status::Arrived) << trip.id;
            if (trip.type != 0) continue;
            const bool around = adaptive && trip.departS >= 400;
            EXPECT_EQ(sim.route(i).size(), around ? 6u : 4u) << trip.id << (adaptive ? " adaptive" : " static");
        }
    }
}
