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

// Default import cache: $CITYTWIN_CACHE_DIR, else $XDG_CACHE_HOME/citytwin, else ~/.cache/citytwin.
std::filesystem::path defaultCacheDir();

} // namespace ct::app
