// MQTT feed plugin: subscribes to LoRaWAN network-server uplinks (The Things Stack v3,
// ChirpStack v4) or plain JSON over MQTT with libmosquitto and hands the decoded observations
// to the host through the plugin ABI (plugins/citytwin_plugin.h). Config: README.md here.
//
// Threads: the connection is MqttClient's (MqttClient.h): start() spawns its MQTT thread, which
// connects, reconnects with exponential backoff, and decodes each message and calls the host
// from the message callback. stop() wakes and joins it. Only citytwin_plugin_entry is exported
// (hidden visibility + a version script).
#include "citytwin_plugin.h"

#include "Decoders.h"
#include "MqttClient.h"
#include "MqttConfig.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace citytwin::mqtt;

void copyError(char* error, std::size_t size, const std::string& msg) {
    if (!error || size == 0) return;
    std::size_t n = std::min(size - 1, msg.size());
    std::memcpy(error, msg.data(), n);
    error[n] = '\0';
}

double wallClockS() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

class Instance {
  public:
    // No host calls here: the ABI allows them only between start() and the end of stop().
    Instance(const citytwin_host_api& host, PluginConfig cfg)
        : m_host(host), m_cfg(std::move(cfg)), m_ingest(m_cfg.decoder),
          m_client(m_cfg,
                   {[this](std::string_view topic, std::string_view payload) { onMessage(topic, payload); },
                    [this](citytwin_status s, const std::string& detail) {
                        if (m_host.report_status) m_host.report_status(m_host.host, s, detail.c_str());
                    },
                    [this](citytwin_log_level level, const std::string& text) { log(level, text); }}) {}
    ~Instance() { stop(); }

    int start(std::string& error) { return m_client.start(error, m_cfg.warnings); }
    void stop() { m_client.stop(); }

  private:
    void onMessage(std::string_view topic, std::string_view payload);
    void log(citytwin_log_level level, const std::string& msg) {
        if (m_host.log) m_host.log(m_host.host, level, msg.c_str());
    }
    void countRejected(const Rejection& r);

    citytwin_host_api m_host; // copied: the host's pointer is only valid during create()
    PluginConfig m_cfg;
    Ingest m_ingest;                                // MQTT thread only
    std::map<std::string, uint64_t> m_rejectLogged; // MQTT thread only
    uint64_t m_dropped = 0;                         // MQTT thread only
    MqttClient m_client;                            // last: destroyed (stopped) before what its thread uses
};

void Instance::countRejected(const Rejection& r) {
    if (m_host.count_rejected) m_host.count_rejected(m_host.host, r.reason.c_str());
    // Log the first 20 of each reason, then every 1000th, so a flood cannot flood the log.
    uint64_t n = ++m_rejectLogged[r.reason];
    if (n <= 20 || n % 1000 == 0)
        log(CITYTWIN_LOG_WARN, "mqtt: rejected (" + r.reason + ", #" + std::to_string(n) + "): " + r.detail);
}

void Instance::onMessage(std::string_view topic, std::string_view payload) {
    try {
        IngestResult r = m_ingest.process(topic, payload, wallClockS());
        for (const Rejection& rej : r.rejections)
            countRejected(rej);
        if (m_host.announce_sensor) {
            for (const SensorInfo& s : r.announce) {
                citytwin_sensor cs{};
                cs.id = s.id.c_str();
                cs.name = s.name.empty() ? nullptr : s.name.c_str();
                cs.lon = s.lon;
                cs.lat = s.lat;
                cs.elevation_m = s.elevationM;
                cs.quantity = s.quantity.c_str();
                cs.unit = s.unit.c_str();
                cs.warn_above = s.warnAbove;
                cs.alarm_above = s.alarmAbove;
                m_host.announce_sensor(m_host.host, &cs);
            }
        }
        if (!r.observations.empty() && m_host.publish) {
            std::vector<citytwin_observation> obs(r.observations.size());
            for (std::size_t i = 0; i < obs.size(); ++i) {
                const Observation& o = r.observations[i];
                obs[i] = citytwin_observation{o.sensorId.c_str(), o.phenomenonTime, o.resultTime, o.value,
                                              o.quality,          o.dedupKey};
            }
            if (m_host.publish(m_host.host, obs.data(), obs.size()) != 0) {
                // The host counts what its queue drops; say so now and then.
                if (m_dropped++ % 1000 == 0)
                    log(CITYTWIN_LOG_WARN, "mqtt: the host queue is full, observations dropped (" +
                                               std::to_string(m_dropped) + " times)");
            }
        }
    } catch (const std::exception& e) {
        countRejected({reason::InternalError, std::string("message handling failed: ") + e.what()});
    } catch (...) {
        countRejected({reason::InternalError, "message handling failed"});
    }
}

// --- The C ABI ---------------------------------------------------------------------------

void* apiCreate(const citytwin_host_api* host, const char* configJson, char* error, std::size_t errorSize) {
    try {
        if (!host) {
            copyError(error, errorSize, "mqtt: no host api");
            return nullptr;
        }
        if (host->abi_major != CITYTWIN_PLUGIN_ABI_MAJOR) {
            copyError(error, errorSize,
                      "mqtt: host ABI " + std::to_string(host->abi_major) + " is not " +
                          std::to_string(CITYTWIN_PLUGIN_ABI_MAJOR));
            return nullptr;
        }
        std::string err;
        auto cfg = parseConfig(configJson ? configJson : "", err);
        if (!cfg) {
            copyError(error, errorSize, err);
            return nullptr;
        }
        return new Instance(*host, std::move(*cfg));
    } catch (const std::exception& e) {
        copyError(error, errorSize, std::string("mqtt: ") + e.what());
    } catch (...) {
        copyError(error, errorSize, "mqtt: create failed");
    }
    return nullptr;
}

int apiStart(void* instance, char* error, std::size_t errorSize) {
    if (!instance) {
        copyError(error, errorSize, "mqtt: no instance");
        return 1;
    }
    try {
        std::string err;
        int rc = static_cast<Instance*>(instance)->start(err);
        if (rc != 0) copyError(error, errorSize, err);
        return rc;
    } catch (const std::exception& e) {
        copyError(error, errorSize, std::string("mqtt: ") + e.what());
    } catch (...) {
        copyError(error, errorSize, "mqtt: start failed");
    }
    return 1;
}

void apiStop(void* instance) {
    try {
        if (instance) static_cast<Instance*>(instance)->stop();
    } catch (...) {
    }
}

void apiDestroy(void* instance) {
    try {
        delete static_cast<Instance*>(instance);
    } catch (...) {
    }
}

const citytwin_plugin_api kApi = {
    CITYTWIN_PLUGIN_ABI_MAJOR,
    CITYTWIN_PLUGIN_ABI_MINOR,
    "mqtt",
    "0.1.0",
    apiCreate,
    apiStart,
    apiStop,
    apiDestroy,
};

} // namespace

extern "C" __attribute__((visibility("default"))) const citytwin_plugin_api*
citytwin_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == CITYTWIN_PLUGIN_ABI_MAJOR ? &kApi : nullptr;
}
