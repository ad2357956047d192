#version 450
// Buildings lit per vertex: see city_lit.glsl.
#define STAGE_VERTEX
#define FLAT_FACES
#extension GL_GOOGLE_include_directive : require
#include "city_lit.glsl"
