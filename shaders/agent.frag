#version 450
// Instanced agents, lit per vertex: see agent.vert.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
layout(location = 0) flat in vec3 litColor;
layout(location = 0) out vec4 outColor;
void main() { outColor = vec4(toDisplay(litColor), 1.0); }
