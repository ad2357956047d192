#pragma once
// Reading raster DEMs into a float grid in the working CRS.
#include "core/Geo.h"

#include <filesystem>
#include <vector>

namespace ct::gis {

// A north-up grid: row 0 is the northern row. Cell (col, row) covers
// [originX + col*cellX, originX + (col+1)*cellX] × [originY - (row+1)*cellY, originY - row*cellY].
struct RasterGrid {
    int width = 0, height = 0;
    double originX = 0, originY = 0; // top-left corner, in `crs`
    double cellX = 0, cellY = 0;     // positive sizes, metres in a projected CRS
    std::vector<float> values;       // row-major, NaN where nodata
    Crs crs;
    size_t nodataCells = 0;

    float at(int col, int row) const { return values[static_cast<size_t>(row) * width + col]; }
};

struct RasterInfo {
    int width = 0, height = 0, bands = 0;
    double cellX = 0, cellY = 0;
    Crs crs;           // empty if the file has none
    std::string driver;
    double bounds[4] = {0, 0, 0, 0}; // minX, minY, maxX, maxY in the file's CRS
};

// Size, CRS and bounds of one raster without reading its pixels.
RasterInfo rasterInfo(const std::filesystem::path& path);

// Reads one or more tiles (mosaicked) of band 1, reprojected into `working` when the source
// CRS differs (bilinear). Files without a CRS take `assumed`, else InputError.
RasterGrid readRaster(const std::vector<std::filesystem::path>& paths, const Crs* assumed,
                      const Crs& working);

} // namespace ct::gis
