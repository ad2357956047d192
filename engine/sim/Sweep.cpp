#include "sim/Sweep.h"

#include "core/Error.h"

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace ct {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> splitPath(const std::string& path) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(path);
    while (std::getline(in, part, '.'))
        parts.push_back(part);
    return parts;
}

bool isIndex(const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Numbers made from a range or a sample: a short form for ranges (0.1 + 2·0.1 is "0.3", not
// 0.30000000000000004), the shortest exact form for samples (the CSV shows what was run).
std::string rangeNumber(double v) {
    return fmt::format("{:.12g}", v);
}
std::string exactNumber(double v) {
    return fmt::format("{}", v);
}

class SweepParser : public YamlReader {
  public:
    using YamlReader::YamlReader;

    void parse(const YAML::Node& root, Sweep& s) const;

  private:
    SweepParameter parameter(const YAML::Node& p, bool lhs) const;
};

SweepParameter SweepParser::parameter(const YAML::Node& p, bool lhs) const {
    if (!p.IsMap())
        fail(p, "each parameter must be a mapping",
             "e.g. - {path: modules.flood.losses.drainage_mm_h, values: [20, 40]}");
    checkKeys(p, "a parameter", {"path", "name", "values", "range", "min", "max"});
    SweepParameter out;
    out.where = yamlWhere(file(), p);
    if (!p["path"])
        fail(p, "parameter has no 'path'",
             "a dot path into the base scenario, e.g. modules.flood.losses.drainage_mm_h");
    out.path = str(p["path"], "path");
    for (const auto& part : splitPath(out.path))
        if (part.empty())
            fail(p["path"], "path '" + out.path + "' has an empty part",
                 "parts are separated by single dots");
    out.name = p["name"] ? str(p["name"], "name") : splitPath(out.path).back();
    if (out.name.empty() || out.name.find_first_of(",\"\n") != std::string::npos)
        fail(p["name"] ? p["name"] : p,
             "parameter name '" + out.name + "' is empty or holds a comma or quote");

    if (lhs) {
        if (p["values"] || p["range"])
            fail(p["values"] ? p["values"] : p["range"],
                 "with latin_hypercube, a parameter gives min and max, not values or range");
        if (!p["min"] || !p["max"])
            fail(p, "parameter '" + out.path + "' needs 'min' and 'max' for the Latin hypercube",
                 "e.g. {path: ..., min: 10, max: 60}");
        out.min = number(p["min"], "min");
        out.max = number(p["max"], "max");
        if (!(out.max > out.min)) fail(p["max"], "max must be greater than min");
        return out;
    }
    if (p["min"] || p["max"])
        fail(p["min"] ? p["min"] : p["max"], "min/max are for latin_hypercube sweeps",
             "give values: [...] or range: {from, to, step}");
    if (p["values"] && p["range"]) fail(p["range"], "give either 'values' or 'range', not both");
    if (auto v = p["values"]) {
        if (!v.IsSequence()) fail(v, "'values' must be a list", "e.g. values: [20, 40, 60]");
        if (v.size() == 0)
            fail(v, "'values' of parameter '" + out.path + "' is empty", "give at least one value");
        for (const auto& item : v) {
            if (!item.IsScalar()) fail(item, "each value must be a single value (number or text)");
            out.values.push_back(item.Scalar());
        }
    } else if (auto r = p["range"]) {
        if (!r.IsMap()) fail(r, "'range' must be a mapping", "e.g. range: {from: 10, to: 50, step: 10}");
        checkKeys(r, "range", {"from", "to", "step"});
        for (const char* key : {"from", "to", "step"})
            if (!r[key])
                fail(r, fmt::format("range has no '{}'", key), "range: {from: 10, to: 50, step: 10}");
        double from = number(r["from"], "from"), to = number(r["to"], "to"), step = number(r["step"], "step");
        if (step == 0 || (to - from) * step < 0)
            fail(r["step"], "step must be non-zero and lead from 'from' to 'to'");
        // Counted, not accumulated, so the last value is hit despite rounding.
        double count = std::floor((to - from) / step + 1e-9);
        if (count >= 1e6) fail(r, "range gives more than a million values");
        for (int k = 0; k <= static_cast<int>(count); ++k)
            out.values.push_back(rangeNumber(from + k * step));
    } else {
        fail(p, "parameter '" + out.path + "' has no 'values' or 'range'",
             "e.g. values: [20, 40] or range: {from: 10, to: 50, step: 10}");
    }
    return out;
}

void SweepParser::parse(const YAML::Node& root, Sweep& s) const {
    if (!root.IsMap()) fail(root, "a sweep must be a YAML mapping", "see docs/scale-out.md");
    checkKeys(root, "the sweep", {"name", "base", "parameters", "latin_hypercube"});
    if (root["name"]) s.name = str(root["name"], "name");
    if (!root["base"])
        fail(root, "sweep has no 'base'", "base: the scenario to vary, e.g. base: heavy-rain.yaml");
    fs::path base = str(root["base"], "base");
    if (base.is_relative()) base = directory() / base;
    s.basePath = base.lexically_normal();
    if (!fs::is_regular_file(s.basePath))
        fail(root["base"], "base scenario not found: " + s.basePath.string(),
             "the path is relative to the sweep file's folder");

    if (auto l = root["latin_hypercube"]) {
        if (!l.IsMap())
            fail(l, "'latin_hypercube' must be a mapping", "e.g. latin_hypercube: {samples: 50, seed: 7}");
        checkKeys(l, "latin_hypercube", {"samples", "seed"});
        if (!l["samples"]) fail(l, "latin_hypercube has no 'samples'");
        double n = number(l["samples"], "samples");
        if (n < 1 || n != std::floor(n) || n > 1e6)
            fail(l["samples"], "samples must be a whole number from 1 to 1000000");
        s.latinHypercube = true;
        s.lhs.samples = static_cast<size_t>(n);
        if (l["seed"]) {
            double seed = number(l["seed"], "seed");
            if (seed < 0 || seed != std::floor(seed)) fail(l["seed"], "seed must be a whole number ≥ 0");
            s.lhs.seed = static_cast<uint64_t>(seed);
        }
    }
    auto params = root["parameters"];
    if (!params) fail(root, "sweep has no 'parameters'", "a list of {path:, values:} or {path:, range:}");
    if (!params.IsSequence() || params.size() == 0) fail(params, "'parameters' must be a non-empty list");
    std::set<std::string> names;
    for (const auto& p : params) {
        s.parameters.push_back(parameter(p, s.latinHypercube));
        if (!names.insert(s.parameters.back().name).second)
            fail(p, "two parameters named '" + s.parameters.back().name + "'", "give one of them a 'name:'");
    }
}

} // namespace

std::vector<double> latinHypercubeUnit(size_t samples, size_t dims, uint64_t seed) {
    // Own uniform and shuffle: std:: distributions differ between standard libraries, the
    // engine's output does not.
    std::mt19937_64 rng(seed);
    auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    std::vector<double> out(samples * dims);
    std::vector<size_t> perm(samples);
    for (size_t d = 0; d < dims; ++d) {
        std::iota(perm.begin(), perm.end(), size_t{0});
        for (size_t i = samples; i-- > 1;) {
            size_t j = std::min(i, static_cast<size_t>(uniform() * static_cast<double>(i + 1)));
            std::swap(perm[i], perm[j]);
        }
        for (size_t i = 0; i < samples; ++i)
            out[i * dims + d] = (static_cast<double>(perm[i]) + uniform()) / static_cast<double>(samples);
    }
    return out;
}

void setYamlPath(YAML::Node root, const std::string& path, const std::string& value,
                 const std::string& where) {
    auto parts = splitPath(path);
    // Handles move with reset(): assigning one Node to another would overwrite its content.
    YAML::Node node;
    node.reset(root);
    std::string walked;
    for (const auto& part : parts) {
        walked += (walked.empty() ? "" : ".") + part;
        YAML::Node child;
        bool found = false;
        if (node.IsMap()) {
            // Looked up through a const handle: a missing key must not be created.
            const YAML::Node& view = node;
            if ((found = static_cast<bool>(view[part]))) child.reset(node[part]);
        } else if (node.IsSequence() && isIndex(part) && std::stoul(part) < node.size()) {
            found = true;
            child.reset(node[std::stoul(part)]);
        }
        if (!found) {
            std::string hint =
                node.IsSequence()
                    ? fmt::format("'{}' is a list of {}: use an index from 0",
                                  walked.substr(0, walked.size() - part.size() - 1), node.size())
                    : "the base scenario has no '" + walked + "'; only keys it has can be varied";
            throw InputError("unknown path '" + path + "' in the base scenario", where, hint);
        }
        node.reset(child);
    }
    if (node.IsMap() || node.IsSequence())
        throw InputError("path '" + path + "' is a " + (node.IsMap() ? "mapping" : "list") +
                             " in the base scenario",
                         where, "a sweep sets single values: give the path down to one value");
    node = value;
}

Sweep Sweep::fromYamlText(const std::string& text, const fs::path& baseDir, const std::string& displayName) {
    Sweep s;
    SweepParser(displayName, baseDir).parse(parseYaml(text, displayName), s);

    // The base must be a valid scenario on its own: its errors then name its own lines.
    Scenario::fromYaml(s.basePath);
    std::ifstream in(s.basePath);
    std::stringstream ss;
    ss << in.rdbuf();
    s.baseText_ = ss.str();
    s.base_ = YAML::Load(s.baseText_);
    for (const auto& p : s.parameters) {
        YAML::Node probe = YAML::Clone(s.base_);
        setYamlPath(probe, p.path, p.values.empty() ? exactNumber(p.min) : p.values.front(), p.where);
    }

    // Runs: the cartesian product with the last parameter varying fastest, or the samples.
    size_t count = 1;
    if (s.latinHypercube)
        count = s.lhs.samples;
    else
        for (const auto& p : s.parameters) {
            if (count * p.values.size() > 10'000'000)
                throw InputError("the sweep has more than 10 million runs", displayName,
                                 "vary fewer parameters or values");
            count *= p.values.size();
        }
    int width = std::max<int>(4, static_cast<int>(fmt::format("{}", count - 1).size()));
    std::vector<double> unit;
    if (s.latinHypercube) unit = latinHypercubeUnit(count, s.parameters.size(), s.lhs.seed);
    for (size_t i = 0; i < count; ++i) {
        SweepRun run;
        run.index = i;
        run.id = fmt::format("run-{:0{}}", i, width);
        size_t rest = i;
        std::vector<std::string> values(s.parameters.size());
        for (size_t k = s.parameters.size(); k-- > 0;) {
            const auto& p = s.parameters[k];
            if (s.latinHypercube) {
                values[k] = exactNumber(p.min + unit[i * s.parameters.size() + k] * (p.max - p.min));
            } else {
                values[k] = p.values[rest % p.values.size()];
                rest /= p.values.size();
            }
        }
        run.values = std::move(values);
        s.runs.push_back(std::move(run));
    }
    return s;
}

Sweep Sweep::fromYaml(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw InputError("sweep file not found", path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    Sweep s = fromYamlText(ss.str(), path.parent_path().empty() ? fs::path(".") : path.parent_path(),
                           path.string());
    s.file = path;
    if (s.name.empty()) s.name = path.stem().string();
    return s;
}

std::string Sweep::scenarioText(const SweepRun& run) const {
    YAML::Node copy = YAML::Clone(base_);
    for (size_t k = 0; k < parameters.size(); ++k)
        setYamlPath(copy, parameters[k].path, run.values[k], parameters[k].where);
    YAML::Emitter out;
    out << copy;
    return std::string(out.c_str()) + "\n";
}

Scenario Sweep::scenario(const SweepRun& run, const std::string& displayName) const {
    fs::path dir = basePath.parent_path().empty() ? fs::path(".") : basePath.parent_path();
    return Scenario::fromYamlText(scenarioText(run), dir,
                                  displayName.empty() ? fmt::format("{} [{}]", basePath.string(), run.id)
                                                      : displayName);
}

std::string Sweep::describe(const SweepRun& run) const {
    std::string out;
    for (size_t k = 0; k < parameters.size(); ++k)
        out += fmt::format("{}{}={}", k ? ", " : "", parameters[k].name, run.values[k]);
    return out;
}

} // namespace ct
