#pragma once
// Shadow rays against the city: our own bounding volume hierarchy over the occluders
// (building walls and roofs, a downsampled terrain) with an "any hit" query for many threads.
//
// Build: binned SAH (16 bins) over triangle centroids, subtrees built in parallel with TBB,
// then collapsed into a 4-wide tree whose nodes hold their four child boxes as structure of
// arrays (one SSE compare tests all four) and whose leaves are packs of four triangles in
// structure of arrays (one 4-wide Möller–Trumbore test). The layout and the node order are
// the same for any number of threads. Against Bullet's PickWorld (physics/Picking.h) on the
// same triangles this is 7–11× faster for shading rays (docs/validation/energy.md), so the
// energy module uses it and does not link Bullet.
#include "city/CityMesh.h"
#include "city/CityModel.h"

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

namespace ct::energy {

// origin + t·dir for tMin < t < tMax; dir need not be unit length (t is then in its units).
struct ShadowRay {
    std::array<float, 3> origin{}, dir{0, 0, 1};
    float tMin = 0, tMax = std::numeric_limits<float>::infinity();
};

class OcclusionBvh {
  public:
    OcclusionBvh() = default;
    // Triangles as nine floats each (a, b, c; any winding: both sides block). Degenerate
    // triangles are dropped.
    explicit OcclusionBvh(std::span<const float> triangleCoords);

    // True if any triangle crosses the ray. Thread-safe (const, stack on the call).
    bool occluded(const ShadowRay& ray) const;
    bool occluded(const Vec3& origin, const Vec3& dir, double tMax = std::numeric_limits<double>::infinity(),
                  double tMin = 0) const;
    // Distance (in dir units) to the closest hit, +inf if none: for tests and the benchmark.
    float closestHit(const ShadowRay& ray) const;
    // Calls back with the index (input order) of every triangle whose box, grown by `grow`,
    // the ray's segment passes: the candidates for exact checks in tests.
    void forEachCandidate(const ShadowRay& ray, float grow, const std::function<void(uint32_t)>& fn) const;

    size_t triangleCount() const { return triangleTotal; }
    size_t nodeCount() const { return nodes.size(); }
    size_t bytes() const; // nodes + triangle packs
    bool empty() const { return triangleTotal == 0; }
    // A triangle by its index among the kept ones (degenerate ones dropped), rebuilt from its
    // pack (v0, v0 + e1, v0 + e2: within a float rounding of the input).
    std::array<float, 9> triangle(uint32_t index) const;

    // 128 bytes: four child boxes as structure of arrays; child < 0 = leaf ~packIndex;
    // an unused slot has an empty box (min > max) so the box test rejects it.
    struct alignas(64) Node {
        float minX[4], maxX[4], minY[4], maxY[4], minZ[4], maxZ[4];
        int32_t child[4];
        int32_t pad[4];
    };
    // Four triangles as v0, e1 = v1 - v0, e2 = v2 - v0 (structure of arrays); padding
    // triangles are all zeros (determinant 0: never hit).
    struct alignas(16) TrianglePack {
        float v0x[4], v0y[4], v0z[4], e1x[4], e1y[4], e1z[4], e2x[4], e2y[4], e2z[4];
        uint32_t id[4]; // input index, UINT32_MAX for padding
    };

  private:
    template <bool AnyHit> float traverse(const ShadowRay& ray) const;

    std::vector<Node> nodes; // nodes[0] is the root (when there are >= 2 leaves)
    std::vector<TrianglePack> packs;
    std::vector<uint32_t> where; // kept triangle index -> 4 · pack + lane
    int32_t root = 0;            // node index, or ~pack for a single-leaf tree
    size_t triangleTotal = 0;
};

// What shades a roof: buildings as footprints × height (walls from 0.5 m below the ground,
// flat roofs at ground + height, LoD2 roof surfaces where imported, as CityMesh draws them)
// and the terrain resampled to `terrainCellM` (point samples every k-th DEM cell, k the
// nearest whole multiple of the DEM cell; two triangles per quad; nodata quads left out).
struct OccluderOptions {
    bool buildings = true;
    bool lod2Roofs = true;
    bool terrain = true;
    double terrainCellM = 8.0;
};

// Nine floats per triangle, in building order then terrain rows: deterministic.
std::vector<float> cityOccluderTriangles(const CityModel& city, const OccluderOptions& options = {});
OcclusionBvh buildCityOccluders(const CityModel& city, const OccluderOptions& options = {});
// The finest level of every chunk of a CityMesh (skirts left out), the triangles Bullet's
// PickWorld takes: for comparing the two ray casters on identical geometry.
std::vector<float> meshTriangles(const CityMesh& mesh);

// buildingLevels(city, i): city/CityMesh.h.

} // namespace ct::energy
