#pragma once
// Demand generated from the city: residents from residential floor area, daily trips by
// purpose (work, school, shop, leisure) to buildings of the matching use, departure times
// from a daily profile, mode choice car / bicycle / walk (bus where routes exist) by a
// multinomial logit on distance (docs/mobility.md). Deterministic for a seed.
#include "city/CityModel.h"
#include "sim/mobility/Demand.h"

namespace ct::mobility {

struct CityDemandOptions {
    double floorAreaPerResidentM2 = 45;  // German average living space per person
    double tripsPerResidentPerDay = 3.1; // MiD 2017: 3.1 trips per person and day
    double scale = 1.0;                  // multiplies the number of trips
    double fromS = 0, toS = 86400;       // only trips departing in [from, to) s after the scenario start
    double startOfDayS = 0;              // scenario start as seconds after midnight
    bool allowBus = false;
};

// Trips with fromEdge/toEdge set (routes left to the router). Edges are the nearest edges
// that allow the chosen mode; buildings without a reachable edge are skipped and counted.
Demand generateCityDemand(const CityModel& city, const Network& net, const CityDemandOptions& options,
                          uint64_t seed);

} // namespace ct::mobility
