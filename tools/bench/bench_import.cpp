// Import benchmark: a generated city of N buildings and M road segments (GeoPackage) and a
// D×D DEM (GeoTIFF), imported fresh and then reloaded from the binary cache. Each phase runs in
// a child process so its wall time and peak memory (max RSS) are its own.
//
//   bench_import [--dir DIR] [--buildings 100000] [--roads 20000] [--dem 4000]
#include "city/Import.h"
#include "gis/Gdal.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <ogrsf_frmts.h>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace ct;

static const double E0 = 470000, N0 = 5730000; // EPSG:25832, OWL

static void generate(const fs::path& dir, int buildings, int roads, int dem) {
    gis::initGdal();
    fs::create_directories(dir);
    OGRSpatialReference srs;
    srs.importFromEPSG(25832);
    const double extent = 2.0 * dem; // metres, DEM at 2 m

    {   // DEM: smooth hills and a valley.
        GDALDriver* tif = GetGDALDriverManager()->GetDriverByName("GTiff");
        const char* opts[] = {"COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES", nullptr};
        GDALDatasetUniquePtr ds(tif->Create((dir / "dem.tif").c_str(), dem, dem, 1, GDT_Float32, const_cast<char**>(opts)));
        double gt[6] = {E0, 2, 0, N0 + extent, 0, -2};
        ds->SetGeoTransform(gt);
        ds->SetSpatialRef(&srs);
        std::vector<float> row(static_cast<size_t>(dem));
        for (int r = 0; r < dem; ++r) {
            for (int c = 0; c < dem; ++c)
                row[static_cast<size_t>(c)] = static_cast<float>(100 + 20 * std::sin(c * 0.002) * std::cos(r * 0.0015) +
                                                                 5 * std::abs(std::sin((r - dem / 2) * 0.0007)));
            if (ds->GetRasterBand(1)->RasterIO(GF_Write, 0, r, dem, 1, row.data(), dem, 1, GDT_Float32, 0, 0) != CE_None)
                throw std::runtime_error("DEM write failed");
        }
    }
    GDALDriver* gpkg = GetGDALDriverManager()->GetDriverByName("GPKG");
    {   // Buildings: rectangles on a jittered grid, with the attributes a cadastre has.
        GDALDatasetUniquePtr ds(gpkg->Create((dir / "buildings.gpkg").c_str(), 0, 0, 0, GDT_Unknown, nullptr));
        OGRLayer* layer = ds->CreateLayer("buildings", &srs, wkbPolygon, nullptr);
        for (auto [name, type] : {std::pair{"id", OFTString}, {"height", OFTReal}, {"levels", OFTInteger},
                                  {"use", OFTString}, {"year_built", OFTInteger}}) {
            OGRFieldDefn f(name, type);
            if (layer->CreateField(&f) != OGRERR_NONE) throw std::runtime_error("field");
        }
        std::mt19937_64 rng(1);
        std::uniform_real_distribution<double> u(0, 1);
        const int side = static_cast<int>(std::ceil(std::sqrt(buildings)));
        const double pitch = extent / (side + 1);
        const char* uses[] = {"residential", "residential", "residential", "commercial", "industrial", "public"};
        if (layer->StartTransaction() != OGRERR_NONE) throw std::runtime_error("transaction");
        for (int i = 0; i < buildings; ++i) {
            double cx = E0 + pitch * (1 + i % side), cy = N0 + pitch * (1 + i / side);
            double w = pitch * (0.3 + 0.3 * u(rng)), h = pitch * (0.3 + 0.3 * u(rng));
            OGRLinearRing ring;
            ring.addPoint(cx - w / 2, cy - h / 2);
            ring.addPoint(cx + w / 2, cy - h / 2);
            ring.addPoint(cx + w / 2, cy + h / 2);
            ring.addPoint(cx - w / 2, cy + h / 2);
            ring.closeRings();
            OGRPolygon poly;
            poly.addRing(&ring);
            OGRFeature f(layer->GetLayerDefn());
            f.SetGeometry(&poly);
            int levels = 1 + static_cast<int>(u(rng) * 6);
            f.SetField("id", fmt::format("B{:07d}", i).c_str());
            f.SetField("height", levels * 3.0 + 1.5);
            f.SetField("levels", levels);
            f.SetField("use", uses[i % 6]);
            f.SetField("year_built", 1900 + static_cast<int>(u(rng) * 120));
            if (layer->CreateFeature(&f) != OGRERR_NONE) throw std::runtime_error("feature");
        }
        if (layer->CommitTransaction() != OGRERR_NONE) throw std::runtime_error("commit");
    }
    {   // Roads: a street grid, one feature per block side.
        GDALDatasetUniquePtr ds(gpkg->Create((dir / "roads.gpkg").c_str(), 0, 0, 0, GDT_Unknown, nullptr));
        OGRLayer* layer = ds->CreateLayer("roads", &srs, wkbLineString, nullptr);
        for (auto name : {"highway", "name"}) {
            OGRFieldDefn f(name, OFTString);
            if (layer->CreateField(&f) != OGRERR_NONE) throw std::runtime_error("field");
        }
        const int n = static_cast<int>(std::ceil(std::sqrt(roads / 2.0))) + 1; // n×n nodes, 2n(n-1) segments
        const double pitch = extent / n;
        if (layer->StartTransaction() != OGRERR_NONE) throw std::runtime_error("transaction");
        int written = 0;
        for (int dirn = 0; dirn < 2 && written < roads; ++dirn)
            for (int a = 0; a < n && written < roads; ++a)
                for (int b = 0; b + 1 < n && written < roads; ++b) {
                    OGRLineString line;
                    double x0 = E0 + pitch * (dirn ? a : b), y0 = N0 + pitch * (dirn ? b : a);
                    line.addPoint(x0, y0);
                    line.addPoint(x0 + (dirn ? 0 : pitch), y0 + (dirn ? pitch : 0));
                    OGRFeature f(layer->GetLayerDefn());
                    f.SetGeometry(&line);
                    f.SetField("highway", a % 10 == 0 ? "primary" : "residential");
                    f.SetField("name", fmt::format("Straße {}", a).c_str());
                    if (layer->CreateFeature(&f) != OGRERR_NONE) throw std::runtime_error("feature");
                    ++written;
                }
        if (layer->CommitTransaction() != OGRERR_NONE) throw std::runtime_error("commit");
    }
}

struct Phase {
    double wallS;
    double peakMiB;
    int status;
};

// Runs `work` in a child; its stdout line carries counts back to us.
template <class F>
static Phase inChild(F&& work) {
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        try {
            work();
            std::fflush(stdout);
            _exit(0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            _exit(1);
        }
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {wall, usage.ru_maxrss / 1024.0, status};
}

int main(int argc, char** argv) {
    fs::path dir = fs::temp_directory_path() / "citytwin-bench-import";
    int buildings = 100000, roads = 20000, dem = 4000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--buildings") buildings = std::atoi(argv[i + 1]);
        else if (a == "--roads") roads = std::atoi(argv[i + 1]);
        else if (a == "--dem") dem = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: bench_import [--dir DIR] [--buildings N] [--roads N] [--dem N]\n");
            return 2;
        }
    }
    fs::path data = dir / fmt::format("city-{}-{}-{}", buildings, roads, dem);
    if (!fs::exists(data / "roads.gpkg")) {
        std::printf("generating %d buildings, %d road segments, %d×%d DEM in %s ...\n", buildings, roads, dem, dem,
                    data.c_str());
        std::fflush(stdout);
        Phase g = inChild([&] { generate(data, buildings, roads, dem); });
        if (g.status != 0) return 1;
        std::printf("generated in %.1f s\n", g.wallS);
    }
    CityConfig config;
    config.buildings = {LayerSource{data / "buildings.gpkg", "", ""}};
    config.roads = {LayerSource{data / "roads.gpkg", "", ""}};
    config.terrain = {data / "dem.tif"};
    fs::path cache = dir / "cache";
    fs::remove_all(cache);

    auto importAndReport = [&](const fs::path& cacheDir) {
        return [&, cacheDir] {
            CityModel city = importCity(config, ImportOptions{cacheDir, false});
            std::printf("  %zu buildings, %zu road nodes, %zu edges, %d×%d terrain%s\n", city.buildings.size(),
                        city.roads.nodeCount(), city.roads.edgeCount(), city.terrain.width, city.terrain.height,
                        lastImportFromCache() ? " (from cache)" : "");
        };
    };
    std::printf("fresh import:\n");
    std::fflush(stdout);
    Phase fresh = inChild(importAndReport({}));
    std::printf("import + write cache:\n");
    std::fflush(stdout);
    Phase writeCache = inChild(importAndReport(cache));
    std::printf("reload from cache:\n");
    std::fflush(stdout);
    Phase reload = inChild(importAndReport(cache));
    if (fresh.status || writeCache.status || reload.status) return 1;

    std::printf("\nfigure                         value     goal\n");
    std::printf("fresh import wall time      %7.2f s   < 10 s\n", fresh.wallS);
    std::printf("fresh import peak memory    %7.0f MiB < 2048 MiB\n", fresh.peakMiB);
    std::printf("import + cache write        %7.2f s\n", writeCache.wallS);
    std::printf("reload from cache wall time %7.2f s   < 1 s\n", reload.wallS);
    std::printf("reload peak memory          %7.0f MiB\n", reload.peakMiB);
    std::printf("buildings per second        %7.0f\n", buildings / fresh.wallS);
    return 0;
}
