// The vertex side shared by city_pixel.glsl and city_lit.glsl: one vertex layout (MeshVertex) for
// terrain, buildings and roads, and per-object colours set by overlays.
layout(location = 0) in vec3 inPos;
layout(location = 1) in vec3 inNormal;
layout(location = 2) in vec4 inColor;
layout(location = 3) in uint inObject;

layout(push_constant) uniform Push {
    uint layer;        // 0 terrain, 1 buildings, 2 roads
    uint objectOffset; // where this layer's objects start in objectColors
    uint objectCount;
    uint pad;
} pc;

layout(std430, set = 0, binding = 1) readonly buffer ObjectColors { uint objectColors[]; };

// The vertex's linear colour: the object's overlay colour where one is set (alpha > 0).
vec3 baseColor() {
    if (pc.layer != 0u && inObject < pc.objectCount) {
        vec4 c = unpackUnorm4x8(objectColors[pc.objectOffset + inObject]);
        if (c.a > 0.0) return toLinear(c.rgb);
    }
    return toLinear(inColor.rgb);
}
