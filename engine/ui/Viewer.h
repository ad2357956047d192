#pragma once
// The interactive viewer: a GLFW window with the city in 3D, a mouse/keyboard camera,
// picking through Bullet, ImGui panels (menu, layers, legend, inspector, time, statistics),
// the before/after split view, and presentation mode (full screen tours for a council).
#include "render/Camera.h"
#include "render/Overlays.h"
#include "ui/CityScene.h"
#include "ui/Tour.h"

#include <filesystem>
#include <optional>
#include <string>

namespace ct::ui {

struct ViewerOptions {
    uint32_t width = 1600, height = 900;
    bool vsync = true;
    bool validation = false;
    std::string gpu;
    int exitAfterFrames = 0;          // > 0: close after that many frames (tests); from 4 frames on,
                                      // the window is resized to 3/4 halfway through
    std::filesystem::path screenshot; // with exitAfterFrames: the last frame is saved here
    std::optional<render::Camera> camera;
    std::optional<render::GridOverlay> grid;
    // A run's output folder: its flood depth over time (interpolated between snapshots) with
    // the time controls, baseline and variant side by side in the split view.
    std::filesystem::path results;
    std::optional<Tour> tour;         // bookmarks and the presentation tour
    bool present = false;             // start in presentation mode (full screen, no panels)
    std::string colorBy;              // buildings coloured by a city attribute or a result field
    SceneOptions sceneOptions;        // for File → Open
    // Run the scenario's modules while viewing (water spreads as the clock runs); the
    // variant (with the edits) instead of the baseline if asked.
    bool live = false;
    bool liveVariant = false;
    // Run the scenario's live feeds (its `feeds:` list) while viewing: the plugins write
    // DIR/feeds/sensors.sqlite and the Feeds panel shows their status.
    bool feeds = false;
};

// Runs until the window closes; returns the exit code (non-zero if validation reported
// anything while it was on). Throws InputError when no display is available.
int runViewer(CityScene scene, const ViewerOptions& options);

} // namespace ct::ui
