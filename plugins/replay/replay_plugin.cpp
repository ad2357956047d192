// The replay plugin: a recorded CSV time series played back as if it came in live, at a
// chosen speed or as fast as the host takes it (docs/plugins.md, plugins/replay/README.md).
// Real files' quirks handled: a UTF-8 byte-order mark, quoted and 'apostrophed' fields,
// German dates "27.09.2023 24:00" (hour 24 = midnight at the day's end), decimal commas,
// "-" or empty for missing values, notes below the table, and local time with the EU's
// daylight-saving rule.
#include "citytwin_plugin.h"

#include <nlohmann/json.hpp>

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

// Days since 1970-01-01 of a Gregorian date (Hinnant).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + int64_t(yoe) * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

// Last Sunday of a month, as days since 1970.
int64_t lastSunday(int year, unsigned month) {
    int64_t last = daysFromCivil(year, month + 1, 1) - 1; // month + 1 ≤ 12 here (March, October)
    int weekday = int(((last % 7) + 7 + 3) % 7);           // 0 = Monday (1970-01-01 a Thursday)
    return last - (weekday + 1) % 7;
}

// UTC offset in seconds for a local clock reading in Europe/Berlin: CEST between the last
// Sunday of March 02:00 and the last Sunday of October 03:00, else CET. Rows label an hour by
// its start or its end (UBA: the end, "24:00"), which moves the edges by one hour: with end
// labels "02:00" on the March day is still winter and "03:00" on the October day comes twice
// (summer, then winter). `repeated`: the previous row had the same clock reading.
int berlinOffset(int year, int64_t local, bool endLabels, bool repeated) {
    const int64_t start = lastSunday(year, 3) * 86400 + 2 * 3600, end = lastSunday(year, 10) * 86400 + 3 * 3600;
    const bool summer = endLabels ? local > start && local <= end : local >= start && local < end;
    const bool ambiguous = endLabels ? local > end - 3600 && local <= end : local >= end - 3600 && local < end;
    return summer && !(ambiguous && repeated) ? 7200 : 3600;
}

struct Column {
    int index = -1;
    std::string id, name, quantity, unit;
    double lon = NAN, lat = NAN, elevation = NAN, warn = NAN, alarm = NAN;
};

struct Row {
    double time; // UTC seconds
    std::vector<double> values; // per sensor column, NaN = missing
};

std::string trimField(std::string s) {
    auto strip = [&](char c) {
        while (!s.empty() && (s.front() == c || s.front() == ' ')) s.erase(s.begin());
        while (!s.empty() && (s.back() == c || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    };
    strip('"');
    strip('\'');
    return s;
}

std::vector<std::string> splitRow(const std::string& line, char delimiter) {
    std::vector<std::string> out;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
        if (c == '"') quoted = !quoted;
        if (c == delimiter && !quoted) {
            out.push_back(trimField(cell));
            cell.clear();
        } else {
            cell += c;
        }
    }
    out.push_back(trimField(cell));
    return out;
}

struct Replay {
    citytwin_host_api host;
    std::string file;
    char delimiter = ',';
    bool decimalComma = false;
    int timeColumn = 0;
    std::string timeFormat = "iso"; // iso | dmy | epoch
    std::string timezone = "UTC";   // UTC, Europe/Berlin, or ±HH:MM
    int fixedOffset = 0;
    double speed = 0;               // × real time; 0 = as fast as the host takes it
    bool shiftToNow = false;
    bool endLabels = false;         // a row's time is the end of its interval (UBA hourly means)
    int64_t previousLocal = INT64_MIN;
    std::vector<Column> columns;
    std::vector<Row> rows;
    size_t missing = 0, badRows = 0;

    std::thread worker;
    std::atomic<bool> stopping{false};
    std::mutex m;
    std::condition_variable wake;

    void log(citytwin_log_level level, const std::string& text) { host.log(host.host, level, text.c_str()); }

    std::optional<double> parseTime(const std::string& s) {
        int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
        if (timeFormat == "epoch") {
            try {
                return std::stod(s);
            } catch (...) {
                return std::nullopt;
            }
        }
        bool ok = timeFormat == "dmy" ? std::sscanf(s.c_str(), "%d.%d.%d %d:%d:%d", &d, &mo, &y, &h, &mi, &sec) >= 5
                                      : std::sscanf(s.c_str(), "%d-%d-%d%*[T ]%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) >= 5;
        if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 24 || mi < 0 || mi > 59) return std::nullopt;
        int64_t local = daysFromCivil(y, unsigned(mo), unsigned(d)) * 86400 + int64_t(h) * 3600 + mi * 60 + sec; // hour 24 rolls over
        int offset = timezone == "Europe/Berlin" ? berlinOffset(y, local, endLabels, local == previousLocal) : fixedOffset;
        previousLocal = local;
        return double(local - offset);
    }

    std::optional<double> parseValue(std::string s) const {
        if (s.empty() || s == "-" || s == "NA" || s == "NaN") return std::nullopt;
        if (decimalComma)
            for (char& c : s)
                if (c == ',') c = '.';
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != 0 || !std::isfinite(v)) return std::nullopt;
        return v;
    }

    // Reads the whole file at create(): a broken file is refused before anything runs.
    std::string load() {
        std::ifstream in(file);
        if (!in) return "cannot open " + file;
        std::string line;
        if (!std::getline(in, line)) return file + " is empty";
        if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3); // byte-order mark
        size_t lineNo = 1;
        while (std::getline(in, line)) {
            ++lineNo;
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            std::vector<std::string> cells = splitRow(line, delimiter);
            std::optional<double> t = timeColumn < int(cells.size()) ? parseTime(cells[size_t(timeColumn)]) : std::nullopt;
            if (!t) { // a note below the table, or a broken row: counted, skipped
                ++badRows;
                host.count_rejected(host.host, ("replay: no time in line " + std::to_string(lineNo)).c_str());
                continue;
            }
            Row r{*t, {}};
            for (const Column& c : columns) {
                auto v = c.index < int(cells.size()) ? parseValue(cells[size_t(c.index)]) : std::nullopt;
                if (!v) ++missing;
                r.values.push_back(v ? *v : NAN);
            }
            rows.push_back(std::move(r));
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
                auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>((r.time - rows.front().time) / speed));
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
        r->timeFormat = c.value("time_format", "iso");
        if (r->timeFormat != "iso" && r->timeFormat != "dmy" && r->timeFormat != "epoch") {
            setError(error, errorSize, "time_format must be iso, dmy (27.09.2023 24:00) or epoch");
            return nullptr;
        }
        r->timezone = c.value("timezone", "UTC");
        if (r->timezone != "UTC" && r->timezone != "Europe/Berlin") {
            int hh = 0, mm = 0;
            char sign = '+';
            if (std::sscanf(r->timezone.c_str(), "%c%d:%d", &sign, &hh, &mm) != 3 || (sign != '+' && sign != '-')) {
                setError(error, errorSize, "timezone must be UTC, Europe/Berlin or an offset like +01:00");
                return nullptr;
            }
            r->fixedOffset = (sign == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
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
        r->endLabels = label == "end";
        // Columns by header name or index: read the header first.
        std::ifstream in(r->file);
        std::string header;
        if (!in || !std::getline(in, header)) {
            setError(error, errorSize, "cannot read " + r->file);
            return nullptr;
        }
        if (header.rfind("\xEF\xBB\xBF", 0) == 0) header.erase(0, 3);
        std::vector<std::string> names = splitRow(header, r->delimiter);
        auto indexOf = [&](const json& col) -> int {
            if (col.is_number_integer()) return col.get<int>() < int(names.size()) ? col.get<int>() : -1;
            if (col.is_string())
                for (size_t k = 0; k < names.size(); ++k)
                    if (names[k] == col.get<std::string>()) return int(k);
            return -1;
        };
        r->timeColumn = indexOf(c.value("time_column", json(0)));
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
                              col.unit.c_str(), col.warn, col.alarm};
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
