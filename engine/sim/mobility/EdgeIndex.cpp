#include "sim/mobility/EdgeIndex.h"

#include <algorithm>
#include <cmath>

namespace ct::mobility {

ClassMask classesForMode(Mode mode) {
    switch (mode) {
    case Mode::Car: return classBit(VClass::Passenger);
    case Mode::Bicycle: return classBit(VClass::Bicycle);
    case Mode::Bus: return classBit(VClass::Bus);
    case Mode::Walk: return kAllClasses;
    }
    return kAllClasses;
}

VClass vclassForMode(Mode mode) {
    switch (mode) {
    case Mode::Car: return VClass::Passenger;
    case Mode::Bicycle: return VClass::Bicycle;
    case Mode::Bus: return VClass::Bus;
    case Mode::Walk: return VClass::Pedestrian;
    }
    return VClass::Passenger;
}

EdgeIndex::EdgeIndex(const Network& network, double cellSizeM) : net(network), cell(cellSizeM > 0 ? cellSizeM : 100) {
    const uint32_t nEdges = uint32_t(net.edges.size());
    edgeClasses.assign(nEdges, 0);
    Box2 box;
    for (uint32_t e = 0; e < nEdges; ++e) {
        const Edge& edge = net.edges[e];
        for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l) edgeClasses[e] |= net.lanes[l].allow;
        for (const Vec2& p : net.laneShape(edge.firstLane)) box.extend(p);
    }
    if (box.empty()) return;
    origin = box.min;
    // Keep the grid at a few million cells at most, whatever the extent.
    Vec2 size = box.size();
    while ((size.x() / cell + 1) * (size.y() / cell + 1) > 4e6) cell *= 2;
    cols = int(size.x() / cell) + 1;
    rows = int(size.y() / cell) + 1;

    auto cellRange = [&](const Vec2& a, const Vec2& b, int& x0, int& x1, int& y0, int& y1) {
        x0 = std::clamp(int((std::min(a.x(), b.x()) - origin.x()) / cell), 0, cols - 1);
        x1 = std::clamp(int((std::max(a.x(), b.x()) - origin.x()) / cell), 0, cols - 1);
        y0 = std::clamp(int((std::min(a.y(), b.y()) - origin.y()) / cell), 0, rows - 1);
        y1 = std::clamp(int((std::max(a.y(), b.y()) - origin.y()) / cell), 0, rows - 1);
    };
    // Two passes: count per cell, then fill (CSR).
    std::vector<uint32_t> count(size_t(cols) * rows + 1, 0);
    for (int pass = 0; pass < 2; ++pass) {
        for (uint32_t e = 0; e < nEdges; ++e) {
            const Lane& lane = net.lanes[net.edges[e].firstLane];
            for (uint32_t i = lane.shapeStart; i + 1 < lane.shapeEnd; ++i) {
                int x0, x1, y0, y1;
                cellRange(net.shapePoints[i], net.shapePoints[i + 1], x0, x1, y0, y1);
                for (int y = y0; y <= y1; ++y)
                    for (int x = x0; x <= x1; ++x) {
                        size_t c = size_t(y) * cols + x;
                        if (pass == 0) ++count[c + 1];
                        else segments[count[c]++] = {e, i};
                    }
            }
        }
        if (pass == 0) {
            for (size_t c = 1; c < count.size(); ++c) count[c] += count[c - 1];
            cellStart = count;
            segments.resize(count.back());
        }
    }
}

double EdgeIndex::distanceToSegment(const Vec2& p, const Segment& s) const {
    const Vec2& a = net.shapePoints[s.point];
    const Vec2& b = net.shapePoints[s.point + 1];
    Vec2 d = b - a;
    double len2 = d.squaredNorm();
    double t = len2 > 0 ? std::clamp((p - a).dot(d) / len2, 0.0, 1.0) : 0.0;
    return (a + t * d - p).norm();
}

std::optional<uint32_t> EdgeIndex::nearest(const Vec2& p, ClassMask classes, double maxDistanceM) const {
    if (cols == 0 || !std::isfinite(p.x()) || !std::isfinite(p.y())) return std::nullopt;
    const long cx = long(std::floor((p.x() - origin.x()) / cell)), cy = long(std::floor((p.y() - origin.y()) / cell));
    double best = maxDistanceM;
    std::optional<uint32_t> bestEdge;
    auto visit = [&](long x, long y) {
        if (x < 0 || y < 0 || x >= cols || y >= rows) return;
        size_t c = size_t(y) * cols + size_t(x);
        for (uint32_t i = cellStart[c]; i < cellStart[c + 1]; ++i) {
            const Segment& s = segments[i];
            if (!(edgeClasses[s.edge] & classes)) continue;
            double d = distanceToSegment(p, s);
            // Ties go to the lower edge index so the answer does not depend on cell order.
            if (d < best || (d == best && bestEdge && s.edge < *bestEdge)) {
                best = d;
                bestEdge = s.edge;
            }
        }
    };
    for (long k = 0;; ++k) {
        // Cells of ring k are at least (k - 1) cells away: stop once nothing there can be closer.
        if (double(k - 1) * cell > best) break;
        bool coversGrid = cx - k <= 0 && cy - k <= 0 && cx + k >= cols - 1 && cy + k >= rows - 1;
        for (long x = std::max(cx - k, 0L); x <= std::min(cx + k, long(cols) - 1); ++x) {
            visit(x, cy - k);
            if (k > 0) visit(x, cy + k);
        }
        for (long y = std::max(cy - k + 1, 0L); y <= std::min(cy + k - 1, long(rows) - 1); ++y) {
            visit(cx - k, y);
            if (k > 0) visit(cx + k, y);
        }
        if (coversGrid) break;
    }
    return bestEdge;
}

} // namespace ct::mobility
