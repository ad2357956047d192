#include "sim/mobility/CityDemand.h"

#include "core/Error.h"
#include "sim/mobility/CityDemandDetail.h"
#include "sim/mobility/EdgeIndex.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <random>
#include <span>
#include <unordered_map>

namespace ct::mobility {

const char* toString(TripPurpose p) {
    switch (p) {
    case TripPurpose::Work: return "work";
    case TripPurpose::Education: return "education";
    case TripPurpose::Shopping: return "shopping";
    case TripPurpose::Leisure: return "leisure";
    case TripPurpose::Other: return "other";
    }
    return "?";
}

namespace {

// Trip purposes, rounded and merged from "Mobilität in Deutschland 2017" (infas/BMVI):
// work incl. business, education, shopping, leisure, errands/escort/other (docs/mobility.md).
constexpr std::array<double, kTripPurposeCount> kPurposeShare = {0.20, 0.08, 0.30, 0.28, 0.14};
// Hours spent at the destination before the way back (each drawn ±25 %).
constexpr std::array<double, kTripPurposeCount> kStayHours = {8.5, 6.0, 1.0, 2.0, 1.0};
// Outbound departures by hour of day (relative weights, hour 0 = 00:00-01:00): morning peak
// 7-8 h for work and education, afternoon peaks for shopping (16 h) and leisure (17 h),
// errands in the morning (8 h).
constexpr std::array<std::array<double, 24>, kTripPurposeCount> kDepartureProfile = {{
    {0.2, 0.1, 0.1, 0.2, 0.8, 3.5, 11, 19, 13, 7, 5, 4, 4.5, 5, 5, 4.5, 4, 3, 2.5, 2, 1.5, 1.5, 1.5, 0.6},
    {0, 0, 0, 0, 0, 0.2, 2, 44, 14, 7, 5, 4, 4, 5, 4, 3, 2, 1.5, 1.5, 1, 0.8, 0.5, 0, 0},
    {0, 0, 0, 0, 0, 0.2, 0.8, 2.5, 5, 7, 8, 8, 7, 6.5, 7, 9, 12, 9.5, 7, 4, 2, 1, 0.5, 0.2},
    {0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 2, 3.5, 4.5, 5.5, 6, 6, 6, 6.5, 7.5, 8.5, 11, 8.5, 7.5, 6, 4, 2.5, 1.2},
    {0, 0, 0, 0, 0.1, 0.5, 2.5, 8, 11, 8.5, 8, 7.5, 7, 6.5, 7, 7.5, 7.5, 6.5, 4.5, 3, 1.5, 0.8, 0.4, 0.2},
}};

// Mode choice: multinomial logit on the beeline distance d (km),
// U = asc + perKm × d + perKm2 × d², car the reference (U = 0). Walking is likeliest below
// 1 km, cycling from 1 to 5 km, the car beyond; cycling fades out by 20 km (docs/mobility.md).
struct Utility {
    Mode mode;
    double asc, perKm, perKm2;
};
constexpr std::array<Utility, 4> kModeUtility = {{
    {Mode::Walk, 1.7, -1.5, 0.0},
    {Mode::Bicycle, 0.2, 0.0, -0.008},
    {Mode::Car, 0.0, 0.0, 0.0},
    {Mode::Bus, -1.2, 0.0, 0.0}, // only with allowBus
}};

constexpr double kMaxAccessM = 1000; // building to its edge
constexpr double kStoreyM = 3.0;
constexpr double kDayS = 86400;

// Draws from a 64-bit Mersenne Twister with our own mapping to doubles, so a seed gives the
// same demand with every standard library.
class Random {
public:
    explicit Random(uint64_t seed) : gen(seed) {}
    double uniform() { return double(gen() >> 11) * 0x1.0p-53; } // [0, 1)
    // Index drawn with probability proportional to its weight (`cumulative` = running sums).
    size_t pick(const std::vector<double>& cumulative) {
        double u = uniform() * cumulative.back();
        auto k = size_t(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
        return std::min(k, cumulative.size() - 1);
    }

private:
    std::mt19937_64 gen;
};

std::vector<double> runningSums(std::span<const double> weights) {
    std::vector<double> sums;
    double s = 0;
    for (double w : weights) sums.push_back(s += w);
    return sums;
}

double floorArea(const Buildings& b, size_t i) {
    double footprint = b.footprintArea(i);
    if (!(footprint > 0) || !std::isfinite(footprint)) return 0;
    double levels = i < b.levels.size() && b.levels[i] > 0 ? b.levels[i] : 0;
    if (levels == 0 && i < b.heightM.size() && b.heightM[i] > 0) levels = std::round(b.heightM[i] / kStoreyM);
    return footprint * std::max(1.0, levels);
}

bool servesPurpose(BuildingUse use, TripPurpose p) {
    using U = BuildingUse;
    switch (p) {
    case TripPurpose::Work: return use == U::Commercial || use == U::Industrial || use == U::Public || use == U::Mixed;
    case TripPurpose::Education: return use == U::Public; // schools are not told apart from other public buildings
    case TripPurpose::Shopping: return use == U::Commercial || use == U::Mixed;
    case TripPurpose::Leisure: return use == U::Public || use == U::Commercial || use == U::Religious;
    case TripPurpose::Other: return use != U::Residential && use != U::Garage;
    }
    return false;
}

// Destination buildings of one purpose, weighted by floor area.
struct Destinations {
    std::vector<uint32_t> building;
    std::vector<double> cumulativeArea;
    bool empty() const { return building.empty(); }
};

Destinations destinationsFor(const Buildings& b, const std::vector<double>& area,
                             const std::function<bool(BuildingUse)>& accepts) {
    Destinations d;
    std::vector<double> weights;
    for (uint32_t i = 0; i < b.size(); ++i)
        if (area[i] > 0 && accepts(b.use[i])) {
            d.building.push_back(i);
            weights.push_back(area[i]);
        }
    d.cumulativeArea = runningSums(weights);
    return d;
}

class Generator {
public:
    Generator(const CityModel& c, const Network& n, const CityDemandOptions& o, uint64_t seed)
        : city(c), net(n), opt(o), rng(seed), index(n) {}

    Demand run(std::vector<CityTripDetail>* details) {
        checkOptions();
        const Buildings& b = city.buildings;
        area.resize(b.size());
        for (size_t i = 0; i < b.size(); ++i) area[i] = floorArea(b, i);
        prepareDestinations();
        addTypes();
        purposeSums = runningSums(kPurposeShare);
        for (auto& profile : kDepartureProfile) hourSums.push_back(runningSums(profile));
        edgeCache.assign(b.size(), {kUnknown, kUnknown, kUnknown, kUnknown});
        for (uint32_t i = 0; i < b.size(); ++i) addHousehold(i);
        return finish(details);
    }

private:
    static constexpr uint32_t kUnknown = kNone - 1;
    const CityModel& city;
    const Network& net;
    const CityDemandOptions& opt;
    Random rng;
    EdgeIndex index;
    Demand demand;
    std::vector<double> area;
    std::array<Destinations, kTripPurposeCount> destinations;
    std::vector<double> purposeSums;
    std::vector<std::vector<double>> hourSums;
    std::array<uint32_t, 4> typeOfMode{};
    std::vector<std::array<uint32_t, 4>> edgeCache; // building × mode -> nearest edge
    std::vector<CityTripDetail> detail;             // parallel to demand.trips before sorting

    void checkOptions() const {
        if (!(opt.floorAreaPerResidentM2 > 0) || !(opt.tripsPerResidentPerDay >= 0) || !(opt.scale >= 0) ||
            !std::isfinite(opt.scale) || !std::isfinite(opt.tripsPerResidentPerDay))
            throw InputError("invalid demand options (floor area per resident " +
                                 std::to_string(opt.floorAreaPerResidentM2) + " m², trips per resident " +
                                 std::to_string(opt.tripsPerResidentPerDay) + ", scale " + std::to_string(opt.scale) +
                                 ")",
                             "mobility demand options",
                             "use a positive floor area per resident and non-negative rates and scale");
        if (city.buildings.use.size() != city.buildings.size() || city.buildings.partStart.size() != city.buildings.size() + 1)
            throw InputError("building arrays have different lengths", "city model", "re-import the city");
    }

    void prepareDestinations() {
        const Buildings& b = city.buildings;
        for (int p = 0; p < kTripPurposeCount; ++p)
            destinations[p] = destinationsFor(b, area, [p](BuildingUse u) { return servesPurpose(u, TripPurpose(p)); });
        auto& leisure = destinations[int(TripPurpose::Leisure)];
        if (leisure.empty()) // visiting friends: any home will do
            leisure = destinationsFor(b, area, [](BuildingUse u) { return u == BuildingUse::Residential; });
        // A purpose nobody in town serves goes to 'other' places, else anywhere.
        for (auto& d : destinations)
            if (d.empty()) d = destinations[int(TripPurpose::Other)];
        for (auto& d : destinations)
            if (d.empty()) d = destinationsFor(b, area, [](BuildingUse) { return true; });
    }

    void addTypes() {
        auto add = [&](VClass c, const char* id) {
            VehicleType t = VehicleType::defaults(c);
            t.id = id;
            demand.types.push_back(t);
            return uint32_t(demand.types.size() - 1);
        };
        typeOfMode[size_t(Mode::Car)] = add(VClass::Passenger, "car");
        typeOfMode[size_t(Mode::Bicycle)] = add(VClass::Bicycle, "bicycle");
        typeOfMode[size_t(Mode::Walk)] = add(VClass::Pedestrian, "pedestrian");
        if (opt.allowBus) typeOfMode[size_t(Mode::Bus)] = add(VClass::Bus, "bus");
    }

    double residents(uint32_t i) const {
        BuildingUse use = city.buildings.use[i];
        double share = use == BuildingUse::Residential ? 1.0 : use == BuildingUse::Mixed ? 0.5 : 0.0;
        return share * area[i] / opt.floorAreaPerResidentM2;
    }

    uint32_t edgeFor(uint32_t building, Mode mode) {
        uint32_t& e = edgeCache[building][size_t(mode)];
        if (e == kUnknown)
            e = index.nearest(city.buildings.centroid(building), classesForMode(mode), kMaxAccessM).value_or(kNone);
        return e;
    }

    Mode chooseMode(double km) {
        std::vector<double> weights;
        for (const Utility& u : kModeUtility)
            weights.push_back(u.mode == Mode::Bus && !opt.allowBus ? 0.0 : std::exp(u.asc + u.perKm * km + u.perKm2 * km * km));
        return kModeUtility[rng.pick(runningSums(weights))].mode;
    }

    // Every resident's daily trips as tours home -> destination -> home: half the trips go out.
    void addHousehold(uint32_t home) {
        double tours = residents(home) * opt.tripsPerResidentPerDay * opt.scale / 2;
        if (!(tours > 0)) return;
        // Round at random so the expected count is exact.
        double whole = std::floor(tours);
        int n = int(whole) + (rng.uniform() < tours - whole ? 1 : 0);
        for (int k = 0; k < n; ++k) addTour(home, k);
    }

    void addTour(uint32_t home, int k) {
        const Buildings& b = city.buildings;
        auto purpose = TripPurpose(rng.pick(purposeSums));
        const Destinations& dest = destinations[int(purpose)];
        uint32_t target = dest.building[rng.pick(dest.cumulativeArea)];
        for (int attempt = 0; attempt < 4 && target == home && dest.building.size() > 1; ++attempt)
            target = dest.building[rng.pick(dest.cumulativeArea)];
        double outS = (double(rng.pick(hourSums[int(purpose)])) + rng.uniform()) * 3600;
        double backS = outS + kStayHours[int(purpose)] * 3600 * (0.75 + 0.5 * rng.uniform());
        double km = (b.centroid(home) - b.centroid(target)).norm() / 1000;
        Mode mode = chooseMode(km);
        uint32_t from = edgeFor(home, mode), to = edgeFor(target, mode);
        if (from == kNone || to == kNone) {
            demand.skipped.add("building " + b.sourceId[from == kNone ? home : target] + ": no edge for " +
                               toString(mode) + " within " + std::to_string(int(kMaxAccessM)) + " m");
            return;
        }
        std::string prefix = "h" + std::to_string(home) + "_";
        addTrip(prefix + std::to_string(2 * k), outS, mode, from, to, {purpose, true, km});
        addTrip(prefix + std::to_string(2 * k + 1), backS, mode, to, from, {purpose, false, km});
    }

    // The generated day repeats: a way back after midnight is made in the small hours, and a
    // scenario starting at `startOfDayS` sees each trip once, at its time of day on its clock.
    void addTrip(std::string id, double timeOfDayS, Mode mode, uint32_t from, uint32_t to, CityTripDetail d) {
        double departS = std::fmod(timeOfDayS - opt.startOfDayS, kDayS);
        if (departS < 0) departS += kDayS;
        if (departS < opt.fromS || departS >= opt.toS) return;
        Trip t;
        t.id = std::move(id);
        t.departS = departS;
        t.mode = mode;
        t.type = typeOfMode[size_t(mode)];
        t.fromEdge = from;
        t.toEdge = to;
        demand.trips.push_back(std::move(t));
        detail.push_back(d);
    }

    Demand finish(std::vector<CityTripDetail>* details) {
        std::unordered_map<std::string, CityTripDetail> byId;
        if (details)
            for (size_t i = 0; i < demand.trips.size(); ++i) byId.emplace(demand.trips[i].id, detail[i]);
        demand.sortTrips();
        if (details) {
            details->clear();
            for (const Trip& t : demand.trips) details->push_back(byId.at(t.id));
        }
        return std::move(demand);
    }
};

} // namespace

Demand generateCityDemand(const CityModel& city, const Network& net, const CityDemandOptions& options, uint64_t seed,
                          std::vector<CityTripDetail>* details) {
    return Generator(city, net, options, seed).run(details);
}

Demand generateCityDemand(const CityModel& city, const Network& net, const CityDemandOptions& options, uint64_t seed) {
    return generateCityDemand(city, net, options, seed, nullptr);
}

} // namespace ct::mobility
