// The replay plugin: a recorded CSV time series played back as if it came in live, at a
// chosen speed or as fast as the host takes it (docs/plugins.md, plugins/replay/README.md).
// Real files' quirks handled: a UTF-8 byte-order mark, quoted and 'apostrophed' fields,
// German dates "27.09.2023 24:00" (hour 24 = midnight at the day's end), decimal commas,
// "-" or empty for missing values, notes below the table, and local time with the EU's
// daylight-saving rule. The parsing itself is in ReplayParse.h/.cpp (unit-tested and fuzzed
// without the plugin ABI).
#include "citytwin_plugin.h"
#include "replay/ReplayParse.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using citytwin::replay::parseFixedOffset;
using citytwin::replay::splitRow;

struct Column {
    int index = -1;
    std::string id, name, quantity, unit;
    double lon = NAN, lat = NAN, elevation = NAN, warn = NAN, alarm = NAN;
};

struct Row {
    double time; // UTC seconds
    std::vector<double> values; // per sensor column, NaN = missing
};

struct Replay {
    citytwin_host_api host;
    std::string file;
    bool jsonFile = false;          // JSON records instead of CSV
    std::vector<std::string> keys;  // JSON: the time key, then each column's key
    char delimiter = ',';
    bool decimalComma = false;
    int timeColumn = 0;
    citytwin::replay::TimeParser time; // format, zone, interval labels (ReplayParse.h)
    double speed = 0;                  // × real time; 0 = as fast as the host takes it
    bool shiftToNow = false;
    std::vector<Column> columns;
    std::vector<Row> rows;
    size_t missing = 0, badRows = 0;

    std::thread worker;
    std::atomic<bool> stopping{false};
    std::mutex m;
    std::condition_variable wake;

    void log(citytwin_log_level level, const std::string& text) { host.log(host.host, level, text.c_str()); }

    // One row's cells (CSV or JSON) → a Row; false for a row without a time.
    bool addRow(const std::vector<std::string>& cells) {
        std::optional<double> t = timeColumn < int(cells.size()) ? time.parse(cells[size_t(timeColumn)]) : std::nullopt;
        if (!t) return false;
        Row r{*t, {}};
        for (const Column& c : columns) {
            auto v = c.index < int(cells.size()) ? citytwin::replay::parseValue(cells[size_t(c.index)], decimalComma) : std::nullopt;
            if (!v) ++missing;
            r.values.push_back(v ? *v : NAN);
        }
        rows.push_back(std::move(r));
        return true;
    }

    std::string loadJson() {
        std::ifstream in(file);
        if (!in) return "cannot open " + file;
        std::stringstream text;
        text << in.rdbuf();
        std::vector<std::optional<std::vector<std::string>>> records;
        try {
            records = citytwin::replay::jsonRecords(text.str(), keys);
        } catch (const std::exception& e) {
            return file + ": " + e.what();
        }
        for (size_t k = 0; k < records.size(); ++k)
            if (!records[k] || !addRow(*records[k])) {
                ++badRows;
                host.count_rejected(host.host, ("replay: no time in record " + std::to_string(k + 1)).c_str());
            }
        if (rows.empty()) return "no records with a time in " + file;
        // JSON Lines written as they came may be out of order; the replay plays them in time.
        std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.time < b.time; });
        return {};
    }

    // Reads the whole file at create(): a broken file is refused before anything runs.
    std::string load() {
        if (jsonFile) return loadJson();
        std::ifstream in(file);
        if (!in) return "cannot open " + file;
        std::string line;
        if (!std::getline(in, line)) return file + " is empty";
        if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3); // byte-order mark
        size_t lineNo = 1;
        while (std::getline(in, line)) {
            ++lineNo;
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            if (!addRow(splitRow(line, delimiter))) { // a note below the table, or a broken row
                ++badRows;
                host.count_rejected(host.host, ("replay: no time in line " + std::to_string(lineNo)).c_str());
            }
        }
        if (rows.empty()) return "no rows with a time in " + file;
        return {};
    }

    void run() {
        host.report_status(host.host, CITYTWIN_STATUS_CONNECTED, ("replaying " + std::to_string(rows.size()) + " rows").c_str());
        const double shift = shiftToNow ? std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - rows.front().time : 0;
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<citytwin_observation> batch;
        for (size_t k = 0; k < rows.size() && !stopping; ++k) {
            const Row& r = rows[k];
            if (speed > 0) { // wait until this row's moment in replay time
                auto due = t0 + citytwin::replay::replayDelay(r.time, rows.front().time, speed);
                std::unique_lock lock(m);
                wake.wait_until(lock, due, [&] { return stopping.load(); });
                if (stopping) break;
            }
            batch.clear();
            for (size_t c = 0; c < columns.size(); ++c) {
                if (std::isnan(r.values[c])) continue;
                batch.push_back({columns[c].id.c_str(), r.time + shift, NAN, r.values[c], 0, -1});
            }
            // Back-pressure: a full queue is waited out, not dropped (a replay can wait).
            while (!batch.empty() && !stopping && host.publish(host.host, batch.data(), batch.size()) != 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        host.report_status(host.host, CITYTWIN_STATUS_STOPPED,
                           (stopping ? "stopped" : "replay finished: " + std::to_string(rows.size()) + " rows").c_str());
    }
};

void setError(char* error, size_t size, const std::string& text) {
    if (error && size) std::snprintf(error, size, "%s", text.c_str());
}

void* create(const citytwin_host_api* host, const char* configJson, char* error, size_t errorSize) {
    try {
        auto r = std::make_unique<Replay>();
        r->host = *host;
        json c = json::parse(configJson ? configJson : "{}");
        if (!c.contains("file")) {
            setError(error, errorSize, "replay needs 'file': the CSV to play");
            return nullptr;
        }
        r->file = c["file"].get<std::string>();
        // Relative to the scenario's folder, which the host passes as scenario_dir.
        if (!r->file.empty() && r->file[0] != '/' && c.contains("scenario_dir"))
            r->file = c["scenario_dir"].get<std::string>() + "/" + r->file;
        std::string d = c.value("delimiter", ",");
        r->delimiter = d.empty() ? ',' : d[0];
        r->decimalComma = c.value("decimal", ".") == ",";
        r->time.timeFormat = c.value("time_format", "iso");
        if (r->time.timeFormat != "iso" && r->time.timeFormat != "dmy" && r->time.timeFormat != "epoch") {
            setError(error, errorSize, "time_format must be iso, dmy (27.09.2023 24:00) or epoch");
            return nullptr;
        }
        r->time.timezone = c.value("timezone", "UTC");
        if (r->time.timezone != "UTC" && r->time.timezone != "Europe/Berlin") {
            std::optional<int> offset = parseFixedOffset(r->time.timezone);
            if (!offset) {
                setError(error, errorSize, "timezone must be UTC, Europe/Berlin or an offset like +01:00");
                return nullptr;
            }
            r->time.fixedOffset = *offset;
        }
        r->speed = c.value("speed", 0.0);
        if (r->speed < 0) {
            setError(error, errorSize, "speed must be ≥ 0 (0: as fast as possible)");
            return nullptr;
        }
        r->shiftToNow = c.value("shift_to_now", false);
        std::string label = c.value("time_label", "start");
        if (label != "start" && label != "end") {
            setError(error, errorSize, "time_label must be start or end (of the interval a row's time names)");
            return nullptr;
        }
        r->time.endLabels = label == "end";
        std::string format = c.value("format", "");
        auto endsWith = [&](const char* suffix) {
            std::string f = r->file, x = suffix;
            return f.size() >= x.size() && f.compare(f.size() - x.size(), x.size(), x) == 0;
        };
        if (format.empty()) format = endsWith(".json") || endsWith(".jsonl") || endsWith(".ndjson") ? "json" : "csv";
        if (format != "csv" && format != "json") {
            setError(error, errorSize, "format must be csv or json (records: an array of objects, or JSON Lines)");
            return nullptr;
        }
        r->jsonFile = format == "json";
        // Columns by header name or index: read the header first. JSON records have no header:
        // the columns are the keys the configuration names (the time key first).
        std::vector<std::string> names;
        if (r->jsonFile) {
            if (!std::ifstream(r->file)) {
                setError(error, errorSize, "cannot read " + r->file);
                return nullptr;
            }
            json timeKey = c.value("time_column", json("time"));
            if (!timeKey.is_string()) {
                setError(error, errorSize, "time_column must be a key name for JSON records");
                return nullptr;
            }
            names.push_back(timeKey.get<std::string>());
            for (const json& s : c.value("sensors", json::array()))
                if (s.contains("column") && s["column"].is_string()) names.push_back(s["column"].get<std::string>());
            r->keys = names;
        } else {
            std::ifstream in(r->file);
            std::string header;
            if (!in || !std::getline(in, header)) {
                setError(error, errorSize, "cannot read " + r->file);
                return nullptr;
            }
            if (header.rfind("\xEF\xBB\xBF", 0) == 0) header.erase(0, 3);
            names = splitRow(header, r->delimiter);
        }
        auto indexOf = [&](const json& col) -> int {
            if (col.is_number_integer()) return col.get<int>() < int(names.size()) ? col.get<int>() : -1;
            if (col.is_string())
                for (size_t k = 0; k < names.size(); ++k)
                    if (names[k] == col.get<std::string>()) return int(k);
            return -1;
        };
        r->timeColumn = indexOf(c.value("time_column", r->jsonFile ? json("time") : json(0)));
        if (r->timeColumn < 0) {
            setError(error, errorSize, "time_column not found in the header of " + r->file);
            return nullptr;
        }
        if (!c.contains("sensors") || !c["sensors"].is_array() || c["sensors"].empty()) {
            setError(error, errorSize, "replay needs 'sensors': [{column, id, quantity, unit, ...}]");
            return nullptr;
        }
        for (const json& s : c["sensors"]) {
            Column col;
            col.index = indexOf(s.value("column", json()));
            if (col.index < 0) {
                setError(error, errorSize, "sensor column " + s.value("column", json()).dump() + " not found in " + r->file);
                return nullptr;
            }
            col.id = s.value("id", names[size_t(col.index)]);
            col.name = s.value("name", col.id);
            col.quantity = s.value("quantity", "value");
            col.unit = s.value("unit", "");
            auto num = [&](const char* k) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : NAN; };
            col.lon = num("lon"), col.lat = num("lat"), col.elevation = num("elevation");
            col.warn = num("warn_above"), col.alarm = num("alarm_above");
            r->columns.push_back(col);
        }
        if (std::string e = r->load(); !e.empty()) {
            setError(error, errorSize, e);
            return nullptr;
        }
        for (const Column& col : r->columns) {
            citytwin_sensor s{col.id.c_str(), col.name.c_str(), col.lon, col.lat, col.elevation, col.quantity.c_str(),
                              col.unit.c_str(), col.warn, col.alarm, nullptr};
            host->announce_sensor(host->host, &s);
        }
        r->log(CITYTWIN_LOG_INFO, r->file + ": " + std::to_string(r->rows.size()) + " rows, " + std::to_string(r->missing) +
                                      " missing values, " + std::to_string(r->badRows) + " lines without a time skipped");
        return r.release();
    } catch (const std::exception& e) {
        setError(error, errorSize, std::string("replay: bad configuration: ") + e.what());
        return nullptr;
    }
}

int start(void* instance, char* error, size_t errorSize) {
    auto* r = static_cast<Replay*>(instance);
    try {
        r->worker = std::thread([r] { r->run(); });
        return 0;
    } catch (const std::exception& e) {
        setError(error, errorSize, e.what());
        return 1;
    }
}

void stop(void* instance) {
    auto* r = static_cast<Replay*>(instance);
    {
        std::lock_guard lock(r->m);
        r->stopping = true;
    }
    r->wake.notify_all();
    if (r->worker.joinable()) r->worker.join();
}

void destroy(void* instance) { delete static_cast<Replay*>(instance); }

const citytwin_plugin_api api = {CITYTWIN_PLUGIN_ABI_MAJOR, CITYTWIN_PLUGIN_ABI_MINOR, "replay", "1.0", create, start, stop, destroy};

} // namespace

extern "C" __attribute__((visibility("default"))) const citytwin_plugin_api* citytwin_plugin_entry(uint32_t hostAbiMajor) {
    return hostAbiMajor == CITYTWIN_PLUGIN_ABI_MAJOR ? &api : nullptr;
}
