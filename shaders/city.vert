#version 450
// Terrain and roads lit per pixel: see city_pixel.glsl.
#define STAGE_VERTEX
#extension GL_GOOGLE_include_directive : require
#include "city_pixel.glsl"
