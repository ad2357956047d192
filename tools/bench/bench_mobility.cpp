// Mobility benchmark: vehicle-updates per second of citytwin's traffic model against SUMO in
// the same run, on the same input — a netgenerate grid and randomTrips demand (default: the
// issue's 20×20 grid with one trip every 0.2 s for an hour, ~18,000 trips). By default the
// trips are routed once by SUMO's duarouter and both simulators drive those routes, so the
// traffic models are compared on identical vehicles; --own-routing gives both the trips and
// lets each route them itself, at departure on travel times adapted to the traffic (both
// simulators' default).
//
//   bench_mobility [--grid 20] [--length 100] [--lanes 1] [--period 0.2] [--end 3600]
//                  [--threads 1,2] [--seed 42] [--own-routing] [--no-sumo] [--keep DIR]
//
// Prints per run: completed trips, mean trip duration, teleports, wall time, vehicle-updates
// per second and their ratio to SUMO's, bytes of vehicle state per running vehicle, and the
// process's peak RSS. SUMO's own figure is its "UPS" (vehicle updates per second of wall time).
#include "sim/mobility/TrafficRun.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace ct::mobility;
namespace fs = std::filesystem;

namespace {

double peakMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

std::string slurp(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

double match(const std::string& text, const std::string& pattern) {
    std::smatch m;
    return std::regex_search(text, m, std::regex(pattern)) ? std::stod(m[1]) : std::nan("");
}

} // namespace

int main(int argc, char** argv) {
    int grid = 20, lanes = 1;
    double length = 100, period = 0.2, end = 3600;
    std::vector<int> threads{1, 2};
    int seed = 42;
    bool withSumo = true, ownRouting = false;
    fs::path keep;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_mobility: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--grid") grid = std::stoi(next());
        else if (a == "--length") length = std::stod(next());
        else if (a == "--lanes") lanes = std::stoi(next());
        else if (a == "--period") period = std::stod(next());
        else if (a == "--end") end = std::stod(next());
        else if (a == "--seed") seed = std::stoi(next());
        else if (a == "--no-sumo") withSumo = false;
        else if (a == "--own-routing") ownRouting = true;
        else if (a == "--keep") keep = next();
        else if (a == "--threads") {
            threads.clear();
            std::stringstream ss(next());
            for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
        } else {
            std::fprintf(stderr, "usage: bench_mobility [--grid N] [--length M] [--lanes N] [--period S] [--end S] "
                                 "[--threads 1,2] [--seed N] [--own-routing] [--no-sumo] [--keep DIR]\n");
            return 2;
        }
    }
    const fs::path dir = keep.empty() ? fs::temp_directory_path() / fmt::format("bench_mobility_{}", getpid()) : keep;
    fs::create_directories(dir);
    const std::string d = dir.string();
    const std::string prepare = fmt::format(
        "cd '{}' && export SUMO_HOME=/usr/share/sumo && netgenerate --grid --grid.number {} --grid.length {} "
        "--default.lanenumber {} -o grid.net.xml > prepare.log 2>&1 && python3 /usr/share/sumo/tools/randomTrips.py "
        "-n grid.net.xml -o grid.trips.xml -b 0 -e {} -p {} --seed {} --validate >> prepare.log 2>&1{}",
        d, grid, length, lanes, end, period, seed,
        ownRouting ? "" : " && duarouter -n grid.net.xml --route-files grid.trips.xml -o grid.rou.xml --no-step-log >> prepare.log 2>&1");
    const std::string demand = ownRouting ? "grid.trips.xml" : "grid.rou.xml";
    if (std::system(prepare.c_str()) != 0) {
        std::fprintf(stderr, "bench_mobility: netgenerate/randomTrips/duarouter failed (see %s/prepare.log); install sumo, sumo-tools\n",
                     d.c_str());
        return 1;
    }
    const std::string trips = slurp(dir / "grid.trips.xml");
    size_t tripCount = 0;
    for (size_t at = trips.find("<trip "); at != std::string::npos; at = trips.find("<trip ", at + 1)) ++tripCount;
    fmt::print("input: {0}x{0} grid, {1} m blocks, {2} lane(s), {3} trips departing over {4} s (one every {5} s), {6}\n",
               grid, length, lanes, tripCount, end, period,
               ownRouting ? "each simulator routes the trips itself" : "both drive duarouter's routes");

    double sumoUps = std::nan("");
    if (withSumo) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::string cmd = fmt::format(
            "cd '{}' && SUMO_HOME=/usr/share/sumo /usr/bin/time -f 'maxrss_kib=%M' sumo -n grid.net.xml -r {} --no-step-log "
            "--duration-log.statistics --tripinfo-output sumo_ti.xml > sumo.log 2>&1",
            d, demand);
        if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "bench_mobility: sumo failed (see %s/sumo.log)\n", d.c_str());
            return 1;
        }
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const std::string log = slurp(dir / "sumo.log");
        sumoUps = match(log, R"(UPS: ([0-9.]+))");
        fmt::print("SUMO 1 thread: {:.0f} arrived, mean duration {:.1f} s, teleports {:.0f}, wall {:.2f} s, "
                   "{:.3f} M vehicle-updates/s, peak RSS {:.0f} MiB\n",
                   match(log, R"(Statistics \(avg of (\d+)\))"), match(log, R"(Duration: ([0-9.]+)\n)"),
                   match(log, R"(Teleports: (\d+))") >= 0 ? match(log, R"(Teleports: (\d+))") : 0.0, wall,
                   sumoUps / 1e6, match(log, R"(maxrss_kib=(\d+))") / 1024);
    }
    for (int t : threads) {
        TrafficRunOptions options;
        options.net = dir / "grid.net.xml";
        options.routes = {dir / demand};
        options.threads = t;
        options.progress = false;
        const TrafficRunSummary s = runTraffic(options);
        fmt::print("citytwin {} thread{}: {} arrived, mean duration {:.1f} s, teleports {}, wall {:.2f} s (+{:.2f} s "
                   "load), {:.3f} M vehicle-updates/s = {:.1f}x SUMO, {:.0f} bytes per running vehicle (peak {:.0f} "
                   "running), peak RSS {:.0f} MiB\n",
                   t, t == 1 ? "" : "s", s.arrived, s.meanDurationS, s.teleports, s.wallS, s.loadS, s.updatesPerS / 1e6,
                   s.updatesPerS / sumoUps, s.bytesPerVehicle, s.peakRunning, peakMiB());
    }
    if (keep.empty()) fs::remove_all(dir);
    return 0;
}
