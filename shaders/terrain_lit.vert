#version 450
// Terrain lit per vertex with its land use draped per pixel, where the level of detail keeps
// triangles a few pixels wide. Light, hillshade, height tint, rock on steep slopes and haze are
// all linear in the land-use colour, so the vertex hands on that linear map (colour = landUse *
// gain + offset) and each pixel applies it to the drape's colour: the land-use borders stay as
// sharp as the drape whatever the triangles' size.
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"

// MeshVertex's position and normal (see city_vertex.glsl); the colour comes from the drape.
layout(location = 0) in vec3 inPos;
layout(location = 1) in vec3 inNormal;

layout(location = 0) out vec3 gain;
layout(location = 1) out vec3 offset;
layout(location = 2) out vec2 drapeUv;

void main() {
    vec2 w = terrainWeights(inNormal, inPos.z);
    vec3 lit = light(inNormal, 1.0) * hillshadeFactor(inNormal);
    float fog = fogAmount(inPos);
    gain = lit * w.x * (1.0 - fog);
    offset = rockColor * lit * w.y * (1.0 - fog) + F.skyHorizon.rgb * fog;
    drapeUv = inPos.xy * F.drapeMap.xy + F.drapeMap.zw;
    gl_Position = F.viewProj * vec4(inPos, 1.0);
}
