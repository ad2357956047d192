// MQTT feed plugin: configuration parsing and validation (schema in plugins/mqtt/README.md).
#include "MqttConfig.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <stdexcept>

namespace citytwin::mqtt {

using nlohmann::json;

namespace {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) {
    throw ConfigError(what);
}

std::string shown(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

const json* opt(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string str(const json& v, const std::string& name, bool nonEmpty = true) {
    if (!v.is_string()) fail("'" + name + "' must be a string (got " + shown(v) + ")");
    std::string s = v.get<std::string>();
    if (nonEmpty && s.empty()) fail("'" + name + "' must not be empty");
    return s;
}

int64_t integer(const json& v, const std::string& name, int64_t lo, int64_t hi) {
    if (!v.is_number_integer())
        fail("'" + name + "' must be an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
             " (got " + shown(v) + ")");
    int64_t n = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                    ? INT64_MAX
                    : v.get<int64_t>();
    if (n < lo || n > hi)
        fail("'" + name + "' must be in " + std::to_string(lo) + ".." + std::to_string(hi) + " (got " +
             shown(v) + ")");
    return n;
}

double number(const json& v, const std::string& name, double lo, double hi) {
    if (!v.is_number()) fail("'" + name + "' must be a number (got " + shown(v) + ")");
    double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) fail("'" + name + "' is out of range (got " + shown(v) + ")");
    return x;
}

bool boolean(const json& v, const std::string& name) {
    if (!v.is_boolean()) fail("'" + name + "' must be true or false (got " + shown(v) + ")");
    return v.get<bool>();
}

void checkReadable(const std::string& path, const std::string& name) {
    std::ifstream f(path);
    if (!f) fail("'" + name + "': cannot read " + path);
}

std::vector<std::string> stringList(const json& v, const std::string& name) {
    if (!v.is_array()) fail("'" + name + "' must be an array of strings (got " + shown(v) + ")");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i)
        out.push_back(str(v[i], name + "[" + std::to_string(i) + "]"));
    return out;
}

void warnUnknown(const json& obj, const std::set<std::string>& known, const std::string& where,
                 std::vector<std::string>& warnings) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!known.count(it.key()))
            warnings.push_back("mqtt config: unknown key '" + where + it.key() + "' ignored");
}

std::string path(const json& v, const std::string& name) {
    std::string p = str(v, name);
    if (!validJsonPath(p)) fail("'" + name + "' must be a path like \"$.a.b\" (got \"" + p + "\")");
    return p;
}

const std::set<std::string>& connectionKeys() {
    static const std::set<std::string> keys = {
        "host",   "port", "client_id",     "username",    "password",        "tls",
        "topics", "qos",  "clean_session", "keepalive_s", "reconnect_min_s", "reconnect_max_s"};
    return keys;
}

// The connection keys of a config object. p goes before every key name in messages ("" for the
// mqtt plugin's own config, "mqtt." for an object nested in another plugin's).
void parseConnection(const json& j, ConnectionConfig& c, std::vector<std::string>& warnings,
                     const std::string& p) {
    auto k = [&](const char* name) { return p + name; };
    if (auto v = opt(j, "host")) c.host = str(*v, k("host"));
    if (auto v = opt(j, "tls")) {
        if (!v->is_object())
            fail("'" + k("tls") + "' must be an object {ca_file, ca_path, cert_file, key_file, insecure}");
        warnUnknown(*v, {"ca_file", "ca_path", "cert_file", "key_file", "insecure"}, k("tls."), warnings);
        c.tls.enabled = true;
        if (auto f = opt(*v, "ca_file"))
            checkReadable(c.tls.caFile = str(*f, k("tls.ca_file")), k("tls.ca_file"));
        if (auto f = opt(*v, "ca_path")) c.tls.caPath = str(*f, k("tls.ca_path"));
        if (auto f = opt(*v, "cert_file"))
            checkReadable(c.tls.certFile = str(*f, k("tls.cert_file")), k("tls.cert_file"));
        if (auto f = opt(*v, "key_file"))
            checkReadable(c.tls.keyFile = str(*f, k("tls.key_file")), k("tls.key_file"));
        if (c.tls.certFile.empty() != c.tls.keyFile.empty())
            fail("'" + k("tls.cert_file") + "' and '" + k("tls.key_file") + "' go together");
        if (!c.tls.certFile.empty() && c.tls.caFile.empty() && c.tls.caPath.empty())
            fail("'" + k("tls.cert_file") + "' needs '" + k("tls.ca_file") + "' or '" + k("tls.ca_path") +
                 "' (libmosquitto sets client certificates with a CA only)");
        if (auto f = opt(*v, "insecure")) c.tls.insecure = boolean(*f, k("tls.insecure"));
        c.port = 8883;
    }
    if (auto v = opt(j, "port")) c.port = static_cast<int>(integer(*v, k("port"), 1, 65535));
    if (auto v = opt(j, "clean_session")) c.cleanSession = boolean(*v, k("clean_session"));
    if (auto v = opt(j, "client_id")) {
        c.clientId = str(*v, k("client_id"));
        if (c.clientId.size() > 65535) fail("'" + k("client_id") + "' is too long");
    }
    if (!c.cleanSession && c.clientId.empty())
        fail("'" + k("client_id") +
             "' is required with clean_session false (the broker keeps the session under that id)");
    if (auto v = opt(j, "username")) c.username = str(*v, k("username"));
    if (auto v = opt(j, "password")) {
        c.password = str(*v, k("password"), false);
        if (!c.username) fail("'" + k("password") + "' needs a '" + k("username") + "'");
    }
    const json* topics = opt(j, "topics");
    if (!topics)
        fail("'" + k("topics") + "' is required: a list of MQTT topic filters, e.g. [\"v3/+/devices/+/up\"]");
    c.topics = stringList(*topics, k("topics"));
    if (c.topics.empty()) fail("'" + k("topics") + "' must name at least one topic filter");
    for (const auto& t : c.topics)
        if (!validTopicFilter(t))
            fail("'" + k("topics") + "': \"" + t +
                 "\" is not a valid MQTT topic filter ('+' and '#' only as whole levels, '#' last)");
    if (auto v = opt(j, "qos")) c.qos = static_cast<int>(integer(*v, k("qos"), 0, 2));
    if (auto v = opt(j, "keepalive_s"))
        c.keepaliveS = static_cast<int>(integer(*v, k("keepalive_s"), 5, 65535));
    if (auto v = opt(j, "reconnect_min_s")) c.reconnectMinS = number(*v, k("reconnect_min_s"), 0.01, 3600);
    if (auto v = opt(j, "reconnect_max_s")) c.reconnectMaxS = number(*v, k("reconnect_max_s"), 0.01, 86400);
    if (c.reconnectMaxS < c.reconnectMinS)
        fail("'" + k("reconnect_max_s") + "' must not be below '" + k("reconnect_min_s") + "'");
}

PluginConfig parse(const json& j) {
    if (!j.is_object()) fail("the configuration must be a JSON object");
    PluginConfig c;
    static const std::set<std::string> known = [] {
        std::set<std::string> k = connectionKeys();
        k.insert({"format", "mapping", "quantities", "devices", "allow_unknown_devices", "max_payload_bytes",
                  "fcnt_reset_max", "fcnt_reset_gap_s", "max_sensors",
                  // keys a host may pass along with the plugin's own
                  "plugin", "name", "id", "type", "enabled"});
        return k;
    }();
    warnUnknown(j, known, "", c.warnings);
    parseConnection(j, c, c.warnings, "");

    DecoderConfig& d = c.decoder;
    if (auto v = opt(j, "format")) {
        auto f = formatFromString(str(*v, "format"));
        if (!f)
            fail("'format' must be \"tts\", \"chirpstack\", \"json\" or \"auto\" (got " + shown(*v) + ")");
        d.format = *f;
    }
    if (auto m = opt(j, "mapping")) {
        if (!m->is_object()) fail("'mapping' must be an object");
        warnUnknown(*m, {"sensor", "time", "f_cnt", "values", "keys", "ignore_keys"}, "mapping.", c.warnings);
        if (auto v = opt(*m, "sensor")) {
            std::string s = str(*v, "mapping.sensor");
            if (s[0] == '$')
                d.mapping.devicePath = path(*v, "mapping.sensor");
            else
                d.mapping.deviceFixed = s;
        }
        if (auto v = opt(*m, "time")) d.mapping.timePath = path(*v, "mapping.time");
        if (auto v = opt(*m, "f_cnt")) d.mapping.fCntPath = path(*v, "mapping.f_cnt");
        if (auto v = opt(*m, "values")) {
            if (!v->is_object() || v->empty())
                fail("'mapping.values' must be a non-empty object {\"key\": \"$.path\"}");
            for (auto it = v->begin(); it != v->end(); ++it) {
                if (it.key().empty() || it.key().find('/') != std::string::npos)
                    fail("'mapping.values': key \"" + it.key() + "\" must be non-empty and without '/'");
                d.mapping.values.emplace_back(it.key(), path(*it, "mapping.values." + it.key()));
            }
        }
        if (auto v = opt(*m, "keys")) d.keys = stringList(*v, "mapping.keys");
        if (auto v = opt(*m, "ignore_keys")) d.ignoreKeys = stringList(*v, "mapping.ignore_keys");
    }
    bool hasMapping = !d.mapping.values.empty();
    if (hasMapping && d.mapping.devicePath.empty() && d.mapping.deviceFixed.empty())
        fail("'mapping.sensor' is required with 'mapping.values' (a path like \"$.id\" or a fixed name)");
    if (d.format == Format::Json && !hasMapping)
        fail("format \"json\" needs 'mapping' with 'sensor' and 'values', e.g. {\"sensor\": \"$.id\", "
             "\"time\": \"$.ts\", "
             "\"values\": {\"level\": \"$.level\"}}");
    if (auto q = opt(j, "quantities")) {
        if (!q->is_object()) fail("'quantities' must be an object {\"key\": {\"quantity\", \"unit\"}}");
        for (auto it = q->begin(); it != q->end(); ++it) {
            const std::string n = "quantities." + it.key();
            if (!it->is_object()) fail("'" + n + "' must be an object {\"quantity\", \"unit\"}");
            warnUnknown(*it, {"quantity", "unit", "warn_above", "alarm_above", "scale", "offset"}, n + ".",
                        c.warnings);
            Quantity qq;
            const json* qn = opt(*it, "quantity");
            const json* qu = opt(*it, "unit");
            if (!qn || !qu) fail("'" + n + "' needs \"quantity\" and \"unit\"");
            qq.quantity = str(*qn, n + ".quantity");
            qq.unit = str(*qu, n + ".unit", false);
            if (auto v = opt(*it, "warn_above"))
                qq.warnAbove = number(*v, n + ".warn_above", -kMaxAbsValue, kMaxAbsValue);
            if (auto v = opt(*it, "alarm_above"))
                qq.alarmAbove = number(*v, n + ".alarm_above", -kMaxAbsValue, kMaxAbsValue);
            if (auto v = opt(*it, "scale")) qq.scale = number(*v, n + ".scale", -kMaxAbsValue, kMaxAbsValue);
            if (auto v = opt(*it, "offset"))
                qq.offset = number(*v, n + ".offset", -kMaxAbsValue, kMaxAbsValue);
            d.quantities.emplace(it.key(), std::move(qq));
        }
    }
    if (auto devs = opt(j, "devices")) {
        if (!devs->is_object())
            fail("'devices' must be an object {\"device id\": {name, lon, lat, elevation}}");
        for (auto it = devs->begin(); it != devs->end(); ++it) {
            const std::string n = "devices." + it.key();
            if (it.key().empty()) fail("'devices' has an empty device id");
            if (!it->is_object()) fail("'" + n + "' must be an object {name, lon, lat, elevation}");
            warnUnknown(*it, {"name", "lon", "lat", "elevation"}, n + ".", c.warnings);
            DeviceMeta m;
            if (auto v = opt(*it, "name")) m.name = str(*v, n + ".name", false);
            if (auto v = opt(*it, "lon")) m.lon = number(*v, n + ".lon", -180, 180);
            if (auto v = opt(*it, "lat")) m.lat = number(*v, n + ".lat", -90, 90);
            if (auto v = opt(*it, "elevation")) m.elevationM = number(*v, n + ".elevation", -12000, 10000);
            d.devices.emplace(it.key(), std::move(m));
        }
    }
    bool allowUnknown = false;
    if (auto v = opt(j, "allow_unknown_devices")) allowUnknown = boolean(*v, "allow_unknown_devices");
    d.allowList = !d.devices.empty() && !allowUnknown;
    if (auto v = opt(j, "max_payload_bytes"))
        d.maxPayloadBytes = static_cast<std::size_t>(integer(*v, "max_payload_bytes", 64, 16 << 20));
    if (auto v = opt(j, "fcnt_reset_max")) d.fCntResetMax = integer(*v, "fcnt_reset_max", 0, 0xffffffffLL);
    if (auto v = opt(j, "fcnt_reset_gap_s")) d.fCntResetGapS = number(*v, "fcnt_reset_gap_s", 0, 1e9);
    if (auto v = opt(j, "max_sensors"))
        d.maxSensors = static_cast<std::size_t>(integer(*v, "max_sensors", 1, 10000000));
    return c;
}

} // namespace

std::optional<PluginConfig> parseConfig(std::string_view text, std::string& error) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        error = "mqtt config: not valid JSON";
        return std::nullopt;
    }
    try {
        return parse(j);
    } catch (const ConfigError& e) {
        error = std::string("mqtt config: ") + e.what();
    } catch (const std::exception& e) {
        error = std::string("mqtt config: ") + e.what();
    }
    return std::nullopt;
}

std::optional<ConnectionConfig> parseConnectionConfig(std::string_view text, std::string& error,
                                                      std::vector<std::string>& warnings,
                                                      const std::string& keyPrefix) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        error = "mqtt config: not valid JSON";
        return std::nullopt;
    }
    try {
        if (!j.is_object()) fail("the MQTT settings must be a JSON object");
        warnUnknown(j, connectionKeys(), keyPrefix, warnings);
        ConnectionConfig c;
        parseConnection(j, c, warnings, keyPrefix);
        return c;
    } catch (const std::exception& e) {
        error = std::string("mqtt config: ") + e.what();
    }
    return std::nullopt;
}

} // namespace citytwin::mqtt
