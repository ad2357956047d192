#pragma once
// Sunlight on a tilted plane from horizontal measurements: beam, sky diffuse (isotropic,
// Hay-Davies or Perez 1990) and ground-reflected parts; clear-sky irradiance (Ineichen-Perez
// with a Linke turbidity, or Haurwitz) for days without a weather file.
namespace ct::energy {

enum class SkyModel { Isotropic, HayDavies, Perez };

// Solar constant behind extraterrestrialNormal, W/m² (ASTM E-490 / Gueymard 2004, as in pvlib).
constexpr double kSolarConstant = 1366.1;

// Extraterrestrial normal irradiance on day `dayOfYear` (1–366), W/m² (Spencer 1971).
double extraterrestrialNormal(int dayOfYear);
// Relative optical air mass at a zenith angle (Kasten & Young 1989); +inf at or below the horizon.
double airMass(double zenithDeg);

struct PlaneIrradiance {
    double beam = 0, skyDiffuse = 0, groundReflected = 0; // W/m²
    double total() const { return beam + skyDiffuse + groundReflected; }
};

// Irradiance on a plane of `tiltDeg` (0 horizontal) facing `surfaceAzimuthDeg` (from north,
// eastward; 180 = south), for the sun at zenith/azimuth, from DNI, GHI and DHI (W/m²).
// `dniExtra` = extraterrestrialNormal(day); `albedo` of the ground (0.2 typical).
PlaneIrradiance planeOfArray(double tiltDeg, double surfaceAzimuthDeg, double sunZenithDeg, double sunAzimuthDeg, double dni,
                             double ghi, double dhi, double dniExtra, double albedo, SkyModel model);

// Cosine of the angle of incidence of the beam on the plane (may be negative: sun behind it).
double cosIncidence(double tiltDeg, double surfaceAzimuthDeg, double sunZenithDeg, double sunAzimuthDeg);

struct ClearSky {
    double ghi = 0, dni = 0, dhi = 0; // W/m²
};
// Ineichen & Perez (2002) clear sky with Linke turbidity `linke` at `altitudeM`.
ClearSky ineichen(double sunZenithDeg, double dniExtra, double linke, double altitudeM);
// The same model with the absolute (pressure-corrected) air mass given by the caller; ineichen()
// uses airMass(zenith) · p(altitude)/p0 with the ICAO standard-atmosphere pressure.
ClearSky ineichenWithAirMass(double sunZenithDeg, double airMassAbsolute, double dniExtra, double linke,
                             double altitudeM);
// Station pressure of the ICAO standard atmosphere at `altitudeM`, Pa.
double standardPressure(double altitudeM);
// Haurwitz (1945): GHI only (dni, dhi split with Erbs).
ClearSky haurwitz(double sunZenithDeg);
// Erbs, Klein & Duffie (1982): the diffuse fraction of GHI from the clearness index.
double erbsDiffuseFraction(double clearnessIndex);

} // namespace ct::energy
