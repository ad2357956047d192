#include "sim/energy/Envelope.h"

#include "core/Error.h"
#include "sim/energy/HeatDemand.h"
#include "sim/energy/Typology.h"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace ct::energy {

Orientation orientationOf(double azimuthDeg) {
    double az = std::fmod(azimuthDeg, 360.0);
    if (az < 0) az += 360.0;
    if (az >= 315.0 || az < 45.0) return North;
    if (az < 135.0) return East;
    if (az < 225.0) return South;
    return West;
}

namespace {

struct Edge {
    Vec2 a, b;
    uint32_t polygon, building;
};

// Storeys and the heated wall height of building i, counting which rule was used.
void storeysOf(const Buildings& b, size_t i, double storeyHeightM, double& storeys, EnvelopeStats& st) {
    const double h = i < b.heightM.size() ? double(b.heightM[i]) : NAN;
    const int levels = i < b.levels.size() ? b.levels[i] : 0;
    if (levels > 0) {
        storeys = levels;
        ++st.storeysFromLevels;
    } else if (std::isfinite(h) && h > 0) {
        storeys = std::max(1.0, std::round(h / storeyHeightM));
        ++st.storeysFromHeight;
    } else {
        storeys = 1;
        ++st.storeysDefault;
    }
}

// Uniform grid of edge ids (CSR), each edge in every cell its tolerance-grown box touches.
struct EdgeGrid {
    double x0 = 0, y0 = 0, cell = 1;
    int nx = 1, ny = 1;
    std::vector<uint32_t> start, ids;

    int cx(double x) const { return std::clamp(int((x - x0) / cell), 0, nx - 1); }
    int cy(double y) const { return std::clamp(int((y - y0) / cell), 0, ny - 1); }

    template <class F> void forCells(const Edge& e, double grow, F&& f) const {
        int i0 = cx(std::min(e.a.x(), e.b.x()) - grow), i1 = cx(std::max(e.a.x(), e.b.x()) + grow);
        int j0 = cy(std::min(e.a.y(), e.b.y()) - grow), j1 = cy(std::max(e.a.y(), e.b.y()) + grow);
        for (int j = j0; j <= j1; ++j)
            for (int i = i0; i <= i1; ++i)
                f(size_t(j) * nx + i);
    }

    EdgeGrid(const std::vector<Edge>& edges, double grow) {
        if (edges.empty()) return;
        double x1 = -1e300, y1 = -1e300;
        x0 = y0 = 1e300;
        double lenSum = 0;
        for (auto& e : edges) {
            x0 = std::min({x0, e.a.x(), e.b.x()}), y0 = std::min({y0, e.a.y(), e.b.y()});
            x1 = std::max({x1, e.a.x(), e.b.x()}), y1 = std::max({y1, e.a.y(), e.b.y()});
            lenSum += (e.b - e.a).norm();
        }
        // Cells about twice the mean edge length: few cells per edge, few edges per cell.
        cell = std::max(2.0 * lenSum / double(edges.size()), 4.0 * grow + 1e-3);
        // Keep the grid to a few cells per edge even for sparse, wide extents.
        const double maxCells = 4.0 * double(edges.size()) + 16;
        while (((x1 - x0) / cell + 1) * ((y1 - y0) / cell + 1) > maxCells)
            cell *= 1.5;
        nx = int((x1 - x0) / cell) + 1, ny = int((y1 - y0) / cell) + 1;
        start.assign(size_t(nx) * ny + 1, 0);
        for (auto& e : edges)
            forCells(e, grow, [&](size_t c) { ++start[c + 1]; });
        for (size_t c = 1; c < start.size(); ++c)
            start[c] += start[c - 1];
        ids.resize(start.back());
        std::vector<uint32_t> fill(start.begin(), start.end() - 1);
        for (uint32_t k = 0; k < edges.size(); ++k)
            forCells(edges[k], grow, [&](size_t c) { ids[fill[c]++] = k; });
    }
};

struct EdgeResult {
    double exposedM2 = 0, sharedM2 = 0;
    uint32_t touching = 0;
};

} // namespace

std::vector<Envelope> buildingEnvelopes(const Buildings& b, double storeyHeightM, double sharedToleranceM,
                                        EnvelopeStats* statsOut) {
    EnvelopeStats st;
    const size_t n = b.size();
    if (b.partStart.size() != n + 1 || b.partStart.back() > b.footprints.size())
        throw InputError("building parts do not match the footprints (" + std::to_string(b.partStart.size()) +
                             " part starts for " + std::to_string(n) + " buildings)",
                         "building envelopes", "rebuild the city model");
    std::vector<Envelope> env(n);
    std::vector<double> wallH(n, 0);

    std::vector<Edge> edges;
    edges.reserve(b.footprints.points.size());
    for (size_t i = 0; i < n; ++i) {
        Envelope& e = env[i];
        storeysOf(b, i, storeyHeightM, e.storeys, st);
        e.wallHeightM = wallH[i] = e.storeys * storeyHeightM;
        const uint32_t p0 = b.partStart[i], p1 = b.partStart[i + 1];
        for (uint32_t p = p0; p < p1; ++p) {
            e.footprintM2 += b.footprints.area(p);
            for (size_t k = 0; k < b.footprints.ringCount(p); ++k) {
                auto r = b.footprints.ring(p, k);
                for (size_t v = 0; v < r.size(); ++v) {
                    Edge ed{r[v], r[(v + 1) % r.size()], p, uint32_t(i)};
                    double len = (ed.b - ed.a).norm();
                    if (len > 1e-6) edges.push_back(ed), e.perimeterM += len;
                }
            }
        }
        if (!(e.footprintM2 > 0)) {
            ++st.noFootprint;
            e = Envelope{};
            continue;
        }
        // GEG: AN = 0.32 m⁻¹·Ve for storey heights 2.5–3 m, else (1/h − 0.04 m⁻¹)·Ve.
        const double ve = e.footprintM2 * e.wallHeightM;
        const double perM =
            (storeyHeightM >= 2.5 && storeyHeightM <= 3.0) ? 0.32 : 1.0 / storeyHeightM - 0.04;
        e.floorAreaM2 = perM * ve;
        e.roofM2 = e.groundM2 = e.footprintM2;
    }

    const double tol = sharedToleranceM;
    EdgeGrid grid(edges, tol);
    std::vector<EdgeResult> res(edges.size());
    const double cosAnti = -std::cos(20.0 * M_PI / 180.0); // walls within 20° of antiparallel

    tbb::parallel_for(tbb::blocked_range<size_t>(0, edges.size(), 512),
                      [&](const tbb::blocked_range<size_t>& range) {
                          std::vector<uint32_t> cand;
                          struct Piece {
                              double t0, t1, h;
                          };
                          std::vector<Piece> pieces;
                          std::vector<double> cuts;
                          for (size_t k = range.begin(); k < range.end(); ++k) {
                              const Edge& e = edges[k];
                              const double h = wallH[e.building];
                              const Vec2 d = e.b - e.a;
                              const double len = d.norm();
                              const Vec2 u = d / len;
                              cand.clear();
                              grid.forCells(e, tol, [&](size_t c) {
                                  for (uint32_t s = grid.start[c]; s < grid.start[c + 1]; ++s)
                                      cand.push_back(grid.ids[s]);
                              });
                              std::sort(cand.begin(), cand.end());
                              cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
                              pieces.clear();
                              for (uint32_t j : cand) {
                                  const Edge& o = edges[j];
                                  if (o.polygon == e.polygon) continue;
                                  const Vec2 od = o.b - o.a;
                                  const double olen = od.norm();
                                  if (od.dot(u) > cosAnti * olen) continue; // not facing the other way
                                  // Both ends of the other edge on this edge's line.
                                  auto off = [&](const Vec2& p) {
                                      return std::abs(u.x() * (p.y() - e.a.y()) - u.y() * (p.x() - e.a.x()));
                                  };
                                  if (off(o.a) > tol || off(o.b) > tol) continue;
                                  double t0 = (o.a - e.a).dot(u), t1 = (o.b - e.a).dot(u);
                                  if (t0 > t1) std::swap(t0, t1);
                                  t0 = std::max(t0, 0.0), t1 = std::min(t1, len);
                                  if (t1 - t0 > 1e-3)
                                      pieces.push_back({t0, t1, std::min(h, wallH[o.building])});
                              }
                              EdgeResult& r = res[k];
                              r.touching = uint32_t(pieces.size());
                              double shared = 0;
                              if (!pieces.empty()) {
                                  // Over each stretch between piece ends the highest neighbour wall counts
                                  // once.
                                  cuts.clear();
                                  for (auto& p : pieces)
                                      cuts.push_back(p.t0), cuts.push_back(p.t1);
                                  std::sort(cuts.begin(), cuts.end());
                                  for (size_t c = 0; c + 1 < cuts.size(); ++c) {
                                      const double a = cuts[c], bb = cuts[c + 1];
                                      if (bb - a <= 0) continue;
                                      const double mid = 0.5 * (a + bb);
                                      double hMax = 0;
                                      for (auto& p : pieces)
                                          if (p.t0 <= mid && mid <= p.t1) hMax = std::max(hMax, p.h);
                                      shared += (bb - a) * hMax;
                                  }
                              }
                              r.sharedM2 = shared;
                              r.exposedM2 = std::max(0.0, len * h - shared);
                          }
                      });

    for (size_t k = 0; k < edges.size(); ++k) {
        const Edge& e = edges[k];
        Envelope& env_ = env[e.building];
        if (!(env_.footprintM2 > 0)) continue;
        const Vec2 d = e.b - e.a;
        // Interior is on the left of every ring (outer CCW, holes CW): the outward normal is
        // (dy, −dx); its azimuth from north, clockwise, is atan2(nx, ny).
        const double az = std::atan2(d.y(), -d.x()) * 180.0 / M_PI;
        env_.wallM2[orientationOf(az)] += res[k].exposedM2;
        env_.sharedWallM2 += res[k].sharedM2;
        st.sharedEdges += res[k].touching;
    }
    st.sharedEdges /= 2; // each touching pair was seen from both sides
    if (statsOut) *statsOut = st;
    return env;
}

Envelope withWindows(Envelope e, double windowShare) {
    for (int o = 0; o < 4; ++o)
        e.windowM2[o] = windowShare * e.wallM2[o];
    return e;
}

std::array<double, 4> solarApertureM2(const Envelope& e, double gValue, const ApertureFactors& f) {
    std::array<double, 4> a{};
    for (int o = 0; o < 4; ++o)
        a[o] = e.windowM2[o] * gValue * f.nonPerpendicular * (1 - f.frameShare) * f.shading;
    return a;
}

ZoneParams zoneParams(const Envelope& e0, const Archetype& a) {
    const Envelope e = withWindows(e0, a.windowShare);
    const double wall = e.exposedWallM2(), win = e.windowTotalM2();
    ZoneParams z;
    z.floorAreaM2 = e.floorAreaM2;
    z.uWindowA = a.uWindow * win;
    z.uOpaqueA = a.uWall * (wall - win) + a.uRoof * e.roofM2 + a.bFloor * a.uFloor * e.groundM2 +
                 a.thermalBridge * (wall + e.roofM2 + e.groundM2);
    const double volume = 2.5 * e.floorAreaM2;
    z.ventilationWK = kRhoCAir / 3600.0 * a.airChangeH * volume * (1.0 - a.heatRecovery);
    z.internalAreaM2 = kLambdaAt * e.floorAreaM2;
    z.massAreaM2 = massAreaFactor(a.heatCapacityJm2K) * e.floorAreaM2;
    // Sliver footprints (a metre wide) have more opaque U·A than 9.1·Am can carry: widen Am (and
    // At with it) just enough that Htr,em exists, instead of failing the whole city.
    z.massAreaM2 = std::max(z.massAreaM2, z.uOpaqueA / (0.9 * kHms));
    z.internalAreaM2 = std::max(z.internalAreaM2, z.massAreaM2 + z.uWindowA / kHms);
    z.heatCapacityJK = a.heatCapacityJm2K * e.floorAreaM2;
    z.setHeatC = a.setHeatC;
    z.setCoolC = a.setCoolC;
    z.maxCoolW = a.cooled ? std::numeric_limits<double>::infinity() : 0.0;
    return z;
}

} // namespace ct::energy
