// Prints a fingerprint (FNV-1a over the bits of depth, discharges, maximum speed and arrival
// time, plus the mass balance) of a short run of each flood scheme on a grid that exercises
// every code path of the solver's row loops: walls, wet/dry fronts, rain, a loss rate, a point
// inflow, closed, open and fixed-level edges, a width that is no multiple of the vector length.
// Built twice, with the solver's AVX2 clones and with the baseline build only
// (CITYTWIN_FLOOD_BASELINE_ONLY); the test flood.VectorAndBaselineBuildsAgree requires the same
// output from both: results must not depend on the CPU they were computed on.
#include "sim/flood/FloodSolver.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

using namespace ct::flood;

static uint64_t fnv(const std::vector<float>& values, uint64_t hash) {
    for (float f : values) {
        uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        hash = (hash ^ bits) * 1099511628211ull;
    }
    return hash;
}

int main() {
    struct Variant {
        const char* name;
        Scheme scheme;
        bool secondOrder;
    };
    for (Variant v : {Variant{"inertial", Scheme::Inertial, false}, Variant{"hllc", Scheme::Hllc, false},
                      Variant{"hllc2", Scheme::Hllc, true}}) {
        GridSpec grid{301, 257, 2.0, 0, 0};
        SolverOptions o;
        o.scheme = v.scheme;
        o.secondOrder = v.secondOrder;
        o.east.kind = BoundaryKind::Open;
        o.north = {BoundaryKind::Level, 0.8};
        FloodSolver s(grid, o);
        for (int j = 0; j < grid.ny; ++j)
            for (int i = 0; i < grid.nx; ++i) {
                const size_t c = s.index(i, j);
                s.bedM()[c] = static_cast<float>(0.3 * std::sin(i * 0.05) * std::cos(j * 0.07) + 0.002 * i);
                s.depthM()[c] = i < 100 ? static_cast<float>(std::max(0.0, 1.0 - s.bedM()[c])) : 0.0f;
                s.blocked()[c] = i > 150 && i < 160 && j > 50 && j < 90;
                s.lossRateMps()[c] = j > 200 ? 1e-5f : 0.0f;
                s.manningN()[c] = 0.02f + 0.01f * static_cast<float>(i % 3);
            }
        s.setRain([](double t) { return t < 100 ? 2e-5 : 0.0; }, {100});
        s.addInflow(PointInflow{"inflow", 200, 200, {0, 300}, {1.0, 3.0}});
        for (int k = 0; k < 300; ++k) s.step(1e9);
        uint64_t hash = 1469598103934665603ull;
        for (const std::vector<float>* field : {&s.depthM(), &s.dischargeX(), &s.dischargeY()}) hash = fnv(*field, hash);
        hash = fnv(s.maxSpeed(), hash);
        hash = fnv(s.arrivalTimeS(), hash);
        const MassBalance b = s.massBalance();
        std::printf("%s: t %.9g s, fingerprint %016llx, rain %.17g, loss %.17g, inflow %.17g, outflow %.17g m3\n",
                    v.name, s.time(), static_cast<unsigned long long>(hash), b.rainM3, b.lossM3, b.inflowM3,
                    b.outflowM3);
    }
    return 0;
}
