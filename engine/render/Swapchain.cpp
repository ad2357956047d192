#include "render/Swapchain.h"

#include <algorithm>
#include <stdexcept>

namespace ct::render {

VkSurfaceFormatKHR Swapchain::chooseFormat(VulkanContext& ctx) {
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(ctx.physicalDevice(), ctx.surface(), &n, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(n);
    vkGetPhysicalDeviceSurfaceFormatsKHR(ctx.physicalDevice(), ctx.surface(), &n, formats.data());
    if (formats.empty()) throw std::runtime_error("the window surface offers no formats");
    // UNORM: the shaders encode gamma themselves, and ImGui's colours are meant unconverted.
    for (auto want : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM})
        for (const auto& f : formats)
            if (f.format == want && f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) return f;
    return formats[0];
}

Swapchain::Swapchain(VulkanContext& ctx, VkRenderPass pass, VkFormat format, VkExtent2D size, bool vsync)
    : ctx_(ctx), pass_(pass), format_(format) {
    create(size, vsync);
}

Swapchain::~Swapchain() {
    vkDeviceWaitIdle(ctx_.device());
    destroy();
    vkDestroySwapchainKHR(ctx_.device(), swapchain_, nullptr);
}

void Swapchain::recreate(VkExtent2D size, bool vsync) {
    vkDeviceWaitIdle(ctx_.device());
    destroy();
    create(size, vsync);
}

void Swapchain::destroy() {
    for (auto fb : framebuffers_) vkDestroyFramebuffer(ctx_.device(), fb, nullptr);
    for (auto v : views_) vkDestroyImageView(ctx_.device(), v, nullptr);
    framebuffers_.clear();
    views_.clear();
    ctx_.destroy(depth_);
}

void Swapchain::create(VkExtent2D size, bool vsync) {
    VkDevice d = ctx_.device();
    VkSurfaceCapabilitiesKHR caps;
    vkCheck(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(ctx_.physicalDevice(), ctx_.surface(), &caps), "surface capabilities");
    if (caps.currentExtent.width != UINT32_MAX) extent_ = caps.currentExtent;
    else
        extent_ = {std::clamp(size.width, caps.minImageExtent.width, caps.maxImageExtent.width),
                   std::clamp(size.height, caps.minImageExtent.height, caps.maxImageExtent.height)};
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfacePresentModesKHR(ctx_.physicalDevice(), ctx_.surface(), &n, nullptr);
    std::vector<VkPresentModeKHR> modes(n);
    vkGetPhysicalDeviceSurfacePresentModesKHR(ctx_.physicalDevice(), ctx_.surface(), &n, modes.data());
    VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR; // always available
    if (!vsync)
        for (auto want : {VK_PRESENT_MODE_MAILBOX_KHR, VK_PRESENT_MODE_IMMEDIATE_KHR})
            if (std::find(modes.begin(), modes.end(), want) != modes.end()) {
                mode = want;
                break;
            }
    uint32_t count = std::max(caps.minImageCount + 1, 3u);
    if (caps.maxImageCount > 0) count = std::min(count, caps.maxImageCount);
    VkSwapchainCreateInfoKHR sci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    sci.surface = ctx_.surface();
    sci.minImageCount = count;
    sci.imageFormat = format_;
    sci.imageColorSpace = VK_COLOR_SPACE_SRGB_NONLINEAR_KHR;
    sci.imageExtent = extent_;
    sci.imageArrayLayers = 1;
    sci.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    sci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    sci.preTransform = caps.currentTransform;
    sci.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR) ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                                                                                          : VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
    sci.presentMode = mode;
    sci.clipped = VK_TRUE;
    VkSwapchainKHR old = swapchain_;
    sci.oldSwapchain = old;
    vkCheck(vkCreateSwapchainKHR(d, &sci, nullptr, &swapchain_), "vkCreateSwapchainKHR");
    if (old) vkDestroySwapchainKHR(d, old, nullptr);
    vkGetSwapchainImagesKHR(d, swapchain_, &n, nullptr);
    images_.resize(n);
    vkGetSwapchainImagesKHR(d, swapchain_, &n, images_.data());
    depth_ = ctx_.createImage(extent_, Renderer::depthFormat, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT, VK_IMAGE_ASPECT_DEPTH_BIT);
    for (VkImage im : images_) {
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = im;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = format_;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView v;
        vkCheck(vkCreateImageView(d, &vci, nullptr, &v), "vkCreateImageView");
        views_.push_back(v);
        VkImageView att[2] = {v, depth_.view};
        VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fci.renderPass = pass_;
        fci.attachmentCount = 2;
        fci.pAttachments = att;
        fci.width = extent_.width;
        fci.height = extent_.height;
        fci.layers = 1;
        VkFramebuffer fb;
        vkCheck(vkCreateFramebuffer(d, &fci, nullptr, &fb), "vkCreateFramebuffer");
        framebuffers_.push_back(fb);
    }
}

} // namespace ct::render
