#include "sim/energy/Shading.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ct::energy {

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr int binCount = 16;
constexpr uint32_t maxLeafSize = 4;         // one triangle pack
constexpr uint32_t parallelBuildMin = 4096; // smaller subtrees are built on one thread
constexpr uint32_t parallelBinMin = 65536;  // bigger nodes bin their triangles in parallel
constexpr int sahDepthLimit = 40;           // deeper: object median, keeps the stack bounded
constexpr int stackSize = 256;
// Barycentric slack: closes the seam between two triangles sharing an edge (float rounding
// can otherwise let a ray slip between them); 1e-6 of a 10 m triangle is 10 µm.
constexpr float baryEps = 1e-6f;

struct Aabb {
    float lo[3] = {inf, inf, inf};
    float hi[3] = {-inf, -inf, -inf};
    void extend(const float* p) {
        for (int k = 0; k < 3; ++k) {
            lo[k] = std::min(lo[k], p[k]);
            hi[k] = std::max(hi[k], p[k]);
        }
    }
    void extend(const Aabb& b) {
        for (int k = 0; k < 3; ++k) {
            lo[k] = std::min(lo[k], b.lo[k]);
            hi[k] = std::max(hi[k], b.hi[k]);
        }
    }
    bool empty() const { return lo[0] > hi[0]; }
    float area() const {
        if (empty()) return 0;
        const float dx = hi[0] - lo[0], dy = hi[1] - lo[1], dz = hi[2] - lo[2];
        return 2 * (dx * dy + dy * dz + dz * dx);
    }
};

// A binary node during the build. Slots are assigned so a subtree of n triangles owns the
// 2n-1 slots after its root: no shared counter, the same tree for any thread count.
struct BuildNode {
    Aabb box;
    uint32_t begin = 0, count = 0; // triangle range (indices[begin, begin+count))
    uint32_t left = 0, right = 0;  // slots; 0 = leaf (slot 0 is always the root)
};

struct Builder {
    const std::vector<Aabb>& triBox;
    const std::vector<std::array<float, 3>>& centroid;
    std::vector<uint32_t>& indices;
    std::vector<BuildNode>& nodes;

    struct RangeInfo {
        Aabb box, cbox;
    };

    RangeInfo rangeInfo(uint32_t begin, uint32_t end) const {
        auto body = [&](const tbb::blocked_range<uint32_t>& r, RangeInfo acc) {
            for (uint32_t k = r.begin(); k < r.end(); ++k) {
                const uint32_t t = indices[k];
                acc.box.extend(triBox[t]);
                acc.cbox.extend(centroid[t].data());
            }
            return acc;
        };
        // Min/max are exact in any order: the result does not depend on the split.
        auto join = [](RangeInfo a, const RangeInfo& b) {
            a.box.extend(b.box);
            a.cbox.extend(b.cbox);
            return a;
        };
        if (end - begin < parallelBinMin) return body(tbb::blocked_range<uint32_t>(begin, end), RangeInfo{});
        return tbb::parallel_reduce(tbb::blocked_range<uint32_t>(begin, end, 8192), RangeInfo{}, body, join);
    }

    struct Bins {
        Aabb box[3][binCount];
        uint32_t count[3][binCount] = {};
    };

    static int binOf(float c, float lo, float scale) {
        const int b = static_cast<int>((c - lo) * scale);
        return std::clamp(b, 0, binCount - 1);
    }

    Bins bin(uint32_t begin, uint32_t end, const Aabb& cbox) const {
        float scale[3];
        for (int a = 0; a < 3; ++a) {
            const float ext = cbox.hi[a] - cbox.lo[a];
            scale[a] = ext > 0 ? binCount / ext * (1 - 1e-6f) : 0;
        }
        auto body = [&](const tbb::blocked_range<uint32_t>& r, Bins acc) {
            for (uint32_t k = r.begin(); k < r.end(); ++k) {
                const uint32_t t = indices[k];
                for (int a = 0; a < 3; ++a) {
                    const int b = binOf(centroid[t][a], cbox.lo[a], scale[a]);
                    acc.count[a][b]++;
                    acc.box[a][b].extend(triBox[t]);
                }
            }
            return acc;
        };
        auto join = [](Bins x, const Bins& y) {
            for (int a = 0; a < 3; ++a)
                for (int b = 0; b < binCount; ++b) {
                    x.count[a][b] += y.count[a][b];
                    x.box[a][b].extend(y.box[a][b]);
                }
            return x;
        };
        if (end - begin < parallelBinMin) return body(tbb::blocked_range<uint32_t>(begin, end), Bins{});
        return tbb::parallel_reduce(tbb::blocked_range<uint32_t>(begin, end, 8192), Bins{}, body, join);
    }

    void build(uint32_t slot, uint32_t begin, uint32_t end, int depth) {
        const RangeInfo info = rangeInfo(begin, end);
        BuildNode& node = nodes[slot];
        node.box = info.box;
        node.begin = begin;
        node.count = end - begin;
        if (end - begin <= maxLeafSize) return;

        int axis = 0;
        for (int a = 1; a < 3; ++a)
            if (info.cbox.hi[a] - info.cbox.lo[a] > info.cbox.hi[axis] - info.cbox.lo[axis]) axis = a;
        uint32_t mid = begin + (end - begin) / 2;
        if (!(info.cbox.hi[axis] > info.cbox.lo[axis])) {
            // All centroids in one point: any halving is as good as another.
        } else if (depth >= sahDepthLimit) {
            std::nth_element(indices.begin() + begin, indices.begin() + mid, indices.begin() + end,
                             [&](uint32_t x, uint32_t y) {
                                 return centroid[x][axis] < centroid[y][axis] ||
                                        (centroid[x][axis] == centroid[y][axis] && x < y);
                             });
        } else {
            // Binned SAH: the plane between bins minimising A_left·N_left + A_right·N_right.
            const Bins bins = bin(begin, end, info.cbox);
            float bestCost = inf;
            int bestAxis = -1, bestSplit = 0;
            for (int a = 0; a < 3; ++a) {
                if (!(info.cbox.hi[a] > info.cbox.lo[a])) continue;
                float rightArea[binCount];
                uint32_t rightCount[binCount];
                Aabb acc;
                uint32_t n = 0;
                for (int b = binCount - 1; b > 0; --b) {
                    acc.extend(bins.box[a][b]);
                    n += bins.count[a][b];
                    rightArea[b] = acc.area();
                    rightCount[b] = n;
                }
                acc = Aabb{};
                n = 0;
                for (int b = 0; b < binCount - 1; ++b) {
                    acc.extend(bins.box[a][b]);
                    n += bins.count[a][b];
                    if (n == 0 || rightCount[b + 1] == 0) continue;
                    const float cost = acc.area() * float(n) + rightArea[b + 1] * float(rightCount[b + 1]);
                    if (cost < bestCost) {
                        bestCost = cost;
                        bestAxis = a;
                        bestSplit = b + 1;
                    }
                }
            }
            if (bestAxis >= 0) {
                const float ext = info.cbox.hi[bestAxis] - info.cbox.lo[bestAxis];
                const float scale = binCount / ext * (1 - 1e-6f), lo = info.cbox.lo[bestAxis];
                auto it = std::partition(indices.begin() + begin, indices.begin() + end, [&](uint32_t t) {
                    return binOf(centroid[t][bestAxis], lo, scale) < bestSplit;
                });
                mid = static_cast<uint32_t>(it - indices.begin());
                if (mid == begin || mid == end) mid = begin + (end - begin) / 2;
            }
        }
        const uint32_t nl = mid - begin;
        node.left = slot + 1;
        node.right = slot + 2 * nl; // the left subtree owns 2·nl - 1 slots
        const uint32_t left = node.left, right = node.right;
        if (end - begin >= parallelBuildMin)
            tbb::parallel_invoke([&] { build(left, begin, mid, depth + 1); },
                                 [&] { build(right, mid, end, depth + 1); });
        else {
            build(left, begin, mid, depth + 1);
            build(right, mid, end, depth + 1);
        }
    }
};

// Grows a box outwards by a few float ulps, so float rounding in the slab test never
// rejects a box that a triangle test in the same precision would hit.
void setChildBox(OcclusionBvh::Node& n, int k, const Aabb& b) {
    auto down = [](float v) { return v - (std::abs(v) * 4e-7f + 1e-6f); };
    auto up = [](float v) { return v + (std::abs(v) * 4e-7f + 1e-6f); };
    n.minX[k] = down(b.lo[0]);
    n.minY[k] = down(b.lo[1]);
    n.minZ[k] = down(b.lo[2]);
    n.maxX[k] = up(b.hi[0]);
    n.maxY[k] = up(b.hi[1]);
    n.maxZ[k] = up(b.hi[2]);
}

struct RayPrep {
    float o[3], d[3], inv[3];
    int nearOff[3], farOff[3]; // float offsets inside Node for the near/far slab planes
    float tMin, tMax;
};

RayPrep prepare(const ShadowRay& r) {
    RayPrep p;
    for (int k = 0; k < 3; ++k) {
        p.o[k] = r.origin[k];
        p.d[k] = r.dir[k];
        // A zero component gets a huge finite inverse: (box - o)·inv keeps its sign, no NaN.
        const float dk = std::abs(r.dir[k]) < 1e-30f ? std::copysign(1e-30f, r.dir[k]) : r.dir[k];
        p.inv[k] = 1.0f / dk;
        const int lo = 8 * k, hi = 8 * k + 4; // minX at 0, maxX at 4, minY at 8, ...
        p.nearOff[k] = p.inv[k] >= 0 ? lo : hi;
        p.farOff[k] = p.inv[k] >= 0 ? hi : lo;
    }
    p.tMin = r.tMin;
    p.tMax = r.tMax;
    return p;
}

// Closest hit distance in the pack within (tMin, tMax), +inf if none.
inline float intersectPack(const OcclusionBvh::TrianglePack& tp, const RayPrep& r, float tMax) {
#if defined(__SSE2__)
    const __m128 dx = _mm_set1_ps(r.d[0]), dy = _mm_set1_ps(r.d[1]), dz = _mm_set1_ps(r.d[2]);
    const __m128 e1x = _mm_load_ps(tp.e1x), e1y = _mm_load_ps(tp.e1y), e1z = _mm_load_ps(tp.e1z);
    const __m128 e2x = _mm_load_ps(tp.e2x), e2y = _mm_load_ps(tp.e2y), e2z = _mm_load_ps(tp.e2z);
    const __m128 px = _mm_sub_ps(_mm_mul_ps(dy, e2z), _mm_mul_ps(dz, e2y));
    const __m128 py = _mm_sub_ps(_mm_mul_ps(dz, e2x), _mm_mul_ps(dx, e2z));
    const __m128 pz = _mm_sub_ps(_mm_mul_ps(dx, e2y), _mm_mul_ps(dy, e2x));
    const __m128 det = _mm_add_ps(_mm_add_ps(_mm_mul_ps(e1x, px), _mm_mul_ps(e1y, py)), _mm_mul_ps(e1z, pz));
    const __m128 invDet = _mm_div_ps(_mm_set1_ps(1.0f), det); // det 0 (padding): inf/NaN, fails below
    const __m128 tx = _mm_sub_ps(_mm_set1_ps(r.o[0]), _mm_load_ps(tp.v0x));
    const __m128 ty = _mm_sub_ps(_mm_set1_ps(r.o[1]), _mm_load_ps(tp.v0y));
    const __m128 tz = _mm_sub_ps(_mm_set1_ps(r.o[2]), _mm_load_ps(tp.v0z));
    const __m128 u = _mm_mul_ps(
        _mm_add_ps(_mm_add_ps(_mm_mul_ps(tx, px), _mm_mul_ps(ty, py)), _mm_mul_ps(tz, pz)), invDet);
    const __m128 qx = _mm_sub_ps(_mm_mul_ps(ty, e1z), _mm_mul_ps(tz, e1y));
    const __m128 qy = _mm_sub_ps(_mm_mul_ps(tz, e1x), _mm_mul_ps(tx, e1z));
    const __m128 qz = _mm_sub_ps(_mm_mul_ps(tx, e1y), _mm_mul_ps(ty, e1x));
    const __m128 v = _mm_mul_ps(
        _mm_add_ps(_mm_add_ps(_mm_mul_ps(dx, qx), _mm_mul_ps(dy, qy)), _mm_mul_ps(dz, qz)), invDet);
    const __m128 t = _mm_mul_ps(
        _mm_add_ps(_mm_add_ps(_mm_mul_ps(e2x, qx), _mm_mul_ps(e2y, qy)), _mm_mul_ps(e2z, qz)), invDet);
    const __m128 eps = _mm_set1_ps(-baryEps);
    __m128 m = _mm_and_ps(_mm_cmpge_ps(u, eps), _mm_cmpge_ps(v, eps));
    m = _mm_and_ps(m, _mm_cmple_ps(_mm_add_ps(u, v), _mm_set1_ps(1.0f + baryEps)));
    m = _mm_and_ps(m, _mm_cmpgt_ps(t, _mm_set1_ps(r.tMin)));
    m = _mm_and_ps(m, _mm_cmplt_ps(t, _mm_set1_ps(tMax)));
    const int mask = _mm_movemask_ps(m);
    if (!mask) return inf;
    alignas(16) float ts[4];
    _mm_store_ps(ts, t);
    float best = inf;
    for (int k = 0; k < 4; ++k)
        if (mask & (1 << k)) best = std::min(best, ts[k]);
    return best;
#else
    float best = inf;
    for (int k = 0; k < 4; ++k) {
        const float px = r.d[1] * tp.e2z[k] - r.d[2] * tp.e2y[k];
        const float py = r.d[2] * tp.e2x[k] - r.d[0] * tp.e2z[k];
        const float pz = r.d[0] * tp.e2y[k] - r.d[1] * tp.e2x[k];
        const float det = tp.e1x[k] * px + tp.e1y[k] * py + tp.e1z[k] * pz;
        if (det == 0) continue;
        const float inv = 1.0f / det;
        const float tx = r.o[0] - tp.v0x[k], ty = r.o[1] - tp.v0y[k], tz = r.o[2] - tp.v0z[k];
        const float u = (tx * px + ty * py + tz * pz) * inv;
        const float qx = ty * tp.e1z[k] - tz * tp.e1y[k], qy = tz * tp.e1x[k] - tx * tp.e1z[k],
                    qz = tx * tp.e1y[k] - ty * tp.e1x[k];
        const float v = (r.d[0] * qx + r.d[1] * qy + r.d[2] * qz) * inv;
        const float t = (tp.e2x[k] * qx + tp.e2y[k] * qy + tp.e2z[k] * qz) * inv;
        if (u >= -baryEps && v >= -baryEps && u + v <= 1 + baryEps && t > r.tMin && t < tMax)
            best = std::min(best, t);
    }
    return best;
#endif
}

// Bit k set if the ray's (tMin, tMax) interval meets child box k.
inline int intersectBoxes(const OcclusionBvh::Node& n, const RayPrep& r, float tMax) {
    const float* base = reinterpret_cast<const float*>(&n);
#if defined(__SSE2__)
    __m128 tNear = _mm_set1_ps(r.tMin), tFar = _mm_set1_ps(tMax);
    for (int k = 0; k < 3; ++k) {
        const __m128 o = _mm_set1_ps(r.o[k]), inv = _mm_set1_ps(r.inv[k]);
        const __m128 t0 = _mm_mul_ps(_mm_sub_ps(_mm_load_ps(base + r.nearOff[k]), o), inv);
        const __m128 t1 = _mm_mul_ps(_mm_sub_ps(_mm_load_ps(base + r.farOff[k]), o), inv);
        tNear = _mm_max_ps(tNear, t0);
        tFar = _mm_min_ps(tFar, t1);
    }
    return _mm_movemask_ps(_mm_cmple_ps(tNear, tFar));
#else
    int mask = 0;
    for (int c = 0; c < 4; ++c) {
        float tNear = r.tMin, tFar = tMax;
        for (int k = 0; k < 3; ++k) {
            const float t0 = (base[r.nearOff[k] + c] - r.o[k]) * r.inv[k];
            const float t1 = (base[r.farOff[k] + c] - r.o[k]) * r.inv[k];
            tNear = std::max(tNear, t0);
            tFar = std::min(tFar, t1);
        }
        if (tNear <= tFar) mask |= 1 << c;
    }
    return mask;
#endif
}

} // namespace

OcclusionBvh::OcclusionBvh(std::span<const float> coords) {
    const size_t inputCount = coords.size() / 9;
    // Degenerate (zero-area or non-finite) triangles can never be hit: left out.
    std::vector<float> input;
    input.reserve(coords.size());
    for (size_t t = 0; t < inputCount; ++t) {
        const float* p = coords.data() + 9 * t;
        bool finite = true;
        for (int k = 0; k < 9; ++k)
            finite = finite && std::isfinite(p[k]);
        if (!finite) continue;
        const float e1[3] = {p[3] - p[0], p[4] - p[1], p[5] - p[2]},
                    e2[3] = {p[6] - p[0], p[7] - p[1], p[8] - p[2]};
        const float cx = e1[1] * e2[2] - e1[2] * e2[1], cy = e1[2] * e2[0] - e1[0] * e2[2],
                    cz = e1[0] * e2[1] - e1[1] * e2[0];
        if (cx == 0 && cy == 0 && cz == 0) continue;
        input.insert(input.end(), p, p + 9);
    }
    const auto n = static_cast<uint32_t>(input.size() / 9);
    triangleTotal = n;
    if (n == 0) return;

    std::vector<Aabb> triBox(n);
    std::vector<std::array<float, 3>> centroid(n);
    tbb::parallel_for(tbb::blocked_range<uint32_t>(0, n, 4096), [&](const tbb::blocked_range<uint32_t>& r) {
        for (uint32_t t = r.begin(); t < r.end(); ++t) {
            const float* p = input.data() + 9 * size_t(t);
            Aabb b;
            b.extend(p);
            b.extend(p + 3);
            b.extend(p + 6);
            triBox[t] = b;
            for (int k = 0; k < 3; ++k)
                centroid[t][k] = (b.lo[k] + b.hi[k]) * 0.5f;
        }
    });
    std::vector<uint32_t> indices(n);
    for (uint32_t t = 0; t < n; ++t)
        indices[t] = t;
    where.assign(n, 0);
    std::vector<BuildNode> bnodes(2 * size_t(n) - 1);
    Builder{triBox, centroid, indices, bnodes}.build(0, 0, n, 0);

    // Collapse to 4-wide nodes, depth first from the root (sequential: a fixed order).
    auto makePack = [&](const BuildNode& leaf) {
        TrianglePack tp{};
        for (int k = 0; k < 4; ++k)
            tp.id[k] = UINT32_MAX;
        for (uint32_t k = 0; k < leaf.count; ++k) {
            const uint32_t t = indices[leaf.begin + k];
            const float* p = input.data() + 9 * size_t(t);
            tp.v0x[k] = p[0];
            tp.v0y[k] = p[1];
            tp.v0z[k] = p[2];
            tp.e1x[k] = p[3] - p[0];
            tp.e1y[k] = p[4] - p[1];
            tp.e1z[k] = p[5] - p[2];
            tp.e2x[k] = p[6] - p[0];
            tp.e2y[k] = p[7] - p[1];
            tp.e2z[k] = p[8] - p[2];
            tp.id[k] = t;
            where[t] = static_cast<uint32_t>(4 * packs.size() + k);
        }
        packs.push_back(tp);
        return ~static_cast<int32_t>(packs.size() - 1);
    };
    auto isLeaf = [&](uint32_t slot) { return bnodes[slot].left == 0; };
    if (isLeaf(0)) {
        root = makePack(bnodes[0]);
        return;
    }
    nodes.reserve(n / 2 + 1);
    packs.reserve(n / 2 + 1);
    auto collapse = [&](auto&& self, uint32_t slot) -> int32_t {
        // Open the largest inner child until there are four.
        std::vector<uint32_t> kids{bnodes[slot].left, bnodes[slot].right};
        while (kids.size() < 4) {
            int best = -1;
            float bestArea = -1;
            for (size_t k = 0; k < kids.size(); ++k)
                if (!isLeaf(kids[k]) && bnodes[kids[k]].box.area() > bestArea) {
                    bestArea = bnodes[kids[k]].box.area();
                    best = static_cast<int>(k);
                }
            if (best < 0) break;
            const uint32_t open = kids[size_t(best)];
            kids[size_t(best)] = bnodes[open].left;
            kids.insert(kids.begin() + best + 1, bnodes[open].right);
        }
        const auto index = static_cast<int32_t>(nodes.size());
        nodes.emplace_back();
        {
            Node& nd = nodes.back();
            for (int k = 0; k < 4; ++k) {
                nd.minX[k] = nd.minY[k] = nd.minZ[k] = inf;
                nd.maxX[k] = nd.maxY[k] = nd.maxZ[k] = -inf;
                nd.child[k] = 0;
                nd.pad[k] = 0;
            }
        }
        for (size_t k = 0; k < kids.size(); ++k) {
            const int32_t c = isLeaf(kids[k]) ? makePack(bnodes[kids[k]]) : self(self, kids[k]);
            Node& nd = nodes[size_t(index)]; // after recursion: the vector may have moved
            nd.child[k] = c;
            setChildBox(nd, static_cast<int>(k), bnodes[kids[k]].box);
        }
        return index;
    };
    root = collapse(collapse, 0);
}

template <bool AnyHit> float OcclusionBvh::traverse(const ShadowRay& ray) const {
    if (triangleTotal == 0) return inf;
    const RayPrep r = prepare(ray);
    float tMax = r.tMax;
    if (!(tMax > r.tMin)) return inf;
    int32_t stack[stackSize];
    int sp = 0;
    stack[sp++] = root;
    float best = inf;
    while (sp > 0) {
        const int32_t n = stack[--sp];
        if (n < 0) {
            const float t = intersectPack(packs[size_t(~n)], r, tMax);
            if (t < tMax) {
                if (AnyHit) return t;
                best = tMax = t;
            }
            continue;
        }
        const Node& node = nodes[size_t(n)];
        int mask = intersectBoxes(node, r, tMax);
        while (mask) {
            const int k = __builtin_ctz(static_cast<unsigned>(mask));
            mask &= mask - 1;
            stack[sp++] = node.child[k];
        }
    }
    return best;
}

bool OcclusionBvh::occluded(const ShadowRay& ray) const {
    return traverse<true>(ray) < inf;
}

bool OcclusionBvh::occluded(const Vec3& origin, const Vec3& dir, double tMax, double tMin) const {
    ShadowRay r;
    for (int k = 0; k < 3; ++k) {
        r.origin[size_t(k)] = static_cast<float>(origin[k]);
        r.dir[size_t(k)] = static_cast<float>(dir[k]);
    }
    r.tMin = static_cast<float>(tMin);
    r.tMax = static_cast<float>(std::min(tMax, double(std::numeric_limits<float>::max())));
    if (std::isinf(tMax)) r.tMax = inf;
    return occluded(r);
}

float OcclusionBvh::closestHit(const ShadowRay& ray) const {
    return traverse<false>(ray);
}

void OcclusionBvh::forEachCandidate(const ShadowRay& ray, float grow,
                                    const std::function<void(uint32_t)>& fn) const {
    if (triangleTotal == 0) return;
    const RayPrep r = prepare(ray);
    auto boxHit = [&](float lo0, float lo1, float lo2, float hi0, float hi1, float hi2) {
        const float lo[3] = {lo0 - grow, lo1 - grow, lo2 - grow},
                    hi[3] = {hi0 + grow, hi1 + grow, hi2 + grow};
        float tNear = r.tMin - grow, tFar = r.tMax + grow;
        for (int k = 0; k < 3; ++k) {
            const float a = (lo[k] - r.o[k]) * r.inv[k], b = (hi[k] - r.o[k]) * r.inv[k];
            tNear = std::max(tNear, std::min(a, b));
            tFar = std::min(tFar, std::max(a, b));
        }
        return tNear <= tFar;
    };
    std::vector<int32_t> stack{root};
    while (!stack.empty()) {
        const int32_t n = stack.back();
        stack.pop_back();
        if (n < 0) {
            for (uint32_t id : packs[size_t(~n)].id)
                if (id != UINT32_MAX) fn(id);
            continue;
        }
        const Node& nd = nodes[size_t(n)];
        for (int k = 0; k < 4; ++k)
            if (nd.minX[k] <= nd.maxX[k] &&
                boxHit(nd.minX[k], nd.minY[k], nd.minZ[k], nd.maxX[k], nd.maxY[k], nd.maxZ[k]))
                stack.push_back(nd.child[k]);
    }
}

size_t OcclusionBvh::bytes() const {
    return nodes.size() * sizeof(Node) + packs.size() * sizeof(TrianglePack) +
           where.size() * sizeof(uint32_t);
}

std::array<float, 9> OcclusionBvh::triangle(uint32_t index) const {
    const TrianglePack& p = packs[where[index] / 4];
    const uint32_t k = where[index] % 4;
    return {p.v0x[k],
            p.v0y[k],
            p.v0z[k],
            p.v0x[k] + p.e1x[k],
            p.v0y[k] + p.e1y[k],
            p.v0z[k] + p.e1z[k],
            p.v0x[k] + p.e2x[k],
            p.v0y[k] + p.e2y[k],
            p.v0z[k] + p.e2z[k]};
}

// --- Occluders from the city -----------------------------------------------------------------

namespace {

constexpr double wallBaseBelowGroundM = 0.5; // as CityMesh: walls reach below a sloping ground

void pushTriangle(std::vector<float>& out, const Vec3& a, const Vec3& b, const Vec3& c) {
    for (const Vec3* p : {&a, &b, &c})
        for (int k = 0; k < 3; ++k)
            out.push_back(static_cast<float>((*p)[k]));
}

bool hasLod2(const Buildings& b, size_t i) {
    return b.roofStart.size() > i + 1 && b.roofStart[i + 1] > b.roofStart[i];
}

// A 3D ring triangulated in its own plane.
void roofRingTriangles(std::vector<float>& out, std::span<const Vec3> ring) {
    const std::vector<uint32_t> tri = triangulatePlanarRing(ring).indices;
    for (size_t t = 0; t + 2 < tri.size(); t += 3)
        pushTriangle(out, ring[tri[t]], ring[tri[t + 1]], ring[tri[t + 2]]);
}

void buildingTriangles(std::vector<float>& out, const CityModel& city, size_t i, bool lod2Roofs) {
    const Buildings& b = city.buildings;
    const bool lod2 = lod2Roofs && hasLod2(b, i);
    const BuildingLevels lv = buildingLevels(city, i, lod2);
    const double bottom = lv.groundM - wallBaseBelowGroundM, wallTop = lv.wallTopM;
    for (uint32_t part = b.partStart[i]; part < b.partStart[i + 1]; ++part) {
        for (size_t k = 0; k < b.footprints.ringCount(part); ++k) {
            const auto ring = b.footprints.ring(part, k);
            if (!(wallTop > bottom)) break;
            for (size_t e = 0; e < ring.size(); ++e) {
                const Vec2 p0 = ring[e], p1 = ring[(e + 1) % ring.size()];
                if (!((p1 - p0).norm() > 1e-9)) continue;
                const Vec3 a(p0.x(), p0.y(), bottom), c(p1.x(), p1.y(), bottom), d(p1.x(), p1.y(), wallTop),
                    f(p0.x(), p0.y(), wallTop);
                pushTriangle(out, a, c, d);
                pushTriangle(out, a, d, f);
            }
        }
        if (!lod2) {
            std::vector<std::span<const Vec2>> rings;
            for (size_t k = 0; k < b.footprints.ringCount(part); ++k)
                rings.push_back(b.footprints.ring(part, k));
            const std::vector<uint32_t> tri = triangulatePolygon(rings);
            std::vector<Vec2> all;
            for (const auto& r : rings)
                all.insert(all.end(), r.begin(), r.end());
            for (size_t t = 0; t + 2 < tri.size(); t += 3) {
                const Vec2 &p = all[tri[t]], &q = all[tri[t + 1]], &s = all[tri[t + 2]];
                pushTriangle(out, Vec3(p.x(), p.y(), lv.roofM), Vec3(q.x(), q.y(), lv.roofM),
                             Vec3(s.x(), s.y(), lv.roofM));
            }
        }
    }
    if (lod2)
        for (uint32_t r = b.roofStart[i]; r < b.roofStart[i + 1]; ++r)
            roofRingTriangles(out, std::span<const Vec3>(b.roofPoints.data() + b.roofRingStart[r],
                                                         b.roofRingStart[r + 1] - b.roofRingStart[r]));
}

void terrainTriangles(std::vector<float>& out, const Terrain& t, double cellM) {
    if (t.empty() || t.width < 2 || t.height < 2) return;
    const int step = std::max(1, static_cast<int>(std::lround(cellM / t.cellSize)));
    auto positions = [&](int n) {
        std::vector<int> v;
        for (int k = 0; k < n; k += step)
            v.push_back(k);
        if (v.back() != n - 1) v.push_back(n - 1);
        return v;
    };
    const std::vector<int> cols = positions(t.width), rows = positions(t.height);
    auto vertex = [&](int c, int r) {
        return Vec3(t.originX + (c + 0.5) * t.cellSize, t.originY - (r + 0.5) * t.cellSize, t.at(c, r));
    };
    for (size_t ri = 0; ri + 1 < rows.size(); ++ri)
        for (size_t ci = 0; ci + 1 < cols.size(); ++ci) {
            const Vec3 a = vertex(cols[ci], rows[ri]), b = vertex(cols[ci + 1], rows[ri]),
                       c = vertex(cols[ci + 1], rows[ri + 1]), d = vertex(cols[ci], rows[ri + 1]);
            if (!std::isfinite(a.z()) || !std::isfinite(b.z()) || !std::isfinite(c.z()) ||
                !std::isfinite(d.z()))
                continue;
            pushTriangle(out, a, b, c);
            pushTriangle(out, a, c, d);
        }
}

} // namespace


std::vector<float> cityOccluderTriangles(const CityModel& city, const OccluderOptions& options) {
    const size_t n = options.buildings ? city.buildings.size() : 0;
    // Per building in parallel, concatenated in building order.
    std::vector<std::vector<float>> parts(n);
    tbb::parallel_for(size_t(0), n,
                      [&](size_t i) { buildingTriangles(parts[i], city, i, options.lod2Roofs); });
    std::vector<float> out;
    size_t total = 0;
    for (const auto& p : parts)
        total += p.size();
    out.reserve(total);
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    if (options.terrain) terrainTriangles(out, city.terrain, options.terrainCellM);
    return out;
}

OcclusionBvh buildCityOccluders(const CityModel& city, const OccluderOptions& options) {
    const std::vector<float> tri = cityOccluderTriangles(city, options);
    return OcclusionBvh(tri);
}

std::vector<float> meshTriangles(const CityMesh& mesh) {
    std::vector<float> out;
    for (const MeshChunk& chunk : mesh.chunks) {
        if (chunk.lods.empty()) continue;
        const IndexRange& finest = chunk.lods[0];
        for (uint32_t k = 0; k + 2 < finest.surfaceCount; k += 3)
            for (int j = 0; j < 3; ++j) {
                const MeshVertex& v = chunk.vertices[chunk.indices[finest.first + k + uint32_t(j)]];
                out.insert(out.end(), {v.x, v.y, v.z});
            }
    }
    return out;
}

} // namespace ct::energy
