#pragma once
// The energy module: a year hour by hour for every building — heat demand (ISO 13790 5R1C
// with a German typology), rooftop PV with shading, household load, heat pumps and EV
// charging — aggregated per district to load curves, with the what-ifs retrofit, heat_pumps,
// ev, pv and district_heating. Configuration keys and assumptions: docs/energy.md.
#include "sim/Module.h"

namespace ct::energy {

void registerEnergyModule();

} // namespace ct::energy
