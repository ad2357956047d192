#pragma once
// Plain geometry on Eigen types, in the local metric frame.
#include <Eigen/Core>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ct {

using Vec2 = Eigen::Vector2d;
using Vec3 = Eigen::Vector3d;

struct Box2 {
    Vec2 min{1e300, 1e300};
    Vec2 max{-1e300, -1e300};
    void extend(const Vec2& p) {
        min = min.cwiseMin(p);
        max = max.cwiseMax(p);
    }
    void extend(const Box2& b) {
        if (b.empty()) return;
        extend(b.min);
        extend(b.max);
    }
    bool empty() const { return min.x() > max.x(); }
    Vec2 center() const { return (min + max) * 0.5; }
    Vec2 size() const { return empty() ? Vec2::Zero() : Vec2(max - min); }
};

// Many polygons with holes in flat arrays (cheap to cache and to hand to a GPU).
// Polygon i has rings [polygonRingStart[i], polygonRingStart[i+1]); ring r has points
// [ringStart[r], ringStart[r+1]) without the closing duplicate. The first ring of a polygon is
// its outer boundary (counter-clockwise), the rest are holes (clockwise).
struct PolygonSet {
    std::vector<Vec2> points;
    std::vector<uint32_t> ringStart{0};
    std::vector<uint32_t> polygonRingStart{0};

    size_t size() const { return polygonRingStart.size() - 1; }
    size_t ringCount(size_t polygon) const {
        return polygonRingStart[polygon + 1] - polygonRingStart[polygon];
    }
    std::span<const Vec2> ring(size_t polygon, size_t k) const {
        size_t r = polygonRingStart[polygon] + k;
        return {points.data() + ringStart[r], ringStart[r + 1] - ringStart[r]};
    }
    // Adds a polygon; rings are oriented (outer CCW, holes CW) on the way in.
    void add(std::vector<std::vector<Vec2>> rings);
    double area(size_t polygon) const;      // outer minus holes, m²
    Vec2 centroid(size_t polygon) const;    // area centroid of the outer ring
    Box2 bounds(size_t polygon) const;
};

double signedArea(std::span<const Vec2> ring); // positive if counter-clockwise
double length(std::span<const Vec2> line);
bool pointInRing(const Vec2& p, std::span<const Vec2> ring);

// Why a ring is unusable, or nullopt if it is fine. `ring` is without closing duplicate.
// Checks: at least 3 distinct points, non-zero area, no self-intersection.
std::optional<std::string> ringProblem(std::span<const Vec2> ring, double minAreaM2 = 0.01);

} // namespace ct
