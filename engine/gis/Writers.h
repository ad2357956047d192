#pragma once
// Writing results as GIS files QGIS opens with the right georeference, and CSV.
#include "core/Geo.h"
#include "core/Geometry.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

class GDALDataset;
class OGRLayer;
class OGRGeometry;

namespace ct::gis {

// Float32 GeoTIFF (DEFLATE), north-up; `values` row-major with row 0 at the top (north).
// NaN is written as nodata.
void writeGeoTiff(const std::filesystem::path& path, const std::vector<float>& values, int width,
                  int height, double originX, double originY, double cellX, double cellY,
                  const Crs& crs);

enum class FieldType { Integer, Real, String };
struct FieldDef {
    std::string name;
    FieldType type;
};
using FieldValue = std::variant<std::monostate, int64_t, double, std::string>;

// One layer of a new GeoPackage (the file is replaced). Coordinates are world (CRS) units;
// an empty CRS writes a local metric one (x/y in metres without georeference).
class GpkgWriter {
public:
    enum class Geometry { Polygon, LineString, Point };
    GpkgWriter(const std::filesystem::path& path, const std::string& layerName, Geometry type,
               const Crs& crs, const std::vector<FieldDef>& fields);
    ~GpkgWriter();
    void addPolygon(const std::vector<std::vector<Vec2>>& rings, const std::vector<FieldValue>& values);
    void addLine(const std::vector<Vec2>& line, const std::vector<FieldValue>& values);
    void addPoint(const Vec2& p, const std::vector<FieldValue>& values);
    void close();

private:
    void add(OGRGeometry& g, const std::vector<FieldValue>& values);
    std::filesystem::path path;
    GDALDataset* ds = nullptr;
    OGRLayer* layer = nullptr;
    size_t pending = 0;
};

// CSV with RFC 4180 quoting; numbers written with full precision.
class CsvWriter {
public:
    CsvWriter(const std::filesystem::path& path, const std::vector<std::string>& header);
    CsvWriter& operator<<(const FieldValue& v);
    void endRow();

private:
    std::ofstream out;
    size_t column = 0;
};

} // namespace ct::gis
