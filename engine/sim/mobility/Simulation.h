#pragma once
// The microscopic traffic simulation: vehicles on lanes, car following (Krauss as in SUMO,
// or IDM), lane changes towards the lanes that continue the route and to overtake, right of
// way at junctions (signals, priority, right-before-left) through approach times registered
// on the links, insertion with a backlog per departure edge, and a deadlock guard that
// teleports a vehicle stuck for `timeToTeleportS` (counted, like SUMO).
//
// Each step runs in phases: plan (per lane, parallel: speeds from leaders, signals and speed
// limits ahead; approach registration on the next link), right of way (per lane, parallel:
// reads all registrations), move (per lane, parallel), transfer between lanes, lane change
// (per edge, parallel), insertion (sequential). Randomness (Krauss dawdling, speed factors)
// comes from a counter-based generator keyed by (seed, trip, step), so results do not depend
// on the thread count.
#include "sim/mobility/Demand.h"
#include "sim/mobility/Network.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

namespace ct::mobility {

struct SimulationOptions {
    double beginS = 0;             // simulation start, in the clock of Trip::departS
    double stepS = 1.0;
    double timeToTeleportS = 300;  // standing this long → moved ahead on the route; ≤ 0: never
    int threads = 1;
    uint64_t seed = 1;
    double edgeIntervalS = 900;    // aggregation interval of the edge statistics
    bool laneChanging = true;
    // Trips without a route are routed before the first step on fixed travel times (the
    // constructor's, else free flow) — or, adaptive (SUMO's default for trips), when they
    // depart, on each edge's speed averaged over the last `adaptationSteps` samples taken
    // every `adaptationIntervalS` (SUMO's device.rerouting.adaptation-steps/-interval).
    bool adaptiveRouting = false;
    double adaptationIntervalS = 1;
    int adaptationSteps = 180;
};

struct TripResult {
    enum class Status : uint8_t { Pending, Running, Arrived, NoRoute, Unusable };
    Status status = Status::Pending;
    double departS = std::numeric_limits<double>::quiet_NaN();  // actual insertion time
    double arrivalS = std::numeric_limits<double>::quiet_NaN();
    double departDelayS = 0;       // insertion time − planned departure
    double routeLengthM = 0;       // distance driven
    double timeLossS = 0;          // time lost against driving at the desired speed
    double waitingS = 0;           // time at ≤ 0.1 m/s
    uint32_t routeEdges = 0;
    uint16_t teleports = 0;
    double durationS() const { return arrivalS - departS; }
};

// Per edge and interval, like SUMO's edgeData.
struct EdgeSample {
    uint32_t entered = 0;          // vehicles that entered the edge
    double vehicleSeconds = 0;     // time spent on the edge by all vehicles
    double distanceM = 0;          // distance driven on the edge by all vehicles
    double meanSpeed() const { return vehicleSeconds > 0 ? distanceM / vehicleSeconds : std::nan(""); }
};

struct JunctionSample {
    uint32_t passed = 0;           // vehicles that crossed the junction
    double timeLossS = 0;          // time loss on the last 50 m before it and inside it
    double waitingS = 0;           // standing time on the last 50 m before it
};

struct VehicleState {
    uint32_t trip;
    Vec2 pos;
    float headingRad, speedMps;
    VClass vclass;
};

class Simulation {
public:
    // Trips without a route are routed on `travelTimesS` (per edge; empty = free flow), or on
    // sampled speeds with SimulationOptions::adaptiveRouting; a trip whose destination cannot
    // be reached is reported NoRoute, not retried.
    Simulation(const Network& net, const Demand& demand, const SimulationOptions& options,
               std::vector<double> travelTimesS = {});
    ~Simulation();
    Simulation(const Simulation&) = delete;
    Simulation& operator=(const Simulation&) = delete;

    void step();
    void advance(double untilS);   // steps while time() < untilS
    // Runs until every trip has arrived or failed, or `limitS` is reached.
    void runToEnd(double limitS = std::numeric_limits<double>::infinity());
    double time() const;
    bool finished() const;         // nothing running, nothing left to insert

    struct Counts {
        size_t loaded = 0, backlog = 0, running = 0, arrived = 0, noRoute = 0, unusable = 0;
        size_t teleports = 0;
        uint64_t vehicleUpdates = 0; // vehicle-steps simulated so far
    };
    Counts counts() const;
    const std::vector<TripResult>& results() const; // by trip index of the demand
    const std::vector<uint32_t>& route(uint32_t trip) const; // the route driven (empty before insertion)

    double intervalS() const;
    // Edge statistics: samples[interval][edge].
    const std::vector<std::vector<EdgeSample>>& edgeSamples() const;
    const std::vector<JunctionSample>& junctionSamples() const; // whole run, per junction
    // Mean travel time per edge over the run so far (free flow where nobody drove), for the
    // next iteration of dynamic assignment.
    std::vector<double> measuredTravelTimes() const;

    void vehicles(std::vector<VehicleState>& out) const;
    // Bytes held for vehicles (state, routes, lane slots) divided by the vehicles running.
    double bytesPerRunningVehicle() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl;
};

// The model's equations, exposed for the tests that check them against theory.
namespace krauss {
// SUMO's Euler-update stopping speed: the highest speed from which braking by `decel` per
// second comes to a halt within `gap` metres, with reaction time `headway`.
double maximumSafeStopSpeed(double gap, double decel, double headway, double stepS);
double brakeGap(double speed, double decel, double headway, double stepS);
// Highest safe speed behind a leader at `gap` metres driving `leaderSpeed`.
double safeFollowSpeed(double gap, double leaderSpeed, double decel, double leaderDecel, double tau, double stepS);
} // namespace krauss

namespace idm {
// IDM acceleration (Treiber, Hennecke, Helbing 2000).
double acceleration(double v, double gap, double dv, double v0, double T, double s0, double a, double b,
                    double delta);
} // namespace idm

} // namespace ct::mobility
