#version 450
// Screen-space 2D: text, legends, frames. Positions in pixels, top-left origin.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
layout(location = 0) in vec2 inPos;
layout(location = 1) in vec2 inUv;
layout(location = 2) in vec4 inColor;
layout(location = 0) out vec4 color;
layout(location = 1) out vec2 uv;
void main() {
    color = inColor;
    uv = inUv;
    gl_Position = vec4(inPos / F.screen.xy * 2.0 - 1.0, 0.0, 1.0);
}
