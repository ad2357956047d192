// The city lit per vertex, where that looks the same as per pixel and there are no shadows:
// buildings (flat faces, so sun and sky light are the same across a face: each face takes the
// colour of its first vertex, which carries the face's normal, see CityMesh.h) and roads (the
// terrain's counterpart, with its land use draped per pixel, is terrain_lit.*). The rasteriser
// then carries one colour instead of eleven values; on a CPU device (lavapipe) that per-triangle
// and per-pixel work is what a whole-city overview waits for.
// Included by city_lit.* (smooth) and building_lit.* (FLAT_FACES) with the stage's STAGE_* macro.
#include "frame.glsl"

#ifdef STAGE_VERTEX
#include "city_vertex.glsl"

layout(constant_id = 0) const uint LAYER = 1; // 1 buildings, 2 roads (terrain: terrain_lit.*)

// Linear colour, blended between vertices; the fragment shader converts it for display.
layout(location = 0) FACE out vec3 litColor;

void main() {
    litColor = applyFog(highlightSelection(shade(baseColor(), inNormal, 1.0), LAYER, inObject), inPos);
    gl_Position = F.viewProj * vec4(inPos, 1.0);
}
#else
layout(location = 0) FACE in vec3 litColor;
layout(location = 0) out vec4 outColor;
void main() { outColor = vec4(toDisplay(litColor), 1.0); }
#endif
