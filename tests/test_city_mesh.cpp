// The city mesh against independent references: triangulation areas by the shoelace formula,
// box buildings whose wall and roof areas follow from their dimensions, a terrain that is an
// analytic plane, road ribbons of known width, and the sample town (every building drawn).
#include "TestSupport.h"
#include "city/CityMesh.h"
#include "sim/Runner.h"

#include <Eigen/Geometry>
#include <chrono>
#include <cmath>
#include <gtest/gtest.h>
#include <random>
#include <set>

using namespace ct;
using namespace ct::test;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

double shoelace(const std::vector<Vec2>& ring) { // positive if counter-clockwise
    double a = 0;
    for (size_t i = 0; i < ring.size(); ++i) {
        const Vec2 &p = ring[i], &q = ring[(i + 1) % ring.size()];
        a += p.x() * q.y() - q.x() * p.y();
    }
    return a / 2;
}

double triangleArea2d(const Vec2& a, const Vec2& b, const Vec2& c) {
    return ((b.x() - a.x()) * (c.y() - a.y()) - (b.y() - a.y()) * (c.x() - a.x())) / 2;
}

// Triangulates and checks: areas add up to outer − holes, every triangle is counter-clockwise
// and lies inside the outer ring and outside every hole.
void checkTriangulation(const std::vector<std::vector<Vec2>>& rings, const std::string& what) {
    SCOPED_TRACE(what);
    std::vector<std::span<const Vec2>> spans;
    std::vector<Vec2> all;
    for (const auto& r : rings) {
        spans.emplace_back(r);
        all.insert(all.end(), r.begin(), r.end());
    }
    const std::vector<uint32_t> tri = triangulatePolygon(spans);
    ASSERT_EQ(tri.size() % 3, 0u);
    ASSERT_FALSE(tri.empty());
    double expected = std::abs(shoelace(rings[0]));
    for (size_t k = 1; k < rings.size(); ++k)
        expected -= std::abs(shoelace(rings[k]));
    double sum = 0;
    size_t badCentroids = 0, nonPositive = 0;
    for (size_t t = 0; t < tri.size(); t += 3) {
        ASSERT_LT(tri[t + 2], all.size());
        const Vec2 &a = all[tri[t]], &b = all[tri[t + 1]], &c = all[tri[t + 2]];
        const double area = triangleArea2d(a, b, c);
        if (!(area > 0)) ++nonPositive;
        sum += area;
        const Vec2 centroid = (a + b + c) / 3;
        bool ok = pointInRing(centroid, rings[0]);
        for (size_t k = 1; k < rings.size(); ++k)
            ok = ok && !pointInRing(centroid, rings[k]);
        if (!ok) ++badCentroids;
    }
    EXPECT_EQ(nonPositive, 0u);
    EXPECT_EQ(badCentroids, 0u);
    EXPECT_NEAR(sum, expected, 1e-9 * expected);
}

std::vector<Vec2> rect(double x0, double y0, double x1, double y1) {
    return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

std::vector<Vec2> reversed(std::vector<Vec2> r) {
    std::reverse(r.begin(), r.end());
    return r;
}

// A flat terrain at `z` over [-half, half]² with 1 m cells.
CityModel flatCity(float z = 50, int half = 50) {
    CityModel city;
    city.terrain = flatTerrain(2 * half, 1, z);
    return city;
}

void addBuilding(CityModel& city, std::vector<std::vector<Vec2>> rings, float height, float ground) {
    Buildings& b = city.buildings;
    b.footprints.add(std::move(rings));
    b.partStart.push_back(static_cast<uint32_t>(b.footprints.size()));
    b.sourceId.push_back("b" + std::to_string(b.sourceId.size()));
    b.name.emplace_back();
    b.heightM.push_back(height);
    b.groundM.push_back(ground);
    b.levels.push_back(0);
    b.use.push_back(BuildingUse::Residential);
    b.yearBuilt.push_back(0);
    b.heightSource.push_back(HeightSource::Attribute);
    b.roofStart.push_back(static_cast<uint32_t>(b.roofRingStart.size() - 1));
}

struct Triangle {
    Vec3 a, b, c;
    Vec3 vertexNormal; // of the first vertex
    uint32_t objectId;
    Vec3 geometricNormal() const { return (b - a).cross(c - a).normalized(); }
    double area() const { return (b - a).cross(c - a).norm() / 2; }
    Vec3 centroid() const { return (a + b + c) / 3; }
};

Vec3 position(const MeshVertex& v) {
    return Vec3(v.x, v.y, v.z);
}

// Triangles of one layer: the surface of level `lod` (skirts only if asked).
std::vector<Triangle> triangles(const CityMesh& mesh, MeshLayer layer, size_t lod = 0, bool skirt = false) {
    std::vector<Triangle> out;
    for (const MeshChunk& c : mesh.chunks) {
        if (c.layer != layer || c.lods.size() <= lod) continue;
        const IndexRange& r = c.lods[lod];
        const uint32_t begin = skirt ? r.first + r.surfaceCount : r.first;
        const uint32_t end = skirt ? r.first + r.count : r.first + r.surfaceCount;
        for (uint32_t i = begin; i < end; i += 3) {
            const MeshVertex &a = c.vertices[c.indices[i]], &b = c.vertices[c.indices[i + 1]],
                             &v = c.vertices[c.indices[i + 2]];
            out.push_back({position(a), position(b), position(v), Vec3(a.nx, a.ny, a.nz), a.objectId});
        }
    }
    return out;
}

// ---- triangulation ---------------------------------------------------------------------------

TEST(Triangulation, SimpleShapes) {
    checkTriangulation({rect(0, 0, 10, 10)}, "square");
    checkTriangulation({{{0, 0}, {20, 0}, {20, 5}, {5, 5}, {5, 30}, {0, 30}}}, "L-shape");
    checkTriangulation({reversed({{0, 0}, {20, 0}, {20, 5}, {5, 5}, {5, 30}, {0, 30}})}, "clockwise L-shape");
    checkTriangulation({{{0, 0}, {1, 0}, {0.5, 1e-3}}}, "thin triangle");
}

TEST(Triangulation, Holes) {
    checkTriangulation({rect(0, 0, 30, 20), reversed(rect(5, 5, 12, 15))}, "one hole");
    checkTriangulation({rect(0, 0, 30, 20), rect(5, 5, 12, 15)}, "one hole, counter-clockwise");
    checkTriangulation({rect(0, 0, 40, 20), reversed(rect(5, 5, 12, 15)), reversed(rect(20, 3, 35, 8))},
                       "two holes");
    checkTriangulation({reversed(rect(0, 0, 40, 20)), rect(5, 5, 12, 15), rect(20, 12, 35, 17)},
                       "two holes, clockwise outer");
    // Holes whose leftmost vertices share an x, and a hole next to a reflex vertex.
    checkTriangulation({{{0, 0}, {40, 0}, {40, 40}, {20, 40}, {20, 25}, {0, 25}},
                        rect(2, 2, 8, 8),
                        rect(2, 12, 8, 18),
                        {{25, 10}, {35, 10}, {30, 20}}},
                       "three holes in an L");
    // A courtyard building (outer ring with a hole) and a hole touching nothing but its own
    // vertices with the same coordinates as a corner cut.
    checkTriangulation({rect(0, 0, 44, 30), rect(11, 10, 33, 20)}, "courtyard");
}

TEST(Triangulation, TouchingHoles) {
    const std::vector<Vec2> square = rect(0, 0, 12, 12);
    // A cut that ends on a straight run of another hole's boundary.
    checkTriangulation({square, rect(8, 6, 11, 7), rect(1, 5, 2, 6)}, "cut along a hole edge");
    // Holes meeting at a point, with each other and with the outer ring.
    checkTriangulation({square, rect(7, 7, 9, 10), rect(9, 5, 10, 7)}, "holes touching at a corner");
    checkTriangulation(
        {square, {{2, 2}, {6, 2}, {4, 6}}, {{6, 2}, {10, 2}, {8, 6}}, {{4, 6}, {8, 6}, {6, 10}}},
        "three holes in a ring");
    checkTriangulation({square, {{0, 6}, {4, 4}, {4, 8}}}, "hole touching the outer edge");
    checkTriangulation({square, {{12, 12}, {8, 10}, {10, 8}}}, "hole touching the outer corner");
    checkTriangulation({square, {{0, 6}, {4, 4}, {4, 8}}, {{4, 4}, {8, 6}, {4, 8}}},
                       "chain of holes to the edge");
    checkTriangulation({{{0, 0}, {6, 0}, {6, 6}, {12, 6}, {12, 12}, {6, 12}, {6, 6}, {0, 6}}},
                       "outer ring touching itself");
}

TEST(Triangulation, RandomGridHoles) {
    // Rectangular holes on a coarse grid: many collinear edges, shared x and y, touching corners
    // (edges shared between holes would be invalid input and are left out).
    std::mt19937 rng(99);
    for (int k = 0; k < 3000; ++k) {
        std::vector<std::vector<Vec2>> rings{rect(0, 0, 12, 12)};
        std::vector<std::array<int, 4>> placed;
        for (int h = 0, holes = static_cast<int>(rng() % 6); h < holes; ++h) {
            const int x0 = 1 + static_cast<int>(rng() % 10), y0 = 1 + static_cast<int>(rng() % 10);
            const int x1 = x0 + 1 + static_cast<int>(rng() % 3), y1 = y0 + 1 + static_cast<int>(rng() % 3);
            if (x1 > 11 || y1 > 11) continue;
            bool conflict = false;
            for (const auto& o : placed) {
                const int ox = std::min(x1, o[2]) - std::max(x0, o[0]),
                          oy = std::min(y1, o[3]) - std::max(y0, o[1]);
                conflict = conflict || (ox >= 0 && oy >= 0 && (ox > 0 || oy > 0)); // overlap or shared edge
            }
            if (conflict) continue;
            placed.push_back({x0, y0, x1, y1});
            rings.push_back(rect(x0, y0, x1, y1));
        }
        checkTriangulation(rings, "grid holes " + std::to_string(k));
    }
}

TEST(Triangulation, Comb) {
    // A 40 m base 2 m high with ten teeth 2 m wide and 20 m long, 2 m apart.
    std::vector<Vec2> comb{{0, 0}, {40, 0}};
    for (int k = 9; k >= 0; --k)
        comb.insert(comb.end(), {{4.0 * k + 4, 22}, {4.0 * k + 2, 22}, {4.0 * k + 2, 2}, {4.0 * k, 2}});
    ASSERT_NEAR(shoelace(comb), 40 * 2 + 10 * 2 * 20, 1e-12);
    checkTriangulation({comb}, "comb");
    checkTriangulation({reversed(comb)}, "clockwise comb");
    // The comb as a hole in a block: holes that are deeply concave themselves.
    checkTriangulation({rect(-5, -5, 45, 30), reversed(comb)}, "comb-shaped hole");
}

TEST(Triangulation, CollinearAndRepeatedPoints) {
    checkTriangulation(
        {{{0, 0}, {5, 0}, {5, 0}, {10, 0}, {10, 5}, {10, 10}, {10, 10}, {5, 10}, {0, 10}, {0, 5}, {0, 0}}},
        "square with midpoints, repeats and a closing point");
    checkTriangulation({{{0, 0}, {2, 0}, {4, 0}, {6, 0}, {6, 3}, {3, 3}, {3, 6}, {0, 6}, {0, 4}, {0, 2}}},
                       "L with collinear runs");
    checkTriangulation({{{0, 0}, {10, 0}, {10, 10}, {5, 10}, {5, 15}, {5, 10}, {0, 10}}}, "zero-width spike");
}

TEST(Triangulation, RandomStarShapedPolygons) {
    std::mt19937 rng(20260514);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int k = 0; k < 200; ++k) {
        const int n = 8 + static_cast<int>(unit(rng) * 392);
        const double radius = 5 + unit(rng) * 50;
        const Vec2 centre(1000 * unit(rng) - 500, 1000 * unit(rng) - 500);
        std::vector<Vec2> ring;
        for (int i = 0; i < n; ++i) {
            // Angular gaps below 90°, radii >= 0.2 R: a disc of 0.14 R around the centre stays inside.
            const double angle = 2 * M_PI * (i + 0.9 * unit(rng)) / n;
            const double r = radius * (0.2 + 0.8 * unit(rng));
            ring.push_back(centre + r * Vec2(std::cos(angle), std::sin(angle)));
        }
        std::vector<std::vector<Vec2>> rings{k % 3 == 0 ? reversed(ring) : ring};
        if (k % 2 == 1) { // a small hole about the centre
            std::vector<Vec2> hole;
            for (int i = 0; i < 7; ++i)
                hole.push_back(centre +
                               0.1 * radius * Vec2(std::cos(-2 * M_PI * i / 7), std::sin(-2 * M_PI * i / 7)));
            rings.push_back(hole);
        }
        checkTriangulation(rings, "random star " + std::to_string(k) + ", " + std::to_string(n) + " points");
    }
}

TEST(Triangulation, LargeFootprintIsFast) {
    // A 4000-vertex star with two holes: must not take quadratic time.
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<Vec2> ring;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
        const double angle = 2 * M_PI * (i + 0.9 * unit(rng)) / n;
        ring.push_back((100 + 60 * unit(rng)) * Vec2(std::cos(angle), std::sin(angle)));
    }
    const auto start = std::chrono::steady_clock::now();
    checkTriangulation({ring, rect(-30, -10, -10, 10), rect(10, -10, 30, 10)}, "4000-vertex star");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reportFigure("triangulation", "star_4000_seconds", seconds);
    EXPECT_LT(seconds, 2.0); // including the test's own O(n²) centroid checks
}

TEST(Triangulation, DegenerateInputGivesNothing) {
    EXPECT_TRUE(triangulatePolygon({}).empty());
    const std::vector<Vec2> line{{0, 0}, {1, 1}, {2, 2}};
    EXPECT_TRUE(triangulatePolygon({line}).empty());
    const std::vector<Vec2> same{{1, 1}, {1, 1}, {1, 1}, {1, 1}};
    EXPECT_TRUE(triangulatePolygon({same}).empty());
}

// ---- buildings -------------------------------------------------------------------------------

TEST(CityMeshBuildings, BoxOnFlatTerrain) {
    CityModel city = flatCity(50);
    const std::vector<Vec2> footprint = rect(0, 0, 10, 20);
    addBuilding(city, {footprint}, 12, 50);
    const CityMesh mesh = buildCityMesh(city);
    const auto tris = triangles(mesh, MeshLayer::Buildings);
    ASSERT_FALSE(tris.empty());
    double wallArea = 0, roofArea = 0;
    for (const Triangle& t : tris) {
        EXPECT_EQ(t.objectId, 0u);
        EXPECT_NEAR(t.vertexNormal.norm(), 1.0, 1e-6);
        EXPECT_GT(t.geometricNormal().dot(t.vertexNormal), 0.999); // counter-clockwise from outside
        if (std::abs(t.vertexNormal.z()) < 1e-6) {                 // wall
            wallArea += t.area();
            const Vec3 out = t.centroid() + 0.1 * t.vertexNormal;
            EXPECT_FALSE(pointInRing(Vec2(out.x(), out.y()), footprint)) << "wall normal points inwards";
            EXPECT_NEAR(std::min({t.a.z(), t.b.z(), t.c.z()}), 49.5, 1e-4);
            EXPECT_NEAR(std::max({t.a.z(), t.b.z(), t.c.z()}), 62.0, 1e-4);
        } else {
            EXPECT_NEAR(t.vertexNormal.z(), 1.0, 1e-6);
            roofArea += t.area();
            for (const Vec3& p : {t.a, t.b, t.c})
                EXPECT_NEAR(p.z(), 62.0, 1e-4);
        }
    }
    EXPECT_NEAR(wallArea, 60 * 12.5, 1e-3); // perimeter × (height + 0.5 m below ground)
    size_t vertices = 0;
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Buildings) vertices += c.vertices.size();
    EXPECT_EQ(vertices, 8u); // faces share their corners
    EXPECT_NEAR(roofArea, 200, 1e-3);
    // Colours: walls and roof as documented, the roof darker.
    for (const MeshChunk& c : mesh.chunks) {
        if (c.layer != MeshLayer::Buildings) continue;
        for (const MeshVertex& v : c.vertices) {
            EXPECT_EQ(v.rgba, v.nz > 0.5f ? buildingRoofColor(BuildingUse::Residential)
                                          : buildingWallColor(BuildingUse::Residential));
        }
    }
    EXPECT_NE(buildingRoofColor(BuildingUse::Residential), buildingWallColor(BuildingUse::Residential));
}

// The smallest enclosing rectangle against shapes whose answer is known in closed form.
TEST(EnclosingRectangle, OfKnownShapes) {
    auto sameCorners = [](const std::array<Vec2, 4>& got, const std::vector<Vec2>& want) {
        for (const Vec2& w : want) {
            double nearest = INFINITY;
            for (const Vec2& g : got) nearest = std::min(nearest, (g - w).norm());
            EXPECT_LT(nearest, 1e-9) << w.transpose();
        }
    };
    // A rectangle turned by 30°: itself, nothing strays.
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    std::vector<Vec2> turned;
    for (const Vec2& p : rect(0, 0, 12, 5)) turned.emplace_back(c * p.x() - s * p.y() + 100, s * p.x() + c * p.y() - 40);
    EnclosingRectangle r = enclosingRectangle(turned);
    sameCorners(r.corners, turned);
    EXPECT_LE(r.maxDistanceM, 0.25 + 1e-9);
    // An L (12 × 10 with a 7 × 4 notch): its bounding box; the notch's outer corner lies
    // min(7, 4) = 4 m from the L. The bound is at most 0.25 m above the truth.
    const std::vector<Vec2> l = {{0, 0}, {12, 0}, {12, 6}, {5, 6}, {5, 10}, {0, 10}};
    r = enclosingRectangle(l);
    sameCorners(r.corners, rect(0, 0, 12, 10));
    EXPECT_GE(r.maxDistanceM, 4.0);
    EXPECT_LE(r.maxDistanceM, 4.25);
    EXPECT_GT(signedArea(r.corners), 0); // counter-clockwise
    // A regular 32-gon of apothem 10: a square of side 20 along any of its edges (all alike);
    // its corners lie 10·(√2 − 1) from the polygon, where they face an edge's midpoint.
    std::vector<Vec2> round;
    const double radius = 10 / std::cos(M_PI / 32);
    for (int k = 0; k < 32; ++k) round.emplace_back(radius * std::cos((k + 0.5) * M_PI / 16), radius * std::sin((k + 0.5) * M_PI / 16));
    r = enclosingRectangle(round);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR((r.corners[(k + 1) % 4] - r.corners[k]).norm(), 20, 1e-9);
    EXPECT_GE(r.maxDistanceM, 10 * (std::sqrt(2.0) - 1));
    EXPECT_LE(r.maxDistanceM, 10 * (std::sqrt(2.0) - 1) + 0.25);
    // A 200 × 100 m hall with a 0.3 m bay on one side: the box strays 0.3 m (beside the bay).
    r = enclosingRectangle(std::vector<Vec2>{{0, 0}, {200, 0}, {200, 40}, {200.3, 40}, {200.3, 60}, {200, 60}, {200, 100}, {0, 100}});
    EXPECT_GE(r.maxDistanceM, 0.3);
    EXPECT_LE(r.maxDistanceM, 0.3 + 0.25 + 1e-9);
    EXPECT_TRUE(std::isinf(enclosingRectangle(std::vector<Vec2>{{0, 0}, {1, 1}, {2, 2}}).maxDistanceM));
}

// The coarse level of a building chunk: an L becomes its bounding box; a rectangle, a courtyard
// building and an L whose notch strays too far are the same at both levels; each level holds
// every building once.
TEST(CityMeshBuildings, CoarseLevelDrawsFootprintsAsTheirEnclosingRectangles) {
    CityModel city = flatCity(50);
    const std::vector<Vec2> l = {{0, 0}, {12, 0}, {12, 6}, {5, 6}, {5, 10}, {0, 10}};       // notch 4 m
    const std::vector<Vec2> bigL = {{32, 0}, {48, 0}, {48, 8}, {40, 8}, {40, 30}, {32, 30}}; // 8 m
    addBuilding(city, {l}, 9, 50);
    addBuilding(city, {rect(15, 0, 25, 8)}, 9, 50);
    addBuilding(city, {rect(0, 12, 30, 42), rect(10, 22, 20, 32)}, 9, 50);
    addBuilding(city, {bigL}, 9, 50);
    CityMeshOptions o;
    o.buildingCoarseMaxErrorM = 6; // the big L strays 8 m
    const CityMesh mesh = buildCityMesh(city, o);
    const MeshChunk* chunk = nullptr;
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Buildings) chunk = &c;
    ASSERT_NE(chunk, nullptr);
    ASSERT_EQ(chunk->lods.size(), 2u);
    EXPECT_GE(chunk->lods[1].errorM, 4.0f);
    EXPECT_LE(chunk->lods[1].errorM, 4.25f);
    // Per building, the corners (x, y) its triangles use at each level.
    auto cornersAt = [&](size_t lod) {
        std::vector<std::set<std::pair<double, double>>> out(4);
        const IndexRange& r = chunk->lods[lod];
        for (uint32_t i = r.first; i < r.first + r.count; ++i) {
            const MeshVertex& v = chunk->vertices[chunk->indices[i]];
            out.at(v.objectId).insert({v.x, v.y});
        }
        return out;
    };
    const auto fine = cornersAt(0), coarse = cornersAt(1);
    auto asSet = [](const std::vector<Vec2>& ring) {
        std::set<std::pair<double, double>> out;
        for (const Vec2& p : ring) out.insert({p.x(), p.y()});
        return out;
    };
    EXPECT_EQ(fine[0], asSet(l));
    EXPECT_EQ(coarse[0], asSet(rect(0, 0, 12, 10)));
    for (size_t b = 1; b < 4; ++b) EXPECT_EQ(fine[b], coarse[b]) << b;
    EXPECT_EQ(coarse[3], asSet(bigL));
    // The L's box: 8 vertices, 10 triangles (4 walls, a roof of 2); the L had 16.
    const size_t lTriangles = 16, boxTriangles = 10;
    EXPECT_EQ(chunk->lods[0].count - chunk->lods[1].count, 3 * (lTriangles - boxTriangles));
    EXPECT_EQ(chunk->vertices.size(), size_t(12 + 8 + 8 + 16 + 12)); // L, box, rectangle, courtyard, big L
    // Without a coarse level: one level, the fine one.
    CityMeshOptions none = o;
    none.buildingCoarseMaxErrorM = 0;
    for (const MeshChunk& c : buildCityMesh(city, none).chunks)
        if (c.layer == MeshLayer::Buildings) {
            EXPECT_EQ(c.lods.size(), 1u);
            EXPECT_EQ(c.lods[0].count, chunk->lods[0].count);
        }
}

// Boxes (drawn far away as points): exactly the parts that are convex four-cornered prisms with a
// flat roof at each level, corners counter-clockwise whatever the footprint's orientation; each
// level's triangles beside them are the other parts', and the rest of the level is the boxes'.
TEST(CityMeshBuildings, BoxesAreTheConvexFourCorneredParts) {
    CityModel city = flatCity(50);
    const std::vector<Vec2> clockwise = reversed(rect(0, 0, 10, 20));
    const std::vector<Vec2> trapezoid = {{15, 0}, {25, 0}, {23, 8}, {17, 8}};
    const std::vector<Vec2> dart = {{30, 0}, {40, 0}, {35, 3}, {35, 10}}; // four corners, concave at (35, 3)
    const std::vector<Vec2> l = {{0, 25}, {12, 25}, {12, 31}, {5, 31}, {5, 35}, {0, 35}};
    addBuilding(city, {clockwise}, 9, 50);
    addBuilding(city, {trapezoid}, 9, 50);
    addBuilding(city, {dart}, 9, 50);
    addBuilding(city, {l}, 9, 50);
    addBuilding(city, {rect(20, 25, 44, 45), rect(28, 31, 36, 39)}, 9, 50); // a courtyard
    const CityMesh mesh = buildCityMesh(city);
    const MeshChunk* chunk = nullptr;
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Buildings) chunk = &c;
    ASSERT_NE(chunk, nullptr);
    ASSERT_EQ(chunk->lods.size(), 2u);
    ASSERT_EQ(chunk->boxLevels.size(), 2u);
    EXPECT_EQ(chunk->boxLevels[0].boxCount, 2u); // the rectangle and the trapezoid
    EXPECT_EQ(chunk->boxLevels[1].boxCount, 3u); // and the L's enclosing rectangle
    ASSERT_EQ(chunk->boxes.size(), 3u);
    const std::vector<std::vector<Vec2>> expected = {clockwise, trapezoid, rect(0, 25, 12, 35)};
    for (size_t k = 0; k < 3; ++k) {
        const BuildingBox& box = chunk->boxes[k];
        EXPECT_EQ(box.objectId, k < 2 ? k : 3u);
        std::vector<Vec2> corners;
        for (int c = 0; c < 4; ++c) corners.emplace_back(box.corners[2 * c], box.corners[2 * c + 1]);
        EXPECT_GT(signedArea(corners), 0) << k;
        for (const Vec2& want : expected[k]) {
            double nearest = INFINITY;
            for (const Vec2& got : corners) nearest = std::min(nearest, (got - want).norm());
            EXPECT_LT(nearest, 1e-4) << k << ": " << want.transpose();
        }
        EXPECT_FLOAT_EQ(box.bottom, 49.5f);
        EXPECT_FLOAT_EQ(box.top, 59.0f);
        EXPECT_EQ(box.wallRgba, buildingWallColor(BuildingUse::Residential));
        EXPECT_EQ(box.roofRgba, buildingRoofColor(BuildingUse::Residential));
    }
    EXPECT_NEAR(chunk->largestBoxM, std::sqrt(10 * 10 + 20 * 20 + 9.5 * 9.5), 1e-3); // the 10 × 20 m rectangle
    // Per level: the triangles beside the boxes are the other buildings', and the level's other
    // triangles (10 per box) come after them.
    const std::set<uint32_t> besideAt[2] = {{2, 3, 4}, {2, 4}};
    for (size_t lod = 0; lod < 2; ++lod) {
        const IndexRange &level = chunk->lods[lod], &beside = chunk->boxLevels[lod].besideBoxes;
        EXPECT_EQ(beside.first, level.first) << lod;
        EXPECT_EQ(level.count - beside.count, 30 * chunk->boxLevels[lod].boxCount) << lod;
        std::set<uint32_t> ids;
        for (uint32_t i = beside.first; i < beside.first + beside.count; ++i) ids.insert(chunk->vertices[chunk->indices[i]].objectId);
        EXPECT_EQ(ids, besideAt[lod]) << lod;
    }
}

TEST(CityMeshBuildings, CourtyardWallsFaceTheCourtyard) {
    CityModel city = flatCity(50);
    const std::vector<Vec2> outer = rect(0, 0, 30, 30), hole = rect(10, 10, 20, 20);
    addBuilding(city, {outer, hole}, 9.5, 50);
    const CityMesh mesh = buildCityMesh(city);
    double roofArea = 0, courtyardWallArea = 0, outerWallArea = 0;
    for (const Triangle& t : triangles(mesh, MeshLayer::Buildings)) {
        if (t.vertexNormal.z() > 0.5) {
            roofArea += t.area();
            EXPECT_GT(t.geometricNormal().z(), 0.999);
            continue;
        }
        const Vec2 c(t.centroid().x(), t.centroid().y());
        const Vec3 o = t.centroid() + 0.1 * t.vertexNormal;
        const bool onHole = c.x() > 9.99 && c.x() < 20.01 && c.y() > 9.99 && c.y() < 20.01;
        if (onHole) {
            courtyardWallArea += t.area();
            EXPECT_TRUE(pointInRing(Vec2(o.x(), o.y()), hole))
                << "courtyard wall faces away from the courtyard";
        } else {
            outerWallArea += t.area();
            EXPECT_FALSE(pointInRing(Vec2(o.x(), o.y()), outer));
        }
        EXPECT_GT(t.geometricNormal().dot(t.vertexNormal), 0.999);
    }
    EXPECT_NEAR(roofArea, 900 - 100, 1e-3);
    EXPECT_NEAR(courtyardWallArea, 40 * 10.0, 1e-3);
    EXPECT_NEAR(outerWallArea, 120 * 10.0, 1e-3);
}

// LoD2 roof of the last building over the 10 × 10 footprint at the origin: two planes meeting
// at the ridge y = 5, eaves at z = 46, ridge at 49 (absolute heights, as CityGML has them).
void addGableRoof(CityModel& city) {
    Buildings& b = city.buildings;
    for (const std::vector<Vec3>& ring :
         {std::vector<Vec3>{{0, 0, 46}, {10, 0, 46}, {10, 5, 49}, {0, 5, 49}},
          std::vector<Vec3>{{0, 5, 49}, {10, 5, 49}, {10, 10, 46}, {0, 10, 46}}}) {
        b.roofPoints.insert(b.roofPoints.end(), ring.begin(), ring.end());
        b.roofRingStart.push_back(static_cast<uint32_t>(b.roofPoints.size()));
    }
    b.roofStart.back() = static_cast<uint32_t>(b.roofRingStart.size() - 1);
}

TEST(CityMeshBuildings, MissingGroundUsesTheTerrainAndLod2RoofsAreDrawn) {
    CityModel city = flatCity(40);
    addBuilding(city, {rect(0, 0, 10, 10)}, 6, NAN); // ground from the terrain: 40
    addGableRoof(city);

    const CityMesh mesh = buildCityMesh(city);
    double roofArea = 0, wallArea = 0;
    const double slopeLength = std::hypot(5.0, 3.0);
    for (const Triangle& t : triangles(mesh, MeshLayer::Buildings)) {
        if (std::abs(t.vertexNormal.z()) < 1e-6) {
            wallArea += t.area();
            EXPECT_NEAR(std::max({t.a.z(), t.b.z(), t.c.z()}), 46.0, 1e-4); // up to the lowest roof point
            EXPECT_NEAR(std::min({t.a.z(), t.b.z(), t.c.z()}), 39.5, 1e-4);
        } else {
            roofArea += t.area();
            EXPECT_GT(t.vertexNormal.z(), 0.5);
            EXPECT_NEAR(t.vertexNormal.z(), 5 / slopeLength, 1e-6);
            EXPECT_GT(t.geometricNormal().dot(t.vertexNormal), 0.999);
        }
    }
    EXPECT_NEAR(roofArea, 2 * 10 * slopeLength, 1e-3);
    EXPECT_NEAR(wallArea, 40 * 6.5, 1e-3);

    // Without LoD2 roofs: flat at ground + height.
    CityMeshOptions flat;
    flat.lod2Roofs = false;
    for (const Triangle& t : triangles(buildCityMesh(city, flat), MeshLayer::Buildings)) {
        if (t.vertexNormal.z() < 0.5) continue;
        for (const Vec3& p : {t.a, t.b, t.c})
            EXPECT_NEAR(p.z(), 46.0, 1e-4);
    }
}

// CityGML without a terrain model: the LoD2 roof's absolute heights place the building — the
// ground lies the building's height below the ridge.
TEST(CityMeshBuildings, WithoutTerrainLod2RoofsGiveTheGround) {
    CityModel city; // no terrain
    addBuilding(city, {rect(0, 0, 10, 10)}, 9, NAN);
    addGableRoof(city);
    double lowest = INFINITY, wallTop = -INFINITY;
    for (const Triangle& t : triangles(buildCityMesh(city), MeshLayer::Buildings)) {
        lowest = std::min({lowest, t.a.z(), t.b.z(), t.c.z()});
        if (std::abs(t.vertexNormal.z()) < 1e-6) wallTop = std::max({wallTop, t.a.z(), t.b.z(), t.c.z()});
    }
    EXPECT_NEAR(lowest, 49 - 9 - 0.5, 1e-4); // ridge − height, and the walls' 0.5 m below ground
    EXPECT_NEAR(wallTop, 46, 1e-4);
}

TEST(CityMeshBuildings, ABuildingStaysInTheChunkOfItsCentroid) {
    CityModel city = flatCity(0, 100);
    // Two parts on both sides of the chunk border x = 0 (chunk size 50 from x = -100); the
    // centroid is in the east part.
    Buildings& b = city.buildings;
    b.footprints.add({rect(-10, 0, -2, 10)});
    addBuilding(city, {rect(0, 0, 30, 10)}, 10, 0);
    b.partStart = {0, 2};
    CityMeshOptions options;
    options.chunkSizeM = 50;
    const CityMesh mesh = buildCityMesh(city, options);
    int buildingChunks = 0;
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Buildings) {
            ++buildingChunks;
            EXPECT_EQ(c.chunkX, 2); // (x - (-100)) / 50 for the centroid x ≈ 11
            EXPECT_NEAR(c.boundsMin[0], -10, 1e-4);
            EXPECT_NEAR(c.boundsMax[0], 30, 1e-4);
        }
    EXPECT_EQ(buildingChunks, 1);
    EXPECT_NEAR(mesh.origin.x(), -100, 1e-9);
}

// ---- terrain ---------------------------------------------------------------------------------

double plane(double x, double y) {
    return 0.1 * x - 0.05 * y + 30;
}

CityModel tiltedPlaneCity() {
    CityModel city;
    Terrain& t = city.terrain;
    t.width = 300;
    t.height = 200;
    t.cellSize = 1;
    t.originX = 0;
    t.originY = 200;
    t.heightM.resize(static_cast<size_t>(t.width) * t.height);
    for (int r = 0; r < t.height; ++r)
        for (int c = 0; c < t.width; ++c)
            t.heightM[static_cast<size_t>(r) * t.width + c] =
                static_cast<float>(plane(c + 0.5, 200 - (r + 0.5)));
    return city;
}

CityMeshOptions smallChunks() {
    CityMeshOptions o;
    o.chunkSizeM = 64;
    return o;
}

TEST(CityMeshTerrain, TiltedPlane) {
    const CityModel city = tiltedPlaneCity();
    const CityMesh mesh = buildCityMesh(city, smallChunks());
    const Vec3 analyticNormal = Vec3(-0.1, 0.05, 1).normalized();
    size_t checked = 0;
    size_t maxLevels = 0;
    for (const MeshChunk& c : mesh.chunks) {
        ASSERT_EQ(c.layer, MeshLayer::Terrain);
        maxLevels = std::max(maxLevels, c.lods.size());
        for (size_t k = 0; k < c.lods.size(); ++k) {
            const IndexRange& r = c.lods[k];
            for (uint32_t i = r.first; i < r.first + r.surfaceCount; ++i) {
                const MeshVertex& v = c.vertices[c.indices[i]];
                ASSERT_NEAR(v.z, plane(v.x, v.y), 1e-3);
                ASSERT_NEAR((Vec3(v.nx, v.ny, v.nz) - analyticNormal).norm(), 0, 1e-4);
                ++checked;
            }
            EXPECT_LT(r.errorM, 1e-3); // every level lies in the plane
            if (k + 1 < c.lods.size()) { // the next level has about a quarter of the triangles
                const double ratio = double(c.lods[k + 1].surfaceCount) / c.lods[k].surfaceCount;
                EXPECT_GT(ratio, 0.2);
                EXPECT_LT(ratio, 0.36);
            }
        }
    }
    EXPECT_GT(checked, 0u);
    EXPECT_EQ(maxLevels, size_t(CityMeshOptions{}.terrainLods)); // 64 quads a side: 1 to 32 m
    // The finest surface covers the vertex grid exactly: no gaps or overlaps between chunks.
    double area = 0;
    for (const Triangle& t : triangles(mesh, MeshLayer::Terrain)) {
        const double a =
            triangleArea2d(Vec2(t.a.x(), t.a.y()), Vec2(t.b.x(), t.b.y()), Vec2(t.c.x(), t.c.y()));
        EXPECT_GT(a, 0); // counter-clockwise seen from above
        area += a;
    }
    EXPECT_NEAR(area, 299.0 * 199.0, 1e-6 * 299 * 199);
    EXPECT_EQ(triangles(mesh, MeshLayer::Terrain).size(), 2u * 299 * 199);
    // Every level has a skirt around each chunk, hanging at least 5 m below its border.
    for (size_t k = 0; k < maxLevels; ++k) {
        const auto skirt = triangles(mesh, MeshLayer::Terrain, k, true);
        size_t chunksWithLevel = 0;
        for (const MeshChunk& c : mesh.chunks)
            chunksWithLevel += c.lods.size() > k ? 1 : 0;
        EXPECT_GE(skirt.size(), 8 * chunksWithLevel) << "level " << k; // >= 2 segments per side
        for (const Triangle& t : skirt) {
            const double top = std::max({t.a.z() - plane(t.a.x(), t.a.y()), t.b.z() - plane(t.b.x(), t.b.y()),
                                         t.c.z() - plane(t.c.x(), t.c.y())});
            const double bottom =
                std::min({t.a.z() - plane(t.a.x(), t.a.y()), t.b.z() - plane(t.b.x(), t.b.y()),
                          t.c.z() - plane(t.c.x(), t.c.y())});
            EXPECT_NEAR(top, 0, 1e-3);
            EXPECT_LT(bottom, -5 + 1e-3);
            // hanging outwards: the face looks away from the chunk, horizontally
            EXPECT_NEAR(t.geometricNormal().z(), 0, 1e-6);
        }
    }
    for (const MeshChunk& c : mesh.chunks) // and face out of their chunk
        for (const IndexRange& r : c.lods)
            for (uint32_t i = r.first + r.surfaceCount; i < r.first + r.count; i += 3) {
                const Vec3 a = position(c.vertices[c.indices[i]]), b = position(c.vertices[c.indices[i + 1]]),
                           v = position(c.vertices[c.indices[i + 2]]);
                const Vec3 out = (a + b + v) / 3 + 0.01 * (b - a).cross(v - a).normalized();
                const bool inside = out.x() > c.boundsMin[0] && out.x() < c.boundsMax[0] &&
                                    out.y() > c.boundsMin[1] && out.y() < c.boundsMax[1];
                ASSERT_FALSE(inside) << "skirt faces into chunk " << c.chunkX << "," << c.chunkY;
            }
    EXPECT_EQ(mesh.triangleCount(MeshLayer::Buildings), 0u);
    EXPECT_NEAR(mesh.boundsMin[0], 0.5, 1e-4);
    EXPECT_NEAR(mesh.boundsMax[0], 299.5, 1e-4);
}

TEST(CityMeshTerrain, StepKeepsTheVertexBudget) {
    const CityModel city = tiltedPlaneCity();
    CityMeshOptions o = smallChunks();
    o.terrainMaxVertices = 20000; // 300 × 200 = 60000 needs every 2nd cell: 150 × 100
    const CityMesh mesh = buildCityMesh(city, o);
    EXPECT_EQ(triangles(mesh, MeshLayer::Terrain).size(), 2u * 149 * 99);
}

TEST(CityMeshTerrain, NodataLeavesAHole) {
    CityModel city = tiltedPlaneCity();
    std::vector<Vec2> nodataCentres;
    for (int r = 50; r <= 51; ++r)
        for (int c = 100; c <= 102; ++c) {
            city.terrain.heightM[static_cast<size_t>(r) * 300 + c] = NAN;
            nodataCentres.emplace_back(c + 0.5, 200 - (r + 0.5));
        }
    const CityMesh mesh = buildCityMesh(city, smallChunks());
    // Every quad with a nodata corner goes: (3 + 1) × (2 + 1) quads.
    EXPECT_EQ(triangles(mesh, MeshLayer::Terrain).size(), 2u * (299 * 199 - 12));
    for (size_t k = 0; k < 4; ++k)
        for (bool skirt : {false, true})
            for (const Triangle& t : triangles(mesh, MeshLayer::Terrain, k, skirt)) {
                for (const Vec3& p : {t.a, t.b, t.c})
                    ASSERT_TRUE(std::isfinite(p.z()));
                const Vec2 a(t.a.x(), t.a.y()), b(t.b.x(), t.b.y()), c(t.c.x(), t.c.y());
                for (const Vec2& n : nodataCentres) {
                    if (skirt) { // vertical: must not hang from a nodata vertex
                        for (const Vec2& p : {a, b, c})
                            ASSERT_GT((p - n).norm(), 1e-3);
                        continue;
                    }
                    const bool touches = triangleArea2d(a, b, n) >= -1e-9 &&
                                         triangleArea2d(b, c, n) >= -1e-9 && triangleArea2d(c, a, n) >= -1e-9;
                    ASSERT_FALSE(touches) << "level " << k << " triangle over nodata at " << n.transpose();
                }
            }
    for (int k = 0; k < 3; ++k)
        EXPECT_TRUE(std::isfinite(mesh.boundsMin[k]) && std::isfinite(mesh.boundsMax[k]));
}

TEST(CityMeshTerrain, WaterAndLandUseColours) {
    CityModel city = tiltedPlaneCity();
    const std::vector<Vec2> water{{20.3, 30.1}, {120.7, 40.2}, {60.1, 150.9}};
    city.water.areas.add({water});
    city.water.areaKind.push_back("lake");
    city.water.areaName.push_back("");
    const std::vector<Vec2> forest = rect(150.2, 20.2, 250.2, 120.2);
    city.landuse.areas.add({forest});
    city.landuse.className.push_back("forest");
    city.landuse.sourceClass.push_back("wood");
    city.landuse.imperviousness.push_back(0);
    city.landuse.manningN.push_back(0.12f);
    const CityMesh mesh = buildCityMesh(city, smallChunks());
    size_t wet = 0, dry = 0;
    std::set<uint32_t> forestColours, otherColours;
    for (const MeshChunk& c : mesh.chunks)
        for (uint32_t i = c.lods[0].first; i < c.lods[0].first + c.lods[0].surfaceCount; ++i) {
            const MeshVertex& v = c.vertices[c.indices[i]];
            const Vec2 p(v.x, v.y);
            const uint32_t alpha = v.rgba >> 24;
            if (pointInRing(p, water)) {
                EXPECT_EQ(alpha, 0u) << p.transpose();
                ++wet;
            } else {
                EXPECT_EQ(alpha, 255u) << p.transpose();
                ++dry;
                (pointInRing(p, forest) ? forestColours : otherColours).insert(v.rgba);
            }
        }
    EXPECT_GT(wet, 1000u);
    EXPECT_GT(dry, 1000u);
    ASSERT_EQ(forestColours.size(), 1u);
    ASSERT_EQ(otherColours.size(), 1u);
    const uint32_t f = *forestColours.begin(), m = *otherColours.begin();
    auto channel = [](uint32_t c, int k) { return (c >> (8 * k)) & 0xFFu; };
    EXPECT_GT(channel(f, 1), channel(f, 0)); // green
    EXPECT_GT(channel(f, 1), channel(f, 2));
    EXPECT_LT(channel(f, 0) + channel(f, 1) + channel(f, 2),
              channel(m, 0) + channel(m, 1) + channel(m, 2)); // darker
    // The drape holds each finest vertex's colour at its texel: (x, y) = (x0, y0) + spacing ×
    // (column, −row), 1 m here (the grid is the DEM's cell centres).
    const TerrainDrape& drape = mesh.terrainDrape;
    ASSERT_EQ(drape.width, 300);
    ASSERT_EQ(drape.height, 200);
    ASSERT_EQ(drape.rgba.size(), 300u * 200u);
    EXPECT_DOUBLE_EQ(drape.spacing, 1.0);
    EXPECT_DOUBLE_EQ(drape.x0, 0.5);
    EXPECT_DOUBLE_EQ(drape.y0, 199.5);
    auto texel = [&](double x, double y) {
        const long c = std::lround((x - drape.x0) / drape.spacing), r = std::lround((drape.y0 - y) / drape.spacing);
        return drape.rgba[size_t(r) * size_t(drape.width) + size_t(c)];
    };
    size_t texelsChecked = 0;
    for (const MeshChunk& c : mesh.chunks)
        for (uint32_t i = c.lods[0].first; i < c.lods[0].first + c.lods[0].surfaceCount; ++i, ++texelsChecked)
            ASSERT_EQ(texel(c.vertices[c.indices[i]].x, c.vertices[c.indices[i]].y), c.vertices[c.indices[i]].rgba);
    EXPECT_GT(texelsChecked, 6u * 299 * 199 - 1);
    // At every level the surface's land quads come first, no water texel inside or on them (so a
    // draped land quad shows no water); every quad after them holds one. Coarse levels have
    // quads whose corners are all land but which hold water: those count as water.
    size_t landQuads = 0, waterQuads = 0, waterInsideOnly = 0;
    for (const MeshChunk& c : mesh.chunks)
        for (const IndexRange& r : c.lods) {
            ASSERT_LE(r.landCount, r.surfaceCount);
            for (uint32_t q = r.first; q < r.first + r.surfaceCount; q += 6) {
                double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
                bool waterCorner = false;
                for (uint32_t k = q; k < q + 6; ++k) {
                    const MeshVertex& v = c.vertices[c.indices[k]];
                    x0 = std::min(x0, double(v.x)), x1 = std::max(x1, double(v.x));
                    y0 = std::min(y0, double(v.y)), y1 = std::max(y1, double(v.y));
                    waterCorner |= (v.rgba >> 24) == 0;
                }
                bool water = false;
                for (double y = y0; y <= y1 + 1e-3 && !water; y += 1)
                    for (double x = x0; x <= x1 + 1e-3 && !water; x += 1) water = (texel(x, y) >> 24) == 0;
                EXPECT_EQ(water, q >= r.first + r.landCount);
                ++(water ? waterQuads : landQuads);
                waterInsideOnly += water && !waterCorner;
            }
        }
    EXPECT_GT(landQuads, 0u);
    EXPECT_GT(waterQuads, 0u);
    EXPECT_GT(waterInsideOnly, 0u);
}

// A level's error is the largest height difference between the finest grid and the level's
// triangles. On the paraboloid z = a (x² + y²) a triangle's edge of length L is off by a L² / 4
// at its middle, so a level of spacing s (diagonals of s√2, a finest vertex at each middle) is
// off by exactly a s² / 2, whatever the position.
TEST(CityMeshTerrain, LevelErrorOnAParaboloid) {
    CityModel city;
    Terrain& t = city.terrain;
    t.width = 257;
    t.height = 257;
    t.cellSize = 1;
    t.originX = -128.5;
    t.originY = 128.5;
    t.heightM.resize(size_t(t.width) * t.height);
    const double a = 0.002;
    for (int r = 0; r < t.height; ++r)
        for (int c = 0; c < t.width; ++c) {
            const double x = t.originX + c + 0.5, y = t.originY - r - 0.5;
            t.heightM[size_t(r) * t.width + c] = float(a * (x * x + y * y));
        }
    const CityMesh mesh = buildCityMesh(city, smallChunks());
    size_t levels = 0;
    for (const MeshChunk& c : mesh.chunks)
        for (size_t k = 0; k < c.lods.size(); ++k, ++levels) {
            const double s = double(1 << k), expected = k == 0 ? 0 : a * s * s / 2; // the finest level is itself
            EXPECT_NEAR(c.lods[k].errorM, expected, 1e-4 + 1e-4 * a * s * s) << "level " << k << " chunk " << c.chunkX << "," << c.chunkY;
        }
    EXPECT_GT(levels, 16u * 5);
}

// ---- roads -----------------------------------------------------------------------------------

double terrainZ(double x, double y) { // the road test's terrain: a slope with a trench south of y = -20
    return 50 + 0.1 * x - ((std::abs(x) < 10 && y < -20) ? 5 : 0);
}

struct RoadSpec {
    Vec2 a, b;
    uint8_t flags;
    bool twoWay;
};

CityModel roadCity(const std::vector<RoadSpec>& specs) {
    CityModel city;
    Terrain& t = city.terrain;
    t.width = t.height = 200;
    t.cellSize = 1;
    t.originX = -100;
    t.originY = 100;
    t.heightM.resize(200 * 200);
    for (int r = 0; r < 200; ++r)
        for (int c = 0; c < 200; ++c)
            t.heightM[static_cast<size_t>(r) * 200 + c] =
                static_cast<float>(terrainZ(-100 + c + 0.5, 100 - r - 0.5));
    RoadNetwork& n = city.roads;
    auto addEdge = [&](NodeId f, NodeId to, const Vec2& a, const Vec2& b, uint8_t flags) {
        n.from.push_back(f);
        n.to.push_back(to);
        n.shapePoints.insert(n.shapePoints.end(), {a, (a + b) / 2, b});
        n.shapeStart.push_back(static_cast<uint32_t>(n.shapePoints.size()));
        n.lengthM.push_back(static_cast<float>((b - a).norm()));
        n.speedMps.push_back(13.9f);
        n.lanes.push_back(1);
        n.roadClass.push_back(RoadClass::Residential);
        n.layer.push_back(0);
        n.flags.push_back(flags);
        n.reverse.emplace_back();
        n.way.push_back(0);
        return static_cast<uint32_t>(n.from.size() - 1);
    };
    for (const RoadSpec& s : specs) {
        NodeId na(static_cast<uint32_t>(n.nodePos.size())), nb(na.value + 1);
        n.nodePos.insert(n.nodePos.end(), {s.a, s.b});
        uint32_t e = addEdge(na, nb, s.a, s.b, s.flags);
        if (s.twoWay) {
            uint32_t r = addEdge(nb, na, s.b, s.a, s.flags);
            n.reverse[e] = EdgeId(r);
            n.reverse[r] = EdgeId(e);
        }
    }
    n.wayId = {"w"};
    n.wayName = {""};
    n.buildAdjacency();
    return city;
}

TEST(CityMeshRoads, TwoWayStreetIsOneRibbon) {
    const CityModel city = roadCity({{{-50, 0}, {50, 0}, 0, true}});
    const CityMesh mesh = buildCityMesh(city);
    const double width = 2 * 3.0; // documented: 3.0 m per lane, one lane each way
    double area = 0;
    for (const Triangle& t : triangles(mesh, MeshLayer::Roads)) {
        EXPECT_EQ(t.objectId, 0u); // the lower of the two edge indices
        EXPECT_NEAR(t.vertexNormal.z(), 1.0, 1e-6);
        const double a =
            triangleArea2d(Vec2(t.a.x(), t.a.y()), Vec2(t.b.x(), t.b.y()), Vec2(t.c.x(), t.c.y()));
        EXPECT_GT(a, 0);
        area += a;
        for (const Vec3& p : {t.a, t.b, t.c}) {
            EXPECT_NEAR(p.z(), terrainZ(p.x(), 0) + 0.25, 1e-3); // terrain + roadLift
            EXPECT_NEAR(std::abs(p.y()), width / 2, 1e-4);
        }
    }
    EXPECT_NEAR(area, 100 * width, 0.02 * 100 * width); // once, not twice
    EXPECT_EQ(roadColor(RoadClass::Residential), [&] {
        for (const MeshChunk& c : mesh.chunks)
            if (c.layer == MeshLayer::Roads) return c.vertices[0].rgba;
        return 0u;
    }());
}

TEST(CityMeshRoads, TunnelsAreHiddenAndBridgesAreStraight) {
    const CityModel city = roadCity({{{-50, 30}, {50, 30}, RoadNetwork::Tunnel, false},
                                     {{-50, -40}, {50, -40}, RoadNetwork::Bridge, false},
                                     {{-50, -60}, {50, -60}, 0, false}});
    const CityMesh mesh = buildCityMesh(city);
    std::set<uint32_t> drawn;
    const double z0 = terrainZ(-50, -40) + 0.25, z1 = terrainZ(50, -40) + 0.25;
    bool dips = false;
    for (const Triangle& t : triangles(mesh, MeshLayer::Roads)) {
        drawn.insert(t.objectId);
        for (const Vec3& p : {t.a, t.b, t.c}) {
            if (t.objectId == 1) { // bridge: linear in arc length (here: in x) between its ends
                EXPECT_NEAR(p.z(), z0 + (z1 - z0) * (p.x() + 50) / 100, 1e-3);
            }
            if (t.objectId == 2 && p.z() < terrainZ(p.x(), -10) - 1)
                dips = true; // the plain road follows the trench
        }
    }
    EXPECT_EQ(drawn, (std::set<uint32_t>{1, 2}));
    EXPECT_TRUE(dips);
}

// ---- a large city ----------------------------------------------------------------------------

TEST(CityMeshLarge, HundredThousandBuildingsInSeconds) {
    // 4000 × 4000 DEM at 1 m (rolling hills), 100,000 buildings (boxes, L-shapes, courtyards),
    // 20,000 two-way streets with bends, land use blocks and a river.
    CityModel city;
    Terrain& t = city.terrain;
    t.width = t.height = 4000;
    t.cellSize = 1;
    t.originX = 0;
    t.originY = 4000;
    t.heightM.resize(size_t(4000) * 4000);
    for (int r = 0; r < 4000; ++r)
        for (int c = 0; c < 4000; ++c)
            t.heightM[size_t(r) * 4000 + c] =
                static_cast<float>(100 + 20 * std::sin(c / 300.0) * std::cos(r / 400.0));
    for (int i = 0; i < 100000; ++i) {
        const double x = 20 + 12 * (i % 316), y = 20 + 12 * (i / 316);
        std::vector<std::vector<Vec2>> rings;
        if (i % 50 == 0)
            rings = {rect(x, y, x + 10, y + 10), rect(x + 3, y + 3, x + 7, y + 7)};
        else if (i % 3 == 0)
            rings = {{{x, y}, {x + 9, y}, {x + 9, y + 4}, {x + 4, y + 4}, {x + 4, y + 9}, {x, y + 9}}};
        else
            rings = {rect(x, y, x + 8, y + 6)};
        addBuilding(city, std::move(rings), 6 + i % 20, NAN);
    }
    RoadNetwork& n = city.roads;
    for (int s = 0; s < 20000; ++s) {
        const double x = 10 + 100 * (s % 38), y = 15 + 20 * (s / 38);
        const std::vector<Vec2> shape{{x, y}, {x + 30, y + 3}, {x + 60, y - 2}, {x + 95, y}};
        const auto e = static_cast<uint32_t>(n.from.size());
        for (int dir = 0; dir < 2; ++dir) {
            n.from.emplace_back(2 * s + dir);
            n.to.emplace_back(2 * s + 1 - dir);
            if (dir == 0)
                n.shapePoints.insert(n.shapePoints.end(), shape.begin(), shape.end());
            else
                n.shapePoints.insert(n.shapePoints.end(), shape.rbegin(), shape.rend());
            n.shapeStart.push_back(static_cast<uint32_t>(n.shapePoints.size()));
            n.lanes.push_back(1);
            n.roadClass.push_back(s % 7 == 0 ? RoadClass::Footway : RoadClass::Residential);
            n.flags.push_back(0);
            n.reverse.emplace_back(e + 1 - dir);
        }
        n.nodePos.insert(n.nodePos.end(), {shape.front(), shape.back()});
    }
    for (int k = 0; k < 400; ++k) {
        const double x = 200 * (k % 20), y = 200 * (k / 20);
        city.landuse.areas.add({rect(x, y, x + 180, y + 190)});
        city.landuse.className.push_back(k % 3 == 0 ? "forest" : k % 3 == 1 ? "residential" : "farmland");
    }
    std::vector<Vec2> river;
    for (int k = 0; k <= 100; ++k)
        river.emplace_back(40 * k, 2000 + 100 * std::sin(k / 8.0));
    for (int k = 100; k >= 0; --k)
        river.emplace_back(40 * k, 2060 + 100 * std::sin(k / 8.0));
    city.water.areas.add({river});

    const auto start = std::chrono::steady_clock::now();
    const CityMesh mesh = buildCityMesh(city);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reportFigure("city_mesh", "large_build_seconds", seconds);
    reportFigure("city_mesh", "large_megabytes", mesh.bytes() / 1e6);
    for (int l = 0; l < meshLayerCount; ++l)
        reportFigure("city_mesh", std::string("large_") + toString(static_cast<MeshLayer>(l)) + "_triangles",
                     static_cast<double>(mesh.triangleCount(static_cast<MeshLayer>(l))));
    EXPECT_LT(seconds, 10.0); // "a few seconds on 2 cores", with room for a busy machine

    // 4000² cells at most 2,000,000 vertices: every 3rd cell, 1334² vertices.
    size_t terrainSurface = 0;
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Terrain) terrainSurface += c.lods[0].surfaceCount / 3;
    EXPECT_EQ(terrainSurface, 2u * 1333 * 1333);
    // Walls (one quad per edge) and roofs (n - 2 triangles, +2 per hole vertex pair) by shape.
    size_t expectedBuildingTriangles = 0;
    for (int i = 0; i < 100000; ++i)
        expectedBuildingTriangles += i % 50 == 0 ? 8 * 2 + 8 : i % 3 == 0 ? 6 * 2 + 4 : 4 * 2 + 2;
    EXPECT_EQ(mesh.triangleCount(MeshLayer::Buildings), expectedBuildingTriangles);
    std::vector<bool> roadSeen(n.edgeCount(), false);
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Roads)
            for (const MeshVertex& v : c.vertices)
                roadSeen[v.objectId] = true;
    for (size_t e = 0; e < n.edgeCount(); ++e)
        ASSERT_EQ(roadSeen[e], e % 2 == 0) << e;
}

// ---- the sample town -------------------------------------------------------------------------

TEST(CityMeshMusterstadt, EveryBuildingIsDrawn) {
    Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt.yaml");
    const CityModel city = importCity(s.city, ImportOptions{{}, false});
    const auto start = std::chrono::steady_clock::now();
    const CityMesh mesh = buildCityMesh(city);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<bool> seen(city.buildings.size(), false);
    for (const MeshChunk& c : mesh.chunks)
        if (c.layer == MeshLayer::Buildings)
            for (uint32_t i = c.lods[0].first; i < c.lods[0].first + c.lods[0].count; ++i) {
                const uint32_t id = c.vertices[c.indices[i]].objectId;
                ASSERT_LT(id, seen.size());
                seen[id] = true;
            }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 0);
    for (int l = 0; l < meshLayerCount; ++l) {
        const auto layer = static_cast<MeshLayer>(l);
        EXPECT_GT(mesh.triangleCount(layer), 0u) << toString(layer);
        reportFigure("city_mesh", std::string("musterstadt_") + toString(layer) + "_triangles",
                     static_cast<double>(mesh.triangleCount(layer)));
    }
    reportFigure("city_mesh", "musterstadt_chunks", static_cast<double>(mesh.chunks.size()));
    reportFigure("city_mesh", "musterstadt_megabytes", mesh.bytes() / 1e6);
    reportFigure("city_mesh", "musterstadt_build_seconds", seconds);
    // Everything inside the city's bounds.
    const Box2 b = city.bounds();
    EXPECT_GE(mesh.boundsMin[0], b.min.x() - 10);
    EXPECT_LE(mesh.boundsMax[0], b.max.x() + 10);
}

} // namespace
