// Interpolation of a face's normal and colour: flat (from the triangle's first vertex, see
// CityMesh.h) in the building shaders, which define FLAT_FACES; smooth elsewhere.
#ifdef FLAT_FACES
#define FACE flat
#else
#define FACE
#endif

// Per-frame data shared by every city shader (std140; mirrors FrameUniforms in Renderer.cpp).
layout(set = 0, binding = 0) uniform Frame {
    mat4 viewProj;
    mat4 lightViewProj;
    vec4 cameraPos;     // xyz; w = fog density (1/m)
    vec4 cameraRight;   // xyz; w = tan(fovY/2) * aspect
    vec4 cameraUp;      // xyz; w = tan(fovY/2)
    vec4 cameraForward; // xyz
    vec4 sunDir;        // towards the sun; w = sun intensity 0..1
    vec4 sunColor;      // rgb (linear); w = ambient
    vec4 skyZenith;     // rgb (linear)
    vec4 skyHorizon;    // rgb (linear)
    vec4 terrainRange;  // min z, max z, hillshade on, water shown
    vec4 gridGeo;       // origin x (west edge), origin y (north edge), cell size, opacity
    vec4 gridInfo;      // columns, rows, value at colour-map start, value at end
    vec4 gridFlags;     // hide values <= this, grid on, shadows on, 0
    uvec4 selection;    // layer, object id, selection on, 0
    vec4 screen;        // width px, height px, marker size px, 0
    vec4 drapeMap;      // local x, y to the terrain drape's u, v: (x, y) * drapeMap.xy + drapeMap.zw
    vec4 skyCorners[5]; // xy: the screen's part the sky is drawn on (NDC), a convex polygon
    vec4 gridLut[32];   // colour map, linear rgb
} F;

// The terrain's land use, one texel per finest terrain vertex (CityMesh.h: TerrainDrape), linear
// filter: RGB the land-use colour, A 0 on water.
layout(set = 0, binding = 7) uniform sampler2D terrainDrape;
vec4 drapeAt(vec2 xy) { return texture(terrainDrape, xy * F.drapeMap.xy + F.drapeMap.zw); }

// Gamma 2 instead of 2.2: indistinguishable here, and much cheaper than pow() on a CPU device.
vec3 toLinear(vec3 c) { return c * c; }
vec3 toDisplay(vec3 c) { return sqrt(clamp(c, 0.0, 1.0)); }

vec3 lutColor(float t) {
    float x = clamp(t, 0.0, 1.0) * 31.0;
    int i = int(floor(x));
    return mix(F.gridLut[i].rgb, F.gridLut[min(i + 1, 31)].rgb, x - float(i));
}

// Sky colour along a view direction: horizon haze to zenith blue, a glow around the sun.
vec3 skyColor(vec3 dir) {
    float up = clamp(dir.z, 0.0, 1.0);
    vec3 sky = mix(F.skyHorizon.rgb, F.skyZenith.rgb, pow(up, 0.6));
    float sun = max(dot(normalize(dir), F.sunDir.xyz), 0.0);
    sky += F.sunColor.rgb * (pow(sun, 256.0) * 4.0 + pow(sun, 8.0) * 0.15) * F.sunDir.w;
    // Below the horizon (beyond the city's edge): a muted ground tone, alone from dir.z = -1/6 on
    // (the frame is cleared to it there and the sky not drawn: Renderer.cpp, skyPolygon).
    if (dir.z < 0.0) sky = mix(F.skyHorizon.rgb, vec3(0.16, 0.17, 0.15) * (0.3 + 0.7 * F.sunDir.w), clamp(-dir.z * 6.0, 0.0, 1.0));
    return sky;
}

// Distance haze towards the horizon colour: how much of it at worldPos.
float fogAmount(vec3 worldPos) {
    float d = length(worldPos - F.cameraPos.xyz);
    return clamp(1.0 - exp(-d * F.cameraPos.w), 0.0, 0.6);
}
vec3 applyFog(vec3 color, vec3 worldPos) { return mix(color, F.skyHorizon.rgb, fogAmount(worldPos)); }

// Sun and sky light on a surface with unit normal n, to multiply its linear colour by;
// sunVisibility is the shadow map's answer (1 without shadows).
vec3 light(vec3 n, float sunVisibility) {
    float sun = max(dot(n, F.sunDir.xyz), 0.0) * F.sunDir.w * sunVisibility;
    float sky = 0.55 + 0.45 * n.z; // hemisphere: walls get less sky than roofs
    vec3 ambient = mix(F.skyZenith.rgb, vec3(1.0), 0.6) * F.sunColor.w * sky;
    return F.sunColor.rgb * sun * 0.9 + ambient;
}
vec3 shade(vec3 base, vec3 n, float sunVisibility) { return base * light(n, sunVisibility); }

// Terrain: the land-use colour a little lighter with height, rock grey on steep slopes. Linear
// in the land use: terrainColor = landUse * w.x + rockColor * w.y with w = terrainWeights(n, z).
const vec3 rockColor = vec3(0.28, 0.27, 0.25);
vec2 terrainWeights(vec3 n, float z) {
    float h = clamp((z - F.terrainRange.x) / max(F.terrainRange.y - F.terrainRange.x, 1.0), 0.0, 1.0);
    float steep = smoothstep(0.55, 0.85, 1.0 - n.z);
    return vec2(mix(0.85, 1.12, h) * (1.0 - steep), steep);
}
vec3 terrainColor(vec3 landUse, vec3 n, float z) {
    vec2 w = terrainWeights(n, z);
    return landUse * w.x + rockColor * w.y;
}

// Hillshade from the north-west (cartographic convention) so relief reads at noon too: a factor
// on the lit colour.
float hillshadeFactor(vec3 n) {
    if (F.terrainRange.z < 0.5) return 1.0;
    float hs = max(dot(n, normalize(vec3(-0.5, 0.5, 0.7))), 0.0);
    return mix(0.75, 1.15, hs);
}
vec3 hillshade(vec3 lit, vec3 n) { return lit * hillshadeFactor(n); }

// The selected building or road edge in orange.
vec3 highlightSelection(vec3 lit, uint layer, uint objectId) {
    if (layer != 0u && F.selection.z != 0u && F.selection.x == layer && F.selection.y == objectId)
        return mix(lit, vec3(1.0, 0.45, 0.05), 0.55);
    return lit;
}
