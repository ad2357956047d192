#include "gis/RasterRead.h"

#include "core/Error.h"
#include "gis/Gdal.h"

#include <cmath>
#include <gdal_utils.h>
#include <ogr_spatialref.h>

namespace ct::gis {

static Crs datasetCrs(GDALDataset& ds) {
    const OGRSpatialReference* srs = ds.GetSpatialRef();
    return srs ? Crs::fromSpatialReference(*srs) : Crs();
}

RasterInfo rasterInfo(const std::filesystem::path& path) {
    auto ds = openDataset(path, GDAL_OF_RASTER);
    RasterInfo info;
    info.width = ds->GetRasterXSize();
    info.height = ds->GetRasterYSize();
    info.bands = ds->GetRasterCount();
    info.driver = ds->GetDriver()->GetDescription();
    info.crs = datasetCrs(*ds);
    double gt[6];
    if (ds->GetGeoTransform(gt) == CE_None) {
        info.cellX = std::abs(gt[1]);
        info.cellY = std::abs(gt[5]);
        double x0 = gt[0], x1 = gt[0] + gt[1] * info.width;
        double y0 = gt[3], y1 = gt[3] + gt[5] * info.height;
        info.bounds[0] = std::min(x0, x1);
        info.bounds[1] = std::min(y0, y1);
        info.bounds[2] = std::max(x0, x1);
        info.bounds[3] = std::max(y0, y1);
    }
    return info;
}

RasterGrid readRaster(const std::vector<std::filesystem::path>& paths, const Crs* assumed,
                      const Crs& working) {
    if (paths.empty()) throw InputError("no terrain file given");
    std::vector<GDALDatasetUniquePtr> tiles;
    Crs sourceCrs;
    for (const auto& p : paths) {
        auto ds = openDataset(p, GDAL_OF_RASTER);
        if (ds->GetRasterCount() < 1) throw InputError("raster has no bands", p.string());
        double gt[6];
        if (ds->GetGeoTransform(gt) != CE_None)
            throw InputError("raster has no georeference (geotransform)", p.string(),
                             "use a GeoTIFF or a grid with a world file");
        if (gt[2] != 0 || gt[4] != 0)
            throw InputError("rotated rasters are not supported", p.string(),
                             "warp it north-up first: gdalwarp in.tif out.tif");
        Crs crs = datasetCrs(*ds);
        if (crs.empty()) {
            if (!assumed || assumed->empty())
                throw InputError("terrain has no coordinate system", p.string(),
                                 "set city.assume_crs (e.g. EPSG:25832) or pass --assume-crs");
            crs = *assumed;
        }
        if (!sourceCrs.empty() && !(crs == sourceCrs))
            throw InputError("terrain tiles are in different coordinate systems (" +
                                 sourceCrs.name() + " and " + crs.name() + ")",
                             p.string(), "reproject the tiles to one CRS first");
        sourceCrs = crs;
        tiles.push_back(std::move(ds));
    }

    // Several tiles become one virtual mosaic.
    GDALDatasetUniquePtr mosaic;
    GDALDataset* src = tiles.front().get();
    if (tiles.size() > 1) {
        std::vector<GDALDatasetH> handles;
        for (auto& t : tiles) handles.push_back(GDALDataset::ToHandle(t.get()));
        int err = 0;
        mosaic.reset(GDALDataset::FromHandle(GDALBuildVRT(
            "", static_cast<int>(handles.size()), handles.data(), nullptr, nullptr, &err)));
        if (!mosaic) throw InputError("cannot mosaic terrain tiles: " + lastGdalError());
        src = mosaic.get();
    }
    auto srcSrs = sourceCrs.spatialReference();
    src->SetSpatialRef(srcSrs.get()); // also gives CRS-less files the assumed one

    // Reproject when needed; cells outside the source become nodata rather than 0 m.
    GDALDatasetUniquePtr warped;
    if (!(sourceCrs == working)) {
        std::string dstWkt = working.wkt();
        const char* args[] = {"-of", "MEM", "-r", "bilinear", "-t_srs", dstWkt.c_str(),
                              "-dstnodata", "-99999", "-ot", "Float32", nullptr};
        GDALWarpAppOptions* options = GDALWarpAppOptionsNew(const_cast<char**>(args), nullptr);
        GDALDatasetH handle = GDALDataset::ToHandle(src);
        int usageError = 0;
        warped.reset(GDALDataset::FromHandle(GDALWarp("", nullptr, 1, &handle, options, &usageError)));
        GDALWarpAppOptionsFree(options);
        if (!warped) throw InputError("cannot reproject terrain: " + lastGdalError());
        src = warped.get();
    }

    RasterGrid grid;
    grid.crs = working;
    grid.width = src->GetRasterXSize();
    grid.height = src->GetRasterYSize();
    double gt[6];
    src->GetGeoTransform(gt);
    grid.cellX = std::abs(gt[1]);
    grid.cellY = std::abs(gt[5]);
    grid.originX = gt[0];
    grid.originY = gt[3];
    if (gt[5] > 0) // south-up source: GDAL returns rows bottom-up; we flip below
        grid.originY = gt[3] + gt[5] * grid.height;
    grid.values.resize(static_cast<size_t>(grid.width) * grid.height);
    GDALRasterBand* band = src->GetRasterBand(1);
    if (band->RasterIO(GF_Read, 0, 0, grid.width, grid.height, grid.values.data(), grid.width,
                       grid.height, GDT_Float32, 0, 0) != CE_None)
        throw InputError("cannot read terrain pixels: " + lastGdalError(), paths.front().string(),
                         "the file may be truncated or corrupt");
    if (gt[5] > 0)
        for (int r = 0; r < grid.height / 2; ++r)
            std::swap_ranges(grid.values.begin() + static_cast<long>(r) * grid.width,
                             grid.values.begin() + static_cast<long>(r + 1) * grid.width,
                             grid.values.begin() + static_cast<long>(grid.height - 1 - r) * grid.width);
    int hasNodata = 0;
    double nodata = band->GetNoDataValue(&hasNodata);
    for (float& v : grid.values) {
        if ((hasNodata && (v == static_cast<float>(nodata) || (std::isnan(nodata) && std::isnan(v)))) ||
            !std::isfinite(v) || v < -1000.0f || v > 9000.0f) { // beyond any land on Earth
            v = std::numeric_limits<float>::quiet_NaN();
            ++grid.nodataCells;
        }
    }
    return grid;
}

} // namespace ct::gis
