#pragma once
// The flood module: builds the solver grid from the city (terrain, buildings, roads, land
// use), reads its YAML block and edits, runs, and writes maps, gauges, affected buildings,
// the mass balance and KPIs. Configuration keys: docs/flood.md.
#include "sim/Module.h"
#include "sim/flood/FloodSolver.h"

#include <memory>

namespace ct::flood {

// What the viewer draws: the current depth grid (row 0 = south) and where it lies.
struct FloodSnapshot : Snapshot {
    GridSpec grid;
    std::vector<float> depthM; // solver order: row 0 south
    std::vector<SnapshotGrid> grids() const override;
};

void registerFloodModule();

} // namespace ct::flood
