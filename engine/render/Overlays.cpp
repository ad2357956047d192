#include "render/Overlays.h"

#include <algorithm>
#include <cmath>

namespace ct::render {

const char* toString(ColorMap map) {
    switch (map) {
    case ColorMap::Water: return "water";
    case ColorMap::Viridis: return "viridis";
    case ColorMap::Inferno: return "inferno";
    case ColorMap::Traffic: return "traffic";
    case ColorMap::Diverging: return "diverging";
    case ColorMap::Volume: return "volume";
    case ColorMap::Categories: return "categories";
    }
    return "?";
}

namespace {

struct Stop {
    float t;
    uint8_t r, g, b;
};

// Control points, interpolated linearly in sRGB. Viridis/Inferno follow the published maps
// (van der Walt & Smith; matplotlib) at a few stops; Water goes light to deep blue; Traffic
// green → yellow → red (free flow to jam); Diverging blue → white → red for differences;
// Volume light yellow → dark red (ColorBrewer YlOrRd: how much, not how bad — counted flows).
const std::vector<Stop>& stops(ColorMap map) {
    static const std::vector<Stop> water{{0, 190, 230, 250}, {0.25f, 110, 190, 240}, {0.5f, 40, 130, 220}, {0.75f, 20, 70, 170}, {1, 10, 30, 110}};
    static const std::vector<Stop> viridis{{0, 68, 1, 84}, {0.25f, 59, 82, 139}, {0.5f, 33, 145, 140}, {0.75f, 94, 201, 98}, {1, 253, 231, 37}};
    static const std::vector<Stop> inferno{{0, 0, 0, 4}, {0.25f, 87, 16, 110}, {0.5f, 188, 55, 84}, {0.75f, 249, 142, 9}, {1, 252, 255, 164}};
    static const std::vector<Stop> traffic{{0, 26, 150, 65}, {0.5f, 250, 220, 50}, {0.8f, 240, 110, 30}, {1, 200, 20, 30}};
    static const std::vector<Stop> diverging{{0, 33, 102, 172}, {0.25f, 103, 169, 207}, {0.5f, 247, 247, 247}, {0.75f, 239, 138, 98}, {1, 178, 24, 43}};
    static const std::vector<Stop> volume{{0, 255, 255, 178}, {0.25f, 254, 204, 92}, {0.5f, 253, 141, 60}, {0.75f, 240, 59, 32}, {1, 189, 0, 38}};
    switch (map) {
    case ColorMap::Water: return water;
    case ColorMap::Viridis: return viridis;
    case ColorMap::Inferno: return inferno;
    case ColorMap::Traffic: return traffic;
    case ColorMap::Diverging: return diverging;
    case ColorMap::Volume: return volume;
    case ColorMap::Categories: break; // not blended: see sampleColorMap
    }
    return viridis;
}

// Ten classes told apart at a glance, in BuildingUse's order after the colours of German land-use
// plans (PlanZV): residential red, mixed brown, commercial and industrial greys, public
// magenta, religious violet, agricultural green, garages light grey, other blue, unknown pale.
constexpr std::array<std::array<uint8_t, 3>, 10> categoryColors{{{214, 76, 66},
                                                                  {176, 112, 52},
                                                                  {148, 148, 160},
                                                                  {92, 84, 112},
                                                                  {206, 82, 176},
                                                                  {128, 80, 190},
                                                                  {128, 178, 64},
                                                                  {206, 206, 196},
                                                                  {66, 142, 206},
                                                                  {238, 232, 200}}};

} // namespace

uint32_t sampleColorMap(ColorMap map, double t) {
    if (std::isnan(t)) t = 0;
    if (map == ColorMap::Categories) {
        const auto& c = categoryColors[size_t(std::clamp(int(std::floor(t * 10)), 0, 9))];
        return rgba(c[0], c[1], c[2]);
    }
    float x = static_cast<float>(std::clamp(t, 0.0, 1.0));
    const auto& s = stops(map);
    size_t i = 1;
    while (i + 1 < s.size() && s[i].t < x) ++i;
    const Stop &a = s[i - 1], &b = s[i];
    float f = (x - a.t) / (b.t - a.t);
    auto mix = [f](uint8_t p, uint8_t q) { return static_cast<uint8_t>(std::lround(p + (q - p) * f)); };
    return rgba(mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b));
}

ColorScale categoryScale(std::vector<std::string> names, std::string title) {
    ColorScale s{ColorMap::Categories, -0.5f, 9.5f, std::move(title), ""};
    s.categories = std::move(names);
    return s;
}

} // namespace ct::render
