#pragma once
// What a mobility run writes and reports: trips.csv, edges.csv, edges.gpkg, junctions.csv,
// the KPIs, and the comparison of a baseline with a variant (docs/mobility.md, "Outputs").
// Pure functions of the network, the demand and the simulation's results, so they are tested
// on hand-built inputs without running the simulation.
#include "core/Geo.h"
#include "sim/Module.h"
#include "sim/mobility/Demand.h"
#include "sim/mobility/Network.h"
#include "sim/mobility/Simulation.h"

#include <array>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace ct::mobility {

const char* toString(TripResult::Status s); // arrived, running, no_route, pending, unusable

// One line per trip of `demand` (results[i] belongs to demand.trips[i]). With `routes`
// (routes[i] = edges driven by trip i) and `net`, a last column `route` lists edge ids.
void writeTripsCsv(const std::filesystem::path& file, const Demand& demand, const std::vector<TripResult>& results,
                   const Network* net = nullptr, const std::vector<std::vector<uint32_t>>* routes = nullptr);

// Per edge and interval (samples[interval][edge]) for every edge that had traffic in some
// interval. Interval k covers [k·intervalS, min((k+1)·intervalS, endS)) seconds after the
// scenario start; flows and densities use that (possibly shorter) last interval's length.
void writeEdgesCsv(const std::filesystem::path& file, const Network& net,
                   const std::vector<std::vector<EdgeSample>>& samples, double intervalS,
                   double endS = std::numeric_limits<double>::infinity());

// Where the network's coordinates lie in the world: world = local + offset, in `crs` (empty
// CRS, e.g. a SUMO net with no projection: a local engineering CRS in metres).
struct WorldFrame {
    Crs crs;
    Vec2 offset = Vec2::Zero();
};

// A LineString layer "edges" with every edge (lane 0's centre line), its totals over the run
// and its busiest interval.
void writeEdgesGpkg(const std::filesystem::path& file, const Network& net,
                    const std::vector<std::vector<EdgeSample>>& samples, double intervalS, const WorldFrame& world,
                    double endS = std::numeric_limits<double>::infinity());

void writeJunctionsCsv(const std::filesystem::path& file, const Network& net,
                       const std::vector<JunctionSample>& junctions, const WorldFrame& world = {});

// Emission factors (g CO2 per vehicle-km, direct emissions), docs/mobility.md.
struct Co2Factors {
    double carGPerKm = 147;   // UBA TREMOD 2022, average passenger car
    double truckGPerKm = 0;   // trucks and buses are not counted unless a factor is given
    double busGPerKm = 0;
};

Kpis mobilityKpis(const Demand& demand, const std::vector<TripResult>& results, const Co2Factors& co2 = {});

// Trip-by-trip comparison of two trips.csv files (trips matched by id, arrived in both).
// Δ = variant − baseline duration; unchanged when |Δ| < 5 s or |Δ| < 2 % of the baseline's.
struct TripComparison {
    static constexpr int kLengthClasses = 4; // 0–2, 2–5, 5–10, > 10 km (baseline route length)
    static constexpr int kDeltaBins = 7;     // < −300, −300..−60, −60..−5, ±5, 5..60, 60..300, > 300 s
    static const std::array<const char*, kLengthClasses> lengthClassNames;
    static const std::array<const char*, kDeltaBins> deltaBinNames;
    static int lengthClass(double routeLengthM);
    static int deltaBin(double deltaS);

    size_t matched = 0, faster = 0, slower = 0, unchanged = 0;
    size_t arrivedOnlyBaseline = 0, arrivedOnlyVariant = 0;
    double meanDeltaS = 0, medianDeltaS = 0;
    std::array<std::array<size_t, kDeltaBins>, kLengthClasses> histogram{};
};
TripComparison compareTrips(const std::filesystem::path& baselineTripsCsv, const std::filesystem::path& variantTripsCsv);

// Edges whose traffic changed most between two edges.csv files: the `count` largest
// |Δ entered| and the `count` largest |Δ mean speed|, merged.
struct EdgeChange {
    std::string id, name;
    double enteredBase = 0, enteredVariant = 0;
    double speedBaseKmh = std::numeric_limits<double>::quiet_NaN(), speedVariantKmh = std::numeric_limits<double>::quiet_NaN();
};
std::vector<EdgeChange> topChangedEdges(const std::filesystem::path& baselineEdgesCsv,
                                        const std::filesystem::path& variantEdgesCsv, size_t count = 20);

// The runner's comparison hook: reads trips.csv and edges.csv from both run folders and
// writes comparison.csv, comparison.json and top_changed_edges.csv into outDir.
void writeComparison(const std::filesystem::path& baselineDir, const std::filesystem::path& variantDir,
                     const std::filesystem::path& outDir);

} // namespace ct::mobility
