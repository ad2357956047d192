#pragma once
// The subcommands of `citytwin`, callable from tests without a process.
#include <filesystem>
#include <string>
#include <vector>

namespace ct::app {

struct InfoOptions {
    std::vector<std::filesystem::path> inputs; // one scenario YAML, or GIS files
    std::string assumeCrs;
    bool json = false;
    bool allSkips = false;
    std::filesystem::path cacheDir;
};
int info(const InfoOptions& options);

struct RunCommandOptions {
    std::filesystem::path scenario;
    std::filesystem::path outDir;
    int threads = 0;
    bool quiet = false;
    bool noReport = false; // skip report.html
    std::filesystem::path cacheDir;
};
int run(const RunCommandOptions& options);

struct ImportOptionsCli {
    std::vector<std::filesystem::path> inputs;
    std::string assumeCrs;
    std::filesystem::path exportDir;
    std::filesystem::path cacheDir;
};
int import(const ImportOptionsCli& options);

struct RenderCommandOptions {
    std::filesystem::path scenario;
    std::filesystem::path out = "citytwin.png";
    std::string size = "1920x1080";
    std::string camera;   // NAME or x,y,z,yaw,pitch (local frame); default: overview
    std::string time;     // ISO instant for the sun; default: the scenario's start
    std::filesystem::path grid; // a result raster draped on the terrain
    std::string colorBy, colorRoadsBy;
    std::string title;    // default: the tour's title, else the scenario's name
    // Presentation stills: a tour's view at a tour time, a run's flood results at a time.
    std::filesystem::path tour;
    double tourTimeS = 0;           // --at
    std::filesystem::path results;  // a run's output folder
    std::string simTime;            // seconds or a duration after the start; default: the tour's, else max depth
    bool split = false, noSplit = false, difference = false;
    std::string lang;               // en, de; default: $CITYTWIN_LANG, $LANG
    bool shadows = true;
    bool legend = true;
    bool validation = false;
    std::string gpu;
    std::filesystem::path cacheDir;
};
int render(const RenderCommandOptions& options);

struct RenderTourOptions {
    std::filesystem::path scenario, tour;
    std::filesystem::path out = "tour.mp4";
    std::string size = "1920x1080";
    int fps = 30;
    std::filesystem::path results; // default: the scenario's output folder, if it has results
    bool split = false, noSplit = false, difference = false;
    std::string lang;
    bool shadows = true;
    bool validation = false;
    bool quiet = false;
    std::string gpu;
    std::filesystem::path cacheDir;
};
int renderTour(const RenderTourOptions& options);

struct ViewCommandOptions {
    std::filesystem::path scenario;
    std::string size = "1600x900";
    std::string camera;
    std::filesystem::path grid;
    std::filesystem::path results; // a run's output folder: replay its flood depth snapshots
    std::filesystem::path tour;    // presentation tour (default: <scenario>.tour.yaml beside it)
    bool present = false;          // start in presentation mode (full screen)
    std::string colorBy;           // buildings by an attribute or a result field of the run
    std::string lang;
    bool live = false;             // run the scenario's modules while viewing
    bool variant = false;          // live: the variant (with the edits) instead of the baseline
    bool feeds = false;            // run the scenario's live feeds while viewing
    bool validation = false;
    bool noVsync = false;
    std::string gpu;
    int exitAfterFrames = 0;          // > 0: quit after that many frames (tests, benchmarks)
    std::filesystem::path screenshot; // with exitAfterFrames: save the last frame here
    std::filesystem::path cacheDir;
};
int view(const ViewCommandOptions& options);

struct SweepCommandOptions {
    std::filesystem::path sweep;
    std::filesystem::path outDir; // default: out/<sweep name> beside the sweep file
    int threads = 0;              // per run (per MPI rank); 0: all cores
    bool reportImages = false;
    std::filesystem::path cacheDir;
};
int sweep(const SweepCommandOptions& options);

struct FeedsCommandOptions {
    std::filesystem::path scenario;
    std::string duration;          // --for: stop after this long; empty: when every feed has stopped
    std::string every = "2s";      // status table interval
    std::filesystem::path outDir;  // default: the scenario's outputs (DIR/feeds/)
    bool quiet = false;
};
int feeds(const FeedsCommandOptions& options);

struct TrafficCommandOptions {
    std::vector<std::filesystem::path> inputs; // a .sumocfg, or a .net.xml and route/TAZ files
    std::filesystem::path outDir;
    int threads = 1;
    uint64_t seed = 1;
    double stepS = 0;   // 0: the config's, else 1 s
    double endS = -1;   // < 0: the config's end, else until every vehicle has arrived
    std::string model;  // krauss, idm; empty: as the vehicle types say
    std::string routing; // adaptive, static; empty: as the config says (SUMO's default: adaptive)
    bool quiet = false;
};
int traffic(const TrafficCommandOptions& options);

// Default import cache: $CITYTWIN_CACHE_DIR, else $XDG_CACHE_HOME/citytwin, else ~/.cache/citytwin.
std::filesystem::path defaultCacheDir();

} // namespace ct::app
