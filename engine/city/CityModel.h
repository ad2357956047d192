#pragma once
// The city in one local metric frame (x east, y north, z up, metres): terrain, buildings,
// road graph, water and land use, plus what the import skipped and why.
#include "core/Geo.h"
#include "core/Geometry.h"
#include "core/Ids.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace ct {

// Height grid, north-up (row 0 = north). Cell centres at
// (originX + (c+0.5)*cellSize, originY - (r+0.5)*cellSize) in local coordinates.
struct Terrain {
    int width = 0, height = 0;
    double originX = 0, originY = 0; // local coordinates of the top-left corner
    double cellSize = 0;             // metres (square cells)
    std::vector<float> heightM;      // NaN = nodata
    size_t nodataCells = 0;

    bool empty() const { return width == 0; }
    float at(int c, int r) const { return heightM[static_cast<size_t>(r) * width + c]; }
    // Bilinear height at a local point; NaN outside the grid or next to nodata.
    float heightAt(const Vec2& p) const;
    Box2 bounds() const;
};

// Columnar attribute table: the source attributes each feature came with.
struct AttributeTable {
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> columns; // columns[k][row]

    int column(const std::string& name) const;
    // Appends a row; `values` pairs are (name, value), unknown names add a column.
    void addRow(const std::vector<std::pair<std::string, std::string>>& values, size_t row);
};

enum class BuildingUse : uint8_t {
    Residential, Mixed, Commercial, Industrial, Public, Religious, Agricultural, Garage, Other, Unknown
};
const char* toString(BuildingUse use);
// OSM building=*, free words ("residential", "Wohnhaus") and ALKIS function codes (31001_1000).
BuildingUse parseBuildingUse(const std::string& value);

enum class HeightSource : uint8_t { Attribute, Levels, Default };
const char* toString(HeightSource s);

struct Buildings {
    PolygonSet footprints;             // local frame; one polygon per building part
    std::vector<uint32_t> partStart{0}; // building i owns footprints [partStart[i], partStart[i+1])
    std::vector<std::string> sourceId;
    std::vector<std::string> name;
    std::vector<float> heightM;        // above ground
    std::vector<float> groundM;        // terrain under the footprint (lowest), NaN without terrain
    std::vector<uint16_t> levels;      // 0 = unknown
    std::vector<BuildingUse> use;
    std::vector<int16_t> yearBuilt;    // 0 = unknown
    std::vector<HeightSource> heightSource;
    AttributeTable attributes;
    // LoD2 roof surfaces where imported: roofPolygons as 3D rings (local x, y; absolute z).
    std::vector<uint32_t> roofStart{0}; // building i owns roofs [roofStart[i], roofStart[i+1])
    std::vector<uint32_t> roofRingStart{0};
    std::vector<Vec3> roofPoints;

    size_t size() const { return sourceId.size(); }
    double footprintArea(size_t i) const;
    Vec2 centroid(size_t i) const;
};

enum class RoadClass : uint8_t {
    Motorway, Trunk, Primary, Secondary, Tertiary, Unclassified, Residential, LivingStreet,
    Service, Track, Cycleway, Footway, Path, Pedestrian, Steps, Other
};
const char* toString(RoadClass c);

// Directed road graph. Every way is split at junctions (vertices shared with other ways on
// the same level); a two-way street becomes two edges, each other's `reverse`.
struct RoadNetwork {
    std::vector<Vec2> nodePos;
    std::vector<NodeId> from, to;
    std::vector<uint32_t> shapeStart{0}; // edge e's polyline: shapePoints[shapeStart[e]..[e+1])
    std::vector<Vec2> shapePoints;
    std::vector<float> lengthM, speedMps;
    std::vector<uint8_t> lanes;          // in this edge's direction
    std::vector<RoadClass> roadClass;
    std::vector<int8_t> layer;
    std::vector<uint8_t> flags;          // Bridge | Tunnel | Roundabout
    std::vector<EdgeId> reverse;         // invalid for one-way
    std::vector<uint32_t> way;           // index into wayId/wayName
    std::vector<std::string> wayId, wayName;
    std::vector<uint32_t> outStart;      // CSR: edges leaving node n: outEdges[outStart[n]..]
    std::vector<EdgeId> outEdges;

    enum Flag : uint8_t { Bridge = 1, Tunnel = 2, Roundabout = 4 };
    size_t nodeCount() const { return nodePos.size(); }
    size_t edgeCount() const { return from.size(); }
    std::span<const Vec2> shape(EdgeId e) const {
        return {shapePoints.data() + shapeStart[e.value], shapeStart[e.value + 1] - shapeStart[e.value]};
    }
    std::span<const EdgeId> outgoing(NodeId n) const {
        return {outEdges.data() + outStart[n.value], outStart[n.value + 1] - outStart[n.value]};
    }
    void buildAdjacency();
    double totalLengthKm() const; // street length: two-way streets counted once
};

struct Water {
    PolygonSet areas;
    std::vector<std::string> areaKind, areaName;  // river, lake, pond, reservoir...
    std::vector<Vec2> linePoints;                 // waterway centrelines
    std::vector<uint32_t> lineStart{0};
    std::vector<std::string> lineKind, lineName;  // river, stream, canal, ditch, drain
    std::vector<float> lineWidthM;
    size_t lineCount() const { return lineKind.size(); }
};

struct LandUseClassInfo {
    const char* name;
    float imperviousness; // 0..1 sealed share
    float manningN;       // s/m^(1/3)
};
// The documented table (docs/city-model.md); unknown classes map to "other".
const LandUseClassInfo& landUseClass(const std::string& name);
const std::vector<LandUseClassInfo>& landUseTable();

struct LandUse {
    PolygonSet areas;
    std::vector<std::string> className; // normalised class (a row of landUseTable())
    std::vector<std::string> sourceClass;
    std::vector<float> imperviousness, manningN;
    size_t size() const { return className.size(); }
};

// What the import did with each layer: read, kept, and every skipped feature with its reason.
struct LayerReport {
    std::string kind;   // buildings, roads, water, landuse, terrain
    std::string source; // file path
    std::string layer;  // layer name
    std::string crs;
    size_t read = 0, imported = 0;
    std::map<std::string, size_t> skippedByReason;
    std::map<std::string, size_t> defaultsUsed; // e.g. "height from levels x 3 m"
    size_t skipped() const {
        size_t n = 0;
        for (auto& [_, c] : skippedByReason) n += c;
        return n;
    }
};

struct Skip {
    std::string kind, layer, featureId, reason;
};

struct ImportReport {
    std::vector<LayerReport> layers;
    std::vector<Skip> skips; // every skipped feature (listing capped by the reader of it)
    std::vector<std::string> warnings;
};

struct CityModel {
    LocalFrame frame;
    Terrain terrain;
    Buildings buildings;
    RoadNetwork roads;
    Water water;
    LandUse landuse;
    ImportReport report;

    Box2 bounds() const; // of everything, local frame
};

} // namespace ct
