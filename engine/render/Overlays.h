#pragma once
// What simulations show on the city, as plain data (no Vulkan): a scalar grid draped on the
// terrain, values per building or per road edge, moving agents and point markers. The viewer
// and `citytwin render` turn module snapshots into these; the Renderer draws them.
#include "core/Geometry.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace ct::render {

// Categories: ten distinct colours, not blended; t in [k/10, (k+1)/10) is colour k.
enum class ColorMap { Water, Viridis, Inferno, Traffic, Diverging, Volume, Categories };
const char* toString(ColorMap map);

// RGBA (R in the low byte) at t in [0, 1].
uint32_t sampleColorMap(ColorMap map, double t);

struct ColorScale {
    ColorScale(ColorMap map = ColorMap::Viridis, float min = 0, float max = 1, std::string title = {}, std::string unit = {})
        : map(map), min(min), max(max), title(std::move(title)), unit(std::move(unit)) {}
    ColorMap map;
    float min, max;              // values mapped to the ends of the colour map
    std::string title, unit;     // for the legend: "Max. water depth", "m"
    std::vector<std::string> categories; // named classes instead of a range: value k is categories[k]
    uint32_t colorOf(float value) const { return sampleColorMap(map, (value - min) / (max - min)); }
};
// The scale of up to ten named classes: class k takes the Categories map's colour k.
ColorScale categoryScale(std::vector<std::string> names, std::string title);

// A north-up grid (row 0 north) in the local frame, like flood depths.
struct GridOverlay {
    int width = 0, height = 0;
    double originX = 0, originY = 0; // local coordinates of the top-left (north-west) corner
    double cellSize = 1;
    std::vector<float> values;       // NaN = nothing to show
    ColorScale scale;
    float hideAtOrBelow = -std::numeric_limits<float>::infinity(); // e.g. 0.01 m: dry cells stay clear
    float opacity = 0.8f;
};

// One value per building or per road edge (NaN = draw the base colour).
struct ValueOverlay {
    std::vector<float> values;
    ColorScale scale;
};

struct Agent {
    float x = 0, y = 0, z = 0;   // ground point of the centre, local frame
    float headingRad = 0;        // 0 = east, counter-clockwise
    float length = 4.5f, width = 1.8f, height = 1.5f;
    uint32_t rgba = 0xff3050e0;
};

struct Marker {
    Vec3 position{0, 0, 0};
    uint32_t rgba = 0xff20a0ff;
    std::string label;
};

inline uint32_t rgba(uint8_t r, uint8_t g, uint8_t b, uint8_t a = 255) {
    return uint32_t(r) | uint32_t(g) << 8 | uint32_t(b) << 16 | uint32_t(a) << 24;
}

} // namespace ct::render
