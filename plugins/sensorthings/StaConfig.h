// SensorThings feed plugin: the feed configuration (JSON from the scenario) and its checks.
// The keys are documented in plugins/sensorthings/README.md.
#pragma once

#include "StaParse.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace citytwin::sta {

struct StaConfig {
    std::string url;                     // service root, no trailing '/': https://host/FROST-Server/v1.1
    std::string filter;                  // OData $filter on Datastreams (may reach into Thing/...)
    std::vector<EntityId> datastreams;   // only these; empty: all (that pass the filter)
    double intervalS = 60;               // poll period
    std::optional<double> sinceInstant;  // first poll: observations after this instant...
    double sinceBackS = 3600;            // ...or after now − this
    int pageSize = 1000;                 // $top
    double timeoutS = 30;                // per HTTP request
    std::string user, password, token;   // Basic or Bearer
    std::string caFile;
    bool insecure = false;
    double retryMinS = 2, retryMaxS = 300; // backoff: min, 2·min, 4·min, ... up to max
    double discoverIntervalS = 3600;     // Datastreams listed again this often (0: only at start)
    // MQTT extension (empty mqttHost: off)
    std::string mqttHost;
    int mqttPort = 1883;
    bool mqttTls = false;
    std::string mqttUser, mqttPassword;
    int mqttQos = 0;
    std::string topicPrefix = "v1.1"; // the service root's version segment
    std::vector<std::string> warnings; // unknown keys: logged at start, not fatal
};

// Parses and checks; nullopt with a message naming the key on failure.
std::optional<StaConfig> parseConfig(std::string_view json, std::string& error);

} // namespace citytwin::sta
