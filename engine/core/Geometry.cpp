#include "core/Geometry.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct {

double signedArea(std::span<const Vec2> ring) {
    double a = 0;
    const size_t n = ring.size();
    for (size_t i = 0, j = n - 1; i < n; j = i++)
        a += (ring[j].x() - ring[i].x()) * (ring[j].y() + ring[i].y());
    return 0.5 * a;
}

double length(std::span<const Vec2> line) {
    double l = 0;
    for (size_t i = 1; i < line.size(); ++i) l += (line[i] - line[i - 1]).norm();
    return l;
}

bool pointInRing(const Vec2& p, std::span<const Vec2> ring) {
    bool inside = false;
    const size_t n = ring.size();
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        const Vec2 &a = ring[i], &b = ring[j];
        if ((a.y() > p.y()) != (b.y() > p.y()) &&
            p.x() < (b.x() - a.x()) * (p.y() - a.y()) / (b.y() - a.y()) + a.x())
            inside = !inside;
    }
    return inside;
}

void PolygonSet::add(std::vector<std::vector<Vec2>> rings) {
    for (size_t k = 0; k < rings.size(); ++k) {
        auto& ring = rings[k];
        bool ccw = signedArea(ring) > 0;
        if ((k == 0) != ccw) std::reverse(ring.begin(), ring.end());
        points.insert(points.end(), ring.begin(), ring.end());
        ringStart.push_back(static_cast<uint32_t>(points.size()));
    }
    polygonRingStart.push_back(static_cast<uint32_t>(ringStart.size() - 1));
}

double PolygonSet::area(size_t polygon) const {
    double a = 0;
    for (size_t k = 0; k < ringCount(polygon); ++k) a += signedArea(ring(polygon, k));
    return a; // holes are clockwise, so they subtract
}

Vec2 PolygonSet::centroid(size_t polygon) const {
    auto r = ring(polygon, 0);
    const Vec2 ref = r[0]; // relative to a vertex for precision
    double a = 0, cx = 0, cy = 0;
    for (size_t i = 0, n = r.size(); i < n; ++i) {
        Vec2 p = r[i] - ref, q = r[(i + 1) % n] - ref;
        double c = p.x() * q.y() - q.x() * p.y();
        a += c;
        cx += (p.x() + q.x()) * c;
        cy += (p.y() + q.y()) * c;
    }
    if (std::abs(a) < 1e-12) return ref;
    return ref + Vec2(cx / (3 * a), cy / (3 * a));
}

Box2 PolygonSet::bounds(size_t polygon) const {
    Box2 b;
    for (const Vec2& p : ring(polygon, 0)) b.extend(p);
    return b;
}

static double cross(const Vec2& a, const Vec2& b, const Vec2& c) {
    return (b.x() - a.x()) * (c.y() - a.y()) - (b.y() - a.y()) * (c.x() - a.x());
}

// Proper or touching intersection of segments ab and cd.
static bool segmentsIntersect(const Vec2& a, const Vec2& b, const Vec2& c, const Vec2& d) {
    double d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d);
    if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        return true;
    auto onSegment = [](const Vec2& p, const Vec2& q, const Vec2& r) {
        return std::min(p.x(), q.x()) <= r.x() && r.x() <= std::max(p.x(), q.x()) &&
               std::min(p.y(), q.y()) <= r.y() && r.y() <= std::max(p.y(), q.y());
    };
    if (d1 == 0 && onSegment(c, d, a)) return true;
    if (d2 == 0 && onSegment(c, d, b)) return true;
    if (d3 == 0 && onSegment(a, b, c)) return true;
    if (d4 == 0 && onSegment(a, b, d)) return true;
    return false;
}

std::optional<std::string> ringProblem(std::span<const Vec2> ring, double minAreaM2) {
    size_t distinct = 0;
    for (size_t i = 0; i < ring.size(); ++i)
        if (i == 0 || (ring[i] - ring[i - 1]).squaredNorm() > 0) ++distinct;
    if (distinct < 3) return fmt::format("ring has only {} distinct points", distinct);
    if (!std::isfinite(signedArea(ring))) return std::string("ring has non-finite coordinates");
    // Self-intersection: non-adjacent edges must not meet. Rings are small (footprints), so
    // the quadratic test is cheap; large rings are checked on a bounding-box sweep.
    const size_t n = ring.size();
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    auto minX = [&](size_t i) { return std::min(ring[i].x(), ring[(i + 1) % n].x()); };
    auto maxX = [&](size_t i) { return std::max(ring[i].x(), ring[(i + 1) % n].x()); };
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return minX(a) < minX(b); });
    for (size_t oi = 0; oi < n; ++oi) {
        size_t i = order[oi];
        for (size_t oj = oi + 1; oj < n && minX(order[oj]) <= maxX(i); ++oj) {
            size_t j = order[oj];
            if (j == (i + 1) % n || i == (j + 1) % n) continue; // adjacent edges share a vertex
            const Vec2 &a = ring[i], &b = ring[(i + 1) % n], &c = ring[j], &d = ring[(j + 1) % n];
            if ((b - a).squaredNorm() == 0 || (d - c).squaredNorm() == 0) continue;
            if (segmentsIntersect(a, b, c, d))
                return fmt::format("self-intersecting ring near ({:.2f}, {:.2f})", a.x(), a.y());
        }
    }
    double area = std::abs(signedArea(ring));
    if (area < minAreaM2) return fmt::format("zero-area ring ({:.3g} m²)", area);
    return std::nullopt;
}

} // namespace ct
