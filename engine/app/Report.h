#pragma once
// The run report: DIR/report.html beside the results, self-contained (opens offline): the
// scenario, KPIs baseline vs variant, module plots and pictures of the result maps.
#include "sim/Runner.h"

#include <filesystem>
#include <string>

namespace ct::app {

struct ReportOptions {
    bool images = true;             // draw result maps with the headless renderer
    std::filesystem::path cacheDir; // import cache for re-loading the city for pictures
};

// Writes result.outDir/report.html and returns its path. A missing Vulkan device does not
// fail the run: the report then carries plain 2D previews of the maps and says why.
std::filesystem::path writeRunReport(const Scenario& scenario, const RunResult& result, const ReportOptions& options);

// The key KPIs in a few lines for the terminal at the end of a run.
std::string runSummary(const RunResult& result);

} // namespace ct::app
