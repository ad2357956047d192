// The same buildings and roads written by GDAL into GeoPackage, GeoJSON, Shapefile and
// FlatGeobuf, and by hand as OSM XML, must import to the same counts, areas and heights.
#include "TestSupport.h"
#include "city/Import.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;

namespace {

// In EPSG:25832 near Paderborn.
const double E0 = 482000, N0 = 5730000;

std::string rect(double x, double y, double w, double h) {
    return fmt::format("({} {}, {} {}, {} {}, {} {}, {} {})", E0 + x, N0 + y, E0 + x + w, N0 + y, E0 + x + w,
                       N0 + y + h, E0 + x, N0 + y + h, E0 + x, N0 + y);
}

const std::vector<TestField> buildingFields = {{"id"}, {"height"}, {"levels"}, {"use"}, {"year_built"}, {"name"}};
const std::vector<TestFeature> buildingFeatures = {
    {"POLYGON(" + rect(0, 0, 20, 10) + ")",
     {{"id", "A"}, {"height", "12.5"}, {"levels", "4"}, {"use", "residential"}, {"year_built", "1965"}, {"name", "Haus A"}}},
    {"POLYGON(" + rect(50, 0, 30, 30) + "," + rect(60, 10, 10, 10) + ")", {{"id", "B"}, {"levels", "3"}, {"use", "commercial"}}},
    {"MULTIPOLYGON((" + rect(100, 0, 10, 10) + "),(" + rect(120, 0, 10, 10) + "))",
     {{"id", "C"}, {"height", "7"}, {"use", "garage"}}},
};
const std::vector<TestField> roadFields = {{"id"}, {"highway"}, {"name"}};
const std::vector<TestFeature> roadFeatures = {
    {fmt::format("LINESTRING({} {}, {} {}, {} {})", E0, N0 - 50, E0 + 100, N0 - 50, E0 + 200, N0 - 50),
     {{"id", "R1"}, {"highway", "residential"}, {"name", "Lindenweg"}}},
    {fmt::format("LINESTRING({} {}, {} {}, {} {})", E0 + 100, N0 - 150, E0 + 100, N0 - 50, E0 + 100, N0 + 50),
     {{"id", "R2"}, {"highway", "secondary"}, {"name", "Hauptstraße"}}},
};

struct Expected {
    double areaA = 200, areaB = 800, areaC = 200, roadKm = 0.4;
};

void checkCity(const CityModel& city, const Expected& want = {}) {
    EXPECT_EQ(city.frame.crs.epsg(), 25832);
    ASSERT_EQ(city.buildings.size(), 3u);
    std::map<std::string, size_t> byId;
    for (size_t i = 0; i < city.buildings.size(); ++i) byId[city.buildings.sourceId[i]] = i;
    ASSERT_EQ(byId.size(), 3u);
    size_t a = byId.at("A"), b = byId.at("B"), c = byId.at("C");
    EXPECT_NEAR(city.buildings.footprintArea(a), want.areaA, 0.01);
    EXPECT_NEAR(city.buildings.footprintArea(b), want.areaB, 0.01); // 900 minus the 100 m² courtyard
    EXPECT_NEAR(city.buildings.footprintArea(c), want.areaC, 0.01); // two parts
    EXPECT_FLOAT_EQ(city.buildings.heightM[a], 12.5f);
    EXPECT_FLOAT_EQ(city.buildings.heightM[b], 9.0f); // 3 levels × 3 m
    EXPECT_EQ(city.buildings.heightSource[b], HeightSource::Levels);
    EXPECT_FLOAT_EQ(city.buildings.heightM[c], 7.0f);
    EXPECT_EQ(city.buildings.use[a], BuildingUse::Residential);
    EXPECT_EQ(city.buildings.use[c], BuildingUse::Garage);
    EXPECT_EQ(city.buildings.yearBuilt[a], 1965);
    EXPECT_EQ(city.buildings.name[a], "Haus A");
    // Two streets crossing at a shared vertex: 4 ends + 1 junction, 4 segments × 2 directions.
    EXPECT_EQ(city.roads.nodeCount(), 5u);
    EXPECT_EQ(city.roads.edgeCount(), 8u);
    EXPECT_NEAR(city.roads.totalLengthKm(), want.roadKm, 1e-6);
}

struct Format {
    const char* driver;
    const char* extension;
};
void PrintTo(const Format& f, std::ostream* os) { *os << f.driver; }

class ImportFormat : public ::testing::TestWithParam<Format> {};

TEST_P(ImportFormat, SameCountsAreasAndHeights) {
    TempDir dir;
    auto [driver, ext] = GetParam();
    auto buildings = dir / (std::string("buildings") + ext), roads = dir / (std::string("roads") + ext);
    writeLayer(buildings, driver, "buildings", 25832, buildingFields, buildingFeatures);
    writeLayer(roads, driver, "roads", 25832, roadFields, roadFeatures);
    CityConfig config;
    config.buildings = {LayerSource{buildings, "", ""}};
    config.roads = {LayerSource{roads, "", ""}};
    CityModel city = importCity(config, ImportOptions{{}, false});
    checkCity(city);
    EXPECT_TRUE(city.report.skips.empty());
}

INSTANTIATE_TEST_SUITE_P(Gdal, ImportFormat,
                         ::testing::Values(Format{"GPKG", ".gpkg"}, Format{"GeoJSON", ".geojson"},
                                           Format{"ESRI Shapefile", ".shp"}, Format{"FlatGeobuf", ".fgb"}),
                         [](const auto& info) {
                             std::string n = info.param.extension + 1;
                             return n;
                         });

TEST(ImportFormat, OsmXmlWrittenByHand) {
    // The same features as OSM: nodes in WGS 84 (transformed with PROJ), buildings as closed
    // ways and multipolygon relations, roads as ways sharing the crossing node. OSM stores
    // 7 decimals (about 1 cm), so the expected areas are those of the rounded nodes, taken
    // back to EPSG:25832 by PROJ and measured here.
    TempDir dir;
    Reprojector toWgs(Crs::fromEpsg(25832), Crs::fromEpsg(4326)), toUtm(Crs::fromEpsg(4326), Crs::fromEpsg(25832));
    std::string nodes, ways, relations;
    std::map<int, Vec2> utmOf;
    int nextNode = 1;
    auto node = [&](double x, double y) {
        Vec2 ll = toWgs.apply(Vec2(E0 + x, N0 + y));
        ll = Vec2(std::round(ll.x() * 1e7) / 1e7, std::round(ll.y() * 1e7) / 1e7);
        utmOf[nextNode] = toUtm.apply(ll);
        nodes += fmt::format("  <node id=\"{}\" version=\"1\" lat=\"{:.7f}\" lon=\"{:.7f}\"/>\n", nextNode, ll.y(), ll.x());
        return nextNode++;
    };
    auto area = [&](const std::vector<int>& refs) {
        std::vector<Vec2> pts;
        for (size_t i = 0; i + 1 < refs.size(); ++i) pts.push_back(utmOf[refs[i]]);
        return std::abs(signedArea(pts));
    };
    Expected want;
    auto ring = [&](double x, double y, double w, double h) {
        int a = node(x, y), b = node(x + w, y), c = node(x + w, y + h), d = node(x, y + h);
        return std::vector<int>{a, b, c, d, a};
    };
    int nextWay = 100;
    auto way = [&](const std::vector<int>& refs, const std::string& tags) {
        ways += fmt::format("  <way id=\"{}\" version=\"1\">\n", nextWay);
        for (int r : refs) ways += fmt::format("    <nd ref=\"{}\"/>\n", r);
        ways += tags + "  </way>\n";
        return nextWay++;
    };
    auto tag = [](const char* k, const char* v) { return fmt::format("    <tag k=\"{}\" v=\"{}\"/>\n", k, v); };
    auto ringA = ring(0, 0, 20, 10);
    want.areaA = area(ringA);
    way(ringA, tag("building", "residential") + tag("height", "12.5") + tag("building:levels", "4") +
                                tag("start_date", "1965") + tag("name", "Haus A") + tag("id", "A"));
    auto rb = ring(50, 0, 30, 30), rbHole = ring(60, 10, 10, 10), rc1 = ring(100, 0, 10, 10), rc2 = ring(120, 0, 10, 10);
    want.areaB = area(rb) - area(rbHole);
    want.areaC = area(rc1) + area(rc2);
    int outerB = way(rb, ""), innerB = way(rbHole, "");
    int c1 = way(rc1, ""), c2 = way(rc2, "");
    relations += fmt::format("  <relation id=\"900\" version=\"1\">\n    <member type=\"way\" ref=\"{}\" role=\"outer\"/>\n"
                             "    <member type=\"way\" ref=\"{}\" role=\"inner\"/>\n{}{}{}{}  </relation>\n",
                             outerB, innerB, tag("type", "multipolygon"), tag("building", "commercial"),
                             tag("building:levels", "3"), tag("id", "B"));
    relations += fmt::format("  <relation id=\"901\" version=\"1\">\n    <member type=\"way\" ref=\"{}\" role=\"outer\"/>\n"
                             "    <member type=\"way\" ref=\"{}\" role=\"outer\"/>\n{}{}{}{}  </relation>\n",
                             c1, c2, tag("type", "multipolygon"), tag("building", "garage"), tag("height", "7"), tag("id", "C"));
    int w1 = node(0, -50), cross = node(100, -50), e1 = node(200, -50), s = node(100, -150), n = node(100, 50);
    want.roadKm = ((utmOf[cross] - utmOf[w1]).norm() + (utmOf[e1] - utmOf[cross]).norm() +
                   (utmOf[cross] - utmOf[s]).norm() + (utmOf[n] - utmOf[cross]).norm()) / 1000;
    way({w1, cross, e1}, tag("highway", "residential") + tag("name", "Lindenweg"));
    way({s, cross, n}, tag("highway", "secondary") + tag("name", "Hauptstraße"));
    writeText(dir / "town.osm", "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"citytwin test\">\n" +
                                    nodes + ways + relations + "</osm>\n");
    CityConfig config;
    config.osm = dir / "town.osm";
    CityModel city = importCity(config, ImportOptions{{}, false});
    checkCity(city, want);
}

} // namespace
