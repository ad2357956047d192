#version 450
// Instanced agents (vehicles, people): a box per instance, drawn indexed from its 8 corners
// (gl_VertexIndex is a corner), lit per vertex. As with the buildings (CityMesh.h), each face's
// triangles start at a corner of their own — the provoking vertex, which carries that face's
// normal and so its light (flat) — so a box shades 8 vertices, not 30.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

struct Agent {
    vec4 posHeading; // x, y, z (ground), heading (radians, 0 = east, counter-clockwise)
    vec4 sizeColor;  // length, width, height, rgba packed as uint bits
};
layout(std430, set = 0, binding = 2) readonly buffer Agents { Agent agents[]; };

layout(location = 0) flat out vec3 litColor;

const vec3 corners[8] = vec3[](vec3(-0.5, -0.5, 0), vec3(0.5, -0.5, 0), vec3(0.5, 0.5, 0), vec3(-0.5, 0.5, 0),
                               vec3(-0.5, -0.5, 1), vec3(0.5, -0.5, 1), vec3(0.5, 0.5, 1), vec3(-0.5, 0.5, 1));
// The normal of the face each corner starts (Renderer.cpp: agentIndices): 0 south, 1 east,
// 2 north, 3 west, 4 the roof; 5–7 start none.
const vec3 cornerNormals[8] = vec3[](vec3(0, -1, 0), vec3(1, 0, 0), vec3(0, 1, 0), vec3(-1, 0, 0),
                                     vec3(0, 0, 1), vec3(0, 0, 1), vec3(0, 0, 1), vec3(0, 0, 1));

void main() {
    Agent a = agents[gl_InstanceIndex];
    vec3 local = corners[gl_VertexIndex] * a.sizeColor.xyz;
    float s = sin(a.posHeading.w), co = cos(a.posHeading.w);
    vec3 worldPos = a.posHeading.xyz + vec3(co * local.x - s * local.y, s * local.x + co * local.y, local.z);
    vec3 fn = cornerNormals[gl_VertexIndex];
    vec3 n = vec3(co * fn.x - s * fn.y, s * fn.x + co * fn.y, fn.z);
    vec3 color = toLinear(unpackUnorm4x8(floatBitsToUint(a.sizeColor.w)).rgb);
    float sun = max(dot(n, F.sunDir.xyz), 0.0) * F.sunDir.w;
    vec3 lit = color * (F.sunColor.rgb * sun + F.skyZenith.rgb * F.sunColor.w * (1.1 + 0.9 * n.z)) + color * 0.15;
    litColor = applyFog(lit, worldPos);
    gl_Position = F.viewProj * vec4(worldPos, 1.0);
}
