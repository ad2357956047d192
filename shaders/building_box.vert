#version 450
// Far buildings as points (CityMesh.h: BuildingBox): one point per box, a square sprite over the
// box's projection, in which building_box.frag intersects each pixel's view ray with the box. On a
// CPU device (lavapipe) a whole-city view waits for its one-thread geometry stage: a box's 8
// shaded corners and 10 triangles become one vertex and one point. Lit like building_lit.* (flat
// faces lit per vertex, no shadows): this shader lights the roof and the four walls.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
#include "objects.glsl"

struct Box {
    float corners[8]; // x0, y0, … x3, y3, counter-clockwise
    float bottom, top;
    uint wallRgba, roofRgba, objectId;
};
layout(std430, set = 0, binding = 8) readonly buffer Boxes { Box boxes[]; };

// The box's planes as the fragment shader needs them, relative to the camera: each wall's unit
// normal (outwards) and how far along it the wall lies beyond the eye; the roof's and the
// bottom's heights above the eye.
layout(location = 0) flat out vec3 walls[4]; // wall k from corner k to k + 1
layout(location = 4) flat out vec2 heights;  // top, bottom
layout(location = 5) flat out vec3 roofLit;
layout(location = 6) flat out vec3 wallLit[4];

void main() {
    Box b = boxes[gl_VertexIndex];
    vec2 p[4];
    for (int k = 0; k < 4; ++k) p[k] = vec2(b.corners[2 * k], b.corners[2 * k + 1]);
    vec3 eye = F.cameraPos.xyz;
    for (int k = 0; k < 4; ++k) {
        vec2 d = p[(k + 1) % 4] - p[k], n = normalize(vec2(d.y, -d.x)); // outwards: counter-clockwise
        walls[k] = vec3(n, dot(n, p[k] - eye.xy));
    }
    heights = vec2(b.top, b.bottom) - eye.z;

    // Light as the mesh's provoking vertices have it: a wall at its first bottom corner, the roof
    // at the roof's centre (the haze changes by far less than a level over a building).
    vec3 wall = objectColor(b.objectId, unpackUnorm4x8(b.wallRgba).rgb), roof = objectColor(b.objectId, unpackUnorm4x8(b.roofRgba).rgb);
    vec3 centre = vec3((p[0] + p[1] + p[2] + p[3]) * 0.25, b.top);
    roofLit = applyFog(highlightSelection(shade(roof, vec3(0, 0, 1), 1.0), 1u, b.objectId), centre);
    for (int k = 0; k < 4; ++k)
        wallLit[k] = applyFog(highlightSelection(shade(wall, vec3(walls[k].xy, 0.0), 1.0), 1u, b.objectId), vec3(p[k], b.bottom));

    // The sprite: the square around the projected corners' bounding box, half a pixel to spare
    // against rounding. The renderer draws boxes only for chunks wholly in view (a point whose
    // centre leaves the view is dropped), so every corner is in front of the camera.
    vec2 lo = vec2(1e30), hi = vec2(-1e30);
    float nearest = 0.0; // reverse-Z: larger is nearer
    for (int k = 0; k < 8; ++k) {
        vec4 c = F.viewProj * vec4(p[k % 4], k < 4 ? b.bottom : b.top, 1.0);
        vec3 ndc = c.xyz / c.w;
        lo = min(lo, ndc.xy);
        hi = max(hi, ndc.xy);
        nearest = max(nearest, ndc.z);
    }
    vec2 sizePx = (hi - lo) * 0.5 * F.screen.xy;
    gl_PointSize = max(sizePx.x, sizePx.y) + 0.5;
    gl_Position = vec4((lo + hi) * 0.5, nearest, 1.0);
}
