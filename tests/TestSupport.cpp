#include "TestSupport.h"

#include "gis/Gdal.h"

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <gtest/gtest.h>
#include <ogrsf_frmts.h>
#include <random>
#include <sstream>
#include <sys/wait.h>

namespace ct::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("citytwin-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir);
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
}

fs::path sourceDir() { return CITYTWIN_SOURCE_DIR; }
fs::path sharedData() { return fs::path(CITYTWIN_SHARED_DATA).lexically_normal(); }

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

void writeLayer(const fs::path& path, const std::string& driverName, const std::string& layerName, int epsg,
                const std::vector<TestField>& fields, const std::vector<TestFeature>& features) {
    gis::initGdal();
    GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(driverName.c_str());
    ASSERT_NE(driver, nullptr) << driverName;
    GDALDatasetUniquePtr ds(driver->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    ASSERT_NE(ds, nullptr) << CPLGetLastErrorMsg();
    OGRSpatialReference srs;
    if (epsg) srs.importFromEPSG(epsg);
    OGRLayer* layer = ds->CreateLayer(layerName.c_str(), epsg ? &srs : nullptr, wkbUnknown, nullptr);
    ASSERT_NE(layer, nullptr) << CPLGetLastErrorMsg();
    for (const auto& f : fields) {
        OGRFieldDefn def(f.name.c_str(), f.numeric ? OFTReal : OFTString);
        ASSERT_EQ(layer->CreateField(&def), OGRERR_NONE);
    }
    for (const auto& tf : features) {
        OGRFeature feature(layer->GetLayerDefn());
        OGRGeometry* g = nullptr;
        ASSERT_EQ(OGRGeometryFactory::createFromWkt(tf.wkt.c_str(), nullptr, &g), OGRERR_NONE) << tf.wkt;
        feature.SetGeometryDirectly(g);
        for (const auto& [name, value] : tf.attributes) feature.SetField(name.c_str(), value.c_str());
        ASSERT_EQ(layer->CreateFeature(&feature), OGRERR_NONE) << CPLGetLastErrorMsg();
    }
}

std::string formatFigure(double value) {
    std::ostringstream s;
    s << std::setprecision(6) << value;
    return s.str();
}

void reportFigure(const std::string& tag, const std::string& key, double value) {
    ::testing::Test::RecordProperty(key, formatFigure(value));
    std::cout << "[" << tag << "] " << key << " = " << formatFigure(value) << std::endl;
}

void writeValidationCsv(const std::string& name, const std::string& header,
                        const std::vector<std::vector<double>>& rows) {
    const char* d = std::getenv("CITYTWIN_VALIDATION_OUT");
    if (!d || !*d) return;
    fs::create_directories(d);
    std::ofstream out(fs::path(d) / name);
    out << header << "\n" << std::setprecision(9);
    for (const auto& r : rows) {
        for (size_t k = 0; k < r.size(); ++k) out << (k ? "," : "") << r[k];
        out << "\n";
    }
}

static std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeDem(const fs::path& file, int nx, int ny, double cell, double west, double south,
              const std::vector<float>& heights) {
    gis::initGdal();
    GDALDriver* tif = GetGDALDriverManager()->GetDriverByName("GTiff");
    GDALDatasetUniquePtr ds(tif->Create(file.c_str(), nx, ny, 1, GDT_Float32, nullptr));
    if (!ds) throw std::runtime_error("cannot create " + file.string());
    double gt[6] = {west, cell, 0, south + ny * cell, 0, -cell};
    OGRSpatialReference srs;
    srs.importFromEPSG(25832);
    if (ds->SetGeoTransform(gt) != CE_None || ds->SetSpatialRef(&srs) != CE_None ||
        ds->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, nx, ny, const_cast<float*>(heights.data()), nx, ny, GDT_Float32, 0, 0) != CE_None)
        throw std::runtime_error("cannot write " + file.string());
}

Terrain flatTerrain(int cells, double cellSize, float z) {
    Terrain t;
    t.width = t.height = cells;
    t.cellSize = cellSize;
    t.originX = -cells * cellSize / 2;
    t.originY = cells * cellSize / 2;
    t.heightM.assign(size_t(cells) * cells, z);
    return t;
}

CommandResult runCitytwin(const std::string& args) {
    TempDir tmp;
    std::string cmd = std::string(CITYTWIN_BINARY) + " --no-cache " + args + " >" + (tmp / "out").string() + " 2>" +
                      (tmp / "err").string() + " </dev/null";
    int status = std::system(cmd.c_str());
    CommandResult r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(tmp / "out");
    r.err = slurp(tmp / "err");
    return r;
}

} // namespace ct::test
