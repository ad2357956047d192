// MQTT feed plugin: the feed configuration (JSON from the scenario) and its validation.
// The schema is documented in plugins/mqtt/README.md.
#pragma once

#include "Decoders.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace citytwin::mqtt {

struct TlsConfig {
    bool enabled = false;
    std::string caFile, caPath, certFile, keyFile;
    bool insecure = false; // skip the server host name check (never in production)
};

// The broker connection: what MqttClient needs (MqttClient.h). Every plugin that talks MQTT
// (mqtt, traffic) reads these keys with the same parser, so they mean the same everywhere.
struct ConnectionConfig {
    std::string host = "localhost";
    int port = 1883; // 8883 by default with TLS
    std::string clientId;
    std::optional<std::string> username, password;
    TlsConfig tls;
    std::vector<std::string> topics;
    int qos = 1;
    bool cleanSession = false;
    int keepaliveS = 30;
    double reconnectMinS = 1.0; // exponential backoff: min, 2·min, 4·min, ... up to max
    double reconnectMaxS = 30.0;
};

struct PluginConfig : ConnectionConfig {
    DecoderConfig decoder;
    std::vector<std::string> warnings; // unknown keys and the like: logged, not fatal
};

// Parses and validates; on failure returns nullopt and a message saying what is wrong.
std::optional<PluginConfig> parseConfig(std::string_view json, std::string& error);

// The connection keys alone (host, port, client_id, username, password, tls, topics, qos,
// clean_session, keepalive_s, reconnect_min_s, reconnect_max_s), e.g. the traffic plugin's "mqtt"
// object. keyPrefix goes before every key name in messages ("mqtt." → "'mqtt.port' must be ...");
// other keys are warned about in `warnings`. On failure nullopt and the message in `error`.
std::optional<ConnectionConfig> parseConnectionConfig(std::string_view json, std::string& error,
                                                      std::vector<std::string>& warnings,
                                                      const std::string& keyPrefix = "");

} // namespace citytwin::mqtt
