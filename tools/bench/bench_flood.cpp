// Flood solver throughput: cell updates per second (cells × steps / wall s) on an N×N wet
// domain (a sloshing basin: water everywhere, a tilted initial surface so it moves), for the
// HLLC and the inertial scheme with 1 and 2 threads, plus memory per cell.
//
//   bench_flood [--n 2000] [--steps 50] [--only inertial|hllc|hllc2] [--threads 1|2]
#include "sim/flood/FloodSolver.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <oneapi/tbb/global_control.h>
#include <string>
#include <sys/resource.h>

using namespace ct::flood;

static double run(Scheme scheme, bool secondOrder, int n, int steps, int threads, double& mibPerCell) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    GridSpec g{n, n, 2.0, 0, 0};
    SolverOptions o;
    o.scheme = scheme;
    o.secondOrder = secondOrder;
    FloodSolver s(g, o);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            size_t c = s.index(i, j);
            s.bedM()[c] = static_cast<float>(0.2 * std::sin(i * 0.01) * std::cos(j * 0.013));
            s.depthM()[c] = static_cast<float>(1.0 + 0.5 * i / n - s.bedM()[c]);
            s.manningN()[c] = 0.03f;
        }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    s.initialize();
    s.step(1e9); // first step allocates nothing more, but warms caches
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < steps; ++k) s.step(1e9);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    mibPerCell = after.ru_maxrss * 1024.0 / (static_cast<double>(n) * n);
    return static_cast<double>(n) * n * steps / wall;
}

int main(int argc, char** argv) {
    int n = 2000, steps = 50, onlyThreads = 0;
    std::string only;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--n") n = std::atoi(argv[i + 1]);
        else if (a == "--steps") steps = std::atoi(argv[i + 1]);
        else if (a == "--only") only = argv[i + 1];
        else if (a == "--threads") onlyThreads = std::atoi(argv[i + 1]);
    }
    std::printf("domain %d × %d wet cells, %d steps per run\n", n, n, steps);
    std::printf("%-9s %7s %20s %18s\n", "scheme", "threads", "cell-updates/s", "peak RSS B/cell");
    struct Variant {
        const char* name;
        Scheme scheme;
        bool secondOrder;
    };
    for (Variant v : {Variant{"inertial", Scheme::Inertial, false}, Variant{"hllc", Scheme::Hllc, false},
                      Variant{"hllc2", Scheme::Hllc, true}})
        for (int threads : {1, 2}) {
            if ((!only.empty() && only != v.name) || (onlyThreads > 0 && threads != onlyThreads)) continue;
            double bytes = 0;
            double rate = run(v.scheme, v.secondOrder, n, steps, threads, bytes);
            std::printf("%-9s %7d %17.1f M %18.1f\n", v.name, threads, rate / 1e6, bytes);
        }
    return 0;
}
