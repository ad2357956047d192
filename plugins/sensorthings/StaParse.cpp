// SensorThings feed plugin: times, URL pieces and entity JSON (StaParse.h).
#include "StaParse.h"

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace citytwin::sta {

using nlohmann::json;

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-date algorithm of H. Hinnant).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(int64_t y, unsigned m) {
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leapYear(y) ? 29 : days[m - 1];
}

// Reads exactly n digits at s[pos]; advances pos.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    pos += n;
    return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
    if (pos < s.size() && s[pos] == c) {
        ++pos;
        return true;
    }
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

int64_t fnv1a62(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return static_cast<int64_t>(h & ((uint64_t(1) << 62) - 1));
}

} // namespace

std::optional<double> parseIsoInstant(std::string_view in) {
    std::string_view s = trim(in);
    size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) || !expect(s, pos, '-') ||
        !digits(s, pos, 2, d))
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > daysInMonth(y, static_cast<unsigned>(mo)))
        return std::nullopt;
    double frac = 0;
    int offset = 0; // seconds east of UTC
    if (pos < s.size()) {
        if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
        ++pos;
        if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi)) return std::nullopt;
        if (expect(s, pos, ':')) {
            if (!digits(s, pos, 2, sec)) return std::nullopt;
            if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
                ++pos;
                size_t start = pos;
                double scale = 0.1;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                    frac += (s[pos] - '0') * scale;
                    scale /= 10;
                    ++pos;
                }
                if (pos == start) return std::nullopt;
            }
        }
        if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi != 0 || sec != 0 || frac != 0))) return std::nullopt;
        if (pos < s.size()) {
            char z = s[pos];
            if (z == 'Z' || z == 'z') {
                ++pos;
            } else if (z == '+' || z == '-') {
                ++pos;
                int oh = 0, om = 0;
                if (!digits(s, pos, 2, oh)) return std::nullopt;
                if (pos < s.size()) {
                    expect(s, pos, ':');
                    if (!digits(s, pos, 2, om)) return std::nullopt;
                }
                if (oh > 23 || om > 59) return std::nullopt;
                offset = (z == '-' ? -1 : 1) * (oh * 3600 + om * 60);
            } else {
                return std::nullopt;
            }
        }
    }
    if (pos != s.size()) return std::nullopt;
    int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    int64_t whole = days * 86400 + int64_t(h) * 3600 + int64_t(mi) * 60 + std::min(sec, 59) - offset;
    // A leap second (":60") is read as the last instant before the next minute.
    return static_cast<double>(whole) + (sec == 60 ? 0.999 : frac);
}

std::optional<TimeSpan> parseTimeSpan(std::string_view s) {
    size_t slash = s.find('/');
    if (slash == std::string_view::npos) {
        auto t = parseIsoInstant(s);
        if (!t) return std::nullopt;
        return TimeSpan{*t, *t};
    }
    auto a = parseIsoInstant(s.substr(0, slash)), b = parseIsoInstant(s.substr(slash + 1));
    if (!a || !b || *b < *a) return std::nullopt;
    return TimeSpan{*a, *b};
}

std::optional<double> parseIsoDuration(std::string_view in) {
    std::string_view s = trim(in);
    if (s.size() < 3 || (s[0] != 'P' && s[0] != 'p')) return std::nullopt;
    size_t pos = 1;
    bool timePart = false, any = false;
    double total = 0;
    while (pos < s.size()) {
        if (s[pos] == 'T' || s[pos] == 't') {
            if (timePart) return std::nullopt;
            timePart = true;
            ++pos;
            if (pos == s.size()) return std::nullopt; // "PT" alone
            continue;
        }
        size_t start = pos;
        while (pos < s.size() && ((s[pos] >= '0' && s[pos] <= '9') || s[pos] == '.' || s[pos] == ','))
            ++pos;
        if (pos == start || pos == s.size()) return std::nullopt;
        std::string number(s.substr(start, pos - start));
        for (char& c : number)
            if (c == ',') c = '.';
        char* end = nullptr;
        double v = std::strtod(number.c_str(), &end);
        if (!end || *end != '\0' || !std::isfinite(v)) return std::nullopt;
        char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(s[pos++])));
        double scale = 0;
        if (!timePart && unit == 'W') scale = 7 * 86400;
        else if (!timePart && unit == 'D') scale = 86400;
        else if (timePart && unit == 'H') scale = 3600;
        else if (timePart && unit == 'M') scale = 60;
        else if (timePart && unit == 'S') scale = 1;
        else return std::nullopt; // Y and M(onths): no fixed length
        total += v * scale;
        any = true;
    }
    if (!any) return std::nullopt;
    return total;
}

std::string formatIsoMillis(double t) {
    // Rounded down to the millisecond; 1 µs of slack absorbs the binary error of a parsed ".123".
    auto ms = static_cast<int64_t>(std::floor(t * 1000.0 + 1e-3));
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int milli = static_cast<int>(ms - secs * 1000);
    time_t tt = static_cast<time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    return buf;
}

std::string encodeQueryValue(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3 / 2);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ',' || c == '(' ||
            c == ')' || c == '\'' || c == '@' || c == ':' || c == '$' || c == '*' || c == '!') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string percentDecode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto hexValue = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    };
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
            out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string redactUrl(const std::string& url) {
    size_t scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    size_t hostStart = scheme + 3;
    size_t hostEnd = url.find_first_of("/?#", hostStart);
    size_t at = url.rfind('@', hostEnd == std::string::npos ? url.size() : hostEnd);
    if (at == std::string::npos || at < hostStart) return url;
    return url.substr(0, hostStart) + url.substr(at + 1);
}

std::optional<EntityId> entityId(const json& id) {
    if (id.is_number_unsigned()) {
        std::string t = std::to_string(id.get<uint64_t>());
        return EntityId{t, t};
    }
    if (id.is_number_integer()) {
        std::string t = std::to_string(id.get<int64_t>());
        return EntityId{t, t};
    }
    if (id.is_string()) {
        const std::string& t = id.get_ref<const std::string&>();
        if (t.empty()) return std::nullopt;
        std::string lit = "'";
        for (char c : t) {
            lit += c;
            if (c == '\'') lit += '\''; // OData: a quote inside a string literal is doubled
        }
        lit += '\'';
        return EntityId{t, lit};
    }
    return std::nullopt;
}

bool parseGeoJsonPoint(const json& locIn, double& lon, double& lat, double& elevation, std::string& why) {
    lon = lat = elevation = NAN;
    if (!locIn.is_object()) {
        why = "the location is not GeoJSON";
        return false;
    }
    const json* loc = &locIn;
    auto type = [](const json& o) {
        auto it = o.find("type");
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto checkCrs = [&](const json& o) {
        auto crs = o.find("crs"); // GeoJSON 2008; RFC 7946 has only WGS84
        if (crs == o.end() || crs->is_null()) return true;
        std::string name = crs->contains("properties") && (*crs)["properties"].is_object() &&
                                   (*crs)["properties"].value("name", json()).is_string()
                               ? (*crs)["properties"]["name"].get<std::string>()
                               : crs->dump();
        if (name.find("CRS84") != std::string::npos || name.find("4326") != std::string::npos) return true;
        why = "the location is in CRS " + name + ", not WGS84";
        return false;
    };
    if (!checkCrs(*loc)) return false;
    if (type(*loc) == "Feature") {
        auto g = loc->find("geometry");
        if (g == loc->end() || !g->is_object()) {
            why = "a GeoJSON Feature without geometry";
            return false;
        }
        loc = &*g;
        if (!checkCrs(*loc)) return false;
    }
    if (type(*loc) != "Point") {
        why = "the location is a GeoJSON " + (type(*loc).empty() ? std::string("object without type") : type(*loc)) +
              ", not a Point";
        return false;
    }
    auto c = loc->find("coordinates");
    if (c == loc->end() || !c->is_array() || c->size() < 2 || !(*c)[0].is_number() || !(*c)[1].is_number()) {
        why = "a Point without two numeric coordinates";
        return false;
    }
    double x = (*c)[0].get<double>(), y = (*c)[1].get<double>();
    if (!std::isfinite(x) || !std::isfinite(y) || std::fabs(x) > 180 || std::fabs(y) > 90) {
        why = "coordinates out of the WGS84 range (projected?)";
        return false;
    }
    lon = x;
    lat = y;
    if (c->size() >= 3 && (*c)[2].is_number()) elevation = (*c)[2].get<double>();
    return true;
}

std::optional<Datastream> parseDatastream(const json& ds, std::string& why) {
    if (!ds.is_object()) {
        why = "not an object";
        return std::nullopt;
    }
    auto id = ds.find("@iot.id");
    std::optional<EntityId> eid = id == ds.end() ? std::nullopt : entityId(*id);
    if (!eid) {
        why = "no usable @iot.id";
        return std::nullopt;
    }
    Datastream d;
    d.id = *eid;
    auto text = [](const json& o, const char* key) {
        auto it = o.find(key);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    d.name = text(ds, "name");
    if (d.name.empty()) d.name = "Datastream " + d.id.text;
    if (auto u = ds.find("unitOfMeasurement"); u != ds.end() && u->is_object()) {
        d.unit = text(*u, "symbol");
        if (d.unit.empty()) d.unit = text(*u, "name");
    }
    if (auto op = ds.find("ObservedProperty"); op != ds.end() && op->is_object()) d.quantity = text(*op, "name");
    auto thing = ds.find("Thing");
    if (thing == ds.end() || !thing->is_object()) {
        d.locationNote = "no Thing";
        return d;
    }
    auto locs = thing->find("Locations");
    if (locs == thing->end() || !locs->is_array() || locs->empty()) {
        d.locationNote = "its Thing has no Location";
        return d;
    }
    const json& first = (*locs)[0];
    auto loc = first.is_object() ? first.find("location") : first.end();
    if (!first.is_object() || loc == first.end()) {
        d.locationNote = "its Thing's Location has no location";
        return d;
    }
    std::string whyLoc;
    if (!parseGeoJsonPoint(*loc, d.lon, d.lat, d.elevation, whyLoc)) d.locationNote = whyLoc;
    return d;
}

bool sameMetadata(const Datastream& a, const Datastream& b) {
    auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
    return a.id == b.id && a.name == b.name && a.quantity == b.quantity && a.unit == b.unit && same(a.lon, b.lon) &&
           same(a.lat, b.lat) && same(a.elevation, b.elevation);
}

int64_t dedupKeyFor(const json& id) {
    if (id.is_number_unsigned()) {
        uint64_t v = id.get<uint64_t>();
        return v <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(v) : fnv1a62(id.dump());
    }
    if (id.is_number_integer()) {
        int64_t v = id.get<int64_t>();
        return v >= 0 ? v : fnv1a62(id.dump());
    }
    if (id.is_string()) return fnv1a62(id.get_ref<const std::string&>());
    if (id.is_null()) return -1;
    return fnv1a62(id.dump());
}

ParsedObservation parseObservation(const json& o) {
    ParsedObservation p;
    if (!o.is_object()) {
        p.rejectReason = reason::MalformedObservation;
        return p;
    }
    if (auto id = o.find("@iot.id"); id != o.end()) {
        if (auto e = entityId(*id)) p.idText = e->text;
        p.dedupKey = dedupKeyFor(*id);
    }
    auto t = o.find("phenomenonTime");
    std::optional<TimeSpan> span = t != o.end() && t->is_string() ? parseTimeSpan(t->get_ref<const std::string&>()) : std::nullopt;
    if (!span) {
        p.rejectReason = reason::InvalidTime;
        return p;
    }
    p.hasTime = true;
    p.time = *span;
    auto r = o.find("result");
    if (r == o.end() || r->is_null()) {
        p.rejectReason = reason::ResultMissing;
    } else if (r->is_number()) {
        p.kind = ParsedObservation::Numeric;
        p.value = r->get<double>();
    } else if (r->is_boolean()) { // OM_TruthObservation: 1/0, as the mqtt plugin stores booleans
        p.kind = ParsedObservation::Numeric;
        p.value = r->get<bool>() ? 1 : 0;
    } else {
        p.rejectReason = reason::ResultNotNumeric;
    }
    return p;
}

} // namespace citytwin::sta
