// Energy benchmark. Two parts, both by default:
//
// pv:   rooftop PV on the sample town: the whole PV potential (roofs, sky view, beam shading
//       per sun bin, hourly PVWatts for every building), the error of the sun bins against one
//       ray set per hour, and shadow-ray throughput of our BVH (sim/energy/Shading.h) against
//       Bullet's PickWorld (physics/Picking.h) on the same triangles.
// heat: building heat demand (ISO 13790 5R1C, sim/energy/HeatDemand.h) of the generated city
//       of GeneratedCity.h (construction years uniform in 1900–2020, mostly residential), a
//       generated weather year for 51.7° N 8.75° E, 8760 hourly steps per building in parallel,
//       combined per building-hour as EnergyModule::simulateHours does.
//
//   bench_energy [--only pv|heat]
//                [--scenario scenarios/musterstadt.yaml]
//                [--weather ../shared/data/real/weather-nrw-aachen/DEU_NW_Aachen.105010_TMYx.epw]
//                [--rays 400000] [--heat-buildings 100000] [--threads 2]
// Run from the repository root (the defaults are relative to it).
#include "GeneratedCity.h"
#include "city/Import.h"
#include "physics/Picking.h"
#include "sim/Scenario.h"
#include "sim/energy/Envelope.h"
#include "sim/energy/HeatDemand.h"
#include "sim/energy/Pv.h"
#include "sim/energy/Shading.h"
#include "sim/energy/Typology.h"
#include "sim/energy/Weather.h"

#include <Eigen/Geometry>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

using namespace ct;
using namespace ct::energy;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double peakMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

struct Throughput {
    double raysPerS = 0;
    size_t hits = 0;
};

// Our BVH over `threads` TBB workers.
Throughput ours(const OcclusionBvh& bvh, const std::vector<ShadowRay>& rays, int threads,
                std::vector<char>* out = nullptr) {
    std::vector<char> hit(rays.size());
    tbb::task_arena arena(threads);
    const auto t0 = std::chrono::steady_clock::now();
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<size_t>(0, rays.size(), 1024),
                          [&](const tbb::blocked_range<size_t>& r) {
                              for (size_t k = r.begin(); k < r.end(); ++k)
                                  hit[k] = bvh.occluded(rays[k]);
                          });
    });
    Throughput t;
    t.raysPerS = double(rays.size()) / since(t0);
    for (char h : hit)
        t.hits += h ? 1 : 0;
    if (out) *out = std::move(hit);
    return t;
}

// Bullet: its broadphase ray test keeps one traversal stack per world (Bullet 3.24 as Debian
// builds it, without BT_THREADSAFE), so each thread gets a world of its own.
Throughput bullet(const std::vector<std::unique_ptr<PickWorld>>& worlds, const std::vector<ShadowRay>& rays,
                  int threads, std::vector<char>* out = nullptr) {
    std::vector<char> hit(rays.size());
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            const PickWorld& w = *worlds[size_t(t)];
            for (size_t k = size_t(t); k < rays.size(); k += size_t(threads)) {
                const ShadowRay& r = rays[k];
                const double len = std::isfinite(r.tMax) ? r.tMax : 1e4;
                hit[k] = w.castRay(Vec3(r.origin[0], r.origin[1], r.origin[2]),
                                   Vec3(r.dir[0], r.dir[1], r.dir[2]), len)
                             .has_value();
            }
        });
    for (auto& th : pool)
        th.join();
    Throughput t;
    t.raysPerS = double(rays.size()) / since(t0);
    for (char h : hit)
        t.hits += h ? 1 : 0;
    if (out) *out = std::move(hit);
    return t;
}

} // namespace

// --- Rooftop PV on the sample town, and ray throughput ----------------------------------------
static void pvBench(const std::string& scenario, const std::string& weatherFile, size_t rayCount,
                    int threads) {
    auto t0 = std::chrono::steady_clock::now();
    const Scenario s = Scenario::fromYaml(scenario);
    const CityModel city = importCity(s.city, ImportOptions{{}, false});
    const WeatherYear weather = readWeather(weatherFile);
    fmt::print("import: {} buildings, terrain {}×{} cells of {} m, {:.2f} s (with the weather file)\n",
               city.buildings.size(), city.terrain.width, city.terrain.height, city.terrain.cellSize,
               since(t0));
    const double importMiB = peakMiB();

    // --- The whole PV potential ---------------------------------------------------------------
    t0 = std::chrono::steady_clock::now();
    const PvModel pv(city);
    const double modelSeconds = since(t0);
    PvRunStats stats;
    PvRun request;
    request.stats = &stats;
    std::vector<std::vector<float>> hourly;
    request.hourlyAcW = &hourly;
    t0 = std::chrono::steady_clock::now();
    const std::vector<PvBuilding> res = pv.run(weather, request);
    const double runSeconds = since(t0);
    double kwp = 0, kwh = 0, unshaded = 0;
    size_t withPv = 0;
    for (const PvBuilding& b : res) {
        kwp += b.kwp;
        kwh += b.annualKwh;
        unshaded += b.unshadedKwh;
        withPv += b.kwp > 0 ? 1 : 0;
    }
    fmt::print("pv potential ({}): {} planes on {} buildings, {} samples, {:.1f} MWp, {:.2f} GWh/a, "
               "{:.0f} kWh/kWp, shading loss {:.2f} %\n",
               weather.source, pv.planes().size(), withPv, pv.samples().size(), kwp / 1000, kwh / 1e6,
               kwh / std::max(kwp, 1e-9), 100 * (1 - kwh / std::max(unshaded, 1e-9)));
    fmt::print(
        "pv timing: occluders {:.2f} s ({} triangles, {:.1f} MiB), roofs + sky view {:.2f} s ({} rays), "
        "run {:.2f} s ({} sun bins, max {:.2f}°, {} beam rays) = {:.2f} s total; peak RSS {:.0f} MiB "
        "(import alone {:.0f} MiB)\n",
        pv.occluderSeconds(), pv.occluders().triangleCount(), pv.occluders().bytes() / 1048576.0,
        pv.roofSeconds(), pv.skyRays(), runSeconds, stats.sunBins, stats.maxBinErrorDeg, stats.beamRays,
        modelSeconds + runSeconds, peakMiB(), importMiB);
    fmt::print(
        "pv rays/s in the model: {:.2f} M (sky view), {:.2f} M (beam, with the hourly PVWatts around it)\n",
        pv.skyRays() / std::max(pv.roofSeconds() - 0.0, 1e-9) / 1e6, stats.beamRays / runSeconds / 1e6);
    hourly.clear();
    hourly.shrink_to_fit();

    // --- Sun bins against every hour, on every 10th building ------------------------------------
    {
        std::vector<bool> include(city.buildings.size(), false);
        for (size_t i = 0; i < include.size(); i += 10)
            include[i] = true;
        PvOptions exactOpts;
        exactOpts.sunBinDeg = 0;
        const PvModel exact(city, exactOpts);
        t0 = std::chrono::steady_clock::now();
        const auto a = pv.run(weather, nullptr, &include);
        const double binnedS = since(t0);
        t0 = std::chrono::steady_clock::now();
        const auto b = exact.run(weather, nullptr, &include);
        const double exactS = since(t0);
        double sa = 0, sb = 0, worst = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!include[i] || !(b[i].annualKwh > 0)) continue;
            sa += a[i].annualKwh;
            sb += b[i].annualKwh;
            worst = std::max(worst, std::abs(a[i].annualKwh / b[i].annualKwh - 1) * 100);
        }
        fmt::print("sun bins vs every hour ({} buildings): total {:+.3f} %, worst building {:.2f} %, "
                   "time {:.2f} s vs {:.2f} s\n",
                   std::count(include.begin(), include.end(), true), 100 * (sa / sb - 1), worst, binnedS,
                   exactS);
    }

    // --- Terrain resolution of the occluders: 8 m (default) against the DEM's 2 m ---------------
    {
        PvOptions fine;
        fine.occluders.terrainCellM = city.terrain.cellSize;
        t0 = std::chrono::steady_clock::now();
        const PvModel finePv(city, fine);
        const auto b = finePv.run(weather);
        const double fineS = since(t0);
        double sb = 0, worst = 0;
        for (size_t i = 0; i < b.size(); ++i) {
            sb += b[i].annualKwh;
            if (b[i].annualKwh > 0)
                worst = std::max(worst, std::abs(res[i].annualKwh / b[i].annualKwh - 1) * 100);
        }
        fmt::print("terrain {} m vs {} m in the occluders: total {:+.3f} %, worst building {:.2f} %; "
                   "{} triangles, {:.2f} s\n",
                   PvOptions{}.occluders.terrainCellM, city.terrain.cellSize, 100 * (kwh / sb - 1), worst,
                   finePv.occluders().triangleCount(), fineS);
    }

    // --- Ray throughput -------------------------------------------------------------------------
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    // Shading rays as the model casts them: from roof samples to the sun (bins of the year)
    // and over the sky hemisphere, unbounded.
    const SunBins bins = binSun(hourlySun(weather), 2.0);
    std::vector<ShadowRay> shadingRays;
    const auto& samples = pv.samples();
    while (shadingRays.size() < rayCount && !samples.empty()) {
        ShadowRay r;
        r.origin = samples[size_t(u(rng) * double(samples.size())) % samples.size()];
        r.tMin = 1e-3f;
        if (shadingRays.size() % 2 == 0) {
            r.dir = bins.dir[size_t(u(rng) * double(bins.dir.size())) % bins.dir.size()];
        } else {
            const double z = std::sqrt(u(rng)), phi = 2 * std::numbers::pi * u(rng),
                         rr = std::sqrt(1 - z * z);
            r.dir = {float(rr * std::cos(phi)), float(rr * std::sin(phi)), float(z)};
        }
        shadingRays.push_back(r);
    }
    // Random segments anywhere in the town, 0.5–40 m above the ground, up to 600 m long.
    std::vector<ShadowRay> randomRays;
    const Box2 box = city.terrain.bounds();
    while (randomRays.size() < rayCount) {
        const Vec2 p(box.min.x() + box.size().x() * u(rng), box.min.y() + box.size().y() * u(rng));
        const float ground = city.terrain.heightAt(p);
        if (!std::isfinite(ground)) continue;
        Vec3 d(u(rng) - 0.5, u(rng) - 0.5, u(rng) - 0.5);
        if (!(d.norm() > 1e-3)) continue;
        d.normalize();
        ShadowRay r;
        r.origin = {float(p.x()), float(p.y()), float(ground + 0.5 + 39.5 * u(rng))};
        r.dir = {float(d.x()), float(d.y()), float(d.z())};
        r.tMax = float(1 + 599 * u(rng));
        randomRays.push_back(r);
    }

    // The same triangles for both: the city mesh's finest level (terrain at 2 m, roads).
    t0 = std::chrono::steady_clock::now();
    const CityMesh mesh = buildCityMesh(city);
    const double meshS = since(t0);
    t0 = std::chrono::steady_clock::now();
    const OcclusionBvh same(meshTriangles(mesh));
    const double oursBuildS = since(t0);
    std::vector<std::unique_ptr<PickWorld>> worlds;
    t0 = std::chrono::steady_clock::now();
    worlds.push_back(std::make_unique<PickWorld>(mesh));
    const double bulletBuildS = since(t0);
    for (int t = 1; t < threads; ++t)
        worlds.push_back(std::make_unique<PickWorld>(mesh));
    fmt::print("mesh {:.2f} s, {} triangles: build ours {:.2f} s ({:.1f} MiB), Bullet {:.2f} s (one world)\n",
               meshS, same.triangleCount(), oursBuildS, same.bytes() / 1048576.0, bulletBuildS);

    struct Case {
        const char* name;
        const OcclusionBvh* bvh;
        const std::vector<ShadowRay>* rays;
        bool withBullet;
    };
    const Case cases[] = {{"shading rays, PV occluders (terrain 8 m)", &pv.occluders(), &shadingRays, false},
                          {"shading rays, mesh triangles", &same, &shadingRays, true},
                          {"random segments, mesh triangles", &same, &randomRays, true}};
    double oursBest = 0, bulletBest = 0;
    for (const Case& c : cases) {
        ours(*c.bvh, *c.rays, 1); // warm up
        const Throughput o1 = ours(*c.bvh, *c.rays, 1);
        std::vector<char> oh, bh;
        const Throughput on = ours(*c.bvh, *c.rays, threads, &oh);
        fmt::print("{}: ours {:.2f} M rays/s (1 thread), {:.2f} M rays/s ({} threads), hits {:.1f} %\n",
                   c.name, o1.raysPerS / 1e6, on.raysPerS / 1e6, threads,
                   100.0 * double(on.hits) / double(c.rays->size()));
        if (!c.withBullet) continue;
        const Throughput b1 = bullet(worlds, *c.rays, 1);
        const Throughput bn = bullet(worlds, *c.rays, threads, &bh);
        size_t differ = 0;
        for (size_t k = 0; k < oh.size(); ++k)
            differ += oh[k] != bh[k] ? 1 : 0;
        fmt::print("{}: Bullet {:.2f} M rays/s (1 thread), {:.2f} M rays/s ({} threads), hits {:.1f} %; "
                   "{} of {} rays disagree; ours {:.1f}× faster\n",
                   c.name, b1.raysPerS / 1e6, bn.raysPerS / 1e6, threads,
                   100.0 * double(bn.hits) / double(c.rays->size()), differ, c.rays->size(),
                   on.raysPerS / bn.raysPerS);
        oursBest = std::max(oursBest, on.raysPerS);
        bulletBest = std::max(bulletBest, bn.raysPerS);
    }
    fmt::print("faster: {}\n", oursBest >= bulletBest ? "ours (the PV model uses it)" : "Bullet");
    fmt::print("peak RSS {:.0f} MiB (process, so far)\n", peakMiB());
}

// --- Heat demand of the generated city ------------------------------------------------------
// The steps of EnergyModule::start and ::simulateHours without measures, districts and PV:
// weather and facade irradiance once, envelopes, archetype per building, the 5R1C zone, then
// 8760 hours per building in fixed blocks of 256 (results do not depend on the thread count).
static void heatBench(int buildings, int threads) {
    constexpr size_t kHours = 8760;
    fmt::print("\nheat demand: generated city of {} buildings, {} threads\n", buildings, threads);
    auto t0 = std::chrono::steady_clock::now();
    CityModel city = bench::generateCity(buildings);
    Buildings& b = city.buildings;
    // Construction years uniform in 1900–2020; uses mostly residential (80 %), then mixed 8 %,
    // commercial 6 %, public 3 %, industrial 2 %, other 1 %.
    std::mt19937_64 rng(2026);
    std::uniform_int_distribution<int> year(1900, 2020);
    std::uniform_real_distribution<double> u(0, 1);
    for (size_t i = 0; i < b.size(); ++i) {
        b.yearBuilt[i] = int16_t(year(rng));
        const double r = u(rng);
        b.use[i] = r < 0.80   ? BuildingUse::Residential
                   : r < 0.88 ? BuildingUse::Mixed
                   : r < 0.94 ? BuildingUse::Commercial
                   : r < 0.97 ? BuildingUse::Public
                   : r < 0.99 ? BuildingUse::Industrial
                              : BuildingUse::Other;
    }
    const double generateS = since(t0);

    // Weather and the sun on the four facade orientations, once.
    t0 = std::chrono::steady_clock::now();
    const WeatherYear weather = generatedWeather(51.7, 8.75, 100, 1);
    const FacadeIrradiance facades = facadeIrradiance(weather);
    const double weatherS = since(t0);
    if (weather.hours() != kHours) {
        fmt::print(stderr, "generated weather has {} hours, expected {}\n", weather.hours(), kHours);
        std::exit(1);
    }

    // Envelopes, archetypes, zones (as EnergyModule::start, in building order).
    t0 = std::chrono::steady_clock::now();
    EnvelopeStats envStats;
    std::vector<Envelope> envelopes = buildingEnvelopes(b, 3.0, 0.3, &envStats);
    const Typology typology = Typology::loadDefault();
    const size_t n = b.size();
    std::vector<std::optional<Zone5R1C>> zones(n);
    std::vector<std::array<double, 4>> aperture(n, {0, 0, 0, 0});
    std::vector<double> internalW(n, 0);
    for (size_t i = 0; i < n; ++i) {
        const MatchResult m = typology.match(b.use[i], b.yearBuilt[i], envelopes[i].storeys,
                                             envelopes[i].footprintM2, envelopes[i].sharedShare());
        const Archetype& a = *m.archetype;
        if (envelopes[i].floorAreaM2 > 0) zones[i].emplace(zoneParams(envelopes[i], a));
        envelopes[i] = withWindows(envelopes[i], a.windowShare);
        aperture[i] = solarApertureM2(envelopes[i], a.gWindow);
        internalW[i] = a.internalGainsWm2 * envelopes[i].floorAreaM2;
    }
    const double envelopeS = since(t0);

    // 8760 hours per building.
    std::vector<double> heatKwh(n, 0), coolKwh(n, 0), peakHeatW(n, 0);
    const float* te = weather.temperatureC.data();
    const float *sunN = facades.wm2[North].data(), *sunE = facades.wm2[East].data(),
                *sunS = facades.wm2[South].data(), *sunW = facades.wm2[West].data();
    t0 = std::chrono::steady_clock::now();
    const size_t block = 256;
    tbb::parallel_for(size_t(0), (n + block - 1) / block, [&](size_t blk) {
        for (size_t i = blk * block; i < std::min(n, (blk + 1) * block); ++i) {
            if (!zones[i]) continue;
            const Zone5R1C& zone = *zones[i];
            const std::array<double, 4>& ap = aperture[i];
            double mass = 20, heatWh = 0, coolWh = 0, peak = 0;
            for (size_t h = 0; h < kHours; ++h) {
                const double solar = ap[0] * sunN[h] + ap[1] * sunE[h] + ap[2] * sunS[h] + ap[3] * sunW[h];
                const StepResult r = zone.step(te[h], mass, internalW[i], solar);
                mass = r.massC;
                heatWh += r.heatingW;
                coolWh += r.coolingW;
                peak = std::max(peak, r.heatingW);
            }
            heatKwh[i] = heatWh / 1000;
            coolKwh[i] = coolWh / 1000;
            peakHeatW[i] = peak;
        }
    });
    const double simS = since(t0);

    size_t zoneCount = 0;
    double heat = 0, cool = 0, area = 0, peakSum = 0, resHeat = 0, resArea = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!zones[i]) continue;
        ++zoneCount;
        heat += heatKwh[i], cool += coolKwh[i], area += envelopes[i].floorAreaM2, peakSum += peakHeatW[i];
        if (b.use[i] == BuildingUse::Residential) resHeat += heatKwh[i], resArea += envelopes[i].floorAreaM2;
    }
    const double totalS = weatherS + envelopeS + simS;
    double meanTe = 0;
    for (float t : weather.temperatureC)
        meanTe += t / double(kHours);
    const double steps = double(zoneCount) * double(kHours);
    fmt::print("heat buildings: {} ({} with a zone), floor area {:.2f} km², {} shared edge pairs; "
               "city generated in {:.2f} s (not counted below)\n",
               n, zoneCount, area / 1e6, envStats.sharedEdges, generateS);
    fmt::print(
        "heat timing: weather + facades {:.2f} s, envelopes + typology {:.2f} s, 8760-h simulation {:.2f} s, "
        "total {:.2f} s\n",
        weatherS, envelopeS, simS, totalS);
    fmt::print("heat throughput: {:.0f} building-years/s, {:.1f} M steps/s ({:.0f} ns per step and thread)\n",
               double(zoneCount) / simS, steps / simS / 1e6, simS * threads / steps * 1e9);
    fmt::print("heat demand ({}, {:.2f} °C mean): {:.1f} GWh/a, {:.0f} kWh/m²a (residential {:.0f} kWh/m²a), "
               "cooling {:.2f} GWh/a, sum of building peaks {:.0f} MW\n",
               weather.source, meanTe, heat / 1e6, heat / std::max(area, 1e-9),
               resHeat / std::max(resArea, 1e-9), cool / 1e6, peakSum / 1e6);
    if (n == 100000)
        fmt::print("heat goal (100,000 buildings × 8760 h in < 60 s): {} ({:.1f} s)\n",
                   totalS < 60 ? "met" : "not met", totalS);
    fmt::print("peak RSS {:.0f} MiB (process, so far)\n", peakMiB());
}

int main(int argc, char** argv) {
    std::string scenario = "scenarios/musterstadt.yaml";
    std::string weatherFile = "../shared/data/real/weather-nrw-aachen/DEU_NW_Aachen.105010_TMYx.epw";
    std::string only; // empty: both parts
    size_t rayCount = 400000;
    int heatBuildings = 100000;
    int threads = 2;
    bool ok = argc % 2 == 1;
    for (int i = 1; ok && i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--scenario")
            scenario = v;
        else if (a == "--weather")
            weatherFile = v;
        else if (a == "--rays")
            rayCount = size_t(std::atoll(v.c_str()));
        else if (a == "--heat-buildings")
            heatBuildings = std::atoi(v.c_str());
        else if (a == "--threads")
            threads = std::atoi(v.c_str());
        else if (a == "--only" && (v == "pv" || v == "heat"))
            only = v;
        else
            ok = false;
    }
    if (!ok || threads < 1 || heatBuildings < 1) {
        fmt::print(stderr,
                   "usage: bench_energy [--only pv|heat] [--scenario YAML] [--weather EPW|DAT] [--rays N] "
                   "[--heat-buildings N] [--threads N]\n");
        return 2;
    }
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
    fmt::print("threads {}, hardware {}\n", threads, std::thread::hardware_concurrency());
    if (only != "heat") pvBench(scenario, weatherFile, rayCount, threads);
    if (only != "pv") heatBench(heatBuildings, threads);
    return 0;
}
