#include "gis/Gdal.h"

#include "core/Error.h"

#include <cpl_error.h>
#include <fstream>
#include <mutex>
#include <spdlog/spdlog.h>

namespace ct::gis {

namespace fs = std::filesystem;

static void CPL_STDCALL logGdalMessage(CPLErr level, CPLErrorNum, const char* message) {
    if (level >= CE_Failure) spdlog::debug("GDAL: {}", message);
    else if (level == CE_Warning) spdlog::debug("GDAL warning: {}", message);
}

void initGdal() {
    static std::once_flag once;
    std::call_once(once, [] {
        GDALAllRegister();
        CPLSetErrorHandler(logGdalMessage);
        // Never write sidecar files (.gfs, .aux.xml) next to the user's data.
        CPLSetConfigOption("GDAL_PAM_ENABLED", "NO");
        CPLSetConfigOption("OGR_SQLITE_SYNCHRONOUS", "OFF");
    });
}

std::string lastGdalError() {
    const char* msg = CPLGetLastErrorMsg();
    return msg ? msg : "";
}

std::string gdalPath(const fs::path& path) {
    std::string p = path.string();
    if (p.rfind("/vsi", 0) == 0) return p;
    auto ext = path.extension().string();
    if (ext == ".gz" && path.stem().extension() != ".tar") return "/vsigzip/" + p;
    // SRTM .hgt.zip is read directly by its driver; other zips are listed through /vsizip/.
    if (ext == ".zip" && path.stem().extension() != ".hgt") return "/vsizip/" + p;
    return p;
}

GDALDatasetUniquePtr openDataset(const fs::path& path, unsigned flags,
                                 const char* const* openOptions) {
    initGdal();
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw InputError("file not found", path.string(),
                         "check the path; paths in a scenario are relative to the YAML file");
    if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == 0)
        throw InputError("file is empty", path.string());
    CPLErrorReset();
    GDALDatasetUniquePtr ds(GDALDataset::Open(gdalPath(path).c_str(), flags | GDAL_OF_READONLY,
                                              nullptr, openOptions, nullptr));
    if (!ds) {
        std::string why = lastGdalError();
        bool vector = flags & GDAL_OF_VECTOR;
        throw InputError(
            std::string("cannot open as ") + (vector ? "vector" : "raster") + " data" +
                (why.empty() ? " (unknown format or corrupt file)" : ": " + why),
            path.string(),
            vector ? "use a GIS vector format GDAL reads: GeoPackage, GeoJSON, Shapefile, "
                     "FlatGeobuf, OSM XML/PBF, CityGML"
                   : "use a raster GDAL reads: GeoTIFF, ASCII grid (.asc), XYZ, SRTM .hgt");
    }
    return ds;
}

bool isCityGml(const fs::path& path) {
    auto ext = path.extension().string();
    if (ext != ".gml" && ext != ".xml") return false;
    std::ifstream in(path, std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    return head.find("opengis.net/citygml") != std::string::npos;
}

} // namespace ct::gis
