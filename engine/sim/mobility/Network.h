#pragma once
// The network the mobility simulation drives on: edges with lanes, junctions with their
// control, lane-to-lane connections through each junction (with the internal lane a vehicle
// drives while crossing) and fixed-time signal programs. Built from the city's road graph
// (CityNetwork.h) or read from a SUMO .net.xml (SumoXml.h); both fill the same structs and
// call finalize(). Coordinates: metres in the frame of the source (city local frame, or the
// SUMO net's x/y).
#include "core/Geometry.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ct::mobility {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// Vehicle classes; a lane allows a set of them (bit i = class i).
enum class VClass : uint8_t { Passenger, Truck, Bus, Bicycle, Pedestrian, Count };
using ClassMask = uint8_t;
constexpr ClassMask classBit(VClass c) { return ClassMask(1u << unsigned(c)); }
constexpr ClassMask kMotorVehicles =
    classBit(VClass::Passenger) | classBit(VClass::Truck) | classBit(VClass::Bus);
constexpr ClassMask kAllVehicles = kMotorVehicles | classBit(VClass::Bicycle);
constexpr ClassMask kAllClasses = kAllVehicles | classBit(VClass::Pedestrian);
const char* toString(VClass c);
std::optional<VClass> vclassFromString(std::string_view sumoName); // "passenger", "bicycle", ...

struct Lane {
    uint32_t edge = kNone;       // owning edge; kNone for an internal lane
    uint32_t connection = kNone; // for an internal lane: the connection it belongs to
    uint8_t index = 0;           // 0 = rightmost
    ClassMask allow = kAllVehicles;
    float lengthM = 0, speedMps = 13.89f;
    uint32_t shapeStart = 0, shapeEnd = 0; // points in Network::shapePoints
    // Connections leaving this lane: Network::connections[outStart, outEnd) (filled by finalize).
    uint32_t outStart = 0, outEnd = 0;
    bool internal() const { return edge == kNone; }
};

struct Edge {
    std::string id;
    std::string name;              // street name, may be empty
    uint32_t fromJunction = kNone, toJunction = kNone;
    uint32_t firstLane = 0;        // lanes [firstLane, firstLane + laneCount), rightmost first
    uint8_t laneCount = 0;
    int priority = 0;              // higher = more important road
    float lengthM = 0, speedMps = 13.89f;
    uint32_t sourceEdge = kNone;   // index in the city's RoadNetwork, kNone if none
};

enum class JunctionType : uint8_t { Priority, RightBeforeLeft, TrafficLight, AllWayStop, DeadEnd, Unregulated };
const char* toString(JunctionType t);

struct Junction {
    std::string id;
    Vec2 pos = Vec2::Zero();
    JunctionType type = JunctionType::Priority;
    uint32_t signal = kNone;       // index into Network::signals when signalised
};

enum class LinkDir : uint8_t { Straight, Left, Right, PartLeft, PartRight, Turn };

// One movement through a junction, from an incoming lane to an outgoing lane.
struct Connection {
    uint32_t fromLane = kNone, toLane = kNone;
    uint32_t viaLane = kNone;   // internal lane driven while crossing; kNone = none (zero length)
    uint32_t junction = kNone;
    LinkDir dir = LinkDir::Straight;
    // Right of way when not signalised (or when the signal shows minor green 'g'):
    // true = major (SUMO 'M'), false = must yield to the links in yieldTo.
    bool major = true;
    bool mustStop = false;      // stop sign / all-way stop: come to a halt before entering
    uint32_t signal = kNone;    // controlling program, kNone if unsignalised
    int signalIndex = -1;       // this link's position in the program's state strings
    // Links (connection indices) this one must let pass first, and all links it crosses or
    // merges with: Network::linkRefs[yieldStart, yieldEnd) and [foeStart, foeEnd).
    uint32_t yieldStart = 0, yieldEnd = 0;
    uint32_t foeStart = 0, foeEnd = 0;
};

struct SignalPhase {
    float durationS = 0;
    // One character per signal index, SUMO's alphabet: 'G' green (priority), 'g' green
    // (yield to foes), 'y' yellow, 'r' red, 's' green after stop, 'o'/'O' off.
    std::string state;
};

struct SignalProgram {
    std::string id;
    float offsetS = 0;
    std::vector<SignalPhase> phases;
    double cycleS() const;
    // The state character of `index` at scenario time `timeS`.
    char stateAt(int index, double timeS) const;
};

struct Network {
    std::vector<Junction> junctions;
    std::vector<Edge> edges;
    std::vector<Lane> lanes;
    std::vector<Connection> connections;
    std::vector<uint32_t> linkRefs;      // yieldTo and foe lists of the connections
    std::vector<SignalProgram> signals;
    std::vector<Vec2> shapePoints;       // lane centre lines, driving direction

    // Edge successors for routing: edges reachable from edge e through some connection,
    // succEdges[succStart[e], succStart[e+1]) (filled by finalize, sorted, unique).
    std::vector<uint32_t> succStart, succEdges;

    // Checks references and values, sorts connections by fromLane (renumbering linkRefs and
    // Lane::connection to match), builds the indices above. Throws InputError (naming
    // `source`) for dangling references or absurd values.
    void finalize(const std::string& source = "network");

    std::optional<uint32_t> findEdge(std::string_view id) const;
    std::span<const uint32_t> successors(uint32_t edge) const {
        return {succEdges.data() + succStart[edge], succStart[edge + 1] - succStart[edge]};
    }
    std::span<const Connection> outgoing(uint32_t lane) const {
        return {connections.data() + lanes[lane].outStart, lanes[lane].outEnd - lanes[lane].outStart};
    }
    std::span<const uint32_t> yieldTo(const Connection& c) const {
        return {linkRefs.data() + c.yieldStart, c.yieldEnd - c.yieldStart};
    }
    std::span<const uint32_t> foes(const Connection& c) const {
        return {linkRefs.data() + c.foeStart, c.foeEnd - c.foeStart};
    }
    std::span<const Vec2> laneShape(uint32_t lane) const {
        return {shapePoints.data() + lanes[lane].shapeStart, lanes[lane].shapeEnd - lanes[lane].shapeStart};
    }
    // Position and heading (radians, counter-clockwise from +x) at `pos` metres along a lane.
    Vec2 lanePoint(uint32_t lane, double pos, double* headingRad = nullptr) const;
    bool allows(uint32_t edge, VClass c) const; // some lane of the edge lets class c drive

    std::unordered_map<std::string, uint32_t> edgeById; // filled by finalize
};

} // namespace ct::mobility
