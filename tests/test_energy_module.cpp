// The energy module and its loads: household and EV profiles against their analytic totals,
// heat pump COP against the published regression, and whole-year runs of a small made-up
// street (what-ifs move the numbers the right way, outputs readable by GDAL, the load table
// adds up, bad input named), on the generated weather year.
#include "TestSupport.h"
#include "core/Error.h"
#include "gis/Gdal.h"
#include "sim/Runner.h"
#include "sim/energy/EnergyModule.h"
#include "sim/energy/Loads.h"

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ogrsf_frmts.h>
#include <sstream>

using namespace ct;
using namespace ct::test;
using namespace ct::energy;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

TEST(Loads, HouseholdProfileKeepsTheYearAndFollowsTheSeasons) {
    std::vector<float> p = householdProfile(3500, 3); // 1 January a Thursday (2026)
    ASSERT_EQ(p.size(), 8760u);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 3500, 1e-3);
    auto day = [&](int d) { return std::accumulate(p.begin() + d * 24, p.begin() + d * 24 + 24, 0.0); };
    // Two weekdays, mid-January and mid-July: their ratio is the BDEW dynamisation factor's,
    // F(t) = −3.92e−10 t⁴ + 3.2e−7 t³ − 7.02e−5 t² + 2.1e−3 t + 1.24.
    auto F = [](double t) { return -3.92e-10 * std::pow(t, 4) + 3.2e-7 * std::pow(t, 3) - 7.02e-5 * t * t + 2.1e-3 * t + 1.24; };
    int jan = 13, jul = 195; // 14 January and 15 July 2026: both Wednesdays
    EXPECT_NEAR(day(jan) / day(jul), F(jan + 1) / F(jul + 1), 1e-6);
    EXPECT_GT(F(jan + 1) / F(jul + 1), 1.4); // winter clearly above summer
    // The evening peak (18–21 h) is above the small hours (2–5 h) on every day.
    for (int d = 0; d < 365; ++d) EXPECT_GT(p[size_t(d * 24 + 19)], 2 * p[size_t(d * 24 + 3)]) << d;
}

TEST(Loads, EvChargingDeliversEachCarsEnergyMostlyInTheEvening) {
    std::vector<float> p = evChargingProfile(50, 2000, 11, 3, 42);
    double total = std::accumulate(p.begin(), p.end(), 0.0);
    EXPECT_NEAR(total, 50 * 2000.0, 1e-3 * 50 * 2000); // float sums
    // Weekdays (1 January 2026 is a Thursday): cars arrive 15–22 h and a day's 5.5 kWh takes
    // half an hour at 11 kW, so all weekday charging falls between 15 and 23 h.
    double weekday = 0, weekdayEvening = 0;
    for (size_t h = 0; h < p.size(); ++h) {
        int hod = int(h % 24), dow = int((3 + h / 24) % 7);
        if (dow < 5) {
            weekday += p[h];
            if (hod >= 15 && hod < 23) weekdayEvening += p[h];
        }
        EXPECT_LE(p[h], 50 * 11 + 1e-3); // never above every charger at full power
    }
    EXPECT_GT(weekday, 0.6 * total);
    EXPECT_NEAR(weekdayEvening / weekday, 1.0, 1e-6);
    EXPECT_EQ(p, evChargingProfile(50, 2000, 11, 3, 42)); // deterministic
    EXPECT_NE(p, evChargingProfile(50, 2000, 11, 3, 43));
}

TEST(Loads, HeatPumpCopFollowsRuhnauEtAl) {
    // Ruhnau, Hirth & Praktiknjo (2019), eqs. for ASHP and GSHP, evaluated by hand:
    // ΔT = 35 K: ASHP 6.08 − 3.15 + 0.6125 = 3.5425; GSHP 10.29 − 7.35 + 1.47 = 4.41.
    EXPECT_NEAR(heatPumpCop(HeatPumpSource::Air, 35, 0), 3.5425, 1e-12);
    EXPECT_NEAR(heatPumpCop(HeatPumpSource::Ground, 35, 0), 4.41, 1e-12);
    // Heating curves: radiators at −10 °C need 50 °C, floor heating 35 °C.
    EXPECT_NEAR(heatingSupplyC(false, -10), 50, 1e-12);
    EXPECT_NEAR(heatingSupplyC(true, -10), 35, 1e-12);
    // Colder outside: lower COP.
    EXPECT_LT(heatPumpCop(HeatPumpSource::Air, heatingSupplyC(false, -10), -10),
              heatPumpCop(HeatPumpSource::Air, heatingSupplyC(false, 7), 7));
}

// A street of ten terraced houses and five detached ones (EPSG:25832) on flat ground.
class EnergyTown : public ::testing::Test {
protected:
    static constexpr double E0 = 476000, N0 = 5734000;
    void SetUp() override {
        registerEnergyModule();
        writeDem(dir / "dem.tif", 100, 60, 4, E0, N0, std::vector<float>(6000, 100.0f));
        std::vector<TestFeature> houses;
        for (int i = 0; i < 10; ++i) { // a terrace: shared walls
            double x = E0 + 40 + i * 7;
            houses.push_back({fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", x, N0 + 100, x + 7, N0 + 110),
                              {{"id", fmt::format("T{}", i)}, {"height", "9"}, {"building", "residential"}, {"start_date", "1965"}}});
        }
        for (int i = 0; i < 5; ++i) {
            double x = E0 + 40 + i * 25;
            houses.push_back({fmt::format("POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))", x, N0 + 160, x + 10, N0 + 170),
                              {{"id", fmt::format("D{}", i)}, {"height", "7"}, {"building", "house"}, {"start_date", "2005"}}});
        }
        writeLayer(dir / "b.gpkg", "GPKG", "buildings", 25832, {{"id"}, {"height", true}, {"building"}, {"start_date"}}, houses);
    }
    json run(const std::string& energyBlock, const std::string& edits, const std::string& name) {
        writeText(dir / (name + ".yaml"), "name: " + name + "\nseed: 7\ncity: {terrain: dem.tif, buildings: b.gpkg}\n"
                                          "time: {start: 2026-01-01T00:00:00+01:00, duration: 365d}\n"
                                          "modules:\n  energy:\n" + energyBlock + (edits.empty() ? "" : "edits:\n" + edits));
        Scenario s = Scenario::fromYaml(dir / (name + ".yaml"));
        RunResult r = runScenario(s, RunOptions{dir / name, 2, false, {}});
        return r.kpisJson;
    }
    static double kpi(const json& k, const char* side, const char* name) { return k[side]["energy"][name]["value"].get<double>(); }
    TempDir dir;
};

TEST_F(EnergyTown, WhatIfsMoveTheNumbersTheRightWay) {
    json k = run("    weather: generated\n    heat_pumps: {share: 0}\n    ev: {share: 0}\n    pv: {share: 0}\n",
                 "  - {type: heat_pumps, share: 1}\n  - {type: ev, share: 1}\n  - {type: pv, share: 1}\n"
                 "  - {type: retrofit, share: 1, standard: kfw55}\n",
                 "all");
    // Baseline: no heat pumps, cars or PV.
    EXPECT_EQ(kpi(k, "baseline", "heat_pump_electricity"), 0);
    EXPECT_EQ(kpi(k, "baseline", "ev_electricity"), 0);
    EXPECT_EQ(kpi(k, "baseline", "pv_yield"), 0);
    EXPECT_GT(kpi(k, "baseline", "heat_demand"), 0);
    // Variant: every building retrofitted (less heat), on heat pumps (no gas), every household
    // with a car at 2,000 kWh, PV on every suitable roof.
    EXPECT_LT(kpi(k, "variant", "heat_demand"), 0.8 * kpi(k, "baseline", "heat_demand"));
    EXPECT_EQ(kpi(k, "variant", "gas_for_heating"), 0);
    EXPECT_EQ(kpi(k, "variant", "buildings_with_heat_pump"), 15);
    double cars = kpi(k, "variant", "electric_vehicles");
    EXPECT_GE(cars, 15);
    EXPECT_NEAR(kpi(k, "variant", "ev_electricity"), cars * 2000, 1e-3 * cars * 2000);
    // Heat pumps: the heat delivered over an annual COP between 2 and 5 (air source, Germany).
    double cop = kpi(k, "variant", "heat_demand") / kpi(k, "variant", "heat_pump_electricity");
    EXPECT_GT(cop, 2);
    EXPECT_LT(cop, 5);
    EXPECT_GT(kpi(k, "variant", "pv_yield"), 0);
    EXPECT_LT(kpi(k, "variant", "co2"), kpi(k, "baseline", "co2"));
    EXPECT_GT(kpi(k, "variant", "peak_net_load"), kpi(k, "baseline", "peak_net_load"));
}

TEST_F(EnergyTown, OutputsOpenInGdalAndTheLoadTableAddsUp) {
    json k = run("    weather: generated\n    heat_pumps: {share: 0.5}\n    ev: {share: 0.5}\n    pv: {share: 0.5}\n", "", "out");
    fs::path out = dir / "out";
    gis::initGdal();
    GDALDatasetUniquePtr ds(GDALDataset::Open((out / "energy" / "buildings.gpkg").c_str(), GDAL_OF_VECTOR));
    ASSERT_TRUE(ds);
    OGRLayer* layer = ds->GetLayer(0);
    EXPECT_EQ(layer->GetFeatureCount(), 15);
    double heatSum = 0;
    for (auto& f : *layer) {
        heatSum += f->GetFieldAsDouble("heat_kwh");
        double area = f->GetFieldAsDouble("floor_area_m2");
        EXPECT_GT(area, 0);
        EXPECT_NEAR(f->GetFieldAsDouble("heat_kwh_m2"), f->GetFieldAsDouble("heat_kwh") / area, 1e-6);
    }
    EXPECT_NEAR(heatSum, kpi(k, "baseline", "heat_demand"), 1e-6 * heatSum);
    // load_profile.csv: 8760 hours × (districts + total); the total row sums its districts,
    // and over the year the columns give the KPIs.
    std::ifstream csv(out / "energy" / "load_profile.csv");
    std::string line;
    std::getline(csv, line);
    EXPECT_EQ(line, "hour,time,district,base_kw,heat_pump_kw,ev_kw,pv_kw,net_kw");
    double base = 0, hp = 0, ev = 0, pv = 0;
    size_t rows = 0, totals = 0;
    while (std::getline(csv, line)) {
        std::vector<std::string> c;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');) c.push_back(cell);
        ASSERT_EQ(c.size(), 8u) << line;
        ++rows;
        if (c[2] != "total") continue;
        ++totals;
        base += std::stod(c[3]), hp += std::stod(c[4]), ev += std::stod(c[5]), pv += std::stod(c[6]);
        EXPECT_NEAR(std::stod(c[7]), std::stod(c[3]) + std::stod(c[4]) + std::stod(c[5]) - std::stod(c[6]), 1e-6);
    }
    EXPECT_EQ(totals, 8760u);
    EXPECT_EQ(rows % 8760, 0u);
    EXPECT_NEAR(base, kpi(k, "baseline", "household_electricity"), 1e-3 * base);
    EXPECT_NEAR(hp, kpi(k, "baseline", "heat_pump_electricity"), 1e-3 * hp + 1e-6);
    EXPECT_NEAR(ev, kpi(k, "baseline", "ev_electricity"), 1e-3 * ev + 1e-6);
    EXPECT_NEAR(pv / 1, kpi(k, "baseline", "pv_yield"), 2e-3 * pv + 1e-6);
    // The same seed gives the same year.
    json again = run("    weather: generated\n    heat_pumps: {share: 0.5}\n    ev: {share: 0.5}\n    pv: {share: 0.5}\n", "", "out2");
    EXPECT_EQ(again["baseline"], k["baseline"]);
}

TEST_F(EnergyTown, RunsWithTheAachenWeatherFiles) {
    fs::path dir = sharedData() / "real" / "weather-nrw-aachen";
    if (!fs::exists(dir)) {
        if (std::getenv("CI")) FAIL() << "missing " << dir;
        GTEST_SKIP() << "no " << dir;
    }
    json generated = run("    weather: generated\n", "", "gen");
    for (const char* file : {"TRY2015_507931060546_Jahr.dat", "DEU_NW_Aachen.105010_TMYx.epw"}) {
        json k = run("    weather: " + (dir / file).string() + "\n    pv: {share: 1}\n", "", std::string("w") + file[0]);
        // Three climates of north-west Germany (annual means 9.7–10.5 °C): the same street
        // needs about the same heat, within a quarter.
        double ratio = kpi(k, "baseline", "heat_demand") / kpi(generated, "baseline", "heat_demand");
        EXPECT_GT(ratio, 0.75) << file;
        EXPECT_LT(ratio, 1.25) << file;
        // PV on these roofs: 700–1,100 kWh/kWp (unshaded Aachen south 35°: 961–1,008).
        double specific = kpi(k, "baseline", "pv_yield") / kpi(k, "baseline", "pv_kwp");
        EXPECT_GT(specific, 700) << file;
        EXPECT_LT(specific, 1100) << file;
    }
}

TEST_F(EnergyTown, BadInputIsNamed) {
    auto expectError = [&](const std::string& block, const std::string& edits, const std::string& words) {
        writeText(dir / "bad.yaml", "name: bad\ncity: {terrain: dem.tif, buildings: b.gpkg}\ntime: {duration: 365d}\n"
                                    "modules:\n  energy:\n" + block + (edits.empty() ? "" : "edits:\n" + edits));
        CommandResult r = runCitytwin("run " + (dir / "bad.yaml").string() + " --out " + (dir / "bad").string());
        EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
        EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
    };
    expectError("    ev: {share: -0.2}\n", "", "between 0 and 1");
    expectError("    weather: nowhere.epw\n", "", "file not found");
    expectError("    heat_pumps: {share: 0.1, source: sea}\n", "", "air or ground");
    expectError("    weather: generated\n", "  - {type: retrofit, share: 0.3, standard: passivhaus}\n", "unknown retrofit standard");
    expectError("    weather: generated\n", "  - {type: pv, share: 1.5}\n", "between 0 and 1");
    expectError("    weather: generated\n", "  - {type: district_heating, share: 0.5}\n", "polygon");
}

} // namespace
