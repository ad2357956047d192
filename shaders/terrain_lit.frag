#version 450
// Terrain lit per vertex, land use per pixel: see terrain_lit.vert.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

layout(location = 0) in vec3 gain;
layout(location = 1) in vec3 offset;
layout(location = 2) in vec2 drapeUv;
layout(location = 0) out vec4 outColor;

void main() { outColor = vec4(toDisplay(toLinear(texture(terrainDrape, drapeUv).rgb) * gain + offset), 1.0); }
