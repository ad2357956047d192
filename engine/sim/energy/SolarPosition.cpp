// NREL Solar Position Algorithm, implemented from Reda & Andreas, "Solar Position Algorithm for
// Solar Radiation Applications", NREL/TP-560-34302 (2004, rev. 2008): section 3 for the position,
// Appendix A.2 for sunrise, transit and sunset. Equation numbers below are the paper's.
#include "sim/energy/SolarPosition.h"

#include <cmath>

namespace ct::energy {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

double limitDegrees(double d) {
    d = std::fmod(d, 360.0);
    return d < 0 ? d + 360.0 : d;
}
double limitDegrees180pm(double d) {
    d = limitDegrees(d);
    return d > 180.0 ? d - 360.0 : d;
}
double limitZeroToOne(double v) {
    return v - std::floor(v);
}

// Periodic terms of the Earth (VSOP87 truncated): Table A4.2, columns A, B, C. Typed in from the
// paper; sum = Σ A·cos(B + C·JME).
struct Term {
    double a, b, c;
};
// Nutation in longitude and obliquity: Table A4.3, the multipliers Y0..Y4 of X0..X4 and the
// coefficients a, b (for Δψ) and c, d (for Δε), in units of 0.0001″.
struct NutationTerm {
    int y[5];
    double a, b, c, d;
};

// clang-format off
constexpr Term kL0[] = {
    {175347046, 0, 0}, {3341656, 4.6692568, 6283.07585}, {34894, 4.6261, 12566.1517},
    {3497, 2.7441, 5753.3849}, {3418, 2.8289, 3.5231}, {3136, 3.6277, 77713.7715}, {2676, 4.4181, 7860.4194},
    {2343, 6.1352, 3930.2097}, {1324, 0.7425, 11506.7698}, {1273, 2.0371, 529.691}, {1199, 1.1096, 1577.3435},
    {990, 5.233, 5884.927}, {902, 2.045, 26.298}, {857, 3.508, 398.149}, {780, 1.179, 5223.694},
    {753, 2.533, 5507.553}, {505, 4.583, 18849.228}, {492, 4.205, 775.523}, {357, 2.92, 0.067},
    {317, 5.849, 11790.629}, {284, 1.899, 796.298}, {271, 0.315, 10977.079}, {243, 0.345, 5486.778},
    {206, 4.806, 2544.314}, {205, 1.869, 5573.143}, {202, 2.458, 6069.777}, {156, 0.833, 213.299},
    {132, 3.411, 2942.463}, {126, 1.083, 20.775}, {115, 0.645, 0.98}, {103, 0.636, 4694.003},
    {102, 0.976, 15720.839}, {102, 4.267, 7.114}, {99, 6.21, 2146.17}, {98, 0.68, 155.42},
    {86, 5.98, 161000.69}, {85, 1.3, 6275.96}, {85, 3.67, 71430.7}, {80, 1.81, 17260.15},
    {79, 3.04, 12036.46}, {75, 1.76, 5088.63}, {74, 3.5, 3154.69}, {74, 4.68, 801.82}, {70, 0.83, 9437.76},
    {62, 3.98, 8827.39}, {61, 1.82, 7084.9}, {57, 2.78, 6286.6}, {56, 4.39, 14143.5}, {56, 3.47, 6279.55},
    {52, 0.19, 12139.55}, {52, 1.33, 1748.02}, {51, 0.28, 5856.48}, {49, 0.49, 1194.45}, {41, 5.37, 8429.24},
    {41, 2.4, 19651.05}, {39, 6.17, 10447.39}, {37, 6.04, 10213.29}, {37, 2.57, 1059.38}, {36, 1.71, 2352.87},
    {36, 1.78, 6812.77}, {33, 0.59, 17789.85}, {30, 0.44, 83996.85}, {30, 2.74, 1349.87}, {25, 3.16, 4690.48},
};
constexpr Term kL1[] = {
    {628331966747, 0, 0}, {206059, 2.678235, 6283.07585}, {4303, 2.6351, 12566.1517}, {425, 1.59, 3.523},
    {119, 5.796, 26.298}, {109, 2.966, 1577.344}, {93, 2.59, 18849.23}, {72, 1.14, 529.69},
    {68, 1.87, 398.15}, {67, 4.41, 5507.55}, {59, 2.89, 5223.69}, {56, 2.17, 155.42}, {45, 0.4, 796.3},
    {36, 0.47, 775.52}, {29, 2.65, 7.11}, {21, 5.34, 0.98}, {19, 1.85, 5486.78}, {19, 4.97, 213.3},
    {17, 2.99, 6275.96}, {16, 0.03, 2544.31}, {16, 1.43, 2146.17}, {15, 1.21, 10977.08}, {12, 2.83, 1748.02},
    {12, 3.26, 5088.63}, {12, 5.27, 1194.45}, {12, 2.08, 4694}, {11, 0.77, 553.57}, {10, 1.3, 6286.6},
    {10, 4.24, 1349.87}, {9, 2.7, 242.73}, {9, 5.64, 951.72}, {8, 5.3, 2352.87}, {6, 2.65, 9437.76},
    {6, 4.67, 4690.48},
};
constexpr Term kL2[] = {
    {52919, 0, 0}, {8720, 1.0721, 6283.0758}, {309, 0.867, 12566.152}, {27, 0.05, 3.52}, {16, 5.19, 26.3},
    {16, 3.68, 155.42}, {10, 0.76, 18849.23}, {9, 2.06, 77713.77}, {7, 0.83, 775.52}, {5, 4.66, 1577.34},
    {4, 1.03, 7.11}, {4, 3.44, 5573.14}, {3, 5.14, 796.3}, {3, 6.05, 5507.55}, {3, 1.19, 242.73},
    {3, 6.12, 529.69}, {3, 0.31, 398.15}, {3, 2.28, 553.57}, {2, 4.38, 5223.69}, {2, 3.75, 0.98},
};
constexpr Term kL3[] = {
    {289, 5.844, 6283.076}, {35, 0, 0}, {17, 5.49, 12566.15}, {3, 5.2, 155.42}, {1, 4.72, 3.52},
    {1, 5.3, 18849.23}, {1, 5.97, 242.73},
};
constexpr Term kL4[] = {
    {114, 3.142, 0}, {8, 4.13, 6283.08}, {1, 3.84, 12566.15},
};
constexpr Term kL5[] = {
    {1, 3.14, 0},
};
constexpr Term kB0[] = {
    {280, 3.199, 84334.662}, {102, 5.422, 5507.553}, {80, 3.88, 5223.69}, {44, 3.7, 2352.87},
    {32, 4, 1577.34},
};
constexpr Term kB1[] = {
    {9, 3.9, 5507.55}, {6, 1.73, 5223.69},
};
constexpr Term kR0[] = {
    {100013989, 0, 0}, {1670700, 3.0984635, 6283.07585}, {13956, 3.05525, 12566.1517},
    {3084, 5.1985, 77713.7715}, {1628, 1.1739, 5753.3849}, {1576, 2.8469, 7860.4194}, {925, 5.453, 11506.77},
    {542, 4.564, 3930.21}, {472, 3.661, 5884.927}, {346, 0.964, 5507.553}, {329, 5.9, 5223.694},
    {307, 0.299, 5573.143}, {243, 4.273, 11790.629}, {212, 5.847, 1577.344}, {186, 5.022, 10977.079},
    {175, 3.012, 18849.228}, {110, 5.055, 5486.778}, {98, 0.89, 6069.78}, {86, 5.69, 15720.84},
    {86, 1.27, 161000.69}, {65, 0.27, 17260.15}, {63, 0.92, 529.69}, {57, 2.01, 83996.85},
    {56, 5.24, 71430.7}, {49, 3.25, 2544.31}, {47, 2.58, 775.52}, {45, 5.54, 9437.76}, {43, 6.01, 6275.96},
    {39, 5.36, 4694}, {38, 2.39, 8827.39}, {37, 0.83, 19651.05}, {37, 4.9, 12139.55}, {36, 1.67, 12036.46},
    {35, 1.84, 2942.46}, {33, 0.24, 7084.9}, {32, 0.18, 5088.63}, {32, 1.78, 398.15}, {28, 1.21, 6286.6},
    {28, 1.9, 6279.55}, {26, 4.59, 10447.39},
};
constexpr Term kR1[] = {
    {103019, 1.10749, 6283.07585}, {1721, 1.0644, 12566.1517}, {702, 3.142, 0}, {32, 1.02, 18849.23},
    {31, 2.84, 5507.55}, {25, 1.32, 5223.69}, {18, 1.42, 1577.34}, {10, 5.91, 10977.08}, {9, 1.42, 6275.96},
    {9, 0.27, 5486.78},
};
constexpr Term kR2[] = {
    {4359, 5.7846, 6283.0758}, {124, 5.579, 12566.152}, {12, 3.14, 0}, {9, 3.63, 77713.77},
    {6, 1.87, 5573.14}, {3, 5.47, 18849.23},
};
constexpr Term kR3[] = {
    {145, 4.273, 6283.076}, {7, 3.92, 12566.15},
};
constexpr Term kR4[] = {
    {4, 2.56, 6283.08},
};
constexpr NutationTerm kNutation[] = {
    {{0, 0, 0, 0, 1}, -171996, -174.2, 92025, 8.9},
    {{-2, 0, 0, 2, 2}, -13187, -1.6, 5736, -3.1},
    {{0, 0, 0, 2, 2}, -2274, -0.2, 977, -0.5},
    {{0, 0, 0, 0, 2}, 2062, 0.2, -895, 0.5},
    {{0, 1, 0, 0, 0}, 1426, -3.4, 54, -0.1},
    {{0, 0, 1, 0, 0}, 712, 0.1, -7, 0},
    {{-2, 1, 0, 2, 2}, -517, 1.2, 224, -0.6},
    {{0, 0, 0, 2, 1}, -386, -0.4, 200, 0},
    {{0, 0, 1, 2, 2}, -301, 0, 129, -0.1},
    {{-2, -1, 0, 2, 2}, 217, -0.5, -95, 0.3},
    {{-2, 0, 1, 0, 0}, -158, 0, 0, 0},
    {{-2, 0, 0, 2, 1}, 129, 0.1, -70, 0},
    {{0, 0, -1, 2, 2}, 123, 0, -53, 0},
    {{2, 0, 0, 0, 0}, 63, 0, 0, 0},
    {{0, 0, 1, 0, 1}, 63, 0.1, -33, 0},
    {{2, 0, -1, 2, 2}, -59, 0, 26, 0},
    {{0, 0, -1, 0, 1}, -58, -0.1, 32, 0},
    {{0, 0, 1, 2, 1}, -51, 0, 27, 0},
    {{-2, 0, 2, 0, 0}, 48, 0, 0, 0},
    {{0, 0, -2, 2, 1}, 46, 0, -24, 0},
    {{2, 0, 0, 2, 2}, -38, 0, 16, 0},
    {{0, 0, 2, 2, 2}, -31, 0, 13, 0},
    {{0, 0, 2, 0, 0}, 29, 0, 0, 0},
    {{-2, 0, 1, 2, 2}, 29, 0, -12, 0},
    {{0, 0, 0, 2, 0}, 26, 0, 0, 0},
    {{-2, 0, 0, 2, 0}, -22, 0, 0, 0},
    {{0, 0, -1, 2, 1}, 21, 0, -10, 0},
    {{0, 2, 0, 0, 0}, 17, -0.1, 0, 0},
    {{2, 0, -1, 0, 1}, 16, 0, -8, 0},
    {{-2, 2, 0, 2, 2}, -16, 0.1, 7, 0},
    {{0, 1, 0, 0, 1}, -15, 0, 9, 0},
    {{-2, 0, 1, 0, 1}, -13, 0, 7, 0},
    {{0, -1, 0, 0, 1}, -12, 0, 6, 0},
    {{0, 0, 2, -2, 0}, 11, 0, 0, 0},
    {{2, 0, -1, 2, 1}, -10, 0, 5, 0},
    {{2, 0, 1, 2, 2}, -8, 0, 3, 0},
    {{0, 1, 0, 2, 2}, 7, 0, -3, 0},
    {{-2, 1, 1, 0, 0}, -7, 0, 0, 0},
    {{0, -1, 0, 2, 2}, -7, 0, 3, 0},
    {{2, 0, 0, 2, 1}, -7, 0, 3, 0},
    {{2, 0, 1, 0, 0}, 6, 0, 0, 0},
    {{-2, 0, 2, 2, 2}, 6, 0, -3, 0},
    {{-2, 0, 1, 2, 1}, 6, 0, -3, 0},
    {{2, 0, -2, 0, 1}, -6, 0, 3, 0},
    {{2, 0, 0, 0, 1}, -6, 0, 3, 0},
    {{0, -1, 1, 0, 0}, 5, 0, 0, 0},
    {{-2, -1, 0, 2, 1}, -5, 0, 3, 0},
    {{-2, 0, 0, 0, 1}, -5, 0, 3, 0},
    {{0, 0, 2, 2, 1}, -5, 0, 3, 0},
    {{-2, 0, 2, 0, 1}, 4, 0, 0, 0},
    {{-2, 1, 0, 2, 1}, 4, 0, 0, 0},
    {{0, 0, 1, -2, 0}, 4, 0, 0, 0},
    {{-1, 0, 1, 0, 0}, -4, 0, 0, 0},
    {{-2, 1, 0, 0, 0}, -4, 0, 0, 0},
    {{1, 0, 0, 0, 0}, -4, 0, 0, 0},
    {{0, 0, 1, 2, 0}, 3, 0, 0, 0},
    {{0, 0, -2, 2, 2}, -3, 0, 0, 0},
    {{-1, -1, 1, 0, 0}, -3, 0, 0, 0},
    {{0, 1, 1, 0, 0}, -3, 0, 0, 0},
    {{0, -1, 1, 2, 2}, -3, 0, 0, 0},
    {{2, -1, -1, 2, 2}, -3, 0, 0, 0},
    {{0, 0, 3, 2, 2}, -3, 0, 0, 0},
    {{2, -1, 0, 2, 2}, -3, 0, 0, 0},
};
// clang-format on

template <size_t N> double termSum(const Term (&terms)[N], double jme) {
    double s = 0;
    for (const Term& t : terms)
        s += t.a * std::cos(t.b + t.c * jme);
    return s;
}

// c[0] + c[1]·x + c[2]·x² + …
template <size_t N> double horner(const double (&c)[N], double x) {
    double v = 0;
    for (size_t i = N; i-- > 0;)
        v = v * x + c[i];
    return v;
}

// Eq. 4 (Meeus): Julian day of a UT calendar date; Gregorian calendar (after 1582-10-15) only.
double julianDay(int year, int month, int day, int hour, int minute, double second, double deltaUt1,
                 double timezoneH) {
    double dayDecimal = day + (hour - timezoneH + (minute + (second + deltaUt1) / 60.0) / 60.0) / 24.0;
    if (month < 3) {
        month += 12;
        year -= 1;
    }
    double jd =
        std::floor(365.25 * (year + 4716.0)) + std::floor(30.6001 * (month + 1)) + dayDecimal - 1524.5;
    if (jd > 2299160.0) {
        double a = std::floor(year / 100.0);
        jd += 2 - a + std::floor(a / 4.0);
    }
    return jd;
}

// The geocentric part (sections 3.1–3.10): everything up to α, δ and ν for a given JD and ΔT.
struct Geocentric {
    double jd, jde, jc, jce, jme;
    double l, b, r, theta, beta, dPsi, dEps, eps, dTau, lambda, nu, alpha, delta;
};

Geocentric geocentric(double jd, double deltaT) {
    Geocentric g{};
    g.jd = jd;
    g.jde = jd + deltaT / 86400.0;         // eq. 5
    g.jc = (jd - 2451545.0) / 36525.0;     // eq. 6
    g.jce = (g.jde - 2451545.0) / 36525.0; // eq. 7
    g.jme = g.jce / 10.0;                  // eq. 8
    const double t = g.jme;

    // 3.2: heliocentric longitude, latitude, radius (eqs. 9–12): polynomials in JME whose
    // coefficients are the term sums, in 1e-8 rad and 1e-8 AU.
    const double lSums[6] = {termSum(kL0, t), termSum(kL1, t), termSum(kL2, t),
                             termSum(kL3, t), termSum(kL4, t), termSum(kL5, t)};
    const double rSums[5] = {termSum(kR0, t), termSum(kR1, t), termSum(kR2, t), termSum(kR3, t),
                             termSum(kR4, t)};
    g.l = limitDegrees(horner(lSums, t) / 1e8 / kDeg);
    g.b = (termSum(kB0, t) + t * termSum(kB1, t)) / 1e8 / kDeg;
    g.r = horner(rSums, t) / 1e8;

    // 3.3: geocentric longitude and latitude (eqs. 13–14).
    g.theta = limitDegrees(g.l + 180.0);
    g.beta = -g.b;

    // 3.4: nutation (eqs. 15–24); X0..X4 = D, M, M', F, Ω in degrees.
    const double jce = g.jce;
    const double x[5] = {
        297.85036 + jce * (445267.111480 + jce * (-0.0019142 + jce / 189474.0)),
        357.52772 + jce * (35999.050340 + jce * (-0.0001603 - jce / 300000.0)),
        134.96298 + jce * (477198.867398 + jce * (0.0086972 + jce / 56250.0)),
        93.27191 + jce * (483202.017538 + jce * (-0.0036825 + jce / 327270.0)),
        125.04452 + jce * (-1934.136261 + jce * (0.0020708 + jce / 450000.0)),
    };
    double sumPsi = 0, sumEps = 0;
    for (const NutationTerm& n : kNutation) {
        double arg = 0;
        for (int j = 0; j < 5; ++j)
            arg += x[j] * n.y[j];
        arg *= kDeg;
        sumPsi += (n.a + n.b * jce) * std::sin(arg);
        sumEps += (n.c + n.d * jce) * std::cos(arg);
    }
    g.dPsi = sumPsi / 36000000.0;
    g.dEps = sumEps / 36000000.0;

    // 3.5: true obliquity of the ecliptic (eqs. 24–25), a polynomial in U = JME/10, arcseconds.
    constexpr double kEps0[11] = {84381.448, -4680.93, -1.55, 1999.25, -51.38, -249.67,
                                  -39.05,    7.12,     27.87, 5.79,    2.45};
    const double eps0 = horner(kEps0, g.jme / 10.0);
    g.eps = eps0 / 3600.0 + g.dEps;

    // 3.6–3.7: aberration and apparent sun longitude (eqs. 26–27).
    g.dTau = -20.4898 / (3600.0 * g.r);
    g.lambda = g.theta + g.dPsi + g.dTau;

    // 3.8: apparent sidereal time at Greenwich (eqs. 28–30).
    const double jc = g.jc;
    const double nu0 = limitDegrees(280.46061837 + 360.98564736629 * (jd - 2451545.0) +
                                    jc * jc * (0.000387933 - jc / 38710000.0));
    g.nu = nu0 + g.dPsi * std::cos(g.eps * kDeg);

    // 3.9–3.10: geocentric right ascension and declination (eqs. 31–32).
    const double lam = g.lambda * kDeg, eps = g.eps * kDeg, beta = g.beta * kDeg;
    g.alpha = limitDegrees(
        std::atan2(std::sin(lam) * std::cos(eps) - std::tan(beta) * std::sin(eps), std::cos(lam)) / kDeg);
    g.delta =
        std::asin(std::sin(beta) * std::cos(eps) + std::cos(beta) * std::sin(eps) * std::sin(lam)) / kDeg;
    return g;
}

constexpr double kSunRadiusDeg = 0.26667; // apparent radius used for rise/set and refraction cut-off

} // namespace

SpaDetail solarPositionDetail(const SpaInput& in) {
    const double jd =
        julianDay(in.year, in.month, in.day, in.hour, in.minute, in.second, in.deltaUt1, in.timezoneH);
    const Geocentric g = geocentric(jd, in.deltaT);
    SpaDetail d;
    d.jd = g.jd;
    d.jde = g.jde;
    d.jc = g.jc;
    d.jce = g.jce;
    d.jme = g.jme;
    d.earthLongitudeDeg = g.l;
    d.earthLatitudeDeg = g.b;
    d.earthRadiusAu = g.r;
    d.geocentricLongitudeDeg = g.theta;
    d.geocentricLatitudeDeg = g.beta;
    d.nutationLongitudeDeg = g.dPsi;
    d.nutationObliquityDeg = g.dEps;
    d.trueObliquityDeg = g.eps;
    d.aberrationDeg = g.dTau;
    d.apparentLongitudeDeg = g.lambda;
    d.apparentSiderealTimeDeg = g.nu;
    d.rightAscensionDeg = g.alpha;
    d.declinationDeg = g.delta;

    // 3.11: observer local hour angle (eq. 33).
    d.hourAngleDeg = limitDegrees(g.nu + in.longitudeDeg - g.alpha);

    // 3.12: topocentric right ascension and declination, parallax (eqs. 34–42).
    const double xi = 8.794 / (3600.0 * g.r) * kDeg; // equatorial horizontal parallax
    const double phi = in.latitudeDeg * kDeg;
    const double uu = std::atan(0.99664719 * std::tan(phi));
    const double x = std::cos(uu) + in.elevationM / 6378140.0 * std::cos(phi);
    const double y = 0.99664719 * std::sin(uu) + in.elevationM / 6378140.0 * std::sin(phi);
    const double h = d.hourAngleDeg * kDeg, delta = g.delta * kDeg;
    const double dAlpha =
        std::atan2(-x * std::sin(xi) * std::sin(h), std::cos(delta) - x * std::sin(xi) * std::cos(h));
    const double deltaPrime = std::atan2((std::sin(delta) - y * std::sin(xi)) * std::cos(dAlpha),
                                         std::cos(delta) - x * std::sin(xi) * std::cos(h));
    d.topoRightAscensionDeg = g.alpha + dAlpha / kDeg;
    d.topoDeclinationDeg = deltaPrime / kDeg;
    d.topoHourAngleDeg = d.hourAngleDeg - dAlpha / kDeg; // eq. 42
    const double hp = d.topoHourAngleDeg * kDeg;

    // 3.14: topocentric elevation without and with refraction (eqs. 41–44). The correction is
    // applied only while the sun's upper limb can be above the horizon, as in NREL's reference
    // implementation: below that Bennett's formula diverges.
    const double e0 = std::asin(std::sin(phi) * std::sin(deltaPrime) +
                                std::cos(phi) * std::cos(deltaPrime) * std::cos(hp)) /
                      kDeg;
    double de = 0;
    if (e0 >= -(kSunRadiusDeg + in.atmosphericRefractionDeg))
        de = in.pressureMbar / 1010.0 * 283.0 / (273.0 + in.temperatureC) * 1.02 /
             (60.0 * std::tan((e0 + 10.3 / (e0 + 5.11)) * kDeg));
    d.elevationNoRefractionDeg = e0;
    d.refractionDeg = de;
    d.elevationDeg = e0 + de;

    // 3.14–3.15: zenith and azimuth (eqs. 45–48), azimuth from north, eastward.
    d.angles.zenithDeg = 90.0 - d.elevationDeg;
    const double gamma =
        std::atan2(std::sin(hp), std::cos(hp) * std::sin(phi) - std::tan(deltaPrime) * std::cos(phi));
    d.angles.azimuthDeg = limitDegrees(gamma / kDeg + 180.0);
    return d;
}

SolarAngles solarPosition(const SpaInput& input) {
    return solarPositionDetail(input).angles;
}

SunTimes sunTimes(const SpaInput& in) {
    // A.2.1–A.2.2: ν at 0 UT of the day (with the caller's ΔT), then α and δ at 0 TT (ΔT = 0)
    // of the day before, the day itself and the day after.
    const double jd0 = julianDay(in.year, in.month, in.day, 0, 0, 0, 0, 0);
    const double nu = geocentric(jd0, in.deltaT).nu;
    double alpha[3], delta[3];
    for (int i = 0; i < 3; ++i) {
        Geocentric g = geocentric(jd0 + (i - 1), 0.0);
        alpha[i] = g.alpha;
        delta[i] = g.delta;
    }
    const double phi = in.latitudeDeg * kDeg;
    const double sigma = in.longitudeDeg;

    // A.2.3: approximate transit as a fraction of the day (UT).
    double m[3];
    m[0] = (alpha[1] - sigma - nu) / 360.0;
    // A.2.4: local hour angle of sunrise/sunset for the sun's centre at h0' below the horizon.
    const double h0Prime = -(kSunRadiusDeg + in.atmosphericRefractionDeg);
    const double cosH0 = (std::sin(h0Prime * kDeg) - std::sin(phi) * std::sin(delta[1] * kDeg)) /
                         (std::cos(phi) * std::cos(delta[1] * kDeg));
    const bool riseSet = std::abs(cosH0) <= 1.0;
    const double h0 = riseSet ? std::acos(cosH0) / kDeg : 0.0;
    // A.2.5: rise (m1) and set (m2), all limited to [0, 1).
    m[1] = limitZeroToOne(m[0] - h0 / 360.0);
    m[2] = limitZeroToOne(m[0] + h0 / 360.0);
    m[0] = limitZeroToOne(m[0]);

    // A.2.6–A.2.8: interpolate α and δ for each event. The paper folds a day-to-day difference
    // larger than 2° into [0, 1); wrapping into (−180°, 180°] instead keeps the 1°/day step of α
    // correct on the days where α passes 360° → 0° (around 21 March).
    auto interpolate = [](const double v[3], double n, bool angle) {
        double a = v[1] - v[0], b = v[2] - v[1];
        if (angle) {
            a = limitDegrees180pm(a);
            b = limitDegrees180pm(b);
        }
        return v[1] + n * (a + b + (b - a) * n) / 2.0;
    };
    double hPrime[3], hAlt[3], dPrime[3];
    for (int i = 0; i < 3; ++i) {
        const double nuI = nu + 360.985647 * m[i];
        const double n = m[i] + in.deltaT / 86400.0;
        const double aP = interpolate(alpha, n, true);
        dPrime[i] = interpolate(delta, n, false);
        hPrime[i] = limitDegrees180pm(nuI + sigma - aP);                 // A.2.9
        hAlt[i] = std::asin(std::sin(phi) * std::sin(dPrime[i] * kDeg) + // A.2.10
                            std::cos(phi) * std::cos(dPrime[i] * kDeg) * std::cos(hPrime[i] * kDeg)) /
                  kDeg;
    }
    auto toLocalHours = [&](double dayFraction) {
        return 24.0 * limitZeroToOne(dayFraction + in.timezoneH / 24.0);
    };

    SunTimes out;
    out.transitH = toLocalHours(m[0] - hPrime[0] / 360.0); // A.2.11
    if (riseSet) {
        auto event = [&](int i) { // A.2.12–A.2.13
            return m[i] + (hAlt[i] - h0Prime) / (360.0 * std::cos(dPrime[i] * kDeg) * std::cos(phi) *
                                                 std::sin(hPrime[i] * kDeg));
        };
        out.sunriseH = toLocalHours(event(1));
        out.sunsetH = toLocalHours(event(2));
    }
    return out;
}

} // namespace ct::energy
