#pragma once
// Electric loads of a building over a year, hour by hour: household base load (an H0-like
// profile), heat pumps (COP by outdoor temperature) and electric-vehicle charging at home.
// Every profile and constant is documented in docs/energy.md with its source.
#include <cstdint>
#include <vector>

namespace ct::energy {

// Annual household electricity for a number of residents, kWh: 1,400 kWh for one person and
// 900 kWh for each further one (our assumption, in the range the German "Stromspiegel" gives
// for households without electric hot water; 4 persons: 4,100 kWh).
double householdKwh(double residents);

// The household load in each hour of a year (8760 values, kW) for `annualKwh`: an H0-like
// shape (night base, morning and evening peaks, more at weekends around noon) scaled by the
// BDEW dynamisation factor of the day, so winter days use more than summer days; the year
// sums to annualKwh. `firstWeekday`: 0 = Monday for 1 January.
std::vector<float> householdProfile(double annualKwh, int firstWeekday);

enum class HeatPumpSource { Air, Ground };
// Coefficient of performance of a heat pump heating to a sink temperature from a source at
// `sourceC` (Ruhnau, Hirth & Praktiknjo 2019, Scientific Data 6:189: ASHP
// 6.08 − 0.09 ΔT + 0.0005 ΔT², GSHP 10.29 − 0.21 ΔT + 0.0012 ΔT², ΔT = sink − source).
double heatPumpCop(HeatPumpSource source, double sinkC, double sourceC);
// The sink (supply) temperature from the heating curve: floor heating 30 − 0.5 θe,
// radiators 40 − θe (Ruhnau et al. 2019), θe the outdoor temperature.
double heatingSupplyC(bool floorHeating, double outdoorC);

// Home charging of electric cars: each car needs `annualKwh` (default 2,000 kWh: 12,000 km at
// 17 kWh/100 km incl. charging losses), charged at `chargerKw` from its arrival home on each
// day; arrival hours follow a documented distribution (16–21 h, peak 18 h; weekends flatter),
// drawn per car and day from `seed` (deterministic). Returns kW per hour (8760 values) for
// `cars` cars together.
std::vector<float> evChargingProfile(int cars, double annualKwh, double chargerKw, int firstWeekday, uint64_t seed);

} // namespace ct::energy
