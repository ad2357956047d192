#include "render/Hud.h"

#include "render/Font.h"

#include <algorithm>
#include <cmath>

namespace ct::render {

void Hud::rect(float x0, float y0, float x1, float y1, uint32_t rgba) {
    vertices_.insert(vertices_.end(), {{x0, y0, 0, 0, rgba}, {x1, y0, 0, 0, rgba}, {x1, y1, 0, 0, rgba},
                                       {x0, y0, 0, 0, rgba}, {x1, y1, 0, 0, rgba}, {x0, y1, 0, 0, rgba}});
}

void Hud::triangle(const Vec2& a, const Vec2& b, const Vec2& c, uint32_t rgba) {
    for (const Vec2* p : {&a, &b, &c}) vertices_.push_back({float(p->x()), float(p->y()), 0, 0, rgba});
}

void Hud::text(float x, float y, const std::string& s, uint32_t rgba, float scale, bool bold) {
    const FontAtlas& font = FontAtlas::shared();
    const float k = textHeight(scale) / FontAtlas::lineHeightPx; // screen pixels per atlas pixel
    // The baseline on a whole pixel: horizontal stems stay equally sharp in every line.
    float pen = x, baseline = std::round(y + font.ascent(bold) * k);
    char32_t previous = 0;
    for (char32_t c : decodeUtf8(s)) {
        if (c == U'\n') {
            pen = x, baseline += textHeight(scale), previous = 0;
            continue;
        }
        if (previous) pen += font.kerning(previous, c, bold) * k;
        const Glyph& g = font.glyph(c, bold);
        if (g.x1 > g.x0) {
            float x0 = pen + g.x0 * k, y0 = baseline + g.y0 * k, x1 = pen + g.x1 * k, y1 = baseline + g.y1 * k;
            vertices_.insert(vertices_.end(), {{x0, y0, g.u0, g.v0, rgba}, {x1, y0, g.u1, g.v0, rgba}, {x1, y1, g.u1, g.v1, rgba},
                                               {x0, y0, g.u0, g.v0, rgba}, {x1, y1, g.u1, g.v1, rgba}, {x0, y1, g.u0, g.v1, rgba}});
        }
        pen += g.advance * k;
        previous = c;
    }
}

float Hud::textWidth(const std::string& s, float scale, bool bold) {
    const FontAtlas& font = FontAtlas::shared();
    float widest = 0, line = 0;
    char32_t previous = 0;
    for (char32_t c : decodeUtf8(s)) {
        if (c == U'\n') {
            line = 0, previous = 0;
            continue;
        }
        if (previous) line += font.kerning(previous, c, bold);
        line += font.glyph(c, bold).advance;
        widest = std::max(widest, line);
        previous = c;
    }
    return widest * textHeight(scale) / FontAtlas::lineHeightPx;
}

void Hud::label(float px, float py, const std::string& s) {
    float w = textWidth(s) + 8, h = textHeight(2) + 4;
    float x = px + 10, y = py - h / 2;
    rect(x, y, x + w, y + h, rgba(255, 255, 255, 215));
    text(x + 4, y + 4, s, rgba(15, 15, 15));
}

} // namespace ct::render
