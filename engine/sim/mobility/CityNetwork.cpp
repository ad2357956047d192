#include "sim/mobility/CityNetwork.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <unordered_map>
#include <unordered_set>

namespace ct::mobility {
namespace {

constexpr double kLaneWidthM = 3.2;
// Turning speed sqrt(a_lat × r): SUMO's netconvert default --junctions.limit-turn-speed 5.5 m/s².
constexpr double kTurnLateralAccel = 5.5;
constexpr double kMinTurnSpeedMps = 2.8;
constexpr double kMinLaneLengthM = 0.1;
constexpr int kCurveSegments = 8;
constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;

// --- Road classes ---------------------------------------------------------------------------

bool carriesTraffic(RoadClass c) {
    return c != RoadClass::Footway && c != RoadClass::Path && c != RoadClass::Pedestrian && c != RoadClass::Steps;
}

ClassMask allowedClasses(RoadClass c) {
    if (c == RoadClass::Cycleway) return classBit(VClass::Bicycle);
    if (c == RoadClass::Motorway || c == RoadClass::Trunk) return kMotorVehicles;
    return kAllVehicles;
}

// Higher = more important (docs/mobility.md); only the order matters.
int priorityOf(RoadClass c) {
    switch (c) {
    case RoadClass::Motorway: return 13;
    case RoadClass::Trunk: return 12;
    case RoadClass::Primary: return 11;
    case RoadClass::Secondary: return 10;
    case RoadClass::Tertiary: return 9;
    case RoadClass::Unclassified: return 4;
    case RoadClass::Other: return 4;
    case RoadClass::Residential: return 3;
    case RoadClass::LivingStreet: return 2;
    case RoadClass::Service: return 1;
    case RoadClass::Track: return 1;
    default: return 0; // cycleway
    }
}

int defaultLanes(RoadClass c) { return c == RoadClass::Motorway || c == RoadClass::Trunk ? 2 : 1; }

// The importer's defaults, for road graphs built elsewhere that leave speeds out.
double defaultSpeedMps(RoadClass c) {
    switch (c) {
    case RoadClass::Motorway: return 130 / 3.6;
    case RoadClass::Trunk: return 100 / 3.6;
    case RoadClass::LivingStreet: return 7 / 3.6;
    case RoadClass::Service:
    case RoadClass::Cycleway: return 20 / 3.6;
    case RoadClass::Track:
    case RoadClass::Other: return 30 / 3.6;
    default: return 50 / 3.6;
    }
}

// Streets where equal roads meet as right-before-left (German §8 StVO default).
bool minorStreet(RoadClass c) {
    return c == RoadClass::Residential || c == RoadClass::LivingStreet || c == RoadClass::Unclassified ||
           c == RoadClass::Service || c == RoadClass::Track;
}

bool mainRoad(RoadClass c) { return c <= RoadClass::Tertiary; }

// --- Geometry -------------------------------------------------------------------------------

double signedAngle(const Vec2& from, const Vec2& to) { // counter-clockwise, (-pi, pi]
    return std::atan2(from.x() * to.y() - from.y() * to.x(), from.dot(to));
}

Vec2 unit(const Vec2& v) {
    double n = v.norm();
    return n > 0 ? Vec2(v / n) : Vec2(1, 0);
}

Vec2 rightNormal(const Vec2& d) { return {d.y(), -d.x()}; }

LinkDir classify(double angleRad) {
    double a = std::abs(angleRad) / kDeg;
    if (a < 30) return LinkDir::Straight;
    if (a > 160) return LinkDir::Turn;
    bool left = angleRad > 0;
    if (a < 60) return left ? LinkDir::PartLeft : LinkDir::PartRight;
    return left ? LinkDir::Left : LinkDir::Right;
}

// 0 = straight or right (has way over the others), 1 = left, 2 = U-turn.
int turnRank(LinkDir d) {
    switch (d) {
    case LinkDir::Straight:
    case LinkDir::Right:
    case LinkDir::PartRight: return 0;
    case LinkDir::Left:
    case LinkDir::PartLeft: return 1;
    case LinkDir::Turn: return 2;
    }
    return 0;
}

// The polyline moved `offset` metres to its right, each vertex along the mean normal of its
// two segments (mitre limited so sharp bends do not spike).
std::vector<Vec2> offsetRight(std::span<const Vec2> line, double offset) {
    std::vector<Vec2> out(line.begin(), line.end());
    if (line.size() < 2 || offset == 0) return out;
    for (size_t i = 0; i < line.size(); ++i) {
        Vec2 nPrev = i > 0 ? rightNormal(unit(line[i] - line[i - 1])) : Vec2::Zero();
        Vec2 nNext = i + 1 < line.size() ? rightNormal(unit(line[i + 1] - line[i])) : Vec2::Zero();
        Vec2 n = i == 0 ? nNext : i + 1 == line.size() ? nPrev : unit(nPrev + nNext);
        double miter = i == 0 || i + 1 == line.size() ? 1.0 : 1.0 / std::max(0.5, n.dot(nPrev));
        out[i] = line[i] + n * (offset * miter);
    }
    return out;
}

Vec2 pointAlong(const std::vector<Vec2>& line, double s, size_t* segment) {
    for (size_t i = 1; i < line.size(); ++i) {
        double len = (line[i] - line[i - 1]).norm();
        if (s <= len || i + 1 == line.size()) {
            *segment = i;
            return len > 0 ? Vec2(line[i - 1] + (line[i] - line[i - 1]) * std::clamp(s / len, 0.0, 1.0)) : line[i];
        }
        s -= len;
    }
    *segment = 1;
    return line.back();
}

// The part of a polyline between `cutStart` metres from its start and `cutEnd` from its end.
std::vector<Vec2> cutLine(const std::vector<Vec2>& line, double cutStart, double cutEnd) {
    double total = length(line);
    if (cutStart <= 0 && cutEnd <= 0) return line;
    if (cutStart + cutEnd > total - 0.01) { // keep a short middle piece
        double keep = std::min(0.01, total);
        double scale = (total - keep) / std::max(cutStart + cutEnd, 1e-9);
        cutStart *= scale;
        cutEnd *= scale;
    }
    size_t i0, i1;
    Vec2 a = pointAlong(line, cutStart, &i0), b = pointAlong(line, total - cutEnd, &i1);
    std::vector<Vec2> out{a};
    for (size_t i = i0; i < i1; ++i) out.push_back(line[i]);
    out.push_back(b);
    return out;
}

// Path through the junction from the end of the incoming lane (p0, heading dIn) to the start
// of the outgoing lane (p3, heading dOut): a quadratic Bézier with its control point where the
// two lane lines meet, a cubic loop for U-turns, a cubic with chord/3 handles otherwise.
std::vector<Vec2> junctionPath(const Vec2& p0, const Vec2& dIn, const Vec2& p3, const Vec2& dOut, bool uTurn,
                               double radius) {
    double chord = (p3 - p0).norm();
    std::vector<Vec2> pts;
    auto cubic = [&](const Vec2& c1, const Vec2& c2) {
        for (int k = 0; k <= kCurveSegments; ++k) {
            double t = double(k) / kCurveSegments, u = 1 - t;
            pts.push_back(u * u * u * p0 + 3 * u * u * t * c1 + 3 * u * t * t * c2 + t * t * t * p3);
        }
    };
    if (uTurn) {
        double h = std::max(0.75 * radius, chord);
        cubic(p0 + dIn * h, p3 - dOut * h);
        return pts;
    }
    // p0 + s dIn = p3 - t dOut
    double det = dIn.x() * (-dOut.y()) + dOut.x() * dIn.y();
    if (std::abs(det) > 1e-6) {
        Vec2 r = p3 - p0;
        double s = (r.x() * (-dOut.y()) + dOut.x() * r.y()) / det;
        double t = (dIn.x() * r.y() - dIn.y() * r.x()) / det;
        if (s > 0 && t > 0 && s < 3 * chord && t < 3 * chord) {
            Vec2 c = p0 + dIn * s;
            for (int k = 0; k <= kCurveSegments; ++k) {
                double q = double(k) / kCurveSegments, u = 1 - q;
                pts.push_back(u * u * p0 + 2 * u * q * c + q * q * p3);
            }
            return pts;
        }
    }
    cubic(p0 + dIn * (chord / 3), p3 - dOut * (chord / 3));
    return pts;
}

double cross2(const Vec2& a, const Vec2& b) { return a.x() * b.y() - a.y() * b.x(); }

// Proper crossing: touching at end points or overlapping collinearly does not count.
bool segmentsCross(const Vec2& a, const Vec2& b, const Vec2& c, const Vec2& d) {
    double d1 = cross2(b - a, c - a), d2 = cross2(b - a, d - a);
    double d3 = cross2(d - c, a - c), d4 = cross2(d - c, b - c);
    const double eps = 1e-9;
    return ((d1 > eps && d2 < -eps) || (d1 < -eps && d2 > eps)) && ((d3 > eps && d4 < -eps) || (d3 < -eps && d4 > eps));
}

bool polylinesCross(std::span<const Vec2> a, std::span<const Vec2> b) {
    for (size_t i = 1; i < a.size(); ++i)
        for (size_t j = 1; j < b.size(); ++j)
            if (segmentsCross(a[i - 1], a[i], b[j - 1], b[j])) return true;
    return false;
}

Box2 boundsOf(std::span<const Vec2> pts) {
    Box2 b;
    for (const Vec2& p : pts) b.extend(p);
    return b;
}

bool boxesOverlap(const Box2& a, const Box2& b) {
    return a.min.x() <= b.max.x() && b.min.x() <= a.max.x() && a.min.y() <= b.max.y() && b.min.y() <= a.max.y();
}

// --- The builder ----------------------------------------------------------------------------

struct Link { // a connection while building: what the rules need to know about it
    uint32_t inEdge, outEdge, fromLane, toLane, junction;
    LinkDir dir;
    double angle;
};

struct JunctionWork {
    uint32_t node;
    std::vector<uint32_t> in, out, links;
    int neighbours = 0;
    std::vector<uint32_t> main;        // incoming edges of the main road (priority, signals)
    std::unordered_set<uint32_t> mainOut;
};

class Builder {
public:
    Builder(const RoadNetwork& r, const CityNetworkOptions& o, const std::vector<NodeId>& signals)
        : roads(r), opt(o), signalNodes(signals.begin(), signals.end()) {}

    Network build() {
        validate();
        addEdges();
        addLinks();
        addLaneShapes();
        addInternalLanes();
        foes.assign(links.size(), {});
        yields.assign(links.size(), {});
        for (uint32_t j = 0; j < work.size(); ++j) controlJunction(j);
        writeConflictLists();
        net.finalize("city road network");
        return std::move(net);
    }

private:
    const RoadNetwork& roads;
    const CityNetworkOptions& opt;
    std::unordered_set<NodeId> signalNodes;
    Network net;
    std::vector<JunctionWork> work;
    std::vector<Link> links;
    std::vector<uint32_t> reverseOf;       // mobility edge -> its reverse mobility edge or kNone
    std::vector<Vec2> inDir, outDir;       // heading at the edge's end / start (city shape)
    std::vector<std::vector<uint32_t>> foes, yields;

    RoadClass cls(uint32_t e) const { return roads.roadClass[net.edges[e].sourceEdge]; }
    ClassMask edgeClasses(uint32_t e) const { return net.lanes[net.edges[e].firstLane].allow; }
    bool bikeOnly(uint32_t e) const { return !(edgeClasses(e) & kMotorVehicles); }
    std::span<const Vec2> cityShape(uint32_t e) const { return roads.shape(EdgeId(net.edges[e].sourceEdge)); }

    void validate() const {
        const size_t n = roads.edgeCount();
        auto fail = [](const std::string& what) {
            throw InputError(what, "city road network", "the city model is inconsistent; re-import the city");
        };
        if (roads.to.size() != n || roads.lengthM.size() != n || roads.speedMps.size() != n ||
            roads.lanes.size() != n || roads.roadClass.size() != n || roads.reverse.size() != n ||
            roads.shapeStart.size() != n + 1 || roads.shapeStart.back() > roads.shapePoints.size())
            fail("road network arrays have different lengths");
        if (!(opt.junctionRadiusM >= 0 && opt.junctionRadiusM < 100) || !(opt.yellowS >= 0) ||
            !(opt.signalCycleS > 2 * opt.yellowS + 2) || !(opt.signalCycleS < 3600))
            throw InputError("invalid options: junction radius " + std::to_string(opt.junctionRadiusM) + " m, cycle " +
                                 std::to_string(opt.signalCycleS) + " s, yellow " + std::to_string(opt.yellowS) + " s",
                             "mobility network options",
                             "use a junction radius of 0-100 m and a cycle longer than two yellows plus green");
    }

    uint32_t junctionOf(NodeId node, std::unordered_map<uint32_t, uint32_t>& byNode) {
        auto [it, added] = byNode.emplace(node.value, uint32_t(net.junctions.size()));
        if (added) {
            Junction j;
            j.id = std::to_string(node.value);
            j.pos = roads.nodePos[node.value];
            net.junctions.push_back(j);
            work.push_back({node.value, {}, {}, {}, 0, {}, {}});
        }
        return it->second;
    }

    void addEdges() {
        std::unordered_map<uint32_t, uint32_t> junctionByNode;
        std::vector<uint32_t> mobilityEdge(roads.edgeCount(), kNone);
        for (uint32_t e = 0; e < roads.edgeCount(); ++e) {
            RoadClass c = roads.roadClass[e];
            auto shape = roads.shape(EdgeId(e));
            if (!carriesTraffic(c) || shape.size() < 2) continue;
            if (roads.from[e].value >= roads.nodeCount() || roads.to[e].value >= roads.nodeCount()) continue;
            double len = roads.lengthM[e];
            if (!(len > 0) || !std::isfinite(len)) len = length(shape);
            if (!(len > 0) || !std::isfinite(len)) continue;
            Edge edge;
            edge.id = std::to_string(e);
            if (e < roads.way.size() && roads.way[e] < roads.wayName.size()) edge.name = roads.wayName[roads.way[e]];
            edge.fromJunction = junctionOf(roads.from[e], junctionByNode);
            edge.toJunction = junctionOf(roads.to[e], junctionByNode);
            edge.laneCount = uint8_t(roads.lanes[e] > 0 ? roads.lanes[e] : defaultLanes(c));
            edge.priority = priorityOf(c);
            edge.lengthM = float(len);
            double speed = roads.speedMps[e];
            edge.speedMps = float(std::min(150.0, speed > 0 && std::isfinite(speed) ? speed : defaultSpeedMps(c)));
            edge.sourceEdge = e;
            edge.firstLane = uint32_t(net.lanes.size());
            const uint32_t index = uint32_t(net.edges.size());
            for (uint8_t i = 0; i < edge.laneCount; ++i) {
                Lane lane;
                lane.edge = index;
                lane.index = i;
                lane.allow = allowedClasses(c);
                lane.speedMps = edge.speedMps;
                net.lanes.push_back(lane);
            }
            mobilityEdge[e] = index;
            work[edge.toJunction].in.push_back(index);
            work[edge.fromJunction].out.push_back(index);
            inDir.push_back(unit(shape[shape.size() - 1] - shape[shape.size() - 2]));
            outDir.push_back(unit(shape[1] - shape[0]));
            net.edges.push_back(std::move(edge));
        }
        reverseOf.assign(net.edges.size(), kNone);
        for (uint32_t m = 0; m < net.edges.size(); ++m) {
            EdgeId r = roads.reverse[net.edges[m].sourceEdge];
            if (r.valid() && r.value < mobilityEdge.size()) reverseOf[m] = mobilityEdge[r.value];
        }
        for (uint32_t j = 0; j < work.size(); ++j) {
            std::unordered_set<uint32_t> others;
            for (uint32_t e : work[j].in) others.insert(net.edges[e].fromJunction);
            for (uint32_t e : work[j].out) others.insert(net.edges[e].toJunction);
            others.erase(j);
            work[j].neighbours = int(others.size());
        }
    }

    // --- Connections ---------------------------------------------------------------------

    struct Target {
        uint32_t edge;
        LinkDir dir;
        double angle;
    };

    std::vector<Target> targetsOf(uint32_t in, const JunctionWork& jw) const {
        const uint32_t uTurnEdge = reverseOf[in];
        bool otherExit = false;
        for (uint32_t out : jw.out)
            if (out != uTurnEdge && out != in && (edgeClasses(in) & edgeClasses(out))) otherExit = true;
        std::vector<Target> targets;
        for (uint32_t out : jw.out) {
            if (out == in || !(edgeClasses(in) & edgeClasses(out))) continue;
            if (out == uTurnEdge && otherExit) continue; // U-turns only at dead ends
            double angle = signedAngle(inDir[in], outDir[out]);
            LinkDir dir = out == uTurnEdge ? LinkDir::Turn : classify(angle);
            if (dir == LinkDir::Turn) angle = kPi; // the leftmost movement
            targets.push_back({out, dir, angle});
        }
        std::sort(targets.begin(), targets.end(), [](const Target& a, const Target& b) {
            return a.angle != b.angle ? a.angle < b.angle : a.edge < b.edge;
        });
        return targets;
    }

    // From-lanes per target (targets sorted right to left): right turns from the rightmost
    // lane, left turns and U-turns from the leftmost, straight from all lanes (without the
    // outer ones when there are three or more and turns use them); a lane left without any
    // movement takes the target at its relative position.
    static std::vector<std::vector<int>> fromLanesFor(const std::vector<Target>& targets, int n) {
        bool hasRight = false, hasLeft = false;
        for (const Target& t : targets) {
            if (t.dir == LinkDir::Right || t.dir == LinkDir::PartRight) hasRight = true;
            if (turnRank(t.dir) > 0) hasLeft = true;
        }
        std::vector<std::vector<int>> lanes(targets.size());
        std::vector<bool> used(size_t(n), false);
        for (size_t k = 0; k < targets.size(); ++k) {
            LinkDir d = targets[k].dir;
            if (d == LinkDir::Right || d == LinkDir::PartRight) lanes[k] = {0};
            else if (turnRank(d) > 0) lanes[k] = {n - 1};
            else {
                int lo = n >= 3 && hasRight ? 1 : 0, hi = n >= 3 && hasLeft ? n - 2 : n - 1;
                for (int l = lo; l <= hi; ++l) lanes[k].push_back(l);
            }
            for (int l : lanes[k]) used[size_t(l)] = true;
        }
        for (int l = 0; l < n && !targets.empty(); ++l) {
            if (used[size_t(l)]) continue;
            size_t k = n > 1 ? size_t(std::lround(double(l) * double(targets.size() - 1) / double(n - 1))) : 0;
            auto& v = lanes[k];
            v.insert(std::upper_bound(v.begin(), v.end(), l), l);
        }
        return lanes;
    }

    void addLinks() {
        for (uint32_t j = 0; j < work.size(); ++j) {
            JunctionWork& jw = work[j];
            for (uint32_t in : jw.in) {
                auto targets = targetsOf(in, jw);
                auto fromLanes = fromLanesFor(targets, net.edges[in].laneCount);
                for (size_t k = 0; k < targets.size(); ++k) addLaneLinks(j, in, targets[k], fromLanes[k]);
            }
        }
    }

    // Spreads k from-lanes evenly over the m to-lanes, so every to-lane is reachable.
    void addLaneLinks(uint32_t j, uint32_t in, const Target& t, const std::vector<int>& from) {
        const Edge &a = net.edges[in], &b = net.edges[t.edge];
        const size_t k = from.size(), m = b.laneCount;
        for (size_t i = 0; i < k; ++i) {
            size_t lo = i * m / k, hi = std::max(lo + 1, (i + 1) * m / k);
            for (size_t to = lo; to < hi && to < m; ++to) {
                work[j].links.push_back(uint32_t(links.size()));
                links.push_back({in, t.edge, a.firstLane + uint32_t(from[i]), b.firstLane + uint32_t(to), j, t.dir,
                                 t.angle});
            }
        }
    }

    // --- Lane geometry -------------------------------------------------------------------

    // Lanes end one junction radius before a junction they drive through (its internal lanes
    // span the rest), so a route's lanes plus internal lanes add up to the road's length.
    double trimAt(uint32_t j) const {
        return work[j].neighbours >= 2 && !work[j].links.empty() ? opt.junctionRadiusM : 0.0;
    }

    void addLaneShapes() {
        for (uint32_t e = 0; e < net.edges.size(); ++e) {
            Edge& edge = net.edges[e];
            double L = edge.lengthM, ts = trimAt(edge.fromJunction), te = trimAt(edge.toJunction);
            if (ts + te > 0 && ts + te > L - kMinLaneLengthM) {
                double scale = std::max(0.0, L - kMinLaneLengthM) / (ts + te);
                ts *= scale;
                te *= scale;
            }
            const int n = edge.laneCount;
            const bool twoWay = reverseOf[e] != kNone;
            for (int i = 0; i < n; ++i) {
                // Two-way: this direction's lanes fill the right half; one-way: centred.
                double offset = (n - i - 0.5) * kLaneWidthM - (twoWay ? 0.0 : n * kLaneWidthM / 2);
                auto line = cutLine(offsetRight(cityShape(e), offset), ts, te);
                Lane& lane = net.lanes[edge.firstLane + uint32_t(i)];
                lane.lengthM = float(std::max(kMinLaneLengthM, L - ts - te));
                lane.shapeStart = uint32_t(net.shapePoints.size());
                net.shapePoints.insert(net.shapePoints.end(), line.begin(), line.end());
                lane.shapeEnd = uint32_t(net.shapePoints.size());
            }
        }
    }

    void addInternalLanes() {
        net.connections.resize(links.size());
        for (uint32_t c = 0; c < links.size(); ++c) {
            const Link& l = links[c];
            auto inShape = net.laneShape(l.fromLane);
            auto outShape = net.laneShape(l.toLane);
            Vec2 p0 = inShape.back(), p3 = outShape.front();
            Vec2 dIn = unit(inShape[inShape.size() - 1] - inShape[inShape.size() - 2]);
            Vec2 dOut = unit(outShape[1] - outShape[0]);
            bool uTurn = l.dir == LinkDir::Turn;
            auto path = junctionPath(p0, dIn, p3, dOut, uTurn, std::max(opt.junctionRadiusM, kLaneWidthM));

            Lane lane;
            lane.edge = kNone;
            lane.connection = c;
            lane.allow = net.lanes[l.fromLane].allow & net.lanes[l.toLane].allow;
            lane.lengthM = float(std::max(kMinLaneLengthM, length(path)));
            double vmax = std::min(net.lanes[l.fromLane].speedMps, net.lanes[l.toLane].speedMps);
            if (l.dir != LinkDir::Straight) {
                // Radius of the circle through both ends with the turn angle between them.
                double theta = uTurn ? kPi : std::abs(l.angle);
                double radius = (p3 - p0).norm() / std::max(2 * std::sin(theta / 2), 1e-3);
                vmax = std::clamp(std::sqrt(kTurnLateralAccel * radius), std::min(kMinTurnSpeedMps, vmax), vmax);
            }
            lane.speedMps = float(vmax);
            lane.shapeStart = uint32_t(net.shapePoints.size());
            net.shapePoints.insert(net.shapePoints.end(), path.begin(), path.end());
            lane.shapeEnd = uint32_t(net.shapePoints.size());

            Connection& con = net.connections[c];
            con.fromLane = l.fromLane;
            con.toLane = l.toLane;
            con.junction = l.junction;
            con.dir = l.dir;
            con.viaLane = uint32_t(net.lanes.size());
            net.lanes.push_back(lane);
        }
    }

    // --- Junction control ----------------------------------------------------------------

    // The pair of edges in `candidates` that approach from most nearly opposite sides.
    std::vector<uint32_t> mostOppositePair(const std::vector<uint32_t>& candidates) const {
        if (candidates.size() <= 2) return candidates;
        double best = 2;
        std::vector<uint32_t> pair;
        for (size_t a = 0; a < candidates.size(); ++a)
            for (size_t b = a + 1; b < candidates.size(); ++b) {
                double d = inDir[candidates[a]].dot(inDir[candidates[b]]);
                if (d < best - 1e-9) {
                    best = d;
                    pair = {candidates[a], candidates[b]};
                }
            }
        return pair;
    }

    // The main road: roundabout edges if any, else the highest-priority motor roads (the most
    // opposite two of them if more), and where each continues.
    void findMainRoad(JunctionWork& jw) const {
        std::vector<uint32_t> roundabout, motor;
        for (uint32_t e : jw.in) {
            if (bikeOnly(e)) continue;
            motor.push_back(e);
            uint32_t src = net.edges[e].sourceEdge;
            if (src < roads.flags.size() && (roads.flags[src] & RoadNetwork::Roundabout)) roundabout.push_back(e);
        }
        if (!roundabout.empty()) {
            jw.main = roundabout;
            for (uint32_t e : jw.out) {
                uint32_t src = net.edges[e].sourceEdge;
                if (src < roads.flags.size() && (roads.flags[src] & RoadNetwork::Roundabout)) jw.mainOut.insert(e);
            }
            return;
        }
        int top = -1;
        for (uint32_t e : motor) top = std::max(top, net.edges[e].priority);
        std::vector<uint32_t> best;
        for (uint32_t e : motor)
            if (net.edges[e].priority == top) best.push_back(e);
        jw.main = mostOppositePair(best);
        for (uint32_t m : jw.main) {
            if (reverseOf[m] != kNone) jw.mainOut.insert(reverseOf[m]);
            uint32_t cont = kNone;
            for (uint32_t out : jw.out) {
                if (out == reverseOf[m] || bikeOnly(out)) continue;
                if (cont == kNone || net.edges[out].priority > net.edges[cont].priority ||
                    (net.edges[out].priority == net.edges[cont].priority &&
                     std::abs(signedAngle(inDir[m], outDir[out])) < std::abs(signedAngle(inDir[m], outDir[cont]))))
                    cont = out;
            }
            if (cont != kNone) jw.mainOut.insert(cont);
        }
    }

    JunctionType decideType(const JunctionWork& jw) const {
        if (jw.links.empty() || jw.neighbours <= 1) return JunctionType::DeadEnd;
        if (signalNodes.count(NodeId(jw.node))) return JunctionType::TrafficLight;
        if (jw.neighbours == 2) return JunctionType::Priority; // a bend or a change of road
        std::vector<uint32_t> motor;
        for (uint32_t e : jw.in)
            if (!bikeOnly(e)) motor.push_back(e);
        if (motor.empty()) return JunctionType::Priority;
        if (opt.guessSignals && guessSignal(jw, motor)) return JunctionType::TrafficLight;
        bool equal = true, minor = true;
        for (uint32_t e : motor) {
            equal = equal && net.edges[e].priority == net.edges[motor[0]].priority;
            minor = minor && minorStreet(cls(e));
        }
        return equal && minor ? JunctionType::RightBeforeLeft : JunctionType::Priority;
    }

    // Like netconvert's --tls.guess: enough incoming main roads (tertiary or above), every
    // incoming road at least the threshold speed, no motorway, no roundabout.
    bool guessSignal(const JunctionWork& jw, const std::vector<uint32_t>& motor) const {
        int mainIncoming = 0;
        for (uint32_t e : motor) {
            if (net.edges[e].speedMps < opt.signalGuessMinSpeedMps - 0.01) return false; // float speeds
            if (mainRoad(cls(e))) ++mainIncoming;
        }
        for (const auto* list : {&jw.in, &jw.out})
            for (uint32_t e : *list) {
                uint32_t src = net.edges[e].sourceEdge;
                if (cls(e) == RoadClass::Motorway) return false;
                if (src < roads.flags.size() && (roads.flags[src] & RoadNetwork::Roundabout)) return false;
            }
        return mainIncoming >= opt.signalGuessMinIncoming;
    }

    // 3 = along the main road, 2 = other movements from it, 1 = from a minor road, 0 = from a
    // bicycle-only path.
    int tier(const Link& l, const JunctionWork& jw, JunctionType type) const {
        if (bikeOnly(l.inEdge)) return 0;
        if (type == JunctionType::RightBeforeLeft) return 1;
        bool fromMain = std::find(jw.main.begin(), jw.main.end(), l.inEdge) != jw.main.end();
        if (!fromMain) return 1;
        return jw.mainOut.count(l.outEdge) ? 3 : 2;
    }

    // Whether link a goes before link b when they conflict.
    bool goesFirst(const Link& a, const Link& b, const JunctionWork& jw, JunctionType type) const {
        if (a.inEdge == b.inEdge) return net.lanes[a.fromLane].index < net.lanes[b.fromLane].index;
        int ta = tier(a, jw, type), tb = tier(b, jw, type);
        if (ta != tb) return ta > tb;
        double rel = signedAngle(inDir[a.inEdge], inDir[b.inEdge]) / kDeg; // where b comes from, seen from a
        bool opposite = std::abs(rel) > 150, sameSide = std::abs(rel) < 30;
        // Opposite approaches and movements along a main road: left turns wait for straight and right.
        bool turnFirst = opposite || sameSide || (ta >= 2 && type != JunctionType::RightBeforeLeft);
        int ra = turnRank(a.dir), rb = turnRank(b.dir);
        if (turnFirst && ra != rb) return ra < rb;
        if (!opposite && !sameSide) return rel < 0; // b comes from a's left: a has the right of way
        if (ra != rb) return ra < rb;
        return a.inEdge < b.inEdge;
    }

    void findFoes(const JunctionWork& jw) {
        std::vector<Box2> boxes;
        for (uint32_t c : jw.links) boxes.push_back(boundsOf(net.laneShape(net.connections[c].viaLane)));
        for (size_t i = 0; i < jw.links.size(); ++i)
            for (size_t k = i + 1; k < jw.links.size(); ++k) {
                uint32_t a = jw.links[i], b = jw.links[k];
                const Link &la = links[a], &lb = links[b];
                if (la.fromLane == lb.fromLane) continue; // one after the other, never at once
                bool merge = la.toLane == lb.toLane;
                bool cross = !merge && boxesOverlap(boxes[i], boxes[k]) &&
                             polylinesCross(net.laneShape(net.connections[a].viaLane),
                                            net.laneShape(net.connections[b].viaLane));
                if (!merge && !cross) continue;
                foes[a].push_back(b);
                foes[b].push_back(a);
            }
    }

    void controlJunction(uint32_t j) {
        JunctionWork& jw = work[j];
        JunctionType type = decideType(jw);
        net.junctions[j].type = type;
        findMainRoad(jw);
        findFoes(jw);
        for (uint32_t a : jw.links)
            for (uint32_t b : foes[a])
                if (!goesFirst(links[a], links[b], jw, type)) yields[a].push_back(b);
        if (type == JunctionType::TrafficLight) addSignalProgram(j);
        for (uint32_t c : jw.links)
            net.connections[c].major = type != JunctionType::RightBeforeLeft && yields[c].empty();
    }

    // Two-phase fixed-time program: the main road's approaches (and those within 45° of its
    // axis) green, yellow, then the cross approaches green, yellow. Straight and right turns
    // get 'G', left and U-turns 'g' (they yield to the opposing flow).
    void addSignalProgram(uint32_t j) {
        JunctionWork& jw = work[j];
        Vec2 axis = jw.main.empty() ? inDir[jw.in.front()] : inDir[jw.main.front()];
        auto inAxisGroup = [&](uint32_t edge) { return std::abs(inDir[edge].dot(axis)) >= std::cos(45 * kDeg); };
        const size_t n = jw.links.size();
        std::string greenA(n, 'r'), greenB(n, 'r'), yellowA(n, 'r'), yellowB(n, 'r');
        const uint32_t programIndex = uint32_t(net.signals.size());
        for (size_t i = 0; i < n; ++i) {
            uint32_t c = jw.links[i];
            char green = turnRank(links[c].dir) == 0 ? 'G' : 'g';
            bool groupA = inAxisGroup(links[c].inEdge);
            (groupA ? greenA : greenB)[i] = green;
            (groupA ? yellowA : yellowB)[i] = 'y';
            net.connections[c].signal = programIndex;
            net.connections[c].signalIndex = int(i);
        }
        demoteConflictingGreens(jw, greenA);
        demoteConflictingGreens(jw, greenB);
        SignalProgram program;
        program.id = net.junctions[j].id;
        float green = float((opt.signalCycleS - 2 * opt.yellowS) / 2), yellow = float(opt.yellowS);
        program.phases = {{green, greenA}, {yellow, yellowA}, {green, greenB}, {yellow, yellowB}};
        net.signals.push_back(std::move(program));
        net.junctions[j].signal = programIndex;
    }

    // Odd geometry can put two conflicting movements in one group: the later one then gets
    // 'g' and yields to the earlier.
    void demoteConflictingGreens(const JunctionWork& jw, std::string& state) {
        std::unordered_map<uint32_t, size_t> position;
        for (size_t i = 0; i < jw.links.size(); ++i) position[jw.links[i]] = i;
        for (size_t i = 0; i < jw.links.size(); ++i) {
            uint32_t c = jw.links[i];
            if (state[i] != 'G') continue;
            for (uint32_t f : foes[c]) {
                size_t k = position[f];
                if (k >= i || state[k] != 'G') continue;
                state[i] = 'g';
                if (std::find(yields[c].begin(), yields[c].end(), f) == yields[c].end()) yields[c].push_back(f);
                auto& back = yields[f];
                back.erase(std::remove(back.begin(), back.end(), c), back.end());
            }
        }
    }

    void writeConflictLists() {
        for (uint32_t c = 0; c < net.connections.size(); ++c) {
            Connection& con = net.connections[c];
            auto& y = yields[c];
            auto& f = foes[c];
            std::sort(y.begin(), y.end());
            std::sort(f.begin(), f.end());
            con.yieldStart = uint32_t(net.linkRefs.size());
            net.linkRefs.insert(net.linkRefs.end(), y.begin(), y.end());
            con.yieldEnd = con.foeStart = uint32_t(net.linkRefs.size());
            net.linkRefs.insert(net.linkRefs.end(), f.begin(), f.end());
            con.foeEnd = uint32_t(net.linkRefs.size());
        }
    }
};

} // namespace

Network buildCityNetwork(const RoadNetwork& roads, const CityNetworkOptions& options,
                         const std::vector<NodeId>& signalNodes) {
    return Builder(roads, options, signalNodes).build();
}

} // namespace ct::mobility
