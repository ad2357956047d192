#pragma once
// A window's swapchain for the Renderer: images, depth buffer and framebuffers, recreated
// on resize; vsync on (FIFO) or off (MAILBOX, else IMMEDIATE).
#include "render/Renderer.h"

#include <vector>

namespace ct::render {

class Swapchain {
public:
    Swapchain(VulkanContext& context, VkRenderPass pass, VkFormat format, VkExtent2D size, bool vsync);
    ~Swapchain();
    Swapchain(const Swapchain&) = delete;
    Swapchain& operator=(const Swapchain&) = delete;

    // The surface format the renderer should be made with (B8G8R8A8_UNORM where offered).
    static VkSurfaceFormatKHR chooseFormat(VulkanContext& context);
    void recreate(VkExtent2D size, bool vsync);

    VkSwapchainKHR handle() const { return swapchain_; }
    VkExtent2D extent() const { return extent_; }
    VkFormat format() const { return format_; }
    uint32_t imageCount() const { return uint32_t(images_.size()); }
    VkImage image(uint32_t i) const { return images_[i]; }
    VkFramebuffer framebuffer(uint32_t i) const { return framebuffers_[i]; }

private:
    void create(VkExtent2D size, bool vsync);
    void destroy();

    VulkanContext& ctx_;
    VkRenderPass pass_;
    VkFormat format_;
    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkExtent2D extent_{};
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkFramebuffer> framebuffers_;
    Image depth_;
};

} // namespace ct::render
