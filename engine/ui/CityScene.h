#pragma once
// What the viewer and `citytwin render` both need: a scenario's city imported and meshed,
// where it lies on Earth (for the sun), named views, and overlays made from city attributes
// or result rasters.
#include "city/CityMesh.h"
#include "render/Camera.h"
#include "render/Overlays.h"
#include "sim/Scenario.h"

#include <filesystem>
#include <optional>
#include <string>

namespace ct::ui {

struct SceneOptions {
    std::filesystem::path cacheDir; // import cache; empty = none
    bool progress = true;
    CityMeshOptions mesh;
};

struct CityScene {
    Scenario scenario;
    CityModel city;
    CityMesh mesh;
    double latDeg = 0, lonDeg = 0; // of the city centre
    double meshSeconds = 0, importSeconds = 0;
};

CityScene loadScene(const std::filesystem::path& scenarioYaml, const SceneOptions& options);
// The same for a scenario already read (and maybe changed in memory: sweeps, Python).
CityScene sceneFromScenario(Scenario scenario, const SceneOptions& options);

// The whole city from the south-south-west.
render::Camera overviewCamera(const CityScene& scene, double aspect);
// "overview", or a building name or street name (case-insensitive, part of it is enough):
// a camera 250 m away looking at it. nullopt if nothing matches.
std::optional<render::Camera> namedCamera(const CityScene& scene, const std::string& name, double aspect);
// The median terrain height (where most of a view's ground lies, e.g. for a scale bar).
double typicalGroundZ(const CityModel& city);

// A camera looking at a point from `distance` metres, from the south-south-west.
render::Camera lookAt(const Vec3& target, double distance, double yawDeg = 20, double pitchDeg = -35);

// Building colours by an attribute: height, levels, year, use, area. InputError lists the
// choices for an unknown name.
render::ValueOverlay buildingValues(const CityModel& city, const std::string& attribute);
// Per-building results of a run (DIR/energy/buildings.gpkg, or DIR/baseline/… and
// DIR/variant/… for a scenario with edits), matched to the city's buildings by id.
struct BuildingResults {
    std::vector<std::string> fields;                 // numeric fields, file order
    std::vector<std::vector<float>> values;          // [field][building], NaN: no row
};
// Empty if the run has no energy results. InputError for a file GDAL cannot read.
BuildingResults readBuildingResults(const std::filesystem::path& resultsDir, const CityModel& city, bool variant = false);
// Colours for one result field: known fields get a fixed scale (heat demand kWh/m², PV
// kWh/kWp …), others their 2nd–98th percentile. InputError listing the fields if unknown.
render::ValueOverlay buildingResultValues(const BuildingResults& results, const std::string& field);

// The town's hourly load (the "total" rows of DIR/[baseline/]energy/load_profile.csv), kW.
struct LoadCurves {
    std::vector<float> base, heatPump, ev, pv, net;
    bool empty() const { return net.empty(); }
};
LoadCurves readLoadCurves(const std::filesystem::path& resultsDir, bool variant = false);

// Live sensors from a feed store (DIR/feeds/sensors.sqlite) as markers at their places:
// green, amber above the warning and red above the alarm threshold of their latest value;
// grey when the latest value is older than `silentAfterS` before the newest of all (gone
// silent). Labels: name and latest value. Sensors without a place are left out.
std::vector<render::Marker> sensorMarkers(const std::filesystem::path& storeFile, const CityModel& city, double silentAfterS = 3600);
// The same markers, each with the store id of its sensor (for picking one on screen).
struct SensorMarker {
    std::string sensorId;
    render::Marker marker;
};
std::vector<SensorMarker> sensorMarkersWithIds(const std::filesystem::path& storeFile, const CityModel& city,
                                               double silentAfterS = 3600);

// Road colours by speed limit or lanes: speed, lanes. (Traffic: trafficRoadValues.)
render::ValueOverlay roadValues(const CityModel& city, const std::string& attribute);

// Traffic of a mobility run, per edge and interval, as in its edges.csv (docs/mobility.md,
// "Outputs"). Empty fields (nobody drove) read as NaN.
struct EdgeSeries {
    std::string id, name;
    uint32_t roadEdge = UINT32_MAX; // the city road edge (city networks: the id is its index); none for SUMO ids
    std::vector<double> beginS, endS;
    std::vector<float> entered, flowVehH, meanSpeedKmh, densityVehKm, travelTimeS, speedRatio;
    // The interval with begin ≤ t < end (the last one also at its end); -1 outside the run.
    int intervalAt(double t) const;
};
struct TrafficResults {
    std::vector<EdgeSeries> edges;  // in file order
    std::vector<int32_t> byRoadEdge; // per city road edge: index into edges, -1 without rows
    bool empty() const { return edges.empty(); }
    const EdgeSeries* forRoadEdge(size_t e) const {
        return e < byRoadEdge.size() && byRoadEdge[e] >= 0 ? &edges[size_t(byRoadEdge[e])] : nullptr;
    }
};
// One edges.csv; columns found by their header names. Ids that are whole numbers below
// `roadEdgeCount` name city road edges. InputError for a missing file or column.
TrafficResults readEdgesCsv(const std::filesystem::path& file, size_t roadEdgeCount);
// DIR/mobility/edges.csv, else DIR/baseline/mobility/edges.csv (DIR/variant/mobility/ for the
// variant). Empty if the run has none.
TrafficResults readTrafficResults(const std::filesystem::path& resultsDir, const CityModel& city, bool variant = false);
// Mean speed over the speed limit: 1 (free flow) green through yellow to red at 0.3 and below.
// Roads and vehicles share it.
render::ColorScale trafficScale();
// Per road (the mesh draws a two-way street as one ribbon: the slower direction's ratio) from
// a ratio per city road edge; NaN (no traffic) leaves the road in its own grey.
render::ValueOverlay roadRatioValues(const std::vector<float>& ratioPerRoadEdge, const RoadNetwork& roads);
// The speed ratios of the interval containing `simTimeS`, per road.
render::ValueOverlay trafficRoadValues(const TrafficResults& results, const CityModel& city, double simTimeS);
// Middle of the interval with the most vehicles entering edges (the default time of a still).
double busiestTrafficTime(const TrafficResults& results);

// Vehicle positions of a run for replay: DIR/[baseline/|variant/]mobility/fcd.csv (written
// only when the scenario asks for `fcd:`), modes from trips.csv beside it.
struct VehicleTracks {
    struct Sample {
        uint32_t vehicle;
        float x, y;           // local frame
        float speedMps;
        float headingRad;     // towards the vehicle's next sample (from its previous one at its last)
    };
    std::vector<double> times;         // sample times, ascending
    std::vector<uint32_t> frameStart;  // samples at times[k]: samples[frameStart[k], frameStart[k+1]), by vehicle
    std::vector<Sample> samples;
    std::vector<std::string> ids;      // vehicle index → trip id
    std::vector<uint8_t> bicycle;      // vehicle index → 1 for bicycle trips (trips.csv mode)
    bool empty() const { return times.empty(); }
    // Vehicles at time t: a vehicle sampled at both neighbouring sample times is placed
    // linearly between them; one sampled at only one of them (departing or arriving) is shown
    // while t is nearer that sample. Nothing before the first or after the last sample.
    std::vector<Sample> at(double t) const;
};
// `tripsCsv` may be empty or missing: every vehicle is then a car.
VehicleTracks readFcdCsv(const std::filesystem::path& fcdCsv, const CityModel& city, const std::filesystem::path& tripsCsv = {});
VehicleTracks readVehicleTracks(const std::filesystem::path& resultsDir, const CityModel& city, bool variant = false);

// How a result raster named `stem` (max_depth, max_velocity, max_hazard, arrival_time in
// minutes, anything else) is coloured: the colour scale from its values — several grids share
// one scale, so baseline and variant read alike — and the value at or below which nothing is
// drawn (dry).
struct ResultStyle {
    render::ColorScale scale;
    float hideAtOrBelow;
};
ResultStyle resultStyle(const std::string& stem, const std::vector<const std::vector<float>*>& grids);

// A result raster (e.g. flood/max_depth.tif) as a grid draped on the terrain, reprojected into
// the city's frame; colour map and range chosen from its name (depth, velocity, hazard,
// arrival), else from its 2nd–98th percentiles.
render::GridOverlay gridFromRaster(const std::filesystem::path& file, const CityModel& city);

// Flood results of a run for replay: depth snapshots (depth_<seconds>s.tif) in time order,
// from DIR/flood or DIR/baseline/flood (DIR/variant/flood for the variant). Empty if none.
std::vector<std::pair<double, std::filesystem::path>> findDepthSnapshots(const std::filesystem::path& resultsDir,
                                                                         bool variant = false);

// Depth snapshots loaded for replay, all on one colour scale.
struct GridSeries {
    std::vector<std::pair<double, render::GridOverlay>> frames; // by time (s after the start)
    bool empty() const { return frames.empty(); }
    // The grid at time t: linear between the neighbouring snapshots (water rises smoothly),
    // the first before it, the last after it.
    render::GridOverlay at(double t) const;
};
GridSeries loadGridSeries(const std::vector<std::pair<double, std::filesystem::path>>& files, const CityModel& city);

} // namespace ct::ui
