#include "sim/mobility/TrafficRun.h"

#include "core/Error.h"
#include "core/Progress.h"
#include "sim/mobility/Outputs.h"
#include "sim/mobility/SumoXml.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>

namespace ct::mobility {

std::string TrafficRunSummary::toJson() const {
    nlohmann::ordered_json j;
    j["trips"] = trips;
    j["arrived"] = arrived;
    j["running_at_end"] = running;
    j["not_inserted"] = backlog;
    j["no_route"] = noRoute;
    j["unusable"] = unusable;
    j["teleports"] = teleports;
    j["skipped_on_load"] = skippedOnLoad;
    j["mean_duration_s"] = meanDurationS;
    j["mean_route_length_m"] = meanRouteLengthM;
    j["mean_speed_mps"] = meanSpeedMps;
    j["mean_time_loss_s"] = meanTimeLossS;
    j["mean_waiting_s"] = meanWaitingS;
    j["simulated_s"] = simulatedS;
    j["load_s"] = loadS;
    j["wall_s"] = wallS;
    j["vehicle_updates"] = vehicleUpdates;
    j["vehicle_updates_per_s"] = updatesPerS;
    j["peak_running"] = peakRunning;
    j["bytes_per_running_vehicle"] = bytesPerVehicle;
    return j.dump(2);
}

size_t keepDepartures(Demand& demand, double beginS, double endS) {
    const size_t before = demand.trips.size();
    std::erase_if(demand.trips, [&](const Trip& t) { return t.departS < beginS || (endS >= 0 && t.departS >= endS); });
    return before - demand.trips.size();
}

TrafficRunSummary runTraffic(const TrafficRunOptions& o) {
    using Clock = std::chrono::steady_clock;
    const auto loadStart = Clock::now();
    SumoConfig config;
    if (!o.config.empty()) config = readSumoConfig(o.config);
    if (!o.net.empty()) config.netFile = o.net;
    if (!o.routes.empty()) config.routeFiles = o.routes;
    if (!o.additional.empty()) config.additionalFiles = o.additional;
    if (config.netFile.empty())
        throw InputError("no network given", o.config.string(), "pass a .sumocfg with a net-file, or --net");

    SumoNetInfo info;
    Network net = readSumoNet(config.netFile, &info);
    std::vector<Taz> zones;
    for (const auto& file : config.additionalFiles) {
        auto z = readSumoTaz(file, net);
        zones.insert(zones.end(), z.begin(), z.end());
    }
    Demand demand;
    for (const auto& file : config.routeFiles) readSumoRoutes(file, net, demand, o.seed, zones);
    demand.sortTrips();
    if (o.model)
        for (auto& t : demand.types) t.model = *o.model;
    for (const auto& r : demand.skipped.reasons) spdlog::warn("skipped: {}", r);
    if (demand.skipped.count > demand.skipped.reasons.size())
        spdlog::warn("... {} skipped in all", demand.skipped.count);

    SimulationOptions sim;
    sim.beginS = o.beginS.value_or(config.beginS);
    sim.stepS = o.stepS.value_or(config.stepS);
    sim.timeToTeleportS = o.timeToTeleportS.value_or(config.timeToTeleportS);
    sim.threads = std::max(1, o.threads);
    sim.seed = o.seed;
    sim.edgeIntervalS = o.edgeIntervalS;
    sim.adaptiveRouting = o.adaptiveRouting.value_or(config.adaptationIntervalS > 0);
    sim.adaptationIntervalS = config.adaptationIntervalS > 0 ? config.adaptationIntervalS : 1;
    sim.adaptationSteps = config.adaptationSteps;
    const double end = o.endS.value_or(config.endS);
    // Like SUMO, a run loads only the vehicles departing within its time span.
    const size_t outside = keepDepartures(demand, sim.beginS, end);
    if (outside > 0) spdlog::info("{} trips depart outside {:.0f}–{:.0f} s and are not loaded", outside, sim.beginS, end);

    TrafficRunSummary s;
    s.trips = demand.trips.size();
    s.skippedOnLoad = demand.skipped.count + info.skipped.count;
    s.loadS = std::chrono::duration<double>(Clock::now() - loadStart).count();

    Simulation simulation(net, demand, sim);
    const auto runStart = Clock::now();
    {
        Progress progress("traffic", o.progress);
        const double lastDepart = demand.trips.empty() ? sim.beginS : demand.trips.back().departS;
        const double horizon = end >= 0 ? end : lastDepart + 3600; // a guess for the bar only
        while (!simulation.finished() && (end < 0 || simulation.time() < end - 1e-9)) {
            simulation.step();
            s.peakRunning = std::max<double>(s.peakRunning, double(simulation.counts().running));
            if (simulation.counts().running == s.peakRunning)
                s.bytesPerVehicle = simulation.bytesPerRunningVehicle();
            const auto c = simulation.counts();
            if (uint64_t(simulation.time() / sim.stepS) % 100 == 0)
                progress.update(std::min(1.0, (simulation.time() - sim.beginS) / std::max(1.0, horizon - sim.beginS)),
                                "t=" + std::to_string(int(simulation.time())) + " running=" + std::to_string(c.running) +
                                    " arrived=" + std::to_string(c.arrived));
        }
        progress.finish();
    }
    s.wallS = std::chrono::duration<double>(Clock::now() - runStart).count();
    const auto c = simulation.counts();
    s.arrived = c.arrived;
    s.running = c.running;
    s.backlog = c.backlog + (demand.trips.size() - c.arrived - c.running - c.backlog - c.noRoute - c.unusable);
    s.noRoute = c.noRoute;
    s.unusable = c.unusable;
    s.teleports = c.teleports;
    s.vehicleUpdates = c.vehicleUpdates;
    s.simulatedS = simulation.time() - sim.beginS;
    s.updatesPerS = s.wallS > 0 ? double(c.vehicleUpdates) / s.wallS : 0;
    double n = 0;
    for (const auto& r : simulation.results()) {
        if (r.status != TripResult::Status::Arrived) continue;
        n += 1;
        s.meanDurationS += r.durationS();
        s.meanRouteLengthM += r.routeLengthM;
        s.meanSpeedMps += r.durationS() > 0 ? r.routeLengthM / r.durationS() : 0;
        s.meanTimeLossS += r.timeLossS;
        s.meanWaitingS += r.waitingS;
    }
    if (n > 0) {
        s.meanDurationS /= n;
        s.meanRouteLengthM /= n;
        s.meanSpeedMps /= n;
        s.meanTimeLossS /= n;
        s.meanWaitingS /= n;
    }

    if (!o.outDir.empty()) {
        std::filesystem::create_directories(o.outDir);
        std::vector<std::vector<uint32_t>> routes(demand.trips.size());
        for (uint32_t i = 0; i < demand.trips.size(); ++i) routes[i] = simulation.route(i);
        writeTripsCsv(o.outDir / "trips.csv", demand, simulation.results(), &net, &routes);
        writeEdgesCsv(o.outDir / "edges.csv", net, simulation.edgeSamples(), sim.edgeIntervalS, s.simulatedS);
        writeJunctionsCsv(o.outDir / "junctions.csv", net, simulation.junctionSamples());
        std::ofstream(o.outDir / "summary.json") << s.toJson() << "\n";
    }
    return s;
}

} // namespace ct::mobility
