// The replay plugin's parsing (ReplayParse.h). Real files' quirks handled: quoted and
// 'apostrophed' fields, German dates "27.09.2023 24:00" (hour 24 = midnight at the day's end),
// decimal commas, "-" or empty for missing values, and local time with the EU's
// daylight-saving rule.
#include "ReplayParse.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace citytwin::replay {

namespace {

std::optional<std::vector<std::string>> recordCells(const nlohmann::json& record, const std::vector<std::string>& keys) {
    if (!record.is_object()) return std::nullopt;
    std::vector<std::string> cells;
    for (const std::string& k : keys) {
        auto it = record.find(k);
        if (it == record.end() || it->is_null()) cells.emplace_back();
        else if (it->is_string()) cells.push_back(it->get<std::string>());
        else if (it->is_number()) {
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.17g", it->get<double>());
            cells.emplace_back(buf);
        } else cells.push_back(it->dump()); // true, [..]: not a value, parseValue refuses it
    }
    return cells;
}

} // namespace

std::vector<std::optional<std::vector<std::string>>> jsonRecords(const std::string& text,
                                                                 const std::vector<std::string>& keys) {
    std::vector<std::optional<std::vector<std::string>>> rows;
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
        nlohmann::json all = nlohmann::json::parse(text, nullptr, false);
        if (all.is_discarded() || !all.is_array()) throw std::runtime_error("not a JSON array of records");
        for (const auto& record : all) rows.push_back(recordCells(record, keys));
        return rows;
    }
    std::istringstream in(text);
    size_t parsed = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
        if (!record.is_discarded()) ++parsed;
        rows.push_back(record.is_discarded() ? std::nullopt : recordCells(record, keys));
    }
    if (parsed == 0) throw std::runtime_error("neither a JSON array of records nor JSON Lines");
    return rows;
}

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + int64_t(yoe) * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int64_t lastSunday(int year, unsigned month) {
    int64_t last = daysFromCivil(year, month + 1, 1) - 1; // month + 1 ≤ 12 here (March, October)
    int weekday = int(((last % 7) + 7 + 3) % 7);          // 0 = Monday (1970-01-01 a Thursday)
    return last - (weekday + 1) % 7;
}

// CEST between the last Sunday of March 02:00 and the last Sunday of October 03:00, else CET.
// Rows label an hour by its start or its end (UBA: the end, "24:00"), which moves the edges by
// one hour: with end labels "02:00" on the March day is still winter and "03:00" on the
// October day comes twice (summer, then winter). `repeated`: the previous row had the same
// clock reading.
int berlinOffset(int year, int64_t local, bool endLabels, bool repeated) {
    const int64_t start = lastSunday(year, 3) * 86400 + 2 * 3600,
                  end = lastSunday(year, 10) * 86400 + 3 * 3600;
    const bool summer = endLabels ? local > start && local <= end : local >= start && local < end;
    const bool ambiguous =
        endLabels ? local > end - 3600 && local <= end : local >= end - 3600 && local < end;
    return summer && !(ambiguous && repeated) ? 7200 : 3600;
}

std::string trimField(std::string s) {
    auto strip = [&](char c) {
        while (!s.empty() && (s.front() == c || s.front() == ' '))
            s.erase(s.begin());
        while (!s.empty() && (s.back() == c || s.back() == ' ' || s.back() == '\r'))
            s.pop_back();
    };
    strip('"');
    strip('\'');
    return s;
}

std::vector<std::string> splitRow(const std::string& line, char delimiter) {
    std::vector<std::string> out;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
        if (c == '"') quoted = !quoted;
        if (c == delimiter && !quoted) {
            out.push_back(trimField(cell));
            cell.clear();
        } else {
            cell += c;
        }
    }
    out.push_back(trimField(cell));
    return out;
}

std::optional<int> parseFixedOffset(const std::string& tz) {
    int hh = 0, mm = 0;
    char sign = '+';
    if (std::sscanf(tz.c_str(), "%c%d:%d", &sign, &hh, &mm) != 3 || (sign != '+' && sign != '-'))
        return std::nullopt;
    // Hours 0..23 and minutes 0..59 (RFC 3339's time-numoffset): "-25:30" is no offset, and a
    // huge hour count overflowed hh * 3600 (found by tools/fuzz/fuzz_replay).
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return std::nullopt;
    return (sign == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
}

std::optional<double> parseValue(std::string s, bool decimalComma) {
    if (s.empty() || s == "-" || s == "NA" || s == "NaN") return std::nullopt;
    if (decimalComma)
        for (char& c : s)
            if (c == ',') c = '.';
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != 0 || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::chrono::steady_clock::duration replayDelay(double rowTime, double firstTime, double speed) {
    // Clamped to ±1e9 s (32 years) before the conversion: rows centuries apart (epoch
    // 1e17, year 99999) overflowed the clock's int64 nanoseconds, undefined behaviour (found by
    // tools/fuzz/fuzz_replay).
    constexpr double kMaxDelayS = 1e9;
    const double s = std::clamp((rowTime - firstTime) / speed, -kMaxDelayS, kMaxDelayS);
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

std::optional<double> TimeParser::parse(const std::string& s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (timeFormat == "epoch") {
        try {
            // std::stod reads "nan…" and "inf…" too: a row time must be finite (found by
            // tools/fuzz/fuzz_replay; a NaN time went to the host and into the replay clock).
            double t = std::stod(s);
            if (!std::isfinite(t)) return std::nullopt;
            return t;
        } catch (...) {
            return std::nullopt;
        }
    }
    bool ok = false;
    std::optional<int> stated; // an ISO time's own offset ("Z", "+01:00", "+0100") wins over `timezone`
    double fraction = 0;
    if (timeFormat == "dmy") {
        ok = std::sscanf(s.c_str(), "%d.%d.%d %d:%d:%d", &d, &mo, &y, &h, &mi, &sec) >= 5;
    } else {
        int used = 0;
        ok = std::sscanf(s.c_str(), "%d-%d-%d%*[T ]%d:%d%n", &y, &mo, &d, &h, &mi, &used) >= 5 && used > 0;
        if (ok) {
            size_t at = size_t(used);
            int more = 0;
            if (at < s.size() && s[at] == ':' && std::sscanf(s.c_str() + at, ":%d%n", &sec, &more) >= 1) at += size_t(more);
            if (at < s.size() && s[at] == '.') { // fractional seconds
                size_t end = s.find_first_not_of("0123456789", at + 1);
                if (end == std::string::npos) end = s.size();
                fraction = std::strtod(s.substr(at, end - at).c_str(), nullptr);
                at = end;
            }
            std::string zone = s.substr(at);
            while (!zone.empty() && zone.front() == ' ') zone.erase(zone.begin());
            if (zone == "Z" || zone == "z") stated = 0;
            else if (!zone.empty()) {
                if (zone.size() == 5 && zone[3] != ':') zone = zone.substr(0, 3) + ":" + zone.substr(3); // +0100
                stated = parseFixedOffset(zone);
                if (!stated) return std::nullopt; // a zone we cannot read: not a time
            }
        }
    }
    if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 24 || mi < 0 || mi > 59)
        return std::nullopt;
    // Seconds 0..60 (60: a leap second), and hour 24 only as the day's end "24:00[:00]": the
    // seconds went unchecked, so "02:00:2144836472" was a time 68 years later (found by
    // tools/fuzz/fuzz_replay).
    if (sec < 0 || sec > 60 || (h == 24 && (mi != 0 || sec != 0))) return std::nullopt;
    int64_t local = daysFromCivil(y, unsigned(mo), unsigned(d)) * 86400 + int64_t(h) * 3600 + mi * 60 +
                    sec; // hour 24 rolls over
    int offset = stated                         ? *stated
                 : timezone == "Europe/Berlin" ? berlinOffset(y, local, endLabels, local == previousLocal)
                                               : fixedOffset;
    previousLocal = local;
    return double(local - offset) + fraction;
}

} // namespace citytwin::replay
