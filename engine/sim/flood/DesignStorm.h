#pragma once
// Design storms from a depth-duration table (KOSTRA-DWD style): block rain and Euler type II
// (DWA-A 118), as a piecewise-constant hyetograph.
#include <map>
#include <vector>

namespace ct::flood {

struct Hyetograph {
    double intervalS = 300;
    std::vector<double> intensityMps; // one value per interval from t = 0
    double at(double tS) const;       // 0 outside
    double totalDepthM() const;
};

// depthsByDurationS: duration (s) -> rain depth (m) for the return period, e.g. from KOSTRA;
// must contain `durationS` and (for Euler II) every multiple of `intervalS` up to it, or
// enough points to interpolate linearly between them.
Hyetograph blockRain(double durationS, double depthM);
// Euler type II: the interval increments of the depth-duration curve, largest at 0.3·D, the
// following ones after it in decreasing order, the smallest ones before it in increasing order.
Hyetograph eulerTypeII(const std::map<double, double>& depthsByDurationS, double durationS, double intervalS);

} // namespace ct::flood
