#include "core/SimClock.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>

namespace ct {

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

std::optional<Instant> parseIsoInstant(const std::string& text) {
    static const std::regex re(
        R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$)");
    std::smatch m;
    if (!std::regex_match(text, m, re)) return std::nullopt;
    int year = std::stoi(m[1]), month = std::stoi(m[2]), day = std::stoi(m[3]);
    int hour = std::stoi(m[4]), minute = std::stoi(m[5]);
    int second = m[6].matched ? std::stoi(m[6]) : 0;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60)
        return std::nullopt;
    int offset = 0;
    std::string tz = m[7];
    if (tz != "Z") {
        int sign = tz[0] == '-' ? -1 : 1;
        std::string digits;
        for (char c : tz.substr(1))
            if (c != ':') digits += c;
        offset = sign * (std::stoi(digits.substr(0, 2)) * 60 + std::stoi(digits.substr(2, 2)));
    }
    int64_t local = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    return Instant{local - offset * 60, offset};
}

std::string Instant::iso() const {
    int64_t local = utcSeconds + offsetMinutes * 60;
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t secs = local - days * 86400;
    int64_t y;
    unsigned mo, d;
    civilFromDays(days, y, mo, d);
    char buf[64];
    int off = std::abs(offsetMinutes);
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld%c%02d:%02d",
                  static_cast<long long>(y), mo, d, static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                  offsetMinutes < 0 ? '-' : '+', off / 60, off % 60);
    return buf;
}

std::optional<double> parseClockSeconds(const std::string& text) {
    int h = 0, m = 0, consumed = 0;
    if (std::sscanf(text.c_str(), "%d:%d%n", &h, &m, &consumed) != 2 || h < 0 || m < 0 || m > 59) return std::nullopt;
    if (text[size_t(consumed)] == '\0') return h * 3600.0 + m * 60.0;
    if (text[size_t(consumed)] != ':') return std::nullopt;
    char* end = nullptr;
    const char* secText = text.c_str() + consumed + 1;
    double sec = std::strtod(secText, &end);
    if (end == secText || *end != '\0' || !(sec >= 0 && sec < 60) || !std::isdigit((unsigned char)*secText))
        return std::nullopt;
    return h * 3600.0 + m * 60.0 + sec;
}

std::optional<double> parseDurationSeconds(const std::string& text) {
    static const std::regex plain(R"(^\s*([0-9]*\.?[0-9]+)\s*(s|sec|min|h|d)?\s*$)");
    static const std::regex iso(
        R"(^P(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?$)");
    std::smatch m;
    if (std::regex_match(text, m, plain)) {
        double v = std::stod(m[1]);
        std::string unit = m[2];
        double factor = unit == "min" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 1;
        return v * factor;
    }
    if (text.size() > 1 && std::regex_match(text, m, iso) && text != "PT") {
        double s = 0;
        if (m[1].matched) s += std::stod(m[1]) * 86400;
        if (m[2].matched) s += std::stod(m[2]) * 3600;
        if (m[3].matched) s += std::stod(m[3]) * 60;
        if (m[4].matched) s += std::stod(m[4]);
        return s;
    }
    return std::nullopt;
}

Instant SimClock::now() const {
    return Instant{startAt.utcSeconds + static_cast<int64_t>(std::floor(elapsedS)),
                   startAt.offsetMinutes};
}

} // namespace ct
