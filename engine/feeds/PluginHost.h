#pragma once
// The feed plugin host: loads plugins (dlopen, ABI check), runs one Feed per configured feed,
// and pumps what they publish through the FeedBus into the SensorStore (docs/plugins.md).
//
// Contained: a plugin's failing or throwing create()/start()/stop(), garbage it publishes, any
// exception inside the host callbacks. Not contained: a plugin that crashes (segfault, abort)
// or corrupts memory takes the process with it; isolating that needs a plugin process, which is
// out of scope for ABI 1.
#include "feeds/FeedBus.h"
#include "feeds/SensorStore.h"

#include "citytwin_plugin.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ct::feeds {

// A loaded plugin library whose table passed the ABI check; unloaded (dlclose) when the last
// owner goes, which must be after its instances are destroyed.
class PluginLibrary {
  public:
    // `nameOrPath`: a path (contains '/' or ends in ".so") is opened as is; a name "foo" is
    // looked up as citytwin_plugin_foo.so in `dirs`, in order. Throws InputError naming the
    // plugin when it is missing, cannot be loaded, has no citytwin_plugin_entry, refuses the
    // host (NULL table) or was built for another ABI major.
    static std::shared_ptr<PluginLibrary> load(const std::string& nameOrPath,
                                               const std::vector<std::filesystem::path>& dirs);
    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    const citytwin_plugin_api& api() const { return *table; }
    const std::filesystem::path& path() const { return file; }
    std::string name() const;    // the table's name
    std::string version() const; // the table's version

  private:
    PluginLibrary() = default;
    void* handle = nullptr;
    const citytwin_plugin_api* table = nullptr;
    std::filesystem::path file;
};

// Where plugin names are looked up: each folder of $CITYTWIN_PLUGIN_PATH (':'-separated), then
// <folder of the running executable>/plugins (the build tree: build/citytwin, build/plugins/),
// then <that folder>/../lib/citytwin/plugins (an installed tree).
std::vector<std::filesystem::path> defaultPluginDirs();
// The file a plugin name or path resolves to; throws InputError listing the folders searched.
std::filesystem::path findPlugin(const std::string& nameOrPath,
                                 const std::vector<std::filesystem::path>& dirs);

enum class FeedState { Starting, Connected, Reconnecting, Error, Stopped };
const char* toString(FeedState state); // "starting", "connected", ...

// One entry of a scenario's `feeds:` list.
struct FeedConfig {
    std::string name;              // unique; 1-64 bytes, no ':' (it prefixes sensor ids)
    std::string plugin;            // a plugin name ("example") or a path to the .so
    std::string configJson = "{}"; // the plugin's own configuration, JSON text (an object)
};

// A snapshot of one feed for `citytwin feeds status` and the viewer.
struct FeedStatus {
    std::string name, plugin, pluginVersion;
    std::filesystem::path pluginPath;
    FeedState state = FeedState::Starting;
    std::string detail;      // the plugin's reason or the host's error message
    double messagesPerS = 0; // observations published per second over the last 10 s
    uint64_t published = 0;  // observations the plugin offered with a sensor id
    uint64_t dropped = 0;    // refused by the full FeedBus (back-pressure)
    uint64_t stored = 0;     // new rows in the store
    uint64_t duplicates = 0; // already stored (same sensor and dedup key)
    uint64_t rejected = 0;   // sum of rejectedBy
    std::map<std::string, uint64_t>
        rejectedBy; // by reason: the plugin's count_rejected, the host's and the store's checks
    double lastMessageTime = kNoValue; // when the last observation arrived, s since 1970 UTC
    size_t sensors = 0;                // announced sensors
};

struct FeedHostOptions {
    std::vector<std::filesystem::path> pluginDirs = defaultPluginDirs();
    size_t busCapacity = 65536;                  // observations in flight between plugins and the store
    size_t batchSize = 10000;                    // observations per store transaction
    std::chrono::milliseconds pumpInterval{100}; // the pump thread's longest sleep
};

class Feed; // one configured feed (PluginHost.cpp)

class FeedHost {
  public:
    // `store` must outlive the host (the destructor stores what is still queued).
    explicit FeedHost(SensorStore& store, FeedHostOptions options = {});
    ~FeedHost(); // stops the pump and every feed, then stores what is still queued
    FeedHost(const FeedHost&) = delete;
    FeedHost& operator=(const FeedHost&) = delete;

    // Loads the plugin, then create()s and start()s it with the config. Throws InputError (and
    // adds nothing) for a bad or duplicate feed name, config that is not a JSON object, or a
    // plugin that cannot be loaded (PluginLibrary::load). A plugin whose create() or start()
    // fails or throws leaves the feed in state Error with the plugin's message; the host and
    // the other feeds go on.
    void addFeed(const FeedConfig& config);
    // Calls the plugin's stop() and destroy(); the feed stays listed as Stopped.
    void stopFeed(const std::string& name);
    void stopAll();

    // A thread that pumps every pumpInterval (sooner when the bus fills up).
    void startPump();
    void stopPump();
    // Writes pending announcements, drains up to batchSize observations and stores them in one
    // transaction; returns how many were handed to the store. When the store fails, the batch is
    // kept and retried by the next call (the bus then fills and drops, counted), see pumpError().
    size_t pumpOnce();
    // Pumps until the bus is empty (or the store keeps failing); returns how many were stored.
    size_t flush();
    std::string pumpError() const; // the last store failure; empty after a successful pump

    std::vector<FeedStatus> status() const;
    std::optional<FeedStatus> status(const std::string& feed) const;

    FeedBus& bus() { return feedBus; }
    SensorStore& store() { return sensorStore; }

  private:
    Feed* find(const std::string& name) const;
    std::vector<Feed*> feedList() const;

    SensorStore& sensorStore;
    FeedHostOptions options;
    FeedBus feedBus;
    mutable std::mutex feedsMutex;
    std::vector<std::unique_ptr<Feed>> feeds; // in the order added; never removed while the host lives

    mutable std::mutex pumpMutex;
    std::vector<Observation> pending; // drained but not yet stored (kept when the store fails)
    std::string lastPumpError;
    std::thread pumpThread;
    std::atomic<bool> pumpRunning{false};
};

// The status as a text table, one feed per line (columns: feed, plugin, state, msg/s,
// published, stored, dup, dropped, rejected, last message age, detail).
std::string formatStatusTable(const std::vector<FeedStatus>& feeds, double nowS);
std::string formatStatusTable(const std::vector<FeedStatus>& feeds); // now

} // namespace ct::feeds
