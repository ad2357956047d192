#include "GeneratedCity.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace ct::bench {

CityModel generateCity(int buildings) {
    CityModel city;
    double side = std::ceil(std::sqrt(double(buildings))) * 22.0 + 400; // metres
    Terrain& t = city.terrain;
    t.cellSize = 2;
    t.width = t.height = int(side / t.cellSize);
    t.originX = -side / 2;
    t.originY = side / 2;
    t.heightM.resize(size_t(t.width) * t.height);
    for (int r = 0; r < t.height; ++r)
        for (int c = 0; c < t.width; ++c)
            t.heightM[size_t(r) * t.width + c] = float(100 + 20 * std::sin(c * 0.004) * std::cos(r * 0.003) + 4 * std::sin(r * 0.02));
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    Buildings& b = city.buildings;
    int perRow = int(std::ceil(std::sqrt(double(buildings))));
    for (int i = 0; i < buildings; ++i) {
        double x = -side / 2 + 200 + (i % perRow) * 22.0 + u(rng) * 3, y = -side / 2 + 200 + (i / perRow) * 22.0 + u(rng) * 3;
        double w = 8 + u(rng) * 8, d = 8 + u(rng) * 8;
        if (u(rng) < 0.3) // L-shape
            b.footprints.add({{{x, y}, {x + w, y}, {x + w, y + d / 2}, {x + w / 2, y + d / 2}, {x + w / 2, y + d}, {x, y + d}}});
        else
            b.footprints.add({{{x, y}, {x + w, y}, {x + w, y + d}, {x, y + d}}});
        b.partStart.push_back(uint32_t(b.footprints.size()));
        int levels = 2 + int(u(rng) * u(rng) * 10);
        b.sourceId.push_back(std::to_string(i));
        b.name.emplace_back();
        b.heightM.push_back(float(levels * 3.0));
        b.groundM.push_back(t.heightAt(Vec2(x + w / 2, y + d / 2)));
        b.levels.push_back(uint16_t(levels));
        b.use.push_back(BuildingUse::Residential);
        b.yearBuilt.push_back(0);
        b.heightSource.push_back(HeightSource::Levels);
    }
    // Streets between the building rows, every 4th row/column, as two-way edges.
    RoadNetwork& roads = city.roads;
    auto node = [&](double x, double y) {
        roads.nodePos.emplace_back(x, y);
        return NodeId{uint32_t(roads.nodePos.size() - 1)};
    };
    auto edge = [&](NodeId a, NodeId c) {
        for (int dir = 0; dir < 2; ++dir) {
            NodeId from = dir ? c : a, to = dir ? a : c;
            roads.from.push_back(from);
            roads.to.push_back(to);
            roads.shapePoints.push_back(roads.nodePos[from.value]);
            roads.shapePoints.push_back(roads.nodePos[to.value]);
            roads.shapeStart.push_back(uint32_t(roads.shapePoints.size()));
            roads.lengthM.push_back(float((roads.nodePos[to.value] - roads.nodePos[from.value]).norm()));
            roads.speedMps.push_back(13.9f);
            roads.lanes.push_back(1);
            roads.roadClass.push_back(RoadClass::Residential);
            roads.layer.push_back(0);
            roads.flags.push_back(0);
            roads.way.push_back(0);
            uint32_t e = uint32_t(roads.from.size() - 1);
            roads.reverse.push_back(dir ? EdgeId{e - 1} : EdgeId{e + 1});
        }
    };
    roads.wayId = {"grid"};
    roads.wayName = {"Generated street"};
    int lines = perRow / 4 + 1;
    std::vector<NodeId> grid;
    for (int j = 0; j < lines; ++j)
        for (int i = 0; i < lines; ++i) grid.push_back(node(-side / 2 + 197 + i * 88.0, -side / 2 + 197 + j * 88.0));
    for (int j = 0; j < lines; ++j)
        for (int i = 0; i < lines; ++i) {
            if (i + 1 < lines) edge(grid[size_t(j * lines + i)], grid[size_t(j * lines + i + 1)]);
            if (j + 1 < lines) edge(grid[size_t(j * lines + i)], grid[size_t((j + 1) * lines + i)]);
        }
    roads.buildAdjacency();
    return city;
}

} // namespace ct::bench
