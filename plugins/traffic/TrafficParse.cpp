// The traffic plugin's parsing (TrafficParse.h). The cell, time and value helpers are the replay
// plugin's (ReplayParse.h), the RFC 3339 parser and the MQTT connection keys the mqtt plugin's
// (Decoders.h, MqttConfig.h), so a time or a broker setting means the same in every feed.
#include "TrafficParse.h"

#include "Decoders.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

namespace citytwin::traffic {

using nlohmann::json;
using replay::parseValue;
using replay::splitRow;
using replay::trimField;

namespace {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) {
    throw ConfigError(what);
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string shown(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// Cut to a readable length for the log (ids and cells come from outside).
std::string excerpt(std::string_view s) {
    return s.size() > 60 ? std::string(s.substr(0, 57)) + "..." : std::string(s);
}

const json* opt(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string str(const json& v, const std::string& name) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
        fail("'" + name + "' must be a non-empty string (got " + shown(v) + ")");
    return v.get<std::string>();
}

double number(const json& v, const std::string& name, double lo, double hi) {
    if (!v.is_number()) fail("'" + name + "' must be a number (got " + shown(v) + ")");
    double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        fail("'" + name + "' must be in " + fmt(lo) + ".." + fmt(hi) + " (got " + shown(v) + ")");
    return x;
}

ColumnRef columnRef(const json& v, const std::string& name) {
    if (v.is_string() && !v.get_ref<const std::string&>().empty()) return {v.get<std::string>(), -1};
    if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < 10000)
        return {"", int(v.get<int64_t>())};
    fail("'" + name + "' must be a header name or a 0-based column index (got " + shown(v) + ")");
}

void warnUnknown(const json& obj, const std::set<std::string>& known, const std::string& where,
                 std::vector<std::string>& warnings) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!known.count(it.key()))
            warnings.push_back("traffic config: unknown key '" + where + it.key() + "' ignored");
}

double intervalOf(const json& v, const std::string& name) {
    if (v.is_number()) return number(v, name, 1, 86400);
    if (v.is_string())
        if (auto s = parseInterval(v.get_ref<const std::string&>())) return *s;
    fail("'" + name + "' must be a duration of 1 s to 1 day: \"15min\", \"1h\", \"300s\" or seconds (got " +
         shown(v) + ")");
}

Detector parseDetector(const json& j, const std::string& n, std::vector<std::string>& warnings) {
    if (!j.is_object())
        fail("'" + n + "' must be an object {id, name, edge or lon/lat, heading, interval, lanes}");
    warnUnknown(j,
                {"id", "name", "edge", "lon", "lat", "heading", "interval", "interval_s", "lanes",
                 "warn_above", "alarm_above", "column"},
                n + ".", warnings);
    Detector d;
    const json* id = opt(j, "id");
    if (!id) fail("'" + n + "' needs an 'id' (the sensor id of its counts)");
    d.id = str(*id, n + ".id");
    if (d.id.size() > 200) fail("'" + n + ".id' is too long (at most 200 bytes)");
    d.name = d.id;
    if (auto v = opt(j, "name")) d.name = str(*v, n + ".name");
    if (auto v = opt(j, "edge")) {
        if (v->is_number_integer())
            d.edge = v->dump();
        else
            d.edge = str(*v, n + ".edge");
        if (d.edge.size() > 256) fail("'" + n + ".edge' is too long (at most 256 bytes)");
    }
    const json* lon = opt(j, "lon");
    const json* lat = opt(j, "lat");
    if (!lon != !lat) fail("'" + n + "': 'lon' and 'lat' go together (WGS84 degrees)");
    if (lon) {
        d.lon = number(*lon, n + ".lon", -180, 180);
        d.lat = number(*lat, n + ".lat", -90, 90);
    }
    if (auto v = opt(j, "heading")) {
        d.headingDeg = std::fmod(number(*v, n + ".heading", -1e6, 1e6), 360.0);
        if (d.headingDeg < 0) d.headingDeg += 360;
        // A tiny negative heading (-1e-20) rounds to 360 when 360 is added: outside [0, 360)
        // (found by tools/fuzz/fuzz_traffic's config checks).
        if (d.headingDeg >= 360) d.headingDeg -= 360;
    }
    const json* interval = opt(j, "interval");
    const json* intervalS = opt(j, "interval_s");
    if (interval && intervalS) fail("'" + n + "': give 'interval' or 'interval_s', not both");
    if (interval) d.intervalS = intervalOf(*interval, n + ".interval");
    if (intervalS) d.intervalS = number(*intervalS, n + ".interval_s", 1, 86400);
    if (auto v = opt(j, "lanes")) {
        if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > 64)
            fail("'" + n + ".lanes' must be an integer 1..64 (got " + shown(*v) + ")");
        d.lanes = int(v->get<int64_t>());
    }
    if (auto v = opt(j, "warn_above")) d.warnAbove = number(*v, n + ".warn_above", 0, 1e9);
    if (auto v = opt(j, "alarm_above")) d.alarmAbove = number(*v, n + ".alarm_above", 0, 1e9);
    d.column = d.id;
    if (auto v = opt(j, "column")) {
        d.column = str(*v, n + ".column");
        d.columnGiven = true;
    }
    return d;
}

TrafficConfig parse(const json& j) {
    if (!j.is_object()) fail("the configuration must be a JSON object");
    TrafficConfig c;
    warnUnknown(j,
                {"detectors", "file", "format", "timezone", "date", "speed", "time_column", "class_column",
                 "classes", "mqtt", "scenario_dir",
                 // keys a host may pass along with the plugin's own
                 "plugin", "name", "id", "type", "enabled"},
                "", c.warnings);
    const json* dets = opt(j, "detectors");
    if (!dets || !dets->is_array() || dets->empty())
        fail("'detectors' is required: a list of {\"id\", \"edge\" or \"lon\"/\"lat\", \"heading\", "
             "\"interval\"}");
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < dets->size(); ++i) {
        const std::string n = "detectors[" + std::to_string(i) + "]";
        Detector d = parseDetector((*dets)[i], n, c.warnings);
        auto [it, fresh] = seen.emplace(d.id, i);
        if (!fresh)
            fail("detector id \"" + d.id + "\" is used twice (detectors[" + std::to_string(it->second) +
                 "] and " + n + "): ids must be unique");
        c.detectors.push_back(std::move(d));
    }

    if (auto v = opt(j, "file")) {
        c.file = str(*v, "file");
        // Relative to the scenario's folder, which the host passes as scenario_dir.
        if (c.file[0] != '/')
            if (auto dir = opt(j, "scenario_dir"); dir && dir->is_string())
                c.file = dir->get<std::string>() + "/" + c.file;
    }
    if (auto v = opt(j, "format")) {
        std::string f = v->is_string() ? v->get<std::string>() : "";
        if (f == "long")
            c.format = FileFormat::Long;
        else if (f == "wide")
            c.format = FileFormat::Wide;
        else
            fail("'format' must be \"long\" (detector,begin,end,count rows) or \"wide\" (a column per "
                 "detector; got " +
                 shown(*v) + ")");
    }
    replay::TimeParser& zone = c.time.zone;
    if (auto v = opt(j, "timezone")) {
        zone.timezone = v->is_string() ? v->get<std::string>() : "";
        if (zone.timezone != "UTC" && zone.timezone != "Europe/Berlin") {
            std::optional<int> offset = replay::parseFixedOffset(zone.timezone);
            if (!offset)
                fail("'timezone' must be UTC, Europe/Berlin or an offset like +01:00 (got " + shown(*v) +
                     ")");
            zone.fixedOffset = *offset;
        }
    }
    if (auto v = opt(j, "date")) {
        c.time.date = str(*v, "date");
        int y = 0, m = 0, d = 0;
        char tail = 0;
        if (std::sscanf(c.time.date.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
            d < 1 || d > 31 || c.time.date.size() != 10)
            fail("'date' must be a day like \"2021-02-24\" (got " + shown(*v) + ")");
    }
    if (auto v = opt(j, "speed")) c.speed = number(*v, "speed", 0, 1e9);
    if (auto v = opt(j, "time_column")) c.timeColumn = columnRef(*v, "time_column");
    if (auto v = opt(j, "class_column")) c.classColumn = columnRef(*v, "class_column");
    if (auto v = opt(j, "classes")) {
        if (!v->is_array() || v->empty())
            fail("'classes' must be a non-empty list of class labels, e.g. [\"PKW + Transporter\", \"LKW\"]");
        for (size_t i = 0; i < v->size(); ++i)
            c.classes.push_back(str((*v)[i], "classes[" + std::to_string(i) + "]"));
    }
    if (c.classColumn.given() != !c.classes.empty())
        fail("'class_column' and 'classes' go together: the column holding each row's vehicle class, and the "
             "classes to sum");
    if (c.format == FileFormat::Long && (c.classColumn.given() || opt(j, "time_column")))
        fail("'time_column', 'class_column' and 'classes' are for format \"wide\"; a long file has "
             "detector,begin,end,count columns");
    if (auto v = opt(j, "mqtt")) {
        std::string error;
        auto m = mqtt::parseConnectionConfig(v->dump(), error, c.warnings, "mqtt.");
        if (!m) fail(error.rfind("mqtt config: ", 0) == 0 ? error.substr(13) : error);
        c.mqtt = std::move(*m);
    }
    if (c.file.empty() && !c.mqtt)
        fail("traffic needs counts from somewhere: a 'file' (CSV) and/or 'mqtt' {host, topics, ...}");
    return c;
}

bool isClock(std::string_view s) {
    // H:MM or HH:MM, optionally :SS
    size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2) return false;
    auto digits = [](std::string_view d) {
        return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(s.substr(0, colon))) return false;
    std::string_view rest = s.substr(colon + 1);
    if (rest.size() == 2) return digits(rest);
    return rest.size() == 5 && rest[2] == ':' && digits(rest.substr(0, 2)) && digits(rest.substr(3));
}

std::string trimmed(std::string_view s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string_view::npos ? std::string() : std::string(s.substr(a, b - a + 1));
}

// A clock range "15:00 - 15:05" (also without blanks): the two clock times, or nothing.
std::optional<std::pair<std::string, std::string>> clockRange(std::string_view s) {
    size_t dash = s.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string a = trimmed(s.substr(0, dash)), b = trimmed(s.substr(dash + 1));
    if (!isClock(a) || !isClock(b)) return std::nullopt;
    return std::pair{a, b};
}

char detectDelimiter(const std::string& header) {
    size_t commas = 0, semis = 0, tabs = 0;
    bool quoted = false;
    for (char ch : header) {
        if (ch == '"') quoted = !quoted;
        if (quoted) continue;
        commas += ch == ',';
        semis += ch == ';';
        tabs += ch == '\t';
    }
    if (tabs > commas && tabs > semis) return '\t';
    return semis > commas ? ';' : ',';
}

std::string lower(std::string s) {
    for (char& ch : s)
        ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

bool blank(const std::string& line) {
    return line.find_first_not_of(" \t\r;,") == std::string::npos;
}

std::string headerList(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names)
        s += (s.empty() ? "" : ", ") + n;
    return excerpt(s);
}

// The day after a date "2021-02-24" (as the time parser reads it: "2021-02-31" is in March).
std::string nextDate(const std::string& date) {
    int y = 0, m = 0, d = 0;
    if (std::sscanf(date.c_str(), "%d-%d-%d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31) return date;
    // civil_from_days (Hinnant), the inverse of replay::daysFromCivil.
    const int64_t z = replay::daysFromCivil(y, unsigned(m), unsigned(d)) + 1 + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = unsigned(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
    const int64_t yy = int64_t(yoe) + era * 400 + (mm <= 2);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(yy), mm, dd);
    return buf;
}

std::string clockWithoutDate(const std::string& where, const std::string& cell) {
    return where + ": \"" + excerpt(cell) +
           "\" is a time of day without a date: set 'date' (the counting day, e.g. \"2021-02-24\")";
}

// The count cell of a long row or a class row: a number, or missing ("", "-", "NA").
// `values` counts the numbers seen, `bad` keeps the first cell that is none.
void countCell(const std::string& cell, bool decimalComma, double& sum, int& values, std::string& bad) {
    if (cell.empty() || cell == "-" || cell == "NA") return;
    if (auto v = parseValue(cell, decimalComma)) {
        sum += *v;
        ++values;
    } else if (bad.empty()) {
        bad = cell;
    }
}

void readLong(std::istream& in, const TrafficConfig& cfg, const std::string& name,
              const std::vector<std::string>& names, char delim, ReadResult& r) {
    auto find = [&](const char* col) {
        for (size_t k = 0; k < names.size(); ++k)
            if (lower(names[k]) == col) return int(k);
        return -1;
    };
    const int det = find("detector"), begin = find("begin"), end = find("end"), count = find("count");
    std::string missing;
    for (auto [idx, col] : {std::pair{det, "detector"}, {begin, "begin"}, {count, "count"}})
        if (idx < 0) missing += std::string(missing.empty() ? "" : ", ") + "'" + col + "'";
    if (!missing.empty()) {
        r.error = name + " has no column " + missing + " (its header: " + headerList(names) +
                  "): a long count file needs detector, begin, [end,] count — or set format: wide";
        return;
    }
    if (end < 0) {
        std::string without;
        for (const Detector& d : cfg.detectors)
            if (!std::isfinite(d.intervalS)) without += (without.empty() ? "" : ", ") + d.id;
        if (!without.empty()) {
            r.error = name + " has no 'end' column and detectors " + excerpt(without) +
                      " have no interval: add an end column, or set each detector's interval";
            return;
        }
    }
    const size_t need = size_t(std::max({det, begin, end, count})) + 1;
    const bool decimalComma = delim == ';';
    std::string line;
    for (size_t lineNo = 2; std::getline(in, line); ++lineNo) {
        if (blank(line)) continue;
        const std::string where = name + ":" + std::to_string(lineNo);
        std::vector<std::string> cells = splitRow(line, delim);
        if (cells.size() < need) {
            r.rejections.push_back({reason::BadRow, where + ": " + std::to_string(cells.size()) + " cells, " +
                                                        std::to_string(need) + " needed"});
            continue;
        }
        RawCount c;
        c.detector = cells[size_t(det)];
        c.where = where;
        for (int col : {begin, end}) {
            if (col < 0) continue;
            const std::string& cell = cells[size_t(col)];
            if (col == end && cell.empty()) continue; // the detector's interval
            if (isClockOnly(cell) && cfg.time.date.empty()) {
                r.error = clockWithoutDate(where, cell);
                return;
            }
            std::optional<double> t = parseInstant(cell, cfg.time);
            if (!t)
                c.badTime = cell.empty() ? "(empty)" : cell;
            else
                (col == begin ? c.begin : c.end) = *t;
        }
        double sum = 0;
        int has = 0;
        countCell(cells[size_t(count)], decimalComma, sum, has, c.badCount);
        if (has)
            c.count = sum;
        else if (c.badCount.empty())
            c.badCount = "(empty)";
        r.counts.push_back(std::move(c));
    }
}

void readWide(std::istream& in, const TrafficConfig& cfg, const std::string& name,
              const std::vector<std::string>& names, char delim, ReadResult& r) {
    auto indexOf = [&](const ColumnRef& col) {
        if (col.index >= 0) return col.index < int(names.size()) ? col.index : -1;
        for (size_t k = 0; k < names.size(); ++k)
            if (names[k] == col.name) return int(k);
        return -1;
    };
    auto shownCol = [](const ColumnRef& col) {
        return col.index >= 0 ? std::to_string(col.index) : "\"" + col.name + "\"";
    };
    const int timeCol = indexOf(cfg.timeColumn);
    if (timeCol < 0) {
        r.error = name + " has no time column " + shownCol(cfg.timeColumn) +
                  " (its header: " + headerList(names) + "): set 'time_column'";
        return;
    }
    const int classCol = cfg.classColumn.given() ? indexOf(cfg.classColumn) : -1;
    if (cfg.classColumn.given() && classCol < 0) {
        r.error = name + " has no class column " + shownCol(cfg.classColumn) +
                  " (its header: " + headerList(names) + "): set 'class_column'";
        return;
    }
    std::vector<int> cols;
    bool any = false;
    for (const Detector& d : cfg.detectors) {
        int col = indexOf({d.column, -1});
        // A detector may count only over MQTT; without MQTT, or with a column named on purpose,
        // a column the file lacks is a mistake.
        if (col < 0 && (d.columnGiven || !cfg.mqtt)) {
            r.error = name + " has no column \"" + excerpt(d.column) + "\" for detector \"" + d.id +
                      "\" (its header: " + headerList(names) + "): set the detector's 'column' to its header";
            return;
        }
        any = any || col >= 0;
        cols.push_back(col);
    }
    if (!any) {
        r.error = name + " has a column for none of the detectors (its header: " + headerList(names) +
                  "): set each detector's 'column'";
        return;
    }
    const bool decimalComma = delim == ';';
    const std::set<std::string> classes(cfg.classes.begin(), cfg.classes.end());

    // The interval being summed: its time row's cell, and per detector the sum of its class rows.
    bool open = false, broken = false;
    TimeCell cur;
    std::string curWhere;
    std::vector<double> sums(cols.size());
    std::vector<int> has(cols.size());
    std::vector<std::string> bad(cols.size());
    auto flush = [&] {
        if (open && !broken)
            for (size_t k = 0; k < cols.size(); ++k) {
                if (cols[k] < 0 || (!has[k] && bad[k].empty())) continue;
                RawCount c;
                c.detector = cfg.detectors[k].id;
                c.begin = cur.begin;
                c.end = cur.end;
                c.count = sums[k];
                c.badCount = bad[k];
                c.where = curWhere;
                r.counts.push_back(std::move(c));
            }
        open = broken = false;
        std::fill(sums.begin(), sums.end(), 0.0);
        std::fill(has.begin(), has.end(), 0);
        std::fill(bad.begin(), bad.end(), std::string());
    };
    const size_t need = size_t(std::max(timeCol, classCol)) + 1;
    std::string line;
    for (size_t lineNo = 2; std::getline(in, line); ++lineNo) {
        if (blank(line)) continue;
        const std::string where = name + ":" + std::to_string(lineNo);
        std::vector<std::string> cells = splitRow(line, delim);
        if (cells.size() < need) {
            r.rejections.push_back({reason::BadRow, where + ": " + std::to_string(cells.size()) + " cells, " +
                                                        std::to_string(need) + " needed"});
            continue;
        }
        const std::string& timeCell = cells[size_t(timeCol)];
        if (!timeCell.empty()) { // a new interval; an empty cell continues the one before
            flush();
            if (isClockOnly(timeCell) && cfg.time.date.empty()) {
                r.error = clockWithoutDate(where, timeCell);
                return;
            }
            open = true;
            curWhere = where;
            if (auto t = parseTimeCell(timeCell, cfg.time)) {
                cur = *t;
            } else {
                broken = true; // its class rows go with it
                r.rejections.push_back(
                    {reason::InvalidTime, where + ": \"" + excerpt(timeCell) + "\" is not a time"});
            }
        } else if (!open) {
            r.rejections.push_back({reason::BadRow, where + ": no time, and no interval before it"});
            continue;
        }
        if (broken) continue;
        if (classCol >= 0 && !classes.count(cells[size_t(classCol)])) continue;
        for (size_t k = 0; k < cols.size(); ++k)
            if (cols[k] >= 0 && size_t(cols[k]) < cells.size())
                countCell(cells[size_t(cols[k])], decimalComma, sums[k], has[k], bad[k]);
    }
    flush();
}

} // namespace

std::optional<TrafficConfig> parseConfig(std::string_view text, std::string& error) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        error = "traffic config: not valid JSON";
        return std::nullopt;
    }
    try {
        return parse(j);
    } catch (const std::exception& e) {
        error = std::string("traffic config: ") + e.what();
    }
    return std::nullopt;
}

std::optional<double> parseInterval(std::string_view text) {
    std::string s = trimmed(text);
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) return std::nullopt;
    std::string unit = lower(trimmed(end));
    if (unit == "min")
        v *= 60;
    else if (unit == "h")
        v *= 3600;
    else if (!unit.empty() && unit != "s")
        return std::nullopt;
    if (!std::isfinite(v) || v < 1 || v > 86400) return std::nullopt;
    return v;
}

bool isClockOnly(std::string_view text) {
    std::string s = trimmed(text);
    return isClock(s) || clockRange(s).has_value();
}

std::optional<double> parseInstant(std::string_view text, const TimeSettings& time) {
    std::string s = trimmed(text);
    if (s.empty()) return std::nullopt;
    replay::TimeParser p = time.zone; // a fresh one: no row-to-row state (see README, summer time)
    p.timeFormat = "iso";
    p.endLabels = false;
    p.previousLocal = INT64_MIN;
    if (isClock(s)) {
        if (time.date.empty()) return std::nullopt;
        return p.parse(time.date + " " + s);
    }
    if (auto t = mqtt::parseRfc3339(s, /*requireZone=*/true)) return t;
    // A zone RFC 3339 would not take ("2026-02-01 08:00+01:00", no seconds): strip it here, or
    // the time parser below would read past it as if it were local time.
    if (s.back() == 'Z' || s.back() == 'z') {
        s.pop_back();
        p.timezone = "offset";
        p.fixedOffset = 0;
    } else if (size_t sign = s.find_last_of("+-"); sign != std::string::npos && sign >= 13) {
        std::string zone = s.substr(sign);
        if (zone.size() == 3) zone += ":00";                                              // +01
        if (zone.size() == 5 && zone.find(':') == std::string::npos) zone.insert(3, ":"); // +0100
        std::optional<int> offset = replay::parseFixedOffset(zone);
        if (!offset || zone.size() != 6) return std::nullopt;
        s.erase(sign);
        p.timezone = "offset";
        p.fixedOffset = *offset;
    }
    if (s.find_first_not_of("0123456789-:.Tt ") != std::string::npos) return std::nullopt;
    return p.parse(s);
}

std::optional<TimeCell> parseTimeCell(std::string_view text, const TimeSettings& time) {
    std::string s = trimmed(text);
    if (auto range = clockRange(s)) {
        auto begin = parseInstant(range->first, time), end = parseInstant(range->second, time);
        if (!begin || !end) return std::nullopt;
        if (*end <= *begin) { // "23:55 - 00:00": the end is on the next day
            // Read on the next date, in the zone: adding 86400 s to the instant was an hour off
            // on the days summer time begins and ends, so in Europe/Berlin "23:45 - 00:00" on
            // 2021-10-31 ended before it began and on 2021-03-28 lasted 75 min (found by
            // tools/fuzz/fuzz_traffic).
            TimeSettings next = time;
            next.date = nextDate(time.date);
            end = parseInstant(range->second, next);
            if (!end || *end <= *begin) return std::nullopt;
        }
        return TimeCell{*begin, *end};
    }
    if (auto begin = parseInstant(s, time)) return TimeCell{*begin, kNaN};
    return std::nullopt;
}

ReadResult readCountFile(std::istream& in, const TrafficConfig& cfg, const std::string& name) {
    ReadResult r;
    std::string header;
    if (!std::getline(in, header) || blank(header)) {
        r.error = name + " is empty: it needs a header line";
        return r;
    }
    if (header.rfind("\xEF\xBB\xBF", 0) == 0) header.erase(0, 3); // byte-order mark
    const char delim = detectDelimiter(header);
    std::vector<std::string> names = splitRow(header, delim);
    if (cfg.format == FileFormat::Long)
        readLong(in, cfg, name, names, delim, r);
    else
        readWide(in, cfg, name, names, delim, r);
    return r;
}

ReadResult parseMessage(std::string_view payload, const TimeSettings& time, const std::string& where) {
    ReadResult r;
    if (payload.size() > kMaxPayloadBytes) {
        r.rejections.push_back({reason::PayloadTooLarge, where + ": " + std::to_string(payload.size()) +
                                                             " bytes, more than " +
                                                             std::to_string(kMaxPayloadBytes)});
        return r;
    }
    json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        r.rejections.push_back({reason::MalformedJson, where + ": not valid JSON"});
        return r;
    }
    auto timeOf = [&](const json& v) -> std::optional<double> {
        if (v.is_number()) return mqtt::epochFromNumber(v.get<double>());
        if (v.is_string()) return parseInstant(v.get_ref<const std::string&>(), time);
        return std::nullopt;
    };
    auto one = [&](const json& o, const std::string& at) {
        if (!o.is_object()) {
            r.rejections.push_back(
                {reason::MalformedJson, at + ": not an object {detector, begin, end, count}"});
            return;
        }
        const json* det = opt(o, "detector");
        if (!det || !det->is_string()) {
            r.rejections.push_back({reason::MalformedJson, at + ": no \"detector\" string"});
            return;
        }
        RawCount c;
        c.detector = det->get<std::string>();
        c.where = at;
        if (const json* b = opt(o, "begin")) {
            if (auto t = timeOf(*b))
                c.begin = *t;
            else
                c.badTime = "begin " + shown(*b);
        } else {
            c.badTime = "(no begin)";
        }
        if (const json* e = opt(o, "end")) {
            if (auto t = timeOf(*e))
                c.end = *t;
            else if (c.badTime.empty())
                c.badTime = "end " + shown(*e);
        } else if (const json* i = opt(o, "interval_s")) {
            if (i->is_number() && std::isfinite(i->get<double>()) && i->get<double>() > 0)
                c.end = c.begin + i->get<double>();
            else if (c.badTime.empty())
                c.badTime = "interval_s " + shown(*i);
        }
        const json* n = opt(o, "count");
        if (n && n->is_number())
            c.count = n->get<double>();
        else
            c.badCount = n ? shown(*n) : "(no count)";
        r.counts.push_back(std::move(c));
    };
    if (j.is_array()) {
        for (size_t k = 0; k < j.size(); ++k)
            one(j[k], where + "[" + std::to_string(k) + "]");
    } else if (j.is_object()) {
        one(j, where);
    } else {
        r.rejections.push_back(
            {reason::MalformedJson, where + ": neither an object nor an array of objects"});
    }
    return r;
}

DetectorTable::DetectorTable(std::vector<Detector> detectors) : m_detectors(std::move(detectors)) {
    for (size_t k = 0; k < m_detectors.size(); ++k)
        m_index.emplace(m_detectors[k].id, k);
}

std::optional<size_t> DetectorTable::find(std::string_view id) const {
    auto it = m_index.find(std::string(id));
    if (it == m_index.end()) return std::nullopt;
    return it->second;
}

std::optional<Count> DetectorTable::accept(const RawCount& raw, Rejection& rejection, bool* learned) {
    if (learned) *learned = false;
    auto reject = [&](const char* why, const std::string& detail) -> std::optional<Count> {
        rejection = {why, raw.where + ": " + detail};
        return std::nullopt;
    };
    std::optional<size_t> k = find(raw.detector);
    if (!k) return reject(reason::UnknownDetector, "unknown detector \"" + excerpt(raw.detector) + "\"");
    Detector& d = m_detectors[*k];
    if (!raw.badTime.empty())
        return reject(reason::InvalidTime, "\"" + excerpt(raw.badTime) + "\" is not a time");
    if (!std::isfinite(raw.begin)) return reject(reason::InvalidTime, "no begin time");
    double length = d.intervalS;
    if (std::isfinite(raw.end)) {
        if (raw.end <= raw.begin) return reject(reason::InvalidTime, "the count ends before it begins");
        length = raw.end - raw.begin;
    } else if (!std::isfinite(length)) {
        return reject(reason::InvalidTime, "no end, and detector \"" + d.id +
                                               "\" has no interval: give an end or configure its interval");
    }
    if (!raw.badCount.empty())
        return reject(reason::InvalidCount, "count \"" + excerpt(raw.badCount) + "\" is not a number");
    if (!std::isfinite(raw.count) || raw.count < 0 || raw.count > kMaxCount)
        return reject(reason::InvalidCount, "count " + fmt(raw.count) + " is not 0..1e6 vehicles");
    if (!std::isfinite(d.intervalS)) {
        // The same 1 s … 1 day as a configured interval: a first count over a fraction of a
        // second (end 08:00:00.001Z, or epoch .5) fixed an interval of 1 ms and flows of up
        // to 3.6e12 veh/h (found by tools/fuzz/fuzz_traffic).
        if (length > 86400) return reject(reason::InvalidTime, "an interval longer than a day");
        if (length < 1) return reject(reason::InvalidTime, "an interval shorter than a second");
        d.intervalS = length; // the first count fixes it
        if (learned) *learned = true;
    } else if (std::fabs(length - d.intervalS) > kIntervalToleranceS) {
        return reject(reason::IntervalMismatch, "a count over " + fmt(length) + " s, but detector \"" + d.id +
                                                    "\" counts per " + fmt(d.intervalS) + " s");
    }
    return Count{*k, raw.begin, raw.count * 3600.0 / d.intervalS};
}

std::string DetectorTable::propertiesJson(size_t detector) const {
    const Detector& d = m_detectors.at(detector);
    json p = json::object();
    if (!d.edge.empty()) p["edge"] = d.edge;
    if (std::isfinite(d.headingDeg)) p["heading"] = d.headingDeg;
    if (std::isfinite(d.intervalS)) p["interval_s"] = d.intervalS;
    if (d.lanes > 0) p["lanes"] = d.lanes;
    return p.dump();
}

} // namespace citytwin::traffic
