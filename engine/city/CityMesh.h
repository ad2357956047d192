#pragma once
// Triangle meshes of the city for drawing (render/) and picking (physics/): terrain,
// extruded buildings, road ribbons. Plain CPU data in the local frame, cut into square
// chunks so a renderer can cull and a picker can build one shape per chunk.
#include "city/CityModel.h"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ct {

enum class MeshLayer : uint8_t { Terrain, Buildings, Roads };
constexpr int meshLayerCount = 3;
const char* toString(MeshLayer layer);

// 32 bytes; the layout the shaders read (shaders/city_vertex.glsl).
struct MeshVertex {
    float x, y, z;     // local frame, metres
    float nx, ny, nz;  // unit normal
    uint32_t rgba;     // base colour, R in the low byte; terrain: A = 255 land, 0 water
    uint32_t objectId; // building index, road edge index, or terrain 0
};
static_assert(sizeof(MeshVertex) == 32);

struct IndexRange {
    uint32_t first = 0, count = 0; // into MeshChunk::indices
    // The first surfaceCount indices of the range are the surface; the rest are the terrain
    // skirt (hanging walls against cracks), which a picker leaves out. = count without skirt.
    uint32_t surfaceCount = 0;
    // Terrain: the first landCount indices of the surface are quads without a water vertex of the
    // finest grid inside or on them, the rest of it quads with one (a renderer can spare the land
    // its water shading, and drape the land use on the land quads without meeting water). =
    // surfaceCount without water.
    uint32_t landCount = 0;
    // How far (metres) this level's surfaces may lie from the finest level's, for a renderer to
    // take it where that is under a pixel: buildings' coarse level an upper bound; a terrain
    // level the largest height difference at a finest vertex. 0 for the finest level.
    float errorM = 0;
};

// A building part drawn far away as one point (render/: a sprite in whose pixels the fragment
// shader intersects the view ray with the prism, so it covers the same pixels as the triangles):
// a convex four-cornered footprint extruded from `bottom` to `top` with a flat roof. 52 bytes;
// the layout the shader reads (shaders/building_box.*).
struct BuildingBox {
    float corners[8];  // x0, y0, … x3, y3: counter-clockwise, local frame
    float bottom, top; // metres
    uint32_t wallRgba, roofRgba, objectId;
};
static_assert(sizeof(BuildingBox) == 52);

struct MeshChunk {
    MeshLayer layer = MeshLayer::Terrain;
    int chunkX = 0, chunkY = 0;         // grid cell of chunkSizeM squares from CityMesh::origin
    std::array<float, 3> boundsMin{}, boundsMax{};
    std::vector<MeshVertex> vertices;
    // Triangle list, counter-clockwise seen from outside. Buildings: a triangle's first vertex
    // carries its face's normal and colour (the provoking vertex of flat shading); the other two
    // are corners shared with neighbouring faces and may carry theirs. Terrain and roads: smooth.
    std::vector<uint32_t> indices;
    // Levels of detail, finest first. Terrain chunks have several (coarser grids, each with a
    // skirt so neighbours at other levels leave no cracks). Building chunks have a second one
    // where some footprints are replaced by their enclosing rectangle (indices: those buildings'
    // full shapes, then the buildings both levels share, then the rectangles; each level is a
    // contiguous range). Roads have exactly one.
    std::vector<IndexRange> lods;
    // Buildings: the parts that are convex four-cornered prisms with a flat roof, as boxes: those
    // drawn the same at both levels first, then the coarse level's rectangles. Per level of
    // detail, how many of them it holds, and its triangles of every other part (a contiguous
    // range: the level is those, then the boxes' triangles). Empty elsewhere.
    struct BoxLevel {
        uint32_t boxCount = 0;
        IndexRange besideBoxes;
    };
    std::vector<BuildingBox> boxes;
    std::vector<BoxLevel> boxLevels; // parallel to lods
    float largestBoxM = 0;           // the longest diagonal of a box, metres
};

struct CityMeshOptions {
    double chunkSizeM = 512;
    // Terrain: one vertex per `terrainStep` DEM cells (0 = chosen so the finest level has at
    // most terrainMaxVertices), and up to terrainLods levels, each half as dense.
    int terrainStep = 0;
    size_t terrainMaxVertices = 2'000'000;
    int terrainLods = 6;
    float roadLift = 0.25f;      // metres above the terrain, against z-fighting
    bool lod2Roofs = true;       // draw imported LoD2 roof surfaces instead of flat roofs
    // Buildings' coarse level: a flat-roofed footprint part of more than four corners (no holes)
    // becomes its smallest enclosing rectangle (8 vertices, 10 triangles) where that strays at
    // most this far from it. 0: no coarse level.
    double buildingCoarseMaxErrorM = 8;
};

// The terrain's land use as an image, for a renderer to drape per pixel so the colours need not
// follow the grid of a coarse level: one texel per vertex of the finest terrain grid, RGBA like
// MeshVertex::rgba (A = 0 on water), row 0 north. Empty without terrain.
struct TerrainDrape {
    int width = 0, height = 0;
    double x0 = 0, y0 = 0; // local position of texel (0, 0)'s centre, the north-west vertex
    double spacing = 0;    // metres between texel centres
    std::vector<uint32_t> rgba;
};

struct CityMesh {
    Vec2 origin{0, 0}; // local coordinates of chunk (0, 0)'s lower-left corner
    double chunkSizeM = 512;
    std::vector<MeshChunk> chunks;
    TerrainDrape terrainDrape;
    std::array<float, 3> boundsMin{}, boundsMax{};
    // Object ids: buildings = building index; roads = index of the directed edge the ribbon
    // was made from (a two-way street is one ribbon, named by its lower edge index).
    size_t triangleCount(MeshLayer layer) const; // finest level
    size_t triangleCount() const;
    size_t bytes() const;                        // vertex, index, box and drape memory
};

CityMesh buildCityMesh(const CityModel& city, const CityMeshOptions& options = {});

// Ear-clipping triangulation of a polygon with holes (first ring outer, any orientation).
// Returns index triples into the rings' points concatenated in order; empty if degenerate.
std::vector<uint32_t> triangulatePolygon(const std::vector<std::span<const Vec2>>& rings);
// The smallest rectangle enclosing a ring (one side along an edge of its convex hull), corners
// counter-clockwise, and an upper bound of how far a point of the rectangle lies from the ring's
// polygon, at most 0.25 m above the true largest distance. maxDistanceM is infinite for fewer
// than 3 distinct points.
struct EnclosingRectangle {
    std::array<Vec2, 4> corners{};
    double maxDistanceM = 0;
};
EnclosingRectangle enclosingRectangle(std::span<const Vec2> ring);

// Heights of building i as the mesh places it: the ground (its ground height, else the
// terrain at its centroid; without terrain, below its LoD2 roof by its height; else 0), the
// top (ground + height), and the top of its walls (with LoD2 roofs drawn: the lowest roof
// point, else the top).
struct BuildingLevels {
    double groundM = 0, roofM = 0, wallTopM = 0;
};
BuildingLevels buildingLevels(const CityModel& city, size_t i, bool lod2Roofs = true);

// A planar 3D ring (a LoD2 roof surface) triangulated in its own plane (the dominant axis of
// its Newell normal dropped): indices into the ring, three per triangle, and the unit normal
// turned upwards. No indices for a degenerate ring.
struct PlanarTriangles {
    std::vector<uint32_t> indices;
    Vec3 normal{0, 0, 1};
};
PlanarTriangles triangulatePlanarRing(std::span<const Vec3> ring);

// Colours (RGBA, R in the low byte) the mesh uses, for legends and tests.
uint32_t buildingWallColor(BuildingUse use);
uint32_t buildingRoofColor(BuildingUse use);
uint32_t roadColor(RoadClass roadClass);

} // namespace ct
