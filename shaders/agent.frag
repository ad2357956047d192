#version 450
#extension GL_GOOGLE_include_directive : require
#include "frame.glsl"
layout(location = 0) in vec3 worldPos;
layout(location = 1) in vec3 normal;
layout(location = 2) in vec3 color;
layout(location = 0) out vec4 outColor;
void main() {
    vec3 n = normalize(normal);
    float sun = max(dot(n, F.sunDir.xyz), 0.0) * F.sunDir.w;
    vec3 lit = color * (F.sunColor.rgb * sun + F.skyZenith.rgb * F.sunColor.w * (1.1 + 0.9 * n.z)) + color * 0.15;
    outColor = vec4(toDisplay(applyFog(lit, worldPos)), 1.0);
}
