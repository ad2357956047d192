#version 450
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
layout(location = 0) in vec3 viewRay;
layout(location = 0) out vec4 outColor;
void main() { outColor = vec4(toDisplay(skyColor(normalize(viewRay))), 1.0); }
