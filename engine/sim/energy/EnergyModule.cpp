#include "sim/energy/EnergyModule.h"

#include "core/Error.h"
#include "core/Geometry.h"
#include "core/Hash.h"
#include "gis/VectorRead.h"
#include "gis/Writers.h"
#include "sim/YamlReader.h"
#include "sim/energy/Envelope.h"
#include "sim/energy/HeatDemand.h"
#include "sim/energy/Irradiance.h"
#include "sim/energy/Loads.h"
#include "sim/energy/Pv.h"
#include "sim/energy/SolarPosition.h"
#include "sim/energy/Typology.h"
#include "sim/energy/Weather.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numeric>
#include <optional>
#include <oneapi/tbb/parallel_for.h>
#include <ogrsf_frmts.h>
#include <spdlog/spdlog.h>

namespace ct::energy {

namespace fs = std::filesystem;

namespace {

constexpr int kYearHours = 8760;

// Deterministic per-building draws: a building is in a share s of the stock when its number
// for that measure is below s, so a larger share always adds buildings to a smaller one.
double draw(uint64_t seed, size_t building, uint64_t measure) { return keyedUniform(seed, building, measure); }

// Which buildings a what-if touches: a share of the stock, or those inside a polygon.
struct Selection {
    double share = -1;             // < 0: by polygon
    std::vector<Vec2> polygon;     // local frame
    bool contains(size_t building, const Vec2& centroid, uint64_t seed, uint64_t measure) const {
        if (share >= 0) return draw(seed, building, measure) < share;
        return pointInRing(centroid, polygon);
    }
};

// Building standards a retrofit brings the envelope to (U in W/m²K). GEG 2020 reference
// building (Anlage 1) and a typical KfW Effizienzhaus 55 renovation.
struct RetrofitStandard {
    const char* name;
    double uWall, uRoof, uFloor, uWindow, airChange;
};
constexpr RetrofitStandard retrofitStandards[] = {
    {"geg", 0.28, 0.20, 0.35, 1.30, 0.5},
    {"kfw55", 0.20, 0.14, 0.25, 0.95, 0.4},
};

// Measures a building gets, for the what-ifs and the buildings table.
enum Measure : uint64_t { HeatPump = 1, Ev = 2, Pv = 3, Retrofit = 4 };

struct Config {
    std::string weather = "generated";
    fs::path weatherFile, typologyFile, districtsFile;
    std::string districtField = "name";
    double districtCellM = 500;
    double m2PerResident = 45;      // heated floor area per resident (German average ≈ 47 m²)
    double heatPumpShare = 0, evShare = 0, pvShare = 0;
    HeatPumpSource heatPumpSource = HeatPumpSource::Air;
    double evKwh = 2000, chargerKw = 11;
    double boilerEfficiency = 0.9;  // gas condensing boiler, annual
    double transformerKw = 0;       // per district; 0: not checked
    double co2Electricity = 380, co2Gas = 240, co2DistrictHeat = 180; // g/kWh (docs/energy.md)
};

struct EditSpec {
    std::string type;
    Selection where;
    std::string standard = "geg"; // retrofit
};

class EnergyModule : public SimulationModule {
public:
    void configure(const YAML::Node& block, const std::string& where, const CityModel& city) override;
    bool handlesEdit(const std::string& type) const override {
        return type == "retrofit" || type == "heat_pumps" || type == "ev" || type == "pv" || type == "district_heating";
    }
    void applyEdit(const Edit& edit) override;
    void start(const RunContext& context) override;
    void advance(double timeS) override;
    std::shared_ptr<const Snapshot> snapshot() const override;
    void writeOutputs(const fs::path& dir) override;
    Kpis kpis() const override;
    std::string status() const override { return fmt::format("hour {} of {}", hour, hours); }

private:
    Selection selection(const YAML::Node& e, const YamlReader& y) const;
    void assignDistricts();
    void simulateHours(int from, int to);

    const CityModel* city = nullptr;
    std::string where;
    Config cfg;
    std::vector<EditSpec> edits;

    // Set up by start().
    uint64_t seed = 0;
    Instant startAt;
    int hours = 0, hour = 0, startHour = 0, firstWeekday = 0;
    WeatherYear weather;
    std::array<std::vector<float>, 4> facadeSun; // W/m² on vertical N, E, S, W planes per weather hour
    std::vector<Envelope> envelopes;
    std::vector<std::string> archetypeId;
    std::vector<std::optional<Zone5R1C>> zones; // none: no heated floor area
    std::vector<std::array<double, 4>> aperture; // effective solar area of the windows, N E S W (m²)
    std::vector<float> internalW;
    std::vector<uint8_t> heatPump, districtHeat, retrofitted, floorHeating;
    std::vector<int> evs;
    std::vector<double> residents;
    std::vector<int> district;             // per building
    std::vector<std::string> districtNames;
    std::vector<PvBuilding> pvPotential;   // every roof
    std::vector<uint8_t> pvInstalled;
    size_t defaultedYear = 0, defaultedUse = 0;

    // Per building, over the hours simulated.
    std::vector<double> massC, heatKwh, coolKwh, peakHeatW, hpKwh;
    // Per district and hour of the run (kW).
    std::vector<std::vector<float>> baseKw, hpKw, evKw, pvKw;
};

Selection EnergyModule::selection(const YAML::Node& e, const YamlReader& y) const {
    Selection s;
    if (e["share"] && e["polygon"]) y.fail(e, "give either 'share' or 'polygon'");
    if (e["share"]) {
        s.share = y.number(e["share"], "share");
        if (s.share < 0 || s.share > 1) y.fail(e["share"], "'share' must be between 0 and 1", "e.g. share: 0.3 for 30 %");
    } else if (e["polygon"]) {
        for (const Vec2& p : y.points(e["polygon"], "polygon", 3)) s.polygon.push_back(city->frame.toLocal(p));
    } else {
        y.fail(e, "say which buildings: 'share' (0–1) or 'polygon' ([[x, y], ...] in the city's CRS)");
    }
    return s;
}

void EnergyModule::configure(const YAML::Node& block, const std::string& whereIn, const CityModel& cityIn) {
    city = &cityIn;
    where = whereIn;
    std::string file = where.substr(0, where.rfind(':'));
    YamlReader y(file, fs::path(file).parent_path(), where); // paths relative to the scenario
    YAML::Node b = block.IsNull() ? YAML::Node(YAML::NodeType::Map) : block;
    y.checkKeys(b, "energy", {"weather", "typology", "districts", "district_cell", "m2_per_resident", "heat_pumps", "ev", "pv",
                              "boiler_efficiency", "transformer_kw", "co2"});
    if (auto w = b["weather"]) {
        std::string v = y.str(w, "weather");
        if (v != "generated") {
            cfg.weather = "file";
            cfg.weatherFile = y.path(w, "weather");
        }
    }
    if (b["typology"]) cfg.typologyFile = y.path(b["typology"], "typology");
    if (auto d = b["districts"]) {
        y.checkKeys(d, "districts", {"path", "field"});
        cfg.districtsFile = y.path(d["path"], "districts.path");
        if (d["field"]) cfg.districtField = y.str(d["field"], "districts.field");
    }
    if (b["district_cell"]) cfg.districtCellM = y.number(b["district_cell"], "district_cell");
    if (cfg.districtCellM < 50) y.fail(b["district_cell"], "district_cell must be at least 50 m");
    if (b["m2_per_resident"]) cfg.m2PerResident = y.number(b["m2_per_resident"], "m2_per_resident");
    if (cfg.m2PerResident < 10) y.fail(b["m2_per_resident"], "m2_per_resident must be at least 10");
    auto share = [&](const YAML::Node& n, const char* key) {
        double v = y.number(n, key);
        if (v < 0 || v > 1) y.fail(n, fmt::format("'{}' must be between 0 and 1", key));
        return v;
    };
    if (auto h = b["heat_pumps"]) {
        y.checkKeys(h, "heat_pumps", {"share", "source"});
        if (h["share"]) cfg.heatPumpShare = share(h["share"], "heat_pumps.share");
        if (h["source"]) {
            std::string s = y.str(h["source"], "heat_pumps.source");
            if (s == "air") cfg.heatPumpSource = HeatPumpSource::Air;
            else if (s == "ground") cfg.heatPumpSource = HeatPumpSource::Ground;
            else y.fail(h["source"], "heat pump source must be air or ground");
        }
    }
    if (auto e = b["ev"]) {
        y.checkKeys(e, "ev", {"share", "annual_kwh", "charger_kw"});
        if (e["share"]) cfg.evShare = share(e["share"], "ev.share");
        if (e["annual_kwh"]) cfg.evKwh = y.number(e["annual_kwh"], "ev.annual_kwh");
        if (e["charger_kw"]) cfg.chargerKw = y.number(e["charger_kw"], "ev.charger_kw");
        if (cfg.evKwh < 0 || cfg.chargerKw <= 0) y.fail(e, "ev.annual_kwh must not be negative and ev.charger_kw must be positive");
    }
    if (auto p = b["pv"]) {
        y.checkKeys(p, "pv", {"share"});
        if (p["share"]) cfg.pvShare = share(p["share"], "pv.share");
    }
    if (b["boiler_efficiency"]) cfg.boilerEfficiency = y.number(b["boiler_efficiency"], "boiler_efficiency");
    if (cfg.boilerEfficiency <= 0.3 || cfg.boilerEfficiency > 1.1) y.fail(b["boiler_efficiency"], "boiler_efficiency must be in (0.3, 1.1]");
    if (b["transformer_kw"]) cfg.transformerKw = y.number(b["transformer_kw"], "transformer_kw");
    if (auto c = b["co2"]) {
        y.checkKeys(c, "co2", {"electricity_g_kwh", "gas_g_kwh", "district_heat_g_kwh"});
        if (c["electricity_g_kwh"]) cfg.co2Electricity = y.number(c["electricity_g_kwh"], "co2.electricity_g_kwh");
        if (c["gas_g_kwh"]) cfg.co2Gas = y.number(c["gas_g_kwh"], "co2.gas_g_kwh");
        if (c["district_heat_g_kwh"]) cfg.co2DistrictHeat = y.number(c["district_heat_g_kwh"], "co2.district_heat_g_kwh");
    }
}

void EnergyModule::applyEdit(const Edit& edit) {
    YamlReader y(edit.where.substr(0, edit.where.rfind(':')), {}, edit.where);
    const YAML::Node& e = edit.spec;
    EditSpec s;
    s.type = edit.type;
    if (s.type == "retrofit") {
        y.checkKeys(e, "retrofit", {"type", "name", "share", "polygon", "standard"});
        if (e["standard"]) {
            s.standard = y.str(e["standard"], "standard");
            bool known = false;
            for (auto& r : retrofitStandards) known = known || s.standard == r.name;
            if (!known) y.fail(e["standard"], fmt::format("unknown retrofit standard '{}'", s.standard), "use geg or kfw55");
        }
    } else {
        y.checkKeys(e, s.type, {"type", "name", "share", "polygon"});
    }
    s.where = selection(e, y);
    if (s.type == "district_heating" && s.where.share >= 0) y.fail(e, "district_heating needs the 'polygon' of the connected area");
    edits.push_back(std::move(s));
}

void EnergyModule::assignDistricts() {
    const Buildings& b = city->buildings;
    district.assign(b.size(), -1);
    districtNames.clear();
    if (!cfg.districtsFile.empty()) {
        gis::VectorFile vf(cfg.districtsFile);
        OGRLayer& layer = vf.layer(0);
        Crs crs = gis::layerCrs(layer, cfg.districtsFile.string(), &city->frame.crs);
        Reprojector toCity(crs, city->frame.crs);
        std::vector<std::vector<gis::Rings>> polygons;
        layer.ResetReading();
        for (auto& f : layer) {
            auto name = gis::FeatureAttributes(*f).get(cfg.districtField);
            std::vector<gis::Rings> polys;
            if (!name || gis::extractPolygons(f->GetGeometryRef(), polys) || polys.empty()) continue;
            for (auto& rings : polys) gis::toLocal(rings, toCity, city->frame.origin);
            districtNames.push_back(*name);
            polygons.push_back(std::move(polys));
        }
        if (polygons.empty())
            throw InputError(fmt::format("no district polygons with a '{}' field", cfg.districtField), cfg.districtsFile.string(),
                             "give a polygon layer and the field holding the district names");
        for (size_t i = 0; i < b.size(); ++i)
            for (size_t d = 0; d < polygons.size() && district[i] < 0; ++d)
                for (auto& rings : polygons[d])
                    if (pointInRing(b.centroid(i), rings[0])) district[i] = int(d);
        size_t outside = size_t(std::count(district.begin(), district.end(), -1));
        if (outside > 0) {
            districtNames.push_back("outside");
            for (int& d : district)
                if (d < 0) d = int(districtNames.size() - 1);
            spdlog::info("energy: {} buildings outside the district polygons, grouped as 'outside'", outside);
        }
        return;
    }
    // A square grid in the city's CRS: names say where the cell's south-west corner is.
    std::map<std::pair<long, long>, int> cells;
    for (size_t i = 0; i < b.size(); ++i) {
        Vec2 w = city->frame.toWorld(b.centroid(i));
        std::pair<long, long> key{long(std::floor(w.x() / cfg.districtCellM)), long(std::floor(w.y() / cfg.districtCellM))};
        auto [it, added] = cells.emplace(key, int(districtNames.size()));
        if (added)
            districtNames.push_back(fmt::format("E{:.0f}_N{:.0f}", key.first * cfg.districtCellM, key.second * cfg.districtCellM));
        district[i] = it->second;
    }
}

void EnergyModule::start(const RunContext& ctx) {
    const Buildings& b = city->buildings;
    seed = ctx.seed;
    startAt = ctx.scenario.start;
    hours = std::clamp(int(std::lround(ctx.scenario.durationS / 3600)), 1, kYearHours);
    hour = 0;
    // Weather and the sun on the four façade orientations, once per hour.
    Box2 bounds = city->bounds();
    Vec2 centre = city->frame.toWorld(bounds.empty() ? Vec2(0, 0) : bounds.center());
    Vec2 ll = Reprojector(city->frame.crs, Crs::fromEpsg(4326)).apply(centre);
    weather = cfg.weather == "generated" ? generatedWeather(ll.y(), ll.x(), 100, unsigned(seed)) : readWeather(cfg.weatherFile);
    // The weather hour of the scenario's start (local standard time, the weather's zone).
    {
        int64_t local = ctx.scenario.start.utcSeconds + int64_t(std::lround(weather.timezoneH * 3600));
        int64_t days = local / 86400;
        firstWeekday = int(((days % 7) + 7 + 3) % 7); // 1970-01-01 was a Thursday
        int64_t y = 1970;
        int64_t d = days;
        while (true) {
            int64_t len = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
            if (d < len) break;
            d -= len;
            ++y;
        }
        startHour = int(std::min<int64_t>(d, 364) * 24 + (local % 86400) / 3600);
    }

    facadeSun = facadeIrradiance(weather).wm2;

    // Buildings: envelope, archetype, measures.
    Typology typology = cfg.typologyFile.empty() ? Typology::loadDefault() : Typology::load(cfg.typologyFile);
    envelopes = buildingEnvelopes(b);
    size_t n = b.size();
    zones.assign(n, std::nullopt);
    aperture.assign(n, {0, 0, 0, 0});
    archetypeId.resize(n);
    internalW.resize(n);
    heatPump.assign(n, 0);
    districtHeat.assign(n, 0);
    retrofitted.assign(n, 0);
    floorHeating.assign(n, 0);
    evs.assign(n, 0);
    residents.assign(n, 0);
    defaultedYear = defaultedUse = 0;
    for (size_t i = 0; i < n; ++i) {
        MatchResult m = typology.match(b.use[i], b.yearBuilt[i], envelopes[i].storeys, envelopes[i].footprintM2,
                                       envelopes[i].sharedShare());
        Archetype a = *m.archetype; // a copy: a retrofit changes it for this building only
        defaultedYear += m.yearDefaulted;
        defaultedUse += m.useDefaulted;
        Vec2 c = b.centroid(i);
        for (const EditSpec& e : edits) {
            if (!e.where.contains(i, c, seed, Retrofit) || e.type != "retrofit") continue;
            for (auto& r : retrofitStandards)
                if (e.standard == r.name) {
                    a.uWall = std::min(a.uWall, r.uWall), a.uRoof = std::min(a.uRoof, r.uRoof);
                    a.uFloor = std::min(a.uFloor, r.uFloor), a.uWindow = std::min(a.uWindow, r.uWindow);
                    a.airChangeH = std::min(a.airChangeH, r.airChange);
                }
            retrofitted[i] = 1;
        }
        archetypeId[i] = a.id;
        if (envelopes[i].floorAreaM2 > 0) zones[i].emplace(zoneParams(envelopes[i], a));
        envelopes[i] = withWindows(envelopes[i], a.windowShare);
        aperture[i] = solarApertureM2(envelopes[i], a.gWindow);
        internalW[i] = float(a.internalGainsWm2 * envelopes[i].floorAreaM2);
        bool heated = envelopes[i].floorAreaM2 > 0 && b.use[i] != BuildingUse::Garage;
        bool residential = b.use[i] == BuildingUse::Residential || b.use[i] == BuildingUse::Mixed;
        // Newer or retrofitted houses have floor heating (a lower supply temperature).
        floorHeating[i] = retrofitted[i] || b.yearBuilt[i] >= 1995;
        heatPump[i] = heated && draw(seed, i, HeatPump) < cfg.heatPumpShare;
        for (const EditSpec& e : edits) {
            if (e.type == "heat_pumps" && heated && e.where.contains(i, c, seed, HeatPump)) heatPump[i] = 1;
            if (e.type == "district_heating" && heated && e.where.contains(i, c, seed, 0)) districtHeat[i] = 1;
        }
        if (districtHeat[i]) heatPump[i] = 0;
        if (residential) {
            double share = b.use[i] == BuildingUse::Mixed ? 0.5 : 1.0; // mixed: shops below
            residents[i] = envelopes[i].floorAreaM2 * share / cfg.m2PerResident;
            // A household per two residents (German average 2.0); each has a car with the share.
            int households = std::max(1, int(std::lround(residents[i] / 2)));
            // The larger of the baseline share and an edit's (an edit's polygon: every household).
            double evShare = cfg.evShare;
            for (const EditSpec& e : edits)
                if (e.type == "ev") evShare = std::max(evShare, e.where.share >= 0 ? e.where.share : pointInRing(c, e.where.polygon) ? 1.0 : 0.0);
            for (int k = 0; k < households; ++k) evs[i] += draw(seed, i * 64 + size_t(k), Ev) < evShare;
        }
    }
    if (defaultedYear)
        spdlog::info("energy: {} buildings without a construction year take the {} class", defaultedYear, Typology::kDefaultYear);
    if (defaultedUse) spdlog::info("energy: {} buildings of unknown use are taken as residential", defaultedUse);

    // Districts: the load curves are summed per district.
    assignDistricts();
    size_t nd = districtNames.size();

    // PV on every roof (the potential); installed where the share or an edit says so, on
    // roofs that take at least 1 kWp. One run gives both: every building's yield, and the
    // hourly output of the installed ones summed per district.
    PvModel pv(*city, PvOptions{});
    pvInstalled.assign(n, 0);
    std::vector<int32_t> pvGroup(n, -1);
    for (size_t i = 0; i < n; ++i) {
        double kwp = 0;
        for (const RoofPlane& r : pv.planesOf(i)) kwp += r.kwp;
        bool on = draw(seed, i, Pv) < cfg.pvShare;
        for (const EditSpec& e : edits)
            if (e.type == "pv" && e.where.contains(i, b.centroid(i), seed, Pv)) on = true;
        pvInstalled[i] = on && kwp >= 1;
        if (pvInstalled[i]) pvGroup[i] = int32_t(district[i]);
    }
    std::vector<std::vector<double>> pvDistrictW;
    PvRun request;
    request.groupOf = &pvGroup;
    request.groupCount = int32_t(nd);
    request.groupHourlyAcW = &pvDistrictW;
    pvPotential = pv.run(weather, request);

    // Hourly series that do not depend on the heat simulation.
    auto series = [&] { return std::vector<std::vector<float>>(nd, std::vector<float>(size_t(hours), 0.0f)); };
    baseKw = series(), hpKw = series(), evKw = series(), pvKw = series();
    std::vector<double> householdsKwh(nd, 0);
    std::vector<int> districtEvs(nd, 0);
    for (size_t i = 0; i < n; ++i) {
        householdsKwh[size_t(district[i])] += householdKwh(residents[i]);
        districtEvs[size_t(district[i])] += evs[i];
    }
    std::vector<float> shape = householdProfile(1.0, firstWeekday); // kWh per hour for 1 kWh a year
    for (size_t d = 0; d < nd; ++d) {
        std::vector<float> ev = evChargingProfile(districtEvs[d], cfg.evKwh, cfg.chargerKw, firstWeekday, seed ^ d);
        for (int k = 0; k < hours; ++k) {
            size_t w = size_t((startHour + k) % kYearHours);
            baseKw[d][size_t(k)] = float(householdsKwh[d] * shape[w]);
            evKw[d][size_t(k)] = ev[w];
            if (d < pvDistrictW.size() && w < pvDistrictW[d].size()) pvKw[d][size_t(k)] = float(pvDistrictW[d][w] / 1000);
        }
    }

    // Heat state: warmed up over the last two weeks of the year before the start.
    massC.assign(n, 20);
    heatKwh.assign(n, 0);
    coolKwh.assign(n, 0);
    peakHeatW.assign(n, 0);
    hpKwh.assign(n, 0);
    int warmStart = startHour - 14 * 24;
    simulateHours(warmStart, startHour); // fills the accumulators, reset below
    std::fill(heatKwh.begin(), heatKwh.end(), 0.0);
    std::fill(coolKwh.begin(), coolKwh.end(), 0.0);
    std::fill(peakHeatW.begin(), peakHeatW.end(), 0.0);
    std::fill(hpKwh.begin(), hpKwh.end(), 0.0);
    for (auto& d : hpKw) std::fill(d.begin(), d.end(), 0.0f);
}

// Weather hours [from, to) relative to the year (negative: the end of the previous year). Run
// hours inside [startHour, startHour + hours) are written into the district series.
void EnergyModule::simulateHours(int from, int to) {
    const size_t n = zones.size();
    const int span = to - from;
    if (span <= 0 || n == 0) return;
    std::vector<float> hpW(n * size_t(span), 0.0f); // per building and hour: heat pump electricity
    const size_t block = 256;                         // fixed blocks: results do not depend on threads
    tbb::parallel_for(size_t(0), (n + block - 1) / block, [&](size_t blk) {
        for (size_t i = blk * block; i < std::min(n, (blk + 1) * block); ++i) {
            if (!zones[i]) continue;
            for (int k = 0; k < span; ++k) {
                size_t w = size_t(((from + k) % kYearHours + kYearHours) % kYearHours);
                double te = weather.temperatureC[w];
                double solar = 0;
                for (int o = 0; o < 4; ++o) solar += aperture[i][size_t(o)] * facadeSun[size_t(o)][w];
                StepResult r = zones[i]->step(te, massC[i], internalW[i], solar);
                massC[i] = r.massC;
                heatKwh[i] += r.heatingW / 1000;
                coolKwh[i] += r.coolingW / 1000;
                peakHeatW[i] = std::max(peakHeatW[i], r.heatingW);
                if (heatPump[i] && r.heatingW > 0) {
                    double cop = heatPumpCop(cfg.heatPumpSource, heatingSupplyC(floorHeating[i], te), te);
                    hpW[i * size_t(span) + size_t(k)] = float(r.heatingW / cop);
                    hpKwh[i] += r.heatingW / cop / 1000;
                }
            }
        }
    });
    // Into the district series, in building order (deterministic sums).
    for (int k = 0; k < span; ++k) {
        int runHour = from + k - startHour;
        if (runHour < 0 || runHour >= hours) continue;
        for (size_t i = 0; i < n; ++i) hpKw[size_t(district[i])][size_t(runHour)] += hpW[i * size_t(span) + size_t(k)] / 1000;
    }
}

void EnergyModule::advance(double timeS) {
    int target = std::clamp(int(std::floor(timeS / 3600 + 1e-9)), hour, hours);
    simulateHours(startHour + hour, startHour + target);
    hour = target;
}

struct EnergySnapshot : Snapshot {};

std::shared_ptr<const Snapshot> EnergyModule::snapshot() const {
    auto s = std::make_shared<EnergySnapshot>();
    s->simTimeS = hour * 3600.0;
    return s;
}

void EnergyModule::writeOutputs(const fs::path& dir) {
    const Buildings& b = city->buildings;
    {
        using gis::FieldType;
        gis::GpkgWriter w(dir / "buildings.gpkg", "buildings", gis::GpkgWriter::Geometry::Polygon, city->frame.crs,
                          {{"id", FieldType::String}, {"name", FieldType::String}, {"use", FieldType::String},
                           {"district", FieldType::String}, {"archetype", FieldType::String}, {"floor_area_m2", FieldType::Real},
                           {"heat_kwh", FieldType::Real}, {"heat_kwh_m2", FieldType::Real}, {"cooling_kwh", FieldType::Real},
                           {"peak_heat_kw", FieldType::Real}, {"heat_supply", FieldType::String}, {"retrofitted", FieldType::Integer},
                           {"pv_kwp", FieldType::Real}, {"pv_kwh", FieldType::Real}, {"pv_kwh_kwp", FieldType::Real},
                           {"shading_loss_pct", FieldType::Real}, {"pv_installed", FieldType::Integer}, {"residents", FieldType::Real},
                           {"evs", FieldType::Integer}});
        for (size_t i = 0; i < b.size(); ++i) {
            double area = envelopes[i].floorAreaM2;
            const char* supply = districtHeat[i] ? "district_heating" : heatPump[i] ? "heat_pump" : "gas";
            std::vector<gis::FieldValue> v = {b.sourceId[i], b.name[i], std::string(toString(b.use[i])), districtNames[size_t(district[i])],
                                              archetypeId[i], area, heatKwh[i], area > 0 ? heatKwh[i] / area : 0.0, coolKwh[i],
                                              peakHeatW[i] / 1000, std::string(supply), int64_t(retrofitted[i]), pvPotential[i].kwp,
                                              pvPotential[i].annualKwh, pvPotential[i].specificYield, pvPotential[i].shadingLossPct,
                                              int64_t(pvInstalled[i]), residents[i], int64_t(evs[i])};
            for (uint32_t k = b.partStart[i]; k < b.partStart[i + 1]; ++k) {
                std::vector<std::vector<Vec2>> rings;
                for (size_t r = 0; r < b.footprints.ringCount(k); ++r) {
                    std::vector<Vec2> ring;
                    for (const Vec2& p : b.footprints.ring(k, r)) ring.push_back(city->frame.toWorld(p));
                    rings.push_back(std::move(ring));
                }
                w.addPolygon(rings, v);
            }
        }
        w.close();
    }
    gis::CsvWriter csv(dir / "load_profile.csv", {"hour", "time", "district", "base_kw", "heat_pump_kw", "ev_kw", "pv_kw", "net_kw"});
    for (int k = 0; k < hour; ++k) {
        Instant at = startAt;
        at.utcSeconds += int64_t(k) * 3600;
        std::string time = at.iso();
        for (size_t d = 0; d <= districtNames.size(); ++d) {
            bool total = d == districtNames.size();
            double base = 0, hp = 0, ev = 0, pvv = 0;
            for (size_t e = total ? 0 : d; e < (total ? districtNames.size() : d + 1); ++e)
                base += baseKw[e][size_t(k)], hp += hpKw[e][size_t(k)], ev += evKw[e][size_t(k)], pvv += pvKw[e][size_t(k)];
            csv << int64_t(k) << time << (total ? std::string("total") : districtNames[d]) << base << hp << ev << pvv
                << base + hp + ev - pvv;
            csv.endRow();
        }
    }
}

Kpis EnergyModule::kpis() const {
    double heat = 0, cool = 0, area = 0, hp = 0, gas = 0, dh = 0, pvYield = 0, pvKwp = 0, potential = 0;
    int hpCount = 0, evCount = 0;
    for (size_t i = 0; i < heatKwh.size(); ++i) {
        heat += heatKwh[i], cool += coolKwh[i], area += envelopes[i].floorAreaM2, hp += hpKwh[i];
        if (districtHeat[i]) dh += heatKwh[i];
        else if (!heatPump[i]) gas += heatKwh[i] / cfg.boilerEfficiency;
        hpCount += heatPump[i];
        evCount += evs[i];
        if (pvPotential[i].kwp >= 1) potential += pvPotential[i].annualKwh; // the suitability rule of start()
        if (pvInstalled[i]) pvYield += pvPotential[i].annualKwh, pvKwp += pvPotential[i].kwp;
    }
    double base = 0, ev = 0, peak = -1e300, peakHour = 0, selfUsed = 0, pvSum = 0, maxLoading = 0;
    for (int k = 0; k < hour; ++k) {
        double net = 0;
        for (size_t d = 0; d < districtNames.size(); ++d) {
            double load = baseKw[d][size_t(k)] + hpKw[d][size_t(k)] + evKw[d][size_t(k)];
            double pv = pvKw[d][size_t(k)];
            selfUsed += std::min(load, double(pv));
            pvSum += pv;
            net += load - pv;
            if (cfg.transformerKw > 0) maxLoading = std::max(maxLoading, std::abs(load - pv) / cfg.transformerKw * 100);
            base += baseKw[d][size_t(k)], ev += evKw[d][size_t(k)];
        }
        if (net > peak) peak = net, peakHour = k;
    }
    double electricity = base + hp + ev;
    double gridElectricity = std::max(0.0, electricity - selfUsed);
    double co2 = (gridElectricity * cfg.co2Electricity + gas * cfg.co2Gas + dh * cfg.co2DistrictHeat) / 1e6; // t
    Kpis k = {
        {"heat_demand", heat, "kWh"},
        {"heat_demand_per_m2", area > 0 ? heat / area : 0, "kWh/m2"},
        {"cooling_demand", cool, "kWh"},
        {"household_electricity", base, "kWh"},
        {"heat_pump_electricity", hp, "kWh"},
        {"ev_electricity", ev, "kWh"},
        {"pv_yield", pvYield, "kWh"},
        {"pv_kwp", pvKwp, "kWp"},
        {"pv_potential", potential, "kWh"},
        {"peak_net_load", hour > 0 ? peak : 0, "kW"},
        {"peak_net_load_hour", peakHour, "h"},
        {"self_consumption", pvSum > 0 ? selfUsed / pvSum * 100 : 0, "%"},
        {"gas_for_heating", gas, "kWh"},
        {"co2", co2, "t"},
        {"buildings_with_heat_pump", double(hpCount), ""},
        {"electric_vehicles", double(evCount), ""},
    };
    if (cfg.transformerKw > 0) k.push_back({"transformer_max_loading", maxLoading, "%"});
    return k;
}

} // namespace

void registerEnergyModule() {
    ModuleRegistry::instance().add("energy", [] { return std::make_unique<EnergyModule>(); });
}

} // namespace ct::energy
