// `citytwin render` (a picture, headless: no window, no display) and `citytwin view` (the window).
#include "app/Commands.h"
#include "core/Error.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"
#include "ui/Viewer.h"

#include <chrono>
#include <cstdio>
#include <fmt/format.h>

namespace ct::app {

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

int render(const RenderCommandOptions& o) {
    auto [width, height] = parseSize(o.size, "--size");
    auto t0 = std::chrono::steady_clock::now();
    ui::CityScene scene = ui::loadScene(o.scenario, {o.cacheDir, true, {}});
    render::RenderSettings settings;
    settings.time = scene.scenario.start;
    if (!o.time.empty()) {
        auto t = parseIsoInstant(o.time);
        if (!t) throw InputError(fmt::format("bad time '{}'", o.time), "--time", "write an ISO instant with offset, e.g. 2026-07-14T15:00:00+02:00");
        settings.time = *t;
    }
    settings.shadows = o.shadows;
    render::Camera camera = resolveCamera(scene, o.camera, double(width) / height);

    render::ContextOptions co;
    co.validation = o.validation;
    co.device = o.gpu;
    render::VulkanContext ctx(co);
    render::Renderer renderer(ctx, render::OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(scene.mesh, scene.latDeg, scene.lonDeg);
    render::Hud hud;
    float scale = std::max(1.0f, float(height) / 1080.0f) * 2;
    std::string title = o.title.empty() ? scene.scenario.name : o.title;
    std::vector<render::ColorScale> legends;
    if (!o.grid.empty()) {
        render::GridOverlay grid = ui::gridFromRaster(o.grid, scene.city);
        renderer.setGrid(&grid);
        legends.push_back(grid.scale);
    }
    if (!o.colorBy.empty()) {
        render::ValueOverlay v = ui::buildingValues(scene.city, o.colorBy);
        renderer.setBuildingValues(&v);
        legends.push_back(v.scale);
    }
    if (!o.colorRoadsBy.empty()) {
        render::ValueOverlay v = ui::roadValues(scene.city, o.colorRoadsBy);
        renderer.setRoadValues(&v);
        legends.push_back(v.scale);
    }
    if (!title.empty()) {
        float w = render::Hud::textWidth(title, scale * 1.5f) + 24 * scale / 2;
        hud.rect(0, 0, w, render::Hud::textHeight(scale * 1.5f) + 16, render::rgba(255, 255, 255, 215));
        hud.text(12, 10, title, render::rgba(15, 15, 15), scale * 1.5f);
    }
    if (o.legend) {
        float y = float(height) - 20;
        for (auto it = legends.rbegin(); it != legends.rend(); ++it) {
            y -= 10 + 12 * 2 + 6 + 18 + 6 + 12 * 2 + 10; // Hud::legend's height at text scale 2
            hud.legend(*it, 20, y, 320);
            y -= 10;
        }
    }
    hud.text(float(width) - render::Hud::textWidth(settings.time.iso(), 2) - 12, float(height) - 30, settings.time.iso(),
             render::rgba(255, 255, 255), 2);
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
    if (ctx.validationEnabled() && ctx.validationMessages() > 0) {
        std::fprintf(stderr, "error: %zu Vulkan validation messages; the last: %s\n", ctx.validationMessages(),
                     ctx.lastValidationMessage().c_str());
        return 3;
    }
    return 0;
}

int view(const ViewCommandOptions& o) {
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
    if (o.variant && !o.live) throw InputError("--variant needs --live", "citytwin view", "add --live");
    ui::CityScene scene = ui::loadScene(o.scenario, vo.sceneOptions);
    if (!o.camera.empty()) vo.camera = resolveCamera(scene, o.camera, double(width) / height);
    if (!o.grid.empty()) vo.grid = ui::gridFromRaster(o.grid, scene.city);
    if (!o.results.empty()) {
        auto snapshots = ui::findDepthSnapshots(o.results);
        if (snapshots.empty())
            throw InputError("no flood depth snapshots (depth_<seconds>s.tif) found", o.results.string(),
                             "run a flood scenario with snapshot_interval set, then give its output folder");
        for (auto& [t, file] : snapshots) vo.gridSeries.emplace_back(t, ui::gridFromRaster(file, scene.city));
        // One colour scale for the whole replay: the last snapshot's (the deepest, usually).
        for (auto& [t, g] : vo.gridSeries) g.scale = vo.gridSeries.back().second.scale;
    }
    return ui::runViewer(std::move(scene), vo);
}

} // namespace ct::app
