#pragma once
// What the viewer and `citytwin render` draw of a mobility run: vehicles as instanced boxes
// coloured by their speed over the speed limit, and roads coloured by the mean speed over the
// limit (trafficScale), live from the module's snapshots or replayed from a run's files
// (CityScene.h: readTrafficResults, readVehicleTracks). docs/mobility.md, "In the viewer".
#include "city/CityModel.h"
#include "render/Overlays.h"
#include "sim/Scenario.h"
#include "sim/mobility/MobilityModule.h"
#include "ui/CityScene.h"

#include <memory>
#include <vector>

namespace ct::mobility {
class EdgeIndex;
}

namespace ct::ui {

// The scenario runs the mobility module on the city's own road graph (`network: city`, the
// default): its edges are city road edges and its positions are in the city's local frame.
// False without a mobility module and for SUMO networks.
bool mobilityOnCityNetwork(const Scenario& scenario);

// Box sizes in metres: car 4.5 × 1.8 × 1.5, bicycle 1.8 × 0.6 × 1.6, truck 7.1 × 2.4 × 3.2,
// bus 12 × 2.5 × 3.4 (length, width, height).
struct VehicleShape {
    float length, width, height;
};
VehicleShape vehicleShape(mobility::VClass vclass);
// trafficScale at speed / limit: red when slow (≤ 0.3 of the limit), green at the limit.
uint32_t vehicleColor(double speedMps, double limitMps);

// The traffic network the mobility module builds from the city's roads (buildCityNetwork with
// its defaults: the same edges in the same order), kept for drawing: which city road a
// mobility edge is, and the speed limit and road height under a vehicle.
class CityTraffic {
public:
    explicit CityTraffic(const CityModel& city);
    ~CityTraffic();
    CityTraffic(const CityTraffic&) = delete;
    CityTraffic& operator=(const CityTraffic&) = delete;

    // Road colours from speed ratios per mobility edge (MobilitySnapshot::edgeSpeedRatio),
    // through Edge::sourceEdge; edges the city does not have (add_road) are left out.
    render::ValueOverlay roadValues(const std::vector<float>& edgeSpeedRatio) const;
    // One box per vehicle at its position (local frame) on the road: z is the terrain height
    // plus the mesh's road lift, on a bridge the deck's straight line from bank to bank.
    render::Agent agent(const Vec2& pos, float headingRad, float speedMps, mobility::VClass vclass) const;
    std::vector<render::Agent> agents(const std::vector<mobility::VehicleState>& vehicles) const;
    std::vector<render::Agent> agents(const std::vector<VehicleTracks::Sample>& samples, const std::vector<uint8_t>& bicycle) const;
    // Speed limit of the nearest edge the class may use (within 30 m; else 50 km/h); for
    // bicycles at most their own top speed (SUMO's bicycle default, 20 km/h).
    double limitAt(const Vec2& pos, mobility::VClass vclass) const;
    const mobility::Network& network() const { return *net_; }
    const CityModel& city() const { return city_; }

private:
    uint32_t edgeAt(const Vec2& pos, mobility::VClass vclass) const; // kNone: none near
    double limitOn(uint32_t mobilityEdge, mobility::VClass vclass) const;
    double roadZ(const Vec2& pos, uint32_t mobilityEdge) const;
    const CityModel& city_;
    std::unique_ptr<mobility::Network> net_;
    std::unique_ptr<mobility::EdgeIndex> index_;
};

} // namespace ct::ui
