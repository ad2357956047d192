#version 450
// A far building's box (building_box.vert): the pixel's view ray against the box's six planes
// (the ray enters through the face whose plane it crosses last on the way in); pixels whose ray
// misses it are discarded. The depth is the hit point's, so the box covers and hides the same
// pixels its triangles would (up to rounding at pixel centres exactly on an edge).
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

layout(location = 0) flat in vec3 walls[4];
layout(location = 4) flat in vec2 heights;
layout(location = 5) flat in vec3 roofLit;
layout(location = 6) flat in vec3 wallLit[4];
layout(location = 0) out vec4 outColor;

void main() {
    // The view ray eye + t·dir through the pixel's centre; dir·forward = 1, so t is the depth
    // along the view axis.
    vec2 ndc = gl_FragCoord.xy / F.screen.xy * 2.0 - 1.0;
    vec3 dir = F.cameraForward.xyz + ndc.x * F.cameraRight.w * F.cameraRight.xyz - ndc.y * F.cameraUp.w * F.cameraUp.xyz;
    // Roof and bottom: entering through the roof when looking down.
    float tTop = heights.x / dir.z, tBottom = heights.y / dir.z;
    bool down = dir.z < 0.0;
    float tIn = down ? tTop : tBottom, tOut = down ? tBottom : tTop;
    int face = down ? 4 : 5;
    // Walls n·(x − eye) ≤ offset: entered where the ray runs against the normal. A ray
    // parallel to a wall divides by 0: +∞ inside (no bound), −∞ outside (a miss).
    for (int k = 0; k < 4; ++k) {
        float along = dot(walls[k].xy, dir.xy), t = walls[k].z / along;
        if (along < 0.0) {
            if (t > tIn) tIn = t, face = k;
        } else {
            tOut = min(tOut, t);
        }
    }
    if (tIn > tOut || tIn <= 0.0) discard;
    gl_FragDepth = F.viewProj[3][2] / tIn; // reverse-Z: clip z is the near distance, clip w the depth
    outColor = vec4(toDisplay(face == 4 ? roofLit : wallLit[face & 3]), 1.0); // the bottom (5, from below): a wall's
}
