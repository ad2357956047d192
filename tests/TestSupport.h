#pragma once
// Helpers shared by the tests: temp folders, writing features with GDAL, running the CLI.
#include "city/CityModel.h"
#include "core/Geometry.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ct::test {

// A fresh folder removed at the end of the test.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return dir; }
    std::filesystem::path operator/(const std::string& name) const { return dir / name; }

private:
    std::filesystem::path dir;
};

std::filesystem::path sourceDir();
std::filesystem::path sharedData(); // ../shared/data beside the checkout

void writeText(const std::filesystem::path& path, const std::string& text);

// A feature to write with GDAL: WKT geometry plus string/number attributes.
struct TestFeature {
    std::string wkt;
    std::vector<std::pair<std::string, std::string>> attributes; // written as strings unless numeric field
};
struct TestField {
    std::string name;
    bool numeric = false;
};

// Writes one layer with GDAL's `driver` (GPKG, GeoJSON, ESRI Shapefile, FlatGeobuf).
// epsg 0 writes no CRS.
void writeLayer(const std::filesystem::path& path, const std::string& driver, const std::string& layer,
                int epsg, const std::vector<TestField>& fields, const std::vector<TestFeature>& features);

// A measured figure: a property in GoogleTest's XML and "[tag] key = value" on stdout.
std::string formatFigure(double value); // 6 significant digits
void reportFigure(const std::string& tag, const std::string& key, double value);
// A CSV for a validation report, written only when CITYTWIN_VALIDATION_OUT names a folder.
void writeValidationCsv(const std::string& name, const std::string& header,
                        const std::vector<std::vector<double>>& rows);

// A Float32 GeoTIFF DEM in EPSG:25832 written by GDAL: nx × ny cells of `cell` metres, the
// south-west corner at (west, south); `heights` row by row from the north.
void writeDem(const std::filesystem::path& file, int nx, int ny, double cell, double west, double south,
              const std::vector<float>& heights);

// A flat terrain of cells × cells square cells centred on the local origin, at height z.
Terrain flatTerrain(int cells, double cellSize, float z);

struct CommandResult {
    int exitCode;
    std::string out, err;
};
// Runs the citytwin binary with arguments (shell-quoted by the caller where needed).
CommandResult runCitytwin(const std::string& args);

} // namespace ct::test
