#pragma once
// Rooftop PV potential with shading: roof planes per building (flat roofs with racked modules,
// LoD2 roof surfaces as they are), sample points on them, beam shading per sun-position bin and
// a sky view factor by ray casts against the city (Shading.h), then hourly PVWatts v5
// (Dobos 2014, NREL/TP-6A20-62641): transmitted plane-of-array irradiance, SAPM cell
// temperature, DC with a power temperature coefficient, system losses, the PVWatts inverter.
// Assumptions and their sources: docs/validation/energy.md, "Rooftop PV and shading".
#include "city/CityModel.h"
#include "sim/energy/Shading.h"
#include "sim/energy/SolarPosition.h"
#include "sim/energy/Weather.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ct::energy {

// --- PVWatts v5 building blocks (exposed for tests) --------------------------------------

// Sandia (King et al. 2004, SAND2004-3535) module temperature parameters.
struct SapmTemperature {
    double a = -3.56, b = -0.075, deltaT = 3;
};
constexpr SapmTemperature sapmOpenRackGlassPolymer{-3.56, -0.075, 3};  // racks on flat roofs
constexpr SapmTemperature sapmCloseMountGlassGlass{-2.98, -0.0471, 1}; // flush on pitched roofs

// Cell temperature, °C: T_m = E·exp(a + b·WS) + T_a, T_c = T_m + E/1000·ΔT (WS at 10 m).
double sapmCellTemperature(double poaWm2, double airC, double windMs, const SapmTemperature& p);
// Cover transmittance relative to normal incidence (De Soto et al. 2006 physical model with
// Snell and Fresnel reflection plus absorption: n = 1.526, K = 4 /m, L = 2 mm, as PVWatts v5).
double coverTransmittance(double aoiDeg, double n = 1.526, double extinctionPerM = 4,
                          double thicknessM = 0.002);
// PVWatts v5 DC: P = E_tr/1000 · P_dc0 · (1 + γ (T_cell − 25 °C)).
double pvwattsDc(double transmittedWm2, double cellC, double pdc0W, double gammaPerK);
// PVWatts v5 inverter: η = η_nom/η_ref (−0.0162 ζ − 0.0059/ζ + 0.9858), ζ = P_dc/(P_ac0/η_nom),
// η_ref = 0.9637; P_ac = min(η P_dc, P_ac0), 0 for P_dc ≤ 0 and never negative.
double pvwattsInverter(double pdcW, double pac0W, double etaNominal = 0.96);

enum class Mounting : uint8_t { Flush, Rack }; // flush on a pitched roof, tilted racks on a flat one

struct PvOptions {
    // Roofs: flat roofs (footprints without LoD2 surfaces, and LoD2 surfaces flatter than
    // flatMaxTiltDeg) carry racks at rackTiltDeg facing rackAzimuthDeg in rows; module area =
    // flatUsableShare × roof area (setbacks and row spacing). Pitched LoD2 surfaces carry
    // modules flush, module area = pitchedUsableShare × surface area; surfaces steeper than
    // maxTiltDeg are walls, and those facing within northHalfAngleDeg of north that are steeper
    // than northMinTiltDeg are left out (they see little direct sun).
    double flatMaxTiltDeg = 10;
    double rackTiltDeg = 15, rackAzimuthDeg = 180;
    double flatUsableShare = 0.6;
    double pitchedUsableShare = 0.7;
    double maxTiltDeg = 75;
    double northHalfAngleDeg = 67.5, northMinTiltDeg = 20;
    double minModuleAreaM2 = 3.4; // two modules of 1.7 m²; smaller planes carry none
    double kwpPerM2 = 0.2;        // module power density (about 20 % module efficiency)

    // Sampling and shading.
    double sampleSpacingM = 1.5; // grid on each plane; at least one point per plane
    int maxSamplesPerPlane = 64; // larger planes get a coarser grid
    double sampleLiftM = 0.1;    // above the surface, along its normal
    int skyDirections = 48;      // cosine weighted over the module's hemisphere
    double sunBinDeg = 2.0;      // sun positions of one clock hour on consecutive days share a
                                 // bin within this of its mean; 0 = every hour its own
    bool shading = true;         // false: no occluders (sky view 1, no beam shading)
    OccluderOptions occluders;

    // PVWatts v5.
    double gammaPerK = -0.0037;
    double systemLossPct = 14; // PVWatts default (soiling, wiring, mismatch, LID, ...)
    double inverterEfficiency = 0.96;
    double dcAcRatio = 1.1; // PVWatts v5 default; one inverter per building
    double albedo = 0.2;
    SapmTemperature rackTemperature = sapmOpenRackGlassPolymer;
    SapmTemperature flushTemperature = sapmCloseMountGlassGlass;
};

// --- Sun over the year --------------------------------------------------------------------

// hourlySun(weather): Weather.h.

// Daylit hours grouped into bins of nearly equal sun direction: per clock hour, consecutive
// days join a bin while every member stays within `binDeg` of the bin's direction, the
// normalised mean of its members. binDeg <= 0: one bin per daylit hour.
struct SunBins {
    std::vector<std::array<float, 3>> dir; // unit vectors to the sun (x east, y north, z up)
    std::vector<int32_t> binOfHour;        // -1: sun down
    double maxErrorDeg = 0;                // largest angle between an hour's sun and its bin's
};
SunBins binSun(std::span<const SolarAngles> sun, double binDeg);

// Unit vector to the sun / a plane's normal (x east, y north, z up; azimuth from north, east).
std::array<double, 3> sunDirection(const SolarAngles& s);
std::array<double, 3> planeNormal(double tiltDeg, double azimuthDeg);

// --- One plane ------------------------------------------------------------------------------

struct PlaneResult {
    double annualAcKwh = 0, specificYield = 0; // kWh, kWh/kWp
    double annualPoaKwhM2 = 0;                 // plane-of-array irradiation after shading
};
// A single plane of `kwp` with its own inverter. `beamShaded` (one value per hour of the
// weather, 0..1) is the blocked fraction of beam; the sky diffuse is scaled by skyViewFactor.
PlaneResult simulatePlane(double tiltDeg, double azimuthDeg, double kwp, const WeatherYear& weather,
                          const PvOptions& options = {}, Mounting mounting = Mounting::Flush,
                          std::span<const float> beamShaded = {}, double skyViewFactor = 1,
                          std::vector<float>* hourlyAcW = nullptr);

// --- The city -------------------------------------------------------------------------------

struct RoofPlane {
    uint32_t building = 0;
    Mounting mounting = Mounting::Rack;
    double tiltDeg = 0, azimuthDeg = 180; // of the modules
    double roofAreaM2 = 0, moduleAreaM2 = 0, kwp = 0;
    double skyViewFactor = 1;             // mean over the plane's samples
    std::array<float, 3> normal{0, 0, 1}; // of the modules
    uint32_t sampleStart = 0, sampleCount = 0;
};

struct PvBuilding {
    double kwp = 0;
    double annualKwh = 0;      // AC
    double specificYield = 0;  // kWh/kWp
    double shadingLossPct = 0; // against the same roof without occluders
    double unshadedKwh = 0;
    uint32_t planes = 0;
};

struct PvRunStats {
    size_t beamRays = 0, sunBins = 0, daylitHours = 0;
    double maxBinErrorDeg = 0;
    double seconds = 0;
};

struct PvRun {
    const std::vector<bool>* include = nullptr; // per building; null: all
    // Hourly AC in W per building: 8760 values for included buildings with PV, empty else.
    std::vector<std::vector<float>>* hourlyAcW = nullptr;
    // Hourly AC in W summed per group: groupOf[b] in [0, groupCount) or -1; sums are exact in
    // 1 mW steps, so the same for any thread count.
    const std::vector<int32_t>* groupOf = nullptr;
    int32_t groupCount = 0;
    std::vector<std::vector<double>>* groupHourlyAcW = nullptr;
    PvRunStats* stats = nullptr;
};

class PvModel {
  public:
    // Finds roof planes and sample points and builds the occluders (and the sky view factors);
    // the weather comes later, so one model serves several weather years and adoption variants.
    PvModel(const CityModel& city, const PvOptions& options = {});

    // Every building's result in building order; those left out by `include` (and those
    // without planes) carry their kWp and plane count only. Throws InputError when the
    // weather's hourly series differ in length or a mask does not match the buildings.
    std::vector<PvBuilding> run(const WeatherYear& weather,
                                std::vector<std::vector<float>>* hourlyAcW = nullptr,
                                const std::vector<bool>* include = nullptr) const;
    std::vector<PvBuilding> run(const WeatherYear& weather, const PvRun& request) const;

    size_t buildingCount() const { return planeStart.size() - 1; }
    const std::vector<RoofPlane>& planes() const { return roofPlanes; }
    std::span<const RoofPlane> planesOf(size_t building) const {
        return {roofPlanes.data() + planeStart[building], planeStart[building + 1] - planeStart[building]};
    }
    // Sample points (lifted), x y z per point.
    const std::vector<std::array<float, 3>>& samples() const { return samplePoints; }
    const OcclusionBvh& occluders() const { return bvh; }
    const PvOptions& options() const { return opts; }
    // Rays the constructor cast for the sky view factors, and its time split.
    size_t skyRays() const { return skyRayCount; }
    double occluderSeconds() const { return bvhSeconds; }
    double roofSeconds() const { return planeSeconds; }

  private:
    PvOptions opts;
    OcclusionBvh bvh;
    std::vector<RoofPlane> roofPlanes;
    std::vector<uint32_t> planeStart{0};
    std::vector<std::array<float, 3>> samplePoints;
    size_t skyRayCount = 0;
    double bvhSeconds = 0, planeSeconds = 0;
};

} // namespace ct::energy
