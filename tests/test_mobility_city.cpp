// The traffic network and the demand built from the city model, and CSV trips. References:
// connection counts, turn directions and right of way worked out by hand on small built road
// graphs; geometric crossings computed here independently of the builder; path lengths against
// the polyline length; trip totals from floor area × rate by hand; purpose shares, peak hours
// and the mode-choice logit against the values documented in docs/mobility.md.
#include "TestSupport.h"
#include "city/Import.h"
#include "core/Error.h"
#include "sim/Scenario.h"
#include "sim/mobility/CityDemand.h"
#include "sim/mobility/CityDemandDetail.h"
#include "sim/mobility/CityNetwork.h"

#include <chrono>
#include <cmath>
#include <gtest/gtest.h>
#include <map>
#include <numeric>
#include <set>

using namespace ct;
using namespace ct::mobility;
using namespace ct::test;

namespace {

// --- Building road graphs by hand -------------------------------------------------------------

struct RoadBuilder {
    RoadNetwork net;

    uint32_t node(double x, double y) {
        net.nodePos.emplace_back(x, y);
        return uint32_t(net.nodePos.size() - 1);
    }
    uint32_t addEdge(uint32_t a, uint32_t b, std::vector<Vec2> shape, RoadClass c, double kmh, int lanes) {
        uint32_t e = uint32_t(net.from.size());
        net.from.push_back(NodeId(a));
        net.to.push_back(NodeId(b));
        net.shapePoints.insert(net.shapePoints.end(), shape.begin(), shape.end());
        net.shapeStart.push_back(uint32_t(net.shapePoints.size()));
        net.lengthM.push_back(float(length(shape)));
        net.speedMps.push_back(float(kmh / 3.6));
        net.lanes.push_back(uint8_t(lanes));
        net.roadClass.push_back(c);
        net.layer.push_back(0);
        net.flags.push_back(0);
        net.reverse.push_back(EdgeId());
        net.way.push_back(uint32_t(net.wayId.size()));
        net.wayId.push_back("w" + std::to_string(e));
        net.wayName.push_back("");
        return e;
    }
    // A road from a to b through `via`; returns {forward, backward} (backward = UINT32_MAX if one-way).
    std::pair<uint32_t, uint32_t> road(uint32_t a, uint32_t b, RoadClass c, double kmh, int lanes = 1,
                                       bool twoWay = true, std::vector<Vec2> via = {}) {
        std::vector<Vec2> shape{net.nodePos[a]};
        shape.insert(shape.end(), via.begin(), via.end());
        shape.push_back(net.nodePos[b]);
        uint32_t f = addEdge(a, b, shape, c, kmh, lanes), r = UINT32_MAX;
        if (twoWay) {
            r = addEdge(b, a, std::vector<Vec2>(shape.rbegin(), shape.rend()), c, kmh, lanes);
            net.reverse[f] = EdgeId(r);
            net.reverse[r] = EdgeId(f);
        }
        return {f, r};
    }
    RoadNetwork done() {
        net.buildAdjacency();
        return net;
    }
};

uint32_t edgeOf(const Network& net, uint32_t cityEdge) {
    auto e = net.findEdge(std::to_string(cityEdge));
    EXPECT_TRUE(e.has_value()) << "city edge " << cityEdge << " missing";
    return e.value_or(0);
}

// Connections from city edge a to city edge b.
std::vector<uint32_t> links(const Network& net, uint32_t cityA, uint32_t cityB) {
    uint32_t a = edgeOf(net, cityA), b = edgeOf(net, cityB);
    std::vector<uint32_t> out;
    for (uint32_t c = 0; c < net.connections.size(); ++c)
        if (net.lanes[net.connections[c].fromLane].edge == a && net.lanes[net.connections[c].toLane].edge == b)
            out.push_back(c);
    return out;
}

uint32_t link(const Network& net, uint32_t cityA, uint32_t cityB) {
    auto l = links(net, cityA, cityB);
    EXPECT_EQ(l.size(), 1u) << cityA << " -> " << cityB;
    return l.empty() ? 0 : l[0];
}

size_t linksAt(const Network& net, uint32_t junction) {
    size_t n = 0;
    for (const Connection& c : net.connections) n += c.junction == junction;
    return n;
}

uint32_t junctionAtNode(const Network& net, uint32_t node) {
    for (uint32_t j = 0; j < net.junctions.size(); ++j)
        if (net.junctions[j].id == std::to_string(node)) return j;
    ADD_FAILURE() << "no junction for node " << node;
    return 0;
}

bool contains(std::span<const uint32_t> list, uint32_t x) { return std::find(list.begin(), list.end(), x) != list.end(); }

// Independent geometry: do two polylines properly cross?
bool crosses(std::span<const Vec2> a, std::span<const Vec2> b) {
    auto orient = [](const Vec2& p, const Vec2& q, const Vec2& r) {
        return (q.x() - p.x()) * (r.y() - p.y()) - (q.y() - p.y()) * (r.x() - p.x());
    };
    for (size_t i = 1; i < a.size(); ++i)
        for (size_t j = 1; j < b.size(); ++j) {
            double o1 = orient(a[i - 1], a[i], b[j - 1]), o2 = orient(a[i - 1], a[i], b[j]);
            double o3 = orient(b[j - 1], b[j], a[i - 1]), o4 = orient(b[j - 1], b[j], a[i]);
            if (o1 * o2 < 0 && o3 * o4 < 0) return true;
        }
    return false;
}

std::span<const Vec2> viaShape(const Network& net, uint32_t c) { return net.laneShape(net.connections[c].viaLane); }

// Foe lists are symmetric, a link yields only to its foes, and of two foes at most one waits
// for the other (no pair can block each other).
void expectConsistentConflicts(const Network& net) {
    for (uint32_t self = 0; self < net.connections.size(); ++self) {
        const Connection& c = net.connections[self];
        for (uint32_t f : net.foes(c)) {
            EXPECT_TRUE(contains(net.foes(net.connections[f]), self));
            EXPECT_EQ(net.connections[f].junction, c.junction);
        }
        for (uint32_t y : net.yieldTo(c)) {
            EXPECT_TRUE(contains(net.foes(c), y));
            EXPECT_FALSE(contains(net.yieldTo(net.connections[y]), self)) << "links " << self << " and " << y;
        }
    }
}

// --- Edges, lanes, classes ------------------------------------------------------------------

TEST(CityNetwork, EdgesLanesAndClassesFollowTheRoadClass) {
    RoadBuilder b;
    uint32_t hub = b.node(0, 0);
    auto motorway = b.road(hub, b.node(500, 0), RoadClass::Motorway, 130, 0, false);
    auto trunk = b.road(b.node(0, 500), hub, RoadClass::Trunk, 100, 0, false);
    auto residential = b.road(hub, b.node(-300, 0), RoadClass::Residential, 30, 0);
    auto cycleway = b.road(hub, b.node(0, -200), RoadClass::Cycleway, 20, 1);
    auto footway = b.road(hub, b.node(100, -100), RoadClass::Footway, 5, 1);
    auto oneWay = b.road(b.node(-300, 300), hub, RoadClass::Secondary, 50, 2, false);
    Network net = buildCityNetwork(b.done());

    // Footway (2 city edges) left out; every other city edge once, id = city index.
    EXPECT_EQ(net.edges.size(), b.net.edgeCount() - 2);
    EXPECT_FALSE(net.findEdge(std::to_string(footway.first)));
    for (const Edge& e : net.edges) {
        EXPECT_EQ(e.id, std::to_string(e.sourceEdge));
        EXPECT_FLOAT_EQ(e.lengthM, b.net.lengthM[e.sourceEdge]);
    }
    const Edge& mw = net.edges[edgeOf(net, motorway.first)];
    EXPECT_EQ(mw.laneCount, 2); // lanes unknown: motorway default
    EXPECT_EQ(net.edges[edgeOf(net, residential.first)].laneCount, 1);
    EXPECT_EQ(net.edges[edgeOf(net, oneWay.first)].laneCount, 2);
    EXPECT_FALSE(net.allows(edgeOf(net, motorway.first), VClass::Bicycle));
    EXPECT_FALSE(net.allows(edgeOf(net, trunk.first), VClass::Bicycle));
    EXPECT_TRUE(net.allows(edgeOf(net, residential.first), VClass::Bicycle));
    EXPECT_TRUE(net.allows(edgeOf(net, cycleway.first), VClass::Bicycle));
    EXPECT_FALSE(net.allows(edgeOf(net, cycleway.first), VClass::Passenger));
    EXPECT_GT(mw.priority, net.edges[edgeOf(net, trunk.first)].priority);
    EXPECT_GT(net.edges[edgeOf(net, oneWay.first)].priority, net.edges[edgeOf(net, residential.first)].priority);
    EXPECT_GT(net.edges[edgeOf(net, residential.first)].priority, net.edges[edgeOf(net, cycleway.first)].priority);

    // Bicycles from the cycleway go only where bicycles may drive.
    uint32_t cycleIn = edgeOf(net, cycleway.second);
    for (const Connection& c : net.connections)
        if (net.lanes[c.fromLane].edge == cycleIn) {
            EXPECT_TRUE(net.lanes[c.toLane].allow & classBit(VClass::Bicycle));
        }
    EXPECT_TRUE(links(net, cycleway.second, motorway.first).empty());
    EXPECT_EQ(links(net, cycleway.second, residential.first).size(), 1u);

    // Lane centre lines: the two-way residential road heading west (-x) keeps right (north,
    // +1.6 m); the one-way secondary's two lanes sit either side of its axis.
    auto west = net.laneShape(net.edges[edgeOf(net, residential.first)].firstLane);
    EXPECT_NEAR(west[west.size() / 2].y(), 1.6, 1e-9);
    const Edge& ow = net.edges[edgeOf(net, oneWay.first)];
    Vec2 dir = Vec2(300, -300).normalized(), right(dir.y(), -dir.x());
    auto lane0 = net.laneShape(ow.firstLane), lane1 = net.laneShape(ow.firstLane + 1);
    EXPECT_NEAR((lane0.front() - Vec2(-300, 300)).dot(right), 1.6, 1e-6);
    EXPECT_NEAR((lane1.front() - Vec2(-300, 300)).dot(right), -1.6, 1e-6);
}

// --- Connections and right of way -----------------------------------------------------------

// A primary road W-C-E-E2 crossed at C by a residential road N-C-S, a residential T at E to
// the north (T1); W, N, S, E2 and T1 are dead ends. All roads two-way, one lane each way.
struct Crossing {
    RoadBuilder b;
    uint32_t W, C, E, N, S, E2, T1;
    std::pair<uint32_t, uint32_t> wc, ce, nc, cs, eE2, eT1; // {towards the second node, back}
    Crossing() {
        W = b.node(-200, 0), C = b.node(0, 0), E = b.node(200, 0), N = b.node(0, 200), S = b.node(0, -200),
        E2 = b.node(400, 0), T1 = b.node(200, 150);
        wc = b.road(W, C, RoadClass::Primary, 50);
        ce = b.road(C, E, RoadClass::Primary, 50);
        nc = b.road(N, C, RoadClass::Residential, 30);
        cs = b.road(C, S, RoadClass::Residential, 30);
        eE2 = b.road(E, E2, RoadClass::Primary, 50);
        eT1 = b.road(E, T1, RoadClass::Residential, 30);
    }
};

TEST(CityNetwork, ConnectionsDirectionsAndPriorityByHand) {
    Crossing x;
    CityNetworkOptions opt;
    opt.guessSignals = false;
    Network net = buildCityNetwork(x.b.done(), opt);

    // 4 incoming × 3 outgoing at the crossing, 3 × 2 at the T, one U-turn at each dead end.
    EXPECT_EQ(linksAt(net, junctionAtNode(net, x.C)), 12u);
    EXPECT_EQ(linksAt(net, junctionAtNode(net, x.E)), 6u);
    for (uint32_t deadEnd : {x.W, x.N, x.S, x.E2, x.T1}) {
        uint32_t j = junctionAtNode(net, deadEnd);
        EXPECT_EQ(linksAt(net, j), 1u);
        EXPECT_EQ(net.junctions[j].type, JunctionType::DeadEnd);
    }
    EXPECT_EQ(net.connections.size(), 12u + 6u + 5u);
    EXPECT_EQ(net.connections[link(net, x.cs.first, x.cs.second)].dir, LinkDir::Turn); // U-turn at S
    EXPECT_TRUE(links(net, x.wc.first, x.wc.second).empty()); // no U-turn at the crossing

    // Coming from W (heading east): N is to the left, S to the right, E straight on.
    EXPECT_EQ(net.connections[link(net, x.wc.first, x.ce.first)].dir, LinkDir::Straight);
    EXPECT_EQ(net.connections[link(net, x.wc.first, x.nc.second)].dir, LinkDir::Left);
    EXPECT_EQ(net.connections[link(net, x.wc.first, x.cs.first)].dir, LinkDir::Right);
    // Coming from N (heading south): E is to the left, W to the right.
    EXPECT_EQ(net.connections[link(net, x.nc.first, x.ce.first)].dir, LinkDir::Left);
    EXPECT_EQ(net.connections[link(net, x.nc.first, x.wc.second)].dir, LinkDir::Right);
    // At the T, from T1 (heading south): E2 to the left, C to the right.
    EXPECT_EQ(net.connections[link(net, x.eT1.second, x.eE2.first)].dir, LinkDir::Left);
    EXPECT_EQ(net.connections[link(net, x.eT1.second, x.ce.second)].dir, LinkDir::Right);

    // Priority junction: the primary's straight movements are major and yield to nobody; the
    // residential straight crosses both and yields to both.
    uint32_t C = junctionAtNode(net, x.C);
    EXPECT_EQ(net.junctions[C].type, JunctionType::Priority);
    uint32_t eastbound = link(net, x.wc.first, x.ce.first), westbound = link(net, x.ce.second, x.wc.second);
    uint32_t northbound = link(net, x.cs.second, x.nc.second);
    for (uint32_t major : {eastbound, westbound}) {
        EXPECT_TRUE(net.connections[major].major);
        EXPECT_TRUE(net.yieldTo(net.connections[major]).empty());
    }
    const Connection& nb = net.connections[northbound];
    EXPECT_FALSE(nb.major);
    EXPECT_TRUE(contains(net.yieldTo(nb), eastbound));
    EXPECT_TRUE(contains(net.yieldTo(nb), westbound));
    // The primary's left turn (W -> N) waits for the opposing straight (E -> W).
    const Connection& leftTurn = net.connections[link(net, x.wc.first, x.nc.second)];
    EXPECT_TRUE(contains(net.foes(leftTurn), westbound));
    EXPECT_TRUE(contains(net.yieldTo(leftTurn), westbound));
    EXPECT_FALSE(contains(net.yieldTo(net.connections[westbound]), link(net, x.wc.first, x.nc.second)));
    // At the T the residential stem yields to the primary.
    EXPECT_EQ(net.junctions[junctionAtNode(net, x.E)].type, JunctionType::Priority);
    const Connection& stemLeft = net.connections[link(net, x.eT1.second, x.eE2.first)];
    EXPECT_TRUE(contains(net.yieldTo(stemLeft), link(net, x.ce.first, x.eE2.first)));
    EXPECT_TRUE(net.connections[link(net, x.ce.first, x.eE2.first)].major);
    expectConsistentConflicts(net);
}

TEST(CityNetwork, RightBeforeLeftWhereEqualResidentialRoadsMeet) {
    RoadBuilder b;
    uint32_t C = b.node(0, 0);
    auto n = b.road(b.node(0, 150), C, RoadClass::Residential, 30);
    auto s = b.road(b.node(0, -150), C, RoadClass::Residential, 30);
    auto e = b.road(b.node(150, 0), C, RoadClass::Residential, 30);
    auto w = b.road(b.node(-150, 0), C, RoadClass::Residential, 30);
    Network net = buildCityNetwork(b.done());
    uint32_t j = junctionAtNode(net, C);
    EXPECT_EQ(net.junctions[j].type, JunctionType::RightBeforeLeft);
    // A driver from the south (heading north) has the east arm on the right: the northbound
    // straight yields to the westbound straight (from the east), not the other way round;
    // the eastbound straight (from the west, on the northbound driver's left) yields to it.
    uint32_t northbound = link(net, s.first, n.second), westbound = link(net, e.first, w.second),
             eastbound = link(net, w.first, e.second);
    EXPECT_TRUE(crosses(viaShape(net, northbound), viaShape(net, westbound)));
    EXPECT_TRUE(contains(net.yieldTo(net.connections[northbound]), westbound));
    EXPECT_FALSE(contains(net.yieldTo(net.connections[westbound]), northbound));
    EXPECT_TRUE(contains(net.yieldTo(net.connections[eastbound]), northbound));
    EXPECT_FALSE(contains(net.yieldTo(net.connections[northbound]), eastbound));
    for (const Connection& c : net.connections)
        if (c.junction == j) {
            EXPECT_FALSE(c.major);
        }
    expectConsistentConflicts(net);
}

// --- Signals --------------------------------------------------------------------------------

TEST(CityNetwork, GuessedSignalHasAConflictFreeFixedTimeProgram) {
    RoadBuilder b;
    uint32_t C = b.node(0, 0);
    auto n = b.road(b.node(0, 200), C, RoadClass::Secondary, 50, 2);
    auto s = b.road(b.node(0, -200), C, RoadClass::Secondary, 50, 2);
    auto e = b.road(b.node(200, 0), C, RoadClass::Secondary, 50, 2);
    auto w = b.road(b.node(-200, 0), C, RoadClass::Secondary, 50, 2);
    CityNetworkOptions opt;
    Network net = buildCityNetwork(b.done(), opt);
    uint32_t j = junctionAtNode(net, C);
    ASSERT_EQ(net.junctions[j].type, JunctionType::TrafficLight);
    ASSERT_EQ(net.signals.size(), 1u);
    const SignalProgram& program = net.signals[net.junctions[j].signal];
    EXPECT_NEAR(program.cycleS(), opt.signalCycleS, 1e-6);

    std::vector<uint32_t> atJunction;
    for (uint32_t c = 0; c < net.connections.size(); ++c)
        if (net.connections[c].junction == j) atJunction.push_back(c);
    std::set<int> indices;
    for (uint32_t c : atJunction) {
        EXPECT_EQ(net.connections[c].signal, net.junctions[j].signal);
        indices.insert(net.connections[c].signalIndex);
    }
    EXPECT_EQ(indices.size(), atJunction.size());
    EXPECT_EQ(*indices.rbegin(), int(atJunction.size()) - 1);

    // Geometry first: the two northbound/southbound straights cross both east/west straights.
    auto straights = [&](uint32_t from, uint32_t to) { return links(net, from, to); };
    auto ns = straights(s.first, n.second), sn = straights(n.first, s.second);
    auto ew = straights(e.first, w.second), we = straights(w.first, e.second);
    ASSERT_EQ(ns.size(), 2u); // two lanes each
    for (uint32_t a : {ns[0], sn[0]})
        for (uint32_t c : {ew[0], we[0]}) {
            EXPECT_TRUE(crosses(viaShape(net, a), viaShape(net, c)));
            EXPECT_TRUE(contains(net.foes(net.connections[a]), c));
        }
    // In every phase no two 'G' links are foes, nor do their paths cross; every link gets
    // green in some phase and every straight movement a priority green 'G'.
    std::map<uint32_t, bool> green, priorityGreen;
    for (const SignalPhase& phase : program.phases) {
        ASSERT_EQ(phase.state.size(), atJunction.size());
        for (uint32_t a : atJunction) {
            char sa = phase.state[size_t(net.connections[a].signalIndex)];
            if (sa == 'G' || sa == 'g') green[a] = true;
            if (sa == 'G') priorityGreen[a] = true;
            for (uint32_t c : atJunction) {
                char sc = phase.state[size_t(net.connections[c].signalIndex)];
                if (a == c || sa != 'G' || sc != 'G') continue;
                EXPECT_FALSE(contains(net.foes(net.connections[a]), c)) << phase.state;
                // Links leaving the same lane start at one point and are used one after the other.
                if (net.connections[a].fromLane == net.connections[c].fromLane) continue;
                if (net.connections[a].toLane != net.connections[c].toLane)
                    EXPECT_FALSE(crosses(viaShape(net, a), viaShape(net, c))) << phase.state;
                else
                    ADD_FAILURE() << "two 'G' links merge into one lane";
            }
        }
    }
    EXPECT_EQ(green.size(), atJunction.size());
    for (const auto& list : {ns, sn, ew, we})
        for (uint32_t c : list) EXPECT_TRUE(priorityGreen[c]);
    expectConsistentConflicts(net);
}

TEST(CityNetwork, NoSignalGuessedForMinorStreetsOrWhenSwitchedOff) {
    Crossing x;
    Network guessed = buildCityNetwork(x.b.done()); // primary × residential (30 km/h): 2 main roads in
    EXPECT_TRUE(guessed.signals.empty());
    CityNetworkOptions opt;
    opt.guessSignals = false;
    Network forced = buildCityNetwork(x.b.done(), opt, {NodeId(x.C)});
    ASSERT_EQ(forced.signals.size(), 1u);
    EXPECT_EQ(forced.junctions[junctionAtNode(forced, x.C)].type, JunctionType::TrafficLight);
}

// --- Lengths --------------------------------------------------------------------------------

TEST(CityNetwork, RouteLengthEqualsTheRoadLength) {
    RoadBuilder b;
    std::vector<uint32_t> nodes{b.node(0, 0), b.node(100, 0), b.node(250, 0), b.node(400, 0), b.node(407, 0),
                                b.node(600, 0)};
    std::vector<uint32_t> chain;
    double geometric = 0;
    for (size_t i = 1; i < nodes.size(); ++i) {
        std::vector<Vec2> via;
        if (i == 2) via = {Vec2(175, 20)}; // a bend inside the edge
        chain.push_back(b.road(nodes[i - 1], nodes[i], RoadClass::Tertiary, 50, 1, true, via).first);
        geometric += b.net.lengthM.back();
    }
    Network net = buildCityNetwork(b.done());
    double driven = 0;
    for (size_t i = 0; i < chain.size(); ++i) {
        const Edge& e = net.edges[edgeOf(net, chain[i])];
        driven += net.lanes[e.firstLane].lengthM;
        if (i + 1 < chain.size()) driven += net.lanes[net.connections[link(net, chain[i], chain[i + 1])].viaLane].lengthM;
    }
    EXPECT_NEAR(driven, geometric, 0.01 * geometric);
    // The short 7 m edge keeps a positive length.
    EXPECT_GT(net.lanes[net.edges[edgeOf(net, chain[3])].firstLane].lengthM, 0.0f);
}

TEST(CityNetwork, BadInputIsReported) {
    RoadBuilder b;
    b.road(b.node(0, 0), b.node(100, 0), RoadClass::Residential, 30);
    RoadNetwork roads = b.done();
    CityNetworkOptions bad;
    bad.signalCycleS = 4; // shorter than two yellows
    EXPECT_THROW(buildCityNetwork(roads, bad), InputError);
    roads.lanes.pop_back();
    EXPECT_THROW(buildCityNetwork(roads), InputError);
    EXPECT_NO_THROW(buildCityNetwork(RoadNetwork{}));
}

// --- The sample town ------------------------------------------------------------------------

// Largest strongly connected component of the passenger edge graph (Kosaraju, iterative).
size_t largestPassengerComponent(const Network& net) {
    const uint32_t n = uint32_t(net.edges.size());
    std::vector<uint8_t> usable(n);
    for (uint32_t e = 0; e < n; ++e) usable[e] = net.allows(e, VClass::Passenger);
    std::vector<std::vector<uint32_t>> fwd(n), bwd(n);
    for (uint32_t e = 0; e < n; ++e)
        if (usable[e])
            for (uint32_t s : net.successors(e))
                if (usable[s]) {
                    fwd[e].push_back(s);
                    bwd[s].push_back(e);
                }
    std::vector<uint32_t> order;
    std::vector<uint8_t> seen(n, 0);
    for (uint32_t r = 0; r < n; ++r) {
        if (!usable[r] || seen[r]) continue;
        std::vector<std::pair<uint32_t, size_t>> stack{{r, 0}};
        seen[r] = 1;
        while (!stack.empty()) {
            auto& [v, i] = stack.back();
            if (i < fwd[v].size()) {
                uint32_t w = fwd[v][i++];
                if (!seen[w]) {
                    seen[w] = 1;
                    stack.push_back({w, 0});
                }
            } else {
                order.push_back(v);
                stack.pop_back();
            }
        }
    }
    std::vector<int> comp(n, -1);
    size_t best = 0;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        if (comp[*it] >= 0) continue;
        size_t size = 0;
        std::vector<uint32_t> stack{*it};
        comp[*it] = int(*it);
        while (!stack.empty()) {
            uint32_t v = stack.back();
            stack.pop_back();
            ++size;
            for (uint32_t w : bwd[v])
                if (comp[w] < 0) {
                    comp[w] = int(*it);
                    stack.push_back(w);
                }
        }
        best = std::max(best, size);
    }
    return best;
}

TEST(CityNetwork, Musterstadt) {
    auto t0 = std::chrono::steady_clock::now();
    Scenario scenario = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt.yaml");
    CityModel city = importCity(scenario.city, ImportOptions{{}, false});
    auto t1 = std::chrono::steady_clock::now();
    Network net = buildCityNetwork(city.roads);
    auto t2 = std::chrono::steady_clock::now();

    size_t kept = 0, passenger = 0;
    for (size_t e = 0; e < city.roads.edgeCount(); ++e) {
        RoadClass c = city.roads.roadClass[e];
        kept += c != RoadClass::Footway && c != RoadClass::Path && c != RoadClass::Pedestrian && c != RoadClass::Steps;
    }
    EXPECT_EQ(net.edges.size(), kept);
    std::set<uint32_t> sources;
    for (const Edge& e : net.edges) sources.insert(e.sourceEdge);
    EXPECT_EQ(sources.size(), net.edges.size());
    for (uint32_t e = 0; e < net.edges.size(); ++e) passenger += net.allows(e, VClass::Passenger);
    size_t component = largestPassengerComponent(net);
    EXPECT_GE(double(component), 0.95 * double(passenger));

    expectConsistentConflicts(net);
    // No phase of any program gives 'G' to two foes.
    for (const Connection& a : net.connections) {
        if (a.signal == kNone) continue;
        for (uint32_t f : net.foes(a))
            for (const SignalPhase& phase : net.signals[a.signal].phases)
                EXPECT_FALSE(phase.state[size_t(a.signalIndex)] == 'G' &&
                             phase.state[size_t(net.connections[f].signalIndex)] == 'G');
    }
    std::map<JunctionType, int> types;
    for (const Junction& j : net.junctions) ++types[j.type];
    size_t internal = 0;
    for (const Lane& l : net.lanes) internal += l.internal();
    reportFigure("musterstadt_network", "edges", double(net.edges.size()));
    reportFigure("musterstadt_network", "lanes", double(net.lanes.size() - internal));
    reportFigure("musterstadt_network", "internal_lanes", double(internal));
    reportFigure("musterstadt_network", "connections", double(net.connections.size()));
    reportFigure("musterstadt_network", "junctions", double(net.junctions.size()));
    reportFigure("musterstadt_network", "signals_guessed", double(net.signals.size()));
    reportFigure("musterstadt_network", "priority_junctions", types[JunctionType::Priority]);
    reportFigure("musterstadt_network", "right_before_left_junctions", types[JunctionType::RightBeforeLeft]);
    reportFigure("musterstadt_network", "dead_ends", types[JunctionType::DeadEnd]);
    reportFigure("musterstadt_network", "passenger_edges", double(passenger));
    reportFigure("musterstadt_network", "largest_scc_share", double(component) / double(passenger));

    std::vector<CityTripDetail> details;
    Demand demand = generateCityDemand(city, net, {}, scenario.seed, &details);
    auto t3 = std::chrono::steady_clock::now();
    std::map<Mode, size_t> byMode;
    for (const Trip& t : demand.trips) ++byMode[t.mode];
    // Residents by hand: residential floor area + half the mixed, 45 m² each, 3.1 trips a day.
    double floor = 0;
    const Buildings& bs = city.buildings;
    for (size_t i = 0; i < bs.size(); ++i) {
        double levels = bs.levels[i] > 0 ? bs.levels[i] : std::max(1.0, std::round(bs.heightM[i] / 3.0));
        double share = bs.use[i] == BuildingUse::Residential ? 1 : bs.use[i] == BuildingUse::Mixed ? 0.5 : 0;
        floor += share * bs.footprintArea(i) * levels;
    }
    double expected = floor / 45 * 3.1;
    EXPECT_NEAR(double(demand.trips.size() + 2 * demand.skipped.count), expected, 0.02 * expected);
    EXPECT_LT(demand.skipped.count, demand.trips.size() / 100);
    reportFigure("musterstadt_demand", "residents", floor / 45);
    reportFigure("musterstadt_demand", "trips", double(demand.trips.size()));
    reportFigure("musterstadt_demand", "tours_skipped", double(demand.skipped.count));
    for (Mode m : {Mode::Car, Mode::Bicycle, Mode::Walk})
        reportFigure("musterstadt_demand", std::string("trips_") + toString(m), double(byMode[m]));
    std::vector<double> km;
    for (const auto& d : details) km.push_back(d.beelineKm);
    std::sort(km.begin(), km.end());
    if (!km.empty()) reportFigure("musterstadt_demand", "median_beeline_km", km[km.size() / 2]);
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    reportFigure("musterstadt_timing", "import_ms", ms(t0, t1));
    reportFigure("musterstadt_timing", "network_ms", ms(t1, t2));
    reportFigure("musterstadt_timing", "demand_ms", ms(t2, t3));
}

// --- Demand ---------------------------------------------------------------------------------

void addBuilding(CityModel& city, Vec2 centre, double w, double h, int levels, double heightM, BuildingUse use) {
    Buildings& b = city.buildings;
    Vec2 half(w / 2, h / 2);
    b.footprints.add({{centre - half, Vec2(centre.x() + half.x(), centre.y() - half.y()), centre + half,
                       Vec2(centre.x() - half.x(), centre.y() + half.y())}});
    b.partStart.push_back(uint32_t(b.footprints.size()));
    b.sourceId.push_back("b" + std::to_string(b.sourceId.size()));
    b.name.push_back("");
    b.heightM.push_back(float(heightM));
    b.groundM.push_back(0);
    b.levels.push_back(uint16_t(levels));
    b.use.push_back(use);
    b.yearBuilt.push_back(0);
    b.heightSource.push_back(HeightSource::Attribute);
    b.roofStart.push_back(b.roofStart.back());
}

// Two-way residential streets on a square grid of `cells` × `cells` blocks.
RoadNetwork grid(double x0, double y0, int cells, double spacing) {
    RoadBuilder b;
    std::vector<std::vector<uint32_t>> id(size_t(cells) + 1, std::vector<uint32_t>(size_t(cells) + 1));
    for (int i = 0; i <= cells; ++i)
        for (int k = 0; k <= cells; ++k) id[size_t(i)][size_t(k)] = b.node(x0 + i * spacing, y0 + k * spacing);
    for (int i = 0; i <= cells; ++i)
        for (int k = 0; k <= cells; ++k) {
            if (i < cells) b.road(id[size_t(i)][size_t(k)], id[size_t(i) + 1][size_t(k)], RoadClass::Residential, 30);
            if (k < cells) b.road(id[size_t(i)][size_t(k)], id[size_t(i)][size_t(k) + 1], RoadClass::Residential, 30);
        }
    return b.done();
}

// Two residential blocks (one with levels, one with only a height), a mixed, a commercial and
// a public building on a 400 m street grid.
struct SmallTown {
    CityModel city;
    Network net;
    SmallTown() {
        city.roads = grid(0, 0, 4, 100);
        addBuilding(city, {50, 50}, 20, 10, 3, 9, BuildingUse::Residential);      // 600 m² floor
        addBuilding(city, {150, 250}, 30, 20, 0, 12, BuildingUse::Residential);   // 4 levels from 12 m: 2400 m²
        addBuilding(city, {250, 150}, 20, 20, 2, 6, BuildingUse::Mixed);          // 800 m², half lived in
        addBuilding(city, {350, 350}, 40, 20, 1, 5, BuildingUse::Commercial);     // 800 m²
        addBuilding(city, {350, 50}, 30, 30, 2, 8, BuildingUse::Public);          // 1800 m²
        net = buildCityNetwork(city.roads);
    }
};

TEST(CityDemand, TripTotalFollowsFloorArea) {
    SmallTown town;
    CityDemandOptions opt;
    opt.scale = 3;
    Demand d = generateCityDemand(town.city, town.net, opt, 42);
    // (600 + 2400 + 800/2) m² / 45 m² × 3.1 trips × 3; each home rounds its tours (2 trips) up or down.
    double expected = (600 + 2400 + 400) / 45.0 * 3.1 * 3;
    EXPECT_NEAR(double(d.trips.size()), expected, 3 * 2.0);
    EXPECT_EQ(d.trips.size() % 2, 0u);
    EXPECT_EQ(d.skipped.count, 0u);
    std::set<std::string> ids;
    for (const Trip& t : d.trips) {
        ids.insert(t.id);
        EXPECT_TRUE(t.id.rfind("h0_", 0) == 0 || t.id.rfind("h1_", 0) == 0 || t.id.rfind("h2_", 0) == 0) << t.id;
        ASSERT_LT(t.fromEdge, town.net.edges.size());
        ASSERT_LT(t.toEdge, town.net.edges.size());
        const char* expectedType = t.mode == Mode::Car ? "car" : t.mode == Mode::Bicycle ? "bicycle" : "pedestrian";
        EXPECT_EQ(d.types[t.type].id, expectedType);
        if (t.mode != Mode::Walk) {
            EXPECT_TRUE(town.net.allows(t.fromEdge, d.types[t.type].vclass));
            EXPECT_TRUE(town.net.allows(t.toEdge, d.types[t.type].vclass));
        }
    }
    EXPECT_EQ(ids.size(), d.trips.size());
    for (size_t i = 1; i < d.trips.size(); ++i) EXPECT_LE(d.trips[i - 1].departS, d.trips[i].departS);
}

TEST(CityDemand, PurposesAndDepartureHoursFollowTheDocumentedProfiles) {
    SmallTown town;
    CityDemandOptions opt;
    opt.scale = 300;
    std::vector<CityTripDetail> details;
    Demand d = generateCityDemand(town.city, town.net, opt, 7, &details);
    ASSERT_EQ(details.size(), d.trips.size());
    // docs/mobility.md: work 20 %, education 8 %, shopping 30 %, leisure 28 %, other 14 %.
    const double documented[kTripPurposeCount] = {0.20, 0.08, 0.30, 0.28, 0.14};
    const int peakHour[kTripPurposeCount] = {7, 7, 16, 17, 8};
    std::vector<double> count(kTripPurposeCount, 0);
    std::vector<std::vector<int>> hours(kTripPurposeCount, std::vector<int>(24, 0));
    double outbound = 0;
    for (size_t i = 0; i < d.trips.size(); ++i) {
        if (!details[i].outbound) continue;
        ++outbound;
        int p = int(details[i].purpose);
        ++count[size_t(p)];
        ++hours[size_t(p)][size_t(std::floor(d.trips[i].departS / 3600))];
    }
    ASSERT_GT(outbound, 10000);
    for (int p = 0; p < kTripPurposeCount; ++p) {
        EXPECT_NEAR(count[size_t(p)] / outbound, documented[p], 0.03) << toString(TripPurpose(p));
        auto& h = hours[size_t(p)];
        EXPECT_EQ(std::max_element(h.begin(), h.end()) - h.begin(), peakHour[p]) << toString(TripPurpose(p));
    }
    // The way back follows the way out after the documented stay (8.5, 6, 1, 2, 1 h ± 25 %),
    // counted round the clock (the day repeats).
    const double stayH[kTripPurposeCount] = {8.5, 6, 1, 2, 1};
    std::map<std::string, double> departOf;
    for (const Trip& t : d.trips) departOf[t.id] = t.departS;
    for (size_t i = 0; i < d.trips.size(); ++i) {
        if (details[i].outbound) continue;
        const std::string& id = d.trips[i].id;
        auto u = id.rfind('_');
        int k = std::stoi(id.substr(u + 1));
        ASSERT_EQ(k % 2, 1) << id;
        double out = departOf.at(id.substr(0, u + 1) + std::to_string(k - 1));
        double stay = std::fmod(d.trips[i].departS - out + 86400, 86400) / 3600;
        double documented = stayH[int(details[i].purpose)];
        EXPECT_GE(stay, 0.75 * documented - 1e-9);
        EXPECT_LE(stay, 1.25 * documented + 1e-9);
    }
}

// One home, and every destination exactly `km` away (a shop/office east, a public building north).
struct FixedDistanceTown {
    CityModel city;
    Network net;
    explicit FixedDistanceTown(double km) {
        double d = km * 1000;
        RoadBuilder b;
        uint32_t corner = b.node(-30, -30);
        uint32_t prev = corner;
        for (double x = 470; x < d + 800; x += 500) {
            uint32_t next = b.node(x, -30);
            b.road(prev, next, RoadClass::Residential, 30);
            prev = next;
        }
        prev = corner;
        for (double y = 470; y < d + 800; y += 500) {
            uint32_t next = b.node(-30, y);
            b.road(prev, next, RoadClass::Residential, 30);
            prev = next;
        }
        city.roads = b.done();
        addBuilding(city, {0, 0}, 20, 20, 5, 15, BuildingUse::Residential);
        addBuilding(city, {d, 0}, 20, 20, 2, 6, BuildingUse::Commercial);
        addBuilding(city, {0, d}, 20, 20, 2, 6, BuildingUse::Public);
        net = buildCityNetwork(city.roads);
    }
};

TEST(CityDemand, ModeSharesFollowTheLogitAtAFixedDistance) {
    std::map<double, double> walkShare;
    for (double km : {0.6, 3.0}) {
        FixedDistanceTown town(km);
        CityDemandOptions opt;
        opt.scale = 100;
        Demand d = generateCityDemand(town.city, town.net, opt, 11);
        ASSERT_EQ(d.skipped.count, 0u);
        ASSERT_GT(d.trips.size(), 10000u);
        // Closed form (docs/mobility.md): U_walk = 1.7 - 1.5 d, U_bike = 0.2 - 0.008 d², U_car = 0.
        double uw = std::exp(1.7 - 1.5 * km), ub = std::exp(0.2 - 0.008 * km * km), uc = 1.0, sum = uw + ub + uc;
        std::map<Mode, double> n;
        for (const Trip& t : d.trips) ++n[t.mode];
        double total = double(d.trips.size());
        EXPECT_NEAR(n[Mode::Walk] / total, uw / sum, 0.03) << km << " km";
        EXPECT_NEAR(n[Mode::Bicycle] / total, ub / sum, 0.03) << km << " km";
        EXPECT_NEAR(n[Mode::Car] / total, uc / sum, 0.03) << km << " km";
        EXPECT_EQ(n[Mode::Bus], 0);
        walkShare[km] = n[Mode::Walk] / total;
    }
    EXPECT_GT(walkShare[0.6], 0.4);
    EXPECT_LT(walkShare[3.0], 0.05); // closed form: 2.7 %
}

TEST(CityDemand, DeterministicPerSeedAndWindowed) {
    SmallTown town;
    CityDemandOptions opt;
    auto key = [](const Demand& d) {
        std::vector<std::tuple<std::string, double, uint32_t, uint32_t, int>> k;
        for (const Trip& t : d.trips) k.emplace_back(t.id, t.departS, t.fromEdge, t.toEdge, int(t.mode));
        return k;
    };
    Demand a = generateCityDemand(town.city, town.net, opt, 5), b = generateCityDemand(town.city, town.net, opt, 5),
           c = generateCityDemand(town.city, town.net, opt, 6);
    EXPECT_EQ(key(a), key(b));
    EXPECT_NE(key(a), key(c));
    // A scenario starting at 06:00 and lasting an hour gets exactly the day's 06:00-07:00 trips.
    CityDemandOptions window = opt;
    window.startOfDayS = 6 * 3600;
    window.fromS = 0;
    window.toS = 3600;
    Demand w = generateCityDemand(town.city, town.net, window, 5);
    std::set<std::string> inWindow, got;
    for (const Trip& t : a.trips)
        if (t.departS >= 6 * 3600 && t.departS < 7 * 3600) inWindow.insert(t.id);
    for (const Trip& t : w.trips) {
        got.insert(t.id);
        EXPECT_GE(t.departS, 0);
        EXPECT_LT(t.departS, 3600);
    }
    EXPECT_FALSE(got.empty());
    EXPECT_EQ(got, inWindow);
    CityDemandOptions bad;
    bad.floorAreaPerResidentM2 = 0;
    EXPECT_THROW(generateCityDemand(town.city, town.net, bad, 1), InputError);
}

// --- CSV trips ------------------------------------------------------------------------------

TEST(TripsCsv, EdgeIdsWithCommasAndBadRowsByLine) {
    Crossing x;
    CityNetworkOptions opt;
    opt.guessSignals = false;
    Network net = buildCityNetwork(x.b.done(), opt);
    TempDir dir;
    std::string from = std::to_string(x.wc.first), to = std::to_string(x.ce.first);
    writeText(dir / "trips.csv", "id,depart,from_edge,to_edge,mode\n"
                                 "t1,10," + from + "," + to + ",car\n"
                                 "t2,07:30," + from + "," + to + ",Bicycle\n"
                                 "t3,07:30:15," + from + "," + to + "\n"
                                 "t4,abc," + from + "," + to + ",car\n"
                                 "t5,-3," + from + "," + to + ",car\n"
                                 "t6,5,999," + to + ",car\n"
                                 "t7,5," + from + "," + to + ",plane\n"
                                 "\n"
                                 "t8,08:00:30," + from + "," + to + ",\n");
    Demand d = readTripsCsv(dir / "trips.csv", net);
    ASSERT_EQ(d.trips.size(), 3u);
    EXPECT_EQ(d.trips[0].id, "t1");
    EXPECT_DOUBLE_EQ(d.trips[0].departS, 10);
    EXPECT_EQ(d.trips[1].id, "t2");
    EXPECT_DOUBLE_EQ(d.trips[1].departS, 7.5 * 3600);
    EXPECT_EQ(d.trips[1].mode, Mode::Bicycle);
    EXPECT_EQ(d.types[d.trips[1].type].vclass, VClass::Bicycle);
    EXPECT_EQ(d.trips[2].id, "t8");
    EXPECT_DOUBLE_EQ(d.trips[2].departS, 8 * 3600 + 30);
    EXPECT_EQ(d.trips[2].mode, Mode::Car);
    EXPECT_EQ(d.trips[0].fromEdge, edgeOf(net, x.wc.first));
    EXPECT_EQ(d.trips[0].toEdge, edgeOf(net, x.ce.first));
    EXPECT_EQ(d.skipped.count, 5u);
    ASSERT_EQ(d.skipped.reasons.size(), 5u);
    const char* lines[] = {":4: expected 5 columns", ":5: depart", ":6: negative", ":7: unknown edge", ":8: unknown mode"};
    for (size_t i = 0; i < 5; ++i)
        EXPECT_NE(d.skipped.reasons[i].find(lines[i]), std::string::npos) << d.skipped.reasons[i];
}

TEST(TripsCsv, CoordinatesWithSemicolonsSnapToTheNearestUsableEdge) {
    Crossing x;
    CityNetworkOptions opt;
    opt.guessSignals = false;
    Network net = buildCityNetwork(x.b.done(), opt);
    TempDir dir;
    // South of the W-C primary is the eastbound lane (y = -1.6), north the westbound (y = +1.6).
    writeText(dir / "trips.csv", "ID;Depart;FROM_X;from_y;to_x;to_y;Mode\n"
                                 "a;0;-100;-4;-4;-100;car\n"
                                 "b;60;-100,0;4,5;150;3;walk\n"
                                 "c;60;x;4;150;3;car\n"
                                 "d;60;100000;4;150;3;car\n");
    Demand d = readTripsCsv(dir / "trips.csv", net);
    ASSERT_EQ(d.trips.size(), 2u);
    EXPECT_EQ(d.trips[0].fromEdge, edgeOf(net, x.wc.first));  // W -> C
    EXPECT_EQ(d.trips[0].toEdge, edgeOf(net, x.cs.first));    // C -> S (southbound) runs at x = -1.6
    EXPECT_EQ(d.trips[1].fromEdge, edgeOf(net, x.wc.second)); // C -> W
    EXPECT_EQ(d.trips[1].toEdge, edgeOf(net, x.ce.second));   // E -> C runs at y = +1.6
    EXPECT_EQ(d.trips[1].mode, Mode::Walk);
    EXPECT_EQ(d.skipped.count, 2u);
    ASSERT_EQ(d.skipped.reasons.size(), 2u);
    EXPECT_NE(d.skipped.reasons[0].find(":4:"), std::string::npos);
    EXPECT_NE(d.skipped.reasons[1].find(":5:"), std::string::npos);
}

TEST(TripsCsv, MissingFileOrHeaderIsAnInputError) {
    Crossing x;
    Network net = buildCityNetwork(x.b.done());
    TempDir dir;
    EXPECT_THROW(readTripsCsv(dir / "does_not_exist.csv", net), InputError);
    writeText(dir / "noheader.csv", "a,b,c\n1,2,3\n");
    EXPECT_THROW(readTripsCsv(dir / "noheader.csv", net), InputError);
    writeText(dir / "empty.csv", "");
    EXPECT_THROW(readTripsCsv(dir / "empty.csv", net), InputError);
}

} // namespace
