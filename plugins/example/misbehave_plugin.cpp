// A plugin that misbehaves as its config asks, for tests/test_feeds.cpp (built only with the
// tests): C++ exceptions out of create/start/stop, error buffers filled without a NUL, and
// garbage through every host callback. The host must contain all of it.
#include "citytwin_plugin.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace {

struct Instance {
    citytwin_host_api host;
    std::string mode;
};

std::string modeOf(const char* json) {
    // The config is {"mode": "<word>"}; good enough for a test fixture.
    const char* m = std::strstr(json, "\"mode\"");
    if (!m) return {};
    const char* q = std::strchr(m + 6, '"');
    if (!q) return {};
    const char* e = std::strchr(q + 1, '"');
    return e ? std::string(q + 1, e) : std::string();
}

void* create(const citytwin_host_api* host, const char* config, char* error, size_t size) {
    std::string mode = modeOf(config);
    if (mode == "throw_create") throw std::runtime_error("create exploded");
    if (mode == "fail_create_nul") { // fills the buffer to the end, no NUL
        std::memset(error, 'x', size);
        return nullptr;
    }
    return new Instance{*host, mode};
}

void publishGarbage(const citytwin_host_api& h) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    h.announce_sensor(h.host, nullptr);
    citytwin_sensor noId{nullptr, "x", nan, nan, nan, "q", "u", nan, nan};
    h.announce_sensor(h.host, &noId);
    citytwin_sensor s{"good", nullptr, 500.0, 51.7, nan, nullptr, nullptr, nan, nan}; // lon out of range
    h.announce_sensor(h.host, &s);
    // Properties (ABI minor 1): not an object, too long, and a good one.
    citytwin_sensor list{"props-list", nullptr, nan, nan, nan, "q", "u", nan, nan, "[1, 2]"};
    h.announce_sensor(h.host, &list);
    std::string big = "{\"x\": \"" + std::string(5000, 'a') + "\"}";
    citytwin_sensor huge{"props-huge", nullptr, nan, nan, nan, "q", "u", nan, nan, big.c_str()};
    h.announce_sensor(h.host, &huge);
    citytwin_sensor placed{"props-ok", nullptr, nan, nan, nan, "traffic_count", "veh/h", nan, nan,
                           R"({"edge": "12", "heading": 90})"};
    h.announce_sensor(h.host, &placed);
    h.log(h.host, CITYTWIN_LOG_WARN, nullptr);
    h.log(h.host, static_cast<citytwin_log_level>(42), "odd level");
    h.report_status(h.host, static_cast<citytwin_status>(99), "no such status");
    h.count_rejected(h.host, nullptr);
    h.count_rejected(h.host, "bad frame");
    h.publish(h.host, nullptr, 3);
    citytwin_observation obs[] = {
        {"good", 1000.0, nan, 1.5, 0, 1},     // stored
        {nullptr, 1001.0, nan, 2.0, 0, 2},    // no sensor id
        {"good", 1002.0, nan, nan, 0, 3},     // NaN value
        {"good", 1003.0, nan, 1e30, 0, 4},    // beyond 1e12
        {"good", inf, nan, 1.0, 0, 5},        // no time
        {"good", 1005.0, nan, 1.0, 7, 6},     // quality out of range
        {"good", 1000.0, nan, 1.5, 0, 1},     // duplicate of the first
        {"good", 1006.0, nan, -inf, 0, 7},    // infinite value
        {"good", 1007.0, 1010.0, -2.5, 1, 8}, // stored
    };
    h.publish(h.host, obs, sizeof obs / sizeof obs[0]);
}

int start(void* p, char* error, size_t size) {
    auto* in = static_cast<Instance*>(p);
    if (in->mode == "throw_start") throw std::logic_error("start exploded");
    if (in->mode == "fail_start_nul") {
        std::memset(error, 'y', size);
        return 5;
    }
    if (in->mode == "garbage") publishGarbage(in->host);
    in->host.report_status(in->host.host, CITYTWIN_STATUS_CONNECTED, "misbehaving as asked");
    return 0;
}

void stop(void* p) {
    if (static_cast<Instance*>(p)->mode == "throw_stop") throw 42; // not even a std::exception
}

void destroy(void* p) {
    delete static_cast<Instance*>(p);
}

const citytwin_plugin_api api = {
    CITYTWIN_PLUGIN_ABI_MAJOR, CITYTWIN_PLUGIN_ABI_MINOR, "misbehave", "0.1", create, start, stop, destroy};
// The same plugin claiming ABI minor 0: the host must not read properties_json from it.
const citytwin_plugin_api apiMinor0 = {CITYTWIN_PLUGIN_ABI_MAJOR, 0, "misbehave", "0.1", create, start, stop, destroy};

} // namespace

// Refuses the host (returns NULL) when CITYTWIN_TEST_REFUSE is set, to test that path;
// claims ABI minor 0 when CITYTWIN_TEST_MINOR0 is set.
extern "C" __attribute__((visibility("default"))) const citytwin_plugin_api* citytwin_plugin_entry(uint32_t) {
    if (std::getenv("CITYTWIN_TEST_REFUSE")) return nullptr;
    return std::getenv("CITYTWIN_TEST_MINOR0") ? &apiMinor0 : &api;
}
