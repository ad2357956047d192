// Rooftop PV and shading (docs/validation/energy.md, "Rooftop PV and shading"): our BVH
// against analytic box edges, a double-precision brute force and Bullet; the PVWatts v5
// equations against hand-computed values; yields against the Aachen weather files; shading by
// a neighbour; the sample town's whole potential.
#include "TestSupport.h"

#include "city/Import.h"
#include "physics/Picking.h"
#include "sim/Scenario.h"
#include "sim/energy/Irradiance.h"
#include "sim/energy/Pv.h"
#include "sim/energy/Shading.h"
#include "sim/energy/Weather.h"

#include <Eigen/Geometry>
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <random>
#include <sstream>

using namespace ct;
using namespace ct::energy;
using namespace ct::test;

namespace {

constexpr double deg = std::numbers::pi / 180;

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<Vec2> rect(double x0, double y0, double x1, double y1) {
    return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

void addBox(CityModel& city, double x0, double y0, double x1, double y1, float height, float ground = 0) {
    Buildings& b = city.buildings;
    b.footprints.add({rect(x0, y0, x1, y1)});
    b.partStart.push_back(static_cast<uint32_t>(b.footprints.size()));
    b.sourceId.push_back("b" + std::to_string(b.sourceId.size()));
    b.name.emplace_back();
    b.heightM.push_back(height);
    b.groundM.push_back(ground);
    b.levels.push_back(0);
    b.use.push_back(BuildingUse::Residential);
    b.yearBuilt.push_back(0);
    b.heightSource.push_back(HeightSource::Attribute);
    b.roofStart.push_back(static_cast<uint32_t>(b.roofRingStart.size() - 1));
}

// Adds LoD2 roof rings to the building added last.
void addRoofs(CityModel& city, const std::vector<std::vector<Vec3>>& rings) {
    Buildings& b = city.buildings;
    for (const auto& r : rings) {
        b.roofPoints.insert(b.roofPoints.end(), r.begin(), r.end());
        b.roofRingStart.push_back(static_cast<uint32_t>(b.roofPoints.size()));
    }
    b.roofStart.back() = static_cast<uint32_t>(b.roofRingStart.size() - 1);
}

// The twelve triangles of an axis-aligned box, each face split along a diagonal.
std::vector<float> boxTriangles(const Vec3& lo, const Vec3& hi) {
    std::vector<float> t;
    auto corner = [&](int i) {
        return Vec3(i & 1 ? hi.x() : lo.x(), i & 2 ? hi.y() : lo.y(), i & 4 ? hi.z() : lo.z());
    };
    const int faces[6][4] = {{0, 1, 3, 2}, {4, 5, 7, 6}, {0, 1, 5, 4},
                             {2, 3, 7, 6}, {0, 2, 6, 4}, {1, 3, 7, 5}};
    const int halves[2][3] = {{0, 1, 2}, {0, 2, 3}};
    for (const auto& f : faces)
        for (const auto& tri : halves)
            for (int k = 0; k < 3; ++k) {
                const Vec3 p = corner(f[tri[k]]);
                t.insert(t.end(), {float(p.x()), float(p.y()), float(p.z())});
            }
    return t;
}

ShadowRay makeRay(const Vec3& o, const Vec3& d, float tMax = INFINITY) {
    ShadowRay r;
    r.origin = {float(o.x()), float(o.y()), float(o.z())};
    r.dir = {float(d.x()), float(d.y()), float(d.z())};
    r.tMax = tMax;
    return r;
}

// Reference: a ray against every triangle in double precision, by the plane crossing and
// three edge-side tests (a different method from the BVH's Möller–Trumbore in float).
struct BruteHit {
    bool hit = false;
    double t = INFINITY;
};
BruteHit bruteForce(const std::vector<float>& tri, const ShadowRay& r) {
    BruteHit best;
    const Vec3 o(r.origin[0], r.origin[1], r.origin[2]), d(r.dir[0], r.dir[1], r.dir[2]);
    for (size_t k = 0; k + 8 < tri.size(); k += 9) {
        const Vec3 a(tri[k], tri[k + 1], tri[k + 2]), b(tri[k + 3], tri[k + 4], tri[k + 5]),
            c(tri[k + 6], tri[k + 7], tri[k + 8]);
        const Vec3 n = (b - a).cross(c - a);
        const double denom = n.dot(d);
        if (denom == 0) continue;
        const double t = n.dot(a - o) / denom;
        if (!(t > r.tMin && t < r.tMax)) continue;
        const Vec3 p = o + t * d;
        if ((b - a).cross(p - a).dot(n) >= 0 && (c - b).cross(p - b).dot(n) >= 0 &&
            (a - c).cross(p - c).dot(n) >= 0 && t < best.t) {
            best.hit = true;
            best.t = t;
        }
    }
    return best;
}

// Shortest distance between segments p0-p1 and q0-q1 (closest points by clamped parameters).
double segmentDistance(const Vec3& p0, const Vec3& p1, const Vec3& q0, const Vec3& q1) {
    const Vec3 d1 = p1 - p0, d2 = q1 - q0, r = p0 - q0;
    const double a = d1.dot(d1), e = d2.dot(d2), f = d2.dot(r);
    double s = 0, t = 0;
    if (a <= 1e-18 && e <= 1e-18) return r.norm();
    if (a <= 1e-18) {
        t = std::clamp(f / e, 0.0, 1.0);
    } else {
        const double c = d1.dot(r);
        if (e <= 1e-18) {
            s = std::clamp(-c / a, 0.0, 1.0);
        } else {
            const double b = d1.dot(d2), denom = a * e - b * b;
            s = denom > 0 ? std::clamp((b * f - c * e) / denom, 0.0, 1.0) : 0.0;
            t = (b * s + f) / e;
            if (t < 0) {
                t = 0;
                s = std::clamp(-c / a, 0.0, 1.0);
            } else if (t > 1) {
                t = 1;
                s = std::clamp((b - c) / a, 0.0, 1.0);
            }
        }
    }
    return ((p0 + d1 * s) - (q0 + d2 * t)).norm();
}

// Whether a segment passes within `eps` of an edge of any triangle near it, or ends within
// `eps` of a triangle: there, float and double casters may rightly disagree.
bool grazing(const OcclusionBvh& bvh, const ShadowRay& r, double eps) {
    const Vec3 o(r.origin[0], r.origin[1], r.origin[2]), d(r.dir[0], r.dir[1], r.dir[2]);
    const Vec3 end = o + d * double(r.tMax);
    bool near = false;
    bvh.forEachCandidate(r, float(eps) * 2, [&](uint32_t id) {
        if (near) return;
        const auto t = bvh.triangle(id);
        const Vec3 v[3] = {{t[0], t[1], t[2]}, {t[3], t[4], t[5]}, {t[6], t[7], t[8]}};
        for (int k = 0; k < 3 && !near; ++k)
            near = segmentDistance(o, end, v[k], v[(k + 1) % 3]) < eps;
        const Vec3 n = (v[1] - v[0]).cross(v[2] - v[0]).normalized();
        for (const Vec3& p : {o, end}) {
            const double h = (p - v[0]).dot(n);
            if (std::abs(h) < eps) {
                const Vec3 q = p - h * n;
                if ((v[1] - v[0]).cross(q - v[0]).dot(n) >= 0 && (v[2] - v[1]).cross(q - v[1]).dot(n) >= 0 &&
                    (v[0] - v[2]).cross(q - v[2]).dot(n) >= 0)
                    near = true;
            }
        }
    });
    return near;
}

const CityModel& musterstadt() {
    static const CityModel city = [] {
        Scenario s = Scenario::fromYaml(sourceDir() / "scenarios" / "musterstadt.yaml");
        return importCity(s.city, ImportOptions{{}, false});
    }();
    return city;
}

// A clear-sky year for Aachen (Ineichen, Linke turbidity 3.5), 10 °C and 2 m/s throughout:
// weather for tests of geometry and shading that need sun, not a climate.
WeatherYear clearSkyYear() {
    WeatherYear w;
    w.source = "clear sky";
    w.latitudeDeg = 50.80;
    w.longitudeDeg = 6.02;
    w.elevationM = 232;
    w.timezoneH = 1;
    w.year = 2015;
    w.temperatureC.assign(8760, 10.0f);
    w.windMs.assign(8760, 2.0f);
    w.ghi.assign(8760, 0.0f);
    w.dni.assign(8760, 0.0f);
    w.dhi.assign(8760, 0.0f);
    const std::vector<SolarAngles> sun = hourlySun(w);
    for (size_t h = 0; h < 8760; ++h) {
        if (!(sun[h].zenithDeg < 90)) continue;
        const ClearSky c =
            ineichen(sun[h].zenithDeg, extraterrestrialNormal(int(h / 24) + 1), 3.5, w.elevationM);
        w.ghi[h] = float(c.ghi);
        w.dni[h] = float(c.dni);
        w.dhi[h] = float(c.dhi);
    }
    return w;
}

const WeatherYear& clearSky() {
    static const WeatherYear w = clearSkyYear();
    return w;
}

} // namespace

// --- BVH -------------------------------------------------------------------------------------

TEST(PvBvh, BoxEdgesHitAndMissAnalytically) {
    // Box [0,10] × [0,20] × [0,5].
    const OcclusionBvh bvh(boxTriangles(Vec3(0, 0, 0), Vec3(10, 20, 5)));
    ASSERT_EQ(bvh.triangleCount(), 12u);
    const double e = 1e-3; // a millimetre either side of an edge
    // Along +x from x = -5: the face x = 0 is 5 m away.
    EXPECT_TRUE(bvh.occluded(Vec3(-5, 10, 2.5), Vec3(1, 0, 0)));
    EXPECT_FLOAT_EQ(bvh.closestHit(makeRay(Vec3(-5, 10, 2.5), Vec3(1, 0, 0))), 5.0f);
    EXPECT_TRUE(bvh.occluded(Vec3(-5, 20 - e, 2.5), Vec3(1, 0, 0)));
    EXPECT_FALSE(bvh.occluded(Vec3(-5, 20 + e, 2.5), Vec3(1, 0, 0)));
    EXPECT_TRUE(bvh.occluded(Vec3(-5, e, 2.5), Vec3(1, 0, 0)));
    EXPECT_FALSE(bvh.occluded(Vec3(-5, -e, 2.5), Vec3(1, 0, 0)));
    EXPECT_TRUE(bvh.occluded(Vec3(-5, 10, 5 - e), Vec3(1, 0, 0)));
    EXPECT_FALSE(bvh.occluded(Vec3(-5, 10, 5 + e), Vec3(1, 0, 0)));
    // The segment's end: short of the face misses, past it hits.
    EXPECT_FALSE(bvh.occluded(Vec3(-5, 10, 2.5), Vec3(1, 0, 0), 5 - e));
    EXPECT_TRUE(bvh.occluded(Vec3(-5, 10, 2.5), Vec3(1, 0, 0), 5 + e));
    // Through the face's diagonal (the seam of its two triangles) and its centre.
    EXPECT_TRUE(bvh.occluded(Vec3(5, 10, 20), Vec3(0, 0, -1)));
    EXPECT_FLOAT_EQ(bvh.closestHit(makeRay(Vec3(5, 10, 20), Vec3(0, 0, -1))), 15.0f);
    for (double f : {0.1, 0.25, 0.5, 0.75, 0.9}) // points on the roof diagonal (0,0)-(10,20)
        EXPECT_TRUE(bvh.occluded(Vec3(10 * f, 20 * f, 20), Vec3(0, 0, -1))) << f;
    // Sun rays over the roof edge: from (-5, 10, 0) towards elevation angle a; the roof edge
    // x = 0, z = 5 is met at tan(a) = 5 / 5, so 45° is the analytic limit.
    for (double a : {44.9, 45.1}) {
        const Vec3 d(std::cos(a * deg), 0, std::sin(a * deg));
        EXPECT_EQ(bvh.occluded(Vec3(-5, 10, 0), d), a < 45) << a;
    }
    // Diagonal past the corner (10, 20, 5) from a point on its line, a millimetre off.
    const Vec3 from(-10, -20, -5), dir = Vec3(10, 20, 5).normalized();
    const Vec3 side = Vec3(-20, 10, 0).normalized();
    EXPECT_TRUE(bvh.occluded(from + side * e, dir));
    EXPECT_FALSE(bvh.occluded(Vec3(10, 20, 5) + side * 0.01 + dir * 0.001, dir)); // beyond the corner
    // From inside, every way is blocked (both sides of a triangle block).
    for (const Vec3& d : {Vec3(1, 0, 0), Vec3(0, -1, 0), Vec3(0, 0, 1), Vec3(1, 1, 1)})
        EXPECT_TRUE(bvh.occluded(Vec3(5, 10, 2.5), d));
    // Parallel to the roof a millimetre above it: free.
    EXPECT_FALSE(bvh.occluded(Vec3(-5, 10, 5 + e), Vec3(1, 0, 0)));
    // An empty tree blocks nothing.
    EXPECT_FALSE(OcclusionBvh().occluded(Vec3(0, 0, 0), Vec3(1, 0, 0)));
}

TEST(PvBvh, AgreesWithBruteForceOnRandomRays) {
    // Random triangle soup (float coordinates, so both casters see the same triangles) and
    // a grid of boxes like a town; 10,000 random rays with random segment lengths.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<float> tri;
    for (int k = 0; k < 3000; ++k) {
        const Vec3 c(100 * u(rng), 100 * u(rng), 30 * u(rng));
        const double size = 0.5 + 9.5 * u(rng);
        for (int j = 0; j < 3; ++j) {
            const Vec3 p = c + size * Vec3(u(rng) - 0.5, u(rng) - 0.5, u(rng) - 0.5);
            tri.insert(tri.end(), {float(p.x()), float(p.y()), float(p.z())});
        }
    }
    for (int i = 0; i < 10; ++i)
        for (int j = 0; j < 10; ++j) {
            const auto box =
                boxTriangles(Vec3(i * 12.0, j * 12.0, 0), Vec3(i * 12.0 + 8, j * 12.0 + 9, 3 + (i * j) % 17));
            tri.insert(tri.end(), box.begin(), box.end());
        }
    const OcclusionBvh bvh(tri);
    ASSERT_EQ(bvh.triangleCount(), tri.size() / 9);

    size_t disagreements = 0, hits = 0, distanceErrors = 0;
    for (int k = 0; k < 10000; ++k) {
        ShadowRay r;
        r.origin = {120 * u(rng) - 10, 120 * u(rng) - 10, 40 * u(rng) - 5};
        Vec3 d(u(rng) - 0.5, u(rng) - 0.5, u(rng) - 0.5);
        d.normalize();
        r.dir = {float(d.x()), float(d.y()), float(d.z())};
        r.tMax = k % 3 == 0 ? INFINITY : 1 + 150 * u(rng);
        const BruteHit ref = bruteForce(tri, r);
        if (bvh.occluded(r) != ref.hit) ++disagreements;
        if (ref.hit) {
            ++hits;
            if (std::abs(bvh.closestHit(r) - ref.t) > 1e-3 * std::max(1.0, ref.t)) ++distanceErrors;
        }
    }
    reportFigure("pv", "bvh_brute_force_hits", double(hits));
    EXPECT_EQ(disagreements, 0u);
    EXPECT_EQ(distanceErrors, 0u);
    EXPECT_GT(hits, 2000u); // both outcomes well represented
    EXPECT_LT(hits, 8000u);
}

TEST(PvBvh, SameTreeForAnyThreadCount) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0, 500);
    std::vector<float> tri(9 * 50000);
    for (float& v : tri)
        v = u(rng);
    OcclusionBvh one, many(tri);
    tbb::task_arena(1).execute([&] { one = OcclusionBvh(tri); });
    ASSERT_EQ(one.nodeCount(), many.nodeCount());
    ASSERT_EQ(one.bytes(), many.bytes());
    // Same answers and the same closest distances on a set of rays.
    for (int k = 0; k < 2000; ++k) {
        const ShadowRay r =
            makeRay(Vec3(u(rng), u(rng), u(rng)), Vec3(u(rng) - 250, u(rng) - 250, u(rng) - 250));
        EXPECT_EQ(one.closestHit(r), many.closestHit(r));
    }
}

TEST(PvBvh, AgreesWithBulletOnMusterstadt) {
    const CityModel& city = musterstadt();
    const CityMesh mesh = buildCityMesh(city);
    const PickWorld bullet(mesh);
    const std::vector<float> tri = meshTriangles(mesh);
    const OcclusionBvh bvh(tri);
    EXPECT_EQ(bvh.triangleCount(), bullet.triangleCount());

    // Shading rays as the PV model casts them (from roof samples up to the sun or the sky,
    // here as 10 km segments), then rays from 0.5–40 m above the ground anywhere in the town,
    // random directions and lengths up to 600 m.
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<ShadowRay> rays;
    PvOptions noShading;
    noShading.shading = false;
    const PvModel roofs(city, noShading);
    const auto& samples = roofs.samples();
    while (rays.size() < 20000) {
        const auto& q = samples[size_t(u(rng) * double(samples.size())) % samples.size()];
        const double z = std::sqrt(u(rng)), phi = 2 * std::numbers::pi * u(rng), r = std::sqrt(1 - z * z);
        rays.push_back(makeRay(Vec3(q[0], q[1], q[2]), Vec3(r * std::cos(phi), r * std::sin(phi), z), 1e4f));
    }
    const Vec3 lo(mesh.boundsMin[0], mesh.boundsMin[1], 0), hi(mesh.boundsMax[0], mesh.boundsMax[1], 0);
    while (rays.size() < 40000) {
        const Vec2 p(lo.x() + (hi.x() - lo.x()) * u(rng), lo.y() + (hi.y() - lo.y()) * u(rng));
        const float ground = city.terrain.heightAt(p);
        if (!std::isfinite(ground)) continue;
        Vec3 d(u(rng) - 0.5, u(rng) - 0.5, u(rng) - 0.5);
        if (!(d.norm() > 1e-3)) continue;
        d.normalize();
        rays.push_back(makeRay(Vec3(p.x(), p.y(), ground + 0.5 + 39.5 * u(rng)), d, float(1 + 599 * u(rng))));
    }
    std::vector<char> ours(rays.size()), theirs(rays.size());
    auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < rays.size(); ++k)
        ours[k] = bvh.occluded(rays[k]);
    const double oursSeconds = secondsSince(t0);
    t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < rays.size(); ++k) {
        const ShadowRay& r = rays[k];
        theirs[k] = bullet
                        .castRay(Vec3(r.origin[0], r.origin[1], r.origin[2]),
                                 Vec3(r.dir[0], r.dir[1], r.dir[2]), r.tMax)
                        .has_value();
    }
    const double bulletSeconds = secondsSince(t0);

    // Where they disagree, the segment must graze: pass within 1 cm of a triangle edge or end
    // within 1 cm of a triangle. 1 cm covers Bullet's float arithmetic over a 3 km town
    // (float spacing 0.24 mm at 2–4 km, the ray parameter relative to a 600 m segment), its
    // edge tolerance (1e-4 of a triangle's height) and our conservative box growth.
    size_t disagree = 0, notGrazing = 0, hits = 0;
    for (size_t k = 0; k < rays.size(); ++k) {
        hits += theirs[k] ? 1 : 0;
        if (ours[k] == theirs[k]) continue;
        ++disagree;
        const bool graze = grazing(bvh, rays[k], 0.01);
        notGrazing += graze ? 0 : 1;
        const ShadowRay& r = rays[k];
        std::ostringstream what;
        what << "ray " << k << " (" << r.origin[0] << ", " << r.origin[1] << ", " << r.origin[2] << ") dir ("
             << r.dir[0] << ", " << r.dir[1] << ", " << r.dir[2] << ") length " << r.tMax << ": ours "
             << int(ours[k]) << " (at " << bvh.closestHit(r) << "), Bullet " << int(theirs[k]) << ", grazing "
             << graze;
        if (!graze)
            ADD_FAILURE() << what.str();
        else if (disagree <= 20)
            std::cout << "[pv] " << what.str() << std::endl;
    }
    reportFigure("pv", "bullet_rays", double(rays.size()));
    reportFigure("pv", "bullet_hits", double(hits));
    reportFigure("pv", "bullet_disagreements", double(disagree));
    reportFigure("pv", "bullet_disagreements_not_grazing", double(notGrazing));
    reportFigure("pv", "ours_rays_per_s_1thread", double(rays.size()) / oursSeconds);
    reportFigure("pv", "bullet_rays_per_s_1thread", double(rays.size()) / bulletSeconds);
    EXPECT_EQ(notGrazing, 0u);
    EXPECT_GT(hits, rays.size() / 5);
}

// --- PVWatts v5 --------------------------------------------------------------------------------

TEST(PvWatts, EquationsMatchHandComputedValues) {
    // Values worked out by hand from the published equations (Dobos 2014, PVWatts v5 manual;
    // King et al. 2004 for SAPM; De Soto et al. 2006 for the cover).
    // SAPM, open rack glass/polymer, E = 1000, T_a = 25 °C, WS = 1 m/s:
    //   T_m = 1000·exp(−3.56 − 0.075) + 25 = 51.384, T_c = T_m + 3 = 54.384.
    EXPECT_NEAR(sapmCellTemperature(1000, 25, 1, sapmOpenRackGlassPolymer), 54.3839, 1e-3);
    // Close mount glass/glass, E = 600, T_a = 10 °C, WS = 4: 600·exp(−2.98 − 0.1884) + 10 + 0.6.
    EXPECT_NEAR(sapmCellTemperature(600, 10, 4, sapmCloseMountGlassGlass), 35.8425, 1e-3);
    // Cover: τ(θ)/τ(0), n = 1.526, K = 4 /m, L = 2 mm.
    EXPECT_NEAR(coverTransmittance(0), 1.0, 1e-12);
    EXPECT_NEAR(coverTransmittance(30), 0.99789, 1e-4);
    EXPECT_NEAR(coverTransmittance(60), 0.94600, 1e-4);
    EXPECT_NEAR(coverTransmittance(75), 0.77406, 1e-4);
    EXPECT_NEAR(coverTransmittance(85), 0.40088, 1e-4);
    EXPECT_EQ(coverTransmittance(90), 0.0);
    // DC: 800 W/m² at 45 °C, 1 kWp, γ = −0.0037: 0.8·1000·(1 − 0.0037·20) = 740.8 W.
    EXPECT_NEAR(pvwattsDc(800, 45, 1000, -0.0037), 740.8, 1e-9);
    EXPECT_NEAR(pvwattsDc(1000, 25, 1000, -0.0037), 1000.0, 1e-9);
    EXPECT_NEAR(pvwattsDc(200, 5, 5000, -0.0037), 200.0 / 1000 * 5000 * 1.074, 1e-9);
    // Inverter, P_ac0 = 1000 W, η_nom = 0.96: P_dc0 = 1041.67 W.
    //   P_dc = 500: ζ = 0.48, η = 0.96/0.9637·(−0.007776 − 0.012292 + 0.9858) = 0.962025 → 481.012 W.
    EXPECT_NEAR(pvwattsInverter(500, 1000), 481.0123, 1e-3);
    //   P_dc = 1000: ζ = 0.96, η = 0.960401 → 960.401 W.
    EXPECT_NEAR(pvwattsInverter(1000, 1000), 960.4006, 1e-3);
    //   P_dc = 1200: η·P_dc = 1149.99 > P_ac0: clipped to 1000 W.
    EXPECT_NEAR(pvwattsInverter(1200, 1000), 1000.0, 1e-9);
    //   No input, or so little that η < 0: nothing (no night-time consumption modelled).
    EXPECT_EQ(pvwattsInverter(0, 1000), 0.0);
    EXPECT_EQ(pvwattsInverter(3, 1000), 0.0);
}

// --- Sun bins ----------------------------------------------------------------------------------

TEST(PvSun, BinsStayWithinTheirAngle) {
    const std::vector<SolarAngles> sun = hourlySun(clearSky());
    size_t daylit = 0;
    for (const auto& s : sun)
        daylit += s.zenithDeg < 90 ? 1 : 0;
    // 51° N: the sun is above the horizon about 4,470 h a year; counting the hours of sunrise
    // and sunset whole adds one per day.
    EXPECT_GT(daylit, 4700u);
    EXPECT_LT(daylit, 4900u);
    for (double binDeg : {1.0, 2.0, 4.0}) {
        const SunBins bins = binSun(sun, binDeg);
        EXPECT_LE(bins.maxErrorDeg, binDeg) << binDeg;
        EXPECT_LT(bins.dir.size(), daylit / 3) << binDeg;
        reportFigure("pv", "sun_bins_" + formatFigure(binDeg) + "deg", double(bins.dir.size()));
        reportFigure("pv", "sun_bin_max_error_deg_at_" + formatFigure(binDeg), bins.maxErrorDeg);
    }
    const SunBins exact = binSun(sun, 0);
    EXPECT_EQ(exact.dir.size(), daylit);
    EXPECT_LT(exact.maxErrorDeg, 1e-4); // float rounding of the directions
}

// --- Roofs -------------------------------------------------------------------------------------

TEST(PvRoofs, FlatAndLod2Planes) {
    CityModel city;
    addBox(city, 0, 0, 10, 10, 6); // flat: racks, 0.6 × 100 m² of modules
    // Gable roof over 10 × 8 m, ridge east–west at y = 4, eaves at 6 m, pitch 35°: a south
    // surface (kept) and a north one (left out by the north rule).
    addBox(city, 100, 0, 110, 8, 6);
    const double ridge = 6 + 4 * std::tan(35 * deg);
    addRoofs(city, {{{100, 0, 6}, {110, 0, 6}, {110, 4, ridge}, {100, 4, ridge}},
                    {{100, 4, ridge}, {110, 4, ridge}, {110, 8, 6}, {100, 8, 6}}});
    // Hip-like surfaces: east-facing 45° (kept), north-facing 15° (kept: shallower than 20°),
    // almost flat 5° (racks).
    addBox(city, 200, 0, 210, 10, 6);
    const double e45 = 10 * std::tan(45 * deg), n15 = 10 * std::tan(15 * deg), f5 = 10 * std::tan(5 * deg);
    addRoofs(city, {{{200, 0, 6 + e45}, {210, 0, 6}, {210, 10, 6}, {200, 10, 6 + e45}},
                    {{200, 0, 6 + n15}, {210, 0, 6 + n15}, {210, 10, 6}, {200, 10, 6}},
                    {{200, 0, 6}, {210, 0, 6}, {210, 10, 6 + f5}, {200, 10, 6 + f5}}});
    PvOptions o;
    o.shading = false;
    const PvModel pv(city, o);
    ASSERT_EQ(pv.buildingCount(), 3u);

    const auto flat = pv.planesOf(0);
    ASSERT_EQ(flat.size(), 1u);
    EXPECT_EQ(flat[0].mounting, Mounting::Rack);
    EXPECT_DOUBLE_EQ(flat[0].tiltDeg, 15);
    EXPECT_DOUBLE_EQ(flat[0].azimuthDeg, 180);
    EXPECT_NEAR(flat[0].kwp, 100 * 0.6 * 0.2, 1e-9);
    // 1.5 m grid over 10 m: 7 × 7 points, all 0.1 m above the roof.
    EXPECT_EQ(flat[0].sampleCount, 49u);
    for (uint32_t s = flat[0].sampleStart; s < flat[0].sampleStart + flat[0].sampleCount; ++s)
        EXPECT_FLOAT_EQ(pv.samples()[s][2], 6.1f);

    const auto gable = pv.planesOf(1);
    ASSERT_EQ(gable.size(), 1u);
    EXPECT_EQ(gable[0].mounting, Mounting::Flush);
    EXPECT_NEAR(gable[0].tiltDeg, 35, 1e-9);
    EXPECT_NEAR(gable[0].azimuthDeg, 180, 1e-9);
    const double southArea = 10 * 4 / std::cos(35 * deg);
    EXPECT_NEAR(gable[0].roofAreaM2, southArea, 1e-9);
    EXPECT_NEAR(gable[0].kwp, southArea * 0.7 * 0.2, 1e-9);
    // Samples lie 0.1 m above the slope: z − (6 + (y − 0)·tan 35°) = 0.1 / cos 35°.
    for (uint32_t s = gable[0].sampleStart; s < gable[0].sampleStart + gable[0].sampleCount; ++s) {
        const auto& p = pv.samples()[s];
        EXPECT_NEAR(p[2] - (6 + p[1] * std::tan(35 * deg)), 0.1 / std::cos(35 * deg), 1e-4);
        EXPECT_GT(p[1], 0);
        EXPECT_LT(p[1], 4);
    }

    const auto hip = pv.planesOf(2);
    ASSERT_EQ(hip.size(), 3u);
    EXPECT_NEAR(hip[0].tiltDeg, 45, 1e-9);
    EXPECT_NEAR(hip[0].azimuthDeg, 90, 1e-9);
    EXPECT_NEAR(hip[1].tiltDeg, 15, 1e-9);
    EXPECT_NEAR(hip[1].azimuthDeg, 0, 1e-9);
    EXPECT_EQ(hip[2].mounting, Mounting::Rack);
    EXPECT_DOUBLE_EQ(hip[2].tiltDeg, 15);
}

// --- Shading -----------------------------------------------------------------------------------

namespace {

// A 10 × 10 m house, 4 m high, and a 100 m long, 2 m deep neighbour 4 m south of it.
CityModel houseBehindWall(float wallHeight) {
    CityModel city;
    addBox(city, 0, 0, 10, 10, 4);
    if (wallHeight > 0) addBox(city, -45, -6, 55, -4, wallHeight);
    return city;
}

} // namespace

TEST(PvShading, NeighbourShadesAndLessWhenLower) {
    const WeatherYear& w = clearSky();
    const PvModel alone(houseBehindWall(0));
    const PvBuilding free = alone.run(w)[0];
    // Alone, nothing shades the roof: no loss, the sky fully open, and the building equals
    // a single plane of its size.
    EXPECT_NEAR(free.shadingLossPct, 0, 1e-9);
    EXPECT_DOUBLE_EQ(alone.planesOf(0)[0].skyViewFactor, 1.0);
    const PlaneResult plane = simulatePlane(15, 180, free.kwp, w, {}, Mounting::Rack);
    EXPECT_NEAR(free.annualKwh, plane.annualAcKwh, 1e-6 * plane.annualAcKwh);

    double lastLoss = 100;
    for (float h : {40.0f, 20.0f, 10.0f, 5.0f}) {
        const PvModel pv(houseBehindWall(h));
        const PvBuilding r = pv.run(w)[0];
        reportFigure("pv", "neighbour_" + formatFigure(h) + "m_loss_pct", r.shadingLossPct);
        reportFigure("pv", "neighbour_" + formatFigure(h) + "m_sky_view", pv.planesOf(0)[0].skyViewFactor);
        EXPECT_NEAR(r.unshadedKwh, free.annualKwh, 1e-9 * free.annualKwh);
        EXPECT_LT(r.shadingLossPct, lastLoss) << h;
        EXPECT_GT(r.shadingLossPct, 0) << h;
        if (h == 40.0f) {
            EXPECT_LT(r.annualKwh, 0.6 * free.annualKwh); // much less
        }
        lastLoss = r.shadingLossPct;
    }
}

TEST(PvShading, SkyViewOfARoofInACanyon) {
    // A 10 m wide, 1 km long flat roof at 5 m between two walls reaching 15 m, their inner
    // faces 15 m from the roof's centre line (east and west). With horizontal modules, a point
    // at x sees the sky of an infinite canyon: F = (cos α_w + cos α_e) / 2, α the elevation
    // of each wall top (the 2D view factor (sin φ_e + sin φ_w)/2 with φ from the zenith).
    CityModel city;
    addBox(city, -5, -500, 5, 500, 5);
    addBox(city, -17, -500, -15, 500, 15);
    addBox(city, 15, -500, 17, 500, 15);
    PvOptions o;
    o.rackTiltDeg = 0;
    o.skyDirections = 256;
    o.maxSamplesPerPlane = 2000;
    const PvModel pv(city, o);
    const RoofPlane& p = pv.planesOf(0)[0];
    double expected = 0;
    for (uint32_t s = p.sampleStart; s < p.sampleStart + p.sampleCount; ++s) {
        const auto& q = pv.samples()[s];
        const double h = 15 - q[2];
        expected += (std::cos(std::atan2(h, 15 + q[0])) + std::cos(std::atan2(h, 15 - q[0]))) / 2;
    }
    expected /= p.sampleCount;
    reportFigure("pv", "canyon_sky_view", p.skyViewFactor);
    reportFigure("pv", "canyon_sky_view_expected", expected);
    EXPECT_NEAR(p.skyViewFactor, expected, 0.01);
}

TEST(PvShading, SunBinsCloseToEveryHour) {
    // The binned sun against one ray set per daylit hour, for the house behind a 10 m and a
    // 20 m neighbour: the annual yield differs by well under 1 %.
    for (float h : {10.0f, 20.0f}) {
        PvOptions exact;
        exact.sunBinDeg = 0;
        PvRunStats binnedStats, exactStats;
        PvRun rb, re;
        rb.stats = &binnedStats;
        re.stats = &exactStats;
        const double binned = PvModel(houseBehindWall(h)).run(clearSky(), rb)[0].annualKwh;
        const double every = PvModel(houseBehindWall(h), exact).run(clearSky(), re)[0].annualKwh;
        const double err = 100 * (binned - every) / every;
        reportFigure("pv", "bin_error_pct_neighbour_" + formatFigure(h) + "m", err);
        reportFigure("pv", "bin_rays_ratio", double(binnedStats.beamRays) / double(exactStats.beamRays));
        EXPECT_LT(std::abs(err), 0.5) << h;
        EXPECT_LT(binnedStats.beamRays, exactStats.beamRays / 4);
    }
}

TEST(PvShading, SameResultsForAnyThreadCount) {
    CityModel city;
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
            addBox(city, i * 15.0, j * 15.0, i * 15.0 + 10, j * 15.0 + 12, float(4 + (i * 7 + j * 3) % 12));
    std::vector<int32_t> group(city.buildings.size());
    for (size_t i = 0; i < group.size(); ++i)
        group[i] = int32_t(i % 3);
    auto runAll = [&](std::vector<PvBuilding>& res, std::vector<std::vector<float>>& hourly,
                      std::vector<std::vector<double>>& groups) {
        const PvModel pv(city);
        PvRun r;
        r.hourlyAcW = &hourly;
        r.groupOf = &group;
        r.groupCount = 3;
        r.groupHourlyAcW = &groups;
        res = pv.run(clearSky(), r);
    };
    std::vector<PvBuilding> a, b;
    std::vector<std::vector<float>> ha, hb;
    std::vector<std::vector<double>> ga, gb;
    tbb::task_arena(1).execute([&] { runAll(a, ha, ga); });
    runAll(b, hb, gb);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].annualKwh, b[i].annualKwh) << i;
        EXPECT_EQ(a[i].shadingLossPct, b[i].shadingLossPct) << i;
    }
    EXPECT_EQ(ha, hb);
    EXPECT_EQ(ga, gb);
    // The group sums are the buildings' series added up (to the 1 mW step).
    for (size_t h = 4000; h < 4024; ++h) {
        double sum0 = 0;
        for (size_t i = 0; i < group.size(); i += 3)
            sum0 += ha[i][h];
        EXPECT_NEAR(ga[0][h], sum0, 1e-3 * double(group.size()));
    }
}

// --- Yields with the Aachen weather files --------------------------------------------------------

namespace {

std::filesystem::path aachen(const std::string& file) {
    return sharedData() / "real" / "weather-nrw-aachen" / file;
}

// Outside CI the shared data may be absent (skip); CI always has it beside the clone (fail).
#define REQUIRE_FILE(path)                                                                                   \
    if (!std::filesystem::exists(path)) {                                                                    \
        if (std::getenv("CI")) FAIL() << "real data missing in CI: " << (path);                              \
        GTEST_SKIP() << "real data not present: " << (path);                                                 \
    }

} // namespace

TEST(PvYield, AachenSouth35DegreesInTheExpectedRange) {
    // An unshaded plane at 35° facing south near Aachen: 850–1100 kWh/kWp a year (the band the
    // issue gives for rooftop PV in the Rhineland).
    for (const char* file : {"DEU_NW_Aachen.105010_TMYx.epw", "TRY2015_507931060546_Jahr.dat"}) {
        REQUIRE_FILE(aachen(file));
        const WeatherYear w = readWeather(aachen(file));
        ASSERT_EQ(w.hours(), 8760u) << file;
        const PlaneResult r = simulatePlane(35, 180, 1.0, w);
        reportFigure("pv", std::string("south35_kwh_per_kwp_") + file, r.specificYield);
        reportFigure("pv", std::string("south35_poa_kwh_m2_") + file, r.annualPoaKwhM2);
        EXPECT_GT(r.specificYield, 850) << file;
        EXPECT_LT(r.specificYield, 1100) << file;
        // AC over plane-of-array irradiation, the performance ratio: PVWatts' 14 % losses,
        // cover, temperature and inverter leave about 0.75–0.85.
        const double pr = r.specificYield / r.annualPoaKwhM2;
        reportFigure("pv", std::string("south35_performance_ratio_") + file, pr);
        EXPECT_GT(pr, 0.72) << file;
        EXPECT_LT(pr, 0.86) << file;
        // A flat plane and a north-facing one yield less than the south-facing one.
        EXPECT_LT(simulatePlane(0, 180, 1.0, w).specificYield, r.specificYield) << file;
        EXPECT_LT(simulatePlane(35, 0, 1.0, w).specificYield, 0.75 * r.specificYield) << file;
    }
}

TEST(PvYield, Lod2SouthRoofEqualsTheSinglePlane) {
    // The gable roof of a house standing alone: its south surface (35°) through the whole
    // model (roof geometry → tilt, azimuth, kWp; shading rays; PVWatts) against the single
    // plane of the same kWp.
    REQUIRE_FILE(aachen("DEU_NW_Aachen.105010_TMYx.epw"));
    const WeatherYear w = readWeather(aachen("DEU_NW_Aachen.105010_TMYx.epw"));
    CityModel city;
    addBox(city, 0, 0, 10, 8, 6);
    const double ridge = 6 + 4 * std::tan(35 * deg);
    addRoofs(city, {{{0, 0, 6}, {10, 0, 6}, {10, 4, ridge}, {0, 4, ridge}},
                    {{0, 4, ridge}, {10, 4, ridge}, {10, 8, 6}, {0, 8, 6}}});
    const PvModel pv(city);
    const PvBuilding b = pv.run(w)[0];
    ASSERT_EQ(b.planes, 1u);
    const PlaneResult plane = simulatePlane(35, 180, b.kwp, w);
    reportFigure("pv", "lod2_south_kwh_per_kwp", b.specificYield);
    EXPECT_NEAR(b.specificYield, plane.specificYield, 0.005 * plane.specificYield);
    EXPECT_LT(b.shadingLossPct, 0.5); // only hours around the sun crossing the roof's plane
}

TEST(PvPotential, MusterstadtWholeTownInUnder30Seconds) {
    REQUIRE_FILE(aachen("DEU_NW_Aachen.105010_TMYx.epw"));
    const CityModel& city = musterstadt();
    const WeatherYear w = readWeather(aachen("DEU_NW_Aachen.105010_TMYx.epw"));
    const auto t0 = std::chrono::steady_clock::now();
    const PvModel pv(city);
    PvRunStats stats;
    PvRun request;
    request.stats = &stats;
    const std::vector<PvBuilding> res = pv.run(w, request);
    const double seconds = secondsSince(t0);
    double kwp = 0, kwh = 0, unshaded = 0;
    size_t withPv = 0;
    for (const PvBuilding& b : res) {
        kwp += b.kwp;
        kwh += b.annualKwh;
        unshaded += b.unshadedKwh;
        withPv += b.kwp > 0 ? 1 : 0;
        EXPECT_GE(b.shadingLossPct, 0);
        EXPECT_LE(b.shadingLossPct, 100);
    }
    reportFigure("pv", "musterstadt_seconds", seconds);
    reportFigure("pv", "musterstadt_buildings_with_pv", double(withPv));
    reportFigure("pv", "musterstadt_mwp", kwp / 1000);
    reportFigure("pv", "musterstadt_gwh", kwh / 1e6);
    reportFigure("pv", "musterstadt_kwh_per_kwp", kwh / kwp);
    reportFigure("pv", "musterstadt_shading_loss_pct", 100 * (1 - kwh / unshaded));
    reportFigure("pv", "musterstadt_beam_rays", double(stats.beamRays));
    reportFigure("pv", "musterstadt_sky_rays", double(pv.skyRays()));
    EXPECT_LT(seconds, 30);
    EXPECT_GT(withPv, city.buildings.size() * 9 / 10);
    // Racks at 15° on flat roofs in a small town: a little below the 35° plane, a few per
    // cent lost to neighbours and terrain.
    EXPECT_GT(kwh / kwp, 800);
    EXPECT_LT(kwh / kwp, 1050);
    EXPECT_GT(100 * (1 - kwh / unshaded), 0.5);
    EXPECT_LT(100 * (1 - kwh / unshaded), 15);
}
