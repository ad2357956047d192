/* A plugin built for a future ABI major, for tests/test_feeds.cpp: the host must refuse it
 * before calling anything but the entry function. Built only with the tests. */
#include "citytwin_plugin.h"

#include <stddef.h>

static void* bad_create(const citytwin_host_api* host, const char* config_json, char* error,
                        size_t error_size) {
    (void)host;
    (void)config_json;
    (void)error;
    (void)error_size;
    return NULL;
}
static int bad_start(void* instance, char* error, size_t error_size) {
    (void)instance;
    (void)error;
    (void)error_size;
    return 1;
}
static void bad_stop(void* instance) {
    (void)instance;
}
static void bad_destroy(void* instance) {
    (void)instance;
}

/* Ignores the host's major on purpose: it is the host's check that is under test. */
__attribute__((visibility("default"))) const citytwin_plugin_api*
citytwin_plugin_entry(uint32_t host_abi_major) {
    (void)host_abi_major;
    static const citytwin_plugin_api api = {
        CITYTWIN_PLUGIN_ABI_MAJOR + 1u, 3u, "badabi", "0.1", bad_create, bad_start, bad_stop, bad_destroy};
    return &api;
}
