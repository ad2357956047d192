// libFuzzer target: the MQTT plugin's configuration parser (plugins/mqtt/MqttConfig.h), then
// the decoders with each configuration it accepts on a fixed TTS, ChirpStack and JSON message.
// The input is the config JSON as a scenario would hand it over. Checks, besides the
// sanitizers: parseConfig returns a configuration or an error, never both or neither; what it
// accepts is what the decoders rely on (valid topic filters and JSON paths, a mapping for
// format json, limits in range); decoding with it never ends in an internal error.
#include "Decoders.h"
#include "MqttConfig.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace citytwin::mqtt;

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_mqtt_config: invariant violated: %s %s\n", what, detail.c_str());
    std::abort();
}
#define CHECK(cond, detail)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) violated(#cond, detail);                                                                \
    } while (0)

constexpr const char* kTts =
    R"({"end_device_ids":{"device_id":"dev1","dev_eui":"0004A30B001C0530"},"received_at":"2024-05-01T10:00:00Z",)"
    R"("uplink_message":{"f_cnt":7,"decoded_payload":{"level":2.5,"temperature":"11.5","bat":3.6}}})";
constexpr const char* kChirpStack =
    R"({"time":"2024-05-01T10:00:00+02:00","fCnt":3,"deviceInfo":{"devEui":"0101010101010101","deviceName":"p"},)"
    R"("object":{"flow":4.5,"pump_running":true}})";
constexpr const char* kJson =
    R"({"id":"well7","ts":1714557600,"fcnt":5,"level":1.25,"data":[3,4],"m":{"flow":2}})";

void checkDecoded(const IngestResult& r, const Ingest& ingest) {
    for (const auto& rej : r.rejections)
        CHECK(rej.reason != reason::InternalError, rej.detail);
    CHECK(ingest.sensorCount() <= ingest.config().maxSensors, "");
    for (const auto& o : r.observations)
        CHECK(std::isfinite(o.value) && std::fabs(o.value) <= kMaxAbsValue, o.sensorId);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    std::optional<PluginConfig> c = parseConfig(text, error);
    if (!c) {
        CHECK(!error.empty(), "rejected without a message");
        return 0;
    }
    CHECK(error.empty(), error);
    CHECK(!c->topics.empty(), "");
    for (const auto& t : c->topics)
        CHECK(validTopicFilter(t), t);
    CHECK(c->port >= 1 && c->port <= 65535, "");
    CHECK(c->qos >= 0 && c->qos <= 2, "");
    CHECK(c->reconnectMinS <= c->reconnectMaxS, "");
    const DecoderConfig& d = c->decoder;
    const JsonMapping& m = d.mapping;
    CHECK(d.format != Format::Json || !m.values.empty(), "json without a mapping");
    if (!m.values.empty()) CHECK(!m.devicePath.empty() || !m.deviceFixed.empty(), "mapping without a sensor");
    if (!m.devicePath.empty()) CHECK(validJsonPath(m.devicePath), m.devicePath);
    if (!m.timePath.empty()) CHECK(validJsonPath(m.timePath), m.timePath);
    if (!m.fCntPath.empty()) CHECK(validJsonPath(m.fCntPath), m.fCntPath);
    for (const auto& [key, path] : m.values) {
        CHECK(!key.empty() && key.find('/') == std::string::npos, key);
        CHECK(validJsonPath(path), path);
    }
    for (const auto& [key, q] : d.quantities)
        CHECK(std::isfinite(q.scale) && std::isfinite(q.offset), key);
    CHECK(d.maxSensors >= 1, "");

    Ingest ingest(c->decoder);
    checkDecoded(ingest.process("v3/app1/devices/dev1/up", kTts, 1.7e9), ingest);
    checkDecoded(ingest.process("application/a/device/0101010101010101/event/up", kChirpStack, 1.7e9),
                 ingest);
    checkDecoded(ingest.process("sensors/well7", kJson, 1.7e9), ingest);
    checkDecoded(ingest.process("v3/app1/devices/dev1/up", kTts, 1.7e9 + 3600), ingest);
    return 0;
}
