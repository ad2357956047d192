// citytwin sweep: one run per parameter combination into DIR/runs/<id>/, resumable, optionally
// spread over MPI ranks, and DIR/sweep.csv (parameters × KPIs) read back from the run folders.
#include "app/Commands.h"
#include "app/Report.h"
#include "core/Error.h"
#include "sim/Runner.h"
#include "sim/Sweep.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <map>
// The C API only: the deprecated C++ bindings warn under -Wextra.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace ct::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// mpirun (OpenMPI), srun/PMIx and MPICH-style launchers set one of these; without them the sweep
// never touches MPI, so a plain `citytwin sweep` needs no MPI runtime.
bool launchedByMpi() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
        if (const char* v = std::getenv(var); v && *v) return true;
    return false;
}

struct MpiSession {
    bool active = false;
    int rank = 0, size = 1;
    MpiSession() {
        if (!launchedByMpi()) return;
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            int provided = 0;
            MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        }
        active = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
    ~MpiSession() {
        int finalized = 0;
        if (active && (MPI_Finalized(&finalized), !finalized)) MPI_Finalize();
    }
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;
};

// The next run index. Under MPI one counter lives on rank 0 and every rank (rank 0 too) takes
// the next index with an atomic fetch-and-add when it is free: load balancing without an idle
// master, and no rank waits on another's messages.
class RunCounter {
  public:
    explicit RunCounter(const MpiSession& mpi) : mpi(mpi.active) {
        if (!this->mpi) return;
        MPI_Aint bytes = mpi.rank == 0 ? static_cast<MPI_Aint>(sizeof(long long)) : 0;
        MPI_Win_allocate(bytes, sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
        MPI_Win_lock_all(0, win);
        if (mpi.rank == 0) {
            *base = 0;
            MPI_Win_sync(win);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    ~RunCounter() {
        if (!mpi) return;
        MPI_Win_unlock_all(win);
        MPI_Win_free(&win);
    }
    RunCounter(const RunCounter&) = delete;
    RunCounter& operator=(const RunCounter&) = delete;

    size_t next() {
        if (!mpi) return local++;
        long long one = 1, got = 0;
        MPI_Fetch_and_op(&one, &got, MPI_LONG_LONG, 0, 0, MPI_SUM, win);
        MPI_Win_flush(0, win);
        return static_cast<size_t>(got);
    }

  private:
    bool mpi;
    size_t local = 0;
    long long* base = nullptr;
    MPI_Win win{};
};

// A run is finished when its manifest (written last by the runner) is complete and says the
// run was not interrupted.
bool runFinished(const fs::path& dir) {
    std::ifstream in(dir / "manifest.json");
    if (!in || !fs::exists(dir / "kpis.json")) return false;
    json m = json::parse(in, nullptr, false);
    return !m.is_discarded() && m.is_object() && !m.contains("interrupted_at_s");
}

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// DIR/sweep.csv from the run folders' kpis.json: the same table however the runs were spread
// or resumed. Columns: id, the parameters, then <part>.<module>.<kpi> for every KPI of any run.
void writeTable(const Sweep& sweep, const fs::path& outDir) {
    const std::vector<std::string> parts = {"baseline", "variant", "difference"};
    using Column = std::tuple<size_t, std::string, std::string>; // part, module, kpi
    std::set<Column> columns;
    std::vector<std::map<Column, std::string>> rows;
    for (const auto& run : sweep.runs) {
        fs::path file = outDir / "runs" / run.id / "kpis.json";
        std::ifstream in(file);
        json k = json::parse(in, nullptr, false);
        if (k.is_discarded())
            throw InputError("cannot read the run's KPIs", file.string(), "run the sweep again");
        auto& row = rows.emplace_back();
        for (size_t p = 0; p < parts.size(); ++p) {
            if (!k.contains(parts[p])) continue;
            for (auto& [module, kpis] : k[parts[p]].items())
                for (auto& [name, kpi] : kpis.items()) {
                    Column c{p, module, name};
                    columns.insert(c);
                    const json& v = kpi["value"];
                    // Shortest text that reads back as the same double; NaN is null in JSON.
                    row[c] = v.is_number() ? fmt::format("{}", v.get<double>()) : "";
                }
        }
    }
    std::string text = "id";
    for (const auto& p : sweep.parameters)
        text += "," + csvField(p.name);
    for (const auto& [p, module, name] : columns)
        text += "," + csvField(parts[p] + "." + module + "." + name);
    text += "\n";
    for (size_t i = 0; i < sweep.runs.size(); ++i) {
        text += sweep.runs[i].id;
        for (const auto& v : sweep.runs[i].values)
            text += "," + csvField(v);
        for (const auto& c : columns) {
            auto it = rows[i].find(c);
            text += "," + (it == rows[i].end() ? std::string() : it->second);
        }
        text += "\n";
    }
    // Written aside and renamed: a reader never sees half a table.
    fs::path tmp = outDir / "sweep.csv.tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        out << text;
        if (!out) throw InputError("cannot write the sweep table", tmp.string());
    }
    fs::rename(tmp, outDir / "sweep.csv");
}

// "[rank 1] " under MPI, so interleaved lines say who ran what.
std::string rankTag(const MpiSession& mpi) {
    return mpi.size > 1 ? fmt::format("[rank {}] ", mpi.rank) : "";
}

} // namespace

int sweep(const SweepCommandOptions& options) {
    MpiSession mpi;
    Sweep sw = Sweep::fromYaml(options.sweep);
    fs::path outDir = options.outDir;
    if (outDir.empty())
        outDir = (options.sweep.parent_path().empty() ? fs::path(".") : options.sweep.parent_path()) / "out" /
                 sw.name;
    std::error_code ec;
    fs::create_directories(outDir / "runs", ec);
    if (ec) throw InputError("cannot create output folder: " + ec.message(), outDir.string());
    const fs::path baseDir = sw.basePath.parent_path().empty() ? fs::path(".") : sw.basePath.parent_path();

    // One import fills the cache before the ranks start, so they do not all write it at once.
    if (mpi.size > 1) {
        if (mpi.rank == 0 && !options.cacheDir.empty())
            importCity(Scenario::fromYaml(sw.basePath).city, ImportOptions{options.cacheDir, false});
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (mpi.rank == 0)
        std::printf("Sweep '%s': %zu runs of %s into %s%s\n", sw.name.c_str(), sw.runs.size(),
                    sw.basePath.c_str(), outDir.c_str(),
                    mpi.size > 1 ? fmt::format(" on {} MPI ranks", mpi.size).c_str() : "");
    std::fflush(stdout);

    bool interrupted = false;
    size_t ranHere = 0;
    {
        RunCounter counter(mpi);
        for (size_t i = counter.next(); i < sw.runs.size() && !interrupted; i = counter.next()) {
            const SweepRun& run = sw.runs[i];
            fs::path runDir = outDir / "runs" / run.id;
            std::string head = fmt::format("{}run {}/{} {} ({})", rankTag(mpi), i + 1, sw.runs.size(), run.id,
                                           sw.describe(run));
            if (runFinished(runDir)) {
                std::printf("%s finished before\n", head.c_str());
                std::fflush(stdout);
                continue;
            }
            try {
                // A half-written folder from a killed run is started afresh.
                fs::remove_all(runDir);
                fs::create_directories(runDir);
                // The run's own scenario beside its results: the folder describes itself, and
                // error lines point into this file.
                fs::path scenarioFile = runDir / "scenario.yaml";
                std::string text = sw.scenarioText(run);
                std::ofstream(scenarioFile) << text;
                Scenario scenario = Scenario::fromYamlText(text, baseDir, scenarioFile.string());
                scenario.file = scenarioFile;
                scenario.name += "/" + run.id;
                RunResult result =
                    runScenario(scenario, RunOptions{runDir, options.threads, false, options.cacheDir});
                if (!runFinished(runDir)) {
                    // Ctrl-C: the runner stopped this run early; its folder is redone on resume.
                    interrupted = true;
                    std::printf("%s interrupted\n", head.c_str());
                    break;
                }
                writeRunReport(scenario, result, ReportOptions{options.reportImages, options.cacheDir});
                ++ranHere;
                std::printf("%s %.1f s\n", head.c_str(), result.wallS);
                std::fflush(stdout);
            } catch (const InputError& e) {
                InputError withRun(fmt::format("{} ({}): {}", run.id, sw.describe(run), e.problem()),
                                   e.where(), e.hint());
                if (!mpi.active) throw withRun;
                std::fprintf(stderr, "error: %s\n", withRun.what());
                MPI_Abort(MPI_COMM_WORLD, 2);
            } catch (const std::exception& e) {
                if (!mpi.active) throw;
                std::fprintf(stderr, "internal error in %s: %s\n", run.id.c_str(), e.what());
                MPI_Abort(MPI_COMM_WORLD, 3);
            }
        }
        if (mpi.active) MPI_Barrier(MPI_COMM_WORLD);
    }
    if (mpi.rank != 0) return interrupted ? 130 : 0;

    size_t missing = 0;
    for (const auto& run : sw.runs)
        missing += !runFinished(outDir / "runs" / run.id);
    if (missing) {
        std::printf("%zu of %zu runs are not finished: run the same command again to resume\n", missing,
                    sw.runs.size());
        return interrupted ? 130 : 1;
    }
    writeTable(sw, outDir);
    std::printf("Table: %s (%zu runs, %zu run now%s)\n",
                fs::absolute(outDir / "sweep.csv").lexically_normal().c_str(), sw.runs.size(), ranHere,
                mpi.size > 1 ? " on rank 0" : "");
    return 0;
}

} // namespace ct::app
