/* example_plugin.c: the smallest complete citytwin feed plugin, in plain C11.
 *
 * It announces one sensor and publishes a sine wave, value = amplitude * sin(2*pi*t/period_s)
 * with t the time of measurement in seconds since 1970 (UTC), every interval_ms milliseconds
 * from its own thread until the host stops it. Copy it to start a plugin of your own; it needs
 * nothing but citytwin_plugin.h, a C11 compiler, POSIX threads and libm (docs/plugins.md shows
 * the build). POSIX threads rather than C11 <threads.h>: ThreadSanitizer cannot follow threads
 * made by thrd_create (google/sanitizers#1603), and you will want it for your plugin.
 *
 * Configuration (the feed's settings in the scenario, handed over as JSON text):
 *     {"interval_ms": 100, "sensor": "example/sine", "period_s": 10, "amplitude": 1,
 *      "lon": 8.75, "lat": 51.72}
 * All keys are optional; the values above are the defaults except lon/lat (default: none).
 */

#define _POSIX_C_SOURCE 200809L /* pthreads and clock_gettime under -std=c11 */

#include "citytwin_plugin.h" /* the ABI: the only citytwin header a plugin needs */

#include <math.h>    /* sin, NAN */
#include <pthread.h> /* the publishing thread, its lock and its wake-up */
#include <stdio.h>   /* snprintf for error messages */
#include <stdlib.h>  /* calloc, free, strtod */
#include <string.h>  /* strlen, memcpy, strncmp, strcpy */
#include <time.h>    /* clock_gettime: wall clock for measurements, monotonic for sleeping */

/* Plugins are built with -fvisibility=hidden; only the entry function is exported, so two
 * plugins loaded into one process can never clash on a symbol name. */
#define EXAMPLE_EXPORT __attribute__((visibility("default")))

#define EXAMPLE_PI 3.14159265358979323846 /* M_PI is not part of strict C11 */

/* One instance per configured feed: the host may run several feeds of this plugin at once,
 * so nothing here may be global. */
typedef struct example {
    citytwin_host_api host; /* a copy: the pointer given to create() is valid only during it */
    char sensor[128];       /* sensor id, unique within this feed */
    double interval_ms;     /* time between two observations */
    double period_s;        /* period of the sine */
    double amplitude;       /* its amplitude */
    double lon, lat;        /* where the sensor is (WGS84 degrees), NAN if not configured */
    pthread_t thread;       /* the publishing thread, between start() and stop() */
    int thread_running;     /* 1 while `thread` must be joined */
    pthread_mutex_t lock;   /* guards stop_requested */
    pthread_cond_t wake;    /* signalled by stop() to cut the sleep short */
    int stop_requested;     /* set by stop(), read by the thread */
} example;

/* Writes a message into the host's error buffer (NUL-terminated, truncated to its size). */
static void set_error(char* error, size_t error_size, const char* message, double value) {
    if (error && error_size > 0) snprintf(error, error_size, message, value);
}

/* ---- a tiny reader for the flat JSON object of our config ------------------------------
 * The host has already checked that the text is a valid JSON object, so this only walks its
 * top level. A real plugin should use a JSON library (cJSON and jansson are Debian packages). */

static const char* skip_ws(const char* p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
    return p;
}

/* Skips a string starting at its opening quote; returns the position after the closing one. */
static const char* skip_string(const char* p) {
    for (++p; *p && *p != '"'; ++p)
        if (*p == '\\' && p[1]) ++p; /* an escaped character, e.g. \" */
    return *p ? p + 1 : p;
}

/* Skips any JSON value (string, number, literal, nested object or array). */
static const char* skip_value(const char* p) {
    int depth = 0;
    do {
        if (*p == '"') { p = skip_string(p); continue; }
        if (*p == '{' || *p == '[') ++depth;
        else if (*p == '}' || *p == ']') --depth;
        else if (depth == 0 && *p == ',') break;
        if (depth < 0) break; /* the end of the enclosing object */
        ++p;
    } while (*p && depth >= 0);
    return p;
}

/* Finds the top-level `key` and returns a pointer to its value, or NULL if it is absent. */
static const char* find_value(const char* json, const char* key) {
    size_t key_len = strlen(key);
    const char* p = skip_ws(json);
    if (*p != '{') return NULL;
    p = skip_ws(p + 1);
    while (*p == '"') {
        const char* name = p + 1;
        const char* after = skip_string(p);
        int match = (size_t)(after - 1 - name) == key_len && strncmp(name, key, key_len) == 0;
        p = skip_ws(after);
        if (*p != ':') return NULL;
        p = skip_ws(p + 1);
        if (match) return p;
        p = skip_ws(skip_value(p));
        if (*p != ',') return NULL;
        p = skip_ws(p + 1);
    }
    return NULL;
}

/* Reads a number setting: 1 found, 0 absent (out unchanged), -1 present but not a number. */
static int read_number(const char* json, const char* key, double* out) {
    const char* v = find_value(json, key);
    if (!v) return 0;
    char* end = NULL;
    double d = strtod(v, &end);
    if (end == v) return -1;
    *out = d;
    return 1;
}

/* Reads a string setting into buf: 1 found, 0 absent, -1 not a plain string or too long. */
static int read_string(const char* json, const char* key, char* buf, size_t size) {
    const char* v = find_value(json, key);
    if (!v) return 0;
    if (*v != '"') return -1;
    const char* end = ++v;
    while (*end && *end != '"' && *end != '\\') ++end;
    if (*end != '"' || (size_t)(end - v) >= size || end == v) return -1; /* escapes, empty or too long */
    memcpy(buf, v, (size_t)(end - v));
    buf[end - v] = '\0';
    return 1;
}

/* ---- the publishing thread ---------------------------------------------------------------- */

/* Seconds since 1970-01-01T00:00:00Z, the time base of every citytwin observation. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Monotonic seconds, for sleeping: unaffected when the wall clock is set. */
static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void* run(void* arg) {
    example* ex = arg;
    struct timespec next; /* when the next observation is due (monotonic), on a fixed grid */
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&ex->lock);
    while (!ex->stop_requested) {
        /* Build the observation. Its strings need only live until publish() returns: the
         * host copies them. */
        double t = now_s();
        citytwin_observation obs;
        obs.sensor_id = ex->sensor;
        obs.phenomenon_time = t;
        obs.result_time = NAN; /* NaN: the host takes the time of arrival */
        obs.value = ex->amplitude * sin(2.0 * EXAMPLE_PI * t / ex->period_s);
        obs.quality = 0; /* good */
        /* No frame counter here: -1 makes the phenomenon time the dedup key. A counter that
         * restarted at 0 with every run would make new values look like old duplicates. */
        obs.dedup_key = -1;

        /* Never hold a lock of our own while calling the host. publish() does not block; it
         * returns 1 when the host's queue is full, and the host counts that drop itself. */
        pthread_mutex_unlock(&ex->lock);
        ex->host.publish(ex->host.host, &obs, 1);
        pthread_mutex_lock(&ex->lock);

        /* Sleep until the next tick, or until stop() signals. pthread_cond_timedwait may wake
         * early without a signal, hence the loop; it returns ETIMEDOUT when the tick is due. */
        long long ns = (long long)(ex->interval_ms * 1e6);
        next.tv_sec += (time_t)(ns / 1000000000LL);
        next.tv_nsec += (long)(ns % 1000000000LL);
        if (next.tv_nsec >= 1000000000L) { next.tv_sec += 1; next.tv_nsec -= 1000000000L; }
        if ((double)next.tv_sec + next.tv_nsec * 1e-9 < monotonic_s()) clock_gettime(CLOCK_MONOTONIC, &next); /* fell behind: resync */
        while (!ex->stop_requested && pthread_cond_timedwait(&ex->wake, &ex->lock, &next) == 0) {
        }
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

/* ---- the four functions of the ABI -------------------------------------------------------- */

/* create(): read and check the config, allocate the instance. Starts nothing yet. */
static void* ex_create(const citytwin_host_api* host, const char* config_json, char* error, size_t error_size) {
    example* ex = calloc(1, sizeof *ex);
    if (!ex) { set_error(error, error_size, "out of memory", 0); return NULL; }
    ex->host = *host; /* keep a copy of the table and the host's context */
    strcpy(ex->sensor, "example/sine");
    ex->interval_ms = 100;
    ex->period_s = 10;
    ex->amplitude = 1;
    ex->lon = ex->lat = NAN;
    if (read_number(config_json, "interval_ms", &ex->interval_ms) < 0 ||
        read_number(config_json, "period_s", &ex->period_s) < 0 ||
        read_number(config_json, "amplitude", &ex->amplitude) < 0 ||
        read_number(config_json, "lon", &ex->lon) < 0 || read_number(config_json, "lat", &ex->lat) < 0) {
        set_error(error, error_size, "interval_ms, period_s, amplitude, lon and lat must be numbers", 0);
        free(ex);
        return NULL;
    }
    if (read_string(config_json, "sensor", ex->sensor, sizeof ex->sensor) < 0) {
        set_error(error, error_size, "sensor must be a non-empty string of plain characters, under 128 bytes", 0);
        free(ex);
        return NULL;
    }
    if (!(ex->period_s > 0)) {
        set_error(error, error_size, "period_s must be positive (got %g)", ex->period_s);
        free(ex);
        return NULL;
    }
    /* The wake-up condition measures its timeout on the monotonic clock, like run(). */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int failed = pthread_mutex_init(&ex->lock, NULL) != 0;
    if (!failed && pthread_cond_init(&ex->wake, &attr) != 0) { pthread_mutex_destroy(&ex->lock); failed = 1; }
    pthread_condattr_destroy(&attr);
    if (failed) { set_error(error, error_size, "cannot create a mutex", 0); free(ex); return NULL; }
    return ex;
}

/* start(): announce the sensor and start publishing. On failure: no thread left running. */
static int ex_start(void* instance, char* error, size_t error_size) {
    example* ex = instance;
    /* Checked here rather than in create() to show both failure paths: the host marks the feed
     * as failed with this message either way. */
    if (!(ex->interval_ms >= 1 && ex->interval_ms <= 3600000)) {
        set_error(error, error_size, "interval_ms must be between 1 and 3600000 (got %g)", ex->interval_ms);
        return 1;
    }
    citytwin_sensor s;
    s.id = ex->sensor;
    s.name = "Sine wave (citytwin example plugin)";
    s.lon = ex->lon;
    s.lat = ex->lat;
    s.elevation_m = NAN;
    s.quantity = "example_sine";
    s.unit = "1";
    s.warn_above = 0.8 * ex->amplitude;
    s.alarm_above = 0.95 * ex->amplitude;
    s.properties_json = "{\"example\": true}"; /* ABI minor 1: further facts as a JSON object, or NULL */
    ex->host.announce_sensor(ex->host.host, &s); /* announce before the first observation */
    ex->stop_requested = 0;
    if (pthread_create(&ex->thread, NULL, run, ex) != 0) {
        set_error(error, error_size, "cannot start the publishing thread", 0);
        return 2;
    }
    ex->thread_running = 1;
    ex->host.report_status(ex->host.host, CITYTWIN_STATUS_CONNECTED, "publishing a sine wave");
    return 0;
}

/* stop(): ask the thread to finish and join it. After stop() returns the plugin must not call
 * the host again (the host may unload the library right after destroy()). */
static void ex_stop(void* instance) {
    example* ex = instance;
    if (!ex->thread_running) return;
    pthread_mutex_lock(&ex->lock);
    ex->stop_requested = 1;
    pthread_cond_signal(&ex->wake);
    pthread_mutex_unlock(&ex->lock);
    pthread_join(ex->thread, NULL);
    ex->thread_running = 0;
    ex->host.report_status(ex->host.host, CITYTWIN_STATUS_STOPPED, "stopped");
}

/* destroy(): free everything create() made. The host calls stop() first if start() succeeded. */
static void ex_destroy(void* instance) {
    example* ex = instance;
    if (!ex) return;
    ex_stop(ex); /* harmless if already stopped */
    pthread_cond_destroy(&ex->wake);
    pthread_mutex_destroy(&ex->lock);
    free(ex);
}

/* The entry point the host looks up by name. It gets the host's ABI major version and returns
 * this plugin's table, or NULL to refuse a host it was not built for. */
EXAMPLE_EXPORT const citytwin_plugin_api* citytwin_plugin_entry(uint32_t host_abi_major) {
    static const citytwin_plugin_api api = {
        CITYTWIN_PLUGIN_ABI_MAJOR, /* abi_major: the host refuses a table with another major */
        CITYTWIN_PLUGIN_ABI_MINOR, /* abi_minor */
        "example",                 /* name */
        "1.0.0",                   /* version: the plugin's own */
        ex_create, ex_start, ex_stop, ex_destroy,
    };
    if (host_abi_major != CITYTWIN_PLUGIN_ABI_MAJOR) return NULL;
    return &api;
}
