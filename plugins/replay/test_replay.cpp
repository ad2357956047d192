// The replay plugin through its C ABI (loaded with dlopen, as the host does), with a test host
// that records what the plugin hands over: the real UBA air-quality file from Bielefeld with
// its quirks, timing at a replay speed, and configurations it must refuse.
#include "citytwin_plugin.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Recorded {
    std::string sensor;
    double time, value;
    std::chrono::steady_clock::time_point at;
};

// A host that keeps everything, thread-safe.
struct TestHost {
    std::mutex m;
    std::vector<std::string> sensors;
    std::vector<Recorded> observations;
    std::vector<std::string> rejected;
    std::atomic<int> status{-1};
    citytwin_host_api api{};

    TestHost() {
        api.abi_major = CITYTWIN_PLUGIN_ABI_MAJOR;
        api.abi_minor = CITYTWIN_PLUGIN_ABI_MINOR;
        api.host = this;
        api.announce_sensor = [](void* h, const citytwin_sensor* s) {
            auto* t = static_cast<TestHost*>(h);
            std::lock_guard lock(t->m);
            t->sensors.push_back(s->id);
        };
        api.publish = [](void* h, const citytwin_observation* o, size_t n) {
            auto* t = static_cast<TestHost*>(h);
            std::lock_guard lock(t->m);
            for (size_t k = 0; k < n; ++k) t->observations.push_back({o[k].sensor_id, o[k].phenomenon_time, o[k].value, std::chrono::steady_clock::now()});
            return 0;
        };
        api.log = [](void*, citytwin_log_level, const char*) {};
        api.report_status = [](void* h, citytwin_status s, const char*) { static_cast<TestHost*>(h)->status = int(s); };
        api.count_rejected = [](void* h, const char* reason) {
            auto* t = static_cast<TestHost*>(h);
            std::lock_guard lock(t->m);
            t->rejected.push_back(reason);
        };
    }
};

const citytwin_plugin_api* loadReplay() {
    static void* lib = dlopen(CITYTWIN_REPLAY_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    auto entry = reinterpret_cast<citytwin_plugin_entry_fn>(dlsym(lib, CITYTWIN_PLUGIN_ENTRY_NAME));
    return entry ? entry(CITYTWIN_PLUGIN_ABI_MAJOR) : nullptr;
}

// Runs a replay to its end (or `maxWait`), returns the host.
void play(TestHost& host, const std::string& config, double maxWaitS = 30) {
    const citytwin_plugin_api* api = loadReplay();
    ASSERT_TRUE(api) << dlerror();
    char error[512] = {};
    void* r = api->create(&host.api, config.c_str(), error, sizeof error);
    ASSERT_TRUE(r) << error;
    ASSERT_EQ(api->start(r, error, sizeof error), 0) << error;
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(maxWaitS);
    while (host.status != CITYTWIN_STATUS_STOPPED && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    api->stop(r);
    api->destroy(r);
}

fs::path airQuality() { return fs::path(CITYTWIN_SHARED_DATA) / "real" / "airquality-bielefeld-uba" / "airquality_DENW200_2023-09_2024-09.csv"; }

std::string uba(double speed) {
    return R"({"file": ")" + airQuality().string() + R"(", "delimiter": ";", "time_column": "Datum", "time_format": "dmy",
      "timezone": "Europe/Berlin", "time_label": "end", "speed": )" + std::to_string(speed) + R"(,
      "sensors": [{"column": 4, "id": "DENW200/no2", "quantity": "no2", "unit": "µg/m³"},
                  {"column": 2, "id": "DENW200/pm10", "quantity": "pm10", "unit": "µg/m³"}]})";
}

TEST(Replay, PlaysTheRealUbaFileWithItsQuirks) {
    if (!fs::exists(airQuality())) {
        if (std::getenv("CI")) FAIL() << "missing " << airQuality();
        GTEST_SKIP() << "no " << airQuality();
    }
    // Count what the file holds, independently: rows with a date, and "-" cells per column.
    std::ifstream in(airQuality());
    std::string line;
    std::getline(in, line);
    size_t rows = 0, no2Missing = 0, pm10Missing = 0;
    while (std::getline(in, line)) {
        if (line.find("'") == std::string::npos) continue; // the note below the table
        ++rows;
        std::vector<std::string> cells;
        size_t start = 0;
        for (size_t p; (p = line.find(';', start)) != std::string::npos; start = p + 1) cells.push_back(line.substr(start, p - start));
        cells.push_back(line.substr(start));
        no2Missing += cells[4] == "-" || cells[4].empty();
        pm10Missing += cells[2] == "-" || cells[2].empty();
    }
    ASSERT_GT(rows, 8000u);

    TestHost host;
    play(host, uba(0));
    EXPECT_EQ(host.sensors, (std::vector<std::string>{"DENW200/no2", "DENW200/pm10"}));
    size_t no2 = 0, pm10 = 0;
    for (auto& o : host.observations) (o.sensor == "DENW200/no2" ? no2 : pm10)++;
    EXPECT_EQ(no2, rows - no2Missing);
    EXPECT_EQ(pm10, rows - pm10Missing);
    // The note below the table is a line without a time: counted, not played.
    EXPECT_EQ(host.rejected.size(), 1u);
    // "27.09.2023 24:00" is midnight at the end of the 27th in summer time (UTC+2):
    // 2023-09-27T22:00:00Z = 1695852000; its NO2 is 3 µg/m³ (line 25 of the file).
    bool found = false;
    for (auto& o : host.observations)
        if (o.sensor == "DENW200/no2" && o.time == 1695852000.0) {
            found = true;
            EXPECT_EQ(o.value, 3);
        }
    EXPECT_TRUE(found);
    // Winter time: "01.01.2024 01:00" is 00:00 UTC = 1704067200.
    found = false;
    for (auto& o : host.observations) found = found || (o.sensor == "DENW200/no2" && o.time == 1704067200.0);
    EXPECT_TRUE(found);
    // Every row its own hour: times rise in whole hours, and the first to the last row span
    // exactly rows − 1 hours — through the October night whose "03:00" comes twice and the
    // March night without one (a wrong offset there makes an overlap or a gap).
    std::vector<double> times;
    for (auto& o : host.observations)
        if (times.empty() || o.time != times.back()) times.push_back(o.time);
    for (size_t k = 1; k < times.size(); ++k) {
        EXPECT_GT(times[k], times[k - 1]) << k;
        EXPECT_EQ(std::fmod(times[k] - times[k - 1], 3600.0), 0) << k;
    }
    EXPECT_EQ(times.back() - times.front(), double(rows - 1) * 3600);
}

TEST(Replay, KeepsTheSpacingAtASpeed) {
    fs::path dir = fs::temp_directory_path() / ("replay-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream f(dir / "level.csv");
        f << "time,level\n";
        for (int k = 0; k < 6; ++k) f << "2026-03-01T10:0" << k << ":00,1" << k << ".5\n";
    }
    TestHost host;
    // One minute of data per 0.2 s: speed 300.
    play(host, R"({"file": ")" + (dir / "level.csv").string() + R"(", "speed": 300,
                   "sensors": [{"column": "level", "id": "well/level", "quantity": "groundwater_level", "unit": "m"}]})");
    ASSERT_EQ(host.observations.size(), 6u);
    for (size_t k = 1; k < 6; ++k) {
        double gap = std::chrono::duration<double>(host.observations[k].at - host.observations[k - 1].at).count();
        EXPECT_NEAR(gap, 0.2, 0.08) << k;
        EXPECT_EQ(host.observations[k].time - host.observations[k - 1].time, 60);
        EXPECT_EQ(host.observations[k].value, 10 + double(k) + 0.5);
    }
    fs::remove_all(dir);
}

TEST(Replay, RefusesBadConfigurationsWithAReason) {
    const citytwin_plugin_api* api = loadReplay();
    ASSERT_TRUE(api);
    EXPECT_EQ(api->abi_major, CITYTWIN_PLUGIN_ABI_MAJOR);
    TestHost host;
    auto refuse = [&](const std::string& config, const std::string& words) {
        char error[512] = {};
        void* r = api->create(&host.api, config.c_str(), error, sizeof error);
        EXPECT_EQ(r, nullptr) << config;
        EXPECT_NE(std::string(error).find(words), std::string::npos) << error;
        if (r) api->destroy(r);
    };
    refuse("{}", "needs 'file'");
    refuse(R"({"file": "/nonexistent.csv", "sensors": [{"column": 1}]})", "cannot read");
    refuse("not json", "bad configuration");
    refuse(R"({"file": ")" + airQuality().string() + R"(", "delimiter": ";", "time_column": "Datum", "sensors": [{"column": "Wind"}]})",
           "not found");
    refuse(R"({"file": ")" + airQuality().string() + R"(", "time_format": "us", "sensors": [{"column": 1}]})", "time_format");
    // A host of another major version gets nothing.
    static void* lib = dlopen(CITYTWIN_REPLAY_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    auto entry = reinterpret_cast<citytwin_plugin_entry_fn>(dlsym(lib, CITYTWIN_PLUGIN_ENTRY_NAME));
    EXPECT_EQ(entry(CITYTWIN_PLUGIN_ABI_MAJOR + 1), nullptr);
}

} // namespace
