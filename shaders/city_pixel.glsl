// The city lit per pixel: terrain near the camera or holding water, and everything under
// shadows or a grid overlay (else city_lit.glsl and terrain_lit.* light per vertex). The
// terrain's colour is its land use draped per pixel (frame.glsl: drapeAt), not its vertices'.
// Included by city.* (terrain and roads: smooth normals and colours) and building.* (FLAT_FACES:
// each face takes the normal and colour of its first vertex, see CityMesh.h) with the stage's
// STAGE_* macro.
#include "frame.glsl"

#ifdef STAGE_VERTEX
#include "city_vertex.glsl"

layout(location = 0) out vec3 worldPos;
layout(location = 1) FACE out vec3 normal;
layout(location = 2) FACE out vec4 color;
layout(location = 3) flat out uint objectId;

void main() {
    worldPos = inPos;
    normal = inNormal;
    color = vec4(baseColor(), inColor.a);
    objectId = inObject;
    gl_Position = F.viewProj * vec4(inPos, 1.0);
}
#else

layout(location = 0) in vec3 worldPos;
layout(location = 1) FACE in vec3 normal;
layout(location = 2) FACE in vec4 color;
layout(location = 3) flat in uint objectId;

// One pipeline per layer and feature set: on a CPU device a branch not taken still costs its
// instructions, so what a draw does not need is compiled out.
layout(constant_id = 0) const uint LAYER = 0; // 0 terrain, 1 buildings, 2 roads
layout(constant_id = 1) const bool SHADOWS = false;
layout(constant_id = 2) const bool GRID = false;
// Terrain chunks that hold water (a vertex with alpha 0) get the variant with the reflection;
// the others skip its cost (three pow() and more per pixel) altogether.
layout(constant_id = 3) const bool WATER = false;

layout(set = 0, binding = 4) uniform sampler2D gridValues;
layout(set = 0, binding = 5) uniform sampler2DShadow shadowMap;

layout(location = 0) out vec4 outColor;

float sunVisibility(vec3 n) {
    // Normal offset against acne on slopes.
    vec4 p = F.lightViewProj * vec4(worldPos + n * 0.3, 1.0);
    vec3 s = p.xyz / p.w;
    vec2 uv = s.xy * 0.5 + 0.5;
    if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) return 1.0;
    // One tap: the sampler's linear filter does a 2×2 comparison (soft edges) by itself.
    return texture(shadowMap, vec3(uv, s.z - 0.0015));
}

void main() {
    vec3 n = normalize(normal);
    if (!gl_FrontFacing) n = -n;
    vec3 base = color.rgb;
    bool water = false;
    if (LAYER == 0u) {
        vec4 landUse = drapeAt(worldPos.xy);
        base = terrainColor(toLinear(landUse.rgb), n, worldPos.z);
        water = WATER && landUse.a < 0.5 && F.terrainRange.w > 0.5;
        if (water) base = vec3(0.05, 0.16, 0.30);
    }
    vec3 lit = shade(base, n, SHADOWS ? sunVisibility(n) : 1.0);
    if (LAYER == 0u) lit = hillshade(lit, n);
    if (LAYER == 0u && WATER && water) {
        vec3 v = normalize(F.cameraPos.xyz - worldPos);
        vec3 r = reflect(-v, vec3(0, 0, 1));
        float fresnel = 0.04 + 0.96 * pow(1.0 - max(v.z, 0.0), 5.0);
        lit = mix(lit, skyColor(r), fresnel * 0.8);
        lit += F.sunColor.rgb * pow(max(dot(r, F.sunDir.xyz), 0.0), 200.0) * F.sunDir.w;
    }
    // Scalar grid draped on terrain and roads (e.g. water depth).
    if (GRID && LAYER != 1u) {
        vec2 g = vec2((worldPos.x - F.gridGeo.x) / F.gridGeo.z, (F.gridGeo.y - worldPos.y) / F.gridGeo.z);
        if (g.x >= 0.0 && g.y >= 0.0 && g.x < F.gridInfo.x && g.y < F.gridInfo.y) {
            float v = texelFetch(gridValues, ivec2(g), 0).r;
            if (!isnan(v) && v > F.gridFlags.x) {
                float t = (v - F.gridInfo.z) / max(F.gridInfo.w - F.gridInfo.z, 1e-9);
                vec3 c = lutColor(t) * (0.55 + 0.45 * max(dot(n, F.sunDir.xyz), 0.0) + 0.2);
                lit = mix(lit, c, F.gridGeo.w);
            }
        }
    }
    if (LAYER != 0u) lit = highlightSelection(lit, LAYER, objectId);
    outColor = vec4(toDisplay(applyFog(lit, worldPos)), 1.0);
}
#endif
