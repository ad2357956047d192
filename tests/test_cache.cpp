// The import cache: a second import of unchanged files comes from the cache and equals the
// fresh import; changing a source file invalidates it.
#include "TestSupport.h"
#include "city/Import.h"

#include <gtest/gtest.h>
#include <thread>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;

namespace {

std::vector<TestFeature> squares(int n, double height) {
    std::vector<TestFeature> f;
    for (int i = 0; i < n; ++i) {
        double x = 482000 + 20 * i;
        f.push_back({"POLYGON((" + std::to_string(x) + " 5730000," + std::to_string(x + 10) + " 5730000," +
                         std::to_string(x + 10) + " 5730010," + std::to_string(x) + " 5730010," + std::to_string(x) +
                         " 5730000))",
                     {{"id", std::to_string(i)}, {"height", std::to_string(height)}}});
    }
    return f;
}

TEST(Cache, SecondImportComesFromCacheAndIsIdentical) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, squares(50, 11));
    writeLayer(d / "r.geojson", "GeoJSON", "roads", 25832, {{"highway"}},
               {{"LINESTRING(482000 5729990, 483000 5729990)", {{"highway", "primary"}}}});
    CityConfig c;
    c.buildings = {LayerSource{d / "b.gpkg", "", ""}};
    c.roads = {LayerSource{d / "r.geojson", "", ""}};
    ImportOptions opt{d / "cache", false};
    CityModel fresh = importCity(c, opt);
    EXPECT_FALSE(lastImportFromCache());
    CityModel cached = importCity(c, opt);
    EXPECT_TRUE(lastImportFromCache());
    EXPECT_EQ(cached.frame.crs.epsg(), 25832);
    EXPECT_EQ(cached.frame.origin, fresh.frame.origin);
    EXPECT_EQ(cached.buildings.size(), fresh.buildings.size());
    EXPECT_EQ(cached.buildings.heightM, fresh.buildings.heightM);
    EXPECT_EQ(cached.buildings.footprints.points, fresh.buildings.footprints.points);
    EXPECT_EQ(cached.buildings.attributes.columns, fresh.buildings.attributes.columns);
    EXPECT_EQ(cached.roads.lengthM, fresh.roads.lengthM);
    EXPECT_EQ(cached.report.layers.size(), fresh.report.layers.size());
    EXPECT_EQ(cached.report.layers[0].read, 50u);
}

TEST(Cache, ChangedSourceInvalidatesTheCache) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, squares(5, 11));
    CityConfig c;
    c.buildings = {LayerSource{d / "b.gpkg", "", ""}};
    ImportOptions opt{d / "cache", false};
    importCity(c, opt);
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // a later modification time
    fs::remove(d / "b.gpkg");
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, squares(7, 14));
    CityModel again = importCity(c, opt);
    EXPECT_FALSE(lastImportFromCache());
    EXPECT_EQ(again.buildings.size(), 7u);
    EXPECT_FLOAT_EQ(again.buildings.heightM[0], 14.0f);
}

TEST(Cache, CorruptCacheFileIsIgnored) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, squares(3, 11));
    CityConfig c;
    c.buildings = {LayerSource{d / "b.gpkg", "", ""}};
    ImportOptions opt{d / "cache", false};
    importCity(c, opt);
    for (auto& e : fs::directory_iterator(d / "cache")) fs::resize_file(e.path(), fs::file_size(e.path()) / 2);
    CityModel again = importCity(c, opt);
    EXPECT_FALSE(lastImportFromCache());
    EXPECT_EQ(again.buildings.size(), 3u);
}

} // namespace
