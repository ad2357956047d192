#pragma once
// The interactive viewer: a GLFW window with the city in 3D, a mouse/keyboard camera,
// picking through Bullet, and ImGui panels (menu, layers, legend, inspector, time, statistics).
#include "render/Camera.h"
#include "render/Overlays.h"
#include "ui/CityScene.h"

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
    // A grid per time (seconds after the scenario's start), e.g. flood depth snapshots: the
    // time controls show the latest one at or before the current time.
    std::vector<std::pair<double, render::GridOverlay>> gridSeries;
    SceneOptions sceneOptions;        // for File → Open
    // Run the scenario's modules while viewing (water spreads as the clock runs); the
    // variant (with the edits) instead of the baseline if asked.
    bool live = false;
    bool liveVariant = false;
};

// Runs until the window closes; returns the exit code (non-zero if validation reported
// anything while it was on). Throws InputError when no display is available.
int runViewer(CityScene scene, const ViewerOptions& options);

} // namespace ct::ui
