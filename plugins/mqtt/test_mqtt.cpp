// Tests of the MQTT feed plugin (plugins/mqtt/README.md).
//
// Decoders: realistic uplinks written from the public formats (cited at each builder in
// MqttTestSupport.h and below), times checked against glibc's timegm/gmtime_r, values against
// the numbers the test put in. Broker: a real mosquitto per test (temp dir, free loopback
// port, persistence on), the plugin dlopen'ed from the built .so and driven through
// citytwin_plugin_entry and the C ABI with an in-memory host.
#include "Decoders.h"
#include "MqttConfig.h"
#include "MqttTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace citytwin::mqtt;
using namespace mqtt_test;

namespace {

#ifndef CITYTWIN_MQTT_PLUGIN
#error "CITYTWIN_MQTT_PLUGIN must name the built plugin"
#endif

const std::string kPluginPath = CITYTWIN_MQTT_PLUGIN;

std::string brokerBinary() {
    std::string configured = CITYTWIN_MOSQUITTO_BROKER;
    if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos) return configured;
    for (const char* p : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"})
        if (access(p, X_OK) == 0) return p;
    return "";
}

#define REQUIRE_BROKER()                                                                                     \
    if (brokerBinary().empty())                                                                              \
    GTEST_SKIP() << "mosquitto (the broker) is not installed: apt-get install mosquitto"

// timegm() is the independent reference for the RFC 3339 parser.
double utc(int y, int mo, int d, int h, int mi, int s) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return static_cast<double>(timegm(&tm));
}

DecoderConfig ttsConfig() {
    DecoderConfig c;
    c.format = Format::Tts;
    return c;
}

IngestResult ingestOne(const DecoderConfig& cfg, const std::string& topic, const std::string& payload,
                       double now = 1.7e9) {
    Ingest ingest(cfg);
    return ingest.process(topic, payload, now);
}

const Observation* findObs(const IngestResult& r, const std::string& sensor) {
    for (const auto& o : r.observations)
        if (o.sensorId == sensor) return &o;
    return nullptr;
}
const SensorInfo* findSensor(const IngestResult& r, const std::string& sensor) {
    for (const auto& s : r.announce)
        if (s.id == sensor) return &s;
    return nullptr;
}

// The uplink example of The Things Stack documentation, "Data Formats" → "Uplink Messages"
// (https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/), with its
// values unchanged.
const char* kTtsDocExample = R"({
  "end_device_ids" : {
    "device_id" : "dev1",
    "application_ids" : { "application_id" : "app1" },
    "dev_eui" : "0004A30B001C0530",
    "join_eui" : "800000000000000C",
    "dev_addr" : "00BCB929"
  },
  "correlation_ids" : [
    "as:up:01E0WZGT6Y7657CPFPE5WEYDSQ",
    "gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE",
    "gs:uplink:01E0WZGSZWT07NE5TS2APTV1Z9",
    "ns:uplink:01E0WZGSZXZXZS8RFAWZX0F2FY",
    "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:01E0WZGSZXGE1KS577PFBWRJEE"
  ],
  "received_at" : "2020-02-12T15:15:46.014773143Z",
  "uplink_message" : {
    "session_key_id" : "AXA50tHUGUucuzS/bCGMNw==",
    "f_cnt" : 1,
    "frm_payload" : "gkHe",
    "decoded_payload" : { "temperature": 1.0, "luminosity": 0.64 },
    "rx_metadata" : [ {
      "gateway_ids" : { "gateway_id" : "gtw1", "eui" : "9C5C8E00001A05C4" },
      "time" : "2020-02-12T15:15:45.787Z",
      "timestamp" : 2463457000,
      "rssi" : -35,
      "channel_rssi" : -35,
      "snr" : 5,
      "uplink_token" : "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=",
      "channel_index" : 2
    } ],
    "settings" : {
      "data_rate" : { "lora" : { "bandwidth" : 125000, "spreading_factor" : 7 } },
      "coding_rate" : "4/6",
      "frequency" : "868300000",
      "timestamp" : 2463457000,
      "time" : "2020-02-12T15:15:45.787Z"
    },
    "consumed_airtime": "0.056576s",
    "locations": {
      "user": { "latitude": 37.97155556731436, "longitude": 23.72678801175413, "altitude": 10, "source": "SOURCE_REGISTRY" }
    },
    "version_ids": { "brand_id": "the-things-products", "model_id": "the-things-uno", "hardware_version": "1.0",
                     "firmware_version": "quickstart", "band_id": "US_902_928" },
    "network_ids": { "net_id": "000013", "tenant_id": "tenant1", "cluster_id": "nam1" },
    "received_at" : "2020-02-12T15:15:45.789585559Z"
  }
})";

// The "up" event example of the ChirpStack v4 documentation, "Event types"
// (https://www.chirpstack.io/docs/chirpstack/integrations/events.html): note it has no fCnt
// (zero, omitted by the protobuf JSON mapping). Its device has no codec, so the example has no
// "object"; the decoded object a codec adds (UplinkEvent.object in integration.proto) is added
// here.
const char* kChirpStackDocExample = R"({
	"deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
	"time": "2022-07-18T09:34:15.775023242+00:00",
	"deviceInfo": {
		"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
		"tenantName": "ChirpStack",
		"applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
		"applicationName": "Test application",
		"deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
		"deviceProfileName": "Test device-profile",
		"deviceName": "Test device",
		"devEui": "0101010101010101",
		"tags": { "key": "value" }
	},
	"devAddr": "00189440",
	"dr": 1,
	"fPort": 1,
	"data": "qg==",
	"object": { "temperature": 21.5, "pump_running": true, "flow": "3.25" },
	"rxInfo": [{
		"gatewayId": "0016c001f153a14c",
		"uplinkId": 4217106255,
		"rssi": -36,
		"snr": 10.5,
		"context": "E3OWOQ==",
		"metadata": { "region_name": "eu868", "region_common_name": "EU868" }
	}],
	"txInfo": {
		"frequency": 867100000,
		"modulation": { "lora": { "bandwidth": 125000, "spreadingFactor": 11, "codeRate": "CR_4_5" } }
	}
})";

} // namespace

// --- Time and number parsing -----------------------------------------------------------------

TEST(Time, Rfc3339AgainstTimegm) {
    EXPECT_DOUBLE_EQ(*parseRfc3339("2020-02-12T15:15:46Z"), utc(2020, 2, 12, 15, 15, 46));
    EXPECT_NEAR(*parseRfc3339("2020-02-12T15:15:46.014773143Z"), utc(2020, 2, 12, 15, 15, 46) + 0.014773143,
                1e-6);
    // Offsets: the same instant written in three zones.
    EXPECT_DOUBLE_EQ(*parseRfc3339("2022-07-18T09:34:15+00:00"), utc(2022, 7, 18, 9, 34, 15));
    EXPECT_DOUBLE_EQ(*parseRfc3339("2022-07-18T11:34:15+02:00"), utc(2022, 7, 18, 9, 34, 15));
    EXPECT_DOUBLE_EQ(*parseRfc3339("2022-07-18T04:04:15-05:30"), utc(2022, 7, 18, 9, 34, 15));
    EXPECT_DOUBLE_EQ(*parseRfc3339("2024-02-29t23:59:59z"), utc(2024, 2, 29, 23, 59, 59));
    EXPECT_DOUBLE_EQ(*parseRfc3339("1970-01-01T00:00:00Z"), 0.0);
    // More than nanoseconds: the extra digits are dropped.
    EXPECT_NEAR(*parseRfc3339("2020-01-01T00:00:00.1234567891234Z"), utc(2020, 1, 1, 0, 0, 0) + 0.123456789,
                1e-6);
    // Without a zone only where allowed (plain JSON), then UTC.
    EXPECT_FALSE(parseRfc3339("2020-02-12T15:15:46"));
    EXPECT_DOUBLE_EQ(*parseRfc3339("2020-02-12 15:15:46", false), utc(2020, 2, 12, 15, 15, 46));
    for (const char* bad :
         {"", "yesterday", "2023-02-29T00:00:00Z", "2020-13-01T00:00:00Z", "2020-02-12T25:00:00Z",
          "2020-02-12T15:61:00Z", "2020-02-12", "2020-02-12T15:15Z", "2020-02-12T15:15:46.Z",
          "2020-02-12T15:15:46Zjunk", "2020-02-12T15:15:46+2:00", "20200212T151546Z"})
        EXPECT_FALSE(parseRfc3339(bad)) << bad;
}

TEST(Time, Rfc3339RoundTripsRandomInstantsFormattedByGmtime) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> secs(0, 4102444800); // 1970 .. 2100
    std::uniform_int_distribution<int64_t> nanos(0, 999999999);
    for (int i = 0; i < 2000; ++i) {
        int64_t s = secs(rng), ns = nanos(rng);
        std::string text = rfc3339(s, ns);
        auto t = parseRfc3339(text);
        ASSERT_TRUE(t) << text;
        EXPECT_NEAR(*t, static_cast<double>(s) + static_cast<double>(ns) * 1e-9, 1e-6) << text;
    }
}

TEST(Time, EpochNumbersInSecondsOrMilliseconds) {
    EXPECT_DOUBLE_EQ(*epochFromNumber(1717200000), 1717200000.0);
    EXPECT_DOUBLE_EQ(*epochFromNumber(1717200000123.0), 1717200000.123);
    EXPECT_FALSE(epochFromNumber(-1));
    EXPECT_FALSE(epochFromNumber(1e30));
    EXPECT_FALSE(epochFromNumber(std::nan("")));
}

TEST(Numbers, TextNumbers) {
    EXPECT_DOUBLE_EQ(*parseNumberText("12.5"), 12.5);
    EXPECT_DOUBLE_EQ(*parseNumberText(" -3e2 "), -300.0);
    EXPECT_DOUBLE_EQ(*parseNumberText("+4"), 4.0);
    EXPECT_TRUE(std::isnan(*parseNumberText("NaN")));
    EXPECT_TRUE(std::isinf(*parseNumberText("1e400")));
    EXPECT_DOUBLE_EQ(*parseNumberText("1e-400"), 0.0);
    for (const char* bad : {"", " ", "abc", "12.5x", "12,5", "0x10", "1 2", "--1"})
        EXPECT_FALSE(parseNumberText(bad)) << bad;
}

// --- The Things Stack v3 ----------------------------------------------------------------------

TEST(Tts, DocumentationExample) {
    auto r = ingestOne(ttsConfig(), "v3/app1@tenant1/devices/dev1/up", kTtsDocExample);
    ASSERT_TRUE(r.rejections.empty()) << r.rejections[0].reason << ": " << r.rejections[0].detail;
    ASSERT_EQ(r.observations.size(), 2u);
    const Observation* t = findObs(r, "dev1/temperature");
    const Observation* l = findObs(r, "dev1/luminosity");
    ASSERT_TRUE(t && l);
    EXPECT_DOUBLE_EQ(t->value, 1.0);
    EXPECT_DOUBLE_EQ(l->value, 0.64);
    double receivedAt = utc(2020, 2, 12, 15, 15, 46) + 0.014773143;
    EXPECT_NEAR(t->phenomenonTime, receivedAt, 1e-6);
    EXPECT_NEAR(t->resultTime, receivedAt, 1e-6);
    EXPECT_EQ(t->dedupKey, 1);
    EXPECT_EQ(t->quality, 0);
    // Sensors announced with the default quantity and the registry location of the uplink.
    ASSERT_EQ(r.announce.size(), 2u);
    const SensorInfo* s = findSensor(r, "dev1/temperature");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->quantity, "temperature");
    EXPECT_EQ(s->unit, "°C");
    EXPECT_DOUBLE_EQ(s->lat, 37.97155556731436);
    EXPECT_DOUBLE_EQ(s->lon, 23.72678801175413);
    EXPECT_DOUBLE_EQ(s->elevationM, 10);
    EXPECT_EQ(s->name, "dev1 temperature");
}

TEST(Tts, OmittedFrameCounterIsZeroStringNumbersAndBooleans) {
    json decoded = {
        {"groundwater_level", "12.5"}, {"pump_running", true}, {"battery", 3.61}, {"valve_open", false}};
    json up = ttsUplink("brunnen", "gw-07", "70B3D57ED0041234", 0, "2024-06-01T10:00:00.5Z", decoded);
    ASSERT_FALSE(up["uplink_message"].contains("f_cnt")); // as the stack sends frame 0
    auto r = ingestOne(ttsConfig(), ttsTopic("brunnen", "gw-07"), up.dump());
    ASSERT_TRUE(r.rejections.empty()) << r.rejections[0].detail;
    ASSERT_EQ(r.observations.size(), 4u);
    EXPECT_DOUBLE_EQ(findObs(r, "gw-07/groundwater_level")->value, 12.5);
    EXPECT_DOUBLE_EQ(findObs(r, "gw-07/pump_running")->value, 1.0);
    EXPECT_DOUBLE_EQ(findObs(r, "gw-07/valve_open")->value, 0.0);
    EXPECT_DOUBLE_EQ(findObs(r, "gw-07/battery")->value, 3.61);
    for (const auto& o : r.observations) {
        EXPECT_EQ(o.dedupKey, 0);
        EXPECT_DOUBLE_EQ(o.phenomenonTime, utc(2024, 6, 1, 10, 0, 0) + 0.5);
    }
    EXPECT_EQ(findSensor(r, "gw-07/groundwater_level")->unit, "m");
    EXPECT_EQ(findSensor(r, "gw-07/pump_running")->unit, "1");
    EXPECT_EQ(findSensor(r, "gw-07/battery")->unit, "V");
}

TEST(Tts, NestedRxMetadataAndSettingsAreNotValues) {
    // Two gateways with nested ids and locations, LoRa settings: none of it is a reading.
    json up =
        ttsUplink("brunnen", "gw-08", "70B3D57ED0041235", 77, "2024-06-01T10:00:00Z", {{"level", 2.25}});
    ASSERT_EQ(up["uplink_message"]["rx_metadata"].size(), 2u);
    auto r = ingestOne(ttsConfig(), ttsTopic("brunnen", "gw-08"), up.dump());
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_EQ(r.observations[0].sensorId, "gw-08/level");
    EXPECT_EQ(r.observations[0].dedupKey, 77);
    EXPECT_TRUE(r.rejections.empty());
}

TEST(Tts, NestedDecodedObjectsFlattenAndDeviceTimeIsThePhenomenonTime) {
    json decoded = {{"time", "2024-06-01T09:59:30Z"}, {"water", {{"level", 1.5}, {"temperature", 9.25}}}};
    json up = ttsUplink("brunnen", "gw-09", "70B3D57ED0041236", 3, "2024-06-01T10:00:00Z", decoded);
    auto r = ingestOne(ttsConfig(), ttsTopic("brunnen", "gw-09"), up.dump());
    ASSERT_TRUE(r.rejections.empty());
    ASSERT_EQ(r.observations.size(), 2u); // "time" is not a value
    const Observation* o = findObs(r, "gw-09/water.level");
    ASSERT_TRUE(o);
    EXPECT_DOUBLE_EQ(o->phenomenonTime, utc(2024, 6, 1, 9, 59, 30)); // the device's time
    EXPECT_DOUBLE_EQ(o->resultTime, utc(2024, 6, 1, 10, 0, 0));      // received_at
    EXPECT_EQ(findSensor(r, "gw-09/water.temperature")->unit, "°C");
}

TEST(Tts, KeysAndIgnoreKeysSelectValues) {
    DecoderConfig cfg = ttsConfig();
    cfg.ignoreKeys = {"status"};
    json up = ttsUplink("a", "d1", "01", 5, "2024-06-01T10:00:00Z", {{"level", 1.0}, {"status", "OK"}});
    auto r = ingestOne(cfg, ttsTopic("a", "d1"), up.dump());
    EXPECT_TRUE(r.rejections.empty());
    EXPECT_EQ(r.observations.size(), 1u);
    cfg.ignoreKeys.clear();
    cfg.keys = {"level"};
    r = ingestOne(cfg, ttsTopic("a", "d1"), up.dump());
    EXPECT_TRUE(r.rejections.empty());
    EXPECT_EQ(r.observations.size(), 1u);
}

// --- ChirpStack v4 ----------------------------------------------------------------------------

TEST(ChirpStack, DocumentationExampleWithoutFrameCounter) {
    DecoderConfig cfg;
    cfg.format = Format::ChirpStack;
    auto r =
        ingestOne(cfg, "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up",
                  kChirpStackDocExample);
    ASSERT_TRUE(r.rejections.empty()) << r.rejections[0].detail;
    ASSERT_EQ(r.observations.size(), 3u);
    double t = utc(2022, 7, 18, 9, 34, 15) + 0.775023242;
    for (const auto& o : r.observations) {
        EXPECT_EQ(o.dedupKey, 0); // fCnt omitted → 0
        EXPECT_NEAR(o.phenomenonTime, t, 1e-6);
    }
    EXPECT_DOUBLE_EQ(findObs(r, "0101010101010101/temperature")->value, 21.5);
    EXPECT_DOUBLE_EQ(findObs(r, "0101010101010101/pump_running")->value, 1.0);
    EXPECT_DOUBLE_EQ(findObs(r, "0101010101010101/flow")->value, 3.25);
    EXPECT_EQ(findSensor(r, "0101010101010101/flow")->unit, "m3/h");
    EXPECT_EQ(findSensor(r, "0101010101010101/temperature")->name, "Test device temperature");
}

TEST(ChirpStack, FrameCounterUpperCaseEuiInTopicAndAutoFormat) {
    DecoderConfig cfg; // format auto: the topic says ChirpStack
    json up = chirpstackUplink("app-1", "a84041000181c4e1", "Pumpwerk Nord", 1234,
                               "2024-06-01T10:00:00.25+02:00", {{"level", -0.75}});
    auto r = ingestOne(cfg, chirpstackTopic("app-1", "A84041000181C4E1"), up.dump());
    ASSERT_TRUE(r.rejections.empty()) << r.rejections[0].detail;
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_EQ(r.observations[0].sensorId, "a84041000181c4e1/level");
    EXPECT_EQ(r.observations[0].dedupKey, 1234);
    EXPECT_DOUBLE_EQ(r.observations[0].phenomenonTime, utc(2024, 6, 1, 8, 0, 0) + 0.25);
    EXPECT_DOUBLE_EQ(r.observations[0].value, -0.75);
}

// --- Plain JSON with a mapping ----------------------------------------------------------------

TEST(JsonMapping, PathsEpochSecondsMillisecondsAndIsoTimes) {
    DecoderConfig cfg;
    cfg.format = Format::Json;
    cfg.mapping.devicePath = "$.id";
    cfg.mapping.timePath = "$.ts";
    cfg.mapping.fCntPath = "$.seq";
    cfg.mapping.values = {{"level", "$.data.level"}, {"flow", "$.data.flows.0"}};
    Ingest ingest(cfg);
    auto r = ingest.process(
        "sensors/x",
        R"({"id": "pegel-lippe", "ts": 1717236000, "seq": 4, "data": {"level": 1.25, "flows": [12.5, 3]}})",
        5);
    ASSERT_TRUE(r.rejections.empty());
    ASSERT_EQ(r.observations.size(), 2u);
    EXPECT_DOUBLE_EQ(findObs(r, "pegel-lippe/level")->value, 1.25);
    EXPECT_DOUBLE_EQ(findObs(r, "pegel-lippe/flow")->value, 12.5);
    EXPECT_DOUBLE_EQ(r.observations[0].phenomenonTime, 1717236000.0);
    EXPECT_DOUBLE_EQ(r.observations[0].resultTime, 5.0); // the reception time (local clock)
    EXPECT_EQ(r.observations[0].dedupKey, 4);
    r = ingest.process("sensors/x",
                       R"({"id": "pegel-lippe", "ts": 1717236060500, "seq": 5, "data": {"level": 1.5}})", 5);
    ASSERT_EQ(r.observations.size(), 1u); // a missing value path is skipped
    EXPECT_DOUBLE_EQ(r.observations[0].phenomenonTime, 1717236060.5);
    r = ingest.process(
        "sensors/x",
        R"({"id": "pegel-lippe", "ts": "2024-06-01T10:02:00+02:00", "seq": 6, "data": {"level": 1.75}})", 5);
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_DOUBLE_EQ(r.observations[0].phenomenonTime, utc(2024, 6, 1, 8, 2, 0));
}

TEST(JsonMapping, FixedSensorAndNoTimeUsesReceptionTime) {
    DecoderConfig cfg;
    cfg.format = Format::Json;
    cfg.mapping.deviceFixed = "wetterstation";
    cfg.mapping.values = {{"temperature", "$.t"}};
    auto r = ingestOne(cfg, "wetter", R"({"t": "18.5"})", 1717236000.25);
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_EQ(r.observations[0].sensorId, "wetterstation/temperature");
    EXPECT_DOUBLE_EQ(r.observations[0].phenomenonTime, 1717236000.25);
    EXPECT_EQ(r.observations[0].dedupKey, -1);
}

// --- Rejections: each bad input gives its reason and no observation ---------------------------

struct BadCase {
    const char* name;
    std::string topic;
    std::string payload;
    const char* reason;
    DecoderConfig cfg;
};

TEST(Rejections, EachBadInputHasItsReasonAndNoObservation) {
    const std::string topic = ttsTopic("brunnen", "gw-01");
    auto tts = [&](json decoded, int64_t fCnt = 3) {
        return ttsUplink("brunnen", "gw-01", "01", fCnt, "2024-06-01T10:00:00Z", decoded);
    };
    auto without = [&](json j, const json::json_pointer& p) {
        j[p.parent_pointer()].erase(p.back());
        return j.dump();
    };
    auto with = [&](json j, const json::json_pointer& p, json v) {
        j[p] = v;
        return j.dump();
    };
    DecoderConfig allow = ttsConfig();
    allow.devices["gw-02"] = DeviceMeta{};
    allow.allowList = true;
    DecoderConfig small = ttsConfig();
    small.maxPayloadBytes = 1000;
    DecoderConfig cs;
    cs.format = Format::ChirpStack;
    DecoderConfig js;
    js.format = Format::Json;
    js.mapping.devicePath = "$.id";
    js.mapping.timePath = "$.ts";
    js.mapping.values = {{"v", "$.v"}};
    DecoderConfig autoNoMapping;
    const json ok = tts({{"level", 1.0}});
    const json csOk =
        chirpstackUplink("app", "0101010101010101", "n", 9, "2024-06-01T10:00:00Z", {{"level", 1.0}});
    const std::string csTopic = chirpstackTopic("app", "0101010101010101");
    // Over the limit, and malformed beyond it: the size is checked before parsing.
    std::string huge = "{\"x\": \"" + std::string(2000, 'a');

    std::vector<BadCase> cases = {
        {"oversized", topic, huge, reason::PayloadTooLarge, small},
        {"malformed", topic, R"({"end_device_ids": {"device_id": "gw-01")", reason::MalformedJson,
         ttsConfig()},
        {"binary", topic, std::string("\x01\x02\xff\xfe", 4), reason::MalformedJson, ttsConfig()},
        {"empty", topic, "", reason::MalformedJson, ttsConfig()},
        {"number literal too large", topic, R"({"a": 1e400})", reason::MalformedJson, ttsConfig()},
        {"array", topic, "[1, 2, 3]", reason::NotAnObject, ttsConfig()},
        {"string", topic, "\"up\"", reason::NotAnObject, ttsConfig()},
        {"no device id", topic, without(ok, "/end_device_ids/device_id"_json_pointer),
         reason::MissingDeviceId, ttsConfig()},
        {"device id a number", topic, with(ok, "/end_device_ids/device_id"_json_pointer, 17),
         reason::MissingDeviceId, ttsConfig()},
        {"topic device differs", ttsTopic("brunnen", "gw-99"), ok.dump(), reason::TopicDeviceMismatch,
         ttsConfig()},
        {"join accept, not uplink", topic, without(ok, "/uplink_message"_json_pointer), reason::NotAnUplink,
         ttsConfig()},
        {"no received_at", topic,
         [&] {
             json j = ok;
             j.erase("received_at");
             j["uplink_message"].erase("received_at");
             return j.dump();
         }(),
         reason::MissingTime, ttsConfig()},
        {"received_at garbage", topic, with(ok, "/received_at"_json_pointer, "yesterday"),
         reason::InvalidTime, ttsConfig()},
        {"received_at a number", topic, with(ok, "/received_at"_json_pointer, 1717236000),
         reason::InvalidTime, ttsConfig()},
        {"decoded time garbage", topic, tts({{"time", "soon"}, {"level", 1.0}}).dump(), reason::InvalidTime,
         ttsConfig()},
        {"f_cnt a string", topic, with(ok, "/uplink_message/f_cnt"_json_pointer, "7"),
         reason::InvalidFrameCounter, ttsConfig()},
        {"f_cnt negative", topic, with(ok, "/uplink_message/f_cnt"_json_pointer, -1),
         reason::InvalidFrameCounter, ttsConfig()},
        {"f_cnt fractional", topic, with(ok, "/uplink_message/f_cnt"_json_pointer, 1.5),
         reason::InvalidFrameCounter, ttsConfig()},
        {"no decoded_payload", topic, without(ok, "/uplink_message/decoded_payload"_json_pointer),
         reason::NoValues, ttsConfig()},
        {"empty decoded_payload", topic, tts(json::object()).dump(), reason::NoValues, ttsConfig()},
        {"non-numeric string", topic, tts({{"level", "abc"}}).dump(), reason::InvalidValue, ttsConfig()},
        {"null value", topic, tts({{"level", nullptr}}).dump(), reason::InvalidValue, ttsConfig()},
        {"array value", topic, tts({{"level", {1, 2}}}).dump(), reason::InvalidValue, ttsConfig()},
        {"NaN as text", topic, tts({{"level", "NaN"}}).dump(), reason::ValueNotFinite, ttsConfig()},
        {"inf as text", topic, tts({{"level", "-inf"}}).dump(), reason::ValueNotFinite, ttsConfig()},
        {"1e30", topic, tts({{"level", 1e30}}).dump(), reason::ValueOutOfRange, ttsConfig()},
        {"-2e12 as text", topic, tts({{"level", "-2e12"}}).dump(), reason::ValueOutOfRange, ttsConfig()},
        {"unknown device", topic, ok.dump(), reason::UnknownDevice, allow},
        {"chirpstack no devEui", csTopic, without(csOk, "/deviceInfo/devEui"_json_pointer),
         reason::MissingDeviceId, cs},
        {"chirpstack no time", csTopic, without(csOk, "/time"_json_pointer), reason::MissingTime, cs},
        {"chirpstack no object", csTopic, without(csOk, "/object"_json_pointer), reason::NoValues, cs},
        {"chirpstack fCnt a string", csTopic, with(csOk, "/fCnt"_json_pointer, "9"),
         reason::InvalidFrameCounter, cs},
        {"json no sensor", "x", R"({"ts": 1717236000, "v": 1})", reason::MissingDeviceId, js},
        {"json no time", "x", R"({"id": "a", "v": 1})", reason::MissingTime, js},
        {"json bad time", "x", R"({"id": "a", "ts": true, "v": 1})", reason::InvalidTime, js},
        {"json no values", "x", R"({"id": "a", "ts": 1717236000})", reason::NoValues, js},
        {"unknown topic", "some/thing", ok.dump(), reason::UnknownTopic, autoNoMapping},
    };
    for (const BadCase& c : cases) {
        auto r = ingestOne(c.cfg, c.topic, c.payload);
        ASSERT_EQ(r.rejections.size(), 1u) << c.name;
        EXPECT_EQ(r.rejections[0].reason, c.reason) << c.name << ": " << r.rejections[0].detail;
        EXPECT_FALSE(r.rejections[0].detail.empty()) << c.name;
        EXPECT_TRUE(r.observations.empty()) << c.name;
        EXPECT_TRUE(r.announce.empty()) << c.name;
    }
    // The good message passes with each of those configurations' siblings.
    EXPECT_EQ(ingestOne(ttsConfig(), topic, ok.dump()).observations.size(), 1u);
    EXPECT_EQ(ingestOne(cs, csTopic, csOk.dump()).observations.size(), 1u);
}

TEST(Rejections, OneBadValueDoesNotDropTheGoodOnes) {
    json up = ttsUplink("a", "d1", "01", 5, "2024-06-01T10:00:00Z",
                        {{"level", 1.5}, {"status", "OK"}, {"temperature", "1e999"}});
    auto r = ingestOne(ttsConfig(), ttsTopic("a", "d1"), up.dump());
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_EQ(r.observations[0].sensorId, "d1/level");
    ASSERT_EQ(r.rejections.size(), 2u);
    std::multiset<std::string> reasons = {r.rejections[0].reason, r.rejections[1].reason};
    EXPECT_EQ(reasons, (std::multiset<std::string>{reason::InvalidValue, reason::ValueNotFinite}));
}

TEST(Rejections, PayloadAtTheLimitIsParsedOneByteMoreIsNot) {
    DecoderConfig cfg = ttsConfig();
    std::string base = ttsUplink("a", "d1", "01", 5, "2024-06-01T10:00:00Z", {{"level", 1.5}}).dump();
    cfg.maxPayloadBytes = base.size();
    EXPECT_EQ(ingestOne(cfg, ttsTopic("a", "d1"), base).observations.size(), 1u);
    std::string padded = base;
    padded.insert(padded.size() - 1, " ");
    auto r = ingestOne(cfg, ttsTopic("a", "d1"), padded);
    ASSERT_EQ(r.rejections.size(), 1u);
    EXPECT_EQ(r.rejections[0].reason, reason::PayloadTooLarge);
}

// --- Frame counters ----------------------------------------------------------------------------

TEST(FrameCounter, ReplaysResetsAndIndependentDevices) {
    FrameCounterFilter f(16, 60); // reset: counter ≤ 16 at least 60 s after the last frame
    using V = FrameCounterFilter::Verdict;
    EXPECT_EQ(f.check("a", 20, 1000), V::New);
    EXPECT_EQ(f.check("a", 21, 1010), V::Increasing);
    EXPECT_EQ(f.check("a", 21, 1010), V::Replay); // a redelivery: same counter, same time
    EXPECT_EQ(f.check("a", 21, 5000), V::Replay); // same counter later, above 16: not a reset
    EXPECT_EQ(f.check("a", 5, 1020), V::Replay);  // lower, too soon for a reset
    EXPECT_EQ(f.check("b", 0, 1020), V::New);     // devices are independent
    EXPECT_EQ(f.check("a", 30, 1030), V::Increasing);
    EXPECT_EQ(f.check("a", 0, 1030 + 59), V::Replay);   // gap below 60 s
    EXPECT_EQ(f.check("a", 0, 1030 + 3600), V::Reset);  // rejoined an hour later
    EXPECT_EQ(f.check("a", 0, 1030 + 3600), V::Replay); // the reset frame redelivered
    EXPECT_EQ(f.check("a", 1, 1030 + 3660), V::Increasing);
    EXPECT_EQ(f.check("a", 40, 9000), V::Increasing);
    EXPECT_EQ(f.check("a", 17, 20000), V::Replay); // lower but above reset_max 16: not a reset
    EXPECT_EQ(f.check("a", 16, 20000), V::Reset);  // at reset_max, hours later: a reset
    EXPECT_EQ(f.check("a", 16, 20000), V::Replay);
    EXPECT_EQ(f.check("c", -1, 0), V::New); // no counter: never filtered
    EXPECT_EQ(f.check("c", -1, 0), V::New);
    EXPECT_EQ(f.devices(), 2u);
}

TEST(FrameCounter, IngestDropsReplayedUplinksButNotNewOnes) {
    Ingest ingest(ttsConfig());
    auto up = [&](int64_t fCnt, const std::string& t) {
        return ingest.process(ttsTopic("a", "d1"),
                              ttsUplink("a", "d1", "01", fCnt, t, {{"level", 1.0 * fCnt}}).dump(), 0);
    };
    EXPECT_EQ(up(0, "2024-06-01T10:00:00Z").observations.size(), 1u);
    EXPECT_EQ(up(1, "2024-06-01T10:01:00Z").observations.size(), 1u);
    auto replay = up(1, "2024-06-01T10:01:00Z");
    EXPECT_TRUE(replay.observations.empty());
    ASSERT_EQ(replay.rejections.size(), 1u);
    EXPECT_EQ(replay.rejections[0].reason, reason::ReplayedFrameCounter);
    EXPECT_EQ(up(2, "2024-06-01T10:02:00Z").observations.size(), 1u);
    auto first0 = up(0, "2024-06-01T10:00:00Z");                        // (a replay of the first frame)
    EXPECT_TRUE(first0.observations.empty());
    auto reset = up(0, "2024-06-01T12:00:00Z"); // a reset after two hours
    ASSERT_EQ(reset.observations.size(), 1u);
    // After the reset the device's frames carry a new dedup key: the store must not take
    // frame 0 of the new session for frame 0 of the old one (which had key 0).
    EXPECT_NE(reset.observations[0].dedupKey, 0);
    EXPECT_EQ(reset.observations[0].dedupKey & 0xffffffffLL, 0);
    auto next = up(1, "2024-06-01T12:01:00Z");
    ASSERT_EQ(next.observations.size(), 1u);
    EXPECT_EQ(next.observations[0].dedupKey, reset.observations[0].dedupKey + 1);
}

// --- Quantities and sensor announcements -------------------------------------------------------

TEST(Quantities, DefaultsAndConfiguredMappings) {
    EXPECT_EQ(defaultQuantity("temperature").unit, "°C");
    EXPECT_EQ(defaultQuantity("water_temperature").unit, "°C");
    EXPECT_EQ(defaultQuantity("groundwater_level").unit, "m");
    EXPECT_EQ(defaultQuantity("flow").unit, "m3/h");
    EXPECT_EQ(defaultQuantity("running").unit, "1");
    EXPECT_EQ(defaultQuantity("battery").unit, "V");
    EXPECT_EQ(defaultQuantity("battery_level").unit, "V");
    EXPECT_EQ(defaultQuantity("humidity").unit, "%");
    EXPECT_EQ(defaultQuantity("foo").quantity, "foo");
    EXPECT_EQ(defaultQuantity("foo").unit, "");

    DecoderConfig cfg = ttsConfig();
    Quantity q;
    q.quantity = "groundwater_level";
    q.unit = "m";
    q.scale = 0.001; // the device reports mm
    q.offset = 100;  // above a datum 100 m
    q.warnAbove = 101;
    q.alarmAbove = 102;
    cfg.quantities["gw_mm"] = q;
    cfg.devices["gw-01"] = DeviceMeta{"Brunnen 1 Delbrück", 8.5654, 51.7667, 95.5};
    auto r = ingestOne(cfg, ttsTopic("a", "gw-01"),
                       ttsUplink("a", "gw-01", "01", 3, "2024-06-01T10:00:00Z", {{"gw_mm", 1250}}).dump());
    ASSERT_EQ(r.observations.size(), 1u);
    EXPECT_DOUBLE_EQ(r.observations[0].value, 101.25);
    const SensorInfo* s = findSensor(r, "gw-01/gw_mm");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->quantity, "groundwater_level");
    EXPECT_EQ(s->name, "Brunnen 1 Delbrück gw_mm");
    EXPECT_DOUBLE_EQ(s->lon, 8.5654); // config beats the payload's location
    EXPECT_DOUBLE_EQ(s->lat, 51.7667);
    EXPECT_DOUBLE_EQ(s->elevationM, 95.5);
    EXPECT_DOUBLE_EQ(s->warnAbove, 101);
    EXPECT_DOUBLE_EQ(s->alarmAbove, 102);
}

TEST(Sensors, AnnouncedOnceAndAgainWhenMetadataChanges) {
    DecoderConfig cfg;
    Ingest ingest(cfg);
    auto send = [&](int64_t fCnt, const std::string& name) {
        return ingest.process(chirpstackTopic("app", "0101010101010101"),
                              chirpstackUplink("app", "0101010101010101", name, fCnt, "2024-06-01T10:00:00Z",
                                               {{"t", 1}, {"u", 2}})
                                  .dump(),
                              0);
    };
    EXPECT_EQ(send(1, "Pumpe").announce.size(), 2u);
    EXPECT_EQ(send(2, "Pumpe").announce.size(), 0u);
    auto renamed = send(3, "Pumpe Nord");
    ASSERT_EQ(renamed.announce.size(), 2u);
    EXPECT_EQ(renamed.announce[0].name.rfind("Pumpe Nord", 0), 0u);
    EXPECT_EQ(ingest.sensorCount(), 2u);
}

TEST(Sensors, MaxSensorsBoundsTheRegistry) {
    DecoderConfig cfg = ttsConfig();
    cfg.maxSensors = 3;
    Ingest ingest(cfg);
    auto r = ingest.process(
        ttsTopic("a", "d1"),
        ttsUplink("a", "d1", "01", 1, "2024-06-01T10:00:00Z", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}})
            .dump(),
        0);
    EXPECT_EQ(r.observations.size(), 3u);
    ASSERT_EQ(r.rejections.size(), 1u);
    EXPECT_EQ(r.rejections[0].reason, reason::TooManySensors);
}

// --- Configuration -------------------------------------------------------------------------------

TEST(Config, FullConfigParses) {
    TempDir dir;
    std::ofstream(dir.path / "ca.crt") << "x";
    std::string text = R"({
      "host": "broker.example", "port": 8883, "client_id": "citytwin-paderborn", "username": "u", "password": "p",
      "tls": {"ca_file": ")" +
                       (dir.path / "ca.crt").string() + R"(", "insecure": false},
      "topics": ["v3/+/devices/+/up", "application/+/device/+/event/up"], "qos": 1, "clean_session": false,
      "keepalive_s": 30, "reconnect_min_s": 0.5, "reconnect_max_s": 60, "format": "auto",
      "mapping": {"ignore_keys": ["status"]},
      "quantities": {"groundwater_level": {"quantity": "groundwater_level", "unit": "m", "warn_above": 98.5}},
      "devices": {"gw-01": {"name": "Brunnen 1", "lon": 8.56, "lat": 51.77, "elevation": 95}},
      "max_payload_bytes": 65536, "fcnt_reset_max": 8, "fcnt_reset_gap_s": 300, "max_sensors": 500
    })";
    std::string err;
    auto c = parseConfig(text, err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->host, "broker.example");
    EXPECT_EQ(c->port, 8883);
    EXPECT_TRUE(c->tls.enabled);
    EXPECT_EQ(c->topics.size(), 2u);
    EXPECT_EQ(c->decoder.format, Format::Auto);
    EXPECT_TRUE(c->decoder.allowList);
    EXPECT_EQ(c->decoder.fCntResetMax, 8);
    EXPECT_DOUBLE_EQ(c->decoder.quantities["groundwater_level"].warnAbove, 98.5);
    EXPECT_DOUBLE_EQ(c->reconnectMinS, 0.5);
    EXPECT_TRUE(c->warnings.empty());
    // Unknown keys are warned about, not fatal.
    c = parseConfig(R"({"client_id": "x", "topics": ["a"], "topic": "typo"})", err);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->warnings.size(), 1u);
    EXPECT_NE(c->warnings[0].find("topic"), std::string::npos);
}

TEST(Config, ErrorsSayWhatIsWrong) {
    struct Case {
        const char* json;
        const char* mentions;
    };
    const Case cases[] = {
        {"not json", "not valid JSON"},
        {"[]", "JSON object"},
        {R"({"client_id": "x"})", "topics"},
        {R"({"client_id": "x", "topics": []})", "topics"},
        {R"({"client_id": "x", "topics": ["a/#/b"]})", "a/#/b"},
        {R"({"client_id": "x", "topics": ["a/b+"]})", "a/b+"},
        {R"({"client_id": "x", "topics": [5]})", "topics[0]"},
        {R"({"topics": ["a"]})", "client_id"},
        {R"({"client_id": "x", "topics": ["a"], "port": 70000})", "port"},
        {R"({"client_id": "x", "topics": ["a"], "port": "1883"})", "port"},
        {R"({"client_id": "x", "topics": ["a"], "qos": 3})", "qos"},
        {R"({"client_id": "x", "topics": ["a"], "keepalive_s": 2})", "keepalive_s"},
        {R"({"client_id": "x", "topics": ["a"], "format": "xml"})", "format"},
        {R"({"client_id": "x", "topics": ["a"], "format": "json"})", "mapping"},
        {R"({"client_id": "x", "topics": ["a"], "mapping": {"sensor": "$.id", "values": {"v": "v"}}})",
         "mapping.values.v"},
        {R"({"client_id": "x", "topics": ["a"], "mapping": {"values": {"v": "$.v"}}})", "mapping.sensor"},
        {R"({"client_id": "x", "topics": ["a"], "password": "p"})", "username"},
        {R"({"client_id": "x", "topics": ["a"], "tls": {"ca_file": "/nonexistent/ca.crt"}})", "tls.ca_file"},
        {R"({"client_id": "x", "topics": ["a"], "tls": true})", "tls"},
        {R"({"client_id": "x", "topics": ["a"], "tls": {"cert_file": "/etc/passwd"}})", "tls.key_file"},
        {R"({"client_id": "x", "topics": ["a"], "tls": {"cert_file": "/etc/passwd", "key_file": "/etc/passwd"}})",
         "tls.ca_file"},
        {R"({"client_id": "x", "topics": ["a"], "quantities": {"k": {"unit": "m"}}})", "quantities.k"},
        {R"({"client_id": "x", "topics": ["a"], "devices": {"d": {"lat": 91}}})", "devices.d.lat"},
        {R"({"client_id": "x", "topics": ["a"], "max_payload_bytes": 1})", "max_payload_bytes"},
        {R"({"client_id": "x", "topics": ["a"], "reconnect_min_s": 5, "reconnect_max_s": 1})",
         "reconnect_max_s"},
    };
    for (const Case& c : cases) {
        std::string err;
        EXPECT_FALSE(parseConfig(c.json, err)) << c.json;
        EXPECT_NE(err.find(c.mentions), std::string::npos) << c.json << " → " << err;
    }
}

// --- The plugin through the C ABI (no broker needed) ---------------------------------------------

TEST(Abi, EntryCreateAndExports) {
    PluginLib lib(kPluginPath);
    EXPECT_EQ(lib.entryFn(CITYTWIN_PLUGIN_ABI_MAJOR + 1), nullptr); // another major: refused
    EXPECT_EQ(lib.api->abi_major, CITYTWIN_PLUGIN_ABI_MAJOR);
    EXPECT_STREQ(lib.api->name, "mqtt");
    TestHost host;
    char err[256] = {0};
    EXPECT_EQ(lib.api->create(&host.api, R"({"topics": ["a"]})", err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("client_id"), std::string::npos) << err;
    char tiny[8];
    EXPECT_EQ(lib.api->create(&host.api, "{", tiny, sizeof tiny), nullptr);
    EXPECT_EQ(std::strlen(tiny), 7u); // truncated, NUL-terminated
    EXPECT_EQ(lib.api->create(&host.api, nullptr, err, sizeof err), nullptr);
    // create + destroy without start; stop without start is harmless.
    void* inst = lib.api->create(&host.api, R"({"client_id": "x", "topics": ["a"]})", err, sizeof err);
    ASSERT_NE(inst, nullptr) << err;
    lib.api->stop(inst);
    lib.api->destroy(inst);
    // Only the entry point is exported.
    FILE* p = popen(("nm -D --defined-only " + kPluginPath + " 2>/dev/null").c_str(), "r");
    ASSERT_TRUE(p);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p))
        out += buf;
    pclose(p);
    if (out.empty()) GTEST_SKIP() << "nm is not available";
    std::istringstream lines(out);
    std::vector<std::string> exported;
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ls(line);
        std::string addr, type, name;
        ls >> addr >> type >> name;
        if (!name.empty() && type != "A") exported.push_back(name);
    }
    EXPECT_EQ(exported, std::vector<std::string>{"citytwin_plugin_entry"}) << out;
}

// --- With a real broker -------------------------------------------------------------------------

namespace {

std::string pluginConfig(int port, const std::string& clientId, const std::string& extra = "") {
    return R"({"host": "127.0.0.1", "port": )" + std::to_string(port) + R"(, "client_id": ")" + clientId +
           R"(", "topics": ["v3/+/devices/+/up", "application/+/device/+/event/up"], "qos": 1, "clean_session": false,
           "keepalive_s": 10, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0)" +
           (extra.empty() ? "" : ", " + extra) + "}";
}

constexpr int64_t kBase = 1717200000; // 2024-06-01T00:00:00Z

struct Expected {
    std::string sensor;
    int64_t fCnt;
    double value;
    double time;
};

// TTS device d, frame k: groundwater_level (as text every third frame) and battery.
std::string ttsDev(int d) {
    return "gw-" + std::to_string(d);
}
json ttsDecoded(int d, int k) {
    double level = 100 + d + k * 0.25; // exact in binary, so text and number agree
    json j;
    if (k % 3 == 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", level);
        j["groundwater_level"] = buf;
    } else {
        j["groundwater_level"] = level;
    }
    j["battery"] = 3.5 + k * 0.0625;
    return j;
}
int64_t ttsNanos(int d, int k) {
    return (static_cast<int64_t>(d) * 7919 + k * 104729) % 1000000000;
}
int64_t ttsSeconds(int d, int k) {
    return kBase + k * 600 + d;
}

std::string csEui(int d) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "a84041000181c4%02x", d);
    return buf;
}
json csObject(int d, int k) {
    return {{"temperature", -5 + d + k * 0.5}, {"running", k % 2 == 0}};
}
int64_t csSeconds(int d, int k) {
    return kBase + 100000 + k * 900 + d;
}

// Checks that observations hold each expected (sensor, frame) exactly once with its value
// and time, and nothing else.
void expectExactlyOnce(const std::vector<ObsRec>& obs, const std::vector<Expected>& expected) {
    std::map<std::pair<std::string, int64_t>, std::vector<const ObsRec*>> seen;
    for (const auto& o : obs)
        seen[{o.sensor, o.dedup}].push_back(&o);
    size_t missing = 0, duplicated = 0, wrong = 0;
    for (const Expected& e : expected) {
        auto it = seen.find({e.sensor, e.fCnt});
        if (it == seen.end()) {
            if (++missing <= 5) ADD_FAILURE() << "missing " << e.sensor << " f_cnt " << e.fCnt;
            continue;
        }
        if (it->second.size() != 1 && ++duplicated <= 5)
            ADD_FAILURE() << e.sensor << " f_cnt " << e.fCnt << " arrived " << it->second.size() << " times";
        const ObsRec& o = *it->second[0];
        if ((o.value != e.value || std::fabs(o.phenomenonTime - e.time) > 1e-6) && ++wrong <= 5)
            ADD_FAILURE() << e.sensor << " f_cnt " << e.fCnt << ": value " << o.value << " (want " << e.value
                          << "), time " << std::fixed << o.phenomenonTime << " (want " << e.time << ")";
        seen.erase(it);
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(duplicated, 0u);
    EXPECT_EQ(wrong, 0u);
    EXPECT_TRUE(seen.empty()) << seen.size() << " unexpected (sensor, f_cnt) pairs, e.g. "
                              << seen.begin()->first.first;
    EXPECT_EQ(obs.size(), expected.size());
}

// Publishes TTS frames k0..k1-1 for devices 0..devices-1 (interleaved) and returns what must arrive.
std::vector<Expected> publishTts(Publisher& pub, int devices, int k0, int k1) {
    std::vector<Expected> exp;
    for (int k = k0; k < k1; ++k) {
        for (int d = 0; d < devices; ++d) {
            json decoded = ttsDecoded(d, k);
            std::string t = rfc3339(ttsSeconds(d, k), ttsNanos(d, k));
            pub.publish(
                ttsTopic("brunnen", ttsDev(d)),
                ttsUplink("brunnen", ttsDev(d), "70B3D57ED00412" + std::to_string(10 + d), k, t, decoded)
                    .dump());
            double time = static_cast<double>(ttsSeconds(d, k)) + static_cast<double>(ttsNanos(d, k)) * 1e-9;
            exp.push_back({ttsDev(d) + "/groundwater_level", k, 100 + d + k * 0.25, time});
            exp.push_back({ttsDev(d) + "/battery", k, 3.5 + k * 0.0625, time});
        }
    }
    return exp;
}

std::vector<Expected> publishChirpStack(Publisher& pub, int devices, int k0, int k1) {
    std::vector<Expected> exp;
    for (int k = k0; k < k1; ++k) {
        for (int d = 0; d < devices; ++d) {
            std::string t = rfc3339(csSeconds(d, k), 0, "+00:00");
            pub.publish(chirpstackTopic("pumpwerke-app", csEui(d)),
                        chirpstackUplink("pumpwerke-app", csEui(d), "Pumpe " + std::to_string(d), k, t,
                                         csObject(d, k))
                            .dump());
            exp.push_back(
                {csEui(d) + "/temperature", k, -5 + d + k * 0.5, static_cast<double>(csSeconds(d, k))});
            exp.push_back(
                {csEui(d) + "/running", k, k % 2 == 0 ? 1.0 : 0.0, static_cast<double>(csSeconds(d, k))});
        }
    }
    return exp;
}

std::vector<citytwin_status> statusSequence(TestHost& host) {
    std::vector<citytwin_status> seq;
    for (const auto& s : host.statuses())
        seq.push_back(s.status);
    return seq;
}

// Index of the first status s at or after `from`, or npos.
size_t findStatus(const std::vector<StatusRec>& st, citytwin_status s, size_t from) {
    for (size_t i = from; i < st.size(); ++i)
        if (st[i].status == s) return i;
    return std::string::npos;
}

class BrokerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (brokerBinary().empty())
            GTEST_SKIP() << "mosquitto (the broker) is not installed: apt-get install mosquitto";
        port = freePort();
    }
    void TearDown() override {
        if (HasFailure() && broker)
            std::fprintf(stderr, "--- mosquitto log ---\n%s\n", readFile(broker->logPath()).c_str());
    }
    void startBroker(const std::string& extra = "") {
        broker = std::make_unique<Broker>(brokerBinary(), dir.path, port, extra);
        broker->start();
    }
    TempDir dir;
    int port = 0;
    std::unique_ptr<Broker> broker;
};

} // namespace

// 200 TTS and 200 ChirpStack uplinks with QoS 1 through a real broker: every frame arrives once,
// with its values and times, and each sensor is announced once.
TEST_F(BrokerTest, EndToEnd400UplinksExactlyOnce) {
    startBroker();
    PluginLib lib(kPluginPath);
    TestHost host;
    PluginInstance plugin(lib, host, pluginConfig(port, "citytwin-e2e"));
    ASSERT_EQ(plugin.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10)) << host.statusText();
    // The subscription is in place once the broker answered SUBACK; a short wait covers it.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    Publisher pub(port, "e2e-publisher");
    std::vector<Expected> expected = publishTts(pub, 10, 0, 20);
    std::vector<Expected> cs = publishChirpStack(pub, 10, 0, 20);
    expected.insert(expected.end(), cs.begin(), cs.end());
    ASSERT_TRUE(pub.waitAcked(20));
    ASSERT_EQ(expected.size(), 800u); // 400 uplinks × 2 values
    ASSERT_TRUE(host.waitForObservations(expected.size(), 30))
        << host.observationCount() << " of " << expected.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // room for a duplicate to show up
    expectExactlyOnce(host.observations(), expected);
    EXPECT_EQ(host.totalRejected(), 0);

    // 40 sensors, each announced once, with the default units.
    auto sensors = host.sensors();
    EXPECT_EQ(sensors.size(), 40u);
    std::set<std::string> ids;
    for (const auto& s : sensors)
        ids.insert(s.id);
    EXPECT_EQ(ids.size(), 40u);
    for (const auto& s : sensors) {
        if (s.id.ends_with("/groundwater_level")) {
            EXPECT_EQ(s.unit, "m");
        } else if (s.id.ends_with("/running")) {
            EXPECT_EQ(s.unit, "1");
        } else if (s.id.ends_with("/temperature")) {
            EXPECT_EQ(s.unit, "°C");
        }
    }
    plugin.stop();
    auto seq = statusSequence(host);
    ASSERT_GE(seq.size(), 3u);
    EXPECT_EQ(seq.front(), CITYTWIN_STATUS_STARTING);
    EXPECT_EQ(seq[1], CITYTWIN_STATUS_CONNECTED);
    EXPECT_EQ(seq.back(), CITYTWIN_STATUS_STOPPED);
}

// Broker down at start: start() succeeds, the status says reconnecting and why, and once a
// broker listens the plugin connects and receives.
TEST_F(BrokerTest, BrokerDownAtStartKeepsTrying) {
    PluginLib lib(kPluginPath);
    TestHost host;
    PluginInstance plugin(lib, host, pluginConfig(port, "citytwin-late"));
    std::string err;
    ASSERT_EQ(plugin.start(&err), 0) << err;
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_RECONNECTING, 0, 10)) << host.statusText();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // a few attempts with backoff
    auto st = host.statuses();
    size_t r = findStatus(st, CITYTWIN_STATUS_RECONNECTING, 0);
    ASSERT_NE(r, std::string::npos);
    EXPECT_NE(st[r].detail.find("refused"), std::string::npos) << st[r].detail;
    EXPECT_NE(st[r].detail.find("retry in"), std::string::npos) << st[r].detail;
    EXPECT_GE(
        std::count_if(st.begin(), st.end(), [](auto& s) { return s.status == CITYTWIN_STATUS_RECONNECTING; }),
        2);
    EXPECT_EQ(findStatus(st, CITYTWIN_STATUS_CONNECTED, 0), std::string::npos);

    startBroker();
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10)) << host.statusText();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Publisher pub(port, "late-publisher");
    auto expected = publishTts(pub, 1, 1, 4);
    ASSERT_TRUE(pub.waitAcked(10));
    ASSERT_TRUE(host.waitForObservations(expected.size(), 10));
    expectExactlyOnce(host.observations(), expected);
}

// Broker restart mid-stream, with messages both in flight and queued for the plugin's
// persistent session when the broker stops. Verified:
//  1. 20 frames before the stop arrive (the stream runs);
//  2. the plugin's MQTT thread is held (the host's publish blocks) while 100 more frames are
//     published and acknowledged by the broker: at most the broker's in-flight window reaches
//     the plugin, the rest stays queued for the session;
//  3. the broker is stopped with SIGTERM (it writes mosquitto.db) and restarted on the same port;
//     the status goes CONNECTED → RECONNECTING → CONNECTED ("session resumed");
//  4. 100 frames published by a new publisher after the broker is back;
//  5. all 220 frames × 2 values arrive exactly once with the right values and times, some of the
//     queued frames after the reconnect (so from the persisted queue), and the only rejections are
//     replayed_frame_counter (broker redeliveries of frames the plugin had taken but not acked).
TEST_F(BrokerTest, BrokerRestartMidStreamNoLossNoDuplicates) {
    startBroker();
    PluginLib lib(kPluginPath);
    TestHost host;
    PluginInstance plugin(lib, host, pluginConfig(port, "citytwin-restart"));
    ASSERT_EQ(plugin.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10)) << host.statusText();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    std::vector<Expected> expected;
    {
        Publisher pub(port, "restart-publisher-1");
        auto e0 = publishTts(pub, 4, 0, 5);
        ASSERT_TRUE(pub.waitAcked(10));
        ASSERT_TRUE(host.waitForObservations(e0.size(), 10));
        expected = e0;
        host.closeGate();
        auto e1 = publishTts(pub, 4, 5, 30);
        ASSERT_TRUE(pub.waitAcked(10));
        expected.insert(expected.end(), e1.begin(), e1.end());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // let the broker push its window
    size_t beforeStop = host.observationCount();
    size_t statusMark = host.statusCount();
    broker->stop();
    ASSERT_TRUE(fs::exists(broker->dbPath())) << "mosquitto did not save its persistence file";
    host.openGate();
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_RECONNECTING, statusMark, 10)) << host.statusText();
    size_t beforeRestart = host.observationCount();
    broker->start();
    {
        Publisher pub(port, "restart-publisher-2");
        auto e2 = publishTts(pub, 4, 30, 55);
        ASSERT_TRUE(pub.waitAcked(10));
        expected.insert(expected.end(), e2.begin(), e2.end());
    }
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, statusMark, 20)) << host.statusText();
    ASSERT_TRUE(host.waitForObservations(expected.size(), 30))
        << host.observationCount() << " of " << expected.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000)); // room for late duplicates
    auto obs = host.observations();
    expectExactlyOnce(obs, expected);

    auto st = host.statuses();
    size_t rec = findStatus(st, CITYTWIN_STATUS_RECONNECTING, statusMark);
    size_t con = findStatus(st, CITYTWIN_STATUS_CONNECTED, rec);
    ASSERT_NE(con, std::string::npos) << host.statusText();
    EXPECT_NE(st[con].detail.find("session resumed"), std::string::npos) << st[con].detail;
    // Queued frames (5..29) that arrived after the reconnect came from the persisted session.
    size_t queuedAfterReconnect = 0;
    for (const auto& o : obs)
        if (o.dedup >= 5 && o.dedup < 30 && o.arrived >= st[con].at) ++queuedAfterReconnect;
    EXPECT_GT(queuedAfterReconnect, 0u);
    EXPECT_LT(beforeRestart, 2u * 4 * 30)
        << "every queued frame reached the plugin before the stop: nothing was tested";
    auto rej = host.rejections();
    for (const auto& [r, n] : rej)
        EXPECT_EQ(r, reason::ReplayedFrameCounter) << n << " × " << r;
    std::printf("[ restart  ] %zu observations before the stop (gate held), %zu before the restart, %zu of "
                "the queued "
                "frames' values after the reconnect; %d redeliveries dropped as replayed_frame_counter\n",
                beforeStop, beforeRestart, queuedAfterReconnect, host.rejected(reason::ReplayedFrameCounter));
}

// The persistent session also covers the plugin being stopped: frames published meanwhile
// arrive after start().
TEST_F(BrokerTest, PersistentSessionAcrossPluginStopStart) {
    startBroker();
    PluginLib lib(kPluginPath);
    TestHost host;
    PluginInstance plugin(lib, host, pluginConfig(port, "citytwin-session"));
    ASSERT_EQ(plugin.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    plugin.stop();
    size_t mark = host.statusCount();
    Publisher pub(port, "session-publisher");
    auto expected = publishChirpStack(pub, 3, 1, 6);
    ASSERT_TRUE(pub.waitAcked(10));
    ASSERT_EQ(host.observationCount(), 0u);
    ASSERT_EQ(plugin.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, mark, 10));
    EXPECT_NE(host.statuses().back().detail.find("session resumed"), std::string::npos);
    ASSERT_TRUE(host.waitForObservations(expected.size(), 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    expectExactlyOnce(host.observations(), expected);
}

// Oversized, malformed, unknown-device and bad-value messages over the broker: counted with
// their reasons; the plugin stays connected and takes the next good message.
TEST_F(BrokerTest, BadInputIsCountedAndThePluginKeepsRunning) {
    startBroker();
    PluginLib lib(kPluginPath);
    TestHost host;
    PluginInstance plugin(
        lib, host,
        pluginConfig(port, "citytwin-bad",
                     R"("devices": {"gw-0": {"name": "Brunnen 0", "lon": 8.75, "lat": 51.72}})"));
    ASSERT_EQ(plugin.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Publisher pub(port, "bad-publisher");
    const std::string topic = ttsTopic("brunnen", "gw-0");
    json big = ttsUplink("brunnen", "gw-0", "01", 1, rfc3339(kBase, 0), {{"level", 1.0}});
    big["padding"] = std::string(70000, 'x'); // valid JSON, but over 64 KiB
    pub.publish(topic, big.dump());
    pub.publish(topic, R"({"end_device_ids": {"device_id": "gw-0"}, "uplink_message": {)");
    pub.publish(topic, "\xff\xfe\x00garbage");
    pub.publish(ttsTopic("brunnen", "gw-99"),
                ttsUplink("brunnen", "gw-99", "02", 1, rfc3339(kBase, 0), {{"level", 1.0}}).dump());
    pub.publish(topic,
                ttsUplink("brunnen", "gw-0", "01", 2, rfc3339(kBase + 60, 0), {{"level", "NaN"}}).dump());
    pub.publish(topic,
                ttsUplink("brunnen", "gw-0", "01", 3, rfc3339(kBase + 120, 0), {{"level", 1e30}}).dump());
    pub.publish(topic,
                ttsUplink("brunnen", "gw-0", "01", 4, rfc3339(kBase + 180, 0), {{"level", "abc"}}).dump());
    pub.publish(topic,
                ttsUplink("brunnen", "gw-0", "01", 5, rfc3339(kBase + 240, 0), {{"level", 2.5}}).dump());
    pub.publish(
        topic,
        ttsUplink("brunnen", "gw-0", "01", 5, rfc3339(kBase + 240, 0), {{"level", 2.5}}).dump()); // replayed
    pub.publish(topic,
                ttsUplink("brunnen", "gw-0", "01", 6, rfc3339(kBase + 300, 0), {{"level", 2.75}}).dump());
    ASSERT_TRUE(pub.waitAcked(10));
    ASSERT_TRUE(host.waitFor(
        [&] { return host.obsUnlocked().size() >= 2 && host.rejectedUnlocked().size() >= 7; }, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::map<std::string, int> want = {{reason::PayloadTooLarge, 1},     {reason::MalformedJson, 2},
                                       {reason::UnknownDevice, 1},       {reason::ValueNotFinite, 1},
                                       {reason::ValueOutOfRange, 1},     {reason::InvalidValue, 1},
                                       {reason::ReplayedFrameCounter, 1}};
    EXPECT_EQ(host.rejections(), want);
    expectExactlyOnce(host.observations(), {{"gw-0/level", 5, 2.5, static_cast<double>(kBase + 240)},
                                            {"gw-0/level", 6, 2.75, static_cast<double>(kBase + 300)}});
    auto sensors = host.sensors();
    ASSERT_EQ(sensors.size(), 1u);
    EXPECT_EQ(sensors[0].name, "Brunnen 0 level");
    EXPECT_DOUBLE_EQ(sensors[0].lon, 8.75);
    EXPECT_EQ(host.statuses().back().status, CITYTWIN_STATUS_CONNECTED);
    // Rejections are logged with their reason.
    auto logs = host.logs();
    EXPECT_TRUE(std::any_of(logs.begin(), logs.end(),
                            [](auto& l) { return l.find("payload_too_large") != std::string::npos; }));
}

// TLS with a throwaway CA plus a password file: the right credentials connect and receive; a
// wrong password shows the broker's refusal as an error and receives nothing; a wrong CA shows a
// TLS error and keeps retrying (the MQTT thread does not die).
TEST_F(BrokerTest, TlsAndPassword) {
    if (!haveProgram("openssl"))
        GTEST_SKIP() << "openssl (the command) is not installed; skipping the TLS test";
    if (!haveProgram("mosquitto_passwd"))
        GTEST_SKIP() << "mosquitto_passwd is not installed; skipping the TLS test";
    const std::string d = dir.path.string();
    const std::string q = " >>" + d + "/openssl.log 2>&1";
    std::ofstream(dir.path / "san.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        << "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
    ASSERT_EQ(shell("cd " + d +
                    " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "
                    "'/CN=citytwin test CA'" +
                    q),
              0)
        << readFile(dir.path / "openssl.log");
    ASSERT_EQ(shell("cd " + d +
                    " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "
                    "'/CN=localhost'" +
                    q),
              0);
    ASSERT_EQ(
        shell("cd " + d +
              " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
              "-days 2 -extfile san.ext" +
              q),
        0)
        << readFile(dir.path / "openssl.log");
    ASSERT_EQ(shell("cd " + d +
                    " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.crt -days "
                    "2 -subj '/CN=another CA'" +
                    q),
              0);
    ASSERT_EQ(shell("mosquitto_passwd -b -c " + d + "/passwd citytwin 's3cret-Pa55'" + q), 0)
        << readFile(dir.path / "openssl.log");
    startBroker("cafile " + d + "/ca.crt\ncertfile " + d + "/server.crt\nkeyfile " + d +
                "/server.key\npassword_file " + d + "/passwd\n");

    PluginLib lib(kPluginPath);
    auto cfg = [&](const std::string& id, const std::string& password, const std::string& ca) {
        return pluginConfig(port, id,
                            R"("username": "citytwin", "password": ")" + password +
                                R"(", "tls": {"ca_file": ")" + ca + "\"}");
    };
    TestHost good, badPassword, badCa;
    PluginInstance p1(lib, good, cfg("citytwin-tls", "s3cret-Pa55", d + "/ca.crt"));
    PluginInstance p2(lib, badPassword, cfg("citytwin-tls-badpw", "wrong", d + "/ca.crt"));
    PluginInstance p3(lib, badCa, cfg("citytwin-tls-badca", "s3cret-Pa55", d + "/other-ca.crt"));
    ASSERT_EQ(p1.start(), 0);
    ASSERT_EQ(p2.start(), 0);
    ASSERT_EQ(p3.start(), 0);
    ASSERT_TRUE(good.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10)) << good.statusText();
    ASSERT_TRUE(badPassword.waitForStatus(CITYTWIN_STATUS_ERROR, 0, 10)) << badPassword.statusText();
    ASSERT_TRUE(badCa.waitForStatus(CITYTWIN_STATUS_ERROR, 0, 10)) << badCa.statusText();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    Publisher::Options opt{d + "/ca.crt", "citytwin", "s3cret-Pa55"};
    Publisher pub(port, "tls-publisher", opt);
    auto expected = publishTts(pub, 1, 1, 2);
    ASSERT_TRUE(pub.waitAcked(10));
    ASSERT_TRUE(good.waitForObservations(expected.size(), 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // the wrong ones retry meanwhile
    expectExactlyOnce(good.observations(), expected);
    EXPECT_EQ(badPassword.observationCount(), 0u);
    EXPECT_EQ(badCa.observationCount(), 0u);
    auto st = badPassword.statuses();
    size_t e = findStatus(st, CITYTWIN_STATUS_ERROR, 0);
    EXPECT_NE(st[e].detail.find("not authorised"), std::string::npos) << st[e].detail;
    EXPECT_EQ(findStatus(st, CITYTWIN_STATUS_CONNECTED, 0), std::string::npos);
    auto st3 = badCa.statuses();
    size_t e3 = findStatus(st3, CITYTWIN_STATUS_ERROR, 0);
    EXPECT_NE(st3[e3].detail.find("TLS"), std::string::npos) << st3[e3].detail;
    EXPECT_GE(
        std::count_if(st3.begin(), st3.end(), [](auto& s) { return s.status == CITYTWIN_STATUS_ERROR; }), 2)
        << "the plugin should keep retrying after a TLS error\n"
        << badCa.statusText();
}
