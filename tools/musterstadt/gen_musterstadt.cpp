// gen_musterstadt — writes the fictional town "Musterstadt" as GIS files in EPSG:25832:
//   terrain.tif, buildings.gpkg, roads.gpkg, water.gpkg, landuse.gpkg.
//
// The large-scale layout (river, roads, districts, landmarks) is fixed in code so that it
// always fits together; the seed drives the details (building sizes, heights, years, street
// names, hills, field pattern). Same seed -> byte-identical files.
//
// Internally everything works in local metres (x east, y north) relative to the south-west
// corner of the extent; coordinates are converted to EPSG:25832 only when written.
//
// Pipeline: geography (river, floodplain, Mühlenbach) -> hand-drawn road skeleton plus
// district street grids -> bridges split out -> shared-node network (planarised) ->
// buildings along the streets -> GEOS check of the buildings -> terrain, land use -> files.
// docs/musterstadt.md describes the result.

#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

constexpr double kPi = 3.14159265358979323846;
constexpr double kOriginX = 474000.0;  // south-west corner of the extent, EPSG:25832
constexpr double kOriginY = 5733000.0;
constexpr double kExtentW = 3000.0;
constexpr double kExtentH = 2400.0;
constexpr double kDemCell = 2.0;
constexpr double kLanduseCell = 5.0;
constexpr std::uint64_t kDefaultSeed = 20261121;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------
// 2-D geometry
// ---------------------------------------------------------------------------------------

struct V2 {
  double x = 0.0;
  double y = 0.0;
};

V2 operator+(V2 a, V2 b) { return {a.x + b.x, a.y + b.y}; }
V2 operator-(V2 a, V2 b) { return {a.x - b.x, a.y - b.y}; }
V2 operator*(V2 a, double k) { return {a.x * k, a.y * k}; }
double dot(V2 a, V2 b) { return a.x * b.x + a.y * b.y; }
double cross(V2 a, V2 b) { return a.x * b.y - a.y * b.x; }
double len(V2 a) { return std::hypot(a.x, a.y); }
double dist(V2 a, V2 b) { return len(a - b); }
V2 unit(V2 a) {
  const double l = len(a);
  return l > 0.0 ? a * (1.0 / l) : V2{1.0, 0.0};
}
V2 perp(V2 a) { return {-a.y, a.x}; }  // left-hand normal
bool same(V2 a, V2 b) { return a.x == b.x && a.y == b.y; }
double sq(double v) { return v * v; }
double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}
// Rounds to whole centimetres so that points computed the same way are bit-identical.
V2 snapCm(V2 p) { return {std::round(p.x * 100.0) / 100.0, std::round(p.y * 100.0) / 100.0}; }
double round1(double v) { return std::round(v * 10.0) / 10.0; }

using Line = std::vector<V2>;
using Ring = std::vector<V2>;  // closed implicitly: first point is not repeated

double signedArea(const Ring& r) {
  double a = 0.0;
  for (size_t i = 0; i < r.size(); ++i) a += cross(r[i], r[(i + 1) % r.size()]);
  return 0.5 * a;
}

bool pointInRing(V2 p, const Ring& r) {
  bool in = false;
  for (size_t i = 0, j = r.size() - 1; i < r.size(); j = i++) {
    if ((r[i].y > p.y) != (r[j].y > p.y) &&
        p.x < (r[j].x - r[i].x) * (p.y - r[i].y) / (r[j].y - r[i].y) + r[i].x)
      in = !in;
  }
  return in;
}

double distPointSeg(V2 p, V2 a, V2 b, double* tOut = nullptr) {
  const V2 ab = b - a;
  const double l2 = dot(ab, ab);
  double t = l2 > 0.0 ? dot(p - a, ab) / l2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  if (tOut) *tOut = t;
  return dist(p, a + ab * t);
}

// Sign of the turn a->b->c (exact zero only for exactly collinear doubles).
int orient(V2 a, V2 b, V2 c) {
  const double v = cross(b - a, c - a);
  return (v > 0) - (v < 0);
}

// True if the closed segments ab and cd share at least one point.
bool segsTouch(V2 a, V2 b, V2 c, V2 d) {
  const int o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
  if (o1 * o2 < 0 && o3 * o4 < 0) return true;
  auto onSeg = [](V2 p, V2 q, V2 r) {  // r on pq, given collinear
    return std::min(p.x, q.x) <= r.x && r.x <= std::max(p.x, q.x) && std::min(p.y, q.y) <= r.y &&
           r.y <= std::max(p.y, q.y);
  };
  return (o1 == 0 && onSeg(a, b, c)) || (o2 == 0 && onSeg(a, b, d)) || (o3 == 0 && onSeg(c, d, a)) ||
         (o4 == 0 && onSeg(c, d, b));
}

double segSegDist(V2 a, V2 b, V2 c, V2 d) {
  if (segsTouch(a, b, c, d)) return 0.0;
  return std::min({distPointSeg(a, c, d), distPointSeg(b, c, d), distPointSeg(c, a, b),
                   distPointSeg(d, a, b)});
}

// Parameter t on ab and u on cd of a proper crossing (both strictly inside), if any.
std::optional<std::pair<double, double>> properCrossing(V2 a, V2 b, V2 c, V2 d) {
  if (orient(a, b, c) * orient(a, b, d) >= 0 || orient(c, d, a) * orient(c, d, b) >= 0)
    return std::nullopt;
  const V2 r = b - a, s = d - c;
  const double den = cross(r, s);
  if (den == 0.0) return std::nullopt;
  return std::make_pair(cross(c - a, s) / den, cross(c - a, r) / den);
}

// A polyline with cumulative lengths for fast "point at arc length" queries.
class Path {
 public:
  explicit Path(Line pts) : p_(std::move(pts)) {
    cum_.assign(p_.size(), 0.0);
    for (size_t i = 1; i < p_.size(); ++i) cum_[i] = cum_[i - 1] + dist(p_[i - 1], p_[i]);
  }
  double length() const { return cum_.empty() ? 0.0 : cum_.back(); }
  const Line& points() const { return p_; }
  size_t segAt(double s) const {
    if (p_.size() < 2) return 0;
    const auto it = std::upper_bound(cum_.begin(), cum_.end(), s);
    const size_t i = it == cum_.begin() ? 0 : static_cast<size_t>(it - cum_.begin()) - 1;
    return std::min(i, p_.size() - 2);
  }
  V2 at(double s) const {
    if (p_.size() < 2) return p_.empty() ? V2{} : p_[0];
    s = std::clamp(s, 0.0, length());
    const size_t i = segAt(s);
    const double l = cum_[i + 1] - cum_[i];
    const double t = l > 0.0 ? (s - cum_[i]) / l : 0.0;
    return p_[i] + (p_[i + 1] - p_[i]) * t;
  }
  V2 dir(double s) const {
    const size_t i = segAt(std::clamp(s, 0.0, length()));
    return unit(p_[i + 1] - p_[i]);
  }
  // Sub-polyline between arc lengths s0 < s1 with the given (already computed) end points.
  Line sub(double s0, double s1, V2 first, V2 last) const {
    Line out{first};
    for (size_t i = 0; i < p_.size(); ++i)
      if (cum_[i] > s0 + 1e-6 && cum_[i] < s1 - 1e-6) out.push_back(p_[i]);
    out.push_back(last);
    return out;
  }

 private:
  Line p_;
  std::vector<double> cum_;
};

Line densify(const Line& l, double step) {
  Line out;
  for (size_t i = 0; i + 1 < l.size(); ++i) {
    const int k = std::max(1, static_cast<int>(std::ceil(dist(l[i], l[i + 1]) / step)));
    for (int j = 0; j < k; ++j) out.push_back(l[i] + (l[i + 1] - l[i]) * (static_cast<double>(j) / k));
  }
  if (!l.empty()) out.push_back(l.back());
  return out;
}

// Uniform Catmull-Rom spline through the control points (which are kept exactly).
Line catmullRom(const Line& c, double step) {
  if (c.size() < 3) return densify(c, step);
  Line out;
  const size_t n = c.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const V2 p0 = c[i == 0 ? 0 : i - 1], p1 = c[i], p2 = c[i + 1], p3 = c[std::min(i + 2, n - 1)];
    const int k = std::max(1, static_cast<int>(std::ceil(dist(p1, p2) / step)));
    out.push_back(p1);
    for (int j = 1; j < k; ++j) {
      const double t = static_cast<double>(j) / k, t2 = t * t, t3 = t2 * t;
      const V2 p = (p1 * 2.0 + (p2 - p0) * t + (p0 * 2.0 - p1 * 5.0 + p2 * 4.0 - p3) * t2 +
                    (p1 * 3.0 - p0 - p2 * 3.0 + p3) * t3) *
                   0.5;
      out.push_back(p);
    }
  }
  out.push_back(c.back());
  return out;
}

Line snapAll(Line l) {
  for (V2& p : l) p = snapCm(p);
  return l;
}

// Offsets a smooth polyline sideways (positive = left of its direction).
Line offsetLine(const Line& l, double off) {
  Line out;
  for (size_t i = 0; i < l.size(); ++i) {
    const V2 a = l[i == 0 ? 0 : i - 1], b = l[std::min(i + 1, l.size() - 1)];
    out.push_back(l[i] + perp(unit(b - a)) * off);
  }
  return out;
}

// y of an x-monotone polyline at x (clamped to its ends).
double interpY(const Line& l, double x) {
  if (x <= l.front().x) return l.front().y;
  for (size_t i = 0; i + 1 < l.size(); ++i)
    if (x <= l[i + 1].x) return l[i].y + (l[i + 1].y - l[i].y) * (x - l[i].x) / (l[i + 1].x - l[i].x);
  return l.back().y;
}

Ring ellipseRing(V2 c, double rx, double ry, int n, double rotDeg = 0.0) {
  Ring r;
  const double ca = std::cos(rotDeg * kPi / 180.0), sa = std::sin(rotDeg * kPi / 180.0);
  for (int k = 0; k < n; ++k) {
    const double a = 2.0 * kPi * k / n;
    const double ex = rx * std::cos(a), ey = ry * std::sin(a);
    r.push_back(snapCm({c.x + ex * ca - ey * sa, c.y + ex * sa + ey * ca}));
  }
  return r;
}

Ring rectRing(double x0, double y0, double x1, double y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

// ---------------------------------------------------------------------------------------
// Random numbers and noise (own distributions, so results do not depend on the C++ library)
// ---------------------------------------------------------------------------------------

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) : eng_(splitmix(seed ^ splitmix(stream))) {}
  double uni() { return static_cast<double>(eng_() >> 11) * 0x1.0p-53; }
  double uni(double a, double b) { return a + (b - a) * uni(); }
  int range(int lo, int hi) {  // inclusive
    return std::min(hi, lo + static_cast<int>(uni() * (hi - lo + 1)));
  }
  bool chance(double p) { return uni() < p; }
  // Index drawn with the given relative weights.
  size_t pick(std::initializer_list<double> w) {
    double total = 0.0;
    for (double v : w) total += v;
    double r = uni() * total;
    size_t i = 0;
    for (double v : w) {
      if (r < v) return i;
      r -= v;
      ++i;
    }
    return w.size() - 1;
  }

 private:
  std::mt19937_64 eng_;
};

// Gradient noise on an integer lattice; fbm() sums octaves (each rotated, so that no
// lattice axis shows) and stays roughly in [-1, 1].
class Noise {
 public:
  explicit Noise(std::uint64_t seed) : seed_(splitmix(seed)) {}
  double fbm(double x, double y, int octaves) const {
    double sum = 0.0, amp = 1.0, norm = 0.0, f = 1.0;
    for (int o = 0; o < octaves; ++o) {
      const double a = 0.7 * o, ca = std::cos(a), sa = std::sin(a);
      sum += amp * gradient((x * ca - y * sa) * f + 17.3 * o, (x * sa + y * ca) * f - 9.1 * o);
      norm += amp;
      amp *= 0.5;
      f *= 2.0;
    }
    return sum / norm;
  }
  // Hash of an integer cell in [0, 1).
  double cellHash(std::int64_t ix, std::int64_t iy) const {
    const std::uint64_t h = splitmix(seed_ ^ splitmix(static_cast<std::uint64_t>(ix) * 0x9E3779B97F4A7C15ULL ^
                                                       static_cast<std::uint64_t>(iy) * 0xC2B2AE3D27D4EB4FULL));
    return static_cast<double>(h >> 11) * 0x1.0p-53;
  }

 private:
  double gradient(double x, double y) const {
    const double fx = std::floor(x), fy = std::floor(y);
    const auto ix = static_cast<std::int64_t>(fx), iy = static_cast<std::int64_t>(fy);
    auto fade = [](double t) { return t * t * t * (t * (t * 6.0 - 15.0) + 10.0); };
    const double dx = x - fx, dy = y - fy, u = fade(dx), v = fade(dy);
    auto g = [&](std::int64_t i, std::int64_t j, double ox, double oy) {
      const double a = 2.0 * kPi * cellHash(i, j);
      return std::cos(a) * ox + std::sin(a) * oy;
    };
    const double a = g(ix, iy, dx, dy) + (g(ix + 1, iy, dx - 1, dy) - g(ix, iy, dx, dy)) * u;
    const double b = g(ix, iy + 1, dx, dy - 1) + (g(ix + 1, iy + 1, dx - 1, dy - 1) - g(ix, iy + 1, dx, dy - 1)) * u;
    return 1.4 * (a + (b - a) * v);
  }
  std::uint64_t seed_;
};

// ---------------------------------------------------------------------------------------
// Geography: the valley of the Muster, its floodplain, the Mühlenbach and the pond
// ---------------------------------------------------------------------------------------

struct Geo {
  // Axis of the valley; the river meanders around it.
  static double valleyY(double x) { return 1040.0 + 40.0 * std::sin(2 * kPi * x / 2800.0 + 0.4); }
  static double riverY(double x) {
    return valleyY(x) + 48.0 * std::sin(2 * kPi * x / 760.0 + 2.2) + 12.0 * std::sin(2 * kPi * x / 290.0 + 0.7);
  }
  static double riverWidth(double x) {
    return 25.0 + 2.0 * std::sin(2 * kPi * x / 1300.0 + 1.3) + 1.0 * std::sin(2 * kPi * x / 470.0);
  }
  // Half widths of the floodplain north and south of the valley axis (total 230-380 m).
  static double floodHalfN(double x) { return 165.0 + 45.0 * std::sin(2 * kPi * x / 1500.0 + 1.0); }
  static double floodHalfS(double x) { return 150.0 + 50.0 * std::sin(2 * kPi * x / 1900.0 + 2.5); }
  // Floodplain level, falling 0.75 m per km downstream (the river flows east).
  static double floodLevel(double x) { return 100.6 - 0.75e-3 * x; }
  // Distance outside the floodplain edge (negative inside the floodplain).
  static double edgeDist(V2 p) {
    const double d = p.y - valleyY(p.x);
    return d >= 0 ? d - floodHalfN(p.x) : -d - floodHalfS(p.x);
  }
};

constexpr double kStreamMouthX = 700.0;

// River centreline, west to east, a little beyond the extent (clipped when written).
Line riverLine() {
  Line l;
  for (int x = -60; x <= 3060; x += 5) l.push_back(snapCm({double(x), Geo::riverY(x)}));
  return l;
}

// Mühlenbach: from the northern hills to its mouth, which is a vertex of the river line.
Line streamLine() {
  Line ctrl{{470, 2400}, {505, 2250}, {560, 2100}, {600, 1950}, {625, 1800}, {650, 1650},
            {672, 1500}, {690, 1380}, {700, 1260}, {kStreamMouthX, Geo::riverY(kStreamMouthX)}};
  Line l = snapAll(catmullRom(ctrl, 5.0));
  l.back() = snapCm({kStreamMouthX, Geo::riverY(kStreamMouthX)});
  return l;
}

const V2 kPondCentre{2640.0, 1112.0};
Ring pondRing() { return ellipseRing(kPondCentre, 40.0, 20.0, 32, 15.0); }

// ---------------------------------------------------------------------------------------
// Rasters and distance fields
// ---------------------------------------------------------------------------------------

// A north-up grid over the extent; row 0 is the northern edge.
struct Grid {
  int nx = 0;
  int ny = 0;
  double cell = 1.0;
  Grid(double c) : nx(static_cast<int>(kExtentW / c)), ny(static_cast<int>(kExtentH / c)), cell(c) {}
  size_t size() const { return static_cast<size_t>(nx) * static_cast<size_t>(ny); }
  size_t idx(int i, int j) const { return static_cast<size_t>(j) * static_cast<size_t>(nx) + static_cast<size_t>(i); }
  V2 centre(int i, int j) const { return {(i + 0.5) * cell, kExtentH - (j + 0.5) * cell}; }
  int col(double x) const { return static_cast<int>(std::floor(x / cell)); }
  int row(double y) const { return static_cast<int>(std::floor((kExtentH - y) / cell)); }
};

// Distance from every cell centre (within `radius`) to a polyline, plus the arc length of
// the nearest point on it.
struct DistField {
  std::vector<float> d;
  std::vector<float> s;
};

DistField distanceField(const Grid& g, const Line& l, double radius) {
  DistField f;
  f.d.assign(g.size(), std::numeric_limits<float>::infinity());
  f.s.assign(g.size(), 0.0f);
  double acc = 0.0;
  for (size_t k = 0; k + 1 < l.size(); ++k) {
    const V2 a = l[k], b = l[k + 1];
    const double segLen = dist(a, b);
    const int i0 = std::max(0, g.col(std::min(a.x, b.x) - radius));
    const int i1 = std::min(g.nx - 1, g.col(std::max(a.x, b.x) + radius));
    const int j0 = std::max(0, g.row(std::max(a.y, b.y) + radius));
    const int j1 = std::min(g.ny - 1, g.row(std::min(a.y, b.y) - radius));
    for (int j = j0; j <= j1; ++j)
      for (int i = i0; i <= i1; ++i) {
        double t = 0.0;
        const double d = distPointSeg(g.centre(i, j), a, b, &t);
        const size_t id = g.idx(i, j);
        if (d < radius && d < f.d[id]) {
          f.d[id] = static_cast<float>(d);
          f.s[id] = static_cast<float>(acc + t * segLen);
        }
      }
    acc += segLen;
  }
  return f;
}

// ---------------------------------------------------------------------------------------
// Terrain
// ---------------------------------------------------------------------------------------

// Broad named hills, only felt outside the floodplain.
double hillBumps(V2 p) {
  struct Bump {
    double x, y, r, h;
  };
  static const Bump bumps[] = {{2350, 2250, 300, 8}, {230, 2150, 230, 6}, {650, 250, 320, 7},
                               {2500, 330, 280, 6},  {1150, 2300, 220, 4}};
  double h = 0.0;
  for (const Bump& b : bumps) h += b.h * std::exp(-(sq(p.x - b.x) + sq(p.y - b.y)) / sq(b.r));
  return h;
}

// Height before the channels are cut: flat floodplain, a terrace scarp, hills beyond.
double baseHeight(V2 p, double streamDist, const Noise& noise) {
  const double e = Geo::edgeDist(p);
  double h = Geo::floodLevel(p.x) + 0.35 + 0.5 * smoothstep(-120.0, 0.0, e);
  h += 0.3 * noise.fbm(p.x / 160.0, p.y / 160.0, 3) * (1.0 - smoothstep(0.0, 150.0, e));
  if (e > 0.0) {
    const bool north = p.y > Geo::valleyY(p.x);
    h += 3.0 * smoothstep(0.0, 45.0, e);  // terrace scarp at the floodplain edge
    h += (north ? 37.5 : 26.0) * smoothstep(140.0, north ? 1100.0 : 900.0, e);
    const double hill = smoothstep(60.0, 400.0, e);
    h += hill * (7.0 * noise.fbm(p.x / 650.0 + 11.3, p.y / 650.0 - 4.1, 4) + hillBumps(p));
    h -= 5.0 * std::exp(-sq(streamDist / 110.0)) * smoothstep(100.0, 400.0, e);  // Mühlenbach valley
  }
  return h;
}

// River cross-section: depth below the floodplain at distance d from the centreline.
double riverDepth(double d, double halfWidth) {
  const double toe = halfWidth - 5.0, top = halfWidth + 2.0;
  if (d <= toe) return 2.3 - 0.25 * sq(d / toe);
  return 2.05 * (1.0 - smoothstep(toe, top, d));
}

std::vector<float> makeTerrain(const Line& river, const Line& stream, const Ring& pond, std::uint64_t seed) {
  const Grid g(kDemCell);
  const Noise noise(seed ^ 0x7E44A1ULL);
  const DistField sd = distanceField(g, stream, 330.0);
  const DistField rd = distanceField(g, river, 30.0);
  std::vector<float> h(g.size());

  for (int j = 0; j < g.ny; ++j)
    for (int i = 0; i < g.nx; ++i) {
      const size_t id = g.idx(i, j);
      h[id] = static_cast<float>(baseHeight(g.centre(i, j), sd.d[id], noise));
    }

  // River channel: depth relative to the floodplain level at the nearest centreline point.
  const double riverX0 = river.front().x;
  for (size_t id = 0; id < h.size(); ++id) {
    if (!std::isfinite(rd.d[id])) continue;
    const double xc = riverX0 + rd.s[id];  // the centreline is nearly x-parametrised
    const double hw = 0.5 * Geo::riverWidth(xc);
    const double depth = riverDepth(rd.d[id], hw);
    if (depth > 0.0) h[id] = std::min(h[id], static_cast<float>(Geo::floodLevel(xc) + 0.35 - depth));
  }

  // Mühlenbach: bed 1 m below the lowest ground upstream, so it always flows downhill.
  const Path sp(stream);
  std::vector<double> bedS, bedZ;
  double lowest = kInf, acc = 0.0;
  for (size_t k = 0; k < stream.size(); ++k) {
    if (k > 0) acc += dist(stream[k - 1], stream[k]);
    const int i = std::clamp(g.col(stream[k].x), 0, g.nx - 1), j = std::clamp(g.row(stream[k].y), 0, g.ny - 1);
    if (!std::isfinite(rd.d[g.idx(i, j)]) || rd.d[g.idx(i, j)] > 20.0) lowest = std::min(lowest, double(h[g.idx(i, j)]));
    bedS.push_back(acc);
    bedZ.push_back(lowest - 1.0);
  }
  for (size_t id = 0; id < h.size(); ++id) {
    const double d = sd.d[id];
    if (d > 150.0) continue;
    const size_t k = std::min(bedS.size() - 1,
                              static_cast<size_t>(std::lower_bound(bedS.begin(), bedS.end(), double(sd.s[id])) - bedS.begin()));
    const double bank = d < 1.5 ? 0.0 : d < 3.0 ? smoothstep(1.5, 3.0, d) : 1.0 + 0.08 * (d - 3.0);  // valley sides
    h[id] = std::min(h[id], static_cast<float>(bedZ[k] + bank));
  }

  // Retention pond: 1.5 m deep with sloped sides.
  const double pondLevel = Geo::floodLevel(kPondCentre.x) + 0.35;
  for (int j = 0; j < g.ny; ++j)
    for (int i = 0; i < g.nx; ++i) {
      const V2 p = g.centre(i, j);
      if (dist(p, kPondCentre) > 45.0 || !pointInRing(p, pond)) continue;
      double inside = kInf;
      for (size_t k = 0; k < pond.size(); ++k) inside = std::min(inside, distPointSeg(p, pond[k], pond[(k + 1) % pond.size()]));
      h[g.idx(i, j)] = std::min(h[g.idx(i, j)], static_cast<float>(pondLevel - 0.3 - 1.2 * smoothstep(0.0, 6.0, inside)));
    }

  // Round to 1/1024 m (about 1 mm): far below any use, but the zeroed low mantissa bits
  // let DEFLATE shrink the file from 2.5 MB to about 1 MB.
  for (float& v : h) v = std::round(v * 1024.0f) / 1024.0f;
  return h;
}

// ---------------------------------------------------------------------------------------
// Town layout: old town ring, districts and special sites
// ---------------------------------------------------------------------------------------

struct Layout {
  V2 c{1450.0, 1375.0};  // town centre (crossing of Hauptstraße and Marktstraße)
  double rx = 300.0;     // ring road ("Wall") semi-axes
  double ry = 215.0;
  static constexpr int kRingN = 64;

  V2 ringPt(int k) const {
    const double a = 2.0 * kPi * (((k % kRingN) + kRingN) % kRingN) / kRingN;
    return snapCm({c.x + rx * std::cos(a), c.y + ry * std::sin(a)});
  }
  // Ring vertices k0..k1 inclusive, stepping towards k1.
  Line ringArc(int k0, int k1) const {
    Line l;
    const int step = k1 >= k0 ? 1 : -1;
    for (int k = k0;; k += step) {
      l.push_back(ringPt(k));
      if (k == k1) break;
    }
    return l;
  }
  double ringSouthY(double x) const {
    const double u = (x - c.x) / rx;
    return std::abs(u) >= 1.0 ? kInf : c.y - ry * std::sqrt(1.0 - u * u);
  }
  // x extent of a horizontal chord of the ring at y, pushed out by `over` metres.
  std::pair<double, double> chordX(double y, double over) const {
    const double w = rx * std::sqrt(1.0 - sq((y - c.y) / ry));
    return {c.x - w - over, c.x + w + over};
  }
  std::pair<double, double> chordY(double x, double over) const {
    const double h = ry * std::sqrt(1.0 - sq((x - c.x) / rx));
    return {c.y - h - over, c.y + h + over};
  }
};

enum class Zone { OldTown, Residential, Industrial };

// Shares of house types built along a district's streets.
struct Mix {
  double detached, semi, row, apartment;
};

struct District {
  std::string name;
  Zone zone = Zone::Residential;
  Ring poly;
  std::vector<Ring> holes;  // sites kept free of generated streets
  double gridAngleDeg = 0.0;
  double du = 80.0;  // spacing of the parallel streets
  double dv = 0.0;   // spacing of the cross streets (0: none)
  Mix mix{1, 0, 0, 0};
  int yearFrom = 1950;
  int yearTo = 2020;
  bool paintLanduse = true;  // false for farmsteads: only their buildings mark the land use
};

District makeDistrict(std::string name, Zone zone, Ring poly, double angle, double du, double dv, Mix mix, int y0, int y1) {
  District d;
  d.name = std::move(name);
  d.zone = zone;
  d.poly = std::move(poly);
  d.gridAngleDeg = angle;
  d.du = du;
  d.dv = dv;
  d.mix = mix;
  d.yearFrom = y0;
  d.yearTo = y1;
  return d;
}

// Scattered farmsteads (typical of the Delbrück area): a lane from an outer road to a yard.
struct FarmSite {
  const char* road;  // outer road the lane branches off (its 70 km/h section)
  V2 approx;         // roughly where on that road
  V2 yard;
};

const std::vector<FarmSite>& farmSites() {
  static const std::vector<FarmSite> sites{{"Delbrücker Straße", {300, 1426}, {305, 1530}},
                                           {"Paderborner Straße", {1492, 380}, {1610, 365}},
                                           {"Lippestraße", {2417, 600}, {2545, 615}},
                                           {"Bielefelder Straße", {1421, 2300}, {1300, 2318}},
                                           {"Schützenstraße", {2116, 2300}, {2240, 2290}},
                                           {"Salzkottener Straße", {2900, 1393}, {2908, 1540}},
                                           {"Westenholzer Straße", {876, 2300}, {760, 2312}}};
  return sites;
}

V2 nearestPoint(const Line& l, V2 p) {
  V2 best = l.front();
  for (size_t i = 0; i + 1 < l.size(); ++i) {
    double t = 0.0;
    if (distPointSeg(p, l[i], l[i + 1], &t) < dist(p, best)) best = l[i] + (l[i + 1] - l[i]) * t;
  }
  return best;
}

Ring concat(std::initializer_list<Line> parts) {
  Ring r;
  for (const Line& p : parts)
    for (V2 v : p)
      if (r.empty() || !same(r.back(), v)) r.push_back(v);
  if (r.size() > 1 && same(r.front(), r.back())) r.pop_back();
  return r;
}

// Fixed points of the road skeleton shared by streets and district outlines.
struct Pts {
  static constexpr V2 bielefeld1{1446, 1800}, bielefeld2{1438, 2000};
  static constexpr V2 westen1{1180, 1620}, westen2{1100, 1760}, westen3{1030, 1900}, westen4{986.25, 2000};
  static constexpr V2 westenAtHang{1140, 1690};
  static constexpr V2 schuetzen1{1720, 1620}, schuetzen2{1800, 1760}, schuetzen3{1900, 1900}, schuetzen4{1966.67, 2000};
  static constexpr V2 schuetzenAt1700{1765.71, 1700};
  static constexpr V2 delb1{1000, 1385}, delb2{760, 1395};
  static constexpr V2 salz1{1900, 1385}, salz2{2150, 1395}, salz3{2350, 1400}, salz4{2600, 1400}, salz5{2800, 1396},
      salzAt2950{2950, 1391.5};
  static constexpr V2 indu1{1800, 1215}, indu2{1950, 1210}, indu3{2150, 1203}, indu4{2350, 1195}, indu5{2600, 1185},
      indu6{2780, 1180}, indu7{2950, 1180};
  static constexpr V2 auen1{1100, 1215}, auen2{950, 1205}, auen3{760, 1210};
  static constexpr V2 brueck1{1452, 1100}, brueck2{1455, 1000}, brueck3{1456, 930};
  static constexpr V2 pader1{1462, 800}, pader2{1470, 640};
  static constexpr V2 uferW{1180, 955}, ufer1{1350, 975}, uferMid{1455.21, 985}, ufer2{1600, 945}, ufer3{1700, 905},
      uferE{1800, 895};
  static constexpr V2 suedW{1180, 640}, suedE{1800, 640};
  static constexpr V2 hangW{760, 1690};
  static constexpr V2 ostfeldNW{1885.71, 1880}, ostfeldNE{2450, 1880};
};

// Special sites (kept free of generic buildings and streets).
struct Sites {
  Ring market = rectRing(1462, 1297, 1592, 1368);
  Ring oldTownParking = rectRing(1610, 1300, 1702, 1364);
  Ring cemetery = rectRing(1800, 1545, 1960, 1672);
  Ring recreation = rectRing(1805, 1040, 1965, 1172);
  Ring retail = rectRing(1790, 1268, 1935, 1370);
  Ring retailParking = rectRing(1795, 1275, 1858, 1365);
  Ring pond = pondRing();
  Ring pondBuffer = ellipseRing(kPondCentre, 52.0, 32.0, 32, 15.0);
  Ring fireStation = rectRing(2075, 1235, 2125, 1275);
  Ring park;
  Ring allotments;
  Ring sonnenhang = ellipseRing({870, 1835}, 195.0, 135.0, 48);
};

Line auenwegLine(const Layout& lay) { return {Pts::auen3, Pts::auen2, Pts::auen1, lay.ringPt(40)}; }
Line industrieLine(const Layout& lay) {
  return {lay.ringPt(56), Pts::indu1, Pts::indu2, Pts::indu3, Pts::indu4, Pts::indu5, Pts::indu6, Pts::indu7};
}

Sites makeSites(const Layout& lay) {
  Sites s;
  const Line auen = auenwegLine(lay), indu = industrieLine(lay);
  // Park between the river and the south side of the old town.
  Line bottom, top;
  for (double x = 1180; x <= 1790; x += 10) {
    bottom.push_back(snapCm({x, Geo::riverY(x) - 4.0}));
    double roadY = lay.ringSouthY(x);
    if (x < lay.ringPt(40).x) roadY = std::min(roadY, interpY(auen, x));
    if (x > lay.ringPt(56).x) roadY = std::min(roadY, interpY(indu, x));
    top.push_back(snapCm({x, roadY - 12.0}));
  }
  std::reverse(top.begin(), top.end());
  s.park = concat({bottom, top});
  // Allotment gardens in the floodplain south of the Auenweg.
  bottom.clear();
  top.clear();
  for (double x = 790; x <= 1130; x += 10) {
    bottom.push_back(snapCm({x, Geo::riverY(x) + 45.0}));
    top.push_back(snapCm({x, interpY(auen, x) - 12.0}));
  }
  std::reverse(top.begin(), top.end());
  s.allotments = concat({bottom, top});
  return s;
}

std::vector<District> makeDistricts(const Layout& lay, const Sites& sites) {
  std::vector<District> ds;
  // The old town inside the ring must come first (the building placer relies on it).
  ds.push_back(makeDistrict("Altstadt", Zone::OldTown, lay.ringArc(0, Layout::kRingN - 1), 0, 0, 0, {0, 0, 0, 0}, 1550, 2015));
  using P = Pts;
  ds.push_back(makeDistrict("Weststadt-Süd", Zone::Residential,
                            concat({{P::auen3, P::auen2, P::auen1}, lay.ringArc(40, 32), {P::delb1, P::delb2}}), 0, 70,
                            130, {0.50, 0.25, 0.15, 0.10}, 1950, 1972));
  ds.push_back(makeDistrict("Weststadt-Nord", Zone::Residential,
                            concat({{P::delb2, P::delb1}, lay.ringArc(32, 24), {P::westen1, P::westenAtHang, P::hangW}}), 0,
                            72, 135, {0.60, 0.20, 0.15, 0.05}, 1960, 1988));
  ds.push_back(makeDistrict("Am Sonnenhang", Zone::Residential, sites.sonnenhang, 0, 0, 0, {0.80, 0.20, 0, 0}, 1996, 2020));
  ds.push_back(makeDistrict("Nordstadt-West", Zone::Residential,
                            concat({lay.ringArc(24, 16), {P::bielefeld1, P::bielefeld2, P::westen4, P::westen3, P::westen2, P::westen1}}),
                            90, 75, 130, {0.55, 0.20, 0.15, 0.10}, 1965, 1992));
  ds.push_back(makeDistrict("Nordstadt-Ost", Zone::Residential,
                            concat({{lay.ringPt(16), P::bielefeld1, P::bielefeld2, P::schuetzen4, P::schuetzen3, P::schuetzen2,
                                     P::schuetzen1},
                                    lay.ringArc(8, 15)}),
                            0, 72, 140, {0.60, 0.20, 0.20, 0.0}, 1975, 2002));
  District ostN = makeDistrict("Oststadt-Nord", Zone::Residential,
                               concat({{lay.ringPt(0), P::salz1, P::salz2, {2150, 1700}, P::schuetzenAt1700, P::schuetzen1},
                                       lay.ringArc(8, 1)}),
                               90, 80, 150, {0.40, 0.20, 0.20, 0.20}, 1950, 1976);
  ostN.holes.push_back(sites.cemetery);
  ds.push_back(ostN);
  District ostS = makeDistrict("Oststadt-Süd", Zone::Residential,
                               concat({{lay.ringPt(56), P::indu1, P::indu2, P::indu3, P::salz2, P::salz1}, lay.ringArc(64, 57)}), 90,
                               80, 110, {0.20, 0.20, 0.30, 0.30}, 1955, 1980);
  ostS.holes.push_back(sites.retail);
  ostS.holes.push_back(sites.fireStation);
  ds.push_back(ostS);
  ds.push_back(makeDistrict("Ostfeld", Zone::Residential,
                            {P::salz2, P::salz3, {2450, 1400}, P::ostfeldNE, P::ostfeldNW, P::schuetzen2, P::schuetzenAt1700, {2150, 1700}},
                            0, 72, 130, {0.65, 0.20, 0.10, 0.05}, 1992, 2021));
  ds.push_back(makeDistrict("Südstadt-West", Zone::Residential,
                            {P::suedW, P::pader2, P::pader1, P::brueck3, P::uferMid, P::ufer1, P::uferW}, 0, 72, 120,
                            {0.60, 0.25, 0.15, 0.0}, 1960, 1990));
  ds.push_back(makeDistrict("Südstadt-Ost", Zone::Residential,
                            {P::pader2, P::suedE, P::uferE, P::ufer3, P::ufer2, P::uferMid, P::brueck3, P::pader1}, 90, 75, 125,
                            {0.55, 0.25, 0.10, 0.10}, 1982, 2012));
  ds.push_back(makeDistrict("Industriegebiet Nord", Zone::Industrial,
                            {P::indu3, P::indu4, P::indu5, P::indu6, P::indu7, P::salzAt2950, P::salz5, P::salz4, P::salz3, P::salz2},
                            90, 150, 0, {0, 0, 0, 0}, 1960, 2015));
  Ring south{P::indu3, P::indu4, P::indu5, P::indu6, {2850, 1180}};
  for (double x = 2850; x >= 2150; x -= 25) south.push_back(snapCm({x, Geo::riverY(x) + 55.0}));
  District indS = makeDistrict("Industriegebiet Süd", Zone::Industrial, south, 90, 160, 0, {0, 0, 0, 0}, 1965, 2015);
  indS.holes.push_back(sites.pondBuffer);
  ds.push_back(indS);
  for (const FarmSite& f : farmSites()) {
    District farm = makeDistrict("Hofstelle", Zone::Residential, ellipseRing(f.yard, 45.0, 45.0, 24), 0, 0, 0, {1, 0, 0, 0}, 1850, 1965);
    farm.paintLanduse = false;
    ds.push_back(farm);
  }
  return ds;
}

// ---------------------------------------------------------------------------------------
// Roads: classes and the street skeleton
// ---------------------------------------------------------------------------------------

enum class Hw { Trunk, Primary, Secondary, Tertiary, Residential, LivingStreet, Service, Cycleway, Footway };

struct HwInfo {
  const char* tag;
  double width;  // carriageway width, used for building setbacks
  int lanes;     // 0: not applicable (written as null)
  int speed;     // km/h, 0: not applicable
};

const HwInfo& hwInfo(Hw h) {
  static const HwInfo info[] = {{"trunk", 11.5, 2, 100},       {"primary", 10.5, 2, 50},  {"secondary", 9.5, 2, 50},
                                {"tertiary", 8.0, 2, 50},      {"residential", 6.5, 2, 30}, {"living_street", 5.0, 1, 7},
                                {"service", 5.5, 2, 20},       {"cycleway", 3.0, 0, 0},   {"footway", 2.5, 0, 0}};
  return info[static_cast<int>(h)];
}

bool isPath(Hw h) { return h == Hw::Cycleway || h == Hw::Footway; }

// Distance a building must keep from a road centreline.
double roadClearance(Hw h) { return 0.5 * hwInfo(h).width + (isPath(h) ? 0.75 : 1.75); }

enum RoadTag { kTagNone = 0, kTagBypass = 1, kTagUnderpass = 2 };

struct Road {
  Line pts;
  Hw hw = Hw::Residential;
  std::string name;
  bool oneway = false;
  int lanes = -1;  // -1: class default
  int speed = -1;  // -1: class default
  bool bridge = false;
  int tag = kTagNone;
};

Road mkRoad(Line pts, Hw hw, std::string name, int speed = -1) {
  Road r;
  r.pts = snapAll(std::move(pts));
  r.hw = hw;
  r.name = std::move(name);
  r.speed = speed;
  return r;
}

class NamePool {
 public:
  NamePool(std::vector<std::string> names, Rng& rng) : names_(std::move(names)) {
    for (size_t i = names_.size(); i > 1; --i) std::swap(names_[i - 1], names_[static_cast<size_t>(rng.range(0, int(i) - 1))]);
  }
  std::string next() { return names_[next_++ % names_.size()]; }

 private:
  std::vector<std::string> names_;
  size_t next_ = 0;
};

std::vector<std::string> residentialNames() {
  return {"Lindenstraße", "Birkenweg", "Ahornweg", "Eichenweg", "Buchenweg", "Erlenstraße", "Ulmenweg", "Kastanienweg",
          "Eschenweg", "Ginsterweg", "Holunderweg", "Rosenstraße", "Tulpenweg", "Nelkenweg", "Asternweg", "Fliederweg",
          "Amselweg", "Drosselweg", "Finkenweg", "Meisenweg", "Schwalbenweg", "Falkenweg", "Habichtweg", "Goethestraße",
          "Schillerstraße", "Lessingstraße", "Eichendorffstraße", "Uhlandstraße", "Droste-Hülshoff-Straße", "Mozartstraße",
          "Beethovenstraße", "Haydnstraße", "Kolpingstraße", "Gartenstraße", "Wiesenweg", "Feldstraße", "Bergstraße",
          "Talstraße", "Sennestraße", "Hellweg", "Emsweg", "Almeweg", "Alter Postweg", "Am Kamp", "Auf der Brede",
          "Im Wöhren", "Hasenweg", "Fuchsweg", "Dachsweg", "Heideweg", "Moorweg", "Brunnenweg", "Quellenweg", "Schulstraße",
          "Von-Galen-Straße", "Bonifatiusstraße", "Liboriusstraße", "Schlesierstraße", "Pommernweg", "Breslauer Straße",
          "Königsberger Straße", "Stettiner Straße", "Danziger Straße", "Am Hagen", "Im Brock", "Auf dem Esch", "Kampweg",
          "Hofweg", "Lehmkuhle", "Sandweg", "Kiefernweg", "Tannenweg", "Lärchenweg", "Pappelweg", "Akazienweg", "Vogelsang",
          "Sonnenweg", "Dahlienweg", "Lilienweg", "Veilchenweg", "Krokusweg", "Narzissenweg", "Mühlenweg", "Bachstraße",
          "Teichweg", "Kapellenweg", "Wacholderweg", "Rotdornweg", "Weißdornweg", "Schlehenweg", "Brombeerweg", "Im Kleefeld",
          "Roggenkamp", "Weizenweg", "Gerstenweg", "Haferkamp", "Flachsweg", "Lönsweg", "Stifterstraße", "Kleiststraße"};
}

std::vector<std::string> industrialNames() {
  return {"Carl-Benz-Straße", "Robert-Bosch-Straße", "Otto-Hahn-Straße", "Siemensstraße", "Max-Planck-Straße",
          "Rudolf-Diesel-Straße", "Gottlieb-Daimler-Straße", "Zeppelinstraße", "Industrieweg"};
}

// Arterials, the ring, the old town, paths and the bypass: everything drawn by hand.
std::vector<Road> skeletonRoads(const Layout& lay, const Line& river) {
  using P = Pts;
  std::vector<Road> r;
  const V2 rN = lay.ringPt(16), rS = lay.ringPt(48), rW = lay.ringPt(32), rE = lay.ringPt(0);

  // Ring road ("Wall"), four arcs split at the diagonal arterials.
  r.push_back(mkRoad(lay.ringArc(-8, 8), Hw::Secondary, "Ostwall"));
  r.push_back(mkRoad(lay.ringArc(8, 24), Hw::Secondary, "Nordwall"));
  r.push_back(mkRoad(lay.ringArc(24, 40), Hw::Secondary, "Westwall"));
  r.push_back(mkRoad(lay.ringArc(40, 56), Hw::Secondary, "Südwall"));

  // Through road (primary) north-south across the centre and the main bridge.
  r.push_back(mkRoad({rN, P::bielefeld1, P::bielefeld2}, Hw::Primary, "Bielefelder Straße"));
  r.push_back(mkRoad(catmullRom({P::bielefeld2, {1432, 2130}, {1425, 2250}, {1415, 2400}}, 20), Hw::Primary,
                     "Bielefelder Straße", 70));
  r.push_back(mkRoad({rN, {1452, 1480}, lay.c, {1447, 1290}, rS}, Hw::Primary, "Hauptstraße", 30));
  r.push_back(mkRoad({rS, P::brueck1, P::brueck2, P::brueck3}, Hw::Primary, "Brückenstraße"));
  r.push_back(mkRoad({P::brueck3, P::pader1, P::pader2}, Hw::Primary, "Paderborner Straße"));
  r.push_back(mkRoad(catmullRom({P::pader2, {1490, 400}, {1510, 200}, {1520, 0}}, 20), Hw::Primary, "Paderborner Straße", 70));

  // Radial arterials.
  r.push_back(mkRoad({rW, P::delb1, P::delb2}, Hw::Secondary, "Delbrücker Straße"));
  r.push_back(mkRoad(catmullRom({P::delb2, {500, 1410}, {250, 1430}, {0, 1445}}, 20), Hw::Secondary, "Delbrücker Straße", 70));
  r.push_back(mkRoad({rE, P::salz1, P::salz2, P::salz3, P::salz4, P::salz5}, Hw::Secondary, "Salzkottener Straße"));
  r.push_back(mkRoad({P::salz5, P::salzAt2950, {3000, 1390}}, Hw::Secondary, "Salzkottener Straße", 70));
  r.push_back(mkRoad({lay.ringPt(24), P::westen1, P::westen2, P::westen3, P::westen4}, Hw::Tertiary, "Westenholzer Straße"));
  Road westOut = mkRoad(catmullRom({P::westen4, {960, 2060}, {900, 2200}, {850, 2400}}, 20), Hw::Tertiary,
                        "Westenholzer Straße", 70);
  westOut.tag = kTagUnderpass;
  r.push_back(westOut);
  r.push_back(mkRoad({lay.ringPt(8), P::schuetzen1, P::schuetzen2, P::schuetzen3, P::schuetzen4}, Hw::Tertiary, "Schützenstraße"));
  r.push_back(mkRoad(catmullRom({P::schuetzen4, {2000, 2050}, {2080, 2200}, {2150, 2400}}, 20), Hw::Tertiary, "Schützenstraße", 70));
  r.push_back(mkRoad(industrieLine(lay), Hw::Tertiary, "Industriestraße"));
  r.push_back(mkRoad({P::salz3, P::indu4, {2356, 1100}, {2366, 980}}, Hw::Secondary, "Lippestraße"));
  r.push_back(mkRoad(catmullRom({{2366, 980}, {2390, 800}, {2430, 500}, {2470, 250}, {2490, 0}}, 20), Hw::Secondary,
                     "Lippestraße", 70));

  // Bypass (trunk) north of the town; it bridges the Westenholzer Straße.
  Road bypass = mkRoad(catmullRom({{0, 1880}, {300, 1950}, {600, 2010}, {900, 2065}, {1150, 2105}, {1432, 2130}, {1700, 2125},
                                   {2000, 2085}, {2300, 2020}, {2600, 1960}, {3000, 1900}},
                                  25),
                       Hw::Trunk, "Nordumgehung");
  bypass.tag = kTagBypass;
  r.push_back(bypass);

  // Old town lanes inside the ring, slightly crooked; their ends are pushed 1.5 m past
  // the ring so that they cross it.
  auto hLine = [&](double y, std::initializer_list<V2> bends) {
    auto [x0, x1] = lay.chordX(y, 1.5);
    Line l{{x0, y}};
    l.insert(l.end(), bends);
    l.push_back({x1, y});
    return l;
  };
  auto vLine = [&](double x, std::initializer_list<V2> bends) {
    auto [y0, y1] = lay.chordY(x, 1.5);
    Line l{{x, y0}};
    l.insert(l.end(), bends);
    l.push_back({x, y1});
    return l;
  };
  r.push_back(mkRoad({rW, lay.c, rE}, Hw::Tertiary, "Marktstraße", 30));
  Road burg = mkRoad(hLine(1470, {{1300, 1476}, {1450, 1473}, {1600, 1463}}), Hw::Residential, "Burgstraße");
  burg.oneway = true;
  r.push_back(burg);
  Line kirch = hLine(1290, {{1300, 1285}, {1600, 1292}});
  std::reverse(kirch.begin(), kirch.end());
  Road kirchstr = mkRoad(kirch, Hw::Residential, "Kirchstraße");
  kirchstr.oneway = true;
  r.push_back(kirchstr);
  r.push_back(mkRoad(vLine(1300, {{1296, 1290}, {1292, 1420}}), Hw::LivingStreet, "Schmiedestraße"));
  Road baecker = mkRoad(vLine(1600, {{1605, 1240}, {1598, 1440}}), Hw::Residential, "Bäckerstraße");
  baecker.oneway = true;
  r.push_back(baecker);
  r.push_back(mkRoad(hLine(1215, {{1350, 1219}, {1550, 1212}}), Hw::LivingStreet, "Gerbergasse"));

  // Streets on district edges.
  r.push_back(mkRoad(auenwegLine(lay), Hw::Residential, "Auenweg"));
  r.push_back(mkRoad({P::auen3, P::delb2, P::hangW}, Hw::Residential, "Am Mühlenbach"));
  r.push_back(mkRoad({P::westenAtHang, P::hangW}, Hw::Residential, "Am Hang"));
  r.push_back(mkRoad({P::westen4, P::bielefeld2}, Hw::Residential, "Am Feldrain"));
  r.push_back(mkRoad({P::bielefeld2, P::schuetzen4}, Hw::Residential, "Am Nordfeld"));
  r.push_back(mkRoad({P::schuetzenAt1700, {2150, 1700}, P::salz2}, Hw::Residential, "Friedhofstraße"));
  r.push_back(mkRoad({P::indu3, P::salz2}, Hw::Residential, "Am Gewerbegebiet"));
  r.push_back(mkRoad({P::ostfeldNW, P::ostfeldNE, {2450, 1400}}, Hw::Residential, "Am Ostfeld"));
  r.push_back(mkRoad({P::indu7, P::salzAt2950}, Hw::Service, "Carl-Benz-Straße"));
  r.push_back(mkRoad({P::uferW, P::ufer1, P::uferMid, P::ufer2, P::ufer3, P::uferE}, Hw::Residential, "Am Ufer"));
  r.push_back(mkRoad({P::suedW, P::pader2, P::suedE}, Hw::Residential, "Südring"));
  r.push_back(mkRoad({P::suedW, P::uferW}, Hw::Residential, "Weidenweg"));
  r.push_back(mkRoad({P::suedE, P::uferE}, Hw::Residential, "Erlenweg"));

  // Paths along the river: a footway through the park (north bank) and a cycleway (south bank).
  Line north, south;
  for (V2 p : river) {
    if (p.x >= 1090 && p.x <= 1785) north.push_back(p);
    if (p.x >= 250 && p.x <= 2750) south.push_back(p);
  }
  const Line ufer = offsetLine(north, 45.0);
  r.push_back(mkRoad(ufer, Hw::Footway, "Uferweg"));
  r.push_back(mkRoad(offsetLine(south, -45.0), Hw::Cycleway, "Muster-Radweg"));
  const Line auen = auenwegLine(lay), indu = industrieLine(lay);
  r.push_back(mkRoad({ufer.front(), {ufer.front().x, interpY(auen, ufer.front().x) + 1.5}}, Hw::Footway, "Gartenweg"));
  r.push_back(mkRoad({ufer.back(), {ufer.back().x, interpY(indu, ufer.back().x) + 1.5}}, Hw::Footway, ""));
  for (int k : {44, 52}) {
    const V2 top = lay.ringPt(k);
    r.push_back(mkRoad({top, {top.x, Geo::riverY(top.x) + 45.0 - 1.5}}, Hw::Footway, "Parkweg"));
  }
  // Path through the cemetery.
  r.push_back(mkRoad({{1880, 1700 + 1.5}, {1880, 1540}}, Hw::Footway, "Friedhofsweg"));

  // Farm lanes, starting exactly on their outer road.
  for (const FarmSite& f : farmSites()) {
    std::optional<V2> start;
    for (const Road& x : r)
      if (x.name == f.road && x.speed == 70) start = nearestPoint(x.pts, f.approx);
    if (start) r.push_back(mkRoad({*start, f.yard}, Hw::Service, ""));
  }
  return r;
}

// Clips the infinite line o + dir * t to the inside of the rings (even-odd), returning
// the parameter intervals.
std::vector<std::pair<double, double>> clipToRings(V2 o, V2 dir, const std::vector<const Ring*>& rings) {
  std::vector<double> ts;
  const V2 nrm = perp(dir);
  for (const Ring* r : rings)
    for (size_t i = 0; i < r->size(); ++i) {
      const V2 a = (*r)[i], b = (*r)[(i + 1) % r->size()];
      const double da = dot(a - o, nrm), db = dot(b - o, nrm);
      if ((da < 0) == (db < 0)) continue;
      const V2 p = a + (b - a) * (da / (da - db));
      ts.push_back(dot(p - o, dir));
    }
  std::sort(ts.begin(), ts.end());
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const V2 mid = o + dir * (0.5 * (ts[i] + ts[i + 1]));
    int inside = 0;
    for (const Ring* r : rings) inside += pointInRing(mid, *r) ? 1 : 0;
    if (inside % 2 == 1 && ts[i + 1] - ts[i] > 1e-6) out.emplace_back(ts[i], ts[i + 1]);
  }
  return out;
}

// Distance from p to the nearest road stretch running roughly along `dir` (brute force;
// only used while laying out streets).
double distToParallelRoads(V2 p, V2 dir, const std::vector<Road>& roads) {
  double best = kInf;
  for (const Road& r : roads)
    for (size_t i = 0; i + 1 < r.pts.size(); ++i)
      if (std::abs(cross(unit(r.pts[i + 1] - r.pts[i]), dir)) < 0.5) best = std::min(best, distPointSeg(p, r.pts[i], r.pts[i + 1]));
  return best;
}

// Grid streets for one district: parallels every du and cross streets every dv (both
// jittered), clipped to the district outline. Some cross-street links between two
// parallels are left out, which staggers the blocks. Pieces running alongside an
// existing road are skipped.
void gridStreets(const District& d, std::vector<Road>& roads, NamePool& names, Rng& rng) {
  if (d.du <= 0.0) return;
  std::vector<const Ring*> rings{&d.poly};
  for (const Ring& h : d.holes) rings.push_back(&h);
  V2 c{0, 0};
  for (V2 p : d.poly) c = c + p * (1.0 / double(d.poly.size()));
  const double a = (d.gridAngleDeg + rng.uni(-3.0, 3.0)) * kPi / 180.0;
  const V2 dir{std::cos(a), std::sin(a)};
  const Hw hw = d.zone == Zone::Industrial ? Hw::Service : Hw::Residential;
  const size_t firstOwn = roads.size();

  auto duplicatesRoad = [&](V2 o, V2 along, double t0, double t1, double spacing) {
    int near = 0, total = 0;
    for (double t = t0 + 15.0; t <= t1 - 15.0; t += 10.0, ++total)
      if (distToParallelRoads(o + along * t, along, roads) < std::min(0.35 * spacing, 24.0)) ++near;
    return near > 0.3 * total;
  };
  auto add = [&](V2 o, V2 along, double t0, double t1, const std::string& name) {
    Hw cls = hw;
    if (hw == Hw::Residential && t1 - t0 < 110.0 && rng.chance(0.4)) cls = Hw::LivingStreet;
    roads.push_back(mkRoad(densify({o + along * t0, o + along * t1}, 60.0), cls, name));
  };
  auto streetName = [&]() { return d.zone == Zone::Industrial && rng.chance(0.3) ? std::string() : names.next(); };

  // Parallels.
  const double phase = rng.uni(0.2, 0.8) * d.du;
  for (int k = -30; k <= 30; ++k) {
    const V2 o = c + perp(dir) * (phase + k * d.du + rng.uni(-0.12, 0.12) * d.du);
    for (auto [t0, t1] : clipToRings(o, dir, rings))
      if (t1 - t0 >= 45.0 && !duplicatesRoad(o, dir, t0, t1, d.du)) add(o, dir, t0 - 1.5, t1 + 1.5, streetName());
  }
  const size_t endParallels = roads.size();
  if (d.dv <= 0.0) return;

  // Cross streets, cut where they meet the parallels; inner links may be dropped.
  const V2 along = perp(dir);
  const double phase2 = rng.uni(0.2, 0.8) * d.dv;
  for (int k = -30; k <= 30; ++k) {
    const V2 o = c + dir * (-(phase2 + k * d.dv + rng.uni(-0.12, 0.12) * d.dv));
    for (auto [t0, t1] : clipToRings(o, along, rings)) {
      if (t1 - t0 < 45.0 || duplicatesRoad(o, along, t0, t1, d.dv)) continue;
      std::vector<double> cuts{t0 - 1.5};
      for (size_t r = firstOwn; r < endParallels; ++r)
        for (size_t i = 0; i + 1 < roads[r].pts.size(); ++i)
          if (auto hit = properCrossing(o + along * t0, o + along * t1, roads[r].pts[i], roads[r].pts[i + 1]))
            cuts.push_back(t0 + hit->first * (t1 - t0));
      cuts.push_back(t1 + 1.5);
      std::sort(cuts.begin(), cuts.end());
      const std::string name = streetName();
      double from = cuts[0];
      for (size_t i = 1; i < cuts.size(); ++i) {
        const bool inner = i > 1 && i + 1 < cuts.size();
        const bool last = i + 1 == cuts.size();
        if (inner && rng.chance(0.22)) {  // leave this link out
          if (cuts[i - 1] - from > 1.0) add(o, along, from, cuts[i - 1], name);
          from = cuts[i];
        } else if (last) {
          add(o, along, from, cuts[i], name);
        }
      }
    }
  }
}

// "Am Sonnenhang": a loop street with two accesses and short cul-de-sacs.
void sonnenhangStreets(std::vector<Road>& roads, NamePool& names) {
  const V2 c{870, 1835};
  Line loop = ellipseRing(c, 140.0, 85.0, 36);
  loop.push_back(loop.front());
  roads.push_back(mkRoad(loop, Hw::Residential, "Am Sonnenhang"));
  roads.push_back(mkRoad({loop[0], {1066.0, 1835.0}}, Hw::Residential, "Am Sonnenhang"));
  roads.push_back(mkRoad({loop[27], {870.0, Pts::hangW.y - 1.5}}, Hw::Residential, names.next()));
  roads.push_back(mkRoad({loop[18], {685.0, 1835.0}}, Hw::LivingStreet, names.next()));
  roads.push_back(mkRoad({loop[9], {870.0, 1985.0}}, Hw::LivingStreet, names.next()));
  roads.push_back(mkRoad({loop[22], {800.0, 1805.0}}, Hw::LivingStreet, names.next()));
}

// ---------------------------------------------------------------------------------------
// Bridges: a bridge is its own way; its end points are the end points of the approaches
// ---------------------------------------------------------------------------------------

struct BridgeInfo {
  std::string road;
  std::string over;
  V2 centre;
  double length = 0.0;
};

struct Crossing {
  double s;      // arc length along the road
  V2 p;          // crossing point
  V2 obstacleDir;
};

std::optional<Crossing> firstCrossing(const Line& road, const Line& obstacle) {
  double acc = 0.0;
  for (size_t i = 0; i + 1 < road.size(); ++i) {
    std::optional<Crossing> best;
    for (size_t k = 0; k + 1 < obstacle.size(); ++k) {
      const auto hit = properCrossing(road[i], road[i + 1], obstacle[k], obstacle[k + 1]);
      if (!hit) continue;
      const double s = acc + hit->first * dist(road[i], road[i + 1]);
      if (!best || s < best->s)
        best = Crossing{s, road[i] + (road[i + 1] - road[i]) * hit->first, unit(obstacle[k + 1] - obstacle[k])};
    }
    if (best) return best;
    acc += dist(road[i], road[i + 1]);
  }
  return std::nullopt;
}

// Splits the roads selected by `applies` wherever they cross `obstacle` into approach,
// bridge and approach. `span(c)` is the free span the bridge needs across the obstacle.
void addBridges(std::vector<Road>& roads, const Line& obstacle, const std::string& what,
                const std::function<bool(const Road&)>& applies, const std::function<double(const Crossing&)>& span,
                std::vector<BridgeInfo>& info) {
  std::vector<Road> out;
  for (const Road& road : roads) {
    if (road.bridge || !applies(road)) {
      out.push_back(road);
      continue;
    }
    Road rest = road;
    while (true) {
      const auto hit = firstCrossing(rest.pts, obstacle);
      if (!hit) {
        out.push_back(rest);
        break;
      }
      const Path path(rest.pts);
      const double sinA = std::max(0.3, std::abs(cross(path.dir(hit->s), hit->obstacleDir)));
      const double half = 0.5 * span(*hit) / sinA;
      const double s0 = std::max(0.0, hit->s - half), s1 = std::min(path.length(), hit->s + half);
      const V2 a = snapCm(path.at(s0)), b = snapCm(path.at(s1));
      if (s0 > 0.5) {
        Road before = rest;
        before.pts = path.sub(0.0, s0, rest.pts.front(), a);
        out.push_back(before);
      }
      Road bridge = rest;
      bridge.pts = path.sub(s0, s1, a, b);
      bridge.bridge = true;
      out.push_back(bridge);
      info.push_back({rest.name, what, hit->p, s1 - s0});
      if (path.length() - s1 < 0.5) break;
      rest.pts = path.sub(s1, path.length(), b, rest.pts.back());
    }
  }
  roads = std::move(out);
}

// ---------------------------------------------------------------------------------------
// Road network with shared nodes: junction vertices are bit-identical by construction
// ---------------------------------------------------------------------------------------

struct Way {
  std::vector<int> nd;
  Hw hw = Hw::Residential;
  std::string name;
  bool oneway = false;
  int lanes = 0;
  int speed = 0;
  bool bridge = false;
};

struct RoadNet {
  std::vector<V2> node;
  std::vector<Way> way;
  Line line(const Way& w) const {
    Line l;
    for (int n : w.nd) l.push_back(node[static_cast<size_t>(n)]);
    return l;
  }
};

RoadNet toNet(const std::vector<Road>& roads) {
  RoadNet net;
  for (const Road& r : roads) {
    Way w;
    for (V2 p : r.pts) {
      net.node.push_back(p);
      w.nd.push_back(static_cast<int>(net.node.size()) - 1);
    }
    w.hw = r.hw;
    w.name = r.name;
    w.oneway = r.oneway;
    const HwInfo& hi = hwInfo(r.hw);
    w.lanes = r.lanes >= 0 ? r.lanes : (r.oneway && hi.lanes > 0 ? 1 : hi.lanes);
    w.speed = r.speed >= 0 ? r.speed : hi.speed;
    w.bridge = r.bridge;
    net.way.push_back(w);
  }
  return net;
}

void dropRepeats(RoadNet& net) {
  for (Way& w : net.way) w.nd.erase(std::unique(w.nd.begin(), w.nd.end()), w.nd.end());
  net.way.erase(std::remove_if(net.way.begin(), net.way.end(), [](const Way& w) { return w.nd.size() < 2; }), net.way.end());
}

// Uniform grid over the extent for segment look-ups.
class SegGrid {
 public:
  explicit SegGrid(double cell) : cell_(cell), nx_(int(kExtentW / cell) + 3), ny_(int(kExtentH / cell) + 3), cells_(size_t(nx_) * size_t(ny_)) {}
  void insert(V2 a, V2 b, double pad, int id) {
    forCells(std::min(a.x, b.x) - pad, std::min(a.y, b.y) - pad, std::max(a.x, b.x) + pad, std::max(a.y, b.y) + pad,
             [&](std::vector<int>& c) { c.push_back(id); });
  }
  template <class F>
  void query(double x0, double y0, double x1, double y1, F&& f) const {
    forCellsConst(x0, y0, x1, y1, [&](const std::vector<int>& c) {
      for (int id : c) f(id);
    });
  }

 private:
  int ci(double x) const { return std::clamp(int(std::floor(x / cell_)) + 1, 0, nx_ - 1); }
  int cj(double y) const { return std::clamp(int(std::floor(y / cell_)) + 1, 0, ny_ - 1); }
  template <class F>
  void forCells(double x0, double y0, double x1, double y1, F&& f) {
    for (int j = cj(y0); j <= cj(y1); ++j)
      for (int i = ci(x0); i <= ci(x1); ++i) f(cells_[size_t(j) * size_t(nx_) + size_t(i)]);
  }
  template <class F>
  void forCellsConst(double x0, double y0, double x1, double y1, F&& f) const {
    for (int j = cj(y0); j <= cj(y1); ++j)
      for (int i = ci(x0); i <= ci(x1); ++i) f(cells_[size_t(j) * size_t(nx_) + size_t(i)]);
  }
  double cell_;
  int nx_, ny_;
  std::vector<std::vector<int>> cells_;
};

// Merges nodes closer than tol (interior nodes of bridges excluded: nothing may join them).
bool mergeCloseNodes(RoadNet& net, double tol) {
  std::vector<char> eligible(net.node.size(), 0);
  for (const Way& w : net.way)
    for (size_t i = 0; i < w.nd.size(); ++i)
      if (!w.bridge || i == 0 || i + 1 == w.nd.size()) eligible[size_t(w.nd[i])] = 1;
  std::map<std::pair<long, long>, std::vector<int>> buckets;
  for (size_t n = 0; n < net.node.size(); ++n)
    if (eligible[n]) buckets[{long(std::floor(net.node[n].x)), long(std::floor(net.node[n].y))}].push_back(int(n));
  std::vector<int> parent(net.node.size());
  for (size_t n = 0; n < parent.size(); ++n) parent[n] = int(n);
  std::function<int(int)> find = [&](int n) { return parent[size_t(n)] == n ? n : parent[size_t(n)] = find(parent[size_t(n)]); };
  bool changed = false;
  for (const auto& [key, ids] : buckets)
    for (long dx = -1; dx <= 1; ++dx)
      for (long dy = -1; dy <= 1; ++dy) {
        const auto it = buckets.find({key.first + dx, key.second + dy});
        if (it == buckets.end()) continue;
        for (int a : ids)
          for (int b : it->second) {
            if (a >= b || dist(net.node[size_t(a)], net.node[size_t(b)]) >= tol) continue;
            const int ra = find(a), rb = find(b);
            if (ra == rb) continue;
            parent[size_t(std::max(ra, rb))] = std::min(ra, rb);
            changed = true;
          }
      }
  if (!changed) return false;
  for (Way& w : net.way)
    for (int& n : w.nd) n = find(n);
  dropRepeats(net);
  return true;
}

// Makes every at-grade crossing or touch of two ground-level ways a shared node. Bridges are
// left alone, which is what makes them grade-separated.
void planarise(RoadNet& net, double tol) {
  for (int iter = 0; iter < 12; ++iter) {
    bool changed = mergeCloseNodes(net, tol);
    struct Seg {
      int w, i;
    };
    std::vector<Seg> segs;
    SegGrid grid(25.0);
    for (size_t w = 0; w < net.way.size(); ++w) {
      if (net.way[w].bridge) continue;
      for (size_t i = 0; i + 1 < net.way[w].nd.size(); ++i) {
        segs.push_back({int(w), int(i)});
        grid.insert(net.node[size_t(net.way[w].nd[i])], net.node[size_t(net.way[w].nd[i + 1])], tol, int(segs.size()) - 1);
      }
    }
    std::map<std::pair<int, int>, std::vector<std::pair<double, int>>> inserts;
    std::vector<int> seen(segs.size(), -1);
    auto nodeOf = [&](const Seg& s, int k) { return net.way[size_t(s.w)].nd[size_t(s.i + k)]; };
    for (size_t sa = 0; sa < segs.size(); ++sa) {
      const Seg A = segs[sa];
      const int a0 = nodeOf(A, 0), a1 = nodeOf(A, 1);
      const V2 pa0 = net.node[size_t(a0)], pa1 = net.node[size_t(a1)];
      grid.query(std::min(pa0.x, pa1.x) - tol, std::min(pa0.y, pa1.y) - tol, std::max(pa0.x, pa1.x) + tol,
                 std::max(pa0.y, pa1.y) + tol, [&](int sb) {
                   if (sb <= int(sa) || seen[size_t(sb)] == int(sa)) return;
                   seen[size_t(sb)] = int(sa);
                   const Seg B = segs[size_t(sb)];
                   const int b0 = nodeOf(B, 0), b1 = nodeOf(B, 1);
                   if (a0 == b0 || a0 == b1 || a1 == b0 || a1 == b1) return;
                   const V2 pb0 = net.node[size_t(b0)], pb1 = net.node[size_t(b1)];
                   // A vertex lying on (or within tol of) the other segment becomes a junction there.
                   bool touched = false;
                   const std::array<std::tuple<int, V2, Seg, V2, V2>, 4> probes{
                       std::make_tuple(a0, pa0, B, pb0, pb1), std::make_tuple(a1, pa1, B, pb0, pb1),
                       std::make_tuple(b0, pb0, A, pa0, pa1), std::make_tuple(b1, pb1, A, pa0, pa1)};
                   for (const auto& [n, p, S, q0, q1] : probes) {
                     double t = 0.0;
                     if (distPointSeg(p, q0, q1, &t) < tol && dist(p, q0) >= tol && dist(p, q1) >= tol) {
                       inserts[{S.w, S.i}].push_back({t, n});
                       touched = true;
                     }
                   }
                   if (touched) return;
                   if (const auto hit = properCrossing(pa0, pa1, pb0, pb1)) {
                     net.node.push_back(snapCm(pa0 + (pa1 - pa0) * hit->first));
                     const int n = int(net.node.size()) - 1;
                     inserts[{A.w, A.i}].push_back({hit->first, n});
                     inserts[{B.w, B.i}].push_back({hit->second, n});
                   }
                 });
    }
    if (!inserts.empty()) {
      changed = true;
      // Apply from the last segment backwards so indices stay valid.
      for (auto it = inserts.rbegin(); it != inserts.rend(); ++it) {
        auto list = it->second;
        std::sort(list.begin(), list.end());
        std::vector<int>& nd = net.way[size_t(it->first.first)].nd;
        std::vector<int> add;
        for (const auto& [t, n] : list) add.push_back(n);
        nd.insert(nd.begin() + it->first.second + 1, add.begin(), add.end());
      }
      dropRepeats(net);
    }
    if (!changed) return;
  }
}

std::vector<int> nodeUse(const RoadNet& net) {
  std::vector<int> use(net.node.size(), 0);
  for (const Way& w : net.way)
    for (size_t i = 0; i < w.nd.size(); ++i)
      if (i == 0 || w.nd[i] != w.nd[0] || i + 1 != w.nd.size()) ++use[size_t(w.nd[i])];  // closed ways count once
  return use;
}

// Removes the short overshoots left where a street was drawn slightly past the road it meets.
void trimStubs(RoadNet& net, double maxLen) {
  const std::vector<int> use = nodeUse(net);
  for (Way& w : net.way) {
    if (w.bridge || w.nd.size() < 3) continue;
    auto stub = [&](int end, int next) {
      return use[size_t(end)] == 1 && use[size_t(next)] >= 2 && dist(net.node[size_t(end)], net.node[size_t(next)]) < maxLen;
    };
    if (stub(w.nd[0], w.nd[1])) w.nd.erase(w.nd.begin());
    if (w.nd.size() >= 3 && stub(w.nd.back(), w.nd[w.nd.size() - 2])) w.nd.pop_back();
  }
}

// Splits ways at junctions so that pieces between junctions are at least minLen long
// (OSM-style ways; the importer would split at shared vertices anyway).
void splitAtJunctions(RoadNet& net, double minLen) {
  const std::vector<int> use = nodeUse(net);
  std::vector<Way> out;
  for (const Way& w : net.way) {
    if (w.bridge) {
      out.push_back(w);
      continue;
    }
    Way cur = w;
    cur.nd.clear();
    double run = 0.0;
    for (size_t i = 0; i < w.nd.size(); ++i) {
      if (i > 0) run += dist(net.node[size_t(w.nd[i - 1])], net.node[size_t(w.nd[i])]);
      cur.nd.push_back(w.nd[i]);
      double rest = 0.0;
      for (size_t k = i + 1; k < w.nd.size(); ++k) rest += dist(net.node[size_t(w.nd[k - 1])], net.node[size_t(w.nd[k])]);
      if (i > 0 && i + 1 < w.nd.size() && use[size_t(w.nd[i])] >= 2 && run >= minLen && rest >= minLen) {
        out.push_back(cur);
        cur.nd = {w.nd[i]};
        run = 0.0;
      }
    }
    out.push_back(cur);
  }
  net.way = std::move(out);
}

struct TopoReport {
  int atGradeViolations = 0;
  std::vector<std::string> details;
  int riverCrossings = 0;
  int streamCrossings = 0;
  std::vector<std::string> gradeSeparated;
};

// Independent check of the topology rules on the final network.
TopoReport checkTopology(const RoadNet& net, const Line& river, const Line& stream) {
  TopoReport rep;
  struct Seg {
    int w;
    int a, b;
  };
  std::vector<Seg> segs;
  SegGrid grid(25.0);
  for (size_t w = 0; w < net.way.size(); ++w)
    for (size_t i = 0; i + 1 < net.way[w].nd.size(); ++i) {
      segs.push_back({int(w), net.way[w].nd[i], net.way[w].nd[i + 1]});
      grid.insert(net.node[size_t(segs.back().a)], net.node[size_t(segs.back().b)], 0.01, int(segs.size()) - 1);
    }
  std::set<std::pair<int, int>> sepPairs;
  std::vector<int> seen(segs.size(), -1);
  for (size_t sa = 0; sa < segs.size(); ++sa) {
    const Seg A = segs[sa];
    const V2 a0 = net.node[size_t(A.a)], a1 = net.node[size_t(A.b)];
    grid.query(std::min(a0.x, a1.x), std::min(a0.y, a1.y), std::max(a0.x, a1.x), std::max(a0.y, a1.y), [&](int sb) {
      if (sb <= int(sa) || seen[size_t(sb)] == int(sa)) return;
      seen[size_t(sb)] = int(sa);
      const Seg B = segs[size_t(sb)];
      const V2 b0 = net.node[size_t(B.a)], b1 = net.node[size_t(B.b)];
      const bool shared = A.a == B.a || A.a == B.b || A.b == B.a || A.b == B.b;
      if (shared) {
        // Sharing an end is fine unless the segments also run on top of each other.
        const int s = A.a == B.a || A.a == B.b ? A.a : A.b;
        const V2 pa = s == A.a ? a1 : a0, pb = (s == B.a) ? b1 : b0, ps = net.node[size_t(s)];
        if (std::abs(cross(pa - ps, pb - ps)) < 1e-9 && dot(pa - ps, pb - ps) > 0) {
          ++rep.atGradeViolations;
          rep.details.push_back("overlapping " + net.way[size_t(A.w)].name + " / " + net.way[size_t(B.w)].name);
        }
        return;
      }
      if (segSegDist(a0, a1, b0, b1) > 1e-3) return;
      const Way& wa = net.way[size_t(A.w)];
      const Way& wb = net.way[size_t(B.w)];
      if (wa.bridge != wb.bridge) {
        sepPairs.insert({std::min(A.w, B.w), std::max(A.w, B.w)});
      } else {
        ++rep.atGradeViolations;
        char buf[64];
        std::snprintf(buf, sizeof buf, " at %.2f %.2f", a0.x, a0.y);
        rep.details.push_back("no shared vertex: " + wa.name + " / " + wb.name + buf);
      }
    });
  }
  for (const auto& [a, b] : sepPairs) {
    const Way& br = net.way[size_t(net.way[size_t(a)].bridge ? a : b)];
    const Way& under = net.way[size_t(net.way[size_t(a)].bridge ? b : a)];
    rep.gradeSeparated.push_back(br.name + " (bridge) over " + under.name);
  }
  for (const Way& w : net.way) {
    if (w.bridge) continue;
    const Line l = net.line(w);
    for (size_t i = 0; i + 1 < l.size(); ++i) {
      for (size_t k = 0; k + 1 < river.size(); ++k) {
        const double hw = 0.5 * Geo::riverWidth(river[k].x);
        if (segSegDist(l[i], l[i + 1], river[k], river[k + 1]) < hw) ++rep.riverCrossings;
      }
      for (size_t k = 0; k + 1 < stream.size(); ++k)
        if (segsTouch(l[i], l[i + 1], stream[k], stream[k + 1])) ++rep.streamCrossings;
    }
  }
  return rep;
}

// ---------------------------------------------------------------------------------------
// Buildings
// ---------------------------------------------------------------------------------------

// Oriented rectangle: centre, unit axis u, half extents a (along u) and b (across).
struct ORect {
  V2 c;
  V2 u{1.0, 0.0};
  double a = 0.0;
  double b = 0.0;
};

std::array<V2, 4> corners(const ORect& r) {
  const V2 v = perp(r.u);
  return {r.c - r.u * r.a - v * r.b, r.c + r.u * r.a - v * r.b, r.c + r.u * r.a + v * r.b, r.c - r.u * r.a + v * r.b};
}

// Separating-axis test; rectangles closer than `gap` count as overlapping, touching is fine.
bool rectsOverlap(const ORect& p, const ORect& q, double gap) {
  const V2 d = q.c - p.c;
  for (V2 ax : {p.u, perp(p.u), q.u, perp(q.u)}) {
    const double rp = p.a * std::abs(dot(p.u, ax)) + p.b * std::abs(dot(perp(p.u), ax));
    const double rq = q.a * std::abs(dot(q.u, ax)) + q.b * std::abs(dot(perp(q.u), ax));
    if (std::abs(dot(d, ax)) >= rp + rq + gap - 1e-9) return false;
  }
  return true;
}

double segRectDist(V2 a, V2 b, const ORect& r) {
  const V2 v = perp(r.u);
  const V2 pa{dot(a - r.c, r.u), dot(a - r.c, v)}, pb{dot(b - r.c, r.u), dot(b - r.c, v)};
  auto boxDist = [&](V2 p) { return std::hypot(std::max(std::abs(p.x) - r.a, 0.0), std::max(std::abs(p.y) - r.b, 0.0)); };
  const std::array<V2, 4> c{V2{-r.a, -r.b}, V2{r.a, -r.b}, V2{r.a, r.b}, V2{-r.a, r.b}};
  double best = std::min(boxDist(pa), boxDist(pb));
  if (best == 0.0) return 0.0;
  for (size_t i = 0; i < 4; ++i) {
    if (segsTouch(pa, pb, c[i], c[(i + 1) % 4])) return 0.0;
    best = std::min(best, distPointSeg(c[i], pa, pb));
  }
  return best;
}

bool rectTouchesRing(const ORect& r, const Ring& ring) {
  const auto rc = corners(r);
  for (V2 p : rc)
    if (pointInRing(p, ring)) return true;
  const V2 v = perp(r.u);
  for (size_t i = 0; i < ring.size(); ++i) {
    const V2 p = ring[i] - r.c;
    if (std::abs(dot(p, r.u)) <= r.a && std::abs(dot(p, v)) <= r.b) return true;
    for (size_t k = 0; k < 4; ++k)
      if (segsTouch(ring[i], ring[(i + 1) % ring.size()], rc[k], rc[(k + 1) % 4])) return true;
  }
  return false;
}

struct Building {
  Ring outer;
  Ring hole;  // inner courtyard, empty if none
  std::vector<ORect> parts;  // convex pieces used for collision tests
  double height = 0.0;
  int levels = 1;
  std::string use;
  int year = 0;
  std::string name;
};

// Local frame of a plot: o on the building line, t along the street, n away from it.
struct Frame {
  V2 o, t, n;
  V2 at(double x, double y) const { return o + t * x + n * y; }
  Ring ring(double x0, double x1, double y0, double y1) const { return {at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1)}; }
  ORect rect(double x0, double x1, double y0, double y1) const {
    return {at(0.5 * (x0 + x1), 0.5 * (y0 + y1)), t, 0.5 * (x1 - x0), 0.5 * (y1 - y0)};
  }
};

ORect boundsRect(const Ring& r) {
  double x0 = kInf, y0 = kInf, x1 = -kInf, y1 = -kInf;
  for (V2 p : r) {
    x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  }
  return {{0.5 * (x0 + x1), 0.5 * (y0 + y1)}, {1, 0}, 0.5 * (x1 - x0), 0.5 * (y1 - y0)};
}

struct RingBox {
  const Ring* ring;
  double x0, y0, x1, y1;
};

RingBox boxOf(const Ring& r) {
  const ORect b = boundsRect(r);
  return {&r, b.c.x - b.a, b.c.y - b.b, b.c.x + b.a, b.c.y + b.b};
}

class Placer {
 public:
  Placer(const std::vector<District>& districts, const Sites& sites, const RoadNet& net, const Line& river, const Line& stream,
         std::uint64_t seed)
      : districts_(districts), net_(net), obstacles_(40.0), buildingsGrid_(40.0), rng_(seed, 0xB111D) {
    for (const Ring* r : {&sites.market, &sites.oldTownParking, &sites.cemetery, &sites.recreation, &sites.retail, &sites.pondBuffer,
                          &sites.park, &sites.allotments, &sites.fireStation})
      noBuild_.push_back(boxOf(*r));
    for (const District& d : districts_) zoneBoxes_.push_back(boxOf(d.poly));
    for (const Way& w : net.way) {
      const Line l = net.line(w);
      for (size_t i = 0; i + 1 < l.size(); ++i) addObstacle(l[i], l[i + 1], roadClearance(w.hw));
    }
    for (size_t i = 0; i + 1 < river.size(); ++i) addObstacle(river[i], river[i + 1], 0.5 * Geo::riverWidth(river[i].x) + 10.0);
    for (size_t i = 0; i + 1 < stream.size(); ++i) addObstacle(stream[i], stream[i + 1], 6.0);
  }

  std::vector<Building>& buildings() { return out_; }
  int specialsDropped() const { return specialsDropped_; }

  // Landmarks and other hand-placed buildings; they ignore zones and no-build sites.
  void placeSpecials() {
    special(rectRing(1480, 1305, 1524, 1335), rectRing(1491, 1315, 1513, 1325), 14.5, 3, "public", 1612, "Rathaus");
    special({{1538, 1340.5}, {1574, 1340.5}, {1574, 1355.5}, {1538, 1355.5}, {1538, 1352.5}, {1538, 1343.5}}, {}, 21.0, 1,
            "church", 1280, "St.-Marien-Kirche");
    special(rectRing(1529, 1343.5, 1538, 1352.5), {}, 56.0, 1, "church", 1280, "St.-Marien-Kirche, Turm");
    special(rectRing(1348, 1402, 1404, 1442), rectRing(1360, 1414, 1392, 1430), 13.0, 3, "public", 1908, "Grundschule am Markt");
    special(rectRing(1509, 1408, 1551, 1442), rectRing(1520, 1418, 1540, 1432), 16.4, 4, "mixed", 1895, "");
    special(rectRing(1355, 1235, 1395, 1265), rectRing(1364, 1244, 1386, 1256), 16.0, 4, "commercial", 1905, "");
    special(rectRing(1863, 1322, 1923, 1360), {}, 7.0, 1, "commercial", 2006, "Supermarkt");
    special(rectRing(1906, 1595, 1924, 1605), {}, 9.0, 1, "church", 1962, "Friedhofskapelle");
    special(rectRing(1908, 1137, 1952, 1163), {}, 10.0, 1, "public", 1978, "Sporthalle an der Aue");
    special(rectRing(722, 1242, 734, 1258), {}, 9.5, 2, "mixed", 1780, "Alte Mühle");
    special(rectRing(2085, 1245, 2115, 1265), {}, 9.0, 2, "public", 1986, "Feuerwehrgerätehaus");
  }

  // Walks along both sides of every street and fills the plots according to the zone.
  void placeFrontage() {
    std::vector<size_t> order;
    for (size_t i = 0; i < net_.way.size(); ++i) {
      const Way& w = net_.way[i];
      if (w.bridge || w.hw == Hw::Trunk || isPath(w.hw)) continue;
      order.push_back(i);
    }
    // Old town first (its perimeter blocks claim the corners), then by road class.
    auto key = [&](size_t i) {
      const Line l = net_.line(net_.way[i]);
      const bool old = zoneAt(l[l.size() / 2]) == &districts_[0];  // districts_[0] is the old town
      return std::make_pair(old ? 0 : 1, static_cast<int>(net_.way[i].hw));
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    for (size_t i : order) {
      const Path road(net_.line(net_.way[i]));
      for (int side : {1, -1}) frontage(road, net_.way[i].hw, side);
    }
  }

  // Rear buildings inside the old-town blocks.
  void infillOldTown(const Layout& lay) {
    const District* z = &districts_[0];  // the old town
    for (int k = 0; k < 700; ++k) {
      const V2 p{lay.c.x + rng_.uni(-lay.rx, lay.rx), lay.c.y + rng_.uni(-lay.ry, lay.ry)};
      if (zoneAt(p) != z) continue;
      const V2 t = nearestRoadDir(p);
      const double w = rng_.uni(6.0, 10.0), d = rng_.uni(7.0, 11.0);
      const Frame f{p, t, perp(t)};
      Building b;
      b.outer = f.ring(-w / 2, w / 2, -d / 2, d / 2);
      b.parts = {f.rect(-w / 2, w / 2, -d / 2, d / 2)};
      if (!fits(b.parts, 2.0, z)) continue;
      b.levels = 2 + int(rng_.pick({0.6, 0.4}));
      b.height = round1(b.levels * 3.1 + rng_.uni(2.5, 4.0));
      b.use = std::array<const char*, 3>{"residential", "mixed", "commercial"}[rng_.pick({0.6, 0.25, 0.15})];
      b.year = oldTownYear();
      commit(std::move(b));
    }
  }

 private:
  void addObstacle(V2 a, V2 b, double clear) {
    obstacleSegs_.push_back({a, b, clear});
    obstacles_.insert(a, b, clear, int(obstacleSegs_.size()) - 1);
  }

  const District* zoneAt(V2 p) const {
    for (size_t i = 0; i < districts_.size(); ++i) {
      const RingBox& b = zoneBoxes_[i];
      if (p.x >= b.x0 && p.x <= b.x1 && p.y >= b.y0 && p.y <= b.y1 && pointInRing(p, districts_[i].poly)) return &districts_[i];
    }
    return nullptr;
  }

  bool inNoBuild(const ORect& r) const {
    const double ext = r.a + r.b;
    for (const RingBox& b : noBuild_)
      if (r.c.x + ext >= b.x0 && r.c.x - ext <= b.x1 && r.c.y + ext >= b.y0 && r.c.y - ext <= b.y1 && rectTouchesRing(r, *b.ring))
        return true;
    return false;
  }

  // Can these parts be built? Checks extent, road/river/stream clearances, other buildings
  // and, for generic buildings (zone != nullptr), the zone and the no-build sites.
  bool fits(const std::vector<ORect>& parts, double gap, const District* zone) const {
    for (const ORect& r : parts) {
      const auto cs = corners(r);
      for (V2 c : cs)
        if (c.x < 3.0 || c.y < 3.0 || c.x > kExtentW - 3.0 || c.y > kExtentH - 3.0) return false;
      bool ok = true;
      const double pad = r.a + r.b + 30.0;
      obstacles_.query(r.c.x - pad, r.c.y - pad, r.c.x + pad, r.c.y + pad, [&](int id) {
        const Obstacle& o = obstacleSegs_[size_t(id)];
        if (ok && segRectDist(o.a, o.b, r) < o.clear) ok = false;
      });
      if (!ok) return false;
      const double bpad = r.a + r.b + gap + 1.0;
      buildingsGrid_.query(r.c.x - bpad, r.c.y - bpad, r.c.x + bpad, r.c.y + bpad, [&](int id) {
        const auto& [bi, pi] = partRefs_[size_t(id)];
        if (ok && rectsOverlap(r, out_[size_t(bi)].parts[size_t(pi)], gap)) ok = false;
      });
      if (!ok) return false;
      if (zone) {
        for (V2 c : cs)
          if (zoneAt(c) != zone) return false;
        if (zoneAt(r.c) != zone || inNoBuild(r)) return false;
      }
    }
    return true;
  }

  void commit(Building b) {
    b.outer = snapAll(b.outer);
    b.hole = snapAll(b.hole);
    out_.push_back(std::move(b));
    const Building& nb = out_.back();
    for (size_t p = 0; p < nb.parts.size(); ++p) {
      partRefs_.push_back({int(out_.size()) - 1, int(p)});
      const ORect& r = nb.parts[p];
      const double e = r.a + r.b;
      buildingsGrid_.insert({r.c.x - e, r.c.y - e}, {r.c.x + e, r.c.y + e}, 0.0, int(partRefs_.size()) - 1);
    }
  }

  void special(Ring outer, Ring hole, double height, int levels, const char* use, int year, const char* name) {
    Building b;
    b.parts = {boundsRect(outer)};
    b.outer = std::move(outer);
    b.hole = std::move(hole);
    b.height = height;
    b.levels = levels;
    b.use = use;
    b.year = year;
    b.name = name;
    if (!fits(b.parts, 0.0, nullptr)) {
      std::fprintf(stderr, "warning: landmark '%s' does not fit, skipped\n", name);
      ++specialsDropped_;
      return;
    }
    commit(std::move(b));
  }

  V2 nearestRoadDir(V2 p) const {
    double best = kInf;
    V2 dir{1, 0};
    obstacles_.query(p.x - 80, p.y - 80, p.x + 80, p.y + 80, [&](int id) {
      const Obstacle& o = obstacleSegs_[size_t(id)];
      const double d = distPointSeg(p, o.a, o.b);
      if (d < best) best = d, dir = unit(o.b - o.a);
    });
    return dir;
  }

  // Frame for a single plot of width w starting at arc length s.
  static Frame plotFrame(const Path& road, double s, double w, int side, double off) {
    const V2 a = road.at(s), b = road.at(s + w);
    const V2 t = unit(b - a), n = perp(t) * double(side);
    return {a + n * off, t, n};
  }

  int districtYear(const District& z) { return rng_.range(z.yearFrom, z.yearTo); }
  int oldTownYear() {
    switch (rng_.pick({0.35, 0.25, 0.30, 0.10})) {
      case 0: return rng_.range(1550, 1899);
      case 1: return rng_.range(1900, 1939);
      case 2: return rng_.range(1948, 1975);
      default: return rng_.range(1976, 2015);
    }
  }

  void frontage(const Path& road, Hw hw, int side) {
    const double clear = roadClearance(hw);
    const double L = road.length();
    double s = 2.0;
    while (s < L - 4.0) {
      const V2 probe = road.at(s + 5.0) + perp(road.dir(s + 5.0)) * (side * (clear + 8.0));
      const District* z = zoneAt(probe);
      double used = 0.0;
      if (z && z->zone == Zone::OldTown) used = oldTownRun(road, s, side, clear, hw, z);
      else if (z && z->zone == Zone::Residential) used = residential(road, s, side, clear, hw, *z);
      else if (z && z->zone == Zone::Industrial) used = industrial(road, s, side, clear, *z);
      s += used > 0.0 ? used : 3.0;
    }
  }

  using Finish = std::function<void(Building&, const Frame&, double, double, double)>;

  // Units side by side with shared walls along a straight building line starting at s.
  // Returns the frontage used, or 0 if fewer than minUnits fit (then nothing is built).
  double placeRun(const Path& road, double s, int side, double off, const std::vector<double>& widths, double depth, double gap,
                  const District* z, size_t minUnits, const Finish& finish) {
    const V2 a = road.at(s), t = road.dir(s + 0.5), n = perp(t) * double(side);
    const Frame f{a + n * off, t, n};
    std::vector<Building> run;
    double x = 0.0;
    for (double w : widths) {
      const double x1 = x + w;
      if (s + x1 > road.length() - 0.5) break;
      if (std::abs(dot(road.at(s + x1) - a, n)) > 1.0) break;  // street bends away
      Building b;
      b.outer = f.ring(x, x1, 0.0, depth);
      b.parts = {f.rect(x, x1, 0.0, depth)};
      if (!fits(b.parts, gap, z)) break;
      finish(b, f, x, x1, depth);
      run.push_back(std::move(b));
      x = x1;
    }
    if (run.empty() || run.size() < minUnits) return 0.0;
    for (Building& b : run) commit(std::move(b));
    return x;
  }

  double oldTownRun(const Path& road, double s, int side, double clear, Hw hw, const District* z) {
    const bool main = hw == Hw::Primary || hw == Hw::Tertiary;
    std::vector<double> widths;
    for (int k = 0; k < 12; ++k) widths.push_back(rng_.uni(7.0, 14.0));
    const Finish finish = [&](Building& b, const Frame& f, double x0, double x1, double d) {
      // Some houses get a rear wing (Hinterhaus), inset from the party walls.
      if (rng_.chance(0.3) && x1 - x0 > 8.0) {
        const double ww = rng_.uni(4.0, x1 - x0 - 2.0), dw = rng_.uni(5.0, 9.0);
        const double w0 = x0 + 1.0, w1 = w0 + ww;
        const ORect wing = f.rect(w0, w1, d, d + dw);
        if (fits({wing}, 0.5, z)) {
          b.outer = {f.at(x0, 0), f.at(x1, 0), f.at(x1, d), f.at(w1, d), f.at(w1, d + dw), f.at(w0, d + dw), f.at(w0, d), f.at(x0, d)};
          b.parts.push_back(wing);
        }
      }
      b.levels = 3 + int(rng_.pick({0.35, 0.40, 0.25}));
      b.height = round1(b.levels * 3.2 + rng_.uni(3.0, 4.5));
      b.use = main ? std::array<const char*, 3>{"mixed", "commercial", "residential"}[rng_.pick({0.55, 0.25, 0.20})]
                   : std::array<const char*, 3>{"residential", "mixed", "commercial"}[rng_.pick({0.55, 0.35, 0.10})];
      b.year = oldTownYear();
    };
    const double used = placeRun(road, s, side, clear + 0.3, widths, rng_.uni(10.0, 14.0), 0.3, z, 1, finish);
    return used > 0.0 ? used + 0.4 : 0.0;
  }

  double residential(const Path& road, double s, int side, double clear, Hw hw, const District& z) {
    const bool arterial = hw == Hw::Primary || hw == Hw::Secondary || hw == Hw::Tertiary;
    size_t type = rng_.pick({z.mix.detached, z.mix.semi, z.mix.row, z.mix.apartment});
    if (arterial && rng_.chance(0.45)) type = rng_.chance(0.6) ? 4 : 3;  // shops and flats along main roads
    switch (type) {
      case 0: return detached(road, s, side, clear, z);
      case 1: return semiOrRow(road, s, side, clear, z, false);
      case 2: return semiOrRow(road, s, side, clear, z, true);
      case 3: return apartment(road, s, side, clear, z);
      default: return mixedUse(road, s, side, clear, z);
    }
  }

  double detached(const Path& road, double s, int side, double clear, const District& z) {
    const double w = rng_.uni(9.0, 12.5), d = rng_.uni(8.0, 11.0);
    const Frame f = plotFrame(road, s, w, side, clear + rng_.uni(4.0, 7.0));
    Building b;
    b.outer = f.ring(0, w, 0, d);
    b.parts = {f.rect(0, w, 0, d)};
    if (rng_.chance(0.25)) {  // L-shaped house: a wing at the back, flush with one side
      const double ww = rng_.uni(4.0, 0.55 * w), dw = rng_.uni(3.0, 6.0);
      if (rng_.chance(0.5)) {
        b.outer = {f.at(0, 0), f.at(w, 0), f.at(w, d + dw), f.at(w - ww, d + dw), f.at(w - ww, d), f.at(0, d)};
        b.parts.push_back(f.rect(w - ww, w, d, d + dw));
      } else {
        b.outer = {f.at(0, 0), f.at(w, 0), f.at(w, d), f.at(ww, d), f.at(ww, d + dw), f.at(0, d + dw)};
        b.parts.push_back(f.rect(0, ww, d, d + dw));
      }
    }
    if (!fits(b.parts, 3.0, &z)) return 0.0;
    b.levels = 1 + int(rng_.pick({0.35, 0.65}));
    b.height = round1(b.levels * 2.9 + rng_.uni(2.5, 4.0));
    b.use = "residential";
    b.year = districtYear(z);
    const int year = b.year;
    commit(std::move(b));
    double used = w;
    if (rng_.chance(0.5)) {  // garage beside the house
      Building g;
      g.outer = f.ring(w + 1.2, w + 4.4, 1.0, 7.0);
      g.parts = {f.rect(w + 1.2, w + 4.4, 1.0, 7.0)};
      if (fits(g.parts, 0.8, &z)) {
        g.levels = 1;
        g.height = round1(rng_.uni(2.6, 3.0));
        g.use = "garage";
        g.year = std::min(2020, year + rng_.range(0, 15));
        commit(std::move(g));
        used += 4.4;
      }
    }
    return used + rng_.uni(4.0, 7.5);
  }

  double semiOrRow(const Path& road, double s, int side, double clear, const District& z, bool row) {
    const int n = row ? rng_.range(4, 6) : 2;
    const double w = row ? rng_.uni(5.5, 6.5) : rng_.uni(7.5, 9.0);
    const int levels = row && rng_.chance(0.2) ? 3 : 2;
    const double roof = rng_.uni(2.5, 3.8);
    const int year = districtYear(z);
    const Finish finish = [&](Building& b, const Frame&, double, double, double) {
      b.levels = levels;
      b.height = round1(levels * 2.9 + roof);
      b.use = "residential";
      b.year = year;
    };
    const double used = placeRun(road, s, side, clear + (row ? 4.0 : rng_.uni(4.0, 6.0)), std::vector<double>(size_t(n), w),
                                 rng_.uni(9.5, 11.0), 2.5, &z, row ? 3 : 2, finish);
    return used > 0.0 ? used + rng_.uni(6.0, 10.0) : 0.0;
  }

  double apartment(const Path& road, double s, int side, double clear, const District& z) {
    const double w = rng_.uni(24.0, 40.0), d = rng_.uni(11.0, 14.0);
    const Frame f = plotFrame(road, s, w, side, clear + rng_.uni(6.0, 9.0));
    Building b;
    b.outer = f.ring(0, w, 0, d);
    b.parts = {f.rect(0, w, 0, d)};
    if (!fits(b.parts, 8.0, &z)) return 0.0;
    b.levels = 4 + int(rng_.pick({0.3, 0.25, 0.2, 0.15, 0.1}));
    b.height = round1(b.levels * 2.9 + 1.2);
    b.use = "residential";
    b.year = std::max(1955, districtYear(z));
    commit(std::move(b));
    return w + rng_.uni(12.0, 18.0);
  }

  double mixedUse(const Path& road, double s, int side, double clear, const District& z) {
    const double w = rng_.uni(12.0, 18.0), d = rng_.uni(10.0, 13.0);
    const Frame f = plotFrame(road, s, w, side, clear + 2.5);
    Building b;
    b.outer = f.ring(0, w, 0, d);
    b.parts = {f.rect(0, w, 0, d)};
    if (!fits(b.parts, 2.0, &z)) return 0.0;
    b.levels = 2 + int(rng_.pick({0.4, 0.4, 0.2}));
    b.height = round1(b.levels * 3.0 + 3.0);
    b.use = rng_.chance(0.7) ? "mixed" : "commercial";
    b.year = districtYear(z);
    commit(std::move(b));
    return w + rng_.uni(2.0, 5.0);
  }

  double industrial(const Path& road, double s, int side, double clear, const District& z) {
    const bool office = rng_.chance(0.15);
    for (int attempt = 0; attempt < 3; ++attempt) {
      double w, d;
      if (office) {
        w = rng_.uni(20.0, 35.0), d = rng_.uni(12.0, 15.0);
      } else if (attempt == 0) {
        w = rng_.uni(45.0, 90.0), d = rng_.uni(35.0, 60.0);
      } else if (attempt == 1) {
        w = rng_.uni(30.0, 45.0), d = rng_.uni(25.0, 35.0);
      } else {
        w = rng_.uni(18.0, 28.0), d = rng_.uni(15.0, 22.0);
      }
      if (s + w > road.length()) continue;
      const Frame f = plotFrame(road, s, w, side, clear + rng_.uni(8.0, 14.0));
      Building b;
      b.outer = f.ring(0, w, 0, d);
      b.parts = {f.rect(0, w, 0, d)};
      if (!fits(b.parts, 6.0, &z)) continue;
      if (office) {
        b.levels = rng_.range(2, 3);
        b.height = round1(b.levels * 3.5 + 1.0);
        b.use = "commercial";
      } else {
        b.levels = 1;
        b.height = round1(rng_.uni(6.0, 14.0));
        b.use = "industrial";
      }
      b.year = districtYear(z);
      commit(std::move(b));
      return w + rng_.uni(8.0, 18.0);
    }
    return 0.0;
  }

  struct Obstacle {
    V2 a, b;
    double clear;
  };

  const std::vector<District>& districts_;
  const RoadNet& net_;
  std::vector<RingBox> noBuild_;
  std::vector<RingBox> zoneBoxes_;
  std::vector<Obstacle> obstacleSegs_;
  SegGrid obstacles_;
  std::vector<std::pair<int, int>> partRefs_;  // (building, part) per grid entry
  SegGrid buildingsGrid_;
  std::vector<Building> out_;
  Rng rng_;
  int specialsDropped_ = 0;
};

// ---------------------------------------------------------------------------------------
// Land use: a class map on a 5 m grid, polygonised into a partition of the extent
// ---------------------------------------------------------------------------------------

enum Lu : std::uint8_t {
  kLuNone, kLuResidential, kLuCommercial, kLuRetail, kLuIndustrial, kLuFarmland, kLuMeadow,
  kLuGrass, kLuPark, kLuForest, kLuAllotments, kLuCemetery, kLuRecreation, kLuParking, kLuCount
};
const char* const kLuNames[kLuCount] = {"",       "residential", "commercial", "retail",     "industrial",
                                        "farmland", "meadow",      "grass",      "park",       "forest",
                                        "allotments", "cemetery",  "recreation_ground", "parking"};

// Countryside: forest on the hills, otherwise a patchwork of fields and meadows.
Lu countrysideClass(V2 p, double e, double streamDist, const Noise& noise) {
  if (e <= 0.0) return kLuMeadow;  // floodplain
  if (streamDist < 30.0) return kLuMeadow;
  if (e > 300.0 && noise.fbm(p.x / 500.0, p.y / 500.0, 3) > 0.2 - 0.35 * smoothstep(500.0, 1100.0, e)) return kLuForest;
  const double a = 12.0 * kPi / 180.0;
  const double u = p.x * std::cos(a) + p.y * std::sin(a), v = -p.x * std::sin(a) + p.y * std::cos(a);
  const auto fi = std::int64_t(std::floor(u / 210.0 + 0.25 * noise.fbm(p.x / 300.0, p.y / 300.0, 2)));
  const auto fj = std::int64_t(std::floor(v / 140.0 + 0.25 * noise.fbm(p.x / 300.0 + 5.0, p.y / 300.0, 2)));
  return noise.cellHash(fi, fj) < 0.28 ? kLuMeadow : kLuFarmland;
}

// Removes cells that touch a same-class region only diagonally, so that the polygons
// from a 4-connected polygonisation have simple rings.
void breakDiagonalContacts(std::vector<std::uint8_t>& c, int nx, int ny) {
  for (int pass = 0; pass < 100; ++pass) {
    bool changed = false;
    for (int j = 0; j + 1 < ny; ++j)
      for (int i = 0; i + 1 < nx; ++i) {
        std::uint8_t& a = c[size_t(j) * size_t(nx) + size_t(i)];
        std::uint8_t& b = c[size_t(j) * size_t(nx) + size_t(i) + 1];
        std::uint8_t& l = c[size_t(j + 1) * size_t(nx) + size_t(i)];
        const std::uint8_t d = c[size_t(j + 1) * size_t(nx) + size_t(i) + 1];
        if (a == d && b != a && l != a) {
          l = a;
          changed = true;
        } else if (b == l && a != b && d != b) {
          a = b;
          changed = true;
        }
      }
    if (!changed) return;
  }
}

std::vector<std::uint8_t> landuseClasses(const std::vector<District>& districts, const Sites& sites, const RoadNet& net,
                                         const std::vector<Building>& buildings, const Line& stream, std::uint64_t seed) {
  const Grid g(kLanduseCell);
  const Noise noise(seed ^ 0x1A4DULL);
  const DistField sd = distanceField(g, stream, 40.0);
  std::vector<float> trunk(g.size(), std::numeric_limits<float>::infinity());
  for (const Way& w : net.way)
    if (w.hw == Hw::Trunk) {
      const DistField f = distanceField(g, net.line(w), 20.0);
      for (size_t i = 0; i < trunk.size(); ++i) trunk[i] = std::min(trunk[i], f.d[i]);
    }
  struct Area {
    const Ring* ring;
    Lu cls;
  };
  std::vector<Area> areas;  // later entries win
  for (const District& d : districts)
    if (d.paintLanduse)
      areas.push_back({&d.poly, d.zone == Zone::Industrial ? kLuIndustrial : d.zone == Zone::OldTown ? kLuCommercial : kLuResidential});
  for (const Area& a : std::initializer_list<Area>{{&sites.park, kLuPark},
                                                   {&sites.allotments, kLuAllotments},
                                                   {&sites.cemetery, kLuCemetery},
                                                   {&sites.recreation, kLuRecreation},
                                                   {&sites.retail, kLuRetail},
                                                   {&sites.retailParking, kLuParking},
                                                   {&sites.oldTownParking, kLuParking},
                                                   {&sites.pondBuffer, kLuGrass}})
    areas.push_back(a);
  std::vector<RingBox> boxes;
  for (const Area& a : areas) boxes.push_back(boxOf(*a.ring));

  std::vector<std::uint8_t> cls(g.size());
  for (int j = 0; j < g.ny; ++j)
    for (int i = 0; i < g.nx; ++i) {
      const size_t id = g.idx(i, j);
      const V2 p = g.centre(i, j);
      Lu c = countrysideClass(p, Geo::edgeDist(p), sd.d[id], noise);
      if (trunk[id] < 16.0f) c = kLuGrass;  // verges of the bypass
      for (size_t k = 0; k < areas.size(); ++k)
        if (p.x >= boxes[k].x0 && p.x <= boxes[k].x1 && p.y >= boxes[k].y0 && p.y <= boxes[k].y1 && pointInRing(p, *areas[k].ring))
          c = areas[k].cls;
      cls[id] = c;
    }

  // Gardens and yards around buildings that stand at a district's edge.
  for (const Building& b : buildings) {
    const bool ind = b.use == "industrial";
    if (!ind && b.use != "residential" && b.use != "mixed" && b.use != "garage") continue;
    const ORect r = boundsRect(b.outer);
    const double pad = ind ? 10.0 : 12.0;
    for (int j = std::max(0, g.row(r.c.y + r.b + pad)); j <= std::min(g.ny - 1, g.row(r.c.y - r.b - pad)); ++j)
      for (int i = std::max(0, g.col(r.c.x - r.a - pad)); i <= std::min(g.nx - 1, g.col(r.c.x + r.a + pad)); ++i) {
        std::uint8_t& c = cls[g.idx(i, j)];
        if (c == kLuFarmland || c == kLuMeadow || c == kLuForest || c == kLuGrass) c = ind ? kLuIndustrial : kLuResidential;
      }
  }
  return cls;
}

// ---------------------------------------------------------------------------------------
// GDAL output
// ---------------------------------------------------------------------------------------

struct DatasetCloser {
  void operator()(GDALDataset* d) const { GDALClose(GDALDataset::ToHandle(d)); }
};
using DatasetPtr = std::unique_ptr<GDALDataset, DatasetCloser>;

OGRSpatialReference utm32() {
  OGRSpatialReference s;
  s.importFromEPSG(25832);
  s.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return s;
}

DatasetPtr createGpkg(const std::filesystem::path& p) {
  std::filesystem::remove(p);
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GPKG");
  DatasetPtr ds(drv ? drv->Create(p.string().c_str(), 0, 0, 0, GDT_Unknown, nullptr) : nullptr);
  if (!ds) throw std::runtime_error("cannot create " + p.string());
  return ds;
}

OGRLayer* createLayer(GDALDataset& ds, const char* name, OGRwkbGeometryType type,
                      std::initializer_list<std::pair<const char*, OGRFieldType>> fields) {
  OGRSpatialReference srs = utm32();  // CreateLayer() in GDAL 3.6 takes a non-const pointer
  OGRLayer* layer = ds.CreateLayer(name, &srs, type, nullptr);
  if (!layer) throw std::runtime_error(std::string("cannot create layer ") + name);
  for (const auto& [fname, ftype] : fields) {
    OGRFieldDefn fd(fname, ftype);
    if (layer->CreateField(&fd) != OGRERR_NONE) throw std::runtime_error(std::string("cannot create field ") + fname);
  }
  return layer;
}

// A feature with attributes set by `fill`; empty strings are written as null.
void addFeature(OGRLayer* layer, std::unique_ptr<OGRGeometry> geom, const std::function<void(OGRFeature&)>& fill) {
  OGRFeatureUniquePtr f(OGRFeature::CreateFeature(layer->GetLayerDefn()));
  fill(*f);
  f->SetGeometryDirectly(geom.release());
  if (layer->CreateFeature(f.get()) != OGRERR_NONE) throw std::runtime_error("cannot write feature");
}

void setStr(OGRFeature& f, const char* field, const std::string& v) {
  if (v.empty()) f.SetFieldNull(f.GetFieldIndex(field));
  else f.SetField(field, v.c_str());
}
void setInt(OGRFeature& f, const char* field, int v, bool nullIfZero = false) {
  if (nullIfZero && v == 0) f.SetFieldNull(f.GetFieldIndex(field));
  else f.SetField(field, v);
}

std::string makeId(const char* prefix, int digits, size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%0*zu", prefix, digits, n);
  return buf;
}

OGRLinearRing toOgrRing(Ring r, bool ccw) {
  if ((signedArea(r) > 0.0) != ccw) std::reverse(r.begin(), r.end());
  OGRLinearRing lr;
  for (V2 p : r) lr.addPoint(kOriginX + p.x, kOriginY + p.y);
  lr.closeRings();
  return lr;
}

std::unique_ptr<OGRPolygon> toOgrPolygon(const Ring& outer, const Ring& hole = {}) {
  auto poly = std::make_unique<OGRPolygon>();
  OGRLinearRing o = toOgrRing(outer, true);
  poly->addRing(&o);
  if (!hole.empty()) {
    OGRLinearRing h = toOgrRing(hole, false);
    poly->addRing(&h);
  }
  return poly;
}

std::unique_ptr<OGRLineString> toOgrLine(const Line& l) {
  auto ls = std::make_unique<OGRLineString>();
  for (V2 p : l) ls->addPoint(kOriginX + p.x, kOriginY + p.y);
  return ls;
}

// Outer rings counter-clockwise, holes clockwise (for polygons that come from GDAL).
void orientPolygon(OGRPolygon& p) {
  for (int i = 0; i < 1 + p.getNumInteriorRings(); ++i) {
    OGRLinearRing* r = i == 0 ? p.getExteriorRing() : p.getInteriorRing(i - 1);
    if (bool(r->isClockwise()) == (i == 0)) r->reverseWindingOrder();
  }
}

double area(const OGRGeometry& g) { return OGR_G_Area(OGRGeometry::ToHandle(const_cast<OGRGeometry*>(&g))); }

void writeTerrain(const std::filesystem::path& p, const std::vector<float>& h) {
  std::filesystem::remove(p);
  const Grid g(kDemCell);
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  char** opts = nullptr;
  opts = CSLSetNameValue(opts, "COMPRESS", "DEFLATE");
  opts = CSLSetNameValue(opts, "PREDICTOR", "3");
  opts = CSLSetNameValue(opts, "ZLEVEL", "9");
  opts = CSLSetNameValue(opts, "TILED", "YES");
  DatasetPtr ds(drv ? drv->Create(p.string().c_str(), g.nx, g.ny, 1, GDT_Float32, opts) : nullptr);
  CSLDestroy(opts);
  if (!ds) throw std::runtime_error("cannot create " + p.string());
  double gt[6] = {kOriginX, kDemCell, 0.0, kOriginY + kExtentH, 0.0, -kDemCell};
  ds->SetGeoTransform(gt);
  const OGRSpatialReference srs = utm32();
  ds->SetSpatialRef(&srs);
  GDALRasterBand* band = ds->GetRasterBand(1);
  band->SetUnitType("m");
  band->SetDescription("elevation");
  if (band->RasterIO(GF_Write, 0, 0, g.nx, g.ny, const_cast<float*>(h.data()), g.nx, g.ny, GDT_Float32, 0, 0, nullptr) != CE_None)
    throw std::runtime_error("cannot write terrain");
}

// River channel polygon from the centreline and its width, clipped to the extent.
std::unique_ptr<OGRPolygon> riverPolygon(const Line& river) {
  Line left, right;
  for (size_t i = 0; i < river.size(); ++i) {
    const V2 a = river[i == 0 ? 0 : i - 1], b = river[std::min(i + 1, river.size() - 1)];
    const V2 n = perp(unit(b - a)) * (0.5 * Geo::riverWidth(river[i].x));
    left.push_back(river[i] + n);
    right.push_back(river[i] - n);
  }
  std::reverse(left.begin(), left.end());
  Ring ring = right;
  ring.insert(ring.end(), left.begin(), left.end());
  const auto full = toOgrPolygon(snapAll(ring));
  const auto extent = toOgrPolygon(rectRing(0, 0, kExtentW, kExtentH));
  std::unique_ptr<OGRGeometry> clipped(full->Intersection(extent.get()));
  if (!clipped || wkbFlatten(clipped->getGeometryType()) != wkbPolygon) throw std::runtime_error("river clip failed");
  std::unique_ptr<OGRPolygon> poly(clipped.release()->toPolygon());
  orientPolygon(*poly);
  return poly;
}

void writeWater(const std::filesystem::path& p, const OGRPolygon& riverPoly, const Ring& pond, const Line& river, const Line& stream) {
  DatasetPtr ds = createGpkg(p);
  ds->StartTransaction();
  OGRLayer* areas = createLayer(*ds, "water_areas", wkbPolygon, {{"id", OFTString}, {"kind", OFTString}, {"name", OFTString}});
  addFeature(areas, std::unique_ptr<OGRGeometry>(riverPoly.clone()), [](OGRFeature& f) {
    setStr(f, "id", "MS-WA-001");
    setStr(f, "kind", "river");
    setStr(f, "name", "Muster");
  });
  addFeature(areas, toOgrPolygon(pond), [](OGRFeature& f) {
    setStr(f, "id", "MS-WA-002");
    setStr(f, "kind", "pond");
    setStr(f, "name", "Regenrückhaltebecken Ost");
  });
  OGRLayer* lines = createLayer(*ds, "waterways", wkbLineString,
                                {{"id", OFTString}, {"waterway", OFTString}, {"name", OFTString}, {"width", OFTReal}});
  // The river in 500 m sections, each with its mean width; sections share end vertices.
  size_t n = 0;
  for (double x0 = 0.0; x0 < kExtentW; x0 += 500.0) {
    Line part;
    double wsum = 0.0;
    for (V2 q : river)
      if (q.x >= x0 && q.x <= x0 + 500.0) {
        part.push_back(q);
        wsum += Geo::riverWidth(q.x);
      }
    const double width = round1(wsum / double(part.size()));
    addFeature(lines, toOgrLine(part), [&](OGRFeature& f) {
      setStr(f, "id", makeId("MS-WL-", 3, ++n));
      setStr(f, "waterway", "river");
      setStr(f, "name", "Muster");
      f.SetField("width", width);
    });
  }
  addFeature(lines, toOgrLine(stream), [&](OGRFeature& f) {
    setStr(f, "id", makeId("MS-WL-", 3, ++n));
    setStr(f, "waterway", "stream");
    setStr(f, "name", "Mühlenbach");
    f.SetField("width", 3.0);
  });
  ds->CommitTransaction();
}

void writeRoads(const std::filesystem::path& p, const RoadNet& net) {
  DatasetPtr ds = createGpkg(p);
  ds->StartTransaction();
  OGRLayer* layer = createLayer(*ds, "roads", wkbLineString,
                                {{"id", OFTString}, {"highway", OFTString}, {"name", OFTString}, {"oneway", OFTString},
                                 {"lanes", OFTInteger}, {"maxspeed", OFTInteger}, {"bridge", OFTString}, {"layer", OFTInteger}});
  for (size_t k = 0; k < net.way.size(); ++k) {
    const Way& w = net.way[k];
    addFeature(layer, toOgrLine(net.line(w)), [&](OGRFeature& f) {
      setStr(f, "id", makeId("MS-R-", 5, k + 1));
      setStr(f, "highway", hwInfo(w.hw).tag);
      setStr(f, "name", w.name);
      setStr(f, "oneway", w.oneway ? "yes" : "no");
      setInt(f, "lanes", w.lanes, true);
      setInt(f, "maxspeed", w.speed, true);
      setStr(f, "bridge", w.bridge ? "yes" : "");
      setInt(f, "layer", w.bridge ? 1 : 0);
    });
  }
  ds->CommitTransaction();
}

void writeBuildings(const std::filesystem::path& p, const std::vector<Building>& bs) {
  DatasetPtr ds = createGpkg(p);
  ds->StartTransaction();
  OGRLayer* layer = createLayer(*ds, "buildings", wkbPolygon,
                                {{"id", OFTString}, {"height", OFTReal}, {"levels", OFTInteger}, {"use", OFTString},
                                 {"year_built", OFTInteger}, {"name", OFTString}});
  for (size_t k = 0; k < bs.size(); ++k) {
    const Building& b = bs[k];
    addFeature(layer, toOgrPolygon(b.outer, b.hole), [&](OGRFeature& f) {
      setStr(f, "id", makeId("MS-B-", 6, k + 1));
      f.SetField("height", b.height);
      f.SetField("levels", b.levels);
      setStr(f, "use", b.use);
      f.SetField("year_built", b.year);
      setStr(f, "name", b.name);
    });
  }
  ds->CommitTransaction();
}

struct LanduseStats {
  size_t features = 0;
  size_t invalid = 0;
  double totalArea = 0.0;
  std::map<std::string, double> areaByClass;
};

LanduseStats writeLanduse(const std::filesystem::path& p, std::vector<std::uint8_t> cls) {
  const Grid g(kLanduseCell);
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  DatasetPtr rds(mem->Create("", g.nx, g.ny, 1, GDT_Byte, nullptr));
  double gt[6] = {kOriginX, kLanduseCell, 0.0, kOriginY + kExtentH, 0.0, -kLanduseCell};
  rds->SetGeoTransform(gt);
  GDALRasterBand* band = rds->GetRasterBand(1);
  auto io = [&](GDALRWFlag rw) {
    if (band->RasterIO(rw, 0, 0, g.nx, g.ny, cls.data(), g.nx, g.ny, GDT_Byte, 0, 0, nullptr) != CE_None)
      throw std::runtime_error("land use raster I/O failed");
  };
  io(GF_Write);
  // Merge slivers smaller than 750 m² into their neighbours, then make rings simple.
  GDALSieveFilter(GDALRasterBand::ToHandle(band), nullptr, GDALRasterBand::ToHandle(band), 30, 4, nullptr, nullptr, nullptr);
  io(GF_Read);
  breakDiagonalContacts(cls, g.nx, g.ny);
  io(GF_Write);

  GDALDriver* memv = GetGDALDriverManager()->GetDriverByName("Memory");
  DatasetPtr vds(memv->Create("", 0, 0, 0, GDT_Unknown, nullptr));
  OGRLayer* tmp = createLayer(*vds, "lu", wkbPolygon, {{"cls", OFTInteger}});
  if (GDALPolygonize(GDALRasterBand::ToHandle(band), nullptr, OGRLayer::ToHandle(tmp), 0, nullptr, nullptr, nullptr) != CE_None)
    throw std::runtime_error("polygonize failed");

  LanduseStats st;
  DatasetPtr ds = createGpkg(p);
  ds->StartTransaction();
  OGRLayer* layer = createLayer(*ds, "landuse", wkbPolygon, {{"id", OFTString}, {"landuse", OFTString}});
  tmp->ResetReading();
  for (OGRFeatureUniquePtr f(tmp->GetNextFeature()); f; f.reset(tmp->GetNextFeature())) {
    const int c = f->GetFieldAsInteger(0);
    if (c <= kLuNone || c >= kLuCount) continue;
    std::unique_ptr<OGRPolygon> poly(f->StealGeometry()->toPolygon());
    orientPolygon(*poly);
    if (!poly->IsValid()) ++st.invalid;
    const double a = area(*poly);
    st.totalArea += a;
    st.areaByClass[kLuNames[c]] += a;
    ++st.features;
    addFeature(layer, std::move(poly), [&](OGRFeature& out) {
      setStr(out, "id", makeId("MS-L-", 5, st.features));
      setStr(out, "landuse", kLuNames[c]);
    });
  }
  ds->CommitTransaction();
  return st;
}

// ---------------------------------------------------------------------------------------
// Final building check with GEOS: validity, overlaps, river, road centrelines
// ---------------------------------------------------------------------------------------

struct BuildingCheck {
  int invalid = 0, overlaps = 0, river = 0, roads = 0;
  int dropped() const { return invalid + overlaps + river + roads; }
};

BuildingCheck dropConflicts(std::vector<Building>& bs, const OGRPolygon& riverPoly, const RoadNet& net) {
  BuildingCheck chk;
  std::vector<std::unique_ptr<OGRPolygon>> polys;
  for (const Building& b : bs) polys.push_back(toOgrPolygon(b.outer, b.hole));
  std::vector<char> drop(bs.size(), 0);
  SegGrid grid(40.0);
  std::vector<ORect> box;
  for (size_t i = 0; i < bs.size(); ++i) {
    box.push_back(boundsRect(bs[i].outer));
    grid.insert(box[i].c - V2{box[i].a, box[i].b}, box[i].c + V2{box[i].a, box[i].b}, 0.0, int(i));
  }
  std::vector<std::unique_ptr<OGRLineString>> lines;
  SegGrid roadGrid(40.0);
  for (size_t w = 0; w < net.way.size(); ++w) {
    const Line l = net.line(net.way[w]);
    lines.push_back(toOgrLine(l));
    for (size_t i = 0; i + 1 < l.size(); ++i) roadGrid.insert(l[i], l[i + 1], 0.0, int(w));
  }
  std::vector<int> seen(std::max(bs.size(), net.way.size()), -1);
  for (size_t i = 0; i < bs.size(); ++i) {
    const OGRPolygon& p = *polys[i];
    if (!p.IsValid()) {
      drop[i] = 1, ++chk.invalid;
      continue;
    }
    if (p.Intersects(&riverPoly)) {
      drop[i] = 1, ++chk.river;
      continue;
    }
    const ORect& r = box[i];
    bool hit = false;
    std::fill(seen.begin(), seen.end(), -1);
    roadGrid.query(r.c.x - r.a, r.c.y - r.b, r.c.x + r.a, r.c.y + r.b, [&](int w) {
      if (hit || seen[size_t(w)] == int(i)) return;
      seen[size_t(w)] = int(i);
      hit = p.Intersects(lines[size_t(w)].get());
    });
    if (hit) {
      drop[i] = 1, ++chk.roads;
      continue;
    }
    std::fill(seen.begin(), seen.end(), -1);
    grid.query(r.c.x - r.a, r.c.y - r.b, r.c.x + r.a, r.c.y + r.b, [&](int j) {
      if (hit || j >= int(i) || drop[size_t(j)] || seen[size_t(j)] == int(i)) return;
      seen[size_t(j)] = int(i);
      if (!p.Intersects(polys[size_t(j)].get())) return;
      std::unique_ptr<OGRGeometry> inter(p.Intersection(polys[size_t(j)].get()));
      if (inter && area(*inter) > 0.01) hit = true;
    });
    if (hit) drop[i] = 1, ++chk.overlaps;
  }
  std::vector<Building> kept;
  for (size_t i = 0; i < bs.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(bs[i]));
  bs = std::move(kept);
  return chk;
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

V2 global(V2 p) { return {kOriginX + p.x, kOriginY + p.y}; }

V2 ringCentroid(const Ring& r) {
  double a = 0.0, cx = 0.0, cy = 0.0;
  for (size_t i = 0; i < r.size(); ++i) {
    const V2 p = r[i], q = r[(i + 1) % r.size()];
    const double k = cross(p, q);
    a += k, cx += (p.x + q.x) * k, cy += (p.y + q.y) * k;
  }
  return {cx / (3.0 * a), cy / (3.0 * a)};
}

// Pads a UTF-8 string to `width` characters (printf pads bytes, which misaligns umlauts).
std::string padded(const std::string& s, size_t width) {
  size_t chars = 0;
  for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80 ? 1 : 0;
  return s + std::string(chars < width ? width - chars : 0, ' ');
}

void printSummary(const std::filesystem::path& outDir, std::uint64_t seed, const std::vector<Building>& buildings,
                  const BuildingCheck& chk, int specialsDropped, const RoadNet& net, size_t waysBeforeSplit,
                  const TopoReport& topo, const std::vector<BridgeInfo>& bridges, const LanduseStats& lu) {
  std::printf("Musterstadt (seed %llu) -> %s\n", static_cast<unsigned long long>(seed), outDir.string().c_str());
  std::map<std::string, int> byUse;
  for (const Building& b : buildings) ++byUse[b.use];
  std::printf("buildings: %zu (dropped by final check: %d = %d invalid, %d overlapping, %d river, %d on roads; landmarks skipped: %d)\n",
              buildings.size(), chk.dropped(), chk.invalid, chk.overlaps, chk.river, chk.roads, specialsDropped);
  for (const auto& [use, n] : byUse) std::printf("  %-12s %d\n", use.c_str(), n);
  std::map<std::string, int> byHw;
  for (const Way& w : net.way) ++byHw[hwInfo(w.hw).tag];
  std::printf("roads: %zu ways (%zu before splitting at junctions), %zu nodes\n", net.way.size(), waysBeforeSplit, net.node.size());
  for (const auto& [hw, n] : byHw) std::printf("  %-14s %d\n", hw.c_str(), n);
  std::printf("topology: %d at-grade violations, %d river crossings off-bridge, %d stream crossings off-bridge\n",
              topo.atGradeViolations, topo.riverCrossings, topo.streamCrossings);
  for (const std::string& s : topo.gradeSeparated) std::printf("  grade-separated: %s\n", s.c_str());
  for (const std::string& s : topo.details) std::printf("  VIOLATION: %s\n", s.c_str());
  std::printf("bridges:\n");
  for (const BridgeInfo& b : bridges) {
    const V2 g = global(b.centre);
    std::printf("  %s over %s centre %.1f %.1f, %.0f m\n", padded(b.road, 20).c_str(), padded(b.over, 20).c_str(), g.x, g.y,
                b.length);
  }
  std::printf("landmarks:\n");
  for (const Building& b : buildings)
    if (!b.name.empty()) {
      const V2 g = global(ringCentroid(b.outer));
      std::printf("  %s %.1f %.1f (%s, %.1f m)\n", padded(b.name, 24).c_str(), g.x, g.y, b.use.c_str(), b.height);
    }
  std::printf("landuse: %zu polygons, %zu invalid, area %.0f m² of %.0f m²\n", lu.features, lu.invalid, lu.totalArea,
              kExtentW * kExtentH);
  for (const auto& [c, a] : lu.areaByClass) std::printf("  %-18s %6.1f ha\n", c.c_str(), a / 1e4);
  std::uintmax_t total = 0;
  std::printf("files:\n");
  for (const char* f : {"terrain.tif", "buildings.gpkg", "roads.gpkg", "water.gpkg", "landuse.gpkg"}) {
    const std::uintmax_t sz = std::filesystem::file_size(outDir / f);
    total += sz;
    std::printf("  %-16s %8.1f KiB\n", f, sz / 1024.0);
  }
  std::printf("  %-16s %8.1f KiB\n", "total", total / 1024.0);
}

int usage(const char* argv0, int rc) {
  std::fprintf(rc == 0 ? stdout : stderr, "usage: %s --out DIR [--seed N]   (default seed %llu)\n", argv0,
               static_cast<unsigned long long>(kDefaultSeed));
  return rc;
}

int run(const std::filesystem::path& outDir, std::uint64_t seed) {
  GDALAllRegister();
  CPLSetConfigOption("OGR_CURRENT_DATE", "2026-01-01T00:00:00Z");  // stable GeoPackage timestamps
  CPLSetConfigOption("GDAL_PAM_ENABLED", "NO");                     // no .aux.xml side files
  std::filesystem::create_directories(outDir);

  const Layout lay;
  const Sites sites = makeSites(lay);
  const std::vector<District> districts = makeDistricts(lay, sites);
  const Line river = riverLine();
  const Line stream = streamLine();

  // Roads: skeleton, district streets, bridges, then a shared-node network.
  Rng roadRng(seed, 0x20AD);
  NamePool resNames(residentialNames(), roadRng);
  NamePool indNames(industrialNames(), roadRng);
  std::vector<Road> roads = skeletonRoads(lay, river);
  for (const District& d : districts) gridStreets(d, roads, d.zone == Zone::Industrial ? indNames : resNames, roadRng);
  sonnenhangStreets(roads, resNames);
  std::vector<BridgeInfo> bridges;
  auto always = [](const Road&) { return true; };
  addBridges(roads, river, "river Muster", always, [](const Crossing& c) { return Geo::riverWidth(c.p.x) + 24.0; }, bridges);
  addBridges(roads, stream, "Mühlenbach", always, [](const Crossing&) { return 15.0; }, bridges);
  Line under;
  for (const Road& r : roads)
    if (r.tag == kTagUnderpass) under = r.pts;
  addBridges(roads, under, "Westenholzer Straße", [](const Road& r) { return r.tag == kTagBypass; },
             [](const Crossing&) { return 44.0; }, bridges);
  RoadNet net = toNet(roads);
  planarise(net, 0.3);
  trimStubs(net, 3.0);
  dropRepeats(net);

  // Buildings along the final streets.
  Placer placer(districts, sites, net, river, stream, seed);
  placer.placeSpecials();
  placer.placeFrontage();
  placer.infillOldTown(lay);
  std::vector<Building> buildings = std::move(placer.buildings());
  const auto riverPoly = riverPolygon(river);
  const BuildingCheck chk = dropConflicts(buildings, *riverPoly, net);

  const size_t waysBeforeSplit = net.way.size();
  splitAtJunctions(net, 0.0);
  const TopoReport topo = checkTopology(net, river, stream);

  // Write everything.
  writeTerrain(outDir / "terrain.tif", makeTerrain(river, stream, sites.pond, seed));
  writeBuildings(outDir / "buildings.gpkg", buildings);
  writeRoads(outDir / "roads.gpkg", net);
  writeWater(outDir / "water.gpkg", *riverPoly, sites.pond, river, stream);
  const LanduseStats lu = writeLanduse(outDir / "landuse.gpkg", landuseClasses(districts, sites, net, buildings, stream, seed));

  printSummary(outDir, seed, buildings, chk, placer.specialsDropped(), net, waysBeforeSplit, topo, bridges, lu);
  const bool ok = topo.atGradeViolations == 0 && topo.riverCrossings == 0 && topo.streamCrossings == 0 && lu.invalid == 0;
  if (!ok) std::fprintf(stderr, "error: consistency checks failed\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out;
  std::uint64_t seed = kDefaultSeed;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      return usage(argv[0], 0);
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      char* end = nullptr;
      seed = std::strtoull(argv[++i], &end, 10);
      if (!end || *end != '\0') return usage(argv[0], 2);
    } else {
      return usage(argv[0], 2);
    }
  }
  if (out.empty()) return usage(argv[0], 2);
  try {
    return run(out, seed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
