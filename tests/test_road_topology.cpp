// A hand-made network with a T-junction, a crossing, a bridge over a street (with and without
// a shared vertex), a bridge ramp and a one-way street: nodes, edges and connectivity are
// counted by hand in the comments.
#include "TestSupport.h"
#include "city/Import.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <queue>

using namespace ct;
using namespace ct::test;

namespace {

const double E0 = 482000, N0 = 5730000;

std::string line(std::initializer_list<std::pair<double, double>> pts) {
    std::string s = "LINESTRING(";
    bool first = true;
    for (auto [x, y] : pts) {
        s += fmt::format("{}{} {}", first ? "" : ",", E0 + x, N0 + y);
        first = false;
    }
    return s + ")";
}

class RoadTopology : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<TestFeature> f = {
            {line({{0, 0}, {100, 0}, {200, 0}}), {{"id", "W1"}, {"highway", "residential"}}},
            {line({{100, -100}, {100, 0}}), {{"id", "W2"}, {"highway", "residential"}}},       // T onto W1
            {line({{300, -100}, {300, 0}, {300, 100}}), {{"id", "W3"}, {"highway", "tertiary"}}},
            {line({{200, 0}, {300, 0}, {400, 0}}), {{"id", "W4"}, {"highway", "tertiary"}}},    // crosses W3
            {line({{500, -100}, {500, 0}, {500, 100}}),
             {{"id", "W5"}, {"highway", "primary"}, {"bridge", "yes"}, {"layer", "1"}}},       // over W6, shared xy
            {line({{400, 0}, {500, 0}, {600, 0}}), {{"id", "W6"}, {"highway", "residential"}}},
            {line({{700, -100}, {700, 100}}), {{"id", "W7"}, {"highway", "primary"}, {"bridge", "yes"}}}, // no vertex
            {line({{600, 0}, {800, 0}}), {{"id", "W8"}, {"highway", "residential"}}},
            {line({{800, 0}, {800, 100}}), {{"id", "W9"}, {"highway", "residential"}, {"oneway", "yes"}}},
            {line({{500, 100}, {500, 200}}), {{"id", "W10"}, {"highway", "primary"}}},        // bridge ramp
        };
        writeLayer(dir / "roads.geojson", "GeoJSON", "roads", 25832,
                   {{"id"}, {"highway"}, {"bridge"}, {"layer"}, {"oneway"}}, f);
        CityConfig config;
        config.roads = {LayerSource{dir / "roads.geojson", "", ""}};
        city = importCity(config, ImportOptions{{}, false});
    }

    NodeId nodeAt(double x, double y) const {
        Vec2 p = Vec2(E0 + x, N0 + y) - city.frame.origin;
        for (uint32_t n = 0; n < city.roads.nodeCount(); ++n)
            if ((city.roads.nodePos[n] - p).norm() < 1e-6) return NodeId(n);
        return NodeId();
    }

    TempDir dir;
    CityModel city;
};

TEST_F(RoadTopology, NodesAndEdgesAsCountedByHand) {
    // 16 nodes: way ends, the T at (100,0), the crossing at (300,0); the bridge's (500,0) and
    // W6's (500,0) are shape points on different layers, and W7 meets W8 nowhere.
    EXPECT_EQ(city.roads.nodeCount(), 16u);
    // W1 4, W2 2, W3 4, W4 4, W5 2, W6 2, W7 2, W8 2, W9 1 (one-way), W10 2.
    EXPECT_EQ(city.roads.edgeCount(), 25u);
    EXPECT_FALSE(nodeAt(500, 0).valid());
    EXPECT_FALSE(nodeAt(700, 0).valid());
}

TEST_F(RoadTopology, JunctionDegrees) {
    EXPECT_EQ(city.roads.outgoing(nodeAt(100, 0)).size(), 3u); // T-junction
    EXPECT_EQ(city.roads.outgoing(nodeAt(300, 0)).size(), 4u); // crossing
    EXPECT_EQ(city.roads.outgoing(nodeAt(500, 100)).size(), 2u); // bridge end meets its ramp
    EXPECT_EQ(city.roads.outgoing(nodeAt(800, 100)).size(), 0u); // end of the one-way
    auto fromEnd = city.roads.outgoing(nodeAt(800, 0));
    ASSERT_EQ(fromEnd.size(), 2u); // back along W8, and up the one-way
}

TEST_F(RoadTopology, BridgesDoNotConnectToStreetsBelow) {
    // Breadth-first search from (0,0): W5+W10 and W7 are not reachable.
    std::vector<bool> seen(city.roads.nodeCount(), false);
    std::queue<NodeId> q;
    q.push(nodeAt(0, 0));
    seen[q.front().value] = true;
    size_t reached = 1;
    while (!q.empty()) {
        NodeId n = q.front();
        q.pop();
        for (EdgeId e : city.roads.outgoing(n)) {
            NodeId t = city.roads.to[e.value];
            if (!seen[t.value]) {
                seen[t.value] = true;
                ++reached;
                q.push(t);
            }
        }
    }
    EXPECT_EQ(reached, 11u);
    EXPECT_FALSE(seen[nodeAt(500, -100).value]);
    EXPECT_FALSE(seen[nodeAt(700, 100).value]);
    EXPECT_TRUE(seen[nodeAt(800, 100).value]);
}

TEST_F(RoadTopology, EdgeAttributes) {
    // W6 runs through the bridge's shape point as one 200 m edge each way.
    NodeId a = nodeAt(400, 0), b = nodeAt(600, 0);
    int found = 0;
    for (EdgeId e : city.roads.outgoing(a))
        if (city.roads.to[e.value] == b) {
            EXPECT_NEAR(city.roads.lengthM[e.value], 200.0, 1e-6);
            EXPECT_TRUE(city.roads.reverse[e.value].valid());
            EXPECT_NEAR(city.roads.speedMps[e.value] * 3.6, 50.0, 1e-4); // residential default
            ++found;
        }
    EXPECT_EQ(found, 1);
    for (EdgeId e : city.roads.outgoing(nodeAt(800, 0))) {
        if (city.roads.to[e.value] == nodeAt(800, 100)) {
            EXPECT_FALSE(city.roads.reverse[e.value].valid());
        }
    }
}

} // namespace
