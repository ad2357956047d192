#include "render/Sun.h"

#include <cmath>

namespace ct::render {

namespace {
constexpr double pi = 3.14159265358979323846;
constexpr double rad = pi / 180;
} // namespace

Vec3 SunPosition::direction() const {
    double a = azimuthDeg * rad, e = elevationDeg * rad;
    return {std::sin(a) * std::cos(e), std::cos(a) * std::cos(e), std::sin(e)};
}

SunPosition sunPosition(const Instant& when, double latDeg, double lonDeg) {
    // Day of year and UTC hour from the Unix time.
    int64_t days = when.utcSeconds >= 0 ? when.utcSeconds / 86400 : (when.utcSeconds - 86399) / 86400;
    double hourUtc = double(when.utcSeconds - days * 86400) / 3600.0;
    // Civil year of `days` (inverse of daysFromCivil) for the day of year.
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy0 = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy0 + 2) / 153, month = mp < 10 ? mp + 3 : mp - 9;
    if (month <= 2) ++y;
    int64_t dayOfYear = days - daysFromCivil(y, 1, 1) + 1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    double g = 2 * pi / (leap ? 366 : 365) * (double(dayOfYear) - 1 + (hourUtc - 12) / 24);
    double eqTimeMin = 229.18 * (0.000075 + 0.001868 * std::cos(g) - 0.032077 * std::sin(g) - 0.014615 * std::cos(2 * g) -
                                 0.040849 * std::sin(2 * g));
    double decl = 0.006918 - 0.399912 * std::cos(g) + 0.070257 * std::sin(g) - 0.006758 * std::cos(2 * g) +
                  0.000907 * std::sin(2 * g) - 0.002697 * std::cos(3 * g) + 0.00148 * std::sin(3 * g);
    double trueSolarMin = hourUtc * 60 + eqTimeMin + 4 * lonDeg;
    double hourAngle = (trueSolarMin / 4 - 180) * rad;
    double lat = latDeg * rad;
    double cosZenith = std::sin(lat) * std::sin(decl) + std::cos(lat) * std::cos(decl) * std::cos(hourAngle);
    cosZenith = std::clamp(cosZenith, -1.0, 1.0);
    SunPosition s;
    s.elevationDeg = 90 - std::acos(cosZenith) / rad;
    double az = std::atan2(-std::sin(hourAngle), std::tan(decl) * std::cos(lat) - std::sin(lat) * std::cos(hourAngle));
    s.azimuthDeg = std::fmod(az / rad + 360, 360);
    return s;
}

} // namespace ct::render
