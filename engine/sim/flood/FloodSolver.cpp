#include "sim/flood/FloodSolver.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>

namespace ct::flood {

namespace {

constexpr float kArrivalDepthM = 0.1f;
constexpr int kRowGrain = 8;

template <class F>
void forRows(int ny, F&& f) {
    tbb::parallel_for(tbb::blocked_range<int>(0, ny, kRowGrain),
                      [&](const tbb::blocked_range<int>& r) { f(r.begin(), r.end()); });
}

struct Cell {
    float h, un, ut, z; // depth, normal and tangential velocity, bed
};

struct FaceFlux {
    float mass = 0, momL = 0, momR = 0, tang = 0;
};

// HLLC flux across a face in the face's normal direction, after Audusse's hydrostatic
// reconstruction: the face bed is the higher of the two, depths are cut to it, and each side
// gets its own pressure correction, which keeps a lake at rest exactly at rest. Every case is
// computed and the right one selected (no branches, so row loops that call it vectorise); where
// both sides are dry, or a wave speed case does not apply, its values are discarded.
inline FaceFlux faceFlux(const Cell& L, const Cell& R, float g) {
    const float zf = std::max(L.z, R.z);
    const float hl = std::max(0.0f, L.h + L.z - zf), hr = std::max(0.0f, R.h + R.z - zf);
    const float cl = std::sqrt(g * hl), cr = std::sqrt(g * hr);
    const float us = 0.5f * (L.un + R.un) + cl - cr;
    const float cs = 0.5f * (cl + cr) + 0.25f * (L.un - R.un);
    const float sl = hl <= 0 ? R.un - 2 * cr : hr <= 0 ? L.un - cl : std::min(L.un - cl, us - cs);
    const float sr = hl <= 0 ? R.un + cr : hr <= 0 ? L.un + 2 * cl : std::max(R.un + cr, us + cs);
    const float fmL = hl * L.un, fmR = hr * R.un;
    const float fpL = hl * L.un * L.un + 0.5f * g * hl * hl, fpR = hr * R.un * R.un + 0.5f * g * hr * hr;
    const float inv = 1.0f / (sr - sl);
    const float starMass = (sr * fmL - sl * fmR + sl * sr * (hr - hl)) * inv;
    const float starMom = (sr * fpL - sl * fpR + sl * sr * (hr * R.un - hl * L.un)) * inv;
    const float denom = hr * (R.un - sr) - hl * (L.un - sl);
    const float sm = denom != 0 ? (sl * hr * (R.un - sr) - sr * hl * (L.un - sl)) / denom : 0.0f;
    const float starTang = starMass * (sm >= 0 ? L.ut : R.ut);
    // Comparisons written out, not kept in bools: GCC 12 cannot vectorise a mix of mask widths.
    const float wetness = hl + hr; // > 0 where either side holds water (both are ≥ 0)
    const float fMass = wetness <= 0 ? 0.0f : sl >= 0 ? fmL : sr <= 0 ? fmR : starMass;
    const float fMom = wetness <= 0 ? 0.0f : sl >= 0 ? fpL : sr <= 0 ? fpR : starMom;
    const float fTang = wetness <= 0 ? 0.0f : sl >= 0 ? fmL * L.ut : sr <= 0 ? fmR * R.ut : starTang;
    FaceFlux f;
    f.mass = fMass;
    f.momL = fMom + 0.5f * g * (L.h * L.h - hl * hl);
    f.momR = fMom + 0.5f * g * (R.h * R.h - hr * hr);
    f.tang = fTang;
    return f;
}

// The outside of a wall or boundary face, seen from the inside cell `in`.
inline Cell ghost(const Cell& in, const Boundary& b) {
    switch (b.kind) {
    case BoundaryKind::Closed: return {in.h, -in.un, in.ut, in.z};
    // Free outflow: zero gradient, but water may only leave; inward flow meets a wall there.
    // (Copying an inward velocity, or even still water next to outgoing flow, feeds inflow
    // from nowhere.)
    case BoundaryKind::Open: return in.un >= 0 ? in : Cell{in.h, -in.un, in.ut, in.z};
    case BoundaryKind::Level: return {std::max(0.0f, static_cast<float>(b.levelM) - in.z), in.un, in.ut, in.z};
    }
    return in;
}

// Cube root for the friction terms: a bit-level first guess and two Newton steps (relative
// error about 1e-5), several times faster than libm's cbrtf; 0 for x ≤ 0. Branch free, so loops
// that call it vectorise.
inline float fastCbrt(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits = bits / 3 + 709921077u;
    float y;
    std::memcpy(&y, &bits, sizeof y);
    y = y - (y * y * y - x) / (3 * y * y);
    y = y - (y * y * y - x) / (3 * y * y);
    return x > 0 ? y : 0.0f;
}

// h += inc with Kahan compensation; a depth never goes below zero. Branch free (vectorises).
inline void addDepth(float& h, float& comp, float inc) {
    float y = inc - comp;
    float t = h + y;
    float c = (t - h) - y;
    bool negative = t < 0;
    h = negative ? 0.0f : t;
    comp = negative ? 0.0f : c;
}

// The solver's hot loops work on one grid row at a time and are written so the compiler
// vectorises them: no branches or early exits, every load unconditional, choices as selects
// (CMakeLists.txt lets it evaluate both sides of one). On x86-64 each is built twice, for AVX2
// and for the baseline, and the CPU picks at run time; without fused multiply-add
// (-ffp-contract=off) both give the same bits (flood.VectorAndBaselineBuildsAgree). Pointers are
// __restrict: no output row overlaps an input row (inputs may share rows).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(CITYTWIN_FLOOD_BASELINE_ONLY)
#define CT_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CT_VECTOR_CLONES
#endif

struct InertialConstants {
    float g, dt, dx, theta, flowMin;
};

// q_new = (θ q + (1−θ)/2 (q_prev + q_next) − g h_f dt ∂η/∂x) / (1 + g dt n² |q| / h_f^(7/3))
// (Bates et al. 2010; de Almeida et al. 2012), q_prev/q_next the neighbouring faces in line;
// no flow where the flow depth h_f is below the threshold.
inline float inertialFace(const InertialConstants& k, float q, float etaL, float etaR, float zf, float nf,
                          float qPrev, float qNext) {
    float hf = std::max(etaL, etaR) - zf;
    float qw = k.theta * q + 0.5f * (1 - k.theta) * (qPrev + qNext);
    float num = qw - k.g * hf * k.dt * (etaR - etaL) / k.dx;
    float result = num / (1.0f + k.g * k.dt * nf * nf * std::abs(q) / (hf * hf * fastCbrt(hf)));
    return hf > k.flowMin ? result : 0.0f;
}

// The inner x-faces 1 … nx−1 of one row (face i lies between cells i−1 and i); `old` holds the
// row's faces of the last step. A face next to a wall carries nothing; a neighbouring face on the
// domain edge or at a wall is no flow to average with (its own value stands in).
CT_VECTOR_CLONES
void inertialRowX(const InertialConstants& k, const float* __restrict h, const float* __restrict z,
                  const float* __restrict n, const uint8_t* __restrict wall, const float* __restrict old,
                  float* __restrict q, int nx) {
    auto face = [&](int i, bool prevOpen, bool nextOpen) {
        float za = z[i - 1], zb = z[i];
        float prev = prevOpen ? old[i - 1] : old[i], next = nextOpen ? old[i + 1] : old[i];
        float v = inertialFace(k, old[i], h[i - 1] + za, h[i] + zb, std::max(za, zb),
                               0.5f * (n[i - 1] + n[i]), prev, next);
        q[i] = (wall[i - 1] | wall[i]) == 0 ? v : 0.0f;
    };
    if (nx >= 2) face(1, false, nx > 2 && wall[2] == 0);
    for (int i = 2; i < nx - 1; ++i)
        face(i, wall[i - 2] == 0, wall[i + 1] == 0);
    if (nx >= 3) face(nx - 1, wall[nx - 3] == 0, false);
}

// The y-faces between row a (below) and row b (above); the neighbouring faces in line are those of
// the rows below a (prevOld, behind wallPrev) and above b (nextOld, behind wallNext). On the first
// or last inner row the caller passes `old` itself there, which makes the neighbour the face.
CT_VECTOR_CLONES
void inertialRowY(const InertialConstants& k, const float* __restrict hA, const float* __restrict zA,
                  const float* __restrict nA, const uint8_t* __restrict wallA, const float* __restrict hB,
                  const float* __restrict zB, const float* __restrict nB, const uint8_t* __restrict wallB,
                  const float* __restrict old, const float* __restrict prevOld,
                  const uint8_t* __restrict wallPrev, const float* __restrict nextOld,
                  const uint8_t* __restrict wallNext, float* __restrict q, int nx) {
    for (int i = 0; i < nx; ++i) {
        // Every load is unconditional and every choice a select, so the loop vectorises.
        const float q0 = old[i], qBelow = prevOld[i], qAbove = nextOld[i];
        float prev = wallPrev[i] == 0 ? qBelow : q0, next = wallNext[i] == 0 ? qAbove : q0;
        float v = inertialFace(k, q0, hA[i] + zA[i], hB[i] + zB[i], std::max(zA[i], zB[i]),
                               0.5f * (nA[i] + nB[i]), prev, next);
        q[i] = (wallA[i] | wallB[i]) == 0 ? v : 0.0f;
    }
}

// Outflow limiter, per cell of a row: the share of its outgoing faces' water it can give (1 if
// it holds enough). w: the row's x-faces (nx+1), s/nn: the y-faces below and above the row.
CT_VECTOR_CLONES
void inertialOutflowRow(const float* __restrict h, const float* __restrict w, const float* __restrict s,
                        const float* __restrict nn, float dtOverDx, float* __restrict factor, int nx) {
    for (int i = 0; i < nx; ++i) {
        float out =
            std::max(0.0f, -w[i]) + std::max(0.0f, w[i + 1]) + std::max(0.0f, -s[i]) + std::max(0.0f, nn[i]);
        float volumeOut = out * dtOverDx; // as a depth
        factor[i] = volumeOut > h[i] ? h[i] / volumeOut : 1.0f;
    }
}

// Continuity for one row with the limiter applied: faces that take water out of a cell are
// scaled by that cell's factor (fBelow/fAbove: the rows beside; ones outside the domain). The
// row's x-faces are limited in place; its limited south faces go to sOut (and, on the top row,
// the north faces to nOut), since the unlimited ones are still read by the row below.
CT_VECTOR_CLONES
void inertialContinuityRow(float* __restrict w, const float* __restrict s, const float* __restrict nn,
                           const float* __restrict f, const float* __restrict fBelow,
                           const float* __restrict fAbove, const uint8_t* __restrict wall, float dtOverDx,
                           float* __restrict h, float* __restrict comp, float* __restrict hu,
                           float* __restrict hv, float* __restrict sOut, float* __restrict nOut, int nx) {
    // Every load is unconditional and every choice a select, so the loops vectorise.
    w[0] *= w[0] > 0 ? 1.0f : f[0];
    for (int i = 1; i < nx; ++i) {
        const float q = w[i], fWest = f[i - 1], fEast = f[i];
        w[i] = q * (q > 0 ? fWest : fEast);
    }
    w[nx] *= w[nx] > 0 ? f[nx - 1] : 1.0f;
    for (int i = 0; i < nx; ++i) {
        const float qs = s[i], qn = nn[i], fb = fBelow[i], fa = fAbove[i], fc = f[i], west = w[i],
                    east = w[i + 1];
        const float south = qs * (qs > 0 ? fb : fc), north = qn * (qn > 0 ? fc : fa);
        sOut[i] = south;
        const float depth0 = h[i], comp0 = comp[i];
        float depth = depth0, c = comp0;
        addDepth(depth, c, dtOverDx * (west - east + south - north));
        const bool open = wall[i] == 0;
        h[i] = open ? depth : depth0;
        comp[i] = open ? c : comp0;
        hu[i] = 0.5f * (west + east);
        hv[i] = 0.5f * (south + north);
    }
    if (nOut)
        for (int i = 0; i < nx; ++i) {
            const float qn = nn[i], fc = f[i], fa = fAbove[i];
            nOut[i] = qn * (qn > 0 ? fc : fa);
        }
}

// Running maxima and arrival times over one row (after a step).
CT_VECTOR_CLONES
void maximaRow(const float* __restrict h, const float* __restrict hu, const float* __restrict hv, float dry,
               float tNow, float* __restrict hMax, float* __restrict speedMax, float* __restrict hazardMax,
               float* __restrict arrival, int nx) {
    for (int i = 0; i < nx; ++i) {
        const float d = h[i], qx = hu[i], qy = hv[i], arrived = arrival[i];
        const float v = d > dry ? std::sqrt(qx * qx + qy * qy) / d : 0.0f;
        // DEFRA FD2320 hazard rating, debris factor of the urban column (1 above 0.25 m).
        const float hazard = d * (v + 0.5f) + (d > 0.25f ? 1.0f : 0.0f);
        hMax[i] = std::max(hMax[i], d); // all maxima start at ≥ 0, so a dry cell changes none
        speedMax[i] = std::max(speedMax[i], v);
        hazardMax[i] = std::max(hazardMax[i], hazard);
        arrival[i] = d >= kArrivalDepthM && std::isnan(arrived) ? tNow : arrived; // NaN: not yet
    }
}

// What limits the time step in one row: the largest characteristic speed |u| + √(g h) (HLLC) or
// the largest depth (inertial) over the wet cells; `finite` turns NaN if any value is not finite.
// Eight independent lanes so the loop vectorises; their maximum is exact whatever the order.
struct RowLimit {
    float value, finite;
};
CT_VECTOR_CLONES
RowLimit stepLimitRow(const float* __restrict h, const float* __restrict hu, const float* __restrict hv, bool hllc,
                      float g, float dry, int nx) {
    constexpr int kLanes = 8;
    float best[kLanes] = {}, probe[kLanes] = {};
    auto visit = [&](int i, int lane) {
        const float d = h[i], qx = hu[i], qy = hv[i];
        const float s = hllc ? std::max(std::abs(qx), std::abs(qy)) / d + std::sqrt(g * d) : d;
        const float limit = d > dry ? s : 0.0f;
        best[lane] = limit > best[lane] ? limit : best[lane];
        probe[lane] += d * 0.0f + qx * 0.0f + qy * 0.0f; // stays 0 unless a value is ±inf or NaN
    };
    int i = 0;
    for (; i + kLanes <= nx; i += kLanes)
        for (int lane = 0; lane < kLanes; ++lane) visit(i + lane, lane);
    for (; i < nx; ++i) visit(i, 0);
    RowLimit r{0.0f, 0.0f};
    for (int lane = 0; lane < kLanes; ++lane) {
        r.value = std::max(r.value, best[lane]);
        r.finite += probe[lane];
    }
    return r;
}

// Rain over one row (times the scale and field factors: rows of 1 where there are none); what
// each cell got goes to `added`.
CT_VECTOR_CLONES
void rainRow(const uint8_t* __restrict wall, const float* __restrict scale, const float* __restrict field,
             float rainDepth, float* __restrict h, float* __restrict comp, float* __restrict added, int nx) {
    for (int i = 0; i < nx; ++i) {
        const float r = rainDepth * scale[i] * field[i], d0 = h[i], c0 = comp[i];
        const bool open = wall[i] == 0;
        float d = d0, c = c0;
        addDepth(d, c, r);
        h[i] = open ? d : d0;
        comp[i] = open ? c : c0;
        added[i] = open ? r : 0.0f;
    }
}

// A constant loss rate over one row, no more than the water there; what each cell lost goes to
// `taken`.
CT_VECTOR_CLONES
void lossRow(const uint8_t* __restrict wall, const float* __restrict loss, double dt, float* __restrict h,
             float* __restrict comp, float* __restrict taken, int nx) {
    for (int i = 0; i < nx; ++i) {
        const float rate = loss[i], d0 = h[i], c0 = comp[i];
        const bool active = (wall[i] == 0) & (rate > 0) & (d0 > 0);
        const float l = std::min(d0 - c0, static_cast<float>(rate * dt));
        float d = d0, c = c0;
        addDepth(d, c, -l);
        h[i] = active ? d : d0;
        comp[i] = active ? c : c0;
        taken[i] = active ? l : 0.0f;
    }
}

// Whether any value of a row is positive (an integer OR, which vectorises).
CT_VECTOR_CLONES
bool anyPositive(const float* __restrict v, int nx) {
    unsigned any = 0;
    for (int i = 0; i < nx; ++i) any |= v[i] > 0 ? 1u : 0u;
    return any != 0;
}

// The sum of a row in double, in eight lanes: a fixed order (the same on any thread count) that
// vectorises.
CT_VECTOR_CLONES
double sumRow(const float* __restrict v, int nx) {
    constexpr int kLanes = 8;
    double lanes[kLanes] = {};
    int i = 0;
    for (; i + kLanes <= nx; i += kLanes)
        for (int lane = 0; lane < kLanes; ++lane) lanes[lane] += v[i + lane];
    for (; i < nx; ++i) lanes[0] += v[i];
    double sum = 0;
    for (double lane : lanes) sum += lane;
    return sum;
}

// HLLC fluxes through a run of inner faces: face i has cell i of the L arrays on its low side
// and cell i of the R arrays on its high side, velocities already in the face's frame (un normal,
// ut tangential). A wall reflects the other side; two walls, or water on neither side, carry
// nothing. Results go to four arrays (structure of arrays).
CT_VECTOR_CLONES
void hllcFacesRow(const float* __restrict hL, const float* __restrict unL, const float* __restrict utL,
                  const float* __restrict zL, const uint8_t* __restrict wallL, const float* __restrict hR,
                  const float* __restrict unR, const float* __restrict utR, const float* __restrict zR,
                  const uint8_t* __restrict wallR, float g, float* __restrict mass, float* __restrict momL,
                  float* __restrict momR, float* __restrict tang, int n) {
    for (int i = 0; i < n; ++i) {
        // Plain floats and selects (not Cell copies), which the vectoriser can follow.
        const float h0 = hL[i], un0 = unL[i], ut0 = utL[i], z0 = zL[i];
        const float h1 = hR[i], un1 = unR[i], ut1 = utR[i], z1 = zR[i];
        const float wallLeft = wallL[i], wallRight = wallR[i]; // as floats: one mask width in the loop
        const bool wl = wallLeft != 0, wr = wallRight != 0;
        const Cell l{wl ? h1 : h0, wl ? -un1 : un0, wl ? ut1 : ut0, wl ? z1 : z0};
        const Cell r{wr ? h0 : h1, wr ? -un0 : un1, wr ? ut0 : ut1, wr ? z0 : z1};
        const FaceFlux f = faceFlux(l, r, g);
        const bool walls = wl & wr, dry = (h0 <= 0) & (h1 <= 0);
        mass[i] = walls ? 0.0f : dry ? 0.0f : f.mass;
        momL[i] = walls ? 0.0f : dry ? 0.0f : f.momL;
        momR[i] = walls ? 0.0f : dry ? 0.0f : f.momR;
        tang[i] = walls ? 0.0f : dry ? 0.0f : f.tang;
    }
}

// Velocities of a row (0 where dry).
CT_VECTOR_CLONES
void velocityRow(const float* __restrict h, const float* __restrict hu, const float* __restrict hv, float dry,
                 float* __restrict u, float* __restrict v, int nx) {
    for (int i = 0; i < nx; ++i) {
        const float d = h[i], qx = hu[i], qy = hv[i];
        u[i] = d > dry ? qx / d : 0.0f;
        v[i] = d > dry ? qy / d : 0.0f;
    }
}

// The finite-volume update of one row from its face fluxes: x-faces 0 … nx (face i west of
// cell i), the y-faces below (s) and above (nn) the row.
CT_VECTOR_CLONES
void hllcUpdateRow(const float* __restrict h, const float* __restrict hu, const float* __restrict hv,
                   const uint8_t* __restrict wall, const float* __restrict xMass, const float* __restrict xMomL,
                   const float* __restrict xMomR, const float* __restrict xTang, const float* __restrict sMass,
                   const float* __restrict sMomR, const float* __restrict sTang, const float* __restrict nMass,
                   const float* __restrict nMomL, const float* __restrict nTang, float k, float* __restrict hNew,
                   float* __restrict comp, float* __restrict huNew, float* __restrict hvNew, int nx) {
    for (int i = 0; i < nx; ++i) {
        const bool open = wall[i] == 0;
        float d = h[i], c = comp[i];
        const float c0 = c;
        addDepth(d, c, -k * (xMass[i + 1] - xMass[i] + nMass[i] - sMass[i]));
        hNew[i] = open ? d : 0.0f;
        comp[i] = open ? c : c0;
        huNew[i] = open ? hu[i] - k * (xMomL[i + 1] - xMomR[i] + nTang[i] - sTang[i]) : 0.0f;
        hvNew[i] = open ? hv[i] - k * (xTang[i + 1] - xTang[i] + nMomL[i] - sMomR[i]) : 0.0f;
    }
}

// Manning friction, semi-implicit, over one row: momentum / (1 + dt g n² |u| / h^(4/3)).
CT_VECTOR_CLONES
void frictionRow(const float* __restrict d, const float* __restrict n, float gdt, float dry, float* __restrict qx,
                 float* __restrict qy, int nx) {
    for (int i = 0; i < nx; ++i) {
        const float depth = d[i], a = qx[i], b = qy[i], manning = n[i];
        const float speed = std::sqrt(a * a + b * b) / depth;
        const float denom = 1.0f + gdt * manning * manning * speed / (depth * fastCbrt(depth));
        const bool wet = depth > dry;
        qx[i] = wet ? a / denom : 0.0f;
        qy[i] = wet ? b / denom : 0.0f;
    }
}

// Scratch rows for the row loops, one buffer per thread, kept from step to step: once each
// worker thread has run a step, a step allocates nothing. Valid until the calling loop body
// returns (no body runs another one inside it).
float* scratchRows(size_t floats) {
    thread_local std::vector<float> buffer;
    if (buffer.size() < floats) buffer.resize(floats);
    return buffer.data();
}

double interpolate(const std::vector<double>& ts, const std::vector<double>& vs, double t) {
    if (ts.empty()) return 0;
    if (t <= ts.front()) return vs.front();
    if (t >= ts.back()) return vs.back();
    auto it = std::upper_bound(ts.begin(), ts.end(), t);
    size_t k = static_cast<size_t>(it - ts.begin());
    double a = (t - ts[k - 1]) / (ts[k] - ts[k - 1]);
    return vs[k - 1] + a * (vs[k] - vs[k - 1]);
}

// "cell (i, j) at E …, N …" for messages a user can find in QGIS.
std::string where(const GridSpec& g, size_t c) {
    size_t i = c % static_cast<size_t>(g.nx), j = c / static_cast<size_t>(g.nx);
    return fmt::format("cell ({}, {}) at E {:.1f}, N {:.1f}", i, j, g.worldX + g.x0 + (i + 0.5) * g.dx,
                       g.worldY + g.y0 + (j + 0.5) * g.dx);
}

} // namespace

double MassBalance::relativeError() const {
    double scale = std::max({std::abs(initialM3 + rainM3 + inflowM3), std::abs(storageM3), 1e-12});
    return error() / scale;
}

FloodSolver::FloodSolver(const GridSpec& grid, const SolverOptions& options) : spec(grid), opt(options) {
    if (spec.nx < 1 || spec.ny < 1 || !(spec.dx > 0))
        throw InputError(fmt::format("invalid flood grid {} × {} cells of {} m", spec.nx, spec.ny, spec.dx));
    const size_t cells = static_cast<size_t>(spec.nx) * spec.ny;
    z.assign(cells, 0.0f);
    n.assign(cells, 0.03f);
    loss.assign(cells, 0.0f);
    h.assign(cells, 0.0f);
    hu.assign(cells, 0.0f);
    hv.assign(cells, 0.0f);
    wall.assign(cells, 0);
}

void FloodSolver::setGreenAmpt(std::vector<float> ks, std::vector<float> psiDt) {
    if (ks.size() != h.size() || psiDt.size() != h.size())
        throw InputError("flood solver: Green-Ampt fields have the wrong size");
    gaKs = std::move(ks);
    gaPsiDt = std::move(psiDt);
    infiltrated.assign(h.size(), 0.0f);
}

void FloodSolver::setRainFields(std::vector<double> timesS, RainFields fieldsMps) {
    if (!fieldsMps || timesS.size() != fieldsMps->size() || !std::is_sorted(timesS.begin(), timesS.end()))
        throw InputError("flood solver: rain fields need one sorted time each");
    for (const auto& f : *fieldsMps)
        if (f.size() != h.size()) throw InputError("flood solver: a rain field has the wrong size");
    rainFieldTimes = std::move(timesS);
    rainFields = std::move(fieldsMps);
    rainBreaks.insert(rainBreaks.end(), rainFieldTimes.begin(), rainFieldTimes.end());
    std::sort(rainBreaks.begin(), rainBreaks.end());
}

void FloodSolver::setScsCurveNumber(std::vector<float> retentionM, std::vector<float> share, double iaRatio) {
    if (retentionM.size() != h.size() || share.size() != h.size())
        throw InputError("flood solver: SCS Curve Number fields have the wrong size");
    scsS = std::move(retentionM);
    scsShareV = std::move(share);
    scsIa = iaRatio;
    scsRain.assign(h.size(), 0.0);
    scsLost.assign(h.size(), 0.0);
}

void FloodSolver::addInflow(PointInflow inflow) {
    if (inflow.i < 0 || inflow.j < 0 || inflow.i >= spec.nx || inflow.j >= spec.ny)
        throw InputError(fmt::format("inflow '{}' at cell ({}, {}) lies outside the {} × {} grid", inflow.name,
                                     inflow.i, inflow.j, spec.nx, spec.ny),
                         {}, "move the inflow point inside the terrain");
    if (inflow.timesS.size() != inflow.flowM3s.size() || inflow.timesS.empty())
        throw InputError("inflow '" + inflow.name + "' needs as many flows as times, at least one");
    if (!std::is_sorted(inflow.timesS.begin(), inflow.timesS.end()))
        throw InputError("inflow '" + inflow.name + "': hydrograph times are not sorted", {},
                         "list the (time, flow) pairs in increasing time");
    for (double q : inflow.flowM3s)
        if (!std::isfinite(q)) throw InputError("inflow '" + inflow.name + "': flow is not a number");
    inflows.push_back(std::move(inflow));
}

void FloodSolver::initialize() {
    const size_t cells = h.size();
    for (auto* field : {&z, &n, &loss, &h, &hu, &hv})
        if (field->size() != cells) throw InputError("flood solver: a field has the wrong size");
    if (wall.size() != cells || (!rainScale.empty() && rainScale.size() != cells))
        throw InputError("flood solver: a field has the wrong size");
    for (size_t c = 0; c < cells; ++c) {
        if (!std::isfinite(z[c]))
            throw InputError("terrain has no height (nodata) at " + where(spec, c) + " inside the flood domain",
                             {}, "fill the DEM's holes (gdal_fillnodata) or clip the domain");
        if (wall[c]) h[c] = hu[c] = hv[c] = 0;
        if (h[c] < 0 || !std::isfinite(h[c])) throw InputError("initial water depth is negative or not a number");
    }
    hComp.assign(cells, 0.0f);
    if (opt.scheme == Scheme::Hllc) {
        hNew.resize(cells);
        huNew.resize(cells);
        hvNew.resize(cells);
        if (opt.secondOrder) {
            h1.resize(cells);
            hu1.resize(cells);
            hv1.resize(cells);
        }
    }
    outflowFactor.assign(cells, 1.0f);
    rowSum.assign(static_cast<size_t>(spec.ny), 0.0);
    rowRain.assign(static_cast<size_t>(spec.ny), 0.0);
    ones.assign(static_cast<size_t>(spec.nx), 1.0f);
    if (opt.scheme == Scheme::Inertial) {
        qx.assign(static_cast<size_t>(spec.nx + 1) * spec.ny, 0.0f);
        qy.assign(static_cast<size_t>(spec.nx) * (spec.ny + 1), 0.0f);
        qyOld.assign(qy.size(), 0.0f);
    }
    hMax = h;
    speedMax.assign(cells, 0.0f);
    hazardMax.assign(cells, 0.0f);
    arrival.assign(cells, std::numeric_limits<float>::quiet_NaN());
    for (size_t c = 0; c < cells; ++c)
        if (h[c] >= kArrivalDepthM) arrival[c] = 0;
    double storage = 0;
    for (float d : h) storage += d;
    balance = MassBalance{};
    balance.initialM3 = storage * spec.dx * spec.dx;
    prepared = true;
}

double FloodSolver::velocity(size_t c) const {
    if (h[c] <= opt.dryDepthM) return 0;
    return std::hypot(hu[c], hv[c]) / h[c];
}

double FloodSolver::computeDt() const {
    const int nx = spec.nx;
    const bool hllc = opt.scheme == Scheme::Hllc;
    const float g = static_cast<float>(opt.g), dry = static_cast<float>(opt.dryDepthM);
    struct Max {
        float value = 0;
        int row = -1;    // the lowest row holding the maximum
        int badRow = -1; // the lowest row with a value that is not finite
    };
    // The characteristic speed that limits the step (HLLC) or the deepest water (inertial).
    Max m = tbb::parallel_reduce(
        tbb::blocked_range<int>(0, spec.ny, kRowGrain), Max{},
        [&](const tbb::blocked_range<int>& r, Max acc) {
            for (int j = r.begin(); j < r.end(); ++j) {
                const size_t c = index(0, j);
                RowLimit row = stepLimitRow(&h[c], &hu[c], &hv[c], hllc, g, dry, nx);
                if (row.finite != 0 && acc.badRow < 0) acc.badRow = j; // NaN != 0 too
                if (row.value > acc.value) acc = {row.value, j, acc.badRow};
            }
            return acc;
        },
        [](const Max& a, const Max& b) {
            Max r = a.value > b.value || (a.value == b.value && a.row <= b.row) ? a : b;
            r.badRow = a.badRow < 0 ? b.badRow : b.badRow < 0 ? a.badRow : std::min(a.badRow, b.badRow);
            return r;
        });
    // The cell to name in a message: the first one in the row found.
    auto cellIn = [&](int j, auto&& test) {
        for (int i = 0; i < nx; ++i)
            if (test(index(i, j))) return index(i, j);
        return index(0, j);
    };
    if (m.badRow >= 0) {
        size_t bad = cellIn(m.badRow, [&](size_t c) {
            return !std::isfinite(h[c]) || !std::isfinite(hu[c]) || !std::isfinite(hv[c]);
        });
        throw InputError(fmt::format("the flood solution became unstable (not a number) at {} after {:.1f} s",
                                     where(spec, bad), t),
                         {}, "check for extreme inflows or bed steps; try the hllc scheme or a finer time step");
    }
    if (m.value <= 0) return opt.maxDtS;
    double dt = opt.scheme == Scheme::Hllc ? opt.cfl * spec.dx / m.value
                                           : opt.inertialAlpha * spec.dx / std::sqrt(opt.g * m.value);
    if (dt < opt.minDtS) {
        size_t c = cellIn(m.row, [&](size_t cell) {
            const float d = h[cell];
            const float v = hllc ? std::max(std::abs(hu[cell]), std::abs(hv[cell])) / d + std::sqrt(g * d) : d;
            return d > dry && v == m.value;
        });
        throw InputError(fmt::format("time step collapsed to {:.2g} s at {:.1f} s: {} has depth {:.3g} m "
                                     "and speed {:.3g} m/s",
                                     dt, t, where(spec, c), h[c], velocity(c)),
                         {}, "look for an inflow into a tiny or blocked area, or a steep wall in the terrain there");
    }
    return std::min(dt, opt.maxDtS);
}

double FloodSolver::step(double untilS) {
    if (!prepared) initialize();
    double dt = std::min(computeDt(), untilS - t);
    auto nextBreak = std::upper_bound(rainBreaks.begin(), rainBreaks.end(), t + 1e-9);
    if (nextBreak != rainBreaks.end()) dt = std::min(dt, *nextBreak - t);
    if (dt <= 0) return 0;
    if (opt.scheme == Scheme::Inertial) stepInertial(dt);
    else if (opt.secondOrder) stepHllcSecondOrder(dt);
    else stepHllc(dt);
    applySources(dt);
    t += dt;
    dtLast = dt;
    ++stepCount;
    updateMaxima();
    return dt;
}

void FloodSolver::advanceTo(double untilS, const std::function<void(const FloodSolver&)>& onStep) {
    while (t < untilS - 1e-9) {
        if (step(untilS) <= 0) break;
        if (onStep) onStep(*this);
    }
}

void FloodSolver::stepHllc(double dtIn) {
    const int nx = spec.nx, ny = spec.ny;
    const size_t w = static_cast<size_t>(nx);
    const float g = static_cast<float>(opt.g), dry = static_cast<float>(opt.dryDepthM);
    const float k = static_cast<float>(dtIn / spec.dx);

    // Row blocks in parallel; each block computes the y-faces it needs (the face between two
    // blocks twice, identically), so no cell is written by two threads and the result does not
    // depend on how rows are split. Velocities are computed once per cell and row.
    forRows(ny, [&](int j0, int j1) {
        // Face fluxes below, above and along the row, and velocities of three rows: 18 rows of
        // this thread's scratch.
        struct Faces {
            float *mass, *momL, *momR, *tang;
            void set(size_t i, const FaceFlux& f) {
                mass[i] = f.mass;
                momL[i] = f.momL;
                momR[i] = f.momR;
                tang[i] = f.tang;
            }
        };
        float* scratch = scratchRows(18 * (w + 1));
        auto slot = [&](int k) { return scratch + static_cast<size_t>(k) * (w + 1); };
        Faces below{slot(0), slot(1), slot(2), slot(3)}, above{slot(4), slot(5), slot(6), slot(7)},
            x{slot(8), slot(9), slot(10), slot(11)};
        float *uBelow = slot(12), *vBelow = slot(13), *uRow = slot(14), *vRow = slot(15), *uAbove = slot(16),
              *vAbove = slot(17);
        auto fillVelocities = [&](int j, float* u, float* v) {
            if (j < 0 || j >= ny) return;
            const size_t c = index(0, j);
            velocityRow(&h[c], &hu[c], &hv[c], dry, u, v, nx);
        };
        // y-faces between rows j−1 (below) and j, in the +y normal frame (un = v, ut = u).
        auto yFaces = [&](int j, const float* ub, const float* vb, const float* ua, const float* va, Faces& out) {
            if (j == 0 || j == ny) {
                for (int i = 0; i < nx; ++i) {
                    const size_t ii = static_cast<size_t>(i);
                    FaceFlux f;
                    if (j == 0 && !wall[index(i, 0)]) {
                        const size_t c = index(i, 0);
                        Cell in{h[c], va[ii], ua[ii], z[c]};
                        Cell o = ghost({in.h, -in.un, in.ut, in.z}, opt.south);
                        o.un = -o.un; // ghost() works in the outward normal; back to +y
                        f = faceFlux(o, in, g);
                    } else if (j == ny && !wall[index(i, ny - 1)]) {
                        const size_t c = index(i, ny - 1);
                        Cell in{h[c], vb[ii], ub[ii], z[c]};
                        f = faceFlux(in, ghost(in, opt.north), g);
                    }
                    out.set(ii, f);
                }
                return;
            }
            const size_t a = index(0, j - 1), b = index(0, j);
            hllcFacesRow(&h[a], vb, ub, &z[a], &wall[a], &h[b], va, ua, &z[b], &wall[b], g, out.mass, out.momL,
                         out.momR, out.tang, nx);
        };
        fillVelocities(j0 - 1, uBelow, vBelow);
        fillVelocities(j0, uRow, vRow);
        yFaces(j0, uBelow, vBelow, uRow, vRow, below);
        for (int j = j0; j < j1; ++j) {
            fillVelocities(j + 1, uAbove, vAbove);
            yFaces(j + 1, uRow, vRow, uAbove, vAbove, above);
            // x-faces of this row: face i lies west of cell i; the edges by their boundaries.
            const size_t c = index(0, j);
            auto xCell = [&](int i) {
                return Cell{h[c + i], uRow[static_cast<size_t>(i)], vRow[static_cast<size_t>(i)], z[c + i]};
            };
            FaceFlux westEdge, eastEdge;
            if (!wall[c]) {
                Cell in = xCell(0);
                Cell o = ghost({in.h, -in.un, in.ut, in.z}, opt.west);
                o.un = -o.un;
                westEdge = faceFlux(o, in, g);
            }
            if (!wall[c + w - 1]) eastEdge = faceFlux(xCell(nx - 1), ghost(xCell(nx - 1), opt.east), g);
            x.set(0, westEdge);
            x.set(w, eastEdge);
            if (nx > 1)
                hllcFacesRow(&h[c], uRow, vRow, &z[c], &wall[c], &h[c + 1], uRow + 1, vRow + 1, &z[c + 1],
                             &wall[c + 1], g, x.mass + 1, x.momL + 1, x.momR + 1, x.tang + 1, nx - 1);
            hllcUpdateRow(&h[c], &hu[c], &hv[c], &wall[c], x.mass, x.momL, x.momR, x.tang, below.mass, below.momR,
                          below.tang, above.mass, above.momL, above.tang, k, &hNew[c], &hComp[c], &huNew[c],
                          &hvNew[c], nx);
            double out = 0; // volume leaving through the domain edges in this row, per dt·dx
            if (opt.west.kind != BoundaryKind::Closed) out -= westEdge.mass;
            if (opt.east.kind != BoundaryKind::Closed) out += eastEdge.mass;
            if (j == 0 && opt.south.kind != BoundaryKind::Closed)
                for (size_t i = 0; i < w; ++i) out -= below.mass[i];
            if (j == ny - 1 && opt.north.kind != BoundaryKind::Closed)
                for (size_t i = 0; i < w; ++i) out += above.mass[i];
            rowSum[static_cast<size_t>(j)] = out;
            std::swap(below, above);
            std::swap(uBelow, uRow);
            std::swap(vBelow, vRow);
            std::swap(uRow, uAbove);
            std::swap(vRow, vAbove);
        }
    });
    double outflow = 0;
    for (double r : rowSum) outflow += r;
    balance.outflowM3 += outflow * dtIn * spec.dx;

    friction(hNew, huNew, hvNew, dtIn);
    h.swap(hNew);
    hu.swap(huNew);
    hv.swap(hvNew);
}

// Manning friction, semi-implicit (frictionRow), row by row.
void FloodSolver::friction(std::vector<float>& d, std::vector<float>& qxc, std::vector<float>& qyc, double dtIn) {
    const float gdt = static_cast<float>(opt.g * dtIn), dry = static_cast<float>(opt.dryDepthM);
    forRows(spec.ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            const size_t c = index(0, j);
            frictionRow(&d[c], &n[c], gdt, dry, &qxc[c], &qyc[c], spec.nx);
        }
    });
}

namespace {
inline float minmod(float a, float b) {
    if (a * b <= 0) return 0.0f;
    return std::abs(a) < std::abs(b) ? a : b;
}
} // namespace

double FloodSolver::muscleStage(const std::vector<float>& sh, const std::vector<float>& shu,
                                const std::vector<float>& shv, std::vector<float>& dh, std::vector<float>& dhu,
                                std::vector<float>& dhv, double dtIn) {
    const int nx = spec.nx, ny = spec.ny;
    const float g = static_cast<float>(opt.g), dry = static_cast<float>(opt.dryDepthM);
    const float k = static_cast<float>(dtIn / spec.dx);
    // Reconstruction once per stage: cell values, then limited half-slopes (zero next to walls
    // and edges), so each face only combines them.
    rec.resize(sh.size());
    forRows(ny, [&](int j0, int j1) {
        for (size_t c = index(0, j0); c < index(0, j1); ++c) {
            float d = sh[c];
            bool wet = d > dry;
            rec[c].h = d;
            rec[c].eta = d + z[c];
            rec[c].u = wet ? shu[c] / d : 0.0f;
            rec[c].v = wet ? shv[c] / d : 0.0f;
        }
    });
    auto usable = [&](int i, int j) { return i >= 0 && j >= 0 && i < nx && j < ny && !wall[index(i, j)]; };
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j)
            for (int i = 0; i < nx; ++i) {
                Reconstruction& r = rec[index(i, j)];
                for (int dir = 0; dir < 2; ++dir) {
                    int di = dir == 0, dj = dir == 1;
                    float* out = dir == 0 ? r.sx : r.sy;
                    if (!usable(i - di, j - dj) || !usable(i + di, j + dj)) {
                        out[0] = out[1] = out[2] = out[3] = 0;
                        continue;
                    }
                    const Reconstruction &m = rec[index(i - di, j - dj)], &p = rec[index(i + di, j + dj)];
                    out[0] = 0.5f * minmod(r.h - m.h, p.h - r.h);
                    out[1] = 0.5f * minmod(r.eta - m.eta, p.eta - r.eta);
                    out[2] = 0.5f * minmod(r.u - m.u, p.u - r.u);
                    out[3] = 0.5f * minmod(r.v - m.v, p.v - r.v);
                }
            }
    });
    // The state of cell (i, j) at its face on side s (−1 west/south, +1 east/north), in the
    // face's normal frame; the bed at the face is η − h there (Audusse et al. 2004).
    auto faceState = [&](int i, int j, int dir, int side) {
        const Reconstruction& r = rec[index(i, j)];
        const float* sl = dir == 0 ? r.sx : r.sy;
        float hf = std::max(0.0f, r.h + side * sl[0]);
        float etaf = r.eta + side * sl[1];
        float uf = r.u + side * sl[2], vf = r.v + side * sl[3];
        return dir == 0 ? Cell{hf, uf, vf, etaf - hf} : Cell{hf, vf, uf, etaf - hf};
    };
    // Flux through the face between (i−di, j−dj) and (i, j); edges and walls as in first order.
    auto face = [&](int i, int j, int dir, const Boundary& low, const Boundary& high) {
        int di = dir == 0, dj = dir == 1;
        bool inA = (dir == 0 ? i > 0 : j > 0), inB = (dir == 0 ? i < nx : j < ny);
        bool wa = inA && wall[index(i - di, j - dj)], wb = inB && wall[index(i, j)];
        if (!inA || !inB) {
            if (!inA && !wb) { // low edge: the cell (i, j) is inside
                Cell in = faceState(i, j, dir, -1);
                Cell o = ghost({in.h, -in.un, in.ut, in.z}, low);
                o.un = -o.un;
                return faceFlux(o, in, g);
            }
            if (!inB && !wa) {
                Cell in = faceState(i - di, j - dj, dir, +1);
                return faceFlux(in, ghost(in, high), g);
            }
            return FaceFlux{};
        }
        if (wa && wb) return FaceFlux{};
        Cell L = wa ? Cell{} : faceState(i - di, j - dj, dir, +1);
        Cell R = wb ? Cell{} : faceState(i, j, dir, -1);
        if (wa) L = {R.h, -R.un, R.ut, R.z};
        if (wb) R = {L.h, -L.un, L.ut, L.z};
        if (L.h <= 0 && R.h <= 0) return FaceFlux{};
        return faceFlux(L, R, g);
    };
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            double out = 0;
            FaceFlux west = face(0, j, 0, opt.west, opt.east);
            if (opt.west.kind != BoundaryKind::Closed) out -= west.mass;
            for (int i = 0; i < nx; ++i) {
                FaceFlux east = face(i + 1, j, 0, opt.west, opt.east);
                FaceFlux s = face(i, j, 1, opt.south, opt.north), nn = face(i, j + 1, 1, opt.south, opt.north);
                if (j == 0 && opt.south.kind != BoundaryKind::Closed) out -= s.mass;
                if (j == ny - 1 && opt.north.kind != BoundaryKind::Closed) out += nn.mass;
                size_t c = index(i, j);
                if (wall[c]) {
                    dh[c] = dhu[c] = dhv[c] = 0;
                } else {
                    // Centred bed source −g (h_W + h_E)/2 (z_E − z_W)/dx, with face values, so a
                    // lake at rest stays at rest.
                    Cell xw = faceState(i, j, 0, -1), xe = faceState(i, j, 0, +1);
                    Cell ys = faceState(i, j, 1, -1), yn = faceState(i, j, 1, +1);
                    float srcX = -0.5f * g * (xw.h + xe.h) * (xe.z - xw.z);
                    float srcY = -0.5f * g * (ys.h + yn.h) * (yn.z - ys.z);
                    dh[c] = std::max(0.0f, sh[c] - k * (east.mass - west.mass + nn.mass - s.mass));
                    dhu[c] = shu[c] - k * (east.momL - west.momR + nn.tang - s.tang - srcX);
                    dhv[c] = shv[c] - k * (east.tang - west.tang + nn.momL - s.momR - srcY);
                }
                west = east;
            }
            if (opt.east.kind != BoundaryKind::Closed) out += west.mass;
            rowSum[static_cast<size_t>(j)] = out;
        }
    });
    double outflow = 0;
    for (double r : rowSum) outflow += r;
    return outflow;
}

// Heun: U1 = U + dt L(U); U2 = U1 + dt L(U1); U_new = (U + U2) / 2, friction after each stage.
void FloodSolver::stepHllcSecondOrder(double dtIn) {
    double out1 = muscleStage(h, hu, hv, h1, hu1, hv1, dtIn);
    friction(h1, hu1, hv1, dtIn);
    double out2 = muscleStage(h1, hu1, hv1, hNew, huNew, hvNew, dtIn);
    friction(hNew, huNew, hvNew, dtIn);
    forRows(spec.ny, [&](int j0, int j1) {
        for (size_t c = index(0, j0); c < index(0, j1); ++c) {
            addDepth(h[c], hComp[c], 0.5f * (hNew[c] - h[c]));
            hu[c] = 0.5f * (hu[c] + huNew[c]);
            hv[c] = 0.5f * (hv[c] + hvNew[c]);
            if (h[c] <= opt.dryDepthM) hu[c] = hv[c] = 0;
        }
    });
    balance.outflowM3 += 0.5 * (out1 + out2) * dtIn * spec.dx;
}

void FloodSolver::stepInertial(double dtIn) {
    const int nx = spec.nx, ny = spec.ny;
    const size_t w = static_cast<size_t>(nx);
    const InertialConstants k{static_cast<float>(opt.g), static_cast<float>(dtIn),
                              static_cast<float>(spec.dx), static_cast<float>(opt.inertialTheta),
                              static_cast<float>(opt.inertialFlowDepthM)};
    const float dtOverDx = k.dt / k.dx;
    // A boundary face: inside cell c, outward sign s (+1 east/north, −1 west/south).
    auto boundaryFlux = [&](float q, size_t c, float s, const Boundary& b) {
        if (wall[c]) return 0.0f;
        switch (b.kind) {
        case BoundaryKind::Closed:
            return 0.0f;
        case BoundaryKind::Open: { // free outfall at critical depth
            float d = h[c];
            return d > k.flowMin ? s * d * std::sqrt(k.g * d) : 0.0f;
        }
        case BoundaryKind::Level: {
            float e = h[c] + z[c], lv = static_cast<float>(b.levelM);
            return s > 0 ? inertialFace(k, q, e, lv, z[c], n[c], q, q)
                         : inertialFace(k, q, lv, e, z[c], n[c], q, q);
        }
        }
        return 0.0f;
    };
    // Momentum: x-faces row by row (each row keeps a copy of its last faces for the weighting).
    forRows(ny, [&](int j0, int j1) {
        float* old = scratchRows(w + 1);
        for (int j = j0; j < j1; ++j) {
            float* row = qx.data() + static_cast<size_t>(j) * (w + 1);
            std::copy(row, row + w + 1, old);
            const size_t c = index(0, j);
            row[0] = boundaryFlux(old[0], c, -1, opt.west);
            row[w] = boundaryFlux(old[w], c + w - 1, +1, opt.east);
            inertialRowX(k, &h[c], &z[c], &n[c], &wall[c], old, row, nx);
        }
    });
    // y-faces: face row j lies between cell rows j−1 and j.
    qyOld.swap(qy); // qyOld: last step's values; qy is rewritten entirely below
    forRows(ny + 1, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            const size_t f = static_cast<size_t>(j) * w;
            if (j == 0 || j == ny) {
                for (int i = 0; i < nx; ++i)
                    qy[f + i] = j == 0 ? boundaryFlux(qyOld[f + i], index(i, 0), -1, opt.south)
                                       : boundaryFlux(qyOld[f + i], index(i, ny - 1), +1, opt.north);
                continue;
            }
            const size_t a = index(0, j - 1), b = index(0, j);
            const float* old = &qyOld[f];
            const float* prevOld = j > 1 ? old - w : old;
            const float* nextOld = j + 1 < ny ? old + w : old;
            const uint8_t* wallPrev = j > 1 ? &wall[a - w] : &wall[a];
            const uint8_t* wallNext = j + 1 < ny ? &wall[b + w] : &wall[b];
            inertialRowY(k, &h[a], &z[a], &n[a], &wall[a], &h[b], &z[b], &n[b], &wall[b], old, prevOld,
                         wallPrev, nextOld, wallNext, &qy[f], nx);
        }
    });
    // Outflow limiter: a cell cannot give more water than it holds; its outgoing faces are
    // scaled down together, which keeps depths non-negative and mass exactly conserved.
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            const size_t c = index(0, j);
            inertialOutflowRow(&h[c], &qx[static_cast<size_t>(j) * (w + 1)], &qy[c], &qy[c + w], dtOverDx,
                               &outflowFactor[c], nx);
        }
    });
    // Continuity with the limited faces, and cell-centred unit discharges for velocities and
    // output. The limited y-faces are written to qyOld, which then becomes qy.
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            const size_t c = index(0, j);
            float* row = &qx[static_cast<size_t>(j) * (w + 1)];
            const float* f = &outflowFactor[c];
            inertialContinuityRow(row, &qy[c], &qy[c + w], f, j > 0 ? f - w : ones.data(),
                                  j + 1 < ny ? f + w : ones.data(), &wall[c], dtOverDx, &h[c], &hComp[c],
                                  &hu[c], &hv[c], &qyOld[c], j + 1 == ny ? &qyOld[c + w] : nullptr, nx);
            double out = static_cast<double>(row[w]) - row[0];
            if (j == 0)
                for (int i = 0; i < nx; ++i)
                    out -= qyOld[static_cast<size_t>(i)];
            if (j == ny - 1)
                for (int i = 0; i < nx; ++i)
                    out += qyOld[c + w + i];
            rowSum[static_cast<size_t>(j)] = out;
        }
    });
    qy.swap(qyOld);
    double outflow = 0;
    for (double r : rowSum)
        outflow += r;
    balance.outflowM3 += outflow * dtIn * spec.dx;
}

void FloodSolver::applySources(double dt) {
    const int nx = spec.nx;
    const double area = spec.dx * spec.dx;
    float rainDepth = rain ? static_cast<float>(std::max(0.0, rain(t + 0.5 * dt)) * dt) : 0.0f;
    // Rain fields (radar): the one of the interval this step lies in (steps do not cross one).
    const float* field = nullptr;
    if (rainFields && !rainFields->empty() && rainDepth > 0) {
        auto it = std::upper_bound(rainFieldTimes.begin(), rainFieldTimes.end(), t + 0.5 * dt);
        if (it == rainFieldTimes.begin()) rainDepth = 0;
        else field = (*rainFields)[static_cast<size_t>(it - rainFieldTimes.begin() - 1)].data();
    }
    // Rain and losses per row, summed in row order afterwards (deterministic).
    const float* scale = rainScale.empty() ? nullptr : rainScale.data();
    forRows(spec.ny, [&](int j0, int j1) {
        float* amounts = scratchRows(static_cast<size_t>(nx));
        for (int j = j0; j < j1; ++j) {
            const size_t row = index(0, j);
            double rained = 0, lost = 0;
            if (rainDepth > 0) {
                rainRow(&wall[row], scale ? scale + row : ones.data(), field ? field + row : ones.data(), rainDepth,
                        &h[row], &hComp[row], amounts, nx);
                rained = sumRow(amounts, nx);
            }
            if (anyPositive(&loss[row], nx)) { // most rows of most runs have no loss rate
                lossRow(&wall[row], &loss[row], dt, &h[row], &hComp[row], amounts, nx);
                lost = sumRow(amounts, nx);
            }
            if (!gaKs.empty() || !scsS.empty())
                for (size_t c = row; c < row + static_cast<size_t>(nx); ++c) {
                    if (wall[c]) continue;
                    float r = 0;
                    if (rainDepth > 0) {
                        r = scale ? rainDepth * scale[c] : rainDepth;
                        if (field) r *= field[c];
                    }
                    if (!gaKs.empty() && gaKs[c] > 0 && h[c] > 0) {
                        // Capacity at the start of the step; F starts at 1 mm so f stays finite.
                        float f = gaKs[c] * (1.0f + gaPsiDt[c] / std::max(infiltrated[c], 1e-3f));
                        float l = std::min(h[c] - hComp[c], static_cast<float>(f * dt));
                        addDepth(h[c], hComp[c], -l);
                        infiltrated[c] += l;
                        lost += l;
                    }
                    if (!scsS.empty()) {
                        // Curve Number: the loss so far is to be share · (P − Q(P)) for the rain P so far.
                        scsRain[c] += r;
                        const double p = scsRain[c];
                        const double due = scsShareV[c] * (p - scsRunoffM(p, scsS[c], scsIa)) - scsLost[c];
                        if (due > 0 && h[c] > 0) {
                            float l = std::min(h[c] - hComp[c], static_cast<float>(due));
                            addDepth(h[c], hComp[c], -l);
                            scsLost[c] += l;
                            lost += l;
                        }
                    }
                }
            rowRain[static_cast<size_t>(j)] = rained;
            rowSum[static_cast<size_t>(j)] = lost;
        }
    });
    double rained = 0, lost = 0;
    for (int j = 0; j < spec.ny; ++j) {
        rained += rowRain[static_cast<size_t>(j)];
        lost += rowSum[static_cast<size_t>(j)];
    }
    balance.rainM3 += rained * area;
    balance.lossM3 += lost * area;
    for (const auto& in : inflows) {
        size_t c = index(in.i, in.j);
        double volume = interpolate(in.timesS, in.flowM3s, t + 0.5 * dt) * dt;
        if (wall[c]) continue;
        volume = std::max(volume, -static_cast<double>(h[c] - hComp[c]) * area); // abstraction: what is there
        addDepth(h[c], hComp[c], static_cast<float>(volume / area));
        balance.inflowM3 += volume;
    }
}

void FloodSolver::updateMaxima() {
    const float tNow = static_cast<float>(t), dry = static_cast<float>(opt.dryDepthM);
    forRows(spec.ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            const size_t c = index(0, j);
            maximaRow(&h[c], &hu[c], &hv[c], dry, tNow, &hMax[c], &speedMax[c], &hazardMax[c], &arrival[c], spec.nx);
        }
    });
}

size_t FloodSolver::wetCells(double thresholdM) const {
    size_t n = 0;
    for (float d : h) n += d >= thresholdM ? 1 : 0;
    return n;
}

MassBalance FloodSolver::massBalance() const {
    MassBalance b = balance;
    double storage = 0;
    for (size_t c = 0; c < h.size(); ++c) storage += static_cast<double>(h[c]) - (prepared ? hComp[c] : 0.0f);
    if (!prepared) b.initialM3 = storage * spec.dx * spec.dx;
    b.storageM3 = storage * spec.dx * spec.dx;
    return b;
}

} // namespace ct::flood
