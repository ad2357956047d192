#pragma once
// Building heat: the ISO 13790 (EN ISO 52016-1 "simple hourly") 5R1C model, one zone per
// building, hourly steps (ISO 13790 Annex C).
//
//   θe ─Hve─ θair ─His─ θs ─Hms─ θm ─Hem─ θe        θs ─Hw─ θe         θm: one capacity Cm
//
// Gains are split over the nodes as in C.2: φia = 0.5 φint to the air; of 0.5 φint + φsol the
// share Am/At goes to the mass and (1 − Am/At − Hw/(9.1 At)) to the surface node. Heating and
// cooling go to the air node (an ideal air system). The needed power is found with the
// standard's 10 W/m² test (C.4.2): free-floating air temperature, air temperature with
// 10 W/m²·Af, linear interpolation to the set-point, then capped by the available power.
// Conventions: hours of Δt = 3600 s, temperatures in °C, powers in W (mean over the hour),
// heating and cooling both reported as non-negative numbers.
#include "sim/energy/Irradiance.h"
#include "sim/energy/SolarPosition.h"
#include "sim/energy/Weather.h"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace ct::energy {

// ISO 13790 constants: his = 3.45 W/m²K (air–surface), hms = 9.1 W/m²K (surface–mass),
// Λat = 4.5 (At/Af), ρa·ca = 1200 J/m³K.
constexpr double kHis = 3.45;
constexpr double kHms = 9.1;
constexpr double kLambdaAt = 4.5;
constexpr double kRhoCAir = 1200.0;

// Effective mass area Am per floor area by ISO 13790 Table 12 class (very light … very heavy):
// 2.5, 2.5, 2.5, 3.0, 3.5 (κ 80 / 110 / 165 / 260 / 370 kJ/m²K). Am for a capacity κ (J/m²K):
// the class whose κ is nearest.
double massAreaFactor(double kappaJm2K);

struct ZoneParams {
    double floorAreaM2 = 0;    // Af, conditioned floor area (> 0)
    double uWindowA = 0;       // Htr,w: Σ U·A of windows and doors, W/K
    double uOpaqueA = 0;       // Htr,op: Σ b·U·A of opaque parts incl. thermal bridges, W/K
    double ventilationWK = 0;  // Hve: ρc·V̇, heat recovery already taken off, W/K
    double internalAreaM2 = 0; // At, area of all surfaces facing the zone (ISO: 4.5·Af)
    double massAreaM2 = 0;     // Am, effective mass area (ISO Table 12, 2.5…3.5·Af)
    double heatCapacityJK = 0; // Cm = κ·Af, J/K
    double setHeatC = 20, setCoolC = 26;
    double maxHeatW = std::numeric_limits<double>::infinity(); // available heating power
    double maxCoolW = std::numeric_limits<double>::infinity(); // available cooling power (magnitude)
};

// Throws InputError for parameters the model cannot use (non-positive Af, At, Am or Cm,
// negative conductances, Htr,op ≥ Htr,ms so the opaque split has no solution, setHeat > setCool).
void validate(const ZoneParams& p);

struct StepResult {
    double heatingW = 0, coolingW = 0;   // delivered to the air node over the hour
    double airC = 0, surfaceC = 0;       // at the mean mass temperature of the hour
    double massC = 0;                    // θm at the end of the hour: the next step's massPrevC
    double massMeanC = 0;                // (θm,t-1 + θm,t)/2, what Annex C uses for θs, θair
    double freeAirC = 0;                 // air temperature without heating or cooling
};

// One hour. Opaque elements reach the mass through Htr,em = 1/(1/Htr,op − 1/Htr,ms) (12.2.2).
// Validates `p` on every call; hot loops use Zone5R1C.
StepResult step5R1C(const ZoneParams& p, double outdoorC, double massPrevC, double internalGainsW,
                    double solarGainsW);

// A zone with its conductances worked out once (validated in the constructor), for stepping
// many hours: zone.step(...) gives the same result as step5R1C(params, ...).
class Zone5R1C {
public:
    explicit Zone5R1C(const ZoneParams& p);
    StepResult step(double outdoorC, double massPrevC, double internalGainsW, double solarGainsW) const;
    const ZoneParams& params() const { return p; }
    // The network (W/K): Htr,w, Htr,em, Htr,ms, Htr,is, Hve; Cm/3600 (W/K for an hour step).
    double hW() const { return hw; }
    double hEm() const { return hem; }
    double hMs() const { return hms; }
    double hIs() const { return his; }
    double hVe() const { return hve; }
    double cmPerHour() const { return cmH; }
    // Share Hw/(9.1·At) of 0.5 φint + φsol that C.3 gives to no node (it leaves by the windows).
    double directWindowShare() const { return 1.0 - massShare - surfaceShare; }

private:
    struct Temps {
        double massEnd, massMean, surface, air;
    };
    Temps solve(double te, double massPrev, double phiInt, double phiSol, double hc) const;
    ZoneParams p;
    double hw, hem, hms, his, hve, h1, h2, h3, cmH, massShare, surfaceShare;
};

struct AnnualHeat {
    double heatingKWh = 0, coolingKWh = 0;
    double peakHeatingW = 0, peakCoolingW = 0;
    // |heat in − heat lost − Δ stored| / gross heat in, over the simulated hours: heat in =
    // Σ(φint + φsol + φheat − φcool)·Δt, heat lost = Σ(Hve(θair−θe) + Hw(θs−θe) + Hem(θm−θe)
    // + the share Hw/(9.1·At) of 0.5φint + φsol that C.3 passes to no node)·Δt,
    // Δ stored = Cm(θm,end − θm,start), gross = Σ(|φint + φsol| + φheat + φcool)·Δt.
    double closureError = 0;
    double meanAirC = 0;
    std::vector<float> hourlyHeatingW; // filled when keepHourly
    std::vector<float> hourlyCoolingW;
};

// A year (or any number of hours) from three equally long hourly series. The mass starts at
// the heating set-point and is warmed up over the first 168 hours (or fewer when the series
// is shorter), which are then simulated again and counted. InputError for mismatched lengths,
// an empty series or non-finite values (naming the hour).
AnnualHeat simulateYear(const ZoneParams& p, const std::vector<float>& outdoorC,
                        const std::vector<float>& internalGainsW, const std::vector<float>& solarGainsW,
                        bool keepHourly = false);

// Irradiance on vertical facades facing N, E, S, W (azimuth 0, 90, 180, 270), W/m², hour by
// hour, from a weather year, with the sun of hourlySun (Weather.h). Computed once per city and
// shared by all buildings.
struct FacadeIrradiance {
    std::array<std::vector<float>, 4> wm2;
};
FacadeIrradiance facadeIrradiance(const WeatherYear& w, SkyModel sky = SkyModel::Perez, double albedo = 0.2);

// Solar gains through the windows, W per hour: Σ over orientations of aperture (m², e.g. from
// solarApertureM2 in Envelope.h) × facade irradiance.
std::vector<float> windowSolarGains(const FacadeIrradiance& f, const std::array<double, 4>& apertureM2);

} // namespace ct::energy
