#pragma once
// What generateCityDemand knows about each trip beyond the Trip struct: its purpose, whether
// it is the outbound or the return leg, and its beeline distance. For statistics and tests.
#include "sim/mobility/CityDemand.h"

#include <vector>

namespace ct::mobility {

enum class TripPurpose : uint8_t { Work, Education, Shopping, Leisure, Other };
constexpr int kTripPurposeCount = 5;
const char* toString(TripPurpose p);

struct CityTripDetail {
    TripPurpose purpose = TripPurpose::Other;
    bool outbound = true; // false: the way back home
    double beelineKm = 0; // home to destination, building centroids
};

// As generateCityDemand; `details` (if given) gets one entry per trip, in the order of
// Demand::trips.
Demand generateCityDemand(const CityModel& city, const Network& net, const CityDemandOptions& options,
                          uint64_t seed, std::vector<CityTripDetail>* details);

} // namespace ct::mobility
