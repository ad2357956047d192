// MQTT feed plugin: subscribes to LoRaWAN network-server uplinks (The Things Stack v3,
// ChirpStack v4) or plain JSON over MQTT with libmosquitto and hands the decoded observations
// to the host through the plugin ABI (plugins/citytwin_plugin.h). Config: README.md here.
//
// Threads: start() spawns one MQTT thread that owns the libmosquitto client: it connects,
// runs mosquitto_loop(), decodes in the message callback and calls the host from there; it
// reconnects with exponential backoff. stop() wakes and joins it; no other thread touches the
// libmosquitto client meanwhile. Only
// citytwin_plugin_entry is exported (hidden visibility + a version script).
#include "citytwin_plugin.h"

#include "Decoders.h"
#include "MqttConfig.h"

#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
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

std::string fmtSeconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f" : "%.0f", s);
    return buf;
}

class Instance {
  public:
    // No host calls here: the ABI allows them only between start() and the end of stop().
    Instance(const citytwin_host_api& host, PluginConfig cfg)
        : m_host(host), m_cfg(std::move(cfg)), m_ingest(m_cfg.decoder) {}
    ~Instance() { stop(); }

    int start(std::string& error);
    void stop();

  private:
    void run();
    void backoff(bool fatal, const std::string& why);
    bool stopRequested() {
        std::lock_guard lock(m_mutex);
        return m_stopping;
    }
    std::string where() const { return m_cfg.host + ":" + std::to_string(m_cfg.port); }
    // savedErrno: errno right after the failing call (callbacks may change it later).
    static std::string errorText(int rc, int savedErrno) {
        if (rc == MOSQ_ERR_ERRNO) return std::strerror(savedErrno);
        return mosquitto_strerror(rc);
    }

    void onConnect(int rc, int flags);
    void onMessage(const mosquitto_message* msg);
    void onSubscribe(int mid, int count, const int* granted);
    void onLog(int level, const char* text);

    void status(citytwin_status s, const std::string& detail);
    void log(citytwin_log_level level, const std::string& msg) {
        if (m_host.log) m_host.log(m_host.host, level, msg.c_str());
    }
    void countRejected(const Rejection& r);

    citytwin_host_api m_host; // copied: the host's pointer is only valid during create()
    PluginConfig m_cfg;
    Ingest m_ingest; // MQTT thread only

    mosquitto* m_mosq = nullptr;
    std::thread m_thread;
    std::mutex m_lifecycle; // serialises start() and stop(); guards m_running
    bool m_running = false;
    std::mutex m_mutex; // guards m_stopping, with m_wake
    std::condition_variable m_wake;
    bool m_stopping = false;

    // MQTT thread state
    bool m_connected = false;
    int m_lastConnack = -1;     // the last CONNACK code (0 accepted)
    int m_attempts = 0;         // failed attempts since the last successful connection
    std::string m_lastLibError; // the last error libmosquitto logged (TLS details)
    std::map<int, std::string> m_pendingSubs;
    std::map<std::string, uint64_t> m_rejectLogged;
    uint64_t m_dropped = 0;

    std::mutex m_statusMutex;
    citytwin_status m_lastStatus = CITYTWIN_STATUS_STOPPED;
    std::string m_lastDetail;
};

void Instance::status(citytwin_status s, const std::string& detail) {
    {
        std::lock_guard lock(m_statusMutex);
        if (s == m_lastStatus && detail == m_lastDetail) return;
        m_lastStatus = s;
        m_lastDetail = detail;
    }
    if (m_host.report_status) m_host.report_status(m_host.host, s, detail.c_str());
    log(s == CITYTWIN_STATUS_ERROR          ? CITYTWIN_LOG_ERROR
        : s == CITYTWIN_STATUS_RECONNECTING ? CITYTWIN_LOG_WARN
                                            : CITYTWIN_LOG_INFO,
        "mqtt " + where() + ": " + detail);
}

void Instance::countRejected(const Rejection& r) {
    if (m_host.count_rejected) m_host.count_rejected(m_host.host, r.reason.c_str());
    // Log the first 20 of each reason, then every 1000th, so a flood cannot flood the log.
    uint64_t n = ++m_rejectLogged[r.reason];
    if (n <= 20 || n % 1000 == 0)
        log(CITYTWIN_LOG_WARN, "mqtt: rejected (" + r.reason + ", #" + std::to_string(n) + "): " + r.detail);
}

int Instance::start(std::string& error) {
    std::lock_guard life(m_lifecycle); // start() and stop() never overlap
    if (m_running) {
        error = "mqtt: already started";
        return 1;
    }
    static std::once_flag libInit;
    std::call_once(libInit, [] { mosquitto_lib_init(); });

    m_mosq =
        mosquitto_new(m_cfg.clientId.empty() ? nullptr : m_cfg.clientId.c_str(), m_cfg.cleanSession, this);
    if (!m_mosq) {
        error = std::string("mqtt: cannot create the client: ") + std::strerror(errno);
        return 1;
    }
    auto fail = [&](const std::string& what, int rc) {
        error = "mqtt: " + what + ": " + mosquitto_strerror(rc);
        mosquitto_destroy(m_mosq);
        m_mosq = nullptr;
        return 1;
    };
    // Only the MQTT thread calls into the client once start() has returned.
    mosquitto_int_option(m_mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (m_cfg.username) {
        int rc = mosquitto_username_pw_set(m_mosq, m_cfg.username->c_str(),
                                           m_cfg.password ? m_cfg.password->c_str() : nullptr);
        if (rc != MOSQ_ERR_SUCCESS) return fail("username/password", rc);
    }
    if (m_cfg.tls.enabled) {
        auto cstr = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
        if (m_cfg.tls.caFile.empty() && m_cfg.tls.caPath.empty())
            mosquitto_int_option(m_mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        else {
            int rc = mosquitto_tls_set(m_mosq, cstr(m_cfg.tls.caFile), cstr(m_cfg.tls.caPath),
                                       cstr(m_cfg.tls.certFile), cstr(m_cfg.tls.keyFile), nullptr);
            if (rc != MOSQ_ERR_SUCCESS) return fail("TLS settings (tls.ca_file / cert_file / key_file)", rc);
        }
        if (m_cfg.tls.insecure) mosquitto_tls_insecure_set(m_mosq, true);
    }
    mosquitto_connect_with_flags_callback_set(m_mosq, [](mosquitto*, void* self, int rc, int flags) {
        static_cast<Instance*>(self)->onConnect(rc, flags);
    });
    mosquitto_message_callback_set(m_mosq, [](mosquitto*, void* self, const mosquitto_message* msg) {
        static_cast<Instance*>(self)->onMessage(msg);
    });
    mosquitto_subscribe_callback_set(m_mosq,
                                     [](mosquitto*, void* self, int mid, int count, const int* granted) {
                                         static_cast<Instance*>(self)->onSubscribe(mid, count, granted);
                                     });
    mosquitto_log_callback_set(m_mosq, [](mosquitto*, void* self, int level, const char* text) {
        static_cast<Instance*>(self)->onLog(level, text);
    });

    {
        std::lock_guard lock(m_mutex);
        m_stopping = false;
    }
    m_running = true;
    m_connected = false;
    m_lastConnack = -1;
    m_attempts = 0;
    status(CITYTWIN_STATUS_STARTING, "connecting to " + where());
    for (const auto& w : m_cfg.warnings)
        log(CITYTWIN_LOG_WARN, w); // config warnings, each start

    m_thread = std::thread([this] { run(); });
    return 0;
}

void Instance::stop() {
    std::lock_guard life(m_lifecycle);
    if (!m_running) return;
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all(); // ends a backoff wait; mosquitto_loop() returns within 250 ms
    m_thread.join();
    mosquitto_destroy(m_mosq);
    m_mosq = nullptr;
    m_running = false;
    status(CITYTWIN_STATUS_STOPPED, "stopped");
}

// The MQTT thread. Why not mosquitto_loop_start(): its loop (mosquitto_loop_forever) ends for
// good on TLS, DNS (EAI), protocol and EPROTO errors, which would leave the feed silently
// dead after e.g. a broker certificate change or a DNS outage; and it sleeps the reconnect
// delay uninterruptibly, so stop() would block up to reconnect_max_s. Here every failure is
// reported and retried with exponential backoff, and stop() returns within ~0.25 s.
void Instance::run() {
    bool first = true;
    bool needConnect = true;
    auto attemptStarted = std::chrono::steady_clock::now();
    while (!stopRequested()) {
        if (needConnect) {
            m_lastLibError.clear();
            m_lastConnack = -1;
            errno = 0;
            int rc = first ? mosquitto_connect_async(m_mosq, m_cfg.host.c_str(), m_cfg.port, m_cfg.keepaliveS)
                           : mosquitto_reconnect_async(m_mosq);
            int savedErrno = errno;
            first = false;
            if (rc != MOSQ_ERR_SUCCESS) {
                // connect_async keeps host/port even when the first attempt fails, so
                // reconnect_async works from here on.
                backoff(rc == MOSQ_ERR_TLS,
                        "cannot connect to " + where() + ": " + errorText(rc, savedErrno));
                continue;
            }
            needConnect = false;
            attemptStarted = std::chrono::steady_clock::now();
        }
        errno = 0;
        int rc = mosquitto_loop(m_mosq, 250, 1);
        int savedErrno = errno;
        if (rc == MOSQ_ERR_SUCCESS) {
            // A connection that never gets its CONNACK (a black-holed SYN, a stuck TLS
            // handshake) is abandoned after max(10 s, keepalive).
            auto waited = std::chrono::steady_clock::now() - attemptStarted;
            if (!m_connected && waited > std::chrono::seconds(std::max(10, m_cfg.keepaliveS))) {
                needConnect = true;
                backoff(false, "no answer from " + where() + " within " +
                                   std::to_string(std::max(10, m_cfg.keepaliveS)) + " s");
            }
            continue;
        }
        if (stopRequested()) break;
        bool wasConnected = m_connected;
        m_connected = false;
        needConnect = true;
        if (m_lastConnack > 0) {
            backoff(true, std::string("broker ") + where() +
                              " refused the connection: " + mosquitto_connack_string(m_lastConnack));
        } else if (rc == MOSQ_ERR_TLS ||
                   (!m_lastLibError.empty() && m_lastLibError.find("SSL") != std::string::npos)) {
            backoff(true, "TLS error with " + where() +
                              (m_lastLibError.empty() ? "" : " (" + m_lastLibError + ")") +
                              "; check tls.ca_file and the broker certificate");
        } else {
            backoff(false, (wasConnected ? "connection to " + where() + " lost: "
                                         : "cannot connect to " + where() + ": ") +
                               errorText(rc, savedErrno));
        }
    }
    // Leave cleanly: DISCONNECT keeps the persistent session (clean_session false) at the broker.
    mosquitto_disconnect(m_mosq);
    for (int i = 0; i < 8 && mosquitto_loop(m_mosq, 50, 1) == MOSQ_ERR_SUCCESS; ++i) {
    }
    m_connected = false;
}

void Instance::backoff(bool fatal, const std::string& why) {
    double delay = m_cfg.reconnectMinS * std::pow(2.0, std::min(m_attempts, 30));
    delay = std::min(delay, m_cfg.reconnectMaxS);
    ++m_attempts;
    status(fatal ? CITYTWIN_STATUS_ERROR : CITYTWIN_STATUS_RECONNECTING,
           why + "; retry in " + fmtSeconds(delay) + " s");
    std::unique_lock lock(m_mutex);
    m_wake.wait_for(lock, std::chrono::duration<double>(delay), [this] { return m_stopping; });
}

void Instance::onConnect(int rc, int flags) {
    m_lastConnack = rc;
    if (rc != 0) return; // reported by run() when mosquitto_loop() returns the refusal
    m_connected = true;
    m_attempts = 0;
    bool sessionPresent = (flags & 1) != 0;
    status(CITYTWIN_STATUS_CONNECTED,
           "connected to " + where() + (sessionPresent ? " (session resumed)" : " (new session)"));
    // Subscribing again is harmless when the broker kept the session, and needed when not.
    for (const auto& topic : m_cfg.topics) {
        int mid = 0;
        int src = mosquitto_subscribe(m_mosq, &mid, topic.c_str(), m_cfg.qos);
        if (src != MOSQ_ERR_SUCCESS)
            status(CITYTWIN_STATUS_ERROR, "cannot subscribe to " + topic + ": " + mosquitto_strerror(src));
        else
            m_pendingSubs[mid] = topic;
    }
}

void Instance::onSubscribe(int mid, int count, const int* granted) {
    std::string topic = m_pendingSubs.count(mid) ? m_pendingSubs[mid] : "?";
    m_pendingSubs.erase(mid);
    for (int i = 0; i < count; ++i) {
        if (granted[i] > 2)
            status(CITYTWIN_STATUS_ERROR, "broker " + where() + " refused the subscription to " + topic);
        else if (granted[i] < m_cfg.qos)
            log(CITYTWIN_LOG_WARN,
                "mqtt: broker granted QoS " + std::to_string(granted[i]) + " for " + topic);
    }
}

void Instance::onLog(int level, const char* text) {
    if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) || !text) return;
    m_lastLibError = text;
    log(CITYTWIN_LOG_DEBUG, std::string("libmosquitto: ") + text);
}

void Instance::onMessage(const mosquitto_message* msg) {
    try {
        std::string_view topic = msg->topic ? msg->topic : "";
        std::string_view payload(static_cast<const char*>(msg->payload),
                                 msg->payload ? static_cast<std::size_t>(msg->payloadlen) : 0);
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
