#version 450
// Instanced agents (vehicles, people): a box per instance, built from gl_VertexIndex.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

struct Agent {
    vec4 posHeading; // x, y, z (ground), heading (radians, 0 = east, counter-clockwise)
    vec4 sizeColor;  // length, width, height, rgba packed as uint bits
};
layout(std430, set = 0, binding = 2) readonly buffer Agents { Agent agents[]; };

layout(location = 0) out vec3 worldPos;
layout(location = 1) out vec3 normal;
layout(location = 2) out vec3 color;

const vec3 corners[8] = vec3[](vec3(-0.5, -0.5, 0), vec3(0.5, -0.5, 0), vec3(0.5, 0.5, 0), vec3(-0.5, 0.5, 0),
                               vec3(-0.5, -0.5, 1), vec3(0.5, -0.5, 1), vec3(0.5, 0.5, 1), vec3(-0.5, 0.5, 1));
// Five faces (no bottom), two counter-clockwise triangles each, seen from outside.
const int faces[30] = int[](4, 5, 6, 4, 6, 7,  0, 1, 5, 0, 5, 4,  1, 2, 6, 1, 6, 5,  2, 3, 7, 2, 7, 6,  3, 0, 4, 3, 4, 7);
const vec3 faceNormals[5] = vec3[](vec3(0, 0, 1), vec3(0, -1, 0), vec3(1, 0, 0), vec3(0, 1, 0), vec3(-1, 0, 0));

void main() {
    Agent a = agents[gl_InstanceIndex];
    vec3 c = corners[faces[gl_VertexIndex]];
    vec3 size = a.sizeColor.xyz;
    float s = sin(a.posHeading.w), co = cos(a.posHeading.w);
    vec3 local = c * size;
    vec3 p = vec3(co * local.x - s * local.y, s * local.x + co * local.y, local.z);
    vec3 fn = faceNormals[gl_VertexIndex / 6];
    normal = vec3(co * fn.x - s * fn.y, s * fn.x + co * fn.y, fn.z);
    worldPos = a.posHeading.xyz + p;
    color = toLinear(unpackUnorm4x8(floatBitsToUint(a.sizeColor.w)).rgb);
    gl_Position = F.viewProj * vec4(worldPos, 1.0);
}
