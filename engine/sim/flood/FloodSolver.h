#pragma once
// 2D shallow-water solver on a regular grid (no CityModel, no YAML: tests drive it directly).
//
// Schemes:
//  - Hllc: finite volume, HLLC Riemann fluxes with Audusse hydrostatic reconstruction
//    (well-balanced, depth-positive), first order; or second order (MUSCL reconstruction of
//    h, η, u, v with the minmod limiter, Audusse's centred bed source, Heun's two stages);
//    Manning friction semi-implicit; CFL time step.
//  - Inertial: LISFLOOD-FP's local inertial scheme (Bates et al. 2010) with de Almeida et
//    al.'s (2012) θ-weighting of neighbouring discharges (damps the grid-scale oscillation of
//    the plain scheme), semi-implicit friction and a mass-conserving outflow limiter.
// Grid: cell (i, j) has centre (x0 + (i+0.5) dx, y0 + (j+0.5) dx); j grows northwards.
// State is float32 structure-of-arrays; depth updates use compensated (Kahan) summation so
// small rain increments on deep water are not lost to rounding. Sums for the mass balance are
// double and reduced in a fixed order, so results do not depend on the thread count.
// Memory: about 57 bytes per cell (61 with a per-cell rain factor; 60 more for second order;
// 24 more with SCS Curve Number losses; 4 per rain raster).
#include <cstdint>
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ct::flood {

enum class Scheme { Hllc, Inertial };
enum class BoundaryKind { Closed, Open, Level };

struct Boundary {
    BoundaryKind kind = BoundaryKind::Closed;
    double levelM = 0; // water surface elevation for Level
};

struct GridSpec {
    int nx = 0, ny = 0;
    double dx = 1;              // m, square cells
    double x0 = 0, y0 = 0;      // lower-left corner (local frame)
    double worldX = 0, worldY = 0; // local frame origin in the CRS, for messages only
};

// A source or sink at one cell: Q(t) in m³/s (negative = abstraction).
struct PointInflow {
    std::string name;
    int i = 0, j = 0;
    std::vector<double> timesS, flowM3s; // piecewise linear, constant beyond the ends
};

// SCS Curve Number runoff (USDA NRCS TR-55, NEH-630 ch. 10): the cumulative direct runoff of a
// cumulative rain P, all in metres, for the potential retention S = 25.4 mm (1000/CN − 10) and
// the initial abstraction Ia = iaRatio · S: Q = (P − Ia)² / (P − Ia + S) for P > Ia, else 0.
inline double scsRunoffM(double rainM, double retentionM, double iaRatio) {
    const double ia = iaRatio * retentionM;
    if (rainM <= ia) return 0.0;
    const double e = rainM - ia;
    return e * e / (e + retentionM);
}
// S in metres for a curve number CN in (0, 100].
inline double scsRetentionM(double cn) { return (25400.0 / cn - 254.0) * 1e-3; }

struct MassBalance {
    double initialM3 = 0, rainM3 = 0, inflowM3 = 0, lossM3 = 0, outflowM3 = 0, storageM3 = 0;
    double error() const { return storageM3 - (initialM3 + rainM3 + inflowM3 - lossM3 - outflowM3); }
    double relativeError() const;
};

struct SolverOptions {
    Scheme scheme = Scheme::Hllc;
    bool secondOrder = false;     // Hllc: MUSCL + Heun (about 2.5× the work per step)
    double cfl = 0.45;            // Hllc; Inertial uses alpha below
    double inertialAlpha = 0.7;   // dt = alpha dx / sqrt(g h_max)
    double inertialTheta = 0.7;   // de Almeida et al. (2012) weighting; 1 = Bates et al. (2010)
    double maxDtS = 10.0;
    double minDtS = 1e-6;         // below this the run stops with an explanation
    double dryDepthM = 1e-6;      // below: no velocity
    double inertialFlowDepthM = 1e-4; // Inertial: faces with less flow depth carry nothing
    double g = 9.81;
    Boundary west, east, south, north;
};

class FloodSolver {
public:
    FloodSolver(const GridSpec& grid, const SolverOptions& options);

    const GridSpec& grid() const { return spec; }
    size_t index(int i, int j) const { return static_cast<size_t>(j) * spec.nx + i; }

    // Static fields, set before the first step.
    std::vector<float>& bedM() { return z; }
    std::vector<float>& manningN() { return n; }
    std::vector<uint8_t>& blocked() { return wall; }   // 1 = obstacle (building), no water
    std::vector<float>& lossRateMps() { return loss; }  // drainage/infiltration, m/s
    // Green-Ampt infiltration (optional): saturated conductivity Ks (m/s) and suction head ×
    // moisture deficit ψΔθ (m) per cell; capacity f = Ks (1 + ψΔθ / F), F = infiltrated depth.
    void setGreenAmpt(std::vector<float> ksMps, std::vector<float> psiDeltaThetaM);
    const std::vector<float>& infiltratedM() const { return infiltrated; }
    // SCS Curve Number losses (optional): per cell the retention S (m) and the share of the cell
    // it applies to (the unsealed share); Ia = iaRatio · S. The cell's cumulative rain P is kept;
    // each step takes away what brings its cumulative loss to share · (P − Q(P)), from the water
    // on the cell, so with rain alone a cell holds exactly share · Q(P) + (1 − share) · P.
    void setScsCurveNumber(std::vector<float> retentionM, std::vector<float> share, double iaRatio);
    std::vector<float>& scsShare() { return scsShareV; }   // changed by unseal edits during a run
    const std::vector<double>& scsLossM() const { return scsLost; }
    const std::vector<double>& cumulativeRainM() const { return scsRain; }
    // Initial state (depth and unit discharges).
    std::vector<float>& depthM() { return h; }
    std::vector<float>& dischargeX() { return hu; }     // m²/s
    std::vector<float>& dischargeY() { return hv; }
    const std::vector<float>& depthM() const { return h; }

    // Rain rate in m/s as a function of time since start (uniform over the grid), constant
    // between the given breakpoints: no step crosses one, so the rain volume is exact.
    void setRain(std::function<double(double)> rainMps, std::vector<double> breakpointsS = {}) {
        rain = std::move(rainMps);
        rainBreaks = std::move(breakpointsS);
        std::sort(rainBreaks.begin(), rainBreaks.end());
    }
    // Rain as a per-cell field multiplied by rain(t) (for rasters and edits); empty = 1.
    std::vector<float>& rainFactor() { return rainScale; }
    // Spatially varying rain over time (radar): field k (m/s per cell) holds from timesS[k] until
    // timesS[k+1], the last one from its time on; before the first time no rain. The rain then is
    // rain(t) × field × rainFactor, so rain(t) is a dimensionless multiplier (1, a factor, 0 after
    // the end). The times become rain breakpoints. 4 bytes per cell per field, all held — shared
    // with the caller, so the baseline and variant runs of a scenario read one copy.
    using RainFields = std::shared_ptr<const std::vector<std::vector<float>>>;
    void setRainFields(std::vector<double> timesS, RainFields fieldsMps);
    void addInflow(PointInflow inflow);

    // Checks the fields and fixes the initial state (called by the first step if not before).
    void initialize();

    // Advances by one adaptive step, no further than `untilS`; returns the step taken.
    double step(double untilS);
    // Steps until `untilS`; `onStep` is called after each step (may be empty).
    void advanceTo(double untilS, const std::function<void(const FloodSolver&)>& onStep = {});

    double time() const { return t; }
    double lastDt() const { return dtLast; }
    long long steps() const { return stepCount; }
    size_t wetCells(double thresholdM = 1e-3) const;
    MassBalance massBalance() const;
    double velocity(size_t cell) const; // |u| in m/s (0 when dry)

    // Maxima and arrival since start (updated every step).
    const std::vector<float>& maxDepth() const { return hMax; }
    const std::vector<float>& maxSpeed() const { return speedMax; }
    const std::vector<float>& maxHazard() const { return hazardMax; } // DEFRA HR
    const std::vector<float>& arrivalTimeS() const { return arrival; } // NaN: never ≥ 0.1 m

private:
    double computeDt() const;
    void stepHllc(double dt);
    void stepHllcSecondOrder(double dt);
    // One forward-Euler stage of the second-order scheme from (sh, shu, shv) into (dh, dhu, dhv);
    // returns the volume that left through the domain edges (per dt·dx).
    double muscleStage(const std::vector<float>& sh, const std::vector<float>& shu, const std::vector<float>& shv,
                       std::vector<float>& dh, std::vector<float>& dhu, std::vector<float>& dhv, double dt);
    void friction(std::vector<float>& d, std::vector<float>& qx, std::vector<float>& qy, double dt);
    void stepInertial(double dt);
    void applySources(double dt);
    void updateMaxima();

    GridSpec spec;
    SolverOptions opt;
    std::vector<float> z, n, loss, h, hu, hv, rainScale;
    std::vector<uint8_t> wall;
    std::vector<float> gaKs, gaPsiDt, infiltrated; // Green-Ampt, empty when not used
    std::vector<float> scsS, scsShareV;            // SCS Curve Number, empty when not used
    std::vector<double> scsRain, scsLost;          //   cumulative rain and loss per cell (m)
    double scsIa = 0.2;
    std::vector<float> qx, qy;        // inertial face fluxes (nx+1)×ny and nx×(ny+1)
    std::vector<float> qyOld;         // inertial: last step's qy, for the θ-weighting
    std::vector<float> hComp;              // Kahan compensation of h: depth is h − hComp
    std::vector<float> hNew, huNew, hvNew; // HLLC: the state being written
    std::vector<float> h1, hu1, hv1;       // second order: Heun's first stage
    struct Reconstruction {                // second order, per cell: values and half-slopes
        float h, eta, u, v;                // cell values (velocities 0 when dry)
        float sx[4], sy[4];                // limited half-slopes of h, η, u, v along x and y
    };
    std::vector<Reconstruction> rec;
    std::vector<float> outflowFactor;      // Inertial: outflow limiter per cell
    std::vector<float> ones;               // a row of 1s (limiter outside the domain, absent rain factors)
    std::vector<double> rowSum, rowRain;   // per-row partial sums (fixed-order reduction)
    std::vector<float> hMax, speedMax, hazardMax, arrival;
    std::function<double(double)> rain;
    std::vector<double> rainBreaks;
    std::vector<double> rainFieldTimes;
    RainFields rainFields;
    std::vector<PointInflow> inflows;
    double t = 0, dtLast = 0;
    long long stepCount = 0;
    bool prepared = false;
    MassBalance balance;
};

} // namespace ct::flood
