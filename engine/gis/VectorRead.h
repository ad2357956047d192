#pragma once
// Reading vector layers through OGR: layer choice, CRS, attributes and plain geometry.
#include "core/Geo.h"
#include "core/Geometry.h"

#include <filesystem>
#include <gdal_priv.h>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

class OGRFeature;
class OGRGeometry;
class OGRLayer;

namespace ct::gis {

class VectorFile {
public:
    explicit VectorFile(const std::filesystem::path& path);
    const std::filesystem::path& path() const { return filePath; }
    std::string driverName() const;
    bool isOsm() const { return driverName() == "OSM"; }
    int layerCount() const;
    std::vector<std::string> layerNames() const;
    // Throws InputError listing the available layers if `name` does not exist.
    OGRLayer& layer(const std::string& name) const;
    OGRLayer& layer(int index) const;

private:
    std::filesystem::path filePath;
    GDALDatasetUniquePtr ds;
};

// The CRS of a layer: its own, else `assumed`, else an InputError that says how to set one.
Crs layerCrs(OGRLayer& layer, const std::string& where, const Crs* assumed);

// Extent of a layer in `to` coordinates (empty box for an empty layer).
Box2 layerExtent(OGRLayer& layer, const Crs& layerCrs, const Crs& to);

// Attribute access for one feature. OSM's `other_tags` (hstore text) is expanded on demand,
// so "building:levels" is found whether it is a field or a tag.
class FeatureAttributes {
public:
    explicit FeatureAttributes(const OGRFeature& feature) : feature(feature) {}
    std::optional<std::string> get(std::string_view name) const;
    // First of several candidate names that has a non-empty value.
    std::optional<std::string> first(const std::vector<std::string>& names) const;

private:
    const OGRFeature& feature;
    mutable bool tagsParsed = false;
    mutable std::unordered_map<std::string, std::string> tags;
};

// Parses OSM hstore text: "key"=>"value","key2"=>"value2".
std::unordered_map<std::string, std::string> parseHstore(std::string_view text);

using Ring = std::vector<Vec2>;
using Rings = std::vector<Ring>; // outer first, then holes

// Polygons of a geometry (Polygon, MultiPolygon, curves linearised, z dropped), with the
// closing vertex removed. Returns a problem text for unusable input (unclosed ring, not a
// polygon), else nullopt.
std::optional<std::string> extractPolygons(const OGRGeometry* geometry, std::vector<Rings>& out);
// Lines of a geometry (LineString, MultiLineString, curves linearised, z dropped).
std::optional<std::string> extractLines(const OGRGeometry* geometry, std::vector<Ring>& out);

// Reprojects rings in place and subtracts the local origin; false if a point failed.
bool toLocal(std::vector<Ring>& rings, const Reprojector& reprojector, const Vec2& origin);

// "12", "12.5 m", "12,5", "40 ft" -> metres; nullopt if no number.
std::optional<double> parseLength(std::string_view text);
// Leading integer ("1950", "1950-05", "~1900", "C19" not matched) -> value.
std::optional<int> parseYear(std::string_view text);

} // namespace ct::gis
