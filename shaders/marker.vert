#version 450
// Point markers (sensors): a screen-facing disc of fixed pixel size per instance.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

struct Marker {
    vec4 posColor; // x, y, z, rgba packed as uint bits
};
layout(std430, set = 0, binding = 3) readonly buffer Markers { Marker markers[]; };

layout(location = 0) out vec2 disc;
layout(location = 1) out vec3 color;

const vec2 quad[6] = vec2[](vec2(-1, -1), vec2(1, -1), vec2(1, 1), vec2(-1, -1), vec2(1, 1), vec2(-1, 1));

void main() {
    Marker m = markers[gl_InstanceIndex];
    vec4 clip = F.viewProj * vec4(m.posColor.xyz, 1.0);
    disc = quad[gl_VertexIndex];
    vec2 offset = disc * F.screen.z / F.screen.xy * 2.0; // pixels to clip units at w = 1
    gl_Position = vec4(clip.xy + offset * clip.w, clip.z, clip.w);
    color = unpackUnorm4x8(floatBitsToUint(m.posColor.w)).rgb;
}
