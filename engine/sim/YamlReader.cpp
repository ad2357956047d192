#include "sim/YamlReader.h"

#include "core/Error.h"
#include "core/SimClock.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ct {

namespace fs = std::filesystem;

std::string yamlWhere(const std::string& file, const YAML::Node& node) {
    if (!node.IsDefined() || node.Mark().is_null()) return file;
    return fmt::format("{}:{}", file, node.Mark().line + 1);
}

namespace {
nlohmann::json toJson(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Map: {
        nlohmann::json j = nlohmann::json::object();
        for (auto it = n.begin(); it != n.end(); ++it) j[it->first.Scalar()] = toJson(it->second);
        return j;
    }
    case YAML::NodeType::Sequence: {
        nlohmann::json j = nlohmann::json::array();
        for (auto item : n) j.push_back(toJson(item));
        return j;
    }
    case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() == "!") return s; // quoted in the YAML: a string whatever it looks like
        if (s == "true" || s == "false") return s == "true";
        if (s == "null" || s == "~") return nullptr;
        char* end = nullptr;
        long long i = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && *end == 0) return i;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && *end == 0) return d;
        return s;
    }
    default:
        return nullptr;
    }
}
} // namespace

YAML::Node parseYaml(const std::string& text, const std::string& display) {
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        throw InputError("YAML syntax error: " + e.msg, fmt::format("{}:{}", display, e.mark.line + 1),
                         "check indentation, colons and quotes");
    }
}

std::string yamlToJsonText(const YAML::Node& node) { return toJson(node).dump(); }

void YamlReader::fail(const YAML::Node& node, const std::string& what, const std::string& hint) const {
    bool positioned = node.IsDefined() && !node.Mark().is_null();
    throw InputError(what, positioned || fallbackWhere.empty() ? yamlWhere(display, node) : fallbackWhere, hint);
}

void YamlReader::expectMap(const YAML::Node& node, const std::string& key) const {
    if (!node.IsMap()) fail(node, "'" + key + "' must be a mapping (key: value lines)");
}

void YamlReader::checkKeys(const YAML::Node& map, const std::string& section, const std::set<std::string>& allowed) const {
    expectMap(map, section);
    for (auto it = map.begin(); it != map.end(); ++it) {
        std::string key = it->first.as<std::string>();
        if (allowed.count(key)) continue;
        std::string list;
        for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(it->first, fmt::format("unknown key '{}' in {}", key, section), "allowed: " + list);
    }
}

std::string YamlReader::str(const YAML::Node& n, const std::string& key) const {
    if (!n || !n.IsScalar()) fail(n, "'" + key + "' must be a text value");
    return n.Scalar();
}

double YamlReader::number(const YAML::Node& n, const std::string& key) const {
    if (!n || !n.IsScalar()) fail(n, "'" + key + "' must be a number");
    double v = 0;
    try {
        v = n.as<double>();
    } catch (const YAML::Exception&) {
        fail(n, fmt::format("'{}' must be a number, not '{}'", key, n.Scalar()));
    }
    if (!std::isfinite(v)) fail(n, "'" + key + "' is not a finite number");
    return v;
}

double YamlReader::duration(const YAML::Node& n, const std::string& key) const {
    if (!n || !n.IsScalar()) fail(n, "'" + key + "' must be a duration");
    auto d = parseDurationSeconds(n.Scalar());
    if (!d) fail(n, "'" + key + "' is not a duration: '" + n.Scalar() + "'", "e.g. 300, 5min, 1h");
    return *d;
}

Vec2 YamlReader::point(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence() || n.size() != 2) fail(n, "'" + key + "' must be [x, y] in the city's CRS");
    return {number(n[0], key), number(n[1], key)};
}

std::vector<Vec2> YamlReader::points(const YAML::Node& n, const std::string& key, size_t minCount) const {
    if (!n.IsSequence() || n.size() < minCount)
        fail(n, fmt::format("'{}' must be a list of at least {} [x, y] points", key, minCount));
    std::vector<Vec2> out;
    for (auto p : n) out.push_back(point(p, key));
    return out;
}

fs::path YamlReader::path(const YAML::Node& n, const std::string& key, bool mustExist) const {
    fs::path p = str(n, key);
    if (p.is_relative()) p = baseDir / p;
    p = p.lexically_normal();
    if (mustExist && !fs::exists(p))
        fail(n, fmt::format("{}: file not found: {}", key, p.string()), "paths are relative to the YAML file's folder");
    return p;
}

} // namespace ct
