// The scenario file and the runner: a module registered here (a constant-rate accumulator with
// an analytic total) checks configuration, edit routing, baseline/variant with the same seed,
// kpis.json differences and the manifest's hashes (against sha256sum).
#include "TestSupport.h"
#include "core/Error.h"
#include "sim/Runner.h"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class RateModule : public SimulationModule {
public:
    void configure(const YAML::Node& block, const std::string& where, const CityModel& city) override {
        if (!block["rate"]) throw InputError("rate missing", where);
        rate = block["rate"].as<double>();
        buildings = city.buildings.size();
    }
    bool handlesEdit(const std::string& type) const override { return type == "scale_rate"; }
    void applyEdit(const Edit& e) override { rate *= e.spec["factor"].as<double>(); }
    void start(const RunContext& c) override {
        std::mt19937_64 rng(c.seed);
        firstDraw = static_cast<double>(rng() % 1000000);
    }
    void advance(double t) override {
        total += rate * (t - now);
        now = t;
    }
    std::shared_ptr<const Snapshot> snapshot() const override {
        auto s = std::make_shared<Snapshot>();
        s->simTimeS = now;
        return s;
    }
    void writeOutputs(const fs::path& dir) override { std::ofstream(dir / "rate.txt") << total << "\n"; }
    Kpis kpis() const override {
        return {{"total", total, "units"}, {"first_draw", firstDraw, ""}, {"buildings_seen", double(buildings), ""}};
    }

private:
    double rate = 0, total = 0, now = 0, firstDraw = 0;
    size_t buildings = 0;
};

const std::string square = "POLYGON((482000 5730000,482010 5730000,482010 5730010,482000 5730010,482000 5730000))";

class ScenarioRun : public ::testing::Test {
protected:
    void SetUp() override {
        ModuleRegistry::instance().add("rate", [] { return std::make_unique<RateModule>(); });
        writeLayer(dir / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}},
                   {{square, {{"id", "1"}, {"height", "10"}}}});
    }
    TempDir dir;
};

TEST_F(ScenarioRun, ParsesEveryDocumentedKey) {
    writeText(dir / "s.yaml", R"(name: full
description: every key once
seed: 42
city:
  buildings: {path: b.gpkg, layer: buildings, where: "height > 0"}
  crs: EPSG:25832
  attributes: {height: height}
  storey_height: 3.2
time:
  start: 2026-07-14T15:00:00+02:00
  duration: 2h
modules:
  rate: {rate: 1.5}
edits:
  - type: scale_rate
    factor: 2
outputs:
  dir: results
)");
    Scenario s = Scenario::fromYaml(dir / "s.yaml");
    EXPECT_EQ(s.name, "full");
    EXPECT_EQ(s.seed, 42u);
    EXPECT_EQ(s.city.buildings.at(0).layer, "buildings");
    EXPECT_EQ(s.city.buildings.at(0).where, "height > 0");
    EXPECT_EQ(s.city.attributes.at("height"), "height");
    EXPECT_DOUBLE_EQ(s.city.storeyHeightM, 3.2);
    EXPECT_EQ(s.start.iso(), "2026-07-14T15:00:00+02:00");
    EXPECT_DOUBLE_EQ(s.durationS, 7200);
    ASSERT_EQ(s.modules.size(), 1u);
    ASSERT_EQ(s.edits.size(), 1u);
    EXPECT_EQ(s.edits[0].type, "scale_rate");
    EXPECT_EQ(s.edits[0].where, (dir / "s.yaml").string() + ":15"); // the "- type:" line
    EXPECT_EQ(s.outputDir, (dir / "results").lexically_normal());
}

TEST_F(ScenarioRun, BaselineAndVariantWithTheSameSeed) {
    writeText(dir / "s.yaml", "name: t\nseed: 7\ncity:\n  buildings: b.gpkg\ntime:\n  duration: 1h\n"
                              "modules:\n  rate: {rate: 0.5}\nedits:\n  - {type: scale_rate, factor: 3}\n");
    Scenario s = Scenario::fromYaml(dir / "s.yaml");
    RunResult r = runScenario(s, RunOptions{dir / "out", 2, false, {}});
    ASSERT_TRUE(r.hasVariant);
    json k;
    std::ifstream(dir / "out" / "kpis.json") >> k;
    // Analytic totals: rate × duration.
    EXPECT_NEAR(k["baseline"]["rate"]["total"]["value"].get<double>(), 0.5 * 3600, 1e-9);
    EXPECT_NEAR(k["variant"]["rate"]["total"]["value"].get<double>(), 1.5 * 3600, 1e-9);
    EXPECT_NEAR(k["difference"]["rate"]["total"]["value"].get<double>(), 3600, 1e-9);
    EXPECT_NEAR(k["difference"]["rate"]["total"]["relative"].get<double>(), 2.0, 1e-12);
    // Same seed in both runs: the first random draw is the same, and it is std::mt19937_64(7)'s.
    std::mt19937_64 ref(7);
    double expected = static_cast<double>(ref() % 1000000);
    EXPECT_EQ(k["baseline"]["rate"]["first_draw"]["value"].get<double>(), expected);
    EXPECT_EQ(k["variant"]["rate"]["first_draw"]["value"].get<double>(), expected);
    EXPECT_EQ(k["city"]["buildings"]["value"], 1);
    EXPECT_TRUE(fs::exists(dir / "out" / "baseline" / "rate" / "rate.txt"));
    EXPECT_TRUE(fs::exists(dir / "out" / "variant" / "rate" / "rate.txt"));
}

std::string sha256sum(const fs::path& p) {
    std::string cmd = "sha256sum '" + p.string() + "'";
    FILE* f = popen(cmd.c_str(), "r");
    char buf[128] = {0};
    if (!f || !fgets(buf, sizeof buf, f)) return "";
    pclose(f);
    return std::string(buf).substr(0, 64);
}

TEST_F(ScenarioRun, ManifestRecordsInputsWithHashesSeedAndThreads) {
    writeText(dir / "s.yaml", "name: t\nseed: 3\ncity:\n  buildings: b.gpkg\n");
    CommandResult r = runCitytwin("run " + (dir / "s.yaml").string() + " --out " + (dir / "o").string() + " --threads 1");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.out.find("Results:"), std::string::npos);
    json m;
    std::ifstream(dir / "o" / "manifest.json") >> m;
    EXPECT_EQ(m["seed"], 3);
    EXPECT_EQ(m["threads"], 1);
    EXPECT_GT(m["wall_s"].get<double>(), 0);
    ASSERT_EQ(m["inputs"].size(), 2u);
    EXPECT_EQ(m["inputs"][0]["sha256"], sha256sum(dir / "s.yaml"));
    EXPECT_EQ(m["inputs"][1]["sha256"], sha256sum(dir / "b.gpkg"));
    EXPECT_EQ(m["inputs"][1]["bytes"], fs::file_size(dir / "b.gpkg"));
}

TEST_F(ScenarioRun, EditNoModuleHandlesIsAnError) {
    writeText(dir / "s.yaml", "name: t\ncity:\n  buildings: b.gpkg\nmodules:\n  rate: {rate: 1}\nedits:\n  - type: barrier\n");
    Scenario s = Scenario::fromYaml(dir / "s.yaml");
    try {
        runScenario(s, RunOptions{dir / "out", 1, false, {}});
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("s.yaml:7"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("'barrier'"), std::string::npos);
    }
}

} // namespace
