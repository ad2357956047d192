// Tests of the traffic plugin (plugins/traffic/README.md).
//
// Parsing on its own (TrafficParse.h): times against glibc's timegm and against instants worked
// out by hand, hourly flows against count × 3600 / interval, every rejection reason, config
// errors; the real Lemgo counting sheet against sums the test takes from the file itself and
// numbers read off it by hand. The plugin through its C ABI (dlopen, a recording host): what it
// announces and publishes, pacing at a speed, refused configurations; and with a real mosquitto
// (plugins/mqtt/MqttTestSupport.h), count messages in and bad ones counted.
#include "MqttTestSupport.h"
#include "TrafficParse.h"
#include "citytwin_plugin.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace citytwin::traffic;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#ifndef CITYTWIN_TRAFFIC_PLUGIN
#error "CITYTWIN_TRAFFIC_PLUGIN must name the built plugin"
#endif

// timegm() is the independent reference for UTC instants.
double utc(int y, int mo, int d, int h, int mi, int s = 0) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return static_cast<double>(timegm(&tm));
}

// A parsed configuration (with a file name that is never opened here).
TrafficConfig configOf(const std::string& detectors, const std::string& extra = "") {
    std::string err;
    auto c = parseConfig(R"({"file": "counts.csv", "detectors": )" + detectors +
                             (extra.empty() ? "" : ", " + extra) + "}",
                         err);
    if (!c) throw std::runtime_error(err);
    return *c;
}

ReadResult readText(const std::string& text, const TrafficConfig& cfg) {
    std::istringstream in(text);
    return readCountFile(in, cfg, "counts.csv");
}

// What the plugin does with what was read: counts in order through the detector table.
struct Checked {
    std::vector<Count> counts;
    std::vector<std::string> reasons; // of the reader's rejections, then the table's
};
Checked check(DetectorTable& table, const ReadResult& r) {
    Checked out;
    for (const auto& rej : r.rejections)
        out.reasons.push_back(rej.reason);
    for (const RawCount& raw : r.counts) {
        Rejection why;
        if (auto c = table.accept(raw, why))
            out.counts.push_back(*c);
        else
            out.reasons.push_back(why.reason);
    }
    return out;
}

// --- Times, intervals and flows ---------------------------------------------------------------

TEST(TrafficParse, LongCsvTimesWithAndWithoutZoneToUtc) {
    TrafficConfig cfg = configOf(R"([{"id": "d1", "interval": "15min"}])", R"("timezone": "+01:00")");
    ReadResult r = readText("detector,begin,end,count\n"
                            "d1,2026-02-01T08:00:00+01:00,2026-02-01T08:15:00+01:00,100\n"
                            "d1,2026-02-01T07:15:00Z,2026-02-01T07:30:00Z,50\n"
                            "d1,2026-02-01 08:30,2026-02-01 08:45,25\n" // no zone: the configured +01:00
                            "d1,2026-02-01T03:45:00-04:00,,10\n"        // no end: the detector's 15 min
                            "d1,2026-02-01 09:00+0100,2026-02-01 09:15+01,5\n",
                            cfg);
    ASSERT_TRUE(r.error.empty()) << r.error;
    ASSERT_TRUE(r.rejections.empty());
    ASSERT_EQ(r.counts.size(), 5u);
    // 2026-02-01T08:00:00+01:00 is 07:00 UTC: 20485 days × 86400 s + 7 h = 1769929200.
    EXPECT_EQ(r.counts[0].begin, 1769929200.0);
    EXPECT_EQ(r.counts[0].begin, utc(2026, 2, 1, 7, 0));
    EXPECT_EQ(r.counts[0].end, utc(2026, 2, 1, 7, 15));
    EXPECT_EQ(r.counts[1].begin, utc(2026, 2, 1, 7, 15));
    EXPECT_EQ(r.counts[2].begin, utc(2026, 2, 1, 7, 30));
    EXPECT_EQ(r.counts[2].end, utc(2026, 2, 1, 7, 45));
    EXPECT_EQ(r.counts[3].begin, utc(2026, 2, 1, 7, 45));
    EXPECT_TRUE(std::isnan(r.counts[3].end));
    EXPECT_EQ(r.counts[4].begin, utc(2026, 2, 1, 8, 0));
    EXPECT_EQ(r.counts[4].end, utc(2026, 2, 1, 8, 15));

    // Europe/Berlin: CET in winter, CEST in summer.
    TrafficConfig berlin = configOf(R"([{"id": "d1"}])", R"("timezone": "Europe/Berlin")");
    EXPECT_EQ(parseInstant("2026-01-15 10:00", berlin.time), utc(2026, 1, 15, 9, 0));
    EXPECT_EQ(parseInstant("2026-07-01T10:00:00", berlin.time), utc(2026, 7, 1, 8, 0));
    EXPECT_EQ(parseInstant("2026-07-01T10:00:00Z", berlin.time), utc(2026, 7, 1, 10, 0)); // a zone wins
    EXPECT_EQ(parseInstant("tomorrow", berlin.time), std::nullopt);
    EXPECT_EQ(parseInstant("2026-07-01T10:00:00+25:00", berlin.time), std::nullopt);
    EXPECT_EQ(parseInstant("15:00", berlin.time), std::nullopt); // a clock time needs a date
}

TEST(TrafficParse, IntervalsInEveryWriting) {
    EXPECT_EQ(parseInterval("15min"), 900);
    EXPECT_EQ(parseInterval("5min"), 300);
    EXPECT_EQ(parseInterval(" 5 min "), 300);
    EXPECT_EQ(parseInterval("1h"), 3600);
    EXPECT_EQ(parseInterval("300s"), 300);
    EXPECT_EQ(parseInterval("300"), 300);
    EXPECT_EQ(parseInterval("24h"), 86400);
    for (const char* bad : {"", "0", "-5min", "2d", "15 parsecs", "25h", "nan", "min"})
        EXPECT_EQ(parseInterval(bad), std::nullopt) << bad;
    TrafficConfig cfg = configOf(R"([{"id": "a", "interval": "15min"}, {"id": "b", "interval": 300},
                                     {"id": "c", "interval_s": 60}, {"id": "e"}])");
    EXPECT_EQ(cfg.detectors[0].intervalS, 900);
    EXPECT_EQ(cfg.detectors[1].intervalS, 300);
    EXPECT_EQ(cfg.detectors[2].intervalS, 60);
    EXPECT_TRUE(std::isnan(cfg.detectors[3].intervalS));
}

TEST(TrafficParse, HourlyFlowIsCountTimes3600OverTheInterval) {
    DetectorTable table(
        configOf(R"([{"id": "q", "interval": "15min"}, {"id": "f", "interval_s": 300}])").detectors);
    Rejection why;
    const double t = utc(2026, 2, 1, 7, 0);
    auto c = table.accept({"q", t, t + 900, 123, "", "", "test"}, why);
    ASSERT_TRUE(c) << why.detail;
    EXPECT_EQ(c->flowVehH, 123.0 * 3600 / 900); // 492 veh/h
    EXPECT_EQ(c->begin, t);
    EXPECT_EQ(c->detector, 0u);
    c = table.accept({"f", t, NAN, 50, "", "", "test"}, why); // no end: the detector's interval
    ASSERT_TRUE(c) << why.detail;
    EXPECT_EQ(c->flowVehH, 600);
    c = table.accept({"f", t, t + 300.5, 7.5, "", "", "test"}, why); // within 1 s of the interval
    ASSERT_TRUE(c) << why.detail;
    EXPECT_EQ(c->flowVehH, 90);
    c = table.accept({"q", t, t + 900, 0, "", "", "test"}, why);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->flowVehH, 0);
}

TEST(TrafficParse, SemicolonBomCrlfQuotesAndColumnsInAnyOrder) {
    TrafficConfig cfg =
        configOf(R"([{"id": "d1", "interval": "15min"}, {"id": "d 2", "interval": "15min"}])");
    ReadResult r = readText("\xEF\xBB\xBF"
                            "Count;Detector;\"End\";begin\r\n"
                            "12,5;d1;2026-02-01T08:15:00Z;2026-02-01T08:00:00Z\r\n"
                            "\"40\";\"d 2\";2026-02-01T08:15:00Z;2026-02-01T08:00:00Z\r\n"
                            "\r\n",
                            cfg);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.rejections.empty());
    ASSERT_EQ(r.counts.size(), 2u);
    EXPECT_EQ(r.counts[0].detector, "d1");
    EXPECT_EQ(r.counts[0].count, 12.5); // decimal comma in a ';' file
    EXPECT_EQ(r.counts[0].begin, utc(2026, 2, 1, 8, 0));
    EXPECT_EQ(r.counts[0].end, utc(2026, 2, 1, 8, 15));
    EXPECT_EQ(r.counts[1].detector, "d 2");
    EXPECT_EQ(r.counts[1].count, 40);
    DetectorTable table(cfg.detectors);
    Checked k = check(table, r);
    ASSERT_EQ(k.counts.size(), 2u);
    EXPECT_EQ(k.counts[0].flowVehH, 50);
    EXPECT_EQ(k.counts[1].flowVehH, 160);
}

TEST(TrafficParse, TheFirstCountFixesAnIntervalNotConfigured) {
    DetectorTable table(configOf(R"([{"id": "d", "edge": "e7"}])").detectors);
    EXPECT_EQ(json::parse(table.propertiesJson(0)), json({{"edge", "e7"}}));
    const double t = utc(2026, 2, 1, 7, 0);
    Rejection why;
    bool learned = false;
    EXPECT_FALSE(table.accept({"d", t, NAN, 5, "", "", "x"}, why, &learned)); // no end, no interval yet
    EXPECT_EQ(why.reason, reason::InvalidTime);
    auto c = table.accept({"d", t, t + 300, 5, "", "", "x"}, why, &learned);
    ASSERT_TRUE(c);
    EXPECT_TRUE(learned);
    EXPECT_EQ(c->flowVehH, 60);
    EXPECT_EQ(json::parse(table.propertiesJson(0)), json({{"edge", "e7"}, {"interval_s", 300}}));
    EXPECT_FALSE(table.accept({"d", t, t + 900, 5, "", "", "x"}, why, &learned));
    EXPECT_EQ(why.reason, reason::IntervalMismatch);
    c = table.accept({"d", t + 300, NAN, 10, "", "", "x"}, why, &learned);
    ASSERT_TRUE(c);
    EXPECT_FALSE(learned);
    EXPECT_EQ(c->flowVehH, 120);
}

TEST(TrafficParse, EndColumnOptionalOnlyWhenEveryDetectorHasAnInterval) {
    TrafficConfig with = configOf(R"([{"id": "d1", "interval": "5min"}])");
    ReadResult r = readText("detector,begin,count\nd1,2026-02-01T08:00:00Z,10\n", with);
    ASSERT_TRUE(r.error.empty()) << r.error;
    DetectorTable table(with.detectors);
    Checked k = check(table, r);
    ASSERT_EQ(k.counts.size(), 1u);
    EXPECT_EQ(k.counts[0].flowVehH, 120);
    TrafficConfig without = configOf(R"([{"id": "d1", "interval": "5min"}, {"id": "loose"}])");
    r = readText("detector,begin,count\nd1,2026-02-01T08:00:00Z,10\n", without);
    EXPECT_NE(r.error.find("'end'"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("loose"), std::string::npos) << r.error;
}

// --- Every bad input has its reason ------------------------------------------------------------

TEST(TrafficParse, BadCsvRowsHaveTheirReasons) {
    TrafficConfig cfg = configOf(R"([{"id": "d1", "interval": "15min"}])");
    const std::string head = "detector,begin,end,count\n";
    const std::string ok = "2026-02-01T08:00:00Z,2026-02-01T08:15:00Z";
    struct Case {
        std::string row;
        const char* reason;
    };
    const Case cases[] = {
        {"nobody," + ok + ",10", reason::UnknownDetector},
        {"d1,yesterday,2026-02-01T08:15:00Z,10", reason::InvalidTime},
        {"d1,2026-02-01T08:15:00Z,2026-02-01T08:00:00Z,10", reason::InvalidTime}, // ends before it begins
        {"d1,2026-02-01T08:00:00Z,2026-02-01T08:00:00Z,10", reason::InvalidTime}, // no length
        {"d1,2026-13-01T08:00:00Z,,10", reason::InvalidTime},
        {"d1," + ok + ",-1", reason::InvalidCount},
        {"d1," + ok + ",abc", reason::InvalidCount},
        {"d1," + ok + ",NaN", reason::InvalidCount},
        {"d1," + ok + ",inf", reason::InvalidCount},
        {"d1," + ok + ",", reason::InvalidCount},
        {"d1," + ok + ",1000001", reason::InvalidCount},
        {"d1,2026-02-01T08:00:00Z,2026-02-01T08:10:00Z,10", reason::IntervalMismatch},
        {"d1,2026-02-01T08:00:00Z", reason::BadRow},
        {"a note below the table", reason::BadRow},
    };
    for (const Case& c : cases) {
        ReadResult r = readText(head + c.row + "\n", cfg);
        ASSERT_TRUE(r.error.empty()) << r.error;
        DetectorTable table(cfg.detectors);
        Checked k = check(table, r);
        EXPECT_TRUE(k.counts.empty()) << c.row;
        EXPECT_EQ(k.reasons, std::vector<std::string>{c.reason}) << c.row;
    }
    // At the limits: 0 and 1e6 vehicles, an interval 1 s off.
    ReadResult r = readText(head + "d1," + ok + ",0\nd1," + ok +
                                ",1000000\nd1,2026-02-01T08:00:00Z,2026-02-01T08:15:01Z,3\n",
                            cfg);
    DetectorTable table(cfg.detectors);
    Checked k = check(table, r);
    EXPECT_TRUE(k.reasons.empty());
    EXPECT_EQ(k.counts.size(), 3u);
}

TEST(TrafficParse, BadMessagesHaveTheirReasons) {
    TrafficConfig cfg = configOf(R"([{"id": "d2", "interval_s": 900}])");
    struct Case {
        std::string payload;
        std::vector<std::string> reasons;
    };
    const std::string b = R"("begin": "2026-02-01T08:00:00Z")";
    const Case cases[] = {
        {"{", {reason::MalformedJson}},
        {"42", {reason::MalformedJson}},
        {"[1, \"x\"]", {reason::MalformedJson, reason::MalformedJson}},
        {"{" + b + R"(, "count": 3})", {reason::MalformedJson}}, // no detector
        {R"({"detector": 7, )" + b + R"(, "count": 3})", {reason::MalformedJson}},
        {R"({"detector": "d9", )" + b + R"(, "count": 3})", {reason::UnknownDetector}},
        {R"({"detector": "d2", "begin": "soon", "count": 3})", {reason::InvalidTime}},
        {R"({"detector": "d2", "count": 3})", {reason::InvalidTime}},
        {R"({"detector": "d2", "begin": true, "count": 3})", {reason::InvalidTime}},
        {R"({"detector": "d2", )" + b + R"(, "end": "2026-02-01T07:45:00Z", "count": 3})",
         {reason::InvalidTime}},
        {R"({"detector": "d2", )" + b + R"(, "interval_s": -900, "count": 3})", {reason::InvalidTime}},
        {R"({"detector": "d2", )" + b + R"(, "count": "12"})", {reason::InvalidCount}},
        {R"({"detector": "d2", )" + b + R"(, "count": true})", {reason::InvalidCount}},
        {R"({"detector": "d2", )" + b + R"(, "count": -3})", {reason::InvalidCount}},
        {R"({"detector": "d2", )" + b + R"(, "count": 2e6})", {reason::InvalidCount}},
        {R"({"detector": "d2", )" + b + "}", {reason::InvalidCount}},
        {R"({"detector": "d2", )" + b + R"(, "interval_s": 600, "count": 3})", {reason::IntervalMismatch}},
        {R"({"detector": "d2", )" + b + R"(, "end": "2026-02-01T09:00:00Z", "count": 3})",
         {reason::IntervalMismatch}},
    };
    for (const Case& c : cases) {
        DetectorTable table(cfg.detectors);
        Checked k = check(table, parseMessage(c.payload, cfg.time));
        EXPECT_TRUE(k.counts.empty()) << c.payload;
        EXPECT_EQ(k.reasons, c.reasons) << c.payload;
    }
    // 64 KiB is the limit: a message of exactly that size is read, one byte more is not.
    std::string good = R"({"detector": "d2", )" + b + R"(, "count": 3})";
    std::string atLimit = good + std::string(kMaxPayloadBytes - good.size(), ' ');
    ASSERT_EQ(atLimit.size(), 64u * 1024);
    DetectorTable table(cfg.detectors);
    EXPECT_EQ(check(table, parseMessage(atLimit, cfg.time)).counts.size(), 1u);
    EXPECT_EQ(check(table, parseMessage(atLimit + " ", cfg.time)).reasons,
              std::vector<std::string>{reason::PayloadTooLarge});
}

TEST(TrafficParse, MessagesAsObjectsAndArraysWithRfc3339OrEpochTimes) {
    TrafficConfig cfg = configOf(R"([{"id": "d2", "interval_s": 900}, {"id": "d5", "interval": "5min"}])");
    DetectorTable table(cfg.detectors);
    const double t = utc(2026, 2, 1, 8, 0);
    Checked k = check(table, parseMessage(R"([
        {"detector": "d2", "begin": "2026-02-01T08:00:00Z", "end": "2026-02-01T08:15:00Z", "count": 123},
        {"detector": "d2", "begin": 1769933700, "interval_s": 900, "count": 100},
        {"detector": "d2", "begin": "2026-02-01T09:30:00+01:00", "count": 50},
        {"detector": "d5", "begin": "2026-02-01T08:00:00.000Z", "end": 1769933100, "count": 10}])",
                                          cfg.time));
    EXPECT_TRUE(k.reasons.empty());
    ASSERT_EQ(k.counts.size(), 4u);
    EXPECT_EQ(k.counts[0].begin, t);
    EXPECT_EQ(k.counts[0].flowVehH, 492);
    EXPECT_EQ(k.counts[1].begin, t + 900); // 1769933700
    EXPECT_EQ(k.counts[1].flowVehH, 400);
    EXPECT_EQ(k.counts[2].begin, utc(2026, 2, 1, 8, 30));
    EXPECT_EQ(k.counts[2].flowVehH, 200);
    EXPECT_EQ(k.counts[3].detector, 1u);
    EXPECT_EQ(k.counts[3].flowVehH, 120);
    k = check(table,
              parseMessage(R"({"detector": "d5", "begin": "2026-02-01T08:05:00Z", "count": 1})", cfg.time));
    ASSERT_EQ(k.counts.size(), 1u);
    EXPECT_EQ(k.counts[0].flowVehH, 12);
    EXPECT_TRUE(parseMessage("[]", cfg.time).counts.empty());
    EXPECT_TRUE(parseMessage("[]", cfg.time).rejections.empty());
}

// --- Wide sheets --------------------------------------------------------------------------------

// A sheet shaped like the Lemgo one, written here: class rows summed, a row with an empty time
// cell continues the interval above, classes not listed and empty cells are no vehicles.
TEST(TrafficParse, WideSheetSumsTheListedClasses) {
    TrafficConfig cfg = configOf(
        R"([{"id": "north", "column": "Nord"}, {"id": "south", "column": "Süd", "interval": "5min"}])",
        R"("format": "wide", "date": "2021-02-24", "timezone": "Europe/Berlin",
                                    "time_column": "Zeitraum", "class_column": 1, "classes": ["PKW", "LKW"])");
    ReadResult r = readText("Zeitraum,Klasse,Nord,Süd,Total\r\n"
                            "23:50 - 23:55,PKW,10,20,30\r\n"
                            ",LKW,1,,1\r\n"
                            ",Rad,100,100,200\r\n"
                            ",Total,111,120,231\r\n"
                            "23:55 - 00:00,PKW,4,5,9\r\n"
                            ",LKW,x,1,1\r\n",
                            cfg);
    ASSERT_TRUE(r.error.empty()) << r.error;
    DetectorTable table(cfg.detectors);
    Checked k = check(table, r);
    EXPECT_EQ(k.reasons, std::vector<std::string>{reason::InvalidCount}); // "x" for north at 23:55
    ASSERT_EQ(k.counts.size(), 3u);
    // 23:50 CET on 24 February is 22:50 UTC; the next interval ends at midnight, the next day.
    const double t = utc(2021, 2, 24, 22, 50);
    EXPECT_EQ(k.counts[0].begin, t);
    EXPECT_EQ(k.counts[0].flowVehH, 11 * 12); // PKW 10 + LKW 1
    EXPECT_EQ(k.counts[1].begin, t);
    EXPECT_EQ(k.counts[1].flowVehH, 20 * 12); // LKW empty
    EXPECT_EQ(k.counts[2].detector, 1u);
    EXPECT_EQ(k.counts[2].begin, t + 300);
    EXPECT_EQ(k.counts[2].flowVehH, 6 * 12);
    EXPECT_EQ(json::parse(table.propertiesJson(0))["interval_s"], 300); // learned from "23:50 - 23:55"

    // Without a date, a time of day is refused with what to do; a missing column likewise.
    TrafficConfig noDate = cfg;
    noDate.time.date.clear();
    EXPECT_NE(readText("Zeitraum,Klasse,Nord,Süd\n15:00 - 15:05,PKW,1,2\n", noDate).error.find("'date'"),
              std::string::npos);
    EXPECT_NE(readText("Zeitraum,Klasse,Nord\n15:00 - 15:05,PKW,1\n", cfg).error.find("\"Süd\""),
              std::string::npos);
    EXPECT_NE(readText("Zeit,Klasse,Nord,Süd\n", cfg).error.find("time column"), std::string::npos);
    // A continuation row before any time, and a broken time with its class rows.
    r = readText("Zeitraum,Klasse,Nord,Süd\n,PKW,1,2\nbald,PKW,1,2\n,LKW,1,1\n", cfg);
    DetectorTable t2(cfg.detectors);
    EXPECT_EQ(check(t2, r).reasons, (std::vector<std::string>{reason::BadRow, reason::InvalidTime}));
}

TEST(TrafficParse, WideSheetWithFullTimesAndNoClasses) {
    TrafficConfig cfg = configOf(R"([{"id": "a", "interval": "1h"}, {"id": "b", "interval": "1h"}])",
                                 R"("format": "wide", "timezone": "UTC")");
    ReadResult r = readText("time;a;b\n2026-02-01 08:00;100;-\n2026-02-01 09:00;120,5;80\n", cfg);
    ASSERT_TRUE(r.error.empty()) << r.error;
    DetectorTable table(cfg.detectors);
    Checked k = check(table, r);
    EXPECT_TRUE(k.reasons.empty());
    ASSERT_EQ(k.counts.size(), 3u); // b's "-" is no count
    EXPECT_EQ(k.counts[0].begin, utc(2026, 2, 1, 8, 0));
    EXPECT_EQ(k.counts[0].flowVehH, 100);
    EXPECT_EQ(k.counts[1].flowVehH, 120.5);
    EXPECT_EQ(k.counts[2].flowVehH, 80);
}

// The real counting sheet of the OWL322 intersection in Lemgo, 24 Feb 2021, 15:00–16:10 in
// 5-minute intervals, per turning movement and vehicle class (shared data, SOURCE.md there).
fs::path lemgo() {
    return fs::path(CITYTWIN_SHARED_DATA) / "real" / "sumo-lemgo-owl322" /
           "owl322_manual_count_2021-02-24.csv";
}

TrafficConfig lemgoConfig(const std::string& classes) {
    return configOf(
        R"([{"id": "riwa-gosebrede", "column": "Von RiWa-Str. nach Gosebrede"},
                        {"id": "gosebrede-riwa", "column": "Von Gosebrede nach RiWa-Str."}])",
        R"("format": "wide", "date": "2021-02-24", "timezone": "Europe/Berlin", "time_column": "Zeitraum",
                       "class_column": "Label/Richtung", "classes": )" +
            classes);
}

// The file read by the test itself: per interval, the sum of the classes over one column.
std::vector<double> sumsFromTheFile(const std::string& column, const std::set<std::string>& classes) {
    std::ifstream in(lemgo());
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    std::stringstream hs(line);
    for (std::string cell; std::getline(hs, cell, ',');)
        header.push_back(cell);
    size_t col = std::find(header.begin(), header.end(), column) - header.begin();
    std::vector<double> sums;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::vector<std::string> cells;
        std::stringstream ls(line);
        for (std::string cell; std::getline(ls, cell, ',');)
            cells.push_back(cell);
        if (!cells[0].empty()) sums.push_back(0);
        if (classes.count(cells[1]) && col < cells.size() && !cells[col].empty())
            sums.back() += std::stod(cells[col]);
    }
    return sums;
}

TEST(TrafficLemgo, RealCountingSheetSummedByClass) {
    if (!fs::exists(lemgo())) {
        if (std::getenv("CI")) FAIL() << "missing " << lemgo();
        GTEST_SKIP() << "no " << lemgo();
    }
    // Cars only: the first interval of "Von RiWa-Str. nach Gosebrede" is 38 PKW + Transporter
    // (line 2 of the file), 456 veh/h.
    {
        TrafficConfig cfg = lemgoConfig(R"(["PKW + Transporter"])");
        std::ifstream in(lemgo());
        ReadResult r = readCountFile(in, cfg, lemgo().filename().string());
        ASSERT_TRUE(r.error.empty()) << r.error;
        DetectorTable table(cfg.detectors);
        Checked k = check(table, r);
        EXPECT_TRUE(k.reasons.empty());
        ASSERT_FALSE(k.counts.empty());
        EXPECT_EQ(k.counts[0].detector, 0u);
        EXPECT_EQ(k.counts[0].flowVehH, 38 * 12);
        // 2021-02-24 15:00 in Lemgo (CET) is 14:00 UTC: 18682 days × 86400 s + 14 h.
        EXPECT_EQ(k.counts[0].begin, 1614175200.0);
    }
    // Motor vehicles: PKW + Transporter, LKW, Lastzug, Bus ("LKW + Lastzug gesamt" and "Total"
    // would count twice). By hand from lines 2–6: RiWa→Gosebrede 38 + 2 + 1 + 0 = 41,
    // Gosebrede→RiWa 44 + 1 + 1 + 0 = 46; last interval (16:05) RiWa→Gosebrede 37 + 2 + 2 + 0 = 41.
    const std::set<std::string> classes = {"PKW + Transporter", "LKW", "Lastzug", "Bus"};
    TrafficConfig cfg = lemgoConfig(R"(["PKW + Transporter", "LKW", "Lastzug", "Bus"])");
    std::ifstream in(lemgo());
    ReadResult r = readCountFile(in, cfg, lemgo().filename().string());
    ASSERT_TRUE(r.error.empty()) << r.error;
    DetectorTable table(cfg.detectors);
    Checked k = check(table, r);
    EXPECT_TRUE(k.reasons.empty());
    std::vector<std::vector<Count>> per(2);
    for (const Count& c : k.counts)
        per[c.detector].push_back(c);
    ASSERT_EQ(per[0].size(), 14u); // 15:00 … 16:05
    ASSERT_EQ(per[1].size(), 14u);
    EXPECT_EQ(per[0][0].flowVehH, 41 * 12);
    EXPECT_EQ(per[1][0].flowVehH, 46 * 12);
    EXPECT_EQ(per[0][13].flowVehH, 41 * 12);
    const std::vector<double> expected[2] = {sumsFromTheFile("Von RiWa-Str. nach Gosebrede", classes),
                                             sumsFromTheFile("Von Gosebrede nach RiWa-Str.", classes)};
    for (size_t d = 0; d < 2; ++d) {
        ASSERT_EQ(expected[d].size(), 14u);
        for (size_t i = 0; i < 14; ++i) {
            EXPECT_EQ(per[d][i].begin, 1614175200.0 + 300.0 * double(i)) << d << " " << i;
            EXPECT_EQ(per[d][i].flowVehH, expected[d][i] * 12) << d << " " << i;
        }
        // The 5-minute interval came from "15:00 - 15:05".
        EXPECT_EQ(json::parse(table.propertiesJson(d))["interval_s"], 300);
    }
}

// --- Configuration ------------------------------------------------------------------------------

TEST(TrafficConfigParse, ValuesAndTheMqttObject) {
    std::string err;
    auto c = parseConfig(R"j({
        "detectors": [
          {"id": "hauptstrasse-nord", "name": "Zählstelle Hauptstraße (Richtung Nord)", "lon": 8.64, "lat": 51.76,
           "heading": -90, "interval": "15min", "colour": "red"},
          {"id": "d2", "edge": 123, "interval_s": 300, "lanes": 2, "warn_above": 900, "alarm_above": 1200}],
        "file": "counts.csv", "scenario_dir": "/data/scenario", "speed": 3600, "timezone": "+01:00",
        "mqtt": {"host": "broker.example", "port": 1884, "topics": ["traffic/counts/#"], "qos": 1,
                 "client_id": "citytwin-traffic", "keepalive_s": 20, "shoe_size": 44}})j",
                         err);
    ASSERT_TRUE(c) << err;
    ASSERT_EQ(c->detectors.size(), 2u);
    const Detector& a = c->detectors[0];
    EXPECT_EQ(a.name, "Zählstelle Hauptstraße (Richtung Nord)");
    EXPECT_EQ(a.headingDeg, 270); // -90° is 270°
    EXPECT_EQ(a.intervalS, 900);
    EXPECT_TRUE(a.placed());
    const Detector& d2 = c->detectors[1];
    EXPECT_EQ(d2.name, "d2");
    EXPECT_EQ(d2.edge, "123");
    EXPECT_EQ(d2.lanes, 2);
    EXPECT_EQ(d2.warnAbove, 900);
    EXPECT_TRUE(std::isnan(d2.lon));
    EXPECT_EQ(c->file, "/data/scenario/counts.csv");
    EXPECT_EQ(c->speed, 3600);
    EXPECT_EQ(c->time.zone.fixedOffset, 3600);
    ASSERT_TRUE(c->mqtt);
    EXPECT_EQ(c->mqtt->host, "broker.example");
    EXPECT_EQ(c->mqtt->port, 1884);
    EXPECT_EQ(c->mqtt->topics, std::vector<std::string>{"traffic/counts/#"});
    EXPECT_EQ(c->mqtt->clientId, "citytwin-traffic");
    EXPECT_EQ(c->mqtt->keepaliveS, 20);
    EXPECT_FALSE(c->mqtt->cleanSession);
    ASSERT_EQ(c->warnings.size(), 2u);
    EXPECT_NE(c->warnings[0].find("detectors[0].colour"), std::string::npos) << c->warnings[0];
    EXPECT_NE(c->warnings[1].find("mqtt.shoe_size"), std::string::npos) << c->warnings[1];
}

TEST(TrafficConfigParse, ErrorsSayWhatIsWrong) {
    struct Case {
        std::string json;
        const char* mentions;
    };
    const std::string f = R"({"file": "c.csv", )";
    const Case cases[] = {
        {"not json", "not valid JSON"},
        {"[]", "JSON object"},
        {R"({"file": "c.csv"})", "'detectors' is required"},
        {f + R"("detectors": []})", "'detectors' is required"},
        {f + R"("detectors": [{"name": "x"}]})", "'id'"},
        {f + R"("detectors": [{"id": "a"}, {"id": "b"}, {"id": "a"}]})",
         "\"a\" is used twice (detectors[0] and detectors[2])"},
        {f + R"("detectors": [{"id": "a", "interval": "15 parsecs"}]})", "detectors[0].interval"},
        {f + R"("detectors": [{"id": "a", "interval_s": 0}]})", "detectors[0].interval_s"},
        {f + R"("detectors": [{"id": "a", "interval": "5min", "interval_s": 300}]})", "not both"},
        {f + R"("detectors": [{"id": "a", "lon": 8.6}]})", "'lat'"},
        {f + R"("detectors": [{"id": "a", "lon": 8.6, "lat": 95}]})", "detectors[0].lat"},
        {f + R"("detectors": [{"id": "a", "lanes": 0}]})", "detectors[0].lanes"},
        {f + R"("detectors": [{"id": "a"}], "format": "xml"})", "'format'"},
        {f + R"("detectors": [{"id": "a"}], "timezone": "Mars/Olympus"})", "'timezone'"},
        {f + R"("detectors": [{"id": "a"}], "speed": -1})", "'speed'"},
        {f + R"("detectors": [{"id": "a"}], "date": "24.02.2021"})", "'date'"},
        {f + R"("detectors": [{"id": "a"}], "format": "wide", "class_column": 1})", "'classes'"},
        {f + R"("detectors": [{"id": "a"}], "class_column": 1, "classes": ["PKW"]})", "\"wide\""},
        {R"({"detectors": [{"id": "a"}]})", "'file'"},
        {R"({"detectors": [{"id": "a"}], "mqtt": {"client_id": "x", "topics": ["t"], "port": 70000}})",
         "'mqtt.port'"},
        {R"({"detectors": [{"id": "a"}], "mqtt": {"client_id": "x"}})", "'mqtt.topics'"},
        {R"({"detectors": [{"id": "a"}], "mqtt": {"topics": ["t"]}})", "'mqtt.client_id'"},
        {R"({"detectors": [{"id": "a"}], "mqtt": "localhost"})", "MQTT settings"},
    };
    for (const Case& c : cases) {
        std::string err;
        EXPECT_FALSE(parseConfig(c.json, err)) << c.json;
        EXPECT_NE(err.find(c.mentions), std::string::npos) << c.json << " → " << err;
        EXPECT_EQ(err.rfind("traffic config: ", 0), 0u) << err;
    }
}

// --- The plugin through its C ABI ---------------------------------------------------------------

struct SensorRec {
    std::string id, name, quantity, unit;
    double lon, lat, warn, alarm;
    json properties;
};
struct ObsRec {
    std::string sensor;
    double time, value;
    int quality;
    int64_t dedup;
    Clock::time_point at;
};

// A host that records everything, thread-safe, with waits.
class Host {
  public:
    citytwin_host_api api{};
    Host() {
        api.abi_major = CITYTWIN_PLUGIN_ABI_MAJOR;
        api.abi_minor = CITYTWIN_PLUGIN_ABI_MINOR;
        api.host = this;
        api.announce_sensor = [](void* h, const citytwin_sensor* s) {
            auto* t = static_cast<Host*>(h);
            std::lock_guard lock(t->m);
            t->sensors.push_back({s->id, s->name ? s->name : "", s->quantity ? s->quantity : "",
                                  s->unit ? s->unit : "", s->lon, s->lat, s->warn_above, s->alarm_above,
                                  s->properties_json ? json::parse(s->properties_json) : json()});
            t->cv.notify_all();
        };
        api.publish = [](void* h, const citytwin_observation* o, size_t n) {
            auto* t = static_cast<Host*>(h);
            std::lock_guard lock(t->m);
            for (size_t k = 0; k < n; ++k)
                t->obs.push_back({o[k].sensor_id, o[k].phenomenon_time, o[k].value, o[k].quality,
                                  o[k].dedup_key, Clock::now()});
            t->cv.notify_all();
            return 0;
        };
        api.log = [](void* h, citytwin_log_level, const char* text) {
            auto* t = static_cast<Host*>(h);
            std::lock_guard lock(t->m);
            t->logs.push_back(text);
        };
        api.report_status = [](void* h, citytwin_status s, const char* detail) {
            auto* t = static_cast<Host*>(h);
            std::lock_guard lock(t->m);
            t->statuses.push_back({s, detail ? detail : ""});
            t->cv.notify_all();
        };
        api.count_rejected = [](void* h, const char* reason) {
            auto* t = static_cast<Host*>(h);
            std::lock_guard lock(t->m);
            ++t->rejected[reason];
            t->cv.notify_all();
        };
    }
    bool waitFor(const std::function<bool()>& pred, double timeoutS) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::duration<double>(timeoutS), pred);
    }
    bool waitForStatus(citytwin_status s, double timeoutS) {
        return waitFor(
            [&] {
                return std::any_of(statuses.begin(), statuses.end(), [&](auto& x) { return x.first == s; });
            },
            timeoutS);
    }
    template <class F> auto locked(F&& f) {
        std::lock_guard lock(m);
        return f();
    }
    std::string statusText() {
        return locked([&] {
            std::string s;
            for (auto& [st, d] : statuses)
                s += std::to_string(st) + ": " + d + "\n";
            return s;
        });
    }
    int totalRejected() {
        return locked([&] {
            int n = 0;
            for (auto& [r, c] : rejected)
                n += c;
            return n;
        });
    }

    std::mutex m;
    std::condition_variable cv;
    std::vector<SensorRec> sensors;
    std::vector<ObsRec> obs;
    std::vector<std::string> logs;
    std::vector<std::pair<citytwin_status, std::string>> statuses;
    std::map<std::string, int> rejected;
};

const mqtt_test::PluginLib& plugin() {
    static mqtt_test::PluginLib lib(CITYTWIN_TRAFFIC_PLUGIN);
    return lib;
}

// One instance: create (throws with the plugin's error), start, stop + destroy at the end.
class Instance {
  public:
    Instance(Host& host, const std::string& config) : m_api(plugin().api) {
        char err[512] = {};
        m_instance = m_api->create(&host.api, config.c_str(), err, sizeof err);
        if (!m_instance) throw std::runtime_error(std::string("create failed: ") + err);
    }
    ~Instance() {
        m_api->stop(m_instance);
        m_api->destroy(m_instance);
    }
    int start(std::string* error = nullptr) {
        char err[512] = {};
        int rc = m_api->start(m_instance, err, sizeof err);
        if (error) *error = err;
        return rc;
    }
    void stop() { m_api->stop(m_instance); }

  private:
    const citytwin_plugin_api* m_api;
    void* m_instance = nullptr;
};

std::string createError(const std::string& config) {
    Host host;
    char err[512] = {};
    void* inst = plugin().api->create(&host.api, config.c_str(), err, sizeof err);
    if (inst) {
        plugin().api->destroy(inst);
        return "(created)";
    }
    return err;
}

TEST(TrafficPlugin, AnnouncesDetectorsAndReplaysTheFileInTimeOrder) {
    const citytwin_plugin_api* api = plugin().api;
    EXPECT_EQ(api->abi_major, CITYTWIN_PLUGIN_ABI_MAJOR);
    EXPECT_EQ(api->abi_minor, CITYTWIN_PLUGIN_ABI_MINOR);
    EXPECT_STREQ(api->name, "traffic");
    EXPECT_EQ(plugin().entryFn(CITYTWIN_PLUGIN_ABI_MAJOR + 1), nullptr);

    mqtt_test::TempDir dir;
    std::ofstream(dir.path / "counts.csv")
        << "detector,begin,end,count\n"
           "d2,2026-02-01T08:05:00Z,2026-02-01T08:10:00Z,60\n"
           "hauptstrasse-nord,2026-02-01T09:15:00+01:00,2026-02-01T09:30:00+01:00,123\n"
           "d3,2026-02-01T08:00:00Z,2026-02-01T08:10:00Z,20\n"
           "d2,2026-02-01T08:00:00Z,2026-02-01T08:05:00Z,50\n"
           "ghost,2026-02-01T08:00:00Z,2026-02-01T08:05:00Z,1\n"
           "d2,2026-02-01T08:10:00Z,2026-02-01T08:15:00Z,-4\n"
           "hauptstrasse-nord,2026-02-01T07:45:00Z,,100\n";
    Host host;
    {
        Instance inst(host, R"({"scenario_dir": ")" + dir.path.string() +
                                R"j(", "file": "counts.csv", "detectors": [
            {"id": "hauptstrasse-nord", "name": "Zählstelle Hauptstraße (Richtung Nord)", "lon": 8.64, "lat": 51.76,
             "heading": 90, "interval": "15min"},
            {"id": "d2", "edge": "123", "interval_s": 300, "lanes": 2, "warn_above": 900, "alarm_above": 1200},
            {"id": "d3"}]})j");
        ASSERT_EQ(inst.start(), 0);
        ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_STOPPED, 10)) << host.statusText();
    }
    std::lock_guard lock(host.m);
    ASSERT_EQ(host.sensors.size(), 3u);
    std::map<std::string, SensorRec> s;
    for (const auto& r : host.sensors)
        s[r.id] = r;
    for (const auto& [id, r] : s) {
        EXPECT_EQ(r.quantity, "traffic_count") << id;
        EXPECT_EQ(r.unit, "veh/h") << id;
    }
    const SensorRec& h = s["hauptstrasse-nord"];
    EXPECT_EQ(h.name, "Zählstelle Hauptstraße (Richtung Nord)");
    EXPECT_EQ(h.lon, 8.64);
    EXPECT_EQ(h.lat, 51.76);
    EXPECT_TRUE(std::isnan(h.warn));
    EXPECT_EQ(h.properties, json({{"heading", 90}, {"interval_s", 900}}));
    const SensorRec& d2 = s["d2"];
    EXPECT_EQ(d2.name, "d2");
    EXPECT_TRUE(std::isnan(d2.lon));
    EXPECT_EQ(d2.warn, 900);
    EXPECT_EQ(d2.alarm, 1200);
    EXPECT_EQ(d2.properties, json({{"edge", "123"}, {"interval_s", 300}, {"lanes", 2}}));
    // d3 has no interval: its first count (10 min) fixed it before it was announced.
    EXPECT_EQ(s["d3"].properties, json({{"interval_s", 600}}));

    // Begin-time order (ties in file order), each value the hourly flow; the bad rows counted,
    // not played.
    struct Want {
        const char* sensor;
        double time, value;
    };
    const Want want[] = {
        {"hauptstrasse-nord", utc(2026, 2, 1, 7, 45), 100 * 4.0},
        {"d3", utc(2026, 2, 1, 8, 0), 20 * 6.0},
        {"d2", utc(2026, 2, 1, 8, 0), 50 * 12.0},
        {"d2", utc(2026, 2, 1, 8, 5), 60 * 12.0},
        {"hauptstrasse-nord", utc(2026, 2, 1, 8, 15), 123 * 4.0},
    };
    ASSERT_EQ(host.obs.size(), std::size(want));
    for (size_t k = 0; k < host.obs.size(); ++k) {
        if (k > 0) {
            EXPECT_GE(host.obs[k].time, host.obs[k - 1].time);
        }
        EXPECT_EQ(host.obs[k].sensor, want[k].sensor) << k;
        EXPECT_EQ(host.obs[k].time, want[k].time) << k;
        EXPECT_EQ(host.obs[k].value, want[k].value) << k;
        EXPECT_EQ(host.obs[k].dedup, -1);
        EXPECT_EQ(host.obs[k].quality, 0);
    }
    EXPECT_EQ(host.rejected, (std::map<std::string, int>{{"unknown_detector", 1}, {"invalid_count", 1}}));
    // d3 has no place: warned about once.
    EXPECT_EQ(
        std::count_if(host.logs.begin(), host.logs.end(),
                      [](const std::string& l) { return l.find("\"d3\" has neither") != std::string::npos; }),
        1);
    ASSERT_GE(host.statuses.size(), 2u);
    EXPECT_EQ(host.statuses.front().first, CITYTWIN_STATUS_CONNECTED);
    EXPECT_EQ(host.statuses.back().first, CITYTWIN_STATUS_STOPPED);
    EXPECT_NE(host.statuses.back().second.find("finished"), std::string::npos);
}

TEST(TrafficPlugin, ReplaysAtTheChosenSpeed) {
    mqtt_test::TempDir dir;
    std::ofstream(dir.path / "counts.csv") << "detector,begin,count\n"
                                              "d,2026-02-01T08:00:00Z,10\n"
                                              "d,2026-02-01T08:15:00Z,20\n"
                                              "d,2026-02-01T08:30:00Z,30\n";
    Host host;
    Instance inst(host, R"({"file": ")" + (dir.path / "counts.csv").string() +
                            R"(", "speed": 9000, "detectors": [{"id": "d", "interval": "15min"}]})");
    ASSERT_EQ(inst.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_STOPPED, 10)) << host.statusText();
    std::lock_guard lock(host.m);
    ASSERT_EQ(host.obs.size(), 3u);
    // 1800 s of counts at 9000× take 0.2 s: 0.1 s from one row to the next.
    double span = std::chrono::duration<double>(host.obs[2].at - host.obs[0].at).count();
    EXPECT_GE(span, 0.18);
    EXPECT_LT(span, 2.0);
    for (size_t k = 1; k < 3; ++k) {
        double gap = std::chrono::duration<double>(host.obs[k].at - host.obs[k - 1].at).count();
        EXPECT_GE(gap, 0.08) << k;
    }
    EXPECT_EQ(host.obs[2].value, 120);
}

TEST(TrafficPlugin, StopEndsASlowReplayAtOnce) {
    mqtt_test::TempDir dir;
    std::ofstream(dir.path / "counts.csv")
        << "detector,begin,count\nd,2026-02-01T08:00:00Z,10\nd,2026-02-01T09:00:00Z,20\n";
    Host host;
    Instance inst(host, R"({"file": ")" + (dir.path / "counts.csv").string() +
                            R"(", "speed": 1, "detectors": [{"id": "d", "interval": "1h"}]})");
    ASSERT_EQ(inst.start(), 0);
    ASSERT_TRUE(host.waitFor([&] { return host.obs.size() == 1; }, 5));
    auto t0 = Clock::now();
    inst.stop();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 1.0);
    std::lock_guard lock(host.m);
    EXPECT_EQ(host.obs.size(), 1u);
    EXPECT_EQ(host.statuses.back(), std::pair(CITYTWIN_STATUS_STOPPED, std::string("stopped")));
}

TEST(TrafficPlugin, ConfigurationErrorsRefuseCreateWithTheReason) {
    mqtt_test::TempDir dir;
    std::ofstream(dir.path / "long.csv") << "detector,begin,end,count\n";
    std::ofstream(dir.path / "nocount.csv") << "detector,begin,end,vehicles\nd,2026-02-01T08:00:00Z,,1\n";
    const std::string d = R"("detectors": [{"id": "d", "interval": "15min"}])";
    const std::string in = R"("scenario_dir": ")" + dir.path.string() + R"(", )";
    struct Case {
        std::string config;
        std::vector<std::string> mentions;
    };
    const Case cases[] = {
        {R"({"file": "x.csv"})", {"'detectors' is required"}},
        {R"({"file": "long.csv", "detectors": [{"id": "d"}, {"id": "d"}]})", {"\"d\" is used twice"}},
        {"{" + in + R"("file": "missing.csv", )" + d + "}",
         {"cannot read", "missing.csv", "scenario's folder"}},
        {"{" + in + R"("file": "nocount.csv", )" + d + "}", {"nocount.csv", "no column 'count'", "vehicles"}},
        {"{" + in + R"("file": "long.csv", "format": "tall", )" + d + "}", {"'format'"}},
        {"{" + in + R"("file": "long.csv", "detectors": [{"id": "d", "interval": "soon"}]})",
         {"detectors[0].interval"}},
        {"{" + in + R"("detectors": [{"id": "d"}]})", {"'file'", "'mqtt'"}},
        {"not json", {"not valid JSON"}},
    };
    for (const Case& c : cases) {
        std::string err = createError(c.config);
        for (const auto& m : c.mentions)
            EXPECT_NE(err.find(m), std::string::npos) << c.config << " → " << err;
    }
    // A file that goes away between create and start fails start, with its name.
    std::ofstream(dir.path / "gone.csv") << "detector,begin,end,count\n";
    Host host;
    Instance inst(host, "{" + in + R"("file": "gone.csv", )" + d + "}");
    fs::remove(dir.path / "gone.csv");
    std::string err;
    EXPECT_NE(inst.start(&err), 0);
    EXPECT_NE(err.find("gone.csv"), std::string::npos) << err;
}

TEST(TrafficPlugin, ExportsOnlyItsEntry) {
    FILE* p = popen("nm -D --defined-only " CITYTWIN_TRAFFIC_PLUGIN " 2>/dev/null", "r");
    ASSERT_TRUE(p);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p))
        out += buf;
    pclose(p);
    if (out.empty()) GTEST_SKIP() << "nm is not available";
    std::istringstream lines(out);
    std::vector<std::string> exported;
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ls(line);
        std::string addr, type, name;
        ls >> addr >> type >> name;
        if (!name.empty() && type != "A") exported.push_back(name);
    }
    EXPECT_EQ(exported, std::vector<std::string>{"citytwin_plugin_entry"}) << out;
}

// --- With a real broker -------------------------------------------------------------------------

std::string brokerBinary() {
    std::string configured = CITYTWIN_MOSQUITTO_BROKER;
    if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos) return configured;
    for (const char* p : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"})
        if (access(p, X_OK) == 0) return p;
    return "";
}

class TrafficBroker : public ::testing::Test {
  protected:
    void SetUp() override {
        if (brokerBinary().empty())
            GTEST_SKIP() << "mosquitto (the broker) is not installed: apt-get install mosquitto";
        port = mqtt_test::freePort();
        broker = std::make_unique<mqtt_test::Broker>(brokerBinary(), dir.path, port);
        broker->start();
    }
    void TearDown() override {
        if (HasFailure() && broker)
            std::fprintf(stderr, "--- mosquitto log ---\n%s\n",
                         mqtt_test::readFile(broker->logPath()).c_str());
    }
    std::string mqttConfig(const std::string& clientId) const {
        return R"("mqtt": {"host": "127.0.0.1", "port": )" + std::to_string(port) + R"(, "client_id": ")" +
               clientId +
               R"(", "topics": ["traffic/counts/#"], "qos": 1, "reconnect_min_s": 0.2, "reconnect_max_s": 1})";
    }
    // Publishes a count at time 0 until one arrives, so the plugin's subscription is in place
    // before the test's messages go out. Returns whether one did.
    static bool probe(Host& host, mqtt_test::Publisher& pub, const std::string& detector) {
        auto t0 = Clock::now();
        while (mqtt_test::secondsSince(t0) < 10) {
            pub.publish("traffic/counts/probe",
                        R"({"detector": ")" + detector + R"(", "begin": 0, "count": 0})");
            if (host.waitFor(
                    [&] {
                        return std::any_of(host.obs.begin(), host.obs.end(),
                                           [](auto& o) { return o.time == 0; });
                    },
                    0.2))
                return true;
        }
        return false;
    }
    // The observations other than the probes (a probe may arrive more than once).
    static std::vector<ObsRec> counted(const std::vector<ObsRec>& obs) {
        std::vector<ObsRec> out;
        std::copy_if(obs.begin(), obs.end(), std::back_inserter(out), [](auto& o) { return o.time != 0; });
        return out;
    }
    mqtt_test::TempDir dir;
    int port = 0;
    std::unique_ptr<mqtt_test::Broker> broker;
};

TEST_F(TrafficBroker, CountMessagesArriveAndBadOnesAreCountedByReason) {
    Host host;
    Instance inst(
        host,
        R"({"detectors": [{"id": "d2", "edge": "123", "interval_s": 900}, {"id": "d4", "edge": "9"}], )" +
            mqttConfig("citytwin-traffic-test") + "}");
    ASSERT_EQ(inst.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 10)) << host.statusText();
    mqtt_test::Publisher pub(port, "traffic-publisher");
    ASSERT_TRUE(probe(host, pub, "d2")) << host.statusText();

    pub.publish(
        "traffic/counts/d2",
        R"({"detector": "d2", "begin": "2026-02-01T08:00:00Z", "end": "2026-02-01T08:15:00Z", "count": 123})");
    pub.publish("traffic/counts/batch", R"([
        {"detector": "d2", "begin": 1769933700, "interval_s": 900, "count": 100},
        {"detector": "d2", "begin": "2026-02-01T09:30:00+01:00", "count": 50},
        {"detector": "d4", "begin": "2026-02-01T08:00:00Z", "end": "2026-02-01T08:05:00Z", "count": 10}])");
    pub.publish("traffic/counts/x", "{\"detector\": ");
    pub.publish("traffic/counts/x", R"({"detector": "d99", "begin": "2026-02-01T08:00:00Z", "count": 1})");
    pub.publish(
        "traffic/counts/x",
        R"({"detector": "d2", "begin": "2026-02-01T08:00:00Z", "end": "2026-02-01T08:10:00Z", "count": 1})");
    pub.publish("traffic/counts/x", R"({"detector": "d2", "begin": "later", "count": 1})");
    pub.publish("traffic/counts/x", R"({"detector": "d2", "begin": "2026-02-01T08:00:00Z", "count": -5})");
    pub.publish("traffic/counts/x", "[" + std::string(70000, ' ') + "]");
    ASSERT_TRUE(pub.waitAcked(10));
    ASSERT_TRUE(host.waitFor([&] { return counted(host.obs).size() >= 4; }, 10)) << host.statusText();
    ASSERT_TRUE(host.waitFor(
        [&] {
            int n = 0;
            for (auto& [r, c] : host.rejected)
                n += c;
            return n >= 6;
        },
        10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // nothing more comes
    std::lock_guard lock(host.m);
    const std::vector<ObsRec> obs = counted(host.obs);
    ASSERT_EQ(obs.size(), 4u);
    const double t = utc(2026, 2, 1, 8, 0);
    struct Want {
        const char* sensor;
        double time, value;
    };
    const Want want[] = {{"d2", t, 492}, {"d2", t + 900, 400}, {"d2", t + 1800, 200}, {"d4", t, 120}};
    for (size_t k = 0; k < 4; ++k) {
        const ObsRec& o = obs[k];
        EXPECT_EQ(o.sensor, want[k].sensor) << k;
        EXPECT_EQ(o.time, want[k].time) << k;
        EXPECT_EQ(o.value, want[k].value) << k;
        EXPECT_EQ(o.dedup, -1);
    }
    EXPECT_EQ(host.rejected, (std::map<std::string, int>{{"malformed_json", 1},
                                                         {"unknown_detector", 1},
                                                         {"interval_mismatch", 1},
                                                         {"invalid_time", 1},
                                                         {"invalid_count", 1},
                                                         {"payload_too_large", 1}}));
    // d4 was announced at start without an interval, and again once its first count fixed it.
    std::vector<json> d4;
    for (const auto& s : host.sensors)
        if (s.id == "d4") d4.push_back(s.properties);
    EXPECT_EQ(d4, (std::vector<json>{json({{"edge", "9"}}), json({{"edge", "9"}, {"interval_s", 300}})}));
    EXPECT_EQ(host.statuses.back().first, CITYTWIN_STATUS_CONNECTED);
}

TEST_F(TrafficBroker, WithMqttTheFeedStaysConnectedAfterTheFile) {
    std::ofstream(dir.path / "counts.csv")
        << "detector,begin,count\nd,2026-02-01T08:00:00Z,10\nd,2026-02-01T08:15:00Z,20\n";
    Host host;
    Instance inst(host, R"({"file": ")" + (dir.path / "counts.csv").string() +
                            R"(", "detectors": [{"id": "d", "interval": "15min"}], )" +
                            mqttConfig("citytwin-traffic-both") + "}");
    ASSERT_EQ(inst.start(), 0);
    ASSERT_TRUE(host.waitForStatus(CITYTWIN_STATUS_CONNECTED, 10)) << host.statusText();
    ASSERT_TRUE(host.waitFor([&] { return host.obs.size() >= 2; }, 10));
    mqtt_test::Publisher pub(port, "traffic-publisher-2");
    ASSERT_TRUE(probe(host, pub, "d")) << host.statusText();
    pub.publish("traffic/counts/d", R"({"detector": "d", "begin": "2026-02-01T08:30:00Z", "count": 30})");
    ASSERT_TRUE(host.waitFor(
        [&] {
            return std::any_of(host.obs.begin(), host.obs.end(),
                               [](const ObsRec& o) { return o.value == 120; });
        },
        10))
        << host.statusText();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
        std::lock_guard lock(host.m);
        EXPECT_TRUE(std::none_of(host.statuses.begin(), host.statuses.end(), [](auto& s) {
            return s.first == CITYTWIN_STATUS_STOPPED;
        })) << "the file's end must not stop a feed that also listens to MQTT";
        EXPECT_EQ(host.obs[0].value, 40);
        EXPECT_EQ(host.obs[1].value, 80);
    }
    inst.stop();
    std::lock_guard lock(host.m);
    EXPECT_EQ(host.statuses.back(), std::pair(CITYTWIN_STATUS_STOPPED, std::string("stopped")));
}

// --- Regressions found by tools/fuzz/fuzz_traffic ------------------------------------------------

// A detector without an interval took its first count's length even when that was a fraction of
// a second (an end 1 ms after the begin, epoch .5), so later counts became flows of up to
// 3.6e12 veh/h. A learned interval is held to the configured range, 1 s … 1 day.
TEST(TrafficParse, AFirstCountUnderASecondFixesNoInterval) {
    TrafficConfig cfg = configOf(R"([{"id": "d1"}, {"id": "d2"}])");
    DetectorTable table(cfg.detectors);
    Checked k = check(table, readText("detector,begin,end,count\n"
                                      "d1,2026-02-01T08:00:00Z,2026-02-01T08:00:00.001Z,5\n",
                                      cfg));
    EXPECT_TRUE(k.counts.empty());
    EXPECT_EQ(k.reasons, std::vector<std::string>{reason::InvalidTime});
    k = check(table, parseMessage(R"({"detector": "d2", "begin": 1769932800, "end": 1769932800.5, "count": 1})",
                                  cfg.time));
    EXPECT_TRUE(k.counts.empty());
    EXPECT_EQ(k.reasons, std::vector<std::string>{reason::InvalidTime});
    EXPECT_EQ(json::parse(table.propertiesJson(0)), json::object()) << "no interval learned";
    // One second is the shortest: learned, a flow of count × 3600.
    k = check(table, parseMessage(R"({"detector": "d2", "begin": 1769932800, "end": 1769932801, "count": 2})",
                                  cfg.time));
    ASSERT_EQ(k.counts.size(), 1u);
    EXPECT_EQ(k.counts[0].flowVehH, 7200);
}

// A heading just below 0 (-1e-20) became 360 after adding a turn, outside the documented
// [0, 360); it is 0 now, and -90 is still 270.
TEST(TrafficConfigParse, HeadingsStayBelow360) {
    TrafficConfig cfg = configOf(R"([{"id": "a", "heading": -1e-20}, {"id": "b", "heading": -90}, {"id": "c", "heading": 720}])");
    EXPECT_EQ(cfg.detectors[0].headingDeg, 0);
    EXPECT_EQ(cfg.detectors[1].headingDeg, 270);
    EXPECT_EQ(cfg.detectors[2].headingDeg, 0);
}

// "23:45 - 00:00" ends on the next day: its end was the date's 00:00 plus 86400 s, an hour off
// where summer time begins or ends in between. In Europe/Berlin on 2021-10-31 (CEST → CET) it
// ended before it began (22:45Z .. 22:00Z); on 2021-03-28 (CET → CEST) it lasted 75 min. Now
// the end is read on the next date: 23:45 CET = 22:45Z .. 00:00 CET = 23:00Z, and 23:45 CEST =
// 21:45Z .. 00:00 CEST = 22:00Z.
TEST(TrafficParse, ClockRangesOverMidnightOnSummerTimeDays) {
    TimeSettings october;
    october.zone.timezone = "Europe/Berlin";
    october.date = "2021-10-31";
    auto c = parseTimeCell("23:45 - 00:00", october);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->begin, utc(2021, 10, 31, 22, 45));
    EXPECT_EQ(c->end, utc(2021, 10, 31, 23, 0));
    TimeSettings march = october;
    march.date = "2021-03-28";
    c = parseTimeCell("23:45 - 00:00", march);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->begin, utc(2021, 3, 28, 21, 45));
    EXPECT_EQ(c->end, utc(2021, 3, 28, 22, 0));
    // Month and year ends, in UTC: the next date is 2021-03-01 and 2022-01-01.
    TimeSettings plain;
    plain.date = "2021-02-28";
    c = parseTimeCell("23:55 - 00:05", plain);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->end, utc(2021, 3, 1, 0, 5));
    plain.date = "2021-12-31";
    c = parseTimeCell("23:00 - 01:00", plain);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->end, utc(2022, 1, 1, 1, 0));
    // Through a wide sheet: the last 15 minutes of 2021-10-31 are a 15-minute count.
    TrafficConfig cfg = configOf(R"([{"id": "d1", "interval": "15min"}])",
                                 R"("format": "wide", "timezone": "Europe/Berlin", "date": "2021-10-31")");
    DetectorTable table(cfg.detectors);
    Checked k = check(table, readText("Zeitraum,d1\n23:30 - 23:45,10\n23:45 - 00:00,20\n", cfg));
    EXPECT_TRUE(k.reasons.empty()) << k.reasons[0];
    ASSERT_EQ(k.counts.size(), 2u);
    EXPECT_EQ(k.counts[1].begin, utc(2021, 10, 31, 22, 45));
    EXPECT_EQ(k.counts[1].flowVehH, 80);
}

} // namespace
