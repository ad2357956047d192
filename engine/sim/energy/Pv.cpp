#include "sim/energy/Pv.h"

#include "core/Error.h"
#include "sim/energy/Irradiance.h"

#include <Eigen/Geometry>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <numbers>

namespace ct::energy {

namespace {

constexpr double deg = std::numbers::pi / 180;
constexpr double inverterEtaRef = 0.9637; // PVWatts v5
// PVWatts v5 applies the cover loss only for 0.5° < AOI < 89.5°.
constexpr double aoiMinDeg = 0.5, aoiMaxDeg = 89.5;

double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void checkWeather(const WeatherYear& w) {
    const size_t n = w.hours();
    if (n == 0 || w.ghi.size() != n || w.dni.size() != n || w.dhi.size() != n || w.windMs.size() != n)
        throw InputError("weather year with " + std::to_string(n) + " hours but " +
                             std::to_string(w.ghi.size()) + " GHI, " + std::to_string(w.dni.size()) +
                             " DNI, " + std::to_string(w.dhi.size()) + " DHI and " +
                             std::to_string(w.windMs.size()) + " wind values",
                         w.source, "every hourly series needs one value per hour");
}

// Unshaded plane-of-array components for one hour and the angle of incidence.
struct HourIrradiance {
    float beam = 0, sky = 0, ground = 0, aoiDeg = 90;
};

HourIrradiance irradianceAt(double tiltDeg, double azimuthDeg, const SolarAngles& sun, const WeatherYear& w,
                            size_t h, double dniExtra, double albedo) {
    const PlaneIrradiance p = planeOfArray(tiltDeg, azimuthDeg, sun.zenithDeg, sun.azimuthDeg, w.dni[h],
                                           w.ghi[h], w.dhi[h], dniExtra, albedo, SkyModel::Perez);
    auto clean = [](double v) { return std::isfinite(v) && v > 0 ? static_cast<float>(v) : 0.0f; };
    HourIrradiance r;
    r.beam = clean(p.beam);
    r.sky = clean(p.skyDiffuse);
    r.ground = clean(p.groundReflected);
    const double c = cosIncidence(tiltDeg, azimuthDeg, sun.zenithDeg, sun.azimuthDeg);
    r.aoiDeg = static_cast<float>(std::acos(std::clamp(c, -1.0, 1.0)) / deg);
    return r;
}

// DC power of one plane in one hour after system losses, W.
double planeDc(const HourIrradiance& irr, double beamShaded, double skyView, double kwp, double airC,
               double windMs, const SapmTemperature& temperature, const PvOptions& o) {
    const double beam = irr.beam * (1 - beamShaded);
    const double poa = beam + irr.sky * skyView + irr.ground;
    if (!(poa > 0)) return 0;
    double transmitted = poa;
    if (irr.aoiDeg > aoiMinDeg && irr.aoiDeg < aoiMaxDeg)
        transmitted = std::clamp(poa - (1 - coverTransmittance(irr.aoiDeg)) * beam, 0.0, poa);
    const double cell = sapmCellTemperature(poa, airC, windMs, temperature);
    return pvwattsDc(transmitted, cell, kwp * 1000, o.gammaPerK) * (1 - o.systemLossPct / 100);
}

// --- Roof planes and samples ------------------------------------------------------------------

struct PlaneDraft {
    RoofPlane plane;
    std::vector<std::array<float, 3>> samples;
};

// Points of a grid (centred on the rings' box) inside the outer ring and outside the holes;
// at least one point when the polygon triangulates.
std::vector<Vec2> gridInside(const std::vector<std::vector<Vec2>>& rings, double area, double spacing,
                             int maxPoints) {
    std::vector<Vec2> out;
    if (rings.empty() || rings[0].size() < 3) return out;
    Box2 box;
    for (const Vec2& p : rings[0])
        box.extend(p);
    double s = spacing;
    if (maxPoints > 0 && area / (s * s) > maxPoints) s = std::sqrt(area / maxPoints);
    const Vec2 size = box.size();
    const int nx = static_cast<int>(std::floor(size.x() / s)) + 1,
              ny = static_cast<int>(std::floor(size.y() / s)) + 1;
    const double x0 = box.min.x() + (size.x() - (nx - 1) * s) / 2,
                 y0 = box.min.y() + (size.y() - (ny - 1) * s) / 2;
    for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i) {
            const Vec2 p(x0 + i * s, y0 + j * s);
            if (!pointInRing(p, rings[0])) continue;
            bool inHole = false;
            for (size_t k = 1; k < rings.size() && !inHole; ++k)
                inHole = pointInRing(p, rings[k]);
            if (!inHole) out.push_back(p);
        }
    if (out.empty()) {
        // Too small or too thin for the grid: the centroid of its largest triangle.
        std::vector<std::span<const Vec2>> spans;
        std::vector<Vec2> all;
        for (const auto& r : rings) {
            spans.emplace_back(r);
            all.insert(all.end(), r.begin(), r.end());
        }
        const std::vector<uint32_t> tri = triangulatePolygon(spans);
        double best = 0;
        for (size_t t = 0; t + 2 < tri.size(); t += 3) {
            const Vec2 &a = all[tri[t]], &b = all[tri[t + 1]], &c = all[tri[t + 2]];
            const double ar = std::abs((b - a).x() * (c - a).y() - (b - a).y() * (c - a).x());
            if (ar > best) {
                best = ar;
                out.assign(1, (a + b + c) / 3);
            }
        }
    }
    return out;
}

bool facesNorth(double azimuthDeg, double halfAngleDeg) {
    return std::cos(azimuthDeg * deg) > std::cos(halfAngleDeg * deg);
}

void addRackPlane(std::vector<PlaneDraft>& out, uint32_t building, double roofArea,
                  std::vector<std::array<float, 3>> samples, const PvOptions& o) {
    PlaneDraft d;
    d.plane.building = building;
    d.plane.mounting = Mounting::Rack;
    d.plane.tiltDeg = o.rackTiltDeg;
    d.plane.azimuthDeg = o.rackAzimuthDeg;
    d.plane.roofAreaM2 = roofArea;
    d.plane.moduleAreaM2 = o.flatUsableShare * roofArea;
    if (d.plane.moduleAreaM2 < o.minModuleAreaM2 || samples.empty()) return;
    d.samples = std::move(samples);
    out.push_back(std::move(d));
}

std::vector<PlaneDraft> buildingPlanes(const CityModel& city, uint32_t i, const PvOptions& o) {
    const Buildings& b = city.buildings;
    std::vector<PlaneDraft> out;
    const bool lod2 = b.roofStart.size() > i + 1 && b.roofStart[i + 1] > b.roofStart[i];
    if (!lod2) {
        const BuildingLevels lv = buildingLevels(city, i);
        const auto z = static_cast<float>(lv.roofM + o.sampleLiftM);
        for (uint32_t part = b.partStart[i]; part < b.partStart[i + 1]; ++part) {
            std::vector<std::vector<Vec2>> rings;
            for (size_t k = 0; k < b.footprints.ringCount(part); ++k) {
                const auto r = b.footprints.ring(part, k);
                rings.emplace_back(r.begin(), r.end());
            }
            const double area = b.footprints.area(part);
            std::vector<std::array<float, 3>> samples;
            for (const Vec2& p : gridInside(rings, area, o.sampleSpacingM, o.maxSamplesPerPlane))
                samples.push_back({static_cast<float>(p.x()), static_cast<float>(p.y()), z});
            addRackPlane(out, i, area, std::move(samples), o);
        }
        return out;
    }
    for (uint32_t r = b.roofStart[i]; r < b.roofStart[i + 1]; ++r) {
        const std::span<const Vec3> ring(b.roofPoints.data() + b.roofRingStart[r],
                                         b.roofRingStart[r + 1] - b.roofRingStart[r]);
        const size_t n = ring.size();
        if (n < 3) continue;
        bool finite = true;
        for (const Vec3& p : ring)
            finite = finite && p.allFinite();
        if (!finite) continue;
        // Newell normal: its length is twice the surface's area.
        Vec3 normal = Vec3::Zero();
        const Vec3 ref = ring[0];
        for (size_t k = 0; k < n; ++k) {
            const Vec3 a = ring[k] - ref, c = ring[(k + 1) % n] - ref;
            normal += Vec3((a.y() - c.y()) * (a.z() + c.z()), (a.z() - c.z()) * (a.x() + c.x()),
                           (a.x() - c.x()) * (a.y() + c.y()));
        }
        const double area = normal.norm() / 2;
        if (!(area > 0)) continue;
        normal.normalize();
        if (normal.z() < 0) normal = -normal;
        const double tilt = std::acos(std::clamp(normal.z(), -1.0, 1.0)) / deg;
        double azimuth = std::atan2(normal.x(), normal.y()) / deg;
        if (azimuth < 0) azimuth += 360;
        if (tilt > o.maxTiltDeg) continue;
        const bool flat = tilt < o.flatMaxTiltDeg;
        if (!flat && tilt > o.northMinTiltDeg && facesNorth(azimuth, o.northHalfAngleDeg)) continue;

        // A frame in the surface: u level along it, v = n × u up or down the slope.
        Vec3 u =
            std::abs(normal.z()) > 0.999999 ? Vec3(1, 0, 0) : Vec3(-normal.y(), normal.x(), 0).normalized();
        const Vec3 v = normal.cross(u);
        std::vector<std::vector<Vec2>> rings(1);
        for (const Vec3& p : ring)
            rings[0].emplace_back((p - ref).dot(u), (p - ref).dot(v));
        std::vector<std::array<float, 3>> samples;
        for (const Vec2& q : gridInside(rings, area, o.sampleSpacingM, o.maxSamplesPerPlane)) {
            const Vec3 p = ref + u * q.x() + v * q.y() + normal * o.sampleLiftM;
            samples.push_back(
                {static_cast<float>(p.x()), static_cast<float>(p.y()), static_cast<float>(p.z())});
        }
        if (flat) {
            addRackPlane(out, i, area, std::move(samples), o);
            continue;
        }
        PlaneDraft d;
        d.plane.building = i;
        d.plane.mounting = Mounting::Flush;
        d.plane.tiltDeg = tilt;
        d.plane.azimuthDeg = azimuth;
        d.plane.roofAreaM2 = area;
        d.plane.moduleAreaM2 = o.pitchedUsableShare * area;
        if (d.plane.moduleAreaM2 < o.minModuleAreaM2 || samples.empty()) continue;
        d.samples = std::move(samples);
        out.push_back(std::move(d));
    }
    return out;
}

// Cosine-weighted directions over the hemisphere about +z: a Fibonacci spiral on the unit disk
// lifted onto the hemisphere (Malley's method), so every direction carries the same weight.
std::vector<std::array<double, 3>> hemisphereDirections(int count) {
    std::vector<std::array<double, 3>> d;
    const double golden = std::numbers::pi * (3 - std::sqrt(5.0));
    for (int k = 0; k < count; ++k) {
        const double r = std::sqrt((k + 0.5) / count), phi = k * golden;
        d.push_back({r * std::cos(phi), r * std::sin(phi), std::sqrt(std::max(0.0, 1 - r * r))});
    }
    return d;
}

} // namespace

// --- PVWatts building blocks -----------------------------------------------------------------

double sapmCellTemperature(double poa, double airC, double windMs, const SapmTemperature& p) {
    const double module = poa * std::exp(p.a + p.b * std::max(0.0, windMs)) + airC;
    return module + poa / 1000 * p.deltaT;
}

double coverTransmittance(double aoiDeg, double n, double k, double l) {
    if (!(aoiDeg < 90)) return 0;
    auto tau = [&](double theta) {
        if (theta < 1e-6) {
            const double r = (1 - n) / (1 + n);
            return std::exp(-k * l) * (1 - r * r);
        }
        const double thetaR = std::asin(std::sin(theta) / n);
        const double sMinus = std::sin(thetaR - theta), sPlus = std::sin(thetaR + theta);
        const double tMinus = std::tan(thetaR - theta), tPlus = std::tan(thetaR + theta);
        const double reflect = 0.5 * (sMinus * sMinus / (sPlus * sPlus) + tMinus * tMinus / (tPlus * tPlus));
        return std::exp(-k * l / std::cos(thetaR)) * (1 - reflect);
    };
    return std::max(0.0, tau(std::max(0.0, aoiDeg) * deg) / tau(0));
}

double pvwattsDc(double transmitted, double cellC, double pdc0W, double gamma) {
    return transmitted / 1000 * pdc0W * (1 + gamma * (cellC - 25));
}

double pvwattsInverter(double pdcW, double pac0W, double etaNominal) {
    if (!(pdcW > 0) || !(pac0W > 0)) return 0;
    const double zeta = pdcW / (pac0W / etaNominal);
    const double eta = etaNominal / inverterEtaRef * (-0.0162 * zeta - 0.0059 / zeta + 0.9858);
    return std::clamp(eta * pdcW, 0.0, pac0W);
}

// --- Sun ---------------------------------------------------------------------------------------

std::array<double, 3> sunDirection(const SolarAngles& s) {
    const double z = s.zenithDeg * deg, a = s.azimuthDeg * deg;
    return {std::sin(z) * std::sin(a), std::sin(z) * std::cos(a), std::cos(z)};
}

std::array<double, 3> planeNormal(double tiltDeg, double azimuthDeg) {
    const double t = tiltDeg * deg, a = azimuthDeg * deg;
    return {std::sin(t) * std::sin(a), std::sin(t) * std::cos(a), std::cos(t)};
}

namespace {
double angleDeg(const std::array<double, 3>& a, const std::array<double, 3>& b) {
    const double cx = a[1] * b[2] - a[2] * b[1], cy = a[2] * b[0] - a[0] * b[2],
                 cz = a[0] * b[1] - a[1] * b[0];
    return std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / deg;
}
std::array<double, 3> normalised(const std::array<double, 3>& v) {
    const double len = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    return {v[0] / len, v[1] / len, v[2] / len};
}
} // namespace

SunBins binSun(std::span<const SolarAngles> sun, double binDeg) {
    SunBins bins;
    bins.binOfHour.assign(sun.size(), -1);
    std::vector<std::array<double, 3>> mean;
    const size_t days = (sun.size() + 23) / 24;
    std::vector<std::array<double, 3>> members; // of the open bin
    std::array<double, 3> sum{};
    for (size_t hour = 0; hour < 24; ++hour) {
        int32_t current = -1;
        for (size_t d = 0; d < days; ++d) {
            const size_t h = d * 24 + hour;
            if (h >= sun.size()) break;
            if (!(sun[h].zenithDeg < 90)) {
                current = -1;
                continue;
            }
            const std::array<double, 3> s = sunDirection(sun[h]);
            // Join the open bin if every member, this one too, stays within binDeg of the
            // new mean direction.
            bool join = current >= 0 && binDeg > 0;
            if (join) {
                const std::array<double, 3> m = normalised({sum[0] + s[0], sum[1] + s[1], sum[2] + s[2]});
                join = angleDeg(s, m) <= binDeg;
                for (size_t k = 0; k < members.size() && join; ++k)
                    join = angleDeg(members[k], m) <= binDeg;
            }
            if (!join) {
                current = static_cast<int32_t>(mean.size());
                mean.push_back({});
                members.clear();
                sum = {0, 0, 0};
            }
            members.push_back(s);
            for (int k = 0; k < 3; ++k)
                sum[size_t(k)] += s[size_t(k)];
            mean[size_t(current)] = normalised(sum);
            bins.binOfHour[h] = current;
        }
    }
    bins.dir.resize(mean.size());
    for (size_t b = 0; b < mean.size(); ++b)
        for (int k = 0; k < 3; ++k)
            bins.dir[b][size_t(k)] = static_cast<float>(mean[b][size_t(k)]);
    for (size_t h = 0; h < sun.size(); ++h) {
        if (bins.binOfHour[h] < 0) continue;
        bins.maxErrorDeg =
            std::max(bins.maxErrorDeg, angleDeg(sunDirection(sun[h]), mean[size_t(bins.binOfHour[h])]));
    }
    return bins;
}

// --- One plane ---------------------------------------------------------------------------------

PlaneResult simulatePlane(double tiltDeg, double azimuthDeg, double kwp, const WeatherYear& w,
                          const PvOptions& o, Mounting mounting, std::span<const float> beamShaded,
                          double skyViewFactor, std::vector<float>* hourlyAcW) {
    checkWeather(w);
    const size_t n = w.hours();
    const std::vector<SolarAngles> sun = hourlySun(w);
    const SapmTemperature& temp = mounting == Mounting::Rack ? o.rackTemperature : o.flushTemperature;
    const double pac0 = kwp * 1000 / o.dcAcRatio;
    PlaneResult r;
    if (hourlyAcW) hourlyAcW->assign(n, 0.0f);
    for (size_t h = 0; h < n; ++h) {
        if (!(sun[h].zenithDeg < 90)) continue; // PVWatts: nothing while the sun is down
        const HourIrradiance irr = irradianceAt(tiltDeg, azimuthDeg, sun[h], w, h,
                                                extraterrestrialNormal(int(h / 24 % 365) + 1), o.albedo);
        const double shade = h < beamShaded.size() ? std::clamp(double(beamShaded[h]), 0.0, 1.0) : 0.0;
        const double dc = planeDc(irr, shade, skyViewFactor, kwp, w.temperatureC[h], w.windMs[h], temp, o);
        const double ac = pvwattsInverter(dc, pac0, o.inverterEfficiency);
        r.annualAcKwh += ac / 1000;
        r.annualPoaKwhM2 += (irr.beam * (1 - shade) + irr.sky * skyViewFactor + irr.ground) / 1000;
        if (hourlyAcW) (*hourlyAcW)[h] = static_cast<float>(ac);
    }
    r.specificYield = kwp > 0 ? r.annualAcKwh / kwp : 0;
    return r;
}

// --- The city ----------------------------------------------------------------------------------

PvModel::PvModel(const CityModel& city, const PvOptions& options) : opts(options) {
    auto t0 = std::chrono::steady_clock::now();
    if (opts.shading) bvh = buildCityOccluders(city, opts.occluders);
    bvhSeconds = seconds(t0);
    t0 = std::chrono::steady_clock::now();

    const auto count = static_cast<uint32_t>(city.buildings.size());
    std::vector<std::vector<PlaneDraft>> drafts(count);
    tbb::parallel_for(uint32_t(0), count, [&](uint32_t i) { drafts[i] = buildingPlanes(city, i, opts); });
    planeStart.assign(1, 0);
    for (uint32_t i = 0; i < count; ++i) {
        for (PlaneDraft& d : drafts[i]) {
            d.plane.sampleStart = static_cast<uint32_t>(samplePoints.size());
            d.plane.sampleCount = static_cast<uint32_t>(d.samples.size());
            d.plane.kwp = d.plane.moduleAreaM2 * opts.kwpPerM2;
            const auto nrm = planeNormal(d.plane.tiltDeg, d.plane.azimuthDeg);
            d.plane.normal = {float(nrm[0]), float(nrm[1]), float(nrm[2])};
            samplePoints.insert(samplePoints.end(), d.samples.begin(), d.samples.end());
            roofPlanes.push_back(d.plane);
        }
        planeStart.push_back(static_cast<uint32_t>(roofPlanes.size()));
    }

    // Sky view factor per plane: the share of cosine-weighted directions about the module
    // normal that point above the horizon and reach the sky. Each sample turns the direction
    // set by its own angle, so the samples of a plane fill in each other's gaps.
    if (opts.shading && !bvh.empty()) {
        const auto dirs = hemisphereDirections(std::max(1, opts.skyDirections));
        std::atomic<size_t> rays{0};
        tbb::parallel_for(size_t(0), roofPlanes.size(), [&](size_t p) {
            RoofPlane& plane = roofPlanes[p];
            const Vec3 nrm(plane.normal[0], plane.normal[1], plane.normal[2]);
            const Vec3 t1 =
                (std::abs(nrm.z()) > 0.999 ? Vec3(1, 0, 0) : Vec3(-nrm.y(), nrm.x(), 0)).normalized();
            const Vec3 t2 = nrm.cross(t1);
            size_t sky = 0, open = 0, cast = 0;
            for (uint32_t s = plane.sampleStart; s < plane.sampleStart + plane.sampleCount; ++s) {
                const double turn = std::fmod(s * 0.6180339887498949, 1.0) * 2 * std::numbers::pi;
                const double c = std::cos(turn), sn = std::sin(turn);
                ShadowRay ray;
                ray.origin = samplePoints[s];
                ray.tMin = 1e-3f;
                for (const auto& d : dirs) {
                    const double lx = c * d[0] - sn * d[1], ly = sn * d[0] + c * d[1];
                    const Vec3 w = t1 * lx + t2 * ly + nrm * d[2];
                    if (!(w.z() > 0)) continue; // below the horizon: ground, not sky
                    ++sky;
                    ray.dir = {float(w.x()), float(w.y()), float(w.z())};
                    ++cast;
                    if (!bvh.occluded(ray)) ++open;
                }
            }
            plane.skyViewFactor = sky ? double(open) / double(sky) : 1.0;
            rays += cast;
        });
        skyRayCount = rays;
    }
    planeSeconds = seconds(t0);
}

std::vector<PvBuilding> PvModel::run(const WeatherYear& weather, std::vector<std::vector<float>>* hourlyAcW,
                                     const std::vector<bool>* include) const {
    PvRun request;
    request.hourlyAcW = hourlyAcW;
    request.include = include;
    return run(weather, request);
}

std::vector<PvBuilding> PvModel::run(const WeatherYear& w, const PvRun& request) const {
    const auto t0 = std::chrono::steady_clock::now();
    checkWeather(w);
    const size_t hours = w.hours();
    const size_t buildings = buildingCount();
    if (request.include && request.include->size() != buildings)
        throw InputError("PV include mask has " + std::to_string(request.include->size()) + " entries for " +
                         std::to_string(buildings) + " buildings");
    if (request.groupOf && request.groupOf->size() != buildings)
        throw InputError("PV group map has " + std::to_string(request.groupOf->size()) + " entries for " +
                         std::to_string(buildings) + " buildings");

    const std::vector<SolarAngles> sun = hourlySun(w);
    const SunBins bins = binSun(sun, opts.sunBinDeg);
    const size_t binTotal = bins.dir.size();
    // Bins whose hours have no direct sun at all need no rays.
    std::vector<char> binLit(binTotal, 0);
    std::vector<size_t> daylit;
    for (size_t h = 0; h < hours; ++h) {
        if (bins.binOfHour[h] < 0) continue;
        daylit.push_back(h);
        if (w.dni[h] > 0) binLit[size_t(bins.binOfHour[h])] = 1;
    }
    std::vector<double> dniExtra(366);
    for (int d = 1; d <= 365; ++d)
        dniExtra[size_t(d)] = extraterrestrialNormal(d);
    auto extraOf = [&](size_t h) { return dniExtra[h / 24 % 365 + 1]; };

    // All racks on flat roofs share one orientation: their irradiance once per hour.
    std::vector<HourIrradiance> rack(hours);
    tbb::parallel_for(size_t(0), daylit.size(), [&](size_t k) {
        const size_t h = daylit[k];
        rack[h] = irradianceAt(opts.rackTiltDeg, opts.rackAzimuthDeg, sun[h], w, h, extraOf(h), opts.albedo);
    });

    std::vector<PvBuilding> out(buildings);
    if (request.hourlyAcW) request.hourlyAcW->assign(buildings, {});
    const int32_t groups = request.groupOf && request.groupHourlyAcW ? std::max(0, request.groupCount) : 0;
    std::unique_ptr<std::atomic<int64_t>[]> groupMw;
    if (groups > 0) {
        groupMw = std::make_unique<std::atomic<int64_t>[]>(size_t(groups) * hours);
        for (size_t k = 0; k < size_t(groups) * hours; ++k)
            groupMw[k] = 0;
    }
    std::atomic<size_t> beamRays{0};

    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, buildings, 1), [&](const tbb::blocked_range<size_t>& range) {
            std::vector<float> shade;
            for (size_t b = range.begin(); b < range.end(); ++b) {
                const auto planes = planesOf(b);
                PvBuilding& res = out[b];
                res.planes = static_cast<uint32_t>(planes.size());
                for (const RoofPlane& p : planes)
                    res.kwp += p.kwp;
                if (planes.empty() || (request.include && !(*request.include)[b])) continue;

                // Beam shading: the blocked share of each plane's samples per sun bin.
                shade.assign(planes.size() * binTotal, 0.0f);
                size_t cast = 0;
                if (opts.shading && !bvh.empty()) {
                    for (size_t p = 0; p < planes.size(); ++p) {
                        const RoofPlane& plane = planes[p];
                        for (size_t k = 0; k < binTotal; ++k) {
                            if (!binLit[k]) continue;
                            // Also when the bin's sun is behind the modules: some of its hours may
                            // not be (a flush plane's own roof then blocks the ray, rightly).
                            ShadowRay ray;
                            ray.dir = bins.dir[k];
                            ray.tMin = 1e-3f;
                            uint32_t blocked = 0;
                            for (uint32_t q = plane.sampleStart; q < plane.sampleStart + plane.sampleCount;
                                 ++q) {
                                ray.origin = samplePoints[q];
                                blocked += bvh.occluded(ray) ? 1 : 0;
                            }
                            cast += plane.sampleCount;
                            shade[p * binTotal + k] =
                                float(blocked) / float(std::max<uint32_t>(1, plane.sampleCount));
                        }
                    }
                }
                beamRays += cast;

                double kwp = 0;
                for (const RoofPlane& p : planes)
                    kwp += p.kwp;
                const double pac0 = kwp * 1000 / opts.dcAcRatio;
                std::vector<float>* series = nullptr;
                if (request.hourlyAcW) {
                    series = &(*request.hourlyAcW)[b];
                    series->assign(hours, 0.0f);
                }
                const int32_t group = groups > 0 ? (*request.groupOf)[b] : -1;
                double sumAc = 0, sumAcUnshaded = 0;
                for (size_t h : daylit) {
                    const int32_t bin = bins.binOfHour[h];
                    double dc = 0, dcUnshaded = 0;
                    for (size_t p = 0; p < planes.size(); ++p) {
                        const RoofPlane& plane = planes[p];
                        const HourIrradiance irr = plane.mounting == Mounting::Rack &&
                                                           plane.tiltDeg == opts.rackTiltDeg &&
                                                           plane.azimuthDeg == opts.rackAzimuthDeg
                                                       ? rack[h]
                                                       : irradianceAt(plane.tiltDeg, plane.azimuthDeg, sun[h],
                                                                      w, h, extraOf(h), opts.albedo);
                        const SapmTemperature& temp =
                            plane.mounting == Mounting::Rack ? opts.rackTemperature : opts.flushTemperature;
                        const double s = shade[p * binTotal + size_t(bin)];
                        dc += planeDc(irr, s, plane.skyViewFactor, plane.kwp, w.temperatureC[h], w.windMs[h],
                                      temp, opts);
                        dcUnshaded +=
                            planeDc(irr, 0, 1, plane.kwp, w.temperatureC[h], w.windMs[h], temp, opts);
                    }
                    const double ac = pvwattsInverter(dc, pac0, opts.inverterEfficiency);
                    sumAc += ac;
                    sumAcUnshaded += pvwattsInverter(dcUnshaded, pac0, opts.inverterEfficiency);
                    if (series) (*series)[h] = static_cast<float>(ac);
                    if (group >= 0 && group < groups)
                        groupMw[size_t(group) * hours + h].fetch_add(std::llround(ac * 1000),
                                                                     std::memory_order_relaxed);
                }
                res.annualKwh = sumAc / 1000;
                res.unshadedKwh = sumAcUnshaded / 1000;
                res.specificYield = kwp > 0 ? res.annualKwh / kwp : 0;
                res.shadingLossPct = sumAcUnshaded > 0 ? 100 * (1 - sumAc / sumAcUnshaded) : 0;
            }
        });

    if (groups > 0) {
        auto& g = *request.groupHourlyAcW;
        g.assign(size_t(groups), std::vector<double>(hours, 0.0));
        for (size_t k = 0; k < size_t(groups); ++k)
            for (size_t h = 0; h < hours; ++h)
                g[k][h] = double(groupMw[k * hours + h].load()) / 1000;
    }
    if (request.stats) {
        request.stats->beamRays = beamRays;
        request.stats->sunBins = binTotal;
        request.stats->daylitHours = daylit.size();
        request.stats->maxBinErrorDeg = bins.maxErrorDeg;
        request.stats->seconds = seconds(t0);
    }
    return out;
}

} // namespace ct::energy
