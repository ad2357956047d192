#pragma once
// Traffic detector counts on the roads (docs/mobility.md, "In the viewer"): the traffic_count
// sensors of a feed store placed on the city's traffic network as the mobility module places
// them (sim/mobility/Counts.h), each with its count at a time as an hourly flow, and the roads
// coloured by it in the viewer and in `citytwin render --color-roads-by counts`.
#include "render/Overlays.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ct {
struct CityModel;
}
namespace ct::feeds {
class SensorStore;
}

namespace ct::ui {

class CityTraffic;

struct CountedRoad {
    std::string sensor, name;   // store id of the detector; street name of its edge ("" if none)
    uint32_t mobilityEdge = 0;  // in CityTraffic::network()
    std::string edgeId;         // that edge's id (the city road edge index as text)
    double headingDeg = 0;      // direction the edge runs, first to last point (0 = east, CCW)
    double flowVehH = 0;        // vehicles × 3600 / interval length
    double beginUtc = 0, endUtc = 0; // the count's interval, s since 1970
};

struct RoadCounts {
    std::vector<CountedRoad> roads;   // one per placed detector that has a count, by sensor id
    std::vector<std::string> skipped; // why detectors were left out (at most 20 reasons) ...
    size_t skippedCount = 0;          // ... of this many
};

// Every traffic_count sensor of the store, placed on traffic.network() (its `edge` property,
// else its location, WGS84 → the city's CRS → local frame, and `heading`), with the count whose
// interval contains atUtc, else the newest count that began at or before atUtc (NaN: each
// detector's newest count). Detectors without such a count are left out; those that cannot be
// placed or read are reported in `skipped`.
RoadCounts countedRoads(const feeds::SensorStore& store, const CityTraffic& traffic, const CityModel& city,
                        double atUtc = NAN);
// The same from a store file; empty if the file does not exist.
RoadCounts countedRoads(const std::filesystem::path& storeFile, const CityTraffic& traffic, const CityModel& city,
                        double atUtc = NAN);

// Traffic map from 0 to max(600, the largest flow rounded up to 100) veh/h: green through
// yellow to red as the volume grows. Legend "Counted flow" [veh/h].
render::ColorScale countedFlowScale(double largestFlowVehH);
// Counted flow per city road edge (NaN where no detector counts) for the renderer, which draws
// a two-way street as one ribbon named by its lower edge index: the ribbon shows the SUM of
// its two directions' flows (a detector counts one direction; together they are the street's
// volume). Several detectors on the same edge count the same vehicles: the larger is taken.
render::ValueOverlay countedRoadValues(const std::vector<CountedRoad>& roads, const CityTraffic& traffic);

// The direction of travel in words, from a heading (0 = east, CCW): "eastbound",
// "north-eastbound", ... (translated).
const char* directionWord(double headingDeg);

} // namespace ct::ui
