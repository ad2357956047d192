#pragma once
// The HUD's font: a signed-distance-field atlas built on the CPU with stb_truetype from
// DejaVu Sans (regular and bold), so one atlas serves small labels and a 4K title alike.
// Covers ASCII, Latin-1 (umlauts, ß, °, ², ·) and € – — ‘ ’ “ ” „ • …; anything else is '?'.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ct::render {

// A glyph's box in atlas pixels around the pen on the baseline (y down), and where it lies
// in the atlas (texture coordinates 0..1).
struct Glyph {
    float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    float u0 = 0, v0 = 0, u1 = 0, v1 = 0;
    float advance = 0;
};

class FontAtlas {
public:
    static constexpr float lineHeightPx = 48; // ascent + descent in atlas pixels
    static constexpr float edgeValue = 128 / 255.0f; // distance-field value on the outline

    // Builds the atlas (R8, row-major). Throws std::runtime_error naming a missing file.
    FontAtlas(const std::filesystem::path& regular, const std::filesystem::path& bold);
    // DejaVu Sans, or $CITYTWIN_FONT for both weights; built once, on first use.
    static const FontAtlas& shared();

    int width() const { return width_; }
    int height() const { return height_; }
    const std::vector<uint8_t>& pixels() const { return pixels_; } // texel (0, 0) is opaque
    const Glyph& glyph(char32_t c, bool bold = false) const;
    float kerning(char32_t left, char32_t right, bool bold = false) const; // atlas pixels
    float ascent(bool bold = false) const { return ascent_[bold]; }        // line top to baseline

private:
    int width_ = 0, height_ = 0;
    std::vector<uint8_t> pixels_;
    std::vector<Glyph> glyphs_[2];
    std::vector<float> kerning_[2]; // slot × slot
    float ascent_[2]{};
};

// Unicode code points of UTF-8 text; a malformed sequence gives U+FFFD.
std::u32string decodeUtf8(std::string_view text);

} // namespace ct::render
