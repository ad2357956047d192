#include "ui/CityScene.h"

#include "core/Error.h"
#include "core/I18n.h"
#include "feeds/SensorStore.h"
#include "gis/Gdal.h"
#include "gis/RasterRead.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <map>
#include <ogrsf_frmts.h>
#include <unordered_map>

namespace ct::ui {

namespace fs = std::filesystem;

namespace {
std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}
} // namespace

CityScene loadScene(const fs::path& scenarioYaml, const SceneOptions& options) {
    return sceneFromScenario(Scenario::fromYaml(scenarioYaml), options);
}

CityScene sceneFromScenario(Scenario scenario, const SceneOptions& options) {
    CityScene s;
    s.scenario = std::move(scenario);
    auto t0 = std::chrono::steady_clock::now();
    s.city = importCity(s.scenario.city, ImportOptions{options.cacheDir, options.progress});
    s.importSeconds = seconds(t0);
    t0 = std::chrono::steady_clock::now();
    s.mesh = buildCityMesh(s.city, options.mesh);
    s.meshSeconds = seconds(t0);
    Box2 b = s.city.bounds();
    Vec2 centre = s.city.frame.toWorld(b.empty() ? Vec2(0, 0) : b.center());
    if (!s.city.frame.crs.empty()) {
        Reprojector toWgs84(s.city.frame.crs, Crs::fromEpsg(4326));
        Vec2 ll = toWgs84.apply(centre);
        s.lonDeg = ll.x();
        s.latDeg = ll.y();
    }
    return s;
}

render::Camera overviewCamera(const CityScene& scene, double aspect) {
    return render::Camera::framing(scene.mesh.boundsMin, scene.mesh.boundsMax, aspect);
}

double typicalGroundZ(const CityModel& city) {
    std::vector<float> h;
    const auto& all = city.terrain.heightM;
    for (size_t i = 0; i < all.size(); i += std::max<size_t>(1, all.size() / 4096))
        if (!std::isnan(all[i])) h.push_back(all[i]);
    if (h.empty()) return 0;
    std::nth_element(h.begin(), h.begin() + long(h.size() / 2), h.end());
    return h[h.size() / 2];
}

render::Camera lookAt(const Vec3& target, double distance, double yawDeg, double pitchDeg) {
    render::Camera c;
    c.yawDeg = yawDeg;
    c.pitchDeg = pitchDeg;
    c.eye = target - c.forward() * distance;
    return c;
}

std::optional<render::Camera> namedCamera(const CityScene& scene, const std::string& name, double aspect) {
    std::string n = lower(name);
    if (n.empty() || n == "overview" || n == "default") return overviewCamera(scene, aspect);
    const CityModel& city = scene.city;
    auto ground = [&](const Vec2& p) {
        float z = city.terrain.empty() ? NAN : city.terrain.heightAt(p);
        return std::isnan(z) ? 0.0 : double(z);
    };
    // Exact names first, then partial matches; buildings before streets.
    for (bool exact : {true, false}) {
        for (size_t i = 0; i < city.buildings.size(); ++i) {
            std::string b = lower(city.buildings.name[i]);
            if (b.empty() || (exact ? b != n : b.find(n) == std::string::npos)) continue;
            Vec2 c = city.buildings.centroid(i);
            return lookAt(Vec3(c.x(), c.y(), ground(c) + city.buildings.heightM[i] / 2), 250);
        }
        for (size_t e = 0; e < city.roads.edgeCount(); ++e) {
            std::string w = lower(city.roads.wayName[city.roads.way[e]]);
            if (w.empty() || (exact ? w != n : w.find(n) == std::string::npos)) continue;
            auto shape = city.roads.shape(EdgeId{static_cast<uint32_t>(e)});
            Vec2 c = shape[shape.size() / 2];
            return lookAt(Vec3(c.x(), c.y(), ground(c)), 250);
        }
    }
    return std::nullopt;
}

render::ValueOverlay buildingValues(const CityModel& city, const std::string& attribute) {
    const Buildings& b = city.buildings;
    render::ValueOverlay o;
    o.values.resize(b.size());
    std::string a = lower(attribute);
    if (a == "height") {
        for (size_t i = 0; i < b.size(); ++i) o.values[i] = b.heightM[i];
        o.scale = {render::ColorMap::Viridis, 0, 30, "Building height", "m"};
    } else if (a == "levels") {
        for (size_t i = 0; i < b.size(); ++i) o.values[i] = b.levels[i] ? float(b.levels[i]) : NAN;
        o.scale = {render::ColorMap::Viridis, 1, 8, "Storeys", ""};
    } else if (a == "year") {
        for (size_t i = 0; i < b.size(); ++i) o.values[i] = b.yearBuilt[i] ? float(b.yearBuilt[i]) : NAN;
        o.scale = {render::ColorMap::Inferno, 1850, 2025, "Year built", ""};
    } else if (a == "use") {
        for (size_t i = 0; i < b.size(); ++i) o.values[i] = float(static_cast<int>(b.use[i]));
        std::vector<std::string> uses;
        for (int u = 0; u <= static_cast<int>(BuildingUse::Unknown); ++u) uses.push_back(toString(static_cast<BuildingUse>(u)));
        o.scale = render::categoryScale(std::move(uses), "Building use");
    } else if (a == "area") {
        for (size_t i = 0; i < b.size(); ++i) o.values[i] = float(b.footprintArea(i));
        o.scale = {render::ColorMap::Viridis, 0, 1000, "Footprint area", "m2"};
    } else {
        throw InputError(fmt::format("unknown building attribute '{}'", attribute), "--color-by",
                         "use one of: height, levels, year, use, area");
    }
    return o;
}

BuildingResults readBuildingResults(const fs::path& resultsDir, const CityModel& city, bool variant) {
    BuildingResults r;
    std::vector<fs::path> candidates = variant ? std::vector<fs::path>{resultsDir / "variant" / "energy" / "buildings.gpkg"}
                                               : std::vector<fs::path>{resultsDir / "baseline" / "energy" / "buildings.gpkg",
                                                                       resultsDir / "energy" / "buildings.gpkg"};
    fs::path file;
    for (const fs::path& f : candidates)
        if (fs::exists(f)) {
            file = f;
            break;
        }
    if (file.empty()) return r;
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open(file.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds || ds->GetLayerCount() < 1) throw InputError("cannot read the building results", file.string(), "run the scenario again");
    OGRLayer* layer = ds->GetLayer(0);
    OGRFeatureDefn* def = layer->GetLayerDefn();
    std::vector<int> columns;
    for (int k = 0; k < def->GetFieldCount(); ++k) {
        OGRFieldType t = def->GetFieldDefn(k)->GetType();
        if (t == OFTReal || t == OFTInteger || t == OFTInteger64) {
            columns.push_back(k);
            r.fields.push_back(def->GetFieldDefn(k)->GetNameRef());
        }
    }
    std::unordered_map<std::string, size_t> byId;
    for (size_t i = 0; i < city.buildings.size(); ++i) byId.emplace(city.buildings.sourceId[i], i);
    r.values.assign(columns.size(), std::vector<float>(city.buildings.size(), NAN));
    int idField = def->GetFieldIndex("id");
    for (auto& f : *layer) {
        auto it = idField >= 0 ? byId.find(f->GetFieldAsString(idField)) : byId.end();
        if (it == byId.end()) continue; // parts of one building repeat its values
        for (size_t c = 0; c < columns.size(); ++c) r.values[c][it->second] = float(f->GetFieldAsDouble(columns[c]));
    }
    return r;
}

render::ValueOverlay buildingResultValues(const BuildingResults& results, const std::string& field) {
    auto it = std::find(results.fields.begin(), results.fields.end(), field);
    if (it == results.fields.end()) {
        std::string list;
        for (auto& f : results.fields) list += (list.empty() ? "" : ", ") + f;
        throw InputError(fmt::format("no building result '{}'", field), "--color-by",
                         list.empty() ? "the results hold no building table (run an energy scenario)" : "use one of: " + list);
    }
    render::ValueOverlay o;
    o.values = results.values[size_t(it - results.fields.begin())];
    struct Known {
        const char* field;
        render::ColorMap map;
        float min, max;
        const char* title;
        const char* unit;
    };
    static const Known known[] = {
        {"heat_kwh_m2", render::ColorMap::Inferno, 0, 300, "Heat demand", "kWh/m²a"},
        {"peak_heat_kw", render::ColorMap::Inferno, 0, 50, "Peak heat load", "kW"},
        {"pv_kwh_kwp", render::ColorMap::Viridis, 500, 1100, "PV specific yield", "kWh/kWp"},
        {"pv_kwp", render::ColorMap::Viridis, 0, 50, "PV potential", "kWp"},
        {"shading_loss_pct", render::ColorMap::Inferno, 0, 50, "PV shading loss", "%"},
    };
    for (const Known& k : known)
        if (field == k.field) {
            o.scale = {k.map, k.min, k.max, k.title, k.unit};
            return o;
        }
    ResultStyle style = resultStyle(field, {&o.values});
    o.scale = style.scale;
    return o;
}

LoadCurves readLoadCurves(const fs::path& resultsDir, bool variant) {
    LoadCurves c;
    fs::path file = resultsDir / (variant ? "variant" : "baseline") / "energy" / "load_profile.csv";
    if (!variant && !fs::exists(file)) file = resultsDir / "energy" / "load_profile.csv";
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line)) return c;
    while (std::getline(in, line)) {
        // hour,time,district,base_kw,heat_pump_kw,ev_kw,pv_kw,net_kw (names have no commas)
        std::vector<std::string> cells;
        size_t start = 0;
        for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) cells.push_back(line.substr(start, comma - start));
        cells.push_back(line.substr(start));
        if (cells.size() != 8 || cells[2] != "total") continue;
        c.base.push_back(std::stof(cells[3]));
        c.heatPump.push_back(std::stof(cells[4]));
        c.ev.push_back(std::stof(cells[5]));
        c.pv.push_back(std::stof(cells[6]));
        c.net.push_back(std::stof(cells[7]));
    }
    return c;
}

std::vector<render::Marker> sensorMarkers(const fs::path& storeFile, const CityModel& city, double silentAfterS) {
    std::vector<render::Marker> out;
    for (auto& m : sensorMarkersWithIds(storeFile, city, silentAfterS)) out.push_back(std::move(m.marker));
    return out;
}

std::vector<SensorMarker> sensorMarkersWithIds(const fs::path& storeFile, const CityModel& city, double silentAfterS) {
    std::vector<SensorMarker> out;
    if (!fs::exists(storeFile)) return out;
    feeds::SensorStore store(storeFile);
    Reprojector fromWgs84(Crs::fromEpsg(4326), city.frame.crs);
    struct Latest {
        feeds::SensorInfo info;
        feeds::TimeValue at;
    };
    std::vector<Latest> latest;
    double newest = -INFINITY;
    for (auto& s : store.sensors()) {
        if (std::isnan(s.lon) || std::isnan(s.lat)) continue;
        auto v = store.latest(s.id);
        if (!v) continue;
        newest = std::max(newest, v->time);
        latest.push_back({s, *v});
    }
    for (const Latest& l : latest) {
        Vec2 p = city.frame.toLocal(fromWgs84.apply(Vec2(l.info.lon, l.info.lat)));
        float z = city.terrain.empty() ? NAN : city.terrain.heightAt(p);
        render::Marker m;
        m.position = Vec3(p.x(), p.y(), (std::isnan(z) ? 0.0 : double(z)) + 3);
        double v = l.at.value;
        bool silent = newest - l.at.time > silentAfterS;
        m.rgba = silent                                             ? render::rgba(150, 150, 150)
                 : !std::isnan(l.info.alarmAbove) && v > l.info.alarmAbove ? render::rgba(220, 30, 30)
                 : !std::isnan(l.info.warnAbove) && v > l.info.warnAbove   ? render::rgba(240, 170, 0)
                                                                           : render::rgba(30, 170, 60);
        m.label = fmt::format("{}: {}", l.info.name.empty() ? l.info.id : l.info.name, formatQuantity(v, l.info.unit, std::abs(v) < 10 ? 2 : 1));
        out.push_back({l.info.id, std::move(m)});
    }
    return out;
}

render::ValueOverlay roadValues(const CityModel& city, const std::string& attribute) {
    const RoadNetwork& r = city.roads;
    render::ValueOverlay o;
    o.values.resize(r.edgeCount());
    std::string a = lower(attribute);
    if (a == "speed") {
        for (size_t e = 0; e < r.edgeCount(); ++e) o.values[e] = r.speedMps[e] * 3.6f;
        o.scale = {render::ColorMap::Traffic, 100, 10, "Speed limit", "km/h"};
    } else if (a == "lanes") {
        for (size_t e = 0; e < r.edgeCount(); ++e) o.values[e] = r.lanes[e];
        o.scale = {render::ColorMap::Viridis, 1, 4, "Lanes per direction", ""};
    } else {
        throw InputError(fmt::format("unknown road attribute '{}'", attribute), "--color-roads-by",
                         "use one of: speed, lanes, traffic (speed over the limit from --results of a mobility run), counts (detector "
                         "counts from the feed store)");
    }
    return o;
}

ResultStyle resultStyle(const std::string& stem, const std::vector<const std::vector<float>*>& grids) {
    std::string n = lower(stem);
    std::vector<float> finite;
    for (auto* g : grids)
        for (float v : *g)
            if (std::isfinite(v)) finite.push_back(v);
    auto percentile = [&](double p) {
        if (finite.empty()) return 0.0f;
        size_t k = std::min(finite.size() - 1, size_t(p * double(finite.size() - 1)));
        std::nth_element(finite.begin(), finite.begin() + long(k), finite.end());
        return finite[k];
    };
    const float none = -std::numeric_limits<float>::infinity();
    if (n.find("depth") != std::string::npos) {
        // Up to the 95th percentile of wet cells, in half metres (0.5 to 5 m): heavy rain
        // gets a fine scale, a river flood a coarse one.
        finite.erase(std::remove_if(finite.begin(), finite.end(), [](float v) { return v <= 0.01f; }), finite.end());
        float top = std::clamp(std::ceil(percentile(0.95) * 2) / 2, 0.5f, 5.0f);
        return {{render::ColorMap::Water, 0, top, "Water depth", "m"}, 0.01f}; // dry stays clear
    }
    if (n.find("velocity") != std::string::npos || n.find("speed") != std::string::npos)
        return {{render::ColorMap::Viridis, 0, 2.0f, "Flow velocity", "m/s"}, 0.01f};
    if (n.find("hazard") != std::string::npos) // below 0.5: not even "low hazard" (DEFRA FD2320)
        return {{render::ColorMap::Inferno, 0, 2.5f, "Flood hazard rating", ""}, 0.5f};
    if (n.find("arrival") != std::string::npos) {
        float hi = percentile(0.98);
        return {{render::ColorMap::Viridis, 0, hi > 0 ? hi : 60, "Arrival time", "min"}, none};
    }
    render::ColorScale s{render::ColorMap::Viridis, percentile(0.02), percentile(0.98), stem, ""};
    if (s.max <= s.min) s.max = s.min + 1;
    return {s, none};
}

render::GridOverlay gridFromRaster(const fs::path& file, const CityModel& city) {
    if (!fs::exists(file)) throw InputError("raster not found", file.string(), "give the path of a GeoTIFF, e.g. out/flood/max_depth.tif");
    gis::RasterGrid g = gis::readRaster({file}, &city.frame.crs, city.frame.crs);
    render::GridOverlay o;
    o.width = g.width;
    o.height = g.height;
    Vec2 topLeft = city.frame.toLocal(Vec2(g.originX, g.originY));
    o.originX = topLeft.x();
    o.originY = topLeft.y();
    o.cellSize = g.cellX;
    if (std::abs(g.cellX - g.cellY) > 1e-6 * g.cellX)
        throw InputError("raster cells are not square", file.string(), "warp it to square cells first (gdalwarp -tr)");
    o.values = std::move(g.values);
    std::string stem = file.stem().string();
    if (lower(stem).find("arrival") != std::string::npos)
        for (float& v : o.values) v /= 60; // seconds → minutes
    ResultStyle style = resultStyle(stem, {&o.values});
    o.scale = style.scale;
    o.hideAtOrBelow = style.hideAtOrBelow;
    return o;
}

std::vector<std::pair<double, fs::path>> findDepthSnapshots(const fs::path& resultsDir, bool variant) {
    std::vector<std::pair<double, fs::path>> out;
    std::vector<fs::path> dirs = variant ? std::vector<fs::path>{resultsDir / "variant" / "flood"}
                                         : std::vector<fs::path>{resultsDir / "flood", resultsDir / "baseline" / "flood", resultsDir};
    for (const fs::path& dir : dirs) {
        if (!fs::is_directory(dir)) continue;
        for (const auto& entry : fs::directory_iterator(dir)) {
            std::string name = entry.path().filename().string();
            double seconds = 0;
            if (name.rfind("depth_", 0) == 0 && entry.path().extension() == ".tif" && std::sscanf(name.c_str(), "depth_%lfs.tif", &seconds) == 1)
                out.emplace_back(seconds, entry.path());
        }
        if (!out.empty()) break;
    }
    std::sort(out.begin(), out.end());
    return out;
}

render::GridOverlay GridSeries::at(double t) const {
    if (frames.empty()) return {};
    if (t <= frames.front().first) return frames.front().second;
    if (t >= frames.back().first) return frames.back().second;
    auto next = std::upper_bound(frames.begin(), frames.end(), t, [](double x, const auto& f) { return x < f.first; });
    const auto& [t1, b] = *next;
    const auto& [t0, a] = *(next - 1);
    render::GridOverlay g = a;
    float w = float((t - t0) / (t1 - t0));
    if (a.values.size() == b.values.size())
        for (size_t i = 0; i < g.values.size(); ++i) g.values[i] = a.values[i] + (b.values[i] - a.values[i]) * w;
    return g;
}

GridSeries loadGridSeries(const std::vector<std::pair<double, fs::path>>& files, const CityModel& city) {
    GridSeries s;
    for (auto& [t, file] : files) s.frames.emplace_back(t, gridFromRaster(file, city));
    return s;
}

// ---------------------------------------------------------------------------------------------
// Traffic results (mobility/edges.csv, fcd.csv, trips.csv)

namespace {

// Calls row(fields, line) for every record of a CSV text after the header (RFC 4180: quoted
// fields, doubled quotes, line breaks inside quotes); header(fields) for the first.
template <class Header, class Row>
void forEachCsvRecord(const std::string& text, Header&& header, Row&& row) {
    std::vector<std::string> fields(1);
    size_t line = 1, recordLine = 1;
    bool quoted = false, first = true, any = false;
    auto endRecord = [&] {
        if (any) {
            if (first) header(fields);
            else if (!(fields.size() == 1 && fields[0].empty())) row(fields, recordLine);
            first = false;
        }
        fields.clear();
        fields.emplace_back();
        any = false;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (!any) recordLine = line, any = true;
        std::string& f = fields.back();
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') f += '"', ++i;
            else if (c == '"') quoted = false;
            else {
                if (c == '\n') ++line;
                f += c;
            }
        } else if (c == '"') quoted = true;
        else if (c == ',') fields.emplace_back();
        else if (c == '\n') {
            endRecord();
            ++line;
        } else if (c != '\r') f += c;
    }
    endRecord();
}

std::string readWholeFile(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError("cannot read file", file.string(), "does the run folder hold the mobility module's outputs?");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

size_t columnOf(const std::vector<std::string>& header, const char* name, const fs::path& file) {
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == name) return i;
    throw InputError(fmt::format("column '{}' missing", name), file.string(), "expected a file written by the mobility module");
}

// A number, NaN for an empty field; InputError naming the line for anything else.
double csvNumber(const std::string& s, const fs::path& file, size_t line) {
    if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
        throw InputError(fmt::format("'{}' is not a number", s), fmt::format("{}:{}", file.string(), line));
    return v;
}

fs::path mobilityFile(const fs::path& resultsDir, const char* name, bool variant) {
    std::vector<fs::path> candidates = variant ? std::vector<fs::path>{resultsDir / "variant" / "mobility" / name}
                                               : std::vector<fs::path>{resultsDir / "mobility" / name,
                                                                       resultsDir / "baseline" / "mobility" / name};
    for (const fs::path& f : candidates)
        if (fs::exists(f)) return f;
    return {};
}

} // namespace

int EdgeSeries::intervalAt(double t) const {
    if (beginS.empty() || !(t >= beginS.front()) || t > endS.back()) return -1;
    auto it = std::upper_bound(beginS.begin(), beginS.end(), t);
    int k = int(it - beginS.begin()) - 1;
    return t < endS[size_t(k)] || size_t(k) + 1 == endS.size() ? k : -1;
}

TrafficResults readEdgesCsv(const fs::path& file, size_t roadEdgeCount) {
    std::string text = readWholeFile(file);
    TrafficResults r;
    r.byRoadEdge.assign(roadEdgeCount, -1);
    enum { Id, Name, Begin, End, Entered, Flow, Speed, Density, TravelTime, Ratio, Count };
    static const char* names[Count] = {"edge_id",    "name",           "interval_begin_s", "interval_end_s", "entered",
                                       "flow_veh_h", "mean_speed_kmh", "density_veh_km",   "travel_time_s",  "speed_ratio"};
    std::array<size_t, Count> col{};
    size_t needed = 0;
    std::unordered_map<std::string, size_t> byId;
    forEachCsvRecord(
        text,
        [&](const std::vector<std::string>& header) {
            for (int c = 0; c < Count; ++c) col[size_t(c)] = columnOf(header, names[c], file);
            needed = *std::max_element(col.begin(), col.end()) + 1;
        },
        [&](const std::vector<std::string>& f, size_t line) {
            if (f.size() < needed)
                throw InputError(fmt::format("{} fields, expected {}", f.size(), needed), fmt::format("{}:{}", file.string(), line));
            auto [it, added] = byId.emplace(f[col[Id]], r.edges.size());
            if (added) {
                EdgeSeries e;
                e.id = f[col[Id]];
                e.name = f[col[Name]];
                unsigned long index = 0;
                auto [end, ec] = std::from_chars(e.id.data(), e.id.data() + e.id.size(), index);
                if (ec == std::errc() && end == e.id.data() + e.id.size() && !e.id.empty() && index < roadEdgeCount) {
                    e.roadEdge = uint32_t(index);
                    r.byRoadEdge[index] = int32_t(r.edges.size());
                }
                r.edges.push_back(std::move(e));
            }
            EdgeSeries& e = r.edges[it->second];
            auto num = [&](int c) { return csvNumber(f[col[size_t(c)]], file, line); };
            double begin = num(Begin), end = num(End);
            if (!std::isfinite(begin) || !std::isfinite(end) || end < begin || (!e.beginS.empty() && begin < e.beginS.back()))
                throw InputError("interval times missing or out of order", fmt::format("{}:{}", file.string(), line));
            e.beginS.push_back(begin);
            e.endS.push_back(end);
            e.entered.push_back(float(num(Entered)));
            e.flowVehH.push_back(float(num(Flow)));
            e.meanSpeedKmh.push_back(float(num(Speed)));
            e.densityVehKm.push_back(float(num(Density)));
            e.travelTimeS.push_back(float(num(TravelTime)));
            e.speedRatio.push_back(float(num(Ratio)));
        });
    if (needed == 0) throw InputError("empty file", file.string(), "expected a file written by the mobility module");
    return r;
}

TrafficResults readTrafficResults(const fs::path& resultsDir, const CityModel& city, bool variant) {
    if (resultsDir.empty()) return {};
    fs::path file = mobilityFile(resultsDir, "edges.csv", variant);
    return file.empty() ? TrafficResults{} : readEdgesCsv(file, city.roads.edgeCount());
}

render::ColorScale trafficScale() { return {render::ColorMap::Traffic, 1.0f, 0.3f, "Speed / speed limit", ""}; }

render::ValueOverlay roadRatioValues(const std::vector<float>& ratio, const RoadNetwork& roads) {
    render::ValueOverlay o;
    o.scale = trafficScale();
    o.values.assign(roads.edgeCount(), std::numeric_limits<float>::quiet_NaN());
    for (size_t e = 0; e < roads.edgeCount() && e < ratio.size(); ++e) {
        if (std::isnan(ratio[e])) continue;
        // The mesh names a two-way street's ribbon by its lower edge index.
        size_t ribbon = e < roads.reverse.size() && roads.reverse[e].valid() ? std::min<size_t>(e, roads.reverse[e].value) : e;
        float& v = o.values[ribbon];
        v = std::isnan(v) ? ratio[e] : std::min(v, ratio[e]);
    }
    return o;
}

render::ValueOverlay trafficRoadValues(const TrafficResults& results, const CityModel& city, double simTimeS) {
    std::vector<float> ratio(city.roads.edgeCount(), std::numeric_limits<float>::quiet_NaN());
    for (const EdgeSeries& e : results.edges) {
        if (e.roadEdge >= ratio.size()) continue;
        int k = e.intervalAt(simTimeS);
        if (k >= 0) ratio[e.roadEdge] = e.speedRatio[size_t(k)];
    }
    return roadRatioValues(ratio, city.roads);
}

double busiestTrafficTime(const TrafficResults& results) {
    std::map<std::pair<double, double>, double> entered; // (begin, end) → vehicles entering
    for (const EdgeSeries& e : results.edges)
        for (size_t k = 0; k < e.beginS.size(); ++k)
            if (std::isfinite(e.entered[k])) entered[{e.beginS[k], e.endS[k]}] += e.entered[k];
    double best = -1, at = 0;
    for (const auto& [interval, n] : entered)
        if (n > best) best = n, at = (interval.first + interval.second) / 2;
    return at;
}

std::vector<VehicleTracks::Sample> VehicleTracks::at(double t) const {
    std::vector<Sample> out;
    if (times.empty() || !(t >= times.front()) || t > times.back()) return out;
    size_t b = size_t(std::upper_bound(times.begin(), times.end(), t) - times.begin());
    if (b == times.size()) { // exactly the last sample
        out.assign(samples.begin() + frameStart[b - 1], samples.begin() + frameStart[b]);
        return out;
    }
    size_t a = b - 1;
    double w = (t - times[a]) / (times[b] - times[a]);
    auto i = samples.begin() + frameStart[a], iEnd = samples.begin() + frameStart[a + 1];
    auto j = samples.begin() + frameStart[b], jEnd = samples.begin() + frameStart[b + 1];
    // Both frames are sorted by vehicle: merge.
    while (i != iEnd || j != jEnd) {
        if (j == jEnd || (i != iEnd && i->vehicle < j->vehicle)) {
            if (w < 0.5) out.push_back(*i); // arrives before the next sample
            ++i;
        } else if (i == iEnd || j->vehicle < i->vehicle) {
            if (w >= 0.5) out.push_back(*j); // departed after the previous sample
            ++j;
        } else {
            Sample s = *i;
            s.x = float(i->x + (j->x - i->x) * w);
            s.y = float(i->y + (j->y - i->y) * w);
            s.speedMps = float(i->speedMps + (j->speedMps - i->speedMps) * w);
            out.push_back(s);
            ++i, ++j;
        }
    }
    return out;
}

VehicleTracks readFcdCsv(const fs::path& fcdCsv, const CityModel& city, const fs::path& tripsCsv) {
    VehicleTracks v;
    std::unordered_map<std::string, uint32_t> vehicleOf;
    struct Row {
        double t;
        uint32_t vehicle;
        float x, y, speed;
    };
    std::vector<Row> rows;
    {
        std::string text = readWholeFile(fcdCsv);
        size_t cTime = 0, cTrip = 0, cX = 0, cY = 0, cSpeed = 0, needed = 0;
        forEachCsvRecord(
            text,
            [&](const std::vector<std::string>& h) {
                cTime = columnOf(h, "time", fcdCsv), cTrip = columnOf(h, "trip", fcdCsv), cX = columnOf(h, "x", fcdCsv);
                cY = columnOf(h, "y", fcdCsv), cSpeed = columnOf(h, "speed", fcdCsv);
                needed = std::max({cTime, cTrip, cX, cY, cSpeed}) + 1;
            },
            [&](const std::vector<std::string>& f, size_t line) {
                if (f.size() < needed)
                    throw InputError(fmt::format("{} fields, expected {}", f.size(), needed), fmt::format("{}:{}", fcdCsv.string(), line));
                auto [it, added] = vehicleOf.emplace(f[cTrip], uint32_t(v.ids.size()));
                if (added) v.ids.push_back(f[cTrip]);
                Vec2 p = city.frame.toLocal(Vec2(csvNumber(f[cX], fcdCsv, line), csvNumber(f[cY], fcdCsv, line)));
                double t = csvNumber(f[cTime], fcdCsv, line);
                if (!std::isfinite(t) || !std::isfinite(p.x()) || !std::isfinite(p.y()))
                    throw InputError("time or position missing", fmt::format("{}:{}", fcdCsv.string(), line));
                rows.push_back({t, it->second, float(p.x()), float(p.y()), float(csvNumber(f[cSpeed], fcdCsv, line))});
            });
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.t < b.t || (a.t == b.t && a.vehicle < b.vehicle); });
    v.samples.reserve(rows.size());
    for (const Row& r : rows) {
        if (v.times.empty() || r.t != v.times.back()) {
            v.times.push_back(r.t);
            v.frameStart.push_back(uint32_t(v.samples.size()));
        }
        v.samples.push_back({r.vehicle, r.x, r.y, std::isfinite(r.speed) ? r.speed : 0.0f, 0.0f});
    }
    v.frameStart.push_back(uint32_t(v.samples.size()));
    // Headings: towards the next sample of the same vehicle; the last one and standing ones
    // keep the heading they had.
    std::vector<int64_t> last(v.ids.size(), -1);
    for (size_t k = 0; k < v.samples.size(); ++k) {
        VehicleTracks::Sample& s = v.samples[k];
        int64_t& prev = last[s.vehicle];
        if (prev >= 0) {
            VehicleTracks::Sample& p = v.samples[size_t(prev)];
            float dx = s.x - p.x, dy = s.y - p.y;
            if (dx * dx + dy * dy > 0.01f) p.headingRad = std::atan2(dy, dx);
            s.headingRad = p.headingRad;
        }
        prev = int64_t(k);
    }
    // Modes from trips.csv: bicycles are drawn smaller.
    v.bicycle.assign(v.ids.size(), 0);
    if (!tripsCsv.empty() && fs::exists(tripsCsv)) {
        std::string text = readWholeFile(tripsCsv);
        size_t cId = 0, cMode = 0;
        forEachCsvRecord(
            text,
            [&](const std::vector<std::string>& h) { cId = columnOf(h, "id", tripsCsv), cMode = columnOf(h, "mode", tripsCsv); },
            [&](const std::vector<std::string>& f, size_t) {
                if (f.size() <= std::max(cId, cMode)) return;
                auto it = vehicleOf.find(f[cId]);
                if (it != vehicleOf.end()) v.bicycle[it->second] = f[cMode] == "bicycle";
            });
    }
    return v;
}

VehicleTracks readVehicleTracks(const fs::path& resultsDir, const CityModel& city, bool variant) {
    if (resultsDir.empty()) return {};
    fs::path file = mobilityFile(resultsDir, "fcd.csv", variant);
    return file.empty() ? VehicleTracks{} : readFcdCsv(file, city, file.parent_path() / "trips.csv");
}

} // namespace ct::ui
