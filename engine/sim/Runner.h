#pragma once
// The headless runner: import the city, run the scenario's modules for the baseline and, when
// the scenario has edits, for the variant with the same seed, and write results.
#include "sim/Module.h"

#include <filesystem>
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

} // namespace ct
