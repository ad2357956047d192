// Renderer benchmark, headless: a generated city of N buildings (default 100,000, about
// 2–3 M triangles with the terrain) and the sample town, drawn offscreen at 1920×1080.
// Prints load-to-first-frame, frame time, frames/s, triangles/s, draw calls, GPU memory we
// allocated and peak RSS. With --agents: a frame with that many instanced agents.
//
//   bench_render [--buildings 100000 (0: the town alone)] [--size 1920x1080] [--frames 20] [--gpu NAME] [--agents 100000]
//                [--pictures DIR]   (writes each timed view as DIR/<view>.png, to look at what was timed)
//                [--scenario FILE]  (the town to load from its files instead of Musterstadt, e.g. a real OSM extract)
#include "GeneratedCity.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <sys/resource.h>
#include <vector>

using namespace ct;
using namespace ct::render;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double peakRssMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

std::filesystem::path picturesDir;

struct Timing {
    double ms;
    FrameStats stats;
};

Timing timeFrames(OffscreenTarget& target, const Camera& cam, const RenderSettings& s, int frames, const char* pictureName) {
    if (!picturesDir.empty()) target.render(cam, s).writePng(picturesDir / (std::string(pictureName) + ".png"));
    target.draw(cam, s); // warm-up (pipeline caches, first-touch memory)
    Timing t{};
    auto t0 = Clock::now();
    for (int i = 0; i < frames; ++i) t.stats = target.draw(cam, s);
    t.ms = msSince(t0) / frames;
    return t;
}

// The same view with several settings, frame by frame in turn, so that the machine's drift over
// the run weighs on each alike; the median frame of each.
std::vector<Timing> timeInterleaved(OffscreenTarget& target, const Camera& cam, const std::vector<RenderSettings>& variants, int frames) {
    std::vector<Timing> out(variants.size());
    std::vector<std::vector<double>> ms(variants.size());
    for (const auto& s : variants) target.draw(cam, s); // warm-up
    for (int i = 0; i < frames; ++i)
        for (size_t v = 0; v < variants.size(); ++v) {
            auto t0 = Clock::now();
            out[v].stats = target.draw(cam, variants[v]);
            ms[v].push_back(msSince(t0));
        }
    for (size_t v = 0; v < variants.size(); ++v) {
        std::sort(ms[v].begin(), ms[v].end());
        out[v].ms = ms[v][ms[v].size() / 2];
    }
    return out;
}

void report(const char* what, const Timing& t) {
    std::printf("  %-34s %8.1f ms/frame  %7.1f frames/s  %6.2f M triangles drawn  %6.1f M triangles/s  %5u draws  %4u chunks culled"
                "  %7.0f k buildings as points\n",
                what, t.ms, 1000 / t.ms, t.stats.triangles / 1e6, t.stats.triangles / 1e6 / (t.ms / 1000), t.stats.drawCalls,
                t.stats.chunksCulled, t.stats.buildingBoxes / 1e3);
}

// A work saver against its reference (the same settings with it off), frame by frame in turn.
void reportSaver(OffscreenTarget& target, const Camera& cam, const RenderSettings& on, const RenderSettings& reference,
                 const char* referenceName, const char* saverName, int frames) {
    auto t = timeInterleaved(target, cam, {on, reference}, frames);
    report("  median frame, in turn: as drawn", t[0]);
    report(referenceName, t[1]);
    std::printf("  %s: %.2fx the frame rate of the reference\n", saverName, t[1].ms / t[0].ms);
}

// The coarse far buildings against all drawn at their finest level.
void reportCoarseBuildings(OffscreenTarget& target, const Camera& cam, const RenderSettings& s, int frames) {
    RenderSettings allFine = s;
    allFine.buildingCoarsePx = 0;
    reportSaver(target, cam, s, allFine, "  buildings all fine (the reference)", "coarse far buildings", frames);
}

// Far buildings as points (boxes ray-cast per pixel) against as triangles.
void reportBoxes(OffscreenTarget& target, const Camera& cam, const RenderSettings& s, int frames) {
    RenderSettings triangles = s;
    triangles.buildingBoxesPx = 0;
    reportSaver(target, cam, s, triangles, "  far buildings as triangles (the reference)", "far buildings as points", frames);
}

// The sky drawn only where it is more than the ground tone, against over the whole screen.
void reportSky(OffscreenTarget& target, const Camera& cam, const RenderSettings& s, int frames) {
    RenderSettings wholeScreen = s;
    wholeScreen.skyAboveGroundLineOnly = false;
    reportSaver(target, cam, s, wholeScreen, "  sky over the whole screen (the reference)", "sky above the ground line only", frames);
}

int run(int argc, char** argv);

} // namespace

// A missing or broken --scenario file (or an unwritable --pictures folder) is named on one line.
int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_render: %s\n", e.what());
        return 1;
    }
}

namespace {
int run(int argc, char** argv) {
    int buildings = 100000, frames = 20, agents = 100000;
    uint32_t width = 1920, height = 1080;
    std::string gpu, scenario = CITYTWIN_SOURCE_DIR "/scenarios/musterstadt.yaml";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--buildings") buildings = std::atoi(argv[i + 1]);
        else if (a == "--frames") frames = std::atoi(argv[i + 1]);
        else if (a == "--agents") agents = std::atoi(argv[i + 1]);
        else if (a == "--gpu") gpu = argv[i + 1];
        else if (a == "--size") std::sscanf(argv[i + 1], "%ux%u", &width, &height);
        else if (a == "--pictures") picturesDir = argv[i + 1];
        else if (a == "--scenario") scenario = argv[i + 1];
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!picturesDir.empty()) std::filesystem::create_directories(picturesDir);
    ContextOptions co;
    co.device = gpu;
    VulkanContext ctx(co);
    std::printf("bench_render on %s (%s), %ux%u, %d frames per figure\n", ctx.deviceName().c_str(),
                ctx.isCpuDevice() ? "CPU Vulkan" : "GPU", width, height, frames);
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    OffscreenTarget target(ctx, renderer, width, height);
    double aspect = double(width) / height;

    if (buildings > 0) {   // The generated city.
        auto t0 = Clock::now();
        CityModel city = bench::generateCity(buildings);
        double genMs = msSince(t0);
        t0 = Clock::now();
        CityMesh mesh = buildCityMesh(city);
        double meshMs = msSince(t0);
        renderer.setCity(mesh, 51.7, 8.75);
        double uploadMs = msSince(t0) - meshMs;
        Camera overview = Camera::framing(mesh.boundsMin, mesh.boundsMax, aspect);
        RenderSettings s;
        s.sun = SunPosition{200, 45};
        target.draw(overview, s);
        double firstFrameMs = msSince(t0);
        std::printf("generated city: %d buildings, %zu road edges, terrain %dx%d at 2 m; mesh %.2f M triangles (buildings %.2f M, terrain %.2f M, roads %.2f M), %.0f MiB\n",
                    buildings, city.roads.edgeCount(), city.terrain.width, city.terrain.height, mesh.triangleCount() / 1e6,
                    mesh.triangleCount(MeshLayer::Buildings) / 1e6, mesh.triangleCount(MeshLayer::Terrain) / 1e6,
                    mesh.triangleCount(MeshLayer::Roads) / 1e6, mesh.bytes() / 1048576.0);
        std::printf("  generate %.0f ms; load to first frame %.0f ms (mesh %.0f ms, upload %.0f ms, first frame %.0f ms)\n", genMs,
                    firstFrameMs, meshMs, uploadMs, firstFrameMs - meshMs - uploadMs);
        report("overview (whole city in view)", timeFrames(target, overview, s, frames, "city-overview"));
        reportCoarseBuildings(target, overview, s, frames);
        reportBoxes(target, overview, s, frames);
        RenderSettings perPixel = s;
        perPixel.vertexLighting = false;
        reportSaver(target, overview, s, perPixel, "  lit per pixel (the reference)", "lighting per vertex", frames);
        reportSky(target, overview, s, frames);
        RenderSettings sh = s;
        sh.shadows = true;
        report("overview with shadows", timeFrames(target, overview, sh, frames, "city-overview-shadows"));
        RenderSettings bothSides = sh;
        bothSides.shadowFromSunFacingFaces = false;
        reportSaver(target, overview, sh, bothSides, "  casters' both sides (the reference)", "sun-facing casters only", frames);
        Camera street;
        float z = city.terrain.heightAt(Vec2(0, 0));
        street.eye = Vec3(3, 0, z + 40);
        street.yawDeg = 30;
        street.pitchDeg = -12;
        report("street level (40 m up)", timeFrames(target, street, s, frames, "city-street"));
        std::printf("  GPU memory allocated %.0f MiB, peak RSS %.0f MiB\n", ctx.deviceLocalBytes() / 1048576.0, peakRssMiB());
        if (agents > 0) {
            std::vector<Agent> list(static_cast<size_t>(agents));
            std::mt19937 rng(3);
            std::uniform_real_distribution<float> u(-0.5f, 0.5f);
            float side = mesh.boundsMax[0] - mesh.boundsMin[0];
            for (auto& a : list) {
                a.x = u(rng) * side * 0.8f;
                a.y = u(rng) * side * 0.8f;
                a.z = city.terrain.heightAt(Vec2(a.x, a.y));
                a.headingRad = u(rng) * 6.28f;
            }
            renderer.setAgents(list);
            report(("overview + " + std::to_string(agents) + " agents").c_str(), timeFrames(target, overview, s, frames, "city-agents"));
            renderer.setAgents({});
        }
    }
    {   // The sample town (or --scenario), loaded from its files like `citytwin view` does.
        auto t0 = Clock::now();
        CityMeshOptions mo;
        if (const char* v = std::getenv("BENCH_TERRAIN_MAX_VERTICES")) mo.terrainMaxVertices = std::strtoul(v, nullptr, 10);
        ui::CityScene scene = ui::loadScene(scenario, {{}, false, mo});
        renderer.setCity(scene.mesh, scene.latDeg, scene.lonDeg);
        Camera overview = ui::overviewCamera(scene, aspect);
        RenderSettings s;
        s.time = scene.scenario.start;
        target.draw(overview, s);
        std::printf("%s: %zu buildings, %.2f M triangles; load to first frame %.0f ms (import %.0f ms, mesh %.0f ms)\n",
                    scene.scenario.name.c_str(), scene.city.buildings.size(), scene.mesh.triangleCount() / 1e6, msSince(t0),
                    scene.importSeconds * 1000, scene.meshSeconds * 1000);
        report("overview", timeFrames(target, overview, s, frames, "town-overview"));
        reportCoarseBuildings(target, overview, s, frames);
        reportBoxes(target, overview, s, frames);
        RenderSettings wholeWaterChunks = s;
        wholeWaterChunks.waterShaderOnWaterQuadsOnly = false;
        reportSaver(target, overview, s, wholeWaterChunks, "  water chunks all water-shaded (the reference)", "water shader on water quads only",
                    frames);
        reportSky(target, overview, s, frames);
        RenderSettings sh = s;
        sh.shadows = true;
        report("overview with shadows", timeFrames(target, overview, sh, frames, "town-overview-shadows"));
        if (auto rathaus = ui::namedCamera(scene, "Rathaus", aspect))
            report("Rathaus close-up with shadows", timeFrames(target, *rathaus, sh, frames, "town-rathaus-shadows"));
    }
    std::printf("peak RSS %.0f MiB\n", peakRssMiB());
    return 0;
}
} // namespace
