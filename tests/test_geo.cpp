// CRS handling against published and analytic references.
#include "core/Error.h"
#include "core/Geo.h"
#include "core/Geometry.h"
#include "core/SimClock.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace ct;

// EPSG Guidance Note 7-2, Transverse Mercator worked example (OSGB 1936 / British National
// Grid): 50°30'N, 0°30'E -> E 577 274.99 m, N 69 740.50 m (published to the centimetre).
TEST(Geo, TransverseMercatorMatchesEpsgGuidanceNoteExample) {
    Reprojector r(Crs::fromEpsg(4277), Crs::fromEpsg(27700));
    Vec2 p = r.apply(Vec2(0.5, 50.5)); // lon, lat: traditional GIS order
    EXPECT_NEAR(p.x(), 577274.99, 0.01);
    EXPECT_NEAR(p.y(), 69740.50, 0.01);
}

// On the central meridian of UTM zone 32 (9°E), E = 500 000 m exactly and N = k0 · M(φ), the
// meridian arc of GRS 80, computed here with Helmert's series (independent of PROJ).
static double meridianArcGrs80(double phi) {
    const double a = 6378137.0, f = 1 / 298.257222101, n = f / (2 - f);
    const double n2 = n * n, n3 = n2 * n, n4 = n3 * n;
    return a / (1 + n) *
           ((1 + n2 / 4 + n4 / 64) * phi - 1.5 * (n - n3 / 8) * std::sin(2 * phi) +
            15.0 / 16 * (n2 - n4 / 4) * std::sin(4 * phi) - 35.0 / 48 * n3 * std::sin(6 * phi) +
            315.0 / 512 * n4 * std::sin(8 * phi));
}

TEST(Geo, Utm32CentralMeridianMatchesMeridianArc) {
    Reprojector r(Crs::fromEpsg(4258), Crs::fromEpsg(25832));
    for (double lat : {47.5, 50.0, 51.7, 52.0, 54.9}) {
        Vec2 p = r.apply(Vec2(9.0, lat));
        EXPECT_NEAR(p.x(), 500000.0, 0.01) << lat;
        EXPECT_NEAR(p.y(), 0.9996 * meridianArcGrs80(lat * M_PI / 180), 0.01) << lat;
    }
}

TEST(Geo, RoundTripAcrossOwlStaysBelowOneCentimetre) {
    Crs geo = Crs::fromEpsg(4326), utm = Crs::fromEpsg(25832);
    Reprojector there(geo, utm), back(utm, geo);
    // Paderborn cathedral, Bielefeld Sparrenburg, Delbrück church (approximate positions).
    for (Vec2 lonLat : {Vec2(8.7548, 51.7186), Vec2(8.5279, 52.0146), Vec2(8.5683, 51.7662)}) {
        Vec2 utmPt = there.apply(lonLat);
        Vec2 again = back.apply(utmPt);
        Vec2 utmAgain = there.apply(again);
        EXPECT_LT((utmAgain - utmPt).norm(), 0.01);
        EXPECT_NEAR(again.x(), lonLat.x(), 1e-9);
        EXPECT_NEAR(again.y(), lonLat.y(), 1e-9);
    }
}

TEST(Geo, WorkingCrsIsUtmZoneOfTheData) {
    EXPECT_EQ(workingCrsFor(8.75, 51.72).epsg(), 25832);  // Paderborn
    EXPECT_EQ(workingCrsFor(13.40, 52.52).epsg(), 25833); // Berlin, zone 33
    EXPECT_EQ(workingCrsFor(-74.0, 40.7).epsg(), 32618);  // New York, WGS 84 / UTM 18N
    EXPECT_EQ(workingCrsFor(151.2, -33.9).epsg(), 32756); // Sydney, south
}

TEST(Geo, UnknownCrsTextIsAClearError) {
    try {
        Crs::fromUserString("EPSG:999999");
        FAIL() << "expected an error";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("EPSG:999999"), std::string::npos);
    }
}

TEST(SimClock, IsoInstantsAndDurations) {
    auto t = parseIsoInstant("2026-07-14T15:00:00+02:00");
    ASSERT_TRUE(t);
    // 2026-07-14T13:00:00Z: days since epoch 20648 (checked with `date -u -d ... +%s`).
    EXPECT_EQ(t->utcSeconds, 1784034000);
    EXPECT_EQ(t->iso(), "2026-07-14T15:00:00+02:00");
    EXPECT_FALSE(parseIsoInstant("2026-07-14T15:00:00")); // no offset: ambiguous
    EXPECT_EQ(*parseDurationSeconds("1h"), 3600);
    EXPECT_EQ(*parseDurationSeconds("90min"), 5400);
    EXPECT_EQ(*parseDurationSeconds("PT1H30M"), 5400);
    EXPECT_EQ(*parseDurationSeconds("P1D"), 86400);
    EXPECT_EQ(*parseDurationSeconds("2.5"), 2.5);
    EXPECT_FALSE(parseDurationSeconds("soon"));
}

TEST(SimClock, ClockTimes) {
    EXPECT_EQ(*parseClockSeconds("06:30"), 6 * 3600 + 30 * 60);
    EXPECT_EQ(*parseClockSeconds("7:05:09"), 7 * 3600 + 5 * 60 + 9);
    EXPECT_EQ(*parseClockSeconds("25:00"), 25 * 3600); // the next day
    EXPECT_EQ(*parseClockSeconds("00:00:30.5"), 30.5);
    for (const char* bad : {"6", "06:60", "06:30:60", "06:30:", "-1:00", "06:30x", "06:30:1x", "ab:cd", "06:30:-1"})
        EXPECT_FALSE(parseClockSeconds(bad)) << bad;
}
