#include "physics/Picking.h"

#include <Eigen/Geometry>
#include <btBulletCollisionCommon.h>

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

namespace ct {

namespace {

// Bullet's quantized BVH numbers triangles with 21 bits; bigger chunks are cut into parts.
constexpr uint32_t maxTrianglesPerPart = 1u << 20;

// One chunk's finest surface as a static Bullet mesh, plus what Bullet does not know: which
// object and layer each triangle belongs to, and the triangles in double precision.
struct PickChunk {
    MeshLayer layer = MeshLayer::Terrain;
    std::vector<float> positions; // x, y, z per vertex
    std::vector<int> indices;     // three per triangle
    std::vector<uint32_t> triangleObject;
    std::vector<uint32_t> partFirstTriangle;
    std::unique_ptr<btTriangleIndexVertexArray> meshInterface;
    std::unique_ptr<btBvhTriangleMeshShape> shape;
    std::unique_ptr<btCollisionObject> object;

    Vec3 vertex(int i) const {
        return Vec3(positions[3 * size_t(i)], positions[3 * size_t(i) + 1], positions[3 * size_t(i) + 2]);
    }
};

// Keeps the closest hit and the triangle it was on (the stock callbacks drop the latter).
struct ClosestTriangleCallback : btCollisionWorld::RayResultCallback {
    int part = 0, triangle = -1;
    btScalar addSingleResult(btCollisionWorld::LocalRayResult& r, bool) override {
        if (m_collisionObject && r.m_hitFraction > m_closestHitFraction) return m_closestHitFraction;
        m_closestHitFraction = r.m_hitFraction;
        m_collisionObject = r.m_collisionObject;
        part = r.m_localShapeInfo ? r.m_localShapeInfo->m_shapePart : 0;
        triangle = r.m_localShapeInfo ? r.m_localShapeInfo->m_triangleIndex : -1;
        return r.m_hitFraction;
    }
};

btVector3 toBullet(const Vec3& v) {
    return btVector3(static_cast<btScalar>(v.x()), static_cast<btScalar>(v.y()),
                     static_cast<btScalar>(v.z()));
}

} // namespace

struct PickWorld::Impl {
    btDefaultCollisionConfiguration configuration;
    btCollisionDispatcher dispatcher{&configuration};
    btDbvtBroadphase broadphase;
    btCollisionWorld world{&dispatcher, &broadphase, &configuration};
    std::vector<std::unique_ptr<PickChunk>> chunks;
    size_t triangles = 0;

    ~Impl() {
        for (auto& c : chunks)
            world.removeCollisionObject(c->object.get());
    }
};

namespace {

// One chunk's Bullet shape; nullptr if the chunk has no surface.
std::unique_ptr<PickChunk> makePickChunk(const MeshChunk& chunk) {
    if (chunk.lods.empty()) return nullptr;
    const IndexRange& finest = chunk.lods[0];
    const uint32_t triangleCount = finest.surfaceCount / 3; // the surface, skirt left out
    if (triangleCount == 0) return nullptr;
    auto c = std::make_unique<PickChunk>();
    c->layer = chunk.layer;
    c->positions.reserve(chunk.vertices.size() * 3);
    for (const MeshVertex& v : chunk.vertices)
        c->positions.insert(c->positions.end(), {v.x, v.y, v.z});
    c->indices.assign(chunk.indices.begin() + finest.first,
                      chunk.indices.begin() + finest.first + 3 * triangleCount);
    c->triangleObject.resize(triangleCount);
    for (uint32_t t = 0; t < triangleCount; ++t)
        c->triangleObject[t] = chunk.vertices[static_cast<size_t>(c->indices[3 * size_t(t)])].objectId;

    c->meshInterface = std::make_unique<btTriangleIndexVertexArray>();
    for (uint32_t first = 0; first < triangleCount; first += maxTrianglesPerPart) {
        btIndexedMesh part;
        part.m_numTriangles = static_cast<int>(std::min(maxTrianglesPerPart, triangleCount - first));
        part.m_triangleIndexBase =
            reinterpret_cast<const unsigned char*>(c->indices.data() + 3 * size_t(first));
        part.m_triangleIndexStride = 3 * sizeof(int);
        part.m_numVertices = static_cast<int>(chunk.vertices.size());
        part.m_vertexBase = reinterpret_cast<const unsigned char*>(c->positions.data());
        part.m_vertexStride = 3 * sizeof(float);
        part.m_indexType = PHY_INTEGER;
        part.m_vertexType = PHY_FLOAT;
        c->meshInterface->addIndexedMesh(part, PHY_INTEGER);
        c->partFirstTriangle.push_back(first);
    }
    c->shape = std::make_unique<btBvhTriangleMeshShape>(c->meshInterface.get(), true, true);
    c->object = std::make_unique<btCollisionObject>();
    c->object->setCollisionShape(c->shape.get());
    c->object->setUserPointer(c.get());
    return c;
}

} // namespace

PickWorld::PickWorld(const CityMesh& mesh) : impl_(std::make_unique<Impl>()) {
    // The BVHs are built in parallel (independent per chunk); the world is filled in order.
    std::vector<std::unique_ptr<PickChunk>> chunks(mesh.chunks.size());
    tbb::parallel_for(size_t(0), chunks.size(), [&](size_t k) { chunks[k] = makePickChunk(mesh.chunks[k]); });
    for (auto& c : chunks) {
        if (!c) continue;
        impl_->world.addCollisionObject(c->object.get());
        impl_->triangles += c->triangleObject.size();
        impl_->chunks.push_back(std::move(c));
    }
}

PickWorld::~PickWorld() = default;

size_t PickWorld::triangleCount() const {
    return impl_->triangles;
}

std::optional<PickHit> PickWorld::castRay(const Vec3& origin, const Vec3& direction,
                                          double maxDistance) const {
    const double len = direction.norm();
    if (!(len > 0) || !(maxDistance > 0)) return std::nullopt;
    const Vec3 dir = direction / len;
    const Vec3 end = origin + dir * maxDistance;
    ClosestTriangleCallback cb;
    impl_->world.rayTest(toBullet(origin), toBullet(end), cb);
    if (!cb.hasHit() || cb.triangle < 0) return std::nullopt;
    const auto* chunk = static_cast<const PickChunk*>(cb.m_collisionObject->getUserPointer());
    const size_t t =
        chunk->partFirstTriangle[static_cast<size_t>(cb.part)] + static_cast<size_t>(cb.triangle);
    if (t >= chunk->triangleObject.size()) return std::nullopt;

    // The front-face normal from the triangle itself, and the hit point refined on its plane in
    // double precision (Bullet works in floats over the whole ray length).
    const Vec3 a = chunk->vertex(chunk->indices[3 * t]), b = chunk->vertex(chunk->indices[3 * t + 1]),
               c = chunk->vertex(chunk->indices[3 * t + 2]);
    Vec3 normal = (b - a).cross(c - a);
    double distance = cb.m_closestHitFraction * maxDistance;
    if (normal.norm() > 0) {
        normal.normalize();
        const double along = dir.dot(normal);
        if (std::abs(along) > 1e-9) {
            const double refined = (a - origin).dot(normal) / along;
            if (std::abs(refined - distance) < 0.01 + 1e-5 * maxDistance) distance = refined;
        }
    } else {
        normal = -dir;
    }
    PickHit hit;
    hit.layer = chunk->layer;
    hit.objectId = chunk->triangleObject[t];
    hit.point = origin + dir * distance;
    hit.normal = normal;
    hit.distance = distance;
    return hit;
}

bool PickWorld::lineOfSight(const Vec3& a, const Vec3& b) const {
    // Points on a surface (an observer on the ground, a target on a wall) do not block
    // themselves: the segment is shortened by a centimetre at each end.
    constexpr double endEpsilonM = 0.01;
    const double len = (b - a).norm();
    if (len <= 2 * endEpsilonM) return true;
    const Vec3 dir = (b - a) / len;
    return !castRay(a + dir * endEpsilonM, dir, len - 2 * endEpsilonM).has_value();
}

} // namespace ct
