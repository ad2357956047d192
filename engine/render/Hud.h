#pragma once
// Screen-space 2D drawing for headless pictures: anti-aliased text (DejaVu Sans from a
// distance-field atlas, render/Font.h), filled rectangles and triangles, and marker labels.
// Pixel coordinates, top-left origin. What a presentation puts on top (title, legend, clock,
// scale bar) is composed from these in ui/Presentation.
#include "render/Overlays.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ct::render {

struct HudVertex {
    float x, y; // pixels
    float u, v; // font atlas coordinates; (0, 0) is an opaque texel, for solid shapes
    uint32_t rgba;
};

class Hud {
public:
    void rect(float x0, float y0, float x1, float y1, uint32_t rgba);
    void triangle(const Vec2& a, const Vec2& b, const Vec2& c, uint32_t rgba);
    // UTF-8 text with the top-left corner of its line box at (x, y); lines are textHeight(scale)
    // apart ('\n' starts one), capitals about 7.5 × scale pixels tall. Characters the font
    // atlas lacks are drawn as '?'. Throws std::runtime_error if the font file is missing.
    void text(float x, float y, const std::string& text, uint32_t rgba, float scale = 2, bool bold = false);
    // The pen's advance over the longest line (kerning included).
    static float textWidth(const std::string& text, float scale = 2, bool bold = false);
    static float textHeight(float scale = 2) { return 12 * scale; }
    // A label box next to a screen point.
    void label(float px, float py, const std::string& text);

    const std::vector<HudVertex>& vertices() const { return vertices_; }
    bool empty() const { return vertices_.empty(); }

private:
    std::vector<HudVertex> vertices_;
};

} // namespace ct::render
