#pragma once
// What a council sees on top of the city, the same in the viewer's presentation mode, in
// stills and in tour videos: title, caption, legends, simulation clock, scale bar, north arrow,
// place labels (decluttered), the before/after divider with its names, and a hint line. All
// sizes follow the picture height, so a 4K still reads like a 1080p one.
#include "core/SimClock.h"
#include "render/Camera.h"
#include "render/Hud.h"
#include "render/Overlays.h"
#include "ui/Tour.h"

#include <optional>
#include <string>
#include <vector>

namespace ct::ui {

struct OverlayContent {
    std::string title, subtitle, caption; // in the current language already
    std::string stopInfo;                 // e.g. "Station 2 von 5"
    std::vector<render::ColorScale> legends; // titles are translated when drawn
    std::optional<Instant> clock;         // simulation date and time
    std::optional<double> elapsedS;       // simulation time since the start
    std::optional<float> splitAtPx;       // before/after divider
    std::string leftName, rightName;      // "heute" | "mit Schutzwand"
    std::vector<PlaceLabel> labels;
    bool scaleBar = true, northArrow = true;
    std::string hint;                     // bottom line, e.g. how to leave the presentation
};

// Draws the overlay for a picture of width × height seen by `camera`; `groundZ` is the
// typical terrain height (for the scale bar).
void drawOverlay(render::Hud& hud, const OverlayContent& content, const render::Camera& camera, int width, int height,
                 double groundZ);

// "2 h 30 min", "45 min", "30 s" (localised numbers).
std::string formatElapsed(double seconds);

// Picks labels that fit on screen without overlapping each other or the `taken` boxes (the
// overlay's panels), in the given order (first = most important).
struct ScreenBox {
    float x0, y0, x1, y1;
    bool overlaps(const ScreenBox& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};
struct PlacedLabel {
    size_t index;
    ScreenBox box;
    float px, py; // the place itself
};
std::vector<PlacedLabel> placeLabels(const std::vector<PlaceLabel>& labels, const render::Camera& camera, int width, int height,
                                     float textScale, const std::vector<ScreenBox>& taken = {});

} // namespace ct::ui
