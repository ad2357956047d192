// Live feeds in the viewer (docs/plugins.md, "The viewer"): picking a sensor marker on screen
// against a projection computed here, a sensor's history over the chosen window from a store
// written by hand, the Feeds panel's rows for each feed state, and the sensor markers' ids.
#include "TestSupport.h"
#include "feeds/PluginHost.h"
#include "feeds/SensorStore.h"
#include "ui/CityScene.h"
#include "ui/SensorPanel.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::ui;
using ct::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A camera at the origin looking north, level: a point (x, d, z) lands, for a W × H window,
// at px = W/2 + x / (d tan(fov/2) aspect) · W/2, py = H/2 − z / (d tan(fov/2)) · H/2.
render::Camera northCamera() {
    render::Camera c;
    c.eye = Vec3(0, 0, 0);
    c.yawDeg = 0;
    c.pitchDeg = 0;
    c.fovYDeg = 60;
    return c;
}

Eigen::Vector2d pixelOf(const Vec3& p, int w, int h, double fovDeg) {
    double t = std::tan(fovDeg * M_PI / 360), aspect = double(w) / h;
    return {w / 2.0 + p.x() / (p.y() * t * aspect) * w / 2.0, h / 2.0 - p.z() / (p.y() * t) * h / 2.0};
}

feeds::Observation obs(const std::string& sensor, double t, double v) {
    feeds::Observation o;
    o.sensor = sensor;
    o.phenomenonTime = o.resultTime = t;
    o.value = v;
    return o;
}

} // namespace

TEST(MarkerPick, ClickNearTheProjectedMarkerPicksIt) {
    const int w = 800, h = 600;
    render::Camera cam = northCamera();
    Vec3 marker(10, 200, 5);
    Eigen::Vector2d px = pixelOf(marker, w, h, cam.fovYDeg);
    // Independent projection agrees with the renderer's (the labels are drawn there).
    auto p = cam.project(marker, w, h);
    ASSERT_TRUE(p);
    EXPECT_NEAR(p->x(), px.x(), 1e-6);
    EXPECT_NEAR(p->y(), px.y(), 1e-6);

    std::vector<Vec3> markers{marker};
    auto hit = pickMarker(markers, cam, w, h, px.x() + 3, px.y() + 4); // 5 px away
    ASSERT_TRUE(hit);
    EXPECT_EQ(*hit, 0u);
    EXPECT_FALSE(pickMarker(markers, cam, w, h, px.x() + 30, px.y())); // 30 px away
    EXPECT_FALSE(pickMarker(markers, cam, w, h, px.x(), px.y() - 30));
}

TEST(MarkerPick, NearerOfTwoWinsAndBehindTheCameraNever) {
    const int w = 1024, h = 768;
    render::Camera cam = northCamera();
    Vec3 a(0, 100, 0), b(0, 100, 1.0);
    Eigen::Vector2d pa = pixelOf(a, w, h, cam.fovYDeg), pb = pixelOf(b, w, h, cam.fovYDeg);
    ASSERT_GT(std::abs(pa.y() - pb.y()), 4.0);
    ASSERT_LT(std::abs(pa.y() - pb.y()), 12.0); // both within reach of a click between them
    std::vector<Vec3> markers{a, b};
    double nearA = pa.y() + (pb.y() - pa.y()) * 0.3, nearB = pa.y() + (pb.y() - pa.y()) * 0.7;
    EXPECT_EQ(pickMarker(markers, cam, w, h, pa.x(), nearA).value_or(99), 0u);
    EXPECT_EQ(pickMarker(markers, cam, w, h, pa.x(), nearB).value_or(99), 1u);
    // A marker behind the camera projects nowhere, even where its mirror image would be.
    std::vector<Vec3> behind{Vec3(0, -100, 0)};
    EXPECT_FALSE(pickMarker(behind, cam, w, h, w / 2.0, h / 2.0));
    EXPECT_FALSE(pickMarker({}, cam, w, h, w / 2.0, h / 2.0));
}

TEST(History, WindowsReturnExactlyTheObservationsWritten) {
    TempDir dir;
    feeds::SensorStore store(dir / "sensors.sqlite");
    const double t0 = 1'770'000'000; // newest observation of f:a
    std::vector<feeds::Observation> batch;
    // f:a at 8 d, 2 d, 23 h, 5 h, 1 h before t0 and at t0; f:b interleaved (must not appear).
    std::vector<std::pair<double, double>> a = {{t0 - 8 * 86400, 1.5}, {t0 - 2 * 86400, 2.5}, {t0 - 23 * 3600, -0.5},
                                                {t0 - 5 * 3600, 4.0},  {t0 - 3600, 3.25},       {t0, 3.0}};
    for (auto& [t, v] : a) batch.push_back(obs("f:a", t, v));
    batch.push_back(obs("f:b", t0 - 1800, 99));
    batch.push_back(obs("f:b", t0 + 3600, 98));
    ASSERT_EQ(store.insert(batch).inserted, batch.size());

    auto check = [&](HistoryWindow w, std::vector<double> values) {
        SensorHistory hist = sensorHistory(store, "f:a", w);
        ASSERT_EQ(hist.observations.size(), values.size()) << historyWindowNames[int(w)];
        ASSERT_EQ(hist.values.size(), values.size());
        for (size_t i = 0; i < values.size(); ++i) {
            EXPECT_DOUBLE_EQ(hist.observations[i].value, values[i]);
            EXPECT_FLOAT_EQ(hist.values[i], float(values[i]));
        }
        EXPECT_DOUBLE_EQ(hist.min, *std::min_element(values.begin(), values.end()));
        EXPECT_DOUBLE_EQ(hist.max, *std::max_element(values.begin(), values.end()));
    };
    check(HistoryWindow::Last6h, {4.0, 3.25, 3.0});
    check(HistoryWindow::Last24h, {-0.5, 4.0, 3.25, 3.0});
    check(HistoryWindow::Last7d, {2.5, -0.5, 4.0, 3.25, 3.0});
    check(HistoryWindow::All, {1.5, 2.5, -0.5, 4.0, 3.25, 3.0});
    SensorHistory six = sensorHistory(store, "f:a", HistoryWindow::Last6h);
    EXPECT_DOUBLE_EQ(six.to, t0);
    EXPECT_DOUBLE_EQ(six.from, t0 - 6 * 3600);
    EXPECT_DOUBLE_EQ(six.observations.front().phenomenonTime, t0 - 5 * 3600);

    SensorHistory none = sensorHistory(store, "f:nothing", HistoryWindow::All);
    EXPECT_TRUE(none.observations.empty());
    EXPECT_TRUE(std::isnan(none.min));

    // Export CSV: the window's rows of that sensor only, beside the store.
    fs::path csv = historyCsvPath(store.path(), "f:a/b c");
    EXPECT_EQ(csv, dir / "history_f_a_b_c.csv");
    EXPECT_EQ(store.exportCsv(csv, "f:a", six.from, six.to), 3u);

    // The recorded view: each sensor with its latest observation.
    auto rec = recordedSensors(store);
    ASSERT_EQ(rec.size(), 2u);
    EXPECT_EQ(rec[0].info.id, "f:a");
    ASSERT_TRUE(rec[0].latest);
    EXPECT_DOUBLE_EQ(rec[0].latest->value, 3.0);
    ASSERT_TRUE(rec[1].latest);
    EXPECT_DOUBLE_EQ(rec[1].latest->time, t0 + 3600);
}

TEST(FeedRows, EachStateFormatsAsTheStatusTable) {
    const double now = 1'770'000'000;
    struct Case {
        feeds::FeedState state;
        const char* name;
        double lastAgo; // NaN: never
        const char* last;
    };
    const Case cases[] = {{feeds::FeedState::Starting, "starting", NAN, "never"},
                          {feeds::FeedState::Connected, "connected", 12, "12 s ago"},
                          {feeds::FeedState::Reconnecting, "reconnecting", 300, "5 min ago"},
                          {feeds::FeedState::Error, "error", 3.5 * 3600, "3.5 h ago"},
                          {feeds::FeedState::Stopped, "stopped", 0, "0 s ago"}};
    for (const Case& c : cases) {
        feeds::FeedStatus s;
        s.name = "demo";
        s.plugin = "example";
        s.pluginVersion = "1.0.0";
        s.state = c.state;
        s.detail = c.state == feeds::FeedState::Error ? "start() failed (1): cannot connect to localhost:1883" : "";
        s.messagesPerS = 10;
        s.published = 412;
        s.stored = 400;
        s.duplicates = 5;
        s.dropped = 3;
        s.rejected = 4;
        s.rejectedBy = {{"NaN value", 3}, {"no sensor id", 1}};
        s.lastMessageTime = std::isnan(c.lastAgo) ? feeds::kNoValue : now - c.lastAgo;
        FeedRow r = feedRow(s, now);
        EXPECT_EQ(r.state, c.name);
        EXPECT_EQ(r.name, "demo");
        EXPECT_EQ(r.plugin, "example 1.0.0");
        EXPECT_EQ(r.messagesPerS, "10.0");
        EXPECT_EQ(r.published, 412u);
        EXPECT_EQ(r.stored, 400u);
        EXPECT_EQ(r.duplicates, 5u);
        EXPECT_EQ(r.dropped, 3u);
        EXPECT_EQ(r.rejected, 4u);
        EXPECT_EQ(r.last, c.last);
        std::string rejected = "rejected mostly: NaN value (3)";
        EXPECT_EQ(r.detail, s.detail.empty() ? rejected : s.detail + "; " + rejected);
        // The same facts as `citytwin feeds` prints.
        std::string table = feeds::formatStatusTable({s}, now);
        for (const std::string& cell : {r.state, r.plugin, r.last, r.detail, r.messagesPerS})
            EXPECT_NE(table.find(cell), std::string::npos) << cell << " not in\n" << table;
    }
}
