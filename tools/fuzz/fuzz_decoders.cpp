// libFuzzer target: the MQTT plugin's payload decoders (plugins/mqtt/Decoders.h) — The Things
// Stack v3, ChirpStack v4 and mapped JSON — the topic parsing, the pure helpers (RFC 3339,
// numbers as text, topic filters, JSON paths) and Ingest (allow-list, frame-counter filter,
// sensor registry, scale/offset). Built and run by tools/fuzz/run.sh (docs/plugins.md, "Fuzzing").
//
// Input layout (the seeds in corpus/fuzz_decoders/ start with two printable selector bytes):
//   byte 0: bits 0-1 format (auto, tts, chirpstack, json); bit 2 a `keys` list; bit 3 an
//           `ignore_keys` list; bits 4-5 one of four JSON mappings; bit 6 through Ingest (else
//           decodeMessage only); bit 7 max_payload_bytes 256 (else 64 KiB)
//   byte 1: bits 0-2 the topic (a TTS, a ChirpStack, a plain topic, ..., or 6: the input's
//           first line, which is then also tried as a value path); bits 3-4 the reception time;
//           bit 5 the configured devices are an allow-list; bit 6 max_sensors 2; bit 7 the
//           message is processed a second time, two minutes later (replay filter)
//   the rest: the payload
// Besides the sanitizers it checks what the decoders promise: a message is either an uplink
// with values (or per-value rejections) or rejected with a reason; every value and time is finite; values are
// within ±1e12 (also after scale/offset); frame counters are -1..2^32-1; reasons are the known ones.
#include "Decoders.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

using namespace citytwin::mqtt;

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_decoders: invariant violated: %s %s\n", what, detail.c_str());
    std::abort();
}
#define CHECK(cond, detail)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) violated(#cond, detail);                                                                \
    } while (0)

const std::set<std::string>& knownReasons() {
    static const std::set<std::string> r = {reason::PayloadTooLarge,
                                            reason::MalformedJson,
                                            reason::NotAnObject,
                                            reason::NotAnUplink,
                                            reason::UnknownTopic,
                                            reason::MissingDeviceId,
                                            reason::TopicDeviceMismatch,
                                            reason::UnknownDevice,
                                            reason::MissingTime,
                                            reason::InvalidTime,
                                            reason::InvalidFrameCounter,
                                            reason::ReplayedFrameCounter,
                                            reason::NoValues,
                                            reason::InvalidValue,
                                            reason::ValueNotFinite,
                                            reason::ValueOutOfRange,
                                            reason::TooManySensors,
                                            reason::InternalError};
    return r;
}

void checkRejections(const std::vector<Rejection>& rs) {
    for (const auto& r : rs) {
        CHECK(knownReasons().count(r.reason), r.reason);
        // An internal error is a decoder exception escaping its checks: a bug.
        CHECK(r.reason != reason::InternalError, r.detail);
    }
}

JsonMapping mappingVariant(int v) {
    JsonMapping m;
    switch (v) {
    case 0:
        m.devicePath = "$.id";
        m.values = {{"level", "$.level"}, {"temperature", "$.data.0"}};
        break;
    case 1:
        m.deviceFixed = "well7";
        m.timePath = "$.ts";
        m.fCntPath = "$.fcnt";
        m.values = {{"level", "$.level"}};
        break;
    case 2:
        m.devicePath = "$.dev.eui";
        m.timePath = "$.t";
        m.values = {{"all", "$"}, {"x", "$.v.0.x"}, {"y", "$.v.1"}};
        break;
    default:
        m.devicePath = "$.id";
        m.timePath = "$.ts";
        m.fCntPath = "$.fcnt";
        m.values = {{"level", "$.level"}, {"battery", "$.bat"}, {"flow", "$.m.flow"}};
        break;
    }
    return m;
}

DecoderConfig configFrom(uint8_t b0, uint8_t b1) {
    DecoderConfig c;
    c.format = static_cast<Format>(b0 & 3);
    if (b0 & 4) c.keys = {"temperature", "level", "a.b", "flow"};
    if (b0 & 8) c.ignoreKeys = {"battery", "luminosity", "time"};
    c.mapping = mappingVariant((b0 >> 4) & 3);
    if (b0 & 0x80) c.maxPayloadBytes = 256;
    // Ingest: configured quantities with a conversion (large enough to push values past 1e12)
    // and devices, by id and by upper-case EUI.
    Quantity level{"groundwater_level", "m", 3.0, 5.0, 1e6, -5.0};
    Quantity temp{"temperature", "°C", kNaN, kNaN, 1.0, -273.15};
    c.quantities = {{"level", level}, {"temperature", temp}};
    DeviceMeta d1{"Well 1", 7.1, 51.2, 40.0};
    DeviceMeta d2{"", kNaN, kNaN, kNaN};
    c.devices = {{"dev1", d1}, {"0004A30B001C0530", d2}, {"well7", d1}};
    c.allowList = (b1 & 0x20) != 0;
    if (b1 & 0x40) c.maxSensors = 2;
    return c;
}

constexpr const char* kTopics[] = {
    "v3/app1@ttn/devices/dev1/up",
    "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up",
    "sensors/well7",
    "",
    "v3/app1/devices/dev1/up/extra",
    "application/x/device/0004A30B001C0530/event/up",
    nullptr, // the input's first line
    "v3//devices//up",
};
constexpr double kNow[] = {1.7e9, 0.0, 1e11 - 1, 1234567890.5};

void checkUplink(const Uplink& up, const std::vector<Rejection>& rejections) {
    // Values, or a rejection per unusable value (then the frame still counts for the replay
    // filter); never neither (that is no_values, a whole-message rejection).
    CHECK(!up.values.empty() || !rejections.empty(), up.device);
    CHECK(up.fCnt >= -1 && up.fCnt <= INT64_C(0xffffffff), std::to_string(up.fCnt));
    CHECK(std::isfinite(up.phenomenonTime), up.device);
    CHECK(std::isfinite(up.resultTime), up.device);
    for (const auto& v : up.values) {
        CHECK(std::isfinite(v.value), v.key);
        CHECK(std::fabs(v.value) <= kMaxAbsValue, v.key);
    }
}

void checkIngest(const IngestResult& r, const Ingest& ingest) {
    checkRejections(r.rejections);
    CHECK(ingest.sensorCount() <= ingest.config().maxSensors, "");
    for (const auto& o : r.observations) {
        CHECK(std::isfinite(o.value) && std::fabs(o.value) <= kMaxAbsValue, o.sensorId);
        CHECK(std::isfinite(o.phenomenonTime) && std::isfinite(o.resultTime), o.sensorId);
        CHECK(!o.sensorId.empty(), "");
    }
    for (const auto& s : r.announce)
        CHECK(!s.id.empty(), "");
}

// The pure helpers on arbitrary text.
void helpers(std::string_view s) {
    auto strict = parseRfc3339(s, true);
    auto lax = parseRfc3339(s, false);
    if (strict) {
        CHECK(std::isfinite(*strict), std::string(s));
        CHECK(lax && *lax == *strict, std::string(s)); // a zone is never worse than none
    }
    if (lax) CHECK(std::isfinite(*lax), std::string(s));
    if (auto n = parseNumberText(s)) {
        if (auto e = epochFromNumber(*n)) CHECK(std::isfinite(*e) && *e >= 0 && *e < 1e11, std::string(s));
    }
    (void)validTopicFilter(s);
    (void)validJsonPath(s);
    (void)formatFromString(s);
    (void)defaultQuantity(s);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t b0 = data[0], b1 = data[1];
    std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
    DecoderConfig cfg = configFrom(b0, b1);

    std::string topic;
    std::string_view payload = rest;
    if (const char* t = kTopics[b1 & 7]) {
        topic = t;
    } else {
        std::size_t nl = rest.find('\n');
        topic = std::string(rest.substr(0, nl));
        payload = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        // The topic line doubles as a value path: resolvePath on arbitrary (also invalid) paths.
        cfg.mapping.values.emplace_back("custom", topic);
        helpers(topic);
    }
    const double now = kNow[(b1 >> 3) & 3];

    (void)detectFormat(topic, cfg);
    if (!(b0 & 0x40)) {
        DecodeResult r = decodeMessage(topic, payload, cfg, now);
        checkRejections(r.rejections);
        if (r.uplink)
            checkUplink(*r.uplink, r.rejections);
        else
            CHECK(!r.rejections.empty(), "a message neither decoded nor rejected");
        helpers(payload);
    } else {
        Ingest ingest(cfg);
        checkIngest(ingest.process(topic, payload, now), ingest);
        if (b1 & 0x80) checkIngest(ingest.process(topic, payload, now + 120), ingest);
    }
    return 0;
}
