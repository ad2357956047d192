#pragma once
// Fastest paths on the edge graph (a route is a list of edges; turns are allowed only where
// the network has a connection, so turn restrictions hold). A* with landmarks (ALT): a few
// landmark edges chosen by farthest-point selection give admissible lower bounds through the
// triangle inequality. Edge costs are travel times the caller can change (closures = +inf,
// measured travel times during dynamic assignment); the landmark bounds are computed on the
// free-flow edge times (turn costs left out), which stay lower bounds as long as costs only
// grow. Thread-safe for concurrent route() calls once built.
#include "sim/mobility/Network.h"

#include <vector>

namespace ct::mobility {

struct RouteResult {
    std::vector<uint32_t> edges; // from .. to inclusive; empty if unreachable
    double costS = 0;            // sum of edge costs, excluding the first edge's
    bool found() const { return !edges.empty(); }
};

class Router {
public:
    // `vclass`: only edges with a lane allowing it are used. `landmarks` 0 = plain Dijkstra.
    Router(const Network& net, VClass vclass, int landmarks = 8);

    // Travel time of each edge in seconds (default: length / speed limit, capped at the
    // class's `maxSpeedMps`); +inf closes an edge. Costs must stay ≥ the free-flow times
    // for A* to stay exact; lower costs are clamped to them.
    void setCosts(std::vector<double> costsS);
    const std::vector<double>& costs() const { return cost; }
    // Cost of crossing the junction from an edge to a successor, aligned with
    // Network::succEdges: the internal lane's free-flow time plus, like SUMO's routing
    // (--weights.minor-penalty), kMinorLinkPenaltyS where the link must yield. The cheapest
    // connection the class may use counts. Route costs include them.
    const std::vector<double>& turnCosts() const { return turn; }
    static constexpr double kMinorLinkPenaltyS = 1.5;
    void setMaxSpeed(double maxSpeedMps); // resets costs to free flow at min(limit, maxSpeed)

    // Fastest route from the start of `from` to the end of `to` (the cost of `from` itself
    // is not counted, matching SUMO's routing at insertion).
    RouteResult route(uint32_t from, uint32_t to) const;
    // Many routes at once, in parallel; results in the order of `pairs`.
    std::vector<RouteResult> routeMany(const std::vector<std::pair<uint32_t, uint32_t>>& pairs, int threads) const;

    // Plain Dijkstra with no landmarks, no pruning: the reference the tests compare A* to.
    RouteResult dijkstra(uint32_t from, uint32_t to) const;

private:
    friend struct RouterTestAccess; // tests read settled counts and bounds
    const Network& net;
    VClass vclass;
    int landmarkCount = 0;               // requested; fewer when the graph is small
    double maxSpeed = 0;                 // +inf = speed limits only
    std::vector<double> cost, freeFlow;  // freeFlow = +inf where the class may not drive
    std::vector<double> turn;            // per Network::succEdges entry
    std::vector<uint8_t> usable;
    std::vector<uint32_t> predStart, predEdges; // reverse of Network::successors
    std::vector<uint32_t> landmarkEdges;
    // Free-flow times d(L, e) and d(e, L), interleaved: [e * landmarkEdges.size() + i].
    std::vector<float> fromLandmark, toLandmark;
    double lowerBound(uint32_t edge, uint32_t target) const;
    void resetFreeFlow();
    void computeTurnCosts();
    void buildReverseGraph();
    void chooseLandmarks();
    std::vector<double> freeFlowDistances(uint32_t source, bool backward) const;
    void checkEdge(uint32_t edge, const char* what) const;
    RouteResult aStar(uint32_t from, uint32_t to, size_t* settled) const;
    RouteResult plainDijkstra(uint32_t from, uint32_t to, size_t* settled) const;
};

} // namespace ct::mobility
