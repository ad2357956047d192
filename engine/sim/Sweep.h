#pragma once
// A parameter sweep: a base scenario plus parameters to vary, expanded into one scenario per
// run (a cartesian product of value lists and ranges, or a seeded Latin hypercube). Read from
// YAML with every error naming the file and line; docs/scale-out.md describes the format.
#include "sim/Scenario.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace ct {

struct SweepParameter {
    std::string path; // dot path into the base scenario, e.g. modules.flood.losses.drainage_mm_h
    std::string name; // column name (default: the path's last part)
    std::vector<std::string> values; // list/range form: the values, as YAML scalar text
    double min = 0, max = 0;         // Latin hypercube form
    std::string where;               // "sweep.yaml:12" for messages
};

struct SweepRun {
    size_t index = 0;
    std::string id;                  // "run-0007": zero-padded index
    std::vector<std::string> values; // one per parameter, as YAML scalar text
};

struct LatinHypercube {
    size_t samples = 0;
    uint64_t seed = 1;
};

class Sweep {
  public:
    // Reads and validates the sweep and its base scenario; throws InputError with file:line
    // (a path that does not exist in the base scenario names the path).
    static Sweep fromYaml(const std::filesystem::path& file);
    static Sweep fromYamlText(const std::string& text, const std::filesystem::path& baseDir,
                              const std::string& displayName = "<sweep>");

    std::filesystem::path file;     // the sweep YAML ("" when from text)
    std::string name;               // default: the sweep file's stem (empty from text)
    std::filesystem::path basePath; // the base scenario
    std::vector<SweepParameter> parameters;
    bool latinHypercube = false;
    LatinHypercube lhs;
    std::vector<SweepRun> runs; // in run order

    // The base scenario's YAML with the run's values set in, as text.
    std::string scenarioText(const SweepRun& run) const;
    // The run's scenario, parsed like `citytwin run` would (paths relative to the base's folder);
    // its errors name `displayName` (default "base.yaml [run-0003]") and lines of scenarioText.
    Scenario scenario(const SweepRun& run, const std::string& displayName = {}) const;
    // "drainage_mm_h=40, depth_mm=30" for progress lines.
    std::string describe(const SweepRun& run) const;

  private:
    YAML::Node base_;
    std::string baseText_;
};

// The samples of a Latin hypercube in [0, 1)^dims, samples × dims, row-major: for each dimension
// in turn, a random permutation of the N strata (Fisher–Yates from the last position down) and
// then one uniform offset per sample, all from one mt19937_64 seeded with `seed`; sample i of
// dimension d is (perm_d[i] + u_d[i]) / N. Exactly one sample per stratum in every dimension.
std::vector<double> latinHypercubeUnit(size_t samples, size_t dims, uint64_t seed);

// Sets `value` (YAML scalar text) at a dot path of `root`; list indices are numbers. Throws
// InputError naming the path when it does not exist. `where` is used in the message.
void setYamlPath(YAML::Node root, const std::string& path, const std::string& value,
                 const std::string& where);

} // namespace ct
