#pragma once
// Who travels when and where: vehicle types (SUMO's defaults and attribute names) and trips,
// each either with a fixed route (edge list) or only origin and destination edges for the
// router. Filled from SUMO route files (SumoXml.h), from CSV (readTripsCsv) or generated
// from the city (CityDemand.h).
#include "sim/mobility/Network.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ct::mobility {

enum class CarFollowing : uint8_t { Krauss, IDM };
enum class Mode : uint8_t { Car, Bicycle, Walk, Bus };
const char* toString(Mode m);
const char* toString(CarFollowing m);

struct VehicleType {
    std::string id = "DEFAULT_VEHTYPE";
    VClass vclass = VClass::Passenger;
    CarFollowing model = CarFollowing::Krauss;
    float lengthM = 5.0f, minGapM = 2.5f;
    float accel = 2.6f, decel = 4.5f, emergencyDecel = 9.0f; // m/s²
    float sigma = 0.5f;      // Krauss driver imperfection 0..1
    float tau = 1.0f;        // desired time headway, s
    float maxSpeedMps = 55.56f;
    float speedFactor = 1.0f, speedDev = 0.1f; // desired speed = lane limit × N(factor, dev) clipped to [0.2, 2]
    float idmDelta = 4.0f;   // IDM acceleration exponent
    // SUMO's defaults for a class (passenger, truck, bus, bicycle, pedestrian).
    static VehicleType defaults(VClass c);
};

struct Trip {
    std::string id;
    double departS = 0;          // seconds after the scenario start
    uint32_t type = 0;           // index into Demand::types
    Mode mode = Mode::Car;
    std::vector<uint32_t> route; // edges; empty = route from fromEdge to toEdge
    uint32_t fromEdge = kNone, toEdge = kNone;
    int departLane = -1;         // -1 = best free lane allowing the class
    float departSpeed = 0;       // m/s; < 0 = as fast as safely possible ("max")
    float departPos = -1;        // m from the edge start; < 0 = vehicle length (SUMO "base")
    float arrivalPos = -1;       // m from the edge start; < 0 = end of the edge (SUMO "max")
};

// What a reader skipped and why (first few reasons kept for the message).
struct SkipReport {
    size_t count = 0;
    std::vector<std::string> reasons; // at most 20, "file:line: what"
    void add(std::string reason);
};

struct Demand {
    std::vector<VehicleType> types{VehicleType{}}; // types[0] = SUMO's DEFAULT_VEHTYPE
    std::vector<Trip> trips;                       // sorted by departS, then id (sortTrips)
    SkipReport skipped;
    std::optional<uint32_t> findType(std::string_view id) const;
    void sortTrips();
};

// CSV trips, one per line, header required, ';' or ',' separated:
//   id,depart,from_edge,to_edge[,mode]          (edges by id), or
//   id,depart,from_x,from_y,to_x,to_y[,mode]    (coordinates: nearest edge allowing the mode)
// depart in seconds or HH:MM[:SS]; mode car|bicycle|walk|bus (default car). Bad rows are
// skipped and counted in Demand::skipped. Throws InputError for a missing file or header.
Demand readTripsCsv(const std::filesystem::path& file, const Network& net);

} // namespace ct::mobility
