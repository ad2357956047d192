#include "ui/RoadCounts.h"

#include "core/Error.h"
#include "core/Geo.h"
#include "core/I18n.h"
#include "feeds/SensorStore.h"
#include "sim/mobility/Counts.h"
#include "ui/Traffic.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <optional>

namespace ct::ui {

namespace fs = std::filesystem;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
// Newest count: the rows of the last day before a detector's newest observation are enough (a
// veh/h sensor without interval_s needs a few of them for its interval, the shortest gap).
constexpr double kNewestWindowS = 86400;
// Counts at a time: an interval that began at or before it may end up to this long after it.
constexpr double kLongestIntervalS = 7 * 86400;

// The count shown at atUtc: the one whose interval contains it, else the newest that began at
// or before it (NaN: the newest of all); nullptr if none.
const mobility::Count* countAt(const std::vector<mobility::Count>& counts, double atUtc) {
    const mobility::Count *containing = nullptr, *before = nullptr;
    for (const mobility::Count& c : counts) {
        if (!std::isnan(atUtc) && c.beginS > atUtc) continue;
        if (!before || c.beginS >= before->beginS) before = &c;
        if (!std::isnan(atUtc) && atUtc < c.endS && (!containing || c.beginS >= containing->beginS)) containing = &c;
    }
    return containing ? containing : before;
}
} // namespace

RoadCounts countedRoads(const feeds::SensorStore& store, const CityTraffic& traffic, const CityModel& city, double atUtc) {
    const mobility::Network& net = traffic.network();
    // WGS84 → the city's CRS → local frame, which is the frame of the city's traffic network.
    std::unique_ptr<Reprojector> fromWgs84;
    try {
        if (!city.frame.crs.empty()) fromWgs84 = std::make_unique<Reprojector>(Crs::fromEpsg(4326), city.frame.crs);
    } catch (const std::exception&) { // no usable CRS: detectors are placed by edge only
    }
    mobility::LonLatToNetwork toNetwork = [&](double lon, double lat) -> std::optional<Vec2> {
        if (!fromWgs84) return std::nullopt;
        try {
            return city.frame.toLocal(fromWgs84->apply(Vec2(lon, lat)));
        } catch (const InputError&) {
            return std::nullopt;
        }
    };
    mobility::SkipReport skipped;
    std::vector<mobility::DetectorPlacement> placements;
    std::vector<std::vector<mobility::Count>> counts; // per placement
    for (const feeds::SensorInfo& s : store.sensors()) {
        if (s.quantity != "traffic_count") continue;
        // One sensor at a time, so each reads only the rows around its own newest count.
        double from = -kInf, to = kInf;
        if (std::isnan(atUtc)) {
            auto newest = store.latest(s.id);
            if (!newest) continue; // no count at all
            from = newest->time - kNewestWindowS;
        } else {
            to = atUtc + kLongestIntervalS;
        }
        // Clock 0 at the epoch: counts come out in UTC seconds.
        mobility::StoreCounts read = mobility::readStoreCounts(store, {s.id}, toNetwork, from, to, 0, skipped);
        if (read.detectors.empty()) continue;
        placements.push_back(read.detectors.front());
        counts.push_back(std::move(read.counts));
    }
    std::vector<uint32_t> edges = mobility::placeDetectors(net, placements, skipped);
    RoadCounts out;
    for (size_t i = 0; i < placements.size(); ++i) {
        if (edges[i] == mobility::kNone) continue;
        const mobility::Count* c = countAt(counts[i], atUtc);
        if (!c || !(c->endS > c->beginS)) continue;
        const mobility::Edge& e = net.edges[edges[i]];
        auto shape = net.laneShape(e.firstLane);
        Vec2 d = shape.back() - shape.front();
        double heading = std::atan2(d.y(), d.x()) * 180 / std::numbers::pi;
        out.roads.push_back({placements[i].id, e.name, edges[i], e.id, heading < 0 ? heading + 360 : heading,
                             c->vehicles * 3600 / (c->endS - c->beginS), c->beginS, c->endS});
    }
    out.skipped = std::move(skipped.reasons);
    out.skippedCount = skipped.count;
    return out;
}

RoadCounts countedRoads(const fs::path& storeFile, const CityTraffic& traffic, const CityModel& city, double atUtc) {
    if (!fs::exists(storeFile)) return {};
    feeds::SensorStore store(storeFile);
    return countedRoads(store, traffic, city, atUtc);
}

render::ColorScale countedFlowScale(double largestFlowVehH) {
    // The Traffic map read upwards (quiet green, busy red): of the maps there are, the one that
    // reads as volume; a fixed floor keeps a quiet town from looking jammed.
    double top = std::max(600.0, std::ceil(largestFlowVehH / 100) * 100);
    return {render::ColorMap::Volume, 0, float(top), "Counted flow", "veh/h"};
}

render::ValueOverlay countedRoadValues(const std::vector<CountedRoad>& roads, const CityTraffic& traffic) {
    const mobility::Network& net = traffic.network();
    const RoadNetwork& cityRoads = traffic.city().roads;
    // Per mobility edge first: detectors on the same edge count the same vehicles.
    std::map<uint32_t, double> perEdge;
    for (const CountedRoad& r : roads) {
        if (r.mobilityEdge >= net.edges.size() || !std::isfinite(r.flowVehH)) continue;
        auto [it, added] = perEdge.emplace(r.mobilityEdge, r.flowVehH);
        if (!added) it->second = std::max(it->second, r.flowVehH);
    }
    render::ValueOverlay o;
    o.values.assign(cityRoads.edgeCount(), std::numeric_limits<float>::quiet_NaN());
    double largest = 0;
    for (const auto& [m, flow] : perEdge) {
        uint32_t e = net.edges[m].sourceEdge;
        if (e >= cityRoads.edgeCount()) continue; // added by the scenario: no city road to colour
        // Both directions of a two-way street are one ribbon, named by the lower edge index.
        size_t ribbon = e < cityRoads.reverse.size() && cityRoads.reverse[e].valid() ? std::min<size_t>(e, cityRoads.reverse[e].value) : e;
        float& v = o.values[ribbon];
        v = std::isnan(v) ? float(flow) : v + float(flow);
        largest = std::max(largest, double(v));
    }
    o.scale = countedFlowScale(largest);
    return o;
}

const char* directionWord(double headingDeg) {
    static const char* words[] = {"eastbound", "north-eastbound", "northbound", "north-westbound",
                                  "westbound", "south-westbound", "southbound", "south-eastbound"};
    if (!std::isfinite(headingDeg)) return "";
    double h = std::fmod(headingDeg, 360.0);
    if (h < 0) h += 360;
    return tr(words[int(std::lround(h / 45)) % 8]);
}

} // namespace ct::ui
