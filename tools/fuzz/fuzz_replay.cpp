// libFuzzer target: the replay plugin's parsing (plugins/replay/ReplayParse.h) — CSV rows and
// cells, JSON records (jsonRecords: an array of objects or JSON Lines), row times (iso, dmy,
// epoch) in UTC, Europe/Berlin or a fixed offset, ISO times with their own zone ("Z",
// "+01:00", "+0100", fractional seconds), values — driven the way replay_plugin.cpp reads a
// file: a CSV's header line (byte-order mark stripped), then one row per line, blank lines
// skipped; a JSON file whole, its records' cells by the configured keys (the time key first).
//
// Input layout (the seeds in corpus/fuzz_replay/ start with two printable selector bytes):
//   byte 0: bits 0-1 time_format (iso, dmy, epoch, iso); bits 2-3 timezone (UTC,
//           Europe/Berlin, the header's first cell as a fixed offset like "+01:00", Berlin);
//           bit 4 time_label end; bit 5 decimal comma; bits 6-7 delimiter (, ; TAB |)
//   byte 1: bits 0-1 the time column (JSON: the time key, one of time, level, flow, t);
//           bits 2-3 the replay speed (1, 3600, 0.001, 1e6) for replayDelay (when a row is due
//           after the first); bit 6 the rest is a JSON records file (else CSV; the fixed-offset
//           zone is then +01:00)
//   the rest: the CSV or JSON file
// Checks, besides the sanitizers (UBSan's float-cast-overflow covers replayDelay): a row time
// is finite, and for iso/dmy it lies on the date the row names (within the zone offset, the
// cell's own zone — at most ±24 h — and hour 24); an ISO time stating its zone is exactly that
// instant (fractional seconds included), whatever the configured timezone; a fixed offset is
// within ±24 h; a value is finite; a row has at least one cell. jsonRecords throws nothing but
// std::runtime_error, and a record that is one has exactly one cell per key.
#include "ReplayParse.h"
#include "fuzz_time_oracle.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace citytwin::replay;

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_replay: invariant violated: %s [%s]\n", what, detail.c_str());
    std::abort();
}
#define CHECK(cond, detail)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) violated(#cond, detail);                                                                \
    } while (0)

// The date a time cell names (the same patterns the parser reads), as days since 1970.
bool namedDay(const std::string& format, const std::string& s, int64_t& day) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0;
    bool ok = format == "dmy" ? std::sscanf(s.c_str(), "%d.%d.%d %d:%d", &d, &mo, &y, &h, &mi) >= 5
                              : std::sscanf(s.c_str(), "%d-%d-%d%*[T ]%d:%d", &y, &mo, &d, &h, &mi) >= 5;
    if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    day = daysFromCivil(y, unsigned(mo), unsigned(d));
    return true;
}

// One row's cells: its time (when the time column is there) and its values.
void checkRow(const std::vector<std::string>& cells, TimeParser& time, std::size_t timeColumn, double speed,
              bool decimalComma, std::optional<double>& firstTime) {
    if (timeColumn < cells.size()) {
        const std::string& cell = cells[timeColumn];
        TimeParser utc = time; // the same cell read as if the configured zone were UTC
        utc.timezone = "UTC";
        utc.fixedOffset = 0;
        if (std::optional<double> t = time.parse(cell)) {
            CHECK(std::isfinite(*t), cell);
            if (!firstTime) firstTime = *t;
            (void)replayDelay(*t, *firstTime, speed);
            int64_t day;
            if (time.timeFormat != "epoch" && namedDay(time.timeFormat, cell, day)) {
                // 00:00 .. 24:00 local, minus an offset of at most ±24 h (the configured zone
                // or the cell's own, "+23:59" at most), plus a fraction of a second.
                const double lo = double(day) * 86400 - 2 * 86400,
                             hi = double(day + 1) * 86400 + 2 * 86400;
                CHECK(*t >= lo && *t <= hi, cell);
            }
            if (time.timeFormat == "iso")
                if (std::optional<double> exact = citytwin::fuzz::statedZoneTime(cell)) {
                    // Its own zone wins: exactly that instant, and the same under any timezone.
                    CHECK(std::fabs(*t - *exact) < 1e-3, cell);
                    std::optional<double> u = utc.parse(cell);
                    CHECK(u && *u == *t, cell);
                }
        }
    }
    for (const std::string& c : cells)
        if (std::optional<double> v = parseValue(c, decimalComma)) CHECK(std::isfinite(*v), c);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t b0 = data[0], b1 = data[1];
    static const char* const kFormats[] = {"iso", "dmy", "epoch", "iso"};
    static const char kDelimiters[] = {',', ';', '\t', '|'};
    TimeParser time;
    time.timeFormat = kFormats[b0 & 3];
    const int zone = (b0 >> 2) & 3;
    time.timezone = zone == 0 ? "UTC" : zone == 2 ? "fixed" : "Europe/Berlin";
    time.endLabels = (b0 & 0x10) != 0;
    const bool decimalComma = (b0 & 0x20) != 0;
    const char delimiter = kDelimiters[(b0 >> 6) & 3];
    const std::size_t timeColumn = b1 & 3;
    static const double kSpeeds[] = {1.0, 3600.0, 0.001, 1e6};
    const double speed = kSpeeds[(b1 >> 2) & 3];
    std::optional<double> firstTime;

    if (b1 & 0x40) { // JSON records: the keys are the configuration's, the time key first
        static const char* const kKeys[] = {"time", "level", "flow", "t"};
        std::vector<std::string> keys = {kKeys[timeColumn]};
        for (const char* k : kKeys)
            if (k != keys[0]) keys.push_back(k);
        if (zone == 2) time.fixedOffset = 3600;
        std::vector<std::optional<std::vector<std::string>>> rows;
        try {
            rows = jsonRecords(std::string(reinterpret_cast<const char*>(data + 2), size - 2), keys);
        } catch (const std::runtime_error&) {
            return 0; // the plugin refuses the file with this message
        }
        for (const auto& row : rows) {
            if (!row) continue; // a bad row: counted
            CHECK(row->size() == keys.size(), std::to_string(row->size()));
            checkRow(*row, time, 0, speed, decimalComma, firstTime);
        }
        return 0;
    }

    std::istringstream in(std::string(reinterpret_cast<const char*>(data + 2), size - 2));
    std::string line;
    if (!std::getline(in, line)) return 0;
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    std::vector<std::string> header = splitRow(line, delimiter);
    CHECK(!header.empty(), line);
    std::optional<int> offset = parseFixedOffset(header[0]);
    if (offset) CHECK(*offset >= -86400 && *offset <= 86400, header[0]);
    if (zone == 2) {
        if (!offset) return 0; // the plugin refuses this timezone at create()
        time.fixedOffset = *offset;
    }
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        std::vector<std::string> cells = splitRow(line, delimiter);
        CHECK(!cells.empty(), line);
        checkRow(cells, time, timeColumn, speed, decimalComma, firstTime);
    }
    return 0;
}
