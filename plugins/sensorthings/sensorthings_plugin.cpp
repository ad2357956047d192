// SensorThings feed plugin: polls an OGC SensorThings API 1.1 service (FROST-Server, ...) with
// libcurl and, optionally, listens to its MQTT extension with libmosquitto; every Datastream
// becomes a citytwin sensor and its numeric Observations observations (README.md here).
//
// Threads: start() spawns the poll thread (owns the curl handles: lists the Datastreams, then
// asks each for the Observations newer than the last one it has, every `interval`) and, with
// `mqtt`, one MQTT thread (owns the libmosquitto client). Both call the host. stop() sets a
// flag both threads check at least every 100 ms (curl runs through its multi interface, so a
// hanging request is abandoned), wakes their waits and joins them. Only citytwin_plugin_entry
// is exported (hidden visibility + exports.map).
#include "citytwin_plugin.h"

#include "StaConfig.h"
#include "StaParse.h"

#include <curl/curl.h>
#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace citytwin::sta;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxResponseBytes = 64u << 20; // a page larger than this is refused
constexpr int kAttemptsPerRequest = 3;          // a failing request is tried this often per poll
constexpr size_t kMaxMqttSeen = 100000;         // per Datastream, MQTT ids waiting for the poll

void copyError(char* error, size_t size, const std::string& msg) {
    if (error && size) std::snprintf(error, size, "%s", msg.c_str());
}

double wallClockS() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string fmtSeconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f" : "%.0f", s);
    return buf;
}

// "scheme://host[:port]" of a URL.
std::string originOf(const std::string& url) {
    size_t sep = url.find("://");
    if (sep == std::string::npos) return {};
    size_t end = url.find_first_of("/?#", sep + 3);
    return end == std::string::npos ? url : url.substr(0, end);
}

// --- HTTP: libcurl's multi interface with one easy handle, so stop() never waits on a socket.

struct HttpResponse {
    CURLcode curl = CURLE_OK;
    long status = 0;
    std::string body, error;
    bool stopped = false, tooLarge = false;
};

class Http {
  public:
    explicit Http(const StaConfig& cfg) {
        multi = curl_multi_init();
        easy = curl_easy_init();
        if (!multi || !easy) throw std::runtime_error("cannot create a curl handle");
        headers = curl_slist_append(nullptr, "Accept: application/json");
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); // whatever curl can decode (gzip)
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "citytwin-sensorthings/1.0");
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errorBuffer);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
        auto ms = static_cast<long>(cfg.timeoutS * 1000);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min(ms, 10000L));
        if (!cfg.token.empty()) { // curl sends neither credential to another host on a redirect
            curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
            curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, cfg.token.c_str());
        } else if (!cfg.user.empty()) {
            curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(easy, CURLOPT_USERNAME, cfg.user.c_str());
            curl_easy_setopt(easy, CURLOPT_PASSWORD, cfg.password.c_str());
        }
        if (!cfg.caFile.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, cfg.caFile.c_str());
        if (cfg.insecure) {
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Http::onData);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    }
    ~Http() {
        if (easy) curl_easy_cleanup(easy);
        if (multi) curl_multi_cleanup(multi);
        curl_slist_free_all(headers);
    }
    Http(const Http&) = delete;
    Http& operator=(const Http&) = delete;

    // GET; `stop` is asked every 100 ms at most, and true abandons the request.
    HttpResponse get(const std::string& url, const std::function<bool()>& stop) {
        HttpResponse r;
        current = &r;
        errorBuffer[0] = '\0';
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
        curl_multi_add_handle(multi, easy);
        bool done = false;
        while (!done) {
            int running = 0;
            CURLMcode mc = curl_multi_perform(multi, &running);
            if (mc != CURLM_OK) {
                r.curl = CURLE_FAILED_INIT;
                r.error = curl_multi_strerror(mc);
                break;
            }
            int queued = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg == CURLMSG_DONE) {
                    r.curl = msg->data.result;
                    done = true;
                }
            }
            if (done || running == 0) break;
            if (stop()) {
                r.stopped = true;
                break;
            }
            curl_multi_poll(multi, nullptr, 0, 100, nullptr);
        }
        curl_multi_remove_handle(multi, easy); // aborts a transfer still running
        current = nullptr;
        if (r.curl != CURLE_OK && r.error.empty())
            r.error = r.tooLarge ? "response larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB"
                                 : (errorBuffer[0] ? errorBuffer : curl_easy_strerror(r.curl));
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
        return r;
    }

  private:
    static size_t onData(char* data, size_t size, size_t count, void* self) {
        auto* http = static_cast<Http*>(self);
        size_t n = size * count;
        if (!http->current) return 0;
        if (http->current->body.size() + n > kMaxResponseBytes) {
            http->current->tooLarge = true;
            return 0; // CURLE_WRITE_ERROR
        }
        http->current->body.append(data, n);
        return n;
    }

    CURLM* multi = nullptr;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    HttpResponse* current = nullptr;
    char errorBuffer[CURL_ERROR_SIZE] = {};
};

// The message of an error response: FROST's {"message": ...}, else the start of the body.
std::string errorMessage(const std::string& body) {
    try {
        json j = json::parse(body);
        if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>().substr(0, 200);
    } catch (...) {
    }
    std::string s = body.substr(0, 120);
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 32) c = ' ';
    return s;
}

// --- The instance --------------------------------------------------------------------------

struct DatastreamState {
    Datastream info;
    std::string topic;                            // MQTT: <version>/Datastreams(<id>)/Observations
    double last = NAN;                            // the newest phenomenonTime (start) polled
    std::set<std::string> boundaryIds;            // polled Observations whose start is `last`
    std::map<std::string, double> viaMqtt;        // id → start: came by MQTT, not yet by polling
};

class Instance {
  public:
    // No host calls here: the ABI allows them only between start() and the end of stop().
    Instance(const citytwin_host_api& h, StaConfig c) : host(h), cfg(std::move(c)) {}
    ~Instance() { stop(); }

    int start(std::string& error);
    void stop();

  private:
    // poll thread
    void pollLoop();
    bool discover(Http& http);
    bool pollDatastream(Http& http, const std::string& id, size_t& published);
    std::optional<json> getJson(Http& http, const std::string& url, const std::string& what);
    std::string nextLink(const json& page);
    double nextDelay();
    // MQTT thread
    void mqttLoop();
    void onMqttConnect(mosquitto* mosq, int rc);
    void onMqttMessage(const mosquitto_message* msg);

    // both
    void handleObservation(const std::string& id, const json& obs, bool viaMqtt, size_t* published);
    bool stopRequested() const { return stopping.load(); }
    bool sleepFor(double seconds); // false when stopped meanwhile
    void status(citytwin_status s, const std::string& detail);
    void log(citytwin_log_level level, const std::string& msg) {
        if (host.log) host.log(host.host, level, msg.c_str());
    }
    void reject(const char* why, const std::string& detail);

    citytwin_host_api host;
    const StaConfig cfg;

    std::mutex lifecycle; // start() and stop() never overlap
    bool running = false;
    std::thread poller, mqttThread;
    std::atomic<bool> stopping{false};
    std::mutex waitMutex;
    std::condition_variable wake;

    std::mutex dsMutex; // the Datastreams, shared by both threads
    std::map<std::string, DatastreamState> datastreams; // by id text
    std::vector<std::string> order;                     // as discovered
    std::map<std::string, std::string> topicToId;
    std::vector<std::string> pendingTopics; // discovered while MQTT was connected: to subscribe

    // poll thread only
    int failures = 0;       // consecutive failed requests (backoff exponent)
    std::string lastError;  // of the last failed request
    bool lastErrorPermanent = false; // an HTTP 4xx: reported as ERROR, not RECONNECTING
    bool warnedRebase = false;

    std::mutex miscMutex;
    std::map<std::string, uint64_t> rejectLogged;
    std::string mqttState; // for the status line
    std::atomic<bool> mqttConnected{false};
    citytwin_status lastStatus = CITYTWIN_STATUS_STOPPED;
    std::string lastDetail;
};

void Instance::status(citytwin_status s, const std::string& detail) {
    {
        std::lock_guard lock(miscMutex);
        if (s == lastStatus && detail == lastDetail) return;
        lastStatus = s;
        lastDetail = detail;
    }
    // The host logs every status change itself.
    if (host.report_status) host.report_status(host.host, s, detail.c_str());
}

void Instance::reject(const char* why, const std::string& detail) {
    if (host.count_rejected) host.count_rejected(host.host, why);
    uint64_t n;
    {
        std::lock_guard lock(miscMutex);
        n = ++rejectLogged[why];
    }
    if (n <= 20 || n % 1000 == 0) log(CITYTWIN_LOG_WARN, "sensorthings: rejected (" + std::string(why) + ", #" + std::to_string(n) + "): " + detail);
}

bool Instance::sleepFor(double seconds) {
    std::unique_lock lock(waitMutex);
    wake.wait_for(lock, std::chrono::duration<double>(std::max(0.0, seconds)), [this] { return stopRequested(); });
    return !stopRequested();
}

double Instance::nextDelay() {
    double d = std::min(cfg.retryMaxS, cfg.retryMinS * std::pow(2.0, std::min(failures, 40)));
    ++failures;
    return d;
}

int Instance::start(std::string& error) {
    std::lock_guard life(lifecycle);
    if (running) {
        error = "sensorthings: already started";
        return 1;
    }
    stopping = false;
    status(CITYTWIN_STATUS_STARTING, "listing Datastreams at " + redactUrl(cfg.url));
    for (const auto& w : cfg.warnings) log(CITYTWIN_LOG_WARN, w);
    try {
        poller = std::thread([this] { pollLoop(); });
        if (!cfg.mqttHost.empty()) mqttThread = std::thread([this] { mqttLoop(); });
    } catch (const std::exception& e) {
        stopping = true;
        wake.notify_all();
        if (poller.joinable()) poller.join();
        error = std::string("sensorthings: cannot start a thread: ") + e.what();
        return 1;
    }
    running = true;
    return 0;
}

void Instance::stop() {
    std::lock_guard life(lifecycle);
    if (!running) return;
    {
        std::lock_guard lock(waitMutex);
        stopping = true;
    }
    wake.notify_all();
    if (poller.joinable()) poller.join();
    if (mqttThread.joinable()) mqttThread.join();
    running = false;
    status(CITYTWIN_STATUS_STOPPED, "stopped");
}

// --- Polling -------------------------------------------------------------------------------

std::optional<json> Instance::getJson(Http& http, const std::string& url, const std::string& what) {
    for (int attempt = 1;; ++attempt) {
        HttpResponse r = http.get(url, [this] { return stopRequested(); });
        if (r.stopped || stopRequested()) return std::nullopt;
        bool transient = true;
        std::string why;
        if (r.curl != CURLE_OK) {
            why = r.error;
            transient = !r.tooLarge;
        } else if (r.status >= 200 && r.status < 300) {
            try {
                json j = json::parse(r.body);
                failures = 0;
                return j;
            } catch (const json::exception& e) {
                reject(reason::MalformedJson, what + ": " + e.what());
                lastError = what + ": the response is not JSON";
                lastErrorPermanent = false;
                return std::nullopt;
            }
        } else {
            why = "HTTP " + std::to_string(r.status);
            std::string msg = errorMessage(r.body);
            if (!msg.empty()) why += " (" + msg + ")";
            if (r.status == 401 || r.status == 403) why += "; check user/password or token";
            transient = r.status >= 500 || r.status == 408 || r.status == 429;
        }
        lastError = what + ": " + why;
        lastErrorPermanent = !transient;
        if (!transient) {
            ++failures;
            status(CITYTWIN_STATUS_ERROR, lastError);
            return std::nullopt;
        }
        if (attempt >= kAttemptsPerRequest) return std::nullopt; // the caller reports and waits
        double delay = nextDelay();
        status(CITYTWIN_STATUS_RECONNECTING, lastError + "; retry in " + fmtSeconds(delay) + " s");
        if (!sleepFor(delay)) return std::nullopt;
    }
}

// The next page, "" when none. A nextLink to another origin (a server that does not know its
// public URL) is re-based on the configured service root.
std::string Instance::nextLink(const json& page) {
    auto it = page.find("@iot.nextLink");
    if (it == page.end() || it->is_null()) return {};
    if (!it->is_string()) {
        reject(reason::MalformedJson, "@iot.nextLink is not a string");
        return {};
    }
    std::string link = it->get<std::string>();
    if (link.empty()) return {};
    const std::string origin = originOf(cfg.url);
    if (link[0] == '/') return origin + link;
    if (link.find("://") == std::string::npos) return cfg.url + "/" + link;
    if (originOf(link) == origin) return link;
    std::string marker = "/" + cfg.topicPrefix + "/";
    size_t pos = link.find(marker);
    if (pos == std::string::npos) {
        lastError = "@iot.nextLink " + redactUrl(link) + " leads away from " + redactUrl(origin) + ": not followed";
        log(CITYTWIN_LOG_WARN, "sensorthings: " + lastError);
        return {};
    }
    if (!warnedRebase) {
        warnedRebase = true;
        log(CITYTWIN_LOG_WARN, "sensorthings: the service's @iot.nextLink points to " + redactUrl(originOf(link)) +
                                   "; following it on " + redactUrl(cfg.url) + " instead (serviceRootUrl of the server?)");
    }
    return cfg.url + "/" + link.substr(pos + marker.size());
}

bool Instance::discover(Http& http) {
    std::string filter = cfg.filter;
    if (!cfg.datastreams.empty()) {
        std::string ids;
        for (const EntityId& id : cfg.datastreams) ids += (ids.empty() ? "id eq " : " or id eq ") + id.literal;
        filter = filter.empty() ? ids : "(" + filter + ") and (" + ids + ")";
    }
    std::string url = cfg.url + "/Datastreams?$expand=" + encodeQueryValue("Thing/Locations,ObservedProperty,Sensor") +
                      "&$top=" + std::to_string(cfg.pageSize) + (filter.empty() ? "" : "&$filter=" + encodeQueryValue(filter));
    std::vector<Datastream> found;
    std::set<std::string> seen;
    while (!url.empty()) {
        auto page = getJson(http, url, "Datastreams at " + redactUrl(cfg.url));
        if (!page) return false;
        auto value = page->is_object() ? page->find("value") : page->end();
        if (!page->is_object() || value == page->end() || !value->is_array()) {
            reject(reason::MalformedJson, "Datastreams: the response has no \"value\" list");
            lastError = "Datastreams: the response has no \"value\" list";
            return false;
        }
        for (const json& d : *value) {
            std::string why;
            auto ds = parseDatastream(d, why);
            if (!ds) {
                reject(reason::MalformedDatastream, "Datastream: " + why);
                continue;
            }
            if (!cfg.datastreams.empty() &&
                std::none_of(cfg.datastreams.begin(), cfg.datastreams.end(), [&](const EntityId& e) { return e.text == ds->id.text; }))
                continue; // the server ignored the filter
            if (seen.insert(ds->id.text).second) found.push_back(std::move(*ds));
        }
        url = nextLink(*page);
        if (stopRequested()) return false;
    }
    for (const EntityId& id : cfg.datastreams)
        if (!seen.count(id.text)) log(CITYTWIN_LOG_WARN, "sensorthings: Datastream " + id.text + " (in 'datastreams') not found");

    const double initial = cfg.sinceInstant ? *cfg.sinceInstant : wallClockS() - cfg.sinceBackS;
    std::vector<Datastream> announce;
    size_t unlocated = 0;
    {
        std::lock_guard lock(dsMutex);
        std::map<std::string, DatastreamState> next;
        std::vector<std::string> nextOrder;
        for (Datastream& d : found) {
            auto old = datastreams.find(d.id.text);
            DatastreamState st;
            if (old != datastreams.end()) {
                st = std::move(old->second);
                if (!sameMetadata(st.info, d)) announce.push_back(d);
            } else {
                st.last = initial;
                st.topic = cfg.topicPrefix + "/Datastreams(" + d.id.literal + ")/Observations";
                if (!cfg.mqttHost.empty()) pendingTopics.push_back(st.topic);
                announce.push_back(d);
                if (!d.locationNote.empty())
                    log(CITYTWIN_LOG_INFO, "sensorthings: Datastream " + d.id.text + " (" + d.name + ") has no location: " + d.locationNote);
            }
            unlocated += std::isnan(d.lon);
            st.info = d;
            nextOrder.push_back(d.id.text);
            next[d.id.text] = std::move(st);
        }
        datastreams = std::move(next);
        order = std::move(nextOrder);
        topicToId.clear();
        for (auto& [id, st] : datastreams) topicToId[st.topic] = id;
    }
    for (const Datastream& d : announce) {
        citytwin_sensor s{d.id.text.c_str(), d.name.c_str(), d.lon, d.lat, d.elevation, d.quantity.c_str(), d.unit.c_str(), NAN, NAN, nullptr};
        if (host.announce_sensor) host.announce_sensor(host.host, &s);
    }
    log(CITYTWIN_LOG_INFO, "sensorthings: " + std::to_string(found.size()) + " Datastreams at " + redactUrl(cfg.url) + " (" +
                               std::to_string(unlocated) + " without a location)");
    return true;
}

void Instance::handleObservation(const std::string& id, const json& obs, bool viaMqtt, size_t* published) {
    ParsedObservation p = parseObservation(obs);
    {
        std::lock_guard lock(dsMutex);
        auto it = datastreams.find(id);
        if (it == datastreams.end()) return; // gone with a re-discovery
        DatastreamState& d = it->second;
        const bool known = !p.idText.empty() && p.hasTime;
        if (!viaMqtt) {
            bool skip = false;
            if (known && p.time.start <= d.last && d.boundaryIds.count(p.idText)) skip = true; // asked again at the ms boundary
            if (known) {
                auto m = d.viaMqtt.find(p.idText);
                if (m != d.viaMqtt.end()) { // came by MQTT already
                    skip = true;
                    d.viaMqtt.erase(m);
                }
            }
            if (p.hasTime) {
                if (p.time.start > d.last || std::isnan(d.last)) {
                    d.last = p.time.start;
                    d.boundaryIds.clear();
                }
                if (p.time.start == d.last && !p.idText.empty()) d.boundaryIds.insert(p.idText);
            }
            if (skip) return;
        } else if (known) {
            if (p.time.start <= d.last && d.boundaryIds.count(p.idText)) return; // polled already
            if (p.time.start >= d.last) {
                if (d.viaMqtt.size() >= kMaxMqttSeen) d.viaMqtt.erase(d.viaMqtt.begin());
                d.viaMqtt[p.idText] = p.time.start;
            }
        }
    }
    if (p.kind != ParsedObservation::Numeric) {
        reject(p.rejectReason, "Datastream " + id + ", Observation " + (p.idText.empty() ? "?" : p.idText) + ": " +
                                   obs.dump().substr(0, 200));
        return;
    }
    citytwin_observation o{id.c_str(), p.time.end, NAN, p.value, 0, p.dedupKey};
    if (viaMqtt) { // a live message: no waiting in the MQTT loop; a full queue drops (the host counts)
        if (host.publish(host.host, &o, 1) != 0 && !p.idText.empty()) {
            std::lock_guard lock(dsMutex); // leave it to the next poll
            if (auto it = datastreams.find(id); it != datastreams.end()) it->second.viaMqtt.erase(p.idText);
        }
    } else {
        // Back-pressure: polled data can wait for room (the host counts each refusal as a drop).
        while (host.publish(host.host, &o, 1) != 0)
            if (!sleepFor(0.005)) return;
    }
    if (published) ++*published;
}

bool Instance::pollDatastream(Http& http, const std::string& id, size_t& published) {
    std::string literal;
    double last;
    {
        std::lock_guard lock(dsMutex);
        auto it = datastreams.find(id);
        if (it == datastreams.end()) return true;
        literal = it->second.info.id.literal;
        last = it->second.last;
    }
    std::string url = cfg.url + "/Datastreams(" + encodeQueryValue(literal) + ")/Observations?$filter=" +
                      encodeQueryValue("phenomenonTime gt " + formatIsoMillis(last)) +
                      "&$orderby=" + encodeQueryValue("phenomenonTime asc") + "&$top=" + std::to_string(cfg.pageSize) +
                      "&$select=" + encodeQueryValue("phenomenonTime,result,@iot.id");
    const std::string what = "Observations of Datastream " + id;
    while (!url.empty() && !stopRequested()) {
        auto page = getJson(http, url, what);
        if (!page) return false;
        auto value = page->is_object() ? page->find("value") : page->end();
        if (!page->is_object() || value == page->end() || !value->is_array()) {
            reject(reason::MalformedJson, what + ": the response has no \"value\" list");
            lastError = what + ": the response has no \"value\" list";
            return false;
        }
        for (const json& o : *value) handleObservation(id, o, false, &published);
        url = nextLink(*page);
    }
    // MQTT ids older than what polling has passed will not come by polling any more.
    std::lock_guard lock(dsMutex);
    if (auto it = datastreams.find(id); it != datastreams.end()) {
        DatastreamState& d = it->second;
        for (auto m = d.viaMqtt.begin(); m != d.viaMqtt.end();) {
            if (m->second < d.last) m = d.viaMqtt.erase(m);
            else if (m->second == d.last) {
                d.boundaryIds.insert(m->first);
                m = d.viaMqtt.erase(m);
            } else ++m;
        }
    }
    return !stopRequested();
}

void Instance::pollLoop() {
    try {
        Http http(cfg);
        bool discovered = false;
        auto nextDiscovery = SteadyClock::now();
        while (!stopRequested()) {
            const auto cycleStart = SteadyClock::now();
            if (!discovered || (cfg.discoverIntervalS > 0 && cycleStart >= nextDiscovery)) {
                if (discover(http)) {
                    discovered = true;
                    nextDiscovery = cycleStart + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(cfg.discoverIntervalS));
                } else if (stopRequested()) {
                    break;
                } else if (!discovered) {
                    double delay = nextDelay();
                    status(lastErrorPermanent ? CITYTWIN_STATUS_ERROR : CITYTWIN_STATUS_RECONNECTING,
                           lastError + "; retry in " + fmtSeconds(delay) + " s");
                    sleepFor(delay);
                    continue;
                } // a failed re-discovery keeps the Datastreams known; tried again next cycle
            }
            std::vector<std::string> ids;
            {
                std::lock_guard lock(dsMutex);
                ids = order;
            }
            size_t published = 0, failed = 0;
            for (const std::string& id : ids) {
                if (stopRequested()) break;
                if (!pollDatastream(http, id, published) && !stopRequested()) ++failed;
            }
            if (stopRequested()) break;
            const double wait = std::max(0.0, cfg.intervalS - std::chrono::duration<double>(SteadyClock::now() - cycleStart).count());
            // Stable while nothing changes, so a quiet feed does not log a status line per poll.
            std::string mqtt;
            {
                std::lock_guard lock(miscMutex);
                mqtt = mqttState.empty() ? "" : "; " + mqttState;
            }
            if (failed == 0)
                status(CITYTWIN_STATUS_CONNECTED, std::to_string(ids.size()) + " Datastreams polled every " + fmtSeconds(cfg.intervalS) +
                                                      " s; last poll: " + std::to_string(published) + " new observations" + mqtt);
            else
                status(CITYTWIN_STATUS_RECONNECTING, std::to_string(failed) + " of " + std::to_string(ids.size()) +
                                                         " Datastreams failed (" + lastError + "); next poll in " + fmtSeconds(wait) + " s");
            sleepFor(wait);
        }
    } catch (const std::exception& e) {
        status(CITYTWIN_STATUS_ERROR, std::string("poll thread ended: ") + e.what());
    } catch (...) {
        status(CITYTWIN_STATUS_ERROR, "poll thread ended");
    }
}

// --- The MQTT extension ----------------------------------------------------------------------

void Instance::mqttLoop() {
    static std::once_flag libInit;
    std::call_once(libInit, [] { mosquitto_lib_init(); });
    const std::string where = cfg.mqttHost + ":" + std::to_string(cfg.mqttPort);
    auto setState = [&](const std::string& s) {
        std::lock_guard lock(miscMutex);
        mqttState = s;
    };
    mosquitto* mosq = mosquitto_new(nullptr, true, this); // clean session: the poll catches up
    if (!mosq) {
        log(CITYTWIN_LOG_ERROR, "sensorthings: cannot create an MQTT client; polling only");
        return;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (!cfg.mqttUser.empty()) mosquitto_username_pw_set(mosq, cfg.mqttUser.c_str(), cfg.mqttPassword.empty() ? nullptr : cfg.mqttPassword.c_str());
    if (cfg.mqttTls) {
        if (cfg.caFile.empty()) mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        else mosquitto_tls_set(mosq, cfg.caFile.c_str(), nullptr, nullptr, nullptr, nullptr);
        if (cfg.insecure) mosquitto_tls_insecure_set(mosq, true);
    }
    mosquitto_connect_callback_set(mosq, [](mosquitto* m, void* self, int rc) { static_cast<Instance*>(self)->onMqttConnect(m, rc); });
    mosquitto_message_callback_set(mosq, [](mosquitto*, void* self, const mosquitto_message* msg) {
        static_cast<Instance*>(self)->onMqttMessage(msg);
    });
    mosquitto_disconnect_callback_set(mosq, [](mosquitto*, void* self, int) {
        auto* inst = static_cast<Instance*>(self);
        inst->mqttConnected = false;
        std::lock_guard lock(inst->miscMutex);
        inst->mqttState = "MQTT disconnected";
    });
    bool first = true, needConnect = true;
    int attempts = 0;
    auto attemptStart = SteadyClock::now();
    auto backoff = [&](const std::string& why) {
        double delay = std::min(cfg.retryMaxS, cfg.retryMinS * std::pow(2.0, std::min(attempts++, 40)));
        setState("MQTT " + where + ": " + why);
        log(CITYTWIN_LOG_WARN, "sensorthings: MQTT " + where + ": " + why + "; retry in " + fmtSeconds(delay) + " s");
        sleepFor(delay);
    };
    while (!stopRequested()) {
        if (needConnect) {
            int rc = first ? mosquitto_connect_async(mosq, cfg.mqttHost.c_str(), cfg.mqttPort, 30) : mosquitto_reconnect_async(mosq);
            first = false;
            if (rc != MOSQ_ERR_SUCCESS) {
                backoff(std::string("cannot connect: ") + (rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc)));
                continue;
            }
            needConnect = false;
            attemptStart = SteadyClock::now();
        }
        std::vector<std::string> topics;
        {
            std::lock_guard lock(dsMutex);
            topics.swap(pendingTopics);
        }
        for (const std::string& t : topics) mosquitto_subscribe(mosq, nullptr, t.c_str(), cfg.mqttQos); // not connected: refused, and onMqttConnect subscribes all
        int rc = mosquitto_loop(mosq, 100, 1);
        if (stopRequested()) break;
        if (rc == MOSQ_ERR_SUCCESS) {
            if (mqttConnected) attempts = 0;
            else if (SteadyClock::now() - attemptStart > std::chrono::seconds(10)) {
                needConnect = true;
                backoff("no CONNACK within 10 s");
            }
            continue;
        }
        needConnect = true;
        mqttConnected = false;
        backoff(rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
    }
    mosquitto_disconnect(mosq);
    for (int i = 0; i < 4 && mosquitto_loop(mosq, 25, 1) == MOSQ_ERR_SUCCESS; ++i) {
    }
    mosquitto_destroy(mosq);
}

void Instance::onMqttConnect(mosquitto* mosq, int rc) {
    const std::string where = cfg.mqttHost + ":" + std::to_string(cfg.mqttPort);
    if (rc != 0) {
        std::lock_guard lock(miscMutex);
        mqttState = "MQTT " + where + " refused: " + mosquitto_connack_string(rc);
        return;
    }
    std::vector<std::string> topics;
    {
        std::lock_guard lock(dsMutex);
        pendingTopics.clear();
        for (auto& [id, st] : datastreams) topics.push_back(st.topic);
    }
    for (const std::string& t : topics) mosquitto_subscribe(mosq, nullptr, t.c_str(), cfg.mqttQos);
    {
        std::lock_guard lock(miscMutex);
        mqttState = "MQTT connected to " + where;
    }
    mqttConnected = true;
    log(CITYTWIN_LOG_INFO, "sensorthings: MQTT connected to " + where + ", " + std::to_string(topics.size()) + " Datastream topics");
}

void Instance::onMqttMessage(const mosquitto_message* msg) {
    try {
        std::string topic = msg->topic ? msg->topic : "";
        std::string id;
        {
            std::lock_guard lock(dsMutex);
            auto it = topicToId.find(topic);
            if (it != topicToId.end()) id = it->second;
        }
        if (id.empty()) return reject(reason::UnknownTopic, "MQTT topic " + topic);
        json j;
        try {
            j = json::parse(std::string_view(static_cast<const char*>(msg->payload), msg->payload ? size_t(msg->payloadlen) : 0));
        } catch (const json::exception& e) {
            return reject(reason::MalformedJson, "MQTT " + topic + ": " + e.what());
        }
        handleObservation(id, j, true, nullptr);
    } catch (const std::exception& e) {
        reject(reason::InternalError, std::string("MQTT message: ") + e.what());
    } catch (...) {
        reject(reason::InternalError, "MQTT message");
    }
}

// --- The C ABI -------------------------------------------------------------------------------

void* apiCreate(const citytwin_host_api* host, const char* configJson, char* error, size_t errorSize) {
    try {
        if (!host) {
            copyError(error, errorSize, "sensorthings: no host api");
            return nullptr;
        }
        std::string err;
        auto cfg = parseConfig(configJson ? configJson : "", err);
        if (!cfg) {
            copyError(error, errorSize, err);
            return nullptr;
        }
        static std::once_flag curlInit;
        CURLcode rc = CURLE_OK;
        std::call_once(curlInit, [&] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
        if (rc != CURLE_OK) {
            copyError(error, errorSize, std::string("sensorthings: curl_global_init: ") + curl_easy_strerror(rc));
            return nullptr;
        }
        return new Instance(*host, std::move(*cfg));
    } catch (const std::exception& e) {
        copyError(error, errorSize, std::string("sensorthings: ") + e.what());
    } catch (...) {
        copyError(error, errorSize, "sensorthings: create failed");
    }
    return nullptr;
}

int apiStart(void* instance, char* error, size_t errorSize) {
    try {
        std::string err;
        int rc = instance ? static_cast<Instance*>(instance)->start(err) : 1;
        if (rc != 0) copyError(error, errorSize, instance ? err : "sensorthings: no instance");
        return rc;
    } catch (const std::exception& e) {
        copyError(error, errorSize, std::string("sensorthings: ") + e.what());
    } catch (...) {
        copyError(error, errorSize, "sensorthings: start failed");
    }
    return 1;
}

void apiStop(void* instance) {
    try {
        if (instance) static_cast<Instance*>(instance)->stop();
    } catch (...) {
    }
}

void apiDestroy(void* instance) {
    try {
        delete static_cast<Instance*>(instance);
    } catch (...) {
    }
}

const citytwin_plugin_api kApi = {CITYTWIN_PLUGIN_ABI_MAJOR, CITYTWIN_PLUGIN_ABI_MINOR, "sensorthings", "1.0",
                                  apiCreate, apiStart, apiStop, apiDestroy};

} // namespace

extern "C" __attribute__((visibility("default"))) const citytwin_plugin_api* citytwin_plugin_entry(uint32_t hostAbiMajor) {
    return hostAbiMajor == CITYTWIN_PLUGIN_ABI_MAJOR ? &kApi : nullptr;
}
