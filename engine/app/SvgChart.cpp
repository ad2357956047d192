#include "app/SvgChart.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct::app {

namespace {

// Distinct colours that stay apart for colour-blind readers in pairs (blue/orange first).
const char* const palette[] = {"#1f6fb4", "#e07b00", "#2a9d3a", "#c8283c",
                               "#7b4fb0", "#8a5a2b", "#d0559f", "#178f9f"};

// Digits after the point that show every multiple of `step` exactly (at most 6).
int decimalsFor(double step) {
    for (int d = 0; d < 6; ++d) {
        double scaled = step * std::pow(10.0, d);
        if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
    }
    return 6;
}

std::string tickLabel(double v, int decimals) {
    if (std::abs(v) < 1e-12) return "0"; // not "-0" or "0.0000"
    std::string s = fmt::format("{:.{}f}", std::abs(v), decimals);
    size_t point = s.find('.');
    size_t intEnd = point == std::string::npos ? s.size() : point;
    std::string out;
    for (size_t i = 0; i < intEnd; ++i) {
        if (i > 0 && (intEnd - i) % 3 == 0) out += ',';
        out += s[i];
    }
    out += s.substr(intEnd);
    return (v < 0 ? "-" : "") + out;
}

std::string num(double v) {
    return fmt::format("{:.2f}", v);
}

} // namespace

std::string escapeXml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::vector<double> niceTicks(double lo, double hi, int target) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
    if (hi < lo) std::swap(lo, hi);
    if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) { // one value: a unit-wide range around it
        double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / std::max(1, target - 1);
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag * 10;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw * 0.999) {
            step = m * mag;
            break;
        }
    std::vector<double> ticks;
    double first = std::floor(lo / step + 1e-9) * step, last = std::ceil(hi / step - 1e-9) * step;
    for (int k = 0; first + k * step <= last + step * 1e-6; ++k)
        ticks.push_back(first + k * step);
    return ticks;
}

std::vector<double> histogram(const std::vector<double>& values, const std::vector<double>& edges) {
    std::vector<double> counts(edges.size() > 1 ? edges.size() - 1 : 0, 0.0);
    for (double v : values) {
        auto it = std::upper_bound(edges.begin(), edges.end(), v);
        if (it == edges.begin() || it == edges.end()) {
            if (!counts.empty() && v == edges.back()) counts.back() += 1; // closed last bin
            continue;
        }
        counts[size_t(it - edges.begin()) - 1] += 1;
    }
    return counts;
}

std::string svgChart(const std::vector<ChartSeries>& series, const ChartOptions& o) {
    const bool bars = o.kind == ChartKind::Bars;
    // Data range over all series.
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (const auto& s : series) {
        for (double x : s.x)
            if (std::isfinite(x)) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
        for (size_t i = 0; i < s.y.size(); ++i) {
            if (!bars && (i >= s.x.size() || !std::isfinite(s.x[i]))) continue;
            if (std::isfinite(s.y[i])) ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
        }
    }
    if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
    if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
    if (o.yFromZero || bars) ylo = std::min(ylo, 0.0), yhi = std::max(yhi, 0.0);
    std::vector<double> xt = niceTicks(xlo, xhi), yt = niceTicks(ylo, yhi, 5);
    // Lines span the data in x (no empty margin); the ticks inside it are drawn.
    double ax0 = bars ? xlo : xlo, ax1 = xhi > xlo ? xhi : xlo + 1;
    double ay0 = yt.front(), ay1 = yt.back();

    // Layout: title on top, y label on the left, legend on the right, x label below.
    size_t longest = 0;
    for (const auto& s : series)
        longest = std::max(longest, s.label.size());
    double legendW = series.empty() ? 0 : 40 + 6.6 * double(longest);
    double left = 72, right = o.width - 16 - legendW, top = o.title.empty() ? 16 : 40, bottom = o.height - 50;
    auto px = [&](double x) { return left + (x - ax0) / (ax1 - ax0) * (right - left); };
    auto py = [&](double y) { return bottom - (y - ay0) / (ay1 - ay0) * (bottom - top); };

    std::string s =
        fmt::format("<svg class=\"chart\" width=\"{}\" height=\"{}\" "
                    "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
                    o.width, o.height, o.width, o.height);
    if (!o.title.empty())
        s += fmt::format(
            "<title>{0}</title><text x=\"{1}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{0}</text>\n",
            escapeXml(o.title), num(left));
    // Grid and y ticks.
    int yd = decimalsFor(yt.size() > 1 ? yt[1] - yt[0] : 1);
    for (double v : yt) {
        double y = py(v);
        s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>", num(left), num(y),
                         num(right), num(y));
        s += fmt::format("<text class=\"ytick\" x=\"{}\" y=\"{}\" text-anchor=\"end\" "
                         "dominant-baseline=\"middle\">{}</text>\n",
                         num(left - 6), num(y), tickLabel(v, yd));
    }
    int xd = decimalsFor(xt.size() > 1 ? xt[1] - xt[0] : 1);
    for (double v : xt) {
        if (v < ax0 - 1e-9 * std::abs(ax1 - ax0) || v > ax1 + 1e-9 * std::abs(ax1 - ax0)) continue;
        double x = px(v);
        s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>", num(x),
                         num(bottom), num(bottom + 5));
        s += fmt::format("<text class=\"xtick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(x),
                         num(bottom + 18), tickLabel(v, xd));
    }
    // Axes.
    s += fmt::format("<path d=\"M{0} {1} V{2} H{3}\" fill=\"none\" stroke=\"#333\"/>\n", num(left), num(top),
                     num(bottom), num(right));
    if (!o.xLabel.empty())
        s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                         num((left + right) / 2), num(o.height - 12), escapeXml(o.xLabel));
    if (!o.yLabel.empty())
        s +=
            fmt::format("<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                        num((top + bottom) / 2), escapeXml(o.yLabel));

    // Data.
    auto colorOf = [&](size_t i) {
        return series[i].color.empty() ? std::string(palette[i % std::size(palette)]) : series[i].color;
    };
    for (size_t i = 0; i < series.size(); ++i) {
        const ChartSeries& c = series[i];
        if (bars) {
            double n = double(series.size());
            for (size_t b = 0; b + 1 < c.x.size() && b < c.y.size(); ++b) {
                if (!std::isfinite(c.y[b])) continue;
                double x0 = px(c.x[b]), x1 = px(c.x[b + 1]), w = (x1 - x0) * 0.9 / n;
                double bx = x0 + (x1 - x0) * 0.05 + w * double(i), y0 = py(std::max(0.0, c.y[b])),
                       y1 = py(std::min(0.0, c.y[b]));
                s += fmt::format("<rect class=\"bar\" data-label=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" "
                                 "height=\"{}\" fill=\"{}\"/>\n",
                                 escapeXml(c.label), num(bx), num(y0), num(std::max(0.0, w)), num(y1 - y0),
                                 colorOf(i));
            }
            continue;
        }
        std::string points;
        for (size_t k = 0; k < c.x.size() && k < c.y.size(); ++k) {
            if (!std::isfinite(c.x[k]) || !std::isfinite(c.y[k])) continue;
            if (!points.empty()) points += ' ';
            points += num(px(c.x[k])) + "," + num(py(c.y[k]));
        }
        s += fmt::format(
            "<polyline class=\"series\" data-label=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
            "stroke-linejoin=\"round\" points=\"{}\"/>\n",
            escapeXml(c.label), colorOf(i), c.dashed ? " stroke-dasharray=\"7 4\"" : "", points);
    }
    // Legend.
    for (size_t i = 0; i < series.size(); ++i) {
        double lx = right + 16, ly = top + 8 + 18 * double(i);
        if (bars)
            s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"22\" height=\"10\" fill=\"{}\"/>", num(lx),
                             num(ly - 5), colorOf(i));
        else
            s += fmt::format(
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>", num(lx),
                num(ly), num(lx + 22), num(ly), colorOf(i),
                series[i].dashed ? " stroke-dasharray=\"7 4\"" : "");
        s += fmt::format("<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n", num(lx + 28),
                         num(ly), escapeXml(series[i].label));
    }
    s += "</svg>\n";
    return s;
}

} // namespace ct::app
