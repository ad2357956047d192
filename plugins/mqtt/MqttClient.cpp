// One MQTT subscription with libmosquitto (MqttClient.h), shared by the mqtt and traffic plugins.
#include "MqttClient.h"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace citytwin::mqtt {

namespace {

std::string fmtSeconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f" : "%.0f", s);
    return buf;
}

// savedErrno: errno right after the failing call (callbacks may change it later).
std::string errorText(int rc, int savedErrno) {
    if (rc == MOSQ_ERR_ERRNO) return std::strerror(savedErrno);
    return mosquitto_strerror(rc);
}

} // namespace

MqttClient::MqttClient(ConnectionConfig cfg, Callbacks callbacks)
    : m_cfg(std::move(cfg)), m_cb(std::move(callbacks)) {}

MqttClient::~MqttClient() {
    stop();
}

void MqttClient::status(citytwin_status s, const std::string& detail) {
    {
        std::lock_guard lock(m_statusMutex);
        if (s == m_lastStatus && detail == m_lastDetail) return;
        m_lastStatus = s;
        m_lastDetail = detail;
    }
    if (m_cb.status) m_cb.status(s, detail);
    log(s == CITYTWIN_STATUS_ERROR          ? CITYTWIN_LOG_ERROR
        : s == CITYTWIN_STATUS_RECONNECTING ? CITYTWIN_LOG_WARN
                                            : CITYTWIN_LOG_INFO,
        "mqtt " + where() + ": " + detail);
}

int MqttClient::start(std::string& error, const std::vector<std::string>& warnings) {
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
        static_cast<MqttClient*>(self)->onConnect(rc, flags);
    });
    mosquitto_message_callback_set(m_mosq, [](mosquitto*, void* self, const mosquitto_message* msg) {
        static_cast<MqttClient*>(self)->onMessage(msg);
    });
    mosquitto_subscribe_callback_set(m_mosq,
                                     [](mosquitto*, void* self, int mid, int count, const int* granted) {
                                         static_cast<MqttClient*>(self)->onSubscribe(mid, count, granted);
                                     });
    mosquitto_log_callback_set(m_mosq, [](mosquitto*, void* self, int level, const char* text) {
        static_cast<MqttClient*>(self)->onLog(level, text);
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
    for (const auto& w : warnings)
        log(CITYTWIN_LOG_WARN, w);

    m_thread = std::thread([this] { run(); });
    return 0;
}

void MqttClient::stop() {
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
void MqttClient::run() {
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

void MqttClient::backoff(bool fatal, const std::string& why) {
    double delay = m_cfg.reconnectMinS * std::pow(2.0, std::min(m_attempts, 30));
    delay = std::min(delay, m_cfg.reconnectMaxS);
    ++m_attempts;
    status(fatal ? CITYTWIN_STATUS_ERROR : CITYTWIN_STATUS_RECONNECTING,
           why + "; retry in " + fmtSeconds(delay) + " s");
    std::unique_lock lock(m_mutex);
    m_wake.wait_for(lock, std::chrono::duration<double>(delay), [this] { return m_stopping; });
}

void MqttClient::onConnect(int rc, int flags) {
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

void MqttClient::onSubscribe(int mid, int count, const int* granted) {
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

void MqttClient::onLog(int level, const char* text) {
    if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) || !text) return;
    m_lastLibError = text;
    log(CITYTWIN_LOG_DEBUG, std::string("libmosquitto: ") + text);
}

void MqttClient::onMessage(const mosquitto_message* msg) {
    if (!m_cb.message) return;
    // Nothing may unwind through libmosquitto's C frames.
    try {
        std::string_view topic = msg->topic ? msg->topic : "";
        std::string_view payload(static_cast<const char*>(msg->payload),
                                 msg->payload ? static_cast<std::size_t>(msg->payloadlen) : 0);
        m_cb.message(topic, payload);
    } catch (const std::exception& e) {
        log(CITYTWIN_LOG_ERROR, std::string("mqtt: message handling failed: ") + e.what());
    } catch (...) {
        log(CITYTWIN_LOG_ERROR, "mqtt: message handling failed");
    }
}

} // namespace citytwin::mqtt
