#pragma once
// The Vulkan device every render target shares: instance (with the validation layer when
// asked), the physical device (a discrete GPU preferred, or forced), one graphics queue, and
// the few buffer/image helpers the renderer needs. Vulkan 1.2; runs on Mesa lavapipe.
#include <vulkan/vulkan.h>

#include <atomic>
#include <mutex>
#include <functional>
#include <string>
#include <vector>

namespace ct::render {

// Throws std::runtime_error naming the call when a Vulkan call fails.
void vkCheck(VkResult result, const char* what);

struct ContextOptions {
    // Enable VK_LAYER_KHRONOS_validation and count every warning/error it reports.
    // Default: the environment variable CITYTWIN_VK_VALIDATION=1.
    bool validation = false;
    // Force a device: its index in the list or a part of its name ("llvmpipe", "NVIDIA").
    // Default: the environment variable CITYTWIN_GPU; else a discrete GPU, else the first.
    std::string device;
    std::vector<std::string> instanceExtensions; // e.g. from glfwGetRequiredInstanceExtensions
    // For a window: makes the surface once the instance exists; the queue must present to it.
    std::function<VkSurfaceKHR(VkInstance)> makeSurface;
};

struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    void* mapped = nullptr; // host-visible buffers stay mapped
};

struct Image {
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
    VkFormat format = VK_FORMAT_UNDEFINED;
    VkExtent2D extent{};
};

class VulkanContext {
public:
    explicit VulkanContext(const ContextOptions& options = {});
    ~VulkanContext();
    VulkanContext(const VulkanContext&) = delete;
    VulkanContext& operator=(const VulkanContext&) = delete;

    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physicalDevice() const { return physical_; }
    VkDevice device() const { return device_; }
    VkQueue queue() const { return queue_; }
    uint32_t queueFamily() const { return queueFamily_; }
    VkSurfaceKHR surface() const { return surface_; }
    const std::string& deviceName() const { return deviceName_; }
    bool isCpuDevice() const { return cpuDevice_; }
    const VkPhysicalDeviceProperties& properties() const { return properties_; }

    // Validation messages (warnings and errors) reported so far; the last one's text.
    size_t validationMessages() const { return validationMessages_.load(); }
    std::string lastValidationMessage() const;
    bool validationEnabled() const { return validation_; }

    Buffer createBuffer(VkDeviceSize size, VkBufferUsageFlags usage, bool hostVisible);
    // A device-local buffer filled through a staging buffer.
    Buffer createDeviceBuffer(const void* data, VkDeviceSize size, VkBufferUsageFlags usage);
    void destroy(Buffer& buffer);
    Image createImage(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage, VkImageAspectFlags aspect);
    void destroy(Image& image);
    // Records into a one-time command buffer, submits and waits.
    void submitNow(const std::function<void(VkCommandBuffer)>& record);
    // Copies tightly packed pixels into an image (layout UNDEFINED → SHADER_READ_ONLY).
    void uploadImage(Image& image, const void* pixels, VkDeviceSize bytes);

    VkDeviceSize deviceLocalBytes() const { return deviceLocalBytes_; } // what we allocated
    VkCommandPool commandPool() const { return pool_; }

private:
    uint32_t memoryType(uint32_t typeBits, VkMemoryPropertyFlags flags) const;
    static VKAPI_ATTR VkBool32 VKAPI_CALL onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT type,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkPhysicalDeviceProperties properties_{};
    VkPhysicalDeviceMemoryProperties memory_{};
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queueFamily_ = 0;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    std::string deviceName_;
    bool cpuDevice_ = false;
    bool validation_ = false;
    std::atomic<size_t> validationMessages_{0};
    mutable std::mutex messageMutex_;
    std::string lastMessage_;
    VkDeviceSize deviceLocalBytes_ = 0;
};

} // namespace ct::render
