#version 450
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
// The part of the screen where the sky can be more than the plain ground tone the frame is
// cleared to (Renderer.cpp: skyPolygon), as a fan of triangles, drawn after the city so only
// uncovered pixels shade; the view ray per corner for the sky gradient.
layout(location = 0) out vec3 viewRay;
void main() {
    int t = gl_VertexIndex / 3, k = gl_VertexIndex % 3;
    vec2 p = F.skyCorners[k == 0 ? 0 : t + k].xy;
    viewRay = F.cameraForward.xyz + p.x * F.cameraRight.w * F.cameraRight.xyz - p.y * F.cameraUp.w * F.cameraUp.xyz;
    gl_Position = vec4(p, 0.0, 1.0); // depth 0 = far (reverse-Z): only where nothing was drawn
}
