#pragma once
// The interface every simulation module (flood, mobility, energy) implements, and the
// registry the runner creates them from by the name used under `modules:` in a scenario.
#include "city/CityModel.h"
#include "sim/Scenario.h"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ct {

struct Kpi {
    std::string name;  // snake_case key, e.g. "flooded_area"
    double value = 0;
    std::string unit;  // "m2", "s", "kWh", "" for counts
};
using Kpis = std::vector<Kpi>;

// What a module sees of the run it is part of.
struct RunContext {
    const CityModel& city;
    const Scenario& scenario;
    uint64_t seed;
    int threads;
    std::string variant; // "baseline" or "variant"
};

// A scalar field on a north-up grid in the local frame (row 0 north), for drawing.
struct SnapshotGrid {
    std::string name, unit;          // "Water depth", "m"
    int width = 0, height = 0;
    double originX = 0, originY = 0; // local coordinates of the north-west corner
    double cellSize = 1;
    std::vector<float> values;       // NaN = nothing there
};

// Base of the plain structs a module publishes for the viewer (no graphics types in here).
struct Snapshot {
    virtual ~Snapshot() = default;
    double simTimeS = 0;
    // The fields worth drawing, most important first (flood: water depth).
    virtual std::vector<SnapshotGrid> grids() const { return {}; }
};

class SimulationModule {
public:
    virtual ~SimulationModule() = default;
    // Reads the module's YAML block; throws InputError naming `where` for bad values.
    virtual void configure(const YAML::Node& block, const std::string& where, const CityModel& city) = 0;
    virtual bool handlesEdit(const std::string& type) const = 0;
    // Before start(): part of the variant from the beginning. After start() (step-wise
    // control): takes effect from the current time on.
    virtual void applyEdit(const Edit& edit) = 0;
    virtual void start(const RunContext& context) = 0;
    // Simulates up to `timeS` seconds after the scenario start.
    virtual void advance(double timeS) = 0;
    virtual std::shared_ptr<const Snapshot> snapshot() const = 0;
    // Writes result files into `dir` (created by the runner).
    virtual void writeOutputs(const std::filesystem::path& dir) = 0;
    virtual Kpis kpis() const = 0;
    // One line for the progress bar (e.g. "dt=0.4 s wet=12000"); empty if nothing to say.
    virtual std::string status() const { return {}; }
};

class ModuleRegistry {
public:
    using Factory = std::function<std::unique_ptr<SimulationModule>()>;
    static ModuleRegistry& instance();
    void add(const std::string& name, Factory factory);
    bool has(const std::string& name) const { return factories.count(name) > 0; }
    std::unique_ptr<SimulationModule> create(const std::string& name) const;
    std::vector<std::string> names() const;

    // A module's baseline/variant comparison: runScenario calls it, after both have run, with
    // the two folders the module wrote into and outDir = <run>/<module>_comparison.
    using Comparison = std::function<void(const std::filesystem::path& baselineDir,
                                          const std::filesystem::path& variantDir,
                                          const std::filesystem::path& outDir)>;
    void addComparison(const std::string& name, Comparison comparison);
    const Comparison* comparison(const std::string& name) const;

private:
    std::map<std::string, Factory> factories;
    std::map<std::string, Comparison> comparisons;
};

} // namespace ct
