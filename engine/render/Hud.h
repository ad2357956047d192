#pragma once
// Screen-space 2D drawing for headless pictures: text (stb_easy_font's bitmap font), filled
// rectangles, colour-map legends and marker labels. Pixel coordinates, top-left origin.
#include "render/Overlays.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ct::render {

struct HudVertex {
    float x, y;
    uint32_t rgba;
};

class Hud {
public:
    void rect(float x0, float y0, float x1, float y1, uint32_t rgba);
    // Text with its top-left corner at (x, y); `scale` 1 = 7 px capitals. ASCII only
    // (other bytes are drawn as '?').
    void text(float x, float y, const std::string& text, uint32_t rgba, float scale = 2);
    static float textWidth(const std::string& text, float scale = 2);
    static float textHeight(float scale = 2) { return 12 * scale; }
    // Title, a horizontal colour bar with min/max ticks and the unit, on a light box.
    void legend(const ColorScale& scale, float x, float y, float width);
    // A label box next to a screen point.
    void label(float px, float py, const std::string& text);

    const std::vector<HudVertex>& vertices() const { return vertices_; }
    bool empty() const { return vertices_.empty(); }

private:
    std::vector<HudVertex> vertices_;
};

} // namespace ct::render
