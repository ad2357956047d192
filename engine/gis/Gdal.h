#pragma once
// GDAL set-up and opening files with clear errors.
#include <filesystem>
#include <gdal_priv.h>
#include <string>

namespace ct::gis {

// Registers drivers once and routes GDAL's messages to our log (quietly).
void initGdal();

// The path GDAL should open: compressed files go through /vsigzip/ or /vsizip/.
std::string gdalPath(const std::filesystem::path& path);

// The last message GDAL reported, for error texts ("" if none).
std::string lastGdalError();

// Opens a dataset for reading; `flags` is GDAL_OF_VECTOR or GDAL_OF_RASTER. Throws InputError
// for a missing file, an unknown format or a corrupt file, naming the file.
GDALDatasetUniquePtr openDataset(const std::filesystem::path& path, unsigned flags,
                                 const char* const* openOptions = nullptr);

// True if the file is CityGML (read by our own reader, see CityGml.h).
bool isCityGml(const std::filesystem::path& path);

} // namespace ct::gis
