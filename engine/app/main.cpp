// citytwin: the command line. Every subcommand runs headless; errors print what, where and
// what to do, and exit non-zero.
#include "app/Commands.h"
#include "GitVersion.h"
#include "core/Error.h"
#include "core/Log.h"
#include "sim/energy/EnergyModule.h"
#include "sim/flood/FloodModule.h"
#include "sim/mobility/MobilityModule.h"

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
    runCmd->add_flag("--no-report", run.noReport, "do not write report.html");

    ct::app::ImportOptionsCli imp;
    auto* importCmd = cli.add_subcommand("import", "import once into the cache; optionally export the model as GeoPackages");
    importCmd->add_option("inputs", imp.inputs, "scenario.yaml, or one or more GIS files")->required();
    importCmd->add_option("--assume-crs", imp.assumeCrs, "CRS for files that carry none");
    importCmd->add_option("--export", imp.exportDir, "write buildings.gpkg and road_graph.gpkg here");

    ct::app::RenderCommandOptions rnd;
    auto* renderCmd = cli.add_subcommand("render", "draw the city to a PNG, headless (no window or display needed)");
    renderCmd->add_option("scenario", rnd.scenario, "scenario YAML")->required();
    renderCmd->add_option("--out", rnd.out, "PNG file")->capture_default_str();
    renderCmd->add_option("--size", rnd.size, "WIDTHxHEIGHT")->capture_default_str();
    renderCmd->add_option("--camera", rnd.camera, "overview, a building or street name, or x,y,z,yaw,pitch (x,y in the scenario's CRS, z metres, degrees)");
    renderCmd->add_option("--time", rnd.time, "ISO instant that places the sun (default: the scenario's start); with --color-roads-by counts also the counts shown");
    renderCmd->add_option("--grid", rnd.grid, "a result raster draped on the terrain, e.g. out/flood/max_depth.tif");
    renderCmd->add_option("--color-by", rnd.colorBy, "colour buildings by height, levels, year, use, area, or a result field of the run (e.g. heat_kwh_m2, pv_kwh_kwp)");
    renderCmd->add_option("--color-roads-by", rnd.colorRoadsBy, "colour roads by speed (limit), lanes, traffic (speed over the limit from --results of a mobility run, at --sim-time; with fcd.csv the vehicles too) or counts (traffic detector counts, veh/h, from the feed store <results or outputs>/feeds/sensors.sqlite at --time; default: each detector's newest)");
    renderCmd->add_option("--title", rnd.title, "title in the picture (default: the scenario's name)");
    renderCmd->add_flag("!--no-shadows", rnd.shadows, "no shadow map");
    renderCmd->add_flag("!--no-legend", rnd.legend, "no legend");
    renderCmd->add_flag("--validate", rnd.validation, "Vulkan validation layer on; any message fails the command");
    renderCmd->add_option("--gpu", rnd.gpu, "Vulkan device: index or part of its name (default: $CITYTWIN_GPU, else a discrete GPU)");
    renderCmd->add_option("--tour", rnd.tour, "a tour YAML: its view, caption, labels and split at --at (docs/presentation.md)");
    renderCmd->add_option("--at", rnd.tourTimeS, "seconds into the tour")->check(CLI::NonNegativeNumber);
    renderCmd->add_option("--results", rnd.results, "a run's output folder: its flood depth, building results, traffic, feed store (default with --tour or --color-roads-by traffic/counts: the scenario's outputs)");
    renderCmd->add_option("--sim-time", rnd.simTime, "simulation time shown, after the start (e.g. 2h); default: the tour's, else max depth (traffic: the busiest interval)");
    renderCmd->add_flag("--split", rnd.split, "before/after: baseline left, variant right");
    renderCmd->add_flag("--no-split", rnd.noSplit, "no before/after split even if the tour asks for one");
    renderCmd->add_flag("--difference", rnd.difference, "show the depth difference variant - baseline");
    renderCmd->add_option("--lang", rnd.lang, "language of the texts in the picture: en or de (default: $CITYTWIN_LANG, $LANG)");

    ct::app::RenderTourOptions tourOpt;
    auto* tourCmd = cli.add_subcommand("render-tour", "render a presentation tour to an MP4 video, headless (ffmpeg)");
    tourCmd->add_option("scenario", tourOpt.scenario, "scenario YAML")->required();
    tourCmd->add_option("tour", tourOpt.tour, "tour YAML (docs/presentation.md)")->required();
    tourCmd->add_option("--out", tourOpt.out, "MP4 file")->capture_default_str();
    tourCmd->add_option("--size", tourOpt.size, "WIDTHxHEIGHT (even)")->capture_default_str();
    tourCmd->add_option("--fps", tourOpt.fps, "frames per second")->capture_default_str()->check(CLI::Range(1, 240));
    tourCmd->add_option("--results", tourOpt.results, "a run's output folder (default: the scenario's outputs)");
    tourCmd->add_flag("--split", tourOpt.split, "before/after: baseline left, variant right");
    tourCmd->add_flag("--no-split", tourOpt.noSplit, "no before/after split even if the tour asks for one");
    tourCmd->add_flag("--difference", tourOpt.difference, "show the depth difference variant - baseline");
    tourCmd->add_option("--lang", tourOpt.lang, "language of the texts: en or de");
    tourCmd->add_flag("!--no-shadows", tourOpt.shadows, "no shadow map");
    tourCmd->add_flag("--validate", tourOpt.validation, "Vulkan validation layer on; any message fails the command");
    tourCmd->add_option("--gpu", tourOpt.gpu, "Vulkan device: index or part of its name");
    tourCmd->add_flag("-q,--quiet", tourOpt.quiet, "no progress bar");

    ct::app::ViewCommandOptions vw;
    auto* viewCmd = cli.add_subcommand("view", "open the city in the 3D viewer");
    viewCmd->add_option("scenario", vw.scenario, "scenario YAML")->required();
    viewCmd->add_option("--size", vw.size, "window WIDTHxHEIGHT")->capture_default_str();
    viewCmd->add_option("--camera", vw.camera, "start camera: overview, a name, or x,y,z,yaw,pitch");
    viewCmd->add_option("--grid", vw.grid, "a result raster draped on the terrain");
    viewCmd->add_option("--results", vw.results, "a run's output folder: replay flood depth snapshots and traffic (edges.csv, fcd.csv) with the time controls");
    viewCmd->add_flag("--live", vw.live, "run the scenario's modules while viewing: water spreads as the clock runs");
    viewCmd->add_flag("--feeds", vw.feeds, "run the scenario's live feeds while viewing (its feeds: list); the Feeds panel shows their status");
    viewCmd->add_flag("--variant", vw.variant, "with --live: run the variant (the scenario's edits) instead of the baseline");
    viewCmd->add_flag("--no-vsync", vw.noVsync, "draw as fast as possible");
    viewCmd->add_flag("--validate", vw.validation, "Vulkan validation layer on; any message makes the exit code 3");
    viewCmd->add_option("--gpu", vw.gpu, "Vulkan device: index or part of its name");
    viewCmd->add_option("--frames", vw.exitAfterFrames, "close after N frames (tests)")->check(CLI::NonNegativeNumber);
    viewCmd->add_option("--screenshot", vw.screenshot, "with --frames: save the last frame as PNG");
    viewCmd->add_option("--tour", vw.tour, "presentation tour YAML (default: <scenario>.tour.yaml beside the scenario)");
    viewCmd->add_flag("--present", vw.present, "start in presentation mode: full screen, no panels (Esc leaves)");
    viewCmd->add_option("--color-by", vw.colorBy, "colour buildings by height, levels, year, use, area or a result field (e.g. heat_kwh_m2)");
    viewCmd->add_option("--lang", vw.lang, "language of the viewer: en or de (default: $CITYTWIN_LANG, $LANG)");

    ct::app::SweepCommandOptions swp;
    auto* sweepCmd = cli.add_subcommand("sweep", "run a scenario over parameter combinations (resumable; scales out under mpirun)");
    sweepCmd->add_option("sweep", swp.sweep, "sweep YAML (docs/scale-out.md)")->required();
    sweepCmd->add_option("--out", swp.outDir, "output folder (default: out/<sweep name> beside the sweep file)");
    sweepCmd->add_option("--threads", swp.threads, "worker threads per run, per MPI rank (default: all cores)")->check(CLI::NonNegativeNumber);
    sweepCmd->add_flag("--report-images", swp.reportImages, "draw result maps into each run's report (slower)");

    ct::app::FeedsCommandOptions fd;
    auto* feedsCmd = cli.add_subcommand("feeds", "run the scenario's live feeds headless: status, sensor store, exports");
    feedsCmd->add_option("scenario", fd.scenario, "scenario YAML with a feeds: list")->required();
    feedsCmd->add_option("--for", fd.duration, "stop after this long (e.g. 60s); default: when every feed has stopped");
    feedsCmd->add_option("--every", fd.every, "status table interval")->capture_default_str();
    feedsCmd->add_option("--out", fd.outDir, "output folder (default: the scenario's outputs.dir); writes feeds/sensors.sqlite");
    feedsCmd->add_flag("-q,--quiet", fd.quiet, "only the final status");

    ct::app::TrafficCommandOptions tr;
    auto* trafficCmd = cli.add_subcommand("traffic", "run a SUMO scenario (.sumocfg, or .net.xml + route files) with citytwin's traffic model");
    trafficCmd->add_option("inputs", tr.inputs, "a .sumocfg, or a .net.xml followed by .rou.xml/.trips.xml/TAZ files")->required();
    trafficCmd->add_option("--out", tr.outDir, "write trips.csv, edges.csv, junctions.csv and summary.json here");
    trafficCmd->add_option("--threads", tr.threads, "worker threads")->capture_default_str()->check(CLI::PositiveNumber);
    trafficCmd->add_option("--seed", tr.seed, "random seed (dawdling, speed factors, flows)")->capture_default_str();
    trafficCmd->add_option("--step", tr.stepS, "step length in seconds (default: the config's, else 1)");
    trafficCmd->add_option("--end", tr.endS, "stop at this time in seconds (default: the config's end, else when all have arrived)");
    trafficCmd->add_option("--model", tr.model, "car following for every vehicle: krauss or idm (default: as the vehicle types say)");
    trafficCmd->add_option("--routing", tr.routing,
                           "trips without a route: adaptive (routed at departure on the traffic's recent speeds, "
                           "SUMO's default) or static (free-flow times, before the start); default: as the config says");
    trafficCmd->add_flag("-q,--quiet", tr.quiet, "no progress bar");

    CLI11_PARSE(cli, argc, argv);
    ct::initLogging(logLevel);
    ct::flood::registerFloodModule();
    ct::energy::registerEnergyModule();
    ct::mobility::registerMobilityModule();
    std::filesystem::path cacheDir = noCache ? std::filesystem::path() : ct::app::defaultCacheDir();
    info.cacheDir = run.cacheDir = imp.cacheDir = rnd.cacheDir = tourOpt.cacheDir = vw.cacheDir = swp.cacheDir = cacheDir;
    try {
        if (*infoCmd) return ct::app::info(info);
        if (*runCmd) return ct::app::run(run);
        if (*importCmd) return ct::app::import(imp);
        if (*renderCmd) return ct::app::render(rnd);
        if (*tourCmd) return ct::app::renderTour(tourOpt);
        if (*viewCmd) return ct::app::view(vw);
        if (*sweepCmd) return ct::app::sweep(swp);
        if (*feedsCmd) return ct::app::feeds(fd);
        if (*trafficCmd) return ct::app::traffic(tr);
    } catch (const ct::InputError& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "internal error: %s\n(please report this with the command you ran)\n", e.what());
        return 3;
    }
    return 1;
}
