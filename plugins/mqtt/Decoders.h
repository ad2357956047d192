// MQTT feed plugin: payload decoders (The Things Stack v3, ChirpStack v4, plain JSON with a
// mapping), the early frame-counter replay filter and the sensor registry.
//
// Everything here is plain C++ without libmosquitto or the plugin ABI, so the decoders are
// unit-tested on their own (plugins/mqtt/test_mqtt.cpp). The rules (which time is the
// phenomenon time, when a lower frame counter is a reset, which keys are used) are documented
// in plugins/mqtt/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace citytwin::mqtt {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Values with |v| above this are rejected (a decoder bug or a corrupted frame, not a reading).
inline constexpr double kMaxAbsValue = 1e12;

// Stable rejection reasons: what the host's count_rejected receives.
namespace reason {
inline constexpr const char* PayloadTooLarge = "payload_too_large";
inline constexpr const char* MalformedJson = "malformed_json";
inline constexpr const char* NotAnObject = "not_an_object";
inline constexpr const char* NotAnUplink = "not_an_uplink";
inline constexpr const char* UnknownTopic = "unknown_topic";
inline constexpr const char* MissingDeviceId = "missing_device_id";
inline constexpr const char* TopicDeviceMismatch = "topic_device_mismatch";
inline constexpr const char* UnknownDevice = "unknown_device";
inline constexpr const char* MissingTime = "missing_time";
inline constexpr const char* InvalidTime = "invalid_time";
inline constexpr const char* InvalidFrameCounter = "invalid_frame_counter";
inline constexpr const char* ReplayedFrameCounter = "replayed_frame_counter";
inline constexpr const char* NoValues = "no_values";
inline constexpr const char* InvalidValue = "invalid_value";
inline constexpr const char* ValueNotFinite = "value_not_finite";
inline constexpr const char* ValueOutOfRange = "value_out_of_range";
inline constexpr const char* TooManySensors = "too_many_sensors";
inline constexpr const char* InternalError = "internal_error";
} // namespace reason

enum class Format { Auto, Tts, ChirpStack, Json };
std::optional<Format> formatFromString(std::string_view s);
const char* formatName(Format f);

// Key → quantity/unit (and optional thresholds and a linear conversion value*scale+offset).
struct Quantity {
    std::string quantity;
    std::string unit;
    double warnAbove = kNaN;
    double alarmAbove = kNaN;
    double scale = 1.0;
    double offset = 0.0;
};

struct DeviceMeta {
    std::string name; // empty: unknown
    double lon = kNaN, lat = kNaN, elevationM = kNaN;
};

// Plain JSON: where the device (sensor prefix), time, frame counter and values are.
// Paths are "$" or "$.a.b.0" (dot-separated object keys; an all-digit segment indexes an array).
struct JsonMapping {
    std::string devicePath;  // "$.id"; empty when deviceFixed is used
    std::string deviceFixed; // a fixed device name (config "sensor" without a leading "$")
    std::string timePath;    // empty: the reception time
    std::string fCntPath;    // empty: no frame counter (dedup key -1)
    std::vector<std::pair<std::string, std::string>> values; // key → path
};

struct DecoderConfig {
    Format format = Format::Auto;
    JsonMapping mapping;                 // needed for Format::Json (and Auto on other topics)
    std::vector<std::string> keys;       // TTS/ChirpStack: use only these decoded keys (empty: all)
    std::vector<std::string> ignoreKeys; // TTS/ChirpStack: never use these decoded keys
    std::map<std::string, Quantity> quantities;
    std::map<std::string, DeviceMeta> devices;
    bool allowList = false; // devices is an allow-list (unknown devices are rejected)
    std::size_t maxPayloadBytes = 65536;
    int64_t fCntResetMax = 16;      // a lower counter ≤ this ...
    double fCntResetGapS = 60.0;    // ... at least this much later than the last frame is a reset
    std::size_t maxSensors = 10000; // new sensors beyond this are rejected
};

struct Rejection {
    std::string reason; // one of reason::*
    std::string detail; // for the log
};

struct DecodedValue {
    std::string key;
    double value;
};

// One uplink frame as the decoders see it, before the replay filter.
struct Uplink {
    std::string device;     // the device part of the sensor ids
    std::string deviceEui;  // TTS dev_eui / ChirpStack devEui when known (lower case)
    std::string deviceName; // from the payload, may be empty
    double lon = kNaN, lat = kNaN, elevationM = kNaN; // from the payload, NaN if none
    int64_t fCnt = -1;                                // -1: no frame counter
    double phenomenonTime = kNaN;
    double resultTime = kNaN;
    double frameTime = kNaN; // the frame's own time for the replay filter (reception time in the payload)
    std::vector<DecodedValue> values;
};

struct DecodeResult {
    std::optional<Uplink> uplink;      // empty when the message was rejected as a whole
    std::vector<Rejection> rejections; // the whole-message reason, or one per unusable value
};

// --- Pure helpers ------------------------------------------------------------------------

// RFC 3339 / ISO 8601 date-time → seconds since the epoch (UTC). Accepts "T", "t" or " " as
// separator, any number of fraction digits, "Z"/"z" or ±HH:MM (also ±HHMM); without a zone
// only when requireZone is false (then UTC).
std::optional<double> parseRfc3339(std::string_view s, bool requireZone = true);
// A number as text ("12.5", " -3e2 "): the whole string, surrounding blanks allowed.
std::optional<double> parseNumberText(std::string_view s);
// Epoch seconds from a JSON time value: RFC 3339 text, or a number (or numeric text) of
// seconds, or of milliseconds when ≥ 1e11 (1e11 s is the year 5138, 1e11 ms is March 1973).
std::optional<double> epochFromNumber(double v);
// The quantity for a decoded key: config first, else defaults by key name.
Quantity quantityFor(std::string_view key, const DecoderConfig& cfg);
Quantity defaultQuantity(std::string_view key);
// Checks an MQTT subscription filter ('+' and '#' only as whole levels, '#' last).
bool validTopicFilter(std::string_view filter);
bool validJsonPath(std::string_view path);

// --- Decoders (no state) -----------------------------------------------------------------

// Topic shape → format for Format::Auto: v3/…/devices/…/up → TTS,
// application/…/device/…/event/up → ChirpStack, anything else → Json (if a mapping exists).
std::optional<Format> detectFormat(std::string_view topic, const DecoderConfig& cfg);

// Decodes one MQTT message (size check first, then JSON, then the format's fields).
// nowS: the local reception time (used by the JSON format when it has no time path).
DecodeResult decodeMessage(std::string_view topic, std::string_view payload, const DecoderConfig& cfg,
                           double nowS);

// --- State: replay filter and sensor registry -------------------------------------------

// Early filter for replayed frames. Per device it keeps the last accepted frame counter and
// the (message) time of that frame. A frame is accepted when
//   - it has no counter (fCnt < 0), or the device is new, or fCnt > last, or
//   - fCnt ≤ resetMax and its time is at least resetGapS after the last accepted frame
//     (the device rejoined / rebooted / the 32-bit counter wrapped).
// Otherwise it is a replay (a retransmission, a QoS 1 redelivery, or an attack).
class FrameCounterFilter {
  public:
    FrameCounterFilter(int64_t resetMax, double resetGapS) : m_resetMax(resetMax), m_resetGapS(resetGapS) {}
    enum class Verdict { New, Increasing, Reset, Replay };
    // Checks and, unless Replay, records the frame.
    Verdict check(const std::string& device, int64_t fCnt, double timeS);
    std::size_t devices() const { return m_last.size(); }

  private:
    struct Last {
        int64_t fCnt;
        double timeS;
    };
    int64_t m_resetMax;
    double m_resetGapS;
    std::unordered_map<std::string, Last> m_last;
};

struct SensorInfo {
    std::string id;
    std::string name;
    double lon = kNaN, lat = kNaN, elevationM = kNaN;
    std::string quantity, unit;
    double warnAbove = kNaN, alarmAbove = kNaN;
};

struct Observation {
    std::string sensorId;
    double phenomenonTime;
    double resultTime;
    double value;
    int32_t quality;
    int64_t dedupKey;
};

struct IngestResult {
    std::vector<SensorInfo> announce; // new sensors, or sensors whose metadata changed
    std::vector<Observation> observations;
    std::vector<Rejection> rejections;
};

// decodeMessage + allow-list + replay filter + sensor registry → what the plugin hands the
// host. Not thread-safe: one instance per plugin instance, called from its MQTT thread.
class Ingest {
  public:
    explicit Ingest(DecoderConfig cfg);
    IngestResult process(std::string_view topic, std::string_view payload, double nowS);
    const DecoderConfig& config() const { return m_cfg; }
    std::size_t sensorCount() const { return m_sensors.size(); }

  private:
    const DeviceMeta* findDevice(const Uplink& up) const;
    DecoderConfig m_cfg;
    FrameCounterFilter m_fcnt;
    std::unordered_map<std::string, int64_t> m_sessions; // per device: counter resets seen
    std::unordered_map<std::string, SensorInfo> m_sensors; // announced, by id
};

} // namespace citytwin::mqtt
