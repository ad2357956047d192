#include "render/Offscreen.h"

#include <cstring>
#include <stb_image_write.h>
#include <stdexcept>

namespace ct::render {

void Picture::writePng(const std::filesystem::path& file) const {
    if (!stbi_write_png(file.c_str(), width, height, 4, rgba.data(), width * 4))
        throw std::runtime_error("could not write " + file.string() + " (folder missing or not writable?)");
}

OffscreenTarget::OffscreenTarget(VulkanContext& ctx, Renderer& renderer, uint32_t width, uint32_t height)
    : ctx_(ctx), renderer_(renderer), extent_{width, height} {
    VkDevice d = ctx.device();
    color_ = ctx.createImage(extent_, colorFormat, VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                             VK_IMAGE_ASPECT_COLOR_BIT);
    depth_ = ctx.createImage(extent_, Renderer::depthFormat, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT, VK_IMAGE_ASPECT_DEPTH_BIT);
    VkImageView views[2] = {color_.view, depth_.view};
    VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fci.renderPass = renderer.renderPass();
    fci.attachmentCount = 2;
    fci.pAttachments = views;
    fci.width = width;
    fci.height = height;
    fci.layers = 1;
    vkCheck(vkCreateFramebuffer(d, &fci, nullptr, &framebuffer_), "vkCreateFramebuffer");
    readback_ = ctx.createBuffer(VkDeviceSize(width) * height * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT, true);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = ctx.commandPool();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vkCheck(vkAllocateCommandBuffers(d, &ai, &cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vkCheck(vkCreateFence(d, &fi, nullptr, &fence_), "vkCreateFence");
}

OffscreenTarget::~OffscreenTarget() {
    VkDevice d = ctx_.device();
    vkDeviceWaitIdle(d);
    vkDestroyFence(d, fence_, nullptr);
    vkFreeCommandBuffers(d, ctx_.commandPool(), 1, &cmd_);
    vkDestroyFramebuffer(d, framebuffer_, nullptr);
    ctx_.destroy(readback_);
    ctx_.destroy(color_);
    ctx_.destroy(depth_);
}

FrameStats OffscreenTarget::submit(const Camera& camera, const RenderSettings& settings, const Hud* hud, bool readBack) {
    VkDevice d = ctx_.device();
    vkCheck(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkCheck(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    FrameStats stats = renderer_.record(cmd_, 0, framebuffer_, extent_, camera, settings, hud);
    if (readBack) {
        // The render pass left the image in TRANSFER_SRC_OPTIMAL (its external dependency
        // orders the copy after the colour writes).
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {extent_.width, extent_.height, 1};
        vkCmdCopyImageToBuffer(cmd_, color_.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback_.buffer, 1, &region);
        VkBufferMemoryBarrier b{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
        b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        b.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        b.buffer = readback_.buffer;
        b.size = VK_WHOLE_SIZE;
        vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &b, 0, nullptr);
    }
    vkCheck(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    vkCheck(vkQueueSubmit(ctx_.queue(), 1, &si, fence_), "vkQueueSubmit");
    vkCheck(vkWaitForFences(d, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    vkCheck(vkResetFences(d, 1, &fence_), "vkResetFences");
    return stats;
}

FrameStats OffscreenTarget::draw(const Camera& camera, const RenderSettings& settings, const Hud* hud) {
    return submit(camera, settings, hud, false);
}

Picture OffscreenTarget::render(const Camera& camera, const RenderSettings& settings, const Hud* hud, FrameStats* stats) {
    FrameStats s = submit(camera, settings, hud, true);
    if (stats) *stats = s;
    Picture p;
    p.width = int(extent_.width);
    p.height = int(extent_.height);
    p.rgba.resize(size_t(p.width) * p.height * 4);
    std::memcpy(p.rgba.data(), readback_.mapped, p.rgba.size());
    for (size_t i = 3; i < p.rgba.size(); i += 4) p.rgba[i] = 255; // opaque picture
    return p;
}

} // namespace ct::render
