#version 450
// Terrain, buildings and roads: one vertex layout (MeshVertex), per-object colours.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

layout(location = 0) in vec3 inPos;
layout(location = 1) in vec3 inNormal;
layout(location = 2) in vec4 inColor;
layout(location = 3) in uint inObject;

layout(push_constant) uniform Push {
    uint layer;        // 0 terrain, 1 buildings, 2 roads
    uint objectOffset; // where this layer's objects start in objectColors
    uint objectCount;
    uint pad;
} pc;

layout(std430, set = 0, binding = 1) readonly buffer ObjectColors { uint objectColors[]; };

layout(location = 0) out vec3 worldPos;
layout(location = 1) out vec3 normal;
layout(location = 2) out vec4 color;
layout(location = 3) flat out uint objectId;

void main() {
    worldPos = inPos;
    normal = inNormal;
    color = vec4(toLinear(inColor.rgb), inColor.a);
    objectId = inObject;
    if (pc.layer != 0u && inObject < pc.objectCount) {
        vec4 c = unpackUnorm4x8(objectColors[pc.objectOffset + inObject]);
        if (c.a > 0.0) color.rgb = toLinear(c.rgb);
    }
    gl_Position = F.viewProj * vec4(inPos, 1.0);
}
