// Test support for the MQTT plugin (test_mqtt.cpp, bench_mqtt.cpp): a real Mosquitto broker in
// a temp dir, an in-memory citytwin_host_api that records everything (thread-safe), the plugin
// loaded with dlopen through citytwin_plugin_entry, a QoS 1 publisher, and uplink JSON builders.
// No GoogleTest here, so the bench can use it too.
#pragma once

#include "citytwin_plugin.h"

#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace mqtt_test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

inline double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "citytwin-mqtt-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

inline int freePort() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(s);
        throw std::runtime_error("bind failed");
    }
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

inline bool acceptsConnections(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(s);
    return ok;
}

inline std::string readFile(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Runs a command (sh -c) and returns its exit status.
inline int shell(const std::string& cmd) {
    return std::system(cmd.c_str());
}

inline bool haveProgram(const std::string& name) {
    return shell("command -v " + name + " >/dev/null 2>&1") == 0;
}

// One mosquitto process: `mosquitto -c <dir>/mosquitto.conf`, its own process group, stopped
// with SIGTERM (it then saves its persistence file) and restartable on the same port.
class Broker {
  public:
    // extraConf: more lines for the listener (TLS, password_file).
    Broker(std::string binary, fs::path dir, int port, std::string extraConf = "")
        : m_binary(std::move(binary)), m_dir(std::move(dir)), m_port(port) {
        std::ofstream conf(confPath());
        conf << "# written by the citytwin MQTT plugin tests\n"
             << "per_listener_settings false\n"
             << "listener " << m_port << " 127.0.0.1\n"
             << extraConf << "\n"
             << (extraConf.find("password_file") == std::string::npos ? "allow_anonymous true\n"
                                                                      : "allow_anonymous false\n")
             << "persistence true\n"
             << "persistence_location " << m_dir.string() << "/\n"
             << "persistence_file mosquitto.db\n"
             << "autosave_interval 0\n"
             << "max_queued_messages 100000\n"
             << "log_dest stderr\n"
             << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
             << "connection_messages true\n";
        // Run as root (containers), mosquitto would switch to the user "mosquitto", which cannot
        // write the temp dir; stay root there.
        if (geteuid() == 0) conf << "user root\n";
    }
    ~Broker() { stop(); }

    fs::path confPath() const { return m_dir / "mosquitto.conf"; }
    fs::path logPath() const { return m_dir / "mosquitto.log"; }
    fs::path dbPath() const { return m_dir / "mosquitto.db"; }
    int port() const { return m_port; }
    bool running() const { return m_pid > 0; }

    // Starts and waits until it accepts connections; throws with the broker's log if not.
    void start(double timeoutS = 10) {
        if (m_pid > 0) return;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        std::string log = logPath().string();
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        std::string conf = confPath().string();
        std::vector<char*> argv = {const_cast<char*>(m_binary.c_str()), const_cast<char*>("-c"), conf.data(),
                                   nullptr};
        pid_t pid = 0;
        int rc = posix_spawn(&pid, m_binary.c_str(), &fa, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) throw std::runtime_error("cannot start " + m_binary + ": " + std::strerror(rc));
        m_pid = pid;
        auto t0 = Clock::now();
        while (!acceptsConnections(m_port)) {
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                throw std::runtime_error("mosquitto exited at start; its log:\n" + readFile(logPath()));
            }
            if (secondsSince(t0) > timeoutS) {
                stop();
                throw std::runtime_error("mosquitto does not accept connections on port " +
                                         std::to_string(m_port) + "; its log:\n" + readFile(logPath()));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // SIGTERM to the process group (mosquitto writes its persistence file), SIGKILL after 10 s.
    void stop() {
        if (m_pid <= 0) return;
        kill(-m_pid, SIGTERM);
        auto t0 = Clock::now();
        int status = 0;
        while (waitpid(m_pid, &status, WNOHANG) == 0) {
            if (secondsSince(t0) > 10) {
                kill(-m_pid, SIGKILL);
                waitpid(m_pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        m_pid = -1;
    }

  private:
    std::string m_binary;
    fs::path m_dir;
    int m_port;
    pid_t m_pid = -1;
};

// --- The in-memory host -----------------------------------------------------------------

struct SensorRec {
    std::string id, name, quantity, unit;
    double lon, lat, elevation, warn, alarm;
};
struct ObsRec {
    std::string sensor;
    double phenomenonTime, resultTime, value;
    int quality;
    int64_t dedup;
    Clock::time_point arrived;
};
struct StatusRec {
    citytwin_status status;
    std::string detail;
    Clock::time_point at;
};

class TestHost {
  public:
    TestHost() {
        api.abi_major = CITYTWIN_PLUGIN_ABI_MAJOR;
        api.abi_minor = CITYTWIN_PLUGIN_ABI_MINOR;
        api.host = this;
        api.announce_sensor = [](void* h, const citytwin_sensor* s) {
            static_cast<TestHost*>(h)->onSensor(*s);
        };
        api.publish = [](void* h, const citytwin_observation* o, size_t n) {
            return static_cast<TestHost*>(h)->onPublish(o, n);
        };
        api.log = [](void* h, citytwin_log_level l, const char* m) {
            static_cast<TestHost*>(h)->onLog(l, m);
        };
        api.report_status = [](void* h, citytwin_status s, const char* d) {
            static_cast<TestHost*>(h)->onStatus(s, d);
        };
        api.count_rejected = [](void* h, const char* r) { static_cast<TestHost*>(h)->onRejected(r); };
    }

    citytwin_host_api api{};

    // Blocks publish() (the plugin's MQTT thread) until opened again.
    void closeGate() {
        std::lock_guard lock(m_mutex);
        m_gateClosed = true;
    }
    void openGate() {
        {
            std::lock_guard lock(m_mutex);
            m_gateClosed = false;
        }
        m_cv.notify_all();
    }
    bool echoLogs = false;

    template <class F> auto locked(F&& f) {
        std::lock_guard lock(m_mutex);
        return f();
    }
    std::vector<ObsRec> observations() {
        return locked([&] { return m_obs; });
    }
    std::vector<SensorRec> sensors() {
        return locked([&] { return m_sensors; });
    }
    std::vector<StatusRec> statuses() {
        return locked([&] { return m_status; });
    }
    std::vector<std::string> logs() {
        return locked([&] { return m_logs; });
    }
    std::map<std::string, int> rejections() {
        return locked([&] { return m_rejected; });
    }
    size_t observationCount() {
        return locked([&] { return m_obs.size(); });
    }
    size_t publishCalls() {
        return locked([&] { return m_publishCalls; });
    }
    int rejected(const std::string& reason) {
        return locked([&] {
            auto it = m_rejected.find(reason);
            return it == m_rejected.end() ? 0 : it->second;
        });
    }
    int totalRejected() {
        return locked([&] {
            int n = 0;
            for (auto& [r, c] : m_rejected)
                n += c;
            return n;
        });
    }
    std::string statusText() {
        return locked([&] {
            std::string s;
            for (auto& st : m_status)
                s += std::to_string(st.status) + ": " + st.detail + "\n";
            return s;
        });
    }

    // Waits until pred() (evaluated under the lock) holds; false on timeout.
    bool waitFor(const std::function<bool()>& pred, double timeoutS) {
        std::unique_lock lock(m_mutex);
        return m_cv.wait_for(lock, std::chrono::duration<double>(timeoutS), pred);
    }
    bool waitForObservations(size_t n, double timeoutS) {
        return waitFor([&] { return m_obs.size() >= n; }, timeoutS);
    }
    bool waitForStatus(citytwin_status s, size_t after, double timeoutS) {
        return waitFor(
            [&] {
                for (size_t i = after; i < m_status.size(); ++i)
                    if (m_status[i].status == s) return true;
                return false;
            },
            timeoutS);
    }
    size_t statusCount() {
        return locked([&] { return m_status.size(); });
    }
    // Direct access for wait predicates (call only inside waitFor / locked).
    const std::vector<ObsRec>& obsUnlocked() const { return m_obs; }
    const std::map<std::string, int>& rejectedUnlocked() const { return m_rejected; }

  private:
    void onSensor(const citytwin_sensor& s) {
        std::lock_guard lock(m_mutex);
        m_sensors.push_back({s.id ? s.id : "", s.name ? s.name : "", s.quantity ? s.quantity : "",
                             s.unit ? s.unit : "", s.lon, s.lat, s.elevation_m, s.warn_above, s.alarm_above});
        m_cv.notify_all();
    }
    int onPublish(const citytwin_observation* o, size_t n) {
        auto now = Clock::now();
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return !m_gateClosed; });
        ++m_publishCalls;
        for (size_t i = 0; i < n; ++i)
            m_obs.push_back({o[i].sensor_id ? o[i].sensor_id : "", o[i].phenomenon_time, o[i].result_time,
                             o[i].value, o[i].quality, o[i].dedup_key, now});
        m_cv.notify_all();
        return 0;
    }
    void onLog(citytwin_log_level l, const char* m) {
        std::lock_guard lock(m_mutex);
        m_logs.push_back(std::to_string(l) + " " + (m ? m : ""));
        if (echoLogs) std::fprintf(stderr, "[plugin %d] %s\n", l, m ? m : "");
    }
    void onStatus(citytwin_status s, const char* d) {
        std::lock_guard lock(m_mutex);
        m_status.push_back({s, d ? d : "", Clock::now()});
        if (echoLogs) std::fprintf(stderr, "[status %d] %s\n", s, d ? d : "");
        m_cv.notify_all();
    }
    void onRejected(const char* r) {
        std::lock_guard lock(m_mutex);
        ++m_rejected[r ? r : "(null)"];
        m_cv.notify_all();
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_gateClosed = false;
    size_t m_publishCalls = 0;
    std::vector<SensorRec> m_sensors;
    std::vector<ObsRec> m_obs;
    std::vector<StatusRec> m_status;
    std::vector<std::string> m_logs;
    std::map<std::string, int> m_rejected;
};

// --- The plugin through its C ABI --------------------------------------------------------

class PluginLib {
  public:
    explicit PluginLib(const std::string& path) {
        m_handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!m_handle) throw std::runtime_error(std::string("dlopen: ") + dlerror());
        auto entry = reinterpret_cast<citytwin_plugin_entry_fn>(dlsym(m_handle, CITYTWIN_PLUGIN_ENTRY_NAME));
        if (!entry) throw std::runtime_error("no citytwin_plugin_entry");
        entryFn = entry;
        api = entry(CITYTWIN_PLUGIN_ABI_MAJOR);
        if (!api) throw std::runtime_error("the plugin refused ABI 1");
    }
    ~PluginLib() {
        if (m_handle) dlclose(m_handle);
    }
    PluginLib(const PluginLib&) = delete;
    PluginLib& operator=(const PluginLib&) = delete;
    void* handle() const { return m_handle; }
    citytwin_plugin_entry_fn entryFn = nullptr;
    const citytwin_plugin_api* api = nullptr;

  private:
    void* m_handle = nullptr;
};

// One plugin instance: create() in the constructor (throws with the plugin's error), stop()
// and destroy() in the destructor.
class PluginInstance {
  public:
    PluginInstance(const PluginLib& lib, TestHost& host, const std::string& configJson) : m_api(lib.api) {
        char err[512] = {0};
        m_instance = m_api->create(&host.api, configJson.c_str(), err, sizeof err);
        if (!m_instance) throw std::runtime_error(std::string("create failed: ") + err);
    }
    ~PluginInstance() {
        if (m_instance) {
            m_api->stop(m_instance);
            m_api->destroy(m_instance);
        }
    }
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;
    int start(std::string* error = nullptr) {
        char err[512] = {0};
        int rc = m_api->start(m_instance, err, sizeof err);
        if (error) *error = err;
        return rc;
    }
    void stop() { m_api->stop(m_instance); }

  private:
    const citytwin_plugin_api* m_api;
    void* m_instance = nullptr;
};

// --- A QoS 1 publisher -------------------------------------------------------------------

inline void mosquittoInit() {
    static std::once_flag once;
    std::call_once(once, [] { mosquitto_lib_init(); });
}

class Publisher {
  public:
    struct Options {
        std::string caFile, username, password;
    };
    Publisher(int port, const std::string& clientId, const Options& opt = {}) {
        mosquittoInit();
        m_mosq = mosquitto_new(clientId.c_str(), true, this);
        if (!m_mosq) throw std::runtime_error("mosquitto_new failed");
        mosquitto_max_inflight_messages_set(m_mosq, 100);
        if (!opt.username.empty())
            mosquitto_username_pw_set(m_mosq, opt.username.c_str(), opt.password.c_str());
        if (!opt.caFile.empty())
            mosquitto_tls_set(m_mosq, opt.caFile.c_str(), nullptr, nullptr, nullptr, nullptr);
        mosquitto_publish_callback_set(m_mosq, [](mosquitto*, void* self, int) {
            auto* p = static_cast<Publisher*>(self);
            std::lock_guard lock(p->m_mutex);
            ++p->m_acked;
            p->m_cv.notify_all();
        });
        mosquitto_connect_callback_set(m_mosq, [](mosquitto*, void* self, int rc) {
            auto* p = static_cast<Publisher*>(self);
            std::lock_guard lock(p->m_mutex);
            p->m_connectResult = rc;
            p->m_cv.notify_all();
        });
        int rc = mosquitto_connect(m_mosq, "127.0.0.1", port, 30);
        if (rc != MOSQ_ERR_SUCCESS)
            throw std::runtime_error(std::string("publisher connect: ") + mosquitto_strerror(rc));
        mosquitto_loop_start(m_mosq);
        // Publish only once the broker has accepted the session: messages queued before the
        // CONNACK could otherwise be sent again when libmosquitto replays its queue.
        std::unique_lock lock(m_mutex);
        if (!m_cv.wait_for(lock, std::chrono::seconds(10), [&] { return m_connectResult >= 0; }) || m_connectResult != 0) {
            const int result = m_connectResult;
            lock.unlock();
            mosquitto_disconnect(m_mosq);
            mosquitto_loop_stop(m_mosq, true);
            mosquitto_destroy(m_mosq);
            throw std::runtime_error("publisher: the broker did not accept the connection (CONNACK " +
                                     std::to_string(result) + ")");
        }
    }
    ~Publisher() {
        mosquitto_disconnect(m_mosq);
        mosquitto_loop_stop(m_mosq, false);
        mosquitto_destroy(m_mosq);
    }
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    void publish(const std::string& topic, const std::string& payload, int qos = 1) {
        {
            std::lock_guard lock(m_mutex);
            ++m_sent;
        }
        int rc = mosquitto_publish(m_mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, false);
        if (rc != MOSQ_ERR_SUCCESS)
            throw std::runtime_error(std::string("publish: ") + mosquitto_strerror(rc));
    }
    // Waits until the broker acknowledged every QoS 1 message (on_publish).
    bool waitAcked(double timeoutS) {
        std::unique_lock lock(m_mutex);
        return m_cv.wait_for(lock, std::chrono::duration<double>(timeoutS),
                             [&] { return m_acked >= m_sent; });
    }

  private:
    mosquitto* m_mosq = nullptr;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    size_t m_sent = 0, m_acked = 0;
    int m_connectResult = -1; // CONNACK code once received
};

// --- Uplink builders ---------------------------------------------------------------------

// RFC 3339 with nanoseconds, formatted with gmtime_r (independent of the plugin's parser).
inline std::string rfc3339(int64_t epochS, int64_t nanos, const char* zone = "Z") {
    time_t t = static_cast<time_t>(epochS);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[96];
    std::snprintf(out, sizeof out, "%s.%09lld%s", buf, static_cast<long long>(nanos), zone);
    return out;
}

// A The Things Stack v3 uplink as its MQTT integration publishes it (format from
// https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/).
// fCnt 0 is omitted, as the stack omits zero fields.
inline json ttsUplink(const std::string& app, const std::string& dev, const std::string& devEui, int64_t fCnt,
                      const std::string& receivedAt, const json& decoded) {
    json up = {
        {"end_device_ids",
         {{"device_id", dev},
          {"application_ids", {{"application_id", app}}},
          {"dev_eui", devEui},
          {"join_eui", "70B3D57ED0000000"},
          {"dev_addr", "260B1234"}}},
        {"correlation_ids", {"as:up:01H0WZGT6Y7657CPFPE5WEYDSQ", "gs:uplink:01H0WZGSZWT07NE5TS2APTV1Z9"}},
        {"received_at", receivedAt},
        {"uplink_message",
         {{"session_key_id", "AXA50tHUGUucuzS/bCGMNw=="},
          {"f_port", 2},
          {"frm_payload", "AQIDBA=="},
          {"decoded_payload", decoded},
          {"rx_metadata",
           {{{"gateway_ids", {{"gateway_id", "paderborn-rathaus"}, {"eui", "B827EBFFFE8B1234"}}},
             {"time", receivedAt},
             {"timestamp", 2463457000u},
             {"rssi", -97},
             {"channel_rssi", -97},
             {"snr", 7.25},
             {"location",
              {{"latitude", 51.7189},
               {"longitude", 8.7575},
               {"altitude", 110},
               {"source", "SOURCE_REGISTRY"}}},
             {"uplink_token", "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk="},
             {"channel_index", 2}},
            {{"gateway_ids", {{"gateway_id", "delbrueck-wasserwerk"}}},
             {"rssi", -112},
             {"snr", -3.5},
             {"channel_index", 5}}}},
          {"settings",
           {{"data_rate", {{"lora", {{"bandwidth", 125000}, {"spreading_factor", 9}}}}},
            {"coding_rate", "4/5"},
            {"frequency", "868100000"},
            {"timestamp", 2463457000u}}},
          {"received_at", receivedAt},
          {"consumed_airtime", "0.185344s"},
          {"network_ids", {{"net_id", "000013"}, {"tenant_id", "ttn"}, {"cluster_id", "eu1"}}}}},
    };
    if (fCnt != 0) up["uplink_message"]["f_cnt"] = fCnt;
    return up;
}

inline std::string ttsTopic(const std::string& app, const std::string& dev) {
    return "v3/" + app + "@ttn/devices/" + dev + "/up";
}

// A ChirpStack v4 "up" event as its MQTT integration publishes it (format from
// https://www.chirpstack.io/docs/chirpstack/integrations/events.html). fCnt 0 is omitted (the
// protobuf JSON mapping drops zero values).
inline json chirpstackUplink(const std::string& appId, const std::string& devEui, const std::string& name,
                             int64_t fCnt, const std::string& time, const json& object) {
    json up = {
        {"deduplicationId", "3ac7e3c4-4401-4b8d-9386-a5c902f9202d"},
        {"time", time},
        {"deviceInfo",
         {{"tenantId", "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"},
          {"tenantName", "Stadtwerke"},
          {"applicationId", appId},
          {"applicationName", "pumpwerke"},
          {"deviceProfileId", "14855bf7-d10d-4aee-b618-ebfcb64dc7ad"},
          {"deviceProfileName", "pump-controller"},
          {"deviceName", name},
          {"devEui", devEui},
          {"tags", {{"site", "delbrueck"}}}}},
        {"devAddr", "00189440"},
        {"adr", true},
        {"dr", 5},
        {"fPort", 10},
        {"data", "AQIDBA=="},
        {"object", object},
        {"rxInfo",
         {{{"gatewayId", "0016c001f153a14c"},
           {"uplinkId", 4217106255u},
           {"rssi", -87},
           {"snr", 9.5},
           {"location", {{"latitude", 51.77}, {"longitude", 8.57}}},
           {"context", "E3OWOQ=="},
           {"metadata", {{"region_config_id", "eu868"}, {"region_common_name", "EU868"}}}}}},
        {"txInfo",
         {{"frequency", 867100000},
          {"modulation",
           {{"lora", {{"bandwidth", 125000}, {"spreadingFactor", 7}, {"codeRate", "CR_4_5"}}}}}}},
    };
    if (fCnt != 0) up["fCnt"] = fCnt;
    return up;
}

inline std::string chirpstackTopic(const std::string& appId, const std::string& devEui) {
    return "application/" + appId + "/device/" + devEui + "/event/up";
}

} // namespace mqtt_test
