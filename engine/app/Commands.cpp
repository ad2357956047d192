#include "app/Commands.h"

#include "app/Report.h"
#include "city/Import.h"
#include "core/Error.h"
#include "gis/Gdal.h"
#include "gis/VectorRead.h"
#include "gis/Writers.h"
#include "sim/Runner.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>

namespace ct::app {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path defaultCacheDir() {
    if (const char* d = std::getenv("CITYTWIN_CACHE_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "citytwin";
    if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "citytwin";
    return {};
}

namespace {

bool isYaml(const fs::path& p) {
    auto e = p.extension().string();
    return e == ".yaml" || e == ".yml";
}

// A city config from a scenario, or from loose GIS files (kind guessed per file and layer).
CityConfig configFromInputs(const std::vector<fs::path>& inputs, const std::string& assumeCrs, std::string& title) {
    if (inputs.size() == 1 && isYaml(inputs[0])) {
        Scenario s = Scenario::fromYaml(inputs[0]);
        title = s.name;
        if (!assumeCrs.empty()) s.city.assumeCrs = assumeCrs;
        return s.city;
    }
    title = inputs.size() == 1 ? inputs[0].filename().string() : fmt::format("{} files", inputs.size());
    return cityConfigFromFiles(inputs, assumeCrs);
}

std::string thousands(double v) {
    std::string digits = fmt::format("{:.0f}", std::abs(v)), out = v < 0 ? "-" : "";
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

json reportJson(const CityModel& city, const std::string& title) {
    json j;
    j["name"] = title;
    j["crs"] = {{"name", city.frame.crs.name()}, {"epsg", city.frame.crs.epsg()}};
    j["local_origin"] = {city.frame.origin.x(), city.frame.origin.y()};
    Box2 b = city.bounds();
    j["extent"] = {{"min", {b.min.x() + city.frame.origin.x(), b.min.y() + city.frame.origin.y()}},
                   {"max", {b.max.x() + city.frame.origin.x(), b.max.y() + city.frame.origin.y()}}};
    for (const auto& k : cityKpis(city)) j["counts"][k.name] = k.value;
    if (!city.terrain.empty()) {
        float lo = INFINITY, hi = -INFINITY;
        for (float h : city.terrain.heightM)
            if (std::isfinite(h)) {
                lo = std::min(lo, h);
                hi = std::max(hi, h);
            }
        j["terrain"] = {{"width", city.terrain.width}, {"height", city.terrain.height},
                        {"cell_size_m", city.terrain.cellSize}, {"min_m", lo}, {"max_m", hi},
                        {"nodata_cells", city.terrain.nodataCells}};
    }
    std::map<std::string, size_t> heightSources;
    for (auto s : city.buildings.heightSource) ++heightSources[toString(s)];
    j["building_height_sources"] = heightSources;
    json layers = json::array();
    for (const auto& l : city.report.layers)
        layers.push_back({{"kind", l.kind}, {"source", l.source}, {"layer", l.layer}, {"crs", l.crs},
                          {"read", l.read}, {"imported", l.imported}, {"skipped", l.skipped()},
                          {"skipped_by_reason", l.skippedByReason}, {"defaults_used", l.defaultsUsed}});
    j["layers"] = layers;
    json skips = json::array();
    for (const auto& s : city.report.skips)
        skips.push_back({{"kind", s.kind}, {"layer", s.layer}, {"feature", s.featureId}, {"reason", s.reason}});
    j["skipped"] = skips;
    return j;
}

void printReport(const CityModel& city, const std::string& title, bool allSkips) {
    const Vec2 o = city.frame.origin;
    Box2 b = city.bounds();
    std::printf("City: %s\n", title.c_str());
    std::printf("CRS: %s, local origin E %.0f N %.0f\n", city.frame.crs.name().c_str(), o.x(), o.y());
    std::printf("Extent: %.2f × %.2f km (E %.0f–%.0f, N %.0f–%.0f)\n", b.size().x() / 1000, b.size().y() / 1000,
                b.min.x() + o.x(), b.max.x() + o.x(), b.min.y() + o.y(), b.max.y() + o.y());
    const Terrain& t = city.terrain;
    if (!t.empty()) {
        float lo = INFINITY, hi = -INFINITY;
        for (float h : t.heightM)
            if (std::isfinite(h)) { lo = std::min(lo, h); hi = std::max(hi, h); }
        std::printf("Terrain: %d × %d cells at %.2f m, heights %.1f–%.1f m, %s nodata cells\n", t.width, t.height,
                    t.cellSize, lo, hi, thousands(static_cast<double>(t.nodataCells)).c_str());
    } else {
        std::printf("Terrain: none\n");
    }
    const Buildings& bl = city.buildings;
    double footprint = 0;
    for (size_t i = 0; i < bl.size(); ++i) footprint += bl.footprintArea(i);
    std::map<std::string, size_t> src;
    for (auto s : bl.heightSource) ++src[toString(s)];
    std::printf("Buildings: %s (footprint %.3f km²; height from attribute %zu, levels %zu, default %zu",
                thousands(static_cast<double>(bl.size())).c_str(), footprint / 1e6, src["attribute"], src["levels"],
                src["default"]);
    if (bl.roofRingStart.size() > 1) std::printf("; %zu LoD2 roof surfaces", bl.roofRingStart.size() - 1);
    std::printf(")\n");
    std::printf("Roads: %s nodes, %s directed edges, %.1f km of street\n",
                thousands(static_cast<double>(city.roads.nodeCount())).c_str(),
                thousands(static_cast<double>(city.roads.edgeCount())).c_str(), city.roads.totalLengthKm());
    double waterArea = 0;
    for (size_t i = 0; i < city.water.areas.size(); ++i) waterArea += city.water.areas.area(i);
    std::printf("Water: %zu areas (%.3f km²), %zu waterway lines\n", city.water.areas.size(), waterArea / 1e6,
                city.water.lineCount());
    std::map<std::string, size_t> classes;
    for (auto& c : city.landuse.className) ++classes[c];
    std::printf("Land use: %zu polygons", city.landuse.size());
    if (!classes.empty()) {
        std::printf(" (");
        bool first = true;
        for (auto& [c, n] : classes) {
            std::printf("%s%s %zu", first ? "" : ", ", c.c_str(), n);
            first = false;
        }
        std::printf(")");
    }
    std::printf("\nLayers:\n");
    for (const auto& l : city.report.layers) {
        std::printf("  %-9s %s [%s] read %s, imported %s, skipped %s\n", l.kind.c_str(), l.source.c_str(),
                    l.layer.c_str(), thousands(static_cast<double>(l.read)).c_str(),
                    thousands(static_cast<double>(l.imported)).c_str(), thousands(static_cast<double>(l.skipped())).c_str());
        for (auto& [reason, n] : l.skippedByReason) std::printf("      skipped %zu: %s\n", n, reason.c_str());
        for (auto& [what, n] : l.defaultsUsed) std::printf("      %zu × %s\n", n, what.c_str());
    }
    const auto& skips = city.report.skips;
    if (!skips.empty()) {
        size_t shown = allSkips ? skips.size() : std::min<size_t>(skips.size(), 20);
        std::printf("Skipped features (%zu%s):\n", skips.size(), shown < skips.size() ? ", first 20; --all lists all" : "");
        for (size_t i = 0; i < shown; ++i)
            std::printf("  %s [%s] feature %s: %s\n", skips[i].kind.c_str(), skips[i].layer.c_str(),
                        skips[i].featureId.c_str(), skips[i].reason.c_str());
    }
}

} // namespace

int info(const InfoOptions& options) {
    std::string title;
    CityConfig config = configFromInputs(options.inputs, options.assumeCrs, title);
    CityModel city = importCity(config, ImportOptions{options.cacheDir, !options.json});
    if (options.json) std::printf("%s\n", reportJson(city, title).dump(2).c_str());
    else printReport(city, title, options.allSkips);
    return 0;
}

int run(const RunCommandOptions& options) {
    Scenario scenario = Scenario::fromYaml(options.scenario);
    RunResult r = runScenario(scenario, RunOptions{options.outDir, options.threads, !options.quiet, options.cacheDir});
    std::printf("Scenario '%s' finished in %.2f s\n", scenario.name.c_str(), r.wallS);
    std::printf("City: %s buildings, %.1f km of street, %s terrain cells\n",
                thousands(r.city[0].value).c_str(), r.city[5].value, thousands(r.city[8].value).c_str());
    std::printf("%s", runSummary(r).c_str());
    if (scenario.modules.empty())
        std::printf("No simulation modules in this scenario: the city was imported and summarised.\n");
    std::printf("Results: %s (kpis.json, manifest.json)\n", fs::absolute(r.outDir).lexically_normal().c_str());
    if (!options.noReport) {
        // The results are already written: a failing report only costs the report.
        try {
            fs::path report = writeRunReport(scenario, r, ReportOptions{true, options.cacheDir});
            std::printf("Report: %s\n", fs::absolute(report).lexically_normal().c_str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "warning: report.html not written: %s\n", e.what());
        }
    }
    return 0;
}

int import(const ImportOptionsCli& options) {
    std::string title;
    CityConfig config = configFromInputs(options.inputs, options.assumeCrs, title);
    CityModel city = importCity(config, ImportOptions{options.cacheDir, true});
    std::printf("%s: %zu buildings, %zu road edges%s\n", title.c_str(), city.buildings.size(), city.roads.edgeCount(),
                lastImportFromCache() ? " (from cache)" : "");
    if (options.exportDir.empty()) return 0;
    fs::create_directories(options.exportDir);
    const Vec2 o = city.frame.origin;
    auto world = [&](std::span<const Vec2> pts) {
        std::vector<Vec2> out;
        for (auto& p : pts) out.push_back(p + o);
        return out;
    };
    {
        using gis::FieldType;
        gis::GpkgWriter w(options.exportDir / "buildings.gpkg", "buildings", gis::GpkgWriter::Geometry::Polygon,
                          city.frame.crs,
                          {{"source_id", FieldType::String}, {"height_m", FieldType::Real},
                           {"ground_m", FieldType::Real}, {"levels", FieldType::Integer},
                           {"use", FieldType::String}, {"year_built", FieldType::Integer},
                           {"height_source", FieldType::String}, {"name", FieldType::String}});
        const Buildings& b = city.buildings;
        for (size_t i = 0; i < b.size(); ++i)
            for (uint32_t p = b.partStart[i]; p < b.partStart[i + 1]; ++p) {
                std::vector<std::vector<Vec2>> rings;
                for (size_t k = 0; k < b.footprints.ringCount(p); ++k) rings.push_back(world(b.footprints.ring(p, k)));
                w.addPolygon(rings, {b.sourceId[i], static_cast<double>(b.heightM[i]), static_cast<double>(b.groundM[i]),
                                     static_cast<int64_t>(b.levels[i]), std::string(toString(b.use[i])),
                                     static_cast<int64_t>(b.yearBuilt[i]), std::string(toString(b.heightSource[i])),
                                     b.name[i]});
            }
    }
    {
        using gis::FieldType;
        gis::GpkgWriter w(options.exportDir / "road_graph.gpkg", "edges", gis::GpkgWriter::Geometry::LineString,
                          city.frame.crs,
                          {{"edge", FieldType::Integer}, {"from_node", FieldType::Integer}, {"to_node", FieldType::Integer},
                           {"way_id", FieldType::String}, {"name", FieldType::String}, {"class", FieldType::String},
                           {"length_m", FieldType::Real}, {"speed_kmh", FieldType::Real}, {"lanes", FieldType::Integer},
                           {"layer", FieldType::Integer}});
        const RoadNetwork& r = city.roads;
        for (uint32_t e = 0; e < r.edgeCount(); ++e)
            w.addLine(world(r.shape(EdgeId(e))),
                      {static_cast<int64_t>(e), static_cast<int64_t>(r.from[e].value), static_cast<int64_t>(r.to[e].value),
                       r.wayId[r.way[e]], r.wayName[r.way[e]], std::string(toString(r.roadClass[e])),
                       static_cast<double>(r.lengthM[e]), r.speedMps[e] * 3.6, static_cast<int64_t>(r.lanes[e]),
                       static_cast<int64_t>(r.layer[e])});
    }
    std::printf("Exported buildings.gpkg and road_graph.gpkg to %s\n", options.exportDir.c_str());
    return 0;
}

} // namespace ct::app
