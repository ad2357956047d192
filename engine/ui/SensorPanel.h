#pragma once
// The viewer's live-feed panels without ImGui: the Feeds panel's rows (the facts of
// formatStatusTable, per feed), a recorded store's sensors, picking a sensor marker on screen,
// and a sensor's history over a chosen window (docs/plugins.md, "The viewer").
#include "feeds/PluginHost.h"
#include "feeds/SensorStore.h"
#include "render/Camera.h"
#include "render/Overlays.h"
#include "sim/Scenario.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ct::ui {

// The marker nearest to the click (window pixels, as Camera::project gives them for a
// width × height window) whose projected position is within radiusPx; nullopt if none.
std::optional<size_t> pickMarker(const std::vector<Vec3>& positions, const render::Camera& camera, int width,
                                 int height, double clickX, double clickY, double radiusPx = 12);

// Age of the last message as formatStatusTable writes it: "never", "12 s ago" (< 2 min),
// "5 min ago" (< 2 h), "3.5 h ago".
std::string messageAge(double lastMessageTime, double nowS);

// One feed's row in the Feeds panel (English; the panel translates the state).
struct FeedRow {
    std::string name, plugin, state; // state: toString(FeedState)
    std::string messagesPerS;        // "10.0"
    uint64_t published = 0, stored = 0, duplicates = 0, dropped = 0, rejected = 0;
    std::string last;   // messageAge
    std::string detail; // the plugin's reason or error; the most frequent rejection appended
};
FeedRow feedRow(const feeds::FeedStatus& status, double nowS);

// A recorded store's sensor with its latest observation (the Feeds panel without live feeds).
struct RecordedSensor {
    feeds::SensorInfo info;
    std::optional<feeds::TimeValue> latest;
};
std::vector<RecordedSensor> recordedSensors(const feeds::SensorStore& store);

// The history windows the sensor window offers; each ends at the sensor's newest observation
// (so a replayed or recorded series shows its last hours, not an empty stretch up to now).
enum class HistoryWindow { Last6h, Last24h, Last7d, All };
inline constexpr const char* historyWindowNames[] = {"last 6 h", "last 24 h", "last 7 d", "all"};
double historyWindowSeconds(HistoryWindow window); // +inf for All

struct SensorHistory {
    double from = -INFINITY, to = INFINITY;   // the phenomenon-time range queried
    std::vector<feeds::StoredObservation> observations; // store.range(sensor, from, to)
    std::vector<float> values;                // for PlotLines
    double min = NAN, max = NAN;              // of the values; NaN when empty
};
SensorHistory sensorHistory(const feeds::SensorStore& store, const std::string& sensor, HistoryWindow window);

// Where "Export CSV" writes a sensor's history: beside the store, named after the sensor id
// with every character but letters, digits, '-' and '.' replaced by '_'.
std::filesystem::path historyCsvPath(const std::filesystem::path& storeFile, const std::string& sensor);

// A feed block's config as JSON for FeedHost::addFeed, with `scenario_dir` added (as `citytwin
// feeds` does).
std::string feedConfigJsonFor(const FeedBlock& feed, const Scenario& scenario);

} // namespace ct::ui
