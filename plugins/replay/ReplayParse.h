// The replay plugin's parsing: CSV rows and cells, row times (ISO, German dd.mm.yyyy, epoch) in
// UTC, Europe/Berlin or a fixed offset, and values. Plain C++ without the plugin ABI, so it is
// unit-tested and fuzzed on its own (plugins/replay/test_replay.cpp, tools/fuzz/).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace citytwin::replay {

// Days since 1970-01-01 of a Gregorian date (Hinnant).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d);
// Last Sunday of a month (March or October), as days since 1970.
int64_t lastSunday(int year, unsigned month);
// UTC offset in seconds for a local clock reading in Europe/Berlin (see ReplayParse.cpp).
int berlinOffset(int year, int64_t local, bool endLabels, bool repeated);

// A cell without its surrounding blanks, quotes and apostrophes (and a trailing CR).
std::string trimField(std::string s);
// One CSV line → trimmed cells; the delimiter does not split inside "double quotes".
std::vector<std::string> splitRow(const std::string& line, char delimiter);

// A fixed UTC offset "+01:00" / "-05:30" → seconds east of UTC; nullopt if it is not one.
std::optional<int> parseFixedOffset(const std::string& tz);
// A cell → value; nullopt for missing ("", "-", "NA", "NaN") or unparsable cells.
std::optional<double> parseValue(std::string s, bool decimalComma);

// JSON records → rows of cells: the file is a JSON array of objects, or JSON Lines (one object
// per line). Each record gives the text of `keys` in order: a string as is, a number written
// back exactly ("%.17g"), "" for a missing key or null (a missing value). A record that is not
// an object (or a JSON Lines line that does not parse) is nullopt: a bad row. Throws
// std::runtime_error when the text is neither an array nor JSON Lines.
std::vector<std::optional<std::vector<std::string>>> jsonRecords(const std::string& text,
                                                                 const std::vector<std::string>& keys);

// When a row is due at a replay speed (> 0): its time after the first row's, divided by speed,
// at most ±1e9 s.
std::chrono::steady_clock::duration replayDelay(double rowTime, double firstTime, double speed);

// Row times → UTC seconds. Stateful only for Europe/Berlin: a clock reading equal to the
// previous row's is the repeated October hour.
struct TimeParser {
    std::string timeFormat = "iso"; // iso | dmy | epoch
    std::string timezone = "UTC";   // UTC, Europe/Berlin, or a fixed offset (fixedOffset)
    int fixedOffset = 0;
    bool endLabels = false; // a row's time is the end of its interval (UBA hourly means)
    int64_t previousLocal = INT64_MIN;

    std::optional<double> parse(const std::string& s);
};

} // namespace citytwin::replay
