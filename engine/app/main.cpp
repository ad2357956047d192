// citytwin: the command line. Every subcommand runs headless; errors print what, where and
// what to do, and exit non-zero.
#include "app/Commands.h"
#include "GitVersion.h"
#include "core/Error.h"
#include "core/Log.h"
#include "sim/flood/FloodModule.h"

#include <CLI/CLI.hpp>
#include <cstdio>

int main(int argc, char** argv) {
    CLI::App cli{"citytwin — a smart-city digital twin: GIS import, flood/mobility/energy what-ifs"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string(CITYTWIN_VERSION) + " (" + CITYTWIN_GIT + ")");
    std::string logLevel = "info";
    bool noCache = false;
    cli.add_option("--log", logLevel, "log level: debug, info, warn, error")->capture_default_str();
    cli.add_flag("--no-cache", noCache, "do not read or write the import cache");

    ct::app::InfoOptions info;
    auto* infoCmd = cli.add_subcommand("info", "what a scenario or GIS file holds, and what was skipped and why");
    infoCmd->add_option("inputs", info.inputs, "scenario.yaml, or one or more GIS files")->required();
    infoCmd->add_option("--assume-crs", info.assumeCrs, "CRS for files that carry none (e.g. EPSG:25832)");
    infoCmd->add_flag("--json", info.json, "machine-readable output on stdout");
    infoCmd->add_flag("--all", info.allSkips, "list every skipped feature (default: the first 20)");

    ct::app::RunCommandOptions run;
    auto* runCmd = cli.add_subcommand("run", "run a scenario headless and write results");
    runCmd->add_option("scenario", run.scenario, "scenario YAML")->required();
    runCmd->add_option("--out", run.outDir, "output folder (default: the scenario's outputs.dir)");
    runCmd->add_option("--threads", run.threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
    runCmd->add_flag("--quiet", run.quiet, "no progress bars");

    ct::app::ImportOptionsCli imp;
    auto* importCmd = cli.add_subcommand("import", "import once into the cache; optionally export the model as GeoPackages");
    importCmd->add_option("inputs", imp.inputs, "scenario.yaml, or one or more GIS files")->required();
    importCmd->add_option("--assume-crs", imp.assumeCrs, "CRS for files that carry none");
    importCmd->add_option("--export", imp.exportDir, "write buildings.gpkg and road_graph.gpkg here");

    CLI11_PARSE(cli, argc, argv);
    ct::initLogging(logLevel);
    ct::flood::registerFloodModule();
    std::filesystem::path cacheDir = noCache ? std::filesystem::path() : ct::app::defaultCacheDir();
    info.cacheDir = run.cacheDir = imp.cacheDir = cacheDir;
    try {
        if (*infoCmd) return ct::app::info(info);
        if (*runCmd) return ct::app::run(run);
        if (*importCmd) return ct::app::import(imp);
    } catch (const ct::InputError& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "internal error: %s\n(please report this with the command you ran)\n", e.what());
        return 3;
    }
    return 1;
}
