#pragma once
// A weather year for the energy model: 8760 hourly values (leap days dropped), hour h the
// mean over [h, h+1) in local standard time from 1 January 00:00. Read from EnergyPlus EPW or
// DWD test reference year (TRY 2015/2045 .dat) files, or generated for a place from clear-sky
// radiation and a cloud and temperature climatology (docs/energy.md).
#include "sim/energy/SolarPosition.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ct::energy {

struct WeatherYear {
    std::string source;           // file name or "generated"
    double latitudeDeg = 0, longitudeDeg = 0, elevationM = 0;
    double timezoneH = 1;         // local standard time − UTC
    int year = 2015;              // nominal (the calendar of the rows)
    std::vector<float> ghi, dni, dhi; // W/m²: global horizontal, direct normal, diffuse horizontal
    std::vector<float> temperatureC, windMs;
    size_t hours() const { return temperatureC.size(); }
};

// EPW (EnergyPlus): location line for latitude/longitude/time zone/elevation, 8760 rows.
// InputError naming file and line for a short file, wrong column count or missing values.
WeatherYear readEpw(const std::filesystem::path& file);
// DWD TRY .dat: header up to the "***" line (coordinates in it), 8760 rows, hour 1–24 in MEZ
// without daylight saving; B direct horizontal, D diffuse horizontal (DNI derived with the
// sun position). Missing values ("-", 9999 and the like) are InputErrors naming the line.
WeatherYear readDwdTry(const std::filesystem::path& file);
// By extension (.epw, .dat).
WeatherYear readWeather(const std::filesystem::path& file);
// A year the project makes itself: clear-sky radiation thinned by a monthly cloud
// climatology, a monthly and daily temperature cycle for Ostwestfalen-Lippe; deterministic
// for a seed.
WeatherYear generatedWeather(double latitudeDeg, double longitudeDeg, double elevationM, unsigned seed);

// Sun position for each hour of the weather year at the weather's location, at the middle of
// the hour or, in the hours of sunrise and sunset, at the middle of the sunlit part (as
// PVWatts does). Day d of the year is the d-th day of a year without 29 February.
std::vector<SolarAngles> hourlySun(const WeatherYear& weather);

} // namespace ct::energy
