#version 450
// Text from a signed distance field (solid shapes sample an opaque texel): the edge is
// smoothed over about one screen pixel, so glyphs stay crisp at any size.
layout(set = 0, binding = 6) uniform sampler2D fontAtlas;
layout(location = 0) in vec4 color;
layout(location = 1) in vec2 uv;
layout(location = 0) out vec4 outColor;
const float edge = 128.0 / 255.0; // FontAtlas::edgeValue
void main() {
    float d = texture(fontAtlas, uv).r;
    float w = max(fwidth(d) * 0.5, 1e-5); // about one pixel wide; no derivative on solid shapes
    outColor = vec4(color.rgb, color.a * smoothstep(edge - w, edge + w, d));
}
