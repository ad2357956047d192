// The flood module and its parts against analytic references: design storms (the
// depth-duration table they come from), the open boundary (outflow only), and whole scenario
// runs on a synthetic city (a flat basin filled by rain to a depth known in advance; a barrier
// that keeps a basin half dry), with the GeoTIFFs read back through GDAL.
#include "TestSupport.h"
#include "core/Error.h"
#include "feeds/SensorStore.h"
#include "gis/Gdal.h"
#include "sim/Runner.h"
#include "sim/flood/DesignStorm.h"
#include "sim/flood/FloodModule.h"
#include "sim/flood/FloodSolver.h"

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>

using namespace ct;
using namespace ct::test;
using namespace ct::flood;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

TEST(DesignStorm, EulerTypeTwoKeepsTheDepthDurationCurve) {
    // A KOSTRA-like table (minutes -> mm), every 5 min up to 60.
    std::map<double, double> table;
    const double mm[] = {15.6, 23.0, 28.0, 31.6, 34.6, 37.2, 39.2, 41.1, 43.0, 44.5, 46.0, 47.4};
    for (int k = 0; k < 12; ++k) table[(k + 1) * 300.0] = mm[k] / 1000;
    Hyetograph h = eulerTypeII(table, 3600, 300);
    ASSERT_EQ(h.intensityMps.size(), 12u);
    EXPECT_NEAR(h.totalDepthM(), 0.0474, 1e-12);
    // The peak lies in the interval that contains 0.3·D = 18 min: 15–20 min.
    size_t peak = std::max_element(h.intensityMps.begin(), h.intensityMps.end()) - h.intensityMps.begin();
    EXPECT_EQ(peak, 3u);
    EXPECT_NEAR(h.intensityMps[peak] * 300, 0.0156, 1e-12);
    // Every window that starts at the peak holds the table's depth for its length.
    double sum = 0;
    for (size_t k = peak; k < 12; ++k) {
        sum += h.intensityMps[k] * 300;
        EXPECT_NEAR(sum, mm[k - peak] / 1000, 1e-12) << "window of " << (k - peak + 1) * 5 << " min";
    }
    // Increasing towards the peak, decreasing after it.
    for (size_t k = 1; k <= peak; ++k) EXPECT_LE(h.intensityMps[k - 1], h.intensityMps[k]);
    for (size_t k = peak + 1; k < 12; ++k) EXPECT_LE(h.intensityMps[k], h.intensityMps[k - 1]);
    EXPECT_NEAR(blockRain(3600, 0.0474).totalDepthM(), 0.0474, 1e-15);
}

TEST(DesignStorm, GapsAndShrinkingDepthsAreErrors) {
    std::map<double, double> table = {{300, 0.010}, {3600, 0.005}};
    EXPECT_THROW(eulerTypeII(table, 3600, 300), InputError);
    EXPECT_THROW(eulerTypeII({{600, 0.01}, {3600, 0.04}}, 3600, 300), InputError); // 5 min missing
}

TEST(FloodBoundary, OpenBoundaryOnlyLetsWaterOut) {
    // Flat water moving west, away from the open east edge: nothing may flow in there.
    for (Scheme scheme : {Scheme::Hllc, Scheme::Inertial}) {
        GridSpec g{60, 5, 1.0, 0, 0};
        SolverOptions o;
        o.scheme = scheme;
        o.east.kind = BoundaryKind::Open;
        FloodSolver s(g, o);
        for (size_t c = 0; c < s.depthM().size(); ++c) {
            s.depthM()[c] = 1.0f;
            s.dischargeX()[c] = -0.5f;
            s.manningN()[c] = 0.0f;
        }
        s.initialize();
        double initial = s.massBalance().storageM3, peak = initial;
        for (int k = 0; k < 400; ++k) {
            s.step(1e9);
            peak = std::max(peak, s.massBalance().storageM3);
        }
        EXPECT_LE(peak, initial * (1 + 1e-6)) << (scheme == Scheme::Hllc ? "hllc" : "inertial");
        EXPECT_GE(s.massBalance().outflowM3, -1e-9);
    }
}

// A synthetic city: a flat 200 × 100 m basin at 100 m (GeoTIFF, 2 m cells, EPSG:25832) and
// one 20 × 20 m building.
const double E0 = 482000, N0 = 5730000;

void writeFlatDem(const fs::path& file, int nx, int ny, double cell, float height) {
    writeDem(file, nx, ny, cell, E0, N0, std::vector<float>(static_cast<size_t>(nx) * ny, height));
}

class FloodScenario : public ::testing::Test {
protected:
    void SetUp() override {
        registerFloodModule();
        writeFlatDem(dir / "dem.tif", 100, 50, 2.0, 100.0f);
        std::string square = fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", E0 + 90, N0 + 40, E0 + 110, N0 + 60);
        writeLayer(dir / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, {{square, {{"id", "B1"}, {"height", "8"}}}});
    }
    json runYaml(const std::string& yaml, const std::string& name) {
        writeText(dir / (name + ".yaml"), yaml);
        Scenario s = Scenario::fromYaml(dir / (name + ".yaml"));
        RunResult r = runScenario(s, RunOptions{dir / name, 2, false, {}});
        return r.kpisJson;
    }
    // `citytwin run` on a scenario whose flood module has `floodKeys` (indented lines) fails
    // with exit 2 and an error containing `text`.
    void expectFloodError(const std::string& floodKeys, const std::string& text) {
        writeText(dir / "bad.yaml", "name: bad\ncity: {terrain: dem.tif}\nmodules:\n  flood:\n" + floodKeys);
        CommandResult r = runCitytwin("run " + (dir / "bad.yaml").string() + " --out " + (dir / "bad").string());
        EXPECT_EQ(r.exitCode, 2) << floodKeys;
        EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    }
    TempDir dir;
};

TEST_F(FloodScenario, RainFillsAClosedBasinToTheAnalyticDepth) {
    // 36 mm/h for 1000 s on a closed, flat, lossless basin: 10 mm everywhere but the building.
    json k = runYaml("name: basin\ncity: {terrain: dem.tif, buildings: b.gpkg}\ntime: {duration: 1200s}\n"
                     "modules:\n  flood:\n    rain: {intensity_mm_h: 36, duration: 1000s}\n"
                     "    gauges: [{name: P, at: [482020, 5730020]}]\n",
                     "basin");
    const auto& f = k["baseline"]["flood"];
    const double wetArea = 200.0 * 100.0 - 20.0 * 20.0;
    EXPECT_NEAR(f["rain_volume"]["value"].get<double>(), 0.010 * wetArea, 1e-6 * wetArea);
    EXPECT_LT(std::abs(f["mass_error_relative"]["value"].get<double>()), 1e-6);
    EXPECT_NEAR(f["gauge_P_max_depth"]["value"].get<double>(), 0.010, 1e-5);
    EXPECT_EQ(f["buildings_wet_0_1m"]["value"].get<double>(), 0.0);
    // The map, read back by GDAL: georeferenced like the DEM, 10 mm in the open, nodata on the building.
    GDALDatasetUniquePtr ds(GDALDataset::Open((dir / "basin" / "flood" / "max_depth.tif").c_str(), GDAL_OF_RASTER));
    ASSERT_TRUE(ds);
    double gt[6];
    ASSERT_EQ(ds->GetGeoTransform(gt), CE_None);
    EXPECT_DOUBLE_EQ(gt[0], E0);
    EXPECT_DOUBLE_EQ(gt[3], N0 + 100);
    EXPECT_DOUBLE_EQ(gt[1], 2.0);
    EXPECT_EQ(ds->GetRasterXSize(), 100);
    ASSERT_TRUE(ds->GetSpatialRef());
    EXPECT_STREQ(ds->GetSpatialRef()->GetAuthorityCode(nullptr), "25832");
    float corner = 0, onBuilding = 0;
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Read, 5, 5, 1, 1, &corner, 1, 1, GDT_Float32, 0, 0), CE_None);
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Read, 50, 25, 1, 1, &onBuilding, 1, 1, GDT_Float32, 0, 0), CE_None);
    EXPECT_NEAR(corner, 0.010f, 1e-5f);
    EXPECT_TRUE(std::isnan(onBuilding));
    for (const char* file : {"max_velocity.tif", "max_hazard.tif", "arrival_time.tif", "gauges.csv",
                             "mass_balance.csv", "buildings_affected.gpkg"})
        EXPECT_TRUE(fs::exists(dir / "basin" / "flood" / file)) << file;
    // 10 mm never reaches the 0.1 m arrival threshold.
    float arrival = 0;
    GDALDatasetUniquePtr at(GDALDataset::Open((dir / "basin" / "flood" / "arrival_time.tif").c_str(), GDAL_OF_RASTER));
    ASSERT_EQ(at->GetRasterBand(1)->RasterIO(GF_Read, 5, 5, 1, 1, &arrival, 1, 1, GDT_Float32, 0, 0), CE_None);
    EXPECT_TRUE(std::isnan(arrival));
}

TEST_F(FloodScenario, RainFactorScalesTheRain) {
    // A block design storm of 8 mm × factor 1.5 on the closed lossless basin: 12 mm of water.
    json k = runYaml("name: factor\ncity: {terrain: dem.tif, buildings: b.gpkg}\ntime: {duration: 1200s}\n"
                     "modules:\n  flood:\n    rain: {design_storm: {type: block, duration: 600s, depth_mm: 8}, factor: 1.5}\n"
                     "    gauges: [{name: P, at: [482020, 5730020]}]\n",
                     "factor");
    const auto& f = k["baseline"]["flood"];
    const double wetArea = 200.0 * 100.0 - 20.0 * 20.0;
    EXPECT_NEAR(f["rain_volume"]["value"].get<double>(), 0.012 * wetArea, 1e-6 * wetArea);
    EXPECT_NEAR(f["gauge_P_max_depth"]["value"].get<double>(), 0.012, 1e-5);
}

TEST_F(FloodScenario, BarrierKeepsTheFarSideDry) {
    // Inflow at the west end; a 2 m wall across the basin at x = 60 m. Baseline: water spreads
    // everywhere (400 m³ over 19,600 m² ≈ 2 cm); variant: the wall holds it all west of x = 60.
    json k = runYaml(
        "name: wall\ncity: {terrain: dem.tif, buildings: b.gpkg}\ntime: {duration: 1500s}\n"
        "modules:\n  flood:\n    manning_default: 0.012\n"
        "    inflows: [{name: pipe, at: [482005, 5730050], hydrograph: [[0, 1], [400, 1], [401, 0]]}]\n"
        "    gauges: [{name: East, at: [482180, 5730050]}, {name: West, at: [482020, 5730050]}]\n"
        "edits:\n  - {type: barrier, line: [[482060, 5729990], [482060, 5730110]], height: 2}\n",
        "wall");
    EXPECT_GT(k["baseline"]["flood"]["gauge_East_max_depth"]["value"].get<double>(), 0.001);
    EXPECT_EQ(k["variant"]["flood"]["gauge_East_max_depth"]["value"].get<double>(), 0.0);
    // West of the wall: 400.5 m³ over the 58 × 100 m strip (the wall's cells hold none), ≥ 6 cm.
    EXPECT_GT(k["variant"]["flood"]["gauge_West_max_depth"]["value"].get<double>(), 0.06);
    EXPECT_NEAR(k["variant"]["flood"]["inflow_volume"]["value"].get<double>(), 400.5, 0.5);
    EXPECT_LT(k["difference"]["flood"]["gauge_East_max_depth"]["value"].get<double>(), 0.0);
}

TEST_F(FloodScenario, LineInflowSharesTheFlowAlongTheLine) {
    // 2 m³/s for 300 s across a 40 m line: 600 m³ in, spread over the 20 cells it crosses, so
    // the depth there stays far below what one cell taking it all would need.
    json k = runYaml("name: line\ncity: {terrain: dem.tif}\ntime: {duration: 300s}\n"
                     "modules:\n  flood:\n    inflows: [{line: [[482010, 5730020], [482010, 5730059]], "
                     "hydrograph: [[0, 2], [300, 2]]}]\n    gauges: [{name: L, at: [482011, 5730040]}]\n",
                     "line");
    const auto& f = k["baseline"]["flood"];
    EXPECT_NEAR(f["inflow_volume"]["value"].get<double>(), 600.0, 1e-6 * 600);
    EXPECT_LT(std::abs(f["mass_error_relative"]["value"].get<double>()), 1e-6);
    // 600 m³ on 20,000 m² is 3 cm on average; the line's cells are deeper, but not metres.
    EXPECT_GT(f["gauge_L_max_depth"]["value"].get<double>(), 0.03);
    EXPECT_LT(f["max_depth"]["value"].get<double>(), 0.5);
}

TEST_F(FloodScenario, BadFloodInputNamesTheProblem) {
    auto expectError = [&](const std::string& floodKeys, const std::string& text) { expectFloodError(floodKeys, text); };
    expectError("    rain: {intensity_mm_h: -5}\n", "must not be negative");
    expectError("    rain: {intensity_mm_h: 5, factor: -1}\n", "must not be negative");
    expectError("    inflows: [{at: [482005, 5730050], hydrograph: [[100, 1], [50, 2]]}]\n", "not sorted");
    expectError("    inflows: [{at: [1, 2], hydrograph: [[0, 1]]}]\n", "outside the flood grid");
    expectError("    schem: hllc\n", "unknown key 'schem'");
    expectError("    rain: {intensity_mm_h: .nan}\n", "not a finite number");
}

// Levels from the sensor store (what the feeds recorded): the run starts from each sensor's
// newest usable value at the scenario start. Start 2026-02-01T00:00+01:00 = 1769900400 s UTC.
// The river gauge reads 1.50 m above its zero (99.00 m a.s.l.) two hours before; a reading of
// bad quality half an hour before and one after the start are not used. So the western
// strip starts under 100.50 − 100 = 0.50 m of water; the east side is held at 100.20 m by a
// second gauge, so water flows in there.
TEST_F(FloodScenario, LevelsFromSensorsAtTheStart) {
    const double t0 = 1769900400;
    {
        feeds::SensorStore store(dir / "sensors.sqlite");
        for (const char* id : {"gauges:pegel", "gauges:east"}) {
            feeds::SensorInfo info;
            info.id = id, info.feed = "gauges", info.quantity = "river_level", info.unit = "m";
            store.upsertSensor(info);
        }
        auto obs = [](const char* sensor, double t, double v, int quality) {
            feeds::Observation o;
            o.sensor = sensor, o.phenomenonTime = t, o.value = v, o.quality = quality;
            return o;
        };
        store.insert(std::vector<feeds::Observation>{obs("gauges:pegel", t0 - 7200, 1.5, 0), obs("gauges:pegel", t0 - 1800, 9.9, 2),
                                                     obs("gauges:pegel", t0 + 600, 7.0, 0), obs("gauges:east", t0 - 3600, 100.2, 1)});
    }
    const std::string head = "city: {terrain: dem.tif}\ntime: {start: 2026-02-01T00:00:00+01:00, duration: 1800s}\n"
                             "modules:\n  flood:\n    sensor_store: sensors.sqlite\n    manning_default: 0.03\n";
    json k = runYaml("name: sensors\n" + head +
                         "    boundary: {default: closed, east: {level: {sensor: \"gauges:east\"}}}\n"
                         "    initial_levels: [{polygon: [[482000, 5730000], [482040, 5730000], [482040, 5730100], [482000, 5730100]],"
                         " level: {sensor: \"gauges:pegel\", offset: 99.0}}]\n"
                         "    gauges: [{name: W, at: [482011, 5730051]}, {name: E, at: [482195, 5730051]}]\n",
                     "sensors");
    std::ifstream gauges(dir / "sensors" / "flood" / "gauges.csv");
    std::string header, first, line, last;
    std::getline(gauges, header);
    std::getline(gauges, first);
    while (std::getline(gauges, line)) last = line;
    auto cell = [&](const std::string& row, const std::string& column) {
        std::vector<std::string> names, values;
        std::stringstream h(header), r(row);
        for (std::string c; std::getline(h, c, ',');) names.push_back(c);
        for (std::string c; std::getline(r, c, ',');) values.push_back(c);
        auto at = std::find(names.begin(), names.end(), column) - names.begin();
        return std::stod(values.at(static_cast<size_t>(at)));
    };
    EXPECT_NEAR(cell(first, "W_depth_m"), 0.50, 1e-5) << "1.50 m + 99.00 m − the ground at 100 m";
    EXPECT_NEAR(cell(first, "E_depth_m"), 0.0, 1e-9);
    // After 30 min the basin has come to rest at the eastern boundary's level: the western
    // water (0.5 m × 40 m strip) alone would give 0.1 m, the boundary tops it up to 0.2 m.
    EXPECT_NEAR(cell(last, "E_level_m"), 100.20, 0.02);
    EXPECT_NEAR(cell(last, "W_level_m"), 100.20, 0.02);
    std::ifstream inputs(dir / "sensors" / "flood" / "sensor_inputs.csv");
    std::stringstream text;
    text << inputs.rdbuf();
    EXPECT_NE(text.str().find("gauges:pegel"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("2026-01-31T21:00:00"), std::string::npos) << "the reading two hours before: " << text.str();

    // Too old for max_age (the only reading within the hour is of bad quality): a clear error.
    writeText(dir / "old.yaml", "name: old\n" + head +
                                    "    initial_levels: [{polygon: [[482000, 5730000], [482040, 5730000], [482040, 5730100]],"
                                    " level: {sensor: \"gauges:pegel\", max_age: 1h}}]\n");
    CommandResult r = runCitytwin("run " + (dir / "old.yaml").string() + " --out " + (dir / "old").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("no usable value in the 1 h before 2026-01-31T23:00:00"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("newest is from 2026-01-31T23:10:00"), std::string::npos) << r.err;
    // A sensor level without a store, and an unknown sensor.
    writeText(dir / "nostore.yaml", "name: n\ncity: {terrain: dem.tif}\nmodules:\n  flood:\n"
                                    "    boundary: {level: {sensor: x}}\n");
    r = runCitytwin("run " + (dir / "nostore.yaml").string() + " --out " + (dir / "n").string());
    EXPECT_NE(r.err.find("needs 'sensor_store'"), std::string::npos) << r.err;
    writeText(dir / "unknown.yaml", "name: u\n" + head + "    boundary: {level: {sensor: \"gauges:nope\"}}\n");
    r = runCitytwin("run " + (dir / "unknown.yaml").string() + " --out " + (dir / "u").string());
    EXPECT_NE(r.err.find("no sensor 'gauges:nope'"), std::string::npos) << r.err;
}

TEST_F(FloodScenario, NodataHoleInTheDomainIsAClearError) {
    // A DEM with a nodata hole in the middle: the flood cannot run on it and says where.
    gis::initGdal();
    GDALDriver* tif = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDatasetUniquePtr ds(tif->Create((dir / "holes.tif").c_str(), 20, 10, 1, GDT_Float32, nullptr));
    double gt[6] = {E0, 2, 0, N0 + 20, 0, -2};
    ASSERT_EQ(ds->SetGeoTransform(gt), CE_None);
    OGRSpatialReference srs;
    srs.importFromEPSG(25832);
    ASSERT_EQ(ds->SetSpatialRef(&srs), CE_None);
    std::vector<float> v(200, 100.0f);
    v[5 * 20 + 10] = -9999.0f;
    ASSERT_EQ(ds->GetRasterBand(1)->SetNoDataValue(-9999.0), CE_None);
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, 20, 10, v.data(), 20, 10, GDT_Float32, 0, 0), CE_None);
    ds.reset();
    writeText(dir / "holes.yaml", "name: holes\ncity: {terrain: holes.tif}\nmodules:\n  flood: {rain: {intensity_mm_h: 10}}\n");
    CommandResult r = runCitytwin("run " + (dir / "holes.yaml").string() + " --out " + (dir / "holes").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("nodata"), std::string::npos) << r.err;
    // Row 5 from the top is j = 4 from the bottom; its centre is at E0 + 21, N0 + 9.
    EXPECT_NE(r.err.find(fmt::format("cell (10, 4) at E {:.1f}, N {:.1f}", E0 + 21, N0 + 9)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("gdal_fillnodata"), std::string::npos) << r.err;
}

} // namespace

namespace {

// Ponded Green-Ampt infiltration on a flat closed basin: the infiltrated depth F(t) solves
// Ks t = F − ψΔθ ln(1 + F/ψΔθ) (Green & Ampt 1911; ponding from t = 0). The solver starts its
// F at 1 mm (to keep the capacity finite), a shift the reference takes too: it solves the
// same equation from F0 = 1 mm at t = 0.
TEST(FloodGreenAmpt, PondedInfiltrationFollowsTheAnalyticCurve) {
    GridSpec g{10, 10, 1.0, 0, 0};
    SolverOptions o;
    o.maxDtS = 1.0;
    FloodSolver s(g, o);
    const float ks = static_cast<float>(10.9e-3 / 3600), psiDt = 0.1101f * 0.7f * 0.412f; // sandy loam
    for (size_t c = 0; c < s.depthM().size(); ++c) s.depthM()[c] = 0.5f;
    s.setGreenAmpt(std::vector<float>(100, ks), std::vector<float>(100, psiDt));
    s.advanceTo(7200);
    double F = s.infiltratedM()[55];
    // F(t) from the implicit equation, from F0 = 1 mm, by bisection.
    auto residual = [&](double f, double t) {
        const double f0 = 1e-3;
        return (f - f0) - psiDt * std::log((psiDt + f) / (psiDt + f0)) - ks * t;
    };
    double lo = 1e-3, hi = 1.0;
    for (int k = 0; k < 200; ++k) {
        double mid = 0.5 * (lo + hi);
        (residual(mid, 7200) > 0 ? hi : lo) = mid;
    }
    // Explicit stepping with dt = 1 s: error far below 1 % of F for this smooth curve.
    EXPECT_NEAR(F, lo, 0.01 * lo);
    EXPECT_GT(F, ks * 7200); // suction makes it infiltrate more than Ks·t
    EXPECT_LT(std::abs(s.massBalance().relativeError()), 1e-6);
    EXPECT_NEAR(s.massBalance().lossM3, F * 100, 1e-3 * F * 100);
}

} // namespace

namespace {

// The last row of a CSV as name -> value.
std::map<std::string, double> csvRow(const fs::path& file, int row = -1) {
    std::ifstream in(file);
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> rows;
    while (std::getline(in, line))
        if (!line.empty()) rows.push_back(line);
    std::map<std::string, double> out;
    if (rows.empty()) return out;
    std::stringstream h(header), r(row < 0 ? rows.back() : rows.at(static_cast<size_t>(row)));
    for (std::string name, value; std::getline(h, name, ',') && std::getline(r, value, ',');) out[name] = std::stod(value);
    return out;
}

// Two land-use polygons over the flat basin: residential in the west half, industrial in the east.
void writeHalvesLandUse(const fs::path& file, const std::string& west, const std::string& east) {
    auto box = [](double x0, double x1) {
        return fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", x0, N0, x1, N0 + 100);
    };
    writeLayer(file, "GPKG", "landuse", 25832, {{"landuse"}},
               {{box(E0, E0 + 100), {{"landuse", west}}}, {box(E0 + 100, E0 + 200), {{"landuse", east}}}});
}

// Sewer capacity by land-use class on the sealed share: 36 mm/h rain for 1000 s on a closed
// basin, residential (sealed 0.45) drains 15 mm/h, industrial (0.80) 30 mm/h; the rain always
// exceeds the drainage, so each cell loses rate × sealed share × time, and the whole basin the
// analytic sum over the two classes.
TEST_F(FloodScenario, DrainageByLandUseClass) {
    writeHalvesLandUse(dir / "lu.gpkg", "residential", "industrial");
    json k = runYaml("name: lu\ncity: {terrain: dem.tif, landuse: lu.gpkg}\ntime: {duration: 1000s}\n"
                     "modules:\n  flood:\n    rain: {intensity_mm_h: 36}\n    gauge_interval: 100\n"
                     "    losses: {drainage_mm_h: 20, drainage_by_landuse: {residential: 15, industrial: 30}}\n",
                     "lu");
    const auto& f = k["baseline"]["flood"];
    const double half = 100.0 * 100.0, mmh = 1e-3 / 3600, T = 1000;
    const double res = landUseClass("residential").imperviousness, ind = landUseClass("industrial").imperviousness;
    ASSERT_NEAR(res, 0.45, 1e-6);
    ASSERT_NEAR(ind, 0.80, 1e-6);
    const double expected = (15 * res + 30 * ind) * mmh * half * T;
    EXPECT_NEAR(f["loss_volume"]["value"].get<double>(), expected, 1e-6 * expected);
    auto last = csvRow(dir / "lu" / "flood" / "mass_balance.csv");
    EXPECT_NEAR(last["time_s"], T, 1e-9);
    EXPECT_NEAR(last["loss_m3"], expected, 1e-6 * expected);
    EXPECT_LT(std::abs(f["mass_error_relative"]["value"].get<double>()), 1e-6);

    // Only residential listed: the industrial half falls back to drainage_mm_h.
    json k2 = runYaml("name: lu2\ncity: {terrain: dem.tif, landuse: lu.gpkg}\ntime: {duration: 1000s}\n"
                      "modules:\n  flood:\n    rain: {intensity_mm_h: 36}\n"
                      "    losses: {drainage_mm_h: 20, drainage_by_landuse: {residential: 15}}\n",
                      "lu2");
    const double expected2 = (15 * res + 20 * ind) * mmh * half * T;
    EXPECT_NEAR(k2["baseline"]["flood"]["loss_volume"]["value"].get<double>(), expected2, 1e-6 * expected2);

    // A class the city model does not know is an error that lists the known ones.
    writeText(dir / "badlu.yaml", "name: badlu\ncity: {terrain: dem.tif, landuse: lu.gpkg}\nmodules:\n  flood:\n"
                                  "    losses: {drainage_by_landuse: {residental: 15}}\n");
    CommandResult r = runCitytwin("run " + (dir / "badlu.yaml").string() + " --out " + (dir / "badlu").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("unknown land-use class 'residental'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("residential, commercial"), std::string::npos) << r.err;
}

} // namespace

namespace {

// The Curve Number formula against the published TR-55 table (USDA NRCS 1986, Table 2-1):
// CN 80 and P = 2.0 in give Q = 0.56 in.
TEST(FloodScsCurveNumber, FormulaMatchesTr55Table) {
    const double inch = 0.0254;
    const double s = scsRetentionM(80);
    EXPECT_NEAR(s, 0.0635, 1e-12); // 1000/80 − 10 = 2.5 in
    EXPECT_NEAR(scsRunoffM(2.0 * inch, s, 0.2) / inch, 0.56, 0.01);
    EXPECT_EQ(scsRunoffM(0.4 * inch, s, 0.2), 0.0);         // below Ia = 0.5 in: no runoff
    EXPECT_NEAR(scsRunoffM(0.05, scsRetentionM(100), 0.2), 0.05, 1e-15); // CN 100: all of it
}

// 50 mm in 30 min on a closed flat basin, all forest (sealed share 0) with CN 80: with rain alone
// every cell keeps exactly the runoff Q(50 mm) = (50 − 12.7)² / (50 − 12.7 + 63.5) mm = 13.80 mm.
TEST_F(FloodScenario, ScsCurveNumberLeavesTheRunoffDepth) {
    writeHalvesLandUse(dir / "lu.gpkg", "forest", "forest");
    json k = runYaml("name: cn\ncity: {terrain: dem.tif, landuse: lu.gpkg}\ntime: {duration: 2400s}\n"
                     "modules:\n  flood:\n    rain: {intensity_mm_h: 100, duration: 30min}\n"
                     "    losses: {drainage_mm_h: 20, scs_cn: {default: 70, by_landuse: {forest: 80}, ia_ratio: 0.2}}\n"
                     "    gauges: [{name: P, at: [482020, 5730020]}, {name: Q, at: [482150, 5730070]}]\n",
                     "cn");
    const auto& f = k["baseline"]["flood"];
    const double S = 25400.0 / 80 - 254, Ia = 0.2 * S, P = 50; // mm
    const double Q = (P - Ia) * (P - Ia) / (P - Ia + S) / 1000; // m
    EXPECT_NEAR(Q, 0.01380, 5e-6);
    EXPECT_NEAR(f["gauge_P_max_depth"]["value"].get<double>(), Q, 1e-6);
    EXPECT_NEAR(f["gauge_Q_max_depth"]["value"].get<double>(), Q, 1e-6);
    const double area = 200.0 * 100.0;
    EXPECT_NEAR(f["rain_volume"]["value"].get<double>(), 0.050 * area, 1e-6 * 0.050 * area);
    EXPECT_NEAR(f["loss_volume"]["value"].get<double>(), (0.050 - Q) * area, 1e-5 * (0.050 - Q) * area);
    EXPECT_NEAR(f["stored_volume"]["value"].get<double>(), Q * area, 1e-5 * Q * area);
    EXPECT_LT(std::abs(f["mass_error_relative"]["value"].get<double>()), 1e-6);

    // Bad input: a curve number outside (0, 100], and two infiltration models on one share.
    auto expectError = [&](const std::string& losses, const std::string& text) {
        expectFloodError("    losses: " + losses + "\n", text);
    };
    expectError("{scs_cn: {default: 0}}", "must be in (0, 100]");
    expectError("{scs_cn: {default: 75, by_landuse: {park: 120}}}", "must be in (0, 100]");
    expectError("{scs_cn: {default: 75}, infiltration_mm_h: 5}", "scs_cn and infiltration_mm_h");
    expectError("{scs_cn: {default: 75}, green_ampt: {soil: loam}}", "scs_cn and green_ampt");
    expectError("{scs_cn: {default: 75, by_landuse: {parc: 60}}}", "unknown land-use class 'parc'");
}

} // namespace

namespace {

// A Float32 GeoTIFF in EPSG:25832 (north-up, `cell` m pixels, rows from the north) with a nodata value.
void writeTestRaster(const fs::path& file, int nx, int ny, double cell, double west, double north,
                     const std::vector<float>& values, double nodata = -9999) {
    gis::initGdal();
    GDALDriver* tif = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDatasetUniquePtr ds(tif->Create(file.c_str(), nx, ny, 1, GDT_Float32, nullptr));
    ASSERT_TRUE(ds);
    double gt[6] = {west, cell, 0, north, 0, -cell};
    ASSERT_EQ(ds->SetGeoTransform(gt), CE_None);
    OGRSpatialReference srs;
    srs.importFromEPSG(25832);
    ASSERT_EQ(ds->SetSpatialRef(&srs), CE_None);
    ASSERT_EQ(ds->GetRasterBand(1)->SetNoDataValue(nodata), CE_None);
    ASSERT_EQ(ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, nx, ny, const_cast<float*>(values.data()), nx, ny,
                                             GDT_Float32, 0, 0),
              CE_None);
}

// West half (x < 100 m) of a 5 m raster at `west`, the east half at `east` (both mm/h or m).
std::vector<float> halves(int nx, int ny, float west, float east) {
    std::vector<float> v(static_cast<size_t>(nx) * ny);
    for (int r = 0; r < ny; ++r)
        for (int c = 0; c < nx; ++c) v[static_cast<size_t>(r) * nx + c] = c < nx / 2 ? west : east;
    return v;
}

// Initial water levels from a raster (5 m pixels on the 2 m flood grid, nearest pixel under
// each cell centre): 100.5 m over the western half, nodata in the east, on the flat 100 m
// basin: 0.5 m of water in the west, none in the east, 0.5 m × 10,000 m² stored at t = 0.
TEST_F(FloodScenario, InitialLevelsFromARaster) {
    writeTestRaster(dir / "levels.tif", 40, 20, 5.0, E0, N0 + 100, halves(40, 20, 100.5f, -9999.0f));
    runYaml("name: lev\ncity: {terrain: dem.tif}\ntime: {duration: 20s}\n"
            "modules:\n  flood:\n    initial_levels: [{raster: levels.tif}]\n    gauge_interval: 10\n"
            "    gauges: [{name: W, at: [482020, 5730050]}, {name: E, at: [482150, 5730050]}]\n",
            "lev");
    auto g0 = csvRow(dir / "lev" / "flood" / "gauges.csv", 0);
    EXPECT_NEAR(g0["W_depth_m"], 0.5, 1e-6);
    EXPECT_EQ(g0["E_depth_m"], 0.0);
    auto m0 = csvRow(dir / "lev" / "flood" / "mass_balance.csv", 0);
    EXPECT_EQ(m0["time_s"], 0.0);
    EXPECT_NEAR(m0["storage_m3"], 0.5 * 100 * 100, 1e-6 * 5000);
    auto last = csvRow(dir / "lev" / "flood" / "mass_balance.csv");
    EXPECT_LT(std::abs(last["relative_error"]), 1e-6);

    // A raster over the western half only leaves half the grid uncovered: an error that says so.
    writeTestRaster(dir / "west.tif", 20, 20, 5.0, E0, N0 + 100, std::vector<float>(400, 100.5f));
    writeText(dir / "badlev.yaml", "name: badlev\ncity: {terrain: dem.tif}\nmodules:\n  flood:\n"
                                   "    initial_levels: [{raster: west.tif}]\n");
    CommandResult r = runCitytwin("run " + (dir / "badlev.yaml").string() + " --out " + (dir / "badlev").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("does not cover the flood grid: 50.0 %"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("west.tif"), std::string::npos) << r.err;
    writeText(dir / "nolev.yaml", "name: nolev\ncity: {terrain: dem.tif}\nmodules:\n  flood:\n"
                                  "    initial_levels: [{raster: missing.tif}]\n");
    r = runCitytwin("run " + (dir / "nolev.yaml").string() + " --out " + (dir / "nolev").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("missing.tif"), std::string::npos) << r.err;
}

} // namespace

namespace {

// Radar rain: 36 mm/h over the western half (0 in the east) for 1000 s, then 18 mm/h everywhere
// until 2000 s (the default end: one more interval), on a closed lossless basin split by a wall
// (a 2 m building along x = 100–102 m) so the halves do not mix. 5 m rasters on the 2 m grid.
TEST_F(FloodScenario, RainFromRastersPerTime) {
    writeTestRaster(dir / "r0.tif", 40, 20, 5.0, E0, N0 + 100, halves(40, 20, 36.0f, 0.0f));
    writeTestRaster(dir / "r1.tif", 40, 20, 5.0, E0, N0 + 100, std::vector<float>(800, 18.0f));
    std::string wall = fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", E0 + 100, N0 - 1, E0 + 102, N0 + 101);
    writeLayer(dir / "wall.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}}, {{wall, {{"id", "W"}, {"height", "3"}}}});
    auto run = [&](const std::string& name, const std::string& factor, const std::string& edits = "") {
        return runYaml("name: " + name + "\ncity: {terrain: dem.tif, buildings: wall.gpkg}\ntime: {duration: 2400s}\n"
                       "modules:\n  flood:\n    rain: {rasters: [{time: 0, file: r0.tif}, {time: 1000s, file: r1.tif}], unit: mm_h" +
                           factor + "}\n    gauge_interval: 200\n"
                           "    gauges: [{name: W, at: [482020, 5730050]}, {name: E, at: [482150, 5730050]}]\n" + edits,
                       name);
    };
    // A variant (a 0.5 m barrier inside the west half) runs on the same rain fields as the
    // baseline (one copy shared by both runs): the same rain volume.
    json both = run("radar", "", "edits:\n  - {type: barrier, line: [[482040, 5729990], [482040, 5730110]], height: 0.5}\n");
    json f = both["baseline"]["flood"];
    const double west = 100.0 * 100.0, east = 98.0 * 100.0; // the wall takes the cells x = 100–102 m
    const double expected = 0.010 * west + 0.005 * (west + east);
    EXPECT_NEAR(f["rain_volume"]["value"].get<double>(), expected, 1e-6 * expected);
    EXPECT_LT(std::abs(f["mass_error_relative"]["value"].get<double>()), 1e-6);
    EXPECT_NEAR(both["variant"]["flood"]["rain_volume"]["value"].get<double>(), expected, 1e-6 * expected);
    const fs::path gauges = dir / "radar" / "baseline" / "flood" / "gauges.csv";
    auto at1000 = csvRow(gauges, 5), last = csvRow(gauges);
    EXPECT_EQ(at1000["time_s"], 1000.0);
    EXPECT_NEAR(at1000["W_depth_m"], 0.010, 1e-6);
    EXPECT_NEAR(at1000["E_depth_m"], 0.0, 1e-9);
    EXPECT_EQ(last["time_s"], 2400.0);
    EXPECT_NEAR(last["W_depth_m"], 0.015, 1e-6); // no rain after 2000 s
    EXPECT_NEAR(last["E_depth_m"], 0.005, 1e-6);
    // factor still multiplies.
    json half = run("radarhalf", ", factor: 0.5")["baseline"]["flood"];
    EXPECT_NEAR(half["rain_volume"]["value"].get<double>(), 0.5 * expected, 1e-6 * expected);

    auto expectError = [&](const std::string& rain, const std::string& text) { expectFloodError("    rain: " + rain + "\n", text); };
    expectError("{rasters: [{time: 0, file: r0.tif}]}", "needs 'end'");
    expectError("{rasters: [{time: 0, file: r0.tif}], end: 1h, unit: mm}", "unit must be mm_h");
    expectError("{rasters: [{time: 0, file: nope.tif}], end: 1h}", "nope.tif");
    expectError("{rasters: [{time: 600, file: r0.tif}, {time: 0, file: r1.tif}]}", "times must increase");
    expectError("{intensity_mm_h: 5, rasters: [{time: 0, file: r0.tif}]}", "one of");
}

} // namespace
