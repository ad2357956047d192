// `citytwin traffic`: a SUMO scenario (a .sumocfg, or a network and route files) run by
// citytwin's mobility model, with SUMO-style summary and outputs (docs/mobility.md).
#include "app/Commands.h"
#include "core/Error.h"
#include "sim/mobility/TrafficRun.h"

#include <cstdio>

namespace ct::app {

int traffic(const TrafficCommandOptions& o) {
    mobility::TrafficRunOptions run;
    if (o.inputs.size() == 1 && o.inputs[0].extension() == ".sumocfg") run.config = o.inputs[0];
    else {
        for (const auto& p : o.inputs) {
            const std::string name = p.filename().string();
            if (name.find(".net.xml") != std::string::npos) run.net = p;
            else if (name.find(".add.xml") != std::string::npos || name.find("taz") != std::string::npos)
                run.additional.push_back(p);
            else run.routes.push_back(p);
        }
        if (run.net.empty())
            throw InputError("no network among the inputs", o.inputs.empty() ? "" : o.inputs[0].string(),
                             "give a .sumocfg, or a .net.xml followed by .rou.xml/.trips.xml files");
    }
    run.outDir = o.outDir;
    run.threads = o.threads;
    run.seed = o.seed;
    if (o.stepS > 0) run.stepS = o.stepS;
    if (o.endS >= 0) run.endS = o.endS;
    if (o.model == "idm") run.model = mobility::CarFollowing::IDM;
    else if (o.model == "krauss") run.model = mobility::CarFollowing::Krauss;
    else if (!o.model.empty())
        throw InputError("unknown car-following model '" + o.model + "'", "--model", "use krauss or idm");
    if (o.routing == "adaptive") run.adaptiveRouting = true;
    else if (o.routing == "static") run.adaptiveRouting = false;
    else if (!o.routing.empty())
        throw InputError("unknown routing '" + o.routing + "'", "--routing", "use adaptive or static");
    run.progress = !o.quiet;
    const mobility::TrafficRunSummary s = mobility::runTraffic(run);
    std::printf("trips %zu: arrived %zu, running at the end %zu, not inserted %zu, no route %zu, teleports %zu; "
                "%zu elements skipped on load (see the warnings)\n",
                s.trips, s.arrived, s.running, s.backlog, s.noRoute, s.teleports, s.skippedOnLoad);
    std::printf("mean trip: %.1f s, %.0f m, %.2f m/s, time loss %.1f s, waiting %.1f s\n", s.meanDurationS,
                s.meanRouteLengthM, s.meanSpeedMps, s.meanTimeLossS, s.meanWaitingS);
    std::printf("%.0f s simulated in %.2f s wall: %.0f vehicle-updates/s (%d thread%s)\n", s.simulatedS, s.wallS,
                s.updatesPerS, run.threads, run.threads == 1 ? "" : "s");
    if (!o.outDir.empty()) std::printf("results: %s (trips.csv, edges.csv, junctions.csv, summary.json)\n", o.outDir.c_str());
    return 0;
}

} // namespace ct::app
