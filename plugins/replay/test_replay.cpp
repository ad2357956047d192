// The replay plugin through its C ABI (loaded with dlopen, as the host does), with a test host
// that records what the plugin hands over: the real UBA air-quality file from Bielefeld with
// its quirks, timing at a replay speed, and configurations it must refuse; and the parsing on
// its own (ReplayParse.h) with the inputs tools/fuzz/fuzz_replay found broken.
#include "citytwin_plugin.h"
#include "replay/ReplayParse.h"

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

// --- Parsing on its own: regressions from tools/fuzz/fuzz_replay (docs/plugins.md, "Fuzzing") ---

using namespace citytwin::replay;

TEST(ReplayParse, FixedOffsetsAreHoursAndMinutesOfADay) {
    EXPECT_EQ(parseFixedOffset("+01:00"), 3600);
    EXPECT_EQ(parseFixedOffset("-05:30"), -19800);
    EXPECT_EQ(parseFixedOffset("+23:59"), 23 * 3600 + 59 * 60);
    EXPECT_EQ(parseFixedOffset("UTC"), std::nullopt);
    // Fuzzer input: the header cell "-25:30t" was taken as an offset of -25.5 h.
    EXPECT_EQ(parseFixedOffset("-25:30t"), std::nullopt);
    EXPECT_EQ(parseFixedOffset("+01:75"), std::nullopt);
    // hh * 3600 overflowed int (undefined behaviour) for large hour counts.
    EXPECT_EQ(parseFixedOffset("+99999999:00"), std::nullopt);
    EXPECT_EQ(parseFixedOffset("+-1:00"), std::nullopt);
}

TEST(ReplayParse, EpochTimesMustBeFinite) {
    TimeParser p;
    p.timeFormat = "epoch";
    EXPECT_EQ(p.parse("1714557600"), 1714557600.0);
    EXPECT_EQ(p.parse(" 1714557660.5"), 1714557660.5);
    // Fuzzer input: std::stod reads "NaN…" as NaN, and the row went out with a NaN time.
    EXPECT_EQ(p.parse("NaN4557599"), std::nullopt);
    EXPECT_EQ(p.parse("inf"), std::nullopt);
    EXPECT_EQ(p.parse("-infinity"), std::nullopt);
    EXPECT_EQ(p.parse("1e400"), std::nullopt); // out of range: stod throws
}

TEST(ReplayParse, SecondsAndHour24AreChecked) {
    TimeParser p;
    p.timeFormat = "dmy";
    EXPECT_EQ(p.parse("01.01.2024 02:02:21"), 1704074541.0);
    EXPECT_EQ(p.parse("27.09.2023 24:00"), 1695859200.0); // the day's end: 28.09. 00:00 UTC
    EXPECT_EQ(p.parse("30.06.2015 23:59:60"), 1435708800.0);
    // Fuzzer input: the seconds were not checked, "02:2:2144836472" was 68 years later.
    EXPECT_EQ(p.parse("01.01.2024 02:2:2144836472"), std::nullopt);
    EXPECT_EQ(p.parse("01.01.2024 02:02:-1"), std::nullopt);
    EXPECT_EQ(p.parse("27.09.2023 24:30"), std::nullopt);
    p.timeFormat = "iso";
    EXPECT_EQ(p.parse("2026-03-01T10:00:00"), 1772359200.0);
    EXPECT_EQ(p.parse("2026-03-01T10:00:61"), std::nullopt);
}

TEST(ReplayParse, ReplayDelayIsBounded) {
    using std::chrono::seconds;
    EXPECT_EQ(replayDelay(160, 100, 2), seconds(30));
    EXPECT_EQ(replayDelay(100, 100, 3600), seconds(0));
    // Fuzzer input: rows at epoch 1.7e17 and 1.7e9 at speed 1 — the difference in nanoseconds
    // overflowed the steady clock's int64 (undefined behaviour in duration_cast).
    EXPECT_EQ(replayDelay(1714557720, 171455761714557660.5, 1), -seconds(1000000000));
    EXPECT_EQ(replayDelay(1e17, 0, 1e-6), seconds(1000000000));
}

TEST(ReplayParse, CellsAndValues) {
    EXPECT_EQ(splitRow(R"(DENW200;"'27.09.2023 24:00'";13;-;"4,5")", ';'),
              (std::vector<std::string>{"DENW200", "27.09.2023 24:00", "13", "-", "4,5"}));
    EXPECT_EQ(splitRow("a,\"b,c\",d\r", ','), (std::vector<std::string>{"a", "b,c", "d"}));
    EXPECT_EQ(parseValue("4,5", true), 4.5);
    EXPECT_EQ(parseValue("4,5", false), std::nullopt);
    EXPECT_EQ(parseValue("-", false), std::nullopt);
    EXPECT_EQ(parseValue("inf", false), std::nullopt);
}

// The same inputs through the plugin: a bad time is a skipped line, a bad offset a refused config.
TEST(Replay, NonFiniteEpochRowsAreSkippedAndBadOffsetsRefused) {
    fs::path dir = fs::temp_directory_path() / ("replay-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream f(dir / "epoch.csv");
        f << "t,v\n1714557600,1\nNaN4557599,1\ninf,3\n1714557660,2\n";
    }
    TestHost host;
    play(host, R"({"file": ")" + (dir / "epoch.csv").string() + R"(", "time_format": "epoch",
                   "sensors": [{"column": "v", "id": "x/v"}]})");
    ASSERT_EQ(host.observations.size(), 2u);
    EXPECT_EQ(host.observations[1].time, 1714557660.0);
    EXPECT_EQ(host.rejected.size(), 2u);

    const citytwin_plugin_api* api = loadReplay();
    ASSERT_TRUE(api);
    char error[512] = {};
    void* r = api->create(&host.api,
                          (R"({"file": ")" + (dir / "epoch.csv").string() +
                           R"(", "timezone": "-25:30", "sensors": [{"column": "v"}]})").c_str(),
                          error, sizeof error);
    EXPECT_EQ(r, nullptr);
    EXPECT_NE(std::string(error).find("timezone"), std::string::npos) << error;
    if (r) api->destroy(r);
    fs::remove_all(dir);
}

} // namespace

// JSON records: an array of objects and JSON Lines. 2026-02-01T00:00:00+01:00 is 1769900400 s
// UTC; each record 15 min later. null, "-" and a missing key are missing values; a record that
// is not an object, one without a time and a JSON Lines line that does not parse are bad rows,
// counted; numbers as strings are values; the lines are played in time order.
TEST(Replay, PlaysJsonRecordsAndJsonLines) {
    fs::path dir = fs::temp_directory_path() / ("citytwin-replay-json-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const double t0 = 1769900400;
    {
        std::ofstream(dir / "series.json")
            << R"([{"time": "2026-02-01T00:00:00+01:00", "gw": 100.25, "pump": "1"},
                   {"time": "2026-02-01T00:15:00+01:00", "gw": null, "pump": 0},
                   42,
                   {"gw": 7},
                   {"time": "2026-02-01T00:30:00+01:00", "gw": "-", "flow": 3},
                   {"time": "2026-02-01T00:45:00+01:00", "gw": 100.5}])";
        std::ofstream(dir / "series.jsonl") << "{\"t\": 1769901300, \"gw\": 2.5}\n"
                                               "{\"t\": 1769900400, \"gw\": 1.5}\n"
                                               "{broken\n"
                                               "\n";
    }
    TestHost host;
    play(host, R"({"file": ")" + (dir / "series.json").string() + R"(",
      "sensors": [{"column": "gw", "id": "gw"}, {"column": "pump", "id": "pump"}]})");
    ASSERT_EQ(host.observations.size(), 4u);
    EXPECT_EQ(host.observations[0].sensor, "gw");
    EXPECT_EQ(host.observations[0].time, t0);
    EXPECT_EQ(host.observations[0].value, 100.25);
    EXPECT_EQ(host.observations[1].sensor, "pump");
    EXPECT_EQ(host.observations[1].value, 1.0);
    EXPECT_EQ(host.observations[2].sensor, "pump");
    EXPECT_EQ(host.observations[2].time, t0 + 900);
    EXPECT_EQ(host.observations[2].value, 0.0);
    EXPECT_EQ(host.observations[3].time, t0 + 2700);
    EXPECT_EQ(host.observations[3].value, 100.5);
    EXPECT_EQ(host.rejected.size(), 2u) << "42 and the record without a time";

    TestHost lines;
    play(lines, R"({"file": ")" + (dir / "series.jsonl").string() + R"(", "time_column": "t", "time_format": "epoch",
      "sensors": [{"column": "gw", "id": "gw"}]})");
    ASSERT_EQ(lines.observations.size(), 2u);
    EXPECT_EQ(lines.observations[0].time, t0);
    EXPECT_EQ(lines.observations[0].value, 1.5);
    EXPECT_EQ(lines.observations[1].time, t0 + 900);
    EXPECT_EQ(lines.rejected.size(), 1u) << "the broken line";

    // Not JSON at all, and a numeric time column for records: refused with the reason.
    const citytwin_plugin_api* api = loadReplay();
    char error[512] = {};
    std::ofstream(dir / "bad.json") << "time,gw\n1,2\n";
    EXPECT_EQ(api->create(&host.api, (R"({"file": ")" + (dir / "bad.json").string() + R"(", "sensors": [{"column": "gw"}]})").c_str(),
                          error, sizeof error),
              nullptr);
    EXPECT_NE(std::string(error).find("neither a JSON array of records nor JSON Lines"), std::string::npos) << error;
    EXPECT_EQ(api->create(&host.api, (R"({"file": ")" + (dir / "series.json").string() + R"(", "time_column": 0, "sensors": [{"column": "gw"}]})").c_str(),
                          error, sizeof error),
              nullptr);
    EXPECT_NE(std::string(error).find("key name"), std::string::npos) << error;
    fs::remove_all(dir);
}

TEST(ReplayParse, JsonRecordsCells) {
    auto rows = jsonRecords(R"([{"a": 1.5, "b": "x"}, [1], {"b": null, "a": 1e300}])", {"a", "b"});
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(*rows[0], (std::vector<std::string>{"1.5", "x"}));
    EXPECT_FALSE(rows[1]);
    EXPECT_EQ(*rows[2], (std::vector<std::string>{"1.0000000000000001e+300", ""}));
    EXPECT_THROW(jsonRecords("{\"a\": [", {"a"}), std::runtime_error);
    EXPECT_THROW(jsonRecords("", {"a"}), std::runtime_error);
}

// An ISO time's own zone wins over the configured one: 2026-02-01T08:00:00+01:00 and
// 2026-02-01T07:00:00Z are both 1769929200 s UTC (date -d); +0100 is read as +01:00;
// fractional seconds are kept; a zone that is not one makes the cell no time.
TEST(ReplayParse, IsoTimesKeepTheirOwnOffset) {
    TimeParser berlin;
    berlin.timezone = "Europe/Berlin";
    EXPECT_EQ(berlin.parse("2026-02-01T08:00:00+01:00"), 1769929200.0);
    EXPECT_EQ(berlin.parse("2026-02-01T07:00:00Z"), 1769929200.0);
    EXPECT_EQ(berlin.parse("2026-02-01T09:00:00+0200"), 1769929200.0);
    EXPECT_EQ(berlin.parse("2026-02-01T08:00:00"), 1769929200.0) << "no zone: Europe/Berlin, winter";
    EXPECT_EQ(berlin.parse("2026-02-01T07:00:00.250Z"), 1769929200.25);
    EXPECT_EQ(berlin.parse("2026-02-01T08:00+01:00"), 1769929200.0);
    EXPECT_FALSE(berlin.parse("2026-02-01T08:00:00 CET"));
    EXPECT_FALSE(berlin.parse("2026-02-01T08:00:00+25:00"));
}
