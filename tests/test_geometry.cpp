// Ring checks and areas against GEOS (through OGR) as the independent reference.
#include "core/Geometry.h"
#include "gis/Gdal.h"

#include <gtest/gtest.h>
#include <ogr_geometry.h>
#include <random>

using namespace ct;

static OGRPolygon toOgr(const std::vector<Vec2>& ring) {
    OGRLinearRing r;
    for (const Vec2& p : ring) r.addPoint(p.x(), p.y());
    r.closeRings();
    OGRPolygon poly;
    poly.addRing(&r);
    return poly;
}

TEST(Geometry, SelfIntersectionAgreesWithGeosOnRandomRings) {
    gis::initGdal();
    if (!OGRGeometryFactory::haveGEOS()) GTEST_SKIP() << "GDAL built without GEOS";
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> coord(0, 10);
    std::uniform_int_distribution<int> count(3, 9);
    int invalid = 0, valid = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::vector<Vec2> ring(static_cast<size_t>(count(rng)));
        for (auto& p : ring) p = Vec2(coord(rng), coord(rng));
        OGRPolygon poly = toOgr(ring);
        bool geosValid = poly.IsValid();
        bool ours = !ringProblem(ring, 1e-9).has_value();
        EXPECT_EQ(ours, geosValid) << poly.exportToWkt();
        (geosValid ? valid : invalid)++;
    }
    // Both outcomes must occur, or the comparison proves nothing.
    EXPECT_GT(valid, 100);
    EXPECT_GT(invalid, 100);
}

TEST(Geometry, AreasAndCentroidsAgreeWithOgr) {
    PolygonSet set;
    std::vector<Vec2> outer = {{0, 0}, {10, 0}, {10, 8}, {0, 8}};
    std::vector<Vec2> hole = {{2, 2}, {2, 4}, {5, 4}, {5, 2}};
    set.add({outer, hole});
    OGRPolygon poly = toOgr(outer);
    OGRLinearRing h;
    for (auto& p : hole) h.addPoint(p.x(), p.y());
    h.closeRings();
    poly.addRing(&h);
    EXPECT_NEAR(set.area(0), poly.get_Area(), 1e-9);
    EXPECT_GT(signedArea(set.ring(0, 0)), 0); // outer made counter-clockwise
    EXPECT_LT(signedArea(set.ring(0, 1)), 0); // hole clockwise
    OGRPoint c;
    toOgr(outer).Centroid(&c);
    EXPECT_NEAR(set.centroid(0).x(), c.getX(), 1e-9);
    EXPECT_NEAR(set.centroid(0).y(), c.getY(), 1e-9);
}

TEST(Geometry, DegenerateRingsAreNamed) {
    EXPECT_TRUE(ringProblem(std::vector<Vec2>{{0, 0}, {1, 0}, {1, 0}}).value().find("distinct") != std::string::npos);
    EXPECT_TRUE(ringProblem(std::vector<Vec2>{{0, 0}, {1, 0}, {2, 0}}).value().find("zero-area") != std::string::npos);
    EXPECT_TRUE(ringProblem(std::vector<Vec2>{{0, 0}, {2, 2}, {2, 0}, {0, 2}}).value().find("self-intersecting") !=
                std::string::npos);
    EXPECT_FALSE(ringProblem(std::vector<Vec2>{{0, 0}, {2, 0}, {2, 2}, {0, 2}}));
}
