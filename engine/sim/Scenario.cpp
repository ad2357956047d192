#include "sim/Scenario.h"

#include "core/Error.h"
#include "sim/YamlReader.h"

#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>

namespace ct {

namespace fs = std::filesystem;

namespace {

class Parser : public YamlReader {
public:
    using YamlReader::YamlReader;

    Scenario parse(const YAML::Node& root);

private:
    LayerSource layerSource(const YAML::Node& n, const std::string& key) const {
        if (n.IsScalar()) return {path(n, key), "", ""};
        expectMap(n, key);
        checkKeys(n, key, {"path", "layer", "where"});
        if (!n["path"]) fail(n, "'" + key + "' needs a 'path'");
        LayerSource s{path(n["path"], key + ".path"), "", ""};
        if (n["layer"]) s.layer = str(n["layer"], key + ".layer");
        if (n["where"]) s.where = str(n["where"], key + ".where");
        return s;
    }
    CityConfig city(const YAML::Node& n) const;
};

CityConfig Parser::city(const YAML::Node& n) const {
    expectMap(n, "city");
    checkKeys(n, "city", {"osm", "buildings", "roads", "terrain", "water", "landuse", "crs", "assume_crs",
                          "attributes", "storey_height", "default_height"});
    CityConfig c;
    if (n["osm"]) c.osm = path(n["osm"], "city.osm");
    // Each kind takes one source or a list of them (tiles).
    auto sources = [&](const char* key, std::vector<LayerSource>& out) {
        auto node = n[key];
        if (!node) return;
        std::string name = std::string("city.") + key;
        if (node.IsSequence())
            for (auto item : node) out.push_back(layerSource(item, name));
        else out.push_back(layerSource(node, name));
    };
    sources("buildings", c.buildings);
    sources("roads", c.roads);
    sources("water", c.water);
    sources("landuse", c.landuse);
    if (auto t = n["terrain"]) {
        if (t.IsSequence())
            for (auto item : t) c.terrain.push_back(path(item, "city.terrain"));
        else c.terrain.push_back(path(t, "city.terrain"));
    }
    if (n["crs"]) {
        c.crs = str(n["crs"], "city.crs");
        try {
            Crs::fromUserString(c.crs);
        } catch (const InputError& e) {
            fail(n["crs"], e.problem(), e.hint());
        }
    }
    if (n["assume_crs"]) c.assumeCrs = str(n["assume_crs"], "city.assume_crs");
    if (auto a = n["attributes"]) {
        expectMap(a, "city.attributes");
        std::set<std::string> roles;
        for (auto& [role, _] : attributeRoles()) roles.insert(role);
        checkKeys(a, "city.attributes", roles);
        for (auto it = a.begin(); it != a.end(); ++it)
            c.attributes[it->first.as<std::string>()] = str(it->second, "city.attributes." + it->first.as<std::string>());
    }
    if (n["storey_height"]) {
        c.storeyHeightM = number(n["storey_height"], "city.storey_height");
        if (c.storeyHeightM <= 0 || c.storeyHeightM > 10) fail(n["storey_height"], "storey_height must be in (0, 10] m");
    }
    if (n["default_height"]) {
        c.defaultHeightM = number(n["default_height"], "city.default_height");
        if (c.defaultHeightM <= 0 || c.defaultHeightM > 300) fail(n["default_height"], "default_height must be in (0, 300] m");
    }
    if (c.empty()) fail(n, "city has no data", "give osm, buildings, roads, terrain, water or landuse");
    return c;
}

Scenario Parser::parse(const YAML::Node& root) {
    if (!root.IsMap()) fail(root, "a scenario must be a YAML mapping", "see docs/scenarios.md");
    checkKeys(root, "the scenario", {"name", "description", "seed", "city", "time", "modules", "edits", "feeds", "outputs"});
    Scenario s;
    if (!root["name"]) fail(root, "scenario has no 'name'");
    s.name = str(root["name"], "name");
    if (root["description"]) s.description = str(root["description"], "description");
    if (root["seed"]) {
        double seed = number(root["seed"], "seed");
        if (seed < 0 || seed != std::floor(seed)) fail(root["seed"], "seed must be a whole number ≥ 0");
        s.seed = static_cast<uint64_t>(seed);
    }
    if (!root["city"]) fail(root, "scenario has no 'city'", "give at least city.osm or city.buildings");
    s.city = city(root["city"]);

    s.start = *parseIsoInstant("2026-07-01T12:00:00+02:00");
    if (auto t = root["time"]) {
        expectMap(t, "time");
        checkKeys(t, "time", {"start", "duration"});
        if (t["start"]) {
            auto start = parseIsoInstant(str(t["start"], "time.start"));
            if (!start)
                fail(t["start"], "time.start '" + t["start"].Scalar() + "' is not ISO 8601 with an offset",
                     "e.g. 2026-07-14T15:00:00+02:00");
            s.start = *start;
        }
        if (t["duration"]) {
            auto d = parseDurationSeconds(str(t["duration"], "time.duration"));
            if (!d || *d <= 0)
                fail(t["duration"], "time.duration '" + t["duration"].Scalar() + "' is not a positive duration",
                     "e.g. 3600, 90min, 6h, 2d or PT1H30M");
            s.durationS = *d;
        }
    }
    if (auto m = root["modules"]) {
        if (!m.IsNull()) {
            expectMap(m, "modules");
            for (auto it = m.begin(); it != m.end(); ++it)
                s.modules.push_back({it->first.as<std::string>(), it->second, yamlWhere(file(), it->first)});
        }
    }
    if (auto f = root["feeds"]) {
        if (!f.IsSequence()) fail(f, "'feeds' must be a list (lines starting with '- ')", "e.g. - {plugin: mqtt, config: {...}}");
        for (auto item : f) {
            checkKeys(item, "a feed", {"name", "plugin", "config"});
            if (!item["plugin"]) fail(item, "a feed needs 'plugin': a plugin name (mqtt, replay, ...) or the path of its library");
            FeedBlock feed{"", str(item["plugin"], "plugin"), item["config"] ? item["config"] : YAML::Node(YAML::NodeType::Map),
                           yamlWhere(file(), item)};
            if (feed.plugin.find('/') != std::string::npos) feed.plugin = path(item["plugin"], "plugin").string();
            feed.name = item["name"] ? str(item["name"], "name") : fs::path(feed.plugin).stem().string();
            for (const FeedBlock& other : s.feeds)
                if (other.name == feed.name)
                    fail(item, fmt::format("two feeds are named '{}'", feed.name), "give each feed its own 'name'");
            s.feeds.push_back(std::move(feed));
        }
    }
    if (auto e = root["edits"]) {
        if (!e.IsNull()) {
            if (!e.IsSequence()) fail(e, "'edits' must be a list (lines starting with '- ')");
            for (auto item : e) {
                if (!item.IsMap() || !item["type"])
                    fail(item, "each edit needs a 'type'", "e.g. - type: barrier");
                s.edits.push_back({str(item["type"], "edits.type"), item, yamlWhere(file(), item)});
            }
        }
    }
    s.outputDir = directory() / "out" / s.name;
    if (auto o = root["outputs"]) {
        expectMap(o, "outputs");
        checkKeys(o, "outputs", {"dir"});
        if (o["dir"]) s.outputDir = path(o["dir"], "outputs.dir", false);
    }
    return s;
}

} // namespace

Scenario Scenario::fromYamlText(const std::string& text, const fs::path& baseDir, const std::string& displayName) {
    return Parser(displayName, baseDir).parse(parseYaml(text, displayName));
}

Scenario Scenario::fromYaml(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw InputError("scenario file not found", path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    Scenario s = fromYamlText(ss.str(), path.parent_path().empty() ? fs::path(".") : path.parent_path(),
                              path.string());
    s.file = path;
    return s;
}

} // namespace ct
