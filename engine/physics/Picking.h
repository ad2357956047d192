#pragma once
// Ray casts against the city's static geometry through a Bullet collision world: which
// building, road or terrain point is under the mouse, and line of sight.
#include "city/CityMesh.h"

#include <memory>
#include <optional>

namespace ct {

struct PickHit {
    MeshLayer layer = MeshLayer::Terrain;
    uint32_t objectId = 0; // building index, road edge index, 0 for terrain
    Vec3 point;            // local frame
    Vec3 normal;
    double distance = 0;   // from the ray origin, metres
};

class PickWorld {
public:
    // Takes the finest level of every chunk; the mesh may be freed afterwards.
    explicit PickWorld(const CityMesh& mesh);
    ~PickWorld();
    PickWorld(const PickWorld&) = delete;
    PickWorld& operator=(const PickWorld&) = delete;

    // Closest hit along origin + t·direction for 0 < t ≤ maxDistance, if any.
    std::optional<PickHit> castRay(const Vec3& origin, const Vec3& direction, double maxDistance = 1e5) const;
    // True if nothing blocks the straight segment from a to b.
    bool lineOfSight(const Vec3& a, const Vec3& b) const;
    size_t triangleCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace ct
