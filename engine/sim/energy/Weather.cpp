// Weather years: EPW and DWD TRY readers and a generated year for Ostwestfalen-Lippe.
// docs/validation/energy.md ("Weather files") has the checks and the sources of the climatology.
#include "sim/energy/Weather.h"

#include "core/Error.h"
#include "core/Geo.h"
#include "sim/energy/Irradiance.h"
#include "sim/energy/SolarPosition.h"

#include <algorithm>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace ct::energy {
namespace {

constexpr int kHours = 8760;
constexpr int kDaysInMonth[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

int dayOfYear(int month, int day) {
    int d = day;
    for (int m = 1; m < month; ++m)
        d += kDaysInMonth[m - 1];
    return d;
}

// Month (1–12) and day of month of a day of a non-leap year (1–365).
std::pair<int, int> monthDay(int doy) {
    int m = 1;
    while (doy > kDaysInMonth[m - 1])
        doy -= kDaysInMonth[m++ - 1];
    return {m, doy};
}

// InputError naming the first hour no row gave (lineOfHour[h] == 0).
void requireEveryHour(const std::vector<size_t>& lineOfHour, size_t rows, const std::string& where, const std::string& hint) {
    const auto missing = std::find(lineOfHour.begin(), lineOfHour.end(), size_t(0));
    if (missing == lineOfHour.end()) return;
    const int h = int(missing - lineOfHour.begin());
    auto [m, d] = monthDay(h / 24 + 1);
    throw InputError(fmt::format("the file ends after {} data rows; {:02}-{:02} hour {} is missing", rows, m, d, h % 24 + 1),
                     where, hint);
}

std::string readWholeFile(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError("cannot open the weather file", file.string(),
                         "check the path; EPW (.epw) and DWD TRY (.dat) files are supported");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3); // UTF-8 BOM
    return text;
}

std::vector<std::string_view> splitLines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::optional<double> parseNumber(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

std::string where(const fs::path& file, size_t lineIndex) {
    return fmt::format("{}:{}", file.string(), lineIndex + 1);
}

WeatherYear emptyYear(const fs::path& file) {
    WeatherYear w;
    w.source = file.filename().string();
    for (auto* v : {&w.ghi, &w.dni, &w.dhi, &w.temperatureC, &w.windMs})
        v->assign(kHours, 0.0f);
    return w;
}

// Sun position at the middle of hour `h` (0–8759) of the non-leap nominal year, local standard time.
SolarAngles sunAtHourMiddle(const WeatherYear& w, int h, double pressureMbar = 1013.25,
                            double temperatureC = 15.0) {
    auto [month, day] = monthDay(h / 24 + 1);
    SpaInput in;
    in.year = w.year;
    in.month = month;
    in.day = day;
    in.hour = h % 24;
    in.minute = 30;
    in.timezoneH = w.timezoneH;
    in.latitudeDeg = w.latitudeDeg;
    in.longitudeDeg = w.longitudeDeg;
    in.elevationM = w.elevationM;
    in.pressureMbar = pressureMbar;
    in.temperatureC = temperatureC;
    return solarPosition(in);
}

// ---- EPW ----------------------------------------------------------------------------------

std::vector<std::string_view> splitCsv(std::string_view line) {
    std::vector<std::string_view> f;
    size_t start = 0;
    while (true) {
        size_t comma = line.find(',', start);
        f.push_back(
            line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return f;
}

// EPW data columns the energy model uses (1-based, EnergyPlus Auxiliary Programs, "Weather
// Converter Program") and the value the format uses for "missing".
struct EpwColumn {
    int column;
    const char* name;
    double missingAtOrAbove;
};
constexpr EpwColumn kEpwTemperature{7, "dry bulb temperature", 99.9};
constexpr EpwColumn kEpwGhi{14, "global horizontal radiation", 9999};
constexpr EpwColumn kEpwDni{15, "direct normal radiation", 9999};
constexpr EpwColumn kEpwDhi{16, "diffuse horizontal radiation", 9999};
constexpr EpwColumn kEpwWind{22, "wind speed", 999};

} // namespace

WeatherYear readEpw(const fs::path& file) {
    const std::string text = readWholeFile(file);
    const auto lines = splitLines(text);
    const std::string hintFormat =
        "an EPW file has a LOCATION line, header lines up to DATA PERIODS, then 8760 hourly rows";

    if (lines.empty() || !lines[0].starts_with("LOCATION"))
        throw InputError("the first line is not the EPW LOCATION line", where(file, 0), hintFormat);
    WeatherYear w = emptyYear(file);
    {
        const auto f = splitCsv(lines[0]);
        const char* names[4] = {"latitude", "longitude", "time zone", "elevation"};
        double values[4];
        for (int i = 0; i < 4; ++i) {
            auto v = f.size() > size_t(6 + i) ? parseNumber(f[6 + i]) : std::nullopt;
            if (!v)
                throw InputError(
                    fmt::format("LOCATION field {} ({}) is missing or not a number", 7 + i, names[i]),
                    where(file, 0), "LOCATION,city,state,country,source,WMO,lat,lon,tz,elevation");
            values[i] = *v;
        }
        w.latitudeDeg = values[0];
        w.longitudeDeg = values[1];
        w.timezoneH = values[2];
        w.elevationM = values[3];
    }

    // The data start after DATA PERIODS (line 8 in every EPW we know; searched to be tolerant).
    size_t first = 0;
    for (size_t i = 1; i < lines.size() && i < 40; ++i)
        if (lines[i].starts_with("DATA PERIODS")) {
            const auto f = splitCsv(lines[i]);
            auto perHour = f.size() > 2 ? parseNumber(f[2]) : std::nullopt;
            if (perHour && *perHour != 1)
                throw InputError(
                    fmt::format("{} records per hour; only hourly EPW files are supported", *perHour),
                    where(file, i), "resample the file to hourly values");
            first = i + 1;
            break;
        }
    if (first == 0) throw InputError("no DATA PERIODS line in the EPW header", where(file, 0), hintFormat);

    std::vector<size_t> lineOfHour(kHours, 0);
    size_t expectedColumns = 0, rows = 0, lastLine = first;
    for (size_t li = first; li < lines.size(); ++li) {
        if (trim(lines[li]).empty()) continue;
        lastLine = li;
        const auto f = splitCsv(lines[li]);
        if (expectedColumns == 0) {
            if (f.size() < 22)
                throw InputError(fmt::format("data row has {} columns; an EPW row has 35", f.size()),
                                 where(file, li), hintFormat);
            expectedColumns = f.size();
        } else if (f.size() != expectedColumns) {
            throw InputError(
                fmt::format("data row has {} columns, the rows before have {}", f.size(), expectedColumns),
                where(file, li), "the row is cut or has an extra comma; repair or re-export the file");
        }
        auto number = [&](int column, const char* name) {
            auto v = parseNumber(f[column - 1]);
            if (!v)
                throw InputError(
                    fmt::format("column {} ({}) is not a number: '{}'", column, name, trim(f[column - 1])),
                    where(file, li), "EPW data rows hold numbers only");
            return *v;
        };
        const int month = int(number(2, "month")), day = int(number(3, "day")), hour = int(number(4, "hour"));
        if (month < 1 || month > 12 || day < 1 || day > (month == 2 ? 29 : kDaysInMonth[month - 1]) ||
            hour < 1 || hour > 24)
            throw InputError(fmt::format("invalid date {:02}-{:02} hour {}", month, day, hour),
                             where(file, li), "month 1–12, day of the month, hour 1–24");
        ++rows;
        if (month == 2 && day == 29) continue; // leap day dropped: the model year has 365 days
        const int h = (dayOfYear(month, day) - 1) * 24 + hour - 1; // EPW hour 1 = 00:00–01:00
        if (lineOfHour[h] != 0)
            throw InputError(fmt::format("second row for {:02}-{:02} hour {} (the first is on line {})",
                                         month, day, hour, lineOfHour[h] + 1),
                             where(file, li), "each hour of the year appears once");
        lineOfHour[h] = li;

        auto value = [&](const EpwColumn& c, double lowest) {
            const double v = number(c.column, c.name);
            if (v >= c.missingAtOrAbove)
                throw InputError(fmt::format("column {} ({}) is {}, the EPW marker for a missing value",
                                             c.column, c.name, trim(f[c.column - 1])),
                                 where(file, li),
                                 "fill the gap (e.g. interpolate) or use a complete weather file");
            if (v < lowest)
                throw InputError(fmt::format("column {} ({}) is {}, below {}", c.column, c.name, v, lowest),
                                 where(file, li),
                                 "check the file; radiation and wind speed cannot be negative");
            return float(v);
        };
        w.temperatureC[h] = value(kEpwTemperature, -90.0);
        w.ghi[h] = value(kEpwGhi, 0.0);
        w.dni[h] = value(kEpwDni, 0.0);
        w.dhi[h] = value(kEpwDhi, 0.0);
        w.windMs[h] = value(kEpwWind, 0.0);
        if (rows == 1) w.year = int(number(1, "year"));
    }
    requireEveryHour(lineOfHour, rows, where(file, lastLine), "an EPW year has 8760 hourly rows (8784 in a leap year)");
    return w;
}

// ---- DWD TRY ------------------------------------------------------------------------------

namespace {

// Column order of the TRY 2015/2045 data rows (DWD/BBSR "Handbuch Ortsgenaue Testreferenzjahre",
// repeated in every file's header): RW HW MM DD HH t p WR WG N x RF B D A E IL.
enum TryColumn { kRw, kHw, kMm, kDd, kHh, kT, kP, kWr, kWg, kN, kX, kRf, kB, kD, kA, kE, kIl, kTryColumns };
constexpr const char* kTryNames[kTryColumns] = {
    "RW (Rechtswert)",       "HW (Hochwert)",          "MM (month)",        "DD (day)",
    "HH (hour, MEZ)",        "t (air temperature)",    "p (pressure)",      "WR (wind direction)",
    "WG (wind speed)",       "N (cloud cover)",        "x (mixing ratio)",  "RF (relative humidity)",
    "B (direct horizontal)", "D (diffuse horizontal)", "A (longwave down)", "E (longwave up)",
    "IL (quality bit)"};

// DNI from the direct horizontal B: B / cos z at the middle of the hour, only up to 85° zenith
// and at most 1100 W/m²; the part of B that cannot be carried as beam stays in the diffuse, so
// DNI·cos z + DHI = GHI = B + D holds for every hour.
constexpr double kTryMaxZenithDeg = 85.0;
constexpr double kTryMaxDni = 1100.0;

} // namespace

WeatherYear readDwdTry(const fs::path& file) {
    const std::string text = readWholeFile(file);
    const auto lines = splitLines(text);
    const std::string hintFormat =
        "a DWD TRY file has a header ending with a line starting '***', then 8760 rows "
        "'RW HW MM DD HH t p WR WG N x RF B D A E IL'";
    WeatherYear w = emptyYear(file);
    w.year = 2015;     // nominal: the TRY rows are a non-leap year without a year column
    w.timezoneH = 1.0; // MEZ, no daylight saving time

    std::optional<double> rw, hw, lat, lon, height;
    size_t first = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.starts_with("***")) {
            first = i + 1;
            break;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view key = trim(line.substr(0, colon));
        std::string_view rest = trim(line.substr(colon + 1));
        rest = rest.substr(0, rest.find(' ')); // "3731500 Meter" → "3731500"
        auto v = parseNumber(rest);
        if (key == "Rechtswert")
            rw = v;
        else if (key == "Hochwert")
            hw = v;
        else if (key == "Hoehenlage" || key == "Höhenlage")
            height = v;
        else if (key == "Breite" || key == "Geographische Breite")
            lat = v;
        else if (key == "Laenge" || key == "Länge" || key == "Geographische Laenge" ||
                 key == "Geographische Länge")
            lon = v;
    }
    if (first == 0)
        throw InputError("no line starting with '***' ends the header", file.string(), hintFormat);
    if (lat && lon) {
        w.latitudeDeg = *lat;
        w.longitudeDeg = *lon;
    } else if (rw && hw) {
        // TRY 2015/2045 grid: Lambert conformal conic on ETRS89 (standard parallels 35° and 65°,
        // origin 52° N 10° E, false easting/northing 4000 km/2800 km) = EPSG:3034.
        Reprojector toWgs84(Crs::fromEpsg(3034), Crs::fromEpsg(4326));
        double x = *rw, y = *hw;
        if (!toWgs84.apply(&x, &y, 1))
            throw InputError(
                fmt::format("Rechtswert {} / Hochwert {} cannot be converted to latitude/longitude", *rw,
                            *hw),
                file.string(), "check the header coordinates (Lambert conformal conic, metres)");
        w.longitudeDeg = x;
        w.latitudeDeg = y;
    } else {
        throw InputError("the header has no coordinates (Rechtswert/Hochwert or Breite/Laenge)",
                         file.string(), hintFormat);
    }
    if (height) w.elevationM = *height;

    std::vector<size_t> lineOfHour(kHours, 0);
    std::vector<float> beam(kHours, 0.f), pressure(kHours, 1013.25f);
    size_t rows = 0, lastLine = first;
    for (size_t li = first; li < lines.size(); ++li) {
        std::string_view line = trim(lines[li]);
        if (line.empty()) continue;
        lastLine = li;
        std::vector<std::string_view> f;
        for (size_t p = 0; p < line.size();) {
            while (p < line.size() && (line[p] == ' ' || line[p] == '\t'))
                ++p;
            size_t e = p;
            while (e < line.size() && line[e] != ' ' && line[e] != '\t')
                ++e;
            if (e > p) f.push_back(line.substr(p, e - p));
            p = e;
        }
        if (f.size() != kTryColumns)
            throw InputError(
                fmt::format("data row has {} columns, a TRY row has {}", f.size(), int(kTryColumns)),
                where(file, li), hintFormat);
        auto number = [&](int c) {
            auto v = parseNumber(f[c]);
            if (!v)
                throw InputError(fmt::format("column {} {} is '{}', not a number (missing value?)", c + 1,
                                             kTryNames[c], f[c]),
                                 where(file, li), "fill the gap or use a complete TRY file");
            return *v;
        };
        const int month = int(number(kMm)), day = int(number(kDd)), hour = int(number(kHh));
        if (month < 1 || month > 12 || day < 1 || day > (month == 2 ? 29 : kDaysInMonth[month - 1]) ||
            hour < 1 || hour > 24)
            throw InputError(fmt::format("invalid date {:02}-{:02} hour {}", month, day, hour),
                             where(file, li), "MM 1–12, DD day of the month, HH 1–24 (MEZ)");
        ++rows;
        if (month == 2 && day == 29) continue;
        const int h = (dayOfYear(month, day) - 1) * 24 + hour - 1; // HH = mean over (HH−1, HH] MEZ
        if (lineOfHour[h] != 0)
            throw InputError(fmt::format("second row for {:02}-{:02} hour {} (the first is on line {})",
                                         month, day, hour, lineOfHour[h] + 1),
                             where(file, li), "each hour of the year appears once");
        lineOfHour[h] = li;
        // Missing-value markers of DWD products (−99, −99.9, −999, 999.9, 9999): outside these bounds.
        auto checked = [&](int c, double lo, double hi) {
            const double v = number(c);
            if (v < lo || v >= hi)
                throw InputError(fmt::format("column {} {} is {}, outside [{}, {}): a missing-value marker?",
                                             c + 1, kTryNames[c], f[c], lo, hi),
                                 where(file, li), "fill the gap or use a complete TRY file");
            return float(v);
        };
        w.temperatureC[h] = checked(kT, -60.0, 60.0);
        w.windMs[h] = checked(kWg, 0.0, 80.0);
        beam[h] = checked(kB, 0.0, 1400.0);
        w.dhi[h] = checked(kD, 0.0, 1400.0);
        const double p = number(kP);
        if (p > 500 && p < 1100) pressure[h] = float(p); // only for the refraction of the sun position
    }
    requireEveryHour(lineOfHour, rows, where(file, lastLine), "a TRY year has 8760 hourly rows");

    for (int h = 0; h < kHours; ++h) {
        const float ghi = beam[h] + w.dhi[h];
        w.ghi[h] = ghi;
        w.dni[h] = 0.f;
        if (beam[h] <= 0.f) continue;
        const SolarAngles sun = sunAtHourMiddle(w, h, pressure[h], w.temperatureC[h]);
        if (sun.zenithDeg >= kTryMaxZenithDeg) {
            w.dhi[h] = ghi;
            continue;
        }
        const double cosZ = std::cos(sun.zenithDeg * kDeg);
        const double dni = std::min(beam[h] / cosZ, kTryMaxDni);
        w.dni[h] = float(dni);
        w.dhi[h] = float(std::max(0.0, ghi - dni * cosZ));
    }
    return w;
}

WeatherYear readWeather(const fs::path& file) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".epw") return readEpw(file);
    if (ext == ".dat") return readDwdTry(file);
    throw InputError(fmt::format("unknown weather file type '{}'", ext), file.string(),
                     "supported: .epw (EnergyPlus EPW), .dat (DWD test reference year TRY 2015/2045)");
}

// ---- Generated year -----------------------------------------------------------------------

namespace {

// Monthly global horizontal irradiation, kWh/m². Shape: DWD area means for Germany, 1991–2020
// (April and May: 1981–2010, the only reference periods the DWD monthly reports give for them),
// as quoted in the monthly DWD radiation reports on solarserver.de; sum 1077 kWh/m². Level: the
// annual sum scaled to 1000 kWh/m², the 1991–2020 mean of most of NRW including Ostwestfalen-Lippe
// (LANUV Klimaatlas NRW, "Globalstrahlung"). Sources listed in docs/validation/energy.md.
constexpr double kGermanyMonthlyGhiKWh[12] = {23, 40, 80, 117, 153, 165, 164, 141, 95, 56, 26, 17};
constexpr double kOwlAnnualGhiKWh = 1000.0;

// Monthly Linke turbidity (air mass 2) for the north-west German lowlands: typical values of the
// SoDa/Remund et al. (2003) climatology for this region (low in winter, ≈4.4 in summer haze).
// They shape the clear-sky day and the beam/diffuse split; the monthly totals come from the
// irradiation table above.
constexpr double kLinkeTurbidity[12] = {3.0, 3.2, 3.5, 3.9, 4.1, 4.3, 4.4, 4.3, 3.9, 3.4, 3.1, 2.9};

// Monthly mean air temperature, °C: DWD station Bad Lippspringe (near Paderborn, 157 m), normal
// period 1961–1990, mean 8.8 °C; consistent with the station's monthly deviations from normal that
// DWD reports, but not yet compared with DWD's normals file (docs/validation/energy.md).
constexpr double kMonthlyTempC[12] = {0.9, 1.6, 4.3, 7.6, 12.0, 15.2, 16.8, 16.5, 13.5, 9.7, 5.0, 2.1};
// Mean daily temperature range (max − min), K: assumed typical values for a lowland site in
// north-west Germany (narrow in the cloudy winter, ≈11 K in summer); not from a station table.
constexpr double kDailyRangeK[12] = {5.0, 6.0, 7.5, 9.5, 10.5, 10.5, 10.5, 10.5, 9.5, 7.5, 5.5, 4.5};
constexpr double kWindMs = 3.0; // placeholder 10 m wind speed, constant; not a climatology

// Deterministic random numbers: the raw mt19937_64 sequence is fixed by the C++ standard, the
// standard distributions are not, so uniform and normal variates are made here.
struct Rng {
    std::mt19937_64 engine;
    explicit Rng(unsigned seed) : engine(seed) {}
    double uniform() { return double(engine() >> 11) * 0x1.0p-53; }
    double normal() {
        double u1 = uniform();
        while (u1 <= 0)
            u1 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * uniform());
    }
};

double normalCdf(double z) {
    return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

// Day-of-year centre of each month (non-leap year), for interpolating monthly values.
std::array<double, 12> monthCentres() {
    std::array<double, 12> c{};
    int start = 0;
    for (int m = 0; m < 12; ++m) {
        c[m] = start + kDaysInMonth[m] / 2.0;
        start += kDaysInMonth[m];
    }
    return c;
}

// Value `dayPos` days after 1 January 00:00 on the periodic piecewise-linear curve through knots
// at the month centres.
double periodicInterp(const std::array<double, 12>& knots, double dayPos) {
    static const std::array<double, 12> c = monthCentres();
    for (int m = 0; m < 12; ++m) {
        const int n = (m + 1) % 12;
        double c0 = c[m], c1 = c[n] + (n == 0 ? 365.0 : 0.0);
        double x = dayPos;
        if (m == 11 && x < c[0]) x += 365.0;
        if (x >= c0 && x < c1) return knots[m] + (knots[n] - knots[m]) * (x - c0) / (c1 - c0);
    }
    return knots[0];
}

// Knots whose interpolated daily values average to `targets` in every month: a linear curve
// through the monthly means themselves would flatten the annual cycle.
std::array<double, 12> meanPreservingKnots(const double (&targets)[12]) {
    std::array<double, 12> knots{};
    for (int m = 0; m < 12; ++m)
        knots[m] = targets[m];
    for (int iter = 0; iter < 50; ++iter) {
        int day = 0;
        for (int m = 0; m < 12; ++m) {
            double sum = 0;
            for (int d = 0; d < kDaysInMonth[m]; ++d)
                sum += periodicInterp(knots, day + d + 0.5);
            day += kDaysInMonth[m];
            knots[m] += targets[m] - sum / kDaysInMonth[m];
        }
    }
    return knots;
}

} // namespace

WeatherYear generatedWeather(double latitudeDeg, double longitudeDeg, double elevationM, unsigned seed) {
    WeatherYear w;
    w.source = "generated";
    w.latitudeDeg = latitudeDeg;
    w.longitudeDeg = longitudeDeg;
    w.elevationM = elevationM;
    w.timezoneH = 1.0; // CET, like the climatology's stations
    w.year = 2015;
    for (auto* v : {&w.ghi, &w.dni, &w.dhi, &w.temperatureC, &w.windMs})
        v->assign(kHours, 0.0f);
    Rng rng(seed);

    // Clear sky at the middle of every hour.
    std::vector<double> zenith(kHours), csGhi(kHours), csDni(kHours), dniExtra(kHours);
    std::array<double, 12> linkeKnots{};
    for (int m = 0; m < 12; ++m)
        linkeKnots[m] = kLinkeTurbidity[m];
    for (int h = 0; h < kHours; ++h) {
        const int doy = h / 24 + 1;
        zenith[h] = sunAtHourMiddle(w, h).zenithDeg;
        dniExtra[h] = extraterrestrialNormal(doy);
        const ClearSky cs =
            ineichen(zenith[h], dniExtra[h], periodicInterp(linkeKnots, doy - 0.5), elevationM);
        csGhi[h] = cs.ghi;
        csDni[h] = cs.dni;
    }

    // Daily cloudiness: k = fraction of the clear-sky day that gets through. A persistent
    // (AR(1), ρ = 0.5) Gaussian mapped to uniform, then to k = 0.1 + 0.9·u^a with the exponent a
    // giving the month's mean; the month is then scaled to the target sum exactly.
    constexpr double kMin = 0.1, kMax = 1.0;
    std::vector<double> dayK(365);
    std::vector<double> ghi(kHours, 0.0);
    double z = 0;
    int day0 = 0;
    for (int m = 0; m < 12; ++m) {
        const int days = kDaysInMonth[m];
        const double targetWh = kGermanyMonthlyGhiKWh[m] * (kOwlAnnualGhiKWh / 1077.0) * 1000.0;
        double clearWh = 0;
        for (int h = day0 * 24; h < (day0 + days) * 24; ++h)
            clearWh += csGhi[h];
        const double ratio = std::clamp(targetWh / clearWh, kMin + 0.02, 0.9);
        const double a = (kMax - kMin) / (ratio - kMin) - 1.0;
        for (int d = day0; d < day0 + days; ++d) {
            z = 0.5 * z + std::sqrt(1 - 0.25) * rng.normal();
            dayK[d] = kMin + (kMax - kMin) * std::pow(normalCdf(z), a);
        }
        // Hourly: the day's k with some hour-to-hour scatter on broken-cloud days.
        for (int d = day0; d < day0 + days; ++d)
            for (int h = d * 24; h < d * 24 + 24; ++h) {
                const double k = dayK[d];
                const double scatter = 1.0 * k * (1.0 - k); // 0 for clear or overcast, 0.25 at k = 0.5
                ghi[h] = csGhi[h] * k * std::clamp(1.0 + scatter * rng.normal(), 0.3, 1.7);
            }
        // Scale to the month's target; no hour above 1.1 × clear sky (repeat to redistribute).
        for (int iter = 0; iter < 20; ++iter) {
            double sum = 0;
            for (int h = day0 * 24; h < (day0 + days) * 24; ++h)
                sum += ghi[h];
            if (sum <= 0) break;
            const double s = targetWh / sum;
            for (int h = day0 * 24; h < (day0 + days) * 24; ++h)
                ghi[h] = std::min(ghi[h] * s, 1.1 * csGhi[h]);
        }
        day0 += days;
    }

    // Beam/diffuse split (Erbs) and the clear-sky beam as the upper bound of the DNI.
    for (int h = 0; h < kHours; ++h) {
        if (ghi[h] <= 0 || zenith[h] >= 90.0) continue;
        const double cosZ = std::cos(zenith[h] * kDeg);
        const double kt = ghi[h] / (dniExtra[h] * cosZ);
        double dhi = erbsDiffuseFraction(kt) * ghi[h];
        double dni = zenith[h] < 87.0 ? (ghi[h] - dhi) / cosZ : 0.0;
        dni = std::min(dni, csDni[h]);
        dhi = ghi[h] - dni * cosZ;
        w.ghi[h] = float(ghi[h]);
        w.dni[h] = float(dni);
        w.dhi[h] = float(dhi);
    }

    // Temperature: the monthly means through mean-preserving daily values, a persistent daily
    // anomaly (AR(1), ρ = 0.75, σ = 2.5 K) made zero-mean within each month, and a daily cycle with
    // the minimum at sunrise and the maximum at 15:00; the range grows on sunny days.
    const auto tempKnots = meanPreservingKnots(kMonthlyTempC);
    std::array<double, 12> rangeKnots{};
    for (int m = 0; m < 12; ++m)
        rangeKnots[m] = kDailyRangeK[m];
    std::vector<double> dayMean(365), dayRange(365), sunrise(365);
    double anomaly = 0;
    day0 = 0;
    for (int m = 0; m < 12; ++m) {
        const int days = kDaysInMonth[m];
        double sumK = 0, sumA = 0;
        std::vector<double> an(days);
        for (int i = 0; i < days; ++i) {
            anomaly = 0.75 * anomaly + 2.5 * std::sqrt(1 - 0.75 * 0.75) * rng.normal();
            an[i] = anomaly;
            sumA += anomaly;
            sumK += dayK[day0 + i];
        }
        const double meanK = sumK / days;
        for (int i = 0; i < days; ++i) {
            const int d = day0 + i;
            dayMean[d] = periodicInterp(tempKnots, d + 0.5) + an[i] - sumA / days;
            dayRange[d] = periodicInterp(rangeKnots, d + 0.5) *
                          std::clamp((0.4 + 1.2 * dayK[d]) / (0.4 + 1.2 * meanK), 0.5, 1.6);
            auto [mm, dd] = monthDay(d + 1);
            SpaInput in;
            in.year = w.year;
            in.month = mm;
            in.day = dd;
            in.timezoneH = w.timezoneH;
            in.latitudeDeg = latitudeDeg;
            in.longitudeDeg = longitudeDeg;
            in.elevationM = elevationM;
            const SunTimes t = sunTimes(in);
            sunrise[d] = t.sunriseH ? std::clamp(*t.sunriseH, 3.0, 10.0) : 6.0;
        }
        day0 += days;
    }
    // Continuous in time: day values interpolated between noons, the cycle running from −1 at
    // each sunrise to +1 at 15:00 and back, as half cosines.
    auto dayValue = [&](const std::vector<double>& v, double tDays) {
        const double x = tDays - 0.5;
        const int i0 = int(std::floor(x));
        const double f = x - i0;
        return v[(i0 + 365) % 365] * (1 - f) + v[(i0 + 366) % 365] * f;
    };
    constexpr double kMaxHour = 15.0;
    for (int h = 0; h < kHours; ++h) {
        const int d = h / 24;
        const double hour = h % 24 + 0.5;
        double shape;
        if (hour < sunrise[d]) { // falling from yesterday's 15:00 to today's sunrise
            const double span = 24.0 - kMaxHour + sunrise[d];
            shape = std::cos(kPi * (hour + 24.0 - kMaxHour) / span);
        } else if (hour < kMaxHour) {
            shape = -std::cos(kPi * (hour - sunrise[d]) / (kMaxHour - sunrise[d]));
        } else {
            const double span = 24.0 - kMaxHour + sunrise[(d + 1) % 365];
            shape = std::cos(kPi * (hour - kMaxHour) / span);
        }
        const double t = h / 24.0 + 0.5 / 24.0;
        w.temperatureC[h] = float(dayValue(dayMean, t) + 0.5 * dayValue(dayRange, t) * shape);
        w.windMs[h] = float(kWindMs);
    }
    return w;
}

namespace {
SpaInput spaFor(const WeatherYear& w, int dayIndex, double hourOfDay) {
    SpaInput in;
    in.year = w.year;
    std::tie(in.month, in.day) = monthDay(dayIndex + 1);
    hourOfDay = std::clamp(hourOfDay, 0.0, 23.9999);
    in.hour = static_cast<int>(hourOfDay);
    const double minutes = (hourOfDay - in.hour) * 60;
    in.minute = static_cast<int>(minutes);
    in.second = (minutes - in.minute) * 60;
    in.timezoneH = w.timezoneH;
    in.latitudeDeg = w.latitudeDeg;
    in.longitudeDeg = w.longitudeDeg;
    in.elevationM = w.elevationM;
    return in;
}

} // namespace

std::vector<SolarAngles> hourlySun(const WeatherYear& w) {
    const size_t n = w.hours();
    const int days = static_cast<int>((n + 23) / 24);
    std::vector<SunTimes> times(static_cast<size_t>(days));
    tbb::parallel_for(0, days, [&](int d) { times[size_t(d)] = sunTimes(spaFor(w, d % 365, 12)); });
    std::vector<SolarAngles> sun(n);
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 64), [&](const tbb::blocked_range<size_t>& r) {
        for (size_t h = r.begin(); h < r.end(); ++h) {
            const int d = static_cast<int>(h / 24), hour = static_cast<int>(h % 24);
            const SunTimes& st = times[size_t(d)];
            // The middle of the hour, or of its sunlit part in the hours of sunrise and sunset.
            double from = hour, to = hour + 1.0;
            if (st.sunriseH && *st.sunriseH > from && *st.sunriseH < to) from = *st.sunriseH;
            if (st.sunsetH && *st.sunsetH > from && *st.sunsetH < to) to = *st.sunsetH;
            sun[h] = solarPosition(spaFor(w, d % 365, (from + to) / 2));
        }
    });
    return sun;
}

} // namespace ct::energy
