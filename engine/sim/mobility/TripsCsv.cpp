// CSV trips (format in Demand.h): one trip per row, edges by id or by coordinates.
#include "core/Error.h"
#include "core/SimClock.h"
#include "sim/mobility/Demand.h"
#include "sim/mobility/EdgeIndex.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <memory>
#include <unordered_set>

namespace ct::mobility {
namespace {

constexpr double kMaxSnapM = 1000; // coordinates farther from any usable edge are rejected
const char* const kFormatHint =
    "the header must be id,depart,from_edge,to_edge[,mode] or id,depart,from_x,from_y,to_x,to_y[,mode] "
    "(';' or ',' separated)";

std::string trim(std::string_view s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    if (a == std::string_view::npos) return {};
    std::string out(s.substr(a, b - a + 1));
    if (out.size() >= 2 && out.front() == '"' && out.back() == '"') out = out.substr(1, out.size() - 2);
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::vector<std::string> split(const std::string& line, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t end = line.find(sep, start);
        out.push_back(trim(std::string_view(line).substr(start, end == std::string::npos ? std::string::npos : end - start)));
        if (end == std::string::npos) return out;
        start = end + 1;
    }
}

// A whole field as a finite number; with ';' separators a decimal comma is accepted too.
std::optional<double> parseNumber(std::string s, char sep) {
    if (sep == ';' && s.find('.') == std::string::npos) std::replace(s.begin(), s.end(), ',', '.');
    double v = 0;
    const char* first = s.data();
    if (!s.empty() && s[0] == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// Seconds, or a clock time HH:MM[:SS] (hours may exceed 23 for the next day).
std::optional<double> parseDepart(const std::string& s, char sep) {
    if (s.find(':') == std::string::npos) return parseNumber(s, sep);
    std::string clock = s;
    if (sep == ';') std::replace(clock.begin(), clock.end(), ',', '.'); // decimal comma in the seconds
    return parseClockSeconds(clock);
}

std::optional<Mode> parseMode(const std::string& s) {
    std::string m = lower(s);
    if (m.empty() || m == "car") return Mode::Car;
    if (m == "bicycle" || m == "bike") return Mode::Bicycle;
    if (m == "walk") return Mode::Walk;
    if (m == "bus") return Mode::Bus;
    return std::nullopt;
}

struct Columns {
    int id = -1, depart = -1, fromEdge = -1, toEdge = -1, fromX = -1, fromY = -1, toX = -1, toY = -1, mode = -1;
    bool byEdge() const { return fromEdge >= 0 && toEdge >= 0; }
    bool byCoordinates() const { return fromX >= 0 && fromY >= 0 && toX >= 0 && toY >= 0; }
};

Columns readHeader(const std::vector<std::string>& names, const std::string& where) {
    Columns c;
    const std::array<std::pair<const char*, int Columns::*>, 9> known = {{{"id", &Columns::id},
                                                                         {"depart", &Columns::depart},
                                                                         {"from_edge", &Columns::fromEdge},
                                                                         {"to_edge", &Columns::toEdge},
                                                                         {"from_x", &Columns::fromX},
                                                                         {"from_y", &Columns::fromY},
                                                                         {"to_x", &Columns::toX},
                                                                         {"to_y", &Columns::toY},
                                                                         {"mode", &Columns::mode}}};
    for (int i = 0; i < int(names.size()); ++i)
        for (const auto& [name, member] : known)
            if (lower(names[size_t(i)]) == name) c.*member = i;
    if (c.id < 0 || c.depart < 0 || (!c.byEdge() && !c.byCoordinates()))
        throw InputError("the trips file's header does not name the needed columns", where, kFormatHint);
    return c;
}

class CsvReader {
public:
    CsvReader(const std::filesystem::path& f, const Network& n) : file(f), net(n) {}

    Demand read() {
        std::ifstream in(file);
        if (!in)
            throw InputError("cannot open the trips file", file.string(),
                             "check the path and that the file is readable; " + std::string(kFormatHint));
        std::string line;
        if (!std::getline(in, line) || trim(line).empty())
            throw InputError("the trips file is empty, a header line is needed", file.string(), kFormatHint);
        if (line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3); // UTF-8 byte order mark
        sep = line.find(';') != std::string::npos ? ';' : ',';
        auto names = split(line, sep);
        columnCount = names.size();
        cols = readHeader(names, file.string() + ":1");
        if (cols.byCoordinates() && !cols.byEdge()) index = std::make_unique<EdgeIndex>(net);
        for (size_t lineNo = 2; std::getline(in, line); ++lineNo) {
            if (trim(line).empty()) continue;
            if (auto why = readRow(line)) demand.skipped.add(file.string() + ":" + std::to_string(lineNo) + ": " + *why);
        }
        demand.sortTrips();
        return std::move(demand);
    }

private:
    const std::filesystem::path& file;
    const Network& net;
    Demand demand;
    char sep = ',';
    size_t columnCount = 0;
    Columns cols;
    std::unique_ptr<EdgeIndex> index;
    std::unordered_set<std::string> ids;
    std::array<uint32_t, 4> typeOfMode{kNone, kNone, kNone, kNone};

    uint32_t typeFor(Mode mode) {
        uint32_t& t = typeOfMode[size_t(mode)];
        if (t == kNone) {
            static const char* names[] = {"car", "bicycle", "pedestrian", "bus"};
            VehicleType type = VehicleType::defaults(vclassForMode(mode));
            type.id = names[size_t(mode)];
            t = uint32_t(demand.types.size());
            demand.types.push_back(type);
        }
        return t;
    }

    // The edge named in a field, or why not.
    std::optional<uint32_t> namedEdge(const std::string& id, Mode mode, std::string& why) const {
        auto e = net.findEdge(id);
        if (!e) why = "unknown edge '" + id + "'";
        else if (!usable(*e, mode)) why = "edge '" + id + "' does not allow " + toString(mode);
        else return e;
        return std::nullopt;
    }

    bool usable(uint32_t e, Mode mode) const {
        ClassMask mask = classesForMode(mode);
        const Edge& edge = net.edges[e];
        for (uint32_t l = edge.firstLane; l < edge.firstLane + edge.laneCount; ++l)
            if (net.lanes[l].allow & mask) return true;
        return false;
    }

    std::optional<uint32_t> nearestEdge(const std::vector<std::string>& f, int xCol, int yCol, Mode mode,
                                        std::string& why) const {
        auto x = parseNumber(f[size_t(xCol)], sep), y = parseNumber(f[size_t(yCol)], sep);
        if (!x || !y) {
            why = "coordinates '" + f[size_t(xCol)] + "', '" + f[size_t(yCol)] + "' are not numbers";
            return std::nullopt;
        }
        auto e = index->nearest(Vec2(*x, *y), classesForMode(mode), kMaxSnapM);
        if (!e) why = "no edge allowing " + std::string(toString(mode)) + " within 1000 m of (" + f[size_t(xCol)] +
                      ", " + f[size_t(yCol)] + ")";
        return e;
    }

    // Adds the row's trip; returns why it was skipped, if it was.
    std::optional<std::string> readRow(const std::string& line) {
        auto f = split(line, sep);
        if (f.size() != columnCount)
            return "expected " + std::to_string(columnCount) + " columns, found " + std::to_string(f.size());
        const std::string& id = f[size_t(cols.id)];
        if (id.empty()) return std::string("empty id");
        if (ids.count(id)) return "id '" + id + "' appears twice";
        auto depart = parseDepart(f[size_t(cols.depart)], sep);
        if (!depart) return "depart '" + f[size_t(cols.depart)] + "' is neither seconds nor HH:MM[:SS]";
        if (*depart < 0) return "negative depart " + f[size_t(cols.depart)];
        auto mode = parseMode(cols.mode >= 0 ? f[size_t(cols.mode)] : "");
        if (!mode) return "unknown mode '" + f[size_t(cols.mode)] + "' (car, bicycle, walk or bus)";
        std::string why;
        std::optional<uint32_t> from, to;
        if (cols.byEdge()) {
            from = namedEdge(f[size_t(cols.fromEdge)], *mode, why);
            if (from) to = namedEdge(f[size_t(cols.toEdge)], *mode, why);
        } else {
            from = nearestEdge(f, cols.fromX, cols.fromY, *mode, why);
            if (from) to = nearestEdge(f, cols.toX, cols.toY, *mode, why);
        }
        if (!from || !to) return why;
        Trip t;
        t.id = id;
        t.departS = *depart;
        t.mode = *mode;
        t.type = typeFor(*mode);
        t.fromEdge = *from;
        t.toEdge = *to;
        ids.insert(id);
        demand.trips.push_back(std::move(t));
        return std::nullopt;
    }
};

} // namespace

Demand readTripsCsv(const std::filesystem::path& file, const Network& net) { return CsvReader(file, net).read(); }

} // namespace ct::mobility
