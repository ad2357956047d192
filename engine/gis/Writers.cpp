#include "gis/Writers.h"

#include "core/Error.h"
#include "gis/Gdal.h"

#include <cmath>
#include <fmt/format.h>
#include <ogrsf_frmts.h>

namespace ct::gis {

namespace fs = std::filesystem;

static GDALDriver& driver(const char* name) {
    initGdal();
    GDALDriver* d = GetGDALDriverManager()->GetDriverByName(name);
    if (!d) throw InputError(std::string("GDAL driver ") + name + " is not available");
    return *d;
}

void writeGeoTiff(const fs::path& path, const std::vector<float>& values, int width, int height,
                  double originX, double originY, double cellX, double cellY, const Crs& crs) {
    const char* options[] = {"COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES", nullptr};
    GDALDatasetUniquePtr ds(driver("GTiff").Create(path.c_str(), width, height, 1, GDT_Float32,
                                                   const_cast<char**>(options)));
    if (!ds) throw InputError("cannot create GeoTIFF: " + lastGdalError(), path.string());
    double gt[6] = {originX, cellX, 0, originY, 0, -cellY};
    auto srs = crs.spatialReference();
    if (ds->SetGeoTransform(gt) != CE_None || ds->SetSpatialRef(srs.get()) != CE_None)
        throw InputError("cannot georeference GeoTIFF: " + lastGdalError(), path.string());
    auto* band = ds->GetRasterBand(1);
    [[maybe_unused]] CPLErr nodataSet = band->SetNoDataValue(std::nan(""));
    if (band->RasterIO(GF_Write, 0, 0, width, height, const_cast<float*>(values.data()), width,
                       height, GDT_Float32, 0, 0) != CE_None)
        throw InputError("cannot write GeoTIFF: " + lastGdalError(), path.string());
}

GpkgWriter::GpkgWriter(const fs::path& pathIn, const std::string& layerName, Geometry type,
                       const Crs& crs, const std::vector<FieldDef>& fields)
    : path(pathIn) {
    std::error_code ec;
    fs::remove(path, ec);
    ds = driver("GPKG").Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    if (!ds) throw InputError("cannot create GeoPackage: " + lastGdalError(), path.string());
    // No CRS: a local engineering CRS in metres rather than GeoPackage's "undefined
    // geographic" default, so GIS tools do not read the x/y as degrees.
    std::unique_ptr<OGRSpatialReference> srs;
    if (!crs.empty()) srs = crs.spatialReference();
    else {
        srs = std::make_unique<OGRSpatialReference>();
        srs->SetLocalCS("local x/y (metres, no georeference)");
        srs->SetLinearUnits(SRS_UL_METER, 1.0);
    }
    OGRwkbGeometryType gtype = type == Geometry::Polygon      ? wkbMultiPolygon
                               : type == Geometry::LineString ? wkbLineString
                                                              : wkbPoint;
    layer = ds->CreateLayer(layerName.c_str(), srs.get(), gtype, nullptr);
    if (!layer) throw InputError("cannot create layer: " + lastGdalError(), path.string());
    for (const auto& f : fields) {
        OGRFieldDefn def(f.name.c_str(), f.type == FieldType::Integer ? OFTInteger64
                                         : f.type == FieldType::Real  ? OFTReal
                                                                      : OFTString);
        if (layer->CreateField(&def) != OGRERR_NONE)
            throw InputError("cannot create field " + f.name + ": " + lastGdalError(), path.string());
    }
    if (layer->StartTransaction() != OGRERR_NONE)
        throw InputError("cannot write to GeoPackage: " + lastGdalError(), path.string());
}

GpkgWriter::~GpkgWriter() {
    try {
        close();
    } catch (...) {
    }
}

void GpkgWriter::close() {
    if (!ds) return;
    if (layer->CommitTransaction() != OGRERR_NONE)
        throw InputError("cannot finish writing: " + lastGdalError(), path.string());
    GDALClose(ds);
    ds = nullptr;
}

void GpkgWriter::add(OGRGeometry& g, const std::vector<FieldValue>& values) {
    OGRFeature feature(layer->GetLayerDefn());
    feature.SetGeometry(&g);
    for (size_t i = 0; i < values.size(); ++i) {
        int idx = static_cast<int>(i);
        std::visit(
            [&](auto&& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, int64_t>) feature.SetField(idx, static_cast<GIntBig>(v));
                else if constexpr (std::is_same_v<T, double>) {
                    if (std::isfinite(v)) feature.SetField(idx, v);
                } else if constexpr (std::is_same_v<T, std::string>) feature.SetField(idx, v.c_str());
            },
            values[i]);
    }
    if (layer->CreateFeature(&feature) != OGRERR_NONE)
        throw InputError("cannot write feature: " + lastGdalError(), path.string());
    if (++pending % 20000 == 0) { // keep transactions bounded
        if (layer->CommitTransaction() != OGRERR_NONE || layer->StartTransaction() != OGRERR_NONE)
            throw InputError("cannot write features: " + lastGdalError(), path.string());
    }
}

void GpkgWriter::addPolygon(const std::vector<std::vector<Vec2>>& rings, const std::vector<FieldValue>& values) {
    OGRPolygon poly;
    for (const auto& ring : rings) {
        OGRLinearRing r;
        for (const Vec2& p : ring) r.addPoint(p.x(), p.y());
        r.closeRings();
        poly.addRing(&r);
    }
    OGRMultiPolygon multi;
    multi.addGeometry(&poly);
    add(multi, values);
}

void GpkgWriter::addLine(const std::vector<Vec2>& line, const std::vector<FieldValue>& values) {
    OGRLineString ls;
    for (const Vec2& p : line) ls.addPoint(p.x(), p.y());
    add(ls, values);
}

void GpkgWriter::addPoint(const Vec2& p, const std::vector<FieldValue>& values) {
    OGRPoint pt(p.x(), p.y());
    add(pt, values);
}

CsvWriter::CsvWriter(const fs::path& path, const std::vector<std::string>& header) : out(path) {
    if (!out) throw InputError("cannot create CSV file", path.string());
    for (const auto& h : header) *this << h;
    endRow();
}

CsvWriter& CsvWriter::operator<<(const FieldValue& v) {
    if (column++ > 0) out << ',';
    std::visit(
        [&](auto&& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, int64_t>) out << x;
            else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(x)) out << fmt::format("{}", x);
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (x.find_first_of(",\"\n") == std::string::npos) out << x;
                else {
                    out << '"';
                    for (char c : x) out << (c == '"' ? "\"\"" : std::string(1, c));
                    out << '"';
                }
            }
        },
        v);
    return *this;
}

void CsvWriter::endRow() {
    out << '\n';
    column = 0;
}

} // namespace ct::gis
