// Parameter sweeps (docs/scale-out.md): the table of a 2×3 sweep against six independent
// `citytwin run`s of the same scenarios, resuming after an interruption, the same table from
// `mpirun -np 2`, line-numbered errors, and the Latin hypercube's one-sample-per-stratum rule.
#include "TestSupport.h"
#include "core/Error.h"
#include "gis/Gdal.h"
#include "sim/Sweep.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const double E0 = 482000, N0 = 5730000;

// A 150 × 100 m valley (5 m cells, EPSG:25832): slopes down to a channel along y = 50 m and
// gently to the east, so rain runs off, pools and leaves through the open boundary.
void writeValleyDem(const fs::path& file) {
    const int nx = 30, ny = 20;
    const double cell = 5;
    std::vector<float> z(static_cast<size_t>(nx) * ny);
    for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i) {
            double x = (i + 0.5) * cell, y = (ny - j - 0.5) * cell;
            z[static_cast<size_t>(j) * nx + i] = static_cast<float>(100 + 0.04 * std::abs(y - 50) - 0.005 * x);
        }
    writeDem(file, nx, ny, cell, E0, N0, z);
}

// The base scenario with the two swept values in place: written by hand here, not by the sweep.
std::string scenarioYaml(const std::string& rain, const std::string& drainage) {
    return fmt::format(R"(name: valley
seed: 3
city: {{terrain: dem.tif}}
time: {{duration: 6min}}
modules:
  flood:
    cell_size: 5
    boundary: open
    rain: {{intensity_mm_h: {}, duration: 5min}}
    losses: {{drainage_mm_h: {}, infiltration_mm_h: 5}}
    gauges: [{{name: P, at: [482100, 5730050]}}]
edits:
  - {{type: drainage, polygon: [[482000, 5730000], [482060, 5730000], [482060, 5730100], [482000, 5730100]], mm_h: 60}}
)",
                       rain, drainage);
}

const std::vector<std::string> kRain = {"40", "80"}, kDrainage = {"0", "10", "20"};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> splitCsvLine(const std::string& line) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ','))
        out.push_back(cell);
    if (!line.empty() && line.back() == ',') out.push_back("");
    return out;
}

std::vector<std::vector<std::string>> readCsv(const fs::path& p) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(slurp(p));
    std::string line;
    while (std::getline(in, line))
        rows.push_back(splitCsvLine(line));
    return rows;
}

std::string quote(const fs::path& p) {
    return "'" + p.string() + "'";
}

class SweepRuns : public ::testing::Test {
  protected:
    void SetUp() override {
        writeValleyDem(dir / "dem.tif");
        writeText(dir / "base.yaml", scenarioYaml("30", "10"));
        writeText(dir / "sweep.yaml",
                  "base: base.yaml\n"
                  "parameters:\n"
                  "  - {path: modules.flood.rain.intensity_mm_h, name: rain, values: [40, 80]}\n"
                  "  - path: modules.flood.losses.drainage_mm_h\n"
                  "    name: drainage\n"
                  "    range: {from: 0, to: 20, step: 10}\n");
    }
    CommandResult sweep(const fs::path& out) {
        return runCitytwin(
            fmt::format("sweep {} --out {} --threads 1", quote(dir / "sweep.yaml"), quote(out)));
    }
    TempDir dir;
};

TEST_F(SweepRuns, TableEqualsSixIndependentRuns) {
    auto r = sweep(dir / "S");
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    auto rows = readCsv(dir / "S" / "sweep.csv");
    ASSERT_EQ(rows.size(), 7u) << slurp(dir / "S" / "sweep.csv");
    const auto& header = rows[0];
    ASSERT_GE(header.size(), 4u);
    EXPECT_EQ(header[0], "id");
    EXPECT_EQ(header[1], "rain");
    EXPECT_EQ(header[2], "drainage");
    std::set<std::string> parts;
    for (size_t c = 3; c < header.size(); ++c)
        parts.insert(header[c].substr(0, header[c].find('.')));
    EXPECT_EQ(parts, (std::set<std::string>{"baseline", "variant", "difference"}));

    size_t row = 1, compared = 0;
    for (const auto& rain : kRain)
        for (const auto& drainage : kDrainage) {
            // An independent run of the same scenario, written by hand.
            std::string name = fmt::format("single-{}-{}", rain, drainage);
            writeText(dir / (name + ".yaml"), scenarioYaml(rain, drainage));
            auto single = runCitytwin(fmt::format("run {} --out {} --threads 1 --quiet",
                                                  quote(dir / (name + ".yaml")), quote(dir / name)));
            ASSERT_EQ(single.exitCode, 0) << single.err;
            std::ifstream in(dir / name / "kpis.json");
            json k = json::parse(in);

            const auto& cells = rows[row];
            ASSERT_EQ(cells.size(), header.size()) << "row " << row;
            EXPECT_EQ(cells[0], fmt::format("run-{:04}", row - 1));
            EXPECT_EQ(cells[1], rain);
            EXPECT_EQ(cells[2], drainage);
            size_t kpisInRun = 0;
            for (const char* part : {"baseline", "variant", "difference"})
                for (auto& [module, kpis] : k[part].items())
                    kpisInRun += kpis.size();
            EXPECT_EQ(kpisInRun, header.size() - 3) << "every KPI of the run is a column";
            for (size_t c = 3; c < header.size(); ++c) {
                std::string part = header[c].substr(0, header[c].find('.'));
                std::string rest = header[c].substr(part.size() + 1);
                std::string module = rest.substr(0, rest.find('.')), kpi = rest.substr(module.size() + 1);
                ASSERT_TRUE(k[part].contains(module) && k[part][module].contains(kpi)) << header[c];
                const json& v = k[part][module][kpi]["value"];
                if (v.is_null()) {
                    EXPECT_EQ(cells[c], "") << header[c];
                    continue;
                }
                EXPECT_DOUBLE_EQ(std::stod(cells[c]), v.get<double>()) << header[c] << " in " << name;
                ++compared;
            }
            ++row;
        }
    EXPECT_GT(compared, 6u * 10);
    // The swept values change the outcome: more rain, more water.
    size_t col = std::find(header.begin(), header.end(), "baseline.flood.rain_volume") - header.begin();
    ASSERT_LT(col, header.size());
    EXPECT_NEAR(std::stod(rows[4][col]), 2 * std::stod(rows[1][col]), 1e-9 * std::stod(rows[4][col]));
    // Every run folder describes itself.
    for (const char* file : {"scenario.yaml", "kpis.json", "manifest.json", "report.html"})
        EXPECT_TRUE(fs::exists(dir / "S" / "runs" / "run-0004" / file)) << file;
}

TEST_F(SweepRuns, ResumeRedoesOnlyUnfinishedRuns) {
    auto first = sweep(dir / "S");
    ASSERT_EQ(first.exitCode, 0) << first.out << first.err;
    const std::string table = slurp(dir / "S" / "sweep.csv");
    std::map<std::string, fs::file_time_type> mtimes;
    for (int i = 0; i < 6; ++i) {
        std::string id = fmt::format("run-{:04}", i);
        mtimes[id] = fs::last_write_time(dir / "S" / "runs" / id / "manifest.json");
    }
    // An interruption: one run folder gone, one stopped by Ctrl-C (its manifest says so), no table.
    fs::remove_all(dir / "S" / "runs" / "run-0004");
    json stopped = json::parse(slurp(dir / "S" / "runs" / "run-0001" / "manifest.json"));
    stopped["interrupted_at_s"] = 120;
    writeText(dir / "S" / "runs" / "run-0001" / "manifest.json", stopped.dump(2));
    fs::remove(dir / "S" / "sweep.csv");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

    auto second = sweep(dir / "S");
    ASSERT_EQ(second.exitCode, 0) << second.out << second.err;
    for (auto& [id, before] : mtimes) {
        auto now = fs::last_write_time(dir / "S" / "runs" / id / "manifest.json");
        if (id == "run-0004" || id == "run-0001")
            EXPECT_NE(now, before) << id << " must be redone";
        else
            EXPECT_EQ(now, before) << id << " was finished and must not be redone";
    }
    EXPECT_EQ(json::parse(slurp(dir / "S" / "runs" / "run-0001" / "manifest.json")).count("interrupted_at_s"),
              0u);
    size_t skipped = 0;
    for (size_t at = 0; (at = second.out.find("finished before", at)) != std::string::npos; ++at)
        ++skipped;
    EXPECT_EQ(skipped, 4u) << second.out;
    EXPECT_EQ(slurp(dir / "S" / "sweep.csv"), table);
}

TEST_F(SweepRuns, MpiTwoRanksGiveTheSameTable) {
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
        const char* ci = std::getenv("CI");
        if (ci && std::string(ci) == "true") FAIL() << "mpirun is missing (install openmpi-bin)";
        GTEST_SKIP() << "mpirun not installed";
    }
    auto single = sweep(dir / "S");
    ASSERT_EQ(single.exitCode, 0) << single.out << single.err;
    // Root in containers needs --allow-run-as-root; 2 ranks on fewer cores need --oversubscribe.
    std::string cmd =
        fmt::format("mpirun --allow-run-as-root --oversubscribe -np 2 {} --no-cache sweep {} --out {} "
                    "--threads 1 >{} 2>{} </dev/null",
                    CITYTWIN_BINARY, quote(dir / "sweep.yaml"), quote(dir / "M"), quote(dir / "mpi.out"),
                    quote(dir / "mpi.err"));
    int status = std::system(cmd.c_str());
    std::string out = slurp(dir / "mpi.out");
    ASSERT_EQ(status, 0) << out << slurp(dir / "mpi.err");
    EXPECT_EQ(slurp(dir / "M" / "sweep.csv"), slurp(dir / "S" / "sweep.csv"));
    // Both ranks took runs from the shared counter, and each run was done once.
    size_t rank0 = 0, rank1 = 0;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("[rank 0] run ", 0) == 0) ++rank0;
        if (line.rfind("[rank 1] run ", 0) == 0) ++rank1;
    }
    EXPECT_EQ(rank0 + rank1, 6u) << out;
    EXPECT_GE(rank0, 1u) << out;
    EXPECT_GE(rank1, 1u) << out;
}

// Bad sweep files: exit code 2 and the file:line of the culprit.
TEST_F(SweepRuns, BadInputNamesFileAndLine) {
    struct Case {
        std::string yaml, expect;
        int line;
    };
    const std::vector<Case> cases = {
        {"base: base.yaml\nparameters:\n  - {path: modules.flood.losses.drainage, values: [1, 2]}\n",
         "unknown path 'modules.flood.losses.drainage'", 3},
        {"base: base.yaml\nparameters:\n  - path: modules.flood.rain.intensity_mm_h\n    values: []\n",
         "is empty", 4},
        {"base: base.yaml\nlatin_hypercube: {samples: 4, seed: 1}\nparameters:\n"
         "  - {path: modules.flood.rain.intensity_mm_h, min: 10, max: 50}\n"
         "  - {path: modules.flood.losses.drainage_mm_h}\n",
         "needs 'min' and 'max'", 5},
        {"base: base.yaml\nparameters:\n  - {path: modules.flood.gauges.3.name, values: [A]}\n",
         "unknown path 'modules.flood.gauges.3.name'", 3},
    };
    for (size_t k = 0; k < cases.size(); ++k) {
        fs::path file = dir / fmt::format("bad{}.yaml", k);
        writeText(file, cases[k].yaml);
        auto r = runCitytwin(fmt::format("sweep {} --out {}", quote(file), quote(dir / "bad")));
        EXPECT_EQ(r.exitCode, 2) << r.err;
        EXPECT_NE(r.err.find(fmt::format("{}:{}", file.string(), cases[k].line)), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(cases[k].expect), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(dir / "bad" / "sweep.csv"));
}

TEST(SweepLatinHypercube, OneSamplePerStratumAndSeeded) {
    TempDir dir;
    writeValleyDem(dir / "dem.tif");
    writeText(dir / "base.yaml", scenarioYaml("30", "10"));
    auto text = [](int seed) {
        return fmt::format(
            "base: base.yaml\nlatin_hypercube: {{samples: 12, seed: {}}}\nparameters:\n"
            "  - {{path: modules.flood.rain.intensity_mm_h, name: rain, min: 10, max: 70}}\n"
            "  - {{path: modules.flood.losses.drainage_mm_h, name: drainage, min: 0, max: 30}}\n",
            seed);
    };
    Sweep a = Sweep::fromYamlText(text(7), dir.path(), "lhs.yaml");
    ASSERT_EQ(a.runs.size(), 12u);
    const double lo[2] = {10, 0}, hi[2] = {70, 30};
    for (size_t d = 0; d < 2; ++d) {
        std::set<int> strata;
        for (const auto& run : a.runs) {
            double x = std::stod(run.values[d]);
            ASSERT_GE(x, lo[d]);
            ASSERT_LT(x, hi[d]);
            strata.insert(static_cast<int>(std::floor((x - lo[d]) / (hi[d] - lo[d]) * 12)));
        }
        EXPECT_EQ(strata.size(), 12u) << "dimension " << d << ": one sample in each of the 12 strata";
    }
    // The run's scenario carries the sample.
    Scenario s = a.scenario(a.runs[5]);
    EXPECT_EQ(s.modules.at(0).spec["rain"]["intensity_mm_h"].as<double>(), std::stod(a.runs[5].values[0]));
    EXPECT_EQ(s.modules.at(0).spec["losses"]["drainage_mm_h"].as<double>(), std::stod(a.runs[5].values[1]));
    // Same seed, same samples; another seed, others.
    Sweep b = Sweep::fromYamlText(text(7), dir.path(), "lhs.yaml"),
          c = Sweep::fromYamlText(text(8), dir.path(), "lhs.yaml");
    for (size_t i = 0; i < a.runs.size(); ++i)
        EXPECT_EQ(a.runs[i].values, b.runs[i].values);
    size_t differ = 0;
    for (size_t i = 0; i < a.runs.size(); ++i)
        differ += a.runs[i].values != c.runs[i].values;
    EXPECT_GT(differ, 0u);
    // The unit hypercube on its own: dimensions are independent permutations.
    auto u = latinHypercubeUnit(1000, 3, 42);
    for (size_t d = 0; d < 3; ++d) {
        std::set<int> strata;
        for (size_t i = 0; i < 1000; ++i)
            strata.insert(static_cast<int>(std::floor(u[i * 3 + d] * 1000)));
        EXPECT_EQ(strata.size(), 1000u);
    }
}

TEST(SweepExpansion, CartesianOrderRangesAndIds) {
    TempDir dir;
    writeValleyDem(dir / "dem.tif");
    writeText(dir / "base.yaml", scenarioYaml("30", "10"));
    Sweep s = Sweep::fromYamlText(
        "base: base.yaml\nparameters:\n"
        "  - {path: modules.flood.rain.intensity_mm_h, values: [5, 7]}\n"
        "  - {path: modules.flood.losses.drainage_mm_h, range: {from: 0.1, to: 0.3, step: 0.1}}\n"
        "  - {path: modules.flood.gauges.0.name, values: [A]}\n",
        dir.path(), "s.yaml");
    ASSERT_EQ(s.runs.size(), 6u);
    EXPECT_EQ(s.parameters[0].name, "intensity_mm_h");
    EXPECT_EQ(s.runs[0].id, "run-0000");
    EXPECT_EQ(s.runs[5].id, "run-0005");
    EXPECT_EQ(s.runs[1].values, (std::vector<std::string>{"5", "0.2", "A"}));
    EXPECT_EQ(s.runs[5].values, (std::vector<std::string>{"7", "0.3", "A"}));
    EXPECT_EQ(s.describe(s.runs[4]), "intensity_mm_h=7, drainage_mm_h=0.2, name=A");
    Scenario sc = s.scenario(s.runs[4]);
    EXPECT_EQ(sc.modules.at(0).spec["gauges"][0]["name"].as<std::string>(), "A");
    EXPECT_DOUBLE_EQ(sc.modules.at(0).spec["losses"]["drainage_mm_h"].as<double>(), 0.2);
    EXPECT_EQ(sc.edits.size(), 1u);
}

} // namespace
