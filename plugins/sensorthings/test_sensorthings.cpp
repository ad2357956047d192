// The SensorThings plugin: its parsers against independent references (timegm, hand-written
// JSON), and the built plugin loaded by the real FeedHost into a SensorStore in a temp dir,
// polling a SensorThings service that this test serves itself over HTTP (POSIX sockets): a
// small in-memory "FROST" with server-side paging (@iot.nextLink), $filter on phenomenonTime
// with FROST's interval semantics (an interval is "gt" an instant when its start is), an HTTP
// 500 on the first try, a Datastream without location and non-numeric results. The MQTT
// extension runs against a real mosquitto (skipped without one).
#include "StaConfig.h"
#include "StaParse.h"
#include "feeds/PluginHost.h"
#include "feeds/SensorStore.h"
#include "mqtt/MqttTestSupport.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace citytwin::sta;
using nlohmann::json;
using mqtt_test::TempDir;
namespace feeds = ct::feeds;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class Pred> bool waitFor(Pred pred, double seconds) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

// --- Independent time reference: sscanf + timegm ---------------------------------------------

// "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)"
double refTime(const std::string& s) {
    std::tm tm{};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) return NAN;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    double t = static_cast<double>(timegm(&tm));
    size_t p = 19;
    if (p < s.size() && s[p] == '.') {
        size_t q = p + 1;
        while (q < s.size() && isdigit(static_cast<unsigned char>(s[q]))) ++q;
        t += std::stod("0" + s.substr(p, q - p));
        p = q;
    }
    if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        int oh = 0, om = 0;
        std::sscanf(s.c_str() + p + 1, "%d:%d", &oh, &om);
        t -= (s[p] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    return t;
}

std::string refFormat(double t) { // whole seconds, as the plugin writes them: ".000Z"
    time_t tt = static_cast<time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
}

// --- A tiny HTTP/1.1 server: one request per connection, "Connection: close" -----------------

std::string urlDecode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct Request {
    std::string target, path, authorization;
    std::map<std::string, std::string> query; // decoded
    Clock::time_point at;
};

struct Response {
    int status = 200;
    std::string body;
    bool hang = false; // never answer (the connection stays open until the server ends)
};

class HttpServer {
  public:
    using Handler = std::function<Response(const Request&)>;
    explicit HttpServer(Handler h) : handler(std::move(h)) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0)
            throw std::runtime_error("cannot listen");
        socklen_t len = sizeof a;
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        serverPort = ntohs(a.sin_port);
        thread = std::thread([this] { loop(); });
    }
    ~HttpServer() {
        done = true;
        thread.join();
        for (int h : hung) close(h);
        close(fd);
    }
    int port() const { return serverPort; }
    std::vector<Request> requests() {
        std::lock_guard lock(m);
        return log;
    }

  private:
    void loop() {
        while (!done) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            int c = accept(fd, nullptr, nullptr);
            if (c < 0) continue;
            timeval tv{2, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string in;
            char buf[4096];
            while (in.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                in.append(buf, size_t(n));
            }
            Request r;
            r.at = Clock::now();
            size_t sp1 = in.find(' '), sp2 = in.find(' ', sp1 + 1);
            if (sp1 == std::string::npos || sp2 == std::string::npos) {
                close(c);
                continue;
            }
            r.target = in.substr(sp1 + 1, sp2 - sp1 - 1);
            size_t q = r.target.find('?');
            r.path = urlDecode(r.target.substr(0, q));
            if (q != std::string::npos) {
                std::string qs = r.target.substr(q + 1);
                size_t start = 0;
                while (start <= qs.size()) {
                    size_t amp = qs.find('&', start);
                    std::string kv = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
                    size_t eq = kv.find('=');
                    if (!kv.empty()) r.query[urlDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : urlDecode(kv.substr(eq + 1));
                    if (amp == std::string::npos) break;
                    start = amp + 1;
                }
            }
            for (size_t p0 = in.find("\r\n"); p0 != std::string::npos && p0 + 2 < in.size(); p0 = in.find("\r\n", p0 + 2)) {
                std::string line = in.substr(p0 + 2, in.find("\r\n", p0 + 2) - p0 - 2);
                if (strncasecmp(line.c_str(), "Authorization: ", 15) == 0) r.authorization = line.substr(15);
            }
            {
                std::lock_guard lock(m);
                log.push_back(r);
            }
            Response resp = handler(r);
            if (resp.hang) {
                hung.push_back(c);
                continue;
            }
            std::string reason = resp.status == 200 ? "OK" : resp.status == 500 ? "Internal Server Error" : "Error";
            std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(resp.body.size()) +
                              "\r\nConnection: close\r\n\r\n" + resp.body;
            size_t sent = 0;
            while (sent < out.size()) {
                ssize_t n = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += size_t(n);
            }
            close(c);
        }
    }

    Handler handler;
    int fd = -1, serverPort = 0;
    std::thread thread;
    std::atomic<bool> done{false};
    std::mutex m;
    std::vector<Request> log;
    std::vector<int> hung;
};

// --- The in-memory SensorThings service ------------------------------------------------------

const char* kRoot = "/FROST-Server/v1.1";
const char* kSince = "2026-03-01T00:00:00Z";

// Five Datastreams. 1 and 2: GeoJSON Points (1 with elevation); 3: its Thing has no Location;
// 'pegel-4': a string id and a Feature; 5: a Point in UTM (EPSG:25832), which is no WGS84
// location either.
json datastreamsJson() {
    return json::parse(R"([
 {"@iot.id": 1, "name": "Brunnen 1 Grundwasserstand", "description": "well",
  "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "http://qudt.org/vocab/unit/M"},
  "ObservedProperty": {"@iot.id": 1, "name": "groundwater_level", "definition": "x"},
  "Sensor": {"@iot.id": 1, "name": "Keller PR-46X"},
  "Thing": {"@iot.id": 10, "name": "Brunnen 1", "Locations": [
    {"@iot.id": 100, "name": "Brunnen 1", "encodingType": "application/geo+json",
     "location": {"type": "Point", "coordinates": [8.5654, 51.7667, 95.5]}}]}},
 {"@iot.id": 2, "name": "Pumpwerk Ost Durchfluss",
  "unitOfMeasurement": {"name": "cubic metre per hour", "symbol": "m³/h"},
  "ObservedProperty": {"name": "flow"}, "Sensor": {"name": "MID"},
  "Thing": {"name": "Pumpwerk Ost", "Locations": [
    {"encodingType": "application/vnd.geo+json", "location": {"type": "Point", "coordinates": [8.61, 51.77]}},
    {"encodingType": "application/vnd.geo+json", "location": {"type": "Point", "coordinates": [0, 0]}}]}},
 {"@iot.id": 3, "name": "Pegel Lippe",
  "unitOfMeasurement": {"name": "centimetre", "symbol": "cm"},
  "ObservedProperty": {"name": "river_level"}, "Sensor": {"name": "radar"},
  "Thing": {"name": "Pegel Lippe", "Locations": []}},
 {"@iot.id": "pegel-4", "name": "Verkehrszählung B1",
  "unitOfMeasurement": {"name": "vehicles per hour", "symbol": "veh/h"},
  "ObservedProperty": {"name": "traffic_count"}, "Sensor": {"name": "loop"},
  "Thing": {"name": "B1", "Locations": [{"encodingType": "application/geo+json",
     "location": {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [8.7, 51.72]}}}]}},
 {"@iot.id": 5, "name": "Niederschlag Rathaus",
  "unitOfMeasurement": {"name": "millimetre", "symbol": null},
  "ObservedProperty": {"name": "precipitation"}, "Sensor": {"name": "tipping bucket"},
  "Thing": {"name": "Rathaus", "Locations": [{"encodingType": "application/geo+json",
     "location": {"type": "Point", "crs": {"type": "name", "properties": {"name": "EPSG:25832"}},
                  "coordinates": [477000, 5729000]}}]}}
])");
}

struct FakeObs {
    json id;
    std::string time; // phenomenonTime as served
    json result;
};

class FakeSta {
  public:
    FakeSta() : datastreams(datastreamsJson()), server([this](const Request& r) { return handle(r); }) {
        base = "http://127.0.0.1:" + std::to_string(server.port()) + kRoot;
    }

    std::string base;
    std::mutex m;
    json datastreams;
    std::map<std::string, std::vector<FakeObs>> obs; // by the id literal in the URL: "1", "'pegel-4'"
    std::map<std::string, int> fail500;              // answer this many 500s first
    std::map<std::string, int> served500;
    std::map<std::string, double> servedMax;         // the newest start time served per Datastream
    std::vector<std::string> filterMismatches;
    std::function<Response(const Request&)> override; // replaces everything when set
    int maxPage = 2; // the server's own page limit (FROST: maxTop)
    HttpServer server; // last: its thread starts after, and ends before, the data it serves

    void add(const std::string& ds, json id, const std::string& time, json result) {
        std::lock_guard lock(m);
        obs[ds].push_back({std::move(id), time, std::move(result)});
    }

    static double startOf(const std::string& time) { return refTime(time.substr(0, time.find('/'))); }

    Response handle(const Request& r) {
        std::lock_guard lock(m);
        if (override) return override(r);
        int skip = r.query.count("$skip") ? std::stoi(r.query.at("$skip")) : 0;
        int top = std::min(maxPage, r.query.count("$top") ? std::stoi(r.query.at("$top")) : maxPage);
        auto pageOf = [&](const json& all) {
            json page = {{"value", json::array()}};
            for (int k = skip; k < skip + top && k < int(all.size()); ++k) page["value"].push_back(all[size_t(k)]);
            if (skip + top < int(all.size())) { // FROST-style absolute nextLink with the query encoded
                std::string link = base + r.path.substr(std::string(kRoot).size()) + "?";
                std::map<std::string, std::string> q = r.query;
                q["$skip"] = std::to_string(skip + top);
                q["$top"] = std::to_string(top);
                bool first = true;
                for (auto& [k, v] : q) {
                    link += (first ? "" : "&") + k + "=" + encodeForLink(v);
                    first = false;
                }
                page["@iot.nextLink"] = link;
            }
            return page;
        };
        if (r.path == std::string(kRoot) + "/Datastreams") return {200, pageOf(datastreams).dump()};
        const std::string prefix = std::string(kRoot) + "/Datastreams(", suffix = ")/Observations";
        if (r.path.rfind(prefix, 0) == 0 && r.path.size() > prefix.size() + suffix.size() &&
            r.path.compare(r.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
            std::string lit = r.path.substr(prefix.size(), r.path.size() - prefix.size() - suffix.size());
            if (fail500[lit] > 0) {
                --fail500[lit];
                ++served500[lit];
                return {500, R"({"code": 500, "type": "error", "message": "database busy"})"};
            }
            std::string filter = r.query.count("$filter") ? r.query.at("$filter") : "";
            const std::string gt = "phenomenonTime gt ";
            double after = filter.rfind(gt, 0) == 0 ? refTime(filter.substr(gt.size())) : -1e18;
            if (!r.query.count("$skip")) { // a poll's first page: must ask after what it has
                std::string want = gt + (servedMax.count(lit) ? refFormat(servedMax[lit]) : refFormat(refTime(kSince)));
                if (filter != want) filterMismatches.push_back(lit + ": got '" + filter + "', want '" + want + "'");
            }
            std::vector<FakeObs> sel;
            for (const FakeObs& o : obs[lit])
                if (startOf(o.time) > after) sel.push_back(o); // FROST: interval gt instant ⇔ start > instant
            std::stable_sort(sel.begin(), sel.end(), [](const FakeObs& a, const FakeObs& b) { return startOf(a.time) < startOf(b.time); });
            json all = json::array();
            for (const FakeObs& o : sel) {
                json e = {{"@iot.id", o.id}, {"phenomenonTime", o.time}, {"result", o.result}};
                all.push_back(e);
            }
            json page = pageOf(all);
            for (const json& e : page["value"]) servedMax[lit] = std::max(servedMax.count(lit) ? servedMax[lit] : -1e18, startOf(e["phenomenonTime"]));
            return {200, page.dump()};
        }
        return {404, R"({"code": 404, "message": "Nothing found."})"};
    }

    static std::string encodeForLink(const std::string& v) {
        std::string out;
        for (unsigned char c : v) {
            if (isalnum(c) || strchr("-._~/,()'$@:", c)) out += char(c);
            else {
                char b[4];
                std::snprintf(b, sizeof b, "%%%02X", c);
                out += b;
            }
        }
        return out;
    }

    std::vector<Request> requestsFor(const std::string& path) {
        std::vector<Request> out;
        for (const Request& r : server.requests())
            if (r.path == std::string(kRoot) + path) out.push_back(r);
        return out;
    }
};

// Poll 1 (since 2026-03-01T00:00Z): 8 numeric observations, 2 non-numeric, 1 too old.
void addFirstData(FakeSta& s) {
    s.add("1", 100, "2026-02-28T23:00:00Z", 0.5); // before `since`: never asked for
    s.add("1", 101, "2026-03-01T10:00:00Z", 1.25);
    s.add("1", 102, "2026-03-01T10:15:00Z", 1.5);
    s.add("1", 103, "2026-03-01T10:30:00Z", "n/a"); // rejected: a string
    s.add("1", 104, "2026-03-01T10:45:00Z", 1.75);
    s.add("1", 105, "2026-03-01T11:00:00Z", 2.0);
    s.add("2", 201, "2026-03-01T10:00:00Z/2026-03-01T11:00:00Z", 42); // an hourly mean: published at its end
    s.add("2", 202, "2026-03-01T11:30:00+01:00", json{{"value", 3}}); // 10:30Z; rejected: an object
    s.add("3", 301, "2026-03-01T10:00:00Z", 55);
    s.add("3", 302, "2026-03-01T10:10:00Z", 56);
    s.add("5", 501, "2026-03-01T10:00:00Z", 7.5);
}

// Poll 2: 5 more. The next hourly mean starts where the last one ended: a client that kept the
// interval's end as its bound (gt 11:00) would never get it from FROST.
void addSecondData(FakeSta& s) {
    s.add("1", 106, "2026-03-01T11:15:00Z", 2.25);
    s.add("1", 107, "2026-03-01T11:30:00Z", 2.5);
    s.add("2", 203, "2026-03-01T11:00:00Z/2026-03-01T12:00:00Z", 43);
    s.add("3", 303, "2026-03-01T10:20:00Z", 57);
    s.add("'pegel-4'", "p4-1", "2026-03-01T10:05:00Z", 120);
}

// The host side, as citytwin runs it: FeedHost → FeedBus → pump → SensorStore in a temp dir.
struct Host {
    TempDir dir;
    feeds::SensorStore store{dir.path / "sensors.sqlite"};
    feeds::FeedHost host{store, options()};
    static feeds::FeedHostOptions options() {
        feeds::FeedHostOptions o;
        o.pluginDirs = {CITYTWIN_PLUGIN_DIR};
        o.pumpInterval = std::chrono::milliseconds(20);
        return o;
    }
    Host() { host.startPump(); }
    feeds::FeedStatus status(const std::string& feed = "sta") { return *host.status(feed); }
    uint64_t rejected(const std::string& reason, const std::string& feed = "sta") {
        auto s = status(feed);
        return s.rejectedBy.count(reason) ? s.rejectedBy.at(reason) : 0;
    }
    void add(const std::string& config, const std::string& name = "sta") { host.addFeed({name, "sensorthings", config}); }
};

std::string config(const FakeSta& s, const std::string& extra = "") {
    return R"({"url": ")" + s.base + R"(", "interval": 0.3, "since": ")" + kSince +
           R"(", "retry_min": 0.1, "retry_max": 0.5)" + extra + "}";
}

// =============================================================================================
// Parsers

TEST(Time, IsoInstantsAgainstTimegm) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int64_t> secs(-2000000000LL, 4000000000LL);
    std::uniform_int_distribution<int> ms(0, 999), zone(-14 * 4, 14 * 4);
    for (int k = 0; k < 2000; ++k) {
        time_t t = static_cast<time_t>(secs(rng));
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        int milli = ms(rng);
        char text[96];
        std::snprintf(text, sizeof text, "%s.%03dZ", buf, milli);
        auto got = parseIsoInstant(text);
        ASSERT_TRUE(got) << text;
        EXPECT_NEAR(*got, double(t) + milli / 1000.0, 1e-6) << text;
        // The same instant in another zone: local clock = UTC + offset.
        int offMin = zone(rng) * 15;
        time_t local = t + offMin * 60;
        gmtime_r(&local, &tm);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        std::snprintf(text, sizeof text, "%s%c%02d:%02d", buf, offMin < 0 ? '-' : '+', std::abs(offMin) / 60, std::abs(offMin) % 60);
        got = parseIsoInstant(text);
        ASSERT_TRUE(got) << text;
        EXPECT_EQ(*got, double(t)) << text;
    }
    EXPECT_EQ(*parseIsoInstant("2026-03-01"), refTime("2026-03-01T00:00:00Z"));
    EXPECT_EQ(*parseIsoInstant("2026-03-01 10:00:00"), refTime("2026-03-01T10:00:00Z")); // no zone: UTC
    EXPECT_EQ(*parseIsoInstant("2026-03-01T10:00:00+0130"), refTime("2026-03-01T08:30:00Z"));
    EXPECT_NEAR(*parseIsoInstant("2026-03-01T10:00:00.123456789Z"), refTime("2026-03-01T10:00:00Z") + 0.123456789, 1e-6);
    EXPECT_EQ(*parseIsoInstant("2024-02-29T00:00:00Z"), refTime("2024-02-29T00:00:00Z"));
    for (const char* bad : {"", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-01T25:00:00Z", "2026-03-01T10:00:00X",
                            "2026-03-01T10", "1772359200", "2026-03-01T10:00:00Z trailing", "26-03-01T10:00:00Z"})
        EXPECT_FALSE(parseIsoInstant(bad)) << bad;
}

TEST(Time, IntervalsDurationsAndTheFilterFormat) {
    auto span = parseTimeSpan("2026-03-01T10:00:00Z/2026-03-01T11:00:00Z");
    ASSERT_TRUE(span);
    EXPECT_EQ(span->start, refTime("2026-03-01T10:00:00Z"));
    EXPECT_EQ(span->end, refTime("2026-03-01T11:00:00Z"));
    span = parseTimeSpan("2026-03-01T11:30:00+01:00");
    ASSERT_TRUE(span);
    EXPECT_EQ(span->start, span->end);
    EXPECT_FALSE(parseTimeSpan("2026-03-01T11:00:00Z/2026-03-01T10:00:00Z")); // ends before it starts
    EXPECT_FALSE(parseTimeSpan("2026-03-01T11:00:00Z/"));

    EXPECT_EQ(*parseIsoDuration("PT6H"), 6 * 3600);
    EXPECT_EQ(*parseIsoDuration("P1DT2H30M"), 86400 + 2 * 3600 + 30 * 60);
    EXPECT_EQ(*parseIsoDuration("P2W"), 14 * 86400);
    EXPECT_EQ(*parseIsoDuration("PT0.5S"), 0.5);
    for (const char* bad : {"P", "PT", "P1M", "P1Y", "6H", "PT6", "PT-1H", "P1H"}) EXPECT_FALSE(parseIsoDuration(bad)) << bad;

    EXPECT_EQ(formatIsoMillis(refTime("2026-03-01T11:00:00Z")), "2026-03-01T11:00:00.000Z");
    EXPECT_EQ(formatIsoMillis(*parseIsoInstant("2026-03-01T11:00:00.123Z")), "2026-03-01T11:00:00.123Z");
    // Rounded down, never up: "gt" the written bound must not skip the value it was made of.
    EXPECT_EQ(formatIsoMillis(*parseIsoInstant("2026-03-01T11:00:00.1239Z")), "2026-03-01T11:00:00.123Z");
    EXPECT_EQ(formatIsoMillis(refTime("1969-12-31T23:59:59Z") + 0.5), "1969-12-31T23:59:59.500Z");
}

TEST(Url, EncodingKeepsODataReadableAndRoundTrips) {
    EXPECT_EQ(encodeQueryValue("phenomenonTime gt 2026-03-01T11:00:00.000Z"), "phenomenonTime%20gt%202026-03-01T11:00:00.000Z");
    EXPECT_EQ(encodeQueryValue("Thing/Locations,ObservedProperty,Sensor"), "Thing/Locations,ObservedProperty,Sensor");
    EXPECT_EQ(encodeQueryValue("a+b&c=d#e?"), "a%2Bb%26c%3Dd%23e%3F");
    std::string all;
    for (int c = 1; c < 256; ++c) all += char(c);
    EXPECT_EQ(urlDecode(encodeQueryValue(all)), all);
    EXPECT_EQ(percentDecode("a%20b+c%2B"), "a b+c+");
    EXPECT_EQ(redactUrl("https://alice:secret@host:8080/v1.1?x=@"), "https://host:8080/v1.1?x=@");
    EXPECT_EQ(redactUrl("https://host/v1.1"), "https://host/v1.1");
}

TEST(Entities, DatastreamsAndTheirLocations) {
    json all = datastreamsJson();
    std::string why;
    auto d1 = parseDatastream(all[0], why);
    ASSERT_TRUE(d1) << why;
    EXPECT_EQ(d1->id.text, "1");
    EXPECT_EQ(d1->id.literal, "1");
    EXPECT_EQ(d1->name, "Brunnen 1 Grundwasserstand");
    EXPECT_EQ(d1->unit, "m");
    EXPECT_EQ(d1->quantity, "groundwater_level");
    EXPECT_EQ(d1->lon, 8.5654);
    EXPECT_EQ(d1->lat, 51.7667);
    EXPECT_EQ(d1->elevation, 95.5);
    auto d2 = parseDatastream(all[1], why); // the first of two Locations
    EXPECT_EQ(d2->lon, 8.61);
    EXPECT_EQ(d2->lat, 51.77);
    EXPECT_TRUE(std::isnan(d2->elevation));
    auto d3 = parseDatastream(all[2], why);
    EXPECT_TRUE(std::isnan(d3->lon) && std::isnan(d3->lat));
    EXPECT_EQ(d3->locationNote, "its Thing has no Location");
    auto d4 = parseDatastream(all[3], why);
    EXPECT_EQ(d4->id.text, "pegel-4");
    EXPECT_EQ(d4->id.literal, "'pegel-4'");
    EXPECT_EQ(d4->lon, 8.7);
    auto d5 = parseDatastream(all[4], why);
    EXPECT_TRUE(std::isnan(d5->lon));
    EXPECT_NE(d5->locationNote.find("EPSG:25832"), std::string::npos) << d5->locationNote;
    EXPECT_EQ(d5->unit, "millimetre"); // no symbol: the unit's name

    double lon, lat, elev;
    EXPECT_FALSE(parseGeoJsonPoint(json::parse(R"({"type": "Polygon", "coordinates": [[[8,51],[9,51],[9,52],[8,51]]]})"), lon, lat, elev, why));
    EXPECT_NE(why.find("Polygon"), std::string::npos);
    EXPECT_FALSE(parseGeoJsonPoint(json::parse(R"({"type": "Point", "coordinates": [477000, 5729000]})"), lon, lat, elev, why));
    EXPECT_FALSE(parseGeoJsonPoint(json("Rathausplatz 1"), lon, lat, elev, why));
    EXPECT_TRUE(parseGeoJsonPoint(json::parse(R"({"type": "Point", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "coordinates": [8, 51]})"), lon, lat, elev, why));
    EXPECT_FALSE(parseDatastream(json::parse(R"({"name": "no id"})"), why));
    EXPECT_FALSE(parseDatastream(json::parse(R"({"@iot.id": ""})"), why));
    EXPECT_EQ(entityId(json("it's"))->literal, "'it''s'");
}

TEST(Entities, ObservationsAndTheirDedupKeys) {
    auto p = parseObservation(json::parse(R"({"@iot.id": 101, "phenomenonTime": "2026-03-01T10:00:00Z", "result": 1.25})"));
    EXPECT_EQ(p.kind, ParsedObservation::Numeric);
    EXPECT_EQ(p.value, 1.25);
    EXPECT_EQ(p.dedupKey, 101);
    EXPECT_EQ(p.time.end, refTime("2026-03-01T10:00:00Z"));
    p = parseObservation(json::parse(R"({"@iot.id": 7, "phenomenonTime": "2026-03-01T10:00:00Z/2026-03-01T11:00:00Z", "result": true})"));
    EXPECT_EQ(p.kind, ParsedObservation::Numeric);
    EXPECT_EQ(p.value, 1);
    EXPECT_EQ(p.time.start, refTime("2026-03-01T10:00:00Z"));
    EXPECT_EQ(p.time.end, refTime("2026-03-01T11:00:00Z"));
    auto rejected = [](const char* text) { return parseObservation(json::parse(text)).rejectReason; };
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": "n/a"})"), reason::ResultNotNumeric);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": "12.5"})"), reason::ResultNotNumeric);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": {"v": 1}})"), reason::ResultNotNumeric);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": [1]})"), reason::ResultNotNumeric);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": null})"), reason::ResultMissing);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "phenomenonTime": "yesterday", "result": 1})"), reason::InvalidTime);
    EXPECT_STREQ(rejected(R"({"@iot.id": 1, "result": 1})"), reason::InvalidTime);
    EXPECT_STREQ(rejected(R"([1, 2])"), reason::MalformedObservation);
    // A rejected result still has its time (so the next poll does not ask for it again).
    EXPECT_TRUE(parseObservation(json::parse(R"({"@iot.id": 1, "phenomenonTime": "2026-03-01T10:00:00Z", "result": "x"})")).hasTime);

    // Keys: integer ids as they are; strings (and negative numbers) hashed to 62 bits, stable.
    EXPECT_EQ(dedupKeyFor(json(0)), 0);
    EXPECT_EQ(dedupKeyFor(json(uint64_t(1) << 40)), int64_t(1) << 40);
    int64_t h = dedupKeyFor(json("p4-1"));
    EXPECT_GE(h, 0);
    EXPECT_LT(h, int64_t(1) << 62);
    EXPECT_EQ(h, dedupKeyFor(json("p4-1")));
    EXPECT_NE(h, dedupKeyFor(json("p4-2")));
    EXPECT_GE(dedupKeyFor(json(-5)), 0);
    EXPECT_EQ(dedupKeyFor(json()), -1);
}

TEST(Config, DefaultsAndErrorsThatNameTheKey) {
    std::string err;
    auto c = parseConfig(R"({"url": "https://host/FROST-Server/v1.1/", "scenario_dir": "/x"})", err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->url, "https://host/FROST-Server/v1.1");
    EXPECT_EQ(c->intervalS, 60);
    EXPECT_EQ(c->sinceBackS, 3600);
    EXPECT_FALSE(c->sinceInstant);
    EXPECT_EQ(c->pageSize, 1000);
    EXPECT_EQ(c->topicPrefix, "v1.1");
    EXPECT_TRUE(c->mqttHost.empty());
    EXPECT_TRUE(c->warnings.empty());
    c = parseConfig(R"({"url": "http://h/v1.0", "interval": "PT5M", "since": "PT6H", "mqtt": "mqtts://broker", "bogus": 1})", err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->intervalS, 300);
    EXPECT_EQ(c->sinceBackS, 6 * 3600);
    EXPECT_EQ(c->mqttHost, "broker");
    EXPECT_EQ(c->mqttPort, 8883);
    EXPECT_TRUE(c->mqttTls);
    EXPECT_EQ(c->topicPrefix, "v1.0");
    EXPECT_EQ(c->warnings.size(), 1u);
    c = parseConfig(R"({"url": "http://h/v1.1", "since": "2026-03-01T00:00:00Z", "datastreams": [1, "pegel-4"]})", err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(*c->sinceInstant, refTime(kSince));
    EXPECT_EQ(c->datastreams.size(), 2u);

    auto refuse = [&](const std::string& json, const std::string& words) {
        std::string e;
        EXPECT_FALSE(parseConfig(json, e)) << json;
        EXPECT_NE(e.find(words), std::string::npos) << e;
    };
    refuse("{}", "'url' is required");
    refuse(R"({"url": "ftp://h/v1.1"})", "'url'");
    refuse(R"({"url": "http://h/v1.1", "interval": -1})", "'interval'");
    refuse(R"({"url": "http://h/v1.1", "since": "last week"})", "'since'");
    refuse(R"({"url": "http://h/v1.1", "page_size": 0})", "'page_size'");
    refuse(R"({"url": "http://h/v1.1", "user": "a", "token": "t"})", "not both");
    refuse(R"({"url": "http://h/v1.1", "ca_file": "/nonexistent.pem"})", "'ca_file'");
    refuse(R"({"url": "http://h/v1.1", "datastreams": [1.5]})", "'datastreams[0]'");
    refuse(R"({"url": "http://h/v1.1", "mqtt": "http://broker"})", "'mqtt'");
    refuse(R"({"url": "http://h/v1.1", "retry_min": 10, "retry_max": 1})", "'retry_max'");
    refuse("[1]", "JSON object");
}

// =============================================================================================
// The plugin in the FeedHost against the in-memory service

TEST(Polling, AnnouncesDatastreamsAndStoresEveryObservationOnceAcrossPolls) {
    FakeSta sta;
    addFirstData(sta);
    sta.fail500["2"] = 1; // Datastream 2's first request: HTTP 500, then fine
    Host h;
    h.add(config(sta));

    // Poll 1: 8 numeric observations, 2 rejected.
    ASSERT_TRUE(waitFor([&] { return h.status().stored == 8 && h.rejected("result_not_numeric") == 2; }, 10))
        << feeds::formatStatusTable(h.host.status());
    addSecondData(sta);
    ASSERT_TRUE(waitFor([&] { return h.status().stored == 13; }, 10)) << feeds::formatStatusTable(h.host.status());
    // Two more polls with nothing new: nothing more may arrive.
    size_t polls = sta.requestsFor("/Datastreams(5)/Observations").size();
    ASSERT_TRUE(waitFor([&] { return sta.requestsFor("/Datastreams(5)/Observations").size() >= polls + 2; }, 10));
    h.host.flush();

    feeds::FeedStatus st = h.status();
    EXPECT_EQ(st.state, feeds::FeedState::Connected) << st.detail;
    EXPECT_EQ(st.published, 13u); // each offered once: no duplicate ever left the plugin
    EXPECT_EQ(st.stored, 13u);
    EXPECT_EQ(st.duplicates, 0u);
    EXPECT_EQ(st.dropped, 0u);
    EXPECT_EQ(st.rejected, 2u);
    EXPECT_EQ(h.rejected("result_not_numeric"), 2u);
    EXPECT_EQ(st.sensors, 5u);

    // Sensors: five Datastreams from three discovery pages; two without a WGS84 location.
    auto sensors = h.store.sensors();
    ASSERT_EQ(sensors.size(), 5u);
    auto s1 = *h.store.sensor("sta:1");
    EXPECT_EQ(s1.name, "Brunnen 1 Grundwasserstand");
    EXPECT_EQ(s1.lon, 8.5654);
    EXPECT_EQ(s1.lat, 51.7667);
    EXPECT_EQ(s1.elevationM, 95.5);
    EXPECT_EQ(s1.unit, "m");
    EXPECT_EQ(s1.quantity, "groundwater_level");
    EXPECT_EQ(s1.source, "sensorthings 1.0");
    auto s2 = *h.store.sensor("sta:2");
    EXPECT_EQ(s2.lon, 8.61);
    EXPECT_EQ(s2.lat, 51.77);
    EXPECT_EQ(s2.unit, "m³/h");
    EXPECT_EQ(s2.quantity, "flow");
    auto s3 = *h.store.sensor("sta:3");
    EXPECT_TRUE(std::isnan(s3.lon) && std::isnan(s3.lat));
    EXPECT_EQ(s3.unit, "cm");
    auto s4 = *h.store.sensor("sta:pegel-4");
    EXPECT_EQ(s4.lon, 8.7);
    EXPECT_EQ(s4.lat, 51.72);
    EXPECT_EQ(s4.quantity, "traffic_count");
    auto s5 = *h.store.sensor("sta:5");
    EXPECT_TRUE(std::isnan(s5.lon));
    EXPECT_EQ(s5.unit, "millimetre");

    // Observations, against the canned data.
    auto series = [&](const std::string& id) {
        std::vector<std::pair<double, double>> out;
        for (auto& o : h.store.range("sta:" + id)) out.emplace_back(o.phenomenonTime, o.value);
        return out;
    };
    using TV = std::vector<std::pair<double, double>>;
    EXPECT_EQ(series("1"), (TV{{refTime("2026-03-01T10:00:00Z"), 1.25}, {refTime("2026-03-01T10:15:00Z"), 1.5},
                               {refTime("2026-03-01T10:45:00Z"), 1.75}, {refTime("2026-03-01T11:00:00Z"), 2.0},
                               {refTime("2026-03-01T11:15:00Z"), 2.25}, {refTime("2026-03-01T11:30:00Z"), 2.5}}));
    EXPECT_EQ(series("2"), (TV{{refTime("2026-03-01T11:00:00Z"), 42}, {refTime("2026-03-01T12:00:00Z"), 43}}));
    EXPECT_EQ(series("3"), (TV{{refTime("2026-03-01T10:00:00Z"), 55}, {refTime("2026-03-01T10:10:00Z"), 56},
                               {refTime("2026-03-01T10:20:00Z"), 57}}));
    EXPECT_EQ(series("pegel-4"), (TV{{refTime("2026-03-01T10:05:00Z"), 120}}));
    EXPECT_EQ(series("5"), (TV{{refTime("2026-03-01T10:00:00Z"), 7.5}}));
    // Dedup keys: the Observation ids (a string id hashed, never the time-derived negative key).
    auto r1 = h.store.range("sta:1");
    EXPECT_EQ(r1.front().dedupKey, 101);
    EXPECT_EQ(r1.back().dedupKey, 107);
    EXPECT_EQ(h.store.range("sta:pegel-4").front().dedupKey, dedupKeyFor(json("p4-1")));

    // What the server was asked. Discovery: the expansion, three pages through @iot.nextLink.
    auto disc = sta.requestsFor("/Datastreams");
    ASSERT_GE(disc.size(), 3u);
    EXPECT_EQ(disc[0].query["$expand"], "Thing/Locations,ObservedProperty,Sensor");
    EXPECT_EQ(disc[0].query["$top"], "1000");
    EXPECT_FALSE(disc[0].query.count("$filter"));
    EXPECT_EQ(disc[1].query["$skip"], "2");
    EXPECT_EQ(disc[2].query["$skip"], "4");
    // Observations: every poll's first request asks after the newest start time it was served
    // (the server checks each one), with the ordering, page size and fields.
    {
        std::lock_guard lock(sta.m);
        EXPECT_TRUE(sta.filterMismatches.empty()) << ::testing::PrintToString(sta.filterMismatches);
        EXPECT_EQ(sta.served500["2"], 1);
    }
    auto ds1 = sta.requestsFor("/Datastreams(1)/Observations");
    ASSERT_GE(ds1.size(), 5u); // poll 1: three pages; poll 2 and later
    EXPECT_EQ(ds1[0].query["$filter"], "phenomenonTime gt 2026-03-01T00:00:00.000Z");
    EXPECT_EQ(ds1[0].query["$orderby"], "phenomenonTime asc");
    EXPECT_EQ(ds1[0].query["$top"], "1000");
    EXPECT_EQ(ds1[0].query["$select"], "phenomenonTime,result,@iot.id");
    EXPECT_EQ(ds1[1].query["$skip"], "2");
    EXPECT_EQ(ds1[2].query["$skip"], "4");
    EXPECT_EQ(ds1[3].query["$filter"], "phenomenonTime gt 2026-03-01T11:00:00.000Z"); // poll 2
    auto ds2 = sta.requestsFor("/Datastreams(2)/Observations");
    ASSERT_GE(ds2.size(), 3u); // the 500, its retry, poll 2
    EXPECT_EQ(ds2[1].query["$filter"], "phenomenonTime gt 2026-03-01T00:00:00.000Z");
    // The bound after an interval is its start (10:00) or later observations' (10:30), never its end.
    EXPECT_EQ(ds2[2].query["$filter"], "phenomenonTime gt 2026-03-01T10:30:00.000Z");
    EXPECT_GE(sta.requestsFor("/Datastreams('pegel-4')/Observations").size(), 2u);
}

TEST(Polling, FilterDatastreamListPageSizeSinceAndCredentials) {
    FakeSta sta;
    addFirstData(sta);
    Host h;
    const double t0 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    h.add(R"({"url": ")" + sta.base + R"(", "filter": "Thing/properties/city eq 'Paderborn'", "datastreams": [1, "pegel-4"],
              "page_size": 50, "since": "PT6H", "token": "s3cret", "interval": 60})");
    h.add(R"({"url": ")" + sta.base + R"(/", "user": "alice", "password": "secret", "interval": 60, "datastreams": [3]})", "basic");
    ASSERT_TRUE(waitFor([&] { return sta.requestsFor("/Datastreams('pegel-4')/Observations").size() >= 1 &&
                                     sta.requestsFor("/Datastreams(3)/Observations").size() >= 1; }, 10));
    h.host.flush();
    auto disc = sta.requestsFor("/Datastreams");
    ASSERT_GE(disc.size(), 2u);
    bool sawBearer = false, sawBasic = false;
    for (const Request& r : sta.server.requests()) {
        sawBearer |= r.authorization == "Bearer s3cret";
        sawBasic |= r.authorization == "Basic YWxpY2U6c2VjcmV0"; // base64("alice:secret")
        EXPECT_TRUE(r.authorization == "Bearer s3cret" || r.authorization == "Basic YWxpY2U6c2VjcmV0") << r.target;
    }
    EXPECT_TRUE(sawBearer);
    EXPECT_TRUE(sawBasic);
    bool sawFilter = false;
    for (const Request& r : disc)
        if (!r.query.count("$skip") && r.authorization.rfind("Bearer", 0) == 0) {
            sawFilter = true;
            EXPECT_EQ(r.query.at("$filter"), "(Thing/properties/city eq 'Paderborn') and (id eq 1 or id eq 'pegel-4')");
            EXPECT_EQ(r.query.at("$top"), "50");
        }
    EXPECT_TRUE(sawFilter);
    // The server ignored the filter (all five on its pages); the plugin keeps the two it asked for.
    EXPECT_EQ(h.status().sensors, 2u);
    EXPECT_EQ(h.status("basic").sensors, 1u);
    EXPECT_TRUE(h.store.sensor("sta:pegel-4"));
    EXPECT_FALSE(h.store.sensor("sta:2"));
    // since PT6H: the first bound is six hours before the start.
    auto p4 = sta.requestsFor("/Datastreams('pegel-4')/Observations");
    const std::string gt = "phenomenonTime gt ";
    ASSERT_EQ(p4[0].query["$filter"].rfind(gt, 0), 0u);
    double bound = refTime(p4[0].query["$filter"].substr(gt.size()));
    EXPECT_NEAR(bound, t0 - 6 * 3600, 5);
    EXPECT_EQ(p4[0].query["$top"], "50");
}

TEST(Robustness, ServerErrorsRetriedWithCappedBackoffMalformedJsonCountedThenRecovers) {
    FakeSta sta;
    addFirstData(sta);
    int mode = 0; // 0: HTTP 500, 1: malformed JSON, 2: healthy
    {
        std::lock_guard lock(sta.m);
        sta.override = [&](const Request&) -> Response {
            if (mode == 0) return {500, R"({"code": 500, "type": "error", "message": "database down"})"};
            return {200, R"({"value": [ {"@iot.id": 1, )"};
        };
    }
    Host h;
    h.add(R"({"url": ")" + sta.base + R"(", "interval": 0.3, "since": "2026-03-01T00:00:00Z", "retry_min": 0.05, "retry_max": 0.2})");
    ASSERT_TRUE(waitFor([&] { return sta.server.requests().size() >= 8; }, 10));
    auto st = h.status();
    EXPECT_EQ(st.state, feeds::FeedState::Reconnecting) << st.detail;
    EXPECT_NE(st.detail.find("HTTP 500"), std::string::npos) << st.detail;
    EXPECT_NE(st.detail.find("database down"), std::string::npos) << st.detail;
    EXPECT_NE(st.detail.find("retry in"), std::string::npos) << st.detail;
    // Backoff: 0.05, 0.1, 0.2, 0.2, ... s between requests: never hammering, capped at retry_max.
    auto reqs = sta.server.requests();
    double longest = 0;
    for (size_t k = 1; k < reqs.size(); ++k) {
        double gap = std::chrono::duration<double>(reqs[k].at - reqs[k - 1].at).count();
        EXPECT_GE(gap, 0.04) << k;
        longest = std::max(longest, gap);
    }
    EXPECT_GE(longest, 0.18);
    EXPECT_LE(longest, 0.2 + 0.25);

    {
        std::lock_guard lock(sta.m);
        mode = 1;
    }
    ASSERT_TRUE(waitFor([&] { return h.rejected("malformed_json") >= 1; }, 5));
    {
        std::lock_guard lock(sta.m);
        sta.override = nullptr; // healthy again
    }
    ASSERT_TRUE(waitFor([&] { return h.status().stored == 8; }, 10)) << feeds::formatStatusTable(h.host.status());
    EXPECT_TRUE(waitFor([&] { return h.status().state == feeds::FeedState::Connected; }, 5)) << h.status().detail;
    EXPECT_EQ(h.status().sensors, 5u);
}

TEST(Robustness, StopReturnsPromptlyWhileARequestHangsOrABackoffWaits) {
    FakeSta sta;
    {
        std::lock_guard lock(sta.m);
        sta.override = [](const Request& r) -> Response {
            if (r.authorization.empty()) return {0, "", true}; // never answers
            return {503, "{}"};
        };
    }
    Host h;
    // A 30 s timeout: only stop() can end the hanging request early.
    h.add(R"({"url": ")" + sta.base + R"(", "timeout": 30})", "hang");
    h.add(R"({"url": ")" + sta.base + R"(", "token": "t", "retry_min": 60, "retry_max": 60})", "backoff");
    ASSERT_TRUE(waitFor([&] {
        bool hung = false, failed = false;
        for (auto& r : sta.server.requests()) (r.authorization.empty() ? hung : failed) = true;
        return hung && failed && h.status("backoff").state == feeds::FeedState::Reconnecting;
    }, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto t = Clock::now();
    h.host.stopFeed("hang");
    EXPECT_LT(since(t), 2.0);
    t = Clock::now();
    h.host.stopFeed("backoff");
    EXPECT_LT(since(t), 2.0);
    EXPECT_EQ(h.status("hang").state, feeds::FeedState::Stopped);
    EXPECT_EQ(h.status("backoff").state, feeds::FeedState::Stopped);
}

TEST(Robustness, BadConfigurationIsTheFeedsErrorNotTheHosts) {
    Host h;
    h.add(R"({"url": "ftp://example.org/v1.1"})", "bad");
    auto st = h.status("bad");
    EXPECT_EQ(st.state, feeds::FeedState::Error);
    EXPECT_NE(st.detail.find("'url'"), std::string::npos) << st.detail;
    // The ABI: the entry refuses another major version.
    void* lib = dlopen((std::string(CITYTWIN_PLUGIN_DIR) + "/citytwin_plugin_sensorthings.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_TRUE(lib) << dlerror();
    auto entry = reinterpret_cast<citytwin_plugin_entry_fn>(dlsym(lib, CITYTWIN_PLUGIN_ENTRY_NAME));
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry(CITYTWIN_PLUGIN_ABI_MAJOR + 1), nullptr);
    EXPECT_STREQ(entry(CITYTWIN_PLUGIN_ABI_MAJOR)->name, "sensorthings");
    dlclose(lib);
}

// =============================================================================================
// The MQTT extension with a real broker

TEST(Mqtt, LiveObservationsArriveAndThePollDoesNotRepeatThem) {
    std::string broker = CITYTWIN_MOSQUITTO_BROKER;
    if (broker.empty() || access(broker.c_str(), X_OK) != 0) GTEST_SKIP() << "no mosquitto broker";
    TempDir bdir;
    const int port = mqtt_test::freePort();
    mqtt_test::Broker b(broker, bdir.path, port);
    b.start();
    FakeSta sta;
    addFirstData(sta);
    Host h;
    h.add(R"({"url": ")" + sta.base + R"(", "interval": 0.3, "since": "2026-03-01T00:00:00Z", "retry_min": 0.1,
              "mqtt": "mqtt://127.0.0.1:)" + std::to_string(port) + R"("})");
    ASSERT_TRUE(waitFor([&] { return h.status().stored == 8 && h.status().detail.find("MQTT connected") != std::string::npos; }, 10))
        << feeds::formatStatusTable(h.host.status());
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the subscriptions settle
    mqtt_test::Publisher pub(port, "sta-test");
    // Observations as the SensorThings MQTT extension publishes them: the whole entity.
    pub.publish("v1.1/Datastreams(1)/Observations",
                R"({"@iot.id": 106, "@iot.selfLink": "x", "phenomenonTime": "2026-03-01T11:15:00Z", "resultTime": "2026-03-01T11:15:01Z", "result": 2.25})");
    pub.publish("v1.1/Datastreams('pegel-4')/Observations", R"({"@iot.id": "p4-x", "phenomenonTime": "2026-03-01T10:05:00Z", "result": "jam"})");
    pub.publish("v1.1/Datastreams(1)/Observations", "{not json");
    ASSERT_TRUE(pub.waitAcked(5));
    // Only MQTT can have brought these: the service has none of them yet.
    ASSERT_TRUE(waitFor([&] { return h.status().stored == 9 && h.rejected("malformed_json") == 1 && h.rejected("result_not_numeric") == 3; }, 5))
        << feeds::formatStatusTable(h.host.status());
    // Now the service has them too; the next polls see them and must not offer them again.
    sta.add("1", 106, "2026-03-01T11:15:00Z", 2.25);
    sta.add("'pegel-4'", "p4-x", "2026-03-01T10:05:00Z", "jam");
    ASSERT_TRUE(waitFor([&] {
        for (auto& r : sta.requestsFor("/Datastreams(1)/Observations"))
            if (r.query["$filter"] == "phenomenonTime gt 2026-03-01T11:15:00.000Z") return true;
        return false;
    }, 10));
    size_t polls = sta.requestsFor("/Datastreams(5)/Observations").size();
    ASSERT_TRUE(waitFor([&] { return sta.requestsFor("/Datastreams(5)/Observations").size() >= polls + 1; }, 10));
    h.host.flush();
    auto st = h.status();
    EXPECT_EQ(st.published, 9u);
    EXPECT_EQ(st.stored, 9u);
    EXPECT_EQ(st.duplicates, 0u);
    EXPECT_EQ(h.rejected("result_not_numeric"), 3u);
    auto r1 = h.store.range("sta:1");
    ASSERT_EQ(r1.size(), 5u);
    EXPECT_EQ(r1.back().phenomenonTime, refTime("2026-03-01T11:15:00Z"));
    EXPECT_EQ(r1.back().dedupKey, 106);
    std::lock_guard lock(sta.m);
    EXPECT_TRUE(sta.filterMismatches.empty()) << ::testing::PrintToString(sta.filterMismatches);
}

} // namespace
