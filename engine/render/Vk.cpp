#include "render/Vk.h"

#include "core/Log.h"

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

namespace ct::render {

void vkCheck(VkResult result, const char* what) {
    if (result != VK_SUCCESS) throw std::runtime_error(fmt::format("Vulkan: {} failed (VkResult {})", what, static_cast<int>(result)));
}

namespace {

bool envFlag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

bool hasLayer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    for (auto& l : layers)
        if (std::strcmp(l.layerName, name) == 0) return true;
    return false;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

} // namespace

VKAPI_ATTR VkBool32 VKAPI_CALL VulkanContext::onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT,
                                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
    auto* ctx = static_cast<VulkanContext*>(self);
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        ctx->validationMessages_++;
        std::lock_guard lock(ctx->messageMutex_);
        ctx->lastMessage_ = data->pMessage ? data->pMessage : "";
        spdlog::warn("Vulkan validation: {}", ctx->lastMessage_);
    }
    return VK_FALSE;
}

std::string VulkanContext::lastValidationMessage() const {
    std::lock_guard lock(messageMutex_);
    return lastMessage_;
}

VulkanContext::VulkanContext(const ContextOptions& options) {
    validation_ = options.validation || envFlag("CITYTWIN_VK_VALIDATION");
    const char* validationLayer = "VK_LAYER_KHRONOS_validation";
    if (validation_ && !hasLayer(validationLayer))
        throw std::runtime_error("Vulkan validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                                 "(Debian: apt-get install vulkan-validationlayers)");

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "citytwin";
    app.pEngineName = "citytwin";
    app.apiVersion = VK_API_VERSION_1_2;
    std::vector<const char*> extensions;
    for (auto& e : options.instanceExtensions) extensions.push_back(e.c_str());
    if (validation_) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    VkDebugUtilsMessengerCreateInfoEXT messengerInfo{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messengerInfo.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messengerInfo.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messengerInfo.pfnUserCallback = &VulkanContext::onMessage;
    messengerInfo.pUserData = this;

    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    ici.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ici.ppEnabledExtensionNames = extensions.data();
    if (validation_) {
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &validationLayer;
        ici.pNext = &messengerInfo; // also catches messages from instance creation itself
    }
    VkResult r = vkCreateInstance(&ici, nullptr, &instance_);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw std::runtime_error("no Vulkan driver found (Debian: apt-get install mesa-vulkan-drivers for the CPU "
                                 "driver lavapipe, or install your GPU's driver)");
    vkCheck(r, "vkCreateInstance");
    if (validation_) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        vkCheck(create(instance_, &messengerInfo, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
    if (options.makeSurface) surface_ = options.makeSurface(instance_);

    uint32_t count = 0;
    vkEnumeratePhysicalDevices(instance_, &count, nullptr);
    std::vector<VkPhysicalDevice> devices(count);
    vkEnumeratePhysicalDevices(instance_, &count, devices.data());
    if (devices.empty()) throw std::runtime_error("no Vulkan device found (Debian: apt-get install mesa-vulkan-drivers)");

    // A device is usable if one queue family does graphics (and presents to the surface).
    auto usableFamily = [&](VkPhysicalDevice d) -> int {
        uint32_t n = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(d, &n, nullptr);
        std::vector<VkQueueFamilyProperties> families(n);
        vkGetPhysicalDeviceQueueFamilyProperties(d, &n, families.data());
        for (uint32_t i = 0; i < n; ++i) {
            if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) continue;
            VkBool32 present = VK_TRUE;
            if (surface_) vkGetPhysicalDeviceSurfaceSupportKHR(d, i, surface_, &present);
            if (present) return static_cast<int>(i);
        }
        return -1;
    };
    std::string wanted = options.device;
    if (wanted.empty())
        if (const char* e = std::getenv("CITYTWIN_GPU")) wanted = e;
    int chosen = -1, bestScore = -1;
    std::string names;
    for (size_t i = 0; i < devices.size(); ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devices[i], &p);
        names += fmt::format("{}{}: {}", names.empty() ? "" : ", ", i, p.deviceName);
        if (usableFamily(devices[i]) < 0 || p.apiVersion < VK_API_VERSION_1_2) continue;
        int score = 0;
        if (!wanted.empty()) {
            bool match = wanted == std::to_string(i) || lower(p.deviceName).find(lower(wanted)) != std::string::npos;
            score = match ? 10 : -1;
        } else {
            score = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 4
                  : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                  : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 2;
        }
        if (score > bestScore) bestScore = score, chosen = static_cast<int>(i);
    }
    if (chosen < 0)
        throw std::runtime_error(wanted.empty() ? fmt::format("no Vulkan 1.2 device can draw{} (devices: {})",
                                                              surface_ ? " to this window" : "", names)
                                                : fmt::format("no usable Vulkan device matches '{}' (devices: {}); "
                                                              "set CITYTWIN_GPU to an index or a part of a name", wanted, names));
    physical_ = devices[static_cast<size_t>(chosen)];
    queueFamily_ = static_cast<uint32_t>(usableFamily(physical_));
    vkGetPhysicalDeviceProperties(physical_, &properties_);
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
    deviceName_ = properties_.deviceName;
    cpuDevice_ = properties_.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queueFamily_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    std::vector<const char*> deviceExtensions;
    if (surface_) deviceExtensions.push_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
    VkPhysicalDeviceFeatures features{};
    VkPhysicalDeviceFeatures available;
    vkGetPhysicalDeviceFeatures(physical_, &available);
    features.fillModeNonSolid = available.fillModeNonSolid;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = static_cast<uint32_t>(deviceExtensions.size());
    dci.ppEnabledExtensionNames = deviceExtensions.data();
    dci.pEnabledFeatures = &features;
    vkCheck(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, queueFamily_, 0, &queue_);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = queueFamily_;
    vkCheck(vkCreateCommandPool(device_, &pci, nullptr, &pool_), "vkCreateCommandPool");
    spdlog::info("Vulkan device: {}{}", deviceName_, validation_ ? " (validation on)" : "");
}

VulkanContext::~VulkanContext() {
    if (device_) {
        vkDeviceWaitIdle(device_);
        vkDestroyCommandPool(device_, pool_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
    if (surface_) vkDestroySurfaceKHR(instance_, surface_, nullptr);
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

uint32_t VulkanContext::memoryType(uint32_t typeBits, VkMemoryPropertyFlags flags) const {
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
        if ((typeBits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & flags) == flags) return i;
    throw std::runtime_error("Vulkan: no memory type with the needed properties");
}

Buffer VulkanContext::createBuffer(VkDeviceSize size, VkBufferUsageFlags usage, bool hostVisible) {
    Buffer b;
    b.size = size;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = size > 0 ? size : 16;
    bci.usage = usage;
    vkCheck(vkCreateBuffer(device_, &bci, nullptr, &b.buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, b.buffer, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = memoryType(req.memoryTypeBits, hostVisible ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                                                     : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    vkCheck(vkAllocateMemory(device_, &mai, nullptr, &b.memory), "vkAllocateMemory (buffer)");
    vkCheck(vkBindBufferMemory(device_, b.buffer, b.memory, 0), "vkBindBufferMemory");
    if (hostVisible) vkCheck(vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
    else deviceLocalBytes_ += req.size;
    return b;
}

Buffer VulkanContext::createDeviceBuffer(const void* data, VkDeviceSize size, VkBufferUsageFlags usage) {
    Buffer b = createBuffer(size, usage | VK_BUFFER_USAGE_TRANSFER_DST_BIT, false);
    if (size == 0) return b;
    Buffer staging = createBuffer(size, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true);
    std::memcpy(staging.mapped, data, size);
    submitNow([&](VkCommandBuffer cmd) {
        VkBufferCopy copy{0, 0, size};
        vkCmdCopyBuffer(cmd, staging.buffer, b.buffer, 1, &copy);
    });
    destroy(staging);
    return b;
}

void VulkanContext::destroy(Buffer& b) {
    if (!b.buffer) return;
    if (!b.mapped) {
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(device_, b.buffer, &req);
        deviceLocalBytes_ -= req.size;
    }
    vkDestroyBuffer(device_, b.buffer, nullptr);
    vkFreeMemory(device_, b.memory, nullptr);
    b = {};
}

Image VulkanContext::createImage(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage, VkImageAspectFlags aspect) {
    Image im;
    im.format = format;
    im.extent = extent;
    VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ici.imageType = VK_IMAGE_TYPE_2D;
    ici.format = format;
    ici.extent = {extent.width, extent.height, 1};
    ici.mipLevels = 1;
    ici.arrayLayers = 1;
    ici.samples = VK_SAMPLE_COUNT_1_BIT;
    ici.tiling = VK_IMAGE_TILING_OPTIMAL;
    ici.usage = usage;
    ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    vkCheck(vkCreateImage(device_, &ici, nullptr, &im.image), "vkCreateImage");
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(device_, im.image, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    vkCheck(vkAllocateMemory(device_, &mai, nullptr, &im.memory), "vkAllocateMemory (image)");
    vkCheck(vkBindImageMemory(device_, im.image, im.memory, 0), "vkBindImageMemory");
    deviceLocalBytes_ += req.size;
    VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vci.image = im.image;
    vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vci.format = format;
    vci.subresourceRange = {aspect, 0, 1, 0, 1};
    vkCheck(vkCreateImageView(device_, &vci, nullptr, &im.view), "vkCreateImageView");
    return im;
}

void VulkanContext::destroy(Image& im) {
    if (!im.image) return;
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(device_, im.image, &req);
    deviceLocalBytes_ -= req.size;
    vkDestroyImageView(device_, im.view, nullptr);
    vkDestroyImage(device_, im.image, nullptr);
    vkFreeMemory(device_, im.memory, nullptr);
    im = {};
}

void VulkanContext::submitNow(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd;
    vkCheck(vkAllocateCommandBuffers(device_, &ai, &cmd), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cmd, &bi);
    record(cmd);
    vkCheck(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    vkCheck(vkCreateFence(device_, &fci, nullptr, &fence), "vkCreateFence");
    vkCheck(vkQueueSubmit(queue_, 1, &si, fence), "vkQueueSubmit");
    vkCheck(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    vkDestroyFence(device_, fence, nullptr);
    vkFreeCommandBuffers(device_, pool_, 1, &cmd);
}

void VulkanContext::uploadImage(Image& image, const void* pixels, VkDeviceSize bytes) {
    Buffer staging = createBuffer(bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true);
    std::memcpy(staging.mapped, pixels, bytes);
    submitNow([&](VkCommandBuffer cmd) {
        VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
        b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
        b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        b.image = image.image;
        b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        b.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {image.extent.width, image.extent.height, 1};
        vkCmdCopyBufferToImage(cmd, staging.buffer, image.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
        b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
        b.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
        b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
    });
    destroy(staging);
}

} // namespace ct::render
