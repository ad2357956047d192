#version 450
layout(location = 0) in vec2 disc;
layout(location = 1) in vec3 color;
layout(location = 0) out vec4 outColor;
void main() {
    float r = length(disc);
    if (r > 1.0) discard;
    vec3 c = r > 0.72 ? vec3(1.0) : color; // white ring so markers read on any background
    outColor = vec4(c, 1.0);
}
