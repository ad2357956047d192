#include "sim/mobility/Demand.h"

#include <algorithm>

namespace ct::mobility {

const char* toString(Mode m) {
    switch (m) {
    case Mode::Car: return "car";
    case Mode::Bicycle: return "bicycle";
    case Mode::Walk: return "walk";
    case Mode::Bus: return "bus";
    }
    return "?";
}

const char* toString(CarFollowing m) {
    switch (m) {
    case CarFollowing::Krauss: return "Krauss";
    case CarFollowing::IDM: return "IDM";
    }
    return "?";
}

// SUMO 1.15's vClass defaults (as reported by SUMO 1.15 through TraCI); the struct's own
// initialisers are the passenger values. Exception: SUMO gives bicycles and pedestrians a
// technical maxSpeed (13.89, 10.44 m/s) and caps them by a separate desired speed; this model
// has no such cap, so their maxSpeed here is the desired speed (20 km/h, 5 km/h).
VehicleType VehicleType::defaults(VClass c) {
    VehicleType t;
    t.vclass = c;
    switch (c) {
    case VClass::Passenger:
    case VClass::Count: t.vclass = VClass::Passenger; break;
    case VClass::Truck:
        t.id = "DEFAULT_TRUCKTYPE";
        t.lengthM = 7.1f;
        t.accel = 1.3f;
        t.decel = 4.0f;
        t.emergencyDecel = 7.0f;
        t.maxSpeedMps = 36.11f; // 130 km/h
        t.speedDev = 0.05f;
        break;
    case VClass::Bus:
        t.id = "DEFAULT_BUSTYPE";
        t.lengthM = 12.0f;
        t.accel = 1.2f;
        t.decel = 4.0f;
        t.emergencyDecel = 7.0f;
        t.maxSpeedMps = 27.78f;
        t.speedDev = 0.0f;
        break;
    case VClass::Bicycle:
        t.id = "DEFAULT_BIKETYPE";
        t.lengthM = 1.6f;
        t.minGapM = 0.5f;
        t.accel = 1.2f;
        t.decel = 3.0f;
        t.emergencyDecel = 7.0f;
        t.maxSpeedMps = 5.56f;
        t.speedDev = 0.1f;
        break;
    case VClass::Pedestrian:
        t.id = "DEFAULT_PEDTYPE";
        t.lengthM = 0.215f;
        t.minGapM = 0.25f;
        t.accel = 1.5f;
        t.decel = 2.0f;
        t.emergencyDecel = 5.0f;
        t.maxSpeedMps = 1.39f;
        break;
    }
    return t;
}

void SkipReport::add(std::string reason) {
    ++count;
    if (reasons.size() < 20) reasons.push_back(std::move(reason));
}

std::optional<uint32_t> Demand::findType(std::string_view id) const {
    for (uint32_t i = 0; i < types.size(); ++i)
        if (types[i].id == id) return i;
    return std::nullopt;
}

void Demand::sortTrips() {
    std::stable_sort(trips.begin(), trips.end(), [](const Trip& a, const Trip& b) {
        if (a.departS != b.departS) return a.departS < b.departS;
        return a.id < b.id;
    });
}

} // namespace ct::mobility
