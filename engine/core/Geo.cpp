#include "core/Geo.h"

#include "core/Error.h"

#include <cmath>
#include <ogr_spatialref.h>

namespace ct {

static void useGisOrder(OGRSpatialReference& srs) {
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
}

Crs Crs::fromSpatialReference(const OGRSpatialReference& srsIn) {
    OGRSpatialReference srs(srsIn);
    Crs crs;
    char* wkt = nullptr;
    const char* options[] = {"FORMAT=WKT2_2019", nullptr};
    if (srs.exportToWkt(&wkt, options) != OGRERR_NONE || !wkt)
        throw InputError("cannot express the coordinate system as WKT");
    crs.wktText = wkt;
    CPLFree(wkt);
    const char* authority = srs.GetAuthorityName(nullptr);
    const char* code = srs.GetAuthorityCode(nullptr);
    if (!authority || !code) {
        // Files often carry a WKT without the EPSG code: ask PROJ for a confident match.
        if (srs.AutoIdentifyEPSG() == OGRERR_NONE) {
            authority = srs.GetAuthorityName(nullptr);
            code = srs.GetAuthorityCode(nullptr);
        }
    }
    if (authority && code && std::string(authority) == "EPSG") crs.epsgCode = std::atoi(code);
    return crs;
}

Crs Crs::fromUserString(const std::string& text) {
    OGRSpatialReference srs;
    if (srs.SetFromUserInput(text.c_str()) != OGRERR_NONE)
        throw InputError("unknown coordinate reference system '" + text + "'", {},
                         "use an EPSG code such as EPSG:25832, or a WKT/PROJ string");
    return fromSpatialReference(srs);
}

Crs Crs::fromEpsg(int code) {
    OGRSpatialReference srs;
    if (srs.importFromEPSG(code) != OGRERR_NONE)
        throw InputError("unknown EPSG code " + std::to_string(code));
    return fromSpatialReference(srs);
}

Crs Crs::fromWkt(const std::string& wkt) {
    OGRSpatialReference srs;
    if (srs.importFromWkt(wkt.c_str()) != OGRERR_NONE)
        throw InputError("cannot read coordinate system WKT");
    return fromSpatialReference(srs);
}

std::unique_ptr<OGRSpatialReference> Crs::spatialReference() const {
    auto srs = std::make_unique<OGRSpatialReference>();
    if (epsgCode != 0) {
        srs->importFromEPSG(epsgCode);
    } else if (srs->importFromWkt(wktText.c_str()) != OGRERR_NONE) {
        throw InputError("invalid coordinate system WKT");
    }
    useGisOrder(*srs);
    return srs;
}

std::string Crs::name() const {
    if (empty()) return "(none)";
    auto srs = spatialReference();
    std::string n = srs->GetName() ? srs->GetName() : "unnamed";
    if (epsgCode) n += " (EPSG:" + std::to_string(epsgCode) + ")";
    return n;
}

bool Crs::isGeographic() const { return !empty() && spatialReference()->IsGeographic(); }
bool Crs::isProjected() const { return !empty() && spatialReference()->IsProjected(); }

bool Crs::operator==(const Crs& other) const {
    if (empty() || other.empty()) return empty() == other.empty();
    if (epsgCode && other.epsgCode) return epsgCode == other.epsgCode;
    const char* options[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", "CRITERION=EQUIVALENT",
                             nullptr};
    return spatialReference()->IsSame(other.spatialReference().get(), options);
}

Crs workingCrsFor(double lonDeg, double latDeg) {
    int zone = static_cast<int>(std::floor((lonDeg + 180.0) / 6.0)) + 1;
    zone = std::clamp(zone, 1, 60);
    if (latDeg >= 0 && zone == 32) return Crs::fromEpsg(25832);
    bool europe = latDeg >= 34 && latDeg <= 72 && zone >= 28 && zone <= 38;
    if (europe) return Crs::fromEpsg(25800 + zone);
    return Crs::fromEpsg((latDeg >= 0 ? 32600 : 32700) + zone);
}

Reprojector::Reprojector(const Crs& from, const Crs& to) {
    if (from == to) return;
    auto src = from.spatialReference();
    auto dst = to.spatialReference();
    transform.reset(OGRCreateCoordinateTransformation(src.get(), dst.get()));
    if (!transform)
        throw InputError("no transformation from " + from.name() + " to " + to.name(), {},
                         "check that PROJ's data (proj-data) is installed");
}

Reprojector::~Reprojector() = default;
Reprojector::Reprojector(Reprojector&&) noexcept = default;
Reprojector& Reprojector::operator=(Reprojector&&) noexcept = default;

bool Reprojector::apply(double* x, double* y, size_t count) const {
    if (!transform || count == 0) return true;
    return transform->Transform(count, x, y) == TRUE;
}

bool Reprojector::apply(double* x, double* y, double* z, size_t count) const {
    if (!transform || count == 0) return true;
    return transform->Transform(count, x, y, z) == TRUE;
}

Eigen::Vector2d Reprojector::apply(const Eigen::Vector2d& p) const {
    double x = p.x(), y = p.y();
    if (!apply(&x, &y, 1)) throw InputError("coordinate transformation failed");
    return {x, y};
}

} // namespace ct
