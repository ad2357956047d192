#version 450
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
layout(location = 0) in vec3 inPos;
void main() { gl_Position = F.lightViewProj * vec4(inPos, 1.0); }
