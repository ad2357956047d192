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
// gets its own pressure correction, which keeps a lake at rest exactly at rest.
inline FaceFlux faceFlux(const Cell& L, const Cell& R, float g) {
    const float zf = std::max(L.z, R.z);
    const float hl = std::max(0.0f, L.h + L.z - zf), hr = std::max(0.0f, R.h + R.z - zf);
    FaceFlux f;
    float fMass = 0, fMom = 0, fTang = 0;
    if (hl > 0 || hr > 0) {
        const float cl = std::sqrt(g * hl), cr = std::sqrt(g * hr);
        float sl, sr;
        if (hl <= 0) {
            sl = R.un - 2 * cr;
            sr = R.un + cr;
        } else if (hr <= 0) {
            sl = L.un - cl;
            sr = L.un + 2 * cl;
        } else {
            const float us = 0.5f * (L.un + R.un) + cl - cr;
            const float cs = 0.5f * (cl + cr) + 0.25f * (L.un - R.un);
            sl = std::min(L.un - cl, us - cs);
            sr = std::max(R.un + cr, us + cs);
        }
        const float fmL = hl * L.un, fmR = hr * R.un;
        const float fpL = hl * L.un * L.un + 0.5f * g * hl * hl, fpR = hr * R.un * R.un + 0.5f * g * hr * hr;
        if (sl >= 0) {
            fMass = fmL;
            fMom = fpL;
            fTang = fmL * L.ut;
        } else if (sr <= 0) {
            fMass = fmR;
            fMom = fpR;
            fTang = fmR * R.ut;
        } else {
            const float inv = 1.0f / (sr - sl);
            fMass = (sr * fmL - sl * fmR + sl * sr * (hr - hl)) * inv;
            fMom = (sr * fpL - sl * fpR + sl * sr * (hr * R.un - hl * L.un)) * inv;
            const float denom = hr * (R.un - sr) - hl * (L.un - sl);
            const float sm = denom != 0 ? (sl * hr * (R.un - sr) - sr * hl * (L.un - sl)) / denom : 0.0f;
            fTang = fMass * (sm >= 0 ? L.ut : R.ut);
        }
    }
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
// error about 1e-5), several times faster than libm's cbrtf.
inline float fastCbrt(float x) {
    if (x <= 0) return 0;
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits = bits / 3 + 709921077u;
    float y;
    std::memcpy(&y, &bits, sizeof y);
    y = y - (y * y * y - x) / (3 * y * y);
    y = y - (y * y * y - x) / (3 * y * y);
    return y;
}

// h += inc with Kahan compensation; a depth never goes below zero.
inline void addDepth(float& h, float& comp, float inc) {
    float y = inc - comp;
    float t = h + y;
    comp = (t - h) - y;
    if (t < 0) {
        t = 0;
        comp = 0;
    }
    h = t;
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
    struct Max {
        float value = 0;
        size_t where = 0;
        bool bad = false;
    };
    // The characteristic speed that limits the step (HLLC) or the deepest water (inertial).
    Max m = tbb::parallel_reduce(
        tbb::blocked_range<int>(0, spec.ny, kRowGrain), Max{},
        [&](const tbb::blocked_range<int>& r, Max acc) {
            for (int j = r.begin(); j < r.end(); ++j)
                for (int i = 0; i < nx; ++i) {
                    size_t c = index(i, j);
                    float d = h[c];
                    if (!std::isfinite(d) || !std::isfinite(hu[c]) || !std::isfinite(hv[c])) {
                        acc.bad = true;
                        acc.where = c;
                        continue;
                    }
                    if (d <= opt.dryDepthM) continue;
                    float s = opt.scheme == Scheme::Hllc
                                  ? std::max(std::abs(hu[c]), std::abs(hv[c])) / d + std::sqrt(static_cast<float>(opt.g) * d)
                                  : d;
                    if (s > acc.value) {
                        acc.value = s;
                        acc.where = c;
                    }
                }
            return acc;
        },
        [](const Max& a, const Max& b) {
            if (a.bad || b.bad) return a.bad ? a : b;
            return a.value > b.value || (a.value == b.value && a.where < b.where) ? a : b;
        });
    if (m.bad)
        throw InputError(fmt::format("the flood solution became unstable (not a number) at {} after {:.1f} s",
                                     where(spec, m.where), t),
                         {}, "check for extreme inflows or bed steps; try the hllc scheme or a finer time step");
    if (m.value <= 0) return opt.maxDtS;
    double dt = opt.scheme == Scheme::Hllc ? opt.cfl * spec.dx / m.value
                                           : opt.inertialAlpha * spec.dx / std::sqrt(opt.g * m.value);
    if (dt < opt.minDtS) {
        size_t c = m.where;
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
    const float g = static_cast<float>(opt.g), dry = static_cast<float>(opt.dryDepthM);
    const float k = static_cast<float>(dtIn / spec.dx);

    // Row blocks in parallel; each block computes the y-faces it needs (the face between two
    // blocks twice, identically), so no cell is written by two threads and the result does not
    // depend on how rows are split. Velocities are computed once per cell and row.
    forRows(ny, [&](int j0, int j1) {
        const size_t w = static_cast<size_t>(nx);
        std::vector<float> uBelow(w), vBelow(w), uRow(w), vRow(w), uAbove(w), vAbove(w);
        auto fillVelocities = [&](int j, std::vector<float>& u, std::vector<float>& v) {
            if (j < 0 || j >= ny) return;
            for (int i = 0; i < nx; ++i) {
                size_t c = index(i, j);
                float d = h[c];
                bool wet = d > dry;
                u[static_cast<size_t>(i)] = wet ? hu[c] / d : 0.0f;
                v[static_cast<size_t>(i)] = wet ? hv[c] / d : 0.0f;
            }
        };
        // y-face between rows j-1 (below) and j, for column i, in the +y normal frame.
        auto yFace = [&](int i, int j, const std::vector<float>& ub, const std::vector<float>& vb,
                         const std::vector<float>& ua, const std::vector<float>& va) {
            const size_t ii = static_cast<size_t>(i);
            if (j == 0) {
                size_t c = index(i, 0);
                if (wall[c]) return FaceFlux{};
                Cell in{h[c], va[ii], ua[ii], z[c]};
                Cell out = ghost({in.h, -in.un, in.ut, in.z}, opt.south);
                out.un = -out.un; // ghost() works in the outward normal; back to +y
                return faceFlux(out, in, g);
            }
            if (j == ny) {
                size_t c = index(i, ny - 1);
                if (wall[c]) return FaceFlux{};
                Cell in{h[c], vb[ii], ub[ii], z[c]};
                return faceFlux(in, ghost(in, opt.north), g);
            }
            size_t a = index(i, j - 1), b = index(i, j);
            if (wall[a] && wall[b]) return FaceFlux{};
            if (h[a] <= 0 && h[b] <= 0) return FaceFlux{}; // dry on both sides
            Cell L{h[a], vb[ii], ub[ii], z[a]}, R{h[b], va[ii], ua[ii], z[b]};
            if (wall[a]) L = {R.h, -R.un, R.ut, R.z}; // mirror: a wall reflects
            if (wall[b]) R = {L.h, -L.un, L.ut, L.z};
            return faceFlux(L, R, g);
        };
        std::vector<FaceFlux> below(w), above(w);
        fillVelocities(j0 - 1, uBelow, vBelow);
        fillVelocities(j0, uRow, vRow);
        for (int i = 0; i < nx; ++i) below[static_cast<size_t>(i)] = yFace(i, j0, uBelow, vBelow, uRow, vRow);
        for (int j = j0; j < j1; ++j) {
            fillVelocities(j + 1, uAbove, vAbove);
            for (int i = 0; i < nx; ++i) above[static_cast<size_t>(i)] = yFace(i, j + 1, uRow, vRow, uAbove, vAbove);
            // x-faces of this row, west to east, with the west face carried along.
            auto xCell = [&](int i) {
                size_t c = index(i, j);
                return Cell{h[c], uRow[static_cast<size_t>(i)], vRow[static_cast<size_t>(i)], z[c]};
            };
            double out = 0; // volume leaving through the domain edges in this row, per dt·dx
            FaceFlux west;
            {
                size_t c = index(0, j);
                if (!wall[c]) {
                    Cell in = xCell(0);
                    Cell o = ghost({in.h, -in.un, in.ut, in.z}, opt.west);
                    o.un = -o.un;
                    west = faceFlux(o, in, g);
                }
            }
            if (opt.west.kind != BoundaryKind::Closed) out -= west.mass;
            for (int i = 0; i < nx; ++i) {
                size_t c = index(i, j);
                FaceFlux east;
                if (i + 1 == nx) {
                    if (!wall[c]) east = faceFlux(xCell(i), ghost(xCell(i), opt.east), g);
                } else {
                    size_t e = c + 1;
                    if (!(wall[c] && wall[e]) && (h[c] > 0 || h[e] > 0)) {
                        Cell L = xCell(i), R = xCell(i + 1);
                        if (wall[c]) L = {R.h, -R.un, R.ut, R.z};
                        if (wall[e]) R = {L.h, -L.un, L.ut, L.z};
                        east = faceFlux(L, R, g);
                    }
                }
                const FaceFlux &s = below[static_cast<size_t>(i)], &nn = above[static_cast<size_t>(i)];
                if (wall[c]) {
                    hNew[c] = huNew[c] = hvNew[c] = 0;
                } else {
                    hNew[c] = h[c];
                    addDepth(hNew[c], hComp[c], -k * (east.mass - west.mass + nn.mass - s.mass));
                    huNew[c] = hu[c] - k * (east.momL - west.momR + nn.tang - s.tang);
                    hvNew[c] = hv[c] - k * (east.tang - west.tang + nn.momL - s.momR);
                }
                west = east;
            }
            if (opt.east.kind != BoundaryKind::Closed) out += west.mass;
            if (j == 0 && opt.south.kind != BoundaryKind::Closed)
                for (int i = 0; i < nx; ++i) out -= below[static_cast<size_t>(i)].mass;
            if (j == ny - 1 && opt.north.kind != BoundaryKind::Closed)
                for (int i = 0; i < nx; ++i) out += above[static_cast<size_t>(i)].mass;
            rowSum[static_cast<size_t>(j)] = out;
            std::swap(below, above);
            uBelow.swap(uRow);
            vBelow.swap(vRow);
            uRow.swap(uAbove);
            vRow.swap(vAbove);
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

// Manning friction, semi-implicit: momentum / (1 + dt g n² |u| / h^(4/3)).
void FloodSolver::friction(std::vector<float>& d, std::vector<float>& qxc, std::vector<float>& qyc, double dtIn) {
    const float gdt = static_cast<float>(opt.g * dtIn), dry = static_cast<float>(opt.dryDepthM);
    forRows(spec.ny, [&](int j0, int j1) {
        for (size_t c = index(0, j0); c < index(0, j1); ++c) {
            float depth = d[c];
            if (depth <= dry) {
                qxc[c] = qyc[c] = 0;
                continue;
            }
            float speed = std::sqrt(qxc[c] * qxc[c] + qyc[c] * qyc[c]) / depth;
            float denom = 1.0f + gdt * n[c] * n[c] * speed / (depth * fastCbrt(depth));
            qxc[c] /= denom;
            qyc[c] /= denom;
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
    const float g = static_cast<float>(opt.g), dt = static_cast<float>(dtIn), dx = static_cast<float>(spec.dx);
    const float flowMin = static_cast<float>(opt.inertialFlowDepthM);
    auto eta = [&](size_t c) { return h[c] + z[c]; };
    // q_new = (θ q + (1−θ)/2 (q_prev + q_next) − g h_f dt ∂η/∂x) / (1 + g dt n² |q| / h_f^(7/3))
    // (Bates et al. 2010; de Almeida et al. 2012), q_prev/q_next the neighbouring faces in line.
    const float theta = static_cast<float>(opt.inertialTheta);
    auto update = [&](float q, float etaL, float etaR, float zf, float nf, float qPrev, float qNext) {
        float hf = std::max(etaL, etaR) - zf;
        if (hf <= flowMin) return 0.0f;
        float qw = theta * q + 0.5f * (1 - theta) * (qPrev + qNext);
        float num = qw - g * hf * dt * (etaR - etaL) / dx;
        return num / (1.0f + g * dt * nf * nf * std::abs(q) / (hf * hf * fastCbrt(hf)));
    };
    // A boundary face: inside cell c, outward sign s (+1 east/north, −1 west/south).
    auto boundaryFlux = [&](float q, size_t c, float s, const Boundary& b) {
        if (wall[c]) return 0.0f;
        switch (b.kind) {
        case BoundaryKind::Closed: return 0.0f;
        case BoundaryKind::Open: { // free outfall at critical depth
            float d = h[c];
            return d > flowMin ? s * d * std::sqrt(g * d) : 0.0f;
        }
        case BoundaryKind::Level: {
            float e = eta(c), lv = static_cast<float>(b.levelM);
            return s > 0 ? update(q, e, lv, z[c], n[c], q, q) : update(q, lv, e, z[c], n[c], q, q);
        }
        }
        return 0.0f;
    };
    forRows(ny, [&](int j0, int j1) {
        std::vector<float> old(static_cast<size_t>(nx) + 1);
        for (int j = j0; j < j1; ++j) {
            size_t row = static_cast<size_t>(j) * (nx + 1);
            std::copy(qx.begin() + static_cast<long>(row), qx.begin() + static_cast<long>(row + nx + 1), old.begin());
            qx[row] = boundaryFlux(old[0], index(0, j), -1, opt.west);
            qx[row + nx] = boundaryFlux(old[static_cast<size_t>(nx)], index(nx - 1, j), +1, opt.east);
            for (int i = 1; i < nx; ++i) {
                size_t a = index(i - 1, j), b = index(i, j);
                const size_t k = static_cast<size_t>(i);
                // Neighbour faces on the domain edge or at a wall are no flow to average with.
                float prev = (i > 1 && !wall[index(i - 2, j)]) ? old[k - 1] : old[k];
                float next = (i + 1 < nx && !wall[index(i + 1, j)]) ? old[k + 1] : old[k];
                qx[row + k] = (wall[a] || wall[b]) ? 0.0f
                                                   : update(old[k], eta(a), eta(b), std::max(z[a], z[b]),
                                                            0.5f * (n[a] + n[b]), prev, next);
            }
        }
    });
    qyOld.swap(qy); // qyOld: last step's values; qy is rewritten entirely below
    forRows(ny + 1, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j)
            for (int i = 0; i < nx; ++i) {
                const size_t f = static_cast<size_t>(j) * nx + i;
                const float q = qyOld[f];
                if (j == 0) qy[f] = boundaryFlux(q, index(i, 0), -1, opt.south);
                else if (j == ny) qy[f] = boundaryFlux(q, index(i, ny - 1), +1, opt.north);
                else {
                    size_t a = index(i, j - 1), b = index(i, j);
                    float prev = (j > 1 && !wall[index(i, j - 2)]) ? qyOld[f - static_cast<size_t>(nx)] : q;
                    float next = (j + 1 < ny && !wall[index(i, j + 1)]) ? qyOld[f + static_cast<size_t>(nx)] : q;
                    qy[f] = (wall[a] || wall[b]) ? 0.0f
                                                 : update(q, eta(a), eta(b), std::max(z[a], z[b]), 0.5f * (n[a] + n[b]),
                                                          prev, next);
                }
            }
    });
    // Outflow limiter: a cell cannot give more water than it holds; its outgoing faces are
    // scaled down together, which keeps depths non-negative and mass exactly conserved.
    auto qW = [&](int i, int j) { return qx[static_cast<size_t>(j) * (nx + 1) + i]; };
    auto qS = [&](int i, int j) { return qy[static_cast<size_t>(j) * nx + i]; };
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j)
            for (int i = 0; i < nx; ++i) {
                size_t c = index(i, j);
                float out = std::max(0.0f, -qW(i, j)) + std::max(0.0f, qW(i + 1, j)) + std::max(0.0f, -qS(i, j)) +
                            std::max(0.0f, qS(i, j + 1));
                float volumeOut = out * dt / dx; // as a depth
                outflowFactor[c] = volumeOut > h[c] ? h[c] / volumeOut : 1.0f;
            }
    });
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            size_t row = static_cast<size_t>(j) * (nx + 1);
            for (int i = 0; i <= nx; ++i) {
                float& q = qx[row + i];
                size_t from = q > 0 ? (i > 0 ? index(i - 1, j) : SIZE_MAX) : (i < nx ? index(i, j) : SIZE_MAX);
                if (from != SIZE_MAX) q *= outflowFactor[from];
            }
        }
    });
    forRows(ny + 1, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j)
            for (int i = 0; i < nx; ++i) {
                float& q = qy[static_cast<size_t>(j) * nx + i];
                size_t from = q > 0 ? (j > 0 ? index(i, j - 1) : SIZE_MAX) : (j < ny ? index(i, j) : SIZE_MAX);
                if (from != SIZE_MAX) q *= outflowFactor[from];
            }
    });
    // Continuity, and cell-centred unit discharges for velocities and output.
    forRows(ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            double out = 0;
            for (int i = 0; i < nx; ++i) {
                size_t c = index(i, j);
                float w = qW(i, j), e = qW(i + 1, j), s = qS(i, j), nn = qS(i, j + 1);
                if (!wall[c]) addDepth(h[c], hComp[c], dt / dx * (w - e + s - nn));
                hu[c] = 0.5f * (w + e);
                hv[c] = 0.5f * (s + nn);
            }
            out += qW(nx, j) - qW(0, j);
            if (j == 0)
                for (int i = 0; i < nx; ++i) out -= qS(i, 0);
            if (j == ny - 1)
                for (int i = 0; i < nx; ++i) out += qS(i, ny);
            rowSum[static_cast<size_t>(j)] = out;
        }
    });
    double outflow = 0;
    for (double r : rowSum) outflow += r;
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
    std::vector<double> rowRain(static_cast<size_t>(spec.ny), 0.0);
    forRows(spec.ny, [&](int j0, int j1) {
        for (int j = j0; j < j1; ++j) {
            double rained = 0, lost = 0;
            for (int i = 0; i < nx; ++i) {
                size_t c = index(i, j);
                if (wall[c]) continue;
                float r = 0;
                if (rainDepth > 0) {
                    r = rainScale.empty() ? rainDepth : rainDepth * rainScale[c];
                    if (field) r *= field[c];
                    addDepth(h[c], hComp[c], r);
                    rained += r;
                }
                if (loss[c] > 0 && h[c] > 0) {
                    float l = std::min(h[c] - hComp[c], static_cast<float>(loss[c] * dt));
                    addDepth(h[c], hComp[c], -l);
                    lost += l;
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
    const float tNow = static_cast<float>(t);
    forRows(spec.ny, [&](int j0, int j1) {
        for (size_t c = index(0, j0); c < index(0, j1); ++c) {
            float d = h[c];
            if (d <= 0) continue;
            hMax[c] = std::max(hMax[c], d);
            float v = d > opt.dryDepthM ? std::sqrt(hu[c] * hu[c] + hv[c] * hv[c]) / d : 0.0f;
            speedMax[c] = std::max(speedMax[c], v);
            // DEFRA FD2320 hazard rating, debris factor of the urban column (1 above 0.25 m).
            float hazard = d * (v + 0.5f) + (d > 0.25f ? 1.0f : 0.0f);
            hazardMax[c] = std::max(hazardMax[c], hazard);
            if (d >= kArrivalDepthM && std::isnan(arrival[c])) arrival[c] = tNow;
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
