// One MQTT subscription with libmosquitto, for every plugin that reads a broker (mqtt, traffic):
// connect (user/password, TLS), subscribe to the configured topics, reconnect with exponential
// backoff, a persistent QoS 1 session, status reports with the reason, a clean stop. What a
// message means is the plugin's business: it gets (topic, payload) through a callback.
//
// Threads: start() spawns one MQTT thread that owns the libmosquitto client; every callback
// runs on that thread (status also on the caller's, from start() and stop()). stop() wakes and
// joins it within ~0.25 s, also in the middle of a backoff wait.
#pragma once

#include "MqttConfig.h"
#include "citytwin_plugin.h"

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace citytwin::mqtt {

class MqttClient {
  public:
    struct Callbacks {
        // A message on a subscribed topic (MQTT thread). Exceptions are caught and logged.
        std::function<void(std::string_view topic, std::string_view payload)> message;
        // A change of the connection's state, with a reason for people; called only when
        // (status, detail) differs from the last report.
        std::function<void(citytwin_status status, const std::string& detail)> status;
        std::function<void(citytwin_log_level level, const std::string& text)> log;
    };

    MqttClient(ConnectionConfig cfg, Callbacks callbacks);
    ~MqttClient(); // stop()
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    // Creates the libmosquitto client, reports STARTING, logs `warnings` (config warnings, each
    // start) and starts the MQTT thread. A broker that is down is not an error here: the thread
    // keeps trying. Returns 0, or 1 with the reason in `error` (then no thread runs).
    int start(std::string& error, const std::vector<std::string>& warnings = {});
    // Disconnects (the broker keeps a persistent session), joins the thread, reports STOPPED.
    // Harmless when not started.
    void stop();

    std::string where() const { return m_cfg.host + ":" + std::to_string(m_cfg.port); }
    const ConnectionConfig& config() const { return m_cfg; }

  private:
    void run();
    void backoff(bool fatal, const std::string& why);
    bool stopRequested() {
        std::lock_guard lock(m_mutex);
        return m_stopping;
    }

    void onConnect(int rc, int flags);
    void onMessage(const mosquitto_message* msg);
    void onSubscribe(int mid, int count, const int* granted);
    void onLog(int level, const char* text);

    void status(citytwin_status s, const std::string& detail);
    void log(citytwin_log_level level, const std::string& text) {
        if (m_cb.log) m_cb.log(level, text);
    }

    ConnectionConfig m_cfg;
    Callbacks m_cb;

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

    std::mutex m_statusMutex;
    citytwin_status m_lastStatus = CITYTWIN_STATUS_STOPPED;
    std::string m_lastDetail;
};

} // namespace citytwin::mqtt
