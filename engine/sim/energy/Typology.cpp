#include "sim/energy/Typology.h"

#include "core/Error.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace ct::energy {

const char* toString(BuildingType t) {
    switch (t) {
    case BuildingType::Any:
        return "any";
    case BuildingType::Detached:
        return "detached";
    case BuildingType::Terraced:
        return "terraced";
    case BuildingType::Apartment:
        return "apartment";
    }
    return "any";
}

BuildingType classifyResidential(double storeys, double footprintM2, double sharedWallShare) {
    const double s = std::max(storeys, 1.0);
    if (s >= 4 || (s >= 3 && footprintM2 >= 250) || footprintM2 * s >= 600) return BuildingType::Apartment;
    if (sharedWallShare >= 0.15) return BuildingType::Terraced;
    return BuildingType::Detached;
}

namespace {

// One CSV record; fields may be quoted ("a, b"), a doubled quote inside is a quote.
std::vector<std::string> splitCsv(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
                cur += '"', ++i;
            else if (c == '"')
                quoted = false;
            else
                cur += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            out.push_back(cur);
            cur.clear();
        } else if (c != '\r') {
            cur += c;
        }
    }
    out.push_back(cur);
    for (auto& f : out) { // trim blanks
        size_t a = f.find_first_not_of(" \t"), b = f.find_last_not_of(" \t");
        f = a == std::string::npos ? std::string() : f.substr(a, b - a + 1);
    }
    return out;
}

BuildingUse useFromName(const std::string& s, bool& ok) {
    for (auto u : {BuildingUse::Residential, BuildingUse::Mixed, BuildingUse::Commercial,
                   BuildingUse::Industrial, BuildingUse::Public, BuildingUse::Religious,
                   BuildingUse::Agricultural, BuildingUse::Garage, BuildingUse::Other})
        if (s == toString(u)) return ok = true, u;
    ok = false;
    return BuildingUse::Other;
}

BuildingType typeFromName(const std::string& s, bool& ok) {
    for (auto t :
         {BuildingType::Any, BuildingType::Detached, BuildingType::Terraced, BuildingType::Apartment})
        if (s == toString(t)) return ok = true, t;
    ok = false;
    return BuildingType::Any;
}

} // namespace

Typology Typology::load(const std::filesystem::path& csv) {
    std::ifstream in(csv);
    if (!in) throw InputError("cannot open the typology table", csv.string(), "check the path");
    const std::string file = csv.string();
    auto where = [&](size_t line) { return file + ":" + std::to_string(line); };

    static const std::vector<std::string> required = {"id",
                                                      "use",
                                                      "building_type",
                                                      "year_from",
                                                      "year_to",
                                                      "u_wall",
                                                      "u_roof",
                                                      "u_floor",
                                                      "u_window",
                                                      "b_floor",
                                                      "thermal_bridge_w_m2k",
                                                      "window_share",
                                                      "g_window",
                                                      "air_change_h",
                                                      "heat_recovery",
                                                      "internal_gains_w_m2",
                                                      "set_heat_c",
                                                      "set_cool_c",
                                                      "cooled",
                                                      "heat_capacity_j_m2k",
                                                      "demand_ref_kwh_m2a",
                                                      "demand_min_kwh_m2a",
                                                      "demand_max_kwh_m2a",
                                                      "source"};
    std::map<std::string, size_t> col;
    Typology t;
    std::string line;
    size_t lineNo = 0;
    bool haveHeader = false;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos ||
            line[line.find_first_not_of(" \t")] == '#')
            continue; // blank lines and # comments
        auto f = splitCsv(line);
        if (!haveHeader) {
            for (size_t k = 0; k < f.size(); ++k)
                col[f[k]] = k;
            for (auto& name : required)
                if (!col.count(name))
                    throw InputError(
                        "missing column '" + name + "'", where(lineNo),
                        "the header must name: id, use, building_type, year_from, ... (see README)");
            haveHeader = true;
            continue;
        }
        if (f.size() != col.size())
            throw InputError("expected " + std::to_string(col.size()) + " fields, found " +
                                 std::to_string(f.size()),
                             where(lineNo), "quote fields that contain commas");
        auto text = [&](const char* name) -> const std::string& { return f[col.at(name)]; };
        // A number in [lo, hi]; `optional` allows an empty cell (NaN).
        auto num = [&](const char* name, double lo, double hi, bool optional = false) {
            const std::string& s = text(name);
            if (s.empty()) {
                if (optional) return double(NAN);
                throw InputError(std::string("empty value in column '") + name + "'", where(lineNo),
                                 "fill it in");
            }
            double v = 0;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            if (ec != std::errc() || p != s.data() + s.size())
                throw InputError(std::string("'") + s + "' in column '" + name + "' is not a number",
                                 where(lineNo), "use a decimal point, no units");
            if (!(v >= lo && v <= hi))
                throw InputError(std::string(name) + " = " + s + " outside [" + std::to_string(lo) + ", " +
                                     std::to_string(hi) + "]",
                                 where(lineNo), "check the unit of the column");
            return v;
        };
        Archetype a;
        a.id = text("id");
        if (a.id.empty()) throw InputError("empty id", where(lineNo), "give every row an id");
        bool ok = false;
        a.use = useFromName(text("use"), ok);
        if (!ok)
            throw InputError(
                "unknown use '" + text("use") + "'", where(lineNo),
                "one of residential, mixed, commercial, industrial, public, religious, agricultural, "
                "garage, other");
        a.type = typeFromName(text("building_type"), ok);
        if (!ok)
            throw InputError("unknown building_type '" + text("building_type") + "'", where(lineNo),
                             "one of any, detached, terraced, apartment");
        a.yearFrom = int(num("year_from", 0, 9999));
        a.yearTo = int(num("year_to", 0, 9999));
        if (a.yearFrom > a.yearTo) throw InputError("year_from > year_to", where(lineNo), "swap them");
        a.uWall = num("u_wall", 0.01, 10);
        a.uRoof = num("u_roof", 0.01, 10);
        a.uFloor = num("u_floor", 0.01, 10);
        a.uWindow = num("u_window", 0.1, 10);
        a.bFloor = num("b_floor", 0, 1);
        a.thermalBridge = num("thermal_bridge_w_m2k", 0, 1);
        a.windowShare = num("window_share", 0, 0.95);
        a.gWindow = num("g_window", 0, 1);
        a.airChangeH = num("air_change_h", 0, 20);
        a.heatRecovery = num("heat_recovery", 0, 0.95);
        a.internalGainsWm2 = num("internal_gains_w_m2", 0, 200);
        a.setHeatC = num("set_heat_c", -20, 35);
        a.setCoolC = num("set_cool_c", -20, 50);
        if (a.setHeatC > a.setCoolC)
            throw InputError("set_heat_c above set_cool_c", where(lineNo), "swap them");
        a.cooled = num("cooled", 0, 1) >= 0.5;
        a.heatCapacityJm2K = num("heat_capacity_j_m2k", 10e3, 1e6);
        a.demandRefKWhm2a = num("demand_ref_kwh_m2a", 0, 2000, true);
        a.demandMinKWhm2a = num("demand_min_kwh_m2a", 0, 2000, true);
        a.demandMaxKWhm2a = num("demand_max_kwh_m2a", 0, 2000, true);
        if (a.demandMinKWhm2a > a.demandMaxKWhm2a)
            throw InputError("demand_min above demand_max", where(lineNo), "swap them");
        a.source = text("source");
        t.rows.push_back(std::move(a));
    }
    if (!haveHeader) throw InputError("no header line", file, "the first non-comment line names the columns");
    if (t.rows.empty()) throw InputError("no archetype rows", file, "add at least one row");
    return t;
}

Typology Typology::loadDefault() {
    return load(std::filesystem::path(CITYTWIN_ASSETS_DIR) / "energy" / "typology.csv");
}

MatchResult Typology::match(BuildingUse use, int yearBuilt, double storeys, double footprintM2,
                            double sharedWallShare) const {
    MatchResult r;
    if (use == BuildingUse::Unknown) use = kDefaultUse, r.useDefaulted = true;
    if (yearBuilt <= 0) yearBuilt = kDefaultYear, r.yearDefaulted = true;
    const BuildingType want = use == BuildingUse::Residential
                                  ? classifyResidential(storeys, footprintM2, sharedWallShare)
                                  : BuildingType::Any;

    // Best row: exact type beats `any`; a year inside the class beats the nearest class.
    const Archetype* best = nullptr;
    int bestScore = 0;
    for (const auto& a : rows) {
        if (a.use != use) continue;
        if (a.type != BuildingType::Any && a.type != want) continue;
        int yearDist = yearBuilt < a.yearFrom ? a.yearFrom - yearBuilt
                       : yearBuilt > a.yearTo ? yearBuilt - a.yearTo
                                              : 0;
        int score = yearDist * 2 + (a.type == want ? 0 : 1);
        if (!best || score < bestScore) best = &a, bestScore = score;
    }
    if (!best)
        throw InputError(std::string("no archetype for use '") + toString(use) + "'", "typology table",
                         "add rows for this use");
    r.archetype = best;
    return r;
}

} // namespace ct::energy
