// The vertex side shared by city_pixel.glsl and city_lit.glsl: one vertex layout (MeshVertex) for
// terrain, buildings and roads, and per-object colours set by overlays.
layout(location = 0) in vec3 inPos;
layout(location = 1) in vec3 inNormal;
layout(location = 2) in vec4 inColor;
layout(location = 3) in uint inObject;

#include "objects.glsl"

// The vertex's linear colour: the object's overlay colour where one is set (alpha > 0).
vec3 baseColor() { return objectColor(inObject, inColor.rgb); }
