#pragma once
// Nearest edge to a point, for placing trips given as coordinates or buildings on the network.
// A uniform grid over the segments of each edge's rightmost lane (lane 0); queries search
// rings of cells outwards until no closer segment can exist. Read-only after construction,
// so concurrent queries are safe.
#include "sim/mobility/Demand.h"
#include "sim/mobility/Network.h"

#include <optional>
#include <vector>

namespace ct::mobility {

// The lane classes a trip of this mode can start or end on. Walk trips may use any edge:
// city networks have no sidewalks, the walk is only placed, not simulated on lanes.
ClassMask classesForMode(Mode mode);
VClass vclassForMode(Mode mode); // the class of the vehicle type a trip of this mode drives

class EdgeIndex {
public:
    explicit EdgeIndex(const Network& net, double cellSizeM = 100);

    // Nearest edge with a lane allowing one of `classes`, measured to its lane-0 centre line;
    // nullopt if there is none within `maxDistanceM`.
    std::optional<uint32_t> nearest(const Vec2& p, ClassMask classes, double maxDistanceM = 1000) const;

private:
    struct Segment {
        uint32_t edge, point; // segment from shapePoints[point] to shapePoints[point + 1]
    };
    const Network& net;
    std::vector<ClassMask> edgeClasses; // union of the edge's lanes' allow masks
    Vec2 origin = Vec2::Zero();
    double cell = 100;
    int cols = 0, rows = 0;
    std::vector<uint32_t> cellStart;   // CSR: segments in cell c are segments[cellStart[c]..[c+1])
    std::vector<Segment> segments;
    double distanceToSegment(const Vec2& p, const Segment& s) const;
};

} // namespace ct::mobility
