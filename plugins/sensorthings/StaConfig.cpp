// SensorThings feed plugin: configuration parsing (keys in README.md).
#include "StaConfig.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>

namespace citytwin::sta {

using nlohmann::json;

namespace {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) { throw ConfigError("sensorthings config: " + what); }

std::string shown(const json& v) {
    std::string s = v.dump();
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

const json* opt(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string str(const json& v, const std::string& name) {
    if (!v.is_string()) fail("'" + name + "' must be a string (got " + shown(v) + ")");
    return v.get<std::string>();
}

// Seconds: a number, or an ISO 8601 duration ("PT5M").
double seconds(const json& v, const std::string& name, double lo, double hi) {
    double x = NAN;
    if (v.is_number()) x = v.get<double>();
    else if (v.is_string()) {
        auto d = parseIsoDuration(v.get<std::string>());
        if (!d) fail("'" + name + "' must be seconds or an ISO 8601 duration like \"PT5M\" (got " + shown(v) + ")");
        x = *d;
    } else {
        fail("'" + name + "' must be seconds or an ISO 8601 duration (got " + shown(v) + ")");
    }
    if (!std::isfinite(x) || x < lo || x > hi)
        fail("'" + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " s (got " + shown(v) + ")");
    return x;
}

bool boolean(const json& v, const std::string& name) {
    if (!v.is_boolean()) fail("'" + name + "' must be true or false (got " + shown(v) + ")");
    return v.get<bool>();
}

// "scheme://host[:port]", port defaulting by scheme.
void parseBroker(const std::string& url, StaConfig& c) {
    size_t sep = url.find("://");
    if (sep == std::string::npos) fail("'mqtt' must be a URL like mqtt://host:1883 (got \"" + url + "\")");
    std::string scheme = url.substr(0, sep), rest = url.substr(sep + 3);
    if (scheme == "mqtt" || scheme == "tcp") c.mqttTls = false;
    else if (scheme == "mqtts" || scheme == "ssl") c.mqttTls = true;
    else fail("'mqtt': scheme must be mqtt://, mqtts://, tcp:// or ssl:// (got \"" + scheme + "://\")");
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.find('/') != std::string::npos || rest.find('@') != std::string::npos)
        fail("'mqtt' must be scheme://host[:port] without path or credentials (mqtt_user, mqtt_password)");
    c.mqttPort = c.mqttTls ? 8883 : 1883;
    size_t colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']') == std::string::npos) { // not an IPv6 literal
        std::string port = rest.substr(colon + 1);
        char* end = nullptr;
        long p = std::strtol(port.c_str(), &end, 10);
        if (port.empty() || *end != '\0' || p < 1 || p > 65535) fail("'mqtt': bad port \"" + port + "\"");
        c.mqttPort = static_cast<int>(p);
        rest = rest.substr(0, colon);
    }
    if (rest.size() > 2 && rest.front() == '[' && rest.back() == ']') rest = rest.substr(1, rest.size() - 2);
    if (rest.empty()) fail("'mqtt': no host in \"" + url + "\"");
    c.mqttHost = rest;
}

} // namespace

std::optional<StaConfig> parseConfig(std::string_view text, std::string& error) {
    try {
        json j = json::parse(text.empty() ? std::string_view("{}") : text);
        if (!j.is_object()) fail("must be a JSON object");
        StaConfig c;
        static const std::set<std::string> known = {
            "url",      "filter",  "datastreams", "interval", "since",     "page_size",    "timeout",
            "user",     "password", "token",      "ca_file",  "insecure",  "retry_min",    "retry_max",
            "discover_interval", "mqtt", "mqtt_user", "mqtt_password", "mqtt_qos", "scenario_dir"};
        for (auto it = j.begin(); it != j.end(); ++it)
            if (!known.count(it.key())) c.warnings.push_back("sensorthings config: unknown key '" + it.key() + "' ignored");

        const json* url = opt(j, "url");
        if (!url) fail("'url' is required: the service root, e.g. https://host/FROST-Server/v1.1");
        c.url = str(*url, "url");
        while (!c.url.empty() && c.url.back() == '/') c.url.pop_back();
        if ((c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) || c.url.size() <= 8 ||
            c.url.find_first_of("?# ") != std::string::npos)
            fail("'url' must be an http:// or https:// service root without query (got " + shown(*url) + ")");
        size_t lastSlash = c.url.rfind('/');
        std::string lastSegment = c.url.substr(lastSlash + 1);
        if (lastSegment.size() >= 2 && lastSegment[0] == 'v' && std::isdigit(static_cast<unsigned char>(lastSegment[1])))
            c.topicPrefix = lastSegment;

        if (const json* v = opt(j, "filter")) c.filter = str(*v, "filter");
        if (const json* v = opt(j, "datastreams")) {
            if (!v->is_array()) fail("'datastreams' must be a list of Datastream ids (got " + shown(*v) + ")");
            for (size_t i = 0; i < v->size(); ++i) {
                auto id = entityId((*v)[i]);
                if (!id) fail("'datastreams[" + std::to_string(i) + "]' must be an integer or a non-empty string (got " + shown((*v)[i]) + ")");
                c.datastreams.push_back(*id);
            }
        }
        if (const json* v = opt(j, "interval")) c.intervalS = seconds(*v, "interval", 0.05, 7 * 86400);
        if (const json* v = opt(j, "since")) {
            std::string s = str(*v, "since");
            if (auto d = parseIsoDuration(s)) c.sinceBackS = *d;
            else if (auto t = parseIsoInstant(s)) c.sinceInstant = *t;
            else fail("'since' must be an ISO 8601 instant (2026-03-01T00:00:00Z) or a duration back (PT6H, P2D) (got " + shown(*v) + ")");
        }
        if (const json* v = opt(j, "page_size")) {
            if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > 100000)
                fail("'page_size' must be an integer 1..100000 (got " + shown(*v) + ")");
            c.pageSize = v->get<int>();
        }
        if (const json* v = opt(j, "timeout")) c.timeoutS = seconds(*v, "timeout", 0.1, 3600);
        if (const json* v = opt(j, "user")) c.user = str(*v, "user");
        if (const json* v = opt(j, "password")) c.password = str(*v, "password");
        if (const json* v = opt(j, "token")) c.token = str(*v, "token");
        if (!c.password.empty() && c.user.empty()) fail("'password' needs 'user'");
        if (!c.token.empty() && !c.user.empty()) fail("give either 'user'/'password' (Basic) or 'token' (Bearer), not both");
        if (const json* v = opt(j, "ca_file")) {
            c.caFile = str(*v, "ca_file");
            if (!c.caFile.empty() && c.caFile[0] != '/')
                if (const json* dir = opt(j, "scenario_dir"); dir && dir->is_string())
                    c.caFile = dir->get<std::string>() + "/" + c.caFile;
            if (!std::ifstream(c.caFile)) fail("'ca_file': cannot read " + c.caFile);
        }
        if (const json* v = opt(j, "insecure")) c.insecure = boolean(*v, "insecure");
        if (const json* v = opt(j, "retry_min")) c.retryMinS = seconds(*v, "retry_min", 0.01, 3600);
        if (const json* v = opt(j, "retry_max")) c.retryMaxS = seconds(*v, "retry_max", 0.01, 86400);
        if (c.retryMaxS < c.retryMinS) fail("'retry_max' must be ≥ 'retry_min'");
        if (const json* v = opt(j, "discover_interval")) c.discoverIntervalS = seconds(*v, "discover_interval", 0, 30 * 86400);
        if (const json* v = opt(j, "mqtt")) {
            std::string broker = str(*v, "mqtt");
            if (!broker.empty()) parseBroker(broker, c);
        }
        if (const json* v = opt(j, "mqtt_user")) c.mqttUser = str(*v, "mqtt_user");
        if (const json* v = opt(j, "mqtt_password")) c.mqttPassword = str(*v, "mqtt_password");
        if (!c.mqttPassword.empty() && c.mqttUser.empty()) fail("'mqtt_password' needs 'mqtt_user'");
        if (const json* v = opt(j, "mqtt_qos")) {
            if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > 2)
                fail("'mqtt_qos' must be 0, 1 or 2 (got " + shown(*v) + ")");
            c.mqttQos = v->get<int>();
        }
        if (c.mqttHost.empty() && (!c.mqttUser.empty() || opt(j, "mqtt_qos")))
            c.warnings.push_back("sensorthings config: mqtt_user/mqtt_qos given without 'mqtt': ignored");
        return c;
    } catch (const ConfigError& e) {
        error = e.what();
    } catch (const json::exception& e) {
        error = std::string("sensorthings config: not valid JSON: ") + e.what();
    }
    return std::nullopt;
}

} // namespace citytwin::sta
