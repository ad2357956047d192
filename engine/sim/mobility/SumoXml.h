#pragma once
// SUMO's XML formats in and out: .net.xml networks (edges, lanes, shapes, junctions with
// their right-of-way requests, connections with internal lanes, tlLogic) and route files
// (.rou.xml / .trips.xml: vType, vehicle, trip, flow, route, routeDistribution's first
// route). Readers accept plain or gzip-compressed files. Bad elements are skipped, counted
// and explained; an unreadable file or one that is not SUMO XML throws InputError.
#include "sim/mobility/Demand.h"
#include "sim/mobility/Network.h"

#include <filesystem>

namespace ct::mobility {

struct SumoNetInfo {
    Vec2 netOffset = Vec2::Zero();   // SUMO x/y = projected coordinates + netOffset
    std::string projection;          // projParameter ("+proj=utm +zone=32 ..."), may be "!"
    SkipReport skipped;
};

// Reads a .net.xml (or .net.xml.gz). Internal edges (id starting with ':') become the
// internal lanes of the connections that name them `via`.
Network readSumoNet(const std::filesystem::path& file, SumoNetInfo* info = nullptr);

// Traffic assignment zones (<taz> in additional files). A trip from one zone to another takes
// the source/sink pair with the fastest free-flow route, as SUMO's virtual zone nodes do; a
// trip with only one end in a zone draws that edge by the source/sink weights (seeded).
struct Taz {
    std::string id;
    std::vector<uint32_t> sources, sinks;
    std::vector<double> sourceWeights, sinkWeights;
};
std::vector<Taz> readSumoTaz(const std::filesystem::path& file, const Network& net);

// The parts of a .sumocfg a run needs; relative paths resolved against the file's folder.
struct SumoConfig {
    std::filesystem::path netFile;
    std::vector<std::filesystem::path> routeFiles, additionalFiles;
    double beginS = 0, endS = -1;      // -1 = until all vehicles arrived
    double stepS = 1, timeToTeleportS = 300;
    // Routing of trips on adapted travel times (device.rerouting.adaptation-*): SUMO's
    // defaults; an interval ≤ 0 turns adaptation off (routes on free-flow times).
    double adaptationIntervalS = 1;
    int adaptationSteps = 180;
};
SumoConfig readSumoConfig(const std::filesystem::path& file);

// Reads route files into `demand` (several files may be read into the same demand). Flows
// are expanded into trips (period / vehsPerHour / number / probability, the latter seeded by
// `seed`). Trips whose edges are unknown or not connected are skipped and counted.
void readSumoRoutes(const std::filesystem::path& file, const Network& net, Demand& demand, uint64_t seed = 1,
                    const std::vector<Taz>& zones = {});

// Writes trips as a SUMO .trips.xml (vTypes + trips with from/to or vehicles with routes),
// so a demand generated here can be run in SUMO for comparison.
void writeSumoTrips(const std::filesystem::path& file, const Network& net, const Demand& demand);

} // namespace ct::mobility
