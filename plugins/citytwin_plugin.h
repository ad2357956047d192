/* citytwin live-feed plugin ABI (docs/plugins.md).
 *
 * A plugin is a shared library exporting one function,
 *
 *     const citytwin_plugin_api* citytwin_plugin_entry(uint32_t host_abi_major);
 *
 * which returns a table of functions (or NULL to refuse). The host checks abi_major before
 * anything else and refuses a plugin built against another major version with a message.
 * Plain C, no exceptions across the boundary, all strings UTF-8 and NUL-terminated, every
 * pointer the host passes valid only during the call (copy what you keep).
 *
 * Threads: start() may spawn threads; the host functions may be called from any thread
 * between start() and the return of stop(). stop() must join them.
 */
#ifndef CITYTWIN_PLUGIN_H
#define CITYTWIN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CITYTWIN_PLUGIN_ABI_MAJOR 1u /* incompatible changes */
#define CITYTWIN_PLUGIN_ABI_MINOR 1u /* additions at the end of the tables and structs */

/* One sensor, announced once (again when its metadata changes). */
typedef struct citytwin_sensor {
    const char* id;        /* unique within the feed, e.g. "eui-70b3d57ed0041234/groundwater" */
    const char* name;      /* for people; may be NULL */
    double lon, lat;       /* WGS84 degrees; NaN if unknown */
    double elevation_m;    /* NaN if unknown */
    const char* quantity;  /* "groundwater_level", "pump_running", "river_level", "traffic_count", ... */
    const char* unit;      /* "m", "1", "veh/h", ... */
    double warn_above, alarm_above; /* thresholds, NaN if none */
    /* ABI minor >= 1 (the host reads it only from plugins whose table says abi_minor >= 1):
     * further facts as a JSON object, NULL if none. Well-known keys (docs/plugins.md):
     * "edge" (a road edge id), "heading" (direction of travel counted, degrees, 0 = east,
     * counter-clockwise), "interval_s" (length of a count interval). At most 4 KiB. */
    const char* properties_json;
} citytwin_sensor;

/* One observation of a sensor. Times are seconds since 1970-01-01T00:00:00Z (UTC). */
typedef struct citytwin_observation {
    const char* sensor_id;
    double phenomenon_time; /* when it was measured */
    double result_time;     /* when it was received/known; NaN: now */
    double value;
    int32_t quality;        /* 0 good, 1 suspect, 2 bad */
    /* Dedup key: the same (sensor_id, dedup_key) is stored once. Use the device frame
     * counter when there is one (LoRaWAN f_cnt), else -1 (then the phenomenon time is the key). */
    int64_t dedup_key;
} citytwin_observation;

typedef enum citytwin_status {
    CITYTWIN_STATUS_STARTING = 0,
    CITYTWIN_STATUS_CONNECTED = 1,
    CITYTWIN_STATUS_RECONNECTING = 2,
    CITYTWIN_STATUS_ERROR = 3,
    CITYTWIN_STATUS_STOPPED = 4
} citytwin_status;

typedef enum citytwin_log_level { CITYTWIN_LOG_DEBUG = 0, CITYTWIN_LOG_INFO = 1, CITYTWIN_LOG_WARN = 2, CITYTWIN_LOG_ERROR = 3 } citytwin_log_level;

/* What the host offers a plugin. `host` is the host's context, passed back unchanged. */
typedef struct citytwin_host_api {
    uint32_t abi_major, abi_minor;
    void* host;
    void (*announce_sensor)(void* host, const citytwin_sensor* sensor);
    /* Returns 0 if queued, 1 if dropped (queue full: back-pressure; the host counts it). */
    int (*publish)(void* host, const citytwin_observation* observations, size_t count);
    void (*log)(void* host, citytwin_log_level level, const char* message);
    /* A status change, with a reason for people ("broker down, retry in 4 s"). */
    void (*report_status)(void* host, citytwin_status status, const char* detail);
    /* Counts a message the plugin could not use (malformed, unknown device, ...). */
    void (*count_rejected)(void* host, const char* reason);
} citytwin_host_api;

/* What a plugin offers. Return 0 for success; on failure a non-zero code and, through
 * error/error_size, a message (NUL-terminated, truncated to error_size). */
typedef struct citytwin_plugin_api {
    uint32_t abi_major, abi_minor;
    const char* name;    /* "mqtt", "replay", ... */
    const char* version; /* the plugin's own */
    /* config_json: the feed's configuration from the scenario, as JSON text. */
    void* (*create)(const citytwin_host_api* host, const char* config_json, char* error, size_t error_size);
    int (*start)(void* instance, char* error, size_t error_size);
    void (*stop)(void* instance);
    void (*destroy)(void* instance);
} citytwin_plugin_api;

typedef const citytwin_plugin_api* (*citytwin_plugin_entry_fn)(uint32_t host_abi_major);

#define CITYTWIN_PLUGIN_ENTRY_NAME "citytwin_plugin_entry"

#ifdef __cplusplus
}
#endif

#endif /* CITYTWIN_PLUGIN_H */
