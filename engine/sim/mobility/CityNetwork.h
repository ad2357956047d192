#pragma once
// The traffic network from the city's road graph: lanes from the road's lane count (or a
// default by road class), speeds, one-ways, lane-to-lane connections at every junction (no
// U-turns except at dead ends; turning lanes by direction, rightmost lanes turn right,
// leftmost turn left), junction control (priority from road class, right-before-left where
// equal residential roads meet, traffic signals where OSM says so or guessed at big
// junctions like SUMO's --tls.guess, with fixed-time programs), and the conflict lists
// (which links cross or merge, which one yields). Footways, steps and paths are left out;
// cycleways carry bicycles only.
#include "city/CityModel.h"
#include "sim/mobility/Network.h"

namespace ct::mobility {

struct CityNetworkOptions {
    bool guessSignals = true;
    double signalGuessMinSpeedMps = 30 / 3.6; // like --tls.guess: all incoming roads at least this fast
    int signalGuessMinIncoming = 3;          // ... and at least this many incoming roads
    double signalCycleS = 90;                // fixed-time cycle: green split by phase, 3 s yellow
    double yellowS = 3;
    double junctionRadiusM = 6;              // internal lane length ≈ turning path through this
};

// Every city edge that becomes a mobility edge keeps its index in Edge::sourceEdge and the
// mobility edge id is the city edge index as text. Nodes OSM tags as traffic signals are
// passed in `signalNodes` (may be empty).
Network buildCityNetwork(const RoadNetwork& roads, const CityNetworkOptions& options = {},
                         const std::vector<NodeId>& signalNodes = {});

} // namespace ct::mobility
