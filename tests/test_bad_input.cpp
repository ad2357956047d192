// Bad input: every case gives a clear message (what, where, what to do), a non-zero exit code
// where the input is unusable, counted skips where only features are bad, and never a crash.
#include "TestSupport.h"
#include "city/Import.h"
#include "core/Error.h"
#include "sim/Runner.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace ct;
using namespace ct::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(contains(text, part)) << "missing '" << (part) << "' in:\n" << (text)

const std::string square = "POLYGON((482000 5730000,482010 5730000,482010 5730010,482000 5730010,482000 5730000))";

TEST(BadInput, MissingFile) {
    CommandResult r = runCitytwin("info /nonexistent/city.gpkg");
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_CONTAINS(r.err, "/nonexistent/city.gpkg");
    EXPECT_CONTAINS(r.err, "file not found");
}

TEST(BadInput, UnknownFormat) {
    TempDir d;
    writeText(d / "notes.gpkg", "this is a shopping list, not a GeoPackage\n");
    CommandResult r = runCitytwin("info " + (d / "notes.gpkg").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_CONTAINS(r.err, "notes.gpkg");
    EXPECT_CONTAINS(r.err, "cannot open");
    EXPECT_CONTAINS(r.err, "GeoPackage"); // says what would work
}

TEST(BadInput, CorruptFileTruncated) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}}, std::vector<TestFeature>(200, {square, {{"id", "x"}}}));
    fs::resize_file(d / "b.gpkg", fs::file_size(d / "b.gpkg") / 3);
    CommandResult r = runCitytwin("info " + (d / "b.gpkg").string());
    EXPECT_EQ(r.exitCode, 2) << r.err;
    EXPECT_CONTAINS(r.err, "b.gpkg");
}

TEST(BadInput, EmptyFile) {
    TempDir d;
    writeText(d / "empty.geojson", "");
    CommandResult r = runCitytwin("info " + (d / "empty.geojson").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_CONTAINS(r.err, "empty");
}

TEST(BadInput, FileWithoutCrs) {
    TempDir d;
    writeLayer(d / "b.shp", "ESRI Shapefile", "b", 0, {{"id"}}, {{square, {{"id", "1"}}}});
    ASSERT_FALSE(fs::exists(d / "b.prj"));
    CommandResult r = runCitytwin("info " + (d / "b.shp").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_CONTAINS(r.err, "no coordinate system");
    EXPECT_CONTAINS(r.err, "assume_crs");
    CommandResult fixed = runCitytwin("info --assume-crs EPSG:25832 " + (d / "b.shp").string());
    EXPECT_EQ(fixed.exitCode, 0) << fixed.err;
    EXPECT_CONTAINS(fixed.out, "Buildings: 1 ");
}

TEST(BadInput, EmptyLayer) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}}, {});
    CommandResult r = runCitytwin("info " + (d / "b.gpkg").string());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_CONTAINS(r.err, "empty");
}

TEST(BadInput, InvalidGeometriesAreSkippedCountedAndListed) {
    TempDir d;
    // GeoJSON in EPSG:25832 written as text, so broken rings reach the importer unchanged.
    auto feature = [](const char* id, const std::string& ring) {
        return fmt::format(R"({{"type":"Feature","properties":{{"id":"{}","height":10}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}})",
                           id, ring);
    };
    std::string fc = R"({"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::25832"}},"features":[)" +
                     feature("good", "[482000,5730000],[482010,5730000],[482010,5730010],[482000,5730010],[482000,5730000]") + "," +
                     feature("bowtie", "[482100,5730000],[482110,5730010],[482110,5730000],[482100,5730010],[482100,5730000]") + "," +
                     feature("open", "[482200,5730000],[482210,5730000],[482210,5730010],[482200,5730010]") + "," +
                     feature("flat", "[482300,5730000],[482310,5730000],[482320,5730000],[482300,5730000]") + "," +
                     R"({"type":"Feature","properties":{"id":"nogeom"},"geometry":null})" + "]}";
    writeText(d / "b.geojson", fc);
    CommandResult r = runCitytwin("info " + (d / "b.geojson").string());
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_CONTAINS(r.out, "Buildings: 1 ");
    EXPECT_CONTAINS(r.out, "read 5, imported 1, skipped 4");
    EXPECT_CONTAINS(r.out, "feature bowtie: self-intersecting ring near (482100");
    EXPECT_CONTAINS(r.out, "feature open: unclosed ring");
    EXPECT_CONTAINS(r.out, "feature flat: zero-area ring");
    EXPECT_CONTAINS(r.out, "feature nogeom: empty geometry");
}

TEST(BadInput, AbsurdHeightsFallBackAndAreCounted) {
    TempDir d;
    std::vector<TestFeature> f;
    const char* heights[] = {"5000", "-3", "abc", "12"};
    for (int i = 0; i < 4; ++i) {
        std::string wkt = fmt::format("POLYGON(({0} 5730000,{1} 5730000,{1} 5730010,{0} 5730010,{0} 5730000))",
                                      482000 + 20 * i, 482010 + 20 * i);
        f.push_back({wkt, {{"id", std::to_string(i)}, {"height", heights[i]}, {"levels", i == 1 ? "2" : ""}}});
    }
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height"}, {"levels"}}, f);
    CityConfig c;
    c.buildings = {LayerSource{d / "b.gpkg", "", ""}};
    CityModel city = importCity(c, ImportOptions{{}, false});
    ASSERT_EQ(city.buildings.size(), 4u);
    EXPECT_FLOAT_EQ(city.buildings.heightM[0], 9.0f); // default
    EXPECT_FLOAT_EQ(city.buildings.heightM[1], 6.0f); // 2 levels × 3 m
    EXPECT_FLOAT_EQ(city.buildings.heightM[2], 9.0f);
    EXPECT_FLOAT_EQ(city.buildings.heightM[3], 12.0f);
    const auto& used = city.report.layers.at(0).defaultsUsed;
    EXPECT_EQ(used.at("height out of range (0-600 m) replaced"), 2u);
    EXPECT_EQ(used.at("unreadable height 'abc' ignored"), 1u);
}

TEST(BadInput, MappedAttributeTypoNamesTheFields) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "gebaeude", 25832, {{"hoehe"}}, {{square, {{"hoehe", "7"}}}});
    CityConfig c;
    c.buildings = {LayerSource{d / "b.gpkg", "", ""}};
    c.attributes["height"] = "hohe";
    try {
        importCity(c, ImportOptions{{}, false});
        FAIL() << "expected an error";
    } catch (const InputError& e) {
        EXPECT_CONTAINS(std::string(e.what()), "'hohe'");
        EXPECT_CONTAINS(std::string(e.what()), "fields: hoehe");
    }
    c.attributes["height"] = "hoehe";
    EXPECT_FLOAT_EQ(importCity(c, ImportOptions{{}, false}).buildings.heightM[0], 7.0f);
}

struct YamlCase {
    const char* name;
    std::string yaml;
    std::string expectLine;
    std::string expectText;
};
void PrintTo(const YamlCase& c, std::ostream* os) { *os << c.name; }

class BadYaml : public ::testing::TestWithParam<YamlCase> {};

TEST_P(BadYaml, NamesFileLineAndCause) {
    TempDir d;
    writeLayer(d / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}}, {{square, {{"id", "1"}}}});
    writeText(d / "s.yaml", GetParam().yaml);
    CommandResult r = runCitytwin("run " + (d / "s.yaml").string() + " --out " + (d / "out").string());
    EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
    EXPECT_CONTAINS(r.err, "s.yaml:" + GetParam().expectLine);
    EXPECT_CONTAINS(r.err, GetParam().expectText);
    EXPECT_FALSE(fs::exists(d / "out" / "kpis.json"));
}

INSTANTIATE_TEST_SUITE_P(
    Scenario, BadYaml,
    ::testing::Values(
        YamlCase{"UnknownKey", "name: t\ncity:\n  buildngs: b.gpkg\n", "3", "unknown key 'buildngs' in city"},
        YamlCase{"WrongType", "name: t\nseed: lots\ncity:\n  buildings: b.gpkg\n", "2", "'seed' must be a number"},
        YamlCase{"MissingFile", "name: t\ncity:\n  buildings: nothere.gpkg\n", "3", "file not found"},
        YamlCase{"BadDuration", "name: t\ncity:\n  buildings: b.gpkg\ntime:\n  duration: soon\n", "5", "not a positive duration"},
        YamlCase{"BadStart", "name: t\ncity:\n  buildings: b.gpkg\ntime:\n  start: 2026-07-14T15:00\n", "5", "ISO 8601 with an offset"},
        YamlCase{"SyntaxError", "name: t\ncity: [b.gpkg\n", "", "YAML syntax error"},
        YamlCase{"UnknownModule", "name: t\ncity:\n  buildings: b.gpkg\nmodules:\n  flod: {}\n", "5", "unknown module 'flod'"},
        YamlCase{"EditWithoutType", "name: t\ncity:\n  buildings: b.gpkg\nedits:\n  - height: 2\n", "5", "each edit needs a 'type'"},
        YamlCase{"UnknownCrs", "name: t\ncity:\n  buildings: b.gpkg\n  crs: EPSG:12\n", "4", "unknown coordinate reference system"}),
    [](const auto& info) { return std::string(info.param.name); });

} // namespace
