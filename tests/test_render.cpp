// The renderer on Mesa lavapipe (or whatever Vulkan device there is), with the Khronos
// validation layer on: every test fails on any validation message. Checks pictures against
// what the CPU computes independently: camera projections of known points, layer-toggled
// renders for the share of sky/terrain/buildings, overlay colours from the colour maps.
#include "TestSupport.h"
#include "gis/Gdal.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <cmath>
#include <gdal_priv.h>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;
using namespace ct::render;
namespace fs = std::filesystem;

namespace {

struct Rgb {
    int r, g, b;
};
Rgb rgbAt(const Picture& p, double x, double y) {
    uint32_t c = p.at(int(x), int(y));
    return {int(c & 0xff), int((c >> 8) & 0xff), int((c >> 16) & 0xff)};
}

// Fraction of pixels that differ between two pictures of the same size.
double differingShare(const Picture& a, const Picture& b) {
    size_t n = size_t(a.width) * a.height, differ = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::memcmp(&a.rgba[i * 4], &b.rgba[i * 4], 3) != 0) ++differ;
    return double(differ) / double(n);
}

double lumaStdDev(const Picture& p) {
    double s = 0, s2 = 0;
    size_t n = size_t(p.width) * p.height;
    for (size_t i = 0; i < n; ++i) {
        double y = 0.3 * p.rgba[i * 4] + 0.59 * p.rgba[i * 4 + 1] + 0.11 * p.rgba[i * 4 + 2];
        s += y, s2 += y * y;
    }
    double m = s / double(n);
    return std::sqrt(std::max(0.0, s2 / double(n) - m * m));
}

ContextOptions validated() {
    ContextOptions o;
    o.validation = true;
    return o;
}

// The sample town, imported once for the suite.
class MusterstadtRender : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        scene = new ui::CityScene(ui::loadScene(sourceDir() / "scenarios" / "musterstadt.yaml", {{}, false, {}}));
        ctx = new VulkanContext(validated());
        renderer = new Renderer(*ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
        renderer->setCity(scene->mesh, scene->latDeg, scene->lonDeg);
        target = new OffscreenTarget(*ctx, *renderer, width, height);
    }
    static void TearDownTestSuite() {
        delete target;
        delete renderer;
        delete ctx;
        delete scene;
    }
    void TearDown() override {
        EXPECT_EQ(ctx->validationMessages(), 0u) << ctx->lastValidationMessage();
    }
    static constexpr int width = 960, height = 540;
    static ui::CityScene* scene;
    static VulkanContext* ctx;
    static Renderer* renderer;
    static OffscreenTarget* target;
};
ui::CityScene* MusterstadtRender::scene = nullptr;
VulkanContext* MusterstadtRender::ctx = nullptr;
Renderer* MusterstadtRender::renderer = nullptr;
OffscreenTarget* MusterstadtRender::target = nullptr;

// The Rathaus of the sample town (docs/musterstadt.md), EPSG:25832.
size_t rathausIndex(const CityModel& city) {
    Vec2 p = city.frame.toLocal(Vec2(475502, 5734320));
    for (size_t i = 0; i < city.buildings.size(); ++i)
        for (uint32_t k = city.buildings.partStart[i]; k < city.buildings.partStart[i + 1]; ++k)
            if (pointInRing(p, city.buildings.footprints.ring(k, 0))) return i;
    return SIZE_MAX;
}

TEST_F(MusterstadtRender, SkyTerrainAndBuildingsTakePlausibleShares) {
    // A low view from the south edge of town towards the north: horizon in the upper part.
    Camera cam;
    Vec2 south = scene->city.frame.toLocal(Vec2(475500, 5733150));
    float ground = scene->city.terrain.heightAt(south);
    cam.eye = Vec3(south.x(), south.y(), ground + 120);
    cam.yawDeg = 5;
    cam.pitchDeg = -10;
    RenderSettings all;
    Picture full = target->render(cam, all);
    RenderSettings noBuildings = all;
    noBuildings.show.buildings = false;
    Picture withoutBuildings = target->render(cam, noBuildings);
    RenderSettings skyOnly = all;
    skyOnly.show.terrain = skyOnly.show.buildings = skyOnly.show.roads = false;
    Picture sky = target->render(cam, skyOnly);

    double buildingShare = differingShare(full, withoutBuildings);
    double skyShare = 1 - differingShare(full, sky);
    double groundShare = 1 - buildingShare - skyShare;
    reportFigure("render", "sky_share", skyShare);
    reportFigure("render", "building_share", buildingShare);
    reportFigure("render", "terrain_and_road_share", groundShare);
    // What shows the sky colour: everything above the far (northern) edge of the terrain as
    // seen from the eye (beyond the edge the background is drawn); buildings poking above that
    // line take a little of it.
    Vec2 farEdge(cam.eye.x(), scene->city.terrain.originY);
    auto edge = cam.project(Vec3(farEdge.x(), farEdge.y(), scene->city.terrain.heightAt(farEdge - Vec2(0, 1))), width, height);
    ASSERT_TRUE(edge);
    double expectedSky = edge->y() / height;
    reportFigure("render", "sky_share_expected", expectedSky);
    EXPECT_LE(skyShare, expectedSky + 0.01);
    EXPECT_GT(skyShare, expectedSky - 0.05);
    EXPECT_GT(expectedSky, 0.2);
    EXPECT_GT(buildingShare, 0.03);
    EXPECT_LT(buildingShare, 0.6);
    EXPECT_GT(groundShare, 0.2);
    // The top row is sky, the bottom row is not.
    EXPECT_EQ(full.at(width / 2, 2), sky.at(width / 2, 2));
    EXPECT_NE(full.at(width / 2, height - 3), sky.at(width / 2, height - 3));
    EXPECT_GT(lumaStdDev(full), 10.0);
}

TEST_F(MusterstadtRender, AKnownBuildingAppearsWhereTheCameraProjectsIt) {
    size_t rathaus = rathausIndex(scene->city);
    ASSERT_NE(rathaus, SIZE_MAX);
    const Buildings& b = scene->city.buildings;
    // A roof point well inside the footprint (the Rathaus has a courtyard, so not its centroid):
    // the grid point inside the outer ring and outside the holes farthest from every edge.
    const PolygonSet& fp = b.footprints;
    uint32_t part = b.partStart[rathaus];
    Box2 box = fp.bounds(part);
    Vec2 c = box.center();
    double best = -1;
    for (int i = 0; i <= 40; ++i)
        for (int j = 0; j <= 40; ++j) {
            Vec2 q = box.min + (box.max - box.min).cwiseProduct(Vec2(i / 40.0, j / 40.0));
            if (!pointInRing(q, fp.ring(part, 0))) continue;
            double clearance = 1e9;
            bool inHole = false;
            for (size_t r = 0; r < fp.ringCount(part); ++r) {
                auto ring = fp.ring(part, r);
                if (r > 0 && pointInRing(q, ring)) inHole = true;
                for (size_t k = 0; k < ring.size(); ++k) {
                    Vec2 a = ring[k], d = ring[(k + 1) % ring.size()] - a;
                    double t = std::clamp((q - a).dot(d) / std::max(d.squaredNorm(), 1e-12), 0.0, 1.0);
                    clearance = std::min(clearance, (a + d * t - q).norm());
                }
            }
            if (!inHole && clearance > best) best = clearance, c = q;
        }
    ASSERT_GT(best, 3.0);
    Vec3 roof(c.x(), c.y(), b.groundM[rathaus] + b.heightM[rathaus]);
    Camera cam = ui::overviewCamera(*scene, double(width) / height);
    auto px = cam.project(roof, width, height);
    ASSERT_TRUE(px);
    ASSERT_TRUE(px->x() > 0 && px->x() < width && px->y() > 0 && px->y() < height);

    // Colour only the Rathaus, with the deep-blue end of the Water map.
    ValueOverlay values;
    values.values.assign(b.size(), NAN);
    values.values[rathaus] = 1;
    values.scale = {ColorMap::Water, 0, 1, "test", ""};
    RenderSettings settings;
    Picture plain = target->render(cam, settings);
    renderer->setBuildingValues(&values);
    Picture marked = target->render(cam, settings);
    renderer->setBuildingValues(nullptr);
    Rgb m = rgbAt(marked, px->x(), px->y()), p = rgbAt(plain, px->x(), px->y());
    // Lighting and haze mix into any colour, so compare hues: the pixel turned from the roof's
    // warm tone (red above blue) to blue above red.
    EXPECT_GT(m.b, m.r + 20) << "pixel " << px->x() << "," << px->y() << " is " << m.r << "," << m.g << "," << m.b;
    EXPECT_GT(p.r, p.b) << "the roof without the overlay: " << p.r << "," << p.g << "," << p.b;
    // Only the Rathaus changed: a small region of the picture.
    double changed = differingShare(plain, marked);
    EXPECT_GT(changed, 0.0);
    EXPECT_LT(changed, 0.01);
    // The default camera frames the whole town: every corner of the mesh bounds is in view.
    for (int k = 0; k < 8; ++k) {
        Vec3 corner((k & 1) ? scene->mesh.boundsMax[0] : scene->mesh.boundsMin[0], (k & 2) ? scene->mesh.boundsMax[1] : scene->mesh.boundsMin[1],
                    (k & 4) ? scene->mesh.boundsMax[2] : scene->mesh.boundsMin[2]);
        auto q = cam.project(corner, width, height);
        ASSERT_TRUE(q);
        EXPECT_TRUE(q->x() >= 0 && q->x() <= width && q->y() >= 0 && q->y() <= height) << q->x() << "," << q->y();
    }
}

TEST_F(MusterstadtRender, TheSameSceneRendersToIdenticalPixels) {
    Camera cam = *ui::namedCamera(*scene, "Rathaus", double(width) / height);
    RenderSettings s;
    s.shadows = true;
    Picture a = target->render(cam, s);
    Picture b = target->render(cam, s);
    EXPECT_EQ(a.rgba, b.rgba);
    // Shadows darken part of the picture, and change nothing else of its layout.
    s.shadows = false;
    Picture c = target->render(cam, s);
    double shadowed = differingShare(a, c);
    EXPECT_GT(shadowed, 0.01);
}

TEST_F(MusterstadtRender, CullingAndLevelOfDetailCutTheWork) {
    Camera overview = ui::overviewCamera(*scene, double(width) / height);
    RenderSettings s;
    target->draw(overview, s); // warm up
    auto t0 = std::chrono::steady_clock::now();
    const int frames = 5;
    FrameStats whole;
    for (int i = 0; i < frames; ++i) whole = target->draw(overview, s);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / frames;
    reportFigure("render", "musterstadt_960x540_ms_validation_on", ms);
    reportFigure("render", "musterstadt_overview_triangles_drawn", double(whole.triangles));
    // The whole town is in view: nothing culled; far terrain drawn coarser than its finest level.
    EXPECT_EQ(whole.chunksCulled, 0u);
    EXPECT_LT(whole.triangles, scene->mesh.triangleCount() / 4);
    // A close-up sees a few chunks: the rest are culled, and what is near is drawn finer.
    FrameStats close = target->draw(*ui::namedCamera(*scene, "Rathaus", double(width) / height), s);
    reportFigure("render", "musterstadt_closeup_chunks_culled", close.chunksCulled);
    EXPECT_GT(close.chunksCulled, whole.chunksDrawn / 2);
    EXPECT_LT(close.chunksDrawn, whole.chunksDrawn);
    EXPECT_GT(close.triangles, whole.triangles); // finer terrain near the camera
}

// A hand-made flat town for the overlay API: every overlay's colour appears where it should.
TEST(RenderOverlays, GridValuesAgentsAndMarkersAppearWhereTheyAre) {
    CityModel city;
    city.terrain = flatTerrain(200, 1, 10);
    city.buildings.footprints.add({{{-10, -10}, {10, -10}, {10, 10}, {-10, 10}}});
    city.buildings.partStart = {0, 1};
    city.buildings.sourceId = {"b1"};
    city.buildings.name = {""};
    city.buildings.heightM = {12};
    city.buildings.groundM = {10};
    city.buildings.levels = {4};
    city.buildings.use = {BuildingUse::Residential};
    city.buildings.yearBuilt = {0};
    city.buildings.heightSource = {HeightSource::Attribute};
    CityMesh mesh = buildCityMesh(city);

    VulkanContext ctx(validated());
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(mesh, 51.7, 8.75);
    const int w = 640, h = 640;
    OffscreenTarget target(ctx, renderer, w, h);
    Camera cam;
    cam.eye = Vec3(0, -0.01, 260);
    cam.pitchDeg = -89.9;
    RenderSettings s;
    s.sun = SunPosition{180, 60};
    Picture before = target.render(cam, s);

    // Grid: the west half deep water (the end of the Water map), the east half dry.
    GridOverlay grid;
    grid.width = grid.height = 20;
    grid.cellSize = 10;
    grid.originX = -100;
    grid.originY = 100;
    grid.values.assign(400, 0.0f);
    for (int r = 0; r < 20; ++r)
        for (int c = 0; c < 10; ++c) grid.values[size_t(r) * 20 + c] = 2.0f;
    grid.scale = {ColorMap::Water, 0, 2, "depth", "m"};
    grid.hideAtOrBelow = 0.01f;
    grid.opacity = 1;
    renderer.setGrid(&grid);
    // Agents: 100,000 red boxes on a grid in the south-east quarter.
    std::vector<Agent> agents;
    for (int i = 0; i < 100000; ++i) {
        Agent a;
        a.x = 20 + float(i % 400) * 0.2f;
        a.y = -90 + float(i / 400) * 0.3f;
        a.z = 10;
        a.length = 0.18f, a.width = 0.25f, a.height = 1;
        a.rgba = rgba(230, 20, 20);
        agents.push_back(a);
    }
    renderer.setAgents(agents);
    Marker m;
    m.position = Vec3(60, 60, 11);
    m.rgba = rgba(250, 200, 0);
    m.label = "Pegel 1";
    renderer.setMarkers({m});
    auto t0 = std::chrono::steady_clock::now();
    Picture after = target.render(cam, s);
    reportFigure("render", "frame_with_100k_agents_ms_validation_on",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_EQ(ctx.validationMessages(), 0u) << ctx.lastValidationMessage();

    auto at = [&](const Picture& p, double x, double y) {
        auto q = cam.project(Vec3(x, y, 10), w, h);
        EXPECT_TRUE(q);
        return rgbAt(p, q->x(), q->y());
    };
    Rgb wet = at(after, -60, 40), dryBefore = at(before, 60, -20 + 100), dry = at(after, 60, 80);
    EXPECT_GT(wet.b, wet.r + 40) << wet.r << "," << wet.g << "," << wet.b;
    EXPECT_GT(wet.b, wet.g);
    Rgb wetBefore = at(before, -60, 40);
    EXPECT_FALSE(wetBefore.b > wetBefore.r + 40) << "the terrain was blue before the grid";
    EXPECT_EQ(dry.r, dryBefore.r); // hidden values leave the terrain as it was
    Rgb agent = at(after, 50, -60);
    EXPECT_GT(agent.r, agent.g * 2) << agent.r << "," << agent.g << "," << agent.b;
    auto mp = cam.project(m.position, w, h);
    ASSERT_TRUE(mp);
    Rgb marker = rgbAt(after, mp->x(), mp->y());
    EXPECT_GT(marker.r, 200);
    EXPECT_GT(marker.g, 150);
    EXPECT_LT(marker.b, 80);
    // The label sits right of the marker: a white box.
    Rgb label = rgbAt(after, mp->x() + 11.5, mp->y()); // in the box's padding, left of the text
    EXPECT_GT(label.r + label.g + label.b, 3 * 200);
    // The building roof, untouched by the grid (grids drape on terrain and roads only).
    Rgb roofBefore = rgbAt(before, w / 2.0, h / 2.0), roofAfter = rgbAt(after, w / 2.0, h / 2.0);
    EXPECT_EQ(roofBefore.r, roofAfter.r);
    EXPECT_EQ(roofBefore.b, roofAfter.b);
}

// Sun: Paderborn at the June solstice, solar noon ≈ 11:25 UTC: elevation 90 − 51.72 + 23.44 =
// 61.7°, due south; at the December solstice 14.8°. Sunrise azimuth in June ≈ 50° (north-east).
TEST(RenderSun, PositionMatchesTheAstronomy) {
    double lat = 51.72, lon = 8.75;
    SunPosition june = sunPosition(*parseIsoInstant("2026-06-21T11:25:00Z"), lat, lon);
    EXPECT_NEAR(june.elevationDeg, 61.7, 0.3);
    EXPECT_NEAR(june.azimuthDeg, 180, 2.0);
    SunPosition december = sunPosition(*parseIsoInstant("2026-12-21T11:37:00Z"), lat, lon);
    EXPECT_NEAR(december.elevationDeg, 14.85, 0.3);
    SunPosition morning = sunPosition(*parseIsoInstant("2026-06-21T03:05:00Z"), lat, lon);
    EXPECT_NEAR(morning.elevationDeg, 0, 1.5);
    EXPECT_NEAR(morning.azimuthDeg, 49, 3);
    Vec3 d = june.direction();
    EXPECT_NEAR(d.norm(), 1, 1e-12);
    EXPECT_LT(d.y(), -0.4); // towards the south
}

TEST(RenderCamera, ProjectionAndRaysAreInverse) {
    Camera cam;
    cam.eye = Vec3(10, -20, 300);
    cam.yawDeg = 33;
    cam.pitchDeg = -41;
    for (auto [x, y] : {std::pair{100.5, 50.5}, {640.0, 360.0}, {1200.0, 700.0}}) {
        Ray r = cam.rayThrough(x, y, 1280, 720);
        auto p = cam.project(r.origin + r.direction * 250, 1280, 720);
        ASSERT_TRUE(p);
        EXPECT_NEAR(p->x(), x, 1e-6);
        EXPECT_NEAR(p->y(), y, 1e-6);
    }
    // The GPU matrices agree with the CPU projection.
    Eigen::Matrix4f vp = cam.viewProjection(1280.0 / 720);
    Vec3 q(50, 120, 20);
    Eigen::Vector4f clip = vp * Eigen::Vector4f(50, 120, 20, 1);
    auto p = cam.project(q, 1280, 720);
    ASSERT_TRUE(p);
    EXPECT_NEAR((clip.x() / clip.w() + 1) / 2 * 1280, p->x(), 0.05);
    EXPECT_NEAR((clip.y() / clip.w() + 1) / 2 * 720, p->y(), 0.05);
    EXPECT_GT(clip.z() / clip.w(), 0);
    EXPECT_LT(clip.z() / clip.w(), 1);
    EXPECT_FALSE(Camera::parse("1,2,3"));
    EXPECT_FALSE(Camera::parse("1,2,3,4,95"));
    EXPECT_TRUE(Camera::parse("1,2,3,4,-5"));
}

// The command line: a PNG GDAL can read, and clear errors for bad arguments.
TEST(RenderCommand, WritesAPngHeadless) {
    TempDir tmp;
    fs::path png = tmp / "town.png";
    auto r = runCitytwin("render " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --out " + png.string() +
                         " --size 640x360 --validate --color-by height");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open(png.c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(ds);
    EXPECT_EQ(ds->GetRasterXSize(), 640);
    EXPECT_EQ(ds->GetRasterYSize(), 360);
    EXPECT_GE(ds->GetRasterCount(), 3);
    double mn, mx, mean, sd;
    ASSERT_EQ(ds->GetRasterBand(2)->ComputeStatistics(false, &mn, &mx, &mean, &sd, nullptr, nullptr), CE_None);
    EXPECT_GT(sd, 10);

    auto bad = runCitytwin("render " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --out " + png.string() + " --size 12");
    EXPECT_EQ(bad.exitCode, 2);
    EXPECT_NE(bad.err.find("WIDTHxHEIGHT"), std::string::npos) << bad.err;
    auto nowhere = runCitytwin("render " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --out " + png.string() +
                               " --camera 'Atlantis Tower'");
    EXPECT_EQ(nowhere.exitCode, 2);
    EXPECT_NE(nowhere.err.find("unknown camera"), std::string::npos) << nowhere.err;
}

// The windowed viewer under Xvfb: starts, draws frames, is resized, saves a screenshot, exits
// cleanly with the validation layer silent.
TEST(Viewer, RunsUnderXvfbAndTakesAScreenshot) {
    if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) {
        if (std::getenv("CI")) FAIL() << "xvfb-run missing (tools/setup installs xvfb)";
        GTEST_SKIP() << "xvfb-run not installed";
    }
    TempDir tmp;
    fs::path png = tmp / "viewer.png";
    std::string cmd = "xvfb-run -a -s '-screen 0 1280x800x24' " + std::string(CITYTWIN_BINARY) + " --no-cache view " +
                      (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --size 800x450 --frames 12 --validate --screenshot " +
                      png.string() + " >" + (tmp / "out").string() + " 2>&1";
    int status = std::system(cmd.c_str());
    std::ifstream log(tmp / "out");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open(png.c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(ds) << text;
    // The counted run resized the window to 3/4 halfway: the swapchain followed.
    EXPECT_EQ(ds->GetRasterXSize(), 600);
    EXPECT_EQ(ds->GetRasterYSize(), 337);
    double mn, mx, mean, sd;
    ASSERT_EQ(ds->GetRasterBand(1)->ComputeStatistics(false, &mn, &mx, &mean, &sd, nullptr, nullptr), CE_None);
    EXPECT_GT(sd, 10);
    EXPECT_NE(text.find("viewer: 12 frames"), std::string::npos) << text;
}

// Live mode: the scenario's flood module runs in the viewer while it draws; the simulated
// clock advances, and the run ends cleanly (worker thread joined, validation silent).
TEST(Viewer, RunsAFloodLiveUnderXvfb) {
    if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) {
        if (std::getenv("CI")) FAIL() << "xvfb-run missing (tools/setup installs xvfb)";
        GTEST_SKIP() << "xvfb-run not installed";
    }
    TempDir tmp;
    std::string cmd = "xvfb-run -a -s '-screen 0 1280x800x24' " + std::string(CITYTWIN_BINARY) + " --no-cache view " +
                      (sourceDir() / "scenarios" / "musterstadt-heavy-rain.yaml").string() +
                      " --live --variant --size 640x360 --frames 60 --validate >" + (tmp / "out").string() + " 2>&1";
    int status = std::system(cmd.c_str());
    std::ifstream log(tmp / "out");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
    double simulated = 0, duration = 0;
    auto at = text.find("viewer: simulated ");
    ASSERT_NE(at, std::string::npos) << text;
    ASSERT_EQ(std::sscanf(text.c_str() + at, "viewer: simulated %lf s of %lf s live", &simulated, &duration), 2);
    EXPECT_GT(simulated, 0);
    EXPECT_EQ(duration, 75 * 60);

    // A scenario without modules cannot run live: a clear error, before any window opens.
    auto none = runCitytwin("view " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --live");
    EXPECT_EQ(none.exitCode, 2);
    EXPECT_NE(none.err.find("no modules to run live"), std::string::npos) << none.err;
}

} // namespace
