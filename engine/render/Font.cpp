#include "render/Font.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <stb_truetype.h> // implementation in Debian's libstb

namespace ct::render {

namespace {

// Beyond Latin-1: the typographic marks German text uses.
constexpr char32_t extraCodepoints[] = {0x20AC, 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x201E, 0x2022, 0x2026};
constexpr int latinSlots = (126 - 32 + 1) + (255 - 160 + 1);
constexpr int slotCount = latinSlots + int(std::size(extraCodepoints));

int slotOf(char32_t c) {
    if (c >= 32 && c <= 126) return int(c - 32);
    if (c >= 160 && c <= 255) return int(c - 160) + 95;
    for (int i = 0; i < int(std::size(extraCodepoints)); ++i)
        if (extraCodepoints[i] == c) return latinSlots + i;
    return -1;
}

char32_t codepointOf(int slot) {
    if (slot < 95) return char32_t(32 + slot);
    if (slot < latinSlots) return char32_t(160 + slot - 95);
    return extraCodepoints[slot - latinSlots];
}

std::vector<unsigned char> readFont(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw std::runtime_error("font file " + file.string() +
                                 " not found: install the Debian package fonts-dejavu-core (or point CITYTWIN_FONT to a TrueType font)");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Spread of the distance field: 6 atlas pixels either side of the outline, enough to shrink
// the atlas about 4× (14 px lines) before the edge's anti-aliasing runs out of range.
constexpr int sdfPadding = 6;
constexpr float sdfScale = 128.0f / sdfPadding; // value steps per atlas pixel
constexpr int atlasWidth = 1024, gap = 2, solid = 4;

struct FreeSdf {
    void operator()(unsigned char* p) const { stbtt_FreeSDF(p, nullptr); }
};
struct Bitmap {
    int font, slot, w = 0, h = 0, x = 0, y = 0;
    std::unique_ptr<unsigned char, FreeSdf> data;
};

} // namespace

FontAtlas::FontAtlas(const std::filesystem::path& regular, const std::filesystem::path& bold) {
    // Each weight's distance fields take about 0.1 s: one thread per weight.
    auto build = [this](int f, const std::filesystem::path& file) {
        std::vector<unsigned char> data = readFont(file);
        // stb_truetype trusts its input: at least the file's signature must say TrueType/OpenType.
        stbtt_fontinfo info;
        int offset = data.size() < 12 ? -1 : stbtt_GetFontOffsetForIndex(data.data(), 0);
        if (offset < 0 || !stbtt_InitFont(&info, data.data(), offset))
            throw std::runtime_error("font file " + file.string() + " is not a TrueType font");
        float scale = stbtt_ScaleForPixelHeight(&info, lineHeightPx);
        int ascent, descent, lineGap;
        stbtt_GetFontVMetrics(&info, &ascent, &descent, &lineGap);
        ascent_[f] = float(ascent) * scale;
        glyphs_[f].resize(slotCount);
        std::vector<int> index(slotCount);
        std::vector<Bitmap> bitmaps;
        for (int s = 0; s < slotCount; ++s) {
            index[s] = stbtt_FindGlyphIndex(&info, int(codepointOf(s)));
            if (index[s] == 0) index[s] = stbtt_FindGlyphIndex(&info, '?'); // a font without it
            int advance, bearing;
            stbtt_GetGlyphHMetrics(&info, index[s], &advance, &bearing);
            glyphs_[f][s].advance = float(advance) * scale;
            Bitmap b{f, s};
            int xoff, yoff;
            b.data.reset(stbtt_GetGlyphSDF(&info, scale, index[s], sdfPadding, 128, sdfScale, &b.w, &b.h, &xoff, &yoff));
            if (!b.data) continue; // blank (space)
            glyphs_[f][s].x0 = float(xoff), glyphs_[f][s].y0 = float(yoff);
            glyphs_[f][s].x1 = float(xoff + b.w), glyphs_[f][s].y1 = float(yoff + b.h);
            bitmaps.push_back(std::move(b));
        }
        kerning_[f].assign(size_t(slotCount) * slotCount, 0.0f);
        for (int a = 0; a < slotCount; ++a)
            for (int b = 0; b < slotCount; ++b)
                kerning_[f][size_t(a) * slotCount + b] = float(stbtt_GetGlyphKernAdvance(&info, index[a], index[b])) * scale;
        return bitmaps;
    };
    auto boldBitmaps = std::async(std::launch::async, build, 1, bold);
    std::vector<Bitmap> bitmaps = build(0, regular); // if this throws, the future waits for the bold one
    for (Bitmap& b : boldBitmaps.get()) bitmaps.push_back(std::move(b));

    // Shelves, tallest first; an opaque block at the origin for solid shapes.
    std::vector<Bitmap*> order;
    for (auto& b : bitmaps) order.push_back(&b);
    std::stable_sort(order.begin(), order.end(), [](const Bitmap* a, const Bitmap* b) { return a->h > b->h; });
    int x = solid + gap, y = 0, shelf = solid;
    for (Bitmap* b : order) {
        if (x + b->w > atlasWidth) x = 0, y += shelf + gap, shelf = 0;
        b->x = x, b->y = y;
        x += b->w + gap;
        shelf = std::max(shelf, b->h);
    }
    width_ = atlasWidth;
    height_ = y + shelf;
    pixels_.assign(size_t(width_) * height_, 0);
    for (int r = 0; r < solid; ++r) std::fill_n(&pixels_[size_t(r) * width_], solid, uint8_t(255));
    for (Bitmap& b : bitmaps) {
        for (int r = 0; r < b.h; ++r) std::copy_n(b.data.get() + size_t(r) * b.w, b.w, &pixels_[size_t(b.y + r) * width_ + b.x]);
        Glyph& g = glyphs_[b.font][b.slot];
        g.u0 = float(b.x) / width_, g.v0 = float(b.y) / height_;
        g.u1 = float(b.x + b.w) / width_, g.v1 = float(b.y + b.h) / height_;
    }
}

const FontAtlas& FontAtlas::shared() {
    // A throwing constructor leaves the static unset, so a later call tries again.
    static const FontAtlas atlas = [] {
        const char* env = std::getenv("CITYTWIN_FONT");
        if (env && *env) return FontAtlas(env, env);
        const std::filesystem::path dir = "/usr/share/fonts/truetype/dejavu";
        return FontAtlas(dir / "DejaVuSans.ttf", dir / "DejaVuSans-Bold.ttf");
    }();
    return atlas;
}

const Glyph& FontAtlas::glyph(char32_t c, bool bold) const {
    int s = slotOf(c);
    return glyphs_[bold][size_t(s < 0 ? slotOf('?') : s)];
}

float FontAtlas::kerning(char32_t left, char32_t right, bool bold) const {
    int a = slotOf(left), b = slotOf(right);
    if (a < 0) a = slotOf('?');
    if (b < 0) b = slotOf('?');
    return kerning_[bold][size_t(a) * slotCount + size_t(b)];
}

std::u32string decodeUtf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        char32_t cp = extra == 0 ? c : extra == 1 ? c & 0x1F : extra == 2 ? c & 0x0F : c & 0x07;
        bool ok = extra >= 0 && i + size_t(extra) < s.size();
        for (int k = 1; ok && k <= extra; ++k) {
            unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
            if ((d & 0xC0) != 0x80) ok = false;
            else cp = cp << 6 | (d & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are malformed too.
        static constexpr char32_t least[4] = {0, 0x80, 0x800, 0x10000};
        if (ok && (cp < least[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok) {
            out += U'\uFFFD';
            ++i; // resynchronise on the next byte
            continue;
        }
        out += cp;
        i += size_t(extra) + 1;
    }
    return out;
}

} // namespace ct::render
