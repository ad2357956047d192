#include "render/Hud.h"

#include <cmath>
#include <fmt/format.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace ct::render {

namespace {
std::string asciiOnly(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) out += static_cast<char>(c);
        else if ((c & 0xC0) != 0x80) out += '?'; // one '?' per UTF-8 character
    }
    return out;
}

std::string formatValue(float v) {
    float a = std::abs(v);
    if (a >= 100 || v == std::round(v)) return fmt::format("{:.0f}", v);
    if (a >= 10) return fmt::format("{:.1f}", v);
    return fmt::format("{:.2f}", v);
}
} // namespace

void Hud::rect(float x0, float y0, float x1, float y1, uint32_t rgba) {
    vertices_.insert(vertices_.end(), {{x0, y0, rgba}, {x1, y0, rgba}, {x1, y1, rgba}, {x0, y0, rgba}, {x1, y1, rgba}, {x0, y1, rgba}});
}

void Hud::text(float x, float y, const std::string& s, uint32_t rgba, float scale) {
    std::string t = asciiOnly(s);
    // stb_easy_font writes quads of 4 vertices (x, y, z, colour) — 16 bytes each.
    std::vector<char> buffer(t.size() * 270 + 1024);
    int quads = stb_easy_font_print(0, 0, t.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
    const float* v = reinterpret_cast<const float*>(buffer.data());
    for (int q = 0; q < quads; ++q) {
        const float* p = v + q * 16;
        float ax = x + p[0] * scale, ay = y + p[1] * scale, bx = x + p[8] * scale, by = y + p[9] * scale;
        rect(ax, ay, bx, by, rgba);
    }
}

float Hud::textWidth(const std::string& s, float scale) {
    std::string t = asciiOnly(s);
    return static_cast<float>(stb_easy_font_width(t.data())) * scale;
}

void Hud::legend(const ColorScale& scale, float x, float y, float width) {
    const float pad = 10, barH = 18, textH = textHeight(2);
    std::string title = scale.unit.empty() ? scale.title : fmt::format("{} [{}]", scale.title, scale.unit);
    float h = pad + textH + 6 + barH + 6 + textH + pad;
    rect(x, y, x + width, y + h, rgba(255, 255, 255, 225));
    text(x + pad, y + pad, title, rgba(20, 20, 20));
    float by = y + pad + textH + 6, bx0 = x + pad, bw = width - 2 * pad;
    const int steps = 64;
    for (int i = 0; i < steps; ++i) {
        uint32_t c = sampleColorMap(scale.map, (i + 0.5) / steps);
        rect(bx0 + bw * i / steps, by, bx0 + bw * (i + 1) / steps, by + barH, c);
    }
    std::string lo = formatValue(scale.min), hi = formatValue(scale.max);
    text(bx0, by + barH + 6, lo, rgba(20, 20, 20));
    text(bx0 + bw - textWidth(hi), by + barH + 6, hi, rgba(20, 20, 20));
}

void Hud::label(float px, float py, const std::string& s) {
    float w = textWidth(s) + 8, h = textHeight(2) + 4;
    float x = px + 10, y = py - h / 2;
    rect(x, y, x + w, y + h, rgba(255, 255, 255, 215));
    text(x + 4, y + 4, s, rgba(15, 15, 15));
}

} // namespace ct::render
