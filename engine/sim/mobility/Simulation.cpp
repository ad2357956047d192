#include "sim/mobility/Simulation.h"

#include "core/Hash.h"
#include "sim/mobility/Router.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <map>

namespace ct::mobility {

// ---------------------------------------------------------------------------------------
// The model's equations. Krauss as SUMO implements it with the (default) Euler update, so
// that capacities and queue discharge agree with SUMO on the same input.

namespace krauss {

constexpr double kNumericalEps = 0.001; // SUMO's NUMERICAL_EPS

double maximumSafeStopSpeed(double gap, double decel, double headway, double dt) {
    const double g = gap - kNumericalEps;
    if (g < 0) return 0;
    const double b = decel * dt, t = headway, s = dt;
    // Braking by b every step from speed n·b + r covers h + r·(n·s + t); solve for the
    // number of full braking steps n, then the remainder r.
    const double n = std::floor(0.5 - ((t + (std::sqrt((s * s) + (4.0 * ((s * (2.0 * g / b - t)) + (t * t)))) * -0.5)) / s));
    const double h = 0.5 * n * (n - 1) * b * s + n * b * t;
    const double r = (g - h) / (n * s + t);
    return std::max(0.0, n * b + r);
}

double brakeGap(double speed, double decel, double headway, double dt) {
    if (speed <= 0) return 0;
    const double reduction = decel * dt;
    const double steps = std::floor(speed / reduction);
    return dt * (steps * speed - reduction * steps * (steps + 1) / 2) + speed * headway;
}

double safeFollowSpeed(double gap, double leaderSpeed, double decel, double leaderDecel, double tau, double dt) {
    if (gap < 0) return 0;
    return maximumSafeStopSpeed(gap + brakeGap(leaderSpeed, std::max(decel, leaderDecel), 0, dt), decel, tau, dt);
}

// Highest speed now from which the vehicle can still be down to `targetSpeed` after `dist`.
double freeSpeed(double decel, double dist, double targetSpeed, double dt) {
    const double b = decel * dt, v = targetSpeed;
    const double y = std::max(0.0, ((std::sqrt((b + 2.0 * v) * (b + 2.0 * v) + 8.0 * b * dist) - b) * 0.5 - v) / b);
    const double yFull = std::floor(y);
    const double exactGap = (yFull * yFull + yFull) * 0.5 * b + yFull * v + (y > yFull ? v : 0.0);
    const double fullSpeedGain = yFull * decel * dt;
    return std::max(0.0, dist - exactGap) / (yFull + 1) / dt + fullSpeedGain + targetSpeed;
}

} // namespace krauss

namespace idm {

double acceleration(double v, double gap, double dv, double v0, double T, double s0, double a, double b,
                    double delta) {
    const double sStar = s0 + std::max(0.0, v * T + v * dv / (2.0 * std::sqrt(a * b)));
    const double free = 1.0 - std::pow(std::max(0.0, v) / std::max(v0, 0.01), delta);
    const double s = std::max(gap, 0.01);
    return a * (free - (sStar / s) * (sStar / s));
}

} // namespace idm

// ---------------------------------------------------------------------------------------

namespace {

// Uniform [0,1) from (seed, trip, step, stream): the same number whatever thread asks.
double uniform(uint64_t seed, uint32_t trip, uint64_t step, uint32_t stream) {
    uint64_t h = splitmix64(seed ^ splitmix64((uint64_t(trip) << 8 | stream) ^ splitmix64(step)));
    return double(h >> 11) * 0x1.0p-53;
}

constexpr double kStandingSpeed = 0.1;   // m/s; SUMO's threshold for "waiting"
constexpr double kJunctionZoneM = 50;     // time loss this close to a junction is its delay
constexpr double kTimeGapS = 1.0;         // safety margin between crossing vehicles
constexpr int kApproachSlots = 4;         // first vehicles registered per link
constexpr double kLaneChangeCooldownS = 3;
constexpr double kFoeVisibilityM = 4.5;   // SUMO's default junction visibility
constexpr double kStrategicLookaheadM = 300; // lanes are chosen for the route this far ahead
constexpr int kStrategicEdges = 4;
constexpr double kConflictClearanceM = 1.0; // a foe's back this far past the crossing point has cleared it

struct Approach {
    float arrival = 0, leave = 0;  // seconds from now
    float lineSpeed = 0;           // speed when crossing the stop line
    uint32_t vehicle = kNone;
    bool willPass = false;         // not stopping for a signal before it
    bool committed = false;        // too close and fast to stop: will enter whatever comes
};

struct Vehicle {
    uint32_t trip = kNone, type = 0;
    uint32_t lane = kNone;
    uint32_t routePos = 0;      // index of the current (or, inside a junction, the last) edge
    uint32_t nextConn = kNone;  // connection at the end of the current normal lane
    float pos = 0, speed = 0, vNext = 0;
    float desiredFactor = 1;
    float length = 5, minGap = 2.5;
    float arrivalPos = 0;
    float standingS = 0;        // continuous standing time (deadlock guard)
    float waitingAtLinkS = 0;   // standing time in front of the current link
    float lastLaneChange = -1e9f;
    // Right of way decided in the right-of-way phase for the link ahead.
    uint32_t pendingConn = kNone;
    float pendingDist = 0, pendingArrival = 0, pendingLeave = 0, pendingCrossSpeed = 0;
    bool yielded = false, yieldedBefore = false, haltedAtStop = false;
    bool active = false;
};

struct LaneState {
    std::vector<uint32_t> veh; // front first
    std::vector<std::pair<uint32_t, float>> outbox; // vehicles past the lane end: (vehicle, overshoot)
    std::vector<std::pair<uint32_t, Approach>> approaches; // registered this step
    std::vector<uint32_t> arrived, teleport;
    // Accumulators, folded into edge/junction samples sequentially.
    double vehicleSeconds = 0, distanceM = 0, zoneTimeLoss = 0, zoneWaiting = 0;
};

// Where a point lies along a polyline (metres from its start), if within `tolerance`.
double crossingOnFoe(std::span<const Vec2> mine, std::span<const Vec2> foe) {
    double along = 0;
    for (size_t j = 1; j < foe.size(); ++j) {
        const Vec2 q = foe[j - 1], s = foe[j] - foe[j - 1];
        const double segment = s.norm();
        for (size_t i = 1; i < mine.size(); ++i) {
            const Vec2 p = mine[i - 1], r = mine[i] - mine[i - 1];
            const double denom = r.x() * s.y() - r.y() * s.x();
            if (std::abs(denom) < 1e-12) continue;
            const Vec2 qp = q - p;
            const double tMine = (qp.x() * s.y() - qp.y() * s.x()) / denom;
            const double uFoe = (qp.x() * r.y() - qp.y() * r.x()) / denom;
            if (tMine >= 0 && tMine <= 1 && uFoe >= 0 && uFoe <= 1) return along + uFoe * segment;
        }
        along += segment;
    }
    return -1;
}

// For every entry k of Network::linkRefs (a connection's foe or yield-to list): how far
// along this connection's internal lane (mine[k]) and along the other's (foe[k]) their paths
// meet, in lane metres. Merging links and paths that do not cross on the drawn shapes use the
// lanes' whole lengths: there the whole crossing counts.
struct ConflictPoints {
    std::vector<float> mine, foe;
};

ConflictPoints conflictPositions(const Network& net) {
    ConflictPoints p;
    p.mine.assign(net.linkRefs.size(), 0.f);
    p.foe.assign(net.linkRefs.size(), 0.f);
    auto fill = [&](const Connection& c, uint32_t k) {
        const Connection& other = net.connections[net.linkRefs[k]];
        const double mineLength = c.viaLane != kNone ? net.lanes[c.viaLane].lengthM : 0.0;
        const double foeLength = other.viaLane != kNone ? net.lanes[other.viaLane].lengthM : 0.0;
        p.mine[k] = float(mineLength);
        p.foe[k] = float(foeLength);
        if (c.viaLane == kNone || other.viaLane == kNone || other.toLane == c.toLane) return;
        const auto mineShape = net.laneShape(c.viaLane), foeShape = net.laneShape(other.viaLane);
        const double onFoe = crossingOnFoe(mineShape, foeShape), onMine = crossingOnFoe(foeShape, mineShape);
        const double drawnFoe = length(foeShape), drawnMine = length(mineShape);
        if (onFoe >= 0 && drawnFoe > 0) p.foe[k] = float(onFoe * foeLength / drawnFoe);
        if (onMine >= 0 && drawnMine > 0) p.mine[k] = float(onMine * mineLength / drawnMine);
    };
    for (const Connection& c : net.connections) {
        for (uint32_t k = c.foeStart; k < c.foeEnd; ++k) fill(c, k);
        for (uint32_t k = c.yieldStart; k < c.yieldEnd; ++k) fill(c, k);
    }
    return p;
}

} // namespace

struct Simulation::Impl {
    const Network& net;
    const Demand& demand;
    SimulationOptions opt;
    std::vector<double> travelTimes;

    double t = 0;
    uint64_t stepIndex = 0;
    bool started = false;
    std::vector<Vehicle> vehicles;
    std::vector<uint32_t> freeSlots;
    std::vector<LaneState> laneState;
    std::vector<std::array<Approach, kApproachSlots>> linkApproach; // per connection
    std::vector<uint8_t> linkApproachCount;
    std::vector<std::vector<uint32_t>> viaInto; // per lane: internal lanes of the connections into it
    ConflictPoints conflict;                    // per linkRefs entry
    std::vector<TripResult> results;
    std::vector<std::vector<uint32_t>> routes;
    size_t nextTrip = 0;
    std::map<uint32_t, std::vector<uint32_t>> backlog; // departure edge → trips waiting, FIFO
    Counts counts;
    std::vector<std::vector<EdgeSample>> edgeSamples;
    std::vector<JunctionSample> junctionSamples;
    std::vector<uint32_t> activeLanes;
    std::unique_ptr<tbb::task_arena> arena;
    // Adaptive routing: per edge a ring of the last adaptationSteps mean speeds and their sum,
    // and one router per (class, speed cap), built on first use.
    std::vector<float> speedRing;
    std::vector<double> speedSum;
    size_t ringPos = 0;
    double nextSampleS = 0;
    std::map<std::pair<VClass, float>, std::unique_ptr<Router>> adaptiveRouters;

    Impl(const Network& n, const Demand& d, const SimulationOptions& o, std::vector<double> tt)
        : net(n), demand(d), opt(o), travelTimes(std::move(tt)) {
        if (!(opt.stepS > 0)) opt.stepS = 1;
        t = opt.beginS;
        laneState.resize(net.lanes.size());
        linkApproach.resize(net.connections.size());
        linkApproachCount.assign(net.connections.size(), 0);
        conflict = conflictPositions(net);
        viaInto.resize(net.lanes.size());
        for (const Connection& c : net.connections)
            if (c.viaLane != kNone) viaInto[c.toLane].push_back(c.viaLane);
        results.resize(demand.trips.size());
        routes.resize(demand.trips.size());
        junctionSamples.resize(net.junctions.size());
        counts.loaded = demand.trips.size();
        arena = std::make_unique<tbb::task_arena>(std::max(1, opt.threads));
        if (opt.adaptiveRouting) {
            opt.adaptationSteps = std::max(1, opt.adaptationSteps);
            const size_t steps = size_t(opt.adaptationSteps);
            speedRing.resize(net.edges.size() * steps);
            speedSum.resize(net.edges.size());
            for (size_t e = 0; e < net.edges.size(); ++e) {
                std::fill_n(speedRing.begin() + long(e * steps), steps, net.edges[e].speedMps);
                speedSum[e] = double(net.edges[e].speedMps) * double(steps);
            }
            nextSampleS = opt.beginS;
        }
    }

    // One sample of every edge's mean speed (its speed limit when empty, like SUMO's
    // MSEdge::getMeanSpeed) into the rings.
    void sampleEdgeSpeeds() {
        const size_t steps = size_t(opt.adaptationSteps);
        std::vector<double> sum(net.edges.size(), 0.0);
        std::vector<uint32_t> count(net.edges.size(), 0);
        for (uint32_t l = 0; l < laneState.size(); ++l) {
            const uint32_t e = net.lanes[l].edge;
            if (e == kNone) continue;
            for (uint32_t vi : laneState[l].veh) sum[e] += vehicles[vi].speed, ++count[e];
        }
        for (size_t e = 0; e < net.edges.size(); ++e) {
            const float mean = count[e] ? float(sum[e] / count[e]) : net.edges[e].speedMps;
            float& slot = speedRing[e * steps + ringPos];
            speedSum[e] += double(mean) - double(slot);
            slot = mean;
        }
        ringPos = (ringPos + 1) % steps;
    }

    // Routes the trips in [first, last) of the demand that have only an origin and a
    // destination, on the averaged speeds, in parallel.
    void routeAdaptively(size_t first, size_t last) {
        std::map<std::pair<VClass, float>, std::vector<uint32_t>> groups;
        for (size_t ti = first; ti < last; ++ti) {
            const Trip& trip = demand.trips[ti];
            const VehicleType& vt = demand.types[trip.type];
            if (trip.route.empty() && trip.fromEdge != kNone && trip.toEdge != kNone && vt.vclass != VClass::Pedestrian)
                groups[{vt.vclass, vt.maxSpeedMps}].push_back(uint32_t(ti));
        }
        if (groups.empty()) return;
        std::vector<double> costs(net.edges.size());
        for (size_t e = 0; e < net.edges.size(); ++e)
            costs[e] = net.edges[e].lengthM / std::max(0.1, speedSum[e] / opt.adaptationSteps);
        for (auto& [key, trips] : groups) {
            auto& router = adaptiveRouters[key];
            if (!router) {
                router = std::make_unique<Router>(net, key.first, 8);
                router->setMaxSpeed(key.second);
            }
            router->setCosts(costs);
            std::vector<std::pair<uint32_t, uint32_t>> pairs;
            for (uint32_t ti : trips) pairs.emplace_back(demand.trips[ti].fromEdge, demand.trips[ti].toEdge);
            auto found = router->routeMany(pairs, std::max(1, opt.threads));
            for (size_t i = 0; i < trips.size(); ++i) routes[trips[i]] = std::move(found[i].edges);
        }
    }

    const VehicleType& type(const Vehicle& v) const { return demand.types[v.type]; }
    double desiredSpeed(const Vehicle& v, uint32_t lane) const {
        return std::min<double>(net.lanes[lane].speedMps * v.desiredFactor, type(v).maxSpeedMps);
    }
    const std::vector<uint32_t>& routeOf(const Vehicle& v) const { return routes[v.trip]; }
    uint32_t edgeAt(const Vehicle& v, uint32_t routePos) const {
        const auto& r = routeOf(v);
        return routePos < r.size() ? r[routePos] : kNone;
    }

    template <class F> void parallelLanes(const std::vector<uint32_t>& lanes, F&& f) {
        if (opt.threads <= 1 || lanes.size() < 64) {
            for (uint32_t l : lanes) f(l);
            return;
        }
        arena->execute([&] {
            tbb::parallel_for(tbb::blocked_range<size_t>(0, lanes.size(), 32), [&](const tbb::blocked_range<size_t>& r) {
                for (size_t i = r.begin(); i < r.end(); ++i) f(lanes[i]);
            });
        });
    }

    // The connection from `lane` onto `nextEdge` that best continues to `afterEdge`.
    uint32_t chooseConnection(uint32_t lane, uint32_t nextEdge, uint32_t afterEdge) const {
        uint32_t best = kNone;
        int bestScore = -1;
        const Lane& l = net.lanes[lane];
        for (uint32_t c = l.outStart; c < l.outEnd; ++c) {
            const Connection& conn = net.connections[c];
            if (net.lanes[conn.toLane].edge != nextEdge) continue;
            int score = 1;
            if (afterEdge == kNone) score = 2;
            else {
                const Lane& to = net.lanes[conn.toLane];
                for (uint32_t k = to.outStart; k < to.outEnd; ++k)
                    if (net.lanes[net.connections[k].toLane].edge == afterEdge) {
                        score = 2;
                        break;
                    }
            }
            if (score > bestScore) {
                bestScore = score;
                best = c;
            }
        }
        return best;
    }

    void updateNextConnection(Vehicle& v) {
        const Lane& lane = net.lanes[v.lane];
        if (lane.internal()) {
            v.nextConn = kNone;
            return;
        }
        uint32_t next = edgeAt(v, v.routePos + 1);
        v.nextConn = next == kNone ? kNone : chooseConnection(v.lane, next, edgeAt(v, v.routePos + 2));
    }

    // Link state for a connection: the signal's character, or M / m for unsignalised links.
    char linkState(const Connection& c) const {
        if (c.signal != kNone) {
            char s = net.signals[c.signal].stateAt(c.signalIndex, t);
            if (s != 'O' && s != 'o') return s;
        }
        if (c.mustStop) return 's';
        return c.major ? 'M' : 'm';
    }

    // Whether the lane behind a junction can take one more vehicle (`need` metres) even if
    // everything on it and on its way into it closes up and stops — SUMO's keep-clear rule.
    // Otherwise a vehicle could end up standing inside the junction, blocking every foe.
    bool roomBehind(uint32_t lane, double need) const {
        const double length = net.lanes[lane].lengthM;
        if (length < need) return true; // a stub shorter than a car: nothing to keep clear
        double occupied = 0;
        for (uint32_t vi : laneState[lane].veh) occupied += vehicles[vi].length + vehicles[vi].minGap;
        for (uint32_t via : viaInto[lane])
            for (uint32_t vi : laneState[via].veh) occupied += vehicles[vi].length + vehicles[vi].minGap;
        if (length - occupied < need) return false;
        // A standing queue need not be compact: there must also be room behind its last car.
        const auto& veh = laneState[lane].veh;
        if (veh.empty()) return true;
        const Vehicle& last = vehicles[veh.back()];
        return last.speed > kStandingSpeed || last.pos - last.length >= need;
    }

    static double arrivalTime(double dist, double v, double a, double vmax) {
        if (dist <= 0) return 0;
        vmax = std::max(vmax, 0.5);
        if (v >= vmax) return dist / vmax;
        const double tAcc = (vmax - v) / a, dAcc = v * tAcc + 0.5 * a * tAcc * tAcc;
        if (dAcc >= dist) return (-v + std::sqrt(v * v + 2 * a * dist)) / a;
        return tAcc + (dist - dAcc) / vmax;
    }

    // ----- phase 1: plan speeds and register approaches ---------------------------------
    void planLane(uint32_t laneIndex) {
        LaneState& ls = laneState[laneIndex];
        ls.approaches.clear();
        const double dt = opt.stepS;
        for (size_t k = 0; k < ls.veh.size(); ++k) {
            Vehicle& v = vehicles[ls.veh[k]];
            const VehicleType& vt = type(v);
            const bool idm = vt.model == CarFollowing::IDM;
            const double desired = desiredSpeed(v, laneIndex);
            double vSafe = std::numeric_limits<double>::infinity(); // Krauss upper bound
            // IDM: the most restrictive acceleration, starting from the free-road term.
            double accel = idm ? vt.accel * (1.0 - std::pow(double(v.speed) / std::max(desired, 0.01), double(vt.idmDelta)))
                               : double(vt.accel);
            auto follow = [&](double gap, double leaderSpeed, double leaderDecel) {
                if (idm) {
                    double s = gap + v.minGap;
                    accel = std::min(accel, idm::acceleration(v.speed, s, v.speed - leaderSpeed, desired, vt.tau,
                                                              v.minGap, vt.accel, vt.decel, vt.idmDelta));
                    // Never drive into the leader within one step.
                    vSafe = std::min(vSafe, std::max(0.0, gap / dt + leaderSpeed));
                } else {
                    vSafe = std::min(vSafe, krauss::safeFollowSpeed(gap, leaderSpeed, vt.decel, leaderDecel, vt.tau, dt));
                }
            };
            auto stopAt = [&](double dist) {
                if (idm) {
                    double s = std::max(dist, 0.0) + v.minGap;
                    accel = std::min(accel, idm::acceleration(v.speed, s, v.speed, desired, vt.tau, v.minGap, vt.accel,
                                                              vt.decel, vt.idmDelta));
                    vSafe = std::min(vSafe, std::max(0.0, dist / dt));
                } else {
                    vSafe = std::min(vSafe, krauss::maximumSafeStopSpeed(dist, vt.decel, dt, dt));
                }
            };
            auto limitAhead = [&](double dist, double speedLimit) {
                if (speedLimit < v.speed || speedLimit < desired)
                    vSafe = std::min(vSafe, krauss::freeSpeed(vt.decel, dist, speedLimit, dt));
            };

            // Leader on this lane.
            if (k > 0) {
                const Vehicle& leader = vehicles[ls.veh[k - 1]];
                follow(leader.pos - leader.length - v.minGap - v.pos, leader.speed, type(leader).decel);
            }

            // Look ahead along the route: links, leaders and speed limits on the next lanes.
            v.pendingConn = kNone;
            const size_t firstApproach = ls.approaches.size();
            const double vMaxNext = std::min(double(v.speed) + vt.accel * dt, desired);
            const double lookahead =
                std::max(30.0, krauss::brakeGap(vMaxNext, vt.decel, 0, dt) + vMaxNext * 4.0);
            double seen = net.lanes[laneIndex].lengthM - v.pos;
            uint32_t cur = laneIndex, routePos = v.routePos;
            bool firstLink = true, leaderFound = k > 0, passable = true;
            while (seen < lookahead) {
                const Lane& curLane = net.lanes[cur];
                uint32_t nextLane;
                if (curLane.internal()) {
                    nextLane = net.connections[curLane.connection].toLane;
                    ++routePos;
                } else {
                    const auto& route = routeOf(v);
                    if (routePos + 1 >= route.size()) break; // arrives on this edge
                    uint32_t conn = cur == laneIndex ? v.nextConn
                                                     : chooseConnection(cur, route[routePos + 1], edgeAt(v, routePos + 2));
                    if (conn == kNone) { // wrong lane: stop at its end until a lane change succeeds
                        stopAt(seen);
                        break;
                    }
                    const Connection& c = net.connections[conn];
                    const char state = linkState(c);
                    const uint32_t via = c.viaLane;
                    const double crossLength = (via != kNone ? net.lanes[via].lengthM : 0.0) + v.length;
                    bool stopHere = false;
                    if (state == 'r' || state == 'u') stopHere = true;
                    else if (state == 'y' || state == 'Y')
                        stopHere = krauss::brakeGap(v.speed, vt.decel, 0, dt) < seen;
                    else if (state == 's' && firstLink && !v.haltedAtStop) stopHere = true;
                    // Keep the junction clear: do not enter when the lane behind it is full
                    // and standing, or the vehicle would stop inside and block every foe.
                    if (!stopHere && !roomBehind(c.toLane, v.length + v.minGap)) stopHere = true;
                    // When the front reaches the junction and when the back has cleared it,
                    // accelerating as far as the speed limits allow.
                    const double crossSpeed = std::min(desired, double(net.lanes[via != kNone ? via : c.toLane].speedMps));
                    const double arriveS = arrivalTime(seen, v.speed, vt.accel, crossSpeed);
                    const double leaveS = arrivalTime(seen + crossLength, v.speed, vt.accel, crossSpeed);
                    Approach a;
                    a.arrival = float(arriveS);
                    a.leave = float(leaveS);
                    a.lineSpeed = float(std::min(crossSpeed, std::sqrt(double(v.speed) * v.speed + 2 * vt.accel * seen)));
                    a.vehicle = ls.veh[k];
                    // Only the first vehicle before a link speaks for it: those queued behind
                    // arrive after it, and a queue behind a yielding vehicle must not block foes.
                    a.willPass = passable && !stopHere && !leaderFound;
                    a.committed = a.willPass && krauss::maximumSafeStopSpeed(seen, vt.decel, dt, dt) <
                                                    v.speed - vt.emergencyDecel * dt;
                    ls.approaches.emplace_back(conn, a);
                    if (stopHere) {
                        stopAt(seen);
                        break;
                    }
                    if (firstLink && cur == laneIndex) {
                        // Right of way is decided once every vehicle has registered.
                        v.pendingConn = conn;
                        v.pendingDist = float(seen);
                        v.pendingArrival = float(arriveS);
                        v.pendingLeave = float(leaveS);
                        v.pendingCrossSpeed = float(crossSpeed);
                    }
                    firstLink = false;
                    if (state != 'G' && state != 'M' && state != 'O') {
                        passable = false; // may have to yield
                        // Like SUMO (vLinkWait before a link without priority): until it is
                        // within kFoeVisibilityM of the junction, where it can see its foes, a
                        // vehicle drives so that it could stop at the line.
                        if (seen > kFoeVisibilityM && krauss::brakeGap(v.speed, vt.decel, 0, dt) < seen) stopAt(seen);
                    }
                    nextLane = via != kNone ? via : c.toLane;
                    if (via == kNone) ++routePos;
                }
                // Leader on the next lane: its last vehicle.
                const LaneState& next = laneState[nextLane];
                if (!leaderFound && !next.veh.empty()) {
                    const Vehicle& leader = vehicles[next.veh.back()];
                    follow(seen + leader.pos - leader.length - v.minGap, leader.speed, type(leader).decel);
                    leaderFound = true;
                }
                limitAhead(seen, std::min<double>(net.lanes[nextLane].speedMps * v.desiredFactor, vt.maxSpeedMps));
                seen += net.lanes[nextLane].lengthM;
                cur = nextLane;
            }

            // Next speed: Krauss (SUMO's finalizeSpeed with dawdling) or IDM.
            const double vOld = v.speed;
            double vNext;
            if (idm) {
                vNext = std::min({vOld + accel * dt, vSafe, std::max(desired, vOld)});
                vNext = std::max(vNext, std::max(0.0, vOld - vt.emergencyDecel * dt));
                vNext = std::max(0.0, std::min(vNext, vSafe));
            } else {
                const double vMinEmergency = std::max(0.0, vOld - vt.emergencyDecel * dt);
                const double vMin = std::min(std::max(0.0, vOld - vt.decel * dt), std::max(vSafe, vMinEmergency));
                double vMax = std::min({vOld + vt.accel * dt, desired, vSafe});
                vMax = std::max(vMin, vMax);
                const double r = uniform(opt.seed, v.trip, stepIndex, 0);
                double dawdled = vMax < vt.accel ? vMax - vt.sigma * vMax * r * dt : vMax - vt.sigma * vt.accel * r * dt;
                vNext = std::max(vMin, std::max(0.0, dawdled));
            }
            v.vNext = float(vNext);
            // Held up by something else than right of way (a full lane behind the junction, a
            // leader): not going to pass, so foes need not wait for it.
            if (vNext < kStandingSpeed)
                for (size_t i = firstApproach; i < ls.approaches.size(); ++i) ls.approaches[i].second.willPass = false;
        }
    }

    // ----- phase 2: right of way ----------------------------------------------------------
    void collectApproaches() {
        std::fill(linkApproachCount.begin(), linkApproachCount.end(), 0);
        for (uint32_t l : activeLanes)
            for (const auto& [conn, a] : laneState[l].approaches) {
                auto& slots = linkApproach[conn];
                uint8_t& n = linkApproachCount[conn];
                // Keep the earliest arrivals; ties by vehicle index (deterministic).
                auto later = [](const Approach& x, const Approach& y) {
                    return x.arrival != y.arrival ? x.arrival > y.arrival : x.vehicle > y.vehicle;
                };
                if (n < kApproachSlots) slots[n++] = a;
                else {
                    auto worst = std::max_element(slots.begin(), slots.end(),
                                                  [&](const Approach& x, const Approach& y) { return later(y, x); });
                    if (later(*worst, a)) *worst = a;
                }
            }
    }

    bool blockedAtLink(const Vehicle& v, uint32_t vehicleIndex) const {
        const Connection& c = net.connections[v.pendingConn];
        const char state = linkState(c);
        // Vehicles inside the junction that have not yet cleared the point where their path
        // meets this one block everyone.
        for (uint32_t k = c.foeStart; k < c.foeEnd; ++k) {
            const uint32_t via = net.connections[net.linkRefs[k]].viaLane;
            if (via == kNone) continue;
            for (uint32_t oi : laneState[via].veh)
                if (vehicles[oi].pos - vehicles[oi].length < conflict.foe[k] + kConflictClearanceM) return true;
        }
        const VehicleType& vt = type(v);
        // SUMO's rule (MSLink::blockedByFoe): behind a foe that has left before we arrive is
        // fine unless we merge into its lane less than a time gap after it; ahead of a foe is
        // fine if it arrives a time gap after we have passed; anything else is a conflict.
        // Unsignalised links time it at the stop line, as SUMO does (minor-road capacities
        // then agree with SUMO's, see docs/validation/mobility.md). Permissive greens time it
        // where the two paths meet (as SUMO's internal junctions do for turns across
        // traffic), which keeps signalised grids in agreement too.
        auto overlaps = [&](const Approach& a, uint32_t k) {
            if (c.signal == kNone) {
                if (a.leave < v.pendingArrival)
                    return net.connections[net.linkRefs[k]].toLane == c.toLane && v.pendingArrival - a.leave < kTimeGapS;
                return a.arrival <= v.pendingLeave + kTimeGapS;
            }
            const double toPoint = v.pendingDist + conflict.mine[k];
            const double myArrival = arrivalTime(toPoint, v.speed, vt.accel, v.pendingCrossSpeed);
            const double myLeave = arrivalTime(toPoint + v.length, v.speed, vt.accel, v.pendingCrossSpeed);
            const double foeArrival = a.arrival + conflict.foe[k] / std::max(double(a.lineSpeed), 2.0);
            if (a.leave < myArrival)
                return net.connections[net.linkRefs[k]].toLane == c.toLane && myArrival - a.leave < kTimeGapS;
            return foeArrival <= myLeave + kTimeGapS;
        };
        // A foe that can no longer stop enters whatever its right of way: even a major link
        // waits for it.
        for (uint32_t k = c.foeStart; k < c.foeEnd; ++k) {
            const uint32_t foe = net.linkRefs[k];
            for (uint8_t i = 0; i < linkApproachCount[foe]; ++i) {
                const Approach& a = linkApproach[foe][i];
                if (a.committed && a.vehicle != vehicleIndex && a.arrival <= v.pendingArrival && overlaps(a, k))
                    return true;
            }
        }
        if (state == 'G' || state == 'M' || state == 'O') return false;
        for (uint32_t k = c.yieldStart; k < c.yieldEnd; ++k) {
            const uint32_t foe = net.linkRefs[k];
            const auto& slots = linkApproach[foe];
            for (uint8_t i = 0; i < linkApproachCount[foe]; ++i) {
                const Approach& a = slots[i];
                if (!a.willPass || a.vehicle == vehicleIndex) continue;
                if (!overlaps(a, k)) continue;
                // Deadlock breaking (all approaches of a right-before-left junction occupied):
                // a foe that is itself standing at its link, yielding, and has waited less
                // goes after us. Both must stand: a moving foe that braked once (for a vehicle
                // inside the junction, say) is no deadlock and keeps its right of way.
                const Vehicle& other = vehicles[a.vehicle];
                if (other.yieldedBefore && v.yieldedBefore && other.waitingAtLinkS > 0 && v.waitingAtLinkS > 0 &&
                    (other.waitingAtLinkS < v.waitingAtLinkS ||
                     (other.waitingAtLinkS == v.waitingAtLinkS && other.trip > v.trip)))
                    continue;
                return true;
            }
        }
        return false;
    }

    void rightOfWayLane(uint32_t laneIndex) {
        const double dt = opt.stepS;
        for (uint32_t vi : laneState[laneIndex].veh) {
            Vehicle& v = vehicles[vi];
            v.yielded = false;
            if (v.pendingConn == kNone) continue;
            if (blockedAtLink(v, vi)) {
                const VehicleType& vt = type(v);
                double stop = vt.model == CarFollowing::IDM ? std::max(0.0, double(v.pendingDist) / dt)
                                                             : krauss::maximumSafeStopSpeed(v.pendingDist, vt.decel, dt, dt);
                // Stop, braking harder than comfortable if need be; a vehicle that cannot
                // stop even with emergency braking goes on (it has registered as committed).
                if (stop >= v.speed - vt.emergencyDecel * dt) {
                    v.vNext = std::min(v.vNext, float(stop));
                    v.yielded = true;
                }
            }
        }
    }

    // ----- phase 3: move -------------------------------------------------------------------
    void moveLane(uint32_t laneIndex) {
        LaneState& ls = laneState[laneIndex];
        const Lane& lane = net.lanes[laneIndex];
        const double dt = opt.stepS;
        ls.outbox.clear();
        ls.arrived.clear();
        ls.teleport.clear();
        for (uint32_t vi : ls.veh) {
            Vehicle& v = vehicles[vi];
            TripResult& res = results[v.trip];
            const double desired = desiredSpeed(v, laneIndex);
            v.speed = v.vNext;
            v.pos += v.speed * dt;
            res.routeLengthM += v.speed * dt;
            res.timeLossS += dt * std::max(0.0, (desired - v.speed) / desired);
            const bool standing = v.speed <= kStandingSpeed;
            if (standing) {
                res.waitingS += dt;
                v.standingS += float(dt);
            } else {
                v.standingS = 0;
            }
            v.yieldedBefore = v.yielded;
            if (!standing) v.waitingAtLinkS = 0;
            else if (v.pendingConn != kNone) v.waitingAtLinkS += float(dt);
            if (standing && v.pendingConn != kNone && v.pendingDist < 1.0) v.haltedAtStop = true;
            if (!lane.internal()) {
                ls.vehicleSeconds += dt;
                ls.distanceM += v.speed * dt;
            }
            if (lane.internal() || lane.lengthM - v.pos < kJunctionZoneM) {
                ls.zoneTimeLoss += dt * std::max(0.0, (desired - v.speed) / desired);
                if (standing) ls.zoneWaiting += dt;
            }
            if (!lane.internal() && v.routePos + 1 == routeOf(v).size() && v.pos >= v.arrivalPos) {
                ls.arrived.push_back(vi);
            } else if (v.pos > lane.lengthM) {
                ls.outbox.emplace_back(vi, float(v.pos - lane.lengthM));
            } else if (opt.timeToTeleportS > 0 && v.standingS >= opt.timeToTeleportS) {
                ls.teleport.push_back(vi);
            }
        }
        // Arrivals and vehicles leaving are removed here; they are handled sequentially.
        if (!ls.arrived.empty() || !ls.outbox.empty() || !ls.teleport.empty()) {
            auto gone = [&](uint32_t vi) {
                for (uint32_t a : ls.arrived) if (a == vi) return true;
                for (auto& [o, _] : ls.outbox) if (o == vi) return true;
                for (uint32_t a : ls.teleport) if (a == vi) return true;
                return false;
            };
            ls.veh.erase(std::remove_if(ls.veh.begin(), ls.veh.end(), gone), ls.veh.end());
        }
    }

    // Puts `vi` onto `lane` at v.pos, keeping the lane sorted front first.
    void placeOnLane(uint32_t vi, uint32_t lane) {
        auto& veh = laneState[lane].veh;
        Vehicle& v = vehicles[vi];
        v.lane = lane;
        auto it = veh.end();
        while (it != veh.begin() && vehicles[*(it - 1)].pos < v.pos) --it;
        veh.insert(it, vi);
    }

    void enterEdge(uint32_t edge) {
        if (!edgeSamples.empty()) edgeSamples.back()[edge].entered++;
    }

    void finishTrip(uint32_t vi, double when) {
        Vehicle& v = vehicles[vi];
        TripResult& res = results[v.trip];
        res.status = TripResult::Status::Arrived;
        res.arrivalS = when;
        v.active = false;
        freeSlots.push_back(vi);
        counts.running--;
        counts.arrived++;
    }

    // Moves a vehicle that drove past its lane's end onto the next lanes of its route.
    void transfer(uint32_t vi, double overshoot, double when) {
        Vehicle& v = vehicles[vi];
        uint32_t lane = v.lane;
        double rest = overshoot;
        for (;;) {
            const Lane& l = net.lanes[lane];
            uint32_t next;
            if (l.internal()) {
                const Connection& c = net.connections[l.connection];
                junctionSamples[c.junction].passed++;
                next = c.toLane;
                v.routePos++;
                enterEdge(net.lanes[next].edge);
            } else {
                if (v.nextConn == kNone) { // should not happen: planning stops at the lane end
                    v.pos = l.lengthM;
                    v.speed = 0;
                    placeOnLane(vi, lane);
                    return;
                }
                const Connection& c = net.connections[v.nextConn];
                v.pendingConn = kNone;
                v.haltedAtStop = false;
                v.waitingAtLinkS = 0;
                if (c.viaLane != kNone) next = c.viaLane;
                else {
                    junctionSamples[c.junction].passed++;
                    next = c.toLane;
                    v.routePos++;
                    enterEdge(net.lanes[next].edge);
                }
            }
            v.lane = lane = next;
            updateNextConnection(v);
            const Lane& nl = net.lanes[lane];
            if (!nl.internal() && v.routePos + 1 == routeOf(v).size() && rest >= v.arrivalPos) {
                finishTrip(vi, when);
                return;
            }
            if (rest <= nl.lengthM) {
                v.pos = float(rest);
                placeOnLane(vi, lane);
                return;
            }
            rest -= nl.lengthM;
        }
    }

    // Deadlock guard: the vehicle jumps to the next edge of its route with room at its start.
    void teleport(uint32_t vi, double when) {
        Vehicle& v = vehicles[vi];
        TripResult& res = results[v.trip];
        res.teleports++;
        counts.teleports++;
        v.standingS = 0;
        v.waitingAtLinkS = 0;
        v.pendingConn = kNone;
        v.haltedAtStop = false;
        const auto& route = routeOf(v);
        for (uint32_t rp = v.routePos + 1; rp < route.size(); ++rp) {
            const Edge& e = net.edges[route[rp]];
            for (uint32_t l = e.firstLane; l < e.firstLane + e.laneCount; ++l) {
                if (!(net.lanes[l].allow & classBit(type(v).vclass))) continue;
                const auto& veh = laneState[l].veh;
                double back = veh.empty() ? net.lanes[l].lengthM
                                          : vehicles[veh.back()].pos - vehicles[veh.back()].length;
                if (back - v.minGap >= v.length) {
                    v.routePos = rp;
                    v.pos = v.length;
                    v.speed = 0;
                    v.lane = l;
                    updateNextConnection(v);
                    enterEdge(route[rp]);
                    placeOnLane(vi, l);
                    return;
                }
            }
        }
        finishTrip(vi, when); // nowhere to go: counted as arrived after a teleport to the end
    }

    // ----- phase 4: lane changes -----------------------------------------------------------
    // How far the route can be followed from the start of `lane` (on route edge `routePos`)
    // without changing lanes, looking a few edges ahead (SUMO's "best lanes"). Infinite
    // once the route ends.
    double continuation(uint32_t lane, const Vehicle& v, uint32_t routePos, int depth = 0) const {
        const double here = net.lanes[lane].lengthM;
        const uint32_t next = edgeAt(v, routePos + 1);
        if (next == kNone) return std::numeric_limits<double>::infinity();
        if (depth >= kStrategicEdges || here > kStrategicLookaheadM) return here + kStrategicLookaheadM;
        double best = -1;
        const Lane& l = net.lanes[lane];
        for (uint32_t c = l.outStart; c < l.outEnd; ++c) {
            const Connection& conn = net.connections[c];
            if (net.lanes[conn.toLane].edge != next) continue;
            const double via = conn.viaLane != kNone ? net.lanes[conn.viaLane].lengthM : 0.0;
            best = std::max(best, via + continuation(conn.toLane, v, routePos + 1, depth + 1));
        }
        return best < 0 ? here : here + best;
    }

    // Whether `vi` fits into `lane` at its position: gaps to the new leader and follower safe.
    // Urgent changes (the lane ends for this route just ahead) accept emergency braking.
    bool fitsInto(uint32_t vi, uint32_t lane, bool urgent) const {
        const Vehicle& v = vehicles[vi];
        const auto& veh = laneState[lane].veh;
        const double dt = opt.stepS;
        const Vehicle* leader = nullptr;
        const Vehicle* follower = nullptr;
        for (uint32_t oi : veh) {
            const Vehicle& o = vehicles[oi];
            if (o.pos >= v.pos) leader = &o;
            else {
                follower = &o;
                break;
            }
        }
        if (leader) {
            const VehicleType& vt = type(v);
            double gap = leader->pos - leader->length - v.minGap - v.pos;
            if (gap < 0) return false;
            const double brake = urgent ? vt.emergencyDecel : vt.decel;
            if (krauss::safeFollowSpeed(gap, leader->speed, vt.decel, type(*leader).decel, vt.tau, dt) <
                v.speed - brake * dt)
                return false;
        }
        if (follower) {
            const VehicleType& ft = type(*follower);
            double gap = v.pos - v.length - follower->minGap - follower->pos;
            if (gap < 0) return false;
            const double brake = urgent ? ft.emergencyDecel : ft.decel;
            if (krauss::safeFollowSpeed(gap, v.speed, ft.decel, type(v).decel, ft.tau, dt) < follower->speed - brake * dt)
                return false;
        }
        return true;
    }

    // Safe speed on `lane` behind the nearest vehicle ahead, for the overtaking decision.
    double speedOnLane(uint32_t vi, uint32_t lane) const {
        const Vehicle& v = vehicles[vi];
        const VehicleType& vt = type(v);
        const Vehicle* leader = nullptr;
        for (uint32_t oi : laneState[lane].veh) { // front first: the last one ahead is the nearest
            if (oi == vi || vehicles[oi].pos < v.pos) break;
            leader = &vehicles[oi];
        }
        double best = desiredSpeed(v, lane);
        if (leader) {
            double gap = leader->pos - leader->length - v.minGap - v.pos;
            best = std::min(best, krauss::safeFollowSpeed(std::max(0.0, gap), leader->speed, vt.decel,
                                                          type(*leader).decel, vt.tau, opt.stepS));
        }
        return best;
    }

    void changeLanesOnEdge(uint32_t edgeIndex) {
        const Edge& e = net.edges[edgeIndex];
        if (e.laneCount < 2) return;
        std::vector<uint32_t> order;
        for (uint32_t l = e.firstLane; l < e.firstLane + e.laneCount; ++l)
            for (uint32_t vi : laneState[l].veh) order.push_back(vi);
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
            return vehicles[a].pos != vehicles[b].pos ? vehicles[a].pos > vehicles[b].pos : a < b;
        });
        std::array<double, 16> reach{}; // continuation per lane index, for this vehicle's route
        for (uint32_t vi : order) {
            Vehicle& v = vehicles[vi];
            if (t - v.lastLaneChange < kLaneChangeCooldownS) continue;
            const VClass vc = type(v).vclass;
            const uint32_t cur = v.lane;
            const int idx = net.lanes[cur].index;
            const int lanes = std::min<int>(e.laneCount, int(reach.size()));
            double bestReach = -1;
            for (int i = 0; i < lanes; ++i) {
                const uint32_t l = e.firstLane + uint32_t(i);
                reach[size_t(i)] = (net.lanes[l].allow & classBit(vc)) ? continuation(l, v, v.routePos) : -1;
                bestReach = std::max(bestReach, reach[size_t(i)]);
            }
            const double left = reach[size_t(idx)] - v.pos; // metres this lane still serves the route
            int direction = 0;
            bool urgent = false;
            if (reach[size_t(idx)] < bestReach && left < kStrategicLookaheadM) {
                // Towards the nearest lane that serves the route furthest.
                int bestDist = 1 << 30;
                for (int i = 0; i < lanes; ++i)
                    if (reach[size_t(i)] == bestReach && std::abs(i - idx) < std::abs(bestDist)) bestDist = i - idx;
                direction = bestDist > 0 ? 1 : -1;
                urgent = left < std::max(30.0, 3.0 * v.speed) || v.speed < kStandingSpeed;
            } else {
                // Overtake when a neighbour lane that serves the route as far is clearly faster.
                const double here = speedOnLane(vi, cur);
                if (here >= desiredSpeed(v, cur) - 0.5) continue;
                for (int d : {1, -1}) {
                    const int ni = idx + d;
                    if (ni < 0 || ni >= lanes || reach[size_t(ni)] < reach[size_t(idx)]) continue;
                    if (speedOnLane(vi, e.firstLane + uint32_t(ni)) > here + 2.0) {
                        direction = d;
                        break;
                    }
                }
                if (direction == 0) continue;
            }
            const int ni = idx + direction;
            if (ni < 0 || ni >= lanes) continue;
            const uint32_t target = e.firstLane + uint32_t(ni);
            if (!(net.lanes[target].allow & classBit(vc))) continue;
            if (!fitsInto(vi, target, urgent)) continue;
            auto& from = laneState[cur].veh;
            from.erase(std::find(from.begin(), from.end(), vi));
            placeOnLane(vi, target);
            v.lastLaneChange = float(t);
            updateNextConnection(v);
        }
    }

    // ----- phase 5: insertion ----------------------------------------------------------------
    void loadDepartures() {
        if (opt.adaptiveRouting) {
            size_t last = nextTrip;
            while (last < demand.trips.size() && demand.trips[last].departS <= t + 1e-9) ++last;
            routeAdaptively(nextTrip, last);
        }
        while (nextTrip < demand.trips.size() && demand.trips[nextTrip].departS <= t + 1e-9) {
            const uint32_t ti = uint32_t(nextTrip++);
            const Trip& trip = demand.trips[ti];
            const VehicleType& vt = demand.types[trip.type];
            TripResult& res = results[ti];
            if (vt.vclass == VClass::Pedestrian) {
                res.status = TripResult::Status::Unusable;
                counts.unusable++;
                continue;
            }
            auto& route = routes[ti];
            if (!trip.route.empty()) route = trip.route; // else routed by routeAhead() or routeAdaptively()
            auto usable = [&] {
                if (route.empty()) return false;
                for (uint32_t e : route)
                    if (!net.allows(e, vt.vclass)) return false;
                return true;
            };
            // A road closed during the run (a live edit): trips routed ahead go around it.
            if (!usable() && trip.route.empty() && trip.fromEdge != kNone && trip.toEdge != kNone) {
                Router router(net, vt.vclass, 0);
                router.setMaxSpeed(vt.maxSpeedMps);
                if (!travelTimes.empty()) router.setCosts(travelTimes);
                route = router.route(trip.fromEdge, trip.toEdge).edges;
            }
            if (!usable()) {
                res.status = route.empty() ? TripResult::Status::NoRoute : TripResult::Status::Unusable;
                (route.empty() ? counts.noRoute : counts.unusable)++;
                route.clear();
                continue;
            }
            res.routeEdges = uint32_t(route.size());
            backlog[route.front()].push_back(ti);
        }
    }

    // Routes every trip that has only an origin and a destination, in parallel, before the
    // first step: the costs do not change during a run, so this equals routing at insertion
    // and uses every thread (a closure during the run reroutes at departure, loadDepartures).
    // Routes of trips yet to depart are held from the start.
    void routeAhead() {
        if (opt.adaptiveRouting) return;
        std::map<std::pair<VClass, float>, std::vector<uint32_t>> groups; // by class and speed cap
        for (uint32_t ti = 0; ti < demand.trips.size(); ++ti) {
            const Trip& trip = demand.trips[ti];
            const VehicleType& vt = demand.types[trip.type];
            if (trip.route.empty() && trip.fromEdge != kNone && trip.toEdge != kNone && vt.vclass != VClass::Pedestrian)
                groups[{vt.vclass, vt.maxSpeedMps}].push_back(ti);
        }
        for (auto& [key, trips] : groups) {
            Router router(net, key.first, 8);
            router.setMaxSpeed(key.second);
            if (!travelTimes.empty()) router.setCosts(travelTimes);
            std::vector<std::pair<uint32_t, uint32_t>> pairs;
            pairs.reserve(trips.size());
            for (uint32_t ti : trips) pairs.emplace_back(demand.trips[ti].fromEdge, demand.trips[ti].toEdge);
            auto found = router.routeMany(pairs, std::max(1, opt.threads));
            for (size_t i = 0; i < trips.size(); ++i) routes[trips[i]] = std::move(found[i].edges);
        }
    }

    bool tryInsert(uint32_t ti) {
        const Trip& trip = demand.trips[ti];
        const VehicleType& vt = demand.types[trip.type];
        const auto& route = routes[ti];
        const Edge& e = net.edges[route.front()];
        Vehicle proto;
        proto.trip = ti;
        proto.type = trip.type;
        proto.length = vt.lengthM;
        proto.minGap = vt.minGapM;
        proto.routePos = 0;
        // Speed factor drawn once per trip: N(factor, dev) clipped to [0.2, 2] like SUMO's normc.
        double f = vt.speedFactor;
        if (vt.speedDev > 0) {
            for (uint32_t attempt = 0; attempt < 10; ++attempt) {
                double u1 = std::max(1e-12, uniform(opt.seed, ti, attempt, 1)), u2 = uniform(opt.seed, ti, attempt, 2);
                double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
                f = vt.speedFactor + vt.speedDev * z;
                if (f >= 0.2 && f <= 2.0) break;
                f = std::clamp(f, 0.2, 2.0);
            }
        }
        proto.desiredFactor = float(f);
        const double pos = trip.departPos >= 0 ? trip.departPos : vt.lengthM;
        uint32_t bestLane = kNone;
        double bestRoom = -1;
        for (uint32_t l = e.firstLane; l < e.firstLane + e.laneCount; ++l) {
            if (!(net.lanes[l].allow & classBit(vt.vclass))) continue;
            if (trip.departLane >= 0 && l != e.firstLane + uint32_t(trip.departLane)) continue;
            proto.lane = l;
            proto.pos = float(std::min<double>(pos, net.lanes[l].lengthM));
            const auto& veh = laneState[l].veh;
            double room = veh.empty() ? net.lanes[l].lengthM
                                      : vehicles[veh.back()].pos - vehicles[veh.back()].length - proto.pos;
            room += 1e3 * std::min(continuation(l, proto, 0), 1e6); // prefer lanes that serve the route
            if (room > bestRoom) {
                bestRoom = room;
                bestLane = l;
            }
        }
        if (bestLane == kNone) return false;
        proto.lane = bestLane;
        proto.pos = float(std::min<double>(pos, net.lanes[bestLane].lengthM));
        // Arrive at the end of the last edge's lanes (shorter than the edge where junctions
        // take their share), or at the trip's arrival position.
        const Edge& last = net.edges[route.back()];
        double lastLength = last.lengthM;
        for (uint32_t l = last.firstLane; l < last.firstLane + last.laneCount; ++l)
            lastLength = std::min<double>(lastLength, net.lanes[l].lengthM);
        proto.arrivalPos = float(trip.arrivalPos >= 0 ? std::min<double>(trip.arrivalPos, lastLength) : lastLength);
        // Room behind the last vehicle on the lane (vehicles insert at the lane start).
        const auto& veh = laneState[bestLane].veh;
        double speed = trip.departSpeed >= 0 ? trip.departSpeed : desiredSpeed(proto, bestLane);
        for (uint32_t oi : veh) {
            const Vehicle& o = vehicles[oi];
            if (o.pos < proto.pos) { // a vehicle behind the insertion point
                if (proto.pos - proto.length - o.minGap - o.pos < 0) return false;
                continue;
            }
        }
        if (!veh.empty()) {
            const Vehicle& last = [&]() -> const Vehicle& {
                for (auto it = veh.rbegin(); it != veh.rend(); ++it)
                    if (vehicles[*it].pos >= proto.pos) return vehicles[*it];
                return vehicles[veh.front()];
            }();
            if (last.pos >= proto.pos) {
                double gap = last.pos - last.length - proto.minGap - proto.pos;
                if (gap < 0) return false;
                double safe = krauss::safeFollowSpeed(gap, last.speed, vt.decel, type(last).decel, vt.tau, opt.stepS);
                if (trip.departSpeed < 0) speed = std::min(speed, safe);
                else if (speed > safe) return false;
            }
        }
        uint32_t vi;
        if (!freeSlots.empty()) {
            vi = freeSlots.back();
            freeSlots.pop_back();
        } else {
            vi = uint32_t(vehicles.size());
            vehicles.emplace_back();
        }
        Vehicle& v = vehicles[vi];
        v = proto;
        v.speed = v.vNext = float(speed);
        v.active = true;
        updateNextConnection(v);
        placeOnLane(vi, bestLane);
        TripResult& res = results[ti];
        res.status = TripResult::Status::Running;
        res.departS = t;
        res.departDelayS = t - trip.departS;
        counts.running++;
        enterEdge(route.front());
        return true;
    }


    void insert() {
        loadDepartures();
        for (auto it = backlog.begin(); it != backlog.end();) {
            auto& queue = it->second;
            size_t done = 0;
            while (done < queue.size() && tryInsert(queue[done])) ++done;
            queue.erase(queue.begin(), queue.begin() + long(done));
            it = queue.empty() ? backlog.erase(it) : std::next(it);
        }
        counts.backlog = 0;
        for (auto& [_, q] : backlog) counts.backlog += q.size();
    }

    // ----- statistics --------------------------------------------------------------------
    void ensureInterval() {
        const double interval = opt.edgeIntervalS > 0 ? opt.edgeIntervalS : 1e18;
        const size_t k = size_t(std::floor((t - opt.beginS) / interval + 1e-9));
        while (edgeSamples.size() <= k) edgeSamples.emplace_back(net.edges.size());
    }

    void foldLaneStatistics() {
        auto& samples = edgeSamples.back();
        for (uint32_t l : activeLanes) {
            LaneState& ls = laneState[l];
            const Lane& lane = net.lanes[l];
            if (!lane.internal()) {
                samples[lane.edge].vehicleSeconds += ls.vehicleSeconds;
                samples[lane.edge].distanceM += ls.distanceM;
            }
            uint32_t junction = lane.internal() ? net.connections[lane.connection].junction
                                                : net.edges[lane.edge].toJunction;
            junctionSamples[junction].timeLossS += ls.zoneTimeLoss;
            junctionSamples[junction].waitingS += ls.zoneWaiting;
            ls.vehicleSeconds = ls.distanceM = ls.zoneTimeLoss = ls.zoneWaiting = 0;
        }
    }

    void step() {
        if (!started) {
            started = true;
            routeAhead();
            ensureInterval();
            insert();
        }
        ensureInterval();
        activeLanes.clear();
        for (uint32_t l = 0; l < laneState.size(); ++l)
            if (!laneState[l].veh.empty()) activeLanes.push_back(l);

        parallelLanes(activeLanes, [&](uint32_t l) { planLane(l); });
        collectApproaches();
        parallelLanes(activeLanes, [&](uint32_t l) { rightOfWayLane(l); });
        size_t moving = 0;
        for (uint32_t l : activeLanes) moving += laneState[l].veh.size();
        counts.vehicleUpdates += moving;
        parallelLanes(activeLanes, [&](uint32_t l) { moveLane(l); });

        const double now = t + opt.stepS;
        foldLaneStatistics();
        // Sequential, in lane order: arrivals, lane transfers (front-most first), teleports.
        for (uint32_t l : activeLanes) {
            LaneState& ls = laneState[l];
            for (uint32_t vi : ls.arrived) finishTrip(vi, now);
            for (auto& [vi, over] : ls.outbox) transfer(vi, over, now);
            for (uint32_t vi : ls.teleport) teleport(vi, now);
        }
        t = now;
        ++stepIndex;
        if (opt.adaptiveRouting && t >= nextSampleS - 1e-9) {
            sampleEdgeSpeeds();
            nextSampleS += std::max(opt.adaptationIntervalS, opt.stepS);
        }
        ensureInterval();
        if (opt.laneChanging) {
            std::vector<uint32_t> edges;
            for (uint32_t l : activeLanes) {
                uint32_t e = net.lanes[l].edge;
                if (e != kNone && net.edges[e].laneCount > 1 && (edges.empty() || edges.back() != e)) edges.push_back(e);
            }
            edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
            parallelLanes(edges, [&](uint32_t e) { changeLanesOnEdge(e); });
        }
        insert();
    }

    bool finished() const {
        return started && counts.running == 0 && backlog.empty() && nextTrip >= demand.trips.size();
    }
};

Simulation::Simulation(const Network& net, const Demand& demand, const SimulationOptions& options,
                       std::vector<double> travelTimesS)
    : impl(std::make_unique<Impl>(net, demand, options, std::move(travelTimesS))) {}
Simulation::~Simulation() = default;

void Simulation::step() { impl->step(); }
void Simulation::advance(double untilS) {
    while (impl->t < untilS - 1e-9) impl->step();
}
void Simulation::runToEnd(double limitS) {
    while (!impl->finished() && impl->t < limitS - 1e-9) impl->step();
}
double Simulation::time() const { return impl->t; }
bool Simulation::finished() const { return impl->finished(); }
Simulation::Counts Simulation::counts() const { return impl->counts; }
const std::vector<TripResult>& Simulation::results() const { return impl->results; }
const std::vector<uint32_t>& Simulation::route(uint32_t trip) const { return impl->routes.at(trip); }
double Simulation::intervalS() const { return impl->opt.edgeIntervalS; }
const std::vector<std::vector<EdgeSample>>& Simulation::edgeSamples() const { return impl->edgeSamples; }
const std::vector<JunctionSample>& Simulation::junctionSamples() const { return impl->junctionSamples; }

std::vector<double> Simulation::measuredTravelTimes() const {
    const Network& net = impl->net;
    std::vector<double> tt(net.edges.size());
    for (size_t e = 0; e < net.edges.size(); ++e) {
        double seconds = 0;
        uint32_t entered = 0;
        for (const auto& interval : impl->edgeSamples) {
            seconds += interval[e].vehicleSeconds;
            entered += interval[e].entered;
        }
        const double free = net.edges[e].lengthM / net.edges[e].speedMps;
        tt[e] = entered > 0 ? std::max(free, seconds / entered) : free;
    }
    return tt;
}

void Simulation::vehicles(std::vector<VehicleState>& out) const {
    out.clear();
    const auto& I = *impl;
    for (const Vehicle& v : I.vehicles) {
        if (!v.active) continue;
        VehicleState s;
        s.trip = v.trip;
        double heading = 0;
        s.pos = I.net.lanePoint(v.lane, v.pos - v.length * 0.5, &heading);
        s.headingRad = float(heading);
        s.speedMps = v.speed;
        s.vclass = I.type(v).vclass;
        out.push_back(s);
    }
}

double Simulation::bytesPerRunningVehicle() const {
    const auto& I = *impl;
    if (I.counts.running == 0) return 0;
    double bytes = double(I.vehicles.capacity() * sizeof(Vehicle));
    for (const auto& ls : I.laneState) bytes += double(ls.veh.capacity() * sizeof(uint32_t));
    for (const Vehicle& v : I.vehicles)
        if (v.active) bytes += double(I.routes[v.trip].capacity() * sizeof(uint32_t));
    return bytes / double(I.counts.running);
}

} // namespace ct::mobility
