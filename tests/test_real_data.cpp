// Real extracts from ../shared/data/real: `citytwin info --json` must load each, and its counts
// must equal what GDAL itself (as ogrinfo/gdalinfo would) reports for the same file.
#include "TestSupport.h"
#include "city/Import.h"
#include "gis/Gdal.h"

#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>
#include <zlib.h>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path real(const std::string& rel) {
    fs::path p = sharedData() / "real" / rel;
    return p;
}

// Outside CI the shared data may be absent (skip); CI always has it beside the clone (fail).
#define REQUIRE_DATA(path)                                                                         \
    if (!fs::exists(path)) {                                                                       \
        if (std::getenv("CI")) FAIL() << "real data missing in CI: " << (path);                   \
        GTEST_SKIP() << "real data not present: " << (path);                                       \
    }

// COUNT(*) through OGR SQL, as `ogrinfo -sql` would print it.
long long ogrCount(const std::string& gdalPath, const std::string& sql, const char* const* openOptions = nullptr) {
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open(gdalPath.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, nullptr,
                                              openOptions, nullptr));
    EXPECT_NE(ds, nullptr) << gdalPath;
    if (!ds) return -1;
    OGRLayer* result = ds->ExecuteSQL(sql.c_str(), nullptr, nullptr);
    EXPECT_NE(result, nullptr) << sql;
    if (!result) return -1;
    long long n = -1;
    if (auto f = std::unique_ptr<OGRFeature>(result->GetNextFeature())) n = f->GetFieldAsInteger64(0);
    ds->ReleaseResultSet(result);
    return n;
}

json infoJson(const std::string& args) {
    CommandResult r = runCitytwin("info --json " + args);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    try {
        return json::parse(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
        return {};
    }
}

const json* layerOf(const json& j, const std::string& kind, const std::string& layer = "") {
    for (const auto& l : j["layers"])
        if (l["kind"] == kind && (layer.empty() || l["layer"] == layer)) return &l;
    return nullptr;
}

void checkOsm(const fs::path& file) {
    REQUIRE_DATA(file);
    json j = infoJson(file.string());
    std::string g = gis::gdalPath(file);
    long long buildings = ogrCount(g, "SELECT COUNT(*) FROM multipolygons WHERE building IS NOT NULL AND building <> 'no'");
    long long roads = ogrCount(g, "SELECT COUNT(*) FROM lines WHERE highway IS NOT NULL");
    const json* b = layerOf(j, "buildings");
    const json* r = layerOf(j, "roads");
    ASSERT_TRUE(b && r);
    EXPECT_EQ((*b)["read"].get<long long>(), buildings);
    EXPECT_EQ((*b)["read"].get<long long>(), (*b)["imported"].get<long long>() + (*b)["skipped"].get<long long>());
    EXPECT_EQ(j["counts"]["buildings"].get<long long>(), (*b)["imported"].get<long long>());
    EXPECT_GT((*b)["imported"].get<long long>(), buildings * 95 / 100); // real OSM is mostly valid
    EXPECT_EQ((*r)["read"].get<long long>(), roads);
    EXPECT_EQ((*r)["read"].get<long long>(), (*r)["imported"].get<long long>() + (*r)["skipped"].get<long long>());
    EXPECT_GT(j["counts"]["road_edges"].get<double>(), 0);
    EXPECT_EQ(j["crs"]["epsg"], 25832);
}

TEST(RealData, OsmOsnabrueckMartini) { checkOsm(real("osm-sumo-osnabrueck-martini/martini.osm.xml")); }
TEST(RealData, OsmBayreuthNorthGzipped) { checkOsm(real("osm-bayreuth-north/north-bayreuth.osm.gz")); }
TEST(RealData, OsmBadHersfeldWholeTown) { checkOsm(real("osm-sumo-badhersfeld/osm_bbox.osm.xml.gz")); }

TEST(RealData, CityGmlLod2Wesel) {
    fs::path dir = real("citygml-lod2-nrw-wesel");
    REQUIRE_DATA(dir);
    const char* opts[] = {"WRITE_GFS=NO", nullptr}; // never write beside the shared data
    for (const char* tile : {"LoD2_32_332_5727_1_NW.gml", "LoD2_32_335_5722_1_NW.gml", "LoD2_32_336_5723_1_NW.gml"}) {
        fs::path file = dir / tile;
        json j = infoJson(file.string());
        long long gdalCount = ogrCount(file.string(), "SELECT COUNT(*) FROM Building", opts);
        const json* b = layerOf(j, "buildings");
        ASSERT_TRUE(b) << tile;
        EXPECT_EQ((*b)["read"].get<long long>(), gdalCount) << tile;
        EXPECT_GE((*b)["imported"].get<long long>(), gdalCount - 2) << tile;
        EXPECT_EQ(j["crs"]["epsg"], 25832);
        EXPECT_EQ(j["building_height_sources"]["attribute"].get<long long>(), (*b)["imported"].get<long long>());
    }
}

TEST(RealData, CityGmlSmallTileHeightsEqualMeasuredHeight) {
    fs::path file = real("citygml-lod2-nrw-wesel/LoD2_32_332_5727_1_NW.gml");
    REQUIRE_DATA(file);
    TempDir out;
    CommandResult r = runCitytwin("import " + file.string() + " --export " + out.path().string());
    ASSERT_EQ(r.exitCode, 0) << r.err;
    // measuredHeight per gml:id from GDAL's GML driver vs height_m in our export (read by GDAL).
    const char* opts[] = {"WRITE_GFS=NO", nullptr};
    gis::initGdal();
    GDALDatasetUniquePtr gml(GDALDataset::Open(file.c_str(), GDAL_OF_VECTOR, nullptr, opts, nullptr));
    GDALDatasetUniquePtr ours(GDALDataset::Open((out / "buildings.gpkg").c_str(), GDAL_OF_VECTOR));
    ASSERT_TRUE(gml && ours);
    std::map<std::string, double> expected;
    for (auto& f : *gml->GetLayerByName("Building")) expected[f->GetFieldAsString("gml_id")] = f->GetFieldAsDouble("measuredHeight");
    ASSERT_EQ(expected.size(), 4u);
    int matched = 0;
    for (auto& f : *ours->GetLayer(0)) {
        auto it = expected.find(f->GetFieldAsString("source_id"));
        ASSERT_NE(it, expected.end());
        EXPECT_NEAR(f->GetFieldAsDouble("height_m"), it->second, 1e-3);
        ++matched;
    }
    EXPECT_EQ(matched, 4);
}

// First line of an NRW XYZ tile: "x y z" of the north-west cell centre.
std::array<double, 3> firstXyz(const fs::path& gz) {
    gzFile f = gzopen(gz.c_str(), "rb");
    char buf[256] = {0};
    gzgets(f, buf, sizeof buf);
    gzclose(f);
    std::array<double, 3> v{};
    std::sscanf(buf, "%lf %lf %lf", &v[0], &v[1], &v[2]);
    return v;
}

TEST(RealData, Dgm1DuesseldorfFourTiles) {
    fs::path dir = real("dgm1-nrw-duesseldorf");
    REQUIRE_DATA(dir);
    std::string files;
    for (auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".gz") files += " " + e.path().string();
    // The tiles carry no CRS: without --assume-crs the error must say how to fix it.
    CommandResult bad = runCitytwin("info" + files);
    EXPECT_EQ(bad.exitCode, 2);
    EXPECT_NE(bad.err.find("no coordinate system"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("assume-crs"), std::string::npos) << bad.err;

    json j = infoJson("--assume-crs EPSG:25832" + files);
    EXPECT_EQ(j["terrain"]["width"], 2000); // 2 × 1000 columns, as gdalinfo shows per tile
    EXPECT_EQ(j["terrain"]["height"], 2000);
    EXPECT_DOUBLE_EQ(j["terrain"]["cell_size_m"].get<double>(), 1.0);
    EXPECT_EQ(j["terrain"]["nodata_cells"], 0);
}

TEST(RealData, Dgm1HeightsEqualTheXyzText) {
    fs::path tile = real("dgm1-nrw-duesseldorf/dgm1_32_346_5673_1_nw.xyz.gz");
    REQUIRE_DATA(tile);
    CityConfig c;
    c.terrain = {tile};
    c.assumeCrs = "EPSG:25832";
    CityModel city = importCity(c, ImportOptions{{}, false});
    auto [x, y, z] = firstXyz(tile);
    float h = city.terrain.heightAt(Vec2(x, y) - city.frame.origin);
    EXPECT_NEAR(h, z, 1e-3); // a cell centre: bilinear returns the value itself
}

TEST(RealData, SrtmTileReprojectedToUtm) {
    fs::path file = real("srtm-n52e008-bielefeld/N52E008.hgt.zip");
    REQUIRE_DATA(file);
    json j = infoJson(file.string());
    EXPECT_EQ(j["crs"]["epsg"], 25832);
    // Compare heights with the raw geographic grid read by GDAL at a few inland points.
    gis::initGdal();
    GDALDatasetUniquePtr src(GDALDataset::Open(file.c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(src);
    CityConfig c;
    c.terrain = {file};
    CityModel city = importCity(c, ImportOptions{{}, false});
    Reprojector toUtm(Crs::fromEpsg(4326), city.frame.crs);
    double gt[6];
    src->GetGeoTransform(gt);
    std::vector<double> diffs;
    for (int row = 100; row < 1100; row += 97)
        for (int col = 100; col < 1100; col += 89) {
            float raw = 0;
            ASSERT_EQ(src->GetRasterBand(1)->RasterIO(GF_Read, col, row, 1, 1, &raw, 1, 1, GDT_Float32, 0, 0), CE_None);
            Vec2 lonLat(gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]);
            float ours = city.terrain.heightAt(toUtm.apply(lonLat) - city.frame.origin);
            if (raw > -1000 && std::isfinite(ours)) diffs.push_back(std::abs(ours - raw));
        }
    ASSERT_GT(diffs.size(), 100u);
    std::sort(diffs.begin(), diffs.end());
    EXPECT_LT(diffs[diffs.size() / 2], 2.0); // median, metres: resampling on a ~80 m grid
}

} // namespace
