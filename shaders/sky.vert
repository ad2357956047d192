#version 450
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
// One triangle covering the screen, drawn after the city so only uncovered pixels shade;
// the view ray per corner for the sky gradient.
layout(location = 0) out vec3 viewRay;
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2) * 2.0 - 1.0;
    viewRay = F.cameraForward.xyz + p.x * F.cameraRight.w * F.cameraRight.xyz - p.y * F.cameraUp.w * F.cameraUp.xyz;
    gl_Position = vec4(p, 0.0, 1.0); // depth 0 = far (reverse-Z): only where nothing was drawn
}
