#pragma once
// A synthetic city for the benchmarks (bench_render, bench_energy): rolling terrain, a street
// grid and blocks of buildings (rectangles and L-shapes, 2–12 storeys), on a square city sized
// so the density looks urban (~ 1 building per 20 × 20 m). Deterministic (fixed seed). Every
// building is residential with an unknown construction year (0); callers that need a mix set
// `use` and `yearBuilt` themselves.
#include "city/CityModel.h"

namespace ct::bench {

CityModel generateCity(int buildings);

} // namespace ct::bench
