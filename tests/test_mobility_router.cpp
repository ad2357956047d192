// Router (A* with landmarks) against independent references: Bellman-Ford, the router's
// textbook Dijkstra, a plain junction-graph Dijkstra, and costs known analytically on grids.
#include "TestSupport.h"
#include "core/Error.h"
#include "sim/mobility/Router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>

namespace ct::mobility {

// Test-only window into the router's search statistics and bounds.
struct RouterTestAccess {
    static size_t aStarSettled(const Router& r, uint32_t from, uint32_t to) {
        size_t settled = 0;
        r.aStar(from, to, &settled);
        return settled;
    }
    static size_t dijkstraSettled(const Router& r, uint32_t from, uint32_t to) {
        size_t settled = 0;
        r.plainDijkstra(from, to, &settled);
        return settled;
    }
    static double lowerBound(const Router& r, uint32_t v, uint32_t t) { return r.lowerBound(v, t); }
    static const std::vector<uint32_t>& landmarks(const Router& r) { return r.landmarkEdges; }
};

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Access = RouterTestAccess;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct EdgeSpec {
    uint32_t from, to;
    double lengthM, speedMps;
    ClassMask allow = kAllVehicles;
};

// One lane per edge; every incoming lane connects to every outgoing lane of its junction
// except the U-turn onto the reverse edge (allowed only where nothing else leaves), and
// except the (from edge, to edge) turns listed in `forbidden`.
Network makeNetwork(size_t junctionCount, const std::vector<EdgeSpec>& specs,
                    const std::set<std::pair<uint32_t, uint32_t>>& forbidden = {}) {
    Network net;
    for (size_t j = 0; j < junctionCount; ++j) net.junctions.push_back({"j" + std::to_string(j)});
    std::vector<std::vector<uint32_t>> leaving(junctionCount);
    for (uint32_t e = 0; e < specs.size(); ++e) {
        const EdgeSpec& s = specs[e];
        Edge edge;
        edge.id = "e" + std::to_string(e);
        edge.fromJunction = s.from;
        edge.toJunction = s.to;
        edge.firstLane = e;
        edge.laneCount = 1;
        edge.lengthM = float(s.lengthM);
        edge.speedMps = float(s.speedMps);
        net.edges.push_back(edge);
        Lane lane;
        lane.edge = e;
        lane.allow = s.allow;
        lane.lengthM = edge.lengthM;
        lane.speedMps = edge.speedMps;
        net.lanes.push_back(lane);
        leaving[s.from].push_back(e);
    }
    for (uint32_t a = 0; a < specs.size(); ++a) {
        const auto& outs = leaving[specs[a].to];
        bool deadEnd = std::all_of(outs.begin(), outs.end(), [&](uint32_t b) { return specs[b].to == specs[a].from; });
        for (uint32_t b : outs) {
            bool uTurn = specs[b].to == specs[a].from;
            if ((uTurn && !deadEnd) || forbidden.count({a, b})) continue;
            Connection c;
            c.fromLane = a;
            c.toLane = b;
            c.junction = specs[a].to;
            net.connections.push_back(c);
        }
    }
    net.finalize("test network");
    return net;
}

// nx × ny junctions `spacing` metres apart, edges both ways between neighbours.
struct Grid {
    int nx = 0, ny = 0;
    std::vector<EdgeSpec> specs;
    std::map<std::tuple<int, int, int, int>, uint32_t> byEnds;
    uint32_t junction(int x, int y) const { return uint32_t(y * nx + x); }
    uint32_t edge(int x0, int y0, int x1, int y1) const { return byEnds.at({x0, y0, x1, y1}); }
};

Grid makeGridSpecs(int nx, int ny, double spacing, const std::function<double()>& speed) {
    Grid g;
    g.nx = nx;
    g.ny = ny;
    auto add = [&](int x0, int y0, int x1, int y1) {
        g.byEnds[{x0, y0, x1, y1}] = uint32_t(g.specs.size());
        g.specs.push_back({g.junction(x0, y0), g.junction(x1, y1), spacing, speed()});
    };
    for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x) {
            if (x + 1 < nx) add(x, y, x + 1, y), add(x + 1, y, x, y);
            if (y + 1 < ny) add(x, y, x, y + 1), add(x, y + 1, x, y);
        }
    return g;
}

// Junctions placed at random, each joined to its k nearest neighbours; 15 % one-way.
Network randomNetwork(uint64_t seed, int junctions = 200, int k = 3) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> pos(0, 3000), detour(1.0, 1.3), speed(5, 30), coin(0, 1);
    std::vector<Vec2> p(static_cast<size_t>(junctions));
    for (auto& q : p) q = Vec2(pos(rng), pos(rng));
    std::set<std::pair<uint32_t, uint32_t>> pairs;
    for (uint32_t i = 0; i < p.size(); ++i) {
        std::vector<uint32_t> order(p.size());
        std::iota(order.begin(), order.end(), 0u);
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return (p[a] - p[i]).norm() < (p[b] - p[i]).norm(); });
        for (int n = 1; n <= k; ++n) pairs.insert({std::min(i, order[size_t(n)]), std::max(i, order[size_t(n)])});
    }
    std::vector<EdgeSpec> specs;
    for (auto [a, b] : pairs) {
        double length = (p[a] - p[b]).norm() * detour(rng) + 1;
        double r = coin(rng);
        if (r >= 0.075) specs.push_back({a, b, length, speed(rng)});
        if (r < 0.075 || r >= 0.15) specs.push_back({b, a, length, speed(rng)});
    }
    return makeNetwork(p.size(), specs);
}

// Independent reference: Bellman-Ford over the edge graph with the route cost convention
// (the first edge's cost left out; each later edge's cost plus the turn onto it).
std::vector<double> bellmanFord(const Network& net, const std::vector<double>& cost, VClass c, uint32_t source,
                                const std::vector<double>& turn = {}) {
    const size_t n = net.edges.size();
    auto ok = [&](uint32_t e) { return net.allows(e, c) && std::isfinite(cost[e]); };
    std::vector<double> dist(n, kInf);
    if (ok(source)) dist[source] = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t e = 0; e < n; ++e) {
            if (!std::isfinite(dist[e])) continue;
            for (uint32_t p = net.succStart[e]; p < net.succStart[e + 1]; ++p) {
                const uint32_t f = net.succEdges[p];
                const double via = turn.empty() ? 0.0 : turn[p];
                if (ok(f) && dist[e] + via + cost[f] < dist[f]) dist[f] = dist[e] + via + cost[f], changed = true;
            }
        }
    }
    return dist;
}

bool relClose(double a, double b, double rel = 1e-9) { return std::abs(a - b) <= rel * std::max(1.0, std::abs(b)); }

// A route is a chain of successors from `from` to `to` over open edges whose summed cost
// (first edge excluded) is the reported cost.
void expectValidRoute(const Network& net, const Router& router, const RouteResult& r, uint32_t from, uint32_t to) {
    ASSERT_TRUE(r.found());
    EXPECT_EQ(r.edges.front(), from);
    EXPECT_EQ(r.edges.back(), to);
    double sum = 0;
    for (size_t i = 1; i < r.edges.size(); ++i) {
        auto succ = net.successors(r.edges[i - 1]);
        auto at = std::lower_bound(succ.begin(), succ.end(), r.edges[i]);
        ASSERT_TRUE(at != succ.end() && *at == r.edges[i]) << "no turn " << r.edges[i - 1] << "->" << r.edges[i];
        ASSERT_TRUE(std::isfinite(router.costs()[r.edges[i]]));
        sum += router.costs()[r.edges[i]] + router.turnCosts()[net.succStart[r.edges[i - 1]] + size_t(at - succ.begin())];
    }
    EXPECT_TRUE(relClose(sum, r.costS)) << sum << " vs " << r.costS;
}

std::vector<std::pair<uint32_t, uint32_t>> randomPairs(size_t count, size_t edges, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<uint32_t> pick(0, uint32_t(edges - 1));
    std::vector<std::pair<uint32_t, uint32_t>> pairs(count);
    for (auto& [a, b] : pairs) a = pick(rng), b = pick(rng);
    return pairs;
}

// A* with landmarks against the router's Dijkstra on `pairs`; returns how many were reachable.
size_t expectAStarMatchesDijkstra(const Network& net, const Router& router,
                                  const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
    size_t reachable = 0;
    for (auto [from, to] : pairs) {
        RouteResult a = router.route(from, to), d = router.dijkstra(from, to);
        EXPECT_EQ(a.found(), d.found()) << from << "->" << to;
        if (!a.found() || !d.found()) continue;
        ++reachable;
        EXPECT_TRUE(relClose(a.costS, d.costS)) << from << "->" << to << ": " << a.costS << " vs " << d.costS;
        expectValidRoute(net, router, a, from, to);
        expectValidRoute(net, router, d, from, to);
    }
    return reachable;
}

std::vector<double> perturbedCosts(const Router& router, uint64_t seed, double closedShare) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> factor(1, 3), coin(0, 1);
    std::vector<double> c = router.costs();
    for (double& x : c) x = coin(rng) < closedShare ? kInf : x * factor(rng);
    return c;
}

TEST(MobilityRouter, FreeFlowCostsAreLengthOverCappedSpeed) {
    Network net = makeNetwork(3, {{0, 1, 100, 10}, {1, 2, 50, 2.5}, {1, 0, 100, 10, classBit(VClass::Bicycle)}});
    Router car(net, VClass::Passenger, 2);
    EXPECT_DOUBLE_EQ(car.costs()[0], 10.0);
    EXPECT_DOUBLE_EQ(car.costs()[1], 20.0);
    EXPECT_TRUE(std::isinf(car.costs()[2])); // bicycles only
    Router bike(net, VClass::Bicycle, 2);
    bike.setMaxSpeed(5);
    EXPECT_DOUBLE_EQ(bike.costs()[0], 20.0);
    EXPECT_DOUBLE_EQ(bike.costs()[1], 20.0); // limit 2.5 below the cap
    EXPECT_DOUBLE_EQ(bike.costs()[2], 20.0);
    // Costs below free flow are raised to it; +inf closes.
    bike.setCosts({1, 100, kInf});
    EXPECT_DOUBLE_EQ(bike.costs()[0], 20.0);
    EXPECT_DOUBLE_EQ(bike.costs()[1], 100.0);
    EXPECT_FALSE(bike.route(0, 2).found());
}

TEST(MobilityRouter, DijkstraAndAStarMatchBellmanFord) {
    Network net = randomNetwork(11);
    Router router(net, VClass::Passenger, 8);
    router.setCosts(perturbedCosts(router, 5, 0.05));
    const uint32_t n = uint32_t(net.edges.size());
    std::mt19937_64 rng(3);
    size_t reachable = 0, unreachable = 0;
    for (int s = 0; s < 6; ++s) {
        uint32_t source = uint32_t(rng() % n);
        std::vector<double> ref = bellmanFord(net, router.costs(), VClass::Passenger, source);
        for (uint32_t t = 0; t < n; ++t) {
            RouteResult d = router.dijkstra(source, t), a = router.route(source, t);
            ASSERT_EQ(d.found(), std::isfinite(ref[t])) << source << "->" << t;
            ASSERT_EQ(a.found(), std::isfinite(ref[t])) << source << "->" << t;
            if (!d.found()) {
                ++unreachable;
                continue;
            }
            ++reachable;
            EXPECT_TRUE(relClose(d.costS, ref[t]));
            EXPECT_TRUE(relClose(a.costS, ref[t]));
        }
    }
    EXPECT_GT(reachable, 1000u);
    EXPECT_GT(unreachable, 0u); // closures cut something off: both outcomes were exercised
}

// Links that must yield cost SUMO's 1.5 s minor-link penalty in routing (these test links have
// no internal lanes, so nothing else): A* and Dijkstra still agree with Bellman-Ford given the
// same turn costs, and some routes now avoid minor links they used before.
TEST(MobilityRouter, MinorLinksCostTheirPenalty) {
    Network net = randomNetwork(12);
    std::mt19937_64 rng(4);
    for (Connection& c : net.connections) c.major = rng() % 3 != 0;
    Router router(net, VClass::Passenger, 8);
    Network allMajor = randomNetwork(12);
    Router plain(allMajor, VClass::Passenger, 8);
    for (uint32_t e = 0; e < net.edges.size(); ++e)
        for (uint32_t p = net.succStart[e]; p < net.succStart[e + 1]; ++p) {
            bool anyMajor = false; // one lane per edge: the single connection onto the successor decides
            for (const Connection& c : net.outgoing(net.edges[e].firstLane))
                if (net.lanes[c.toLane].edge == net.succEdges[p]) anyMajor |= c.major;
            EXPECT_EQ(router.turnCosts()[p], anyMajor ? 0.0 : Router::kMinorLinkPenaltyS);
            EXPECT_EQ(plain.turnCosts()[p], 0.0);
        }
    const uint32_t n = uint32_t(net.edges.size());
    size_t reachable = 0, dearer = 0;
    for (uint32_t source : {3u, 77u, 150u}) {
        std::vector<double> ref = bellmanFord(net, router.costs(), VClass::Passenger, source, router.turnCosts());
        for (uint32_t t = 0; t < n; ++t) {
            RouteResult d = router.dijkstra(source, t), a = router.route(source, t);
            ASSERT_EQ(a.found(), std::isfinite(ref[t]));
            if (!a.found()) continue;
            ++reachable;
            EXPECT_TRUE(relClose(d.costS, ref[t]));
            EXPECT_TRUE(relClose(a.costS, ref[t]));
            expectValidRoute(net, router, a, source, t);
            dearer += a.costS > plain.route(source, t).costS + 1e-9;
        }
    }
    EXPECT_GT(reachable, 300u);
    EXPECT_GT(dearer, 100u); // the penalty is felt
}

TEST(MobilityRouter, AStarMatchesDijkstraOnRandomGraphs) {
    for (uint64_t seed : {1, 2}) {
        Network net = randomNetwork(seed);
        Router router(net, VClass::Passenger, 8);
        ASSERT_EQ(Access::landmarks(router).size(), 8u);
        auto pairs = randomPairs(2000, net.edges.size(), seed + 100);
        size_t reachable = expectAStarMatchesDijkstra(net, router, pairs);
        EXPECT_GT(reachable, 1000u);

        router.setCosts(perturbedCosts(router, seed + 200, 0));
        expectAStarMatchesDijkstra(net, router, pairs);

        router.setCosts(perturbedCosts(router, seed + 300, 0.10));
        size_t reachableClosed = expectAStarMatchesDijkstra(net, router, pairs);
        EXPECT_LT(reachableClosed, reachable); // the closures did cut routes
        EXPECT_GT(reachableClosed, 0u);
    }
}

TEST(MobilityRouter, NoLandmarksIsDijkstra) {
    Network net = randomNetwork(4);
    Router router(net, VClass::Passenger, 0);
    EXPECT_TRUE(Access::landmarks(router).empty());
    auto pairs = randomPairs(500, net.edges.size(), 9);
    expectAStarMatchesDijkstra(net, router, pairs);
    for (auto [from, to] : pairs) EXPECT_EQ(Access::lowerBound(router, from, to), 0.0);
}

TEST(MobilityRouter, MaxSpeedChangesKeepAStarExact) {
    // Raising the cap makes free flow faster: the landmark times must be recomputed or the
    // old (slower) ones would overestimate.
    Network net = randomNetwork(6);
    Router router(net, VClass::Bicycle, 8);
    auto pairs = randomPairs(1000, net.edges.size(), 31);
    router.setMaxSpeed(3);
    expectAStarMatchesDijkstra(net, router, pairs);
    // From a landmark the bound is its exact free-flow time (float storage aside), so it
    // shows the landmark times follow the new cap.
    size_t tight = 0;
    for (uint32_t l : Access::landmarks(router))
        for (uint32_t t = 0; t < net.edges.size(); ++t) {
            RouteResult d = router.dijkstra(l, t);
            if (!d.found()) continue;
            EXPECT_NEAR(Access::lowerBound(router, l, t), d.costS, 1e-6 * d.costS) << l << "->" << t;
            ++tight;
        }
    EXPECT_GT(tight, 1000u);
    router.setMaxSpeed(50);
    expectAStarMatchesDijkstra(net, router, pairs);
    EXPECT_DOUBLE_EQ(router.costs()[0], double(net.edges[0].lengthM) / double(net.edges[0].speedMps));
}

TEST(MobilityRouter, LowerBoundsAreAdmissible) {
    Network net = randomNetwork(7);
    Router router(net, VClass::Passenger, 8);
    router.setCosts(perturbedCosts(router, 8, 0.05)); // bounds stay on free flow
    const uint32_t n = uint32_t(net.edges.size());
    size_t positive = 0, provenUnreachable = 0;
    for (uint32_t t = 0; t < n; t += 37) {
        for (uint32_t v = 0; v < n; ++v) {
            double bound = Access::lowerBound(router, v, t);
            RouteResult d = router.dijkstra(v, t);
            ASSERT_GE(bound, 0.0);
            if (std::isinf(bound)) {
                EXPECT_FALSE(d.found()) << v << "->" << t << " reachable but bound says not";
                ++provenUnreachable;
            } else if (d.found()) {
                EXPECT_LE(bound, d.costS * (1 + 1e-12)) << v << "->" << t;
                positive += bound > 0;
            }
        }
    }
    EXPECT_GT(positive, 1000u); // the bounds carry information
    EXPECT_GT(provenUnreachable, 0u);
}

TEST(MobilityRouter, ManhattanGridCostsAreAnalytic) {
    // Uniform 10 s edges: any route between junctions needs at least their Manhattan
    // distance in edges, and a monotone route has exactly that many and no U-turn.
    const int nx = 20, ny = 20;
    const double edgeTime = 100.0 / 10.0;
    Grid grid = makeGridSpecs(nx, ny, 100, [] { return 10.0; });
    Network net = makeNetwork(size_t(nx * ny), grid.specs);
    Router router(net, VClass::Passenger, 8);
    std::mt19937_64 rng(21);
    auto coord = [&](int n) { return int(rng() % uint64_t(n)); };
    int checked = 0;
    while (checked < 500) {
        int sx = rng() % 2 ? 1 : -1, sy = rng() % 2 ? 1 : -1;
        bool fromEast = rng() % 2, toEast = rng() % 2;
        int x0 = coord(nx), y0 = coord(ny);
        int x1 = x0 + (fromEast ? sx : 0), y1 = y0 + (fromEast ? 0 : sy);
        int x2 = coord(nx), y2 = coord(ny);
        int x3 = x2 + (toEast ? sx : 0), y3 = y2 + (toEast ? 0 : sy);
        auto inside = [&](int x, int y) { return x >= 0 && y >= 0 && x < nx && y < ny; };
        if (!inside(x1, y1) || !inside(x3, y3) || sx * (x2 - x1) < 0 || sy * (y2 - y1) < 0) continue;
        uint32_t from = grid.edge(x0, y0, x1, y1), to = grid.edge(x2, y2, x3, y3);
        double expected = (std::abs(x2 - x1) + std::abs(y2 - y1) + 1) * edgeTime;
        RouteResult a = router.route(from, to), d = router.dijkstra(from, to);
        EXPECT_DOUBLE_EQ(a.costS, expected);
        EXPECT_DOUBLE_EQ(d.costS, expected);
        expectValidRoute(net, router, a, from, to);
        ++checked;
    }
    RouteResult same = router.route(grid.edge(0, 0, 1, 0), grid.edge(0, 0, 1, 0));
    EXPECT_EQ(same.edges, std::vector<uint32_t>{grid.edge(0, 0, 1, 0)});
    EXPECT_EQ(same.costS, 0.0);
}

// Cheapest junction-to-junction time on the plain node graph (turns ignored).
double junctionGraphDijkstra(const Network& net, const std::vector<double>& cost, uint32_t from, uint32_t to) {
    std::vector<double> dist(net.junctions.size(), kInf);
    using Item = std::pair<double, uint32_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
    dist[from] = 0;
    heap.push({0, from});
    while (!heap.empty()) {
        auto [d, j] = heap.top();
        heap.pop();
        if (d > dist[j]) continue;
        for (uint32_t e = 0; e < net.edges.size(); ++e)
            if (net.edges[e].fromJunction == j && d + cost[e] < dist[net.edges[e].toJunction])
                heap.push({dist[net.edges[e].toJunction] = d + cost[e], net.edges[e].toJunction});
    }
    return dist[to];
}

TEST(MobilityRouter, TurnRestrictionForcesDetour) {
    // 3 × 3 grid of 10 s edges; eastbound into the centre, the left turn north is banned.
    // Without U-turns the only way back into the centre heading north or west is around a
    // block: 4 edges, then the target edge: 50 s.
    Grid grid = makeGridSpecs(3, 3, 100, [] { return 10.0; });
    uint32_t east = grid.edge(0, 1, 1, 1), north = grid.edge(1, 1, 1, 2);
    Network open = makeNetwork(9, grid.specs);
    Network restricted = makeNetwork(9, grid.specs, {{east, north}});

    Router openRouter(open, VClass::Passenger, 4);
    RouteResult direct = openRouter.route(east, north);
    EXPECT_EQ(direct.edges, (std::vector<uint32_t>{east, north}));
    EXPECT_DOUBLE_EQ(direct.costS, 10.0);

    Router router(restricted, VClass::Passenger, 4);
    RouteResult a = router.route(east, north), d = router.dijkstra(east, north);
    EXPECT_DOUBLE_EQ(a.costS, 50.0);
    EXPECT_DOUBLE_EQ(d.costS, 50.0);
    expectValidRoute(restricted, router, a, east, north);
    for (size_t i = 1; i < a.edges.size(); ++i) EXPECT_FALSE(a.edges[i - 1] == east && a.edges[i] == north);

    // The node graph knows nothing about the ban: centre → north junction in one edge.
    double nodeGraph = junctionGraphDijkstra(restricted, router.costs(), grid.junction(1, 1), grid.junction(1, 2));
    EXPECT_DOUBLE_EQ(nodeGraph, 10.0);
    EXPECT_GT(a.costS, nodeGraph);
}

TEST(MobilityRouter, ClosureDetoursAndBridgeCutsOff) {
    Grid grid = makeGridSpecs(6, 3, 100, [] { return 10.0; });
    Network net = makeNetwork(18, grid.specs);
    Router router(net, VClass::Passenger, 4);
    uint32_t from = grid.edge(0, 0, 1, 0), to = grid.edge(4, 0, 5, 0), closed = grid.edge(2, 0, 3, 0);
    RouteResult before = router.route(from, to);
    EXPECT_DOUBLE_EQ(before.costS, 40.0); // the straight line, the only 3-edge way
    EXPECT_NE(std::find(before.edges.begin(), before.edges.end(), closed), before.edges.end());
    std::vector<double> c = router.costs();
    c[closed] = kInf;
    router.setCosts(c);
    for (const RouteResult& r : {router.route(from, to), router.dijkstra(from, to)}) {
        EXPECT_DOUBLE_EQ(r.costS, 60.0); // around one block: two edges more
        EXPECT_EQ(std::find(r.edges.begin(), r.edges.end(), closed), r.edges.end());
        expectValidRoute(net, router, r, from, to);
    }

    // Two 10 × 10 grids joined by one road (both directions); closing its eastbound edge
    // leaves the east grid unreachable from the west one.
    Grid west = makeGridSpecs(10, 10, 100, [] { return 10.0; });
    std::vector<EdgeSpec> specs = west.specs;
    for (EdgeSpec s : west.specs) specs.push_back({s.from + 100, s.to + 100, s.lengthM, s.speedMps});
    uint32_t bridgeEast = uint32_t(specs.size());
    specs.push_back({west.junction(9, 5), 100 + west.junction(0, 5), 100, 10});
    specs.push_back({100 + west.junction(0, 5), west.junction(9, 5), 100, 10});
    Network twin = makeNetwork(200, specs);
    Router twinRouter(twin, VClass::Passenger, 8);
    uint32_t inWest = west.edge(0, 0, 1, 0), inEast = uint32_t(west.specs.size()) + west.edge(8, 9, 9, 9);
    ASSERT_TRUE(twinRouter.route(inWest, inEast).found());
    std::vector<double> cut = twinRouter.costs();
    cut[bridgeEast] = kInf;
    twinRouter.setCosts(cut);
    auto t0 = Clock::now();
    EXPECT_FALSE(twinRouter.route(inWest, inEast).found());
    EXPECT_FALSE(twinRouter.dijkstra(inWest, inEast).found());
    EXPECT_LT(secondsSince(t0), 1.0);
    EXPECT_TRUE(twinRouter.route(inEast, inWest).found()); // the westbound edge still open
}

TEST(MobilityRouter, DisconnectedComponentsGetLandmarksAndNoSearch) {
    // Two 8 × 8 grids with no road between them, plus a two-edge island.
    Grid g = makeGridSpecs(8, 8, 100, [] { return 10.0; });
    std::vector<EdgeSpec> specs = g.specs;
    for (EdgeSpec s : g.specs) specs.push_back({s.from + 64, s.to + 64, s.lengthM, s.speedMps});
    uint32_t islandA = uint32_t(specs.size()), islandB = islandA + 1;
    specs.push_back({128, 129, 50, 10});
    specs.push_back({129, 128, 50, 10});
    Network net = makeNetwork(130, specs);
    Router router(net, VClass::Passenger, 4);
    const uint32_t half = uint32_t(g.specs.size());
    int inFirst = 0, inSecond = 0;
    for (uint32_t l : Access::landmarks(router)) {
        inFirst += l < half;
        inSecond += l >= half && l < 2 * half;
    }
    EXPECT_GE(inFirst, 1);
    EXPECT_GE(inSecond, 1);
    EXPECT_EQ(inFirst + inSecond, 4); // none wasted on the island

    uint32_t a = g.edge(0, 0, 1, 0), b = half + g.edge(6, 7, 7, 7);
    EXPECT_FALSE(router.route(a, b).found());
    EXPECT_FALSE(router.dijkstra(a, b).found());
    EXPECT_EQ(Access::aStarSettled(router, a, b), 0u); // the landmarks prove it at once
    expectAStarMatchesDijkstra(net, router, randomPairs(500, net.edges.size(), 77));
    RouteResult island = router.route(islandA, islandB); // U-turn at the dead end
    EXPECT_EQ(island.edges, (std::vector<uint32_t>{islandA, islandB}));
    EXPECT_DOUBLE_EQ(island.costS, 5.0);
}

TEST(MobilityRouter, BicycleLaneOnlyForBicycles) {
    // 0 → 1, then either the 100 m bicycle lane 1 → 2 or the 2 × 150 m road 1 → 3 → 2, then 2 → 4.
    std::vector<EdgeSpec> specs{{0, 1, 100, 10},
                                {1, 2, 100, 10, classBit(VClass::Bicycle)},
                                {1, 3, 150, 10},
                                {3, 2, 150, 10},
                                {2, 4, 100, 10}};
    Network net = makeNetwork(5, specs);
    Router car(net, VClass::Passenger, 2);
    RouteResult carRoute = car.route(0, 4);
    EXPECT_EQ(carRoute.edges, (std::vector<uint32_t>{0, 2, 3, 4}));
    EXPECT_DOUBLE_EQ(carRoute.costS, 40.0);
    EXPECT_FALSE(car.route(0, 1).found());
    EXPECT_FALSE(car.dijkstra(1, 4).found());

    Router bike(net, VClass::Bicycle, 2);
    bike.setMaxSpeed(5.56);
    RouteResult bikeRoute = bike.route(0, 4);
    EXPECT_EQ(bikeRoute.edges, (std::vector<uint32_t>{0, 1, 4}));
    EXPECT_NEAR(bikeRoute.costS, 200 / 5.56, 1e-4); // float lengths
    EXPECT_EQ(bike.dijkstra(0, 4).edges, bikeRoute.edges);
}

TEST(MobilityRouter, RouteManyIsDeterministic) {
    Network net = randomNetwork(3);
    Router router(net, VClass::Passenger, 8);
    router.setCosts(perturbedCosts(router, 4, 0.05));
    auto pairs = randomPairs(3000, net.edges.size(), 12);
    std::vector<RouteResult> one = router.routeMany(pairs, 1), two = router.routeMany(pairs, 2);
    ASSERT_EQ(one.size(), pairs.size());
    ASSERT_EQ(two.size(), pairs.size());
    size_t found = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
        RouteResult single = router.route(pairs[i].first, pairs[i].second);
        EXPECT_EQ(one[i].edges, single.edges);
        EXPECT_EQ(two[i].edges, single.edges);
        EXPECT_EQ(one[i].costS, single.costS);
        EXPECT_EQ(two[i].costS, single.costS);
        found += single.found();
    }
    EXPECT_GT(found, 1000u);
}

TEST(MobilityRouter, BadInputIsRejected) {
    Network net = makeNetwork(3, {{0, 1, 100, 10}, {1, 2, 100, 10}});
    Router router(net, VClass::Passenger, 8); // more landmarks than edges is fine
    EXPECT_LE(Access::landmarks(router).size(), 2u);
    EXPECT_THROW(router.setCosts({1.0}), std::invalid_argument);
    EXPECT_THROW(router.setCosts({1.0, std::nan("")}), std::invalid_argument);
    EXPECT_THROW(router.setMaxSpeed(0), std::invalid_argument);
    EXPECT_THROW(router.route(0, 7), std::out_of_range);
    EXPECT_THROW(router.dijkstra(9, 0), std::out_of_range);
    EXPECT_THROW(router.routeMany({{0, 1}}, 0), std::invalid_argument);
    EXPECT_THROW(router.routeMany({{0, 5}}, 1), std::out_of_range);
    EXPECT_THROW(Router(net, VClass::Passenger, -1), std::invalid_argument);
    Network unfinished;
    unfinished.edges.resize(2);
    EXPECT_THROW(Router(unfinished, VClass::Passenger), std::invalid_argument);
    Network empty;
    empty.finalize();
    Router none(empty, VClass::Passenger, 8);
    EXPECT_TRUE(none.routeMany({}, 2).empty());
    EXPECT_FALSE(router.route(1, 0).found()); // one-way: no way back
}

TEST(MobilityRouter, SpeedOnHundredByHundredGrid) {
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> speed(8, 20);
    Grid grid = makeGridSpecs(100, 100, 100, [&] { return speed(rng); });
    Network net = makeNetwork(10000, grid.specs);
    auto t0 = Clock::now();
    Router router(net, VClass::Passenger, 8);
    double buildS = secondsSince(t0);

    auto pairs = randomPairs(2000, net.edges.size(), 5);
    t0 = Clock::now();
    auto one = router.routeMany(pairs, 1);
    double aStar1 = double(pairs.size()) / secondsSince(t0);
    t0 = Clock::now();
    auto two = router.routeMany(pairs, 2);
    double aStar2 = double(pairs.size()) / secondsSince(t0);

    std::vector<std::pair<uint32_t, uint32_t>> sample(pairs.begin(), pairs.begin() + 200);
    t0 = Clock::now();
    std::vector<RouteResult> reference;
    for (auto [from, to] : sample) reference.push_back(router.dijkstra(from, to));
    double dijkstraRate = double(sample.size()) / secondsSince(t0);
    size_t settledAStar = 0, settledDijkstra = 0;
    for (size_t i = 0; i < sample.size(); ++i) {
        ASSERT_TRUE(reference[i].found());
        EXPECT_TRUE(relClose(one[i].costS, reference[i].costS));
        EXPECT_EQ(two[i].edges, one[i].edges);
        settledAStar += Access::aStarSettled(router, sample[i].first, sample[i].second);
        settledDijkstra += Access::dijkstraSettled(router, sample[i].first, sample[i].second);
    }
    double meanAStar = double(settledAStar) / double(sample.size()),
           meanDijkstra = double(settledDijkstra) / double(sample.size());
    test::reportFigure("router", "grid_edges", double(net.edges.size()));
    test::reportFigure("router", "landmark_build_s", buildS);
    test::reportFigure("router", "astar_routes_per_s_1thread", aStar1);
    test::reportFigure("router", "astar_routes_per_s_2threads", aStar2);
    test::reportFigure("router", "dijkstra_routes_per_s", dijkstraRate);
    test::reportFigure("router", "astar_mean_settled", meanAStar);
    test::reportFigure("router", "dijkstra_mean_settled", meanDijkstra);
    EXPECT_LT(meanAStar, meanDijkstra);
}

} // namespace
} // namespace ct::mobility
