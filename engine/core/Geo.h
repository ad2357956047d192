#pragma once
// Coordinate reference systems and the working frame.
// Every layer is transformed on import into one projected CRS (metres). Coordinates in the
// city model are local: working-CRS coordinates minus `origin`, so floats stay precise.
#include <Eigen/Core>
#include <memory>
#include <string>

class OGRSpatialReference;
class OGRCoordinateTransformation;

namespace ct {

class Crs {
public:
    Crs() = default;
    // "EPSG:25832", a WKT string, a PROJ string or an URN; throws InputError if unknown.
    static Crs fromUserString(const std::string& text);
    static Crs fromEpsg(int code);
    static Crs fromWkt(const std::string& wkt);
    static Crs fromSpatialReference(const OGRSpatialReference& srs);

    bool empty() const { return wktText.empty(); }
    const std::string& wkt() const { return wktText; }
    int epsg() const { return epsgCode; }      // 0 if none identified
    std::string name() const;                  // "ETRS89 / UTM zone 32N (EPSG:25832)"
    bool isGeographic() const;
    bool isProjected() const;
    // A fresh OGRSpatialReference with traditional GIS axis order (x = easting/longitude).
    std::unique_ptr<OGRSpatialReference> spatialReference() const;

    bool operator==(const Crs& other) const;

private:
    std::string wktText;
    int epsgCode = 0;
};

// The working CRS for data centred at (lon, lat): EPSG:25832 in UTM zone 32 north,
// else ETRS89 / UTM (258zz) in Europe, else WGS 84 / UTM (326zz north, 327zz south).
Crs workingCrsFor(double lonDeg, double latDeg);

// Transforms points between two CRSs with traditional GIS axis order (x, y) on both sides.
class Reprojector {
public:
    Reprojector(const Crs& from, const Crs& to);
    ~Reprojector();
    Reprojector(Reprojector&&) noexcept;
    Reprojector& operator=(Reprojector&&) noexcept;

    bool identity() const { return !transform; }
    // Transforms in place; returns false if any point failed.
    bool apply(double* x, double* y, size_t count) const;
    bool apply(double* x, double* y, double* z, size_t count) const;
    Eigen::Vector2d apply(const Eigen::Vector2d& p) const;

private:
    std::unique_ptr<OGRCoordinateTransformation> transform;
};

// The model's frame: working CRS plus the local origin (working-CRS coordinates).
struct LocalFrame {
    Crs crs;
    Eigen::Vector2d origin = Eigen::Vector2d::Zero();

    Eigen::Vector2d toLocal(const Eigen::Vector2d& world) const { return world - origin; }
    Eigen::Vector2d toWorld(const Eigen::Vector2d& local) const { return local + origin; }
};

} // namespace ct
