#pragma once
// Where the sun is: the NREL Solar Position Algorithm (Reda & Andreas 2004, NREL/TP-560-34302),
// accurate to ±0.0003° from −2000 to 6000, with sunrise, transit and sunset.
#include <optional>

namespace ct::energy {

struct SpaInput {
    int year = 2003, month = 1, day = 1, hour = 0, minute = 0;
    double second = 0;
    double timezoneH = 0;        // local standard time − UTC, hours (+1 for CET)
    double deltaT = 69;          // TT − UT1, seconds (69 s around 2020)
    double deltaUt1 = 0;         // UT1 − UTC, seconds
    double latitudeDeg = 0;      // north positive
    double longitudeDeg = 0;     // east positive
    double elevationM = 0;
    double pressureMbar = 1013.25;
    double temperatureC = 15;
    double atmosphericRefractionDeg = 0.5667; // at sunrise and sunset
};

struct SolarAngles {
    double zenithDeg = 90;          // topocentric, refraction corrected
    double azimuthDeg = 180;        // from north, eastward (navigators' convention)
    double elevationDeg() const { return 90 - zenithDeg; }
};

SolarAngles solarPosition(const SpaInput& input);

// Every intermediate quantity of the SPA, named as in Reda & Andreas (2004) section 3; for
// validation against the paper's worked example (its Table A5.1) and for diagnostics.
struct SpaDetail {
    double jd = 0, jde = 0, jc = 0, jce = 0, jme = 0; // Julian day, ephemeris day/century/millennium
    double earthLongitudeDeg = 0;                     // L, heliocentric
    double earthLatitudeDeg = 0;                      // B, heliocentric
    double earthRadiusAu = 0;                         // R
    double geocentricLongitudeDeg = 0, geocentricLatitudeDeg = 0;                   // Θ, β
    double nutationLongitudeDeg = 0, nutationObliquityDeg = 0;                      // Δψ, Δε
    double trueObliquityDeg = 0;                                                    // ε
    double aberrationDeg = 0;                                                       // Δτ
    double apparentLongitudeDeg = 0;                                                // λ
    double apparentSiderealTimeDeg = 0;                                             // ν
    double rightAscensionDeg = 0, declinationDeg = 0;                               // α, δ (geocentric)
    double hourAngleDeg = 0;                                                        // H (observer local)
    double topoRightAscensionDeg = 0, topoDeclinationDeg = 0, topoHourAngleDeg = 0; // α', δ', H'
    double elevationNoRefractionDeg = 0;                                            // e0
    double refractionDeg = 0;                                                       // Δe
    double elevationDeg = 0;                                                        // e = e0 + Δe
    SolarAngles angles;                                                             // θ and Φ
};
SpaDetail solarPositionDetail(const SpaInput& input);

// Local standard time of sunrise, transit and sunset in fractional hours (0–24) on the
// input's date (time of day ignored); sunrise/sunset are nullopt in polar day or night.
struct SunTimes {
    std::optional<double> sunriseH, sunsetH;
    double transitH = 12;
};
SunTimes sunTimes(const SpaInput& input);

} // namespace ct::energy
