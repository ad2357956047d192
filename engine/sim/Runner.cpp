#include "sim/Runner.h"

#include "GitVersion.h"
#include "core/Error.h"
#include "core/Hash.h"
#include "core/Progress.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <spdlog/spdlog.h>

namespace ct {

namespace fs = std::filesystem;
using nlohmann::json;

ModuleRegistry& ModuleRegistry::instance() {
    static ModuleRegistry registry;
    return registry;
}

void ModuleRegistry::add(const std::string& name, Factory factory) { factories[name] = std::move(factory); }

std::unique_ptr<SimulationModule> ModuleRegistry::create(const std::string& name) const {
    auto it = factories.find(name);
    return it == factories.end() ? nullptr : it->second();
}

void ModuleRegistry::addComparison(const std::string& name, Comparison comparison) {
    comparisons[name] = std::move(comparison);
}

const ModuleRegistry::Comparison* ModuleRegistry::comparison(const std::string& name) const {
    auto it = comparisons.find(name);
    return it == comparisons.end() ? nullptr : &it->second;
}

std::vector<std::string> ModuleRegistry::names() const {
    std::vector<std::string> out;
    for (auto& [n, _] : factories) out.push_back(n);
    return out;
}

Kpis cityKpis(const CityModel& city) {
    double footprint = 0, floorArea = 0;
    for (size_t i = 0; i < city.buildings.size(); ++i) {
        double a = city.buildings.footprintArea(i);
        footprint += a;
        // Storeys: the given count, else height / 3 m (at least one).
        double storeys = city.buildings.levels[i] ? city.buildings.levels[i]
                                                  : std::max(1.0, std::floor(city.buildings.heightM[i] / 3.0));
        floorArea += a * storeys;
    }
    size_t skipped = 0;
    for (auto& l : city.report.layers) skipped += l.skipped();
    double waterArea = 0;
    for (size_t i = 0; i < city.water.areas.size(); ++i) waterArea += city.water.areas.area(i);
    Box2 b = city.bounds();
    return {
        {"buildings", static_cast<double>(city.buildings.size()), ""},
        {"building_footprint_area", footprint, "m2"},
        {"building_floor_area_estimate", floorArea, "m2"},
        {"road_nodes", static_cast<double>(city.roads.nodeCount()), ""},
        {"road_edges", static_cast<double>(city.roads.edgeCount()), ""},
        {"road_length", city.roads.totalLengthKm(), "km"},
        {"water_area", waterArea, "m2"},
        {"landuse_polygons", static_cast<double>(city.landuse.size()), ""},
        {"terrain_cells", static_cast<double>(city.terrain.width) * city.terrain.height, ""},
        {"extent_area", b.size().x() * b.size().y() / 1e6, "km2"},
        {"skipped_features", static_cast<double>(skipped), ""},
    };
}

static json toJson(const Kpis& kpis) {
    json j = json::object();
    for (const auto& k : kpis) j[k.name] = {{"value", k.value}, {"unit", k.unit}};
    return j;
}

static std::string utcNow() {
    auto now = std::chrono::system_clock::now();
    Instant i{std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(), 0};
    return i.iso();
}

namespace {

// Ctrl-C once: the run stops after the current chunk and still writes its results.
// Ctrl-C twice: the default action (the process ends).
std::atomic<bool> g_interrupt{false};
extern "C" void onInterrupt(int) {
    if (g_interrupt.exchange(true)) std::_Exit(130);
}
bool interruptRequested() { return g_interrupt.load(); }
double interruptedAtS = -1;

struct Variant {
    std::string label;
    bool withEdits;
};

std::map<std::string, Kpis> runVariant(const Scenario& scenario, const CityModel& city, const Variant& v,
                                       int threads, const fs::path& dir, bool progress) {
    SimulationSession session(scenario, city, v.withEdits, threads);
    if (!session.empty()) {
        Progress bar(v.label, progress);
        for (int k = 1; k <= runChunks; ++k) {
            double t = scenario.durationS * k / runChunks;
            session.advanceTo(t);
            std::string detail = fmt::format("t={:.0f} s", t);
            if (auto s = session.status(); !s.empty()) detail += " " + s;
            bar.update(static_cast<double>(k) / runChunks, detail);
            if (interruptRequested()) {
                interruptedAtS = t;
                spdlog::warn("interrupted at t = {:.0f} s: writing the results so far", t);
                break;
            }
        }
    }
    return session.writeOutputs(dir);
}

} // namespace

SimulationSession::SimulationSession(const Scenario& scenario, const CityModel& city, bool withEdits, int threads)
    : scenario_(scenario) {
    auto& registry = ModuleRegistry::instance();
    for (const auto& block : scenario.modules) {
        auto m = registry.create(block.name);
        if (!m) {
            auto names = registry.names();
            throw InputError("unknown module '" + block.name + "'", block.where,
                             names.empty() ? "no simulation modules are built into this version"
                                           : fmt::format("available: {}", fmt::join(names, ", ")));
        }
        m->configure(block.spec, block.where, city);
        modules_.emplace_back(block.name, std::move(m));
    }
    // Every edit must be claimed by a module of this scenario: an unclaimed edit is a mistake.
    for (const auto& edit : scenario.edits) {
        bool handled = false;
        for (auto& [name, m] : modules_) {
            if (!m->handlesEdit(edit.type)) continue;
            handled = true;
            if (withEdits) m->applyEdit(edit);
        }
        if (!handled)
            throw InputError("edit type '" + edit.type + "' is not handled by any module of this scenario",
                             edit.where, "check the spelling, or add the module that handles it under modules:");
    }
    RunContext context{city, scenario, scenario.seed, threads, withEdits ? "variant" : "baseline"};
    for (auto& [_, m] : modules_) m->start(context);
}

SimulationSession::~SimulationSession() = default;

void SimulationSession::advanceTo(double timeS) {
    timeS = std::min(timeS, scenario_.durationS);
    if (timeS <= timeS_) return;
    for (auto& [_, m] : modules_) m->advance(timeS);
    timeS_ = timeS;
}

void SimulationSession::applyEdit(const Edit& edit) {
    bool handled = false;
    for (auto& [_, m] : modules_)
        if (m->handlesEdit(edit.type)) {
            m->applyEdit(edit);
            handled = true;
        }
    if (!handled)
        throw InputError("edit type '" + edit.type + "' is not handled by any module of this scenario", edit.where,
                         "check the spelling, or add the module that handles it under modules:");
}

std::vector<std::shared_ptr<const Snapshot>> SimulationSession::snapshots() const {
    std::vector<std::shared_ptr<const Snapshot>> out;
    for (auto& [_, m] : modules_) out.push_back(m->snapshot());
    return out;
}

std::string SimulationSession::status() const {
    std::string out;
    for (auto& [_, m] : modules_)
        if (auto s = m->status(); !s.empty()) out += (out.empty() ? "" : " ") + s;
    return out;
}

std::map<std::string, Kpis> SimulationSession::writeOutputs(const fs::path& dir) {
    std::map<std::string, Kpis> out;
    for (auto& [name, m] : modules_) {
        fs::path moduleDir = dir / name;
        fs::create_directories(moduleDir);
        m->writeOutputs(moduleDir);
        out[name] = m->kpis();
    }
    return out;
}

RunResult runScenario(const Scenario& scenario, const RunOptions& options) {
    auto t0 = std::chrono::steady_clock::now();
    RunResult result;
    result.outDir = options.outDir.empty() ? scenario.outputDir : options.outDir;
    std::error_code ec;
    fs::create_directories(result.outDir, ec);
    if (ec) throw InputError("cannot create output folder: " + ec.message(), result.outDir.string());

    g_interrupt = false;
    interruptedAtS = -1;
    auto previousHandler = std::signal(SIGINT, onInterrupt);
    struct Restore {
        decltype(previousHandler) h;
        ~Restore() { std::signal(SIGINT, h); }
    } restore{previousHandler};
    int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));

    CityModel city = importCity(scenario.city, ImportOptions{options.cacheDir, options.progress});
    result.city = cityKpis(city);

    result.hasVariant = !scenario.edits.empty();
    if (result.hasVariant) {
        result.baseline = runVariant(scenario, city, {"baseline", false}, threads, result.outDir / "baseline", options.progress);
        result.variant = runVariant(scenario, city, {"variant", true}, threads, result.outDir / "variant", options.progress);
        for (const auto& block : scenario.modules)
            if (auto* compare = ModuleRegistry::instance().comparison(block.name)) {
                fs::path outDir = result.outDir / (block.name + "_comparison");
                fs::create_directories(outDir);
                (*compare)(result.outDir / "baseline" / block.name, result.outDir / "variant" / block.name, outDir);
            }
    } else {
        result.baseline = runVariant(scenario, city, {"baseline", false}, threads, result.outDir, options.progress);
    }
    result.wallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    json k;
    k["scenario"] = scenario.name;
    k["city"] = toJson(result.city);
    json base = json::object();
    for (auto& [name, kp] : result.baseline) base[name] = toJson(kp);
    k["baseline"] = base;
    if (result.hasVariant) {
        json var = json::object(), diff = json::object();
        for (auto& [name, kp] : result.variant) {
            var[name] = toJson(kp);
            const Kpis& b = result.baseline[name];
            for (size_t i = 0; i < kp.size() && i < b.size(); ++i) {
                double d = kp[i].value - b[i].value;
                diff[name][kp[i].name] = {{"value", d},
                                          {"unit", kp[i].unit},
                                          {"relative", b[i].value != 0 ? d / std::abs(b[i].value) : 0.0}};
            }
        }
        k["variant"] = var;
        k["difference"] = diff;
    }
    result.kpisJson = k;
    std::ofstream(result.outDir / "kpis.json") << k.dump(2) << "\n";

    json manifest;
    manifest["scenario"] = scenario.name;
    manifest["version"] = CITYTWIN_VERSION;
    manifest["git"] = CITYTWIN_GIT;
    manifest["seed"] = scenario.seed;
    manifest["threads"] = threads;
    manifest["finished_utc"] = utcNow();
    manifest["wall_s"] = result.wallS;
    manifest["crs"] = city.frame.crs.name();
    manifest["local_origin"] = {city.frame.origin.x(), city.frame.origin.y()};
    manifest["simulated_time"] = {{"start", scenario.start.iso()}, {"duration_s", scenario.durationS}};
    json inputs = json::array();
    if (!scenario.file.empty())
        inputs.push_back({{"path", fs::absolute(scenario.file).lexically_normal().string()}, {"role", "scenario"}, {"sha256", sha256File(scenario.file)}});
    for (const auto& f : scenario.city.files()) {
        if (fs::is_directory(f)) continue;
        inputs.push_back({{"path", fs::absolute(f).lexically_normal().string()}, {"role", "city"}, {"bytes", fs::file_size(f)}, {"sha256", sha256File(f)}});
    }
    manifest["inputs"] = inputs;
    manifest["modules"] = json::array();
    for (auto& m : scenario.modules) manifest["modules"].push_back(m.name);
    manifest["edits"] = scenario.edits.size();
    if (interruptedAtS >= 0) manifest["interrupted_at_s"] = interruptedAtS;
    std::ofstream(result.outDir / "manifest.json") << manifest.dump(2) << "\n";
    return result;
}

} // namespace ct
