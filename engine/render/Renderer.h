#pragma once
// Draws the city and its overlays into a render pass the caller's target provides
// (a swapchain image or an offscreen image): sky, terrain (by level of detail), buildings,
// roads, water, a draped scalar grid, per-object colours, agents, markers, an optional shadow
// map, and a 2D HUD; optionally two overlay sets side by side (split view). Static geometry
// sits in device-local buffers, one draw per chunk and layer, chunks outside the view frustum
// skipped.
#include "city/CityMesh.h"
#include "core/SimClock.h"
#include "render/Camera.h"
#include "render/Hud.h"
#include "render/Overlays.h"
#include "render/Sun.h"
#include "render/Vk.h"

#include <functional>
#include <memory>
#include <optional>

namespace ct::render {

struct LayerVisibility {
    bool terrain = true, buildings = true, roads = true, water = true;
    bool grid = true, agents = true, markers = true;
};

struct Selection {
    MeshLayer layer = MeshLayer::Buildings;
    uint32_t objectId = 0;
};

// Overlays come in two sets for a before/after split view (RenderSettings::splitAtPx); without
// a split only Left's are drawn.
enum class Side { Left = 0, Right = 1 };

struct RenderSettings {
    LayerVisibility show;
    bool shadows = false;
    bool hillshade = true;
    Instant time{1782036000, 120}; // 2026-06-21 12:00 CEST unless the scenario says otherwise
    std::optional<SunPosition> sun; // overrides the sun from `time`
    std::optional<Selection> selection;
    float markerSizePx = 7;
    // > 1: finer terrain further away (heights within 0.5 / terrainDetail pixels of the finest
    // level's, triangle edges under 12 / terrainDetail pixels).
    float terrainDetail = 1;
    // Buildings far enough away are drawn at their chunk's coarse level (footprints as enclosing
    // rectangles, see CityMesh.h) where its error stays under this many pixels; 0: always fine.
    float buildingCoarsePx = 1;
    // Without shadows, buildings that are convex four-cornered prisms with a flat roof (at the
    // level drawn) are drawn as one point each where the chunk is wholly in view and its largest
    // box spans at most this many pixels at the chunk's nearest point: a sprite in which the
    // fragment shader intersects the view ray with the box, so the same pixels as its triangles
    // up to rounding. Larger sprites cost more than their triangles on lavapipe (each of their
    // pixels is shaded before the depth test: measured in docs/benchmarks.md). 0: always
    // triangles (the reference).
    float buildingBoxesPx = 8;
    // … and only where a frame would draw at least this many that way: a few hundred measured a
    // loss against their triangles on lavapipe, tens of thousands a gain (docs/benchmarks.md).
    uint32_t buildingBoxesMinCount = 5000;
    // Split view: pixel columns left of round(splitAtPx) show the city with the Left overlays,
    // the rest with the Right ones (same camera, sun and shadows); sky, agents, markers and
    // HUD cover the whole frame. No divider is drawn.
    std::optional<float> splitAtPx;
    // Without shadows, light buildings, roads and terrain drawn a few pixels per triangle per
    // vertex instead of per pixel (the same picture up to rounding; off: the reference).
    bool vertexLighting = true;
    // The shadow map from the casters' faces turned towards the sun only: the faces turned away
    // lie behind them as the sun sees it, so the map is the same but for texels exactly on a
    // silhouette edge (off: both sides, the reference).
    bool shadowFromSunFacingFaces = true;
    // Terrain chunks holding water: the quads without a water vertex drawn with the land shader,
    // only the others with the water shader (its reflection is costly per pixel on a CPU device;
    // off: the whole chunk with the water shader, the reference).
    bool waterShaderOnWaterQuadsOnly = true;
    // The sky drawn only on the part of the screen where it is more than the plain ground tone
    // below the horizon, the frame cleared to that tone elsewhere (the same picture; off: the
    // sky over the whole screen, the reference).
    bool skyAboveGroundLineOnly = true;
};

struct FrameStats {
    uint32_t drawCalls = 0;
    uint64_t triangles = 0;
    uint32_t chunksDrawn = 0, chunksCulled = 0;
    uint64_t buildingBoxes = 0; // far buildings drawn as points (RenderSettings::buildingBoxesPx)
};

class Renderer {
public:
    static constexpr int framesInFlight = 2;
    static constexpr VkFormat depthFormat = VK_FORMAT_D32_SFLOAT;

    // `finalLayout`: PRESENT_SRC_KHR for a swapchain, TRANSFER_SRC_OPTIMAL for readback.
    Renderer(VulkanContext& context, VkFormat colorFormat, VkImageLayout finalLayout);
    ~Renderer();
    Renderer(const Renderer&) = delete;
    Renderer& operator=(const Renderer&) = delete;

    // Uploads the city (replaces any previous one). lat/lon place the sun.
    void setCity(const CityMesh& mesh, double latDeg, double lonDeg);
    // Overlays, per side of a split view; nullptr / empty clears. Each waits for the GPU, so
    // call between frames.
    void setGrid(const GridOverlay* grid, Side side = Side::Left);
    void setGridOpacity(float opacity, Side side = Side::Left);
    void setBuildingValues(const ValueOverlay* values, Side side = Side::Left);
    void setRoadValues(const ValueOverlay* values, Side side = Side::Left);
    void setAgents(const std::vector<Agent>& agents);
    void setMarkers(const std::vector<Marker>& markers);

    VkRenderPass renderPass() const { return mainPass_; }
    // Records the frame: shadow pass (if on), then the main pass into `framebuffer`, with
    // `inPass` (e.g. ImGui) drawn last inside it. `frame` < framesInFlight picks per-frame data.
    FrameStats record(VkCommandBuffer cmd, int frame, VkFramebuffer framebuffer, VkExtent2D extent, const Camera& camera,
                      const RenderSettings& settings, const Hud* hud = nullptr,
                      const std::function<void(VkCommandBuffer)>& inPass = {});

    SunPosition sunFor(const RenderSettings& settings) const;
    uint64_t sceneTriangles() const { return sceneTriangles_; }
    std::array<float, 3> boundsMin() const { return boundsMin_; }
    std::array<float, 3> boundsMax() const { return boundsMax_; }

    struct Impl; // GPU objects (Renderer.cpp)

private:
    bool reserveStorage(Buffer& buffer, VkDeviceSize bytes);

    std::unique_ptr<Impl> impl_;
    VulkanContext& ctx_;
    VkRenderPass mainPass_ = VK_NULL_HANDLE;
    uint64_t sceneTriangles_ = 0;
    std::array<float, 3> boundsMin_{}, boundsMax_{};
};

} // namespace ct::render
