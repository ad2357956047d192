#version 450
// Terrain and roads lit per vertex: see city_lit.glsl.
#define STAGE_FRAGMENT
#extension GL_GOOGLE_include_directive : require
#include "city_lit.glsl"
