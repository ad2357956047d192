#include "ui/CityScene.h"

#include "core/Error.h"
#include "core/I18n.h"
#include "feeds/SensorStore.h"
#include "gis/Gdal.h"
#include "gis/RasterRead.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
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
        o.scale = {render::ColorMap::Viridis, 0, float(static_cast<int>(BuildingUse::Unknown)), "Use (residential ... other)", ""};
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
        out.push_back(std::move(m));
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
        throw InputError(fmt::format("unknown road attribute '{}'", attribute), "--color-roads-by", "use one of: speed, lanes");
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

} // namespace ct::ui
