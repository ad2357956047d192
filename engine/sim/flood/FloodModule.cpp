#include "sim/flood/FloodModule.h"

#include "core/Error.h"
#include "feeds/SensorStore.h"
#include "gis/RasterRead.h"
#include "gis/Writers.h"
#include "sim/flood/DesignStorm.h"

#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <unordered_set>
#include <spdlog/spdlog.h>

namespace ct::flood {

namespace fs = std::filesystem;

namespace {

constexpr double kMmPerHour = 1e-3 / 3600.0; // mm/h -> m/s

// Green-Ampt parameters by soil texture, Rawls, Brakensiek & Miller (1983), J. Hydraul. Eng.
// 109(1): saturated conductivity, wetting-front suction head, effective porosity.
struct SoilClass {
    const char* name;
    double ksMmH, suctionM, effectivePorosity;
};
const std::vector<SoilClass>& soilClasses() {
    static const std::vector<SoilClass> table = {
        {"sand", 117.8, 0.0495, 0.417},        {"loamy_sand", 29.9, 0.0613, 0.401},
        {"sandy_loam", 10.9, 0.1101, 0.412},   {"loam", 3.4, 0.0889, 0.434},
        {"silt_loam", 6.5, 0.1668, 0.486},     {"sandy_clay_loam", 1.5, 0.2185, 0.330},
        {"clay_loam", 1.0, 0.2088, 0.309},     {"silty_clay_loam", 1.0, 0.2730, 0.432},
        {"sandy_clay", 0.6, 0.2390, 0.321},    {"silty_clay", 0.5, 0.2922, 0.423},
        {"clay", 0.3, 0.3163, 0.385},
    };
    return table;
}

// The land-use class named by a YAML key (a row of the city model's table, docs/city-model.md);
// anything else is an error that lists the classes.
size_t landUseIndex(const YamlReader& y, const YAML::Node& key, const std::string& section) {
    std::string name = y.str(key, section);
    const auto& table = landUseTable();
    for (size_t k = 0; k < table.size(); ++k)
        if (name == table[k].name) return k;
    std::string known;
    for (const auto& row : table) known += (known.empty() ? "" : ", ") + std::string(row.name);
    y.fail(key, "unknown land-use class '" + name + "' in " + section, "the city model's classes are " + known);
}

struct Gauge {
    std::string name;
    Vec2 world;
    int i, j;
    double maxDepth = 0;
};

struct Polygon {
    std::vector<Vec2> ring; // local frame
};

// Reads a module block's YAML; `where` is "file:line" of the block, messages name the line.
class Yaml : public YamlReader {
public:
    // Paths (sensor_store) relative to the scenario's folder.
    explicit Yaml(const std::string& where)
        : YamlReader(where.substr(0, where.rfind(':')), fs::path(where.substr(0, where.rfind(':'))).parent_path(), where) {}
    // [[t, value], ...] with sorted times.
    void series(const YAML::Node& n, const std::string& key, std::vector<double>& ts, std::vector<double>& vs) const {
        if (!n.IsSequence() || n.size() == 0) fail(n, "'" + key + "' must be a list of [time_s, value] pairs");
        for (auto p : n) {
            if (!p.IsSequence() || p.size() != 2) fail(p, "'" + key + "' entries must be [time_s, value]");
            double t = number(p[0], key), v = number(p[1], key);
            if (!ts.empty() && t < ts.back())
                fail(p, "'" + key + "': times are not sorted", "list the pairs in increasing time");
            ts.push_back(t);
            vs.push_back(v);
        }
    }
};

class FloodModule : public SimulationModule {
public:
    void configure(const YAML::Node& block, const std::string& where, const CityModel& city) override;
    bool handlesEdit(const std::string& type) const override {
        return type == "barrier" || type == "breach" || type == "lower" || type == "unseal" || type == "drainage" ||
               type == "inflow";
    }
    void applyEdit(const Edit& edit) override;
    float lossRateAt(size_t cell) const;
    void applyToRunningSolver(const std::string& type);
    void start(const RunContext& context) override;
    void advance(double timeS) override;
    std::shared_ptr<const Snapshot> snapshot() const override;
    void writeOutputs(const fs::path& dir) override;
    Kpis kpis() const override;
    std::string status() const override;

private:
    void buildGrid();
    template <class F>
    void forCellsInPolygon(const std::vector<Vec2>& ring, F&& f) const;
    template <class F>
    void forCellsOnLine(const std::vector<Vec2>& line, double widthM, F&& f) const;
    bool cellOf(const Vec2& local, int& i, int& j) const;
    void record();
    void writeGrid(const fs::path& file, const std::vector<float>& values) const;

    const CityModel* city = nullptr;
    std::string where;
    SolverOptions options;
    GridSpec spec;
    double cellSize = 0;
    std::string buildingMode = "blocked";
    double buildingRaiseM = 0;
    double drainageMmH = 0, infiltrationMmH = 0;
    std::vector<double> drainageByClass;  // mm/h per land-use class (landUseTable()), NaN: not listed
    // SCS Curve Number on the unsealed share: default CN (NaN: not used), CN per class, Ia/S.
    double scsDefaultCn = NAN, scsIaRatio = 0.2;
    std::vector<double> scsCnByClass;
    std::optional<SoilClass> greenAmpt;
    double greenAmptDeficit = 0;
    double gaugeIntervalS = 60, snapshotIntervalS = 0;
    std::function<double(double)> rain;
    std::vector<double> rainBreaks; // times where the rain rate changes
    std::vector<double> rainFieldTimes;            // rain rasters: from when each holds
    FloodSolver::RainFields rainFields;            //   and its rate per cell, m/s (one copy for all runs)
    double manningDefault = 0.035;
    struct InflowSpec {
        std::string name;
        Vec2 local;               // a point inflow, or
        std::vector<Vec2> line;   // a line inflow: the flow shared by the cells it crosses
        std::vector<double> ts, qs;
    };
    InflowSpec readInflow(const Yaml& y, const YAML::Node& in, const std::string& defaultName) const;
    void addInflow(const InflowSpec& inflow);
    std::vector<InflowSpec> inflowSpecs;
    std::vector<std::pair<std::vector<Vec2>, double>> initialLevels; // polygon, level
    std::vector<std::vector<float>> initialLevelRasters; // water level per cell (NaN: none)
    // A raster (any GDAL format) on the flood grid: reprojected by GDAL (bilinear) when its CRS
    // differs from the city's, then each cell takes the pixel under its centre; NaN = nodata.
    // Cells outside the raster are an error that says what share lies outside.
    std::vector<float> rasterOnGrid(const Yaml& y, const YAML::Node& n, const std::string& key) const;
    // Levels read from a sensor store when the run starts (`level: {sensor: ID}`): what the
    // river gauge says at the scenario start becomes the initial or boundary water level.
    struct SensorLevel {
        std::string sensor, use;  // use: "initial_levels[2]", "boundary east", ...
        double offsetM = 0;       // added to the value (gauge zero, datum)
        double maxAgeS = 86400;   // the newest value may be this old at the start
        std::function<void(double)> apply;
        double time = NAN, value = NAN; // what was read (sensor_inputs.csv)
    };
    std::vector<SensorLevel> sensorLevels;
    fs::path sensorStore;
    // A level: a number, or {sensor: ID, offset: m, max_age: duration} set when the run starts.
    double level(const Yaml& y, const YAML::Node& n, const std::string& use, std::function<void(double)> apply);
    std::vector<Gauge> gauges;
    // Edits, applied to the grid in start().
    struct Barrier {
        std::vector<Vec2> line;
        double heightM;
        double widthM;
    };
    struct Breach {
        std::vector<Vec2> line;
        double widthM;
        double atS;
        std::vector<size_t> cells;
        std::vector<float> bedBefore;
        bool done = false;
    };
    std::vector<Barrier> barriers;
    std::vector<Breach> breaches;
    std::vector<std::pair<std::vector<Vec2>, double>> lowers;   // polygon, depth
    std::vector<std::vector<Vec2>> unseals;
    std::vector<std::pair<std::vector<Vec2>, double>> drainageEdits; // polygon, mm/h
    std::vector<float> sealedNow, drainageNow; // per cell after the edits (kept for mid-run edits)

    std::unique_ptr<FloodSolver> solver;
    std::vector<float> sealed;                 // sealed share per cell
    std::vector<float> manning;                // Manning's n per cell
    std::vector<int32_t> buildingOfCell;       // -1 or building index
    std::vector<int16_t> landUseOfCell;        // -1 (no land use) or a row of landUseTable()
    std::vector<float> bedInitial;
    double nextGaugeS = 0, nextSnapshotS = 0;
    struct GaugeRow {
        double t;
        std::vector<float> depth, speed, level;
    };
    std::vector<GaugeRow> gaugeRows;
    struct BalanceRow {
        double t;
        MassBalance b;
        double dt;
        size_t wet;
    };
    std::vector<BalanceRow> balanceRows;
    std::vector<std::pair<double, std::vector<float>>> snapshots;
};

bool FloodModule::cellOf(const Vec2& p, int& i, int& j) const {
    i = static_cast<int>(std::floor((p.x() - spec.x0) / spec.dx));
    j = static_cast<int>(std::floor((p.y() - spec.y0) / spec.dx));
    return i >= 0 && j >= 0 && i < spec.nx && j < spec.ny;
}

// Cells whose centre lies inside the ring (scanline over the ring's bounding rows).
template <class F>
void FloodModule::forCellsInPolygon(const std::vector<Vec2>& ring, F&& f) const {
    Box2 b;
    for (auto& p : ring) b.extend(p);
    int j0 = std::max(0, static_cast<int>(std::floor((b.min.y() - spec.y0) / spec.dx - 0.5)));
    int j1 = std::min(spec.ny - 1, static_cast<int>(std::ceil((b.max.y() - spec.y0) / spec.dx - 0.5)));
    std::vector<double> xs;
    for (int j = j0; j <= j1; ++j) {
        double y = spec.y0 + (j + 0.5) * spec.dx;
        xs.clear();
        for (size_t a = 0, n = ring.size(), c = n - 1; a < n; c = a++) {
            const Vec2 &p = ring[a], &q = ring[c];
            if ((p.y() > y) != (q.y() > y)) xs.push_back(p.x() + (y - p.y()) / (q.y() - p.y()) * (q.x() - p.x()));
        }
        std::sort(xs.begin(), xs.end());
        for (size_t k = 0; k + 1 < xs.size(); k += 2) {
            int i0 = std::max(0, static_cast<int>(std::ceil((xs[k] - spec.x0) / spec.dx - 0.5)));
            int i1 = std::min(spec.nx - 1, static_cast<int>(std::floor((xs[k + 1] - spec.x0) / spec.dx - 0.5)));
            for (int i = i0; i <= i1; ++i) f(i, j);
        }
    }
}

// Cells within widthM/2 of the polyline (at least the cells it passes through).
template <class F>
void FloodModule::forCellsOnLine(const std::vector<Vec2>& line, double widthM, F&& f) const {
    double half = std::max(widthM * 0.5, 0.0);
    int reach = static_cast<int>(std::ceil(half / spec.dx));
    std::unordered_set<size_t> marked;
    for (size_t s = 0; s + 1 < line.size(); ++s) {
        Vec2 a = line[s], b = line[s + 1];
        double len = (b - a).norm();
        int steps = std::max(1, static_cast<int>(std::ceil(len / (spec.dx * 0.25))));
        for (int k = 0; k <= steps; ++k) {
            Vec2 p = a + (b - a) * (static_cast<double>(k) / steps);
            int ci, cj;
            cellOf(p, ci, cj);
            for (int dj = -reach; dj <= reach; ++dj)
                for (int di = -reach; di <= reach; ++di) {
                    int i = ci + di, j = cj + dj;
                    if (i < 0 || j < 0 || i >= spec.nx || j >= spec.ny) continue;
                    Vec2 c(spec.x0 + (i + 0.5) * spec.dx, spec.y0 + (j + 0.5) * spec.dx);
                    if ((di != 0 || dj != 0) && (c - p).norm() > half) continue;
                    size_t idx = static_cast<size_t>(j) * spec.nx + i;
                    if (!marked.insert(idx).second) continue;
                    f(i, j);
                }
        }
    }
}

double FloodModule::level(const Yaml& y, const YAML::Node& n, const std::string& use, std::function<void(double)> apply) {
    if (!n.IsMap()) return y.number(n, "level");
    y.checkKeys(n, "level", {"sensor", "offset", "max_age"});
    if (!n["sensor"]) y.fail(n, "a level is a number (m) or {sensor: ID} from the sensor store");
    if (sensorStore.empty())
        y.fail(n, "a level from a sensor needs 'sensor_store' in the flood block",
               "sensor_store: ../out/NAME/feeds/sensors.sqlite (written by `citytwin feeds`)");
    SensorLevel s;
    s.sensor = y.str(n["sensor"], "sensor");
    s.use = use;
    if (n["offset"]) s.offsetM = y.number(n["offset"], "offset");
    if (n["max_age"]) s.maxAgeS = y.duration(n["max_age"], "max_age");
    s.apply = std::move(apply);
    sensorLevels.push_back(std::move(s));
    return NAN; // set by start()
}

void FloodModule::configure(const YAML::Node& block, const std::string& whereIn, const CityModel& cityIn) {
    city = &cityIn;
    where = whereIn;
    Yaml y(where);
    YAML::Node b = block.IsNull() ? YAML::Node(YAML::NodeType::Map) : block;
    y.checkKeys(b, "flood", {"scheme", "second_order", "cell_size", "buildings", "building_raise", "manning_default", "boundary",
                        "rain", "losses", "inflows", "initial_levels", "gauges", "gauge_interval",
                        "snapshot_interval", "cfl", "max_dt", "sensor_store"});
    if (auto st = b["sensor_store"]) {
        sensorStore = y.path(st, "sensor_store", false); // `citytwin feeds` may write it later
        if (!fs::exists(sensorStore))
            y.fail(st, "no sensor store at " + sensorStore.string(),
                   "run `citytwin feeds SCENARIO` first (it writes DIR/feeds/sensors.sqlite)");
    }
    if (city->terrain.empty())
        y.fail(b, "the flood module needs terrain", "set city.terrain to a DEM (GeoTIFF, ASCII grid, XYZ)");
    if (auto s = b["scheme"]) {
        std::string v = s.as<std::string>();
        if (v == "hllc") options.scheme = Scheme::Hllc;
        else if (v == "inertial") options.scheme = Scheme::Inertial;
        else y.fail(s, "unknown flood scheme '" + v + "'", "use hllc (full shallow water) or inertial (fast)");
    }
    if (auto so = b["second_order"]) {
        if (!so.IsScalar() || (so.Scalar() != "true" && so.Scalar() != "false")) y.fail(so, "second_order must be true or false");
        options.secondOrder = so.Scalar() == "true";
        if (options.secondOrder && options.scheme != Scheme::Hllc)
            y.fail(so, "second_order applies to the hllc scheme only");
    }
    cellSize = b["cell_size"] ? y.number(b["cell_size"], "cell_size") : city->terrain.cellSize;
    if (cellSize < city->terrain.cellSize * 0.999 || cellSize > 1000)
        y.fail(b["cell_size"], fmt::format("cell_size must be between the terrain's {} m and 1000 m", city->terrain.cellSize));
    if (auto m = b["buildings"]) {
        buildingMode = m.as<std::string>();
        if (buildingMode != "blocked" && buildingMode != "raised" && buildingMode != "none")
            y.fail(m, "buildings must be blocked, raised or none");
    }
    if (b["building_raise"]) buildingRaiseM = y.number(b["building_raise"], "building_raise");
    if (buildingMode == "raised" && !b["building_raise"]) buildingRaiseM = 0.3;
    manningDefault = b["manning_default"] ? y.number(b["manning_default"], "manning_default") : 0.035;
    buildGrid(); // now, so points outside the grid are reported with their line
    if (b["cfl"]) options.cfl = y.number(b["cfl"], "cfl");
    if (options.cfl <= 0 || options.cfl > 0.5) y.fail(b["cfl"], "cfl must be in (0, 0.5]");
    if (b["max_dt"]) options.maxDtS = y.duration(b["max_dt"], "max_dt");
    if (auto bd = b["boundary"]) {
        // Sets the sides from one boundary value; a level from a sensor is set into them by start().
        auto set = [&](const YAML::Node& n, std::vector<Boundary*> sides, const std::string& use) {
            Boundary out;
            if (n.IsScalar()) {
                std::string v = n.Scalar();
                if (v == "closed") out.kind = BoundaryKind::Closed;
                else if (v == "open") out.kind = BoundaryKind::Open;
                else y.fail(n, "boundary must be closed, open or {level: m}");
            } else if (n.IsMap() && n["level"]) {
                out.kind = BoundaryKind::Level;
                out.levelM = level(y, n["level"], use, [sides](double v) {
                    for (Boundary* side : sides) side->levelM = v;
                });
            } else y.fail(n, "boundary must be closed, open or {level: m}");
            for (Boundary* side : sides) *side = out;
        };
        if (bd.IsMap() && !bd["level"]) {
            y.checkKeys(bd, "boundary", {"default", "west", "east", "south", "north"});
            std::vector<Boundary*> byDefault;
            for (auto [side, name] : {std::pair{&options.west, "west"}, {&options.east, "east"}, {&options.south, "south"},
                                      {&options.north, "north"}}) {
                if (bd[name]) set(bd[name], {side}, std::string("boundary ") + name);
                else byDefault.push_back(side);
            }
            if (bd["default"]) set(bd["default"], byDefault, "boundary default");
            else
                for (Boundary* side : byDefault) *side = Boundary{};
        } else {
            set(bd, {&options.west, &options.east, &options.south, &options.north}, "boundary");
        }
    }
    if (auto r = b["rain"]) {
        y.checkKeys(r, "rain", {"intensity_mm_h", "duration", "hyetograph", "design_storm", "factor", "rasters", "unit", "end"});
        int kinds = (r["intensity_mm_h"] ? 1 : 0) + (r["hyetograph"] ? 1 : 0) + (r["design_storm"] ? 1 : 0) + (r["rasters"] ? 1 : 0);
        if (kinds > 1) y.fail(r, "rain takes one of intensity_mm_h, hyetograph, design_storm or rasters");
        if ((r["unit"] || r["end"]) && !r["rasters"]) y.fail(r, "'unit' and 'end' belong to rain rasters");
        if (auto rs = r["rasters"]) {
            // Radar rain: [{time: 0, file: r0.tif}, ...], each raster a rate (mm/h) per pixel that
            // holds until the next time; the last until `end` (default: one more interval).
            if (!rs.IsSequence() || rs.size() == 0) y.fail(rs, "rain rasters must be a list of {time: t, file: FILE}");
            if (r["unit"] && r["unit"].as<std::string>() != "mm_h")
                y.fail(r["unit"], "rain raster unit must be mm_h (a rate per pixel)",
                       "convert depths per interval to mm/h: depth_mm × 3600 / interval_s (gdal_calc)");
            std::vector<std::vector<float>> fields;
            for (auto e : rs) {
                y.checkKeys(e, "rain raster", {"time", "file"});
                if (!e["time"] || !e["file"]) y.fail(e, "a rain raster needs time and file");
                double t = y.duration(e["time"], "time");
                if (!rainFieldTimes.empty() && t <= rainFieldTimes.back())
                    y.fail(e["time"], "rain raster times must increase", "list the rasters in time order");
                std::vector<float> field = rasterOnGrid(y, e["file"], "rain raster");
                size_t nodata = 0;
                for (float& v : field) {
                    if (std::isnan(v)) {
                        v = 0; // no radar value: no rain
                        ++nodata;
                        continue;
                    }
                    if (v < 0) y.fail(e["file"], fmt::format("rain raster {} has a negative rate ({} mm/h)", e["file"].as<std::string>(), v));
                    v = static_cast<float>(v * kMmPerHour);
                }
                if (nodata)
                    spdlog::warn("flood: rain raster {}: {:.1f} % of the grid's cells are nodata, taken as no rain",
                                 e["file"].as<std::string>(), 100.0 * nodata / field.size());
                rainFieldTimes.push_back(t);
                fields.push_back(std::move(field));
            }
            rainFields = std::make_shared<const std::vector<std::vector<float>>>(std::move(fields));
            double end;
            if (r["end"]) end = y.duration(r["end"], "end");
            else if (rainFieldTimes.size() >= 2) end = 2 * rainFieldTimes.back() - rainFieldTimes[rainFieldTimes.size() - 2];
            else y.fail(rs, "a single rain raster needs 'end' (when its rain stops)", "rain: {rasters: [...], end: 1h}");
            if (end <= rainFieldTimes.back()) y.fail(r["end"], "rain 'end' must come after the last raster's time");
            rainBreaks = rainFieldTimes;
            rainBreaks.push_back(end);
            rain = [end](double t) { return t < end ? 1.0 : 0.0; }; // multiplies the fields
        } else if (r["intensity_mm_h"]) {
            double mmh = y.number(r["intensity_mm_h"], "intensity_mm_h");
            if (mmh < 0) y.fail(r["intensity_mm_h"], "rain intensity must not be negative");
            double dur = r["duration"] ? y.duration(r["duration"], "duration") : std::numeric_limits<double>::infinity();
            rain = [mmh, dur](double t) { return t < dur ? mmh * kMmPerHour : 0.0; };
            if (std::isfinite(dur)) rainBreaks = {dur};
        } else if (r["hyetograph"]) {
            auto ts = std::make_shared<std::vector<double>>(), vs = std::make_shared<std::vector<double>>();
            y.series(r["hyetograph"], "hyetograph", *ts, *vs);
            for (double v : *vs)
                if (v < 0) y.fail(r["hyetograph"], "rain intensity must not be negative");
            rainBreaks = *ts;
            // Stepwise: the intensity given at t_k holds until t_{k+1}.
            rain = [ts, vs](double t) {
                auto it = std::upper_bound(ts->begin(), ts->end(), t);
                if (it == ts->begin()) return 0.0;
                return (*vs)[static_cast<size_t>(it - ts->begin() - 1)] * kMmPerHour;
            };
        } else if (auto ds = r["design_storm"]) {
            y.checkKeys(ds, "design_storm", {"type", "duration", "interval", "depth_mm", "depths_mm"});
            std::string type = ds["type"] ? ds["type"].as<std::string>() : "euler2";
            double dur = y.duration(ds["duration"], "duration");
            Hyetograph hy;
            if (type == "block") {
                hy = blockRain(dur, y.number(ds["depth_mm"], "depth_mm") / 1000);
            } else if (type == "euler2") {
                double interval = ds["interval"] ? y.duration(ds["interval"], "interval") : 300;
                std::map<double, double> table;
                if (!ds["depths_mm"] || !ds["depths_mm"].IsMap())
                    y.fail(ds, "euler2 needs depths_mm: {duration: depth} from a depth-duration table (KOSTRA)");
                for (auto it = ds["depths_mm"].begin(); it != ds["depths_mm"].end(); ++it)
                    table[y.duration(it->first, "depths_mm")] = y.number(it->second, "depths_mm") / 1000;
                try {
                    hy = eulerTypeII(table, dur, interval);
                } catch (const InputError& e) {
                    y.fail(ds, e.problem(), e.hint());
                }
            } else y.fail(ds["type"], "design storm type must be euler2 or block");
            for (size_t k = 1; k <= hy.intensityMps.size(); ++k) rainBreaks.push_back(k * hy.intervalS);
            auto hp = std::make_shared<Hyetograph>(hy);
            rain = [hp](double t) { return hp->at(t); };
        }
        // A multiplier on whichever rain is given: a climate-change allowance (e.g. 1.2), or
        // the rain-intensity axis of a sweep.
        if (r["factor"]) {
            double f = y.number(r["factor"], "factor");
            if (f < 0) y.fail(r["factor"], "rain factor must not be negative");
            if (rain) rain = [f, inner = rain](double t) { return f * inner(t); };
        }
    }
    if (auto l = b["losses"]) {
        y.checkKeys(l, "losses", {"drainage_mm_h", "drainage_by_landuse", "infiltration_mm_h", "green_ampt", "scs_cn"});
        if (auto ga = l["green_ampt"]) {
            y.checkKeys(ga, "green_ampt", {"soil", "initial_saturation"});
            std::string soil = ga["soil"] ? ga["soil"].as<std::string>() : "loam";
            const SoilClass* found = nullptr;
            for (const auto& sc : soilClasses())
                if (soil == sc.name) found = &sc;
            if (!found) y.fail(ga["soil"], "unknown soil '" + soil + "'", "use sand, loamy_sand, sandy_loam, loam, silt_loam, sandy_clay_loam, clay_loam, silty_clay_loam, sandy_clay, silty_clay or clay");
            double se = ga["initial_saturation"] ? y.number(ga["initial_saturation"], "initial_saturation") : 0.3;
            if (se < 0 || se >= 1) y.fail(ga["initial_saturation"], "initial_saturation must be in [0, 1)");
            greenAmpt = *found;
            greenAmptDeficit = (1 - se) * found->effectivePorosity;
        }
        if (l["drainage_mm_h"]) drainageMmH = y.number(l["drainage_mm_h"], "drainage_mm_h");
        if (l["infiltration_mm_h"]) infiltrationMmH = y.number(l["infiltration_mm_h"], "infiltration_mm_h");
        if (drainageMmH < 0 || infiltrationMmH < 0) y.fail(l, "loss rates must not be negative");
        if (auto cn = l["scs_cn"]) {
            // SCS Curve Number (TR-55) on the unsealed share: {default: 75, by_landuse: {park: 61}, ia_ratio: 0.2}.
            if (!cn.IsMap()) y.fail(cn, "scs_cn must be a map", "e.g. {default: 75, by_landuse: {park: 61}, ia_ratio: 0.2}");
            y.checkKeys(cn, "scs_cn", {"default", "by_landuse", "ia_ratio"});
            if (l["green_ampt"] || l["infiltration_mm_h"])
                y.fail(cn, std::string("scs_cn and ") + (l["green_ampt"] ? "green_ampt" : "infiltration_mm_h") +
                               " both act on the unsealed share",
                       "give one infiltration model: scs_cn, green_ampt or infiltration_mm_h");
            auto curveNumber = [&](const YAML::Node& n, const std::string& key) {
                double v = y.number(n, key);
                if (!(v > 0 && v <= 100)) y.fail(n, fmt::format("curve number {} in {} must be in (0, 100]", v, key));
                return v;
            };
            if (!cn["default"]) y.fail(cn, "scs_cn needs 'default' (the curve number of cells whose class is not listed)");
            scsDefaultCn = curveNumber(cn["default"], "scs_cn.default");
            if (auto bl = cn["by_landuse"]) {
                if (!bl.IsMap()) y.fail(bl, "scs_cn.by_landuse must be a map {class: CN}", "e.g. {park: 61, forest: 55}");
                scsCnByClass.assign(landUseTable().size(), NAN);
                for (auto it = bl.begin(); it != bl.end(); ++it)
                    scsCnByClass[landUseIndex(y, it->first, "scs_cn.by_landuse")] = curveNumber(it->second, "scs_cn.by_landuse");
            }
            if (cn["ia_ratio"]) {
                scsIaRatio = y.number(cn["ia_ratio"], "ia_ratio");
                if (scsIaRatio < 0 || scsIaRatio > 1) y.fail(cn["ia_ratio"], "ia_ratio must be in [0, 1]", "TR-55 uses 0.2, newer work 0.05");
            }
        }
        if (auto dl = l["drainage_by_landuse"]) {
            // Sewer capacity by land-use class: {residential: 15, industrial: 30, ...}.
            if (!dl.IsMap()) y.fail(dl, "drainage_by_landuse must be a map {class: mm_h}", "e.g. {residential: 15, industrial: 30}");
            drainageByClass.assign(landUseTable().size(), NAN);
            for (auto it = dl.begin(); it != dl.end(); ++it) {
                size_t k = landUseIndex(y, it->first, "drainage_by_landuse");
                double v = y.number(it->second, "drainage_by_landuse");
                if (v < 0) y.fail(it->second, "drainage rate must not be negative");
                drainageByClass[k] = v;
            }
        }
    }
    const Vec2 origin = city->frame.origin;
    if (auto ins = b["inflows"]) {
        for (auto in : ins) {
            y.checkKeys(in, "inflow", {"name", "at", "line", "hydrograph"});
            inflowSpecs.push_back(readInflow(y, in, fmt::format("inflow{}", inflowSpecs.size() + 1)));
        }
    }
    if (auto il = b["initial_levels"]) {
        for (auto e : il) {
            y.checkKeys(e, "initial level", {"polygon", "level", "raster"});
            if (e["raster"]) {
                // Water surface elevation per pixel (m a.s.l.); nodata: no water there.
                if (e["polygon"] || e["level"]) y.fail(e, "an initial level is {raster: FILE} or {polygon: ..., level: ...}, not both");
                initialLevelRasters.push_back(rasterOnGrid(y, e["raster"], "initial_levels raster"));
                continue;
            }
            auto ring = y.points(e["polygon"], "polygon", 3);
            for (auto& p : ring) p -= origin;
            const size_t k = initialLevels.size();
            initialLevels.emplace_back(ring, level(y, e["level"], fmt::format("initial_levels[{}]", k),
                                                   [this, k](double v) { initialLevels[k].second = v; }));
        }
    }
    if (auto gs = b["gauges"]) {
        for (auto g : gs) {
            y.checkKeys(g, "gauge", {"name", "at"});
            Gauge gauge;
            gauge.name = g["name"] ? g["name"].as<std::string>() : fmt::format("G{}", gauges.size() + 1);
            gauge.world = y.point(g["at"], "at");
            gauges.push_back(gauge);
        }
    }
    if (b["gauge_interval"]) gaugeIntervalS = y.duration(b["gauge_interval"], "gauge_interval");
    if (b["snapshot_interval"]) snapshotIntervalS = y.duration(b["snapshot_interval"], "snapshot_interval");
    for (auto& g : gauges)
        if (!cellOf(g.world - origin, g.i, g.j))
            throw InputError(fmt::format("gauge '{}' at ({:.1f}, {:.1f}) lies outside the flood grid", g.name,
                                         g.world.x(), g.world.y()),
                             where, "use coordinates in the city's CRS inside the terrain");
}

std::vector<float> FloodModule::rasterOnGrid(const Yaml& y, const YAML::Node& n, const std::string& key) const {
    const fs::path file = y.path(n, key);
    gis::RasterGrid g;
    try {
        g = gis::readRaster({file}, &city->frame.crs, city->frame.crs);
    } catch (const InputError& e) {
        y.fail(n, key + " " + file.string() + ": " + e.problem(), e.hint());
    }
    const Vec2 o = city->frame.origin;
    std::vector<float> out(static_cast<size_t>(spec.nx) * spec.ny, NAN);
    size_t outside = 0;
    for (int j = 0; j < spec.ny; ++j)
        for (int i = 0; i < spec.nx; ++i) {
            const double x = spec.x0 + (i + 0.5) * spec.dx + o.x(), yw = spec.y0 + (j + 0.5) * spec.dx + o.y();
            const double col = std::floor((x - g.originX) / g.cellX), row = std::floor((g.originY - yw) / g.cellY);
            if (col < 0 || row < 0 || col >= g.width || row >= g.height) {
                ++outside;
                continue;
            }
            out[static_cast<size_t>(j) * spec.nx + i] = g.at(static_cast<int>(col), static_cast<int>(row));
        }
    if (outside)
        y.fail(n, fmt::format("{} {} does not cover the flood grid: {:.1f} % of its cells ({} of {}) lie outside the raster",
                              key, file.string(), 100.0 * outside / out.size(), outside, out.size()),
               fmt::format("the grid spans E {:.1f}–{:.1f}, N {:.1f}–{:.1f}; extend the raster (nodata where it has no value), "
                           "e.g. gdalwarp -te",
                           spec.x0 + o.x(), spec.x0 + spec.nx * spec.dx + o.x(), spec.y0 + o.y(), spec.y0 + spec.ny * spec.dx + o.y()));
    return out;
}

// {name, at: [x, y] | line: [[x, y], ...], hydrograph}, checked against the grid.
FloodModule::InflowSpec FloodModule::readInflow(const Yaml& y, const YAML::Node& in, const std::string& defaultName) const {
    InflowSpec s;
    s.name = in["name"] ? in["name"].as<std::string>() : defaultName;
    const Vec2 origin = city->frame.origin;
    if (in["line"]) {
        s.line = y.points(in["line"], "line", 2);
        for (auto& p : s.line) p -= origin;
    } else if (in["at"]) {
        s.local = y.point(in["at"], "at") - origin;
    } else {
        y.fail(in, "inflow '" + s.name + "' needs 'at: [x, y]' or 'line: [[x, y], ...]'");
    }
    y.series(in["hydrograph"], "hydrograph", s.ts, s.qs);
    bool inside = true;
    int i, j;
    if (s.line.empty()) inside = cellOf(s.local, i, j);
    else
        for (const auto& p : s.line) inside = inside && cellOf(p, i, j);
    if (!inside)
        y.fail(in, "inflow '" + s.name + "' lies outside the flood grid",
               "use coordinates in the city's CRS inside the terrain");
    return s;
}

void FloodModule::buildGrid() {
    const Terrain& ter = city->terrain;
    spec.dx = cellSize;
    spec.nx = std::max(1, static_cast<int>(std::floor(ter.width * ter.cellSize / cellSize + 1e-9)));
    spec.ny = std::max(1, static_cast<int>(std::floor(ter.height * ter.cellSize / cellSize + 1e-9)));
    spec.x0 = ter.originX;
    spec.y0 = ter.originY - spec.ny * cellSize;
    spec.worldX = city->frame.origin.x();
    spec.worldY = city->frame.origin.y();
    const size_t cells = static_cast<size_t>(spec.nx) * spec.ny;
    bedInitial.assign(cells, 0.0f);
    // Bed: the DEM itself at its own resolution, else the mean of the DEM under each cell.
    const int sub = std::max(1, static_cast<int>(std::ceil(cellSize / ter.cellSize - 1e-9)));
    for (int j = 0; j < spec.ny; ++j)
        for (int i = 0; i < spec.nx; ++i) {
            size_t c = static_cast<size_t>(j) * spec.nx + i;
            if (sub == 1 && std::abs(cellSize - ter.cellSize) < 1e-9) {
                bedInitial[c] = ter.at(i, ter.height - 1 - j);
                continue;
            }
            double sum = 0;
            int count = 0;
            for (int b = 0; b < sub; ++b)
                for (int a = 0; a < sub; ++a) {
                    Vec2 p(spec.x0 + (i + (a + 0.5) / sub) * cellSize, spec.y0 + (j + (b + 0.5) / sub) * cellSize);
                    float hgt = ter.heightAt(p);
                    if (std::isfinite(hgt)) {
                        sum += hgt;
                        ++count;
                    }
                }
            bedInitial[c] = count ? static_cast<float>(sum / count) : NAN;
        }
    manning.assign(cells, static_cast<float>(manningDefault));
    sealed.assign(cells, 0.3f);
    landUseOfCell.assign(cells, -1);
    const auto& table = landUseTable();
    auto classIndex = [&](const std::string& name) {
        for (size_t k = 0; k < table.size(); ++k)
            if (name == table[k].name) return static_cast<int16_t>(k);
        return static_cast<int16_t>(table.size() - 1); // "other"
    };
    const LandUse& lu = city->landuse;
    for (size_t k = 0; k < lu.size(); ++k) {
        std::vector<Vec2> ring(lu.areas.ring(k, 0).begin(), lu.areas.ring(k, 0).end());
        const int16_t cls = classIndex(lu.className[k]);
        forCellsInPolygon(ring, [&](int i, int j) {
            size_t c = static_cast<size_t>(j) * spec.nx + i;
            manning[c] = lu.manningN[k];
            sealed[c] = lu.imperviousness[k];
            landUseOfCell[c] = cls;
        });
    }
    const int16_t roadClass = classIndex("road");
    // Roads: asphalt, n = 0.02, sealed; width from the lanes (3.25 m each).
    const RoadNetwork& roads = city->roads;
    for (uint32_t e = 0; e < roads.edgeCount(); ++e) {
        if (roads.roadClass[e] == RoadClass::Footway || roads.roadClass[e] == RoadClass::Path ||
            roads.roadClass[e] == RoadClass::Track || roads.roadClass[e] == RoadClass::Steps)
            continue;
        auto shape = roads.shape(EdgeId(e));
        std::vector<Vec2> line(shape.begin(), shape.end());
        forCellsOnLine(line, roads.lanes[e] * 3.25 * (roads.reverse[e].valid() ? 2 : 1), [&](int i, int j) {
            size_t c = static_cast<size_t>(j) * spec.nx + i;
            manning[c] = 0.02f;
            sealed[c] = 1.0f;
            landUseOfCell[c] = roadClass;
        });
    }
    buildingOfCell.assign(cells, -1);
    const Buildings& bl = city->buildings;
    for (size_t k = 0; k < bl.size(); ++k)
        for (uint32_t p = bl.partStart[k]; p < bl.partStart[k + 1]; ++p) {
            std::vector<Vec2> ring(bl.footprints.ring(p, 0).begin(), bl.footprints.ring(p, 0).end());
            forCellsInPolygon(ring, [&](int i, int j) {
                Vec2 centre(spec.x0 + (i + 0.5) * spec.dx, spec.y0 + (j + 0.5) * spec.dx);
                for (size_t hole = 1; hole < bl.footprints.ringCount(p); ++hole)
                    if (pointInRing(centre, bl.footprints.ring(p, hole))) return; // courtyard
                buildingOfCell[static_cast<size_t>(j) * spec.nx + i] = static_cast<int32_t>(k);
            });
        }
}

void FloodModule::applyEdit(const Edit& edit) {
    Yaml y(edit.where);
    const YAML::Node& e = edit.spec;
    const Vec2 origin = city->frame.origin;
    auto local = [&](std::vector<Vec2> pts) {
        for (auto& p : pts) p -= origin;
        return pts;
    };
    if (edit.type == "barrier") {
        y.checkKeys(e, "barrier", {"type", "name", "line", "height", "width"});
        Barrier b{local(y.points(e["line"], "line", 2)), y.number(e["height"], "height"),
                  e["width"] ? y.number(e["width"], "width") : 0.0};
        if (b.heightM <= 0 || b.heightM > 50) y.fail(e["height"], "barrier height must be in (0, 50] m");
        barriers.push_back(b);
    } else if (edit.type == "breach") {
        y.checkKeys(e, "breach", {"type", "name", "line", "at", "width"});
        Breach b;
        b.line = local(y.points(e["line"], "line", 2));
        b.atS = e["at"] ? y.duration(e["at"], "at") : 0.0;
        b.widthM = e["width"] ? y.number(e["width"], "width") : 0.0;
        breaches.push_back(b);
    } else if (edit.type == "lower") {
        y.checkKeys(e, "lower", {"type", "name", "polygon", "depth"});
        double d = y.number(e["depth"], "depth");
        if (d <= 0 || d > 50) y.fail(e["depth"], "lower depth must be in (0, 50] m");
        lowers.emplace_back(local(y.points(e["polygon"], "polygon", 3)), d);
    } else if (edit.type == "unseal") {
        y.checkKeys(e, "unseal", {"type", "name", "polygon"});
        unseals.push_back(local(y.points(e["polygon"], "polygon", 3)));
    } else if (edit.type == "drainage") {
        y.checkKeys(e, "drainage", {"type", "name", "polygon", "mm_h"});
        double r = y.number(e["mm_h"], "mm_h");
        if (r < 0) y.fail(e["mm_h"], "drainage rate must not be negative");
        drainageEdits.emplace_back(local(y.points(e["polygon"], "polygon", 3)), r);
    } else if (edit.type == "inflow") {
        y.checkKeys(e, "inflow", {"type", "name", "at", "line", "hydrograph"});
        inflowSpecs.push_back(readInflow(y, e, "edit inflow"));
    }
    if (solver) applyToRunningSolver(edit.type);
}

// A point inflow goes into its cell; a line inflow is shared by the open cells across the channel.
void FloodModule::addInflow(const InflowSpec& sp) {
    auto index = [&](int i, int j) { return static_cast<size_t>(j) * spec.nx + i; };
    std::vector<std::pair<int, int>> cells;
    if (sp.line.empty()) {
        int i, j;
        cellOf(sp.local, i, j);
        cells.emplace_back(i, j);
    } else {
        forCellsOnLine(sp.line, 0.0, [&](int i, int j) {
            if (!solver->blocked()[index(i, j)]) cells.emplace_back(i, j);
        });
    }
    for (auto [i, j] : cells) {
        PointInflow p{sp.name, i, j, sp.ts, sp.qs};
        for (double& q : p.flowM3s) q /= static_cast<double>(cells.size());
        solver->addInflow(p);
    }
}

float FloodModule::lossRateAt(size_t c) const {
    return static_cast<float>((drainageNow[c] * sealedNow[c] + infiltrationMmH * (1 - sealedNow[c])) * kMmPerHour);
}

// An edit made while the simulation runs (step-wise control: viewer, Python coupling) changes
// the running solver from now on, as start() would have from the beginning: the ground under
// a barrier rises (water standing there stays on top: no volume is made or lost), a basin is
// dug, losses change, an inflow or a breach is added. The edit was just appended to its list.
void FloodModule::applyToRunningSolver(const std::string& type) {
    auto index = [&](int i, int j) { return static_cast<size_t>(j) * spec.nx + i; };
    auto& bed = solver->bedM();
    auto& loss = solver->lossRateMps();
    if (type == "barrier") {
        const Barrier& b = barriers.back();
        std::vector<float> before = bed;
        forCellsOnLine(b.line, b.widthM, [&](int i, int j) {
            size_t c = index(i, j);
            bed[c] = std::max(bed[c], before[c] + static_cast<float>(b.heightM));
        });
    } else if (type == "lower") {
        auto& [ring, depth] = lowers.back();
        forCellsInPolygon(ring, [&](int i, int j) { bed[index(i, j)] -= static_cast<float>(depth); });
    } else if (type == "unseal") {
        forCellsInPolygon(unseals.back(), [&](int i, int j) {
            size_t c = index(i, j);
            sealedNow[c] = 0;
            loss[c] = lossRateAt(c);
            if (!solver->scsShare().empty()) solver->scsShare()[c] = 1;
        });
    } else if (type == "drainage") {
        auto& [ring, rate] = drainageEdits.back();
        forCellsInPolygon(ring, [&](int i, int j) {
            size_t c = index(i, j);
            drainageNow[c] = static_cast<float>(rate);
            loss[c] = lossRateAt(c);
        });
    } else if (type == "breach") {
        Breach& br = breaches.back();
        br.atS = std::max(br.atS, solver->time());
        forCellsOnLine(br.line, br.widthM, [&](int i, int j) {
            br.cells.push_back(index(i, j));
            br.bedBefore.push_back(bedInitial[index(i, j)]); // back to the ground without barriers
        });
    } else if (type == "inflow") {
        addInflow(inflowSpecs.back());
    }
}

void FloodModule::start(const RunContext& ctx) {
    if (!sensorLevels.empty()) {
        // What the sensors say at the scenario start, read now: a store fed while the scenario
        // was being set up counts.
        feeds::SensorStore store(sensorStore);
        const double t0 = double(ctx.scenario.start.utcSeconds);
        for (SensorLevel& s : sensorLevels) {
            feeds::TimeValue v = feeds::valueAt(store, s.sensor, t0, s.maxAgeS);
            s.time = v.time;
            s.value = v.value + s.offsetM;
            s.apply(s.value);
            spdlog::info("flood: {} = {:.3f} m from sensor {} at {} ({:.0f} min before the start)", s.use, s.value,
                         s.sensor, feeds::isoTime(v.time), (t0 - v.time) / 60);
        }
    }
    solver = std::make_unique<FloodSolver>(spec, options);
    std::vector<float> bed = bedInitial;
    sealedNow = sealed;
    drainageNow.assign(bed.size(), static_cast<float>(drainageMmH));
    if (!drainageByClass.empty())
        for (size_t c = 0; c < bed.size(); ++c) {
            int16_t k = landUseOfCell[c];
            if (k >= 0 && !std::isnan(drainageByClass[static_cast<size_t>(k)]))
                drainageNow[c] = static_cast<float>(drainageByClass[static_cast<size_t>(k)]);
        }
    std::vector<float>& drainage = drainageNow;
    auto index = [&](int i, int j) { return static_cast<size_t>(j) * spec.nx + i; };
    for (auto& [ring, depth] : lowers) forCellsInPolygon(ring, [&](int i, int j) { bed[index(i, j)] -= static_cast<float>(depth); });
    for (auto& ring : unseals) forCellsInPolygon(ring, [&](int i, int j) { sealedNow[index(i, j)] = 0; });
    for (auto& [ring, rate] : drainageEdits)
        forCellsInPolygon(ring, [&](int i, int j) { drainage[index(i, j)] = static_cast<float>(rate); });
    std::vector<float> beforeBarriers = bed;
    for (auto& b : barriers) {
        // The crest follows the ground along the line: the highest ground under it plus height.
        forCellsOnLine(b.line, b.widthM, [&](int i, int j) {
            size_t c = index(i, j);
            bed[c] = std::max(bed[c], beforeBarriers[c] + static_cast<float>(b.heightM));
        });
    }
    for (auto& br : breaches) {
        br.cells.clear();
        br.bedBefore.clear();
        br.done = false;
        forCellsOnLine(br.line, br.widthM, [&](int i, int j) {
            br.cells.push_back(index(i, j));
            br.bedBefore.push_back(beforeBarriers[index(i, j)]);
        });
    }
    solver->bedM() = bed;
    solver->manningN() = manning;
    auto& wall = solver->blocked();
    for (size_t c = 0; c < bed.size(); ++c) {
        int32_t k = buildingOfCell[c];
        if (k < 0) continue;
        if (buildingMode == "blocked") wall[c] = 1;
        else if (buildingMode == "raised")
            solver->bedM()[c] += static_cast<float>(buildingRaiseM > 0 ? buildingRaiseM : city->buildings.heightM[static_cast<size_t>(k)]);
    }
    auto& loss = solver->lossRateMps();
    for (size_t c = 0; c < loss.size(); ++c) loss[c] = lossRateAt(c);
    auto& h = solver->depthM();
    for (auto& [ring, level] : initialLevels)
        forCellsInPolygon(ring, [&](int i, int j) {
            size_t c = index(i, j);
            if (!wall[c]) h[c] = std::max(h[c], static_cast<float>(level) - solver->bedM()[c]);
        });
    for (const auto& levels : initialLevelRasters)
        for (size_t c = 0; c < h.size(); ++c)
            if (!wall[c] && std::isfinite(levels[c])) h[c] = std::max(h[c], levels[c] - solver->bedM()[c]);
    if (greenAmpt) {
        // Infiltration on the unsealed share of each cell.
        std::vector<float> ks(loss.size()), psiDt(loss.size(), static_cast<float>(greenAmpt->suctionM * greenAmptDeficit));
        for (size_t c = 0; c < ks.size(); ++c)
            ks[c] = static_cast<float>(greenAmpt->ksMmH * kMmPerHour * (1 - sealedNow[c]));
        solver->setGreenAmpt(std::move(ks), std::move(psiDt));
    }
    if (!std::isnan(scsDefaultCn)) {
        // Curve Number losses on the unsealed share, CN by the cell's land-use class.
        std::vector<float> retention(loss.size()), share(loss.size());
        for (size_t c = 0; c < loss.size(); ++c) {
            int16_t k = landUseOfCell[c];
            double cn = scsDefaultCn;
            if (k >= 0 && !scsCnByClass.empty() && !std::isnan(scsCnByClass[static_cast<size_t>(k)]))
                cn = scsCnByClass[static_cast<size_t>(k)];
            retention[c] = static_cast<float>(scsRetentionM(cn));
            share[c] = 1 - sealedNow[c];
        }
        solver->setScsCurveNumber(std::move(retention), std::move(share), scsIaRatio);
    }
    if (rain) solver->setRain(rain, rainBreaks);
    if (rainFields) solver->setRainFields(rainFieldTimes, rainFields);
    for (auto& s : inflowSpecs) addInflow(s);
    for (auto& g : gauges) g.maxDepth = 0;
    gaugeRows.clear();
    balanceRows.clear();
    snapshots.clear();
    nextGaugeS = 0;
    nextSnapshotS = snapshotIntervalS > 0 ? 0 : std::numeric_limits<double>::infinity(); // the start, too: replays begin there
    solver->initialize();
    record();
}

void FloodModule::record() {
    const FloodSolver& s = *solver;
    const double t = s.time();
    if (t + 1e-9 >= nextGaugeS) {
        GaugeRow row{t, {}, {}, {}};
        for (auto& g : gauges) {
            size_t c = s.index(g.i, g.j);
            float d = s.depthM()[c];
            row.depth.push_back(d);
            row.speed.push_back(static_cast<float>(s.velocity(c)));
            row.level.push_back(d + solver->bedM()[c]);
        }
        gaugeRows.push_back(std::move(row));
        balanceRows.push_back({t, s.massBalance(), s.lastDt(), s.wetCells(0.01)});
        nextGaugeS += gaugeIntervalS;
    }
    for (auto& g : gauges) g.maxDepth = std::max<double>(g.maxDepth, s.depthM()[s.index(g.i, g.j)]);
    if (t + 1e-9 >= nextSnapshotS) {
        snapshots.emplace_back(t, s.depthM());
        nextSnapshotS += snapshotIntervalS;
    }
}

void FloodModule::advance(double timeS) {
    while (solver->time() < timeS - 1e-9) {
        // Stop at breach times and recording times so they happen exactly then.
        double until = std::min({timeS, nextGaugeS, nextSnapshotS});
        for (auto& br : breaches)
            if (!br.done) until = std::min(until, std::max(br.atS, solver->time()));
        for (auto& br : breaches)
            if (!br.done && solver->time() + 1e-9 >= br.atS) {
                for (size_t k = 0; k < br.cells.size(); ++k) solver->bedM()[br.cells[k]] = br.bedBefore[k];
                br.done = true;
            }
        if (until > solver->time() + 1e-9)
            solver->advanceTo(until, [&](const FloodSolver&) {
                for (auto& g : gauges) g.maxDepth = std::max<double>(g.maxDepth, solver->depthM()[solver->index(g.i, g.j)]);
            });
        record();
    }
}

std::string FloodModule::status() const {
    if (!solver) return {};
    return fmt::format("dt={:.3f} s wet={} mass err={:.1e}", solver->lastDt(), solver->wetCells(0.01),
                       solver->massBalance().relativeError());
}

std::shared_ptr<const Snapshot> FloodModule::snapshot() const {
    auto s = std::make_shared<FloodSnapshot>();
    if (!solver) return s;
    s->simTimeS = solver->time();
    s->grid = spec;
    s->depthM = solver->depthM();
    return s;
}

void FloodModule::writeGrid(const fs::path& file, const std::vector<float>& values) const {
    // Solver rows run south to north; GeoTIFF rows north to south. Walls become nodata.
    std::vector<float> out(values.size());
    for (int j = 0; j < spec.ny; ++j)
        for (int i = 0; i < spec.nx; ++i) {
            size_t c = static_cast<size_t>(j) * spec.nx + i;
            bool wall = solver->blocked()[c];
            out[static_cast<size_t>(spec.ny - 1 - j) * spec.nx + i] = wall ? NAN : values[c];
        }
    const Vec2 o = city->frame.origin;
    gis::writeGeoTiff(file, out, spec.nx, spec.ny, spec.x0 + o.x(), spec.y0 + spec.ny * spec.dx + o.y(), spec.dx,
                      spec.dx, city->frame.crs);
}

// Max depth next to each building: the wet cells around its footprint (8-neighbourhood of its
// cells), or for buildings smaller than a cell the cells around its centroid.
static std::vector<float> depthAroundBuildings(const CityModel& city, const GridSpec& g,
                                               const std::vector<int32_t>& buildingOfCell,
                                               const std::vector<float>& maxDepth) {
    std::vector<float> out(city.buildings.size(), 0.0f);
    std::vector<uint8_t> hasCells(out.size(), 0);
    for (int j = 0; j < g.ny; ++j)
        for (int i = 0; i < g.nx; ++i) {
            int32_t k = buildingOfCell[static_cast<size_t>(j) * g.nx + i];
            if (k < 0) continue;
            hasCells[static_cast<size_t>(k)] = 1;
            for (int dj = -1; dj <= 1; ++dj)
                for (int di = -1; di <= 1; ++di) {
                    int a = i + di, b = j + dj;
                    if (a < 0 || b < 0 || a >= g.nx || b >= g.ny) continue;
                    size_t c = static_cast<size_t>(b) * g.nx + a;
                    if (buildingOfCell[c] == k) continue;
                    out[static_cast<size_t>(k)] = std::max(out[static_cast<size_t>(k)], maxDepth[c]);
                }
        }
    for (size_t k = 0; k < out.size(); ++k) {
        if (hasCells[k]) continue;
        Vec2 p = city.buildings.centroid(k);
        int ci = static_cast<int>(std::floor((p.x() - g.x0) / g.dx)), cj = static_cast<int>(std::floor((p.y() - g.y0) / g.dx));
        for (int dj = -1; dj <= 1; ++dj)
            for (int di = -1; di <= 1; ++di) {
                int a = ci + di, b = cj + dj;
                if (a < 0 || b < 0 || a >= g.nx || b >= g.ny) continue;
                out[k] = std::max(out[k], maxDepth[static_cast<size_t>(b) * g.nx + a]);
            }
    }
    return out;
}

static const char* depthClass(float d) {
    return d >= 0.5f ? ">=0.5 m" : d >= 0.3f ? "0.3-0.5 m" : d >= 0.1f ? "0.1-0.3 m" : "<0.1 m";
}

void FloodModule::writeOutputs(const fs::path& dir) {
    writeGrid(dir / "max_depth.tif", solver->maxDepth());
    writeGrid(dir / "max_velocity.tif", solver->maxSpeed());
    writeGrid(dir / "max_hazard.tif", solver->maxHazard());
    writeGrid(dir / "arrival_time.tif", solver->arrivalTimeS());
    for (auto& [t, depth] : snapshots) writeGrid(dir / fmt::format("depth_{:06.0f}s.tif", t), depth);

    if (!sensorLevels.empty()) {
        // Which sensor values the run started from.
        gis::CsvWriter csv(dir / "sensor_inputs.csv", {"use", "sensor", "time", "value_m"});
        for (const SensorLevel& s : sensorLevels) {
            csv << s.use << s.sensor << feeds::isoTime(s.time) << s.value;
            csv.endRow();
        }
    }

    std::vector<std::string> header = {"time_s"};
    for (auto& g : gauges)
        for (const char* q : {"depth_m", "speed_m_s", "level_m"}) header.push_back(g.name + "_" + q);
    gis::CsvWriter gcsv(dir / "gauges.csv", header);
    for (auto& row : gaugeRows) {
        gcsv << row.t;
        for (size_t k = 0; k < gauges.size(); ++k)
            gcsv << static_cast<double>(row.depth[k]) << static_cast<double>(row.speed[k]) << static_cast<double>(row.level[k]);
        gcsv.endRow();
    }
    gis::CsvWriter mcsv(dir / "mass_balance.csv", {"time_s", "dt_s", "wet_cells", "rain_m3", "inflow_m3", "loss_m3",
                                                    "outflow_m3", "storage_m3", "error_m3", "relative_error"});
    for (auto& r : balanceRows) {
        mcsv << r.t << r.dt << static_cast<int64_t>(r.wet) << r.b.rainM3 << r.b.inflowM3 << r.b.lossM3 << r.b.outflowM3
             << r.b.storageM3 << r.b.error() << r.b.relativeError();
        mcsv.endRow();
    }

    auto around = depthAroundBuildings(*city, spec, buildingOfCell, solver->maxDepth());
    const Buildings& bl = city->buildings;
    gis::GpkgWriter w(dir / "buildings_affected.gpkg", "buildings_affected", gis::GpkgWriter::Geometry::Polygon,
                      city->frame.crs,
                      {{"source_id", gis::FieldType::String}, {"max_depth_m", gis::FieldType::Real},
                       {"depth_class", gis::FieldType::String}, {"use", gis::FieldType::String}});
    const Vec2 o = city->frame.origin;
    for (size_t k = 0; k < bl.size(); ++k)
        for (uint32_t p = bl.partStart[k]; p < bl.partStart[k + 1]; ++p) {
            std::vector<std::vector<Vec2>> rings;
            for (size_t r = 0; r < bl.footprints.ringCount(p); ++r) {
                rings.emplace_back();
                for (const Vec2& q : bl.footprints.ring(p, r)) rings.back().push_back(q + o);
            }
            w.addPolygon(rings, {bl.sourceId[k], static_cast<double>(around[k]), std::string(depthClass(around[k])),
                                 std::string(toString(bl.use[k]))});
        }
}

Kpis FloodModule::kpis() const {
    const auto& maxDepth = solver->maxDepth();
    double area = spec.dx * spec.dx, flooded = 0, deepest = 0;
    for (size_t c = 0; c < maxDepth.size(); ++c) {
        if (solver->blocked()[c]) continue;
        if (maxDepth[c] >= 0.1f) flooded += area;
        deepest = std::max<double>(deepest, maxDepth[c]);
    }
    auto around = depthAroundBuildings(*city, spec, buildingOfCell, maxDepth);
    double wet10 = 0, wet30 = 0, wet50 = 0;
    for (float d : around) {
        wet10 += d >= 0.1f;
        wet30 += d >= 0.3f;
        wet50 += d >= 0.5f;
    }
    MassBalance b = solver->massBalance();
    Kpis k = {
        {"flooded_area", flooded, "m2"},
        {"max_depth", deepest, "m"},
        {"buildings_wet_0_1m", wet10, ""},
        {"buildings_wet_0_3m", wet30, ""},
        {"buildings_wet_0_5m", wet50, ""},
        {"rain_volume", b.rainM3, "m3"},
        {"inflow_volume", b.inflowM3, "m3"},
        {"loss_volume", b.lossM3, "m3"},
        {"outflow_volume", b.outflowM3, "m3"},
        {"stored_volume", b.storageM3, "m3"},
        {"mass_error_relative", b.relativeError(), ""},
        {"time_steps", static_cast<double>(solver->steps()), ""},
    };
    for (auto& g : gauges) k.push_back({"gauge_" + g.name + "_max_depth", g.maxDepth, "m"});
    return k;
}

} // namespace

void registerFloodModule() {
    ModuleRegistry::instance().add("flood", [] { return std::make_unique<FloodModule>(); });
}

std::vector<SnapshotGrid> FloodSnapshot::grids() const {
    SnapshotGrid g;
    g.name = "Water depth";
    g.unit = "m";
    g.width = grid.nx;
    g.height = grid.ny;
    g.cellSize = grid.dx;
    g.originX = grid.x0;
    g.originY = grid.y0 + grid.ny * grid.dx;
    g.values.resize(depthM.size());
    for (int j = 0; j < grid.ny; ++j) // solver rows run south to north
        std::copy_n(depthM.begin() + size_t(j) * grid.nx, grid.nx, g.values.begin() + size_t(grid.ny - 1 - j) * grid.nx);
    return {std::move(g)};
}

} // namespace ct::flood
