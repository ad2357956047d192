#include "ui/SensorPanel.h"

#include "core/I18n.h"
#include "sim/YamlReader.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct::ui {

namespace fs = std::filesystem;

std::optional<size_t> pickMarker(const std::vector<Vec3>& positions, const render::Camera& camera, int width,
                                 int height, double clickX, double clickY, double radiusPx) {
    std::optional<size_t> best;
    double bestD2 = radiusPx * radiusPx;
    for (size_t i = 0; i < positions.size(); ++i) {
        auto p = camera.project(positions[i], std::max(width, 1), std::max(height, 1));
        if (!p) continue;
        double dx = p->x() - clickX, dy = p->y() - clickY, d2 = dx * dx + dy * dy;
        if (d2 <= bestD2) {
            bestD2 = d2;
            best = i;
        }
    }
    return best;
}

std::string messageAge(double last, double now) {
    if (!std::isfinite(last)) return tr("never");
    double age = std::max(0.0, now - last);
    return age < 120    ? fmt::format(fmt::runtime(tr("{} s ago")), fmt::format("{:.0f}", age))
           : age < 7200 ? fmt::format(fmt::runtime(tr("{} min ago")), fmt::format("{:.0f}", age / 60))
                        : fmt::format(fmt::runtime(tr("{} h ago")), fmt::format("{:.1f}", age / 3600));
}

FeedRow feedRow(const feeds::FeedStatus& f, double now) {
    FeedRow r;
    r.name = f.name;
    r.plugin = f.plugin + (f.pluginVersion.empty() ? "" : " " + f.pluginVersion);
    r.state = feeds::toString(f.state);
    r.messagesPerS = fmt::format("{:.1f}", f.messagesPerS);
    r.published = f.published;
    r.stored = f.stored;
    r.duplicates = f.duplicates;
    r.dropped = f.dropped;
    r.rejected = f.rejected;
    r.last = messageAge(f.lastMessageTime, now);
    r.detail = f.detail;
    if (!f.rejectedBy.empty()) {
        auto top = std::max_element(f.rejectedBy.begin(), f.rejectedBy.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; });
        r.detail += fmt::format("{}rejected mostly: {} ({})", r.detail.empty() ? "" : "; ", top->first, top->second);
    }
    return r;
}

std::vector<RecordedSensor> recordedSensors(const feeds::SensorStore& store) {
    std::vector<RecordedSensor> out;
    for (auto& s : store.sensors()) out.push_back({s, store.latest(s.id)});
    return out;
}

double historyWindowSeconds(HistoryWindow w) {
    switch (w) {
    case HistoryWindow::Last6h:
        return 6 * 3600.0;
    case HistoryWindow::Last24h:
        return 24 * 3600.0;
    case HistoryWindow::Last7d:
        return 7 * 86400.0;
    case HistoryWindow::All:
        break;
    }
    return INFINITY;
}

SensorHistory sensorHistory(const feeds::SensorStore& store, const std::string& sensor, HistoryWindow window) {
    SensorHistory h;
    auto latest = store.latest(sensor);
    if (!latest) return h;
    double span = historyWindowSeconds(window);
    if (std::isfinite(span)) {
        h.to = latest->time;
        h.from = latest->time - span;
    }
    h.observations = store.range(sensor, h.from, h.to);
    h.values.reserve(h.observations.size());
    for (auto& o : h.observations) {
        h.values.push_back(float(o.value));
        h.min = std::isnan(h.min) ? o.value : std::min(h.min, o.value);
        h.max = std::isnan(h.max) ? o.value : std::max(h.max, o.value);
    }
    return h;
}

fs::path historyCsvPath(const fs::path& storeFile, const std::string& sensor) {
    std::string name;
    for (char c : sensor) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
    return storeFile.parent_path() / ("history_" + name + ".csv");
}

std::string feedConfigJsonFor(const FeedBlock& feed, const Scenario& scenario) {
    YAML::Node config = YAML::Clone(feed.config);
    if (config.IsMap() && !config["scenario_dir"])
        config["scenario_dir"] =
            fs::absolute(scenario.file.parent_path().empty() ? fs::path(".") : scenario.file.parent_path()).string();
    return yamlToJsonText(config);
}

} // namespace ct::ui
