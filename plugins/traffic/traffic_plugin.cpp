// The traffic plugin: detector counts per interval from a CSV file (replayed at a chosen speed)
// and/or MQTT JSON messages, published as hourly flows (veh/h) of one sensor per detector
// (README.md here, docs/plugins.md). The parsing and the checks are in TrafficParse.h/.cpp; the
// broker connection is the mqtt plugin's MqttClient.
//
// Threads: start() reads the file, checks its counts and announces the detectors on the
// caller's thread, then starts the replay thread (with a file) and the MQTT thread (with
// "mqtt"). stop() joins both. Only citytwin_plugin_entry is exported.
#include "citytwin_plugin.h"

#include "MqttClient.h"
#include "TrafficParse.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace citytwin::traffic;
using citytwin::mqtt::MqttClient;

void setError(char* error, size_t size, const std::string& text) {
    if (error && size) std::snprintf(error, size, "%s", text.c_str());
}

class Traffic {
  public:
    // No host calls here: the ABI allows them only between start() and the end of stop().
    Traffic(const citytwin_host_api& host, TrafficConfig cfg)
        : m_host(host), m_cfg(std::move(cfg)), m_table(m_cfg.detectors), m_announced(m_cfg.detectors.size()) {
        if (m_cfg.mqtt)
            m_mqtt = std::make_unique<MqttClient>(
                *m_cfg.mqtt,
                MqttClient::Callbacks{
                    [this](std::string_view topic, std::string_view payload) { onMessage(topic, payload); },
                    [this](citytwin_status s, const std::string& detail) { status(s, detail); },
                    [this](citytwin_log_level level, const std::string& text) { log(level, text); }});
    }
    ~Traffic() { stop(); }

    int start(std::string& error);
    void stop();

  private:
    void run();
    void onMessage(std::string_view topic, std::string_view payload);
    void announce(size_t detector);
    void reject(const Rejection& r);
    void status(citytwin_status s, const std::string& detail);
    void log(citytwin_log_level level, const std::string& text) {
        if (m_host.log) m_host.log(m_host.host, level, text.c_str());
    }
    citytwin_observation observation(const Count& c) const {
        return {m_table.detectors()[c.detector].id.c_str(), c.begin, NAN, c.flowVehH, 0, -1};
    }

    citytwin_host_api m_host; // copied: the host's pointer is only valid during create()
    TrafficConfig m_cfg;

    std::mutex m_tableMutex; // the replay's load and the MQTT thread both check counts
    DetectorTable m_table;   // ids never change: observations point into it

    std::mutex m_announceMutex;
    std::vector<std::optional<std::string>> m_announced; // per detector: properties last announced

    std::vector<Count> m_counts; // the file's, in begin order; the replay thread's while it runs

    std::mutex m_lifecycle; // serialises start() and stop(); guards m_running
    bool m_running = false;
    bool m_warnedUnplaced = false;
    std::thread m_worker;
    std::mutex m_mutex; // guards m_stopping, with m_wake
    std::condition_variable m_wake;
    bool m_stopping = false;

    std::mutex m_statusMutex;
    citytwin_status m_lastStatus = CITYTWIN_STATUS_STOPPED;
    std::string m_lastDetail;

    std::mutex m_rejectMutex;
    std::map<std::string, uint64_t> m_rejectLogged;
    uint64_t m_dropped = 0; // MQTT thread only

    std::unique_ptr<MqttClient> m_mqtt; // last: stopped before what its thread uses goes
};

void Traffic::status(citytwin_status s, const std::string& detail) {
    {
        std::lock_guard lock(m_statusMutex);
        if (s == m_lastStatus && detail == m_lastDetail) return;
        m_lastStatus = s;
        m_lastDetail = detail;
    }
    if (m_host.report_status) m_host.report_status(m_host.host, s, detail.c_str());
}

void Traffic::reject(const Rejection& r) {
    if (m_host.count_rejected) m_host.count_rejected(m_host.host, r.reason.c_str());
    // Log the first 20 of each reason, then every 1000th, so a flood cannot flood the log.
    uint64_t n;
    {
        std::lock_guard lock(m_rejectMutex);
        n = ++m_rejectLogged[r.reason];
    }
    if (n <= 20 || n % 1000 == 0)
        log(CITYTWIN_LOG_WARN,
            "traffic: rejected (" + r.reason + ", #" + std::to_string(n) + "): " + r.detail);
}

// Announces a detector when it is new to this run or its properties changed (an interval
// learned from its first count).
void Traffic::announce(size_t k) {
    std::string props;
    {
        std::lock_guard lock(m_tableMutex);
        props = m_table.propertiesJson(k);
    }
    {
        std::lock_guard lock(m_announceMutex);
        if (m_announced[k] == props) return;
        m_announced[k] = props;
    }
    const Detector& d = m_table.detectors()[k]; // the fields read here never change
    citytwin_sensor s{};
    s.id = d.id.c_str();
    s.name = d.name.c_str();
    s.lon = d.lon;
    s.lat = d.lat;
    s.elevation_m = NAN;
    s.quantity = "traffic_count";
    s.unit = "veh/h";
    s.warn_above = d.warnAbove;
    s.alarm_above = d.alarmAbove;
    s.properties_json = props.c_str();
    if (m_host.announce_sensor) m_host.announce_sensor(m_host.host, &s);
}

int Traffic::start(std::string& error) {
    std::lock_guard life(m_lifecycle);
    if (m_running) {
        error = "traffic: already started";
        return 1;
    }
    {
        std::lock_guard lock(m_mutex);
        m_stopping = false;
    }
    for (const auto& w : m_cfg.warnings)
        log(CITYTWIN_LOG_WARN, w);
    if (!m_warnedUnplaced) {
        m_warnedUnplaced = true;
        for (const Detector& d : m_cfg.detectors)
            if (!d.placed())
                log(CITYTWIN_LOG_WARN,
                    "traffic: detector \"" + d.id +
                        "\" has neither 'edge' nor 'lon'/'lat': its counts are stored, but it is on "
                        "no road");
    }

    // The whole file now, checked in begin order (the first count of a detector without an
    // interval fixes it), so the replay thread only paces and publishes.
    m_counts.clear();
    if (!m_cfg.file.empty()) {
        std::ifstream in(m_cfg.file, std::ios::binary);
        if (!in) {
            error = "traffic: cannot read " + m_cfg.file + " (was it moved since the feed was created?)";
            return 1;
        }
        ReadResult r = readCountFile(in, m_cfg, m_cfg.file);
        if (!r.error.empty()) {
            error = "traffic: " + r.error;
            return 1;
        }
        auto key = [](const RawCount& c) { return std::isfinite(c.begin) ? c.begin : INFINITY; };
        std::stable_sort(r.counts.begin(), r.counts.end(),
                         [&](const RawCount& a, const RawCount& b) { return key(a) < key(b); });
        std::vector<Rejection> rejected = std::move(r.rejections);
        {
            std::lock_guard lock(m_tableMutex);
            for (const RawCount& raw : r.counts) {
                Rejection why;
                if (auto c = m_table.accept(raw, why))
                    m_counts.push_back(*c);
                else
                    rejected.push_back(std::move(why));
            }
        }
        for (const Rejection& why : rejected)
            reject(why);
        log(CITYTWIN_LOG_INFO, "traffic: " + m_cfg.file + ": " + std::to_string(m_counts.size()) +
                                   " counts, " + std::to_string(rejected.size()) + " rejected");
    }
    {
        std::lock_guard lock(m_announceMutex);
        std::fill(m_announced.begin(), m_announced.end(), std::nullopt); // each start announces anew
    }
    for (size_t k = 0; k < m_cfg.detectors.size(); ++k)
        announce(k);

    if (m_mqtt && m_mqtt->start(error) != 0) {
        error = "traffic: " + error;
        return 1;
    }
    if (!m_cfg.file.empty()) {
        try {
            m_worker = std::thread([this] { run(); });
        } catch (const std::exception& e) {
            if (m_mqtt) m_mqtt->stop();
            error = std::string("traffic: cannot start the replay thread: ") + e.what();
            return 1;
        }
    }
    m_running = true;
    return 0;
}

void Traffic::stop() {
    std::lock_guard life(m_lifecycle);
    if (!m_running) return;
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_worker.joinable()) m_worker.join();
    if (m_mqtt) {
        m_mqtt->stop(); // reports STOPPED
    } else {
        bool stopped;
        {
            std::lock_guard lock(m_statusMutex);
            stopped = m_lastStatus == CITYTWIN_STATUS_STOPPED;
        }
        if (!stopped) status(CITYTWIN_STATUS_STOPPED, "stopped");
    }
    m_running = false;
}

// The replay thread: the file's counts in begin order, a batch per begin time, paced at
// `speed`. Without MQTT it is the feed's state: connected while it plays, stopped at the end;
// with MQTT the connection's state is, and the replay only logs.
void Traffic::run() {
    const bool live = m_mqtt != nullptr;
    const std::string what = std::to_string(m_counts.size()) + " counts from " + m_cfg.file;
    if (live)
        log(CITYTWIN_LOG_INFO, "traffic: replaying " + what);
    else
        status(CITYTWIN_STATUS_CONNECTED, "replaying " + what);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<citytwin_observation> batch;
    auto stopping = [this] {
        std::lock_guard lock(m_mutex);
        return m_stopping;
    };
    for (size_t k = 0; k < m_counts.size() && !stopping();) {
        const double begin = m_counts[k].begin;
        if (m_cfg.speed > 0) { // wait until this interval's moment in replay time
            auto due = t0 + citytwin::replay::replayDelay(begin, m_counts.front().begin, m_cfg.speed);
            std::unique_lock lock(m_mutex);
            if (m_wake.wait_until(lock, due, [&] { return m_stopping; })) break;
        }
        batch.clear();
        for (; k < m_counts.size() && m_counts[k].begin == begin; ++k)
            batch.push_back(observation(m_counts[k]));
        // Back-pressure: a full queue is waited out, not dropped (a replay can wait).
        while (!stopping() && m_host.publish(m_host.host, batch.data(), batch.size()) != 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (stopping()) return;
    if (live)
        log(CITYTWIN_LOG_INFO, "traffic: replay finished (" + what + "); MQTT goes on");
    else
        status(CITYTWIN_STATUS_STOPPED, "replay finished: " + what);
}

// The MQTT thread: one message, one publish of what passed.
void Traffic::onMessage(std::string_view topic, std::string_view payload) {
    ReadResult r = parseMessage(payload, m_cfg.time, "message on " + std::string(topic.substr(0, 200)));
    std::vector<citytwin_observation> obs;
    std::vector<size_t> learned;
    {
        std::lock_guard lock(m_tableMutex);
        for (const RawCount& raw : r.counts) {
            Rejection why;
            bool fixed = false;
            if (auto c = m_table.accept(raw, why, &fixed)) {
                obs.push_back(observation(*c));
                if (fixed) learned.push_back(c->detector);
            } else {
                r.rejections.push_back(std::move(why));
            }
        }
    }
    for (const Rejection& why : r.rejections)
        reject(why);
    for (size_t k : learned)
        announce(k); // its interval is known now
    if (!obs.empty() && m_host.publish(m_host.host, obs.data(), obs.size()) != 0) {
        // The host counts what its queue drops; say so now and then.
        if (m_dropped++ % 1000 == 0)
            log(CITYTWIN_LOG_WARN,
                "traffic: the host queue is full, counts dropped (" + std::to_string(m_dropped) + " times)");
    }
}

// --- The C ABI ---------------------------------------------------------------------------

void* apiCreate(const citytwin_host_api* host, const char* configJson, char* error, size_t errorSize) {
    try {
        if (!host) {
            setError(error, errorSize, "traffic: no host api");
            return nullptr;
        }
        if (host->abi_major != CITYTWIN_PLUGIN_ABI_MAJOR) {
            setError(error, errorSize,
                     "traffic: host ABI " + std::to_string(host->abi_major) + " is not " +
                         std::to_string(CITYTWIN_PLUGIN_ABI_MAJOR));
            return nullptr;
        }
        std::string err;
        std::optional<TrafficConfig> cfg = parseConfig(configJson ? configJson : "", err);
        if (!cfg) {
            setError(error, errorSize, err);
            return nullptr;
        }
        // The file is checked now (header, times), so a feed that cannot work is refused
        // before anything starts; start() reads it again for the counts.
        if (!cfg->file.empty()) {
            std::ifstream in(cfg->file, std::ios::binary);
            if (!in) {
                setError(error, errorSize,
                         "traffic: cannot read the count file " + cfg->file +
                             ": check 'file' (a relative path is taken from the scenario's folder)");
                return nullptr;
            }
            ReadResult r = readCountFile(in, *cfg, cfg->file);
            if (!r.error.empty()) {
                setError(error, errorSize, "traffic: " + r.error);
                return nullptr;
            }
        }
        return new Traffic(*host, std::move(*cfg));
    } catch (const std::exception& e) {
        setError(error, errorSize, std::string("traffic: ") + e.what());
    } catch (...) {
        setError(error, errorSize, "traffic: create failed");
    }
    return nullptr;
}

int apiStart(void* instance, char* error, size_t errorSize) {
    if (!instance) {
        setError(error, errorSize, "traffic: no instance");
        return 1;
    }
    try {
        std::string err;
        int rc = static_cast<Traffic*>(instance)->start(err);
        if (rc != 0) setError(error, errorSize, err);
        return rc;
    } catch (const std::exception& e) {
        setError(error, errorSize, std::string("traffic: ") + e.what());
    } catch (...) {
        setError(error, errorSize, "traffic: start failed");
    }
    return 1;
}

void apiStop(void* instance) {
    try {
        if (instance) static_cast<Traffic*>(instance)->stop();
    } catch (...) {
    }
}

void apiDestroy(void* instance) {
    try {
        delete static_cast<Traffic*>(instance);
    } catch (...) {
    }
}

const citytwin_plugin_api kApi = {CITYTWIN_PLUGIN_ABI_MAJOR,
                                  CITYTWIN_PLUGIN_ABI_MINOR,
                                  "traffic",
                                  "1.0",
                                  apiCreate,
                                  apiStart,
                                  apiStop,
                                  apiDestroy};

} // namespace

extern "C" __attribute__((visibility("default"))) const citytwin_plugin_api*
citytwin_plugin_entry(uint32_t hostAbiMajor) {
    return hostAbiMajor == CITYTWIN_PLUGIN_ABI_MAJOR ? &kApi : nullptr;
}
