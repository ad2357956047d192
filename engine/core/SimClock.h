#pragma once
// Simulation time: an instant with its UTC offset (as given in the scenario), and durations.
#include <cstdint>
#include <optional>
#include <string>

namespace ct {

struct Instant {
    int64_t utcSeconds = 0;  // seconds since 1970-01-01T00:00:00Z
    int offsetMinutes = 0;   // local offset of the scenario's time zone, e.g. +60 for CET

    std::string iso() const; // "2026-07-14T15:00:00+02:00"
};

// "2026-07-14T15:00:00+02:00", "...Z", fractional seconds allowed. The offset is required:
// a bare local time is ambiguous (CET/CEST), so nullopt is returned for it.
std::optional<Instant> parseIsoInstant(const std::string& text);

// A clock time "HH:MM" or "HH:MM:SS[.fff]" as seconds after midnight; hours may exceed 23
// (the next day). nullopt for anything else.
std::optional<double> parseClockSeconds(const std::string& text);

// "3600", "90s", "45min", "1h", "1.5h", "2d", ISO "PT1H30M", "P1D". Returns seconds.
std::optional<double> parseDurationSeconds(const std::string& text);

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t daysFromCivil(int64_t year, unsigned month, unsigned day);

class SimClock {
public:
    SimClock(Instant start, double durationS) : startAt(start), durationS(durationS) {}
    const Instant& start() const { return startAt; }
    double duration() const { return durationS; }
    double elapsed() const { return elapsedS; }
    bool done() const { return elapsedS >= durationS; }
    void advance(double dtS) { elapsedS += dtS; }
    Instant now() const;

private:
    Instant startAt;
    double durationS;
    double elapsedS = 0.0;
};

} // namespace ct
