#include "city/CityMesh.h"

#include <Eigen/Geometry>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <optional>

namespace ct {

const char* toString(MeshLayer layer) {
    switch (layer) {
    case MeshLayer::Terrain:
        return "terrain";
    case MeshLayer::Buildings:
        return "buildings";
    case MeshLayer::Roads:
        return "roads";
    }
    return "unknown";
}

size_t CityMesh::triangleCount(MeshLayer layer) const {
    // The finest level as drawn, terrain skirts included.
    size_t n = 0;
    for (const MeshChunk& c : chunks)
        if (c.layer == layer && !c.lods.empty()) n += c.lods[0].count / 3;
    return n;
}

size_t CityMesh::triangleCount() const {
    size_t n = 0;
    for (int l = 0; l < meshLayerCount; ++l)
        n += triangleCount(static_cast<MeshLayer>(l));
    return n;
}

size_t CityMesh::bytes() const {
    size_t n = 0;
    for (const MeshChunk& c : chunks)
        n += c.vertices.size() * sizeof(MeshVertex) + c.indices.size() * sizeof(uint32_t) + c.boxes.size() * sizeof(BuildingBox);
    return n + terrainDrape.rgba.size() * sizeof(uint32_t);
}

// ---------------------------------------------------------------------------------------------
// Ear clipping with holes
// ---------------------------------------------------------------------------------------------
//
// The polygon lives in a circular doubly linked list, outer ring counter-clockwise and holes
// clockwise, so the material is always on the left of an edge. Each hole is joined to the outer
// ring by a cut (two coincident edges) from its leftmost vertex to a vertex it sees, which
// leaves one weakly simple ring. Ears are then cut off one by one. For larger polygons a second
// list in Morton (z-curve) order limits the "is any vertex inside this ear" test to vertices
// near the ear, which keeps footprints of thousands of vertices fast. When no ear is found the
// clipper removes redundant vertices, then untangles small self-intersections, then splits the
// ring along a valid diagonal, so it always terminates.
namespace {

struct EarVertex {
    double x, y;
    uint32_t index; // into the caller's concatenated ring points
    uint32_t z = 0;
    bool cutEnd = false; // an end of a hole cut or split diagonal: it has a twin at its position
    EarVertex* prev = nullptr;
    EarVertex* next = nullptr;
    EarVertex* prevZ = nullptr;
    EarVertex* nextZ = nullptr;
};

// Twice the signed area of abc: > 0 if a, b, c turn left (counter-clockwise).
double turn(const EarVertex* a, const EarVertex* b, const EarVertex* c) {
    return (b->x - a->x) * (c->y - a->y) - (b->y - a->y) * (c->x - a->x);
}

bool samePosition(const EarVertex* a, const EarVertex* b) {
    return a->x == b->x && a->y == b->y;
}

int sign(double v) {
    return (v > 0) - (v < 0);
}

bool onSegment(const EarVertex* p, const EarVertex* q, const EarVertex* r) {
    return std::min(p->x, r->x) <= q->x && q->x <= std::max(p->x, r->x) && std::min(p->y, r->y) <= q->y &&
           q->y <= std::max(p->y, r->y);
}

// Segments p1-q1 and p2-q2 meet (crossing or touching).
bool segmentsMeet(const EarVertex* p1, const EarVertex* q1, const EarVertex* p2, const EarVertex* q2) {
    int o1 = sign(turn(p1, q1, p2)), o2 = sign(turn(p1, q1, q2));
    int o3 = sign(turn(p2, q2, p1)), o4 = sign(turn(p2, q2, q1));
    if (o1 != o2 && o3 != o4) return true;
    return (o1 == 0 && onSegment(p1, p2, q1)) || (o2 == 0 && onSegment(p1, q2, q1)) ||
           (o3 == 0 && onSegment(p2, p1, q2)) || (o4 == 0 && onSegment(p2, q1, q2));
}

// Whether the direction a -> b lies in the polygon's interior angle at a (boundaries count).
bool locallyInside(const EarVertex* a, const EarVertex* b) {
    if (turn(a->prev, a, a->next) >= 0) // convex or straight: between a->next and a->prev
        return turn(a, a->next, b) >= 0 && turn(a, b, a->prev) >= 0;
    // reflex: anywhere but strictly inside the outer wedge from a->prev to a->next
    return turn(a, a->next, b) >= 0 || turn(a, b, a->prev) >= 0;
}

class EarClipper {
  public:
    std::vector<uint32_t> run(const std::vector<std::span<const Vec2>>& rings);

  private:
    std::deque<EarVertex> pool; // a deque keeps vertex addresses stable while growing
    std::vector<uint32_t> triangles;
    bool useZOrder = false;
    double minX = 0, minY = 0, zScale = 0;

    EarVertex* linkRing(std::span<const Vec2> ring, uint32_t firstIndex, bool counterClockwise);
    EarVertex* copyOf(const EarVertex* v) {
        EarVertex& c = pool.emplace_back(*v);
        c.prevZ = c.nextZ = nullptr;
        return &c;
    }
    static void unlink(EarVertex* v);
    static EarVertex* removeRedundant(EarVertex* start);
    EarVertex* connect(EarVertex* a, EarVertex* b);
    EarVertex* joinHoles(EarVertex* outer, std::vector<EarVertex*>& holes);
    static EarVertex* bridgeTarget(EarVertex* hole, EarVertex* outer);
    void clipEars(EarVertex* ear, int pass);
    bool isEar(const EarVertex* ear) const;
    EarVertex* untangle(EarVertex* start);
    void splitAndClip(EarVertex* start);
    static bool isValidDiagonal(const EarVertex* a, const EarVertex* b);
    void indexZOrder(EarVertex* start);
    uint32_t zCode(double x, double y) const;
    void emit(const EarVertex* a, const EarVertex* b, const EarVertex* c) {
        // Only self-intersecting input can produce flat or inverted triangles; they carry no area.
        if (turn(a, b, c) > 0) triangles.insert(triangles.end(), {a->index, b->index, c->index});
    }
};

void EarClipper::unlink(EarVertex* v) {
    v->prev->next = v->next;
    v->next->prev = v->prev;
    if (v->prevZ) v->prevZ->nextZ = v->nextZ;
    if (v->nextZ) v->nextZ->prevZ = v->prevZ;
}

EarVertex* EarClipper::linkRing(std::span<const Vec2> ring, uint32_t firstIndex, bool counterClockwise) {
    EarVertex* last = nullptr;
    auto append = [&](size_t k) {
        const Vec2& p = ring[k];
        if (last && last->x == p.x() && last->y == p.y()) return; // repeated point
        EarVertex& v = pool.emplace_back(EarVertex{p.x(), p.y(), firstIndex + static_cast<uint32_t>(k)});
        if (!last) {
            v.prev = v.next = &v;
        } else {
            v.next = last->next;
            v.prev = last;
            last->next->prev = &v;
            last->next = &v;
        }
        last = &v;
    };
    const size_t n = ring.size();
    if ((signedArea(ring) > 0) == counterClockwise)
        for (size_t k = 0; k < n; ++k)
            append(k);
    else
        for (size_t k = n; k-- > 0;)
            append(k);
    return removeRedundant(last);
}

// Drops vertices that repeat their successor or lie on a straight line (or a zero-width spike)
// between their neighbours; none of them changes the area. A cut end on a straight line stays:
// without it the edges on both sides of the cut would overlap instead of meeting at a point.
// nullptr if fewer than 3 remain.
EarVertex* EarClipper::removeRedundant(EarVertex* start) {
    if (!start) return nullptr;
    EarVertex* v = start;
    EarVertex* stop = start;
    auto redundant = [](const EarVertex* v) {
        if (samePosition(v, v->next)) return true;
        if (turn(v->prev, v, v->next) != 0) return false;
        const bool spike =
            (v->x - v->prev->x) * (v->next->x - v->x) + (v->y - v->prev->y) * (v->next->y - v->y) <= 0;
        return spike || !v->cutEnd;
    };
    for (;;) {
        if (v->next == v->prev) return nullptr;
        if (redundant(v)) {
            EarVertex* prev = v->prev;
            unlink(v);
            v = stop = prev;
            continue;
        }
        v = v->next;
        if (v == stop) return v;
    }
}

// Cuts the ring along a-b: a -> b -> ... continues as before, and copies b' -> a' -> (a's old
// successor) close the other side. For a hole (b on another ring) the result is one ring;
// for a diagonal of one ring, two rings. Returns b'.
EarVertex* EarClipper::connect(EarVertex* a, EarVertex* b) {
    a->cutEnd = b->cutEnd = true;
    EarVertex* a2 = copyOf(a);
    EarVertex* b2 = copyOf(b);
    EarVertex* aNext = a->next;
    EarVertex* bPrev = b->prev;
    a->next = b;
    b->prev = a;
    a2->next = aNext;
    aNext->prev = a2;
    b2->next = a2;
    a2->prev = b2;
    bPrev->next = b2;
    b2->prev = bPrev;
    return b2;
}

// The outer-ring vertex the hole vertex m (the hole's leftmost) is joined to: cast a ray from m
// to the west, take the nearest edge it crosses, then among the vertices in the triangle
// (m, crossing point, that edge's western end) the one seen at the smallest angle from the ray;
// nothing can block the view to it.
EarVertex* EarClipper::bridgeTarget(EarVertex* m, EarVertex* outer) {
    const double hx = m->x, hy = m->y;
    double qx = -INFINITY;
    EarVertex* hit = nullptr;
    EarVertex* p = outer;
    do {
        EarVertex* n = p->next;
        // Edges running south have the material on their east side, facing m.
        if (p->y >= hy && n->y <= hy && n->y != p->y) {
            double x = p->x + (hy - p->y) * (n->x - p->x) / (n->y - p->y);
            if (x <= hx && x > qx) {
                qx = x;
                if (x == p->x && hy == p->y)
                    hit = p;
                else if (x == n->x && hy == n->y)
                    hit = n;
                else
                    hit = p->x < n->x ? p : n;
            }
        }
        p = n;
    } while (p != outer);
    if (!hit) return nullptr;           // the hole is not inside the outer ring
    if (qx == hx) return hit;           // m touches the edge: join along it
    if (hit->x == qx && hit->y == hy) { // the ray meets a vertex: seen directly
        // a cut from an earlier hole may have put copies here; take one that opens towards m
        p = hit;
        do {
            if (samePosition(p, hit) && locallyInside(p, m)) return p;
            p = p->next;
        } while (p != hit);
        return hit;
    }
    // Triangle m, crossing point, hit: the vertex in it closest in angle to the ray.
    const double ix = qx, iy = hy;
    auto inTriangle = [&](const EarVertex* v) {
        auto side = [](double ax, double ay, double bx, double by, double px, double py) {
            return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
        };
        double d1 = side(hx, hy, ix, iy, v->x, v->y), d2 = side(ix, iy, hit->x, hit->y, v->x, v->y),
               d3 = side(hit->x, hit->y, hx, hy, v->x, v->y);
        return (d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0);
    };
    EarVertex* best = nullptr;
    double bestTan = INFINITY;
    p = outer;
    do {
        if (p->x < hx && inTriangle(p) && locallyInside(p, m)) {
            double tan = std::abs(hy - p->y) / (hx - p->x);
            if (tan < bestTan || (tan == bestTan && best && p->x > best->x)) {
                bestTan = tan;
                best = p;
            }
        }
        p = p->next;
    } while (p != outer);
    return best ? best : hit;
}

EarVertex* EarClipper::joinHoles(EarVertex* outer, std::vector<EarVertex*>& holes) {
    std::vector<EarVertex*> leftmost;
    for (EarVertex* h : holes) {
        EarVertex* best = h;
        for (EarVertex* p = h->next; p != h; p = p->next)
            if (p->x < best->x || (p->x == best->x && p->y < best->y)) best = p;
        leftmost.push_back(best);
    }
    // West to east: a hole not joined yet lies east of the current one's leftmost vertex, so
    // the westward cut cannot cross it.
    std::sort(leftmost.begin(), leftmost.end(), [](const EarVertex* a, const EarVertex* b) {
        return a->x < b->x || (a->x == b->x && a->y < b->y);
    });
    for (EarVertex* m : leftmost) {
        EarVertex* target = bridgeTarget(m, outer);
        if (!target) continue; // outside the outer ring: ignored
        connect(target, m);
        outer = removeRedundant(target);
        if (!outer) return nullptr;
    }
    return outer;
}

uint32_t EarClipper::zCode(double x, double y) const {
    auto spread = [](uint32_t v) { // interleave zero bits: abcd -> 0a0b0c0d
        v = (v | (v << 8)) & 0x00FF00FFu;
        v = (v | (v << 4)) & 0x0F0F0F0Fu;
        v = (v | (v << 2)) & 0x33333333u;
        v = (v | (v << 1)) & 0x55555555u;
        return v;
    };
    auto ix = static_cast<uint32_t>(std::clamp((x - minX) * zScale, 0.0, 32767.0));
    auto iy = static_cast<uint32_t>(std::clamp((y - minY) * zScale, 0.0, 32767.0));
    return spread(ix) | (spread(iy) << 1);
}

void EarClipper::indexZOrder(EarVertex* start) {
    std::vector<EarVertex*> order;
    EarVertex* p = start;
    do {
        p->z = zCode(p->x, p->y);
        order.push_back(p);
        p = p->next;
    } while (p != start);
    std::sort(order.begin(), order.end(), [](const EarVertex* a, const EarVertex* b) { return a->z < b->z; });
    for (size_t i = 0; i < order.size(); ++i) {
        order[i]->prevZ = i > 0 ? order[i - 1] : nullptr;
        order[i]->nextZ = i + 1 < order.size() ? order[i + 1] : nullptr;
    }
}

// Whether vertex p keeps the counter-clockwise triangle abc from being cut off: p lies inside or
// on it, or p is a copy of a corner (a cut, a touching vertex) with an edge running into it.
bool blocksEar(const EarVertex* a, const EarVertex* b, const EarVertex* c, const EarVertex* p) {
    if (turn(a, b, p) < 0 || turn(b, c, p) < 0 || turn(c, a, p) < 0) return false;
    const EarVertex* corner = samePosition(p, a)   ? a
                              : samePosition(p, b) ? b
                              : samePosition(p, c) ? c
                                                   : nullptr;
    if (!corner) return true;
    // The triangle's angle at the corner runs counter-clockwise from `from` to `to`.
    const EarVertex* from = corner == a ? b : corner == b ? c : a;
    const EarVertex* to = corner == a ? c : corner == b ? a : b;
    for (const EarVertex* q : {p->prev, p->next})
        if (turn(corner, from, q) > 0 && turn(corner, q, to) > 0) return true;
    return false;
}

bool EarClipper::isEar(const EarVertex* ear) const {
    const EarVertex *a = ear->prev, *b = ear, *c = ear->next;
    if (turn(a, b, c) <= 0) return false; // reflex or flat
    // The cut a-c must run inside the polygon at both ends: always true for a real ear, false
    // where a or c has become a zero-width spike along an edge of a touching hole.
    if (!locallyInside(a, c) || !locallyInside(c, a)) return false;
    const double x0 = std::min({a->x, b->x, c->x}), x1 = std::max({a->x, b->x, c->x});
    const double y0 = std::min({a->y, b->y, c->y}), y1 = std::max({a->y, b->y, c->y});
    auto blocks = [&](const EarVertex* p) {
        return p != a && p != c && p->x >= x0 && p->x <= x1 && p->y >= y0 && p->y <= y1 &&
               blocksEar(a, b, c, p);
    };
    if (!useZOrder) {
        for (const EarVertex* p = c->next; p != a; p = p->next)
            if (blocks(p)) return false;
        return true;
    }
    // Only vertices whose z-code lies within the triangle's bounding box can be inside it.
    const uint32_t minZ = zCode(x0, y0), maxZ = zCode(x1, y1);
    for (const EarVertex* p = ear->prevZ; p && p->z >= minZ; p = p->prevZ)
        if (blocks(p)) return false;
    for (const EarVertex* p = ear->nextZ; p && p->z <= maxZ; p = p->nextZ)
        if (blocks(p)) return false;
    return true;
}

void EarClipper::clipEars(EarVertex* ear, int pass) {
    if (!ear) return;
    if (pass == 0 && useZOrder) indexZOrder(ear);
    EarVertex* stop = ear;
    while (ear->prev != ear->next) {
        EarVertex* prev = ear->prev;
        EarVertex* next = ear->next;
        if (isEar(ear)) {
            emit(prev, ear, next);
            unlink(ear);
            ear = next->next; // moving on two vertices gives fewer slivers
            stop = ear;
            continue;
        }
        ear = next;
        if (ear == stop) { // a whole turn without an ear
            if (pass == 0)
                clipEars(removeRedundant(ear), 1);
            else if (pass == 1)
                clipEars(untangle(removeRedundant(ear)), 2);
            else
                splitAndClip(ear);
            return;
        }
    }
}

// Where edges a-p and p.next-b of a self-touching ring cross, the triangle (a, p, b) is cut off
// and the two vertices in between dropped.
EarVertex* EarClipper::untangle(EarVertex* start) {
    if (!start) return nullptr;
    EarVertex* p = start;
    do {
        EarVertex* a = p->prev;
        EarVertex* b = p->next->next;
        if (a != b && !samePosition(a, b) && segmentsMeet(a, p, p->next, b) && locallyInside(a, b) &&
            locallyInside(b, a)) {
            emit(a, p, b);
            unlink(p->next);
            unlink(p);
            p = start = b;
            if (b->next == b->prev) return nullptr;
        }
        p = p->next;
    } while (p != start);
    return removeRedundant(p);
}

bool EarClipper::isValidDiagonal(const EarVertex* a, const EarVertex* b) {
    if (samePosition(a, b) || a->next->index == b->index || a->prev->index == b->index) return false;
    if (!locallyInside(a, b) || !locallyInside(b, a)) return false;
    const EarVertex* p = a;
    do { // no edge may meet the diagonal except at its own ends
        const EarVertex* n = p->next;
        if (p->index != a->index && p->index != b->index && n->index != a->index && n->index != b->index &&
            segmentsMeet(p, n, a, b))
            return false;
        p = n;
    } while (p != a);
    // and its midpoint must be inside (crossing count)
    const double mx = (a->x + b->x) / 2, my = (a->y + b->y) / 2;
    bool inside = false;
    p = a;
    do {
        const EarVertex* n = p->next;
        if ((p->y > my) != (n->y > my) && mx < (n->x - p->x) * (my - p->y) / (n->y - p->y) + p->x)
            inside = !inside;
        p = n;
    } while (p != a);
    return inside;
}

void EarClipper::splitAndClip(EarVertex* start) {
    EarVertex* a = start;
    do {
        for (EarVertex* b = a->next->next; b != a->prev; b = b->next) {
            if (a->index != b->index && isValidDiagonal(a, b)) {
                EarVertex* other = connect(a, b);
                clipEars(removeRedundant(a), 0);
                clipEars(removeRedundant(other), 0);
                return;
            }
        }
        a = a->next;
    } while (a != start);
    // No diagonal left: the rest is degenerate and carries no area.
}

std::vector<uint32_t> EarClipper::run(const std::vector<std::span<const Vec2>>& rings) {
    if (rings.empty() || rings[0].size() < 3) return {};
    size_t total = 0;
    for (const auto& r : rings) {
        for (const Vec2& p : r)
            if (!std::isfinite(p.x()) || !std::isfinite(p.y())) return {};
        total += r.size();
    }
    EarVertex* outer = linkRing(rings[0], 0, true);
    if (!outer) return {};
    std::vector<EarVertex*> holes;
    auto offset = static_cast<uint32_t>(rings[0].size());
    for (size_t k = 1; k < rings.size(); ++k) {
        if (EarVertex* h = rings[k].size() >= 3 ? linkRing(rings[k], offset, false) : nullptr)
            holes.push_back(h);
        offset += static_cast<uint32_t>(rings[k].size());
    }
    if (!holes.empty()) outer = joinHoles(outer, holes);
    if (!outer) return {};

    useZOrder = total > 80;
    if (useZOrder) {
        minX = minY = INFINITY;
        double maxX = -INFINITY, maxY = -INFINITY;
        for (const EarVertex& v : pool) {
            minX = std::min(minX, v.x);
            minY = std::min(minY, v.y);
            maxX = std::max(maxX, v.x);
            maxY = std::max(maxY, v.y);
        }
        const double extent = std::max(maxX - minX, maxY - minY);
        zScale = extent > 0 ? 32767.0 / extent : 0;
    }
    triangles.reserve(3 * (total + 2 * holes.size()));
    clipEars(outer, 0);
    return std::move(triangles);
}

} // namespace

std::vector<uint32_t> triangulatePolygon(const std::vector<std::span<const Vec2>>& rings) {
    return EarClipper().run(rings);
}

BuildingLevels buildingLevels(const CityModel& city, size_t i, bool lod2Roofs) {
    const Buildings& b = city.buildings;
    double ground = i < b.groundM.size() ? b.groundM[i] : NAN;
    if (!std::isfinite(ground)) ground = city.terrain.empty() ? NAN : city.terrain.heightAt(b.centroid(i));
    double height = i < b.heightM.size() ? b.heightM[i] : 0;
    if (!std::isfinite(height) || height < 0) height = 0;
    if (!std::isfinite(ground) && b.roofStart.size() > i + 1) {
        // No terrain: LoD2 roofs carry absolute heights; the building reaches from the ground
        // to the highest roof point.
        double highest = -INFINITY;
        for (uint32_t r = b.roofStart[i]; r < b.roofStart[i + 1]; ++r)
            for (uint32_t p = b.roofRingStart[r]; p < b.roofRingStart[r + 1]; ++p)
                if (std::isfinite(b.roofPoints[p].z())) highest = std::max(highest, b.roofPoints[p].z());
        if (std::isfinite(highest)) ground = highest - height;
    }
    if (!std::isfinite(ground)) ground = 0;
    BuildingLevels out{ground, ground + height, ground + height};
    if (lod2Roofs && b.roofStart.size() > i + 1) {
        double lowest = INFINITY;
        for (uint32_t r = b.roofStart[i]; r < b.roofStart[i + 1]; ++r)
            for (uint32_t p = b.roofRingStart[r]; p < b.roofRingStart[r + 1]; ++p)
                if (std::isfinite(b.roofPoints[p].z())) lowest = std::min(lowest, b.roofPoints[p].z());
        if (std::isfinite(lowest)) out.wallTopM = lowest;
    }
    return out;
}

PlanarTriangles triangulatePlanarRing(std::span<const Vec3> ring) {
    PlanarTriangles out;
    const size_t n = ring.size();
    if (n < 3) return out;
    Vec3 normal = Vec3::Zero();
    const Vec3 ref = ring[0]; // relative to a vertex for precision
    for (size_t k = 0; k < n; ++k) {
        const Vec3 a = ring[k] - ref, b = ring[(k + 1) % n] - ref;
        normal += Vec3((a.y() - b.y()) * (a.z() + b.z()), (a.z() - b.z()) * (a.x() + b.x()),
                       (a.x() - b.x()) * (a.y() + b.y()));
    }
    if (!(normal.norm() > 1e-12)) return out;
    normal.normalize();
    if (normal.z() < 0) normal = -normal;
    int drop = 0;
    normal.cwiseAbs().maxCoeff(&drop);
    const int u = (drop + 1) % 3, v = (drop + 2) % 3;
    std::vector<Vec2> flat(n);
    for (size_t k = 0; k < n; ++k)
        flat[k] = Vec2(ring[k][u], ring[k][v]);
    out.indices = triangulatePolygon({std::span<const Vec2>(flat)});
    out.normal = normal;
    return out;
}

// ---------------------------------------------------------------------------------------------
// Colours
// ---------------------------------------------------------------------------------------------

namespace {

constexpr uint32_t rgba(uint32_t r, uint32_t g, uint32_t b, uint32_t a = 255) {
    return r | (g << 8) | (b << 16) | (a << 24);
}

// Land use on the terrain, RGB (alpha is the water flag):
//   forest                         dark green        ( 58, 102,  56)
//   meadow, default (no polygon)   meadow green      (150, 186, 102)
//   grass, park, recreation_ground light green       (160, 206, 118)
//   farmland, orchard, allotments  yellow-green      (196, 204, 110)
//   cemetery                       green             (112, 158,  98)
//   residential                    light beige-grey  (214, 206, 192)
//   commercial, retail, industrial grey              (176, 176, 180)
//   parking, road                  dark grey         (140, 140, 144)
//   construction, railway          brown-grey        (168, 152, 132)
//   water                          blue              (110, 150, 200)
//   other                          meadow green
struct LandUseColor {
    const char* className;
    uint32_t rgb;
};
constexpr uint32_t meadowGreen = rgba(150, 186, 102, 0);
constexpr LandUseColor landUseColors[] = {
    {"forest", rgba(58, 102, 56, 0)},
    {"meadow", meadowGreen},
    {"grass", rgba(160, 206, 118, 0)},
    {"park", rgba(160, 206, 118, 0)},
    {"recreation_ground", rgba(160, 206, 118, 0)},
    {"farmland", rgba(196, 204, 110, 0)},
    {"orchard", rgba(196, 204, 110, 0)},
    {"allotments", rgba(196, 204, 110, 0)},
    {"cemetery", rgba(112, 158, 98, 0)},
    {"residential", rgba(214, 206, 192, 0)},
    {"commercial", rgba(176, 176, 180, 0)},
    {"retail", rgba(176, 176, 180, 0)},
    {"industrial", rgba(176, 176, 180, 0)},
    {"parking", rgba(140, 140, 144, 0)},
    {"road", rgba(140, 140, 144, 0)},
    {"construction", rgba(168, 152, 132, 0)},
    {"railway", rgba(168, 152, 132, 0)},
    {"water", rgba(110, 150, 200, 0)},
};

uint32_t landUseRgb(const std::string& className) {
    for (const auto& row : landUseColors)
        if (className == row.className) return row.rgb;
    return meadowGreen;
}

} // namespace

// Building walls: light colours, one per use. Roofs: the wall colour darkened and shifted
// towards red (R x 0.86, G x 0.74, B x 0.68), so roofs read as roofs from above:
//   residential  cream       (242, 230, 208)     mixed        apricot     (240, 218, 192)
//   commercial   light blue  (204, 222, 240)     industrial   light grey  (216, 216, 208)
//   public       light rose  (238, 208, 214)     religious    lavender    (226, 214, 242)
//   agricultural pale green  (222, 234, 194)     garage       grey        (204, 204, 204)
//   other        off-white   (230, 226, 216)     unknown      pale grey   (232, 232, 228)
uint32_t buildingWallColor(BuildingUse use) {
    switch (use) {
    case BuildingUse::Residential:
        return rgba(242, 230, 208);
    case BuildingUse::Mixed:
        return rgba(240, 218, 192);
    case BuildingUse::Commercial:
        return rgba(204, 222, 240);
    case BuildingUse::Industrial:
        return rgba(216, 216, 208);
    case BuildingUse::Public:
        return rgba(238, 208, 214);
    case BuildingUse::Religious:
        return rgba(226, 214, 242);
    case BuildingUse::Agricultural:
        return rgba(222, 234, 194);
    case BuildingUse::Garage:
        return rgba(204, 204, 204);
    case BuildingUse::Other:
        return rgba(230, 226, 216);
    case BuildingUse::Unknown:
        break;
    }
    return rgba(232, 232, 228);
}

uint32_t buildingRoofColor(BuildingUse use) {
    const uint32_t wall = buildingWallColor(use);
    auto channel = [&](int shift, double factor) {
        return static_cast<uint32_t>(std::lround(((wall >> shift) & 0xFFu) * factor));
    };
    return rgba(channel(0, 0.86), channel(8, 0.74), channel(16, 0.68));
}

// Roads: dark greys, major roads lighter and warmer; paths a light sand colour.
//   motorway, trunk             (112, 104,  96)   primary, secondary  (102,  97,  92)
//   tertiary, unclassified      ( 92,  90,  88)   residential, living street, service, other
//                                                                     ( 80,  80,  82)
//   track                       (178, 160, 124)   footway, path, cycleway, pedestrian, steps
//                                                                     (216, 198, 160)
uint32_t roadColor(RoadClass roadClass) {
    switch (roadClass) {
    case RoadClass::Motorway:
    case RoadClass::Trunk:
        return rgba(112, 104, 96);
    case RoadClass::Primary:
    case RoadClass::Secondary:
        return rgba(102, 97, 92);
    case RoadClass::Tertiary:
    case RoadClass::Unclassified:
        return rgba(92, 90, 88);
    case RoadClass::Track:
        return rgba(178, 160, 124);
    case RoadClass::Footway:
    case RoadClass::Path:
    case RoadClass::Cycleway:
    case RoadClass::Pedestrian:
    case RoadClass::Steps:
        return rgba(216, 198, 160);
    default:
        return rgba(80, 80, 82);
    }
}

// ---------------------------------------------------------------------------------------------
// Mesh building
// ---------------------------------------------------------------------------------------------

namespace {

constexpr float wallBaseBelowGroundM = 0.5f; // hides the wall base where the ground slopes
constexpr double minSkirtDepthM = 5.0;

// Road ribbon width (total, both directions):
//   car roads (motorway ... service, other)  3.0 m per lane, lanes of both directions, >= 3.5 m
//   pedestrian, track                        3.0 m
//   cycleway                                 2.5 m
//   footway, path, steps                     2.0 m
constexpr double laneWidthM = 3.0, minCarRoadWidthM = 3.5;

double roadWidth(RoadClass c, int lanes) {
    switch (c) {
    case RoadClass::Pedestrian:
    case RoadClass::Track:
        return 3.0;
    case RoadClass::Cycleway:
        return 2.5;
    case RoadClass::Footway:
    case RoadClass::Path:
    case RoadClass::Steps:
        return 2.0;
    default:
        return std::max(minCarRoadWidthM, laneWidthM * lanes);
    }
}

MeshVertex vertex(double x, double y, double z, const Vec3& n, uint32_t color, uint32_t objectId) {
    return {static_cast<float>(x),
            static_cast<float>(y),
            static_cast<float>(z),
            static_cast<float>(n.x()),
            static_cast<float>(n.y()),
            static_cast<float>(n.z()),
            color,
            objectId};
}

void computeBounds(MeshChunk& chunk) {
    chunk.boundsMin = {INFINITY, INFINITY, INFINITY};
    chunk.boundsMax = {-INFINITY, -INFINITY, -INFINITY};
    for (const MeshVertex& v : chunk.vertices) {
        const float p[3] = {v.x, v.y, v.z};
        for (int k = 0; k < 3; ++k) {
            chunk.boundsMin[k] = std::min(chunk.boundsMin[k], p[k]);
            chunk.boundsMax[k] = std::max(chunk.boundsMax[k], p[k]);
        }
    }
}

// The square chunk grid from the city's lower-left corner.
struct ChunkGrid {
    Vec2 origin;
    double size;
    std::pair<int, int> of(const Vec2& p) const {
        return {static_cast<int>(std::floor((p.x() - origin.x()) / size)),
                static_cast<int>(std::floor((p.y() - origin.y()) / size))};
    }
};

// Items sorted by chunk, then one task per chunk, given its items' ids: deterministic output
// without locks. A chunk whose `build` sets no levels of detail gets one, all its indices.
template <class BuildChunk>
std::vector<MeshChunk> buildByChunk(std::vector<std::pair<std::pair<int, int>, uint32_t>>& items,
                                    BuildChunk&& build) {
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.second, a.first.first, a.second) <
               std::tie(b.first.second, b.first.first, b.second);
    });
    std::vector<size_t> runStart;
    for (size_t i = 0; i < items.size(); ++i)
        if (i == 0 || items[i].first != items[i - 1].first) runStart.push_back(i);
    runStart.push_back(items.size());
    std::vector<MeshChunk> chunks(runStart.size() - 1);
    tbb::parallel_for(size_t(0), chunks.size(), [&](size_t r) {
        MeshChunk& chunk = chunks[r];
        chunk.chunkX = items[runStart[r]].first.first;
        chunk.chunkY = items[runStart[r]].first.second;
        std::vector<uint32_t> ids;
        for (size_t i = runStart[r]; i < runStart[r + 1]; ++i)
            ids.push_back(items[i].second);
        build(chunk, std::span<const uint32_t>(ids));
        const auto n = static_cast<uint32_t>(chunk.indices.size());
        if (chunk.lods.empty()) chunk.lods = {IndexRange{0, n, n}};
        computeBounds(chunk);
    });
    std::erase_if(chunks, [](const MeshChunk& c) { return c.indices.empty(); });
    return chunks;
}

// --- Terrain ---------------------------------------------------------------------------------

// The finest terrain vertex grid: a vertex at every `step`-th DEM cell centre.
struct VertexGrid {
    const Terrain* terrain;
    int step;
    int nx, ny;     // vertices per row / column
    double x0, y0;  // position of vertex (0, 0), the north-west one
    double spacing; // metres between vertices
    double x(int i) const { return x0 + i * spacing; }
    double y(int j) const { return y0 - j * spacing; }
    float height(int i, int j) const { return terrain->at(i * step, j * step); }
};

// Marks the grid vertices inside a polygon (even-odd over all its rings) row by row: every
// ring edge adds a crossing to each row it spans; sorted, the crossings pair up into runs.
// Same half-open rule as pointInRing: rows at min y <= y < max y, columns at x0 <= x < x1.
template <class Mark>
void scanlineFill(const PolygonSet& set, size_t polygon, const VertexGrid& g,
                  std::vector<std::pair<int, double>>& crossings, Mark&& mark) {
    crossings.clear();
    for (size_t k = 0; k < set.ringCount(polygon); ++k) {
        auto ring = set.ring(polygon, k);
        for (size_t i = 0, n = ring.size(), j = n - 1; i < n; j = i++) {
            const Vec2 &a = ring[i], &b = ring[j];
            if (a.y() == b.y()) continue;
            const double lo = std::min(a.y(), b.y()), hi = std::max(a.y(), b.y());
            const int rowFirst =
                static_cast<int>(std::clamp(std::floor((g.y0 - hi) / g.spacing), 0.0, double(g.ny)));
            const int rowLast =
                static_cast<int>(std::clamp(std::floor((g.y0 - lo) / g.spacing) + 1, -1.0, double(g.ny - 1)));
            for (int r = rowFirst; r <= rowLast; ++r) {
                const double y = g.y(r);
                if ((a.y() > y) != (b.y() > y))
                    crossings.emplace_back(r, (b.x() - a.x()) * (y - a.y()) / (b.y() - a.y()) + a.x());
            }
        }
    }
    std::sort(crossings.begin(), crossings.end());
    for (size_t i = 0; i < crossings.size();) {
        size_t rowEnd = i;
        while (rowEnd < crossings.size() && crossings[rowEnd].first == crossings[i].first)
            ++rowEnd;
        const int r = crossings[i].first;
        for (size_t k = i; k + 1 < rowEnd; k += 2) {
            const double x0 = crossings[k].second, x1 = crossings[k + 1].second;
            int c = static_cast<int>(std::clamp(std::ceil((x0 - g.x0) / g.spacing) - 1, 0.0, double(g.nx)));
            for (; c < g.nx && g.x(c) < x1; ++c)
                if (g.x(c) >= x0) mark(static_cast<size_t>(r) * g.nx + c);
        }
        i = rowEnd;
    }
}

// Per grid vertex: land use colour, alpha 0 on water.
std::vector<uint32_t> terrainColors(const CityModel& city, const VertexGrid& g) {
    std::vector<uint32_t> colors(static_cast<size_t>(g.nx) * g.ny, meadowGreen | 0xFF000000u);
    std::vector<std::pair<int, double>> crossings;
    const LandUse& lu = city.landuse;
    for (size_t p = 0; p < lu.areas.size(); ++p) { // later polygons paint over earlier ones
        const uint32_t rgb = p < lu.className.size() ? landUseRgb(lu.className[p]) : meadowGreen;
        scanlineFill(lu.areas, p, g, crossings, [&](size_t v) { colors[v] = rgb | 0xFF000000u; });
    }
    for (size_t p = 0; p < city.water.areas.size(); ++p)
        scanlineFill(city.water.areas, p, g, crossings, [&](size_t v) { colors[v] &= 0x00FFFFFFu; });
    return colors;
}

struct QuadRun {
    int chunk;       // chunk column (or row)
    int first, last; // quads [first, last)
};

// Consecutive quads that fall into the same chunk, by the position of their centres.
template <class ChunkOf> std::vector<QuadRun> quadRuns(int quadCount, ChunkOf&& chunkOf) {
    std::vector<QuadRun> runs;
    for (int q = 0; q < quadCount; ++q) {
        int c = chunkOf(q);
        if (runs.empty() || runs.back().chunk != c)
            runs.push_back({c, q, q + 1});
        else
            runs.back().last = q + 1;
    }
    return runs;
}

// Sample positions of a level along one side: every `stride`-th vertex, and the last one.
std::vector<int> levelSamples(int vertexCount, int stride) {
    std::vector<int> s;
    for (int v = 0; v < vertexCount - 1; v += stride)
        s.push_back(v);
    s.push_back(vertexCount - 1);
    return s;
}

struct TerrainChunkInput {
    const VertexGrid* grid;
    const std::vector<uint32_t>* colors;
    bool hasNodata;
    int levels;
};

// One terrain chunk: vertices [col0, col1] x [row0, row1] of the grid (borders shared with the
// neighbours), its levels of detail and their skirts. Empty if nothing is valid.
MeshChunk buildTerrainChunk(const TerrainChunkInput& in, int col0, int col1, int row0, int row1) {
    const VertexGrid& g = *in.grid;
    const Terrain& t = *g.terrain;
    const int nvx = col1 - col0 + 1, nvy = row1 - row0 + 1;
    const int nqx = nvx - 1, nqy = nvy - 1;
    MeshChunk chunk;
    chunk.layer = MeshLayer::Terrain;

    // Nodata: a finest quad is unusable if any DEM cell it spans is NaN; a summed-area table
    // answers the same for the larger quads of coarser levels.
    std::vector<uint32_t> badSum;
    if (in.hasNodata) {
        badSum.assign(static_cast<size_t>(nqx + 1) * (nqy + 1), 0);
        for (int r = 0; r < nqy; ++r)
            for (int c = 0; c < nqx; ++c) {
                bool bad = false;
                const int cell0 = (col0 + c) * g.step, cell1 = std::min((col0 + c + 1) * g.step, t.width - 1);
                const int rc0 = (row0 + r) * g.step, rc1 = std::min((row0 + r + 1) * g.step, t.height - 1);
                for (int rr = rc0; rr <= rc1 && !bad; ++rr)
                    for (int cc = cell0; cc <= cell1 && !bad; ++cc)
                        bad = std::isnan(t.at(cc, rr));
                badSum[static_cast<size_t>(r + 1) * (nqx + 1) + c + 1] =
                    bad + badSum[static_cast<size_t>(r) * (nqx + 1) + c + 1] +
                    badSum[static_cast<size_t>(r + 1) * (nqx + 1) + c] -
                    badSum[static_cast<size_t>(r) * (nqx + 1) + c];
            }
    }
    // Any unusable finest quad in vertex columns [c0, c1] x rows [r0, r1] (chunk-local)?
    auto anyBad = [&](int c0, int c1, int r0, int r1) {
        if (!in.hasNodata) return false;
        auto at = [&](int c, int r) { return badSum[static_cast<size_t>(r) * (nqx + 1) + c]; };
        return at(c1, r1) - at(c0, r1) - at(c1, r0) + at(c0, r0) > 0;
    };
    // Water: a summed-area table of water vertices, so a coarse quad holding water anywhere
    // inside or on its border is drawn with the water (a drape shows every fine water vertex).
    std::vector<uint32_t> wetSum(static_cast<size_t>(nvx + 1) * (nvy + 1), 0);
    for (int r = 0; r < nvy; ++r)
        for (int c = 0; c < nvx; ++c) {
            const bool wet = ((*in.colors)[static_cast<size_t>(row0 + r) * g.nx + col0 + c] >> 24) < 128;
            auto at = [&](int cc, int rr) -> uint32_t& { return wetSum[static_cast<size_t>(rr) * (nvx + 1) + cc]; };
            at(c + 1, r + 1) = wet + at(c, r + 1) + at(c + 1, r) - at(c, r);
        }
    // Any water vertex in vertex columns [c0, c1] x rows [r0, r1] (chunk-local, inclusive)?
    auto anyWater = [&](int c0, int c1, int r0, int r1) {
        auto at = [&](int c, int r) { return wetSum[static_cast<size_t>(r) * (nvx + 1) + c]; };
        return at(c1 + 1, r1 + 1) - at(c0, r1 + 1) - at(c1 + 1, r0) + at(c0, r0) > 0;
    };

    // Vertices, with normals from central differences (one-sided at edges and next to nodata).
    chunk.vertices.resize(static_cast<size_t>(nvx) * nvy);
    double minValid = INFINITY, maxSlope = 0;
    for (int r = 0; r < nvy; ++r)
        for (int c = 0; c < nvx; ++c) {
            const int i = col0 + c, j = row0 + r;
            const double h = g.height(i, j);
            auto slope = [&](int i0, int j0, int i1, int j1) { // dz per metre from (i0,j0) to (i1,j1)
                const bool in0 = i0 >= 0 && j0 >= 0 && i0 < g.nx && j0 < g.ny;
                const bool in1 = i1 >= 0 && j1 >= 0 && i1 < g.nx && j1 < g.ny;
                const double h0 = in0 ? g.height(i0, j0) : NAN, h1 = in1 ? g.height(i1, j1) : NAN;
                if (std::isfinite(h0) && std::isfinite(h1)) return (h1 - h0) / (2 * g.spacing);
                if (std::isfinite(h1) && std::isfinite(h)) return (h1 - h) / g.spacing;
                if (std::isfinite(h0) && std::isfinite(h)) return (h - h0) / g.spacing;
                return 0.0;
            };
            const double dzdx = slope(i - 1, j, i + 1, j);
            const double dzdy = slope(i, j + 1, i, j - 1); // north is up the rows
            Vec3 n = Vec3(-dzdx, -dzdy, 1).normalized();
            if (std::isfinite(h)) {
                minValid = std::min(minValid, h);
                maxSlope = std::max(maxSlope, std::hypot(dzdx, dzdy));
            }
            chunk.vertices[static_cast<size_t>(r) * nvx + c] =
                vertex(g.x(i), g.y(j), h, n, (*in.colors)[static_cast<size_t>(j) * g.nx + i], 0);
        }
    if (!std::isfinite(minValid)) return {};
    for (MeshVertex& v : chunk.vertices) // unused nodata vertices: finite, out of the way
        if (std::isnan(v.z)) v.z = static_cast<float>(minValid);

    auto index = [&](int c, int r) { return static_cast<uint32_t>(r * nvx + c); };
    for (int k = 0; k < in.levels; ++k) {
        const int stride = 1 << k;
        if (k > 0 && (nqx / stride < 2 || nqy / stride < 2)) break; // too few quads per side
        const std::vector<int> xs = levelSamples(nvx, stride), ys = levelSamples(nvy, stride);
        const auto first = static_cast<uint32_t>(chunk.indices.size());
        // Surface: two counter-clockwise triangles per quad (row 0 is north), quads touching
        // water after the others.
        std::vector<uint32_t> wet;
        for (size_t b = 0; b + 1 < ys.size(); ++b)
            for (size_t a = 0; a + 1 < xs.size(); ++a) {
                if (anyBad(xs[a], xs[a + 1], ys[b], ys[b + 1])) continue;
                const uint32_t nw = index(xs[a], ys[b]), ne = index(xs[a + 1], ys[b]);
                const uint32_t sw = index(xs[a], ys[b + 1]), se = index(xs[a + 1], ys[b + 1]);
                std::vector<uint32_t>& to = anyWater(xs[a], xs[a + 1], ys[b], ys[b + 1]) ? wet : chunk.indices;
                to.insert(to.end(), {sw, se, ne, sw, ne, nw});
            }
        const auto land = static_cast<uint32_t>(chunk.indices.size()) - first;
        chunk.indices.insert(chunk.indices.end(), wet.begin(), wet.end());
        // How far the level's surface lies from the finest one: the largest height difference
        // at a finest vertex, against the level's two triangles over it (diagonal sw-ne).
        float errorM = 0;
        for (size_t b = 0; k > 0 && b + 1 < ys.size(); ++b)
            for (size_t a = 0; a + 1 < xs.size(); ++a) {
                if (anyBad(xs[a], xs[a + 1], ys[b], ys[b + 1])) continue;
                const float zsw = chunk.vertices[index(xs[a], ys[b + 1])].z, zse = chunk.vertices[index(xs[a + 1], ys[b + 1])].z;
                const float zne = chunk.vertices[index(xs[a + 1], ys[b])].z, znw = chunk.vertices[index(xs[a], ys[b])].z;
                for (int r = ys[b]; r <= ys[b + 1]; ++r)
                    for (int c = xs[a]; c <= xs[a + 1]; ++c) {
                        const float u = float(c - xs[a]) / float(xs[a + 1] - xs[a]); // east
                        const float v = float(ys[b + 1] - r) / float(ys[b + 1] - ys[b]); // north
                        const float z = u >= v ? zsw + u * (zse - zsw) + v * (zne - zse) : zsw + v * (znw - zsw) + u * (zne - znw);
                        errorM = std::max(errorM, std::abs(chunk.vertices[index(c, r)].z - z));
                    }
            }
        const auto surface = static_cast<uint32_t>(chunk.indices.size()) - first;
        if (surface == 0) break;

        // Skirt: the border lowered by more than this level can be off its finer neighbour
        // (about spacing x slope), hanging from each border edge, facing out of the chunk.
        const double depth = std::max(minSkirtDepthM, 2.0 * stride * g.spacing * maxSlope);
        struct Edge {
            int c0, r0, c1, r1;     // border edge, counter-clockwise seen from above
            int qc0, qc1, qr0, qr1; // the quad inside it
        };
        std::vector<Edge> border;
        const int xl = xs.back(), yl = ys.back();
        for (size_t a = 0; a + 1 < xs.size(); ++a) // south, west to east
            border.push_back({xs[a], yl, xs[a + 1], yl, xs[a], xs[a + 1], ys[ys.size() - 2], yl});
        for (size_t b = ys.size() - 1; b > 0; --b) // east, south to north
            border.push_back({xl, ys[b], xl, ys[b - 1], xs[xs.size() - 2], xl, ys[b - 1], ys[b]});
        for (size_t a = xs.size() - 1; a > 0; --a) // north, east to west
            border.push_back({xs[a], 0, xs[a - 1], 0, xs[a - 1], xs[a], 0, ys[1]});
        for (size_t b = 0; b + 1 < ys.size(); ++b) // west, north to south
            border.push_back({0, ys[b], 0, ys[b + 1], 0, xs[1], ys[b], ys[b + 1]});
        uint32_t lastTop = UINT32_MAX, lastBottom = 0;
        auto lowered = [&](uint32_t top) {
            if (top == lastTop) return lastBottom;
            MeshVertex v = chunk.vertices[top];
            v.z = static_cast<float>(v.z - depth);
            chunk.vertices.push_back(v);
            lastTop = top;
            lastBottom = static_cast<uint32_t>(chunk.vertices.size() - 1);
            return lastBottom;
        };
        for (const Edge& e : border) {
            if (anyBad(e.qc0, e.qc1, e.qr0, e.qr1)) continue;
            const uint32_t t0 = index(e.c0, e.r0), t1 = index(e.c1, e.r1);
            const uint32_t b0 = lowered(t0), b1 = lowered(t1);
            chunk.indices.insert(chunk.indices.end(), {b0, b1, t1, b0, t1, t0});
        }
        chunk.lods.push_back({first, static_cast<uint32_t>(chunk.indices.size()) - first, surface, land, errorM});
    }
    if (chunk.lods.empty()) return {};
    computeBounds(chunk);
    return chunk;
}

std::vector<MeshChunk> buildTerrain(const CityModel& city, const ChunkGrid& grid,
                                    const CityMeshOptions& options, TerrainDrape& drape) {
    const Terrain& t = city.terrain;
    if (t.empty() || t.width < 2 || t.height < 2 || t.cellSize <= 0) return {};
    VertexGrid g{&t, 1, 0, 0, 0, 0, 0};
    auto countAt = [&](int step) {
        return static_cast<size_t>((t.width - 1) / step + 1) * static_cast<size_t>((t.height - 1) / step + 1);
    };
    if (options.terrainStep > 0)
        g.step = options.terrainStep;
    else
        while (countAt(g.step) > options.terrainMaxVertices && g.step < std::max(t.width, t.height))
            ++g.step;
    g.nx = (t.width - 1) / g.step + 1;
    g.ny = (t.height - 1) / g.step + 1;
    if (g.nx < 2 || g.ny < 2) return {};
    g.spacing = g.step * t.cellSize;
    g.x0 = t.originX + 0.5 * t.cellSize;
    g.y0 = t.originY - 0.5 * t.cellSize;

    TerrainChunkInput in{&g, nullptr, false, std::max(1, options.terrainLods)};
    in.hasNodata = std::any_of(t.heightM.begin(), t.heightM.end(), [](float h) { return std::isnan(h); });
    drape = {g.nx, g.ny, g.x0, g.y0, g.spacing, terrainColors(city, g)};
    in.colors = &drape.rgba;

    const auto cols =
        quadRuns(g.nx - 1, [&](int q) { return grid.of(Vec2(g.x(q) + 0.5 * g.spacing, 0)).first; });
    const auto rows =
        quadRuns(g.ny - 1, [&](int q) { return grid.of(Vec2(0, g.y(q) - 0.5 * g.spacing)).second; });
    std::vector<MeshChunk> chunks(cols.size() * rows.size());
    tbb::parallel_for(size_t(0), chunks.size(), [&](size_t k) {
        const QuadRun& col = cols[k % cols.size()];
        const QuadRun& row = rows[k / cols.size()];
        chunks[k] = buildTerrainChunk(in, col.first, col.last, row.first, row.last);
        chunks[k].chunkX = col.chunk;
        chunks[k].chunkY = row.chunk;
    });
    std::erase_if(chunks, [](const MeshChunk& c) { return c.lods.empty(); });
    return chunks;
}

// --- Buildings -------------------------------------------------------------------------------

} // namespace

EnclosingRectangle enclosingRectangle(std::span<const Vec2> ring) {
    EnclosingRectangle out;
    // Convex hull (monotone chain), counter-clockwise.
    std::vector<Vec2> pts(ring.begin(), ring.end());
    std::sort(pts.begin(), pts.end(), [](const Vec2& a, const Vec2& b) { return a.x() < b.x() || (a.x() == b.x() && a.y() < b.y()); });
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    auto cross = [](const Vec2& o, const Vec2& a, const Vec2& b) { return (a - o).x() * (b - o).y() - (a - o).y() * (b - o).x(); };
    std::vector<Vec2> hull;
    for (int pass = 0; pass < 2; ++pass) {
        const size_t start = hull.size();
        for (const Vec2& p : pts) {
            while (hull.size() >= start + 2 && cross(hull[hull.size() - 2], hull.back(), p) <= 0) hull.pop_back();
            hull.push_back(p);
        }
        hull.pop_back(); // the last point starts the other chain
        std::reverse(pts.begin(), pts.end());
    }
    if (hull.size() < 3) {
        out.maxDistanceM = INFINITY;
        return out;
    }
    // One side of the smallest rectangle lies along a hull edge (Freeman & Shapira 1975).
    double bestArea = INFINITY;
    Vec2 u = Vec2::UnitX(), v = Vec2::UnitY();
    double u0 = 0, u1 = 0, v0 = 0, v1 = 0;
    for (size_t k = 0; k < hull.size(); ++k) {
        const Vec2 d = hull[(k + 1) % hull.size()] - hull[k];
        if (d.norm() < 1e-12) continue;
        const Vec2 eu = d.normalized(), ev(-eu.y(), eu.x());
        double a0 = INFINITY, a1 = -INFINITY, b0 = INFINITY, b1 = -INFINITY;
        for (const Vec2& p : hull) {
            a0 = std::min(a0, p.dot(eu)), a1 = std::max(a1, p.dot(eu));
            b0 = std::min(b0, p.dot(ev)), b1 = std::max(b1, p.dot(ev));
        }
        if ((a1 - a0) * (b1 - b0) < bestArea) bestArea = (a1 - a0) * (b1 - b0), u = eu, v = ev, u0 = a0, u1 = a1, v0 = b0, v1 = b1;
    }
    out.corners = {u0 * u + v0 * v, u1 * u + v0 * v, u1 * u + v1 * v, u0 * u + v1 * v};
    // The largest distance from the rectangle to the polygon by branch and bound over cells: the
    // signed distance to the outline (negative inside) is 1-Lipschitz, so no point of a cell lies
    // farther than its centre's plus half its diagonal (and a cell deep inside not at all). Cells
    // that could beat the best found by more than `tolerance` are split.
    auto signedDistance = [&](double a, double b) {
        const Vec2 p = a * u + b * v;
        double d2 = INFINITY;
        for (size_t k = 0; k < ring.size(); ++k) {
            const Vec2 s0 = ring[k], e = ring[(k + 1) % ring.size()] - s0;
            const double t = e.squaredNorm() > 0 ? std::clamp((p - s0).dot(e) / e.squaredNorm(), 0.0, 1.0) : 0.0;
            d2 = std::min(d2, (p - s0 - t * e).squaredNorm());
        }
        return pointInRing(p, ring) ? -std::sqrt(d2) : std::sqrt(d2);
    };
    double best = 0;
    for (double a : {u0, u1})
        for (double b : {v0, v1}) best = std::max(best, signedDistance(a, b));
    struct Cell {
        double a, b, halfA, halfB; // centre and half sizes along u and v
    };
    std::vector<Cell> open{{(u0 + u1) / 2, (v0 + v1) / 2, (u1 - u0) / 2, (v1 - v0) / 2}};
    constexpr double tolerance = 0.25; // metres
    while (!open.empty()) {
        const Cell c = open.back();
        open.pop_back();
        const double d = signedDistance(c.a, c.b);
        best = std::max(best, d);
        if (d + std::hypot(c.halfA, c.halfB) <= best + tolerance) continue;
        for (int k = 0; k < 4; ++k)
            open.push_back({c.a + (k & 1 ? 0.5 : -0.5) * c.halfA, c.b + (k & 2 ? 0.5 : -0.5) * c.halfB, c.halfA / 2, c.halfB / 2});
    }
    out.maxDistanceM = best + tolerance;
    return out;
}

namespace {

// A footprint part extruded from `bottom` to `top`: walls along every ring and, if asked, a flat
// roof at `top`. Faces share their corners: one vertex per ring point at the bottom, carrying
// the normal and colour of the wall that starts there, and one at the top, carrying the roof's.
// Every triangle starts with a vertex of its own face (the provoking vertex of flat shading),
// so a box is 8 vertices, not 20. Walls face out of the material: left of the edges after
// orienting (outer ring counter-clockwise, holes clockwise), the normal on the right.
// Vertices go to the chunk, indices to `indices`.
void addPrism(MeshChunk& chunk, std::vector<uint32_t>& indices, const std::vector<std::span<const Vec2>>& rings,
              double bottom, double top, bool roof, uint32_t wallColor, uint32_t roofColor, uint32_t objectId) {
    const bool walls = top > bottom;
    std::vector<uint32_t> topVertex; // per ring point, in the rings' own order
    for (size_t r = 0; r < rings.size(); ++r) {
        const std::span<const Vec2> ring = rings[r];
        const size_t n = ring.size();
        const bool reverse = (signedArea(ring) > 0) != (r == 0);
        auto point = [&](size_t k) { return ring[reverse ? n - 1 - k % n : k % n]; }; // oriented
        const auto base = static_cast<uint32_t>(chunk.vertices.size());
        for (size_t k = 0; k < n; ++k) { // bottom vertices: the normal of wall k (p_k to p_k+1)
            const Vec2 p0 = point(k), d = point(k + 1) - p0;
            const double len = d.norm();
            const Vec3 normal = len > 1e-9 ? Vec3(d.y() / len, -d.x() / len, 0) : Vec3::UnitX(); // no wall: unused
            chunk.vertices.push_back(vertex(p0.x(), p0.y(), bottom, normal, wallColor, objectId));
        }
        for (size_t k = 0; k < n; ++k)
            chunk.vertices.push_back(vertex(point(k).x(), point(k).y(), top, Vec3::UnitZ(), roofColor, objectId));
        for (size_t k = 0; walls && n >= 2 && k < n; ++k) {
            if (!((point(k + 1) - point(k)).norm() > 1e-9)) continue;
            const uint32_t b0 = base + uint32_t(k), b1 = base + uint32_t((k + 1) % n), t0 = b0 + uint32_t(n), t1 = b1 + uint32_t(n);
            // Seen from outside p_k is bottom left: counter-clockwise, both starting at b0.
            indices.insert(indices.end(), {b0, b1, t1, b0, t1, t0});
        }
        for (size_t k = 0; k < n; ++k)
            topVertex.push_back(base + uint32_t(n + (reverse ? n - 1 - k : k)));
    }
    if (!roof) return;
    for (uint32_t i : triangulatePolygon(rings))
        indices.push_back(topVertex[i]);
}

// A 3D roof ring as it is, facing up.
void addRoofSurface(MeshChunk& chunk, std::vector<uint32_t>& indices, std::span<const Vec3> ring, uint32_t color,
                    uint32_t objectId) {
    const PlanarTriangles t = triangulatePlanarRing(ring);
    if (t.indices.empty()) return;
    const auto base = static_cast<uint32_t>(chunk.vertices.size());
    for (const Vec3& p : ring)
        chunk.vertices.push_back(vertex(p.x(), p.y(), p.z(), t.normal, color, objectId));
    const auto& tri = t.indices;
    for (size_t k = 0; k + 2 < tri.size(); k += 3) {
        const Vec3 &a = ring[tri[k]], &b = ring[tri[k + 1]], &c = ring[tri[k + 2]];
        const bool flip = (b - a).cross(c - a).dot(t.normal) < 0;
        indices.insert(indices.end(), {base + tri[k], base + tri[flip ? k + 2 : k + 1], base + tri[flip ? k + 1 : k + 2]});
    }
}

// A footprint part as a box (MeshChunk::boxes) if it is one: four corners, convex, with walls.
std::optional<BuildingBox> boxOf(std::span<const Vec2> ring, double bottom, double top, uint32_t wallColor, uint32_t roofColor,
                                 uint32_t objectId) {
    if (ring.size() != 4 || !(top > bottom)) return std::nullopt;
    const bool reverse = signedArea(ring) < 0;
    BuildingBox box{};
    auto at = [&](size_t k) { return ring[reverse ? 3 - k % 4 : k % 4]; }; // counter-clockwise
    for (size_t k = 0; k < 4; ++k) {
        const Vec2 p = at(k), in = p - at(k + 3), out = at(k + 1) - p;
        if (!(in.norm() > 1e-6) || !(out.norm() > 1e-6) || in.x() * out.y() - in.y() * out.x() <= 0) return std::nullopt; // not convex
        box.corners[2 * k] = float(p.x());
        box.corners[2 * k + 1] = float(p.y());
    }
    box.bottom = float(bottom);
    box.top = float(top);
    box.wallRgba = wallColor;
    box.roofRgba = roofColor;
    box.objectId = objectId;
    return box;
}

double diagonalM(const BuildingBox& b) {
    double across = 0; // the footprint's largest extent: between two corners
    for (int i = 0; i < 4; ++i)
        for (int j = i + 1; j < 4; ++j)
            across = std::max(across, std::hypot(double(b.corners[2 * i] - b.corners[2 * j]), double(b.corners[2 * i + 1] - b.corners[2 * j + 1])));
    return std::hypot(across, double(b.top - b.bottom));
}

// A chunk's buildings with their coarse level (see MeshChunk::lods) and boxes: each footprint
// part either has a rectangle standing in for it there or is drawn the same at both levels; at
// each level the parts that are boxes come last.
void addBuildings(MeshChunk& chunk, const CityModel& city, std::span<const uint32_t> ids, const CityMeshOptions& options) {
    const Buildings& b = city.buildings;
    std::vector<uint32_t> replaced, shared, sharedBoxes, rectangles;
    std::vector<BuildingBox> rectangleBoxes;
    float coarseErrorM = 0;
    for (uint32_t i : ids) {
        const BuildingUse use = i < b.use.size() ? b.use[i] : BuildingUse::Unknown;
        const uint32_t wallColor = buildingWallColor(use), roofColor = buildingRoofColor(use);
        const bool lod2 = options.lod2Roofs && b.roofStart.size() > i + 1 && b.roofStart[i + 1] > b.roofStart[i];
        const BuildingLevels levels = buildingLevels(city, i, lod2);
        const double bottom = levels.groundM - wallBaseBelowGroundM; // wallTopM = roofM without LoD2 roofs
        for (uint32_t part = b.partStart[i]; part < b.partStart[i + 1]; ++part) {
            std::vector<std::span<const Vec2>> rings;
            for (size_t k = 0; k < b.footprints.ringCount(part); ++k)
                rings.push_back(b.footprints.ring(part, k));
            // Sloped (LoD2) roofs and courtyards keep their shape; four corners are as coarse as a rectangle.
            if (!lod2 && rings.size() == 1 && rings[0].size() > 4 && options.buildingCoarseMaxErrorM > 0) {
                const EnclosingRectangle r = enclosingRectangle(rings[0]);
                const auto box = boxOf(r.corners, bottom, levels.wallTopM, wallColor, roofColor, i); // none without walls
                if (r.maxDistanceM <= options.buildingCoarseMaxErrorM && box) {
                    addPrism(chunk, replaced, rings, bottom, levels.wallTopM, true, wallColor, roofColor, i);
                    addPrism(chunk, rectangles, {std::span<const Vec2>(r.corners)}, bottom, levels.wallTopM, true, wallColor,
                             roofColor, i);
                    coarseErrorM = std::max(coarseErrorM, float(r.maxDistanceM));
                    rectangleBoxes.push_back(*box);
                    continue;
                }
            }
            const auto box = lod2 || rings.size() != 1 ? std::nullopt : boxOf(rings[0], bottom, levels.wallTopM, wallColor, roofColor, i);
            if (box) chunk.boxes.push_back(*box);
            addPrism(chunk, box ? sharedBoxes : shared, rings, bottom, levels.wallTopM, !lod2, wallColor, roofColor, i);
        }
        if (lod2)
            for (uint32_t r = b.roofStart[i]; r < b.roofStart[i + 1]; ++r)
                addRoofSurface(chunk, shared,
                               std::span<const Vec3>(b.roofPoints.data() + b.roofRingStart[r],
                                                     b.roofRingStart[r + 1] - b.roofRingStart[r]),
                               roofColor, i);
    }
    for (const auto* block : {&replaced, &shared, &sharedBoxes, &rectangles})
        chunk.indices.insert(chunk.indices.end(), block->begin(), block->end());
    const auto fine = uint32_t(replaced.size() + shared.size() + sharedBoxes.size());
    const auto coarse = uint32_t(shared.size() + sharedBoxes.size() + rectangles.size());
    chunk.lods = {IndexRange{0, fine, fine}};
    const auto fineBeside = uint32_t(replaced.size() + shared.size()), coarseBeside = uint32_t(shared.size());
    chunk.boxLevels = {{uint32_t(chunk.boxes.size()), IndexRange{0, fineBeside, fineBeside}}};
    chunk.boxes.insert(chunk.boxes.end(), rectangleBoxes.begin(), rectangleBoxes.end());
    if (!rectangles.empty()) {
        chunk.lods.push_back(IndexRange{uint32_t(replaced.size()), coarse, coarse, 0, coarseErrorM});
        chunk.boxLevels.push_back({uint32_t(chunk.boxes.size()), IndexRange{uint32_t(replaced.size()), coarseBeside, coarseBeside, 0, coarseErrorM}});
    }
    for (const BuildingBox& box : chunk.boxes) chunk.largestBoxM = std::max(chunk.largestBoxM, float(diagonalM(box)));
}

// --- Roads -----------------------------------------------------------------------------------

// Terrain height plus lift along a line, gaps (nodata, off the grid) filled from the nearest
// valid point along the line, 0 where there is none.
std::vector<double> liftedHeights(const Terrain& t, const std::vector<Vec2>& line, double lift) {
    std::vector<double> z(line.size(), NAN);
    if (!t.empty())
        for (size_t k = 0; k < line.size(); ++k)
            z[k] = t.heightAt(line[k]);
    // Nearest valid sample by index: one pass each way.
    std::vector<double> filled(z.size(), NAN);
    std::vector<size_t> distance(z.size(), SIZE_MAX);
    for (size_t k = 0, last = SIZE_MAX; k < z.size(); ++k) {
        if (std::isfinite(z[k])) last = k;
        if (last != SIZE_MAX) {
            filled[k] = z[last];
            distance[k] = k - last;
        }
    }
    for (size_t k = z.size(), last = SIZE_MAX; k-- > 0;) {
        if (std::isfinite(z[k])) last = k;
        if (last != SIZE_MAX && last - k < distance[k]) {
            filled[k] = z[last];
            distance[k] = last - k;
        }
    }
    for (double& v : filled)
        v = (std::isfinite(v) ? v : 0.0) + lift;
    return filled;
}

void addRoad(MeshChunk& chunk, const CityModel& city, uint32_t e, const CityMeshOptions& options) {
    const RoadNetwork& net = city.roads;
    // Polyline without repeated points, densified to the terrain's resolution.
    std::vector<Vec2> line;
    for (const Vec2& p : net.shape(EdgeId(e)))
        if (line.empty() || (p - line.back()).norm() > 1e-6) line.push_back(p);
    if (line.size() < 2) return;
    const double maxSegment = city.terrain.empty() ? INFINITY : 2 * city.terrain.cellSize;
    std::vector<Vec2> dense{line[0]};
    std::vector<char> corner{1}; // a vertex of the source polyline (always kept)
    for (size_t k = 1; k < line.size(); ++k) {
        const double len = (line[k] - line[k - 1]).norm();
        const int pieces =
            std::isfinite(maxSegment) ? std::max(1, static_cast<int>(std::ceil(len / maxSegment))) : 1;
        for (int s = 1; s <= pieces; ++s) {
            dense.push_back(line[k - 1] + (line[k] - line[k - 1]) * (double(s) / pieces));
            corner.push_back(s == pieces);
        }
    }
    std::vector<double> arc(dense.size(), 0);
    for (size_t k = 1; k < dense.size(); ++k)
        arc[k] = arc[k - 1] + (dense[k] - dense[k - 1]).norm();
    std::vector<double> z = liftedHeights(city.terrain, dense, options.roadLift);
    const uint8_t flags = e < net.flags.size() ? net.flags[e] : 0;
    if (flags & RoadNetwork::Bridge) // spans the river: straight from bank to bank
        for (size_t k = 0; k < dense.size(); ++k)
            z[k] = z[0] + (z[dense.size() - 1] - z[0]) * arc[k] / arc[dense.size() - 1];
    // Drop the added points where the terrain is straight enough (Douglas-Peucker on height
    // along the way, 10 cm, well under the lift): flat streets keep only their corners, which
    // is most of a city's road triangles saved.
    {
        std::vector<char> keep = corner;
        std::vector<std::pair<size_t, size_t>> stack;
        for (size_t a = 0, b = 1; b < dense.size(); ++b)
            if (corner[b]) {
                stack.emplace_back(a, b);
                a = b;
            }
        while (!stack.empty()) {
            auto [a, b] = stack.back();
            stack.pop_back();
            size_t worst = 0;
            double worstErr = 0.10;
            for (size_t k = a + 1; k < b; ++k) {
                double interp = z[a] + (z[b] - z[a]) * (arc[k] - arc[a]) / std::max(arc[b] - arc[a], 1e-9);
                if (std::abs(z[k] - interp) > worstErr) worstErr = std::abs(z[k] - interp), worst = k;
            }
            if (worst) {
                keep[worst] = 1;
                stack.emplace_back(a, worst);
                stack.emplace_back(worst, b);
            }
        }
        size_t m = 0;
        for (size_t k = 0; k < dense.size(); ++k)
            if (keep[k]) dense[m] = dense[k], z[m] = z[k], ++m;
        dense.resize(m);
        z.resize(m);
    }
    const size_t n = dense.size();

    int lanes = e < net.lanes.size() ? net.lanes[e] : 1;
    const EdgeId rev = e < net.reverse.size() ? net.reverse[e] : EdgeId();
    if (rev.valid() && rev.value < net.lanes.size()) lanes += net.lanes[rev.value];
    const RoadClass cls = e < net.roadClass.size() ? net.roadClass[e] : RoadClass::Other;
    const double halfWidth = roadWidth(cls, lanes) / 2;
    const uint32_t color = roadColor(cls);
    const uint32_t objectId = rev.valid() ? std::min(e, rev.value) : e;

    // Mitred offsets: along the bisector of the two segment normals, capped at 2 half-widths.
    const auto base = static_cast<uint32_t>(chunk.vertices.size());
    auto leftNormal = [&](size_t s) { // of segment s -> s+1
        const Vec2 d = (dense[s + 1] - dense[s]).normalized();
        return Vec2(-d.y(), d.x());
    };
    for (size_t k = 0; k < n; ++k) {
        Vec2 offset;
        if (k == 0)
            offset = leftNormal(0) * halfWidth;
        else if (k == n - 1)
            offset = leftNormal(n - 2) * halfWidth;
        else {
            const Vec2 a = leftNormal(k - 1), b = leftNormal(k);
            Vec2 m = a + b;
            if (m.norm() < 1e-9) m = b; // turns back on itself
            m.normalize();
            offset = m * std::min(halfWidth / std::max(m.dot(b), 1e-9), 2 * halfWidth);
        }
        chunk.vertices.push_back(vertex(dense[k].x() + offset.x(), dense[k].y() + offset.y(), z[k],
                                        Vec3::UnitZ(), color, objectId));
        chunk.vertices.push_back(vertex(dense[k].x() - offset.x(), dense[k].y() - offset.y(), z[k],
                                        Vec3::UnitZ(), color, objectId));
    }
    auto area2 = [&](uint32_t a, uint32_t b, uint32_t c) {
        const MeshVertex &p = chunk.vertices[a], &q = chunk.vertices[b], &r = chunk.vertices[c];
        return (double(q.x) - p.x) * (double(r.y) - p.y) - (double(q.y) - p.y) * (double(r.x) - p.x);
    };
    auto addTriangle = [&](uint32_t a, uint32_t b, uint32_t c) {
        // A tight bend can fold the inner side over; keep such triangles facing up.
        if (area2(a, b, c) < 0) std::swap(b, c);
        chunk.indices.insert(chunk.indices.end(), {a, b, c});
    };
    for (size_t k = 0; k + 1 < n; ++k) {
        const uint32_t l0 = base + 2 * static_cast<uint32_t>(k), r0 = l0 + 1, l1 = l0 + 2, r1 = l0 + 3;
        addTriangle(r0, r1, l1);
        addTriangle(r0, l1, l0);
    }
}

// The point halfway along a polyline.
Vec2 halfwayAlong(std::span<const Vec2> line) {
    const double half = length(line) / 2;
    double walked = 0;
    for (size_t k = 1; k < line.size(); ++k) {
        const double len = (line[k] - line[k - 1]).norm();
        if (walked + len >= half && len > 0)
            return line[k - 1] + (line[k] - line[k - 1]) * ((half - walked) / len);
        walked += len;
    }
    return line.empty() ? Vec2(0, 0) : line[0];
}

} // namespace

CityMesh buildCityMesh(const CityModel& city, const CityMeshOptions& options) {
    CityMesh mesh;
    mesh.chunkSizeM = options.chunkSizeM > 0 ? options.chunkSizeM : 512;
    const Box2 bounds = city.bounds();
    if (!bounds.empty())
        mesh.origin = Vec2(std::floor(bounds.min.x() / mesh.chunkSizeM) * mesh.chunkSizeM,
                           std::floor(bounds.min.y() / mesh.chunkSizeM) * mesh.chunkSizeM);
    const ChunkGrid grid{mesh.origin, mesh.chunkSizeM};

    std::vector<MeshChunk> terrain = buildTerrain(city, grid, options, mesh.terrainDrape);

    // Buildings, each whole in the chunk of its centroid.
    const Buildings& b = city.buildings;
    std::vector<std::pair<std::pair<int, int>, uint32_t>> items;
    items.reserve(b.size());
    for (uint32_t i = 0; i < b.size(); ++i) {
        if (i + 1 >= b.partStart.size() || b.partStart[i + 1] <= b.partStart[i]) continue;
        const Vec2 c = b.centroid(i);
        if (std::isfinite(c.x()) && std::isfinite(c.y())) items.push_back({grid.of(c), i});
    }
    std::vector<MeshChunk> buildings = buildByChunk(
        items, [&](MeshChunk& chunk, std::span<const uint32_t> ids) { addBuildings(chunk, city, ids, options); });
    for (MeshChunk& c : buildings)
        c.layer = MeshLayer::Buildings;

    // Roads: one ribbon per street (a two-way pair once, from its lower edge), tunnels hidden.
    const RoadNetwork& net = city.roads;
    items.clear();
    for (uint32_t e = 0; e < net.edgeCount(); ++e) {
        const EdgeId rev = e < net.reverse.size() ? net.reverse[e] : EdgeId();
        if (rev.valid() && rev.value < e) continue;
        if (e < net.flags.size() && (net.flags[e] & RoadNetwork::Tunnel)) continue;
        const auto shape = net.shape(EdgeId(e));
        if (shape.size() < 2) continue;
        const Vec2 mid = halfwayAlong(shape);
        if (std::isfinite(mid.x()) && std::isfinite(mid.y())) items.push_back({grid.of(mid), e});
    }
    std::vector<MeshChunk> roads = buildByChunk(items, [&](MeshChunk& chunk, std::span<const uint32_t> ids) {
        for (uint32_t e : ids) addRoad(chunk, city, e, options);
    });
    for (MeshChunk& c : roads)
        c.layer = MeshLayer::Roads;

    mesh.chunks.reserve(terrain.size() + buildings.size() + roads.size());
    for (auto* layer : {&terrain, &buildings, &roads})
        for (MeshChunk& c : *layer)
            mesh.chunks.push_back(std::move(c));

    mesh.boundsMin = {INFINITY, INFINITY, INFINITY};
    mesh.boundsMax = {-INFINITY, -INFINITY, -INFINITY};
    for (const MeshChunk& c : mesh.chunks)
        for (int k = 0; k < 3; ++k) {
            mesh.boundsMin[k] = std::min(mesh.boundsMin[k], c.boundsMin[k]);
            mesh.boundsMax[k] = std::max(mesh.boundsMax[k], c.boundsMax[k]);
        }
    if (mesh.chunks.empty()) mesh.boundsMin = mesh.boundsMax = {0, 0, 0};
    return mesh;
}

} // namespace ct
