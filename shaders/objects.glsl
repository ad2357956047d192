// Per-object colours set by overlays (Renderer::setBuildingValues, setRoadValues), shared by
// the city's vertex shaders (city_vertex.glsl) and the far buildings' boxes (building_box.vert).
layout(push_constant) uniform Push {
    uint layer;        // 0 terrain, 1 buildings, 2 roads
    uint objectOffset; // where this layer's objects start in objectColors
    uint objectCount;
    uint pad;
} pc;

layout(std430, set = 0, binding = 1) readonly buffer ObjectColors { uint objectColors[]; };

// The linear colour of an object of this layer: its overlay colour where one is set (alpha >
// 0), else its own (RGBA, R in the low byte).
vec3 objectColor(uint object, vec3 ownColor) {
    if (pc.layer != 0u && object < pc.objectCount) {
        vec4 c = unpackUnorm4x8(objectColors[pc.objectOffset + object]);
        if (c.a > 0.0) return toLinear(c.rgb);
    }
    return toLinear(ownColor);
}
