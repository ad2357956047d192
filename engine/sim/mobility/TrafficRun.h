#pragma once
// A SUMO scenario run in citytwin: a .sumocfg (or a network and route files) loaded, simulated
// to the end and written out — what `citytwin traffic`, tools/compare_sumo and the benchmark
// share. Results under outDir: trips.csv, edges.csv, junctions.csv, summary.json.
#include "sim/mobility/Simulation.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ct::mobility {

struct TrafficRunOptions {
    std::filesystem::path config;                 // .sumocfg; or net + routes below
    std::filesystem::path net;
    std::vector<std::filesystem::path> routes, additional;
    std::filesystem::path outDir;                 // empty: write nothing
    int threads = 1;
    uint64_t seed = 1;
    std::optional<double> stepS, beginS, endS, timeToTeleportS; // default: the config's, else SUMO's
    std::optional<CarFollowing> model;            // override every vehicle type's model
    // Trips routed at departure on adapted travel times (SUMO's default) or before the start
    // on free-flow times; default: the config's device.rerouting.adaptation-interval > 0.
    std::optional<bool> adaptiveRouting;
    double edgeIntervalS = 900;
    bool progress = true;
};

struct TrafficRunSummary {
    size_t trips = 0, arrived = 0, running = 0, backlog = 0, noRoute = 0, unusable = 0, teleports = 0;
    size_t skippedOnLoad = 0;
    double meanDurationS = 0, meanRouteLengthM = 0, meanSpeedMps = 0, meanTimeLossS = 0, meanWaitingS = 0;
    double simulatedS = 0, wallS = 0, loadS = 0;
    uint64_t vehicleUpdates = 0;
    double updatesPerS = 0, peakRunning = 0, bytesPerVehicle = 0;
    std::string toJson() const;
};

// Throws InputError for unreadable inputs; bad elements are skipped and counted.
TrafficRunSummary runTraffic(const TrafficRunOptions& options);

// Drops the trips SUMO would not load for a run from `beginS` to `endS` (< 0: open end):
// those departing before the begin or at/after the end. Returns how many were dropped.
size_t keepDepartures(Demand& demand, double beginS, double endS);

} // namespace ct::mobility
