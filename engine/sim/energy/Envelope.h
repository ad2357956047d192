#pragma once
// The thermal envelope of every building from its footprint: conditioned floor area, exposed
// wall area per orientation with walls shared with neighbours taken off, roof and ground
// floor, and the step from envelope + archetype to the 5R1C zone (HeatDemand.h).
//
// Rules (docs/validation/energy.md, "Typology"):
// - storeys = levels when known, else round(height / storeyHeight), at least 1;
// - walls are storeys × storeyHeight high (the heated volume; a pitched roof above is roof);
// - conditioned floor area Af = 0.32 m⁻¹ · Ve with Ve = footprint · storeys · storeyHeight
//   (GEG / EnEV "Gebäudenutzfläche" AN for storey heights of 2.5–3 m; otherwise
//   (1/h − 0.04 m⁻¹) · Ve), i.e. 0.96 × gross floor area at 3 m;
// - each footprint edge faces the orientation of its outward normal: N [315°, 45°),
//   E [45°, 135°), S [135°, 225°), W [225°, 315°) (azimuth from north, clockwise);
// - an edge lying on an edge of another footprint (another building or another part of the
//   same one: antiparallel, both ends within `sharedToleranceM` of the other's line) is shared
//   over the overlap, up to the lower of the two wall heights; shared walls lose no heat;
// - roof = ground floor = footprint area (holes taken off).
#include "city/CityModel.h"

#include <array>
#include <cstddef>
#include <vector>

namespace ct::energy {

struct Archetype;
struct ZoneParams;

enum Orientation : int { North = 0, East = 1, South = 2, West = 3 };
// Orientation bin of an outward normal with azimuth `azimuthDeg` (from north, clockwise).
Orientation orientationOf(double azimuthDeg);

struct Envelope {
    double footprintM2 = 0;
    double storeys = 0;                 // used for the floor area and wall height
    double wallHeightM = 0;
    double floorAreaM2 = 0;             // Af, conditioned
    double roofM2 = 0, groundM2 = 0;
    double sharedWallM2 = 0;            // wall area against neighbouring footprints (no loss)
    double perimeterM = 0;              // all footprint edges, shared or not
    std::array<double, 4> wallM2{};     // exposed gross wall per orientation (N, E, S, W), windows included
    std::array<double, 4> windowM2{};   // window part of wallM2 (withWindows)
    double exposedWallM2() const { return wallM2[0] + wallM2[1] + wallM2[2] + wallM2[3]; }
    double windowTotalM2() const { return windowM2[0] + windowM2[1] + windowM2[2] + windowM2[3]; }
    // Share of the wall area (exposed + shared) that is shared, 0…1.
    double sharedShare() const {
        double all = exposedWallM2() + sharedWallM2;
        return all > 0 ? sharedWallM2 / all : 0.0;
    }
};

// What the envelope step had to assume, for the import report.
struct EnvelopeStats {
    size_t storeysFromLevels = 0, storeysFromHeight = 0, storeysDefault = 0; // default: 1 storey
    size_t noFootprint = 0;     // buildings without a usable footprint (all-zero envelope)
    size_t sharedEdges = 0;     // edge pairs found to touch
};

// One envelope per building (b.size()), in building order. Uses a uniform grid over the edges,
// so the cost is linear in the number of edges; runs in parallel and is deterministic.
std::vector<Envelope> buildingEnvelopes(const Buildings& b, double storeyHeightM = 3.0,
                                        double sharedToleranceM = 0.3, EnvelopeStats* stats = nullptr);

// The envelope with windowM2 = share × wallM2 per orientation.
Envelope withWindows(Envelope e, double windowShare);

// Effective solar collecting area of the windows per orientation (ISO 13790 11.3.2):
// A_sol = A_w · g · F_w (non-perpendicular incidence) · (1 − F_F) (frame) · F_sh (shading).
// Defaults are TABULA's national boundary conditions for Germany: F_w 0.9, F_F 0.3, F_sh 0.6.
struct ApertureFactors {
    double nonPerpendicular = 0.9, frameShare = 0.3, shading = 0.6;
};
std::array<double, 4> solarApertureM2(const Envelope& e, double gValue, const ApertureFactors& f = {});

// The 5R1C zone of a building (documented sums):
//   windows  A_w = share · wall (per orientation),        Htr,w  = U_w · A_w
//   opaque   Htr,op = U_wall · (wall − A_w) + U_roof · roof + b_floor · U_floor · ground
//                     + ΔU_tb · (wall + roof + ground)      (b_floor: DIN V 4108-6 / ISO 13370
//                                                           simplification, 0.5 in the table)
//   air      Hve = 1200/3600 · n · (2.5 m · Af) · (1 − η)   (TABULA reference room height)
//   At = 4.5 Af, Am = Table 12 factor(κ) · Af, Cm = κ · Af; set-points from the archetype;
//   unlimited heating, cooling only where the archetype is cooled. For slivers whose Htr,op
//   exceeds 0.9 · 9.1 · Am, Am is raised to Htr,op / (0.9 · 9.1) and At to at least
//   Am + Htr,w / 9.1, so that the zone is valid (no-ops for ordinary footprints).
ZoneParams zoneParams(const Envelope& e, const Archetype& a);

} // namespace ct::energy
