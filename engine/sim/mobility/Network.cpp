#include "sim/mobility/Network.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ct::mobility {

const char* toString(VClass c) {
    switch (c) {
    case VClass::Passenger: return "passenger";
    case VClass::Truck: return "truck";
    case VClass::Bus: return "bus";
    case VClass::Bicycle: return "bicycle";
    case VClass::Pedestrian: return "pedestrian";
    case VClass::Count: break;
    }
    return "?";
}

std::optional<VClass> vclassFromString(std::string_view s) {
    if (s == "passenger" || s == "private" || s == "taxi" || s == "evehicle" || s == "emergency" ||
        s == "authority" || s == "vip" || s == "motorcycle" || s == "moped" || s == "custom1" || s == "custom2")
        return VClass::Passenger;
    if (s == "truck" || s == "trailer" || s == "delivery" || s == "army") return VClass::Truck;
    if (s == "bus" || s == "coach") return VClass::Bus;
    if (s == "bicycle") return VClass::Bicycle;
    if (s == "pedestrian") return VClass::Pedestrian;
    return std::nullopt;
}

const char* toString(JunctionType t) {
    switch (t) {
    case JunctionType::Priority: return "priority";
    case JunctionType::RightBeforeLeft: return "right_before_left";
    case JunctionType::TrafficLight: return "traffic_light";
    case JunctionType::AllWayStop: return "allway_stop";
    case JunctionType::DeadEnd: return "dead_end";
    case JunctionType::Unregulated: return "unregulated";
    }
    return "?";
}

double SignalProgram::cycleS() const {
    double c = 0;
    for (const auto& p : phases) c += p.durationS;
    return c;
}

char SignalProgram::stateAt(int index, double timeS) const {
    double cycle = cycleS();
    if (phases.empty() || cycle <= 0) return 'O';
    double t = std::fmod(timeS + offsetS, cycle);
    if (t < 0) t += cycle;
    for (const auto& p : phases) {
        if (t < p.durationS) return index >= 0 && size_t(index) < p.state.size() ? p.state[size_t(index)] : 'O';
        t -= p.durationS;
    }
    const auto& last = phases.back().state;
    return index >= 0 && size_t(index) < last.size() ? last[size_t(index)] : 'O';
}

void Network::finalize(const std::string& source) {
    auto fail = [&](const std::string& what) {
        throw InputError(what, source, "the network file is inconsistent; regenerate it or report the bug");
    };
    const uint32_t nLanes = uint32_t(lanes.size()), nEdges = uint32_t(edges.size()),
                   nConn = uint32_t(connections.size());
    for (uint32_t e = 0; e < nEdges; ++e) {
        const Edge& edge = edges[e];
        if (edge.laneCount == 0 || edge.firstLane + edge.laneCount > nLanes)
            fail("edge '" + edge.id + "' has no lanes or lanes out of range");
        if (edge.fromJunction >= junctions.size() || edge.toJunction >= junctions.size())
            fail("edge '" + edge.id + "' names a junction that does not exist");
        if (!(edge.lengthM >= 0) || !std::isfinite(edge.lengthM) || !(edge.speedMps > 0) || edge.speedMps > 150)
            fail("edge '" + edge.id + "' has an absurd length or speed");
        for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l)
            if (lanes[l].edge != e) fail("lane " + std::to_string(l) + " does not belong to edge '" + edge.id + "'");
    }
    for (const Lane& lane : lanes) {
        if (lane.shapeStart > lane.shapeEnd || lane.shapeEnd > shapePoints.size()) fail("lane shape out of range");
        if (!(lane.lengthM >= 0) || !(lane.speedMps > 0)) fail("lane with absurd length or speed");
    }
    for (const Connection& c : connections) {
        if (c.fromLane >= nLanes || c.toLane >= nLanes) fail("connection between lanes that do not exist");
        if (c.viaLane != kNone && c.viaLane >= nLanes) fail("connection through an internal lane that does not exist");
        if (c.yieldStart > c.yieldEnd || c.yieldEnd > linkRefs.size() || c.foeStart > c.foeEnd ||
            c.foeEnd > linkRefs.size())
            fail("connection conflict list out of range");
        if (c.signal != kNone && c.signal >= signals.size()) fail("connection controlled by a missing signal");
    }
    for (uint32_t r : linkRefs)
        if (r >= nConn) fail("conflict list names a connection that does not exist");

    // Sort connections by fromLane (stable: keeps the writer's order within a lane) and
    // renumber everything that refers to them.
    std::vector<uint32_t> order(nConn);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return connections[a].fromLane < connections[b].fromLane; });
    std::vector<uint32_t> newIndex(nConn);
    for (uint32_t i = 0; i < nConn; ++i) newIndex[order[i]] = i;
    std::vector<Connection> sorted(nConn);
    for (uint32_t i = 0; i < nConn; ++i) sorted[i] = connections[order[i]];
    connections = std::move(sorted);
    for (uint32_t& r : linkRefs) r = newIndex[r];
    for (Lane& lane : lanes)
        if (lane.connection != kNone) {
            if (lane.connection >= nConn) fail("internal lane of a connection that does not exist");
            lane.connection = newIndex[lane.connection];
        }
    for (Lane& lane : lanes) lane.outStart = lane.outEnd = 0;
    for (uint32_t i = 0; i < nConn;) {
        uint32_t l = connections[i].fromLane, j = i;
        while (j < nConn && connections[j].fromLane == l) ++j;
        lanes[l].outStart = i;
        lanes[l].outEnd = j;
        i = j;
    }
    for (uint32_t i = 0; i < nConn; ++i)
        if (connections[i].viaLane != kNone) lanes[connections[i].viaLane].connection = i;

    // Edge successors through connections between normal lanes.
    std::vector<std::vector<uint32_t>> succ(nEdges);
    for (const Connection& c : connections) {
        uint32_t a = lanes[c.fromLane].edge, b = lanes[c.toLane].edge;
        if (a != kNone && b != kNone) succ[a].push_back(b);
    }
    succStart.assign(nEdges + 1, 0);
    succEdges.clear();
    for (uint32_t e = 0; e < nEdges; ++e) {
        auto& s = succ[e];
        std::sort(s.begin(), s.end());
        s.erase(std::unique(s.begin(), s.end()), s.end());
        succEdges.insert(succEdges.end(), s.begin(), s.end());
        succStart[e + 1] = uint32_t(succEdges.size());
    }

    edgeById.clear();
    edgeById.reserve(nEdges);
    for (uint32_t e = 0; e < nEdges; ++e)
        if (!edgeById.emplace(edges[e].id, e).second) fail("edge id '" + edges[e].id + "' appears twice");
}

std::optional<uint32_t> Network::findEdge(std::string_view id) const {
    auto it = edgeById.find(std::string(id));
    if (it == edgeById.end()) return std::nullopt;
    return it->second;
}

Vec2 Network::lanePoint(uint32_t lane, double pos, double* headingRad) const {
    auto shape = laneShape(lane);
    if (shape.empty()) {
        if (headingRad) *headingRad = 0;
        return Vec2::Zero();
    }
    if (shape.size() == 1) {
        if (headingRad) *headingRad = 0;
        return shape[0];
    }
    // Shapes and lane lengths may disagree slightly (SUMO lengths are given, not measured):
    // scale the position onto the drawn polyline.
    double drawn = length(shape);
    double s = lanes[lane].lengthM > 0 && drawn > 0 ? pos * drawn / lanes[lane].lengthM : pos;
    s = std::clamp(s, 0.0, drawn);
    for (size_t i = 1; i < shape.size(); ++i) {
        Vec2 d = shape[i] - shape[i - 1];
        double len = d.norm();
        if (s <= len || i + 1 == shape.size()) {
            if (headingRad) *headingRad = std::atan2(d.y(), d.x());
            return len > 0 ? Vec2(shape[i - 1] + d * std::min(1.0, s / len)) : shape[i];
        }
        s -= len;
    }
    return shape.back();
}

bool Network::allows(uint32_t edge, VClass c) const {
    const Edge& e = edges[edge];
    for (uint32_t l = e.firstLane; l < e.firstLane + e.laneCount; ++l)
        if (lanes[l].allow & classBit(c)) return true;
    return false;
}

} // namespace ct::mobility
