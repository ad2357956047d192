#pragma once
// CityGML 1.0/2.0 buildings (LoD1/LoD2, e.g. the NRW state-wide LoD2 model).
// GDAL's GML driver sees only the first geometry of a building (the terrain intersection
// curves in NRW files; the solid is xlinked), so footprints and roofs are read here with
// pugixml. Counts agree with GDAL's feature count (tests/test_real_data.cpp).
#include "core/Geo.h"
#include "core/Geometry.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ct::gis {

struct CityGmlPolygon {
    std::vector<std::vector<Vec3>> rings; // outer then holes, no closing duplicate
};

struct CityGmlBuilding {
    std::string id;                    // gml:id
    std::string function;              // bldg:function (ALKIS code in NRW, e.g. 31001_1000)
    std::string roofType;              // bldg:roofType code
    std::optional<double> measuredHeight;
    std::optional<int> storeys;        // storeysAboveGround
    std::optional<int> yearOfConstruction;
    std::vector<CityGmlPolygon> ground; // footprint surfaces (GroundSurface, or lowest LoD1 faces)
    std::vector<CityGmlPolygon> roofs;  // RoofSurface polygons (LoD2)
    int parts = 0;                      // BuildingPart count
};

struct CityGmlFile {
    Crs crs; // from srsName; empty if not recognised
    std::string srsName;
    std::vector<CityGmlBuilding> buildings;
};

CityGmlFile readCityGml(const std::filesystem::path& path);

// srsName (EPSG URNs, AdV "urn:adv:crs:ETRS89_UTM32*...") -> CRS; empty if unknown.
Crs crsFromSrsName(const std::string& srsName);

} // namespace ct::gis
