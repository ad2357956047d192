#include "render/Renderer.h"

#include "render/Font.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace ct::render {

namespace {

// SPIR-V compiled at build time by glslc (-mfmt=c): shaders/<name>.spv.inc.
const uint32_t cityVert[] =
#include "city.vert.spv.inc"
    ;
const uint32_t cityFrag[] =
#include "city.frag.spv.inc"
    ;
const uint32_t cityLitVert[] =
#include "city_lit.vert.spv.inc"
    ;
const uint32_t cityLitFrag[] =
#include "city_lit.frag.spv.inc"
    ;
const uint32_t terrainLitVert[] =
#include "terrain_lit.vert.spv.inc"
    ;
const uint32_t terrainLitFrag[] =
#include "terrain_lit.frag.spv.inc"
    ;
const uint32_t buildingVert[] =
#include "building.vert.spv.inc"
    ;
const uint32_t buildingFrag[] =
#include "building.frag.spv.inc"
    ;
const uint32_t buildingLitVert[] =
#include "building_lit.vert.spv.inc"
    ;
const uint32_t buildingLitFrag[] =
#include "building_lit.frag.spv.inc"
    ;
const uint32_t buildingBoxVert[] =
#include "building_box.vert.spv.inc"
    ;
const uint32_t buildingBoxFrag[] =
#include "building_box.frag.spv.inc"
    ;
const uint32_t skyVert[] =
#include "sky.vert.spv.inc"
    ;
const uint32_t skyFrag[] =
#include "sky.frag.spv.inc"
    ;
const uint32_t shadowVert[] =
#include "shadow.vert.spv.inc"
    ;
const uint32_t agentVert[] =
#include "agent.vert.spv.inc"
    ;
const uint32_t agentFrag[] =
#include "agent.frag.spv.inc"
    ;
const uint32_t markerVert[] =
#include "marker.vert.spv.inc"
    ;
const uint32_t markerFrag[] =
#include "marker.frag.spv.inc"
    ;
const uint32_t hudVert[] =
#include "hud.vert.spv.inc"
    ;
const uint32_t hudFrag[] =
#include "hud.frag.spv.inc"
    ;

// Mirrors `Frame` in shaders/frame.glsl (std140).
struct FrameUniforms {
    float viewProj[16];
    float lightViewProj[16];
    float cameraPos[4], cameraRight[4], cameraUp[4], cameraForward[4];
    float sunDir[4], sunColor[4], skyZenith[4], skyHorizon[4];
    float terrainRange[4], gridGeo[4], gridInfo[4], gridFlags[4];
    uint32_t selection[4];
    float screen[4];
    float drapeMap[4];
    float skyCorners[5][4];
    float gridLut[32][4];
};

struct PushConstants {
    uint32_t layer, objectOffset, objectCount, pad;
};

struct GpuAgent {
    float x, y, z, heading, length, width, height;
    uint32_t rgba;
};

struct GpuMarker {
    float x, y, z;
    uint32_t rgba;
};

struct ChunkDraw {
    MeshLayer layer;
    std::array<float, 3> min, max;
    int32_t vertexOffset;
    uint32_t indexBase;
    std::vector<IndexRange> lods;
    float spacing; // terrain: metres between vertices at the finest level
    bool water;    // terrain: a vertex is water (drawn with the water variant)
    // Buildings: where the chunk's boxes start in Impl::boxes, per level how many and the triangles
    // beside them (MeshChunk::boxLevels).
    uint32_t boxFirst = 0;
    std::vector<MeshChunk::BoxLevel> boxLevels;
    float largestBoxM = 0;
};

constexpr uint32_t shadowSize = 2048;
// Terrain level of detail at RenderSettings::terrainDetail 1: heights within a pixel of the
// finest level's, triangle edges under 12 pixels.
constexpr double terrainErrorPx = 1, terrainEdgePx = 12;

float srgbToLinear(uint8_t c) { return std::pow(c / 255.0f, 2.2f); }

void copyMatrix(float* out, const Eigen::Matrix4f& m) { std::memcpy(out, m.data(), sizeof(float) * 16); } // column-major

VkShaderModule makeModule(VkDevice d, const uint32_t* code, size_t bytes) {
    VkShaderModuleCreateInfo ci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    ci.codeSize = bytes;
    ci.pCode = code;
    VkShaderModule m;
    vkCheck(vkCreateShaderModule(d, &ci, nullptr, &m), "vkCreateShaderModule");
    return m;
}

} // namespace

// What differs between the two sides of a split view: the overlays, and so the uniforms and
// descriptor sets that point at them (the geometry is shared).
struct SideData {
    VkDescriptorSet sets[Renderer::framesInFlight]{};
    Buffer uniforms[Renderer::framesInFlight];
    Image gridImage;
    GridOverlay gridMeta; // without values
    bool hasGrid = false;
    std::vector<float> lut; // 32 × rgb linear
    Buffer objectColors;
};

struct Renderer::Impl {
    VkDevice dev;
    VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    SideData sides[2];
    Buffer hudVertices[framesInFlight];
    // [layer][shadows][grid][water]: specialised fragment shaders; water only for the terrain.
    VkPipeline city[meshLayerCount][2][2][2]{};
    // The city lit per vertex (city_lit.glsl, terrain_lit.*), without shadows: buildings, roads
    // without a grid, terrain chunks' land quads without a grid whose triangles are a few pixels wide.
    VkPipeline cityLit[meshLayerCount]{};
    VkPipeline buildingBoxes = VK_NULL_HANDLE; // far buildings as points (building_box.*)
    VkPipeline sky = VK_NULL_HANDLE, agents = VK_NULL_HANDLE, markers = VK_NULL_HANDLE, hud = VK_NULL_HANDLE;
    // Shadow casters: only the faces turned towards the sun, or both sides (the reference).
    VkPipeline shadowSunFacing = VK_NULL_HANDLE, shadowBothSides = VK_NULL_HANDLE;
    VkRenderPass shadowPass = VK_NULL_HANDLE;
    Image shadowMap;
    VkFramebuffer shadowFramebuffer = VK_NULL_HANDLE;
    VkSampler shadowSampler = VK_NULL_HANDLE, nearestSampler = VK_NULL_HANDLE, linearSampler = VK_NULL_HANDLE;
    Image fontAtlas;
    Image drape; // the terrain's land use (CityMesh::terrainDrape), one opaque texel without terrain
    float drapeMap[4]{}; // FrameUniforms::drapeMap
    Buffer vertices, indices, agentBuffer, markerBuffer;
    Buffer boxes; // every building chunk's boxes (CityMesh.h: BuildingBox), one placeholder without
    Buffer agentIndices; // an agent's box: 5 faces of 2 triangles over its 8 corners (agent.vert)
    uint32_t agentCount = 0, markerCount = 0;
    std::vector<Marker> markerList;
    std::vector<ChunkDraw> chunks;
    uint32_t buildingObjects = 0, roadObjects = 0;
    Vec2 latLon{52, 8.7};
    float terrainMinZ = 0, terrainMaxZ = 1;
};

namespace {
// The part of the screen (NDC, a convex polygon of 0 to 5 corners) where the sky can be more
// than the plain ground tone: where a view ray rises above z = -1/6 of its length (frame.glsl:
// skyColor); elsewhere the frame's clear colour is that tone. The unnormalised ray f + x·tanX·r −
// y·tanY·u is linear in the NDC point (x, y), so its z ≥ −0.2 × the longest ray's length (a
// corner's) is a half-plane holding every such pixel: the screen square clipped to it. On a CPU
// device the sky's cost is per pixel covered, drawn or not: an overview looking down skips it.
std::vector<Eigen::Vector2d> skyPolygon(const Vec3& f, const Vec3& r, const Vec3& u, double tanX, double tanY, bool clip) {
    const std::vector<Eigen::Vector2d> square = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
    if (!clip) return square;
    const double reach = std::sqrt(1 + tanX * tanX + tanY * tanY);
    auto g = [&](const Eigen::Vector2d& p) { return f.z() + p.x() * tanX * r.z() - p.y() * tanY * u.z() + 0.2 * reach; };
    std::vector<Eigen::Vector2d> out;
    for (size_t i = 0; i < square.size(); ++i) {
        const Eigen::Vector2d &a = square[i], &b = square[(i + 1) % square.size()];
        const double ga = g(a), gb = g(b);
        if (ga >= 0) out.push_back(a);
        if ((ga >= 0) != (gb >= 0)) out.push_back(a + (b - a) * (ga / (ga - gb)));
    }
    return out;
}

// Starts the shadow pass with the map cleared to the far depth.
void beginShadowPass(const Renderer::Impl& I, VkCommandBuffer cmd) {
    VkClearValue clear{};
    clear.depthStencil = {1.0f, 0};
    VkRenderPassBeginInfo rbi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rbi.renderPass = I.shadowPass;
    rbi.framebuffer = I.shadowFramebuffer;
    rbi.renderArea = {{0, 0}, {shadowSize, shadowSize}};
    rbi.clearValueCount = 1;
    rbi.pClearValues = &clear;
    vkCmdBeginRenderPass(cmd, &rbi, VK_SUBPASS_CONTENTS_INLINE);
}

// Points every side's and frame's descriptor set at the current buffers and images.
void updateDescriptors(const Renderer::Impl& I) {
    for (const SideData& side : I.sides)
        for (int f = 0; f < Renderer::framesInFlight; ++f) {
            VkDescriptorBufferInfo bi[5] = {{side.uniforms[f].buffer, 0, VK_WHOLE_SIZE}, {side.objectColors.buffer, 0, VK_WHOLE_SIZE},
                                            {I.agentBuffer.buffer, 0, VK_WHOLE_SIZE}, {I.markerBuffer.buffer, 0, VK_WHOLE_SIZE},
                                            {I.boxes.buffer, 0, VK_WHOLE_SIZE}};
            VkDescriptorImageInfo ii[4] = {{I.nearestSampler, side.gridImage.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL},
                                           {I.shadowSampler, I.shadowMap.view, VK_IMAGE_LAYOUT_DEPTH_STENCIL_READ_ONLY_OPTIMAL},
                                           {I.linearSampler, I.fontAtlas.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL},
                                           {I.linearSampler, I.drape.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL}};
            VkWriteDescriptorSet w[9]{};
            for (uint32_t i = 0; i < 9; ++i) {
                w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
                w[i].dstSet = side.sets[f];
                w[i].dstBinding = i;
                w[i].descriptorCount = 1;
                if (i < 4 || i == 8) {
                    w[i].descriptorType = i == 0 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
                    w[i].pBufferInfo = &bi[i == 8 ? 4 : i];
                } else {
                    w[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
                    w[i].pImageInfo = &ii[i - 4];
                }
            }
            vkUpdateDescriptorSets(I.dev, 9, w, 0, nullptr);
        }
}

// The terrain's land use into the drape image, and the map from local x, y to its u, v (texel
// centres on the grid's vertices). Where the grid is larger than the device's largest image, a
// vertex every few (nearest); without terrain one opaque texel.
void uploadDrape(VulkanContext& ctx, Renderer::Impl& I, const TerrainDrape& drape) {
    ctx.destroy(I.drape);
    const uint32_t meadow = 0xFF66BA96u; // opaque; no terrain samples it where there is none
    const int limit = int(ctx.properties().limits.maxImageDimension2D);
    const int stride = drape.rgba.empty() ? 1 : (std::max(drape.width, drape.height) + limit - 1) / limit;
    const int w = drape.rgba.empty() ? 1 : (drape.width - 1) / stride + 1, h = drape.rgba.empty() ? 1 : (drape.height - 1) / stride + 1;
    std::vector<uint32_t> texels(size_t(w) * h, meadow);
    if (!drape.rgba.empty())
        for (int r = 0; r < h; ++r)
            for (int c = 0; c < w; ++c) texels[size_t(r) * w + c] = drape.rgba[size_t(r) * stride * drape.width + size_t(c) * stride];
    I.drape = ctx.createImage({uint32_t(w), uint32_t(h)}, VK_FORMAT_R8G8B8A8_UNORM, VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT,
                              VK_IMAGE_ASPECT_COLOR_BIT);
    ctx.uploadImage(I.drape, texels.data(), texels.size() * sizeof(uint32_t));
    if (drape.rgba.empty()) {
        std::fill_n(I.drapeMap, 4, 0.0f); // any position: the one texel
        return;
    }
    const double spacing = drape.spacing * stride; // u = ((x - x0) / spacing + 0.5) / w; v likewise, south down the rows
    I.drapeMap[0] = float(1 / (spacing * w));
    I.drapeMap[1] = float(-1 / (spacing * h));
    I.drapeMap[2] = float((0.5 - drape.x0 / spacing) / w);
    I.drapeMap[3] = float((0.5 + drape.y0 / spacing) / h);
}

// A side's grid values into its image (nullptr: one NaN texel) and its colour map; true if
// the image was replaced (the descriptor sets must then be written again).
bool uploadGrid(VulkanContext& ctx, SideData& S, const GridOverlay* grid) {
    bool sameShape = grid && S.gridImage.image && S.hasGrid && int(S.gridImage.extent.width) == grid->width &&
                     int(S.gridImage.extent.height) == grid->height;
    if (grid && grid->values.size() != size_t(grid->width) * grid->height)
        throw std::invalid_argument("GridOverlay: values do not match width × height");
    if (!sameShape) {
        ctx.destroy(S.gridImage);
        VkExtent2D e = grid ? VkExtent2D{uint32_t(grid->width), uint32_t(grid->height)} : VkExtent2D{1, 1};
        S.gridImage = ctx.createImage(e, VK_FORMAT_R32_SFLOAT, VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT,
                                      VK_IMAGE_ASPECT_COLOR_BIT);
    }
    float nan = std::numeric_limits<float>::quiet_NaN();
    if (grid) ctx.uploadImage(S.gridImage, grid->values.data(), grid->values.size() * sizeof(float));
    else ctx.uploadImage(S.gridImage, &nan, sizeof(float));
    S.hasGrid = grid != nullptr;
    if (grid) {
        S.gridMeta = *grid;
        S.gridMeta.values.clear();
        S.lut.resize(32 * 3);
        for (int i = 0; i < 32; ++i) {
            uint32_t c = sampleColorMap(grid->scale.map, i / 31.0);
            S.lut[i * 3] = srgbToLinear(c & 0xff);
            S.lut[i * 3 + 1] = srgbToLinear((c >> 8) & 0xff);
            S.lut[i * 3 + 2] = srgbToLinear((c >> 16) & 0xff);
        }
    }
    return !sameShape;
}
} // namespace

Renderer::Renderer(VulkanContext& ctx, VkFormat colorFormat, VkImageLayout finalLayout) : impl_(new Impl), ctx_(ctx) {
    const FontAtlas& font = FontAtlas::shared(); // before any Vulkan object: it throws without the font file
    Impl& I = *impl_;
    I.dev = ctx.device();
    VkDevice d = I.dev;

    // Main pass: colour + reverse-Z depth.
    VkAttachmentDescription att[2]{};
    att[0].format = colorFormat;
    att[0].samples = VK_SAMPLE_COUNT_1_BIT;
    att[0].loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    att[0].storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    att[0].stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    att[0].stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    att[0].initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    att[0].finalLayout = finalLayout;
    att[1] = att[0];
    att[1].format = depthFormat;
    att[1].storeOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    att[1].finalLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL;
    VkAttachmentReference colorRef{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkAttachmentReference depthRef{1, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &colorRef;
    sub.pDepthStencilAttachment = &depthRef;
    VkSubpassDependency deps[2]{};
    deps[0].srcSubpass = VK_SUBPASS_EXTERNAL;
    deps[0].dstSubpass = 0;
    deps[0].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT;
    deps[0].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT;
    deps[0].srcAccessMask = VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT;
    deps[0].dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT | VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT;
    deps[1].srcSubpass = 0;
    deps[1].dstSubpass = VK_SUBPASS_EXTERNAL;
    deps[1].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    deps[1].dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
    deps[1].srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    deps[1].dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rpi.attachmentCount = 2;
    rpi.pAttachments = att;
    rpi.subpassCount = 1;
    rpi.pSubpasses = &sub;
    rpi.dependencyCount = 2;
    rpi.pDependencies = deps;
    vkCheck(vkCreateRenderPass(d, &rpi, nullptr, &mainPass_), "vkCreateRenderPass");

    // Shadow pass: depth only, left readable by the fragment shader.
    VkAttachmentDescription satt = att[1];
    satt.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    satt.finalLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_READ_ONLY_OPTIMAL;
    VkSubpassDescription ssub{};
    ssub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    ssub.pDepthStencilAttachment = &depthRef;
    depthRef.attachment = 0;
    VkSubpassDependency sdeps[2]{};
    sdeps[0].srcSubpass = VK_SUBPASS_EXTERNAL;
    sdeps[0].dstSubpass = 0;
    sdeps[0].srcStageMask = VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT;
    sdeps[0].dstStageMask = VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT;
    sdeps[0].dstAccessMask = VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT;
    sdeps[1].srcSubpass = 0;
    sdeps[1].dstSubpass = VK_SUBPASS_EXTERNAL;
    sdeps[1].srcStageMask = VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT;
    sdeps[1].dstStageMask = VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT;
    sdeps[1].srcAccessMask = VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT;
    sdeps[1].dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
    VkRenderPassCreateInfo srpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    srpi.attachmentCount = 1;
    srpi.pAttachments = &satt;
    srpi.subpassCount = 1;
    srpi.pSubpasses = &ssub;
    srpi.dependencyCount = 2;
    srpi.pDependencies = sdeps;
    vkCheck(vkCreateRenderPass(d, &srpi, nullptr, &I.shadowPass), "vkCreateRenderPass (shadow)");
    I.shadowMap = ctx.createImage({shadowSize, shadowSize}, depthFormat,
                                  VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT | VK_IMAGE_USAGE_SAMPLED_BIT, VK_IMAGE_ASPECT_DEPTH_BIT);
    VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fci.renderPass = I.shadowPass;
    fci.attachmentCount = 1;
    fci.pAttachments = &I.shadowMap.view;
    fci.width = fci.height = shadowSize;
    fci.layers = 1;
    vkCheck(vkCreateFramebuffer(d, &fci, nullptr, &I.shadowFramebuffer), "vkCreateFramebuffer (shadow)");

    // Samplers: shadow comparison (linear where the format allows: 2×2 PCF for free), nearest.
    VkFormatProperties fp;
    vkGetPhysicalDeviceFormatProperties(ctx.physicalDevice(), depthFormat, &fp);
    bool linearDepth = fp.optimalTilingFeatures & VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT;
    VkSamplerCreateInfo sci{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    sci.magFilter = sci.minFilter = linearDepth ? VK_FILTER_LINEAR : VK_FILTER_NEAREST;
    sci.addressModeU = sci.addressModeV = sci.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_BORDER;
    sci.borderColor = VK_BORDER_COLOR_FLOAT_OPAQUE_WHITE;
    sci.compareEnable = VK_TRUE;
    sci.compareOp = VK_COMPARE_OP_LESS_OR_EQUAL;
    sci.maxLod = 0;
    vkCheck(vkCreateSampler(d, &sci, nullptr, &I.shadowSampler), "vkCreateSampler");
    sci = {VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    sci.magFilter = sci.minFilter = VK_FILTER_NEAREST;
    sci.addressModeU = sci.addressModeV = sci.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    vkCheck(vkCreateSampler(d, &sci, nullptr, &I.nearestSampler), "vkCreateSampler");
    sci.magFilter = sci.minFilter = VK_FILTER_LINEAR; // the font's distance field, the terrain drape
    vkCheck(vkCreateSampler(d, &sci, nullptr, &I.linearSampler), "vkCreateSampler");

    // One descriptor set layout for every pipeline: frame uniforms, object colours, agents,
    // markers, grid, shadow map, font atlas, terrain drape, building boxes.
    VkDescriptorSetLayoutBinding b[9]{};
    VkDescriptorType types[9] = {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                 VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER,
                                 VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER,
                                 VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
    for (uint32_t i = 0; i < 9; ++i) {
        b[i].binding = i;
        b[i].descriptorType = types[i];
        b[i].descriptorCount = 1;
        b[i].stageFlags = VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dli{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dli.bindingCount = 9;
    dli.pBindings = b;
    vkCheck(vkCreateDescriptorSetLayout(d, &dli, nullptr, &I.setLayout), "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr{VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof(PushConstants)};
    VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &I.setLayout;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &pcr;
    vkCheck(vkCreatePipelineLayout(d, &pli, nullptr, &I.layout), "vkCreatePipelineLayout");
    constexpr uint32_t setCount = 2 * framesInFlight; // per side and frame in flight
    VkDescriptorPoolSize sizes[3] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, setCount},
                                     {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 4 * setCount},
                                     {VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 4 * setCount}};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = setCount;
    dpi.poolSizeCount = 3;
    dpi.pPoolSizes = sizes;
    vkCheck(vkCreateDescriptorPool(d, &dpi, nullptr, &I.pool), "vkCreateDescriptorPool");
    VkDescriptorSetLayout layouts[framesInFlight];
    std::fill(std::begin(layouts), std::end(layouts), I.setLayout);
    for (SideData& side : I.sides) {
        VkDescriptorSetAllocateInfo dai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        dai.descriptorPool = I.pool;
        dai.descriptorSetCount = framesInFlight;
        dai.pSetLayouts = layouts;
        vkCheck(vkAllocateDescriptorSets(d, &dai, side.sets), "vkAllocateDescriptorSets");
        for (auto& u : side.uniforms) u = ctx.createBuffer(sizeof(FrameUniforms), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT, true);
    }

    // Pipelines.
    struct Stage {
        const uint32_t* code;
        size_t bytes;
    };
    // cityAttributes: how many of MeshVertex's attributes the vertex shader reads (position,
    // normal, colour, object id; 0: no city vertices).
    auto makePipeline = [&](Stage vs, std::optional<Stage> fs, uint32_t cityAttributes, bool hudVertices, bool depthTest, bool depthWrite,
                            VkCullModeFlags cull, bool blend, VkRenderPass pass, bool depthBias,
                            const VkSpecializationInfo* constants = nullptr, // for both stages
                            VkPrimitiveTopology topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST) {
        VkShaderModule vm = makeModule(d, vs.code, vs.bytes);
        VkShaderModule fm = fs ? makeModule(d, fs->code, fs->bytes) : VK_NULL_HANDLE;
        VkPipelineShaderStageCreateInfo stages[2]{};
        stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vm, "main", constants};
        stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, fm, "main", constants};
        VkVertexInputBindingDescription binding{0, sizeof(MeshVertex), VK_VERTEX_INPUT_RATE_VERTEX};
        VkVertexInputAttributeDescription attrs[4] = {{0, 0, VK_FORMAT_R32G32B32_SFLOAT, 0},
                                                      {1, 0, VK_FORMAT_R32G32B32_SFLOAT, 12},
                                                      {2, 0, VK_FORMAT_R8G8B8A8_UNORM, 24},
                                                      {3, 0, VK_FORMAT_R32_UINT, 28}};
        VkPipelineVertexInputStateCreateInfo vi{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
        if (cityAttributes > 0) {
            vi.vertexBindingDescriptionCount = 1;
            vi.pVertexBindingDescriptions = &binding;
            vi.vertexAttributeDescriptionCount = cityAttributes;
            vi.pVertexAttributeDescriptions = attrs;
        }
        VkVertexInputBindingDescription hudBinding{0, sizeof(HudVertex), VK_VERTEX_INPUT_RATE_VERTEX};
        VkVertexInputAttributeDescription hudAttrs[3] = {{0, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(HudVertex, x)},
                                                         {1, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(HudVertex, u)},
                                                         {2, 0, VK_FORMAT_R8G8B8A8_UNORM, offsetof(HudVertex, rgba)}};
        if (hudVertices) {
            vi.vertexBindingDescriptionCount = 1;
            vi.pVertexBindingDescriptions = &hudBinding;
            vi.vertexAttributeDescriptionCount = 3;
            vi.pVertexAttributeDescriptions = hudAttrs;
        }
        VkPipelineInputAssemblyStateCreateInfo ia{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
        ia.topology = topology;
        VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
        vp.viewportCount = vp.scissorCount = 1;
        VkPipelineRasterizationStateCreateInfo rs{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
        rs.polygonMode = VK_POLYGON_MODE_FILL;
        rs.cullMode = cull;
        rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
        rs.lineWidth = 1;
        rs.depthBiasEnable = depthBias;
        rs.depthBiasConstantFactor = 1.5f;
        rs.depthBiasSlopeFactor = 2.0f;
        VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
        ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
        VkPipelineDepthStencilStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO};
        ds.depthTestEnable = depthTest;
        ds.depthWriteEnable = depthWrite;
        ds.depthCompareOp = pass == I.shadowPass ? VK_COMPARE_OP_LESS_OR_EQUAL : VK_COMPARE_OP_GREATER_OR_EQUAL; // reverse-Z
        VkPipelineColorBlendAttachmentState cb{};
        cb.colorWriteMask = 0xf;
        if (blend) {
            cb.blendEnable = VK_TRUE;
            cb.srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA;
            cb.dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
            cb.colorBlendOp = VK_BLEND_OP_ADD;
            cb.srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE;
            cb.dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
            cb.alphaBlendOp = VK_BLEND_OP_ADD;
        }
        VkPipelineColorBlendStateCreateInfo cbs{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
        cbs.attachmentCount = fs ? 1 : 0;
        cbs.pAttachments = &cb;
        VkDynamicState dyn[2] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
        VkPipelineDynamicStateCreateInfo dys{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
        dys.dynamicStateCount = 2;
        dys.pDynamicStates = dyn;
        VkGraphicsPipelineCreateInfo gpi{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
        gpi.stageCount = fs ? 2 : 1;
        gpi.pStages = stages;
        gpi.pVertexInputState = &vi;
        gpi.pInputAssemblyState = &ia;
        gpi.pViewportState = &vp;
        gpi.pRasterizationState = &rs;
        gpi.pMultisampleState = &ms;
        gpi.pDepthStencilState = &ds;
        gpi.pColorBlendState = &cbs;
        gpi.pDynamicState = &dys;
        gpi.layout = I.layout;
        gpi.renderPass = pass;
        VkPipeline p;
        vkCheck(vkCreateGraphicsPipelines(d, VK_NULL_HANDLE, 1, &gpi, nullptr, &p), "vkCreateGraphicsPipelines");
        vkDestroyShaderModule(d, vm, nullptr);
        if (fm) vkDestroyShaderModule(d, fm, nullptr);
        return p;
    };
#define STAGE(a) Stage{a, sizeof(a)}
    I.sky = makePipeline(STAGE(skyVert), STAGE(skyFrag), 0, false, true, false, VK_CULL_MODE_NONE, false, mainPass_, false);
    for (uint32_t layer = 0; layer < meshLayerCount; ++layer)
        for (uint32_t shadows = 0; shadows < 2; ++shadows)
            for (uint32_t grid = 0; grid < 2; ++grid)
                for (uint32_t water = 0; water < (layer == 0 ? 2u : 1u); ++water) {
                    const uint32_t values[4] = {layer, shadows, grid, water}; // constant_id 0..3 in city_pixel.glsl
                    const VkSpecializationMapEntry entries[4] = {{0, 0, 4}, {1, 4, 4}, {2, 8, 4}, {3, 12, 4}};
                    const VkSpecializationInfo spec{4, entries, sizeof values, values};
                    const bool flat = layer == uint32_t(MeshLayer::Buildings);
                    I.city[layer][shadows][grid][water] =
                        makePipeline(flat ? STAGE(buildingVert) : STAGE(cityVert), flat ? STAGE(buildingFrag) : STAGE(cityFrag), 4,
                                     false, true, true, VK_CULL_MODE_BACK_BIT, false, mainPass_, false, &spec);
                }
    for (uint32_t layer = 0; layer < meshLayerCount; ++layer) {
        const VkSpecializationMapEntry entry{0, 0, 4}; // constant_id 0 = LAYER in city_lit.glsl
        const VkSpecializationInfo spec{1, &entry, sizeof layer, &layer};
        const bool flat = layer == uint32_t(MeshLayer::Buildings), terrain = layer == uint32_t(MeshLayer::Terrain);
        I.cityLit[layer] = makePipeline(flat ? STAGE(buildingLitVert) : terrain ? STAGE(terrainLitVert) : STAGE(cityLitVert),
                                        flat ? STAGE(buildingLitFrag) : terrain ? STAGE(terrainLitFrag) : STAGE(cityLitFrag),
                                        terrain ? 2 : 4, false,
                                        true, true, VK_CULL_MODE_BACK_BIT, false, mainPass_, false, &spec);
    }
    I.buildingBoxes = makePipeline(STAGE(buildingBoxVert), STAGE(buildingBoxFrag), 0, false, true, true, VK_CULL_MODE_NONE, false,
                                   mainPass_, false, nullptr, VK_PRIMITIVE_TOPOLOGY_POINT_LIST);
    I.agents = makePipeline(STAGE(agentVert), STAGE(agentFrag), 0, false, true, true, VK_CULL_MODE_BACK_BIT, false, mainPass_, false);
    I.markers = makePipeline(STAGE(markerVert), STAGE(markerFrag), 0, false, false, false, VK_CULL_MODE_NONE, false, mainPass_, false);
    I.hud = makePipeline(STAGE(hudVert), STAGE(hudFrag), 0, true, false, false, VK_CULL_MODE_NONE, true, mainPass_, false);
    // The light's projection keeps y up where the camera's flips it for Vulkan, so seen from the
    // sun the winding is mirrored: FRONT in Vulkan's terms are the faces turned away from it.
    I.shadowSunFacing = makePipeline(STAGE(shadowVert), std::nullopt, 1, false, true, true, VK_CULL_MODE_FRONT_BIT, false,
                                     I.shadowPass, true);
    I.shadowBothSides = makePipeline(STAGE(shadowVert), std::nullopt, 1, false, true, true, VK_CULL_MODE_NONE, false,
                                     I.shadowPass, true);
#undef STAGE

    // The font atlas, once.
    I.fontAtlas = ctx.createImage({uint32_t(font.width()), uint32_t(font.height())}, VK_FORMAT_R8_UNORM,
                                  VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT, VK_IMAGE_ASPECT_COLOR_BIT);
    ctx.uploadImage(I.fontAtlas, font.pixels().data(), font.pixels().size());
    uploadDrape(ctx, I, TerrainDrape{});
    // Placeholders so every descriptor is valid before the first overlay arrives.
    I.agentBuffer = ctx.createBuffer(sizeof(GpuAgent), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
    I.markerBuffer = ctx.createBuffer(sizeof(GpuMarker), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
    I.boxes = ctx.createBuffer(sizeof(BuildingBox), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
    // Counter-clockwise seen from outside; each face's triangles start at the corner that carries
    // its normal (roof 4, south 0, east 1, north 2, west 3).
    const uint32_t boxFaces[30] = {4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4, 1, 2, 6, 1, 6, 5, 2, 3, 7, 2, 7, 6, 3, 0, 4, 3, 4, 7};
    I.agentIndices = ctx.createDeviceBuffer(boxFaces, sizeof boxFaces, VK_BUFFER_USAGE_INDEX_BUFFER_BIT);
    for (SideData& side : I.sides) {
        side.objectColors = ctx.createBuffer(16, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
        std::memset(side.objectColors.mapped, 0, side.objectColors.size);
        uploadGrid(ctx, side, nullptr);
    }
    updateDescriptors(I);
    // Clear the shadow map once so it is readable while shadows are off.
    ctx.submitNow([&](VkCommandBuffer cmd) {
        beginShadowPass(I, cmd);
        vkCmdEndRenderPass(cmd);
    });
}

Renderer::~Renderer() {
    Impl& I = *impl_;
    VkDevice d = I.dev;
    vkDeviceWaitIdle(d);
    for (VkPipeline p : {I.buildingBoxes, I.sky, I.shadowSunFacing, I.shadowBothSides, I.agents, I.markers, I.hud}) vkDestroyPipeline(d, p, nullptr);
    for (auto& byShadow : I.city)
        for (auto& byGrid : byShadow)
            for (auto& byWater : byGrid)
                for (VkPipeline p : byWater) vkDestroyPipeline(d, p, nullptr); // null where not made
    for (VkPipeline p : I.cityLit) vkDestroyPipeline(d, p, nullptr);
    vkDestroyPipelineLayout(d, I.layout, nullptr);
    vkDestroyDescriptorPool(d, I.pool, nullptr);
    vkDestroyDescriptorSetLayout(d, I.setLayout, nullptr);
    vkDestroySampler(d, I.shadowSampler, nullptr);
    vkDestroySampler(d, I.nearestSampler, nullptr);
    vkDestroySampler(d, I.linearSampler, nullptr);
    vkDestroyFramebuffer(d, I.shadowFramebuffer, nullptr);
    vkDestroyRenderPass(d, I.shadowPass, nullptr);
    vkDestroyRenderPass(d, mainPass_, nullptr);
    ctx_.destroy(I.shadowMap);
    ctx_.destroy(I.fontAtlas);
    ctx_.destroy(I.drape);
    for (SideData& side : I.sides) {
        ctx_.destroy(side.gridImage);
        ctx_.destroy(side.objectColors);
        for (auto& b : side.uniforms) ctx_.destroy(b);
    }
    for (auto* b : {&I.vertices, &I.indices, &I.agentBuffer, &I.markerBuffer, &I.agentIndices, &I.boxes}) ctx_.destroy(*b);
    for (auto& b : I.hudVertices) ctx_.destroy(b);
}

void Renderer::setCity(const CityMesh& mesh, double latDeg, double lonDeg) {
    Impl& I = *impl_;
    vkDeviceWaitIdle(I.dev);
    ctx_.destroy(I.vertices);
    ctx_.destroy(I.indices);
    ctx_.destroy(I.boxes);
    I.chunks.clear();
    I.latLon = {latDeg, lonDeg};
    size_t nv = 0, ni = 0;
    for (const auto& c : mesh.chunks) nv += c.vertices.size(), ni += c.indices.size();
    std::vector<MeshVertex> vertices;
    std::vector<uint32_t> indices;
    std::vector<BuildingBox> boxes;
    vertices.reserve(nv);
    indices.reserve(ni);
    uint32_t objects[meshLayerCount] = {1, 0, 0};
    I.terrainMinZ = std::numeric_limits<float>::max();
    I.terrainMaxZ = std::numeric_limits<float>::lowest();
    sceneTriangles_ = 0;
    for (const auto& c : mesh.chunks) {
        if (c.indices.empty() || c.lods.empty()) continue;
        ChunkDraw cd{c.layer, c.boundsMin, c.boundsMax, static_cast<int32_t>(vertices.size()), static_cast<uint32_t>(indices.size()),
                     c.lods, 0, false, uint32_t(boxes.size()), c.boxLevels, c.largestBoxM};
        boxes.insert(boxes.end(), c.boxes.begin(), c.boxes.end());
        if (c.layer == MeshLayer::Terrain) {
            I.terrainMinZ = std::min(I.terrainMinZ, c.boundsMin[2]);
            I.terrainMaxZ = std::max(I.terrainMaxZ, c.boundsMax[2]);
            double quads = std::max(1.0, c.lods[0].count / 6.0);
            cd.spacing = static_cast<float>(std::sqrt((c.boundsMax[0] - c.boundsMin[0]) * (c.boundsMax[1] - c.boundsMin[1]) / quads));
            cd.water = std::any_of(c.vertices.begin(), c.vertices.end(), [](const MeshVertex& v) { return (v.rgba >> 24) < 128; });
        }
        for (const auto& v : c.vertices) {
            auto& n = objects[static_cast<int>(c.layer)];
            if (c.layer != MeshLayer::Terrain) n = std::max(n, v.objectId + 1);
        }
        vertices.insert(vertices.end(), c.vertices.begin(), c.vertices.end());
        indices.insert(indices.end(), c.indices.begin(), c.indices.end());
        sceneTriangles_ += c.lods[0].count / 3;
        I.chunks.push_back(std::move(cd));
    }
    if (I.terrainMinZ > I.terrainMaxZ) I.terrainMinZ = 0, I.terrainMaxZ = 1;
    boundsMin_ = mesh.boundsMin;
    boundsMax_ = mesh.boundsMax;
    I.vertices = ctx_.createDeviceBuffer(vertices.data(), vertices.size() * sizeof(MeshVertex), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
    I.indices = ctx_.createDeviceBuffer(indices.data(), indices.size() * sizeof(uint32_t), VK_BUFFER_USAGE_INDEX_BUFFER_BIT);
    if (boxes.empty()) boxes.emplace_back(); // a valid descriptor, never drawn
    I.boxes = ctx_.createDeviceBuffer(boxes.data(), boxes.size() * sizeof(BuildingBox), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    I.buildingObjects = objects[1];
    I.roadObjects = objects[2];
    uploadDrape(ctx_, I, mesh.terrainDrape);
    for (SideData& side : I.sides) {
        ctx_.destroy(side.objectColors);
        side.objectColors = ctx_.createBuffer(std::max<size_t>(16, (I.buildingObjects + I.roadObjects) * 4ull),
                                              VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
        std::memset(side.objectColors.mapped, 0, side.objectColors.size);
    }
    updateDescriptors(I);
}

void Renderer::setGrid(const GridOverlay* grid, Side side) {
    Impl& I = *impl_;
    vkDeviceWaitIdle(I.dev);
    if (uploadGrid(ctx_, I.sides[int(side)], grid)) updateDescriptors(I);
}

void Renderer::setGridOpacity(float opacity, Side side) { impl_->sides[int(side)].gridMeta.opacity = opacity; }

namespace {
// Per-object colours from values (0 = keep the base colour) into a mapped buffer.
void writeObjectColors(uint32_t* out, uint32_t count, const ValueOverlay* values) {
    for (uint32_t i = 0; i < count; ++i) {
        float v = values && i < values->values.size() ? values->values[i] : std::numeric_limits<float>::quiet_NaN();
        out[i] = std::isnan(v) ? 0u : values->scale.colorOf(v);
    }
}
} // namespace

void Renderer::setBuildingValues(const ValueOverlay* values, Side side) {
    vkDeviceWaitIdle(impl_->dev);
    writeObjectColors(static_cast<uint32_t*>(impl_->sides[int(side)].objectColors.mapped), impl_->buildingObjects, values);
}

void Renderer::setRoadValues(const ValueOverlay* values, Side side) {
    vkDeviceWaitIdle(impl_->dev);
    writeObjectColors(static_cast<uint32_t*>(impl_->sides[int(side)].objectColors.mapped) + impl_->buildingObjects,
                      impl_->roadObjects, values);
}

// Grows a host-visible storage buffer to hold `bytes` (half again, to grow rarely); true if it
// was replaced (the descriptor sets must then be written again).
bool Renderer::reserveStorage(Buffer& buffer, VkDeviceSize bytes) {
    if (bytes <= buffer.size) return false;
    ctx_.destroy(buffer);
    buffer = ctx_.createBuffer(bytes * 3 / 2, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, true);
    return true;
}

void Renderer::setAgents(const std::vector<Agent>& agents) {
    Impl& I = *impl_;
    vkDeviceWaitIdle(I.dev);
    if (reserveStorage(I.agentBuffer, std::max<size_t>(1, agents.size()) * sizeof(GpuAgent))) updateDescriptors(I);
    auto* out = static_cast<GpuAgent*>(I.agentBuffer.mapped);
    for (size_t i = 0; i < agents.size(); ++i) {
        const Agent& a = agents[i];
        out[i] = {a.x, a.y, a.z, a.headingRad, a.length, a.width, a.height, a.rgba};
    }
    I.agentCount = static_cast<uint32_t>(agents.size());
}

void Renderer::setMarkers(const std::vector<Marker>& markers) {
    Impl& I = *impl_;
    vkDeviceWaitIdle(I.dev);
    if (reserveStorage(I.markerBuffer, std::max<size_t>(1, markers.size()) * sizeof(GpuMarker))) updateDescriptors(I);
    auto* out = static_cast<GpuMarker*>(I.markerBuffer.mapped);
    for (size_t i = 0; i < markers.size(); ++i)
        out[i] = {float(markers[i].position.x()), float(markers[i].position.y()), float(markers[i].position.z()), markers[i].rgba};
    I.markerCount = static_cast<uint32_t>(markers.size());
    I.markerList = markers;
}

SunPosition Renderer::sunFor(const RenderSettings& s) const {
    return s.sun ? *s.sun : sunPosition(s.time, impl_->latLon.x(), impl_->latLon.y());
}

FrameStats Renderer::record(VkCommandBuffer cmd, int frame, VkFramebuffer framebuffer, VkExtent2D extent, const Camera& camera,
                            const RenderSettings& settings, const Hud* hud, const std::function<void(VkCommandBuffer)>& inPass) {
    Impl& I = *impl_;
    FrameStats stats;
    const double aspect = double(extent.width) / std::max(1u, extent.height);
    Eigen::Matrix4f viewProj = camera.viewProjection(aspect);
    SunPosition sun = sunFor(settings);
    Vec3 sunDir = sun.direction();
    if (sunDir.z() < 0.02) sunDir = Vec3(sunDir.x(), sunDir.y(), 0.02).normalized(); // light from just above the horizon at night

    // Light: orthographic from the sun, over the part of the city in view (where the view's
    // centre line meets the ground, out to 1.5× that distance), so close-ups get sharp shadows.
    Vec3 lo(boundsMin_[0], boundsMin_[1], boundsMin_[2]), hi(boundsMax_[0], boundsMax_[1], boundsMax_[2]);
    double cityRadius = std::max(1.0, (hi - lo).norm() / 2);
    Vec3 focus = (lo + hi) / 2;
    double radius = cityRadius;
    {
        Vec3 f = camera.forward();
        double groundZ = (I.terrainMinZ + I.terrainMaxZ) / 2;
        double along = f.z() < -1e-3 ? (groundZ - camera.eye.z()) / f.z() : -1;
        if (along > 0) {
            focus = camera.eye + f * along;
            radius = std::clamp(along * 1.5, 150.0, cityRadius);
        }
    }
    Vec3 lightEye = focus + sunDir * cityRadius * 2;
    Vec3 lf = -sunDir, lup = std::abs(lf.z()) > 0.99 ? Vec3(0, 1, 0) : Vec3(0, 0, 1);
    Vec3 lr = lf.cross(lup).normalized(), lu = lr.cross(lf);
    Eigen::Matrix4d lview = Eigen::Matrix4d::Identity();
    lview.row(0) << lr.x(), lr.y(), lr.z(), -lr.dot(lightEye);
    lview.row(1) << lu.x(), lu.y(), lu.z(), -lu.dot(lightEye);
    lview.row(2) << -lf.x(), -lf.y(), -lf.z(), lf.dot(lightEye);
    Eigen::Matrix4d lproj = Eigen::Matrix4d::Identity();
    lproj(0, 0) = lproj(1, 1) = 1 / radius;
    lproj(2, 2) = -1 / (cityRadius * 4);
    Eigen::Matrix4f lightViewProj = (lproj * lview).cast<float>();

    // Frame uniforms.
    FrameUniforms u{};
    copyMatrix(u.viewProj, viewProj);
    copyMatrix(u.lightViewProj, lightViewProj);
    double sceneSize = std::max(1000.0, (hi - lo).head<2>().norm());
    Vec3 f = camera.forward(), r = camera.right(), up = camera.up();
    double t = std::tan(camera.fovYDeg * 3.14159265358979 / 360);
    auto set4 = [](float* o, double a, double b, double c, double d) { o[0] = float(a), o[1] = float(b), o[2] = float(c), o[3] = float(d); };
    set4(u.cameraPos, camera.eye.x(), camera.eye.y(), camera.eye.z(), 0.1 / sceneSize);
    set4(u.cameraRight, r.x(), r.y(), r.z(), t * aspect);
    set4(u.cameraUp, up.x(), up.y(), up.z(), t);
    set4(u.cameraForward, f.x(), f.y(), f.z(), 0);
    const std::vector<Eigen::Vector2d> sky = skyPolygon(f, r, up, t * aspect, t, settings.skyAboveGroundLineOnly);
    for (size_t i = 0; i < sky.size(); ++i) set4(u.skyCorners[i], sky[i].x(), sky[i].y(), 0, 0);
    double elev = sun.elevationDeg;
    auto smooth = [](double a, double b, double x) {
        double k = std::clamp((x - a) / (b - a), 0.0, 1.0);
        return k * k * (3 - 2 * k);
    };
    double day = smooth(-4, 8, elev), high = smooth(0, 30, elev);
    set4(u.sunDir, sunDir.x(), sunDir.y(), sunDir.z(), 0.15 + 0.85 * day);
    set4(u.sunColor, 1.0, 0.62 + 0.33 * high, 0.42 + 0.48 * high, 0.28);
    set4(u.skyZenith, 0.02 + 0.16 * day, 0.03 + 0.30 * day, 0.08 + 0.62 * day, 0);
    set4(u.skyHorizon, 0.05 + 0.60 * day, 0.06 + 0.66 * day, 0.10 + 0.72 * day, 0);
    set4(u.terrainRange, I.terrainMinZ, I.terrainMaxZ, settings.hillshade ? 1 : 0, settings.show.water ? 1 : 0);
    if (settings.selection) {
        u.selection[0] = static_cast<uint32_t>(settings.selection->layer);
        u.selection[1] = settings.selection->objectId;
        u.selection[2] = 1;
    }
    set4(u.screen, extent.width, extent.height, settings.markerSizePx, 0);
    std::memcpy(u.drapeMap, I.drapeMap, sizeof u.drapeMap);
    // Per side: the same frame with that side's grid. A split draws pixel columns [0, splitX)
    // with the Left side and [splitX, width) with the Right one.
    const bool split = settings.splitAtPx.has_value();
    uint32_t splitX = extent.width;
    if (split) {
        float x = *settings.splitAtPx;
        splitX = x >= 0 ? uint32_t(std::lround(std::min(x, float(extent.width)))) : 0; // NaN: all Right
    }
    bool grid[2] = {false, false};
    for (int side = 0; side < (split ? 2 : 1); ++side) {
        const SideData& S = I.sides[side];
        grid[side] = S.hasGrid && settings.show.grid;
        if (grid[side]) {
            const GridOverlay& g = S.gridMeta;
            set4(u.gridGeo, g.originX, g.originY, g.cellSize, g.opacity);
            set4(u.gridInfo, g.width, g.height, g.scale.min, g.scale.max);
            for (int i = 0; i < 32; ++i) set4(u.gridLut[i], S.lut[i * 3], S.lut[i * 3 + 1], S.lut[i * 3 + 2], 1);
        } else {
            std::fill_n(u.gridGeo, 4, 0.0f), std::fill_n(u.gridInfo, 4, 0.0f), std::fill_n(&u.gridLut[0][0], 32 * 4, 0.0f);
        }
        set4(u.gridFlags, grid[side] ? S.gridMeta.hideAtOrBelow : 0, grid[side] ? 1 : 0, settings.shadows ? 1 : 0, 0);
        std::memcpy(S.uniforms[frame].mapped, &u, sizeof u);
    }

    // HUD vertices for this frame: the caller's, plus marker labels.
    std::vector<HudVertex> hudVerts = hud ? hud->vertices() : std::vector<HudVertex>{};
    if (settings.show.markers && !I.markerList.empty()) {
        Hud labels;
        for (const auto& m : I.markerList)
            if (!m.label.empty())
                if (auto p = camera.project(m.position, int(extent.width), int(extent.height)))
                    if (p->x() >= 0 && p->y() >= 0 && p->x() < extent.width && p->y() < extent.height) labels.label(float(p->x()), float(p->y()), m.label);
        hudVerts.insert(hudVerts.begin(), labels.vertices().begin(), labels.vertices().end());
    }
    if (!hudVerts.empty()) {
        VkDeviceSize need = hudVerts.size() * sizeof(HudVertex);
        if (need > I.hudVertices[frame].size) {
            // This frame's previous use has finished (the caller waited for its fence).
            ctx_.destroy(I.hudVertices[frame]);
            I.hudVertices[frame] = ctx_.createBuffer(need * 2, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, true);
        }
        std::memcpy(I.hudVertices[frame].mapped, hudVerts.data(), need);
    }

    // Everything but the city's overlays is the same on both sides: drawn with the Left set.
    auto bindCommon = [&](VkPipeline p, int side = 0) {
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, p);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, I.layout, 0, 1, &I.sides[side].sets[frame], 0, nullptr);
    };
    auto setViewport = [&](VkExtent2D e) {
        VkViewport vp{0, 0, float(e.width), float(e.height), 0, 1};
        VkRect2D sc{{0, 0}, e};
        vkCmdSetViewport(cmd, 0, 1, &vp);
        vkCmdSetScissor(cmd, 0, 1, &sc);
    };
    bool haveCity = I.vertices.buffer && !I.chunks.empty();
    auto coarsest = [](const ChunkDraw& c) { return c.lods.back(); };

    // Shadow pass: buildings and the coarsest terrain from the sun.
    if (settings.shadows && haveCity) {
        beginShadowPass(I, cmd);
        setViewport({shadowSize, shadowSize});
        bindCommon(settings.shadowFromSunFacingFaces ? I.shadowSunFacing : I.shadowBothSides);
        VkDeviceSize offset = 0;
        vkCmdBindVertexBuffers(cmd, 0, 1, &I.vertices.buffer, &offset);
        vkCmdBindIndexBuffer(cmd, I.indices.buffer, 0, VK_INDEX_TYPE_UINT32);
        Frustum lightVolume(lightViewProj); // only casters inside the shadow map's region
        for (const auto& c : I.chunks) {
            if (c.layer == MeshLayer::Roads) continue;
            if (c.layer == MeshLayer::Buildings && !settings.show.buildings) continue;
            if (c.layer == MeshLayer::Terrain && !settings.show.terrain) continue;
            if (!lightVolume.intersectsBox(c.min, c.max)) continue;
            IndexRange range = c.layer == MeshLayer::Terrain ? coarsest(c) : c.lods[0];
            vkCmdDrawIndexed(cmd, range.count, 1, c.indexBase + range.first, c.vertexOffset, 0);
            stats.drawCalls++;
            stats.triangles += range.count / 3;
        }
        vkCmdEndRenderPass(cmd);
    }

    VkClearValue clears[2]{};
    for (int i = 0; i < 3; ++i) { // the sky's ground tone for display (frame.glsl: skyColor, toDisplay), in float like there
        const float ground[3] = {0.16f, 0.17f, 0.15f};
        clears[0].color.float32[i] = std::sqrt(std::clamp(ground[i] * (0.3f + 0.7f * u.sunDir[3]), 0.0f, 1.0f));
    }
    clears[0].color.float32[3] = 1;
    clears[1].depthStencil = {0.0f, 0}; // reverse-Z: far is 0
    VkRenderPassBeginInfo rbi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rbi.renderPass = mainPass_;
    rbi.framebuffer = framebuffer;
    rbi.renderArea = {{0, 0}, extent};
    rbi.clearValueCount = 2;
    rbi.pClearValues = clears;
    vkCmdBeginRenderPass(cmd, &rbi, VK_SUBPASS_CONTENTS_INLINE);
    setViewport(extent);

    if (haveCity) {
        VkDeviceSize offset = 0;
        // Terrain level of detail: keep a triangle edge under about 6 pixels.
        double pixelAngle = 2 * t / std::max(1u, extent.height);
        // Near to far, buildings before roads before terrain: occluded pixels fail the early
        // depth test instead of being shaded (what a CPU device spends most of its time on).
        std::vector<std::pair<float, uint32_t>> order;
        order.reserve(I.chunks.size());
        for (uint32_t k = 0; k < I.chunks.size(); ++k) {
            const ChunkDraw& c = I.chunks[k];
            Vec3 mid((c.min[0] + c.max[0]) / 2.0, (c.min[1] + c.max[1]) / 2.0, (c.min[2] + c.max[2]) / 2.0);
            order.emplace_back(float((mid - camera.eye).squaredNorm()), k);
        }
        std::sort(order.begin(), order.end());
        // The size of a pixel (metres) at a chunk's nearest point.
        auto pixelAtChunk = [&](const ChunkDraw& c) {
            Vec3 nearest(std::clamp(camera.eye.x(), double(c.min[0]), double(c.max[0])),
                         std::clamp(camera.eye.y(), double(c.min[1]), double(c.max[1])),
                         std::clamp(camera.eye.z(), double(c.min[2]), double(c.max[2])));
            return pixelAngle * std::max(1.0, (nearest - camera.eye).norm());
        };
        // Buildings: each chunk's level (coarse where its error stays under buildingCoarsePx) and
        // whether its boxes are drawn as points (building_box.*): lit per vertex, each box's sprite
        // small (its pixels are shaded before the depth test), the chunk wholly in view (a point
        // whose centre leaves the view is dropped), and enough of them in the frame to pay
        // (RenderSettings::buildingBoxesMinCount).
        std::vector<uint8_t> buildingLevel(I.chunks.size(), 0), asPoints(I.chunks.size(), 0);
        {
            const Frustum wholeView(viewProj);
            const bool pointsAllowed = settings.vertexLighting && !settings.shadows && settings.buildingBoxesPx > 0;
            uint64_t points = 0;
            for (uint32_t k = 0; k < I.chunks.size(); ++k) {
                const ChunkDraw& c = I.chunks[k];
                if (c.layer != MeshLayer::Buildings) continue;
                const double pixel = pixelAtChunk(c);
                buildingLevel[k] = c.lods.size() > 1 && c.lods[1].errorM <= settings.buildingCoarsePx * pixel;
                if (pointsAllowed && buildingLevel[k] < c.boxLevels.size() && c.boxLevels[buildingLevel[k]].boxCount > 0 &&
                    c.largestBoxM <= settings.buildingBoxesPx * pixel && wholeView.containsBox(c.min, c.max)) {
                    asPoints[k] = 1;
                    points += c.boxLevels[buildingLevel[k]].boxCount;
                }
            }
            if (points < settings.buildingBoxesMinCount) std::fill(asPoints.begin(), asPoints.end(), 0);
        }
        // The city once per side, each clipped to its columns: every pixel sees the same
        // fragments in the same order as in a single render of that side's overlays.
        for (int side = 0; side < (split ? 2 : 1); ++side) {
            uint32_t x0 = side == 0 ? 0 : splitX, x1 = side == 0 ? splitX : extent.width;
            if (x1 <= x0) continue;
            VkRect2D scissor{{int32_t(x0), 0}, {x1 - x0, extent.height}};
            vkCmdSetScissor(cmd, 0, 1, &scissor);
            // Cull against the side's part of the view (a pixel wider, against rounding): a
            // chunk outside it has no fragment there, so skipping it changes no pixel.
            Eigen::Matrix4f columns = viewProj;
            if (split) {
                float n0 = 2.0f * (float(x0) - 1) / float(extent.width) - 1, n1 = 2.0f * (float(x1) + 1) / float(extent.width) - 1;
                float c = (n0 + n1) / 2, h = (n1 - n0) / 2;
                columns.row(0) = (viewProj.row(0) - c * viewProj.row(3)) / h;
            }
            Frustum frustum(columns);
            for (int layer : {1, 2, 0}) {
                MeshLayer L = static_cast<MeshLayer>(layer);
                if ((L == MeshLayer::Terrain && !settings.show.terrain) || (L == MeshLayer::Buildings && !settings.show.buildings) ||
                    (L == MeshLayer::Roads && !settings.show.roads))
                    continue;
                VkPipeline (&variants)[2] = I.city[layer][settings.shadows ? 1 : 0][grid[side] ? 1 : 0];
                bool vertexLit = settings.vertexLighting && !settings.shadows && (L == MeshLayer::Buildings || !grid[side]);
                VkPipeline bound = L == MeshLayer::Terrain || !vertexLit ? variants[0] : I.cityLit[layer];
                bindCommon(bound, side);
                vkCmdBindVertexBuffers(cmd, 0, 1, &I.vertices.buffer, &offset);
                vkCmdBindIndexBuffer(cmd, I.indices.buffer, 0, VK_INDEX_TYPE_UINT32);
                PushConstants pc{uint32_t(layer), L == MeshLayer::Roads ? I.buildingObjects : 0u,
                                 L == MeshLayer::Buildings ? I.buildingObjects : L == MeshLayer::Roads ? I.roadObjects : 0u, 0};
                vkCmdPushConstants(cmd, I.layout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof pc, &pc);
                std::vector<std::pair<uint32_t, uint32_t>> boxDraws; // building chunks' boxes drawn as points (first, count), near to far
                for (auto [_, k] : order) {
                    const ChunkDraw& c = I.chunks[k];
                    if (c.layer != L) continue;
                    if (!frustum.intersectsBox(c.min, c.max)) {
                        stats.chunksCulled++;
                        continue;
                    }
                    IndexRange range = c.lods[0];
                    bool fineEnough = false; // terrain triangle edges within the pixel budget
                    if (L == MeshLayer::Buildings) {
                        range = c.lods[buildingLevel[k]];
                        if (asPoints[k]) {
                            const MeshChunk::BoxLevel& level = c.boxLevels[buildingLevel[k]];
                            boxDraws.emplace_back(c.boxFirst, level.boxCount);
                            range = level.besideBoxes;
                        }
                    }
                    if (L == MeshLayer::Terrain && c.lods.size() > 1) {
                        // The coarsest level whose heights stay within terrainErrorPx of the finest
                        // and whose triangle edges stay under terrainEdgePx (light is interpolated
                        // between vertices; the land use is draped per pixel), at the chunk's
                        // nearest point. Metres per pixel, smaller for more detail:
                        const double pixel = pixelAtChunk(c) / std::max(settings.terrainDetail, 0.01f);
                        auto edgeFits = [&](int level) { return c.spacing * double(1 << level) <= terrainEdgePx * pixel; };
                        int lod = 0;
                        while (lod + 1 < int(c.lods.size()) && edgeFits(lod + 1) && c.lods[size_t(lod + 1)].errorM <= terrainErrorPx * pixel) ++lod;
                        range = c.lods[size_t(lod)];
                        fineEnough = edgeFits(lod);
                    }
                    if (L == MeshLayer::Terrain) { // only the pipeline changes between terrain chunks
                        VkPipeline land = vertexLit && fineEnough ? I.cityLit[layer] : variants[0];
                        // A chunk holding water: its quads without a water vertex first, without
                        // the water shader's reflection (lavapipe would run it for every pixel).
                        if (c.water && settings.waterShaderOnWaterQuadsOnly && range.landCount > 0) {
                            if (land != bound) vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, bound = land);
                            vkCmdDrawIndexed(cmd, range.landCount, 1, c.indexBase + range.first, c.vertexOffset, 0);
                            stats.drawCalls++;
                            stats.triangles += range.landCount / 3;
                            range.first += range.landCount;
                            range.count -= range.landCount;
                        }
                        VkPipeline p = c.water ? variants[1] : land;
                        if (p != bound) vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, bound = p);
                    }
                    stats.chunksDrawn++;
                    if (range.count == 0) continue;
                    vkCmdDrawIndexed(cmd, range.count, 1, c.indexBase + range.first, c.vertexOffset, 0);
                    stats.drawCalls++;
                    stats.triangles += range.count / 3;
                }
                if (!boxDraws.empty()) {
                    bindCommon(I.buildingBoxes, side); // the push constants stay
                    for (auto [first, count] : boxDraws) {
                        vkCmdDraw(cmd, count, 1, first, 0);
                        stats.drawCalls++;
                        stats.buildingBoxes += count;
                    }
                }
            }
        }
        setViewport(extent); // the whole frame again
    }
    if (sky.size() >= 3) {
        bindCommon(I.sky); // after the opaque city: the depth test leaves only the background
        vkCmdDraw(cmd, uint32_t(3 * (sky.size() - 2)), 1, 0, 0);
        stats.drawCalls++;
    }
    if (settings.show.agents && I.agentCount > 0) {
        bindCommon(I.agents);
        vkCmdBindIndexBuffer(cmd, I.agentIndices.buffer, 0, VK_INDEX_TYPE_UINT32);
        vkCmdDrawIndexed(cmd, 30, I.agentCount, 0, 0, 0);
        stats.drawCalls++;
        stats.triangles += uint64_t(I.agentCount) * 10;
    }
    if (settings.show.markers && I.markerCount > 0) {
        bindCommon(I.markers);
        vkCmdDraw(cmd, 6, I.markerCount, 0, 0);
        stats.drawCalls++;
        stats.triangles += uint64_t(I.markerCount) * 2;
    }
    if (!hudVerts.empty()) {
        bindCommon(I.hud);
        VkDeviceSize offset = 0;
        vkCmdBindVertexBuffers(cmd, 0, 1, &I.hudVertices[frame].buffer, &offset);
        vkCmdDraw(cmd, uint32_t(hudVerts.size()), 1, 0, 0);
        stats.drawCalls++;
    }
    if (inPass) inPass(cmd);
    vkCmdEndRenderPass(cmd);
    return stats;
}

} // namespace ct::render
