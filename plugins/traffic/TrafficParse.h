// The traffic plugin's parsing: its configuration, count files (long: one count per row; wide:
// counting-office sheets with one column per detector), MQTT count messages, and the checks a
// count passes before it becomes an hourly flow. Plain C++ without the plugin ABI or
// libmosquitto, so it is unit-tested on its own (plugins/traffic/test_traffic.cpp).
#pragma once

#include "MqttConfig.h"
#include "ReplayParse.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace citytwin::traffic {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr std::size_t kMaxPayloadBytes = 64 * 1024; // an MQTT message
inline constexpr double kMaxCount = 1e6;                   // vehicles in one interval
inline constexpr double kIntervalToleranceS = 1;           // a count's length vs its detector's interval

// What the host's count_rejected receives: few and fixed.
namespace reason {
inline constexpr const char* MalformedJson = "malformed_json";
inline constexpr const char* UnknownDetector = "unknown_detector";
inline constexpr const char* InvalidTime = "invalid_time";
inline constexpr const char* InvalidCount = "invalid_count";
inline constexpr const char* IntervalMismatch = "interval_mismatch";
inline constexpr const char* PayloadTooLarge = "payload_too_large";
inline constexpr const char* BadRow = "bad_row";
} // namespace reason

struct Rejection {
    std::string reason; // one of reason::*
    std::string detail; // for the log: where and what
};

struct Detector {
    std::string id, name;
    std::string edge;              // a road edge id; empty: none
    double lon = kNaN, lat = kNaN; // WGS84
    double headingDeg = kNaN;      // direction of travel counted, 0 = east, counter-clockwise, [0, 360)
    double intervalS = kNaN;       // configured; NaN: taken from the first count
    int lanes = 0;                 // 0: not configured
    double warnAbove = kNaN, alarmAbove = kNaN; // veh/h
    std::string column;                         // wide files: the header of its column (default: the id)
    bool columnGiven = false;
    bool placed() const { return !edge.empty() || (std::isfinite(lon) && std::isfinite(lat)); }
};

// Where times without a zone are read, and the day of clock-only times ("15:00 - 15:05").
struct TimeSettings {
    replay::TimeParser zone; // timezone and fixedOffset; timeFormat iso
    std::string date;        // "2021-02-24" or empty
};

// A column named by its header or by its 0-based index.
struct ColumnRef {
    std::string name;
    int index = -1;
    bool given() const { return !name.empty() || index >= 0; }
};

enum class FileFormat { Long, Wide };

struct TrafficConfig {
    std::vector<Detector> detectors;
    std::string file; // resolved against scenario_dir; empty: none
    FileFormat format = FileFormat::Long;
    TimeSettings time;
    double speed = 0; // × real time; 0 = as fast as the host takes it
    // wide files
    ColumnRef timeColumn{"", 0};
    ColumnRef classColumn;
    std::vector<std::string> classes; // rows of these classes are summed
    std::optional<mqtt::ConnectionConfig> mqtt;
    std::vector<std::string> warnings; // unknown keys: logged at start, not fatal
};

// Parses and validates (no file access); on failure nullopt and a message naming the key and
// what to do.
std::optional<TrafficConfig> parseConfig(std::string_view json, std::string& error);

// "15min", "5 min", "1h", "300s", "300" → seconds (1 s … 1 day); nullopt otherwise.
std::optional<double> parseInterval(std::string_view text);

// A date-time → UTC seconds: RFC 3339 / ISO 8601 with "Z" or an offset (exact), or without a
// zone ("2026-02-01 08:00", read in the configured zone); a clock time "15:00" needs the
// configured date. nullopt when it is none of these.
std::optional<double> parseInstant(std::string_view text, const TimeSettings& time);

// A wide file's time cell: "15:00 - 15:05" (begin - end on the configured date; an end at or
// before the begin is on the next day) or one instant (the begin; end NaN).
struct TimeCell {
    double begin = kNaN, end = kNaN;
};
std::optional<TimeCell> parseTimeCell(std::string_view text, const TimeSettings& time);
// Whether a cell is a time of day without a date ("15:00", "15:00 - 15:05").
bool isClockOnly(std::string_view text);

// A count as read from a row or a message, before the checks of DetectorTable::accept.
struct RawCount {
    std::string detector;
    double begin = kNaN, end = kNaN; // NaN end: the detector's interval
    double count = kNaN;
    std::string badTime;  // non-empty: a time that is not one (→ invalid_time)
    std::string badCount; // non-empty: a count that is not a number (→ invalid_count)
    std::string where;    // "counts.csv:12", "message" — for the log
};

// A count that passed: its detector (index), the interval's begin and the hourly flow.
struct Count {
    std::size_t detector;
    double begin;
    double flowVehH; // count × 3600 / interval length
};

struct ReadResult {
    std::vector<RawCount> counts;
    std::vector<Rejection> rejections;
    std::string error; // a file the plugin cannot use at all (header, no date for clock times)
};

// A count file (long or wide per cfg.format): header checks, then every row. A UTF-8 BOM, CRLF,
// quoted cells and a ';' delimiter (detected from the header line; then decimal commas too)
// are accepted. `name` is the file's name for messages.
ReadResult readCountFile(std::istream& in, const TrafficConfig& cfg, const std::string& name);

// One MQTT message: {"detector", "begin", "end" | "interval_s", "count"} or an array of them.
// `where` ("message on traffic/counts/d2") goes into the rejections' details.
ReadResult parseMessage(std::string_view payload, const TimeSettings& time,
                        const std::string& where = "message");

// The detectors and the intervals learned from first counts. Not thread-safe.
class DetectorTable {
  public:
    explicit DetectorTable(std::vector<Detector> detectors);
    const std::vector<Detector>& detectors() const { return m_detectors; }
    std::optional<std::size_t> find(std::string_view id) const;
    // Checks a count against its detector, in this order: unknown_detector, invalid_time (a
    // time that is not one, an end not after the begin, no end and no interval),
    // invalid_count (not a number, negative, above 1e6), interval_mismatch (length ≠ interval
    // ± 1 s). A detector without an interval takes the first count's length (1 s to 1 day,
    // else invalid_time); then *learned is set (its properties changed).
    std::optional<Count> accept(const RawCount& raw, Rejection& rejection, bool* learned = nullptr);
    // The sensor's properties_json: {"edge", "heading", "interval_s", "lanes"}, each when known.
    std::string propertiesJson(std::size_t detector) const;

  private:
    std::vector<Detector> m_detectors;
    std::unordered_map<std::string, std::size_t> m_index; // id → detector
};

} // namespace citytwin::traffic
