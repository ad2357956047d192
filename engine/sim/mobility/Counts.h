#pragma once
// Detector counts against the simulation, for calibration: each detector is placed on an
// edge (by id, or the nearest edge to a point whose direction matches a heading), its counts
// per interval are compared with the vehicles the simulation let onto that edge in the same
// interval, and the agreement is the GEH statistic (UK DMRB Vol. 12: GEH < 5 for at least
// 85 % of counts is the usual calibration target).
#include "sim/mobility/Demand.h"
#include "sim/mobility/Network.h"
#include "sim/mobility/Simulation.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ct::feeds {
class SensorStore;
}

namespace ct::mobility {

// GEH = sqrt(2 (m − c)² / (m + c)) for hourly flows m (modelled) and c (counted); 0 if both 0.
double geh(double modelled, double counted);

struct DetectorPlacement {
    std::string id;
    std::string edge;                 // an edge id; or:
    std::optional<Vec2> point;        // the nearest edge to this point (network frame) ...
    std::optional<double> headingDeg; // ... whose direction is within 60° of this (0 = east, CCW)
};

struct Count {
    std::string detector;
    double beginS = 0, endS = 0;      // simulation clock
    double vehicles = 0;
};

// Long CSV with a header: detector,begin,end,count — begin/end in seconds of the simulation
// clock or HH:MM[:SS]. Bad rows are skipped with "file:line: reason".
std::vector<Count> readCountsCsv(const std::filesystem::path& file, SkipReport& skipped);

// Detectors and counts from a sensor store (docs/plugins.md, the traffic plugin).
struct StoreCounts {
    std::vector<DetectorPlacement> detectors; // id = the store's sensor id
    std::vector<Count> counts;
};
// Converts a WGS84 location to the network frame; nullopt if it cannot.
using LonLatToNetwork = std::function<std::optional<Vec2>(double lon, double lat)>;
// Every sensor of quantity traffic_count (or only `sensors`, when given) with observations in
// [fromUtc, toUtc) (s since 1970). A detector is placed by its properties' "edge", else by its
// location and "heading" (degrees, 0 = east, counter-clockwise). A value is a flow: unit
// "veh/h", or vehicles per period "veh/15min", "veh/300s", "veh/1h"; its interval begins at the
// phenomenon time and lasts the properties' "interval_s" (else the period of the unit, else
// the shortest gap between the sensor's observations). Counts come out on the simulation
// clock: clock = clockAtEpoch + utc. Sensors that cannot be used go to `skipped`.
StoreCounts readStoreCounts(const feeds::SensorStore& store, const std::vector<std::string>& sensors,
                            const LonLatToNetwork& toNetwork, double fromUtc, double toUtc, double clockAtEpoch,
                            SkipReport& skipped);

// Edge of each placement (kNone where nothing matches; the reason goes to `skipped`).
std::vector<uint32_t> placeDetectors(const Network& net, const std::vector<DetectorPlacement>& detectors,
                                     SkipReport& skipped);

struct CountComparison {
    std::string detector, edge;
    double beginS = 0, endS = 0;
    double counted = 0, simulated = 0;
    double gehHourly = 0;             // GEH of the two scaled to vehicles per hour
};

// One row per count whose interval lies inside the simulated span and is a whole number of
// the samples' intervals (samples[k] covers [beginS + k·intervalS, beginS + (k+1)·intervalS)).
std::vector<CountComparison> compareCounts(const Network& net, const std::vector<DetectorPlacement>& detectors,
                                           const std::vector<uint32_t>& detectorEdges, const std::vector<Count>& counts,
                                           const std::vector<std::vector<EdgeSample>>& samples, double intervalS,
                                           double beginS);

void writeCountComparisonCsv(const std::filesystem::path& file, const std::vector<CountComparison>& rows);
// Share of rows with GEH < 5 (NaN without rows).
double shareGehBelow5(const std::vector<CountComparison>& rows);

} // namespace ct::mobility
