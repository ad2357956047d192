#pragma once
// Reading YAML input with errors that name the file and line, say what is wrong and what is
// allowed: scenarios, sweeps, module blocks and tours all read through this.
#include "core/Geometry.h"

#include <filesystem>
#include <set>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace ct {

// "file:line" of a node (just "file" when the node has no position).
std::string yamlWhere(const std::string& file, const YAML::Node& node);

// Parses YAML text; a syntax error is an InputError naming display:line.
YAML::Node parseYaml(const std::string& text, const std::string& display);

// A YAML node as JSON text (for plugins, which take JSON): maps and lists as they are,
// scalars as true/false, whole numbers, numbers, null, else strings.
std::string yamlToJsonText(const YAML::Node& node);

class YamlReader {
public:
    // `display`: the file name shown in messages; `baseDir`: where relative paths start;
    // `fallbackWhere`: named instead of the file for a node without position (a missing key).
    YamlReader(std::string display, std::filesystem::path baseDir = {}, std::string fallbackWhere = {})
        : display(std::move(display)), baseDir(std::move(baseDir)), fallbackWhere(std::move(fallbackWhere)) {}

    [[noreturn]] void fail(const YAML::Node& node, const std::string& what, const std::string& hint = {}) const;
    void expectMap(const YAML::Node& node, const std::string& key) const;
    // Unknown keys are typos until proven otherwise.
    void checkKeys(const YAML::Node& map, const std::string& section, const std::set<std::string>& allowed) const;
    std::string str(const YAML::Node& n, const std::string& key) const;
    double number(const YAML::Node& n, const std::string& key) const; // finite
    double duration(const YAML::Node& n, const std::string& key) const; // "300", "5min", "1h" → seconds
    Vec2 point(const YAML::Node& n, const std::string& key) const;    // [x, y]
    std::vector<Vec2> points(const YAML::Node& n, const std::string& key, size_t minCount) const;
    // Relative to baseDir, normalised; must exist unless told otherwise.
    std::filesystem::path path(const YAML::Node& n, const std::string& key, bool mustExist = true) const;

    const std::string& file() const { return display; }
    const std::filesystem::path& directory() const { return baseDir; }

private:
    std::string display;
    std::filesystem::path baseDir;
    std::string fallbackWhere;
};

} // namespace ct
