#include "sim/flood/DesignStorm.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct::flood {

double Hyetograph::at(double t) const {
    if (t < 0) return 0;
    size_t k = static_cast<size_t>(t / intervalS);
    return k < intensityMps.size() ? intensityMps[k] : 0.0;
}

double Hyetograph::totalDepthM() const {
    double d = 0;
    for (double i : intensityMps) d += i * intervalS;
    return d;
}

Hyetograph blockRain(double durationS, double depthM) {
    if (!(durationS > 0) || !(depthM >= 0)) throw InputError("block rain needs a positive duration and depth ≥ 0");
    return Hyetograph{durationS, {depthM / durationS}};
}

static double depthAt(const std::map<double, double>& table, double d) {
    auto hi = table.lower_bound(d);
    if (hi != table.end() && std::abs(hi->first - d) < 1e-9) return hi->second;
    if (hi == table.begin() || hi == table.end())
        throw InputError(fmt::format("the depth-duration table does not cover {:.0f} min", d / 60), {},
                         "give depths for durations from the first interval up to the storm duration");
    auto lo = std::prev(hi);
    double a = (d - lo->first) / (hi->first - lo->first);
    return lo->second + a * (hi->second - lo->second);
}

Hyetograph eulerTypeII(const std::map<double, double>& table, double durationS, double intervalS) {
    if (!(intervalS > 0) || !(durationS >= intervalS))
        throw InputError("Euler II needs an interval > 0 and a duration of at least one interval");
    const int n = static_cast<int>(std::lround(durationS / intervalS));
    if (std::abs(n * intervalS - durationS) > 1e-6)
        throw InputError("the storm duration must be a whole number of intervals");
    // Increments of the depth-duration curve: the depth that falls in the k-th interval.
    std::vector<double> inc(static_cast<size_t>(n));
    double prev = 0;
    for (int k = 1; k <= n; ++k) {
        double d = depthAt(table, k * intervalS);
        if (d < prev) throw InputError("depths in the depth-duration table must grow with the duration");
        inc[static_cast<size_t>(k - 1)] = d - prev;
        prev = d;
    }
    std::sort(inc.begin(), inc.end(), std::greater<>());
    const int peak = static_cast<int>(std::floor(0.3 * n));
    std::vector<double> depth(static_cast<size_t>(n));
    // At and after the peak: the largest increments in decreasing order.
    int next = 0;
    for (int k = peak; k < n; ++k) depth[static_cast<size_t>(k)] = inc[static_cast<size_t>(next++)];
    // Before the peak: the remaining (smallest) ones, increasing towards the peak.
    for (int k = peak - 1; k >= 0; --k) depth[static_cast<size_t>(k)] = inc[static_cast<size_t>(next++)];
    Hyetograph h{intervalS, {}};
    for (double d : depth) h.intensityMps.push_back(d / intervalS);
    return h;
}

} // namespace ct::flood
