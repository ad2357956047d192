#include "feeds/PluginHost.h"

#include "core/Error.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unordered_set>

namespace ct::feeds {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxSensorIdBytes = 256;
constexpr size_t kMaxPropertiesBytes = 4096;
constexpr size_t kMaxReasons = 64; // distinct rejection reasons kept per feed
constexpr size_t kMaxReasonBytes = 200;
constexpr size_t kMaxLogBytes = 4000;

double nowS() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}
double steadyS() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// A feed name prefixes its sensor ids in the store ("<feed>:<id>"), so it cannot hold ':';
// spaces and UTF-8 are fine ("air quality").
bool validFeedName(const std::string& s) {
    return !s.empty() && s.size() <= 64 && s.front() != ' ' && s.back() != ' ' &&
           std::none_of(s.begin(), s.end(), [](char c) {
               return c == ':' || (static_cast<unsigned char>(c) < 0x20) || c == 0x7f;
           });
}
bool validPluginName(const std::string& s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}
bool looksLikePath(const std::string& s) {
    return s.find('/') != std::string::npos || (s.size() > 3 && s.ends_with(".so"));
}

std::string clipped(const char* s, size_t max) {
    if (!s) return {};
    size_t n = strnlen(s, max + 1);
    std::string out(s, std::min(n, max));
    if (n > max) out += "...";
    return out;
}

std::string joinPaths(const std::vector<fs::path>& dirs) {
    std::string s;
    for (const auto& d : dirs)
        s += (s.empty() ? "" : ", ") + d.string();
    return s.empty() ? "(no folders)" : s;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Finding and loading plugins

std::vector<fs::path> defaultPluginDirs() {
    std::vector<fs::path> dirs;
    if (const char* env = std::getenv("CITYTWIN_PLUGIN_PATH")) {
        std::string list = env;
        size_t start = 0;
        while (start <= list.size()) {
            size_t end = list.find(':', start);
            if (end == std::string::npos) end = list.size();
            if (end > start) dirs.emplace_back(list.substr(start, end - start));
            start = end + 1;
        }
    }
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        dirs.push_back(exe.parent_path() / "plugins");
        dirs.push_back((exe.parent_path() / ".." / "lib" / "citytwin" / "plugins").lexically_normal());
    }
    return dirs;
}

fs::path findPlugin(const std::string& nameOrPath, const std::vector<fs::path>& dirs) {
    if (nameOrPath.empty())
        throw InputError("a feed names no plugin", {},
                         "give `plugin:` a plugin name such as example, or a path to a .so");
    std::error_code ec;
    if (looksLikePath(nameOrPath)) {
        fs::path p(nameOrPath);
        if (!fs::is_regular_file(p, ec))
            throw InputError("plugin file not found", nameOrPath,
                             "check the path, or give the plugin's name instead");
        return p;
    }
    if (!validPluginName(nameOrPath))
        throw InputError("\"" + nameOrPath + "\" is not a plugin name", nameOrPath,
                         "use letters, digits, '_' and '-', or give a path to the .so");
    std::string fileName = "citytwin_plugin_" + nameOrPath + ".so";
    for (const auto& dir : dirs)
        if (fs::is_regular_file(dir / fileName, ec)) return dir / fileName;
    throw InputError(
        fmt::format("plugin \"{}\" not found: no {} in {}", nameOrPath, fileName, joinPaths(dirs)),
        nameOrPath, "build the plugin, add its folder to CITYTWIN_PLUGIN_PATH, or give the path to the .so");
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& nameOrPath,
                                                   const std::vector<fs::path>& dirs) {
    fs::path file = findPlugin(nameOrPath, dirs);
    std::string where = file.string();
    std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
    lib->file = file;
    // RTLD_NOW: a missing symbol fails here, not in the middle of a feed; RTLD_LOCAL: two
    // plugins' symbols never resolve against each other.
    lib->handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char* err = dlerror();
        throw InputError(
            fmt::format("cannot load plugin \"{}\": {}", nameOrPath, err ? err : "unknown error"), where,
            "check it was built for this platform and its libraries are installed (ldd shows them)");
    }
    dlerror();
    void* sym = dlsym(lib->handle, CITYTWIN_PLUGIN_ENTRY_NAME);
    if (!sym)
        throw InputError(
            fmt::format("\"{}\" is not a citytwin plugin: it exports no {}", nameOrPath,
                        CITYTWIN_PLUGIN_ENTRY_NAME),
            where, "build it against citytwin_plugin.h with the entry function exported (docs/plugins.md)");
    auto entry = reinterpret_cast<citytwin_plugin_entry_fn>(sym);
    const citytwin_plugin_api* table = nullptr;
    try {
        table = entry(CITYTWIN_PLUGIN_ABI_MAJOR);
    } catch (...) { // a C++ plugin that lets an exception out of its entry
        throw InputError(fmt::format("plugin \"{}\" threw from {}", nameOrPath, CITYTWIN_PLUGIN_ENTRY_NAME),
                         where,
                         "report this to the plugin's authors: nothing may be thrown across the C ABI");
    }
    if (!table)
        throw InputError(
            fmt::format("plugin \"{}\" refused this host: {} returned NULL for host plugin ABI {}.{} "
                        "(the plugin's own ABI version is unknown)",
                        nameOrPath, CITYTWIN_PLUGIN_ENTRY_NAME, CITYTWIN_PLUGIN_ABI_MAJOR,
                        CITYTWIN_PLUGIN_ABI_MINOR),
            where,
            fmt::format("rebuild the plugin against citytwin_plugin.h of ABI {}, or use the citytwin "
                        "version it was built for",
                        CITYTWIN_PLUGIN_ABI_MAJOR));
    std::string pluginName = table->name ? clipped(table->name, 64) : nameOrPath;
    if (table->abi_major != CITYTWIN_PLUGIN_ABI_MAJOR)
        throw InputError(
            fmt::format("plugin \"{}\" was built for plugin ABI {}.{}, this citytwin hosts plugin ABI {}.{}",
                        pluginName, table->abi_major, table->abi_minor, CITYTWIN_PLUGIN_ABI_MAJOR,
                        CITYTWIN_PLUGIN_ABI_MINOR),
            where,
            fmt::format("rebuild the plugin against this citytwin's citytwin_plugin.h (ABI {}), or run "
                        "it with a citytwin that hosts ABI {}",
                        CITYTWIN_PLUGIN_ABI_MAJOR, table->abi_major));
    if (!table->create || !table->start || !table->stop || !table->destroy)
        throw InputError(
            fmt::format("plugin \"{}\" has an incomplete function table (create, start, stop and "
                        "destroy are all required)",
                        pluginName),
            where, "fix the plugin's citytwin_plugin_api");
    // A newer minor only adds at the end of the tables: this host simply does not use it.
    lib->table = table;
    return lib;
}

PluginLibrary::~PluginLibrary() {
    if (handle) dlclose(handle);
}

std::string PluginLibrary::name() const {
    return table && table->name ? clipped(table->name, 64) : file.stem().string();
}
std::string PluginLibrary::version() const {
    return table && table->version ? clipped(table->version, 64) : "";
}

const char* toString(FeedState s) {
    switch (s) {
    case FeedState::Starting:
        return "starting";
    case FeedState::Connected:
        return "connected";
    case FeedState::Reconnecting:
        return "reconnecting";
    case FeedState::Error:
        return "error";
    case FeedState::Stopped:
        return "stopped";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------------
// One feed: the plugin instance, its host context and its counters.

class Feed {
  public:
    Feed(const FeedConfig& cfg, std::shared_ptr<PluginLibrary> libIn, FeedBus& busIn, uint32_t busIdIn)
        : config(cfg), prefix(cfg.name + ":"), lib(std::move(libIn)), bus(busIn), busId(busIdIn),
          source(lib->name() + (lib->version().empty() ? "" : " " + lib->version())), startSteady(steadyS()) {
        hostApi.abi_major = CITYTWIN_PLUGIN_ABI_MAJOR;
        hostApi.abi_minor = CITYTWIN_PLUGIN_ABI_MINOR;
        hostApi.host = this;
        hostApi.announce_sensor = &Feed::cAnnounce;
        hostApi.publish = &Feed::cPublish;
        hostApi.log = &Feed::cLog;
        hostApi.report_status = &Feed::cReportStatus;
        hostApi.count_rejected = &Feed::cCountRejected;
    }
    ~Feed() { stop(); }

    void start();
    void stop();
    FeedStatus status() const;
    std::vector<SensorInfo> takeAnnouncements() {
        std::lock_guard lock(mutex);
        return std::exchange(announcements, {});
    }
    void putBackAnnouncements(std::vector<SensorInfo> a) {
        std::lock_guard lock(mutex);
        announcements.insert(announcements.begin(), std::make_move_iterator(a.begin()),
                             std::make_move_iterator(a.end()));
    }
    void setState(FeedState s, std::string why) {
        std::lock_guard lock(mutex);
        state = s;
        detail = std::move(why);
    }
    void countRejected(const std::string& reason, uint64_t n = 1);

    const FeedConfig config;
    const std::string prefix; // "<feed>:" before the plugin's sensor ids in the store
    std::atomic<uint64_t> stored{0}, duplicates{0};

  private:
    // The host side of the ABI: C callbacks that must never let an exception out.
    static void cAnnounce(void* host, const citytwin_sensor* sensor) noexcept;
    static int cPublish(void* host, const citytwin_observation* obs, size_t count) noexcept;
    static void cLog(void* host, citytwin_log_level level, const char* message) noexcept;
    static void cReportStatus(void* host, citytwin_status status, const char* detail) noexcept;
    static void cCountRejected(void* host, const char* reason) noexcept;

    void notePublished(uint64_t n);

    std::shared_ptr<PluginLibrary> lib;
    FeedBus& bus;
    const uint32_t busId;
    const std::string source;
    const double startSteady;
    citytwin_host_api hostApi{};

    std::mutex lifecycle; // start/stop; never held by callbacks, so stop() can join plugin threads
    void* instance = nullptr;

    mutable std::mutex mutex; // what callbacks change
    FeedState state = FeedState::Starting;
    std::string detail = "loading";
    uint64_t published = 0;
    std::map<std::string, uint64_t> rejectedBy;
    std::array<uint64_t, 10> rateCount{}; // observations per steady-clock second...
    std::array<int64_t, 10> rateSecond{}; // ...for the last 10 seconds (ring by second % 10)
    double lastMessage = kNoValue;
    std::unordered_set<std::string> announced;
    std::vector<SensorInfo> announcements; // waiting for the pump to store them

    friend class FeedHost;
};

void Feed::countRejected(const std::string& reasonIn, uint64_t n) {
    std::lock_guard lock(mutex);
    // A plugin that puts a device id into its reasons must not grow the map without bound.
    auto it = rejectedBy.find(reasonIn);
    if (it == rejectedBy.end() && rejectedBy.size() >= kMaxReasons)
        it = rejectedBy.try_emplace("(other reasons)").first;
    else if (it == rejectedBy.end())
        it = rejectedBy.try_emplace(reasonIn).first;
    it->second += n;
}

void Feed::notePublished(uint64_t n) {
    double t = steadyS();
    auto sec = static_cast<int64_t>(std::floor(t));
    std::lock_guard lock(mutex);
    published += n;
    size_t slot = static_cast<size_t>(sec % 10);
    if (rateSecond[slot] != sec) {
        rateSecond[slot] = sec;
        rateCount[slot] = 0;
    }
    rateCount[slot] += n;
    lastMessage = nowS();
}

void Feed::cAnnounce(void* host, const citytwin_sensor* s) noexcept {
    auto* feed = static_cast<Feed*>(host);
    if (!feed) return;
    try {
        if (!s || !s->id || !*s->id) return feed->countRejected("sensor announced without an id");
        if (strnlen(s->id, kMaxSensorIdBytes + 1) > kMaxSensorIdBytes)
            return feed->countRejected("sensor id longer than 256 bytes");
        SensorInfo info;
        info.id = feed->prefix + s->id;
        info.feed = feed->config.name;
        info.name = clipped(s->name, 256);
        bool located = std::isfinite(s->lon) && std::isfinite(s->lat) && std::fabs(s->lon) <= 180 &&
                       std::fabs(s->lat) <= 90;
        if (located) {
            info.lon = s->lon;
            info.lat = s->lat;
        } else if (!std::isnan(s->lon) || !std::isnan(s->lat)) {
            feed->countRejected("sensor location out of range (stored without one)");
        }
        info.elevationM = std::isfinite(s->elevation_m) ? s->elevation_m : kNoValue;
        info.quantity = clipped(s->quantity, 128);
        info.unit = clipped(s->unit, 64);
        info.warnAbove = std::isfinite(s->warn_above) ? s->warn_above : kNoValue;
        info.alarmAbove = std::isfinite(s->alarm_above) ? s->alarm_above : kNoValue;
        info.source = feed->source;
        info.updated = nowS();
        // ABI minor 0 structs end before properties_json: read it only from newer plugins.
        if (feed->lib->api().abi_minor >= 1 && s->properties_json) {
            const char* why = nullptr;
            if (strnlen(s->properties_json, kMaxPropertiesBytes + 1) > kMaxPropertiesBytes)
                why = "sensor properties longer than 4 KiB (stored without)";
            else if (auto j = nlohmann::json::parse(s->properties_json, nullptr, false); !j.is_object())
                why = "sensor properties not a JSON object (stored without)";
            else
                info.properties = j.dump();
            if (why) feed->countRejected(why);
        }
        std::lock_guard lock(feed->mutex);
        feed->announced.insert(info.id);
        feed->announcements.push_back(std::move(info));
    } catch (...) { // out of memory: the announcement is lost, the plugin goes on
    }
}

int Feed::cPublish(void* host, const citytwin_observation* obs, size_t count) noexcept {
    auto* feed = static_cast<Feed*>(host);
    if (!feed) return 1;
    try {
        if (count == 0) return 0;
        if (!obs) {
            feed->countRejected("publish() with NULL observations");
            return 1;
        }
        std::vector<Observation> copies;
        copies.reserve(count);
        uint64_t noId = 0, longId = 0;
        for (size_t i = 0; i < count; ++i) {
            const citytwin_observation& o = obs[i];
            if (!o.sensor_id || !*o.sensor_id) {
                ++noId;
                continue;
            }
            size_t len = strnlen(o.sensor_id, kMaxSensorIdBytes + 1);
            if (len > kMaxSensorIdBytes) {
                ++longId;
                continue;
            }
            Observation c;
            c.sensor.reserve(feed->prefix.size() + len);
            c.sensor.append(feed->prefix).append(o.sensor_id, len);
            c.phenomenonTime = o.phenomenon_time;
            c.resultTime = std::isnan(o.result_time) ? nowS() : o.result_time;
            c.value = o.value; // range checks are the store's (counted per feed by the pump)
            c.quality = o.quality;
            c.dedupKey = o.dedup_key;
            copies.push_back(std::move(c));
        }
        if (noId) feed->countRejected("observation without a sensor id", noId);
        if (longId) feed->countRejected("sensor id longer than 256 bytes", longId);
        size_t offered = copies.size();
        if (offered) feed->notePublished(offered);
        size_t queued = offered ? feed->bus.publish(feed->busId, std::move(copies)) : 0;
        return queued == offered
                   ? 0
                   : 1; // 1 only for back-pressure: rejected ones are counted, a retry would not help
    } catch (...) {     // out of memory: report the batch as dropped, as a full queue would
        return 1;
    }
}

void Feed::cLog(void* host, citytwin_log_level level, const char* message) noexcept {
    auto* feed = static_cast<Feed*>(host);
    try {
        std::string name = feed ? feed->config.name : "?";
        std::string text = message ? clipped(message, kMaxLogBytes) : "(null)";
        spdlog::level::level_enum l = level == CITYTWIN_LOG_DEBUG  ? spdlog::level::debug
                                      : level == CITYTWIN_LOG_INFO ? spdlog::level::info
                                      : level == CITYTWIN_LOG_WARN ? spdlog::level::warn
                                                                   : spdlog::level::err;
        spdlog::log(l, "feed {}: {}", name, text);
    } catch (...) {
    }
}

void Feed::cReportStatus(void* host, citytwin_status status, const char* detailIn) noexcept {
    auto* feed = static_cast<Feed*>(host);
    if (!feed) return;
    try {
        FeedState s;
        switch (status) {
        case CITYTWIN_STATUS_STARTING:
            s = FeedState::Starting;
            break;
        case CITYTWIN_STATUS_CONNECTED:
            s = FeedState::Connected;
            break;
        case CITYTWIN_STATUS_RECONNECTING:
            s = FeedState::Reconnecting;
            break;
        case CITYTWIN_STATUS_ERROR:
            s = FeedState::Error;
            break;
        case CITYTWIN_STATUS_STOPPED:
            s = FeedState::Stopped;
            break;
        default:
            feed->countRejected("report_status() with an unknown status");
            return;
        }
        std::string text = clipped(detailIn, 1000);
        bool changed;
        {
            std::lock_guard lock(feed->mutex);
            changed = feed->state != s || feed->detail != text;
            feed->state = s;
            feed->detail = text;
        }
        if (changed) {
            auto l = s == FeedState::Error          ? spdlog::level::err
                     : s == FeedState::Reconnecting ? spdlog::level::warn
                                                    : spdlog::level::info;
            spdlog::log(l, "feed {}: {}{}{}", feed->config.name, toString(s), text.empty() ? "" : ": ", text);
        }
    } catch (...) {
    }
}

void Feed::cCountRejected(void* host, const char* reason) noexcept {
    auto* feed = static_cast<Feed*>(host);
    if (!feed) return;
    try {
        feed->countRejected(reason && *reason ? clipped(reason, kMaxReasonBytes) : "unspecified");
    } catch (...) {
    }
}

namespace {
// Runs one plugin function; an exception (C++ plugins) becomes an error message.
template <class F> std::string guarded(const char* what, F&& f) {
    try {
        f();
        return {};
    } catch (const std::exception& e) {
        return fmt::format("{} threw: {}", what, e.what());
    } catch (...) {
        return fmt::format("{} threw an exception", what);
    }
}
std::string errorText(const char* buf, const char* what) {
    return buf[0] ? std::string(buf) : fmt::format("{} failed without a message", what);
}
} // namespace

void Feed::start() {
    std::lock_guard life(lifecycle);
    const citytwin_plugin_api& api = lib->api();
    std::array<char, 1024> err{};
    void* created = nullptr;
    std::string thrown = guarded("create()", [&] {
        created = api.create(&hostApi, config.configJson.c_str(), err.data(), err.size());
    });
    err.back() = '\0'; // the plugin may have filled the buffer to the end
    if (!thrown.empty() || !created) {
        if (created) guarded("destroy()", [&] { api.destroy(created); });
        std::string msg = !thrown.empty() ? thrown : "create() failed: " + errorText(err.data(), "create()");
        spdlog::error("feed {}: {}", config.name, msg);
        setState(FeedState::Error, msg);
        return;
    }
    err.fill('\0');
    int rc = 0;
    thrown = guarded("start()", [&] { rc = api.start(created, err.data(), err.size()); });
    err.back() = '\0';
    if (!thrown.empty() || rc != 0) {
        // A failed start() owns no threads by contract; destroy() frees what create() made.
        guarded("destroy()", [&] { api.destroy(created); });
        std::string msg = !thrown.empty()
                              ? thrown
                              : fmt::format("start() failed ({}): {}", rc, errorText(err.data(), "start()"));
        spdlog::error("feed {}: {}", config.name, msg);
        setState(FeedState::Error, msg);
        return;
    }
    instance = created;
    std::lock_guard lock(mutex);
    if (state == FeedState::Starting && detail == "loading") detail = "started";
}

void Feed::stop() {
    std::lock_guard life(lifecycle);
    if (!instance) return;
    const citytwin_plugin_api& api = lib->api();
    std::string problem = guarded("stop()", [&] { api.stop(instance); });
    std::string problem2 = guarded("destroy()", [&] { api.destroy(instance); });
    instance = nullptr;
    if (problem.empty()) problem = problem2;
    if (!problem.empty()) {
        spdlog::error("feed {}: {}", config.name, problem);
        setState(FeedState::Error, problem);
    } else {
        setState(FeedState::Stopped, "stopped by the host");
    }
}

FeedStatus Feed::status() const {
    FeedStatus s;
    s.name = config.name;
    s.plugin = lib->name();
    s.pluginVersion = lib->version();
    s.pluginPath = lib->path();
    BusCounters bc = bus.counters(busId);
    s.dropped = bc.dropped;
    s.stored = stored.load(std::memory_order_relaxed);
    s.duplicates = duplicates.load(std::memory_order_relaxed);
    double t = steadyS();
    auto sec = static_cast<int64_t>(std::floor(t));
    std::lock_guard lock(mutex);
    s.state = state;
    s.detail = detail;
    s.published = published;
    s.rejectedBy = rejectedBy;
    for (const auto& [reason, n] : rejectedBy)
        s.rejected += n;
    uint64_t recent = 0;
    for (size_t i = 0; i < rateSecond.size(); ++i)
        if (rateCount[i] && rateSecond[i] > sec - 10 && rateSecond[i] <= sec) recent += rateCount[i];
    // A feed younger than 10 s is averaged over its age, so the rate is right from the start.
    double window = std::clamp(t - startSteady, 1.0, 10.0);
    s.messagesPerS = static_cast<double>(recent) / window;
    s.lastMessageTime = lastMessage;
    s.sensors = announced.size();
    return s;
}

// ---------------------------------------------------------------------------------------------
// The host

FeedHost::FeedHost(SensorStore& store, FeedHostOptions opts)
    : sensorStore(store), options(std::move(opts)), feedBus(options.busCapacity) {
    options.batchSize = std::max<size_t>(options.batchSize, 1);
}

FeedHost::~FeedHost() {
    try {
        stopPump();
        stopAll();
        flush();
    } catch (const std::exception& e) {
        spdlog::error("feed host shutdown: {}", e.what());
    } catch (...) {
    }
}

Feed* FeedHost::find(const std::string& name) const {
    std::lock_guard lock(feedsMutex);
    for (const auto& f : feeds)
        if (f->config.name == name) return f.get();
    return nullptr;
}

std::vector<Feed*> FeedHost::feedList() const {
    std::lock_guard lock(feedsMutex);
    std::vector<Feed*> out;
    for (const auto& f : feeds)
        out.push_back(f.get());
    return out;
}

void FeedHost::addFeed(const FeedConfig& configIn) {
    FeedConfig config = configIn;
    if (!validFeedName(config.name))
        throw InputError("\"" + config.name + "\" is not a valid feed name", "feeds",
                         "use 1 to 64 characters without ':', control characters or spaces at the ends");
    if (find(config.name))
        throw InputError("feed \"" + config.name + "\" is configured twice", "feeds",
                         "give each feed its own name");
    if (config.configJson.find_first_not_of(" \t\r\n") == std::string::npos) config.configJson = "{}";
    try {
        auto parsed = nlohmann::json::parse(config.configJson);
        if (!parsed.is_object())
            throw InputError("the plugin config of feed \"" + config.name + "\" is not a JSON object",
                             "feeds", "write the plugin's settings as a mapping");
    } catch (const nlohmann::json::exception& e) {
        throw InputError("the plugin config of feed \"" + config.name + "\" is not valid JSON: " + e.what(),
                         "feeds", "check the feed's settings");
    }
    auto lib = PluginLibrary::load(config.plugin, options.pluginDirs);
    Feed* feed;
    {
        std::lock_guard lock(feedsMutex);
        uint32_t id = feedBus.addFeed(config.name);
        feeds.push_back(std::make_unique<Feed>(config, std::move(lib), feedBus, id));
        feed = feeds.back().get();
    }
    spdlog::info("feed {}: plugin {} ({})", config.name, feed->lib->name(), feed->lib->path().string());
    feed->start();
}

void FeedHost::stopFeed(const std::string& name) {
    Feed* feed = find(name);
    if (!feed) throw InputError("no feed \"" + name + "\"", "feeds");
    feed->stop();
}

void FeedHost::stopAll() {
    for (Feed* f : feedList())
        f->stop();
}

void FeedHost::startPump() {
    if (pumpRunning.exchange(true)) return;
    pumpThread = std::thread([this] {
        while (pumpRunning.load()) {
            feedBus.waitForWork(options.pumpInterval);
            try {
                // Full batches mean more is waiting: keep going before sleeping again.
                size_t n;
                do {
                    n = pumpOnce();
                } while (n == options.batchSize && pumpRunning.load());
                // A failing store must not turn a full bus into a busy loop.
                if (n == 0 && !pumpError().empty()) std::this_thread::sleep_for(options.pumpInterval);
            } catch (const std::exception& e) {
                spdlog::error("feed pump: {}", e.what());
            } catch (...) {
            }
        }
    });
}

void FeedHost::stopPump() {
    if (!pumpRunning.exchange(false)) return;
    feedBus.wake();
    if (pumpThread.joinable()) pumpThread.join();
}

size_t FeedHost::pumpOnce() {
    std::lock_guard lock(pumpMutex);
    std::vector<Feed*> list = feedList();
    std::vector<Feed*> byBusId; // the bus may carry feeds that are not plugins (tests, tools)
    for (Feed* f : list) {
        if (f->busId >= byBusId.size()) byBusId.resize(f->busId + 1, nullptr);
        byBusId[f->busId] = f;
    }
    // Announcements first, so a sensor's metadata is there before (or with) its observations.
    for (Feed* f : list) {
        std::vector<SensorInfo> a = f->takeAnnouncements();
        for (size_t i = 0; i < a.size(); ++i) {
            try {
                sensorStore.upsertSensor(a[i]);
            } catch (const std::exception& e) {
                f->putBackAnnouncements(
                    std::vector<SensorInfo>(a.begin() + static_cast<std::ptrdiff_t>(i), a.end()));
                if (lastPumpError != e.what()) spdlog::error("feed pump: {}", e.what());
                lastPumpError = e.what();
                return 0;
            }
        }
    }
    if (pending.empty()) feedBus.drain(pending, options.batchSize);
    if (pending.empty()) {
        lastPumpError.clear();
        return 0;
    }
    try {
        sensorStore.insert(pending, [&](const Observation& o, InsertOutcome outcome, const char* why) {
            Feed* f = o.feed < byBusId.size() ? byBusId[o.feed] : nullptr;
            if (!f) return;
            if (outcome == InsertOutcome::Inserted)
                f->stored.fetch_add(1, std::memory_order_relaxed);
            else if (outcome == InsertOutcome::Duplicate)
                f->duplicates.fetch_add(1, std::memory_order_relaxed);
            else
                f->countRejected(why ? why : "rejected by the store");
        });
    } catch (const std::exception& e) {
        // Keep the batch: it is retried next time; meanwhile the bus fills and drops (counted).
        if (lastPumpError != e.what())
            spdlog::error("feed pump: {} (kept {} observations to retry)", e.what(), pending.size());
        lastPumpError = e.what();
        return 0;
    }
    size_t n = pending.size();
    pending.clear();
    lastPumpError.clear();
    return n;
}

size_t FeedHost::flush() {
    size_t target;
    {
        std::lock_guard lock(pumpMutex);
        target = feedBus.size() + pending.size();
    }
    // Bounded by what was queued on entry, so running plugins cannot keep it going forever.
    size_t total = 0;
    do {
        size_t n = pumpOnce();
        if (n == 0) break;
        total += n;
    } while (total < target);
    return total;
}

std::string FeedHost::pumpError() const {
    std::lock_guard lock(pumpMutex);
    return lastPumpError;
}

std::vector<FeedStatus> FeedHost::status() const {
    std::vector<FeedStatus> out;
    for (Feed* f : feedList())
        out.push_back(f->status());
    return out;
}

std::optional<FeedStatus> FeedHost::status(const std::string& name) const {
    Feed* f = find(name);
    if (!f) return std::nullopt;
    return f->status();
}

// ---------------------------------------------------------------------------------------------

std::string formatStatusTable(const std::vector<FeedStatus>& feeds, double now) {
    std::vector<std::array<std::string, 11>> rows;
    rows.push_back({"FEED", "PLUGIN", "STATE", "MSG/S", "PUBLISHED", "STORED", "DUP", "DROPPED", "REJECTED",
                    "LAST", "DETAIL"});
    for (const FeedStatus& f : feeds) {
        std::string last = "never";
        if (std::isfinite(f.lastMessageTime)) {
            double age = std::max(0.0, now - f.lastMessageTime);
            last = age < 120    ? fmt::format("{:.0f} s ago", age)
                   : age < 7200 ? fmt::format("{:.0f} min ago", age / 60)
                                : fmt::format("{:.1f} h ago", age / 3600);
        }
        std::string detail = f.detail;
        // The most frequent rejection reason says more than the count alone.
        if (!f.rejectedBy.empty()) {
            auto top = std::max_element(f.rejectedBy.begin(), f.rejectedBy.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
            detail += fmt::format("{}rejected mostly: {} ({})", detail.empty() ? "" : "; ", top->first,
                                  top->second);
        }
        rows.push_back({f.name, f.plugin + (f.pluginVersion.empty() ? "" : " " + f.pluginVersion),
                        toString(f.state), fmt::format("{:.1f}", f.messagesPerS), std::to_string(f.published),
                        std::to_string(f.stored), std::to_string(f.duplicates), std::to_string(f.dropped),
                        std::to_string(f.rejected), last, detail});
    }
    std::array<size_t, 11> width{};
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size(); ++c)
            width[c] = std::max(width[c], r[c].size());
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (size_t c = 0; c < r.size(); ++c) {
            bool numeric = c >= 3 && c <= 8;
            if (c + 1 == r.size())
                line += r[c]; // detail: not padded
            else if (numeric)
                line += fmt::format("{:>{}}  ", r[c], width[c]);
            else
                line += fmt::format("{:<{}}  ", r[c], width[c]);
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    if (feeds.empty()) out += "(no feeds configured)\n";
    return out;
}

std::string formatStatusTable(const std::vector<FeedStatus>& feeds) {
    return formatStatusTable(feeds, nowS());
}

} // namespace ct::feeds
