#include "sim/energy/HeatDemand.h"

#include "core/Error.h"

#include <algorithm>
#include <string>

namespace ct::energy {

double massAreaFactor(double kappaJm2K) {
    // ISO 13790 Table 12: (κ, Am/Af) per class.
    static constexpr double kappa[] = {80e3, 110e3, 165e3, 260e3, 370e3};
    static constexpr double am[] = {2.5, 2.5, 2.5, 3.0, 3.5};
    size_t best = 0;
    for (size_t k = 1; k < 5; ++k)
        if (std::abs(kappa[k] - kappaJm2K) < std::abs(kappa[best] - kappaJm2K)) best = k;
    return am[best];
}

void validate(const ZoneParams& p) {
    auto bad = [](const std::string& what, const std::string& hint) {
        throw InputError(what, "5R1C zone parameters", hint);
    };
    if (!(p.floorAreaM2 > 0)) bad("floor area must be > 0", "buildings without floor area have no zone");
    if (!(p.internalAreaM2 > 0) || !(p.massAreaM2 > 0))
        bad("internal area At and mass area Am must be > 0", "use At = 4.5·Af, Am = 2.5·Af (ISO 13790)");
    if (!(p.heatCapacityJK > 0)) bad("heat capacity Cm must be > 0", "Cm = κ·Af, κ ≈ 165 kJ/m²K");
    if (!(p.uWindowA >= 0) || !(p.uOpaqueA >= 0) || !(p.ventilationWK >= 0))
        bad("conductances must be ≥ 0 and finite", "check U-values and air change rate");
    if (!(p.uOpaqueA < kHms * p.massAreaM2))
        bad("opaque conductance Htr,op ≥ Htr,ms = 9.1·Am leaves no Htr,em",
            "check the opaque U·A sum against the floor area");
    if (!(p.setHeatC <= p.setCoolC)) bad("heating set-point above cooling set-point", "swap them");
    if (!(p.maxHeatW >= 0) || !(p.maxCoolW >= 0)) bad("maximum powers must be ≥ 0", "use +inf for unlimited");
}

Zone5R1C::Zone5R1C(const ZoneParams& params) : p(params) {
    validate(p);
    hw = p.uWindowA;
    hms = kHms * p.massAreaM2;
    // Opaque parts in series with Htr,ms make Htr,op (12.2.2); Htr,op = 0 gives Hem = 0.
    hem = p.uOpaqueA > 0 ? 1.0 / (1.0 / p.uOpaqueA - 1.0 / hms) : 0.0;
    his = kHis * p.internalAreaM2;
    hve = p.ventilationWK;
    h1 = hve > 0 ? 1.0 / (1.0 / hve + 1.0 / his) : 0.0; // C.6
    h2 = h1 + hw;                                       // C.7
    h3 = h2 > 0 ? 1.0 / (1.0 / h2 + 1.0 / hms) : 0.0;   // C.8
    cmH = p.heatCapacityJK / 3600.0;
    massShare = p.massAreaM2 / p.internalAreaM2;
    surfaceShare = 1.0 - massShare - hw / (kHms * p.internalAreaM2);
}

// Crank–Nicolson step (C.3–C.11) for a heating (+) / cooling (−) power `hc` to the air node.
Zone5R1C::Temps Zone5R1C::solve(double te, double massPrev, double phiInt, double phiSol, double hc) const {
    const double phiIa = 0.5 * phiInt + hc; // C.1
    const double split = 0.5 * phiInt + phiSol;
    const double phiM = massShare * split;     // C.2
    const double phiSt = surfaceShare * split; // C.3
    // H1·(φia/Hve + θsup) written without dividing by Hve (θsup = θe, no preheating).
    const double airSide = h1 * te + (hve > 0 ? phiIa * his / (his + hve) : phiIa);
    const double phiMtot = phiM + hem * te + (h2 > 0 ? h3 * (phiSt + hw * te + airSide) / h2 : 0.0); // C.5
    const double hSum = 0.5 * (h3 + hem);
    Temps t;
    t.massEnd = (massPrev * (cmH - hSum) + phiMtot) / (cmH + hSum);               // C.4
    t.massMean = 0.5 * (t.massEnd + massPrev);                                    // C.9
    t.surface = (hms * t.massMean + phiSt + hw * te + airSide) / (hms + hw + h1); // C.10
    t.air = (his * t.surface + hve * te + phiIa) / (his + hve);                   // C.11
    return t;
}

StepResult Zone5R1C::step(double te, double massPrev, double phiInt, double phiSol) const {
    const Temps t0 = solve(te, massPrev, phiInt, phiSol, 0.0);
    Temps t = t0;
    double hc = 0;
    if (t0.air < p.setHeatC || t0.air > p.setCoolC) {
        const double target = t0.air < p.setHeatC ? p.setHeatC : p.setCoolC;
        // C.4.2 step 2: the air temperature with 10 W/m²; the network is linear, so interpolating
        // between the two points gives the exact unrestricted power.
        const double test = 10.0 * p.floorAreaM2;
        const double air10 = solve(te, massPrev, phiInt, phiSol, test).air;
        hc = test * (target - t0.air) / (air10 - t0.air);
        hc = std::clamp(hc, -p.maxCoolW, p.maxHeatW); // steps 3–4: limited by the available power
        t = solve(te, massPrev, phiInt, phiSol, hc);
    }
    StepResult r;
    r.heatingW = std::max(hc, 0.0);
    r.coolingW = std::max(-hc, 0.0);
    r.airC = t.air;
    r.surfaceC = t.surface;
    r.massC = t.massEnd;
    r.massMeanC = t.massMean;
    r.freeAirC = t0.air;
    return r;
}

StepResult step5R1C(const ZoneParams& p, double outdoorC, double massPrevC, double internalGainsW,
                    double solarGainsW) {
    return Zone5R1C(p).step(outdoorC, massPrevC, internalGainsW, solarGainsW);
}

AnnualHeat simulateYear(const ZoneParams& p, const std::vector<float>& outdoorC,
                        const std::vector<float>& internalGainsW, const std::vector<float>& solarGainsW,
                        bool keepHourly) {
    const Zone5R1C z(p);
    const size_t hours = outdoorC.size();
    if (hours == 0) throw InputError("empty weather series", "annual heat demand", "give 8760 hourly values");
    if (internalGainsW.size() != hours || solarGainsW.size() != hours)
        throw InputError("series of different lengths (" + std::to_string(hours) + " outdoor, " +
                             std::to_string(internalGainsW.size()) + " internal, " +
                             std::to_string(solarGainsW.size()) + " solar)",
                         "annual heat demand", "give one value per hour in every series");
    for (size_t h = 0; h < hours; ++h)
        if (!std::isfinite(outdoorC[h]) || !std::isfinite(internalGainsW[h]) ||
            !std::isfinite(solarGainsW[h]))
            throw InputError("non-finite input at hour " + std::to_string(h), "annual heat demand",
                             "fill gaps in the weather or gain series");

    // Warm-up: the first week from the set-point, so the year starts near a periodic state.
    double mass = p.setHeatC;
    for (size_t h = 0; h < std::min<size_t>(168, hours); ++h)
        mass = z.step(outdoorC[h], mass, internalGainsW[h], solarGainsW[h]).massC;

    AnnualHeat a;
    if (keepHourly) {
        a.hourlyHeatingW.resize(hours);
        a.hourlyCoolingW.resize(hours);
    }
    const double massStart = mass;
    double heatWh = 0, coolWh = 0, inWh = 0, lostWh = 0, grossWh = 0, airSum = 0;
    for (size_t h = 0; h < hours; ++h) {
        const double te = outdoorC[h], phiInt = internalGainsW[h], phiSol = solarGainsW[h];
        const StepResult r = z.step(te, mass, phiInt, phiSol);
        mass = r.massC;
        heatWh += r.heatingW;
        coolWh += r.coolingW;
        a.peakHeatingW = std::max(a.peakHeatingW, r.heatingW);
        a.peakCoolingW = std::max(a.peakCoolingW, r.coolingW);
        if (keepHourly) {
            a.hourlyHeatingW[h] = float(r.heatingW);
            a.hourlyCoolingW[h] = float(r.coolingW);
        }
        // Balance terms, W over one hour = Wh.
        inWh += phiInt + phiSol + r.heatingW - r.coolingW;
        grossWh += std::abs(phiInt + phiSol) + r.heatingW + r.coolingW;
        lostWh += z.hVe() * (r.airC - te) + z.hW() * (r.surfaceC - te) + z.hEm() * (r.massMeanC - te) +
                  z.directWindowShare() * (0.5 * phiInt + phiSol);
        airSum += r.airC;
    }
    const double storedWh = z.cmPerHour() * (mass - massStart); // Cm/3600 · ΔT = Wh
    a.heatingKWh = heatWh / 1000.0;
    a.coolingKWh = coolWh / 1000.0;
    a.closureError = grossWh > 0 ? std::abs(inWh - lostWh - storedWh) / grossWh : 0.0;
    a.meanAirC = airSum / double(hours);
    return a;
}

std::vector<float> windowSolarGains(const FacadeIrradiance& f, const std::array<double, 4>& apertureM2) {
    const size_t hours = f.wm2[0].size();
    std::vector<float> g(hours, 0.0f);
    for (int o = 0; o < 4; ++o) {
        if (f.wm2[o].size() != hours)
            throw InputError("facade irradiance series of different lengths", "window solar gains",
                             "compute all four with facadeIrradiance()");
        for (size_t h = 0; h < hours; ++h)
            g[h] += float(apertureM2[o] * f.wm2[o][h]);
    }
    return g;
}

FacadeIrradiance facadeIrradiance(const WeatherYear& w, SkyModel sky, double albedo) {
    FacadeIrradiance f;
    const size_t hours = w.hours();
    for (auto& v : f.wm2) v.assign(hours, 0.0f);
    const std::vector<SolarAngles> sun = hourlySun(w);
    for (size_t h = 0; h < hours; ++h) {
        if (!(w.ghi[h] > 0) || sun[h].zenithDeg >= 90) continue;
        const double extra = extraterrestrialNormal(int(h / 24) + 1);
        for (int o = 0; o < 4; ++o)
            f.wm2[size_t(o)][h] = float(planeOfArray(90.0, 90.0 * o, sun[h].zenithDeg, sun[h].azimuthDeg, w.dni[h], w.ghi[h],
                                                     w.dhi[h], extra, albedo, sky)
                                            .total());
    }
    return f;
}

} // namespace ct::energy
