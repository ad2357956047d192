#pragma once
// Small inline SVG charts for the run report: line charts (gauge curves, load curves) and
// bar charts / histograms (trip times before and after). Axes with "nice" ticks, labels and a
// legend; no scripts, no external fonts, so the SVG works inside a self-contained HTML file.
#include <string>
#include <vector>

namespace ct::app {

enum class ChartKind {
    Line, // each series a polyline through (x[i], y[i])
    Bars  // x holds bin edges (y.size() + 1); several series share the bins side by side
};

struct ChartSeries {
    std::string label;
    std::vector<double> x, y;
    std::string color;   // CSS colour; empty: the next colour of the palette
    bool dashed = false; // lines only: e.g. the variant
};

struct ChartOptions {
    std::string title, xLabel, yLabel;
    ChartKind kind = ChartKind::Line;
    int width = 760, height = 380; // SVG user units (pixels)
    bool yFromZero = true;         // include y = 0 in the axis
};

// The chart as an <svg> element. Each line series is one <polyline class="series"
// data-label="...">; tick labels carry class="xtick"/"ytick" and sit exactly at the tick
// position (the y attribute of a ytick is its value's pixel row), so the chart can be read back.
std::string svgChart(const std::vector<ChartSeries>& series, const ChartOptions& options);

// About `target` round-numbered ticks (1, 2, 2.5 or 5 × 10^k steps) covering [lo, hi].
std::vector<double> niceTicks(double lo, double hi, int target = 6);

// Counts of `values` in the bins [edges[i], edges[i+1]) — the y of a Bars series.
std::vector<double> histogram(const std::vector<double>& values, const std::vector<double>& edges);

// Text escaped for HTML/SVG content and attribute values.
std::string escapeXml(const std::string& text);

} // namespace ct::app
