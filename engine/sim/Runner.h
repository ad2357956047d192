#pragma once
// The headless runner: import the city, run the scenario's modules for the baseline and, when
// the scenario has edits, for the variant with the same seed, and write results.
#include "sim/Module.h"

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

namespace ct {

struct RunOptions {
    std::filesystem::path outDir;   // empty: the scenario's outputs.dir
    int threads = 0;                // 0: all cores
    bool progress = true;
    std::filesystem::path cacheDir; // import cache; empty: none
};

struct RunResult {
    std::filesystem::path outDir;
    Kpis city;                      // what was loaded
    std::map<std::string, Kpis> baseline, variant; // per module
    bool hasVariant = false;
    double wallS = 0;
    nlohmann::json kpisJson;        // as written to kpis.json
};

// Facts about the loaded city (counts, areas, lengths), reported with every run.
Kpis cityKpis(const CityModel& city);

RunResult runScenario(const Scenario& scenario, const RunOptions& options);

// runScenario advances the modules to duration·k/runChunks, k = 1..runChunks (progress and
// Ctrl-C are checked between chunks). Step-wise callers that want a whole run's numbers bit
// for bit stop at the same times.
constexpr int runChunks = 200;

// One variant of a scenario run step by step — what runScenario does per variant, and what the
// viewer (water spreading as the clock runs) and coupled scripts drive themselves: the
// scenario's modules created, configured, given the edits (variant only) and started.
class SimulationSession {
public:
    // Throws InputError for unknown modules and edits no module handles.
    SimulationSession(const Scenario& scenario, const CityModel& city, bool withEdits, int threads);
    ~SimulationSession();
    SimulationSession(const SimulationSession&) = delete;
    SimulationSession& operator=(const SimulationSession&) = delete;

    // Simulates up to `timeS` seconds after the scenario start (at most its duration).
    void advanceTo(double timeS);
    double time() const { return timeS_; }
    bool finished() const { return timeS_ >= scenario_.durationS; }
    bool empty() const { return modules_.empty(); }
    // A what-if edit made now, while the run goes on (coupling, the viewer): the module that
    // handles its type changes its running state. InputError if no module handles it or a
    // value is bad.
    void applyEdit(const Edit& edit);
    // Latest state of every module, for drawing.
    std::vector<std::shared_ptr<const Snapshot>> snapshots() const;
    // Progress-bar text of every module ("dt=0.4 s wet=12000 ...").
    std::string status() const;
    // Results of every module into dir/<module>; their KPIs by module.
    std::map<std::string, Kpis> writeOutputs(const std::filesystem::path& dir);

private:
    const Scenario& scenario_;
    std::vector<std::pair<std::string, std::unique_ptr<SimulationModule>>> modules_;
    double timeS_ = 0;
};

} // namespace ct
