// The whole live-feed ingest chain in one run (not a test: prints figures; docs/benchmarks.md,
// "Live feeds"):
//
//   publisher ──QoS 1──▶ mosquitto ──▶ mqtt plugin (loaded by name, real FeedHost)
//             ──▶ FeedBus ──▶ production pump thread (startPump, batch 10,000) ──▶ SensorStore (WAL)
//
//   bench_feeds [messages=100000] [latency_messages=3000] [latency_rate_per_s=500]
//
// throughput: The Things Stack uplinks (~1.3 KB, 2 decoded values each → 2 observations, 50
//   devices, frame counters increasing per device) published with QoS 1 as fast as one publisher
//   goes (at most 1,000 unacknowledged, so the publisher's own queue stays bounded). The clock
//   runs from the first publish until a second, read-only SQLite connection sees every one of
//   the 2N observations committed. Run at N/4 and at N, each with a fresh broker, store and host,
//   each with its own peak RSS (VmHWM, reset through /proc/self/clear_refs before the phase).
// latency: paced publishes; each uplink's received_at (which the TTS decoder makes the
//   phenomenon time) is the wall clock just before mosquitto_publish, in microseconds. A reader
//   thread polls the store's file every ~1 ms with its own connection for rows with a larger
//   rowid and stamps each new row with the wall clock taken just before that poll began; the
//   latency publish → committed is that stamp − phenomenon_time. The reader can see a row only
//   after its transaction committed, so the figure is never below the true latency and at most
//   one poll period (printed) above it. Run with the default pump interval (100 ms) and 10 ms.
//
// Publisher, broker, plugin, pump and the reader all share the machine's cores. Exit status: 0
// when every observation was stored, 1 when not (or on an error), 2 when no mosquitto is found.
#include "feeds/PluginHost.h"
#include "feeds/SensorStore.h"

#include "MqttTestSupport.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_set>

#ifndef CITYTWIN_BENCH_BUILD_TYPE
#define CITYTWIN_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef CITYTWIN_MOSQUITTO_BROKER
#define CITYTWIN_MOSQUITTO_BROKER ""
#endif

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;
using mqtt_test::json;

constexpr int kDevices = 50;
constexpr size_t kPublishWindow = 1000; // unacknowledged QoS 1 messages at most
constexpr double kStoreTimeoutS = 60;   // after the last publish, for everything to be stored
const std::string kFeed = "bench";
constexpr double kBusyOtherCores = 0.2; // other processes' CPU (cores) from which a figure is flagged

double since(Steady::time_point t) {
    return std::chrono::duration<double>(Steady::now() - t).count();
}
double wallNowS() {
    return std::chrono::duration<double>(Wall::now().time_since_epoch()).count();
}

// --- The machine and the process ----------------------------------------------------------

std::string firstLineWith(const fs::path& file, const std::string& key) {
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key, 0) == 0) return line;
    return {};
}

// "VmHWM:     12345 kB" → 12345; -1 when not there.
long statusKb(const std::string& pid, const char* key) {
    std::string line = firstLineWith("/proc/" + pid + "/status", key);
    if (line.empty()) return -1;
    return std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
}
double mib(long kb) {
    return kb < 0 ? -1 : static_cast<double>(kb) / 1024.0;
}

// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where the kernel refuses.
bool resetPeakRss() {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

std::string loadAverage() {
    std::ifstream f("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    f >> a >> b >> c;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
    return buf;
}

std::string cpuModel() {
    std::string line = firstLineWith("/proc/cpuinfo", "model name");
    auto colon = line.find(':');
    return colon == std::string::npos ? "unknown" : line.substr(line.find_first_not_of(" \t", colon + 1));
}

int cpusAvailable() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
}

double processCpuS() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// user + system CPU seconds of another process (/proc/<pid>/stat fields 14 and 15); -1 if gone.
double otherCpuS(pid_t pid) {
    if (pid <= 0) return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::atof(field.c_str());
        if (i == 15) stime = std::atof(field.c_str());
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds all cores spent busy since boot (/proc/stat "cpu": everything but idle and iowait).
double machineBusyS() {
    std::ifstream f("/proc/stat");
    std::string cpu;
    double v[8] = {0, 0, 0, 0, 0, 0, 0, 0}; // user nice system idle iowait irq softirq steal
    f >> cpu;
    for (double& x : v)
        f >> x;
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU used by processes other than this one and its broker over a phase: the direct measure of
// "other work on the machine" (the load average lags by a minute and counts this bench too).
struct CpuWatch {
    pid_t broker;
    double machine0 = machineBusyS(), self0 = processCpuS(), broker0;
    Steady::time_point t0 = Steady::now();
    explicit CpuWatch(pid_t brokerPid) : broker(brokerPid), broker0(otherCpuS(brokerPid)) {}
    double selfS() const { return processCpuS() - self0; }
    double brokerS() const { return otherCpuS(broker) - broker0; }
    // Other processes' CPU, in cores on average over the phase.
    double otherCores() const {
        double wall = since(t0);
        double other = (machineBusyS() - machine0) - selfS() - brokerS();
        return wall > 0 ? std::max(0.0, other / wall) : 0;
    }
};

// The broker's pid: the process whose command line names our config file.
pid_t findPid(const std::string& argument) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream f(e.path() / "cmdline");
        std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (cmd.find(argument) != std::string::npos) return static_cast<pid_t>(std::atoi(name.c_str()));
    }
    return -1;
}

std::string brokerBinary() {
    std::string configured = CITYTWIN_MOSQUITTO_BROKER;
    if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos &&
        access(configured.c_str(), X_OK) == 0)
        return configured;
    for (const char* p : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"})
        if (access(p, X_OK) == 0) return p;
    return {};
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(
        std::clamp(p * static_cast<double>(v.size() - 1) + 0.5, 0.0, static_cast<double>(v.size() - 1)));
    return v[i];
}

// --- Uplinks ------------------------------------------------------------------------------

// A The Things Stack uplink (MqttTestSupport's ttsUplink, as bench_mqtt sends it) cut at its
// received_at times (3), frame counter and value, so publishing N messages neither builds N JSON
// documents nor keeps them in memory.
class UplinkTemplate {
  public:
    explicit UplinkTemplate(const std::string& device) {
        json decoded = {{"groundwater_level", 424242.5}, {"battery", "3.61"}};
        std::string text =
            mqtt_test::ttsUplink("bench", device, "70B3D57ED0000000", 987654321, "@T@", decoded).dump();
        const std::pair<const char*, Slot> tokens[] = {
            {"@T@", Slot::Time}, {"987654321", Slot::FrameCounter}, {"424242.5", Slot::Value}};
        int found[3] = {0, 0, 0};
        size_t pos = 0;
        for (;;) {
            size_t best = std::string::npos, len = 0;
            Slot slot = Slot::Time;
            for (const auto& [tok, s] : tokens) {
                size_t at = text.find(tok, pos);
                if (at < best) best = at, len = std::strlen(tok), slot = s;
            }
            if (best == std::string::npos) break;
            pieces.push_back(text.substr(pos, best - pos));
            slots.push_back(slot);
            ++found[static_cast<int>(slot)];
            pos = best + len;
        }
        pieces.push_back(text.substr(pos));
        if (found[0] < 1 || found[1] != 1 || found[2] != 1)
            throw std::runtime_error("uplink template: unexpected JSON layout");
    }

    // receivedAt: RFC 3339 text.
    void render(std::string& out, const std::string& receivedAt, int64_t fCnt, double value) const {
        out.clear();
        char number[32];
        for (size_t i = 0; i < slots.size(); ++i) {
            out += pieces[i];
            switch (slots[i]) {
            case Slot::Time:
                out += receivedAt;
                break;
            case Slot::FrameCounter:
                out += std::to_string(fCnt);
                break;
            case Slot::Value:
                std::snprintf(number, sizeof number, "%.3f", value);
                out += number;
                break;
            }
        }
        out += pieces.back();
    }

  private:
    enum class Slot { Time = 0, FrameCounter = 1, Value = 2 };
    std::vector<std::string> pieces;
    std::vector<Slot> slots;
};

std::string rfc3339Micros(Wall::time_point t) {
    int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    return mqtt_test::rfc3339(us / 1000000, (us % 1000000) * 1000);
}

struct Devices {
    std::vector<UplinkTemplate> templates;
    std::vector<std::string> topics;
    Devices() {
        for (int d = 0; d < kDevices; ++d) {
            std::string dev = "dev-" + std::to_string(d);
            templates.emplace_back(dev);
            topics.push_back(mqtt_test::ttsTopic("bench", dev));
        }
    }
};

// --- A QoS 1 publisher that keeps at most `window` messages unacknowledged ------------------

class WindowedPublisher {
  public:
    WindowedPublisher(int port, const std::string& clientId, size_t window) : window(window) {
        mqtt_test::mosquittoInit();
        mosq = mosquitto_new(clientId.c_str(), true, this);
        if (!mosq) throw std::runtime_error("mosquitto_new failed");
        mosquitto_max_inflight_messages_set(mosq, 100);
        mosquitto_publish_callback_set(mosq, [](mosquitto*, void* self, int) {
            auto* p = static_cast<WindowedPublisher*>(self);
            std::lock_guard lock(p->mutex);
            ++p->acked;
            p->cv.notify_all();
        });
        mosquitto_connect_callback_set(mosq, [](mosquitto*, void* self, int rc) {
            auto* p = static_cast<WindowedPublisher*>(self);
            std::lock_guard lock(p->mutex);
            p->connack = rc;
            p->cv.notify_all();
        });
        int rc = mosquitto_connect(mosq, "127.0.0.1", port, 30);
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_destroy(mosq);
            throw std::runtime_error(std::string("publisher connect: ") + mosquitto_strerror(rc));
        }
        mosquitto_loop_start(mosq);
        // Publish only after the CONNACK: messages published from another thread while libmosquitto
        // handles it can go out twice (seen here as replayed frame counters rejected by the plugin).
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return connack >= 0; }) || connack != 0) {
            lock.unlock();
            mosquitto_disconnect(mosq);
            mosquitto_loop_stop(mosq, true);
            mosquitto_destroy(mosq);
            throw std::runtime_error("the publisher got no CONNACK from the broker");
        }
    }
    ~WindowedPublisher() {
        mosquitto_disconnect(mosq);
        mosquitto_loop_stop(mosq, false);
        mosquitto_destroy(mosq);
    }
    WindowedPublisher(const WindowedPublisher&) = delete;
    WindowedPublisher& operator=(const WindowedPublisher&) = delete;

    void publish(const std::string& topic, const std::string& payload) {
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return sent - acked < window; });
            ++sent;
        }
        int rc = mosquitto_publish(mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), 1, false);
        if (rc != MOSQ_ERR_SUCCESS)
            throw std::runtime_error(std::string("publish: ") + mosquitto_strerror(rc));
    }
    size_t ackedCount() {
        std::lock_guard lock(mutex);
        return acked;
    }
    bool waitAcked(double timeoutS) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, std::chrono::duration<double>(timeoutS), [&] { return acked >= sent; });
    }

  private:
    mosquitto* mosq = nullptr;
    size_t window;
    std::mutex mutex;
    std::condition_variable cv;
    size_t sent = 0, acked = 0;
    int connack = -1; // the broker's CONNACK code, -1 until it arrives
};

// --- A read-only connection to the store's file (what the viewer does beside `citytwin feeds`) -

class ReadConnection {
  public:
    explicit ReadConnection(const fs::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
            SQLITE_OK)
            throw std::runtime_error("cannot open " + file.string() + " read-only: " + sqlite3_errmsg(db));
        sqlite3_busy_timeout(db, 2000);
    }
    ~ReadConnection() {
        for (auto* s : {maxStmt, newStmt, countStmt})
            sqlite3_finalize(s);
        sqlite3_close(db);
    }
    ReadConnection(const ReadConnection&) = delete;
    ReadConnection& operator=(const ReadConnection&) = delete;

    int64_t maxRowid() {
        sqlite3_stmt* s = prepared(maxStmt, "SELECT coalesce(max(rowid), 0) FROM observations");
        int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
        sqlite3_reset(s);
        return v;
    }
    // Observations of the bench's devices (not the probe's).
    int64_t benchObservations() {
        sqlite3_stmt* s =
            prepared(countStmt, "SELECT count(*) FROM observations WHERE sensor LIKE 'bench:dev-%'");
        int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
        sqlite3_reset(s);
        return v;
    }
    // Rows with rowid > after, in rowid order: (rowid, phenomenon_time).
    template <class F> void newRows(int64_t after, F&& each) {
        sqlite3_stmt* s = prepared(
            newStmt, "SELECT rowid, phenomenon_time FROM observations WHERE rowid > ? ORDER BY rowid");
        sqlite3_bind_int64(s, 1, after);
        while (sqlite3_step(s) == SQLITE_ROW)
            each(sqlite3_column_int64(s, 0), sqlite3_column_double(s, 1));
        sqlite3_reset(s);
    }

  private:
    sqlite3_stmt* prepared(sqlite3_stmt*& s, const char* sql) {
        if (!s && sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("cannot prepare ") + sql + ": " + sqlite3_errmsg(db));
        return s;
    }
    sqlite3* db = nullptr;
    sqlite3_stmt *maxStmt = nullptr, *newStmt = nullptr, *countStmt = nullptr;
};

// --- One rig: broker, store, host with the mqtt feed, pump running --------------------------

struct Rig {
    mqtt_test::TempDir dir;
    int port = mqtt_test::freePort();
    std::unique_ptr<mqtt_test::Broker> broker;
    pid_t brokerPid = -1;
    std::unique_ptr<ct::feeds::SensorStore> store;
    std::unique_ptr<ct::feeds::FeedHost> host;
    int64_t baseRowid = 0; // the store's last row before the measurement (the probes')
    uint64_t baseStored = 0;
    std::chrono::milliseconds interval{100}; // the pump's

    Rig(const std::string& brokerBin, std::chrono::milliseconds pumpInterval, const std::string& clientId) {
        broker = std::make_unique<mqtt_test::Broker>(brokerBin, dir.path, port);
        broker->start();
        brokerPid = findPid(broker->confPath().string());
        store = std::make_unique<ct::feeds::SensorStore>(dir.path / "sensors.sqlite");
        ct::feeds::FeedHostOptions options;
        options.pluginDirs = {CITYTWIN_BENCH_PLUGIN_DIR};
        options.pumpInterval = pumpInterval; // bus capacity and batch size: the production defaults
        host = std::make_unique<ct::feeds::FeedHost>(*store, options);
        interval = pumpInterval;
        json cfg = {
            {"host", "127.0.0.1"}, {"port", port}, {"client_id", clientId}, {"topics", {"v3/+/devices/+/up"}},
            {"format", "tts"},     {"qos", 1},     {"clean_session", false}};
        host->addFeed({kFeed, "mqtt", cfg.dump()});
        host->startPump();
        waitReady();
    }
    ~Rig() {
        host.reset(); // stops the pump and the plugin, stores what is queued
        store.reset();
        broker.reset();
    }

    ct::feeds::FeedStatus status() const {
        auto s = host->status(kFeed);
        if (!s) throw std::runtime_error("feed '" + kFeed + "' is not listed");
        return *s;
    }

    // Until the plugin is connected and its subscription delivers: probe uplinks (device
    // "probe") every 100 ms until one is stored, then a pause for stragglers.
    void waitReady() {
        auto t0 = Steady::now();
        for (;;) {
            auto s = status();
            if (s.state == ct::feeds::FeedState::Connected) break;
            if (s.state == ct::feeds::FeedState::Error)
                throw std::runtime_error("the mqtt feed is in state error: " + s.detail);
            if (since(t0) > 15) throw std::runtime_error("the mqtt feed did not connect: " + s.detail);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        UplinkTemplate probe("probe");
        WindowedPublisher pub(port, "bench-probe", kPublishWindow);
        std::string payload;
        for (int64_t k = 1;; ++k) {
            probe.render(payload, rfc3339Micros(Wall::now()), k, 1.0);
            pub.publish(mqtt_test::ttsTopic("bench", "probe"), payload);
            auto tProbe = Steady::now();
            while (since(tProbe) < 0.1 && status().stored == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            if (status().stored > 0) break;
            if (since(t0) > 20) throw std::runtime_error("no probe uplink reached the store within 20 s");
        }
        pub.waitAcked(5);
        std::this_thread::sleep_for(std::chrono::milliseconds(300) + 2 * interval);
        baseStored = status().stored;
        ReadConnection rc(store->path());
        baseRowid = rc.maxRowid();
    }
};

struct FeedCounts {
    uint64_t dropped, duplicates, rejected;
    std::string rejectedBy;
};
FeedCounts counts(const ct::feeds::FeedStatus& s) {
    FeedCounts c{s.dropped, s.duplicates, s.rejected, {}};
    for (const auto& [why, n] : s.rejectedBy)
        c.rejectedBy += (c.rejectedBy.empty() ? "" : ", ") + why + " " + std::to_string(n);
    return c;
}
// Prints the feed's counters; false (with a WARNING line) when any is not 0.
bool reportCounts(const char* what, const ct::feeds::FeedStatus& s, size_t busHighWater, size_t busCapacity) {
    FeedCounts c = counts(s);
    std::printf("  %s feed counters: published %" PRIu64 ", stored %" PRIu64 ", dropped %" PRIu64
                ", duplicates %" PRIu64 ", rejected %" PRIu64 "%s%s%s; bus high water %zu of %zu\n",
                what, s.published, s.stored, c.dropped, c.duplicates, c.rejected,
                c.rejectedBy.empty() ? "" : " (", c.rejectedBy.c_str(), c.rejectedBy.empty() ? "" : ")",
                busHighWater, busCapacity);
    std::printf("  feed state %s: %s\n", ct::feeds::toString(s.state), s.detail.c_str());
    if (c.dropped || c.duplicates || c.rejected) {
        std::printf("WARNING: %s: dropped %" PRIu64 ", duplicates %" PRIu64 ", rejected %" PRIu64
                    " — not a valid run (all three must be 0)\n",
                    what, c.dropped, c.duplicates, c.rejected);
        return false;
    }
    return true;
}

// --- Throughput -----------------------------------------------------------------------------

struct ThroughputResult {
    bool ok = false, countersClean = false;
    int messages = 0;
    double seconds = 0, publishDoneS = 0, ackedS = 0;
    double peakMiB = -1, rssBeforeMiB = -1, rssAfterMiB = -1, brokerPeakMiB = -1;
    double cpuS = 0, brokerCpuS = 0, otherCores = 0;
    double steadyObsPerS = -1; // between 10 % and 90 % of the observations stored; -1: run too short
    std::string steady() const {
        if (steadyObsPerS < 0) return "n/a";
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", steadyObsPerS);
        return buf;
    }
    int64_t maxBacklog = 0;
    size_t busMax = 0;
    bool peakIsPhase = false;
    std::string loadBefore, loadAfter;
};

ThroughputResult throughput(const std::string& brokerBin, const Devices& devices, int n) {
    ThroughputResult r;
    r.messages = n;
    Rig rig(brokerBin, std::chrono::milliseconds(100), "bench-throughput");
    ReadConnection reader(rig.store->path());
    const int64_t target = rig.baseRowid + 2 * static_cast<int64_t>(n);
    const uint64_t storedTarget = rig.baseStored + 2 * static_cast<uint64_t>(n);

    r.loadBefore = loadAverage();
    r.peakIsPhase = resetPeakRss();
    r.rssBeforeMiB = mib(statusKb("self", "VmRSS:"));
    CpuWatch cpu(rig.brokerPid);

    std::atomic<bool> publishFailed{false};
    std::atomic<double> publishDoneS{0}, ackedS{0};
    std::string publishError;
    WindowedPublisher pub(rig.port, "bench-throughput-publisher", kPublishWindow); // connected off the clock
    const uint64_t basePublished = rig.status().published;
    auto t0 = Steady::now();
    std::thread publisher([&] {
        try {
            std::string payload;
            for (int i = 0; i < n; ++i) {
                int d = i % kDevices;
                int64_t k = i / kDevices + 1;
                devices.templates[static_cast<size_t>(d)].render(payload, rfc3339Micros(Wall::now()), k,
                                                                 100 + d + static_cast<double>(k) * 0.001);
                pub.publish(devices.topics[static_cast<size_t>(d)], payload);
            }
            publishDoneS = since(t0);
            pub.waitAcked(kStoreTimeoutS);
            ackedS = since(t0);
        } catch (const std::exception& e) {
            publishError = e.what();
            publishFailed = true;
        }
    });

    // Poll the host's counter (cheap), then confirm the commit through the reader.
    double lastProgressS = 0, t10 = -1, t90 = -1;
    uint64_t lastStored = 0;
    const uint64_t mark10 = rig.baseStored + 2 * static_cast<uint64_t>(n) / 10;
    const uint64_t mark90 = rig.baseStored + 2 * static_cast<uint64_t>(n) * 9 / 10;
    bool stored = false;
    int64_t maxBacklog = 0; // messages the broker acknowledged that the plugin has not handed on yet
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto status = rig.status();
        uint64_t s = status.stored;
        maxBacklog = std::max(maxBacklog, static_cast<int64_t>(pub.ackedCount()) -
                                              static_cast<int64_t>((status.published - basePublished) / 2));
        r.busMax = std::max(r.busMax, rig.host->bus().size());
        if (s != lastStored) lastStored = s, lastProgressS = since(t0);
        if (t10 < 0 && s >= mark10) t10 = since(t0);
        if (t90 < 0 && s >= mark90) t90 = since(t0);
        if (s >= storedTarget) {
            // The host's counter is only a cue: the reader confirms the commit (it sees a row only
            // once its transaction committed), whenever the host counts.
            while (reader.maxRowid() < target && since(t0) - lastProgressS < kStoreTimeoutS)
                std::this_thread::sleep_for(std::chrono::microseconds(500));
            stored = reader.maxRowid() >= target;
            break;
        }
        if (publishFailed) break;
        double done = publishDoneS.load();
        if (done > 0 && since(t0) - std::max(done, lastProgressS) > kStoreTimeoutS) break;
        if (since(t0) > 600 + kStoreTimeoutS) break;
    }
    r.seconds = since(t0);
    publisher.join();
    r.publishDoneS = publishDoneS;
    r.ackedS = ackedS;
    r.maxBacklog = maxBacklog;
    r.cpuS = cpu.selfS();
    r.brokerCpuS = cpu.brokerS();
    r.otherCores = cpu.otherCores();
    if (t10 >= 0 && t90 - t10 >= 0.5) r.steadyObsPerS = static_cast<double>(mark90 - mark10) / (t90 - t10);
    r.peakMiB = mib(statusKb("self", "VmHWM:"));
    r.rssAfterMiB = mib(statusKb("self", "VmRSS:"));
    r.brokerPeakMiB = mib(statusKb(std::to_string(rig.brokerPid), "VmHWM:"));
    r.loadAfter = loadAverage();

    int64_t benchRows = reader.benchObservations();
    auto st = rig.status();
    std::printf("throughput, N = %d messages (%d observations):\n", n, 2 * n);
    if (publishFailed) std::printf("  ERROR: the publisher failed: %s\n", publishError.c_str());
    std::printf("  %s %d observations committed after %.3f s (publish calls done after %.3f s, all "
                "acknowledged by the broker after %.3f s)\n",
                stored ? "all" : "NOT ALL of the", 2 * n, r.seconds, r.publishDoneS, r.ackedS);
    std::printf("  => %.0f messages/s stored, %.0f observations/s stored (between 10 %% and 90 %% stored: %s "
                "observations/s)%s\n",
                n / r.seconds, 2 * n / r.seconds, r.steady().c_str(),
                r.seconds < 2 ? "; a run this short is dominated by the pump's last wait (up to 100 ms)"
                              : "");
    std::printf("  store holds %" PRId64 " observations of the bench devices (expected %d)%s\n", benchRows,
                2 * n, benchRows == 2 * n && stored ? "" : "  <-- NOT EVERYTHING WAS STORED");
    std::printf(
        "  memory: RSS before %.1f MiB, peak (VmHWM%s) %.1f MiB, after %.1f MiB; broker peak %.1f MiB\n",
        r.rssBeforeMiB, r.peakIsPhase ? ", this phase" : " since the process started", r.peakMiB,
        r.rssAfterMiB, r.brokerPeakMiB);
    std::printf("  queues: largest backlog in the broker %" PRId64
                " messages (acknowledged to the publisher, not yet "
                "through the plugin); FeedBus at most %zu observations\n",
                r.maxBacklog, r.busMax);
    std::printf(
        "  CPU: this process (publisher, plugin, bus, pump, SQLite) %.2f s, broker %.2f s, over %.2f s "
        "wall on %d cores; other processes used %.2f cores meanwhile\n",
        r.cpuS, r.brokerCpuS, r.seconds, cpusAvailable(), r.otherCores);
    r.countersClean = reportCounts("throughput", st, rig.host->bus().highWater(), rig.host->bus().capacity());
    std::printf("  load average before %s, after %s (it counts this benchmark too)%s\n", r.loadBefore.c_str(),
                r.loadAfter.c_str(),
                r.otherCores >= kBusyOtherCores ? "; OTHER WORK RAN: these figures are lower bounds" : "");
    r.ok = stored && benchRows == 2 * n && !publishFailed;
    return r;
}

// --- Latency ----------------------------------------------------------------------------------

struct LatencyResult {
    bool ok = false, countersClean = false;
    size_t messages = 0;
    double medianMs = 0, p90Ms = 0, p99Ms = 0, maxMs = 0, pollPeriodMs = 0;
    double otherCores = 0;
    std::string load;
};

LatencyResult latency(const std::string& brokerBin, const Devices& devices, int n, double rate,
                      std::chrono::milliseconds pumpInterval) {
    LatencyResult r;
    Rig rig(brokerBin, pumpInterval, "bench-latency");

    // The reader: its own connection, polling every ~1 ms.
    std::atomic<bool> stop{false};
    std::atomic<size_t> rowsSeen{0};
    std::vector<double> lat;
    size_t polls = 0;
    double readerSpanS = 0;
    std::string readerError;
    std::thread reader([&] {
        try {
            ReadConnection conn(rig.store->path());
            std::unordered_set<int64_t> seen; // per message: both of its rows share the time
            int64_t last = rig.baseRowid;
            auto tStart = Steady::now();
            while (!stop) {
                double stamp = wallNowS(); // before the read: a row it sees committed before this
                size_t rows = 0;
                conn.newRows(last, [&](int64_t rowid, double phenomenonTime) {
                    last = rowid;
                    ++rows;
                    if (seen.insert(std::llround(phenomenonTime * 1e6)).second)
                        lat.push_back((stamp - phenomenonTime) * 1000.0);
                });
                ++polls;
                rowsSeen += rows;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            readerSpanS = since(tStart);
        } catch (const std::exception& e) {
            readerError = e.what();
        }
    });

    WindowedPublisher pub(rig.port, "bench-latency-publisher", kPublishWindow);
    std::string payload;
    CpuWatch cpu(rig.brokerPid);
    auto start = Steady::now();
    auto period = std::chrono::duration<double>(1.0 / rate);
    for (int i = 0; i < n; ++i) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Steady::duration>(period * i));
        int d = i % kDevices;
        int64_t k = i / kDevices + 1;
        devices.templates[static_cast<size_t>(d)].render(payload, rfc3339Micros(Wall::now()), k,
                                                         100 + d + static_cast<double>(k) * 0.001);
        pub.publish(devices.topics[static_cast<size_t>(d)], payload);
    }
    auto published = Steady::now();
    while (rowsSeen < 2 * static_cast<size_t>(n) && since(published) < kStoreTimeoutS && readerError.empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop = true;
    reader.join();
    r.otherCores = cpu.otherCores();
    r.load = loadAverage();

    ReadConnection check(rig.store->path());
    int64_t benchRows = check.benchObservations();
    r.messages = lat.size();
    r.pollPeriodMs = polls ? readerSpanS * 1000.0 / static_cast<double>(polls) : 0;
    if (!lat.empty()) {
        r.medianMs = percentile(lat, 0.5);
        r.p90Ms = percentile(lat, 0.9);
        r.p99Ms = percentile(lat, 0.99);
        r.maxMs = *std::max_element(lat.begin(), lat.end());
    }
    std::printf("latency publish → committed in the store, pump interval %lld ms, %d messages at %.0f/s:\n",
                static_cast<long long>(pumpInterval.count()), n, rate);
    if (!readerError.empty()) std::printf("  ERROR: the reader failed: %s\n", readerError.c_str());
    std::printf(
        "  %zu messages seen; median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (reader poll period "
        "%.2f ms: each figure is at most that much above the true latency)\n",
        r.messages, r.medianMs, r.p90Ms, r.p99Ms, r.maxMs, r.pollPeriodMs);
    std::printf("  store holds %" PRId64 " observations of the bench devices (expected %d)%s\n", benchRows,
                2 * n, benchRows == 2 * n ? "" : "  <-- NOT EVERYTHING WAS STORED");
    // The host reports a batch's outcomes just after its COMMIT, so its counters may trail the
    // reader by one batch: let them settle.
    for (auto tSettle = Steady::now(); since(tSettle) < 2;) {
        auto st = rig.status();
        if (st.stored + st.duplicates + st.rejected + st.dropped >= st.published) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.countersClean =
        reportCounts("latency", rig.status(), rig.host->bus().highWater(), rig.host->bus().capacity());
    std::printf(
        "  other processes used %.2f cores meanwhile; load average %s (it counts this benchmark too)%s\n",
        r.otherCores, r.load.c_str(),
        r.otherCores >= kBusyOtherCores ? "; OTHER WORK RAN: these figures are upper bounds" : "");
    r.ok = readerError.empty() && benchRows == 2 * n && r.messages == static_cast<size_t>(n);
    return r;
}

} // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    int nLat = argc > 2 ? std::atoi(argv[2]) : 3000;
    double rate = argc > 3 ? std::atof(argv[3]) : 500;
    if (n < 4 || nLat < 1 || !(rate > 0)) {
        std::fprintf(stderr, "usage: bench_feeds [messages=100000 (>= 4)] [latency_messages=3000] "
                             "[latency_rate_per_s=500]\n");
        return 1;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    spdlog::set_level(spdlog::level::warn); // the host's "feed bench: plugin mqtt" lines

    std::string brokerBin = brokerBinary();
    if (brokerBin.empty()) {
        std::printf("bench_feeds: no mosquitto broker found (looked for the configured '%s', then "
                    "/usr/sbin/mosquitto, /usr/local/sbin/mosquitto, /usr/bin/mosquitto); install the Debian "
                    "package 'mosquitto' (tools/setup)\n",
                    CITYTWIN_MOSQUITTO_BROKER);
        return 2;
    }

    std::printf(
        "bench_feeds: whole chain publisher → mosquitto → mqtt plugin → FeedBus → pump → SQLite (WAL)\n");
    std::printf("machine: %d cores available (%ld online), %s; build type %s; load average %s\n",
                cpusAvailable(), sysconf(_SC_NPROCESSORS_ONLN), cpuModel().c_str(), CITYTWIN_BENCH_BUILD_TYPE,
                loadAverage().c_str());
    std::printf("broker %s, plugin folder %s, bus capacity %zu, batch %zu (production defaults)\n",
                brokerBin.c_str(), CITYTWIN_BENCH_PLUGIN_DIR, ct::feeds::FeedHostOptions{}.busCapacity,
                ct::feeds::FeedHostOptions{}.batchSize);

    bool ok = true, clean = true;
    try {
        Devices devices;
        int nSmall = std::max(4, n / 4);
        ThroughputResult small = throughput(brokerBin, devices, nSmall);
        ThroughputResult big = throughput(brokerBin, devices, n);
        LatencyResult lat100 = latency(brokerBin, devices, nLat, rate, std::chrono::milliseconds(100));
        LatencyResult lat10 = latency(brokerBin, devices, nLat, rate, std::chrono::milliseconds(10));
        ok = small.ok && big.ok && lat100.ok && lat10.ok;
        clean = small.countersClean && big.countersClean && lat100.countersClean && lat10.countersClean;

        auto busyNote = [](double other, const char* bound) {
            return other >= kBusyOtherCores ? std::string(" [other work ran: ") + bound + "]" : std::string();
        };
        std::printf("\nSUMMARY machine: %d cores, %s, %s build\n", cpusAvailable(), cpuModel().c_str(),
                    CITYTWIN_BENCH_BUILD_TYPE);
        for (const ThroughputResult* t : {&big, &small})
            std::printf(
                "SUMMARY throughput N=%d: %.0f messages/s, %.0f observations/s stored (10-90 %%: %s/s); "
                "peak RSS %.1f MiB (before %.1f, after %.1f), broker peak %.1f MiB; other processes %.2f "
                "cores, load %s%s%s\n",
                t->messages, t->messages / t->seconds, 2 * t->messages / t->seconds, t->steady().c_str(),
                t->peakMiB, t->rssBeforeMiB, t->rssAfterMiB, t->brokerPeakMiB, t->otherCores,
                t->loadAfter.c_str(), busyNote(t->otherCores, "lower bound").c_str(),
                t->ok ? "" : " [FAILED: not all stored]");
        for (const auto& [label, l] :
             {std::pair{"pump interval 100 ms (default)", &lat100}, std::pair{"pump interval 10 ms", &lat10}})
            std::printf(
                "SUMMARY latency publish→stored, %s, %.0f msg/s: median %.2f ms, p90 %.2f ms, p99 %.2f ms, "
                "max %.2f ms (poll %.2f ms); other processes %.2f cores, load %s%s\n",
                label, rate, l->medianMs, l->p90Ms, l->p99Ms, l->maxMs, l->pollPeriodMs, l->otherCores,
                l->load.c_str(), busyNote(l->otherCores, "upper bound").c_str());
        double obsPerS = 2 * big.messages / big.seconds;
        std::printf(
            "SUMMARY goal >= 20,000 observations/s sustained, broker → store: %s (%.0f observations/s at "
            "N=%d)\n",
            big.seconds < 2    ? "not judged, the run is too short (use N >= 100000)"
            : obsPerS >= 20000 ? "MET"
                               : "NOT MET",
            obsPerS, big.messages);
        if (!clean) std::printf("WARNING: some feed counters (dropped / duplicates / rejected) were not 0\n");
    } catch (const std::exception& e) {
        std::printf("bench_feeds: ERROR: %s\n", e.what());
        return 1;
    }
    if (!ok) {
        std::printf("bench_feeds: FAILED: not every observation was stored within %.0f s\n", kStoreTimeoutS);
        return 1;
    }
    return 0;
}
