// The embedded sample town: the scenario loads it completely (counts equal GDAL's for the
// committed files), the town is plausible (a connected street network with bridges, buildings
// standing on the terrain), the generator reproduces the committed files, and the README's
// main job runs.
#include "TestSupport.h"
#include "gis/Gdal.h"
#include "sim/Runner.h"

#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ogrsf_frmts.h>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;

namespace {

fs::path assets() { return sourceDir() / "assets" / "musterstadt"; }

long long featureCount(const fs::path& file, const std::string& layer) {
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open(file.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds || !ds->GetLayerByName(layer.c_str())) return -1;
    return ds->GetLayerByName(layer.c_str())->GetFeatureCount(TRUE);
}

class Musterstadt : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt.yaml");
        city = new CityModel(importCity(s.city, ImportOptions{{}, false}));
    }
    static void TearDownTestSuite() { delete city; }
    static CityModel* city;
};
CityModel* Musterstadt::city = nullptr;

TEST_F(Musterstadt, EverythingInTheFilesIsImported) {
    EXPECT_EQ(city->frame.crs.epsg(), 25832);
    long long buildings = featureCount(assets() / "buildings.gpkg", "buildings");
    EXPECT_GT(buildings, 2000);
    EXPECT_EQ(static_cast<long long>(city->buildings.size()), buildings);
    for (const auto& layer : city->report.layers) {
        EXPECT_EQ(layer.skipped(), 0u) << layer.kind << " " << layer.layer;
        EXPECT_EQ(layer.read, layer.imported) << layer.kind << " " << layer.layer;
    }
    EXPECT_EQ(static_cast<long long>(city->landuse.size()), featureCount(assets() / "landuse.gpkg", "landuse"));
    GDALDatasetUniquePtr dem(GDALDataset::Open((assets() / "terrain.tif").c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(dem);
    EXPECT_EQ(city->terrain.width, dem->GetRasterXSize());
    EXPECT_EQ(city->terrain.height, dem->GetRasterYSize());
    EXPECT_EQ(city->terrain.nodataCells, 0u);
}

TEST_F(Musterstadt, BuildingsStandOnTheTerrain) {
    float lo = INFINITY, hi = -INFINITY;
    for (float h : city->terrain.heightM) {
        lo = std::min(lo, h);
        hi = std::max(hi, h);
    }
    EXPECT_GT(hi - lo, 20.0f); // a valley with hills
    for (size_t i = 0; i < city->buildings.size(); ++i) {
        ASSERT_TRUE(std::isfinite(city->buildings.groundM[i])) << city->buildings.sourceId[i];
        EXPECT_GE(city->buildings.groundM[i], lo);
        EXPECT_LE(city->buildings.groundM[i], hi);
        EXPECT_GT(city->buildings.heightM[i], 2.0f);
        EXPECT_LT(city->buildings.heightM[i], 80.0f);
    }
}

TEST_F(Musterstadt, StreetNetworkIsConnectedAndCrossesTheRiver) {
    const RoadNetwork& r = city->roads;
    ASSERT_GT(r.nodeCount(), 100u);
    // Weakly connected components by union-find over edges.
    std::vector<uint32_t> parent(r.nodeCount());
    std::iota(parent.begin(), parent.end(), 0u);
    std::function<uint32_t(uint32_t)> find = [&](uint32_t x) { return parent[x] == x ? x : parent[x] = find(parent[x]); };
    for (size_t e = 0; e < r.edgeCount(); ++e) parent[find(r.from[e].value)] = find(r.to[e].value);
    std::map<uint32_t, size_t> size;
    for (uint32_t n = 0; n < r.nodeCount(); ++n) ++size[find(n)];
    size_t largest = 0;
    for (auto& [_, s] : size) largest = std::max(largest, s);
    EXPECT_GE(largest, r.nodeCount() * 95 / 100);
    size_t bridges = 0;
    for (auto f : r.flags) bridges += (f & RoadNetwork::Bridge) ? 1 : 0;
    EXPECT_GE(bridges, 2u);
    double river = 0;
    for (size_t i = 0; i < city->water.areas.size(); ++i)
        if (city->water.areaKind[i] == "river") river += city->water.areas.area(i);
    EXPECT_GT(river, 10000.0); // m²
}

TEST_F(Musterstadt, MainJobRunsAndWritesResults) {
    TempDir out;
    CommandResult r = runCitytwin("run " + (sourceDir() / "scenarios" / "musterstadt.yaml").string() + " --out " +
                                  out.path().string());
    ASSERT_EQ(r.exitCode, 0) << r.err;
    nlohmann::json k;
    std::ifstream(out / "kpis.json") >> k;
    EXPECT_EQ(k["city"]["buildings"]["value"].get<double>(), static_cast<double>(city->buildings.size()));
    EXPECT_TRUE(fs::exists(out / "manifest.json"));
    EXPECT_NE(r.out.find(out.path().string()), std::string::npos); // says where the results are
}

// Features as sorted WKB + attribute text, to compare two files through GDAL.
std::vector<std::string> featuresOf(const fs::path& file) {
    std::vector<std::string> out;
    GDALDatasetUniquePtr ds(GDALDataset::Open(file.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds) return out;
    for (int l = 0; l < ds->GetLayerCount(); ++l)
        for (auto& f : *ds->GetLayer(l)) {
            std::string s = ds->GetLayer(l)->GetName();
            for (int i = 0; i < f->GetFieldCount(); ++i) s += "|" + std::string(f->GetFieldAsString(i));
            if (auto* g = f->GetGeometryRef()) {
                char* wkt = nullptr;
                g->exportToWkt(&wkt);
                s += wkt;
                CPLFree(wkt);
            }
            out.push_back(s);
        }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(MusterstadtGenerator, ReproducesTheCommittedFiles) {
    fs::path generator = fs::path(CITYTWIN_BINARY).parent_path() / "tools" / "musterstadt" / "gen_musterstadt";
    ASSERT_TRUE(fs::exists(generator)) << generator;
    TempDir out;
    ASSERT_EQ(std::system((generator.string() + " --out " + out.path().string() + " >/dev/null").c_str()), 0);
    gis::initGdal();
    for (const char* f : {"buildings.gpkg", "roads.gpkg", "water.gpkg", "landuse.gpkg"}) {
        auto committed = featuresOf(assets() / f), fresh = featuresOf(out / f);
        EXPECT_GT(committed.size(), 0u) << f;
        EXPECT_TRUE(committed == fresh) << f << " differs from a fresh run of the generator";
    }
    GDALDatasetUniquePtr a(GDALDataset::Open((assets() / "terrain.tif").c_str(), GDAL_OF_RASTER));
    GDALDatasetUniquePtr b(GDALDataset::Open((out / "terrain.tif").c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(a && b);
    int w = a->GetRasterXSize(), h = a->GetRasterYSize();
    std::vector<float> va(static_cast<size_t>(w) * h), vb(va.size());
    ASSERT_EQ(a->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, w, h, va.data(), w, h, GDT_Float32, 0, 0), CE_None);
    ASSERT_EQ(b->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, w, h, vb.data(), w, h, GDT_Float32, 0, 0), CE_None);
    EXPECT_TRUE(va == vb);
}

} // namespace
