#include "sim/energy/Loads.h"

#include "core/Hash.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace ct::energy {

namespace {

// Relative household demand per hour of the day (0–23): weekday, Saturday, Sunday. An H0-like
// shape — low at night, a morning rise, a midday plateau and the evening peak around 19–20 h;
// at weekends later mornings and a midday peak (cooking). Not the BDEW table itself: the
// annual total and the day factor below carry the energy, this only shapes the day.
constexpr std::array<std::array<double, 24>, 3> dayShape = {{
    {0.55, 0.45, 0.40, 0.38, 0.38, 0.42, 0.60, 0.85, 0.90, 0.85, 0.85, 0.90, 1.00, 0.95, 0.85, 0.80, 0.85, 1.00, 1.25, 1.40, 1.35, 1.20, 0.95, 0.70},
    {0.60, 0.50, 0.45, 0.42, 0.40, 0.42, 0.50, 0.65, 0.90, 1.05, 1.10, 1.15, 1.20, 1.10, 1.00, 0.95, 0.95, 1.05, 1.25, 1.35, 1.30, 1.15, 0.95, 0.75},
    {0.65, 0.55, 0.48, 0.44, 0.42, 0.42, 0.45, 0.55, 0.80, 1.05, 1.20, 1.30, 1.35, 1.15, 1.00, 0.95, 0.95, 1.05, 1.20, 1.30, 1.25, 1.10, 0.90, 0.70},
}};

// BDEW's dynamisation polynomial for H0 (day of year t = 1…365): about 1.24 in January,
// 0.80 in early July.
double dynamisation(int t) {
    double x = t;
    return -3.92e-10 * x * x * x * x + 3.2e-7 * x * x * x - 7.02e-5 * x * x + 2.1e-3 * x + 1.24;
}

// 0 weekday, 1 Saturday, 2 Sunday.
int dayKind(int dayOfYear0, int firstWeekday) {
    int weekday = (firstWeekday + dayOfYear0) % 7; // 0 = Monday
    return weekday == 5 ? 1 : weekday == 6 ? 2 : 0;
}


// Arrival hour at home, by day kind: weights for hours 0–23 (weekdays 16–21 h peaking at
// 17–18 h after work; weekends spread over the afternoon and evening).
constexpr std::array<std::array<double, 24>, 2> arrival = {{
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.04, 0.14, 0.24, 0.24, 0.16, 0.10, 0.08, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.08, 0.08, 0.10, 0.12, 0.14, 0.14, 0.14, 0.10, 0.06, 0.04, 0, 0},
}};

} // namespace

double householdKwh(double residents) {
    if (residents <= 0) return 0;
    return 1400 + 900 * std::max(0.0, residents - 1);
}

std::vector<float> householdProfile(double annualKwh, int firstWeekday) {
    std::vector<double> raw(8760);
    double sum = 0;
    for (int d = 0; d < 365; ++d) {
        double f = dynamisation(d + 1);
        const auto& shape = dayShape[size_t(dayKind(d, firstWeekday))];
        for (int h = 0; h < 24; ++h) sum += raw[size_t(d * 24 + h)] = f * shape[size_t(h)];
    }
    std::vector<float> out(8760);
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(raw[i] / sum * annualKwh); // kWh in one hour = mean kW
    return out;
}

double heatPumpCop(HeatPumpSource source, double sinkC, double sourceC) {
    double dt = std::max(0.0, sinkC - sourceC);
    double cop = source == HeatPumpSource::Air ? 6.08 - 0.09 * dt + 0.0005 * dt * dt : 10.29 - 0.21 * dt + 0.0012 * dt * dt;
    return std::max(1.0, cop); // below 1 a heat pump would switch to its heating rod
}

double heatingSupplyC(bool floorHeating, double outdoorC) {
    return floorHeating ? 30 - 0.5 * outdoorC : 40 - outdoorC;
}

std::vector<float> evChargingProfile(int cars, double annualKwh, double chargerKw, int firstWeekday, uint64_t seed) {
    std::vector<double> kw(8760, 0.0);
    if (cars <= 0 || annualKwh <= 0 || chargerKw <= 0) return std::vector<float>(8760, 0.0f);
    const double perDay = annualKwh / 365;
    for (int car = 0; car < cars; ++car)
        for (int d = 0; d < 365; ++d) {
            const auto& weights = arrival[dayKind(d, firstWeekday) == 0 ? 0 : 1];
            double u = double(splitmix64(seed ^ splitmix64(uint64_t(car) * 1000003u + uint64_t(d))) >> 11) * 0x1.0p-53;
            int hour = 0;
            for (double acc = 0; hour < 24; ++hour)
                if ((acc += weights[size_t(hour)]) > u) break;
            hour = std::min(hour, 23);
            // Charge at full power from the arrival until the day's energy is in (wrapping past
            // midnight, and past the year's end onto its start, so the year keeps its energy).
            double left = perDay;
            for (size_t h = size_t(d * 24 + hour); left > 1e-12; ++h) {
                double e = std::min(chargerKw, left);
                kw[h % 8760] += e;
                left -= e;
            }
        }
    return std::vector<float>(kw.begin(), kw.end());
}

} // namespace ct::energy
