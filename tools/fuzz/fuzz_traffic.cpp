// libFuzzer target: the traffic plugin's parsing (plugins/traffic/TrafficParse.h) — long and wide
// count files, MQTT count messages, the detector table's checks and the configuration — driven
// the way traffic_plugin.cpp uses it: a file is read whole (readCountFile; an error refuses the
// feed), its counts sorted by begin and passed through DetectorTable::accept; a message is
// parsed (parseMessage) and its counts accepted in order against the same table.
//
// Input layout (the seeds in corpus/fuzz_traffic/ start with two printable selector bytes):
//   byte 0: bits 0-1 mode (0 long CSV, 1 wide CSV, 2 MQTT message, 3 configuration JSON);
//           bits 2-3 timezone (UTC, Europe/Berlin, "+01:00", "-09:30");
//           bits 4-5 detector intervals (none: learned from the first count; all; mixed; the
//           extremes 1 s and 24 h); bit 6 a `date` (for times of day); bit 7 an `mqtt`
//           object in the config (a wide file may then lack a detector's column)
//   byte 1: wide: bits 0-1 time_column (0, "Zeitraum", 1, "Begin"); bit 2 class_column
//           "Label/Richtung" with four classes summed; bit 3 the third detector's column named
//           (else its id is its column). MQTT: bit 4 the message is processed a second time
//           (the intervals learned the first time then apply). Bits 5-6: the `date`, if any
//           (2020-02-29, 2021-02-24, and the days summer time begins and ends: 2021-03-28,
//           2021-10-31)
//   the rest: the file, the payload, or (mode 3) the configuration JSON
// Checks, besides the sanitizers: every accepted count names a configured detector, has a
// finite begin, an end after it (or the detector's interval), a length within the interval
// rules (1 s … 1 day, ± 1 s of a known interval), a finite flow 0 … 1e6 × 3600 / 1 s equal to
// count × 3600 / interval; a detector's interval stays within 1 s … 1 day; every rejection has
// one of the documented reasons and a detail; unknown detectors are rejected as such; every
// time cell parses to a finite time near the date it names (a clock time near `date`), and a
// time with its own zone ("Z", "+01:00", "+0100") to exactly that instant whatever `timezone`
// says; an accepted configuration is within its documented ranges.
#include "TrafficParse.h"
#include "fuzz_time_oracle.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace citytwin::traffic;
using nlohmann::json;

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_traffic: invariant violated: %s [%s]\n", what, detail.c_str());
    std::abort();
}
#define CHECK(cond, detail)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) violated(#cond, detail);                                                                \
    } while (0)

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

const std::set<std::string>& knownReasons() {
    static const std::set<std::string> r = {reason::MalformedJson,    reason::UnknownDetector,
                                            reason::InvalidTime,      reason::InvalidCount,
                                            reason::IntervalMismatch, reason::PayloadTooLarge,
                                            reason::BadRow};
    return r;
}

void checkRejection(const Rejection& r) {
    CHECK(knownReasons().count(r.reason), r.reason + ": " + r.detail);
    CHECK(!r.detail.empty(), r.reason);
}

// --- Configurations, built through parseConfig (cached: a few hundred variants) -------------

constexpr const char* kWideColumns[] = {"Von RiWa-Str. nach Gosebrede", "Von RiWa-Str. nach Entruper Weg (Nord)",
                                        "Von Gosebrede nach RiWa-Str."};

std::string configText(uint8_t b0, uint8_t b1) {
    const int mode = b0 & 3, zone = (b0 >> 2) & 3, intervals = (b0 >> 4) & 3;
    const bool date = b0 & 0x40, mqtt = b0 & 0x80;
    static const char* const kZones[] = {"UTC", "Europe/Berlin", "+01:00", "-09:30"};
    // Per detector: its interval keys for each `intervals` variant.
    auto interval = [&](int k) -> std::string {
        static const char* const kAll[] = {R"("interval": "15min")", R"("interval_s": 300)", R"("interval": "1h")"};
        static const char* const kExtreme[] = {R"("interval_s": 1)", R"("interval": "24h")", R"("interval": "300s")"};
        switch (intervals) {
        case 1: return std::string(", ") + kAll[k];
        case 2: return k == 0 ? std::string(", ") + kAll[0] : std::string();
        case 3: return std::string(", ") + kExtreme[k];
        default: return {};
        }
    };
    json j = json::object();
    std::string dets;
    if (mode == 1) { // wide: a Lemgo-like sheet
        const bool named = b1 & 8;
        dets = R"([{"id": "gosebrede", "edge": "123", "column": ")" + std::string(kWideColumns[0]) + "\"" +
               interval(0) + R"(}, {"id": "entrup-nord", "lon": 8.9, "lat": 52.02, "heading": 270, "column": ")" +
               kWideColumns[1] + "\"" + interval(1) + R"(}, {"id": "Total")" +
               (named ? std::string(R"(, "column": ")") + kWideColumns[2] + "\"" : std::string()) + interval(2) + "}]";
    } else {
        dets = R"([{"id": "d1", "edge": "123", "heading": 90, "lanes": 2)" + interval(0) +
               R"(}, {"id": "d2", "lon": 8.64, "lat": 51.76)" + interval(1) + R"(}, {"id": "hauptstrasse-nord")" +
               interval(2) + "}]";
    }
    std::string text = R"({"detectors": )" + dets + R"(, "file": "counts.csv", "timezone": ")" + kZones[zone] + "\"";
    if (mode == 1) {
        text += R"(, "format": "wide")";
        static const char* const kTimeColumns[] = {"0", "\"Zeitraum\"", "1", "\"Begin\""};
        text += std::string(R"(, "time_column": )") + kTimeColumns[b1 & 3];
        if (b1 & 4)
            text += R"(, "class_column": "Label/Richtung", "classes": ["PKW + Transporter", "LKW", "Lastzug", "Bus"])";
    }
    static const char* const kDates[] = {"2020-02-29", "2021-02-24", "2021-03-28", "2021-10-31"};
    if (date) text += std::string(R"(, "date": ")") + kDates[(b1 >> 5) & 3] + "\"";
    if (mqtt) text += R"(, "mqtt": {"host": "localhost", "topics": ["traffic/counts/#"], "qos": 1, "client_id": "citytwin-traffic"})";
    return text + "}";
}

const TrafficConfig& configFor(uint8_t b0, uint8_t b1) {
    // Only the bits configText reads make a difference.
    const int mode = b0 & 3;
    const uint32_t key = uint32_t(b0) << 8 | (mode == 1 ? (b1 & 0x0f) : 0) | (b0 & 0x40 ? (b1 & 0x60) : 0);
    static std::map<uint32_t, TrafficConfig> cache;
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const std::string text = configText(b0, b1);
    std::string error;
    std::optional<TrafficConfig> cfg = parseConfig(text, error);
    if (!cfg) violated("the harness's own config is refused", error + " in " + text);
    return cache.emplace(key, std::move(*cfg)).first->second;
}

// --- Time cells -------------------------------------------------------------------------------

// The day a cell names ("2026-02-01…"), as days since 1970.
bool namedDay(const std::string& s, int64_t& day) {
    int y = 0, mo = 0, d = 0;
    if (std::sscanf(s.c_str(), "%d-%d-%d", &y, &mo, &d) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    day = citytwin::replay::daysFromCivil(y, unsigned(mo), unsigned(d));
    return true;
}

std::string trimmed(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Any cell through parseInstant and parseTimeCell, as the readers would take it.
void checkTimeCell(const std::string& cell, const TimeSettings& time) {
    const std::optional<double> t = parseInstant(cell, time);
    const std::optional<TimeCell> tc = parseTimeCell(cell, time);
    if (t) CHECK(std::isfinite(*t), cell);
    if (tc) {
        CHECK(std::isfinite(tc->begin), cell);
        CHECK(std::isnan(tc->end) || (std::isfinite(tc->end) && tc->end > tc->begin && tc->end - tc->begin <= 25 * 3600),
              cell + " → " + num(tc->begin) + " .. " + num(tc->end));
        if (std::isnan(tc->end)) CHECK(t && *t == tc->begin, cell); // one instant: the same reading
    }
    const bool clock = isClockOnly(cell);
    if (clock && time.date.empty()) CHECK(!t && !tc, cell + ": a time of day without a date");
    // A clock range lasts what its clock times say (an end at or before the begin: on the next
    // day), give or take the hour summer time adds or takes in Europe/Berlin. Not checked where
    // a clock time is in hour 2, which on the days of the change does not exist or comes twice.
    if (clock && tc && std::isfinite(tc->end)) {
        int h1 = 0, m1 = 0, s1 = 0, h2 = 0, m2 = 0, s2 = 0;
        const std::string range = trimmed(cell);
        const std::size_t dash = range.find('-');
        if (dash != std::string::npos && std::sscanf(range.c_str(), "%d:%d:%d", &h1, &m1, &s1) >= 2 &&
            std::sscanf(range.c_str() + dash + 1, "%d:%d:%d", &h2, &m2, &s2) >= 2) {
            const int b = h1 * 3600 + m1 * 60 + (range.find(':', range.find(':') + 1) < dash ? s1 : 0);
            const int e = h2 * 3600 + m2 * 60 + (std::count(range.begin() + long(dash), range.end(), ':') == 2 ? s2 : 0);
            const double local = e > b ? e - b : e - b + 86400;
            const bool berlin = time.zone.timezone == "Europe/Berlin";
            if (!berlin || (h1 != 2 && h2 != 2))
                CHECK(std::fabs((tc->end - tc->begin) - local) <= (berlin ? 3600 : 0),
                      cell + " → " + num(tc->begin) + " .. " + num(tc->end));
        }
    }
    int64_t day;
    const bool dated = clock ? namedDay(time.date, day) : namedDay(trimmed(cell), day);
    if (dated) {
        // 00:00 … 24:00 local of that day, minus an offset of at most ±24 h (a range may end
        // on the next day).
        const double lo = double(day) * 86400 - 2 * 86400, hi = double(day + 1) * 86400 + 2 * 86400;
        if (t) CHECK(*t >= lo && *t <= hi, cell + " → " + num(*t));
        if (tc) CHECK(tc->begin >= lo && tc->begin <= hi, cell + " → " + num(tc->begin));
    }
    // A time that states its zone is that instant, whatever the configured timezone.
    if (t) {
        if (std::optional<double> exact = citytwin::fuzz::statedZoneTime(trimmed(cell)))
            CHECK(std::fabs(*t - *exact) < 1e-3, cell + " → " + num(*t) + ", expected " + num(*exact));
    }
}

// --- Counts through the detector table --------------------------------------------------------

void acceptAll(DetectorTable& table, const std::vector<RawCount>& counts) {
    for (const RawCount& raw : counts) {
        CHECK(std::isnan(raw.begin) || std::isfinite(raw.begin), raw.where);
        CHECK(std::isnan(raw.end) || std::isfinite(raw.end), raw.where);
        const std::optional<std::size_t> k = table.find(raw.detector);
        const double intervalBefore = k ? table.detectors()[*k].intervalS : kNaN;
        Rejection why;
        bool learned = true;
        std::optional<Count> c = table.accept(raw, why, &learned);
        if (!k) {
            CHECK(!c, "accepted for unknown detector " + raw.detector);
            CHECK(why.reason == reason::UnknownDetector, why.reason + ": " + why.detail);
        }
        if (!c) {
            checkRejection(why);
            CHECK(!learned, raw.where);
            if (k) CHECK(std::isnan(intervalBefore) ? std::isnan(table.detectors()[*k].intervalS)
                                                     : table.detectors()[*k].intervalS == intervalBefore,
                         raw.where + ": a rejected count changed the interval");
            continue;
        }
        const std::string at = raw.where + " (" + raw.detector + ", begin " + num(raw.begin) + ", end " +
                               num(raw.end) + ", count " + num(raw.count) + ")";
        CHECK(k && c->detector == *k, at);
        CHECK(table.detectors()[c->detector].id == raw.detector, at);
        CHECK(raw.badTime.empty() && raw.badCount.empty(), at);
        CHECK(std::isfinite(c->begin) && c->begin == raw.begin, at);
        const double interval = table.detectors()[c->detector].intervalS;
        double length = intervalBefore;
        if (std::isfinite(raw.end)) {
            CHECK(raw.end > raw.begin, at);
            length = raw.end - raw.begin;
        }
        CHECK(std::isfinite(length) && length > 0, at);
        CHECK(std::isfinite(interval) && interval >= 1 && interval <= 86400, at + ": interval " + num(interval));
        if (std::isfinite(intervalBefore)) {
            CHECK(!learned && interval == intervalBefore, at);
            CHECK(std::fabs(length - interval) <= kIntervalToleranceS, at + ": length " + num(length));
        } else {
            CHECK(learned && interval == length, at + ": length " + num(length));
        }
        CHECK(length <= 86400 + kIntervalToleranceS, at + ": length " + num(length));
        CHECK(std::isfinite(c->flowVehH) && c->flowVehH >= 0 && c->flowVehH <= kMaxCount * 3600 / 1,
              at + ": flow " + num(c->flowVehH));
        CHECK(c->flowVehH == raw.count * 3600.0 / interval, at + ": flow " + num(c->flowVehH));
    }
}

void checkProperties(const DetectorTable& table) {
    for (std::size_t k = 0; k < table.detectors().size(); ++k) {
        const std::string p = table.propertiesJson(k);
        json j = json::parse(p, nullptr, false);
        CHECK(j.is_object(), p);
        if (j.contains("interval_s"))
            CHECK(j["interval_s"].is_number() && j["interval_s"].get<double>() >= 1 &&
                      j["interval_s"].get<double>() <= 86400,
                  p);
    }
}

void checkRead(const ReadResult& r) {
    for (const Rejection& why : r.rejections)
        checkRejection(why);
    for (const RawCount& c : r.counts)
        CHECK(!c.where.empty(), c.detector);
}

// A file, as traffic_plugin.cpp's start(): read whole, sorted by begin, accepted in that order.
void runFile(const std::string& text, const TrafficConfig& cfg) {
    {
        // Every cell of every row through the time parsing, as either reader could take it.
        std::istringstream in(text);
        std::string line;
        for (int n = 0; n < 64 && std::getline(in, line); ++n)
            for (const std::string& cell : citytwin::replay::splitRow(line, line.find(';') != std::string::npos ? ';' : ','))
                checkTimeCell(cell, cfg.time);
    }
    std::istringstream in(text);
    ReadResult r = readCountFile(in, cfg, "counts.csv");
    if (!r.error.empty()) return; // the plugin refuses the feed at create()
    checkRead(r);
    if (cfg.format == FileFormat::Wide)
        for (const RawCount& c : r.counts)
            CHECK(std::any_of(cfg.detectors.begin(), cfg.detectors.end(), [&](const Detector& d) { return d.id == c.detector; }),
                  c.detector);
    auto key = [](const RawCount& c) { return std::isfinite(c.begin) ? c.begin : INFINITY; };
    std::stable_sort(r.counts.begin(), r.counts.end(), [&](const RawCount& a, const RawCount& b) { return key(a) < key(b); });
    DetectorTable table(cfg.detectors);
    acceptAll(table, r.counts);
    checkProperties(table);
}

// A message, as traffic_plugin.cpp's onMessage(); `twice`: a second message just like it.
void runMessage(std::string_view payload, const TrafficConfig& cfg, bool twice) {
    DetectorTable table(cfg.detectors);
    for (int n = 0; n < (twice ? 2 : 1); ++n) {
        ReadResult r = parseMessage(payload, cfg.time, "message on traffic/counts/d1");
        CHECK(r.error.empty(), r.error);
        checkRead(r);
        acceptAll(table, r.counts);
    }
    checkProperties(table);
    // The time strings in it, through the time parsing on their own.
    json j = json::parse(payload.begin(), payload.end(), nullptr, false);
    if (j.is_discarded()) return;
    int seen = 0;
    auto times = [&](const json& o) {
        if (!o.is_object()) return;
        for (const char* key : {"begin", "end"})
            if (auto it = o.find(key); it != o.end() && it->is_string() && seen++ < 16)
                checkTimeCell(it->get<std::string>(), cfg.time);
    };
    if (j.is_array())
        for (const json& o : j)
            times(o);
    else
        times(j);
}

// Mode 3: the configuration as the host passes it; an accepted one is used on a file and a message.
void runConfig(std::string_view text) {
    std::string error;
    std::optional<TrafficConfig> cfg = parseConfig(text, error);
    if (!cfg) {
        CHECK(error.rfind("traffic config: ", 0) == 0 && error.size() > 16, error);
        return;
    }
    const TrafficConfig& c = *cfg;
    CHECK(!c.detectors.empty(), "no detectors");
    std::set<std::string> ids;
    for (const Detector& d : c.detectors) {
        CHECK(!d.id.empty() && d.id.size() <= 200, d.id);
        CHECK(ids.insert(d.id).second, "duplicate id " + d.id);
        CHECK(!d.name.empty() && !d.column.empty(), d.id);
        CHECK(std::isnan(d.intervalS) || (d.intervalS >= 1 && d.intervalS <= 86400), d.id + ": " + num(d.intervalS));
        CHECK(std::isnan(d.headingDeg) || (d.headingDeg >= 0 && d.headingDeg < 360), d.id + ": " + num(d.headingDeg));
        CHECK(d.lanes >= 0 && d.lanes <= 64, d.id);
        CHECK(std::isnan(d.lon) == std::isnan(d.lat), d.id);
        CHECK(std::isnan(d.lon) || (d.lon >= -180 && d.lon <= 180 && d.lat >= -90 && d.lat <= 90), d.id);
        CHECK(std::isnan(d.warnAbove) || (d.warnAbove >= 0 && d.warnAbove <= 1e9), d.id);
        CHECK(std::isnan(d.alarmAbove) || (d.alarmAbove >= 0 && d.alarmAbove <= 1e9), d.id);
        CHECK(d.edge.size() <= 256, d.id);
    }
    CHECK(!c.file.empty() || c.mqtt, "neither file nor mqtt");
    CHECK(c.speed >= 0 && c.speed <= 1e9, num(c.speed));
    CHECK(c.classColumn.given() == !c.classes.empty(), "class_column and classes");
    CHECK(c.format == FileFormat::Wide || !c.classColumn.given(), "classes for a long file");
    const std::string& tz = c.time.zone.timezone;
    if (tz != "UTC" && tz != "Europe/Berlin")
        CHECK(c.time.zone.fixedOffset >= -86400 && c.time.zone.fixedOffset <= 86400, tz);
    CHECK(c.time.date.empty() || c.time.date.size() == 10, c.time.date);

    // A count for its first detector, as a file and as a message.
    const std::string& id = c.detectors[0].id;
    runMessage(json{{"detector", id}, {"begin", "2021-02-24T15:00:00Z"}, {"end", "2021-02-24T15:15:00Z"}, {"count", 12}}.dump(),
               c, true);
    if (c.format == FileFormat::Long)
        runFile("detector,begin,end,count\n\"" + id + "\",2021-02-24 15:00,2021-02-24 15:15,12\n", c);
    else
        runFile("Zeitraum," + c.detectors[0].column + "\n15:00 - 15:15,12\n2021-02-24T15:15:00Z,3\n", c);
}

} // namespace

// Every configuration the selector bytes can pick, parsed once up front (and so checked to be
// accepted before any input runs).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    for (int b0 = 0; b0 < 256; ++b0)
        if ((b0 & 3) != 3)
            for (int b1 = 0; b1 < 128; ++b1)
                (void)configFor(uint8_t(b0), uint8_t(b1));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t b0 = data[0], b1 = data[1];
    const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
    switch (b0 & 3) {
    case 0:
    case 1: runFile(std::string(rest), configFor(b0, b1)); break;
    case 2: runMessage(rest, configFor(b0, b1), (b1 & 0x10) != 0); break;
    default: runConfig(rest); break;
    }
    return 0;
}
