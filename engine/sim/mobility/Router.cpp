#include "sim/mobility/Router.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <string>

namespace ct::mobility {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Landmark distances are stored as floats (half the memory traffic of doubles). Rounding
// each of the two operands of a difference by up to 2^-24 relative can raise the difference
// by 2^-24 (a + b); subtracting a little more keeps the bound a lower bound.
constexpr double kFloatSlack = 1e-7;

// Lower bound on the cost of a route from v to t from the triangle inequality (see
// Router::chooseLandmarks for why it holds), or +inf when the landmarks prove that v cannot
// reach t at all. v*/t* point at the k interleaved landmark distances of v and t.
double altBound(const float* vFrom, const float* vTo, const float* tFrom, const float* tTo, size_t k) {
    double best = 0;
    for (size_t i = 0; i < k; ++i) {
        double lv = vFrom[i], lt = tFrom[i], vl = vTo[i], tl = tTo[i];
        if (std::isfinite(lt)) {
            if (std::isfinite(lv)) best = std::max(best, lt - lv - kFloatSlack * (lt + lv));
        } else if (std::isfinite(lv)) {
            return kInf; // L reaches v but not t, so v cannot reach t
        }
        if (std::isfinite(tl)) {
            if (!std::isfinite(vl)) return kInf; // t reaches L but v does not, so v cannot reach t
            best = std::max(best, vl - tl - kFloatSlack * (vl + tl));
        }
    }
    return best;
}

// Min-heap entry; ties on the key go to the lower edge index so results never depend on
// the order of insertion.
struct HeapEntry {
    double key;
    uint32_t edge;
};
struct HeapAfter {
    bool operator()(const HeapEntry& a, const HeapEntry& b) const {
        return a.key > b.key || (a.key == b.key && a.edge > b.edge);
    }
};
using MinHeap = std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapAfter>;

// A* state of one thread, reused across queries. A generation stamp marks which entries
// belong to the current query, so nothing is cleared between queries.
struct AStarScratch {
    struct Node {
        double g, h;
        uint32_t parent, stamp;
    };
    std::vector<Node> nodes;
    std::vector<HeapEntry> heap;
    uint32_t base = 0; // stamp == base: reached in this query; == base + 1: settled

    void begin(size_t n) {
        if (nodes.size() < n) nodes.resize(n, Node{0, 0, kNone, 0});
        if (base >= std::numeric_limits<uint32_t>::max() - 4) {
            for (Node& node : nodes) node.stamp = 0;
            base = 0;
        }
        base += 2;
        heap.clear();
    }
    bool reached(uint32_t e) const { return nodes[e].stamp == base || nodes[e].stamp == base + 1; }
};

AStarScratch& threadScratch() {
    thread_local AStarScratch scratch;
    return scratch;
}

template <class ParentOf> std::vector<uint32_t> pathTo(uint32_t to, ParentOf parentOf) {
    std::vector<uint32_t> path;
    for (uint32_t e = to; e != kNone; e = parentOf(e)) path.push_back(e);
    std::reverse(path.begin(), path.end());
    return path;
}

// Weakly connected components of the allowed edges (union-find); returns the component of
// each edge (kNone for edges the class may not use).
std::vector<uint32_t> weakComponents(const Network& net, const std::vector<double>& freeFlow) {
    const uint32_t n = uint32_t(freeFlow.size());
    std::vector<uint32_t> parent(n);
    std::iota(parent.begin(), parent.end(), 0u);
    auto find = [&](uint32_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    for (uint32_t e = 0; e < n; ++e) {
        if (!std::isfinite(freeFlow[e])) continue;
        for (uint32_t f : net.successors(e))
            if (std::isfinite(freeFlow[f])) parent[find(e)] = find(f);
    }
    std::vector<uint32_t> component(n, kNone);
    for (uint32_t e = 0; e < n; ++e)
        if (std::isfinite(freeFlow[e])) component[e] = find(e);
    return component;
}

// [e * k + i] = perRow[i][e]: the k landmark times of an edge share a cache line.
std::vector<float> interleave(const std::vector<std::vector<float>>& perRow, size_t n) {
    const size_t k = perRow.size();
    std::vector<float> out(n * k);
    for (size_t e = 0; e < n; ++e)
        for (size_t i = 0; i < k; ++i) out[e * k + i] = perRow[i][e];
    return out;
}

} // namespace

Router::Router(const Network& net, VClass vclass, int landmarks)
    : net(net), vclass(vclass), landmarkCount(landmarks), maxSpeed(kInf) {
    if (landmarks < 0) throw std::invalid_argument("Router: landmark count must be >= 0");
    if (net.succStart.size() != net.edges.size() + 1)
        throw std::invalid_argument("Router: the network is not finalized (call Network::finalize first)");
    buildReverseGraph();
    resetFreeFlow();
    chooseLandmarks();
}

void Router::buildReverseGraph() {
    const uint32_t n = uint32_t(net.edges.size());
    predStart.assign(n + 1, 0);
    for (uint32_t f : net.succEdges) ++predStart[f + 1];
    std::partial_sum(predStart.begin(), predStart.end(), predStart.begin());
    predEdges.resize(net.succEdges.size());
    std::vector<uint32_t> fill(predStart.begin(), predStart.end() - 1);
    for (uint32_t e = 0; e < n; ++e)
        for (uint32_t f : net.successors(e)) predEdges[fill[f]++] = e; // e ascending: sorted lists
}

void Router::resetFreeFlow() {
    const size_t n = net.edges.size();
    freeFlow.assign(n, kInf);
    for (uint32_t e = 0; e < n; ++e) {
        const Edge& edge = net.edges[e];
        if (net.allows(e, vclass)) freeFlow[e] = edge.lengthM / std::min<double>(edge.speedMps, maxSpeed);
    }
    cost = freeFlow;
    usable.assign(n, 0);
    for (size_t e = 0; e < n; ++e) usable[e] = std::isfinite(cost[e]);
    computeTurnCosts();
}

void Router::computeTurnCosts() {
    turn.assign(net.succEdges.size(), 0.0);
    const ClassMask bit = classBit(vclass);
    for (uint32_t e = 0; e < net.edges.size(); ++e) {
        const Edge& edge = net.edges[e];
        for (uint32_t p = net.succStart[e]; p < net.succStart[e + 1]; ++p) {
            const uint32_t f = net.succEdges[p];
            double best = kInf;
            for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l) {
                if (!(net.lanes[l].allow & bit)) continue;
                for (const Connection& c : net.outgoing(l)) {
                    const Lane& to = net.lanes[c.toLane];
                    if (to.edge != f || !(to.allow & bit)) continue;
                    double t = 0;
                    if (c.viaLane != kNone) {
                        const Lane& via = net.lanes[c.viaLane];
                        t = via.lengthM / std::min<double>(std::max(via.speedMps, 0.1f), maxSpeed);
                    }
                    if (!c.major && c.signal == kNone) t += kMinorLinkPenaltyS;
                    best = std::min(best, t);
                }
            }
            turn[p] = std::isfinite(best) ? best : 0.0; // successor only through lanes of other classes
        }
    }
}

void Router::setCosts(std::vector<double> costsS) {
    if (costsS.size() != freeFlow.size())
        throw std::invalid_argument("Router::setCosts: " + std::to_string(costsS.size()) + " costs for " +
                                    std::to_string(freeFlow.size()) + " edges");
    for (size_t e = 0; e < costsS.size(); ++e) {
        if (std::isnan(costsS[e]))
            throw std::invalid_argument("Router::setCosts: cost of edge " + std::to_string(e) + " is NaN");
        costsS[e] = std::max(costsS[e], freeFlow[e]); // keeps the free-flow bounds admissible
        usable[e] = std::isfinite(costsS[e]);
    }
    cost = std::move(costsS);
}

void Router::setMaxSpeed(double maxSpeedMps) {
    if (!(maxSpeedMps > 0)) throw std::invalid_argument("Router::setMaxSpeed: speed must be > 0");
    maxSpeed = maxSpeedMps;
    resetFreeFlow();
    chooseLandmarks(); // faster free flow would make the old bounds too high
}

// Single-source Dijkstra over the allowed edges at free flow. Forward: d(source, e);
// backward (on the reversed graph): d(e, source). The cost of a step is always the cost of
// the edge being entered, as in a route.
std::vector<double> Router::freeFlowDistances(uint32_t source, bool backward) const {
    std::vector<double> dist(freeFlow.size(), kInf);
    MinHeap heap;
    dist[source] = 0;
    heap.push({0, source});
    while (!heap.empty()) {
        auto [d, v] = heap.top();
        heap.pop();
        if (d > dist[v]) continue;
        if (!backward) {
            for (uint32_t f : net.successors(v))
                if (d + freeFlow[f] < dist[f]) heap.push({dist[f] = d + freeFlow[f], f});
        } else {
            for (uint32_t p = predStart[v]; p < predStart[v + 1]; ++p) {
                uint32_t u = predEdges[p]; // u -> v: d(u, L) = cost(v) + d(v, L)
                if (std::isfinite(freeFlow[u]) && d + freeFlow[v] < dist[u]) heap.push({dist[u] = d + freeFlow[v], u});
            }
        }
    }
    return dist;
}

// Farthest-point selection (Goldberg & Harrelson 2005). Why the bounds are admissible: let
// δ(a,b) be the cheapest route cost from a to b (edges after a, b included). Joining a route
// a..b to b..c counts b once, so δ(a,c) ≤ δ(a,b) + δ(b,c); hence δ(v,t) ≥ δ(L,t) − δ(L,v) and
// δ(v,t) ≥ δ(v,L) − δ(t,L). Free-flow δ ≤ actual δ because costs never go below free flow,
// and closing edges only removes routes, so "unreachable at free flow" stays unreachable.
void Router::chooseLandmarks() {
    landmarkEdges.clear();
    fromLandmark.clear();
    toLandmark.clear();
    const uint32_t n = uint32_t(freeFlow.size());
    std::vector<uint32_t> component = weakComponents(net, freeFlow);
    std::vector<uint32_t> componentSize(n, 0);
    uint32_t allowedCount = 0;
    for (uint32_t e = 0; e < n; ++e)
        if (component[e] != kNone) ++componentSize[component[e]], ++allowedCount;
    if (landmarkCount == 0 || allowedCount == 0) return;
    uint32_t largest = uint32_t(std::max_element(componentSize.begin(), componentSize.end()) - componentSize.begin());
    // Small islands (a car park, a cut-off lane) would waste landmarks; their queries fall
    // back to a bound of 0, which is still exact.
    auto eligible = [&](uint32_t e) {
        return component[e] != kNone && (component[e] == largest || uint64_t(componentSize[component[e]]) * 20 >= allowedCount);
    };
    auto farthestFrom = [&](uint32_t start) {
        std::vector<double> d = freeFlowDistances(start, false);
        uint32_t best = start;
        for (uint32_t e = 0; e < n; ++e)
            if (eligible(e) && std::isfinite(d[e]) && d[e] > d[best]) best = e;
        return best;
    };

    std::vector<std::vector<float>> fromEach, toEach;
    std::vector<double> nearest(n, kInf); // min over chosen L of min(d(L,e), d(e,L))
    std::vector<uint8_t> isLandmark(n, 0);
    auto farthestFromChosen = [&] {
        uint32_t next = kNone;
        for (uint32_t e = 0; e < n; ++e)
            if (eligible(e) && !isLandmark[e] && (next == kNone || nearest[e] > nearest[next])) next = e;
        // Not related to any landmark yet (another component): start at its periphery.
        return next != kNone && std::isinf(nearest[next]) ? farthestFrom(next) : next;
    };
    uint32_t start = eligible(0) ? 0 : kNone;
    for (uint32_t e = 0; e < n && start == kNone; ++e)
        if (component[e] == largest) start = e;
    while (landmarkEdges.size() < size_t(landmarkCount)) {
        uint32_t next = landmarkEdges.empty() ? farthestFrom(start) : farthestFromChosen();
        if (next == kNone) break; // every eligible edge is a landmark already
        std::vector<double> forward = freeFlowDistances(next, false), backward = freeFlowDistances(next, true);
        for (uint32_t e = 0; e < n; ++e) nearest[e] = std::min({nearest[e], forward[e], backward[e]});
        landmarkEdges.push_back(next);
        isLandmark[next] = 1;
        fromEach.emplace_back(forward.begin(), forward.end());
        toEach.emplace_back(backward.begin(), backward.end());
    }
    fromLandmark = interleave(fromEach, n);
    toLandmark = interleave(toEach, n);
}

double Router::lowerBound(uint32_t edge, uint32_t target) const {
    const size_t k = landmarkEdges.size();
    return altBound(fromLandmark.data() + edge * k, toLandmark.data() + edge * k, fromLandmark.data() + target * k,
                    toLandmark.data() + target * k, k);
}

void Router::checkEdge(uint32_t edge, const char* what) const {
    if (edge >= freeFlow.size())
        throw std::out_of_range(std::string("Router: ") + what + " edge " + std::to_string(edge) + " out of range (" +
                                std::to_string(freeFlow.size()) + " edges)");
}

RouteResult Router::route(uint32_t from, uint32_t to) const { return aStar(from, to, nullptr); }

RouteResult Router::dijkstra(uint32_t from, uint32_t to) const { return plainDijkstra(from, to, nullptr); }

// A departure or arrival edge the class may not use (or that is closed) has no route.
RouteResult Router::aStar(uint32_t from, uint32_t to, size_t* settled) const {
    checkEdge(from, "from");
    checkEdge(to, "to");
    if (settled) *settled = 0;
    if (!usable[from] || !usable[to]) return {};
    if (from == to) return {{from}, 0};
    AStarScratch& s = threadScratch();
    s.begin(freeFlow.size());
    auto& nodes = s.nodes;
    const size_t k = landmarkEdges.size();
    const float* tFrom = fromLandmark.data() + to * k;
    const float* tTo = toLandmark.data() + to * k;
    auto bound = [&](uint32_t e) {
        return altBound(fromLandmark.data() + e * k, toLandmark.data() + e * k, tFrom, tTo, k);
    };
    auto& heap = s.heap;
    auto push = [&](double key, uint32_t e) {
        heap.push_back({key, e});
        std::push_heap(heap.begin(), heap.end(), HeapAfter{});
    };
    double h0 = bound(from);
    if (std::isinf(h0)) return {};
    nodes[from] = {0, h0, kNone, s.base};
    push(h0, from);
    bool found = false;
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), HeapAfter{});
        auto [key, v] = heap.back();
        heap.pop_back();
        if (key > nodes[v].g + nodes[v].h) continue; // stale: v was improved after this push
        nodes[v].stamp = s.base + 1;
        if (settled) ++*settled;
        if (v == to) {
            found = true;
            break;
        }
        const double gv = nodes[v].g;
        for (uint32_t p = net.succStart[v]; p < net.succStart[v + 1]; ++p) {
            const uint32_t f = net.succEdges[p];
            if (!usable[f]) continue;
            double g = gv + turn[p] + cost[f];
            if (!s.reached(f)) {
                double h = bound(f);
                if (std::isinf(h)) continue; // cannot reach the target
                nodes[f] = {g, h, v, s.base};
                push(g + h, f);
            } else if (g < nodes[f].g) {
                // Also reopens a settled edge: the float slack can make the bound very slightly
                // inconsistent, and reopening keeps the result exact anyway.
                nodes[f].g = g;
                nodes[f].parent = v;
                nodes[f].stamp = s.base;
                push(g + nodes[f].h, f);
            }
        }
    }
    RouteResult result;
    if (found) {
        result.costS = nodes[to].g;
        result.edges = pathTo(to, [&](uint32_t e) { return nodes[e].parent; });
    }
    return result;
}

// Textbook Dijkstra with its own arrays: the reference the A* search is checked against.
RouteResult Router::plainDijkstra(uint32_t from, uint32_t to, size_t* settled) const {
    checkEdge(from, "from");
    checkEdge(to, "to");
    if (settled) *settled = 0;
    if (!usable[from] || !usable[to]) return {};
    const size_t n = freeFlow.size();
    std::vector<double> dist(n, kInf);
    std::vector<uint32_t> parent(n, kNone);
    std::vector<uint8_t> done(n, 0);
    MinHeap heap;
    dist[from] = 0;
    heap.push({0, from});
    while (!heap.empty()) {
        uint32_t v = heap.top().edge;
        heap.pop();
        if (done[v]) continue;
        done[v] = 1;
        if (settled) ++*settled;
        if (v == to) break;
        for (uint32_t p = net.succStart[v]; p < net.succStart[v + 1]; ++p) {
            const uint32_t f = net.succEdges[p];
            if (!usable[f] || done[f]) continue;
            if (dist[v] + turn[p] + cost[f] < dist[f]) {
                dist[f] = dist[v] + turn[p] + cost[f];
                parent[f] = v;
                heap.push({dist[f], f});
            }
        }
    }
    if (!done[to]) return {};
    return {pathTo(to, [&](uint32_t e) { return parent[e]; }), dist[to]};
}

std::vector<RouteResult> Router::routeMany(const std::vector<std::pair<uint32_t, uint32_t>>& pairs,
                                           int threads) const {
    if (threads < 1) throw std::invalid_argument("Router::routeMany: threads must be >= 1");
    for (const auto& [from, to] : pairs) {
        checkEdge(from, "from");
        checkEdge(to, "to");
    }
    std::vector<RouteResult> results(pairs.size());
    tbb::task_arena arena(threads);
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<size_t>(0, pairs.size()), [&](const tbb::blocked_range<size_t>& r) {
            for (size_t i = r.begin(); i < r.end(); ++i) results[i] = route(pairs[i].first, pairs[i].second);
        });
    });
    return results;
}

} // namespace ct::mobility
