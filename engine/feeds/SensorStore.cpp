#include "feeds/SensorStore.h"

#include "core/Error.h"
#include "gis/Writers.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fmt/format.h>
#include <fstream>

namespace ct::feeds {
namespace fs = std::filesystem;

namespace {

// 1: the first; 2: sensors.properties (a JSON object of further facts, plugin ABI minor 1).
constexpr int kSchemaVersion = 2;
constexpr double kMaxAbsTime = 253402300800.0; // year 10000: beyond is a unit mix-up (ms, µs)
constexpr int64_t kTimeKeyOffset = int64_t(1) << 62;

double nowS() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Finalizes a statement prepared for one call, also when a query throws.
struct Stmt {
    sqlite3_stmt* s = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
    operator sqlite3_stmt*() const { return s; }
};

double columnDouble(sqlite3_stmt* s, int i) {
    return sqlite3_column_type(s, i) == SQLITE_NULL ? kNoValue : sqlite3_column_double(s, i);
}
std::string columnText(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, i)) : std::string();
}
// NaN as NULL: SQLite would do that itself, but say so where it matters.
void bindDouble(sqlite3_stmt* s, int i, double v) {
    if (std::isnan(v))
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, v);
}
void bindText(sqlite3_stmt* s, int i, const std::string& t) {
    sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}
// Store ids are "<feed>:<plugin sensor id>"; a bare sensors row needs the feed.
std::string feedOf(const std::string& sensorId) {
    size_t colon = sensorId.find(':');
    return colon == std::string::npos ? std::string() : sensorId.substr(0, colon);
}

SensorInfo readSensor(sqlite3_stmt* s) {
    SensorInfo info;
    info.id = columnText(s, 0);
    info.feed = columnText(s, 1);
    info.name = columnText(s, 2);
    info.lon = columnDouble(s, 3);
    info.lat = columnDouble(s, 4);
    info.elevationM = columnDouble(s, 5);
    info.quantity = columnText(s, 6);
    info.unit = columnText(s, 7);
    info.warnAbove = columnDouble(s, 8);
    info.alarmAbove = columnDouble(s, 9);
    info.source = columnText(s, 10);
    info.updated = columnDouble(s, 11);
    info.properties = columnText(s, 12);
    return info;
}
constexpr const char* kSensorColumns =
    "id, feed, name, lon, lat, elevation, quantity, unit, warn_above, alarm_above, source, updated, properties";

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s)
        q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

} // namespace

std::string isoTime(double t) {
    if (!std::isfinite(t)) return {};
    long long ms = std::llround(t * 1000.0);
    long long secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); // floor, also before 1970
    int frac = static_cast<int>(ms - secs * 1000);
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void SensorStore::fail(const std::string& what) const {
    throw InputError(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"), file.string(),
                     "check that the file is a citytwin sensor database, writable, and the disk not full");
}

void SensorStore::exec(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw InputError(
            std::string("SQLite failed on \"") + sql + "\": " + msg, file.string(),
            "check that the file is a citytwin sensor database, writable, and the disk not full");
    }
}

sqlite3_stmt* SensorStore::prepare(const char* sql) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        fail(std::string("cannot prepare \"") + sql + "\"");
    return s;
}

void SensorStore::createSchema() {
    exec("BEGIN IMMEDIATE");
    try {
        exec("CREATE TABLE IF NOT EXISTS sensors(id TEXT PRIMARY KEY, feed TEXT NOT NULL, name TEXT, "
             "lon REAL, lat REAL, elevation REAL, quantity TEXT, unit TEXT, warn_above REAL, alarm_above "
             "REAL, "
             "source TEXT, updated REAL, properties TEXT)");
        bool hasProperties = false; // a version 1 file: add the column, keep every row
        {
            Stmt s{prepare("SELECT 1 FROM pragma_table_info('sensors') WHERE name = 'properties'")};
            hasProperties = sqlite3_step(s) == SQLITE_ROW;
        }
        if (!hasProperties) exec("ALTER TABLE sensors ADD COLUMN properties TEXT");
        exec("CREATE TABLE IF NOT EXISTS observations(sensor TEXT NOT NULL, phenomenon_time REAL NOT NULL, "
             "result_time REAL, value REAL NOT NULL, quality INTEGER NOT NULL, dedup_key INTEGER NOT NULL)");
        exec("CREATE UNIQUE INDEX IF NOT EXISTS observations_dedup ON observations(sensor, dedup_key)");
        // range() and latest() read by sensor and time.
        exec("CREATE INDEX IF NOT EXISTS observations_time ON observations(sensor, phenomenon_time)");
        exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

SensorStore::SensorStore(const fs::path& fileIn, std::chrono::milliseconds busyTimeout) : file(fileIn) {
    // NOMUTEX: our own mutex serialises the connection.
    int rc = sqlite3_open_v2(file.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    try {
        if (rc != SQLITE_OK) fail("cannot open the sensor database");
        // Another process (a viewer, a CLI) may hold a lock briefly.
        sqlite3_busy_timeout(db, static_cast<int>(busyTimeout.count()));
        {
            // Also the first real read: a file that is not SQLite fails here.
            Stmt s{prepare("PRAGMA journal_mode=WAL")};
            if (sqlite3_step(s) != SQLITE_ROW) fail("cannot enable WAL mode");
            if (columnText(s, 0) != "wal")
                throw InputError("SQLite refused WAL mode (journal_mode is " + columnText(s, 0) + ")",
                                 file.string(), "put the database on a local file system");
        }
        // NORMAL in WAL mode: a power cut may lose the last commits, never corrupts the file.
        exec("PRAGMA synchronous=NORMAL");
        int version = 0;
        {
            Stmt s{prepare("PRAGMA user_version")};
            if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
        }
        if (version > kSchemaVersion)
            throw InputError(
                fmt::format("sensor database schema version {} is newer than this citytwin's ({})", version,
                            kSchemaVersion),
                file.string(), "open it with a newer citytwin");
        // A current file needs no write lock to open: a viewer reading next to a writer.
        if (version < kSchemaVersion) createSchema();
        insertObs = prepare("INSERT OR IGNORE INTO observations(sensor, phenomenon_time, result_time, value, "
                            "quality, dedup_key) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        insertBareSensor = prepare("INSERT OR IGNORE INTO sensors(id, feed, updated) VALUES(?1, ?2, ?3)");
        Stmt s{prepare("SELECT id FROM sensors")};
        while (sqlite3_step(s) == SQLITE_ROW)
            knownSensors.insert(columnText(s, 0));
    } catch (...) {
        sqlite3_finalize(insertObs);
        sqlite3_finalize(insertBareSensor);
        sqlite3_close_v2(db);
        throw;
    }
}

SensorStore::~SensorStore() {
    sqlite3_finalize(insertObs);
    sqlite3_finalize(insertBareSensor);
    sqlite3_close_v2(db); // the last connection checkpoints the WAL into the file
}

const char* SensorStore::rejectReason(const Observation& o) {
    if (o.sensor.empty()) return "empty sensor id";
    if (!std::isfinite(o.phenomenonTime)) return "phenomenon time not finite";
    if (std::fabs(o.phenomenonTime) > kMaxAbsTime) return "phenomenon time out of range";
    if (!std::isfinite(o.value)) return "value not finite";
    if (std::fabs(o.value) > kMaxAbsValue) return "value magnitude above 1e12";
    if (o.quality < 0 || o.quality > 2) return "quality not 0, 1 or 2";
    return nullptr;
}

int64_t SensorStore::dedupKeyFor(const Observation& o) {
    if (o.dedupKey >= 0) return o.dedupKey;
    return std::llround(o.phenomenonTime * 1000.0) - kTimeKeyOffset;
}

void SensorStore::upsertSensor(const SensorInfo& info) {
    if (info.id.empty()) throw InputError("a sensor needs an id", file.string());
    std::lock_guard lock(mutex);
    Stmt s{prepare("INSERT INTO sensors(id, feed, name, lon, lat, elevation, quantity, unit, warn_above, "
                   "alarm_above, source, updated, properties) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                   "ON CONFLICT(id) DO UPDATE SET feed=excluded.feed, name=excluded.name, lon=excluded.lon, "
                   "lat=excluded.lat, elevation=excluded.elevation, quantity=excluded.quantity, "
                   "unit=excluded.unit, warn_above=excluded.warn_above, alarm_above=excluded.alarm_above, "
                   "source=excluded.source, updated=excluded.updated, properties=excluded.properties")};
    bindText(s, 1, info.id);
    bindText(s, 2, info.feed);
    bindText(s, 3, info.name);
    bindDouble(s, 4, info.lon);
    bindDouble(s, 5, info.lat);
    bindDouble(s, 6, info.elevationM);
    bindText(s, 7, info.quantity);
    bindText(s, 8, info.unit);
    bindDouble(s, 9, info.warnAbove);
    bindDouble(s, 10, info.alarmAbove);
    bindText(s, 11, info.source);
    bindDouble(s, 12, std::isnan(info.updated) ? nowS() : info.updated);
    bindText(s, 13, info.properties);
    if (sqlite3_step(s) != SQLITE_DONE) fail("cannot store sensor " + info.id);
    knownSensors.insert(info.id);
}

InsertResult
SensorStore::insert(std::span<const Observation> batch,
                    const std::function<void(const Observation&, InsertOutcome, const char*)>& each) {
    InsertResult result;
    if (batch.empty()) return result;
    // Outcomes are reported after COMMIT, so a rolled-back batch reports nothing.
    std::vector<std::pair<InsertOutcome, const char*>> outcomes;
    if (each) outcomes.reserve(batch.size());
    std::lock_guard lock(mutex);
    std::vector<std::string> newSensors;
    double now = nowS();
    exec("BEGIN IMMEDIATE");
    try {
        for (const Observation& o : batch) {
            if (const char* why = rejectReason(o)) {
                ++result.rejected;
                if (each) outcomes.emplace_back(InsertOutcome::Rejected, why);
                continue;
            }
            if (!knownSensors.contains(o.sensor)) {
                sqlite3_reset(insertBareSensor);
                bindText(insertBareSensor, 1, o.sensor);
                bindText(insertBareSensor, 2, feedOf(o.sensor));
                sqlite3_bind_double(insertBareSensor, 3, now);
                if (sqlite3_step(insertBareSensor) != SQLITE_DONE) fail("cannot store sensor " + o.sensor);
                knownSensors.insert(o.sensor);
                newSensors.push_back(o.sensor);
            }
            sqlite3_reset(insertObs);
            sqlite3_bind_text(insertObs, 1, o.sensor.data(), static_cast<int>(o.sensor.size()),
                              SQLITE_STATIC);
            sqlite3_bind_double(insertObs, 2, o.phenomenonTime);
            bindDouble(insertObs, 3, std::isnan(o.resultTime) ? now : o.resultTime);
            sqlite3_bind_double(insertObs, 4, o.value);
            sqlite3_bind_int(insertObs, 5, o.quality);
            sqlite3_bind_int64(insertObs, 6, dedupKeyFor(o));
            if (sqlite3_step(insertObs) != SQLITE_DONE) fail("cannot store an observation of " + o.sensor);
            bool stored = sqlite3_changes(db) > 0; // 0: OR IGNORE hit the unique index
            stored ? ++result.inserted : ++result.duplicates;
            if (each)
                outcomes.emplace_back(stored ? InsertOutcome::Inserted : InsertOutcome::Duplicate, nullptr);
        }
        sqlite3_reset(insertObs);
        sqlite3_clear_bindings(insertObs); // drop the SQLITE_STATIC pointer into `batch`
        exec("COMMIT");
    } catch (...) {
        sqlite3_reset(insertObs);
        sqlite3_reset(insertBareSensor);
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        for (const auto& id : newSensors)
            knownSensors.erase(id);
        throw;
    }
    duplicates += result.duplicates;
    rejected += result.rejected;
    for (size_t i = 0; i < outcomes.size(); ++i)
        each(batch[i], outcomes[i].first, outcomes[i].second);
    return result;
}

std::optional<TimeValue> SensorStore::latest(const std::string& sensor) const {
    std::lock_guard lock(mutex);
    Stmt s{prepare("SELECT phenomenon_time, value FROM observations WHERE sensor = ?1 "
                   "ORDER BY phenomenon_time DESC, rowid DESC LIMIT 1")};
    bindText(s, 1, sensor);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return TimeValue{sqlite3_column_double(s, 0), sqlite3_column_double(s, 1)};
    if (rc != SQLITE_DONE) fail("cannot read the latest observation of " + sensor);
    return std::nullopt;
}

TimeValue valueAt(const SensorStore& store, const std::string& sensor, double t, double maxAgeS) {
    if (!store.sensor(sensor))
        throw InputError("no sensor '" + sensor + "' in the sensor store", store.path().string(),
                         "check the id (`citytwin feeds SCENARIO` lists the sensors; ids are \"<feed>:<sensor>\")");
    auto rows = store.range(sensor, t - maxAgeS, t);
    for (auto r = rows.rbegin(); r != rows.rend(); ++r)
        if (r->quality < 2) return {r->phenomenonTime, r->value};
    auto newest = store.latest(sensor);
    throw InputError(fmt::format("sensor '{}' has no usable value in the {:.4g} h before {}{}", sensor, maxAgeS / 3600,
                                 isoTime(t), newest ? " (its newest is from " + isoTime(newest->time) + ")" : " (it has none)"),
                     store.path().string(), "let the feeds run up to the start, or allow older values with max_age");
}

std::vector<StoredObservation> SensorStore::range(const std::string& sensor, double from, double to) const {
    std::lock_guard lock(mutex);
    Stmt s{prepare("SELECT phenomenon_time, result_time, value, quality, dedup_key FROM observations "
                   "WHERE sensor = ?1 AND phenomenon_time >= ?2 AND phenomenon_time <= ?3 "
                   "ORDER BY phenomenon_time, rowid")};
    bindText(s, 1, sensor);
    // ±inf bind as the largest doubles: SQLite REAL compares them as expected.
    sqlite3_bind_double(s, 2, std::isnan(from) ? -HUGE_VAL : from);
    sqlite3_bind_double(s, 3, std::isnan(to) ? HUGE_VAL : to);
    std::vector<StoredObservation> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        out.push_back({sqlite3_column_double(s, 0), columnDouble(s, 1), sqlite3_column_double(s, 2),
                       sqlite3_column_int(s, 3), sqlite3_column_int64(s, 4)});
    if (rc != SQLITE_DONE) fail("cannot read observations of " + sensor);
    return out;
}

std::vector<SensorInfo> SensorStore::sensors() const {
    std::lock_guard lock(mutex);
    Stmt s{prepare(fmt::format("SELECT {} FROM sensors ORDER BY id", kSensorColumns).c_str())};
    std::vector<SensorInfo> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        out.push_back(readSensor(s));
    if (rc != SQLITE_DONE) fail("cannot list sensors");
    return out;
}

std::optional<SensorInfo> SensorStore::sensor(const std::string& id) const {
    std::lock_guard lock(mutex);
    Stmt s{prepare(fmt::format("SELECT {} FROM sensors WHERE id = ?1", kSensorColumns).c_str())};
    bindText(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return readSensor(s);
    if (rc != SQLITE_DONE) fail("cannot read sensor " + id);
    return std::nullopt;
}

uint64_t SensorStore::observationCount(const std::string& sensor) const {
    std::lock_guard lock(mutex);
    Stmt s{prepare("SELECT count(*) FROM observations WHERE sensor = ?1")};
    bindText(s, 1, sensor);
    if (sqlite3_step(s) != SQLITE_ROW) fail("cannot count observations of " + sensor);
    return static_cast<uint64_t>(sqlite3_column_int64(s, 0));
}

StoreCounts SensorStore::counts() const {
    std::lock_guard lock(mutex);
    StoreCounts c;
    Stmt s{prepare("SELECT (SELECT count(*) FROM sensors), (SELECT count(*) FROM observations)")};
    if (sqlite3_step(s) != SQLITE_ROW) fail("cannot count the store");
    c.sensors = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    c.observations = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
    c.duplicates = duplicates;
    c.rejected = rejected;
    return c;
}

std::string SensorStore::journalMode() const {
    std::lock_guard lock(mutex);
    Stmt s{prepare("PRAGMA journal_mode")};
    if (sqlite3_step(s) != SQLITE_ROW) fail("cannot read the journal mode");
    return columnText(s, 0);
}

size_t SensorStore::exportCsv(const fs::path& csv, const std::string& sensor, double from, double to) const {
    std::ofstream out(csv);
    if (!out)
        throw InputError("cannot create the CSV file", csv.string(),
                         "check the folder exists and is writable");
    out << "sensor,time,value,quality\n";
    size_t rows = 0;
    {
        std::lock_guard lock(mutex);
        Stmt s{prepare(sensor.empty()
                           ? "SELECT sensor, phenomenon_time, value, quality FROM observations "
                             "WHERE phenomenon_time >= ?2 AND phenomenon_time <= ?3 "
                             "ORDER BY sensor, phenomenon_time, rowid"
                           : "SELECT sensor, phenomenon_time, value, quality FROM observations "
                             "WHERE sensor = ?1 AND phenomenon_time >= ?2 AND phenomenon_time <= ?3 "
                             "ORDER BY phenomenon_time, rowid")};
        if (!sensor.empty()) bindText(s, 1, sensor);
        sqlite3_bind_double(s, 2, std::isnan(from) ? -HUGE_VAL : from);
        sqlite3_bind_double(s, 3, std::isnan(to) ? HUGE_VAL : to);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            // {} is the shortest text that reads back as the same double.
            out << csvField(columnText(s, 0)) << ',' << isoTime(sqlite3_column_double(s, 1)) << ','
                << fmt::format("{}", sqlite3_column_double(s, 2)) << ',' << sqlite3_column_int(s, 3) << '\n';
            ++rows;
        }
        if (rc != SQLITE_DONE) fail("cannot read observations for the CSV export");
    }
    out.flush();
    if (!out) throw InputError("cannot write the CSV file", csv.string(), "check the disk is not full");
    return rows;
}

size_t SensorStore::exportGpkg(const fs::path& gpkg) const {
    struct Row {
        SensorInfo info;
        double time = kNoValue, value = kNoValue;
        int64_t quality = -1;
    };
    std::vector<Row> rows;
    {
        std::lock_guard lock(mutex);
        // The latest observation per sensor: the row with the newest phenomenon time.
        Stmt s{prepare(
            fmt::format(
                "SELECT {}, o.phenomenon_time, o.value, o.quality FROM sensors s LEFT JOIN observations o "
                "ON o.rowid = (SELECT rowid FROM observations WHERE sensor = s.id "
                "ORDER BY phenomenon_time DESC, rowid DESC LIMIT 1) "
                "WHERE s.lon IS NOT NULL AND s.lat IS NOT NULL ORDER BY s.id",
                "s.id, s.feed, s.name, s.lon, s.lat, s.elevation, s.quantity, s.unit, s.warn_above, "
                "s.alarm_above, s.source, s.updated, s.properties")
                .c_str())};
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            Row r{readSensor(s), columnDouble(s, 13), columnDouble(s, 14), -1};
            if (sqlite3_column_type(s, 15) != SQLITE_NULL) r.quality = sqlite3_column_int64(s, 15);
            rows.push_back(std::move(r));
        }
        if (rc != SQLITE_DONE) fail("cannot read sensors for the GeoPackage export");
    }
    using gis::FieldType;
    gis::GpkgWriter w(gpkg, "sensors", gis::GpkgWriter::Geometry::Point, Crs::fromEpsg(4326),
                      {{"sensor", FieldType::String},
                       {"feed", FieldType::String},
                       {"name", FieldType::String},
                       {"quantity", FieldType::String},
                       {"unit", FieldType::String},
                       {"elevation_m", FieldType::Real},
                       {"value", FieldType::Real},
                       {"time", FieldType::String},
                       {"quality", FieldType::Integer},
                       {"state", FieldType::String},
                       {"warn_above", FieldType::Real},
                       {"alarm_above", FieldType::Real},
                       {"source", FieldType::String},
                       {"properties", FieldType::String}});
    for (const Row& r : rows) {
        const SensorInfo& i = r.info;
        bool hasValue = std::isfinite(r.value);
        // NaN thresholds compare false: "ok" unless a threshold is set and exceeded.
        std::string state = !hasValue                ? "no data"
                            : r.value > i.alarmAbove ? "alarm"
                            : r.value > i.warnAbove  ? "warn"
                                                     : "ok";
        std::vector<gis::FieldValue> values{i.id,
                                            i.feed,
                                            i.name,
                                            i.quantity,
                                            i.unit,
                                            i.elevationM,
                                            r.value,
                                            gis::FieldValue(),
                                            gis::FieldValue(),
                                            state,
                                            i.warnAbove,
                                            i.alarmAbove,
                                            i.source,
                                            i.properties};
        if (hasValue) values[7] = isoTime(r.time); // no observation yet: NULL time and quality
        if (r.quality >= 0) values[8] = r.quality;
        w.addPoint(Vec2(i.lon, i.lat), values);
    }
    w.close();
    return rows.size();
}

} // namespace ct::feeds
