#include "ui/Traffic.h"

#include "city/CityMesh.h"
#include "sim/mobility/CityNetwork.h"
#include "sim/mobility/Demand.h"
#include "sim/mobility/EdgeIndex.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ct::ui {

using mobility::VClass;

namespace {
constexpr double kSearchM = 30;          // a vehicle is on the road it is nearest to within this
constexpr double kDefaultLimitMps = 50 / 3.6;

// Where p lies along a polyline, 0 at its start and 1 at its end (by arc length).
double fractionAlong(const Vec2& p, std::span<const Vec2> line) {
    double total = 0, bestD = std::numeric_limits<double>::infinity(), bestArc = 0;
    for (size_t i = 1; i < line.size(); ++i) {
        Vec2 d = line[i] - line[i - 1];
        double len2 = d.squaredNorm(), len = std::sqrt(len2);
        double t = len2 > 0 ? std::clamp((p - line[i - 1]).dot(d) / len2, 0.0, 1.0) : 0.0;
        double dist = (p - (line[i - 1] + t * d)).norm();
        if (dist < bestD) bestD = dist, bestArc = total + t * len;
        total += len;
    }
    return total > 0 ? bestArc / total : 0;
}
} // namespace

bool mobilityOnCityNetwork(const Scenario& scenario) {
    for (const ModuleBlock& m : scenario.modules) {
        if (m.name != "mobility") continue;
        const YAML::Node& s = m.spec;
        if (!s || s.IsNull() || !s.IsMap()) return true;
        if (s["sumo_config"]) return false;
        if (auto n = s["network"]) return n.IsScalar() && n.Scalar() == "city";
        return true;
    }
    return false;
}

VehicleShape vehicleShape(VClass vclass) {
    switch (vclass) {
    case VClass::Bicycle: return {1.8f, 0.6f, 1.6f};
    case VClass::Truck: return {7.1f, 2.4f, 3.2f};
    case VClass::Bus: return {12.0f, 2.5f, 3.4f};
    default: return {4.5f, 1.8f, 1.5f};
    }
}

uint32_t vehicleColor(double speedMps, double limitMps) {
    double ratio = limitMps > 0 ? speedMps / limitMps : 1.0;
    return trafficScale().colorOf(float(ratio));
}

CityTraffic::CityTraffic(const CityModel& city)
    : city_(city), net_(std::make_unique<mobility::Network>(mobility::buildCityNetwork(city.roads))),
      index_(std::make_unique<mobility::EdgeIndex>(*net_)) {}

CityTraffic::~CityTraffic() = default;

render::ValueOverlay CityTraffic::roadValues(const std::vector<float>& edgeSpeedRatio) const {
    std::vector<float> perRoad(city_.roads.edgeCount(), std::numeric_limits<float>::quiet_NaN());
    for (size_t m = 0; m < edgeSpeedRatio.size() && m < net_->edges.size(); ++m) {
        uint32_t road = net_->edges[m].sourceEdge;
        if (road < perRoad.size()) perRoad[road] = edgeSpeedRatio[m];
    }
    return roadRatioValues(perRoad, city_.roads);
}

double CityTraffic::limitOn(uint32_t mobilityEdge, VClass vclass) const {
    double limit = mobilityEdge < net_->edges.size() ? net_->edges[mobilityEdge].speedMps : kDefaultLimitMps;
    if (vclass == VClass::Bicycle) limit = std::min(limit, double(mobility::VehicleType::defaults(VClass::Bicycle).maxSpeedMps));
    return limit;
}

uint32_t CityTraffic::edgeAt(const Vec2& pos, VClass vclass) const {
    return index_->nearest(pos, mobility::classBit(vclass), kSearchM).value_or(mobility::kNone);
}

double CityTraffic::limitAt(const Vec2& pos, VClass vclass) const { return limitOn(edgeAt(pos, vclass), vclass); }

double CityTraffic::roadZ(const Vec2& pos, uint32_t mobilityEdge) const {
    const float lift = CityMeshOptions{}.roadLift;
    auto ground = [&](const Vec2& p) {
        float z = city_.terrain.empty() ? NAN : city_.terrain.heightAt(p);
        return std::isnan(z) ? 0.0 : double(z);
    };
    uint32_t road = mobilityEdge < net_->edges.size() ? net_->edges[mobilityEdge].sourceEdge : mobility::kNone;
    if (road < city_.roads.edgeCount() && (city_.roads.flags[road] & RoadNetwork::Bridge)) {
        // The mesh draws a bridge straight from bank to bank.
        auto shape = city_.roads.shape(EdgeId(road));
        if (shape.size() >= 2) {
            double f = fractionAlong(pos, shape);
            double z0 = ground(shape.front()), z1 = ground(shape.back());
            return z0 + (z1 - z0) * f + lift;
        }
    }
    return ground(pos) + lift;
}

render::Agent CityTraffic::agent(const Vec2& pos, float headingRad, float speedMps, VClass vclass) const {
    uint32_t e = edgeAt(pos, vclass);
    VehicleShape shape = vehicleShape(vclass);
    render::Agent a;
    a.x = float(pos.x());
    a.y = float(pos.y());
    a.z = float(roadZ(pos, e));
    a.headingRad = headingRad;
    a.length = shape.length, a.width = shape.width, a.height = shape.height;
    a.rgba = vehicleColor(speedMps, limitOn(e, vclass));
    return a;
}

std::vector<render::Agent> CityTraffic::agents(const std::vector<mobility::VehicleState>& vehicles) const {
    std::vector<render::Agent> out;
    out.reserve(vehicles.size());
    for (const auto& v : vehicles)
        if (v.vclass != VClass::Pedestrian) out.push_back(agent(v.pos, v.headingRad, v.speedMps, v.vclass));
    return out;
}

std::vector<render::Agent> CityTraffic::agents(const std::vector<VehicleTracks::Sample>& samples,
                                               const std::vector<uint8_t>& bicycle) const {
    std::vector<render::Agent> out;
    out.reserve(samples.size());
    for (const auto& s : samples) {
        VClass c = s.vehicle < bicycle.size() && bicycle[s.vehicle] ? VClass::Bicycle : VClass::Passenger;
        out.push_back(agent(Vec2(s.x, s.y), s.headingRad, s.speedMps, c));
    }
    return out;
}

} // namespace ct::ui
