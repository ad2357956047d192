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
#include <optional>
#include <string>
#include <vector>

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
