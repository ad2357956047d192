#pragma once
// SensorStore: sensors and their observations in one SQLite file (WAL mode), written in batches
// by the feed pump and read by simulations, the viewer and exports. Schema and queries are in
// docs/plugins.md.
#include "feeds/FeedBus.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace ct::feeds {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// A row of `sensors`. NaN numbers are stored as NULL and read back as NaN.
struct SensorInfo {
    std::string id;   // store id: "<feed>:<plugin sensor id>"
    std::string feed; // the feed that announced it
    std::string name;
    double lon = kNoValue, lat = kNoValue; // WGS84 degrees
    double elevationM = kNoValue;
    std::string quantity, unit;
    double warnAbove = kNoValue, alarmAbove = kNoValue;
    std::string source;        // "<plugin name> <plugin version>"
    double updated = kNoValue; // when the metadata was last written, s since 1970 UTC
    std::string properties;    // further facts, a JSON object ("" if none): "edge", "heading", "interval_s"
};

struct TimeValue {
    double time; // phenomenon time, s since 1970 UTC
    double value;
};

struct StoredObservation {
    double phenomenonTime, resultTime, value;
    int32_t quality;
    int64_t dedupKey; // as stored (see dedupKeyFor)
};

// What became of one observation offered to insert().
enum class InsertOutcome { Inserted, Duplicate, Rejected };

struct InsertResult {
    size_t inserted = 0, duplicates = 0, rejected = 0;
};

struct StoreCounts {
    uint64_t sensors = 0, observations = 0; // in the file
    uint64_t duplicates = 0, rejected = 0;  // refused by this SensorStore object since it opened
};

class SensorStore {
  public:
    // Values beyond this magnitude are treated as garbage (a decoding error), not as data.
    static constexpr double kMaxAbsValue = 1e12;

    // Opens or creates the database; throws InputError naming the file if it is not a usable
    // SQLite database or WAL mode cannot be enabled. Committed data of a process that died is
    // recovered from the WAL by SQLite on open. `busyTimeout`: how long a write waits for another
    // connection's lock before it fails.
    explicit SensorStore(const std::filesystem::path& file,
                         std::chrono::milliseconds busyTimeout = std::chrono::milliseconds(5000));
    ~SensorStore();
    SensorStore(const SensorStore&) = delete;
    SensorStore& operator=(const SensorStore&) = delete;

    const std::filesystem::path& path() const { return file; }

    // Inserts or replaces a sensor's metadata (a re-announcement updates it).
    void upsertSensor(const SensorInfo& sensor);

    // Stores a batch in one transaction. Duplicates (same sensor and dedup key) are ignored and
    // counted; invalid observations (why: rejectReason) are counted and not stored. Observations
    // of sensors not announced yet get a bare sensors row, so nothing is orphaned. `each`, if
    // given, hears the outcome of every observation (the pump attributes them to feeds).
    // Throws InputError if SQLite fails; the whole batch is then rolled back.
    InsertResult
    insert(std::span<const Observation> batch,
           const std::function<void(const Observation&, InsertOutcome, const char* reason)>& each = {});

    // Why an observation would be refused, or nullptr if it is acceptable.
    static const char* rejectReason(const Observation& o);
    // The stored dedup key: the plugin's key when ≥ 0, else one derived from the phenomenon time
    // in whole milliseconds, shifted to -2^62 + ms so it can never equal a frame counter.
    static int64_t dedupKeyFor(const Observation& o);

    // The observation with the newest phenomenon time (not the last inserted).
    std::optional<TimeValue> latest(const std::string& sensor) const;
    // Observations with from ≤ phenomenon time ≤ to, sorted by phenomenon time.
    std::vector<StoredObservation> range(const std::string& sensor,
                                         double from = -std::numeric_limits<double>::infinity(),
                                         double to = std::numeric_limits<double>::infinity()) const;
    std::vector<SensorInfo> sensors() const; // sorted by id
    std::optional<SensorInfo> sensor(const std::string& id) const;
    uint64_t observationCount(const std::string& sensor) const;
    StoreCounts counts() const;
    std::string journalMode() const; // "wal" once open

    // CSV "sensor,time,value,quality", time as ISO 8601 UTC with milliseconds, sorted by sensor
    // then time; `sensor` empty: all sensors. Returns the number of rows written.
    size_t exportCsv(const std::filesystem::path& csv, const std::string& sensor = {},
                     double from = -std::numeric_limits<double>::infinity(),
                     double to = std::numeric_limits<double>::infinity()) const;
    // A GeoPackage point layer "sensors" (EPSG:4326) with each sensor's metadata and latest
    // value. Sensors without a location have no point to draw and are left out; returns the
    // number written.
    size_t exportGpkg(const std::filesystem::path& gpkg) const;

  private:
    void createSchema();
    void exec(const char* sql) const;
    sqlite3_stmt* prepare(const char* sql) const;
    [[noreturn]] void fail(const std::string& what) const;

    std::filesystem::path file;
    sqlite3* db = nullptr;
    mutable std::mutex mutex; // one connection shared by the pump and readers
    sqlite3_stmt* insertObs = nullptr;
    sqlite3_stmt* insertBareSensor = nullptr;
    std::unordered_set<std::string> knownSensors; // ids that have a sensors row
    uint64_t duplicates = 0, rejected = 0;
};

// "2024-05-01T12:00:00.123Z"
std::string isoTime(double secondsSince1970);

// What a sensor said at time t, for a simulation that starts from it: its newest observation
// of good or suspect quality in [t − maxAgeS, t]. Throws InputError naming the sensor and the
// store when there is none (and when the sensor is unknown), with its newest time if any.
TimeValue valueAt(const SensorStore& store, const std::string& sensor, double t, double maxAgeS);

} // namespace ct::feeds
