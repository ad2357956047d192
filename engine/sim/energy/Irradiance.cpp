// Irradiance on tilted planes and clear-sky models. Sources per function; docs/validation/energy.md
// ("Irradiance on tilted planes") lists the checks against pvlib's published test values.
#include "sim/energy/Irradiance.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ct::energy {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

// Kasten & Young (1989), eq. 3; finite down to the geometric horizon (37.92 at 90°).
double kastenYoung(double zenithDeg) {
    return 1.0 / (std::cos(zenithDeg * kDeg) + 0.50572 * std::pow(96.07995 - zenithDeg, -1.6364));
}

// Perez, Ineichen, Seals, Michalsky & Stewart (1990), Solar Energy 44(5) 271–289, Table 6
// ("all sites composite"): f11 f12 f13 f21 f22 f23 for the eight sky-clearness bins.
// clang-format off
constexpr double kPerez1990[8][6] = {
    {-0.008, 0.588, -0.062, -0.060, 0.072, -0.022}, // ε 1.000–1.065 (overcast)
    {0.130, 0.683, -0.151, -0.019, 0.066, -0.029},  // 1.065–1.230
    {0.330, 0.487, -0.221, 0.055, -0.064, -0.026},  // 1.230–1.500
    {0.568, 0.187, -0.295, 0.109, -0.152, -0.014},  // 1.500–1.950
    {0.873, -0.392, -0.362, 0.226, -0.462, 0.001},  // 1.950–2.800
    {1.132, -1.237, -0.412, 0.288, -0.823, 0.056},  // 2.800–4.500
    {1.060, -1.600, -0.359, 0.264, -1.127, 0.131},  // 4.500–6.200
    {0.678, -0.327, -0.250, 0.156, -1.377, 0.251},  // > 6.200 (clear)
};
constexpr double kPerezBinUpper[7] = {1.065, 1.230, 1.500, 1.950, 2.800, 4.500, 6.200};
// clang-format on

} // namespace

double extraterrestrialNormal(int dayOfYear) {
    // Spencer (1971), the eccentricity correction (r0/r)² as a Fourier series in the day angle.
    const double b = 2.0 * kPi * (dayOfYear - 1) / 365.0;
    const double e0 = 1.000110 + 0.034221 * std::cos(b) + 0.001280 * std::sin(b) +
                      0.000719 * std::cos(2 * b) + 0.000077 * std::sin(2 * b);
    return kSolarConstant * e0;
}

double airMass(double zenithDeg) {
    if (!(zenithDeg < 90.0)) return std::numeric_limits<double>::infinity();
    return kastenYoung(zenithDeg);
}

double standardPressure(double altitudeM) {
    // ICAO standard atmosphere (troposphere), the same formula as pvlib's alt2pres.
    return 101325.0 * std::pow(1.0 - 2.25577e-5 * altitudeM, 5.25588);
}

double cosIncidence(double tiltDeg, double surfaceAzimuthDeg, double sunZenithDeg, double sunAzimuthDeg) {
    const double t = tiltDeg * kDeg, z = sunZenithDeg * kDeg;
    const double c = std::cos(z) * std::cos(t) +
                     std::sin(z) * std::sin(t) * std::cos((sunAzimuthDeg - surfaceAzimuthDeg) * kDeg);
    return std::clamp(c, -1.0, 1.0); // rounding can push identical directions past 1
}

PlaneIrradiance planeOfArray(double tiltDeg, double surfaceAzimuthDeg, double sunZenithDeg,
                             double sunAzimuthDeg, double dni, double ghi, double dhi, double dniExtra,
                             double albedo, SkyModel model) {
    dni = std::max(dni, 0.0);
    ghi = std::max(ghi, 0.0);
    dhi = std::max(dhi, 0.0);
    const bool sunUp = sunZenithDeg < 90.0;
    const double cosTheta = cosIncidence(tiltDeg, surfaceAzimuthDeg, sunZenithDeg, sunAzimuthDeg);
    const double facing = sunUp ? std::max(cosTheta, 0.0) : 0.0; // the beam reaches the front face only
    const double cosTilt = std::cos(tiltDeg * kDeg);
    const double skyView = (1.0 + cosTilt) / 2.0;

    PlaneIrradiance out;
    out.beam = sunUp ? dni * facing : 0.0;
    out.groundReflected = ghi * albedo * (1.0 - cosTilt) / 2.0;

    switch (model) {
    case SkyModel::Isotropic:
        out.skyDiffuse = dhi * skyView;
        break;
    case SkyModel::HayDavies: {
        // Hay & Davies (1980): a circumsolar part weighted by the anisotropy index DNI/DNIextra,
        // the rest isotropic. cos z is floored at cos 89° so the beam ratio stays finite at sunrise.
        const double ai = (sunUp && dniExtra > 0) ? std::clamp(dni / dniExtra, 0.0, 1.0) : 0.0;
        const double rb = facing / std::max(std::cos(sunZenithDeg * kDeg), std::cos(89.0 * kDeg));
        out.skyDiffuse = dhi * (ai * rb + (1.0 - ai) * skyView);
        break;
    }
    case SkyModel::Perez: {
        if (dhi <= 0.0 || dniExtra <= 0.0) break; // no diffuse light, nothing to distribute
        // Perez et al. (1990). Twilight (sun below the horizon, some DHI) is evaluated with the
        // sun on the horizon: ε = 1 (overcast bin), no circumsolar term. The sky brightness Δ
        // takes the air mass at 85° at most, the zenith limit the model already applies in b:
        // beyond it the air mass climbs from 10 to 38 and Δ leaves the range of the fitted
        // coefficients (a 30° plane would get three times the DHI with the sun on the horizon).
        const double zenDeg = std::min(sunZenithDeg, 90.0);
        const double z = zenDeg * kDeg;
        const double beamNormal = sunUp ? dni : 0.0;
        const double kappaZ3 = 1.041 * z * z * z;
        const double epsilon = ((dhi + beamNormal) / dhi + kappaZ3) / (1.0 + kappaZ3);
        const double delta = dhi * kastenYoung(std::min(zenDeg, 85.0)) / dniExtra; // sky brightness
        int bin = 0;
        while (bin < 7 && epsilon >= kPerezBinUpper[bin])
            ++bin;
        const double* f = kPerez1990[bin];
        const double f1 = std::max(0.0, f[0] + f[1] * delta + f[2] * z);
        const double f2 = f[3] + f[4] * delta + f[5] * z;
        const double a = facing;
        const double b = std::max(std::cos(85.0 * kDeg), std::cos(z));
        // A negative horizon band can pull the sum below zero on steep planes; light is never negative.
        out.skyDiffuse =
            std::max(0.0, dhi * ((1.0 - f1) * skyView + f1 * a / b + f2 * std::sin(tiltDeg * kDeg)));
        break;
    }
    }
    return out;
}

ClearSky ineichenWithAirMass(double sunZenithDeg, double airMassAbsolute, double dniExtra, double linke,
                             double altitudeM) {
    // Ineichen & Perez (2002), Solar Energy 73(3) 151–157, eqs. 1, 7–9 (without the optional
    // "Perez enhancement" factor exp(0.01·AM^1.8)).
    ClearSky cs;
    if (!(sunZenithDeg < 90.0) || !std::isfinite(airMassAbsolute)) return cs;
    const double cosZ = std::cos(sunZenithDeg * kDeg);
    const double fh1 = std::exp(-altitudeM / 8000.0), fh2 = std::exp(-altitudeM / 1250.0);
    const double cg1 = 5.09e-5 * altitudeM + 0.868, cg2 = 3.92e-5 * altitudeM + 0.0387;
    cs.ghi =
        std::max(0.0, cg1 * dniExtra * cosZ * std::exp(-cg2 * airMassAbsolute * (fh1 + fh2 * (linke - 1.0))));
    const double b = 0.664 + 0.163 / fh1;
    const double bnci = std::max(0.0, b * dniExtra * std::exp(-0.09 * airMassAbsolute * (linke - 1.0)));
    // The beam may not exceed what the global allows (the paper's limit on the direct fraction).
    const double bnciLimit =
        std::max(0.0, (1.0 - (0.1 - 0.2 * std::exp(-linke)) / (0.1 + 0.882 / fh1)) / cosZ * cs.ghi);
    cs.dni = std::min(bnci, bnciLimit);
    cs.dhi = cs.ghi - cs.dni * cosZ;
    return cs;
}

ClearSky ineichen(double sunZenithDeg, double dniExtra, double linke, double altitudeM) {
    const double am = airMass(sunZenithDeg) * standardPressure(altitudeM) / 101325.0;
    return ineichenWithAirMass(sunZenithDeg, am, dniExtra, linke, altitudeM);
}

ClearSky haurwitz(double sunZenithDeg) {
    ClearSky cs;
    if (!(sunZenithDeg < 90.0)) return cs;
    const double cosZ = std::cos(sunZenithDeg * kDeg);
    // Haurwitz (1945), as fitted by Reno, Hansen & Stein (SAND2012-2389): GHI = 1098 cos z e^(−0.059/cos z).
    cs.ghi = 1098.0 * cosZ * std::exp(-0.059 / cosZ);
    // No date here, so the clearness index uses the mean solar constant.
    const double kt = cs.ghi / (kSolarConstant * cosZ);
    cs.dhi = erbsDiffuseFraction(kt) * cs.ghi;
    cs.dni = (cs.ghi - cs.dhi) / cosZ;
    return cs;
}

double erbsDiffuseFraction(double kt) {
    // Erbs, Klein & Duffie (1982), Solar Energy 28(4) 293–302, eq. 1.
    kt = std::max(kt, 0.0);
    if (kt <= 0.22) return 1.0 - 0.09 * kt;
    if (kt <= 0.80)
        return 0.9511 - 0.1604 * kt + 4.388 * kt * kt - 16.638 * kt * kt * kt + 12.336 * kt * kt * kt * kt;
    return 0.165;
}

} // namespace ct::energy
