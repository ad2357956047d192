#pragma once
// Building archetypes by use and construction year (assets/energy/typology.csv): German
// residential classes after TABULA / IWU "Deutsche Wohngebäudetypologie" and non-residential
// uses with typical values. Where every number comes from: assets/energy/README.md.
#include "city/CityModel.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace ct::energy {

enum class BuildingType : uint8_t { Any, Detached, Terraced, Apartment };
const char* toString(BuildingType t);

// Documented rule for residential buildings (Af-independent, from the footprint):
//   apartment: storeys ≥ 4, or storeys ≥ 3 with footprint ≥ 250 m², or gross floor area
//              (footprint × storeys) ≥ 600 m²  (TABULA MFH/AB: more than two dwellings);
//   terraced:  otherwise, if at least 15 % of the wall area is shared with neighbours;
//   detached:  otherwise (TABULA SFH).
// Storeys ≤ 0 count as 1.
BuildingType classifyResidential(double storeys, double footprintM2, double sharedWallShare);

struct Archetype {
    std::string id;
    BuildingUse use = BuildingUse::Residential;
    BuildingType type = BuildingType::Any;
    int yearFrom = 0, yearTo = 9999;                  // inclusive
    double uWall = 0, uRoof = 0, uFloor = 0, uWindow = 0; // W/m²K
    double bFloor = 0.5;                              // temperature factor ground floor / cellar ceiling
    double thermalBridge = 0;                         // ΔU on the whole envelope, W/m²K
    double windowShare = 0;                           // of the gross exposed wall
    double gWindow = 0.6;                             // total solar energy transmittance
    double airChangeH = 0.6;                          // 1/h on 2.5 m · Af
    double heatRecovery = 0;                          // 0…1, effective
    double internalGainsWm2 = 3;                      // mean, per Af
    double setHeatC = 20, setCoolC = 26;
    bool cooled = false;
    double heatCapacityJm2K = 165000;                 // κ
    double demandRefKWhm2a = NAN;                     // published reference (NaN: none)
    double demandMinKWhm2a = NAN, demandMaxKWhm2a = NAN; // accepted range (NaN: none)
    std::string source;
};

struct MatchResult {
    const Archetype* archetype = nullptr;
    bool yearDefaulted = false; // year unknown (0): the default year was used
    bool useDefaulted = false;  // use Unknown: residential was used
};

class Typology {
public:
    // Defaults for unknown inputs: the 1969–1978 class (a project choice among the post-war
    // classes that hold most of the German stock) and residential use (the most common use).
    static constexpr int kDefaultYear = 1975;
    static constexpr BuildingUse kDefaultUse = BuildingUse::Residential;

    // Reads the CSV; InputError naming file:line for a missing column, a bad number, an unknown
    // use or building type, year_from > year_to, or values out of their physical range.
    static Typology load(const std::filesystem::path& csv);
    // assets/energy/typology.csv of the source tree.
    static Typology loadDefault();

    const std::vector<Archetype>& archetypes() const { return rows; }

    // The row for a building: same use (Unknown → residential), year within [from, to]
    // (0 → kDefaultYear), and for residential the type from classifyResidential() when a
    // row of that type exists, else the `any` row. Years outside every class take the nearest
    // class. Throws InputError when the table has no row at all for the use.
    MatchResult match(BuildingUse use, int yearBuilt, double storeys, double footprintM2,
                      double sharedWallShare = 0) const;

private:
    std::vector<Archetype> rows;
};

} // namespace ct::energy
