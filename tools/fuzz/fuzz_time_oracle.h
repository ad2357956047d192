// Shared by fuzz_replay and fuzz_traffic: an independent reading of ISO 8601 / RFC 3339 times
// that state their own zone, to check the parsers' results against (not a parser the plugins
// use). Only one strict shape is recognised, so the oracle stays simple enough to trust:
//   YYYY-MM-DD('T'|' ')hh:mm[:ss[.fff…]](Z|z|±hh:mm|±hhmm)
// Everything else is left unchecked here (the sanitizers and the date window still apply).
#pragma once

#include "ReplayParse.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace citytwin::fuzz {

// A time with a stated zone, as UTC seconds; nullopt when `s` is not of the shape above or a
// field is out of range (month 1-12, day 1-31, hour 0-23 or 24:00[:00], minute 0-59, second
// 0-59, zone hours 0-23 and minutes 0-59). The day is not checked against the month: the
// parsers roll "02-31" over to March (daysFromCivil) and so does this.
inline std::optional<double> statedZoneTime(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&](int n, int& out) {
        if (i + std::size_t(n) > s.size()) return false;
        out = 0;
        for (int k = 0; k < n; ++k) {
            char c = s[i + std::size_t(k)];
            if (c < '0' || c > '9') return false;
            out = out * 10 + (c - '0');
        }
        i += std::size_t(n);
        return true;
    };
    auto is = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    int y, mo, d, h, mi, sec = 0;
    if (!digits(4, y) || !is('-') || !digits(2, mo) || !is('-') || !digits(2, d)) return std::nullopt;
    if (!is('T') && !is(' ')) return std::nullopt;
    if (!digits(2, h) || !is(':') || !digits(2, mi)) return std::nullopt;
    double fraction = 0;
    if (is(':')) {
        if (!digits(2, sec)) return std::nullopt;
        if (is('.')) {
            double scale = 0.1;
            std::size_t start = i;
            for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10)
                fraction += (s[i] - '0') * scale;
            if (i == start) return std::nullopt;
        }
    }
    int offset = 0;
    if (is('Z') || is('z')) {
        offset = 0;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        const int sign = s[i++] == '-' ? -1 : 1;
        int oh, om;
        if (!digits(2, oh)) return std::nullopt;
        is(':');
        if (!digits(2, om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 59) return std::nullopt;
    if (h == 24 && (mi != 0 || sec != 0 || fraction != 0)) return std::nullopt;
    const int64_t local = replay::daysFromCivil(y, unsigned(mo), unsigned(d)) * 86400 + int64_t(h) * 3600 +
                          mi * 60 + sec;
    return double(local - offset) + fraction;
}

} // namespace citytwin::fuzz
