#pragma once
// Headless rendering: an offscreen colour + depth image the Renderer draws into, read back
// as RGBA pixels. Needs no window and no display.
#include "render/Renderer.h"

#include <filesystem>
#include <vector>

namespace ct::render {

struct Picture {
    int width = 0, height = 0;
    std::vector<uint8_t> rgba; // rows top to bottom
    uint32_t at(int x, int y) const {
        const uint8_t* p = &rgba[(size_t(y) * width + x) * 4];
        return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
    }
    // Throws std::runtime_error if the file cannot be written.
    void writePng(const std::filesystem::path& file) const;
};

class OffscreenTarget {
public:
    static constexpr VkFormat colorFormat = VK_FORMAT_R8G8B8A8_UNORM;
    // `renderer` must have been made with colorFormat and TRANSFER_SRC_OPTIMAL.
    OffscreenTarget(VulkanContext& context, Renderer& renderer, uint32_t width, uint32_t height);
    ~OffscreenTarget();
    OffscreenTarget(const OffscreenTarget&) = delete;
    OffscreenTarget& operator=(const OffscreenTarget&) = delete;

    // Draws a frame and waits for it (no readback): for timing.
    FrameStats draw(const Camera& camera, const RenderSettings& settings, const Hud* hud = nullptr);
    // Draws a frame and reads it back.
    Picture render(const Camera& camera, const RenderSettings& settings, const Hud* hud = nullptr, FrameStats* stats = nullptr);
    VkExtent2D extent() const { return extent_; }

private:
    FrameStats submit(const Camera& camera, const RenderSettings& settings, const Hud* hud, bool readBack);

    VulkanContext& ctx_;
    Renderer& renderer_;
    VkExtent2D extent_;
    Image color_, depth_;
    VkFramebuffer framebuffer_ = VK_NULL_HANDLE;
    Buffer readback_;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
};

} // namespace ct::render
