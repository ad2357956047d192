#pragma once
// The mobility module: microscopic traffic on the city's road graph (or a SUMO network) with
// demand generated from the city or read from SUMO/CSV files, optional dynamic assignment,
// and the what-ifs close_road, set_speed, set_lanes, bike_lane, signal_timing, add_road and
// demand. Configuration keys, outputs and edits: docs/mobility.md.
#include "sim/Module.h"
#include "sim/mobility/Simulation.h"

#include <memory>
#include <vector>

namespace ct::mobility {

// Registers the module ("mobility") and its baseline/variant comparison.
void registerMobilityModule();

// What the viewer draws: the vehicles now, and per edge the current mean speed over the
// speed limit (NaN where nobody drove in the current interval).
struct MobilitySnapshot : Snapshot {
    std::vector<VehicleState> vehicles; // positions in the network's frame (city: local)
    std::vector<float> edgeSpeedRatio;
};

} // namespace ct::mobility
