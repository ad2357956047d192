#pragma once
// Import pipeline: GIS files -> CityModel in one local metric frame.
#include "city/CityModel.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ct {

// One vector source: a file, optionally a layer name and an OGR attribute filter.
struct LayerSource {
    std::filesystem::path path;
    std::string layer; // empty: chosen automatically (see docs/city-model.md)
    std::string where; // OGR SQL attribute filter, e.g. "building IS NOT NULL"
};

struct CityConfig {
    std::vector<LayerSource> buildings, roads, water, landuse; // each: one or more sources (tiles)
    std::vector<std::filesystem::path> terrain; // one or more DEM tiles (mosaicked)
    std::filesystem::path osm;                  // one OSM file for every vector layer
    std::string crs;                            // working CRS; empty: UTM zone of the data
    std::string assumeCrs;                      // CRS for sources that carry none
    // Role -> source attribute name, overriding the default candidates (see AttributeRoles).
    std::map<std::string, std::string> attributes;
    double storeyHeightM = 3.0;    // height = levels × this, when no height attribute
    double defaultHeightM = 9.0;   // neither height nor levels
    double maxHeightM = 600.0;     // taller is treated as an error in the data

    bool empty() const {
        return buildings.empty() && roads.empty() && landuse.empty() && water.empty() && terrain.empty() &&
               osm.empty();
    }
    std::vector<std::filesystem::path> files() const; // every input file, for hashes/cache keys
};

// The attribute roles a scenario can map, each with the names tried by default.
const std::map<std::string, std::vector<std::string>>& attributeRoles();

struct ImportOptions {
    std::filesystem::path cacheDir; // empty: no cache
    bool progress = true;
};

// A city config from loose GIS files, the kind of each guessed: CityGML and polygon layers
// are buildings, lines roads, a layer's name decides where it says what it is (building,
// strasse, gewaesser, nutzung...), an OSM file feeds every layer, rasters are terrain tiles.
// Throws InputError naming a file that is missing, empty or not GIS data.
CityConfig cityConfigFromFiles(const std::vector<std::filesystem::path>& files, const std::string& assumeCrs = {});

// Imports the city; throws InputError for unusable input (missing file, no CRS...), counts and
// skips bad features. With a cache dir, a second import of unchanged files loads the cache.
CityModel importCity(const CityConfig& config, const ImportOptions& options = {});

// Whether the last importCity() call in this thread was served from the cache.
bool lastImportFromCache();

} // namespace ct
