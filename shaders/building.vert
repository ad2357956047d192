#version 450
// Buildings lit per pixel: see city_pixel.glsl.
#define STAGE_VERTEX
#define FLAT_FACES
#extension GL_GOOGLE_include_directive : require
#include "city_pixel.glsl"
