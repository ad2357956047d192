// SensorThings feed plugin: the parts without network — ISO 8601 times and durations, OData
// URL pieces, and the JSON of Datastreams and Observations (OGC SensorThings API 1.1,
// https://docs.ogc.org/is/18-088/18-088.html). Unit-tested in test_sensorthings.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace citytwin::sta {

// Reasons passed to count_rejected: few and fixed (the host keeps at most 64 per feed).
namespace reason {
inline constexpr const char* ResultNotNumeric = "result_not_numeric"; // a string, object or array result
inline constexpr const char* ResultMissing = "result_missing";        // null or no result
inline constexpr const char* InvalidTime = "invalid_time";            // phenomenonTime missing or not ISO 8601
inline constexpr const char* MalformedObservation = "malformed_observation"; // an entry that is not an object
inline constexpr const char* MalformedJson = "malformed_json";        // a response or message that is not JSON / has no value list
inline constexpr const char* MalformedDatastream = "malformed_datastream"; // a Datastream without @iot.id
inline constexpr const char* UnknownTopic = "unknown_topic";          // an MQTT message for no known Datastream
inline constexpr const char* InternalError = "internal_error";
} // namespace reason

// "2026-03-01T10:00:00Z", with optional fraction and a zone (Z, ±HH:MM, ±HHMM, ±HH; none = UTC),
// 'T' or ' ' between date and time; a bare date is its midnight UTC. Seconds since 1970 UTC.
std::optional<double> parseIsoInstant(std::string_view s);
// A phenomenonTime: an instant, or an interval "start/end" (both instants).
struct TimeSpan {
    double start, end;
};
std::optional<TimeSpan> parseTimeSpan(std::string_view s);
// An ISO 8601 duration in seconds: P[nW][nD][T[nH][nM][n[.f]S]]. Years and months (ambiguous
// lengths) are refused.
std::optional<double> parseIsoDuration(std::string_view s);
// "2026-03-01T10:00:00.123Z": UTC, milliseconds, rounded down (so "gt" never skips a value).
std::string formatIsoMillis(double secondsSince1970);

// Percent-encodes a query value: everything but A-Z a-z 0-9 - . _ ~ and / , ( ) ' @ : $ * !
std::string encodeQueryValue(std::string_view s);
// Decodes %XX (and nothing else: '+' stays '+').
std::string percentDecode(std::string_view s);
// Removes "user:password@" from a URL, for messages.
std::string redactUrl(const std::string& url);

// An entity id as the service gives it: a JSON number or string.
struct EntityId {
    std::string text;    // "42", "pegel-4": the sensor id in citytwin
    std::string literal; // OData literal: 42, 'pegel-4' (quotes doubled inside)
    bool operator==(const EntityId&) const = default;
};
std::optional<EntityId> entityId(const nlohmann::json& id);

// One Datastream of the discovery, with its expanded Thing/Locations, ObservedProperty, Sensor.
struct Datastream {
    EntityId id;
    std::string name, quantity, unit;
    double lon = NAN, lat = NAN, elevation = NAN; // WGS84; NaN when unknown
    std::string locationNote; // why there is no location (for the log), empty when there is one
};
// The same metadata (NaN equal to NaN): no new announcement needed.
bool sameMetadata(const Datastream& a, const Datastream& b);
// nullopt (with why) when it has no usable @iot.id.
std::optional<Datastream> parseDatastream(const nlohmann::json& ds, std::string& why);

// A GeoJSON location (Point, or a Feature with a Point geometry) in WGS84: lon, lat, optional
// elevation. False with why for other geometries, another CRS, or coordinates out of range.
bool parseGeoJsonPoint(const nlohmann::json& location, double& lon, double& lat, double& elevation, std::string& why);

// One Observation.
struct ParsedObservation {
    enum Kind { Numeric, Rejected } kind = Rejected;
    const char* rejectReason = nullptr; // a reason:: constant when Rejected
    bool hasTime = false;               // the time is known (also for a rejected result)
    TimeSpan time{NAN, NAN};
    double value = NAN;
    std::string idText; // @iot.id as text, "" when none
    int64_t dedupKey = -1;
};
ParsedObservation parseObservation(const nlohmann::json& obs);

// The dedup key of an Observation id: the id itself when it is an integer ≥ 0, else a 62-bit
// FNV-1a hash of its JSON text (≥ 0, so the store uses it as is); -1 without an id.
int64_t dedupKeyFor(const nlohmann::json& id);

} // namespace citytwin::sta
