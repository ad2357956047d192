// MQTT feed plugin: payload decoders, replay filter and sensor registry (see Decoders.h and
// plugins/mqtt/README.md for the rules).
#include "Decoders.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>

namespace citytwin::mqtt {

using nlohmann::json;

namespace {

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// A short, printable excerpt of untrusted text for log messages.
std::string excerpt(std::string_view s, std::size_t max = 40) {
    std::string out;
    for (char c : s.substr(0, max))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > max) out += "...";
    return out;
}

std::string_view typeName(const json& v) {
    switch (v.type()) {
    case json::value_t::null:
        return "null";
    case json::value_t::object:
        return "an object";
    case json::value_t::array:
        return "an array";
    case json::value_t::string:
        return "a string";
    case json::value_t::boolean:
        return "a boolean";
    case json::value_t::binary:
        return "binary";
    case json::value_t::discarded:
        return "discarded";
    default:
        return "a number";
    }
}

std::vector<std::string_view> splitTopic(std::string_view topic) {
    std::vector<std::string_view> levels;
    std::size_t start = 0;
    for (;;) {
        std::size_t slash = topic.find('/', start);
        levels.push_back(
            topic.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return levels;
}

// The device level of a TTS / ChirpStack uplink topic, if the topic has that shape.
std::optional<std::string_view> ttsTopicDevice(std::string_view topic) {
    auto l = splitTopic(topic);
    if (l.size() == 5 && l[0] == "v3" && l[2] == "devices" && l[4] == "up") return l[3];
    return std::nullopt;
}
std::optional<std::string_view> chirpstackTopicDevice(std::string_view topic) {
    auto l = splitTopic(topic);
    if (l.size() == 6 && l[0] == "application" && l[2] == "device" && l[4] == "event" && l[5] == "up")
        return l[3];
    return std::nullopt;
}

const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

// "$", "$.a.b.0": object keys separated by dots, an all-digit segment also indexes an array.
const json* resolvePath(const json& root, std::string_view path) {
    if (path == "$") return &root;
    if (path.size() < 3 || path.substr(0, 2) != "$.") return nullptr;
    const json* cur = &root;
    std::string_view rest = path.substr(2);
    while (cur) {
        std::size_t dot = rest.find('.');
        std::string_view seg = rest.substr(0, dot);
        if (cur->is_object()) {
            auto it = cur->find(std::string(seg));
            cur = it == cur->end() ? nullptr : &*it;
        } else if (cur->is_array() && !seg.empty() && std::all_of(seg.begin(), seg.end(), isDigit)) {
            std::size_t idx = 0;
            auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
            (void)p;
            cur = (ec == std::errc() && idx < cur->size()) ? &(*cur)[idx] : nullptr;
        } else {
            cur = nullptr;
        }
        if (dot == std::string_view::npos) break;
        rest = rest.substr(dot + 1);
    }
    return cur;
}

DecodeResult reject(const char* why, std::string detail) {
    DecodeResult r;
    r.rejections.push_back({why, std::move(detail)});
    return r;
}

// A decoded value → double, or a rejection (wrong type, non-numeric text, NaN/inf, too large).
std::optional<double> valueFrom(const json& v, const std::string& key, std::vector<Rejection>& rejections) {
    double x;
    if (v.is_boolean()) {
        x = v.get<bool>() ? 1.0 : 0.0;
    } else if (v.is_number()) {
        x = v.get<double>();
    } else if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        auto parsed = parseNumberText(s);
        if (!parsed) {
            rejections.push_back(
                {reason::InvalidValue, "'" + key + "' is not a number: \"" + excerpt(s) + "\""});
            return std::nullopt;
        }
        x = *parsed;
    } else {
        rejections.push_back(
            {reason::InvalidValue, "'" + key + "' is " + std::string(typeName(v)) + ", expected a number"});
        return std::nullopt;
    }
    if (!std::isfinite(x)) {
        rejections.push_back({reason::ValueNotFinite, "'" + key + "' is not finite"});
        return std::nullopt;
    }
    if (std::fabs(x) > kMaxAbsValue) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", x);
        rejections.push_back(
            {reason::ValueOutOfRange, "'" + key + "' = " + buf + " exceeds 1e12 in magnitude"});
        return std::nullopt;
    }
    return x;
}

// A JSON time value: RFC 3339 text, or epoch seconds / milliseconds (number or numeric text).
std::optional<double> timeFrom(const json& v, bool requireZone) {
    if (v.is_number()) return epochFromNumber(v.get<double>());
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (auto t = parseRfc3339(s, requireZone)) return t;
        if (auto n = parseNumberText(s)) return epochFromNumber(*n);
    }
    return std::nullopt;
}

bool keySelected(const std::string& key, const DecoderConfig& cfg) {
    if (std::find(cfg.ignoreKeys.begin(), cfg.ignoreKeys.end(), key) != cfg.ignoreKeys.end()) return false;
    return cfg.keys.empty() || std::find(cfg.keys.begin(), cfg.keys.end(), key) != cfg.keys.end();
}

// Decoded payload object → values; nested objects flatten to "a.b" (up to 4 levels). A "time"
// member at the top is the device's own measurement time, not a value.
void collectValues(const json& obj, const std::string& prefix, int depth, const DecoderConfig& cfg,
                   std::vector<DecodedValue>& values, std::vector<Rejection>& rejections) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (depth == 0 && it.key() == "time") continue;
        std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (it->is_object() && depth < 3) {
            collectValues(*it, key, depth + 1, cfg, values, rejections);
            continue;
        }
        if (!keySelected(key, cfg)) continue;
        if (auto x = valueFrom(*it, key, rejections)) values.push_back({key, *x});
    }
}

// Optional frame counter: missing → 0 (TTS and ChirpStack omit zero fields); else an
// unsigned 32-bit integer.
bool frameCounter(const json* v, int64_t& out, std::string& detail) {
    if (!v) {
        out = 0;
        return true;
    }
    if (v->is_number_integer()) {
        int64_t n = v->is_number_unsigned()
                        ? static_cast<int64_t>(std::min<uint64_t>(v->get<uint64_t>(), UINT64_C(1) << 40))
                        : v->get<int64_t>();
        if (n >= 0 && n <= INT64_C(0xffffffff)) {
            out = n;
            return true;
        }
    }
    detail = "frame counter is " + std::string(typeName(*v)) + (v->is_number() ? " out of 0..2^32-1" : "") +
             ", expected an unsigned 32-bit integer";
    return false;
}

void finishValues(DecodeResult& r, const char* where) {
    if (r.uplink->values.empty() && r.rejections.empty()) {
        r.rejections.push_back({reason::NoValues, std::string(where) + " has no values"});
        r.uplink.reset();
    }
}

DecodeResult decodeTts(std::string_view topic, const json& j, const DecoderConfig& cfg) {
    // https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/ (uplink)
    const json* ids = member(j, "end_device_ids");
    const json* devId = ids ? member(*ids, "device_id") : nullptr;
    if (!devId || !devId->is_string() || devId->get_ref<const std::string&>().empty())
        return reject(reason::MissingDeviceId,
                      "TTS uplink without end_device_ids.device_id (topic " + excerpt(topic, 120) + ")");
    Uplink up;
    up.device = devId->get<std::string>();
    if (auto topicDev = ttsTopicDevice(topic); topicDev && *topicDev != up.device)
        return reject(reason::TopicDeviceMismatch, "topic device '" + excerpt(*topicDev) +
                                                       "' differs from device_id '" + excerpt(up.device) +
                                                       "'");
    if (const json* eui = member(*ids, "dev_eui"); eui && eui->is_string())
        up.deviceEui = lower(eui->get_ref<const std::string&>());

    const json* msg = member(j, "uplink_message");
    if (!msg || !msg->is_object())
        return reject(reason::NotAnUplink,
                      "no uplink_message object (subscribe to .../up topics only); device " +
                          excerpt(up.device));

    // Reception time: the Application Server's received_at, else the Network Server's.
    const json* rx = member(j, "received_at");
    if (!rx) rx = member(*msg, "received_at");
    if (!rx)
        return reject(reason::MissingTime, "TTS uplink of " + excerpt(up.device) + " without received_at");
    std::optional<double> received =
        rx->is_string() ? parseRfc3339(rx->get_ref<const std::string&>()) : std::nullopt;
    if (!received)
        return reject(reason::InvalidTime,
                      "received_at of " + excerpt(up.device) + " is not an RFC 3339 time");
    up.resultTime = *received;
    up.phenomenonTime = *received;
    up.frameTime = *received;

    std::string detail;
    if (!frameCounter(member(*msg, "f_cnt"), up.fCnt, detail))
        return reject(reason::InvalidFrameCounter,
                      "uplink_message.f_cnt of " + excerpt(up.device) + ": " + detail);

    // End device location from the registry, if the uplink carries it.
    if (const json* locs = member(*msg, "locations")) {
        if (const json* user = member(*locs, "user")) {
            const json* lat = member(*user, "latitude");
            const json* lon = member(*user, "longitude");
            const json* alt = member(*user, "altitude");
            if (lat && lon && lat->is_number() && lon->is_number()) {
                up.lat = lat->get<double>();
                up.lon = lon->get<double>();
                if (alt && alt->is_number()) up.elevationM = alt->get<double>();
            }
        }
    }

    const json* decoded = member(*msg, "decoded_payload");
    if (!decoded || !decoded->is_object())
        return reject(reason::NoValues,
                      "uplink of " + excerpt(up.device) +
                          (decoded ? " has a decoded_payload that is not an object"
                                   : " has no decoded_payload (is a payload formatter set up?)"));
    DecodeResult r;
    if (const json* t = member(*decoded, "time")) {
        auto devTime = timeFrom(*t, true);
        if (!devTime)
            return reject(reason::InvalidTime,
                          "decoded_payload.time of " + excerpt(up.device) + " is not a time");
        up.phenomenonTime = *devTime;
    }
    collectValues(*decoded, "", 0, cfg, up.values, r.rejections);
    r.uplink = std::move(up);
    finishValues(r, "decoded_payload");
    return r;
}

DecodeResult decodeChirpStack(std::string_view topic, const json& j, const DecoderConfig& cfg) {
    // https://www.chirpstack.io/docs/chirpstack/integrations/events.html (up event, JSON)
    const json* info = member(j, "deviceInfo");
    const json* eui = info ? member(*info, "devEui") : nullptr;
    if (!eui || !eui->is_string() || eui->get_ref<const std::string&>().empty())
        return reject(reason::MissingDeviceId,
                      "ChirpStack uplink without deviceInfo.devEui (topic " + excerpt(topic, 120) + ")");
    Uplink up;
    up.device = lower(eui->get_ref<const std::string&>());
    up.deviceEui = up.device;
    if (auto topicDev = chirpstackTopicDevice(topic); topicDev && lower(*topicDev) != up.device)
        return reject(reason::TopicDeviceMismatch, "topic devEui '" + excerpt(*topicDev) +
                                                       "' differs from deviceInfo.devEui '" +
                                                       excerpt(up.device) + "'");
    if (const json* name = member(*info, "deviceName"); name && name->is_string())
        up.deviceName = name->get<std::string>();

    const json* t = member(j, "time");
    if (!t)
        return reject(reason::MissingTime, "ChirpStack uplink of " + excerpt(up.device) + " without time");
    std::optional<double> received =
        t->is_string() ? parseRfc3339(t->get_ref<const std::string&>()) : std::nullopt;
    if (!received)
        return reject(reason::InvalidTime, "time of " + excerpt(up.device) + " is not an RFC 3339 time");
    up.resultTime = *received;
    up.phenomenonTime = *received;
    up.frameTime = *received;

    std::string detail;
    if (!frameCounter(member(j, "fCnt"), up.fCnt, detail))
        return reject(reason::InvalidFrameCounter, "fCnt of " + excerpt(up.device) + ": " + detail);

    const json* object = member(j, "object");
    if (!object || !object->is_object())
        return reject(reason::NoValues,
                      "uplink of " + excerpt(up.device) +
                          (object ? " has an object that is not a JSON object"
                                  : " has no decoded object (is a codec set up in the device profile?)"));
    DecodeResult r;
    if (const json* dt = member(*object, "time")) {
        auto devTime = timeFrom(*dt, true);
        if (!devTime)
            return reject(reason::InvalidTime, "object.time of " + excerpt(up.device) + " is not a time");
        up.phenomenonTime = *devTime;
    }
    collectValues(*object, "", 0, cfg, up.values, r.rejections);
    r.uplink = std::move(up);
    finishValues(r, "object");
    return r;
}

DecodeResult decodeJson(std::string_view topic, const json& j, const DecoderConfig& cfg, double nowS) {
    const JsonMapping& m = cfg.mapping;
    Uplink up;
    if (!m.deviceFixed.empty()) {
        up.device = m.deviceFixed;
    } else {
        const json* d = resolvePath(j, m.devicePath);
        if (d && d->is_string() && !d->get_ref<const std::string&>().empty())
            up.device = d->get<std::string>();
        else if (d && d->is_number_integer())
            up.device = d->dump();
        else
            return reject(reason::MissingDeviceId,
                          "no sensor at " + m.devicePath + " (topic " + excerpt(topic, 120) + ")");
    }
    up.resultTime = nowS;
    up.phenomenonTime = nowS;
    if (!m.timePath.empty()) {
        const json* t = resolvePath(j, m.timePath);
        if (!t) return reject(reason::MissingTime, "no time at " + m.timePath + " for " + excerpt(up.device));
        auto parsed = timeFrom(*t, false);
        if (!parsed)
            return reject(reason::InvalidTime,
                          "the time at " + m.timePath + " of " + excerpt(up.device) + " is not a time");
        up.phenomenonTime = *parsed;
    }
    up.frameTime = up.phenomenonTime; // the result time is the local clock, not the frame's
    if (!m.fCntPath.empty()) {
        if (const json* f = resolvePath(j, m.fCntPath)) {
            std::string detail;
            if (!frameCounter(f, up.fCnt, detail))
                return reject(reason::InvalidFrameCounter,
                              m.fCntPath + " of " + excerpt(up.device) + ": " + detail);
        }
    }
    DecodeResult r;
    for (const auto& [key, path] : m.values) {
        const json* v = resolvePath(j, path);
        if (!v) continue; // partial messages are normal; no value at all is rejected below
        if (auto x = valueFrom(*v, key, r.rejections)) up.values.push_back({key, *x});
    }
    r.uplink = std::move(up);
    finishValues(r, "the message");
    return r;
}

} // namespace

std::optional<Format> formatFromString(std::string_view s) {
    if (s == "auto") return Format::Auto;
    if (s == "tts" || s == "ttn") return Format::Tts;
    if (s == "chirpstack") return Format::ChirpStack;
    if (s == "json") return Format::Json;
    return std::nullopt;
}

const char* formatName(Format f) {
    switch (f) {
    case Format::Auto:
        return "auto";
    case Format::Tts:
        return "tts";
    case Format::ChirpStack:
        return "chirpstack";
    case Format::Json:
        return "json";
    }
    return "?";
}

std::optional<double> parseRfc3339(std::string_view s, bool requireZone) {
    std::size_t i = 0;
    auto digits = [&](int n, int& out) {
        if (i + static_cast<std::size_t>(n) > s.size()) return false;
        int v = 0;
        for (int k = 0; k < n; ++k) {
            char c = s[i + static_cast<std::size_t>(k)];
            if (!isDigit(c)) return false;
            v = v * 10 + (c - '0');
        }
        i += static_cast<std::size_t>(n);
        out = v;
        return true;
    };
    auto expect = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    int Y, M, D, h, m, sec;
    if (!digits(4, Y) || !expect('-') || !digits(2, M) || !expect('-') || !digits(2, D)) return std::nullopt;
    if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return std::nullopt;
    ++i;
    if (!digits(2, h) || !expect(':') || !digits(2, m) || !expect(':') || !digits(2, sec))
        return std::nullopt;
    double frac = 0.0;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        std::size_t start = i;
        int64_t ns = 0;
        int n = 0;
        while (i < s.size() && isDigit(s[i])) {
            if (n < 9) {
                ns = ns * 10 + (s[i] - '0');
                ++n;
            }
            ++i;
        }
        if (i == start) return std::nullopt;
        for (; n < 9; ++n)
            ns *= 10;
        frac = static_cast<double>(ns) * 1e-9;
    }
    int offsetMin = 0;
    if (i == s.size()) {
        if (requireZone) return std::nullopt;
    } else if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        ++i;
        int oh, om;
        if (!digits(2, oh)) return std::nullopt;
        expect(':');
        if (!digits(2, om) || oh > 23 || om > 59) return std::nullopt;
        offsetMin = sign * (oh * 60 + om);
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{year{Y}, month{static_cast<unsigned>(M)}, day{static_cast<unsigned>(D)}};
    if (!ymd.ok() || h > 23 || m > 59 || sec > 60) return std::nullopt; // 60: a leap second
    int64_t days = sys_days(ymd).time_since_epoch().count();
    int64_t whole = days * 86400 + h * 3600 + m * 60 + sec - int64_t{offsetMin} * 60;
    return static_cast<double>(whole) + frac;
}

std::optional<double> parseNumberText(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
    if (p != s.data() + s.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range) {
        // Overflow → ±inf (rejected as not finite later), underflow → 0.
        std::size_t e = s.find_first_of("eE");
        bool negativeExponent = e != std::string_view::npos && e + 1 < s.size() && s[e + 1] == '-';
        if (negativeExponent) return 0.0;
        return s.front() == '-' ? -HUGE_VAL : HUGE_VAL;
    }
    if (ec != std::errc()) return std::nullopt;
    return v;
}

std::optional<double> epochFromNumber(double v) {
    if (!std::isfinite(v) || v < 0) return std::nullopt;
    if (v >= 1e11) v /= 1000.0; // milliseconds
    if (v >= 1e11) return std::nullopt;
    return v;
}

Quantity defaultQuantity(std::string_view key) {
    std::string k = lower(key);
    auto has = [&](const char* part) { return k.find(part) != std::string::npos; };
    Quantity q;
    q.quantity = std::string(key);
    if (has("battery") || k == "bat" || k == "vbat" || k == "batv")
        q.unit = has("percent") || has("pct") ? "%" : "V";
    else if (has("temperature") || k == "temp")
        q.unit = "°C";
    else if (has("level") || has("depth"))
        q.unit = "m";
    else if (has("flow"))
        q.unit = "m3/h";
    else if (has("running") || has("state") || k.rfind("is_", 0) == 0 || has("count"))
        q.unit = "1";
    else if (has("humidity"))
        q.unit = "%";
    else if (has("pressure"))
        q.unit = "hPa";
    else
        q.unit = "";
    return q;
}

Quantity quantityFor(std::string_view key, const DecoderConfig& cfg) {
    auto it = cfg.quantities.find(std::string(key));
    if (it != cfg.quantities.end()) return it->second;
    return defaultQuantity(key);
}

bool validTopicFilter(std::string_view filter) {
    if (filter.empty() || filter.size() > 65535) return false;
    auto levels = splitTopic(filter);
    for (std::size_t i = 0; i < levels.size(); ++i) {
        std::string_view l = levels[i];
        if (l.find('#') != std::string_view::npos && (l != "#" || i + 1 != levels.size())) return false;
        if (l.find('+') != std::string_view::npos && l != "+") return false;
        if (l.find('\0') != std::string_view::npos) return false;
    }
    return true;
}

bool validJsonPath(std::string_view path) {
    if (path == "$") return true;
    if (path.size() < 3 || path.substr(0, 2) != "$.") return false;
    std::string_view rest = path.substr(2);
    for (;;) {
        std::size_t dot = rest.find('.');
        if (rest.substr(0, dot).empty()) return false;
        if (dot == std::string_view::npos) return true;
        rest = rest.substr(dot + 1);
    }
}

std::optional<Format> detectFormat(std::string_view topic, const DecoderConfig& cfg) {
    if (cfg.format != Format::Auto) return cfg.format;
    if (ttsTopicDevice(topic)) return Format::Tts;
    if (chirpstackTopicDevice(topic)) return Format::ChirpStack;
    if (!cfg.mapping.values.empty()) return Format::Json;
    return std::nullopt;
}

DecodeResult decodeMessage(std::string_view topic, std::string_view payload, const DecoderConfig& cfg,
                           double nowS) {
    // The size check comes first: an oversized payload is never parsed.
    if (payload.size() > cfg.maxPayloadBytes)
        return reject(reason::PayloadTooLarge, std::to_string(payload.size()) + " bytes on " +
                                                   excerpt(topic, 120) + " exceed max_payload_bytes " +
                                                   std::to_string(cfg.maxPayloadBytes));
    auto fmt = detectFormat(topic, cfg);
    if (!fmt)
        return reject(reason::UnknownTopic,
                      "no decoder for topic " + excerpt(topic, 120) + " (format auto, no mapping)");
    try {
        json j =
            json::parse(payload.data(), payload.data() + payload.size(), nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded())
            return reject(reason::MalformedJson, "payload on " + excerpt(topic, 120) + " is not valid JSON");
        if (!j.is_object())
            return reject(reason::NotAnObject,
                          "payload on " + excerpt(topic, 120) + " is " + std::string(typeName(j)));
        switch (*fmt) {
        case Format::Tts:
            return decodeTts(topic, j, cfg);
        case Format::ChirpStack:
            return decodeChirpStack(topic, j, cfg);
        case Format::Json:
        case Format::Auto:
            return decodeJson(topic, j, cfg, nowS);
        }
    } catch (const std::exception& e) {
        return reject(reason::InternalError, std::string("decoder failed: ") + e.what());
    }
    return reject(reason::InternalError, "unreachable");
}

FrameCounterFilter::Verdict FrameCounterFilter::check(const std::string& device, int64_t fCnt, double timeS) {
    if (fCnt < 0) return Verdict::New;
    auto it = m_last.find(device);
    if (it == m_last.end()) {
        m_last.emplace(device, Last{fCnt, timeS});
        return Verdict::New;
    }
    Last& last = it->second;
    Verdict v;
    if (fCnt > last.fCnt)
        v = Verdict::Increasing;
    else if (fCnt <= m_resetMax && std::isfinite(timeS) && std::isfinite(last.timeS) &&
             timeS - last.timeS >= m_resetGapS)
        v = Verdict::Reset;
    else
        return Verdict::Replay;
    last = Last{fCnt, timeS};
    return v;
}

Ingest::Ingest(DecoderConfig cfg) : m_cfg(std::move(cfg)), m_fcnt(m_cfg.fCntResetMax, m_cfg.fCntResetGapS) {
    // Device keys match case-insensitively when they are EUIs (hex), exactly otherwise.
    std::map<std::string, DeviceMeta> extra;
    for (const auto& [id, meta] : m_cfg.devices) {
        std::string l = lower(id);
        if (l != id && !m_cfg.devices.count(l)) extra.emplace(l, meta);
    }
    m_cfg.devices.merge(extra);
}

const DeviceMeta* Ingest::findDevice(const Uplink& up) const {
    if (auto it = m_cfg.devices.find(up.device); it != m_cfg.devices.end()) return &it->second;
    if (!up.deviceEui.empty())
        if (auto it = m_cfg.devices.find(up.deviceEui); it != m_cfg.devices.end()) return &it->second;
    return nullptr;
}

namespace {
bool sameNumber(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}
bool sameSensor(const SensorInfo& a, const SensorInfo& b) {
    return a.name == b.name && sameNumber(a.lon, b.lon) && sameNumber(a.lat, b.lat) &&
           sameNumber(a.elevationM, b.elevationM) && a.quantity == b.quantity && a.unit == b.unit &&
           sameNumber(a.warnAbove, b.warnAbove) && sameNumber(a.alarmAbove, b.alarmAbove);
}
double pick(double configured, double fromPayload) {
    return std::isfinite(configured) ? configured : fromPayload;
}
} // namespace

IngestResult Ingest::process(std::string_view topic, std::string_view payload, double nowS) {
    IngestResult res;
    DecodeResult d = decodeMessage(topic, payload, m_cfg, nowS);
    if (!d.uplink) {
        res.rejections = std::move(d.rejections);
        return res;
    }
    const Uplink& up = *d.uplink;
    const DeviceMeta* meta = findDevice(up);
    if (m_cfg.allowList && !meta) {
        res.rejections.push_back(
            {reason::UnknownDevice, "device '" + excerpt(up.device) + "' is not in the configured devices"});
        return res;
    }
    // The store keeps one row per (sensor, dedup key). After a counter reset (a rejoin) the
    // device's frames get a new session number in the key's upper half, so they are not taken
    // for the old frames with the same counter; redeliveries keep theirs and stay duplicates.
    int64_t dedupKey = -1;
    if (up.fCnt >= 0) {
        auto verdict = m_fcnt.check(up.device, up.fCnt, up.frameTime);
        int64_t& session = m_sessions[up.device];
        if (verdict == FrameCounterFilter::Verdict::Reset) ++session;
        dedupKey = (session << 32) | (up.fCnt & 0xffffffffLL);
        if (verdict == FrameCounterFilter::Verdict::Replay) {
            res.rejections.push_back({reason::ReplayedFrameCounter,
                                      "device '" + excerpt(up.device) + "' frame counter " +
                                          std::to_string(up.fCnt) + " is not above the last accepted one"});
            return res;
        }
    }
    std::string deviceName = meta && !meta->name.empty() ? meta->name
                             : !up.deviceName.empty()    ? up.deviceName
                                                         : up.device;
    for (const DecodedValue& v : up.values) {
        Quantity q = quantityFor(v.key, m_cfg);
        double value = v.value * q.scale + q.offset;
        if (!std::isfinite(value) || std::fabs(value) > kMaxAbsValue) {
            res.rejections.push_back({reason::ValueOutOfRange, "'" + v.key + "' of " + excerpt(up.device) +
                                                                   " after scale/offset exceeds 1e12"});
            continue;
        }
        SensorInfo s;
        s.id = up.device + "/" + v.key;
        s.name = deviceName + " " + v.key;
        s.lon = pick(meta ? meta->lon : kNaN, up.lon);
        s.lat = pick(meta ? meta->lat : kNaN, up.lat);
        s.elevationM = pick(meta ? meta->elevationM : kNaN, up.elevationM);
        s.quantity = q.quantity;
        s.unit = q.unit;
        s.warnAbove = q.warnAbove;
        s.alarmAbove = q.alarmAbove;
        auto it = m_sensors.find(s.id);
        if (it == m_sensors.end()) {
            if (m_sensors.size() >= m_cfg.maxSensors) {
                res.rejections.push_back({reason::TooManySensors, "sensor " + excerpt(s.id, 80) +
                                                                      " would exceed max_sensors " +
                                                                      std::to_string(m_cfg.maxSensors)});
                continue;
            }
            res.announce.push_back(s);
            m_sensors.emplace(s.id, std::move(s));
        } else if (!sameSensor(it->second, s)) {
            res.announce.push_back(s);
            it->second = std::move(s);
        }
        res.observations.push_back(
            {up.device + "/" + v.key, up.phenomenonTime, up.resultTime, value, 0, dedupKey});
    }
    for (auto& r : d.rejections)
        res.rejections.push_back(std::move(r));
    return res;
}

} // namespace citytwin::mqtt
