// `citytwin render` (a picture, headless: no window, no display) and `citytwin view` (the window).
#include "app/Commands.h"
#include "core/Error.h"
#include "core/I18n.h"
#include "core/Progress.h"
#include "feeds/SensorStore.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"
#include "ui/Presenter.h"
#include "ui/RoadCounts.h"
#include "ui/Traffic.h"
#include "ui/VideoWriter.h"
#include "ui/Viewer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <optional>
#include <spdlog/spdlog.h>

namespace ct::app {

namespace fs = std::filesystem;

namespace {

std::pair<uint32_t, uint32_t> parseSize(const std::string& text, const std::string& flag) {
    unsigned w = 0, h = 0;
    char x = 0;
    if (std::sscanf(text.c_str(), "%u%c%u", &w, &x, &h) != 3 || (x != 'x' && x != 'X') || w < 16 || h < 16 || w > 16384 || h > 16384)
        throw InputError(fmt::format("bad image size '{}'", text), flag, "write WIDTHxHEIGHT, e.g. 1920x1080 (16 to 16384 each)");
    return {w, h};
}

render::Camera resolveCamera(const ui::CityScene& scene, const std::string& text, double aspect) {
    if (text.empty()) return ui::overviewCamera(scene, aspect);
    if (auto c = render::Camera::parse(text)) { // x, y in the scenario's CRS, z above sea level
        c->eye.head<2>() = scene.city.frame.toLocal(c->eye.head<2>());
        return *c;
    }
    if (text.find(',') == std::string::npos)
        if (auto c = ui::namedCamera(scene, text, aspect)) return *c;
    throw InputError(fmt::format("unknown camera '{}'", text), "--camera",
                     "give 'overview', a building or street name, or x,y,z,yaw,pitch (x, y in the scenario's CRS, z in metres "
                     "above sea level, yaw from north clockwise, pitch negative looking down)");
}

} // namespace

namespace {

void chooseLanguage(const std::string& lang, const char* flag) {
    if (lang.empty()) return;
    auto l = parseLanguage(lang);
    if (!l) throw InputError(fmt::format("unknown language '{}'", lang), flag, "give en or de");
    setLanguage(*l);
}

// The results a picture shows: the folder given, else the scenario's outputs if a run wrote
// them (its manifest.json).
fs::path presentationResults(const fs::path& given, const ui::CityScene& scene, bool wanted) {
    if (!given.empty() || !wanted) return given;
    fs::path out = scene.scenario.outputDir;
    return fs::exists(out / "manifest.json") ? out : fs::path();
}

const char* cityAttributes[] = {"height", "levels", "year", "use", "area"};

// Building colours by a city attribute, or by a result field of the run (baseline, and the
// variant for the right side of a split).
void colourBuildings(render::Renderer& renderer, const ui::CityScene& scene, const std::string& field, const fs::path& results,
                     bool split, std::vector<render::ColorScale>& legends) {
    if (std::find(std::begin(cityAttributes), std::end(cityAttributes), field) != std::end(cityAttributes)) {
        render::ValueOverlay v = ui::buildingValues(scene.city, field);
        renderer.setBuildingValues(&v);
        legends.push_back(v.scale);
        return;
    }
    ui::BuildingResults base = ui::readBuildingResults(results, scene.city);
    if (base.fields.empty())
        throw InputError(fmt::format("unknown building attribute '{}'", field), "--color-by",
                         "use height, levels, year, use or area, or a result field with --results DIR of an energy run "
                         "(e.g. heat_kwh_m2, pv_kwh_kwp)");
    render::ValueOverlay v = ui::buildingResultValues(base, field);
    renderer.setBuildingValues(&v, render::Side::Left);
    legends.push_back(v.scale);
    ui::BuildingResults variant = ui::readBuildingResults(results, scene.city, true);
    if (split && !variant.fields.empty()) {
        render::ValueOverlay w = ui::buildingResultValues(variant, field);
        w.scale = v.scale; // one scale for both sides
        renderer.setBuildingValues(&w, render::Side::Right);
    }
}

// The sun follows the simulation clock, unless the tour fixes the light.
render::RenderSettings presentationSettings(const ui::CityScene& scene, std::optional<double> simTimeS, bool shadows,
                                            const std::optional<ui::Tour>& tour) {
    render::RenderSettings settings;
    settings.time = scene.scenario.start;
    if (simTimeS) settings.time.utcSeconds += int64_t(std::llround(*simTimeS));
    if (tour && tour->lightAt) settings.time = *tour->lightAt;
    settings.shadows = shadows;
    return settings;
}

bool splitWanted(bool split, bool noSplit, const std::optional<ui::Tour>& tour) {
    if (split && noSplit) throw InputError("--split and --no-split together", "citytwin", "give one of them");
    return split || (!noSplit && tour && tour->split);
}

// 3 if the validation layer spoke (and says so), else 0.
int validationExitCode(const render::VulkanContext& ctx) {
    if (!ctx.validationEnabled() || ctx.validationMessages() == 0) return 0;
    std::fprintf(stderr, "error: %zu Vulkan validation messages; the last: %s\n", ctx.validationMessages(),
                 ctx.lastValidationMessage().c_str());
    return 3;
}

// Roads by detector counts: the traffic_count sensors of the scenario's feed store (in --results,
// else in the scenario's outputs) placed on the city's roads, each road by its count at atUtc
// (NaN: each detector's newest). InputError without a store or without a placed detector.
ui::RoadCounts readRoadCounts(const ui::CityScene& scene, const ui::CityTraffic& traffic, const fs::path& scenarioFile,
                              const fs::path& results, double atUtc) {
    const char* option = "--color-roads-by counts";
    bool mobility = std::any_of(scene.scenario.modules.begin(), scene.scenario.modules.end(),
                                [](const ModuleBlock& m) { return m.name == "mobility"; });
    if (mobility && !ui::mobilityOnCityNetwork(scene.scenario))
        throw InputError("detector counts are drawn on the city's roads, and this scenario's traffic runs on a SUMO network", option,
                         "use a scenario on the city's roads (mobility: {network: city})");
    fs::path dir = results.empty() ? scene.scenario.outputDir : results;
    fs::path store = dir / "feeds" / "sensors.sqlite";
    std::string feeds = fmt::format("citytwin feeds {} --for 60s{}", scenarioFile.string(), results.empty() ? "" : " --out " + dir.string());
    if (!fs::exists(store))
        throw InputError("no sensor store to colour the roads by counts", option,
                         fmt::format("{} does not exist: run the scenario's feeds first ({})", store.string(), feeds));
    ui::RoadCounts counts = ui::countedRoads(store, traffic, scene.city, atUtc);
    for (const std::string& r : counts.skipped) spdlog::warn("counts: {}", r);
    if (counts.skippedCount > counts.skipped.size()) spdlog::warn("counts: {} more detectors left out", counts.skippedCount - counts.skipped.size());
    if (counts.roads.empty())
        throw InputError(fmt::format("no traffic detector in {} has a count{} on the city's roads", store.string(),
                                     std::isnan(atUtc) ? "" : " at or before --time"),
                         option,
                         fmt::format("the store needs traffic_count sensors with an 'edge' property or a location and 'heading' "
                                     "(docs/plugins.md); run the feeds ({}){}",
                                     feeds, std::isnan(atUtc) ? "" : ", or give a later --time"));
    return counts;
}

} // namespace

int render(const RenderCommandOptions& o) {
    chooseLanguage(o.lang, "--lang");
    auto [width, height] = parseSize(o.size, "--size");
    auto t0 = std::chrono::steady_clock::now();
    ui::CityScene scene = ui::loadScene(o.scenario, {o.cacheDir, true, {}});
    std::optional<ui::Tour> tour;
    if (!o.tour.empty()) tour = ui::loadTour(o.tour, scene.city);
    bool cityAttribute = o.colorBy.empty() ||
                         std::find(std::begin(cityAttributes), std::end(cityAttributes), o.colorBy) != std::end(cityAttributes);
    // Roads by traffic: speed over the limit from the run's mobility/edges.csv at --sim-time.
    const bool trafficRoads = o.colorRoadsBy == "traffic";
    fs::path results = presentationResults(o.results, scene, tour.has_value() || !cityAttribute || trafficRoads);
    ui::TrafficResults traffic, variantTraffic;
    if (trafficRoads) {
        traffic = ui::readTrafficResults(results, scene.city);
        if (traffic.empty())
            throw InputError("no traffic results to colour the roads by", "--color-roads-by traffic",
                             results.empty() ? "give --results DIR of a run with a mobility module, or run the scenario first"
                                             : fmt::format("{} has no mobility/edges.csv (nor baseline/mobility/edges.csv)", results.string()));
        variantTraffic = ui::readTrafficResults(results, scene.city, true);
    }
    ui::Presenter presenter(scene, results, tour);
    std::optional<ui::TourFrame> frame;
    if (tour) frame = tour->at(o.tourTimeS);

    std::optional<double> simTime = frame ? frame->simTimeS : std::nullopt;
    if (!o.simTime.empty()) {
        simTime = parseDurationSeconds(o.simTime);
        if (!simTime) throw InputError(fmt::format("bad simulation time '{}'", o.simTime), "--sim-time", "seconds or a duration after the start, e.g. 5400 or 1.5h");
    }
    if (trafficRoads && !simTime) simTime = ui::busiestTrafficTime(traffic); // the busiest interval
    render::RenderSettings settings = presentationSettings(scene, simTime, o.shadows, tour);
    if (!o.time.empty()) {
        auto t = parseIsoInstant(o.time);
        if (!t) throw InputError(fmt::format("bad time '{}'", o.time), "--time", "write an ISO instant with offset, e.g. 2026-07-14T15:00:00+02:00");
        settings.time = *t;
    }
    // Roads by detector counts: the count at --time, else each detector's newest.
    std::optional<ui::CityTraffic> countTraffic;
    ui::RoadCounts roadCounts;
    if (o.colorRoadsBy == "counts") {
        countTraffic.emplace(scene.city);
        roadCounts = readRoadCounts(scene, *countTraffic, o.scenario, o.results,
                                    o.time.empty() ? NAN : double(settings.time.utcSeconds));
    }
    render::Camera camera = !o.camera.empty() || !frame ? resolveCamera(scene, o.camera, double(width) / height) : frame->camera;
    bool hasVariant = presenter.hasVariant() || !ui::readBuildingResults(results, scene.city, true).fields.empty() || !variantTraffic.empty();
    bool split = splitWanted(o.split, o.noSplit, tour) && hasVariant && !o.difference;
    if (split) settings.splitAtPx = float(width) / 2;
    ui::ResultLayer layer = o.difference ? ui::ResultLayer::Difference : ui::ResultLayer::Depth;

    render::ContextOptions co;
    co.validation = o.validation;
    co.device = o.gpu;
    render::VulkanContext ctx(co);
    render::Renderer renderer(ctx, render::OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(scene.mesh, scene.latDeg, scene.lonDeg);
    presenter.apply(renderer, simTime, split, layer);

    ui::OverlayContent content = presenter.overlay(frame ? &*frame : nullptr, simTime, settings.splitAtPx, layer);
    if (!o.title.empty()) content.title = o.title;
    if (!o.grid.empty()) {
        render::GridOverlay grid = ui::gridFromRaster(o.grid, scene.city);
        renderer.setGrid(&grid);
        content.legends = {grid.scale};
    }
    if (!o.colorBy.empty()) colourBuildings(renderer, scene, o.colorBy, results, split, content.legends);
    size_t vehicles = 0;
    if (trafficRoads) {
        render::ValueOverlay v = ui::trafficRoadValues(traffic, scene.city, *simTime);
        renderer.setRoadValues(&v);
        if (split && !variantTraffic.empty()) {
            render::ValueOverlay w = ui::trafficRoadValues(variantTraffic, scene.city, *simTime);
            renderer.setRoadValues(&w, render::Side::Right);
        }
        content.legends.push_back(v.scale);
        // The vehicles too, when the run wrote their positions (fcd:) on the city's roads.
        if (ui::mobilityOnCityNetwork(scene.scenario)) {
            ui::VehicleTracks tracks = ui::readVehicleTracks(results, scene.city);
            if (!tracks.empty()) {
                ui::CityTraffic cityTraffic(scene.city);
                std::vector<render::Agent> agents = cityTraffic.agents(tracks.at(*simTime), tracks.bicycle);
                vehicles = agents.size();
                renderer.setAgents(agents);
            }
        }
    } else if (countTraffic) {
        render::ValueOverlay v = ui::countedRoadValues(roadCounts.roads, *countTraffic);
        renderer.setRoadValues(&v);
        content.legends.push_back(v.scale);
    } else if (!o.colorRoadsBy.empty()) {
        render::ValueOverlay v = ui::roadValues(scene.city, o.colorRoadsBy);
        renderer.setRoadValues(&v);
        content.legends.push_back(v.scale);
    }
    if (split && !content.splitAtPx) { // a split of building results (no flood to name it)
        content.splitAtPx = settings.splitAtPx;
        content.leftName = tr("baseline");
        content.rightName = tr("variant");
    }
    if (!o.legend) content.legends.clear();
    if (!content.clock) content.clock = settings.time; // the hour that places the sun
    render::Hud hud;
    ui::drawOverlay(hud, content, camera, int(width), int(height), presenter.groundZ());

    render::OffscreenTarget target(ctx, renderer, width, height);
    render::FrameStats stats;
    render::Picture picture = target.render(camera, settings, &hud, &stats);
    picture.writePng(o.out);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Vec2 eye = scene.city.frame.toWorld(camera.eye.head<2>());
    render::SunPosition sun = renderer.sunFor(settings);
    std::printf("wrote %s (%ux%u) on %s: %llu triangles in %u draws, camera %.1f,%.1f,%.1f,%.1f,%.1f, sun %.0f° azimuth "
                "%.0f° elevation, %.1f s\n",
                o.out.c_str(), width, height, ctx.deviceName().c_str(), static_cast<unsigned long long>(stats.triangles),
                stats.drawCalls, eye.x(), eye.y(), camera.eye.z(), camera.yawDeg, camera.pitchDeg, sun.azimuthDeg, sun.elevationDeg, wall);
    if (trafficRoads) std::printf("traffic at %.0f s after the start: %zu vehicles drawn\n", *simTime, vehicles);
    if (countTraffic) {
        double newest = -INFINITY;
        for (const ui::CountedRoad& r : roadCounts.roads) newest = std::max(newest, r.beginUtc);
        std::printf("counts of %zu detectors drawn (the newest began %s)\n", roadCounts.roads.size(), feeds::isoTime(newest).c_str());
    }
    return validationExitCode(ctx);
}

int renderTour(const RenderTourOptions& o) {
    chooseLanguage(o.lang, "--lang");
    auto [width, height] = parseSize(o.size, "--size");
    auto t0 = std::chrono::steady_clock::now();
    ui::CityScene scene = ui::loadScene(o.scenario, {o.cacheDir, !o.quiet, {}});
    ui::Tour tour = ui::loadTour(o.tour, scene.city);
    ui::Presenter presenter(scene, presentationResults(o.results, scene, true), tour);
    bool split = splitWanted(o.split, o.noSplit, tour) && presenter.hasVariant() && !o.difference;
    ui::ResultLayer layer = o.difference ? ui::ResultLayer::Difference : ui::ResultLayer::Depth;

    render::ContextOptions co;
    co.validation = o.validation;
    co.device = o.gpu;
    render::VulkanContext ctx(co);
    render::Renderer renderer(ctx, render::OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(scene.mesh, scene.latDeg, scene.lonDeg);
    render::OffscreenTarget target(ctx, renderer, width, height);
    ui::VideoWriter video(o.out, int(width), int(height), o.fps);

    // duration × fps frames, the first at the tour's start and the last at its end.
    long frames = std::max(2L, std::lround(tour.duration() * o.fps));
    auto tFrames = std::chrono::steady_clock::now();
    double setupS = std::chrono::duration<double>(tFrames - t0).count();
    Progress progress("render-tour", !o.quiet);
    std::optional<double> shownTime;
    bool first = true;
    for (long i = 0; i < frames; ++i) {
        ui::TourFrame f = tour.at(tour.duration() * double(i) / double(frames - 1));
        if (first || f.simTimeS != shownTime) presenter.apply(renderer, f.simTimeS, split, layer);
        first = false;
        shownTime = f.simTimeS;
        render::RenderSettings settings = presentationSettings(scene, f.simTimeS, o.shadows, tour);
        if (split) settings.splitAtPx = float(width) / 2;
        render::Hud hud;
        ui::drawOverlay(hud, presenter.overlay(&f, f.simTimeS, settings.splitAtPx, layer), f.camera, int(width), int(height),
                        presenter.groundZ());
        video.write(target.render(f.camera, settings, &hud));
        progress.update(double(i + 1) / frames, fmt::format("frame {} of {}", i + 1, frames));
    }
    video.finish();
    double framesS = std::chrono::duration<double>(std::chrono::steady_clock::now() - tFrames).count();
    progress.finish();
    std::printf("wrote %s: %ld frames %ux%u at %d fps (%.1f s of video) on %s; load %.1f s, frames %.1f s = %.2f frames/s\n",
                o.out.c_str(), frames, width, height, o.fps, double(frames) / o.fps, ctx.deviceName().c_str(), setupS, framesS,
                frames / std::max(framesS, 1e-9));
    return validationExitCode(ctx);
}

int view(const ViewCommandOptions& o) {
    chooseLanguage(o.lang, "--lang");
    auto [width, height] = parseSize(o.size, "--size");
    ui::ViewerOptions vo;
    vo.width = width;
    vo.height = height;
    vo.vsync = !o.noVsync;
    vo.validation = o.validation;
    vo.gpu = o.gpu;
    vo.exitAfterFrames = o.exitAfterFrames;
    vo.screenshot = o.screenshot;
    vo.sceneOptions = {o.cacheDir, true, {}};
    vo.live = o.live;
    vo.liveVariant = o.variant;
    vo.feeds = o.feeds;
    vo.present = o.present;
    vo.colorBy = o.colorBy;
    if (o.variant && !o.live) throw InputError("--variant needs --live", "citytwin view", "add --live");
    ui::CityScene scene = ui::loadScene(o.scenario, vo.sceneOptions);
    if (!o.camera.empty()) vo.camera = resolveCamera(scene, o.camera, double(width) / height);
    if (!o.grid.empty()) vo.grid = ui::gridFromRaster(o.grid, scene.city);
    // The tour beside the scenario (<name>.tour.yaml) unless one is given.
    fs::path tour = o.tour;
    if (tour.empty()) {
        fs::path beside = o.scenario;
        beside.replace_extension(".tour.yaml");
        if (fs::exists(beside)) tour = beside;
    }
    if (!tour.empty()) vo.tour = ui::loadTour(tour, scene.city);
    vo.results = presentationResults(o.results, scene, true); // the scenario's last run, if any
    return ui::runViewer(std::move(scene), vo);
}

} // namespace ct::app
