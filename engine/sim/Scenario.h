#pragma once
// A scenario: the city to load, the simulated time, the modules to run, the what-if edits and
// where results go. Read from YAML with every error naming the file and line.
#include "city/Import.h"
#include "core/SimClock.h"
#include "sim/YamlReader.h"

#include <filesystem>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace ct {

// One typed what-if edit; its fields stay YAML so each module validates its own edits.
struct Edit {
    std::string type;
    YAML::Node spec;
    std::string where; // "file.yaml:12" for messages
};

struct ModuleBlock {
    std::string name;
    YAML::Node spec;
    std::string where;
};

// A live feed: a plugin (by name, or the path of its shared library) and its configuration,
// handed to the plugin as JSON (docs/plugins.md).
struct FeedBlock {
    std::string name;
    std::string plugin;
    YAML::Node config;
    std::string where;
};

struct Scenario {
    std::filesystem::path file; // the YAML file ("" when built in code)
    std::string name;
    std::string description;
    uint64_t seed = 1;
    CityConfig city;
    Instant start;
    double durationS = 3600;
    std::vector<ModuleBlock> modules;
    std::vector<Edit> edits;
    std::vector<FeedBlock> feeds;
    std::filesystem::path outputDir;

    // Reads and validates; throws InputError with file:line for unknown keys, wrong types,
    // missing files and bad values. Relative paths are resolved against the YAML's folder.
    static Scenario fromYaml(const std::filesystem::path& path);
    static Scenario fromYamlText(const std::string& text, const std::filesystem::path& baseDir,
                                 const std::string& displayName = "<scenario>");
};

} // namespace ct
