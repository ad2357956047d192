#include "city/Import.h"

#include "city/Cache.h"
#include "core/Error.h"
#include "core/Progress.h"
#include "gis/CityGml.h"
#include "gis/Gdal.h"
#include "gis/RasterRead.h"
#include "gis/VectorRead.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <ogrsf_frmts.h>
#include <spdlog/spdlog.h>
#include <unordered_map>

namespace ct {

namespace fs = std::filesystem;
using gis::FeatureAttributes;
using gis::Ring;
using gis::Rings;

const std::map<std::string, std::vector<std::string>>& attributeRoles() {
    static const std::map<std::string, std::vector<std::string>> roles = {
        // buildings
        {"id", {"id", "gml_id", "osm_way_id", "osm_id", "gid", "fid", "oid", "objectid"}},
        {"height", {"height", "measuredHeight", "building:height", "hoehe", "gebaeudehoehe", "height_m"}},
        {"levels", {"building:levels", "levels", "storeysAboveGround", "geschosse", "anzahl_geschosse",
                    "anzahlDerOberirdischenGeschosse"}},
        {"use", {"use", "building", "function", "funktion", "gebaeudefunktion"}},
        {"year", {"year_built", "start_date", "building:start_date", "yearOfConstruction", "baujahr",
                  "construction_year"}},
        {"name", {"name"}},
        // roads
        {"road_class", {"highway", "fclass", "road_class"}},
        {"oneway", {"oneway"}},
        {"lanes", {"lanes"}},
        {"maxspeed", {"maxspeed", "max_speed"}},
        {"layer", {"layer"}},
        {"bridge", {"bridge"}},
        {"tunnel", {"tunnel"}},
        // water and land use
        {"waterway", {"waterway", "kind"}},
        {"water_kind", {"water", "kind", "natural", "waterway", "landuse"}},
        {"width", {"width"}},
        {"landuse", {"landuse", "leisure", "natural", "class", "fclass"}},
    };
    return roles;
}

std::vector<fs::path> CityConfig::files() const {
    std::vector<fs::path> out;
    if (!osm.empty()) out.push_back(osm);
    for (auto* sources : {&buildings, &roads, &water, &landuse})
        for (auto& s : *sources) out.push_back(s.path);
    for (auto& t : terrain) out.push_back(t);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

namespace {

thread_local bool g_lastFromCache = false;

enum class Kind { Buildings, Roads, Water, LandUse };
const char* kindName(Kind k) {
    switch (k) {
    case Kind::Buildings: return "buildings";
    case Kind::Roads: return "roads";
    case Kind::Water: return "water";
    case Kind::LandUse: return "landuse";
    }
    return "";
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Words that identify a layer of each kind when a file has several layers.
bool layerNameMatches(Kind kind, const std::string& layerName) {
    static const std::map<Kind, std::vector<std::string>> words = {
        {Kind::Buildings, {"building", "gebaeude", "gebäude", "bldg"}},
        {Kind::Roads, {"road", "street", "strasse", "straße", "highway", "verkehr"}},
        {Kind::Water, {"water", "gewaesser", "gewässer", "river", "fluss"}},
        {Kind::LandUse, {"landuse", "land_use", "nutzung", "landcover"}},
    };
    std::string n = lower(layerName);
    for (const auto& w : words.at(kind))
        if (n.find(w) != std::string::npos) return true;
    return false;
}

// OSM keeps everything in a few layers; these say which features belong to a kind.
bool osmFeatureIs(Kind kind, const FeatureAttributes& a, bool lineLayer) {
    switch (kind) {
    case Kind::Buildings: {
        auto b = a.get("building");
        return b && *b != "no";
    }
    case Kind::Roads: return a.get("highway").has_value();
    case Kind::Water: {
        if (lineLayer) return a.get("waterway").has_value();
        auto natural = a.get("natural"), waterway = a.get("waterway"), landuse = a.get("landuse");
        return (natural && *natural == "water") || (waterway && *waterway == "riverbank") ||
               a.get("water").has_value() ||
               (landuse && (*landuse == "reservoir" || *landuse == "basin"));
    }
    case Kind::LandUse: {
        if (a.get("building")) return false;
        if (auto l = a.get("landuse")) return *l != "reservoir" && *l != "basin";
        if (auto l = a.get("leisure"))
            return *l == "park" || *l == "garden" || *l == "playground" || *l == "pitch" ||
                   *l == "recreation_ground" || *l == "sports_centre";
        if (auto n = a.get("natural"))
            return *n == "wood" || *n == "scrub" || *n == "heath" || *n == "grassland" || *n == "wetland";
        return false;
    }
    }
    return false;
}

struct OpenLayer {
    Kind kind;
    std::shared_ptr<gis::VectorFile> file;
    OGRLayer* layer = nullptr;
    Crs crs;
    bool osm = false;
    bool lines = false; // OSM "lines" layer (for water: waterways)
    std::string where;
};

struct OpenCityGml {
    fs::path path;
    gis::CityGmlFile data;
};

class Importer {
public:
    Importer(const CityConfig& config, bool progress) : config(config), showProgress(progress) {}

    CityModel run();

private:
    void openSources();
    void openVector(Kind kind, const LayerSource& src);
    void chooseFrame();
    void importTerrain();
    void importBuildings(OpenLayer& l);
    void importCityGml(OpenCityGml& g);
    void importRoads(OpenLayer& l);
    void importWater(OpenLayer& l);
    void importLandUse(OpenLayer& l);
    void buildRoadGraph();

    // Attribute lookup with the scenario's mapping taking precedence.
    std::optional<std::string> attr(const FeatureAttributes& a, const std::string& role) const {
        if (auto it = config.attributes.find(role); it != config.attributes.end()) return a.get(it->second);
        return a.first(attributeRoles().at(role));
    }
    std::string featureId(OGRFeature& f, const FeatureAttributes& a) const {
        if (auto id = attr(a, "id")) return *id;
        return std::to_string(f.GetFID());
    }
    void skip(LayerReport& rep, const std::string& id, const std::string& reason) {
        // Group reasons by their text before any coordinates so counts are meaningful.
        std::string group = reason.substr(0, reason.find(" near ("));
        ++rep.skippedByReason[group];
        city.report.skips.push_back({rep.kind, rep.layer, id, reason});
    }
    LayerReport& newReport(const std::string& kind, const fs::path& src, const std::string& layer,
                           const Crs& crs) {
        LayerReport r;
        r.kind = kind;
        r.source = src.string();
        r.layer = layer;
        r.crs = crs.name();
        city.report.layers.push_back(std::move(r));
        return city.report.layers.back();
    }
    void checkMappedAttributes(const OpenLayer& l);
    // Reads every feature of the layer that belongs to `kind` (OSM filtered by tags), with the
    // layer's report, progress and feature id, and calls
    // fn(feature, attributes, id, report, reprojector).
    template <class F>
    void forEachFeature(OpenLayer& l, Kind kind, F&& fn);
    // Geometry in the local frame, or false after recording why the feature is skipped.
    bool localPolygons(const OGRGeometry* g, std::vector<Rings>& out, LayerReport& rep, const std::string& id,
                       const Reprojector& toWorking);
    bool localLines(const OGRGeometry* g, std::vector<Ring>& out, LayerReport& rep, const std::string& id,
                    const Reprojector& toWorking);
    // All rings usable, or false after recording the first problem.
    bool validPolygons(const std::vector<Rings>& polygons, LayerReport& rep, const std::string& id) {
        for (const auto& rings : polygons)
            for (const auto& r : rings)
                if (ringProblem(r)) {
                    skip(rep, id, worldProblem(r));
                    return false;
                }
        return true;
    }
    // The ring's problem with coordinates in the working CRS, as users see them in QGIS.
    std::string worldProblem(const Ring& local) const {
        Ring world(local);
        for (Vec2& p : world) p += city.frame.origin;
        return ringProblem(world).value_or("invalid ring");
    }
    void addBuilding(const std::string& id, std::vector<Rings>& polygons,
                     LayerReport& rep, std::optional<double> height, int levels,
                     const std::string& use, std::optional<int> year, const std::string& name,
                     std::vector<std::pair<std::string, std::string>>&& attributes);

    const CityConfig& config;
    bool showProgress;
    CityModel city;
    Crs assumed;
    std::vector<OpenLayer> layers;
    std::vector<OpenCityGml> cityGml;

    // Road ways before graph building.
    struct Way {
        std::vector<Vec2> points;
        RoadClass cls;
        int layer;
        int oneway; // +1 forward only, -1 backward only, 0 both
        int lanesForward, lanesBackward;
        float speedMps;
        uint8_t flags;
    };
    std::vector<Way> ways;
};

CityModel Importer::run() {
    if (config.empty())
        throw InputError("no city data given", "city:",
                         "set city.osm, or city.buildings / roads / terrain / water / landuse");
    if (!config.assumeCrs.empty()) assumed = Crs::fromUserString(config.assumeCrs);
    openSources();
    chooseFrame();
    importTerrain();
    for (auto& l : layers) {
        switch (l.kind) {
        case Kind::Buildings: importBuildings(l); break;
        case Kind::Roads: importRoads(l); break;
        case Kind::Water: importWater(l); break;
        case Kind::LandUse: importLandUse(l); break;
        }
    }
    for (auto& g : cityGml) importCityGml(g);
    buildRoadGraph();
    return std::move(city);
}

void Importer::openVector(Kind kind, const LayerSource& src) {
    if (kind == Kind::Buildings && gis::isCityGml(src.path)) {
        OpenCityGml g{src.path, gis::readCityGml(src.path)};
        if (g.data.crs.empty()) {
            if (assumed.empty())
                throw InputError("CityGML srsName '" + g.data.srsName + "' is not a known CRS",
                                 src.path.string(), "set city.assume_crs, e.g. EPSG:25832");
            g.data.crs = assumed;
        }
        cityGml.push_back(std::move(g));
        return;
    }
    auto file = std::make_shared<gis::VectorFile>(src.path);
    std::vector<OGRLayer*> chosen;
    bool osm = file->isOsm();
    if (!src.layer.empty()) {
        chosen.push_back(&file->layer(src.layer));
    } else if (osm) {
        if (kind == Kind::Roads) chosen.push_back(&file->layer("lines"));
        else if (kind == Kind::Water) {
            chosen.push_back(&file->layer("multipolygons"));
            chosen.push_back(&file->layer("lines"));
        } else chosen.push_back(&file->layer("multipolygons"));
    } else if (file->layerCount() == 1) {
        chosen.push_back(&file->layer(0));
    } else {
        for (int i = 0; i < file->layerCount(); ++i)
            if (layerNameMatches(kind, file->layer(i).GetName())) chosen.push_back(&file->layer(i));
        if (chosen.empty())
            throw InputError(fmt::format("file has {} layers and none looks like {}", file->layerCount(),
                                         kindName(kind)),
                             src.path.string(),
                             fmt::format("name one with city.{}.layer; layers: {}", kindName(kind),
                                         fmt::join(file->layerNames(), ", ")));
    }
    for (OGRLayer* layer : chosen) {
        OpenLayer l;
        l.kind = kind;
        l.file = file;
        l.layer = layer;
        l.osm = osm;
        l.lines = osm && std::string(layer->GetName()) == "lines";
        l.where = src.where;
        l.crs = gis::layerCrs(*layer, src.path.string(), &assumed);
        if (!src.where.empty() && layer->SetAttributeFilter(src.where.c_str()) != OGRERR_NONE)
            throw InputError("invalid attribute filter '" + src.where + "': " + gis::lastGdalError(),
                             src.path.string() + " layer " + layer->GetName(),
                             "use OGR SQL, e.g. \"building IS NOT NULL\"");
        if (!osm) checkMappedAttributes(l);
        layers.push_back(std::move(l));
    }
}

// A mapped attribute that is not a field of the layer is a typo, not missing data.
void Importer::checkMappedAttributes(const OpenLayer& l) {
    static const std::map<Kind, std::vector<std::string>> rolesOf = {
        {Kind::Buildings, {"id", "height", "levels", "use", "year", "name"}},
        {Kind::Roads, {"road_class", "oneway", "lanes", "maxspeed", "layer", "bridge", "tunnel"}},
        {Kind::Water, {"waterway", "water_kind", "width"}},
        {Kind::LandUse, {"landuse"}},
    };
    OGRFeatureDefn* defn = l.layer->GetLayerDefn();
    for (const auto& role : rolesOf.at(l.kind)) {
        auto it = config.attributes.find(role);
        if (it == config.attributes.end() || defn->GetFieldIndex(it->second.c_str()) >= 0) continue;
        std::vector<std::string> fields;
        for (int i = 0; i < defn->GetFieldCount(); ++i) fields.push_back(defn->GetFieldDefn(i)->GetNameRef());
        throw InputError(fmt::format("attribute '{}' (mapped as {}) is not a field of layer '{}'",
                                     it->second, role, l.layer->GetName()),
                         l.file->path().string(),
                         fmt::format("fields: {}", fmt::join(fields, ", ")));
    }
}

void Importer::openSources() {
    if (!config.osm.empty()) {
        LayerSource s{config.osm, "", ""};
        // The OSM file supplies each kind that has no source of its own.
        if (config.buildings.empty()) openVector(Kind::Buildings, s);
        if (config.roads.empty()) openVector(Kind::Roads, s);
        if (config.water.empty()) openVector(Kind::Water, s);
        if (config.landuse.empty()) openVector(Kind::LandUse, s);
    }
    for (const auto& b : config.buildings) openVector(Kind::Buildings, b);
    for (const auto& r : config.roads) openVector(Kind::Roads, r);
    for (const auto& w : config.water) openVector(Kind::Water, w);
    for (const auto& l : config.landuse) openVector(Kind::LandUse, l);
}

void Importer::chooseFrame() {
    // The data's extent in WGS 84 decides the UTM zone; then the local origin is its centre.
    Crs wgs84 = Crs::fromEpsg(4326);
    Box2 geo;
    for (auto& l : layers) geo.extend(gis::layerExtent(*l.layer, l.crs, wgs84));
    for (auto& g : cityGml) {
        Box2 b;
        for (auto& bld : g.data.buildings)
            for (auto& p : bld.ground)
                for (auto& v : p.rings.front()) b.extend(Vec2(v.x(), v.y()));
        if (!b.empty()) {
            Reprojector r(g.data.crs, wgs84);
            geo.extend(r.apply(b.min));
            geo.extend(r.apply(b.max));
        }
    }
    for (const auto& t : config.terrain) {
        auto info = gis::rasterInfo(t);
        Crs crs = info.crs.empty() ? assumed : info.crs;
        if (crs.empty())
            throw InputError("terrain has no coordinate system", t.string(),
                             "set city.assume_crs (e.g. EPSG:25832) or pass --assume-crs");
        Reprojector r(crs, wgs84);
        double xs[2] = {info.bounds[0], info.bounds[2]}, ys[2] = {info.bounds[1], info.bounds[3]};
        if (r.apply(xs, ys, 2))
            for (int i = 0; i < 2; ++i) geo.extend(Vec2(xs[i], ys[i]));
    }
    if (geo.empty())
        throw InputError("the city data is empty (no features, no terrain)", "city:",
                         "check the layers and filters");
    Vec2 c = geo.center();
    city.frame.crs = config.crs.empty() ? workingCrsFor(c.x(), c.y()) : Crs::fromUserString(config.crs);
    if (!city.frame.crs.isProjected())
        throw InputError("working CRS " + city.frame.crs.name() + " is not projected (metres)",
                         "city.crs", "use a projected CRS such as EPSG:25832");
    Vec2 originWorld = Reprojector(wgs84, city.frame.crs).apply(c);
    city.frame.origin = Vec2(std::round(originWorld.x() / 100) * 100, std::round(originWorld.y() / 100) * 100);
}

void Importer::importTerrain() {
    if (config.terrain.empty()) return;
    Progress progress("terrain", showProgress);
    gis::RasterGrid grid = gis::readRaster(config.terrain, &assumed, city.frame.crs);
    if (std::abs(grid.cellX - grid.cellY) > 1e-6 * grid.cellX)
        throw InputError(fmt::format("terrain cells are not square ({} × {} m)", grid.cellX, grid.cellY),
                         config.terrain.front().string(), "resample with gdalwarp -tr SIZE SIZE");
    LayerReport& rep = newReport("terrain", config.terrain.front(),
                                 fmt::format("{} tile(s)", config.terrain.size()), city.frame.crs);
    Terrain& t = city.terrain;
    t.width = grid.width;
    t.height = grid.height;
    t.cellSize = grid.cellX;
    t.originX = grid.originX - city.frame.origin.x();
    t.originY = grid.originY - city.frame.origin.y();
    t.heightM = std::move(grid.values);
    t.nodataCells = grid.nodataCells;
    rep.read = static_cast<size_t>(t.width) * t.height;
    rep.imported = rep.read - t.nodataCells;
    if (t.nodataCells) rep.skippedByReason["nodata cells"] = t.nodataCells;
    if (t.nodataCells == rep.read)
        throw InputError("terrain has no valid cells (all nodata)", config.terrain.front().string());
    progress.finish(fmt::format("{} × {} cells at {:.2f} m", t.width, t.height, t.cellSize));
}

void Importer::addBuilding(const std::string& id, std::vector<Rings>& polygons,
                           LayerReport& rep, std::optional<double> height, int levels,
                           const std::string& use, std::optional<int> year, const std::string& name,
                           std::vector<std::pair<std::string, std::string>>&& attributes) {
    Buildings& b = city.buildings;
    // A footprint part with a broken ring (sliver, self-intersection) is dropped; the building
    // is skipped only when no valid part is left.
    std::optional<std::string> firstProblem;
    std::erase_if(polygons, [&](const Rings& rings) {
        for (size_t k = 0; k < rings.size(); ++k)
            if (auto problem = ringProblem(rings[k])) {
                if (!firstProblem) firstProblem = (k == 0 ? "" : "hole: ") + worldProblem(rings[k]);
                return true;
            }
        return false;
    });
    if (polygons.empty()) {
        skip(rep, id, *firstProblem);
        return;
    }
    if (firstProblem) ++rep.defaultsUsed["invalid footprint part dropped, rest kept"];
    if (levels < 0 || levels > 200) {
        ++rep.defaultsUsed["levels out of range (0-200) ignored"];
        levels = 0;
    }
    HeightSource source = HeightSource::Attribute;
    if (height && (!std::isfinite(*height) || *height <= 0 || *height > config.maxHeightM)) {
        ++rep.defaultsUsed[fmt::format("height out of range (0-{} m) replaced", config.maxHeightM)];
        height.reset();
    }
    if (!height) {
        if (levels > 0) {
            height = levels * config.storeyHeightM;
            source = HeightSource::Levels;
            ++rep.defaultsUsed[fmt::format("height from levels × {} m", config.storeyHeightM)];
        } else {
            height = config.defaultHeightM;
            source = HeightSource::Default;
            ++rep.defaultsUsed[fmt::format("default height {} m", config.defaultHeightM)];
        }
    }
    float ground = NAN;
    for (auto& rings : polygons) {
        b.footprints.add(rings);
        size_t p = b.footprints.size() - 1;
        if (!city.terrain.empty()) {
            auto samplePoint = [&](const Vec2& q) {
                float h = city.terrain.heightAt(q);
                if (std::isfinite(h)) ground = std::isfinite(ground) ? std::min(ground, h) : h;
            };
            for (const Vec2& q : b.footprints.ring(p, 0)) samplePoint(q);
            samplePoint(b.footprints.centroid(p));
        }
    }
    size_t row = b.size();
    b.partStart.push_back(static_cast<uint32_t>(b.footprints.size()));
    b.sourceId.push_back(id);
    b.name.push_back(name);
    b.heightM.push_back(static_cast<float>(*height));
    b.groundM.push_back(ground);
    b.levels.push_back(static_cast<uint16_t>(levels));
    b.use.push_back(parseBuildingUse(use));
    b.yearBuilt.push_back(static_cast<int16_t>(year && *year > 0 && *year < 3000 ? *year : 0));
    b.heightSource.push_back(source);
    b.roofStart.push_back(b.roofStart.back());
    b.attributes.addRow(attributes, row);
    ++rep.imported;
}

template <class F>
void Importer::forEachFeature(OpenLayer& l, Kind kind, F&& fn) {
    LayerReport& rep = newReport(kindName(kind), l.file->path(), l.layer->GetName(), l.crs);
    Reprojector toWorking(l.crs, city.frame.crs);
    Progress progress(kindName(kind), showProgress);
    const double total = std::max<GIntBig>(1, l.layer->GetFeatureCount(FALSE));
    l.layer->ResetReading();
    for (auto& fp : *l.layer) {
        OGRFeature& f = *fp;
        FeatureAttributes a(f);
        if (l.osm && !osmFeatureIs(kind, a, l.lines)) continue;
        ++rep.read;
        if (rep.read % 4096 == 0) progress.update(rep.read / total);
        fn(f, a, featureId(f, a), rep, toWorking);
    }
    progress.finish(fmt::format("{} imported, {} skipped", rep.imported, rep.skipped()));
}

bool Importer::localPolygons(const OGRGeometry* g, std::vector<Rings>& out, LayerReport& rep,
                             const std::string& id, const Reprojector& toWorking) {
    out.clear();
    if (auto problem = gis::extractPolygons(g, out)) {
        skip(rep, id, *problem);
        return false;
    }
    for (auto& rings : out)
        if (!gis::toLocal(rings, toWorking, city.frame.origin)) {
            skip(rep, id, "coordinates cannot be transformed to " + city.frame.crs.name());
            return false;
        }
    return true;
}

bool Importer::localLines(const OGRGeometry* g, std::vector<Ring>& out, LayerReport& rep, const std::string& id,
                          const Reprojector& toWorking) {
    out.clear();
    if (auto problem = gis::extractLines(g, out)) {
        skip(rep, id, *problem);
        return false;
    }
    if (!gis::toLocal(out, toWorking, city.frame.origin)) {
        skip(rep, id, "coordinates cannot be transformed to " + city.frame.crs.name());
        return false;
    }
    return true;
}

static std::vector<std::pair<std::string, std::string>> allFields(OGRFeature& f) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < f.GetFieldCount(); ++i)
        if (f.IsFieldSetAndNotNull(i))
            out.emplace_back(f.GetFieldDefnRef(i)->GetNameRef(), f.GetFieldAsString(i));
    return out;
}

void Importer::importBuildings(OpenLayer& l) {
    std::vector<Rings> polygons;
    forEachFeature(l, Kind::Buildings, [&](OGRFeature& f, const FeatureAttributes& a, const std::string& id,
                                           LayerReport& rep, const Reprojector& toWorking) {
        if (!localPolygons(f.GetGeometryRef(), polygons, rep, id, toWorking)) return;
        std::optional<double> height;
        int levels = 0; // unknown
        if (auto h = attr(a, "height")) {
            height = gis::parseLength(*h);
            if (!height) ++rep.defaultsUsed["unreadable height '" + h->substr(0, 20) + "' ignored"];
        }
        if (auto lv = attr(a, "levels"))
            if (auto v = gis::parseLength(*lv)) levels = static_cast<int>(std::lround(*v));
        std::optional<int> year;
        if (auto y = attr(a, "year")) year = gis::parseYear(*y);
        addBuilding(id, polygons, rep, height, levels, attr(a, "use").value_or(""), year,
                    attr(a, "name").value_or(""), allFields(f));
    });
}

void Importer::importCityGml(OpenCityGml& g) {
    LayerReport& rep = newReport("buildings", g.path, "Building (CityGML)", g.data.crs);
    Reprojector toWorking(g.data.crs, city.frame.crs);
    Buildings& b = city.buildings;
    for (auto& bld : g.data.buildings) {
        ++rep.read;
        if (bld.ground.empty()) {
            skip(rep, bld.id, "no footprint (no GroundSurface or LoD1 solid)");
            continue;
        }
        std::vector<Rings> polygons;
        for (auto& poly : bld.ground) {
            Rings rings;
            for (auto& r3 : poly.rings) {
                Ring r;
                for (auto& v : r3) r.emplace_back(v.x(), v.y());
                rings.push_back(std::move(r));
            }
            polygons.push_back(std::move(rings));
        }
        bool ok = true;
        for (auto& rings : polygons) ok = ok && gis::toLocal(rings, toWorking, city.frame.origin);
        if (!ok) {
            skip(rep, bld.id, "coordinates cannot be transformed");
            continue;
        }
        std::vector<std::pair<std::string, std::string>> attrs = {
            {"gml_id", bld.id}, {"function", bld.function}, {"roofType", bld.roofType}};
        if (bld.measuredHeight) attrs.emplace_back("measuredHeight", fmt::format("{}", *bld.measuredHeight));
        size_t before = b.size();
        addBuilding(bld.id, polygons, rep, bld.measuredHeight, bld.storeys.value_or(0), bld.function,
                    bld.yearOfConstruction, "", std::move(attrs));
        if (b.size() == before) continue;
        // LoD2 roofs kept as they are (x, y to local; z absolute).
        for (auto& roof : bld.roofs) {
            for (auto& r3 : roof.rings) {
                std::vector<double> xs, ys;
                for (auto& v : r3) {
                    xs.push_back(v.x());
                    ys.push_back(v.y());
                }
                toWorking.apply(xs.data(), ys.data(), xs.size());
                for (size_t i = 0; i < r3.size(); ++i)
                    b.roofPoints.emplace_back(xs[i] - city.frame.origin.x(), ys[i] - city.frame.origin.y(), r3[i].z());
                b.roofRingStart.push_back(static_cast<uint32_t>(b.roofPoints.size()));
                break; // outer ring only: roof holes are rare in LoD2 and not drawn
            }
        }
        b.roofStart.back() = static_cast<uint32_t>(b.roofRingStart.size() - 1);
    }
}

struct RoadDefaults {
    float speedKmh;
    int lanesPerDirection;
};

RoadDefaults roadDefaults(RoadClass c) {
    switch (c) {
    case RoadClass::Motorway: return {130, 2};
    case RoadClass::Trunk: return {100, 2};
    case RoadClass::Primary:
    case RoadClass::Secondary:
    case RoadClass::Tertiary:
    case RoadClass::Unclassified:
    case RoadClass::Residential: return {50, 1};
    case RoadClass::LivingStreet: return {7, 1};
    case RoadClass::Service: return {20, 1};
    case RoadClass::Track: return {30, 1};
    case RoadClass::Cycleway: return {20, 1};
    case RoadClass::Path: return {10, 1};
    case RoadClass::Footway:
    case RoadClass::Pedestrian: return {5, 1};
    case RoadClass::Steps: return {3, 1};
    case RoadClass::Other: return {30, 1};
    }
    return {30, 1};
}

// highway=* value -> class; nullopt for things that are not (yet) roads.
std::optional<RoadClass> parseRoadClass(std::string v, bool& link) {
    v = lower(v);
    link = v.size() > 5 && v.substr(v.size() - 5) == "_link";
    if (link) v = v.substr(0, v.size() - 5);
    static const std::unordered_map<std::string, RoadClass> classes = {
        {"motorway", RoadClass::Motorway}, {"trunk", RoadClass::Trunk},
        {"primary", RoadClass::Primary}, {"secondary", RoadClass::Secondary},
        {"tertiary", RoadClass::Tertiary}, {"unclassified", RoadClass::Unclassified},
        {"road", RoadClass::Unclassified}, {"residential", RoadClass::Residential},
        {"living_street", RoadClass::LivingStreet}, {"service", RoadClass::Service},
        {"track", RoadClass::Track}, {"cycleway", RoadClass::Cycleway},
        {"footway", RoadClass::Footway}, {"path", RoadClass::Path},
        {"bridleway", RoadClass::Path}, {"pedestrian", RoadClass::Pedestrian},
        {"steps", RoadClass::Steps}, {"busway", RoadClass::Service},
    };
    auto it = classes.find(v);
    if (it == classes.end()) return std::nullopt;
    return it->second;
}

// "50", "30 mph", "DE:urban", "DE:zone30", "walk", "none" -> km/h
std::optional<float> parseMaxspeed(std::string v) {
    v = lower(v);
    static const std::unordered_map<std::string, float> implicit = {
        {"de:urban", 50}, {"de:rural", 100}, {"de:motorway", 130}, {"de:zone30", 30},
        {"de:zone:30", 30}, {"de:zone20", 20}, {"de:zone:20", 20}, {"de:living_street", 7},
        {"de:bicycle_road", 30}, {"walk", 7}, {"none", 130}, {"signals", 130}};
    if (auto it = implicit.find(v); it != implicit.end()) return it->second;
    char* end = nullptr;
    float speed = std::strtof(v.c_str(), &end);
    if (end == v.c_str()) return std::nullopt;
    if (std::string(end).find("mph") != std::string::npos) speed *= 1.609344f;
    return speed;
}

bool truthy(const std::optional<std::string>& v) {
    if (!v) return false;
    std::string s = lower(*v);
    return s != "no" && s != "false" && s != "0";
}

void Importer::importRoads(OpenLayer& l) {
    std::vector<Ring> lines;
    forEachFeature(l, Kind::Roads, [&](OGRFeature& f, const FeatureAttributes& a, const std::string& id,
                                       LayerReport& rep, const Reprojector& toWorking) {
        bool link = false;
        RoadClass cls = RoadClass::Unclassified;
        if (auto c = attr(a, "road_class")) {
            auto parsed = parseRoadClass(*c, link);
            if (!parsed) {
                skip(rep, id, "not a road for traffic (highway=" + *c + ")");
                return;
            }
            cls = *parsed;
        } else {
            ++rep.defaultsUsed["no road class, used unclassified"];
        }
        if (!localLines(f.GetGeometryRef(), lines, rep, id, toWorking)) return;
        RoadDefaults def = roadDefaults(cls);
        Way w;
        w.cls = cls;
        w.flags = 0;
        if (truthy(attr(a, "bridge"))) w.flags |= RoadNetwork::Bridge;
        if (truthy(attr(a, "tunnel"))) w.flags |= RoadNetwork::Tunnel;
        auto junction = a.get("junction");
        if (junction && (*junction == "roundabout" || *junction == "circular")) w.flags |= RoadNetwork::Roundabout;
        w.layer = (w.flags & RoadNetwork::Bridge) ? 1 : (w.flags & RoadNetwork::Tunnel) ? -1 : 0;
        if (auto lv = attr(a, "layer"))
            if (auto v = gis::parseLength(*lv)) w.layer = static_cast<int>(std::lround(*v));
        // One-way: explicit tag, else implied by motorways and roundabouts (OSM convention).
        w.oneway = (cls == RoadClass::Motorway || (w.flags & RoadNetwork::Roundabout)) ? 1 : 0;
        if (auto ow = attr(a, "oneway")) {
            std::string s = lower(*ow);
            if (s == "yes" || s == "true" || s == "1") w.oneway = 1;
            else if (s == "-1" || s == "reverse") w.oneway = -1;
            else if (s == "no" || s == "false" || s == "0") w.oneway = 0;
        }
        float speedKmh = link ? std::min(def.speedKmh, 80.0f) : def.speedKmh;
        if (auto ms = attr(a, "maxspeed")) {
            auto v = parseMaxspeed(*ms);
            if (v && *v > 0 && *v <= 300) speedKmh = *v;
            else ++rep.defaultsUsed["maxspeed unreadable or out of range (0-300 km/h), class default used"];
        }
        w.speedMps = speedKmh / 3.6f;
        int lanesTotal = 0;
        if (auto ln = attr(a, "lanes")) {
            auto v = gis::parseLength(*ln);
            if (v && *v >= 1 && *v <= 16) lanesTotal = static_cast<int>(std::lround(*v));
            else ++rep.defaultsUsed["lanes unreadable or out of range (1-16), class default used"];
        }
        if (w.oneway != 0) {
            w.lanesForward = w.lanesBackward = lanesTotal ? lanesTotal : (link ? 1 : def.lanesPerDirection);
        } else {
            w.lanesForward = lanesTotal ? std::max(1, (lanesTotal + 1) / 2) : def.lanesPerDirection;
            w.lanesBackward = lanesTotal ? std::max(1, lanesTotal / 2) : def.lanesPerDirection;
        }
        if (auto fwd = a.get("lanes:forward"))
            if (auto v = gis::parseLength(*fwd); v && *v >= 1 && *v <= 8) w.lanesForward = static_cast<int>(*v);
        if (auto bwd = a.get("lanes:backward"))
            if (auto v = gis::parseLength(*bwd); v && *v >= 1 && *v <= 8) w.lanesBackward = static_cast<int>(*v);
        bool any = false;
        for (auto& line : lines) {
            // Drop repeated points; a line with no length left is broken geometry.
            Ring clean;
            for (const Vec2& p : line)
                if (clean.empty() || (p - clean.back()).squaredNorm() > 1e-6) clean.push_back(p);
            if (clean.size() < 2) continue;
            Way part = w;
            part.points = std::move(clean);
            ways.push_back(std::move(part));
            city.roads.wayId.push_back(id);
            city.roads.wayName.push_back(attr(a, "name").value_or(""));
            any = true;
        }
        if (!any) {
            skip(rep, id, "zero-length line");
            return;
        }
        ++rep.imported;
    });
}

// Splits ways at junctions and builds the directed graph. Two ways meet at a vertex they share
// (to 1 cm) when they are on the same level (OSM layer), or when either ends there: so a bridge
// crossing a street without a shared vertex, or with one on another layer, is no junction,
// while a bridge's own ramps still connect.
void Importer::buildRoadGraph() {
    RoadNetwork& net = city.roads;
    struct Occurrence {
        int64_t kx, ky;
        uint32_t way, vertex;
    };
    std::vector<Occurrence> occ;
    for (uint32_t w = 0; w < ways.size(); ++w)
        for (uint32_t v = 0; v < ways[w].points.size(); ++v) {
            const Vec2& p = ways[w].points[v];
            occ.push_back({std::llround(p.x() * 100), std::llround(p.y() * 100), w, v});
        }
    std::sort(occ.begin(), occ.end(), [](const Occurrence& a, const Occurrence& b) {
        return std::tie(a.kx, a.ky, a.way, a.vertex) < std::tie(b.kx, b.ky, b.way, b.vertex);
    });
    // nodeOf[w][v]: node at that vertex, or invalid if the way just passes through.
    std::vector<std::vector<NodeId>> nodeOf(ways.size());
    for (uint32_t w = 0; w < ways.size(); ++w) nodeOf[w].assign(ways[w].points.size(), NodeId());
    auto isEnd = [&](const Occurrence& o) {
        return o.vertex == 0 || o.vertex + 1 == ways[o.way].points.size();
    };
    std::vector<int> parent;
    for (size_t i = 0; i < occ.size();) {
        size_t j = i;
        while (j < occ.size() && occ[j].kx == occ[i].kx && occ[j].ky == occ[i].ky) ++j;
        const size_t n = j - i;
        parent.resize(n);
        std::iota(parent.begin(), parent.end(), 0);
        std::function<int(int)> find = [&](int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); };
        for (size_t a = 0; a < n; ++a)
            for (size_t b = a + 1; b < n; ++b) {
                const Occurrence &oa = occ[i + a], &ob = occ[i + b];
                if (ways[oa.way].layer == ways[ob.way].layer || isEnd(oa) || isEnd(ob))
                    parent[find(static_cast<int>(a))] = find(static_cast<int>(b));
            }
        std::vector<int> members(n, 0);
        for (size_t a = 0; a < n; ++a) ++members[find(static_cast<int>(a))];
        std::vector<NodeId> nodeOfRoot(n);
        for (size_t a = 0; a < n; ++a) {
            const Occurrence& o = occ[i + a];
            int root = find(static_cast<int>(a));
            if (members[root] < 2 && !isEnd(o)) continue; // a plain shape point
            if (!nodeOfRoot[root].valid()) {
                nodeOfRoot[root] = NodeId(static_cast<uint32_t>(net.nodePos.size()));
                net.nodePos.push_back(ways[o.way].points[o.vertex]);
            }
            nodeOf[o.way][o.vertex] = nodeOfRoot[root];
        }
        i = j;
    }
    // Split each way at its nodes into edges.
    for (uint32_t w = 0; w < ways.size(); ++w) {
        const Way& way = ways[w];
        size_t start = 0;
        for (size_t v = 1; v < way.points.size(); ++v) {
            if (!nodeOf[w][v].valid()) continue;
            std::vector<Vec2> shape(way.points.begin() + static_cast<long>(start),
                                    way.points.begin() + static_cast<long>(v) + 1);
            NodeId a = nodeOf[w][start], b = nodeOf[w][v];
            start = v;
            double len = length(shape);
            if (len < 0.01) continue;
            auto addEdge = [&](NodeId f, NodeId t, bool reversed, int lanes) {
                EdgeId e(static_cast<uint32_t>(net.from.size()));
                net.from.push_back(f);
                net.to.push_back(t);
                if (reversed) net.shapePoints.insert(net.shapePoints.end(), shape.rbegin(), shape.rend());
                else net.shapePoints.insert(net.shapePoints.end(), shape.begin(), shape.end());
                net.shapeStart.push_back(static_cast<uint32_t>(net.shapePoints.size()));
                net.lengthM.push_back(static_cast<float>(len));
                net.speedMps.push_back(way.speedMps);
                net.lanes.push_back(static_cast<uint8_t>(lanes));
                net.roadClass.push_back(way.cls);
                net.layer.push_back(static_cast<int8_t>(way.layer));
                net.flags.push_back(way.flags);
                net.reverse.push_back(EdgeId());
                net.way.push_back(w);
                return e;
            };
            EdgeId fwd, bwd;
            if (way.oneway >= 0) fwd = addEdge(a, b, false, way.lanesForward);
            if (way.oneway <= 0) bwd = addEdge(b, a, true, way.lanesBackward);
            if (fwd.valid() && bwd.valid()) {
                net.reverse[fwd.value] = bwd;
                net.reverse[bwd.value] = fwd;
            }
        }
    }
    net.buildAdjacency();
}

void Importer::importWater(OpenLayer& l) {
    Water& water = city.water;
    std::vector<Rings> polygons;
    std::vector<Ring> lines;
    forEachFeature(l, Kind::Water, [&](OGRFeature& f, const FeatureAttributes& a, const std::string& id,
                                       LayerReport& rep, const Reprojector& toWorking) {
        const OGRGeometry* g = f.GetGeometryRef();
        auto type = g ? wkbFlatten(g->getGeometryType()) : wkbUnknown;
        bool isLine = type == wkbLineString || type == wkbMultiLineString || type == wkbCircularString ||
                      type == wkbCompoundCurve || type == wkbMultiCurve;
        std::string name = attr(a, "name").value_or("");
        if (isLine) {
            if (!localLines(g, lines, rep, id, toWorking)) return;
            std::string kind = lower(attr(a, "waterway").value_or("stream"));
            float width = kind == "river" ? 10.f : kind == "canal" ? 8.f : kind == "stream" ? 3.f : 1.5f;
            if (auto wv = attr(a, "width")) {
                auto v = gis::parseLength(*wv);
                if (v && *v > 0 && *v < 5000) width = static_cast<float>(*v);
            }
            for (auto& line : lines) {
                if (line.size() < 2 || length(line) < 0.01) continue;
                water.linePoints.insert(water.linePoints.end(), line.begin(), line.end());
                water.lineStart.push_back(static_cast<uint32_t>(water.linePoints.size()));
                water.lineKind.push_back(kind);
                water.lineName.push_back(name);
                water.lineWidthM.push_back(width);
            }
            ++rep.imported;
            return;
        }
        if (!localPolygons(g, polygons, rep, id, toWorking) || !validPolygons(polygons, rep, id)) return;
        std::string kind = lower(attr(a, "water_kind").value_or("water"));
        if (kind == "riverbank") kind = "river";
        for (auto& rings : polygons) {
            water.areas.add(rings);
            water.areaKind.push_back(kind);
            water.areaName.push_back(name);
        }
        ++rep.imported;
    });
}

void Importer::importLandUse(OpenLayer& l) {
    LandUse& lu = city.landuse;
    std::vector<Rings> polygons;
    forEachFeature(l, Kind::LandUse, [&](OGRFeature& f, const FeatureAttributes& a, const std::string& id,
                                         LayerReport& rep, const Reprojector& toWorking) {
        if (!localPolygons(f.GetGeometryRef(), polygons, rep, id, toWorking) || !validPolygons(polygons, rep, id))
            return;
        std::string source = attr(a, "landuse").value_or("");
        const LandUseClassInfo& cls = landUseClass(source);
        if (std::string(cls.name) == "other" && lower(source) != "other")
            ++rep.defaultsUsed["unknown land-use class '" + source + "' treated as other"];
        for (auto& rings : polygons) {
            lu.areas.add(rings);
            lu.className.push_back(cls.name);
            lu.sourceClass.push_back(source);
            lu.imperviousness.push_back(cls.imperviousness);
            lu.manningN.push_back(cls.manningN);
        }
        ++rep.imported;
    });
}

} // namespace

CityModel importCity(const CityConfig& config, const ImportOptions& options) {
    g_lastFromCache = false;
    fs::path cacheFile;
    if (!options.cacheDir.empty()) {
        cacheFile = options.cacheDir / (cacheKey(config) + ".ctcity");
        if (auto cached = loadCityCache(cacheFile)) {
            g_lastFromCache = true;
            spdlog::debug("city loaded from cache {}", cacheFile.string());
            return std::move(*cached);
        }
    }
    CityModel city = Importer(config, options.progress).run();
    if (!cacheFile.empty()) {
        try {
            saveCityCache(city, cacheFile);
        } catch (const std::exception& e) {
            spdlog::warn("could not write the import cache: {}", e.what());
        }
    }
    return city;
}

bool lastImportFromCache() { return g_lastFromCache; }

namespace {
// Which kind of city layer a GIS layer is, from its name, else its geometry.
std::string layerKind(OGRLayer& layer) {
    std::string n = layer.GetName();
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto has = [&](std::initializer_list<const char*> words) {
        for (auto* w : words)
            if (n.find(w) != std::string::npos) return true;
        return false;
    };
    if (has({"building", "gebaeude", "bldg"})) return "buildings";
    if (has({"road", "street", "strasse", "highway"})) return "roads";
    if (has({"water", "river", "gewaesser"})) return "water";
    if (has({"landuse", "land_use", "nutzung", "landcover"})) return "landuse";
    switch (wkbFlatten(layer.GetGeomType())) {
    case wkbPolygon:
    case wkbMultiPolygon: return "buildings";
    case wkbLineString:
    case wkbMultiLineString: return "roads";
    default: return "";
    }
}

} // namespace

CityConfig cityConfigFromFiles(const std::vector<fs::path>& files, const std::string& assumeCrs) {
    CityConfig c;
    c.assumeCrs = assumeCrs;
    for (const auto& f : files) {
        if (f.extension() == ".yaml" || f.extension() == ".yml")
            throw InputError("a scenario YAML cannot be mixed with GIS files", f.string());
        if (gis::isCityGml(f)) {
            c.buildings.push_back({f, "", ""});
            continue;
        }
        std::unique_ptr<gis::VectorFile> vf;
        try {
            vf = std::make_unique<gis::VectorFile>(f);
        } catch (const InputError&) {
            if (!fs::is_regular_file(f) || fs::file_size(f) == 0) throw; // missing or empty
            try {
                gis::openDataset(f, GDAL_OF_RASTER);
            } catch (const InputError&) {
                throw InputError("cannot open as GIS data: neither a vector nor a raster format GDAL reads",
                                 f.string(),
                                 "vector: GeoPackage, GeoJSON, Shapefile, FlatGeobuf, OSM XML/PBF, CityGML; "
                                 "raster: GeoTIFF, ASCII grid, XYZ, SRTM .hgt");
            }
            c.terrain.push_back(f);
            continue;
        }
        if (vf->isOsm()) {
            if (!c.osm.empty()) throw InputError("more than one OSM file", f.string());
            c.osm = f;
            continue;
        }
        for (int i = 0; i < vf->layerCount(); ++i) {
            OGRLayer& l = vf->layer(i);
            std::string kind = layerKind(l);
            LayerSource src{f, l.GetName(), ""};
            if (kind == "buildings") c.buildings.push_back(src);
            else if (kind == "roads") c.roads.push_back(src);
            else if (kind == "landuse") c.landuse.push_back(src);
            else if (kind == "water") c.water.push_back(src);
        }
    }
    return c;
}

} // namespace ct
