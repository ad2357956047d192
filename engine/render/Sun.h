#pragma once
// Where the sun stands, for lighting the scene (NOAA's general solar position formulas,
// about 0.1° — enough for light and shadows; the energy model uses its own exact SPA).
#include "core/Geometry.h"
#include "core/SimClock.h"

namespace ct::render {

struct SunPosition {
    double azimuthDeg = 180;  // from north, clockwise
    double elevationDeg = 45; // above the horizon
    // Unit vector towards the sun in the local frame (x east, y north, z up).
    Vec3 direction() const;
};

SunPosition sunPosition(const Instant& when, double latDeg, double lonDeg);

} // namespace ct::render
