// Ray casts against known geometry: a box building on flat ground, where every hit point and
// normal follows from the dimensions, and the sample town's Rathaus found from its published
// coordinates.
#include "TestSupport.h"
#include "physics/Picking.h"
#include "sim/Runner.h"

#include <chrono>
#include <cmath>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;

namespace {

std::vector<Vec2> rect(double x0, double y0, double x1, double y1) {
    return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

// Flat ground at z = 50 over [-50, 50]², one 10 × 20 m building 12 m high at the origin.
CityModel boxCity() {
    CityModel city;
    city.terrain = flatTerrain(100, 1, 50);
    Buildings& b = city.buildings;
    b.footprints.add({rect(0, 0, 10, 20)});
    b.partStart.push_back(1);
    b.sourceId.push_back("box");
    b.name.emplace_back();
    b.heightM.push_back(12);
    b.groundM.push_back(50);
    b.levels.push_back(4);
    b.use.push_back(BuildingUse::Commercial);
    b.yearBuilt.push_back(0);
    b.heightSource.push_back(HeightSource::Attribute);
    b.roofStart.push_back(0);
    return city;
}

class BoxBuilding : public ::testing::Test {
  protected:
    BoxBuilding() : city(boxCity()), world(buildCityMesh(city)) {}
    CityModel city;
    PickWorld world;
};

TEST_F(BoxBuilding, TriangleCountIsTheSurfaceWithoutSkirts) {
    // Terrain: 100 × 100 vertices -> 99² quads; building: 4 walls + a 2-triangle roof.
    EXPECT_EQ(world.triangleCount(), 2u * 99 * 99 + 4 * 2 + 2);
}

TEST_F(BoxBuilding, RayDownThroughTheRoof) {
    auto hit = world.castRay(Vec3(5, 10, 500), Vec3(0, 0, -1));
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, MeshLayer::Buildings);
    EXPECT_EQ(hit->objectId, 0u);
    EXPECT_NEAR(hit->point.z(), 62.0, 1e-3);
    EXPECT_NEAR(hit->point.x(), 5.0, 1e-9);
    EXPECT_NEAR(hit->distance, 438.0, 1e-3);
    EXPECT_NEAR((hit->normal - Vec3::UnitZ()).norm(), 0, 1e-6);
}

TEST_F(BoxBuilding, RayDownBesideTheBuildingHitsTheGround) {
    auto hit = world.castRay(Vec3(-20, 10, 500), Vec3(0, 0, -3)); // direction need not be unit
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, MeshLayer::Terrain);
    EXPECT_EQ(hit->objectId, 0u);
    EXPECT_NEAR(hit->point.z(), 50.0, 1e-3);
    EXPECT_NEAR(hit->distance, 450.0, 1e-3);
    EXPECT_NEAR((hit->normal - Vec3::UnitZ()).norm(), 0, 1e-6);
    // Too short a ray misses.
    EXPECT_FALSE(world.castRay(Vec3(-20, 10, 500), Vec3(0, 0, -1), 400));
}

TEST_F(BoxBuilding, HorizontalRayHitsTheWall) {
    auto hit = world.castRay(Vec3(-30, 7, 55), Vec3(1, 0, 0));
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, MeshLayer::Buildings);
    EXPECT_NEAR(hit->point.x(), 0.0, 1e-3);
    EXPECT_NEAR(hit->point.z(), 55.0, 1e-9);
    EXPECT_NEAR(hit->distance, 30.0, 1e-3);
    EXPECT_NEAR((hit->normal - Vec3(-1, 0, 0)).norm(), 0, 1e-6); // west wall faces west
    // From the north, towards the north wall (y = 20).
    hit = world.castRay(Vec3(3, 45, 60), Vec3(0, -1, 0));
    ASSERT_TRUE(hit);
    EXPECT_NEAR(hit->point.y(), 20.0, 1e-3);
    EXPECT_NEAR((hit->normal - Vec3(0, 1, 0)).norm(), 0, 1e-6);
}

TEST_F(BoxBuilding, RayIntoTheSkyMisses) {
    EXPECT_FALSE(world.castRay(Vec3(-20, 10, 100), Vec3(0, 0, 1)));
    EXPECT_FALSE(world.castRay(Vec3(5, 10, 62.5), Vec3(0.3, 0.1, 1)));
}

TEST_F(BoxBuilding, LineOfSight) {
    EXPECT_FALSE(world.lineOfSight(Vec3(-20, 10, 55), Vec3(30, 10, 55))); // through the building
    EXPECT_TRUE(world.lineOfSight(Vec3(-20, 10, 65), Vec3(30, 10, 65)));  // above it
    EXPECT_TRUE(world.lineOfSight(Vec3(-20, 10, 55), Vec3(-1, 10, 55)));  // stops short of the wall
    // Ends on surfaces do not block themselves: ground to roof edge, wall point to wall point.
    EXPECT_TRUE(world.lineOfSight(Vec3(-20, 10, 50), Vec3(-20, 30, 50.5)));
    EXPECT_TRUE(world.lineOfSight(Vec3(0, 10, 55), Vec3(-10, 10, 55)));
    EXPECT_FALSE(world.lineOfSight(Vec3(-20, -20, 49), Vec3(-20, -20, 51))); // through the ground
}

TEST(PickingMusterstadt, VerticalRayFindsTheRathaus) {
    Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt.yaml");
    const CityModel city = importCity(s.city, ImportOptions{{}, false});
    const CityMesh mesh = buildCityMesh(city);
    const auto start = std::chrono::steady_clock::now();
    const PickWorld world(mesh);
    reportFigure("picking", "musterstadt_world_build_seconds",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reportFigure("picking", "musterstadt_triangles", static_cast<double>(world.triangleCount()));
    EXPECT_GT(world.triangleCount(), 0u);

    // docs/musterstadt.md: Rathaus at EPSG:25832 (475502, 5734320). That point is the centre of
    // its inner courtyard, so the building is the one whose outer ring contains it.
    const Vec2 rathaus = city.frame.toLocal(Vec2(475502.0, 5734320.0));
    const Buildings& b = city.buildings;
    std::vector<uint32_t> containing;
    for (uint32_t i = 0; i < b.size(); ++i)
        for (uint32_t p = b.partStart[i]; p < b.partStart[i + 1]; ++p)
            if (pointInRing(rathaus, b.footprints.ring(p, 0))) containing.push_back(i);
    ASSERT_EQ(containing.size(), 1u);
    const uint32_t index = containing[0];
    const uint32_t part = b.partStart[index];
    ASSERT_GE(b.footprints.ringCount(part), 2u);
    auto inMaterial = [&](const Vec2& p) {
        if (!pointInRing(p, b.footprints.ring(part, 0))) return false;
        for (size_t k = 1; k < b.footprints.ringCount(part); ++k)
            if (pointInRing(p, b.footprints.ring(part, k))) return false;
        return true;
    };
    EXPECT_FALSE(inMaterial(rathaus)); // the courtyard

    // A point in the south wing (the courtyard is 10 m deep, the building 30 m).
    const Vec2 wing = rathaus + Vec2(0, -10);
    ASSERT_TRUE(inMaterial(wing));
    const double top = b.groundM[index] + b.heightM[index];
    auto hit = world.castRay(Vec3(wing.x(), wing.y(), top + 1000), Vec3(0, 0, -1));
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->layer, MeshLayer::Buildings);
    EXPECT_EQ(hit->objectId, index) << b.name[index];
    EXPECT_NEAR(hit->point.z(), top, 1e-2);

    // Every 25th building, through its centroid where that lies in its footprint: the ray
    // picks that building (footprints do not overlap).
    size_t checked = 0, wrong = 0;
    for (uint32_t i = 0; i < b.size(); i += 25) {
        const Vec2 c = b.footprints.centroid(b.partStart[i]);
        bool inside = pointInRing(c, b.footprints.ring(b.partStart[i], 0));
        for (size_t k = 1; k < b.footprints.ringCount(b.partStart[i]); ++k)
            inside = inside && !pointInRing(c, b.footprints.ring(b.partStart[i], k));
        if (!inside) continue;
        auto h = world.castRay(Vec3(c.x(), c.y(), 2000), Vec3(0, 0, -1));
        ++checked;
        if (!h || h->layer != MeshLayer::Buildings || h->objectId != i) ++wrong;
    }
    EXPECT_GT(checked, 50u);
    EXPECT_EQ(wrong, 0u);

    // Through the courtyard the ray reaches the ground.
    hit = world.castRay(Vec3(rathaus.x(), rathaus.y(), top + 1000), Vec3(0, 0, -1));
    ASSERT_TRUE(hit);
    EXPECT_NE(hit->layer, MeshLayer::Buildings);
    EXPECT_NEAR(hit->point.z(), city.terrain.heightAt(rathaus), 0.5);
}

} // namespace
