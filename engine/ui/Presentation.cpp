#include "ui/Presentation.h"

#include "core/I18n.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct::ui {

using render::Hud;
using render::rgba;

namespace {

constexpr double pi = 3.14159265358979323846;
const uint32_t ink = rgba(20, 24, 28), panel = rgba(255, 255, 255, 225), white = rgba(255, 255, 255);

std::string legendNumber(float v) {
    float a = std::abs(v);
    int decimals = a >= 100 || v == std::round(v) ? 0 : a >= 10 ? 1 : 2;
    return formatNumber(v, decimals);
}

// Where the ray through a pixel meets the plane z = groundZ, if it does in front of the camera.
std::optional<Vec3> groundHit(const render::Camera& camera, double px, double py, int w, int h, double groundZ) {
    render::Ray r = camera.rayThrough(px, py, w, h);
    if (r.direction.z() > -1e-4) return std::nullopt;
    double t = (groundZ - r.origin.z()) / r.direction.z();
    if (t <= 0) return std::nullopt;
    return r.origin + r.direction * t;
}

// Largest 1, 2 or 5 × 10^k not above x.
double niceLength(double x) {
    double p = std::pow(10.0, std::floor(std::log10(x)));
    for (double m : {5.0, 2.0, 1.0})
        if (m * p <= x) return m * p;
    return p;
}

float legendHeight(const render::ColorScale& scale, float u) {
    const float lineH = Hud::textHeight(1.6f * u), rows = float((scale.categories.size() + 1) / 2);
    if (!scale.categories.empty()) return 12 * u * 2 + lineH + 6 * u + rows * (lineH + 4 * u);
    return 12 * u * 2 + lineH * 2 + 6 * u + 20 * u + 4 * u;
}

// Wide enough for the title and, for classes, two columns of swatch and name.
float legendWidth(const render::ColorScale& scale, float u) {
    const float textS = 1.6f * u, lineH = Hud::textHeight(textS);
    float w = Hud::textWidth(tr(scale.title) + " [" + scale.unit + "]", textS, true) + 24 * u;
    for (const std::string& name : scale.categories) w = std::max(w, 2 * (lineH + 6 * u + Hud::textWidth(tr(name), textS) + 12 * u) + 24 * u);
    return w;
}

void drawLegend(Hud& hud, const render::ColorScale& scale, float x, float y, float width, float u) {
    float pad = 12 * u, textS = 1.6f * u, barH = 20 * u, lineH = Hud::textHeight(textS);
    std::string title = tr(scale.title);
    if (!scale.unit.empty()) title += " [" + scale.unit + "]";
    hud.rect(x, y, x + width, y + legendHeight(scale, u), panel);
    hud.text(x + pad, y + pad, title, ink, textS, true);
    float by = y + pad + lineH + 6 * u, bx0 = x + pad, bw = width - 2 * pad;
    if (!scale.categories.empty()) { // a swatch and a name per class, two columns
        for (size_t k = 0; k < scale.categories.size(); ++k) {
            float cx = bx0 + float(k % 2) * bw / 2, cy = by + float(k / 2) * (lineH + 4 * u);
            hud.rect(cx, cy + 2 * u, cx + lineH - 4 * u, cy + lineH - 2 * u, scale.colorOf(float(k)));
            hud.text(cx + lineH + 2 * u, cy, tr(scale.categories[k]), ink, textS);
        }
        return;
    }
    const int steps = 96;
    for (int i = 0; i < steps; ++i)
        hud.rect(bx0 + bw * i / steps, by, bx0 + bw * (i + 1) / steps + 0.5f, by + barH, render::sampleColorMap(scale.map, (i + 0.5) / steps));
    float ty = by + barH + 4 * u;
    std::string lo = legendNumber(scale.min), mid = legendNumber((scale.min + scale.max) / 2), hi = legendNumber(scale.max);
    hud.text(bx0, ty, lo, ink, textS);
    hud.text(bx0 + bw / 2 - Hud::textWidth(mid, textS) / 2, ty, mid, ink, textS);
    hud.text(bx0 + bw - Hud::textWidth(hi, textS), ty, hi, ink, textS);
}

// The scale bar for the ground at 80 % of the picture's height; false if it shows no ground there.
bool drawScaleBar(Hud& hud, const render::Camera& camera, int w, int h, double groundZ, float right, float bottom, float u) {
    auto a = groundHit(camera, w * 0.5, h * 0.8, w, h, groundZ), b = groundHit(camera, w * 0.5 + 100, h * 0.8, w, h, groundZ);
    if (!a || !b) return false;
    double metresPerPx = (*b - *a).norm() / 100;
    if (!(metresPerPx > 0)) return false;
    double length = niceLength(220 * u * metresPerPx);
    float px = float(length / metresPerPx), textS = 1.6f * u, barH = 8 * u;
    std::string label = length >= 1000 ? formatQuantity(length / 1000, "km", length >= 10000 || std::fmod(length, 1000) == 0 ? 0 : 1)
                                       : formatQuantity(length, "m", 0);
    float pad = 10 * u, boxW = px + 2 * pad, boxH = pad + Hud::textHeight(textS) + 4 * u + barH + pad;
    float x0 = right - boxW, y0 = bottom - boxH;
    hud.rect(x0, y0, right, bottom, panel);
    hud.text(x0 + pad + px / 2 - Hud::textWidth(label, textS) / 2, y0 + pad, label, ink, textS, true);
    float by = y0 + pad + Hud::textHeight(textS) + 4 * u;
    // Two halves, black and white, in a black frame: reads on any background.
    hud.rect(x0 + pad - u, by - u, x0 + pad + px + u, by + barH + u, ink);
    hud.rect(x0 + pad + px / 2, by, x0 + pad + px, by + barH, white);
    return true;
}

void drawNorthArrow(Hud& hud, const render::Camera& camera, float cx, float cy, float u) {
    // North on the screen: the heading turns it; looking north it points up.
    double yaw = camera.yawDeg * pi / 180;
    float dx = float(-std::sin(yaw)), dy = float(-std::cos(yaw));
    float r = 30 * u;
    const int sides = 32;
    for (int i = 0; i < sides; ++i) { // a round white disc
        double a0 = 2 * pi * i / sides, a1 = 2 * pi * (i + 1) / sides;
        hud.triangle(Vec2(cx, cy), Vec2(cx + r * std::cos(a0), cy + r * std::sin(a0)), Vec2(cx + r * std::cos(a1), cy + r * std::sin(a1)),
                     panel);
    }
    float len = 22 * u, half = 9 * u, px = -dy, py = dx; // perpendicular
    float tipX = cx + dx * len, tipY = cy + dy * len, tailX = cx - dx * len * 0.8f, tailY = cy - dy * len * 0.8f;
    Vec2 side1(cx + px * half, cy + py * half), side2(cx - px * half, cy - py * half);
    hud.triangle(Vec2(tipX, tipY), side1, side2, rgba(200, 30, 30));
    hud.triangle(Vec2(tailX, tailY), side1, side2, ink);
    std::string n = tr("N");
    float ts = 1.6f * u, nx = cx + dx * (r + 12 * u), ny = cy + dy * (r + 12 * u);
    hud.text(nx - Hud::textWidth(n, ts, true) / 2, ny - Hud::textHeight(ts) / 2, n, white, ts, true);
}

} // namespace

std::string formatElapsed(double seconds) {
    long s = std::lround(std::max(0.0, seconds));
    long h = s / 3600, m = (s % 3600) / 60;
    if (h > 0) return m ? fmt::format("{} h {} min", formatNumber(double(h), 0), m) : fmt::format("{} h", formatNumber(double(h), 0));
    if (m > 0) return fmt::format("{} min", m);
    return fmt::format("{} s", s);
}

std::vector<PlacedLabel> placeLabels(const std::vector<PlaceLabel>& labels, const render::Camera& camera, int width, int height,
                                     float textScale, const std::vector<ScreenBox>& taken) {
    std::vector<PlacedLabel> placed;
    float pad = 4 * textScale / 2, lineH = Hud::textHeight(textScale), gap = 6 * textScale / 2;
    for (size_t i = 0; i < labels.size(); ++i) {
        auto p = camera.project(labels[i].position, width, height);
        if (!p) continue;
        float px = float(p->x()), py = float(p->y());
        float w = Hud::textWidth(labels[i].text.get(), textScale, true) + 2 * pad, h = lineH + 2 * pad;
        // The box stands above its place, centred.
        PlacedLabel l{i, {px - w / 2, py - h - gap, px + w / 2, py - gap}, px, py};
        if (l.box.x0 < 0 || l.box.y0 < 0 || l.box.x1 > width || py > height) continue;
        auto hits = [&](const ScreenBox& o) { return l.box.overlaps(o); };
        if (std::any_of(taken.begin(), taken.end(), hits)) continue;
        if (std::any_of(placed.begin(), placed.end(), [&](const PlacedLabel& o) { return hits(o.box); })) continue;
        placed.push_back(l);
    }
    return placed;
}

void drawOverlay(Hud& hud, const OverlayContent& c, const render::Camera& camera, int width, int height, double groundZ) {
    const float u = float(height) / 1080.0f; // one "pixel" of a 1080p picture
    const float margin = 24 * u, pad = 14 * u;

    // Panels are remembered so place labels keep clear of them.
    std::vector<ScreenBox> panels;
    auto box = [&](float x0, float y0, float x1, float y1, uint32_t colour) {
        hud.rect(x0, y0, x1, y1, colour);
        panels.push_back({x0, y0, x1, y1});
    };

    if (c.splitAtPx) {
        float x = *c.splitAtPx;
        hud.rect(x - 3 * u, 0, x + 3 * u, float(height), ink);
        hud.rect(x - 1.5f * u, 0, x + 1.5f * u, float(height), white);
    }

    // Title (top left) and subtitle.
    float y = margin;
    if (!c.title.empty()) {
        float ts = 3.2f * u, ss = 1.8f * u;
        float w = Hud::textWidth(c.title, ts, true);
        if (!c.subtitle.empty()) w = std::max(w, Hud::textWidth(c.subtitle, ss));
        float h = pad + Hud::textHeight(ts) + (c.subtitle.empty() ? 0 : Hud::textHeight(ss) + 4 * u) + pad;
        box(margin, y, margin + w + 2 * pad, y + h, panel);
        hud.text(margin + pad, y + pad, c.title, ink, ts, true);
        if (!c.subtitle.empty()) hud.text(margin + pad, y + pad + Hud::textHeight(ts) + 4 * u, c.subtitle, rgba(60, 64, 70), ss);
        y += h + 12 * u;
    }

    // Before/after names, at the top of each side of the divider.
    if (c.splitAtPx) {
        float ns = 2.2f * u, x = *c.splitAtPx;
        auto name = [&](const std::string& text, bool left) {
            if (text.empty()) return;
            float w = Hud::textWidth(text, ns, true) + 2 * pad, h = Hud::textHeight(ns) + pad;
            float x0 = left ? x - 12 * u - w : x + 12 * u;
            box(x0, y, x0 + w, y + h, rgba(20, 24, 28, 220));
            hud.text(x0 + pad, y + pad / 2, text, white, ns, true);
        };
        // A side pushed (almost) off the screen keeps no name: it would not fit.
        if (x > 0.1f * width) name(c.leftName, true);
        if (x < 0.9f * width) name(c.rightName, false);
    }

    // Clock (top right): date and time, then the time since the start.
    float right = float(width) - margin, ry = margin;
    if (c.clock) {
        std::string when = formatDateTime(*c.clock);
        std::string since = c.elapsedS ? fmt::format(fmt::runtime(tr("{} after the start")), formatElapsed(*c.elapsedS)) : "";
        float cs = 2.6f * u, es = 1.6f * u;
        float w = std::max(Hud::textWidth(when, cs, true), since.empty() ? 0.0f : Hud::textWidth(since, es));
        float h = pad + Hud::textHeight(cs) + (since.empty() ? 0 : Hud::textHeight(es) + 2 * u) + pad;
        box(right - w - 2 * pad, ry, right, ry + h, panel);
        hud.text(right - pad - Hud::textWidth(when, cs, true), ry + pad, when, ink, cs, true);
        if (!since.empty()) hud.text(right - pad - Hud::textWidth(since, es), ry + pad + Hud::textHeight(cs) + 2 * u, since, rgba(60, 64, 70), es);
        ry += h + 12 * u;
    }
    if (c.northArrow) {
        drawNorthArrow(hud, camera, right - 44 * u, ry + 44 * u, u);
        panels.push_back({right - 88 * u, ry, right, ry + 100 * u});
    }

    // Bottom: hint line, caption above it, legends bottom left, scale bar bottom right.
    float bottom = float(height) - margin;
    if (!c.hint.empty()) {
        float hs = 1.3f * u;
        float w = Hud::textWidth(c.hint, hs) + 2 * pad;
        box(width / 2.0f - w / 2, bottom - Hud::textHeight(hs) - 8 * u, width / 2.0f + w / 2, bottom, rgba(20, 24, 28, 170));
        hud.text(width / 2.0f - w / 2 + pad, bottom - Hud::textHeight(hs) - 4 * u, c.hint, white, hs);
        bottom -= Hud::textHeight(hs) + 8 * u + 10 * u;
    }
    if (c.scaleBar && drawScaleBar(hud, camera, width, height, groundZ, right, bottom, u))
        panels.push_back({right - 300 * u, bottom - 70 * u, right, bottom});
    float ly = bottom, legendW = 380 * u;
    for (const auto& l : c.legends) legendW = std::max(legendW, legendWidth(l, u));
    for (auto it = c.legends.rbegin(); it != c.legends.rend(); ++it) {
        ly -= legendHeight(*it, u);
        drawLegend(hud, *it, margin, ly, legendW, u);
        panels.push_back({margin, ly, margin + legendW, ly + legendHeight(*it, u)});
        ly -= 10 * u;
    }
    if (!c.caption.empty() || !c.stopInfo.empty()) {
        float cs = 2.4f * u, is = 1.5f * u;
        float w = std::max(Hud::textWidth(c.caption, cs, true), Hud::textWidth(c.stopInfo, is)) + 2 * pad;
        float h = pad + (c.caption.empty() ? 0 : Hud::textHeight(cs)) + (c.stopInfo.empty() ? 0 : Hud::textHeight(is) + 2 * u) + pad;
        float x0 = std::max(margin + legendW + 12 * u, width / 2.0f - w / 2);
        if (x0 + w > width - margin) x0 = width / 2.0f - w / 2; // narrow pictures: centre over everything
        box(x0, bottom - h, x0 + w, bottom, panel);
        float ty = bottom - h + pad;
        if (!c.stopInfo.empty()) {
            hud.text(x0 + pad, ty, c.stopInfo, rgba(60, 64, 70), is);
            ty += Hud::textHeight(is) + 2 * u;
        }
        if (!c.caption.empty()) hud.text(x0 + pad, ty, c.caption, ink, cs, true);
    }

    // Place labels last, where they cover neither each other nor a panel.
    float labelS = 1.6f * u;
    for (const PlacedLabel& l : placeLabels(c.labels, camera, width, height, labelS, panels)) {
        hud.rect(l.px - 3 * u, l.py - 3 * u, l.px + 3 * u, l.py + 3 * u, ink);
        hud.rect(l.box.x0, l.box.y0, l.box.x1, l.box.y1, rgba(255, 255, 255, 210));
        hud.text(l.box.x0 + 4 * labelS / 2, l.box.y0 + 4 * labelS / 2, c.labels[l.index].text.get(), ink, labelS, true);
    }
}

} // namespace ct::ui
