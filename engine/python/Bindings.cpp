// The Python module `citytwin`: load a city, build and run scenarios, drive a simulation step
// by step, and read grids and KPIs as numpy arrays and dicts. API reference: docs/python.md.
#include "city/Import.h"
#include "core/Error.h"
#include "core/Log.h"
#include "gis/Gdal.h"
#include "gis/VectorRead.h"
#include "python/Convert.h"
#include "sim/Runner.h"
#include "sim/energy/EnergyModule.h"
#include "sim/flood/FloodModule.h"
#include "sim/mobility/MobilityModule.h"

#include <array>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <ogrsf_frmts.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <sstream>

namespace pyb = pybind11;
namespace fs = std::filesystem;
using namespace pybind11::literals;

namespace ct {
namespace {

// --- grids ---------------------------------------------------------------------------------

// A north-up float32 grid in the city's CRS. `owner` keeps the memory `data` points into alive:
// the city model for terrain (a zero-copy view), else the grid's own copy.
struct Grid {
    std::shared_ptr<const void> owner;
    const float* data = nullptr;
    int width = 0, height = 0;
    std::array<double, 6> geotransform{}; // GDAL order: x0, dx, 0, y0, 0, -dy
    std::string crs, name, unit;
    bool readOnly = false;
};

std::string crsText(const Crs& crs) {
    if (crs.empty()) return "";
    return crs.epsg() ? fmt::format("EPSG:{}", crs.epsg()) : crs.wkt();
}

Grid ownedGrid(std::vector<float> values, int width, int height) {
    auto store = std::make_shared<std::vector<float>>(std::move(values));
    Grid g;
    g.data = store->data();
    g.owner = std::move(store);
    g.width = width;
    g.height = height;
    return g;
}

Grid fromSnapshot(SnapshotGrid s, const LocalFrame& frame) {
    Grid g = ownedGrid(std::move(s.values), s.width, s.height);
    g.geotransform = {s.originX + frame.origin.x(), s.cellSize, 0,
                      s.originY + frame.origin.y(), 0,          -s.cellSize};
    g.crs = crsText(frame.crs);
    g.name = s.name;
    g.unit = s.unit;
    return g;
}

// Band 1 of a raster as written, nodata as NaN (no resampling: the values are the file's).
Grid readGrid(const fs::path& path, const std::string& name, const std::string& unit) {
    auto ds = gis::openDataset(path, GDAL_OF_RASTER);
    int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
    std::vector<float> v(static_cast<size_t>(w) * h);
    GDALRasterBand* band = ds->GetRasterBand(1);
    if (band->RasterIO(GF_Read, 0, 0, w, h, v.data(), w, h, GDT_Float32, 0, 0) != CE_None)
        throw InputError("cannot read raster: " + gis::lastGdalError(), path.string());
    int hasNodata = 0;
    double nodata = band->GetNoDataValue(&hasNodata);
    if (hasNodata && !std::isnan(nodata))
        for (float& x : v)
            if (x == static_cast<float>(nodata)) x = NAN;
    Grid g = ownedGrid(std::move(v), w, h);
    ds->GetGeoTransform(g.geotransform.data());
    if (const char* wkt = ds->GetProjectionRef(); wkt && *wkt) g.crs = crsText(Crs::fromWkt(wkt));
    g.name = name;
    g.unit = unit;
    return g;
}

// A CSV of numbers (gauges.csv, mass_balance.csv) as one float64 array per column.
pyb::dict readCsvColumns(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw InputError("result file not found", path.string());
    auto split = [](const std::string& line) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, ',');)
            cells.push_back(c);
        return cells;
    };
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header = split(line);
    std::vector<std::vector<double>> cols(header.size());
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto cells = split(line);
        for (size_t k = 0; k < cols.size(); ++k)
            cols[k].push_back(k < cells.size() ? std::strtod(cells[k].c_str(), nullptr) : NAN);
    }
    pyb::dict d;
    for (size_t k = 0; k < header.size(); ++k)
        d[pyb::str(header[k])] = pyb::array_t<double>(cols[k].size(), cols[k].data());
    return d;
}

// --- city ----------------------------------------------------------------------------------

template <class Out, class In> pyb::array_t<Out> column(const std::vector<In>& v) {
    pyb::array_t<Out> a(v.size());
    auto m = a.template mutable_unchecked<1>();
    for (size_t i = 0; i < v.size(); ++i)
        m(i) = static_cast<Out>(v[i]);
    return a;
}

pyb::list strings(size_t n, const std::function<std::string(size_t)>& at) {
    pyb::list l;
    for (size_t i = 0; i < n; ++i)
        l.append(pyb::str(at(i)));
    return l;
}

bool isYamlPath(const fs::path& p) {
    auto e = p.extension().string();
    return e == ".yaml" || e == ".yml";
}

fs::path toPath(pyb::handle h) {
    return pyb::module_::import("os").attr("fspath")(h).cast<std::string>();
}
fs::path optionalPath(const pyb::object& h) {
    return h.is_none() ? fs::path() : toPath(h);
}

// --- scenarios -----------------------------------------------------------------------------

// A scenario plus the YAML it came from, so to_dict() can hand back what was written.
struct PyScenario {
    Scenario scenario;
    YAML::Node root;
    fs::path baseDir;
};

// Paths in the city and outputs blocks made absolute, so a dict from to_dict() works from
// any folder.
YAML::Node absolutePaths(const YAML::Node& root, const fs::path& baseDir) {
    YAML::Node r = YAML::Clone(root);
    auto fix = [&](YAML::Node n) {
        if (!n.IsScalar()) return;
        fs::path p = n.Scalar();
        if (p.is_relative()) n = fs::absolute(baseDir / p).lexically_normal().string();
    };
    auto fixSource = [&](YAML::Node n) {
        if (n.IsMap() && n["path"])
            fix(n["path"]);
        else
            fix(n);
    };
    if (r.IsMap() && r["city"] && r["city"].IsMap()) {
        for (const char* key : {"osm", "terrain", "buildings", "roads", "water", "landuse"}) {
            YAML::Node n = r["city"][key];
            if (!n) continue;
            if (n.IsSequence())
                for (auto item : n)
                    fixSource(item);
            else
                fixSource(n);
        }
    }
    if (r.IsMap() && r["outputs"] && r["outputs"].IsMap() && r["outputs"]["dir"]) fix(r["outputs"]["dir"]);
    return r;
}

// tbb's parallelism for the duration of one call, as runScenario does it.
struct ThreadLimit {
    explicit ThreadLimit(int threads)
        : limit(tbb::global_control::max_allowed_parallelism,
                static_cast<size_t>(threads > 0 ? threads : tbb::info::default_concurrency())) {}
    tbb::global_control limit;
};

pyb::dict kpisDict(const std::map<std::string, Kpis>& all) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [module, kpis] : all) {
        j[module] = nlohmann::json::object();
        for (auto& k : kpis)
            j[module][k.name] = {{"value", k.value}, {"unit", k.unit}};
    }
    return py::fromJson(j);
}

// --- results -------------------------------------------------------------------------------

struct FloodResults {
    fs::path dir;
    Grid maxDepth, maxVelocity, maxHazard, arrivalTime;
};

std::shared_ptr<FloodResults> readFlood(const fs::path& dir) {
    if (!fs::exists(dir / "max_depth.tif")) return nullptr;
    auto f = std::make_shared<FloodResults>();
    f->dir = dir;
    f->maxDepth = readGrid(dir / "max_depth.tif", "Maximum depth", "m");
    f->maxVelocity = readGrid(dir / "max_velocity.tif", "Maximum velocity", "m/s");
    f->maxHazard = readGrid(dir / "max_hazard.tif", "Maximum hazard rating", "");
    f->arrivalTime = readGrid(dir / "arrival_time.tif", "Arrival time (0.1 m)", "s");
    return f;
}

struct PyResults {
    RunResult run;
    std::shared_ptr<FloodResults> flood, floodVariant; // read on first access
    bool floodRead = false;

    void readFloodOnce() {
        if (floodRead) return;
        floodRead = true;
        if (run.hasVariant) {
            flood = readFlood(run.outDir / "baseline" / "flood");
            floodVariant = readFlood(run.outDir / "variant" / "flood");
        } else {
            flood = readFlood(run.outDir / "flood");
        }
    }
};

// --- step-wise simulation ------------------------------------------------------------------

// step() stops at the runner's chunk boundaries (runChunks in sim/Runner.h), so a stepped
// run is bit-identical to a whole run: the solver shortens its last time step to land on each
// stop. tests/python checks the two agree.

struct PySimulation {
    Scenario scenario; // the session keeps a reference: this object never moves
    CityModel city;
    int threads = 0;
    bool variant = false;
    std::unique_ptr<SimulationSession> session;
    std::mutex busy; // one step at a time, whichever Python thread calls

    void stepTo(double target) {
        target = std::min(target, scenario.durationS);
        for (int k = 1; k <= runChunks; ++k) {
            double t = scenario.durationS * k / runChunks; // the runner's expression, bit for bit
            if (t >= target) break;
            session->advanceTo(t);
        }
        session->advanceTo(target);
    }
};

} // namespace
} // namespace ct

PYBIND11_MODULE(citytwin, m) {
    using namespace ct;
    m.doc() = "citytwin: load a city, run flood what-if scenarios, read results as numpy arrays "
              "(docs/python.md)";
    m.attr("__version__") = CITYTWIN_VERSION;

    // Warnings only: the import's info lines would drown a notebook. set_log_level() changes it.
    try {
        initLogging("warn");
    } catch (const spdlog::spdlog_ex&) {
    }
    flood::registerFloodModule();
    energy::registerEnergyModule();
    mobility::registerMobilityModule();

    // Same text as the CLI's "error: ..." line; a ValueError, so generic handlers catch it.
    pyb::register_exception<InputError>(m, "InputError", PyExc_ValueError);

    m.def(
        "set_log_level", [](const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); },
        "level"_a, "Engine log level on stderr: 'debug', 'info', 'warn' (default), 'error', 'off'.");

    pyb::class_<Grid>(m, "Grid", "A north-up float32 grid in the city's CRS (row 0 = north, NaN = nodata).")
        .def_property_readonly(
            "values",
            [](pyb::object self) {
                const Grid& g = self.cast<const Grid&>();
                // A view of the grid's memory; the array holds the Grid, the Grid its owner.
                pyb::array_t<float> a({g.height, g.width},
                                      {static_cast<pyb::ssize_t>(g.width * sizeof(float)),
                                       static_cast<pyb::ssize_t>(sizeof(float))},
                                      g.data, self);
                if (g.readOnly) a.attr("setflags")("write"_a = false);
                return a;
            },
            "2D float32 numpy array (height, width), a view without a copy.")
        .def(
            "__array__",
            [](pyb::object self, pyb::object dtype) {
                pyb::object v = self.attr("values");
                return dtype.is_none() ? v : v.attr("astype")(dtype);
            },
            "dtype"_a = pyb::none())
        .def_property_readonly(
            "geotransform",
            [](const Grid& g) {
                auto& t = g.geotransform;
                return pyb::make_tuple(t[0], t[1], t[2], t[3], t[4], t[5]);
            },
            "GDAL geotransform (x0, dx, 0, y0, 0, -dy) in the CRS; (x0, y0) is the north-west corner.")
        .def_property_readonly(
            "crs", [](const Grid& g) { return g.crs; }, "'EPSG:N', else WKT.")
        .def_property_readonly(
            "cell_size", [](const Grid& g) { return g.geotransform[1]; }, "metres")
        .def_property_readonly("shape", [](const Grid& g) { return pyb::make_tuple(g.height, g.width); })
        .def_property_readonly("name", [](const Grid& g) { return g.name; })
        .def_property_readonly("unit", [](const Grid& g) { return g.unit; })
        .def("__repr__", [](const Grid& g) {
            return fmt::format("<citytwin.Grid '{}' {}x{} at {} m, {}>", g.name, g.width, g.height,
                               g.geotransform[1], g.crs.size() < 20 ? g.crs : "custom CRS");
        });

    pyb::class_<CityModel, std::shared_ptr<CityModel>>(m, "City", "An imported city in one metric frame.")
        .def_property_readonly("crs", [](const CityModel& c) { return crsText(c.frame.crs); })
        .def_property_readonly(
            "origin",
            [](const CityModel& c) { return pyb::make_tuple(c.frame.origin.x(), c.frame.origin.y()); },
            "(x, y) of the local frame's origin in the CRS.")
        .def_property_readonly(
            "terrain",
            [](const std::shared_ptr<CityModel>& c) -> pyb::object {
                const Terrain& t = c->terrain;
                if (t.empty()) return pyb::none();
                Grid g;
                g.owner = c; // the view keeps the whole city alive
                g.data = t.heightM.data();
                g.width = t.width;
                g.height = t.height;
                g.geotransform = {t.originX + c->frame.origin.x(), t.cellSize, 0,
                                  t.originY + c->frame.origin.y(), 0,          -t.cellSize};
                g.crs = crsText(c->frame.crs);
                g.name = "Terrain";
                g.unit = "m";
                g.readOnly = true;
                return pyb::cast(std::move(g));
            },
            "Terrain heights as a Grid (read-only zero-copy view), or None without terrain.")
        .def_property_readonly(
            "buildings",
            [](const CityModel& c) {
                const Buildings& b = c.buildings;
                const Vec2 o = c.frame.origin;
                std::vector<double> area(b.size()), cx(b.size()), cy(b.size());
                std::vector<int> parts(b.size());
                for (size_t i = 0; i < b.size(); ++i) {
                    area[i] = b.footprintArea(i);
                    Vec2 p = b.centroid(i) + o;
                    cx[i] = p.x();
                    cy[i] = p.y();
                    parts[i] = static_cast<int>(b.partStart[i + 1] - b.partStart[i]);
                }
                pyb::dict d;
                d["id"] = strings(b.size(), [&](size_t i) { return b.sourceId[i]; });
                d["name"] = strings(b.size(), [&](size_t i) { return b.name[i]; });
                d["height"] = column<float>(b.heightM);
                d["ground"] = column<float>(b.groundM);
                d["levels"] = column<int32_t>(b.levels);
                d["year"] = column<int32_t>(b.yearBuilt);
                d["use"] = strings(b.size(), [&](size_t i) { return std::string(toString(b.use[i])); });
                d["height_source"] =
                    strings(b.size(), [&](size_t i) { return std::string(toString(b.heightSource[i])); });
                d["footprint_area"] = column<double>(area);
                d["centroid_x"] = column<double>(cx);
                d["centroid_y"] = column<double>(cy);
                d["parts"] = column<int32_t>(parts);
                // The source attributes each building came with, as text (one list per field).
                pyb::dict attributes;
                for (size_t k = 0; k < b.attributes.names.size(); ++k) {
                    const auto& col = b.attributes.columns[k];
                    attributes[pyb::str(b.attributes.names[k])] =
                        strings(b.size(), [&](size_t i) { return i < col.size() ? col[i] : std::string(); });
                }
                d["attributes"] = attributes;
                return d;
            },
            "Dict of columns, one row per building (copies); 'attributes' holds the source fields.")
        .def(
            "footprint",
            [](const CityModel& c, size_t i, size_t part) {
                const Buildings& b = c.buildings;
                if (i >= b.size()) throw pyb::index_error(fmt::format("building {} of {}", i, b.size()));
                size_t first = b.partStart[i], count = b.partStart[i + 1] - first;
                if (part >= count) throw pyb::index_error(fmt::format("part {} of {}", part, count));
                auto ring = b.footprints.ring(first + part, 0);
                pyb::array_t<double> a({static_cast<pyb::ssize_t>(ring.size()), pyb::ssize_t(2)});
                auto m = a.mutable_unchecked<2>();
                for (size_t k = 0; k < ring.size(); ++k) {
                    m(k, 0) = ring[k].x() + c.frame.origin.x();
                    m(k, 1) = ring[k].y() + c.frame.origin.y();
                }
                return a;
            },
            "i"_a, "part"_a = 0,
            "Outer ring of building i (its part `part`) as an (n, 2) array in the CRS, not closed.")
        .def_property_readonly(
            "roads",
            [](const CityModel& c) {
                const RoadNetwork& r = c.roads;
                std::vector<double> nx(r.nodeCount()), ny(r.nodeCount());
                for (size_t n = 0; n < r.nodeCount(); ++n) {
                    nx[n] = r.nodePos[n].x() + c.frame.origin.x();
                    ny[n] = r.nodePos[n].y() + c.frame.origin.y();
                }
                std::vector<int64_t> from(r.edgeCount()), to(r.edgeCount()), rev(r.edgeCount());
                for (size_t e = 0; e < r.edgeCount(); ++e) {
                    from[e] = r.from[e].value;
                    to[e] = r.to[e].value;
                    rev[e] = r.reverse[e].valid() ? static_cast<int64_t>(r.reverse[e].value) : -1;
                }
                pyb::dict d;
                d["node_x"] = column<double>(nx);
                d["node_y"] = column<double>(ny);
                d["from"] = column<int64_t>(from);
                d["to"] = column<int64_t>(to);
                d["reverse"] = column<int64_t>(rev);
                d["length"] = column<float>(r.lengthM);
                d["speed"] = column<float>(r.speedMps);
                d["lanes"] = column<int32_t>(r.lanes);
                d["road_class"] =
                    strings(r.edgeCount(), [&](size_t e) { return std::string(toString(r.roadClass[e])); });
                d["name"] = strings(r.edgeCount(), [&](size_t e) { return r.wayName[r.way[e]]; });
                d["way_id"] = strings(r.edgeCount(), [&](size_t e) { return r.wayId[r.way[e]]; });
                return d;
            },
            "Dict of the directed road graph: node coordinates and one row per edge (copies).")
        .def("__repr__", [](const CityModel& c) {
            return fmt::format("<citytwin.City {} buildings, {} road edges, terrain {}x{}, {}>",
                               c.buildings.size(), c.roads.edgeCount(), c.terrain.width, c.terrain.height,
                               crsText(c.frame.crs));
        });

    pyb::class_<PyScenario>(m, "Scenario", "A scenario: city, time, modules, edits (docs/scenarios.md).")
        .def_static(
            "from_yaml",
            [](pyb::object path) {
                fs::path p = toPath(path);
                PyScenario s;
                s.scenario = Scenario::fromYaml(p);
                s.root = YAML::LoadFile(p.string());
                s.baseDir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
                return s;
            },
            "path"_a, "Reads and checks a scenario YAML; InputError names file:line.")
        .def_static(
            "from_dict",
            [](pyb::dict d, pyb::object baseDir) {
                std::string text = py::toYamlText(d);
                PyScenario s;
                s.baseDir = toPath(baseDir);
                s.scenario = Scenario::fromYamlText(text, s.baseDir, "<dict>");
                s.root = YAML::Load(text);
                return s;
            },
            "d"_a, "base_dir"_a = ".",
            "A scenario from a dict shaped like the YAML; relative paths against base_dir.")
        .def(
            "to_dict", [](const PyScenario& s) { return py::fromYaml(absolutePaths(s.root, s.baseDir)); },
            "The scenario as a dict (paths made absolute), to change and pass to from_dict().")
        .def_property_readonly("name", [](const PyScenario& s) { return s.scenario.name; })
        .def_property_readonly("description", [](const PyScenario& s) { return s.scenario.description; })
        .def_property_readonly("seed", [](const PyScenario& s) { return s.scenario.seed; })
        .def_property_readonly("start_time", [](const PyScenario& s) { return s.scenario.start.iso(); })
        .def_property_readonly("duration_s", [](const PyScenario& s) { return s.scenario.durationS; })
        .def_property_readonly("modules",
                               [](const PyScenario& s) {
                                   return strings(s.scenario.modules.size(),
                                                  [&](size_t i) { return s.scenario.modules[i].name; });
                               })
        .def_property_readonly("edits",
                               [](const PyScenario& s) {
                                   return strings(s.scenario.edits.size(),
                                                  [&](size_t i) { return s.scenario.edits[i].type; });
                               })
        .def_property_readonly(
            "out", [](const PyScenario& s) { return s.scenario.outputDir.string(); },
            "outputs.dir: where run() writes without out=.")
        .def(
            "run",
            [](const PyScenario& s, pyb::object out, int threads, bool progress, pyb::object cacheDir) {
                RunOptions o{optionalPath(out), threads, progress, optionalPath(cacheDir)};
                PyResults r;
                {
                    pyb::gil_scoped_release release;
                    r.run = runScenario(s.scenario, o);
                }
                return r;
            },
            "out"_a = pyb::none(), "threads"_a = 0, "progress"_a = false, "cache_dir"_a = pyb::none(),
            "Runs baseline (and variant with edits) like `citytwin run`; writes results into out.")
        .def(
            "start",
            [](const PyScenario& s, bool variant, int threads, pyb::object cacheDir) {
                auto sim = std::make_unique<PySimulation>();
                sim->scenario = s.scenario;
                sim->threads = threads > 0 ? threads : tbb::info::default_concurrency(); // as runScenario
                sim->variant = variant;
                fs::path cache = optionalPath(cacheDir);
                {
                    pyb::gil_scoped_release release;
                    ThreadLimit limit(threads);
                    sim->city = importCity(sim->scenario.city, ImportOptions{cache, false});
                    sim->session =
                        std::make_unique<SimulationSession>(sim->scenario, sim->city, variant, threads);
                }
                return sim;
            },
            "variant"_a = false, "threads"_a = 0, "cache_dir"_a = pyb::none(),
            "Imports the city and starts the modules at t = 0 (baseline, or the variant with the edits).")
        .def("__repr__", [](const PyScenario& s) {
            std::vector<std::string> names;
            for (auto& b : s.scenario.modules)
                names.push_back(b.name);
            return fmt::format("<citytwin.Scenario '{}' {} s, modules [{}], {} edits>", s.scenario.name,
                               s.scenario.durationS, fmt::join(names, ", "), s.scenario.edits.size());
        });

    pyb::class_<FloodResults, std::shared_ptr<FloodResults>>(m, "FloodResults",
                                                             "Maps and series of one flood run.")
        .def_property_readonly("max_depth", [](const FloodResults& f) { return f.maxDepth; })
        .def_property_readonly("max_velocity", [](const FloodResults& f) { return f.maxVelocity; })
        .def_property_readonly("max_hazard", [](const FloodResults& f) { return f.maxHazard; })
        .def_property_readonly("arrival_time", [](const FloodResults& f) { return f.arrivalTime; })
        .def_property_readonly(
            "gauges", [](const FloodResults& f) { return readCsvColumns(f.dir / "gauges.csv"); },
            "gauges.csv as a dict of float64 columns (time_s, <gauge>_depth_m, ...).")
        .def_property_readonly(
            "mass_balance", [](const FloodResults& f) { return readCsvColumns(f.dir / "mass_balance.csv"); })
        .def_property_readonly("dir", [](const FloodResults& f) { return f.dir.string(); });

    pyb::class_<PyResults>(m, "Results", "What scenario.run() wrote.")
        .def_property_readonly(
            "kpis", [](const PyResults& r) { return py::fromJson(r.run.kpisJson); }, "kpis.json as a dict.")
        .def_property_readonly(
            "compare",
            [](const PyResults& r) {
                auto it = r.run.kpisJson.find("difference");
                return it == r.run.kpisJson.end() ? pyb::object(pyb::dict()) : py::fromJson(*it);
            },
            "Variant minus baseline per module and KPI ({value, unit, relative}); {} without edits.")
        .def_property_readonly("out", [](const PyResults& r) { return r.run.outDir.string(); })
        .def_property_readonly("wall_s", [](const PyResults& r) { return r.run.wallS; })
        .def_property_readonly("has_variant", [](const PyResults& r) { return r.run.hasVariant; })
        .def_property_readonly(
            "flood",
            [](PyResults& r) {
                r.readFloodOnce();
                return r.flood;
            },
            "Baseline flood maps, or None without a flood module.")
        .def_property_readonly(
            "flood_variant",
            [](PyResults& r) {
                r.readFloodOnce();
                return r.floodVariant;
            },
            "Variant flood maps, or None without edits.");

    pyb::class_<PySimulation>(m, "Simulation", "One variant of a scenario, advanced by step().")
        .def(
            "step",
            [](PySimulation& s, double seconds) {
                if (!(seconds >= 0)) throw pyb::value_error("step(seconds) needs seconds >= 0");
                pyb::gil_scoped_release release;
                std::lock_guard lock(s.busy);
                ThreadLimit limit(s.threads);
                s.stepTo(s.session->time() + seconds);
            },
            "seconds"_a, "Simulates that much more time (at most to the scenario's end).")
        .def_property_readonly(
            "time", [](const PySimulation& s) { return s.session->time(); },
            "Simulated seconds since the start.")
        .def_property_readonly("duration_s", [](const PySimulation& s) { return s.scenario.durationS; })
        .def_property_readonly("finished", [](const PySimulation& s) { return s.session->finished(); })
        .def_property_readonly("variant", [](const PySimulation& s) { return s.variant; })
        .def_property_readonly("status", [](const PySimulation& s) { return s.session->status(); })
        .def_property_readonly("city",
                               [](PySimulation& s) {
                                   // A copy: the session's city must stay as it is while it runs.
                                   return std::make_shared<CityModel>(s.city);
                               })
        .def(
            "apply_edit",
            [](PySimulation& s, const pyb::dict& edit) {
                // The same keys as an entry under the scenario's edits: (docs/flood.md).
                if (!edit.contains("type")) throw InputError("an edit needs a type", "apply_edit", "e.g. {'type': 'barrier', ...}");
                Edit e;
                e.type = pyb::str(edit["type"]);
                e.spec = YAML::Load(py::toYamlText(edit));
                e.where = fmt::format("apply_edit at t = {:.0f} s", s.session->time());
                std::lock_guard lock(s.busy);
                s.session->applyEdit(e);
            },
            "edit"_a,
            "A what-if edit (a dict like an entry under edits: in a scenario) taking effect now.")
        .def(
            "snapshot",
            [](PySimulation& s) {
                std::vector<std::shared_ptr<const Snapshot>> snaps;
                {
                    std::lock_guard lock(s.busy);
                    snaps = s.session->snapshots();
                }
                pyb::dict d;
                for (auto& snap : snaps)
                    if (snap)
                        for (auto& g : snap->grids())
                            d[pyb::str(g.name)] = fromSnapshot(g, s.city.frame);
                return d;
            },
            "The modules' current grids by name (flood: 'Water depth'), copies.")
        .def(
            "write_outputs",
            [](PySimulation& s, pyb::object dir) {
                fs::path d = toPath(dir);
                std::map<std::string, Kpis> kpis;
                {
                    pyb::gil_scoped_release release;
                    std::lock_guard lock(s.busy);
                    kpis = s.session->writeOutputs(d);
                }
                return kpisDict(kpis);
            },
            "dir"_a, "Writes every module's results into dir/<module>; returns their KPIs by module.");

    m.def(
        "load_city",
        [](pyb::object input, pyb::object assumeCrs, pyb::object cacheDir) {
            CityConfig config;
            if (pyb::isinstance<PyScenario>(input)) {
                config = input.cast<const PyScenario&>().scenario.city;
            } else if (pyb::isinstance<pyb::list>(input) || pyb::isinstance<pyb::tuple>(input)) {
                std::vector<fs::path> files;
                for (auto f : input)
                    files.push_back(toPath(f));
                config = cityConfigFromFiles(files);
            } else {
                fs::path p = toPath(input);
                config = isYamlPath(p) ? Scenario::fromYaml(p).city : cityConfigFromFiles({p});
            }
            if (!assumeCrs.is_none()) config.assumeCrs = assumeCrs.cast<std::string>();
            fs::path cache = optionalPath(cacheDir);
            pyb::gil_scoped_release release;
            return std::make_shared<CityModel>(importCity(config, ImportOptions{cache, false}));
        },
        "path_or_scenario"_a, "assume_crs"_a = pyb::none(), "cache_dir"_a = pyb::none(),
        "Imports a city from a scenario YAML, a Scenario, or one or more GIS files.");
}
