#include "sim/mobility/Outputs.h"

#include "core/Error.h"
#include "gis/Writers.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

namespace ct::mobility {

namespace fs = std::filesystem;
using gis::CsvWriter;
using gis::FieldValue;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Interval k's length, the last one cut at the end of the run.
double intervalLength(size_t k, double intervalS, double endS) {
    double begin = double(k) * intervalS;
    return std::max(0.0, std::min(begin + intervalS, endS) - begin);
}

// A table read back from one of our CSV files (RFC 4180: quotes, doubled quotes).
struct CsvTable {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<size_t> lines; // line number of each row, for messages
    int column(const std::string& name, const fs::path& file) const {
        for (size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return int(i);
        throw InputError("column '" + name + "' missing", file.string(), "expected a file written by the mobility module");
    }
};

CsvTable readCsv(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError("cannot read file", file.string(), "does the run folder hold the mobility module's outputs?");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    CsvTable t;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    size_t line = 1, rowLine = 1;
    auto endRow = [&] {
        row.push_back(std::move(field));
        field.clear();
        if (t.header.empty()) t.header = std::move(row);
        else if (!(row.size() == 1 && row[0].empty())) {
            t.rows.push_back(std::move(row));
            t.lines.push_back(rowLine);
        }
        row.clear();
        any = false;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (!any) rowLine = line, any = true;
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
            else if (c == '"') quoted = false;
            else {
                if (c == '\n') ++line;
                field += c;
            }
        } else if (c == '"') quoted = true;
        else if (c == ',') row.push_back(std::move(field)), field.clear();
        else if (c == '\n') endRow(), ++line;
        else if (c != '\r') field += c;
    }
    if (any) endRow();
    if (t.header.empty()) throw InputError("empty file", file.string());
    return t;
}

double parseNumber(const std::string& s) {
    if (s.empty()) return kNaN;
    try {
        size_t used = 0;
        double v = std::stod(s, &used);
        return used == s.size() ? v : kNaN;
    } catch (const std::exception&) {
        return kNaN;
    }
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + long(mid), v.end());
    double upper = v[mid];
    if (v.size() % 2) return upper;
    double lower = *std::max_element(v.begin(), v.begin() + long(mid));
    return (lower + upper) / 2;
}

// Totals of one edge over all intervals.
struct EdgeTotals {
    double entered = 0, vehicleSeconds = 0, distanceM = 0;
    double peakFlow = 0, peakBegin = kNaN;
};

std::vector<EdgeTotals> edgeTotals(const Network& net, const std::vector<std::vector<EdgeSample>>& samples,
                                   double intervalS, double endS) {
    std::vector<EdgeTotals> out(net.edges.size());
    for (size_t k = 0; k < samples.size(); ++k) {
        double len = intervalLength(k, intervalS, endS);
        for (size_t e = 0; e < samples[k].size() && e < out.size(); ++e) {
            const EdgeSample& s = samples[k][e];
            EdgeTotals& t = out[e];
            t.entered += s.entered, t.vehicleSeconds += s.vehicleSeconds, t.distanceM += s.distanceM;
            double flow = len > 0 ? s.entered * 3600.0 / len : 0;
            if (s.entered > 0 && flow > t.peakFlow) t.peakFlow = flow, t.peakBegin = double(k) * intervalS;
        }
    }
    return out;
}


} // namespace

const char* toString(TripResult::Status s) {
    switch (s) {
    case TripResult::Status::Pending: return "pending";
    case TripResult::Status::Running: return "running";
    case TripResult::Status::Arrived: return "arrived";
    case TripResult::Status::NoRoute: return "no_route";
    case TripResult::Status::Unusable: return "unusable";
    }
    return "?";
}

void writeTripsCsv(const fs::path& file, const Demand& demand, const std::vector<TripResult>& results, const Network* net,
                   const std::vector<std::vector<uint32_t>>* routes) {
    std::vector<std::string> header = {"id", "mode", "depart", "depart_actual", "arrival", "duration_s", "route_length_m",
                                       "time_loss_s", "waiting_s", "depart_delay_s", "teleports", "status"};
    const bool withRoutes = net && routes;
    if (withRoutes) header.push_back("route");
    CsvWriter csv(file, header);
    for (size_t i = 0; i < demand.trips.size(); ++i) {
        const Trip& trip = demand.trips[i];
        TripResult r = i < results.size() ? results[i] : TripResult{};
        bool arrived = r.status == TripResult::Status::Arrived;
        bool inserted = arrived || r.status == TripResult::Status::Running;
        csv << trip.id << std::string(toString(trip.mode)) << trip.departS << (inserted ? r.departS : kNaN)
            << (arrived ? r.arrivalS : kNaN) << (arrived ? r.durationS() : kNaN) << r.routeLengthM << r.timeLossS
            << r.waitingS << (inserted ? r.departDelayS : kNaN) << int64_t(r.teleports) << std::string(toString(r.status));
        if (withRoutes) {
            std::string ids;
            if (i < routes->size())
                for (uint32_t e : (*routes)[i])
                    if (e < net->edges.size()) ids += (ids.empty() ? "" : " ") + net->edges[e].id;
            csv << ids;
        }
        csv.endRow();
    }
}

void writeEdgesCsv(const fs::path& file, const Network& net, const std::vector<std::vector<EdgeSample>>& samples,
                   double intervalS, double endS) {
    CsvWriter csv(file, {"edge_id", "name", "interval_begin_s", "interval_end_s", "entered", "flow_veh_h", "mean_speed_kmh",
                         "density_veh_km", "travel_time_s", "speed_ratio"});
    std::vector<uint8_t> used(net.edges.size(), 0);
    for (const auto& interval : samples)
        for (size_t e = 0; e < interval.size() && e < used.size(); ++e)
            if (interval[e].entered > 0 || interval[e].vehicleSeconds > 0) used[e] = 1;
    for (size_t e = 0; e < net.edges.size(); ++e) {
        if (!used[e]) continue;
        const Edge& edge = net.edges[e];
        double lengthKm = edge.lengthM / 1000.0;
        for (size_t k = 0; k < samples.size(); ++k) {
            double len = intervalLength(k, intervalS, endS);
            if (len <= 0) break;
            EdgeSample s = e < samples[k].size() ? samples[k][e] : EdgeSample{};
            double speed = s.meanSpeed(); // m/s, NaN when nobody drove
            bool driven = std::isfinite(speed);
            double travelTime = driven && speed > 0 ? edge.lengthM / speed : driven ? kNaN : edge.lengthM / edge.speedMps;
            csv << edge.id << edge.name << double(k) * intervalS << double(k) * intervalS + len << int64_t(s.entered)
                << s.entered * 3600.0 / len << (driven ? speed * 3.6 : kNaN)
                << (lengthKm > 0 ? s.vehicleSeconds / (len * lengthKm) : kNaN) << travelTime
                << (driven ? speed / edge.speedMps : kNaN);
            csv.endRow();
        }
    }
}

void writeEdgesGpkg(const fs::path& file, const Network& net, const std::vector<std::vector<EdgeSample>>& samples,
                    double intervalS, const WorldFrame& world, double endS) {
    using gis::FieldType;
    gis::GpkgWriter w(file, "edges", gis::GpkgWriter::Geometry::LineString, world.crs,
                      {{"edge_id", FieldType::String}, {"name", FieldType::String}, {"lanes", FieldType::Integer},
                       {"speed_limit_kmh", FieldType::Real}, {"length_m", FieldType::Real},
                       {"entered_total", FieldType::Integer}, {"mean_speed_kmh", FieldType::Real},
                       {"speed_ratio", FieldType::Real}, {"vehicle_km", FieldType::Real},
                       {"peak_flow_veh_h", FieldType::Real}, {"peak_interval_begin_s", FieldType::Real}});
    std::vector<EdgeTotals> totals = edgeTotals(net, samples, intervalS, endS);
    for (size_t e = 0; e < net.edges.size(); ++e) {
        const Edge& edge = net.edges[e];
        std::vector<Vec2> line;
        for (const Vec2& p : net.laneShape(edge.firstLane)) line.push_back(p + world.offset);
        if (line.size() < 2) continue; // nothing to draw
        const EdgeTotals& t = totals[e];
        double speed = t.vehicleSeconds > 0 ? t.distanceM / t.vehicleSeconds : kNaN;
        w.addLine(line, {edge.id, edge.name, int64_t(edge.laneCount), edge.speedMps * 3.6, double(edge.lengthM),
                     int64_t(std::llround(t.entered)), speed * 3.6, speed / edge.speedMps, t.distanceM / 1000.0,
                     t.peakFlow, t.peakBegin});
    }
    w.close();
}

void writeJunctionsCsv(const fs::path& file, const Network& net, const std::vector<JunctionSample>& junctions,
                       const WorldFrame& world) {
    CsvWriter csv(file, {"junction_id", "x", "y", "type", "passed", "time_loss_s", "mean_delay_s", "waiting_s"});
    for (size_t j = 0; j < net.junctions.size(); ++j) {
        const Junction& junction = net.junctions[j];
        JunctionSample s = j < junctions.size() ? junctions[j] : JunctionSample{};
        Vec2 p = junction.pos + world.offset;
        csv << junction.id << p.x() << p.y() << std::string(toString(junction.type)) << int64_t(s.passed) << s.timeLossS
            << (s.passed > 0 ? s.timeLossS / s.passed : kNaN) << s.waitingS;
        csv.endRow();
    }
}

Kpis mobilityKpis(const Demand& demand, const std::vector<TripResult>& results, const Co2Factors& co2) {
    size_t completed = 0, noRoute = 0, teleports = 0;
    double timeLoss = 0, carKm = 0, truckKm = 0, busKm = 0, carArrivedM = 0, carArrivedS = 0;
    std::map<Mode, std::vector<double>> durations;
    for (size_t i = 0; i < demand.trips.size() && i < results.size(); ++i) {
        const TripResult& r = results[i];
        const Trip& t = demand.trips[i];
        teleports += r.teleports;
        timeLoss += r.timeLossS;
        if (r.status == TripResult::Status::NoRoute) ++noRoute;
        VClass vc = t.type < demand.types.size() ? demand.types[t.type].vclass : VClass::Passenger;
        // Distance driven counts whether or not the trip finished within the run.
        if (t.mode == Mode::Car && vc == VClass::Truck) truckKm += r.routeLengthM / 1000;
        else if (t.mode == Mode::Car) carKm += r.routeLengthM / 1000;
        else if (t.mode == Mode::Bus) busKm += r.routeLengthM / 1000;
        if (r.status != TripResult::Status::Arrived) continue;
        ++completed;
        durations[t.mode].push_back(r.durationS());
        if (t.mode == Mode::Car) carArrivedM += r.routeLengthM, carArrivedS += r.durationS();
    }
    auto mean = [](const std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x;
        return v.empty() ? 0.0 : s / double(v.size());
    };
    Kpis k = {
        {"trips_total", double(demand.trips.size()), ""},
        {"trips_completed", double(completed), ""},
        {"trips_no_route", double(noRoute), ""},
        {"teleports", double(teleports), ""},
    };
    // Always the same list (0 where a mode has no trips): the runner pairs baseline and
    // variant KPIs by position.
    for (Mode m : {Mode::Car, Mode::Bicycle, Mode::Walk}) {
        const std::vector<double>& d = durations[m];
        std::string name = toString(m);
        k.push_back({"mean_trip_time_" + name + "_s", mean(d), "s"});
        k.push_back({"median_trip_time_" + name + "_s", median(d), "s"});
    }
    k.push_back({"total_time_loss_h", timeLoss / 3600, "h"});
    k.push_back({"vehicle_km", carKm, "km"});
    k.push_back({"co2_t", (carKm * co2.carGPerKm + truckKm * co2.truckGPerKm + busKm * co2.busGPerKm) / 1e6, "t"});
    k.push_back({"mean_speed_kmh", carArrivedS > 0 ? carArrivedM / carArrivedS * 3.6 : 0, "km/h"});
    return k;
}

const std::array<const char*, TripComparison::kLengthClasses> TripComparison::lengthClassNames = {"0-2km", "2-5km", "5-10km",
                                                                                                  ">10km"};
const std::array<const char*, TripComparison::kDeltaBins> TripComparison::deltaBinNames = {
    "<-300s", "-300..-60s", "-60..-5s", "-5..5s", "5..60s", "60..300s", ">300s"};

int TripComparison::lengthClass(double m) { return m < 2000 ? 0 : m < 5000 ? 1 : m < 10000 ? 2 : 3; }

int TripComparison::deltaBin(double d) {
    if (d < -300) return 0;
    if (d < -60) return 1;
    if (d < -5) return 2;
    if (d <= 5) return 3;
    if (d <= 60) return 4;
    if (d <= 300) return 5;
    return 6;
}

TripComparison compareTrips(const fs::path& baselineFile, const fs::path& variantFile) {
    struct Arrived {
        double durationS, lengthM;
    };
    auto read = [](const fs::path& file) {
        CsvTable t = readCsv(file);
        int id = t.column("id", file), status = t.column("status", file), duration = t.column("duration_s", file),
            length = t.column("route_length_m", file);
        std::unordered_map<std::string, Arrived> out;
        for (const auto& row : t.rows) {
            if (int(row.size()) <= std::max({id, status, duration, length}) || row[size_t(status)] != "arrived") continue;
            double d = parseNumber(row[size_t(duration)]);
            if (std::isfinite(d)) out[row[size_t(id)]] = {d, parseNumber(row[size_t(length)])};
        }
        return out;
    };
    auto base = read(baselineFile), variant = read(variantFile);
    TripComparison c;
    std::vector<double> deltas;
    for (const auto& [id, b] : base) {
        auto it = variant.find(id);
        if (it == variant.end()) {
            ++c.arrivedOnlyBaseline;
            continue;
        }
        double d = it->second.durationS - b.durationS;
        deltas.push_back(d);
        if (std::abs(d) < 5 || std::abs(d) < 0.02 * b.durationS) ++c.unchanged;
        else if (d < 0) ++c.faster;
        else ++c.slower;
        c.histogram[size_t(TripComparison::lengthClass(std::isfinite(b.lengthM) ? b.lengthM : 0))]
                   [size_t(TripComparison::deltaBin(d))]++;
    }
    for (const auto& [id, _] : variant)
        if (!base.count(id)) ++c.arrivedOnlyVariant;
    c.matched = deltas.size();
    double sum = 0;
    for (double d : deltas) sum += d;
    c.meanDeltaS = deltas.empty() ? 0 : sum / double(deltas.size());
    c.medianDeltaS = median(deltas);
    return c;
}

std::vector<EdgeChange> topChangedEdges(const fs::path& baselineFile, const fs::path& variantFile, size_t count) {
    // Per edge over all intervals: vehicles entered, and the space-mean speed Σ v·ρ·T / Σ ρ·T
    // (vehicle-seconds on the edge are ρ·T·length; the length cancels).
    struct Sum {
        std::string name;
        double entered = 0, speedWeight = 0, weight = 0;
    };
    auto read = [](const fs::path& file) {
        CsvTable t = readCsv(file);
        int id = t.column("edge_id", file), name = t.column("name", file), begin = t.column("interval_begin_s", file),
            end = t.column("interval_end_s", file), entered = t.column("entered", file),
            speed = t.column("mean_speed_kmh", file), density = t.column("density_veh_km", file);
        std::map<std::string, Sum> out;
        for (const auto& row : t.rows) {
            if (int(row.size()) <= std::max({id, name, begin, end, entered, speed, density})) continue;
            Sum& s = out[row[size_t(id)]];
            s.name = row[size_t(name)];
            double n = parseNumber(row[size_t(entered)]);
            if (std::isfinite(n)) s.entered += n;
            double v = parseNumber(row[size_t(speed)]), rho = parseNumber(row[size_t(density)]),
                   len = parseNumber(row[size_t(end)]) - parseNumber(row[size_t(begin)]);
            if (std::isfinite(v) && std::isfinite(rho) && std::isfinite(len) && rho * len > 0)
                s.speedWeight += v * rho * len, s.weight += rho * len;
        }
        return out;
    };
    auto base = read(baselineFile), variant = read(variantFile);
    std::map<std::string, EdgeChange> all;
    auto add = [&](const std::map<std::string, Sum>& m, bool isVariant) {
        for (const auto& [id, s] : m) {
            EdgeChange& c = all[id];
            c.id = id;
            c.name = s.name;
            double speed = s.weight > 0 ? s.speedWeight / s.weight : kNaN;
            if (isVariant) c.enteredVariant = s.entered, c.speedVariantKmh = speed;
            else c.enteredBase = s.entered, c.speedBaseKmh = speed;
        }
    };
    add(base, false);
    add(variant, true);
    std::vector<EdgeChange> edges;
    for (auto& [_, c] : all) edges.push_back(c);
    auto dEntered = [](const EdgeChange& c) { return std::abs(c.enteredVariant - c.enteredBase); };
    auto dSpeed = [](const EdgeChange& c) {
        double d = std::abs(c.speedVariantKmh - c.speedBaseKmh);
        return std::isfinite(d) ? d : -1.0;
    };
    std::vector<EdgeChange> byEntered = edges, bySpeed = edges;
    // Ties broken by id so the table does not depend on map order.
    std::stable_sort(byEntered.begin(), byEntered.end(), [&](auto& a, auto& b) { return dEntered(a) > dEntered(b); });
    std::stable_sort(bySpeed.begin(), bySpeed.end(), [&](auto& a, auto& b) { return dSpeed(a) > dSpeed(b); });
    std::vector<EdgeChange> out;
    std::set<std::string> taken;
    for (size_t i = 0; i < count && i < byEntered.size(); ++i)
        if (dEntered(byEntered[i]) > 0 && taken.insert(byEntered[i].id).second) out.push_back(byEntered[i]);
    for (size_t i = 0; i < count && i < bySpeed.size(); ++i)
        if (dSpeed(bySpeed[i]) > 0 && taken.insert(bySpeed[i].id).second) out.push_back(bySpeed[i]);
    return out;
}

void writeComparison(const fs::path& baselineDir, const fs::path& variantDir, const fs::path& outDir) {
    fs::create_directories(outDir);
    TripComparison c = compareTrips(baselineDir / "trips.csv", variantDir / "trips.csv");
    auto share = [&](size_t n) { return c.matched ? double(n) / double(c.matched) : 0.0; };
    {
        CsvWriter csv(outDir / "comparison.csv", {"metric", "length_class", "delta_bin", "value"});
        auto row = [&](const std::string& metric, const std::string& cls, const std::string& bin, FieldValue v) {
            csv << metric << cls << bin << v;
            csv.endRow();
        };
        row("trips_matched", "all", "", int64_t(c.matched));
        row("trips_faster", "all", "", int64_t(c.faster));
        row("trips_slower", "all", "", int64_t(c.slower));
        row("trips_unchanged", "all", "", int64_t(c.unchanged));
        row("share_faster", "all", "", share(c.faster));
        row("share_slower", "all", "", share(c.slower));
        row("share_unchanged", "all", "", share(c.unchanged));
        row("arrived_only_baseline", "all", "", int64_t(c.arrivedOnlyBaseline));
        row("arrived_only_variant", "all", "", int64_t(c.arrivedOnlyVariant));
        row("mean_delta_s", "all", "", c.meanDeltaS);
        row("median_delta_s", "all", "", c.medianDeltaS);
        for (int l = 0; l < TripComparison::kLengthClasses; ++l)
            for (int b = 0; b < TripComparison::kDeltaBins; ++b)
                row("trips", TripComparison::lengthClassNames[size_t(l)], TripComparison::deltaBinNames[size_t(b)],
                    int64_t(c.histogram[size_t(l)][size_t(b)]));
    }
    nlohmann::ordered_json j; // in the order written: counts, then the histogram by class and bin
    j["trips_matched"] = c.matched;
    j["trips_faster"] = c.faster;
    j["trips_slower"] = c.slower;
    j["trips_unchanged"] = c.unchanged;
    j["share_faster"] = share(c.faster);
    j["share_slower"] = share(c.slower);
    j["share_unchanged"] = share(c.unchanged);
    j["arrived_only_baseline"] = c.arrivedOnlyBaseline;
    j["arrived_only_variant"] = c.arrivedOnlyVariant;
    j["mean_delta_s"] = c.meanDeltaS;
    j["median_delta_s"] = c.medianDeltaS;
    j["delta"] = "variant minus baseline trip duration; negative = faster";
    nlohmann::ordered_json hist = nlohmann::ordered_json::object();
    for (int l = 0; l < TripComparison::kLengthClasses; ++l)
        for (int b = 0; b < TripComparison::kDeltaBins; ++b)
            hist[TripComparison::lengthClassNames[size_t(l)]][TripComparison::deltaBinNames[size_t(b)]] =
                c.histogram[size_t(l)][size_t(b)];
    j["histogram"] = hist;
    std::ofstream(outDir / "comparison.json") << j.dump(2) << "\n";

    CsvWriter csv(outDir / "top_changed_edges.csv", {"edge_id", "name", "entered_base", "entered_variant", "speed_base",
                                                     "speed_variant"});
    for (const EdgeChange& e : topChangedEdges(baselineDir / "edges.csv", variantDir / "edges.csv")) {
        csv << e.id << e.name << e.enteredBase << e.enteredVariant << e.speedBaseKmh << e.speedVariantKmh;
        csv.endRow();
    }
}

} // namespace ct::mobility
