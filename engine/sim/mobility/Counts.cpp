#include "sim/mobility/Counts.h"

#include "core/Error.h"
#include "core/SimClock.h"
#include "feeds/SensorStore.h"
#include "sim/mobility/EdgeIndex.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>
#include <unordered_map>

namespace ct::mobility {

double geh(double modelled, double counted) {
    const double sum = modelled + counted;
    return sum > 0 ? std::sqrt(2 * (modelled - counted) * (modelled - counted) / sum) : 0.0;
}

namespace {

// Seconds, or a clock time HH:MM[:SS].
std::optional<double> parseTime(const std::string& s) {
    if (s.find(':') != std::string::npos) return parseClockSeconds(s);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end == s.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::vector<std::string> splitCsv(const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) {
        while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
        while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
        cells.push_back(cell);
    }
    return cells;
}

} // namespace

std::vector<Count> readCountsCsv(const std::filesystem::path& file, SkipReport& skipped) {
    std::ifstream in(file);
    if (!in) throw InputError("cannot open the counts file", file.string(), "check the path");
    std::string line;
    if (!std::getline(in, line) || splitCsv(line) != std::vector<std::string>{"detector", "begin", "end", "count"})
        throw InputError("the counts file needs the header detector,begin,end,count", file.string() + ":1",
                         "one row per detector and interval, times in seconds or HH:MM[:SS]");
    std::vector<Count> counts;
    for (int lineNo = 2; std::getline(in, line); ++lineNo) {
        if (line.empty() || line == "\r") continue;
        const std::string where = file.filename().string() + ":" + std::to_string(lineNo);
        auto cells = splitCsv(line);
        if (cells.size() != 4) {
            skipped.add(where + ": expected 4 columns, found " + std::to_string(cells.size()));
            continue;
        }
        auto b = parseTime(cells[1]), e = parseTime(cells[2]);
        char* end = nullptr;
        const double n = std::strtod(cells[3].c_str(), &end);
        if (cells[0].empty() || !b || !e || *e <= *b || cells[3].empty() || *end != '\0' || !(n >= 0)) {
            skipped.add(where + ": needs a detector id, begin < end and a count ≥ 0");
            continue;
        }
        counts.push_back({cells[0], *b, *e, n});
    }
    return counts;
}

namespace {

// "veh/h" → 3600 (an hourly flow); "veh/15min", "veh/300s", "veh/1h", "veh/d" → that period
// in seconds; nullopt when the unit is not a count of vehicles per time.
std::optional<double> countPeriodS(const std::string& unit) {
    if (unit.rfind("veh/", 0) != 0) return std::nullopt;
    std::string rest = unit.substr(4);
    size_t digits = 0;
    while (digits < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[digits])) || rest[digits] == '.')) ++digits;
    double n = digits ? std::strtod(rest.substr(0, digits).c_str(), nullptr) : 1.0;
    const std::string per = rest.substr(digits);
    const double seconds = per == "s" ? 1 : per == "min" ? 60 : per == "h" ? 3600 : per == "d" ? 86400 : 0;
    if (!(n > 0) || seconds == 0) return std::nullopt;
    return n * seconds;
}

} // namespace

StoreCounts readStoreCounts(const feeds::SensorStore& store, const std::vector<std::string>& sensors,
                            const LonLatToNetwork& toNetwork, double fromUtc, double toUtc, double clockAtEpoch,
                            SkipReport& skipped) {
    StoreCounts out;
    std::vector<feeds::SensorInfo> chosen;
    if (sensors.empty()) {
        for (auto& s : store.sensors())
            if (s.quantity == "traffic_count") chosen.push_back(s);
    } else {
        for (const auto& id : sensors) {
            if (auto s = store.sensor(id)) chosen.push_back(*s);
            else skipped.add("sensor '" + id + "': not in the store " + store.path().string());
        }
    }
    for (const auto& s : chosen) {
        const std::string who = "sensor '" + s.id + "'";
        auto period = countPeriodS(s.unit);
        if (!period) {
            skipped.add(who + ": unit '" + s.unit + "' is not vehicles per time (veh/h, veh/15min, ...)");
            continue;
        }
        nlohmann::json props = nlohmann::json::parse(s.properties.empty() ? "{}" : s.properties, nullptr, false);
        if (!props.is_object()) props = nlohmann::json::object();
        DetectorPlacement d{s.id, "", std::nullopt, std::nullopt};
        if (props.contains("edge") && props["edge"].is_string()) d.edge = props["edge"].get<std::string>();
        else if (props.contains("edge") && props["edge"].is_number_integer()) d.edge = std::to_string(props["edge"].get<int64_t>());
        if (props.contains("heading") && props["heading"].is_number()) d.headingDeg = props["heading"].get<double>();
        if (d.edge.empty()) {
            if (std::isfinite(s.lon) && std::isfinite(s.lat)) d.point = toNetwork(s.lon, s.lat);
            if (!d.point) {
                skipped.add(who + ": neither an 'edge' property nor a usable location");
                continue;
            }
        }
        const auto rows = store.range(s.id, fromUtc, toUtc);
        // The interval: stated, else the unit's period when the unit is per period, else the
        // shortest gap between observations.
        double interval = 0;
        if (props.contains("interval_s") && props["interval_s"].is_number()) interval = props["interval_s"].get<double>();
        else if (s.unit != "veh/h") interval = *period;
        else
            for (size_t i = 1; i < rows.size(); ++i) {
                const double gap = rows[i].phenomenonTime - rows[i - 1].phenomenonTime;
                if (gap > 0 && (interval == 0 || gap < interval)) interval = gap;
            }
        if (!(interval > 0)) {
            skipped.add(who + ": the count interval is unknown (give the 'interval_s' property)");
            continue;
        }
        out.detectors.push_back(d);
        for (const auto& r : rows) {
            if (r.phenomenonTime + interval > toUtc) continue; // an interval not wholly inside
            out.counts.push_back({s.id, clockAtEpoch + r.phenomenonTime, clockAtEpoch + r.phenomenonTime + interval,
                                  r.value * interval / *period});
        }
    }
    return out;
}

std::vector<uint32_t> placeDetectors(const Network& net, const std::vector<DetectorPlacement>& detectors,
                                     SkipReport& skipped) {
    std::vector<uint32_t> edges(detectors.size(), kNone);
    std::unique_ptr<EdgeIndex> index;
    for (size_t i = 0; i < detectors.size(); ++i) {
        const DetectorPlacement& d = detectors[i];
        if (!d.edge.empty()) {
            if (auto e = net.findEdge(d.edge)) edges[i] = *e;
            else skipped.add("detector '" + d.id + "': no edge '" + d.edge + "' in the network");
            continue;
        }
        if (!d.point) {
            skipped.add("detector '" + d.id + "': give an edge or a point");
            continue;
        }
        if (!index) index = std::make_unique<EdgeIndex>(net);
        // The nearest edge, then, for a heading, the nearest one running that way: a two-way
        // street's detector counts one direction.
        auto nearest = index->nearest(*d.point, kMotorVehicles, 100);
        if (!nearest) {
            skipped.add("detector '" + d.id + "': no road for cars within 100 m");
            continue;
        }
        uint32_t chosen = *nearest;
        if (d.headingDeg) {
            auto direction = [&](uint32_t e) {
                auto shape = net.laneShape(net.edges[e].firstLane);
                Vec2 v = shape.back() - shape.front();
                return std::atan2(v.y(), v.x()) * 180 / std::numbers::pi;
            };
            auto off = [&](uint32_t e) {
                double diff = std::fmod(std::abs(direction(e) - *d.headingDeg), 360.0);
                return std::min(diff, 360 - diff);
            };
            // The reverse of the nearest edge lies on the same street.
            const Edge& near = net.edges[chosen];
            uint32_t reverse = kNone;
            for (uint32_t e = 0; e < net.edges.size(); ++e)
                if (net.edges[e].fromJunction == near.toJunction && net.edges[e].toJunction == near.fromJunction) {
                    reverse = e;
                    break;
                }
            if (reverse != kNone && off(reverse) < off(chosen)) chosen = reverse;
            if (off(chosen) > 60) {
                skipped.add("detector '" + d.id + "': the nearest street does not run in the given heading");
                continue;
            }
        }
        edges[i] = chosen;
    }
    return edges;
}

std::vector<CountComparison> compareCounts(const Network& net, const std::vector<DetectorPlacement>& detectors,
                                           const std::vector<uint32_t>& detectorEdges, const std::vector<Count>& counts,
                                           const std::vector<std::vector<EdgeSample>>& samples, double intervalS,
                                           double beginS) {
    std::unordered_map<std::string, size_t> byId;
    for (size_t i = 0; i < detectors.size(); ++i) byId.emplace(detectors[i].id, i);
    std::vector<CountComparison> rows;
    for (const Count& c : counts) {
        auto it = byId.find(c.detector);
        if (it == byId.end() || detectorEdges[it->second] == kNone) continue;
        const double k0 = (c.beginS - beginS) / intervalS, k1 = (c.endS - beginS) / intervalS;
        if (k0 < -1e-6 || std::abs(k0 - std::round(k0)) > 1e-6 || std::abs(k1 - std::round(k1)) > 1e-6) continue;
        if (size_t(std::llround(k1)) > samples.size()) continue; // beyond what was simulated
        const uint32_t edge = detectorEdges[it->second];
        CountComparison row;
        row.detector = c.detector;
        row.edge = net.edges[edge].id;
        row.beginS = c.beginS;
        row.endS = c.endS;
        row.counted = c.vehicles;
        for (size_t k = size_t(std::llround(k0)); k < size_t(std::llround(k1)); ++k) row.simulated += samples[k][edge].entered;
        const double perHour = 3600 / (c.endS - c.beginS);
        row.gehHourly = geh(row.simulated * perHour, row.counted * perHour);
        rows.push_back(row);
    }
    return rows;
}

void writeCountComparisonCsv(const std::filesystem::path& file, const std::vector<CountComparison>& rows) {
    std::ofstream out(file);
    if (!out) throw InputError("cannot write", file.string(), "check the output folder");
    out << "detector,edge_id,begin_s,end_s,counted,simulated,geh_hourly\n";
    for (const auto& r : rows)
        out << r.detector << ',' << r.edge << ',' << r.beginS << ',' << r.endS << ',' << r.counted << ',' << r.simulated
            << ',' << r.gehHourly << '\n';
}

double shareGehBelow5(const std::vector<CountComparison>& rows) {
    if (rows.empty()) return std::nan("");
    size_t below = 0;
    for (const auto& r : rows) below += r.gehHourly < 5;
    return double(below) / double(rows.size());
}

} // namespace ct::mobility
