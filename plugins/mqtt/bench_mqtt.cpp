// Ingest throughput and latency of the MQTT plugin with a local mosquitto (not a test: prints
// figures). The plugin is loaded from the built .so and driven through the C ABI.
//
//   bench_mqtt [messages=20000] [latency_messages=2000] [latency_rate_per_s=200]
//
// throughput: TTS uplinks (~1.3 KB, 2 values each, 50 devices) published with QoS 1 as fast as one
//   publisher goes; messages/s = messages / (last observation handed to publish − first publish).
// latency: paced QoS 1 publishes; per message, host publish-callback time − time just before
//   mosquitto_publish(); median and p99.
// decode only: Ingest::process on the same payloads without a broker (the decoder's ceiling).
#include "Decoders.h"
#include "MqttTestSupport.h"

#include <algorithm>
#include <cstdio>

using namespace mqtt_test;

namespace {

std::string brokerBinary() {
    std::string configured = CITYTWIN_MOSQUITTO_BROKER;
    if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos) return configured;
    return "/usr/sbin/mosquitto";
}

std::string payload(int d, int k, int64_t epoch) {
    json decoded = {{"groundwater_level", 100 + d + k * 0.001}, {"battery", "3.61"}};
    return ttsUplink("bench", "dev-" + std::to_string(d), "70B3D57ED0000000", k,
                     rfc3339(epoch + k, 123456789), decoded)
        .dump();
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(
        std::clamp(p * static_cast<double>(v.size() - 1) + 0.5, 0.0, static_cast<double>(v.size() - 1)));
    return v[i];
}

} // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 20000;
    int nLat = argc > 2 ? std::atoi(argv[2]) : 2000;
    double rate = argc > 3 ? std::atof(argv[3]) : 200;
    const int devices = 50;

    // Decode only.
    {
        citytwin::mqtt::DecoderConfig cfg;
        cfg.format = citytwin::mqtt::Format::Tts;
        citytwin::mqtt::Ingest ingest(cfg);
        std::vector<std::pair<std::string, std::string>> msgs;
        for (int i = 0; i < n; ++i)
            msgs.emplace_back(ttsTopic("bench", "dev-" + std::to_string(i % devices)),
                              payload(i % devices, i / devices, 1717200000));
        size_t bytes = 0, obs = 0;
        auto t0 = Clock::now();
        for (auto& [t, p] : msgs) {
            bytes += p.size();
            obs += ingest.process(t, p, 0).observations.size();
        }
        double s = secondsSince(t0);
        std::printf(
            "decode only: %d messages (%.0f bytes each), %zu observations in %.3f s: %.0f messages/s\n", n,
            static_cast<double>(bytes) / n, obs, s, n / s);
    }

    TempDir dir;
    int port = freePort();
    Broker broker(brokerBinary(), dir.path, port);
    broker.start();
    PluginLib lib(CITYTWIN_MQTT_PLUGIN);

    // Throughput.
    {
        TestHost host;
        std::string cfg = R"({"host": "127.0.0.1", "port": )" + std::to_string(port) +
                          R"(, "client_id": "bench-throughput", "topics": ["v3/+/devices/+/up"], "qos": 1})";
        PluginInstance plugin(lib, host, cfg);
        plugin.start();
        host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::vector<std::pair<std::string, std::string>> msgs;
        for (int i = 0; i < n; ++i)
            msgs.emplace_back(ttsTopic("bench", "dev-" + std::to_string(i % devices)),
                              payload(i % devices, i / devices, 1717300000));
        Publisher pub(port, "bench-publisher");
        auto t0 = Clock::now();
        for (auto& [t, p] : msgs)
            pub.publish(t, p);
        double publishS = secondsSince(t0);
        bool all = host.waitForObservations(static_cast<size_t>(n) * 2, 120);
        auto obs = host.observations();
        double lastS = obs.empty() ? 0 : std::chrono::duration<double>(obs.back().arrived - t0).count();
        std::printf("throughput: %d QoS 1 messages, %zu observations%s; publish calls done after %.3f s, "
                    "last observation "
                    "after %.3f s: %.0f messages/s (%.0f observations/s); rejected %d\n",
                    n, obs.size(), all ? "" : " (NOT ALL ARRIVED)", publishS, lastS, n / lastS,
                    obs.size() / lastS, host.totalRejected());
    }

    // Latency.
    {
        TestHost host;
        std::string cfg = R"({"host": "127.0.0.1", "port": )" + std::to_string(port) +
                          R"(, "client_id": "bench-latency", "topics": ["v3/+/devices/+/up"], "qos": 1})";
        PluginInstance plugin(lib, host, cfg);
        plugin.start();
        host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 0, 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        Publisher pub(port, "bench-latency-publisher");
        std::vector<Clock::time_point> sent(static_cast<size_t>(nLat));
        std::vector<std::string> payloads;
        for (int i = 0; i < nLat; ++i)
            payloads.push_back(payload(0, i, 1717400000));
        auto start = Clock::now();
        auto period = std::chrono::duration<double>(1.0 / rate);
        for (int i = 0; i < nLat; ++i) {
            std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(period * i));
            sent[static_cast<size_t>(i)] = Clock::now();
            pub.publish(ttsTopic("bench", "dev-0"), payloads[static_cast<size_t>(i)]);
        }
        host.waitForObservations(static_cast<size_t>(nLat) * 2, 30);
        std::vector<double> lat;
        for (const auto& o : host.observations())
            if (o.sensor == "dev-0/groundwater_level" && o.dedup >= 0 && o.dedup < nLat)
                lat.push_back(
                    std::chrono::duration<double, std::milli>(o.arrived - sent[static_cast<size_t>(o.dedup)])
                        .count());
        if (lat.empty()) {
            std::printf("latency: nothing arrived\n");
            return 1;
        }
        std::printf("latency: %zu of %d messages at %.0f/s, publish→host callback median %.3f ms, p99 %.3f "
                    "ms, max %.3f ms\n",
                    lat.size(), nLat, rate, percentile(lat, 0.5), percentile(lat, 0.99),
                    *std::max_element(lat.begin(), lat.end()));
    }
    return 0;
}
