// The renderer on Mesa lavapipe (or whatever Vulkan device there is), with the Khronos
// validation layer on: every test fails on any validation message. Checks pictures against
// what the CPU computes independently: camera projections of known points, layer-toggled
// renders for the share of sky/terrain/buildings, overlay colours from the colour maps.
#include "TestSupport.h"
#include "gis/Gdal.h"
#include "render/Font.h"
#include "render/Offscreen.h"
#include "ui/CityScene.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <cmath>
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <random>
#include <set>
#include <sstream>

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

// Water areas are drawn with the water variant of the terrain shader (deep blue with the sky's
// reflection), chosen per terrain chunk: a point well inside the largest water area, projected
// by the camera, is water-coloured with water shown and the land-use colour without.
TEST_F(MusterstadtRender, WaterAreasAreDrawnAsWater) {
    const PolygonSet& areas = scene->city.water.areas;
    ASSERT_GT(areas.size(), 0u);
    // Over all water areas, the grid point (60 × 60 per area) farthest from any outline.
    Vec2 best(0, 0);
    double clearance = -1;
    for (size_t area = 0; area < areas.size(); ++area) {
        Box2 box = areas.bounds(area);
        for (int i = 0; i <= 60; ++i)
            for (int j = 0; j <= 60; ++j) {
                Vec2 q = box.min + (box.max - box.min).cwiseProduct(Vec2(i / 60.0, j / 60.0));
                if (!pointInRing(q, areas.ring(area, 0))) continue;
                double d = 1e9;
                for (size_t r = 0; r < areas.ringCount(area); ++r) {
                    auto ring = areas.ring(area, r);
                    if (r > 0 && pointInRing(q, ring)) d = -1;
                    for (size_t k = 0; k < ring.size() && d > 0; ++k) {
                        Vec2 a = ring[k], e = ring[(k + 1) % ring.size()] - a;
                        double t = std::clamp((q - a).dot(e) / std::max(e.squaredNorm(), 1e-12), 0.0, 1.0);
                        d = std::min(d, (a + e * t - q).norm());
                    }
                }
                if (d > clearance) clearance = d, best = q;
            }
    }
    Camera cam = ui::overviewCamera(*scene, double(width) / height);
    // At least two pixels of water on every side at this camera's scale (metres per pixel at
    // the town's distance, roughly the bounds' width over the picture's).
    double metresPerPixel = (scene->mesh.boundsMax[0] - scene->mesh.boundsMin[0]) / width;
    ASSERT_GT(clearance, 2 * metresPerPixel) << "no point deep inside a water area";
    auto px = cam.project(Vec3(best.x(), best.y(), scene->city.terrain.heightAt(best)), width, height);
    ASSERT_TRUE(px);
    RenderSettings shown, hidden;
    hidden.show.water = false;
    Rgb w = rgbAt(target->render(cam, shown), px->x(), px->y());
    Rgb land = rgbAt(target->render(cam, hidden), px->x(), px->y());
    // Deep blue: blue well above red, and darker than the light land-use colour beneath.
    EXPECT_GT(w.b, w.r + 40) << "water pixel " << w.r << "," << w.g << "," << w.b;
    EXPECT_LT(w.r + w.g + w.b, land.r + land.g + land.b - 60)
        << "water " << w.r << "," << w.g << "," << w.b << " vs land " << land.r << "," << land.g << "," << land.b;
}

// The terrain's land use is draped per pixel, so its colours do not follow the level of detail:
// the overview with the coarsest terrain the viewer's slider allows against the finest, light per
// pixel on both sides. What may differ is light and outline where the coarse surface strays from
// the fine one (under a pixel or so). With land use as vertex colours, every border of a field,
// forest or the river smears over a coarse triangle (a few per cent of the pixels, the river
// narrowing to a vertex's width).
TEST_F(MusterstadtRender, TerrainColoursDoNotFollowItsLevelOfDetail) {
    Camera cam = ui::overviewCamera(*scene, double(width) / height);
    RenderSettings coarse, fine;
    coarse.vertexLighting = fine.vertexLighting = false;
    coarse.terrainDetail = 0.25f;
    fine.terrainDetail = 64;
    FrameStats coarseStats, fineStats;
    const Picture a = target->render(cam, coarse, nullptr, &coarseStats), b = target->render(cam, fine, nullptr, &fineStats);
    EXPECT_LT(coarseStats.triangles * 4, fineStats.triangles); // the levels do differ
    size_t n = size_t(a.width) * a.height, over8 = 0;
    for (size_t i = 0; i < n; ++i) {
        int d = 0;
        for (int k = 0; k < 3; ++k) d = std::max(d, std::abs(int(a.rgba[i * 4 + k]) - int(b.rgba[i * 4 + k])));
        over8 += d > 8;
    }
    reportFigure("render", "overview_coarse_vs_fine_terrain_pixels_over_8_levels", double(over8));
    EXPECT_LT(double(over8) / double(n), 0.002);
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

// Lighting per vertex (buildings, roads, terrain drawn a few pixels per triangle) against the
// reference, lighting per pixel: the same picture up to rounding, from afar and close up (where
// the terrain near the camera stays lit per pixel).
TEST_F(MusterstadtRender, VertexLightingLooksLikePixelLighting) {
    for (const char* view : {"overview", "Rathaus"}) {
        Camera cam = std::string(view) == "overview" ? ui::overviewCamera(*scene, double(width) / height)
                                                     : *ui::namedCamera(*scene, view, double(width) / height);
        RenderSettings vertex, pixel;
        pixel.vertexLighting = false;
        // Far buildings as triangles on both sides: this compares the lighting; the points that may
        // stand in for them (lit per vertex, covering pixels by ray cast) have their own test.
        vertex.buildingBoxesPx = 0;
        Picture a = target->render(cam, vertex), b = target->render(cam, pixel);
        size_t n = size_t(a.width) * a.height, over2 = 0, over8 = 0;
        double sum = 0;
        for (size_t i = 0; i < n; ++i) {
            int d = 0;
            for (int k = 0; k < 3; ++k) d = std::max(d, std::abs(int(a.rgba[i * 4 + k]) - int(b.rgba[i * 4 + k])));
            sum += d;
            over2 += d > 2;
            over8 += d > 8;
        }
        double mean = sum / double(n);
        reportFigure("render", std::string(view) + "_vertex_lighting_mean_abs_difference", mean);
        reportFigure("render", std::string(view) + "_vertex_lighting_pixels_over_2_levels", double(over2));
        EXPECT_GT(differingShare(a, b), 0.0) << view; // the two paths did run
        EXPECT_LT(mean, 0.1) << view;
        EXPECT_LT(double(over2) / double(n), 0.001) << view;
        EXPECT_EQ(over8, 0u) << view; // no difference one could see
    }
}

// Shadows cast by the faces turned towards the sun only, against the reference cast by both
// sides of every face: the same pictures, but for the odd pixel whose shadow-map texel lies
// exactly on a silhouette edge. (Casting from the far faces instead changes 1.7 % of the pixels.)
TEST_F(MusterstadtRender, ShadowsFromSunFacingFacesLookTheSame) {
    for (const char* view : {"overview", "Rathaus"}) {
        Camera cam = std::string(view) == "overview" ? ui::overviewCamera(*scene, double(width) / height)
                                                     : *ui::namedCamera(*scene, view, double(width) / height);
        RenderSettings sunFacing, bothSides;
        sunFacing.shadows = bothSides.shadows = true;
        bothSides.shadowFromSunFacingFaces = false;
        double differ = differingShare(target->render(cam, sunFacing), target->render(cam, bothSides));
        reportFigure("render", std::string(view) + "_shadow_sun_facing_differing_share", differ);
        EXPECT_LT(differ, 1e-4) << view;
    }
}

// Terrain chunks holding water drawn in two parts, the quads without a water vertex with the
// land shader, against the reference that water-shades the whole chunk: the water shader's land
// pixels run the land shader's arithmetic, so the pictures are the same (per-pixel light on
// both sides here, with and without shadows; the river crosses the overview and the close-up).
TEST_F(MusterstadtRender, WaterShaderOnWaterQuadsOnlyLooksTheSame) {
    for (const char* view : {"overview", "Rathaus"})
        for (bool shadows : {false, true}) {
            Camera cam = std::string(view) == "overview" ? ui::overviewCamera(*scene, double(width) / height)
                                                         : *ui::namedCamera(*scene, view, double(width) / height);
            RenderSettings split, whole;
            split.vertexLighting = whole.vertexLighting = false;
            split.shadows = whole.shadows = shadows;
            whole.waterShaderOnWaterQuadsOnly = false;
            FrameStats splitStats, wholeStats;
            const Picture a = target->render(cam, split, nullptr, &splitStats), b = target->render(cam, whole, nullptr, &wholeStats);
            EXPECT_GT(splitStats.drawCalls, wholeStats.drawCalls) << view; // some chunks were split
            const double differ = differingShare(a, b);
            reportFigure("render", std::string(view) + (shadows ? "_shadows" : "") + "_water_split_differing_share", differ);
            EXPECT_EQ(differ, 0.0) << view << (shadows ? " with shadows" : "");
        }
}

// The sky drawn only where it can be more than the plain ground tone below the horizon (the
// frame cleared to that tone elsewhere), against the reference that draws it over the whole
// screen: byte for byte the same looking down (no sky drawn at all), from the town's edge at
// the horizon (the band below it, where the ground tone fades in, in view beyond the terrain),
// and looking up, at noon and with the sun low.
TEST_F(MusterstadtRender, SkyAboveTheGroundLineOnlyLooksTheSame) {
    const double aspect = double(width) / height;
    Camera edge; // on the town's south edge, looking out over the terrain's end
    edge.eye = Vec3((scene->mesh.boundsMin[0] + scene->mesh.boundsMax[0]) / 2, scene->mesh.boundsMin[1] + 100, scene->mesh.boundsMax[2] + 30);
    edge.yawDeg = 180;
    edge.pitchDeg = -4;
    Camera up = edge;
    up.pitchDeg = 35;
    const std::pair<const char*, Camera> views[] = {
        {"overview", ui::overviewCamera(*scene, aspect)}, {"Rathaus", *ui::namedCamera(*scene, "Rathaus", aspect)}, {"edge", edge}, {"up", up}};
    for (const auto& [name, cam] : views)
        for (double elevation : {60.0, 3.0}) {
            RenderSettings clipped, whole;
            clipped.sun = whole.sun = SunPosition{200, elevation};
            whole.skyAboveGroundLineOnly = false;
            FrameStats clippedStats, wholeStats;
            const Picture a = target->render(cam, clipped, nullptr, &clippedStats), b = target->render(cam, whole, nullptr, &wholeStats);
            EXPECT_EQ(differingShare(a, b), 0.0) << name << " with the sun at " << elevation << "°";
            if (std::string(name) == "overview") {
                EXPECT_EQ(clippedStats.drawCalls + 1, wholeStats.drawCalls); // no sky drawn
            }
            if (std::string(name) == "edge") { // the band below the horizon is there: not all one tone
                std::set<uint32_t> tones;
                for (int y = 0; y < height; ++y) tones.insert(a.at(width / 2, y));
                EXPECT_GT(tones.size(), 20u) << "sun at " << elevation << "°";
            }
        }
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
    // The viewer's terrain-detail slider: more detail, more triangles; less, fewer (at the
    // close-up: the overview's terrain is at its coarsest level already).
    RenderSettings finer = s, coarser = s;
    finer.terrainDetail = 2;
    coarser.terrainDetail = 0.5f;
    EXPECT_GT(target->draw(overview, finer).triangles, whole.triangles);
    EXPECT_LT(target->draw(*ui::namedCamera(*scene, "Rathaus", double(width) / height), coarser).triangles, close.triangles);
}

// Split view: left of the divider the Left overlays, right of it the Right ones, each byte for
// byte what a single render of that side's overlays gives (the reference: two plain renders).
TEST_F(MusterstadtRender, SplitViewMatchesASingleRenderOfEachSide) {
    const Terrain& terrain = scene->city.terrain;
    auto makeGrid = [&](bool variant) {
        GridOverlay g;
        g.cellSize = 20;
        g.width = int(std::ceil(terrain.width * terrain.cellSize / g.cellSize));
        g.height = int(std::ceil(terrain.height * terrain.cellSize / g.cellSize));
        g.originX = terrain.originX;
        g.originY = terrain.originY;
        for (int r = 0; r < g.height; ++r)
            for (int c = 0; c < g.width; ++c)
                g.values.push_back(variant ? float(std::fmod(std::hypot(c - g.width / 2.0, r - g.height / 2.0) / 15.0, 1.0))
                                           : float(c) / float(g.width));
        g.scale = variant ? ColorScale{ColorMap::Inferno, 0, 1, "rings", ""} : ColorScale{ColorMap::Viridis, 0, 1, "west-east", ""};
        g.hideAtOrBelow = variant ? 0.2f : -1.0f;
        g.opacity = variant ? 0.9f : 0.7f;
        return g;
    };
    auto makeValues = [](size_t n, bool variant) {
        ValueOverlay v;
        for (size_t i = 0; i < n; ++i) v.values.push_back(variant ? float((i * 13) % 11) / 10 : float(i % 7) / 6);
        v.scale = {variant ? ColorMap::Traffic : ColorMap::Diverging, 0, 1, "", ""};
        return v;
    };
    GridOverlay gridA = makeGrid(false), gridB = makeGrid(true);
    ValueOverlay buildingsA = makeValues(scene->city.buildings.size(), false), buildingsB = makeValues(scene->city.buildings.size(), true);
    ValueOverlay roadsA = makeValues(scene->city.roads.edgeCount(), false), roadsB = makeValues(scene->city.roads.edgeCount(), true);
    auto setSide = [&](Side side, const GridOverlay* g, const ValueOverlay* b, const ValueOverlay* r) {
        renderer->setGrid(g, side);
        renderer->setBuildingValues(b, side);
        renderer->setRoadValues(r, side);
    };
    Camera cam = ui::overviewCamera(*scene, double(width) / height);
    RenderSettings s;
    s.shadows = true;
    Hud hud; // drawn once over both sides
    hud.rect(300, 20, 500, 60, rgba(255, 255, 255, 200));
    hud.text(310, 28, "Vorher | Nachher", rgba(10, 10, 10));
    RenderSettings split = s;
    split.splitAtPx = width * 0.4f;
    const int divider = int(std::lround(*split.splitAtPx));

    setSide(Side::Left, &gridA, &buildingsA, &roadsA);
    Picture leftOnly = target->render(cam, s, &hud);
    setSide(Side::Right, &gridB, &buildingsB, &roadsB);
    FrameStats splitStats, singleStats;
    Picture both = target->render(cam, split, &hud, &splitStats);
    Picture leftWithRightSet = target->render(cam, s, &hud, &singleStats);
    auto t0 = std::chrono::steady_clock::now();
    target->draw(cam, split, &hud);
    reportFigure("render", "musterstadt_split_960x540_ms_validation_on",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    // The variant alone, as a single render: its overlays set as Left.
    setSide(Side::Right, nullptr, nullptr, nullptr);
    setSide(Side::Left, &gridB, &buildingsB, &roadsB);
    Picture rightOnly = target->render(cam, s, &hud);
    setSide(Side::Left, nullptr, nullptr, nullptr);

    // Without a split the Right overlays are not drawn.
    EXPECT_EQ(leftWithRightSet.rgba, leftOnly.rgba);
    size_t leftMismatch = 0, rightMismatch = 0;
    for (int y = 0; y < height; ++y) {
        size_t row = size_t(y) * width * 4, cut = size_t(divider) * 4, end = size_t(width) * 4;
        if (std::memcmp(&both.rgba[row], &leftOnly.rgba[row], cut) != 0) ++leftMismatch;
        if (std::memcmp(&both.rgba[row + cut], &rightOnly.rgba[row + cut], end - cut) != 0) ++rightMismatch;
    }
    EXPECT_EQ(leftMismatch, 0u) << "rows whose left part differs from the Left render";
    EXPECT_EQ(rightMismatch, 0u) << "rows whose right part differs from the Right render";
    // The two sides really differ in both halves (the town and its terrain fill about a third
    // of the picture), so the comparison above can fail.
    auto differingIn = [&](int x0, int x1) {
        size_t differ = 0;
        for (int y = 0; y < height; ++y)
            for (int x = x0; x < x1; ++x) differ += leftOnly.at(x, y) != rightOnly.at(x, y);
        return double(differ) / (double(x1 - x0) * height);
    };
    EXPECT_GT(differingIn(0, divider), 0.15);
    EXPECT_GT(differingIn(divider, width), 0.15);
    // The divider column and its left neighbour come from different renders.
    size_t fromLeft = 0, fromRight = 0;
    for (int y = 0; y < height; ++y) {
        fromLeft += both.at(divider - 1, y) == leftOnly.at(divider - 1, y) && leftOnly.at(divider - 1, y) != rightOnly.at(divider - 1, y);
        fromRight += both.at(divider, y) == rightOnly.at(divider, y) && leftOnly.at(divider, y) != rightOnly.at(divider, y);
    }
    EXPECT_GT(fromLeft, size_t(height / 4));
    EXPECT_GT(fromRight, size_t(height / 4));
    // One shadow pass; the city once per side, each side's draws culled to its columns.
    reportFigure("render", "musterstadt_split_triangles", double(splitStats.triangles));
    reportFigure("render", "musterstadt_single_triangles", double(singleStats.triangles));
    EXPECT_GT(splitStats.drawCalls, singleStats.drawCalls);
    EXPECT_LT(splitStats.triangles, 2 * singleStats.triangles);
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

// HUD text: DejaVu Sans from the distance-field atlas, checked on a plain white box.
namespace hudtest {
// The inked part of a region: pixels that are not the paper colour.
struct Ink {
    int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1; // inclusive bounds
    size_t pixels = 0, full = 0, partial = 0;          // inked; exactly the ink colour; in between
    bool grey = true;                                   // every inked pixel on the line paper–ink
};
Ink inkIn(const Picture& p, uint32_t paper, uint32_t ink, int x0, int y0, int x1, int y1) {
    Ink k;
    for (int y = std::max(0, y0); y < std::min(p.height, y1); ++y)
        for (int x = std::max(0, x0); x < std::min(p.width, x1); ++x) {
            uint32_t c = p.at(x, y) | 0xff000000u;
            if (c == paper) continue;
            k.pixels++;
            if (c == ink) k.full++;
            else k.partial++;
            int r = int(c & 0xff), g = int((c >> 8) & 0xff), b = int((c >> 16) & 0xff);
            if (std::abs(r - g) > 1 || std::abs(g - b) > 1) k.grey = false;
            k.x0 = std::min(k.x0, x), k.x1 = std::max(k.x1, x), k.y0 = std::min(k.y0, y), k.y1 = std::max(k.y1, y);
        }
    return k;
}
} // namespace hudtest

// An agent's box is lit face by face (flat, each face's light from its own normal): with the sun
// due south, the south wall is sunlit and the west wall gets none; and the same box built the
// other way round (heading +90°, length and width swapped, so other corners start each face)
// looks the same at the faces' centres.
TEST(RenderOverlays, AgentBoxesAreLitFaceByFace) {
    CityModel city;
    city.terrain = flatTerrain(200, 1, 10);
    CityMesh mesh = buildCityMesh(city);
    VulkanContext ctx(validated());
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(mesh, 51.7, 8.75);
    const int w = 640, h = 480;
    OffscreenTarget target(ctx, renderer, w, h);
    Camera cam; // south-west of the box, looking north-east and down
    cam.eye = Vec3(-45, -60, 45);
    cam.yawDeg = 37;
    cam.pitchDeg = -28;
    RenderSettings s;
    s.sun = SunPosition{180, 35};
    auto render = [&](double headingRad, float length, float width) {
        Agent a;
        a.x = 0, a.y = 0, a.z = 10;
        a.headingRad = float(headingRad);
        a.length = length, a.width = width, a.height = 8;
        a.rgba = rgba(200, 200, 200);
        renderer.setAgents({a});
        return target.render(cam, s);
    };
    const Picture east = render(0, 20, 10), north = render(M_PI / 2, 10, 20);
    auto at = [&](const Picture& p, const Vec3& point) {
        auto q = cam.project(point, w, h);
        EXPECT_TRUE(q && q->x() >= 0 && q->y() >= 0 && q->x() < w && q->y() < h) << point.transpose();
        return q ? rgbAt(p, q->x(), q->y()) : Rgb{0, 0, 0};
    };
    auto sum = [](Rgb c) { return c.r + c.g + c.b; };
    const Vec3 southWall(0, -5, 14), westWall(-10, 0, 14), roof(0, 0, 18);
    for (const Picture* p : {&east, &north}) {
        EXPECT_GT(sum(at(*p, southWall)), sum(at(*p, westWall)) + 60);
        EXPECT_GT(sum(at(*p, roof)), sum(at(*p, westWall)) + 60);
    }
    for (const Vec3& face : {southWall, westWall, roof}) {
        const Rgb a = at(east, face), b = at(north, face);
        EXPECT_LE(std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b), 3) << face.transpose();
    }
    EXPECT_EQ(ctx.validationMessages(), 0u) << ctx.lastValidationMessage();
}

// One building of one part on the ground at 10 m.
void appendBuilding(Buildings& b, std::vector<Vec2> ring, float heightM, BuildingUse use) {
    b.footprints.add({std::move(ring)});
    b.partStart.push_back(uint32_t(b.footprints.size()));
    b.sourceId.push_back(std::to_string(b.sourceId.size()));
    b.name.emplace_back();
    b.heightM.push_back(heightM);
    b.groundM.push_back(10);
    b.levels.push_back(0);
    b.use.push_back(use);
    b.yearBuilt.push_back(0);
    b.heightSource.push_back(HeightSource::Attribute);
}

// The city as a mesh of 128 m chunks.
CityMesh meshIn128mChunks(const CityModel& city) {
    CityMeshOptions options;
    options.chunkSizeM = 128;
    return buildCityMesh(city, options);
}

// Pixels of `a` with no pixel within one pixel of them (the 3 × 3 around) in `b` that is at
// most 8 levels apart in every channel: where `a` shows something `b` does not show nearby.
size_t unmatchedWithinAPixel(const Picture& a, const Picture& b) {
    size_t unmatched = 0;
    for (int y = 0; y < a.height; ++y)
        for (int x = 0; x < a.width; ++x) {
            const uint8_t* p = &a.rgba[(size_t(y) * a.width + x) * 4];
            bool matched = false;
            for (int dy = -1; dy <= 1 && !matched; ++dy)
                for (int dx = -1; dx <= 1 && !matched; ++dx) {
                    const int qx = std::clamp(x + dx, 0, b.width - 1), qy = std::clamp(y + dy, 0, b.height - 1);
                    const uint8_t* q = &b.rgba[(size_t(qy) * b.width + qx) * 4];
                    matched = std::abs(p[0] - q[0]) <= 8 && std::abs(p[1] - q[1]) <= 8 && std::abs(p[2] - q[2]) <= 8;
                }
            unmatched += !matched;
        }
    return unmatched;
}

// Far buildings at their chunk's coarse level (here L-shapes drawn as their bounding boxes)
// against the finest level: the renderer takes the coarse level where a footprint strays at most
// a pixel from its rectangle, so each simplified building may change about a pixel — fewer
// unmatched pixels (no colour alike within a pixel in the other picture) than buildings drawn
// simplified. Near the camera, where the notches span several pixels, the coarse level forced
// everywhere fails that bound.
TEST(RenderBuildings, CoarseFarBuildingsChangeAtMostAPixelEach) {
    CityModel city;
    city.terrain = flatTerrain(800, 2, 10);
    Buildings& b = city.buildings;
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    for (int row = 0; row < 50; ++row)
        for (int col = 0; col < 50; ++col) {
            const double x = -550 + col * 22, y = -550 + row * 22, w = 10 + 6 * u(rng), d = 10 + 6 * u(rng);
            const double nx = 2 + u(rng), ny = 2 + u(rng); // notch at the south-west corner, 2–3 m each way
            appendBuilding(b, {{x + nx, y}, {x + w, y}, {x + w, y + d}, {x, y + d}, {x, y + ny}, {x + nx, y + ny}},
                           float(6 + 3 * int(4 * u(rng))), BuildingUse::Residential);
        }
    CityMesh mesh = meshIn128mChunks(city);

    VulkanContext ctx(validated());
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(mesh, 51.7, 8.75);
    const int w = 960, h = 540;
    OffscreenTarget target(ctx, renderer, w, h);
    RenderSettings coarse, fine, forced;
    coarse.sun = fine.sun = forced.sun = SunPosition{200, 40};
    coarse.buildingBoxesPx = fine.buildingBoxesPx = forced.buildingBoxesPx = 0; // triangles: this compares their levels
    fine.buildingCoarsePx = 0;
    forced.buildingCoarsePx = 1e6;
    // Pictures of a view at two settings: unmatched pixels both ways, and how many buildings
    // the first drew simplified (an L of 16 triangles becomes a box of 10).
    struct Comparison {
        size_t unmatched, simplified;
    };
    auto compare = [&](const Camera& cam, const RenderSettings& s, const RenderSettings& reference, const char* name) {
        FrameStats st, refSt;
        const Picture a = target.render(cam, s, nullptr, &st), ref = target.render(cam, reference, nullptr, &refSt);
        Comparison c{unmatchedWithinAPixel(a, ref) + unmatchedWithinAPixel(ref, a), size_t(refSt.triangles - st.triangles) / 6};
        reportFigure("render", std::string(name) + "_buildings_simplified", double(c.simplified));
        reportFigure("render", std::string(name) + "_unmatched_pixels", double(c.unmatched));
        return c;
    };
    Camera far; // 1.6 to 3.3 km from the buildings: a pixel is 2.5 to 5 m there
    far.eye = Vec3(0, -2400, 1200);
    far.pitchDeg = -24;
    const Comparison farView = compare(far, coarse, fine, "far");
    EXPECT_GT(farView.simplified, 1000u); // most chunks drawn coarse
    EXPECT_GT(farView.unmatched, 0u);     // with a difference one can find
    EXPECT_LT(farView.unmatched, farView.simplified);

    Camera near; // 300 m away: the notches span 4 to 7 pixels
    near.eye = Vec3(0, -850, 150);
    near.pitchDeg = -20;
    EXPECT_EQ(compare(near, coarse, fine, "near").simplified, 0u); // near chunks stay fine
    const Comparison nearForced = compare(near, forced, fine, "near_forced");
    EXPECT_GT(nearForced.simplified, 0u);
    EXPECT_GT(nearForced.unmatched, nearForced.simplified);
    EXPECT_EQ(ctx.validationMessages(), 0u) << ctx.lastValidationMessage();
}

// Far buildings drawn as points (a sprite per box in which the fragment shader intersects the
// view ray with the box) against the same buildings as triangles: the ray cast covers, hides and
// lights the same pixels, so the pictures may differ only where a pixel centre lies on an edge
// (rounding either way: lavapipe snaps corners to 1/256 of a pixel; here 0.1 % of the buildings'
// pixels, bound at 0.5 %). 2,500 buildings 1.6 to 3.3 km away, turned every way, tall and short
// (hiding each other), with overlay colours and a selection: rectangles and trapezoids are boxes;
// L-shapes (boxes only at the coarse level, not taken here) and darts (concave) stay triangles.
TEST(RenderBuildings, FarBoxesAsPointsCoverTheSamePixelsAsTriangles) {
    CityModel city;
    city.terrain = flatTerrain(800, 2, 10);
    Buildings& b = city.buildings;
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    size_t boxShaped = 0, lShaped = 0;
    for (int row = 0; row < 50; ++row)
        for (int col = 0; col < 50; ++col) {
            const double cx = -550 + col * 22, cy = -550 + row * 22, w = 5 + 3 * u(rng), d = 5 + 3 * u(rng), turn = u(rng) * M_PI;
            const double kind = u(rng);
            std::vector<Vec2> local;
            if (kind < 0.6) local = {{-w, -d}, {w, -d}, {w, d}, {-w, d}};                                   // rectangle
            else if (kind < 0.8) local = {{-w, -d}, {w, -d}, {0.4 * w, d}, {-0.6 * w, d}};                   // trapezoid
            else if (kind < 0.9) local = {{-w, -d}, {w, -d}, {w, 0}, {0, 0}, {0, d}, {-w, d}};               // L
            else local = {{-w, -d}, {w, -d}, {0, -0.2 * d}, {0, d}};                                         // dart
            boxShaped += kind < 0.8;
            lShaped += kind >= 0.8 && kind < 0.9;
            std::vector<Vec2> ring;
            for (const Vec2& p : local)
                ring.emplace_back(cx + std::cos(turn) * p.x() - std::sin(turn) * p.y(), cy + std::sin(turn) * p.x() + std::cos(turn) * p.y());
            const float height = float(6 + 34 * u(rng) * u(rng));
            appendBuilding(b, ring, height, BuildingUse(int(u(rng) * 4)));
        }
    CityMesh mesh = meshIn128mChunks(city);

    VulkanContext ctx(validated());
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    renderer.setCity(mesh, 51.7, 8.75);
    ValueOverlay values; // every third building blue to red
    values.values.assign(b.size(), NAN);
    for (size_t i = 0; i < b.size(); i += 3) values.values[i] = float(i % 7) / 6;
    values.scale = {ColorMap::Traffic, 0, 1, "test", ""};
    renderer.setBuildingValues(&values);
    const int w = 960, h = 540;
    OffscreenTarget target(ctx, renderer, w, h);
    RenderSettings points, triangles;
    points.sun = triangles.sun = SunPosition{200, 40};
    points.selection = triangles.selection = Selection{MeshLayer::Buildings, 1234};
    points.buildingBoxesPx = 16; // every chunk of this view as points
    points.buildingBoxesMinCount = 0;
    triangles.buildingBoxesPx = 0;
    Camera far; // 1.6 to 3.3 km from the buildings: a pixel is 2.5 to 5 m there
    far.eye = Vec3(0, -2400, 1200);
    far.pitchDeg = -24;
    FrameStats pointStats, triangleStats;
    const Picture a = target.render(far, points, nullptr, &pointStats), ref = target.render(far, triangles, nullptr, &triangleStats);
    EXPECT_EQ(triangleStats.buildingBoxes, 0u);
    RenderSettings fewPoints = points; // about 2,000 boxes: too few to draw as points by default
    fewPoints.buildingBoxesMinCount = RenderSettings{}.buildingBoxesMinCount;
    EXPECT_GT(fewPoints.buildingBoxesMinCount, boxShaped);
    EXPECT_EQ(target.draw(far, fewPoints).buildingBoxes, 0u);
    // Every chunk far enough and in view; the L-shapes (notches of 5–8 m) stay fine here, so
    // their rectangles are not drawn; the darts never are boxes.
    EXPECT_EQ(pointStats.buildingBoxes, boxShaped);
    EXPECT_GT(lShaped, 200u);
    size_t differing = 0, buildingPixels = 0;
    const Picture ground = [&] {
        CityModel bare = city;
        bare.buildings = Buildings{};
        renderer.setCity(meshIn128mChunks(bare), 51.7, 8.75);
        Picture p = target.render(far, triangles);
        renderer.setCity(mesh, 51.7, 8.75);
        return p;
    }();
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const uint8_t *p = &a.rgba[(size_t(y) * w + x) * 4], *q = &ref.rgba[(size_t(y) * w + x) * 4];
            differing += std::max({std::abs(p[0] - q[0]), std::abs(p[1] - q[1]), std::abs(p[2] - q[2])}) > 2;
            buildingPixels += ref.at(x, y) != ground.at(x, y);
        }
    reportFigure("render", "far_boxes_as_points", double(pointStats.buildingBoxes));
    reportFigure("render", "far_boxes_building_pixels", double(buildingPixels));
    reportFigure("render", "far_boxes_differing_pixels", double(differing));
    EXPECT_GT(buildingPixels, 20000u);
    EXPECT_LT(differing, buildingPixels / 200);
    EXPECT_EQ(ctx.validationMessages(), 0u) << ctx.lastValidationMessage();
}

TEST(RenderHud, TextIsAntiAliasedWithUmlautsAndMeasuredWidths) {
    using hudtest::inkIn;
    VulkanContext ctx(validated());
    Renderer renderer(ctx, OffscreenTarget::colorFormat, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    const int w = 960, h = 480;
    OffscreenTarget target(ctx, renderer, w, h);
    const uint32_t paper = rgba(255, 255, 255), ink = rgba(20, 20, 20), arrow = rgba(200, 30, 30);
    const std::string word = "Überflutung";
    Hud hud;
    hud.rect(0, 0, w, h, paper);
    hud.text(20, 20, word, ink, 4);                  // 48 px lines
    hud.text(20, 100, word, ink, 2);                 // 24 px lines
    hud.text(20, 150, word, ink, 2, true);           // bold
    hud.text(20, 200, "A", ink, 8);                  // 96 px lines
    hud.text(220, 200, "Ä", ink, 8);
    hud.text(420, 200, "?", ink, 8);
    hud.text(620, 200, "Ω", ink, 8);                 // not in the atlas: drawn as '?'
    hud.triangle({800.0, 420.0}, {900.0, 420.0}, {850.0, 320.0}, arrow);
    Picture p = target.render(Camera{}, RenderSettings{}, &hud);
    EXPECT_EQ(ctx.validationMessages(), 0u) << ctx.lastValidationMessage();

    // (a) Solid ink inside the strokes, anti-aliased grey steps at their edges, nothing outside
    // the line box.
    auto big = inkIn(p, paper, ink, 0, 0, w, 90);
    EXPECT_GT(big.full, 300u);
    EXPECT_GT(big.partial, 200u);
    EXPECT_TRUE(big.grey);
    EXPECT_GE(big.y0, 20);
    EXPECT_LT(big.y1, 20 + int(Hud::textHeight(4)));
    // (c) The width is the pen's advance: the ink spans it, less the side bearings of the
    // first and last letters (DejaVu Sans: about 0.07 em each, 0.06 of a line).
    struct Line {
        float scale;
        int top;
        bool bold;
    };
    std::vector<float> inkedWidths;
    for (auto [scale, top, bold] : {Line{4, 0, false}, Line{2, 95, false}, Line{2, 145, true}}) {
        float advance = Hud::textWidth(word, scale, bold);
        auto k = inkIn(p, paper, ink, 0, top, w, top + 50);
        ASSERT_GT(k.pixels, 0u);
        float inked = float(k.x1 + 1 - k.x0);
        inkedWidths.push_back(inked);
        EXPECT_LE(inked, advance + 1) << "scale " << scale;
        EXPECT_GE(inked, advance - 0.15f * Hud::textHeight(scale)) << "scale " << scale;
        EXPECT_GE(k.x0, 20);
        EXPECT_LE(k.x0, 20 + 0.08 * Hud::textHeight(scale));
    }
    EXPECT_NEAR(inkedWidths[0], 2 * inkedWidths[1], 2); // the ink scales with the text
    EXPECT_LT(Hud::textWidth("Über", 2), Hud::textWidth(word, 2));
    EXPECT_NEAR(Hud::textWidth(word, 4), 2 * Hud::textWidth(word, 2), 1e-3);
    EXPECT_GT(Hud::textWidth(word, 2, true), Hud::textWidth(word, 2));
    EXPECT_NEAR(Hud::textWidth("ab\nabc", 2), Hud::textWidth("abc", 2), 1e-4); // the longest line
    auto regular = inkIn(p, paper, ink, 0, 95, w, 145), bold = inkIn(p, paper, ink, 0, 145, w, 195);
    EXPECT_GT(bold.full, regular.full * 3 / 2);

    // (b) "Ä" is "A" with two dots above the capital: the rows above A's apex hold ink for Ä,
    // in two separate runs.
    auto a = inkIn(p, paper, ink, 0, 190, 200, 300), umlaut = inkIn(p, paper, ink, 200, 190, 400, 300);
    ASSERT_GT(a.pixels, 0u);
    ASSERT_GT(umlaut.pixels, 0u);
    auto dots = inkIn(p, paper, ink, 200, 190, 400, a.y0 - 2);
    EXPECT_GT(dots.full, 20u) << "no dots above the A";
    // Below the apex both are the same letter: equal ink within a few per cent.
    double bodyA = double(inkIn(p, paper, ink, 0, a.y0 + 2, 200, 300).full);
    EXPECT_NEAR(double(inkIn(p, paper, ink, 200, a.y0 + 2, 400, 300).full), bodyA, 0.05 * bodyA);
    int twoRuns = 0;
    for (int y = dots.y0; y <= dots.y1; ++y) {
        int runs = 0;
        bool inRun = false;
        for (int x = 200; x < 400; ++x) {
            bool inked = (p.at(x, y) | 0xff000000u) != paper;
            runs += inked && !inRun;
            inRun = inked;
        }
        twoRuns += runs == 2;
    }
    EXPECT_GT(twoRuns, 3);
    EXPECT_EQ(umlaut.y1, a.y1); // same baseline
    // A character the atlas lacks looks exactly like '?'.
    for (int y = 190; y < 300; ++y)
        for (int x = 0; x < 200; ++x) ASSERT_EQ(p.at(420 + x, y), p.at(620 + x, y)) << x << "," << y;
    EXPECT_EQ(Hud::textWidth("Ω"), Hud::textWidth("?"));
    EXPECT_EQ(Hud::textWidth("\xff"), Hud::textWidth("?")); // malformed UTF-8

    // The triangle: filled inside, paper outside.
    EXPECT_EQ(p.at(850, 400) | 0xff000000u, arrow);
    EXPECT_EQ(p.at(810, 340) | 0xff000000u, paper);
    EXPECT_EQ(p.at(890, 340) | 0xff000000u, paper);
}

TEST(RenderHud, AMissingFontFileIsNamed) {
    try {
        FontAtlas atlas("/nonexistent/NoSuchFont.ttf", "/nonexistent/NoSuchFont-Bold.ttf");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("/nonexistent/NoSuchFont.ttf"), std::string::npos) << m;
        EXPECT_NE(m.find("install the Debian package fonts-dejavu-core"), std::string::npos) << m;
    }
    TempDir tmp;
    fs::path notAFont = tmp / "notes.ttf";
    std::ofstream(notAFont) << "not a font";
    EXPECT_THROW(FontAtlas(notAFont, notAFont), std::runtime_error);
    // $CITYTWIN_FONT replaces DejaVu Sans: the command names the missing file.
    setenv("CITYTWIN_FONT", "/nonexistent/Other.ttf", 1);
    auto r = runCitytwin("render " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --size 64x64 --out " +
                         (tmp / "x.png").string());
    unsetenv("CITYTWIN_FONT");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_NE(r.err.find("/nonexistent/Other.ttf"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fonts-dejavu-core"), std::string::npos) << r.err;
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
    // The panels followed the resize: each one that fits in the smaller window lies inside it
    // (those placed along the bottom and right edges for 800 × 450 would hang out of it), and
    // every title bar is in the window below the menu bar, where it can be grabbed.
    std::istringstream lines(text);
    std::string line;
    double width = 0, height = 0, menuBar = 0;
    size_t panels = 0;
    while (std::getline(lines, line)) {
        if (std::sscanf(line.c_str(), "viewer: window %lf %lf below the menu bar %lf", &width, &height, &menuBar) == 3) continue;
        if (line.rfind("viewer: panel ", 0) != 0) continue;
        std::istringstream numbers(line); // viewer: panel NAME x y width height (the name may hold spaces)
        std::vector<std::string> words;
        for (std::string w; numbers >> w;) words.push_back(w);
        ASSERT_GE(words.size(), 7u) << line;
        const double x = std::stod(words[words.size() - 4]), y = std::stod(words[words.size() - 3]),
                     w = std::stod(words[words.size() - 2]), h = std::stod(words[words.size() - 1]);
        ++panels;
        EXPECT_EQ(width, 600) << "the window's size is logged before the panels";
        EXPECT_GE(x, 0) << line;
        EXPECT_GE(y, menuBar) << line;
        EXPECT_LE(y + menuBar, height) << line; // a title bar is as high as the menu bar
        if (w <= width && h <= height - menuBar) { // fits below the menu bar
            EXPECT_LE(x + w, width) << line;
            EXPECT_LE(y + h, height) << line;
        }
    }
    EXPECT_GT(menuBar, 10);
    EXPECT_GE(panels, 4u) << text; // layers, inspector, time, statistics
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
