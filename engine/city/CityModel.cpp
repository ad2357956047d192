#include "city/CityModel.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace ct {

float Terrain::heightAt(const Vec2& p) const {
    if (empty()) return NAN;
    // Continuous cell coordinates with cell centres at integers.
    double fx = (p.x() - originX) / cellSize - 0.5;
    double fy = (originY - p.y()) / cellSize - 0.5;
    if (fx < -0.5 || fy < -0.5 || fx > width - 0.5 || fy > height - 0.5) return NAN;
    fx = std::clamp(fx, 0.0, static_cast<double>(width - 1));
    fy = std::clamp(fy, 0.0, static_cast<double>(height - 1));
    int c0 = std::min(static_cast<int>(fx), width - 1), r0 = std::min(static_cast<int>(fy), height - 1);
    int c1 = std::min(c0 + 1, width - 1), r1 = std::min(r0 + 1, height - 1);
    double tx = fx - c0, ty = fy - r0;
    double h = (1 - tx) * (1 - ty) * at(c0, r0) + tx * (1 - ty) * at(c1, r0) +
               (1 - tx) * ty * at(c0, r1) + tx * ty * at(c1, r1);
    return static_cast<float>(h);
}

Box2 Terrain::bounds() const {
    Box2 b;
    if (empty()) return b;
    b.extend(Vec2(originX, originY - height * cellSize));
    b.extend(Vec2(originX + width * cellSize, originY));
    return b;
}

int AttributeTable::column(const std::string& name) const {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

void AttributeTable::addRow(const std::vector<std::pair<std::string, std::string>>& values, size_t row) {
    for (auto& col : columns) col.resize(row + 1);
    for (const auto& [name, value] : values) {
        int k = column(name);
        if (k < 0) {
            names.push_back(name);
            columns.emplace_back(row + 1);
            k = static_cast<int>(names.size()) - 1;
        }
        columns[static_cast<size_t>(k)][row] = value;
    }
}

const char* toString(BuildingUse use) {
    switch (use) {
    case BuildingUse::Residential: return "residential";
    case BuildingUse::Mixed: return "mixed";
    case BuildingUse::Commercial: return "commercial";
    case BuildingUse::Industrial: return "industrial";
    case BuildingUse::Public: return "public";
    case BuildingUse::Religious: return "religious";
    case BuildingUse::Agricultural: return "agricultural";
    case BuildingUse::Garage: return "garage";
    case BuildingUse::Other: return "other";
    case BuildingUse::Unknown: return "unknown";
    }
    return "unknown";
}

static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

BuildingUse parseBuildingUse(const std::string& valueIn) {
    std::string v = lower(valueIn);
    if (v.empty() || v == "yes" || v == "building") return BuildingUse::Unknown;
    // ALKIS Gebäudefunktion (bldg:function in NRW CityGML: "31001_1000"): the 4-digit code's
    // thousands group says the use (1xxx residential, 2xxx commercial/industrial, 3xxx public).
    if (v.rfind("31001_", 0) == 0 && v.size() >= 10) v = v.substr(6);
    if (v.size() == 4 && std::all_of(v.begin(), v.end(), ::isdigit)) {
        int code = std::stoi(v);
        if (code == 1100 || code == 1120 || code == 1130) return BuildingUse::Mixed;
        if (code >= 1000 && code < 2000) return BuildingUse::Residential;
        if (code == 2463 || code == 2460 || code == 2461 || code == 2462) return BuildingUse::Garage;
        if ((code >= 2700 && code < 2800)) return BuildingUse::Agricultural;
        if (code >= 2100 && code < 2200) return BuildingUse::Industrial;
        if (code >= 2500 && code < 2600) return BuildingUse::Industrial; // supply/utilities
        if (code >= 2000 && code < 3000) return BuildingUse::Commercial;
        if (code == 3040 || code == 3041 || code == 3042 || code == 3043) return BuildingUse::Religious;
        if (code >= 3000 && code < 4000) return BuildingUse::Public;
        return BuildingUse::Other;
    }
    static const std::unordered_map<std::string, BuildingUse> words = {
        {"residential", BuildingUse::Residential}, {"house", BuildingUse::Residential},
        {"detached", BuildingUse::Residential}, {"semidetached_house", BuildingUse::Residential},
        {"terrace", BuildingUse::Residential}, {"apartments", BuildingUse::Residential},
        {"dormitory", BuildingUse::Residential}, {"bungalow", BuildingUse::Residential},
        {"wohnen", BuildingUse::Residential}, {"wohnhaus", BuildingUse::Residential},
        {"wohngebäude", BuildingUse::Residential}, {"mixed", BuildingUse::Mixed},
        {"commercial", BuildingUse::Commercial}, {"retail", BuildingUse::Commercial},
        {"office", BuildingUse::Commercial}, {"supermarket", BuildingUse::Commercial},
        {"hotel", BuildingUse::Commercial}, {"kiosk", BuildingUse::Commercial},
        {"industrial", BuildingUse::Industrial}, {"warehouse", BuildingUse::Industrial},
        {"factory", BuildingUse::Industrial}, {"manufacture", BuildingUse::Industrial},
        {"public", BuildingUse::Public}, {"school", BuildingUse::Public},
        {"kindergarten", BuildingUse::Public}, {"university", BuildingUse::Public},
        {"hospital", BuildingUse::Public}, {"civic", BuildingUse::Public},
        {"government", BuildingUse::Public}, {"townhall", BuildingUse::Public},
        {"fire_station", BuildingUse::Public}, {"sports_hall", BuildingUse::Public},
        {"train_station", BuildingUse::Public}, {"church", BuildingUse::Religious},
        {"chapel", BuildingUse::Religious}, {"mosque", BuildingUse::Religious},
        {"religious", BuildingUse::Religious}, {"synagogue", BuildingUse::Religious},
        {"farm", BuildingUse::Agricultural}, {"barn", BuildingUse::Agricultural},
        {"farm_auxiliary", BuildingUse::Agricultural}, {"stable", BuildingUse::Agricultural},
        {"greenhouse", BuildingUse::Agricultural}, {"garage", BuildingUse::Garage},
        {"garages", BuildingUse::Garage}, {"carport", BuildingUse::Garage},
        {"shed", BuildingUse::Garage}, {"parking", BuildingUse::Garage},
    };
    auto it = words.find(v);
    return it == words.end() ? BuildingUse::Other : it->second;
}

const char* toString(HeightSource s) {
    switch (s) {
    case HeightSource::Attribute: return "attribute";
    case HeightSource::Levels: return "levels";
    case HeightSource::Default: return "default";
    }
    return "default";
}

double Buildings::footprintArea(size_t i) const {
    double a = 0;
    for (uint32_t p = partStart[i]; p < partStart[i + 1]; ++p) a += footprints.area(p);
    return a;
}

Vec2 Buildings::centroid(size_t i) const {
    Vec2 c = Vec2::Zero();
    double a = 0;
    for (uint32_t p = partStart[i]; p < partStart[i + 1]; ++p) {
        double ap = footprints.area(p);
        c += ap * footprints.centroid(p);
        a += ap;
    }
    return a > 0 ? Vec2(c / a) : footprints.centroid(partStart[i]);
}

const char* toString(RoadClass c) {
    static const char* names[] = {"motorway", "trunk", "primary", "secondary", "tertiary",
                                  "unclassified", "residential", "living_street", "service",
                                  "track", "cycleway", "footway", "path", "pedestrian", "steps",
                                  "other"};
    return names[static_cast<int>(c)];
}

void RoadNetwork::buildAdjacency() {
    outStart.assign(nodePos.size() + 1, 0);
    for (NodeId f : from) ++outStart[f.value + 1];
    for (size_t n = 0; n < nodePos.size(); ++n) outStart[n + 1] += outStart[n];
    outEdges.resize(from.size());
    std::vector<uint32_t> fill(outStart.begin(), outStart.end() - 1);
    for (uint32_t e = 0; e < from.size(); ++e) outEdges[fill[from[e].value]++] = EdgeId(e);
}

double RoadNetwork::totalLengthKm() const {
    double m = 0;
    for (size_t e = 0; e < edgeCount(); ++e)
        if (!reverse[e].valid() || reverse[e].value > e) m += lengthM[e];
    return m / 1000.0;
}

const std::vector<LandUseClassInfo>& landUseTable() {
    // Sealed share and Manning's n of the ground between buildings (buildings themselves are
    // obstacles in the flood model). n after Chow (1959) and the HEC-RAS 2D land-cover table.
    static const std::vector<LandUseClassInfo> table = {
        {"residential", 0.45f, 0.050f}, {"commercial", 0.85f, 0.025f},
        {"retail", 0.85f, 0.025f},      {"industrial", 0.80f, 0.025f},
        {"farmland", 0.02f, 0.040f},    {"meadow", 0.01f, 0.035f},
        {"grass", 0.02f, 0.030f},       {"park", 0.10f, 0.035f},
        {"forest", 0.00f, 0.120f},      {"orchard", 0.02f, 0.060f},
        {"allotments", 0.10f, 0.050f},  {"cemetery", 0.15f, 0.040f},
        {"recreation_ground", 0.10f, 0.030f}, {"parking", 0.95f, 0.015f},
        {"construction", 0.30f, 0.030f}, {"railway", 0.30f, 0.035f},
        {"water", 0.00f, 0.030f},       {"road", 1.00f, 0.020f},
        {"other", 0.30f, 0.040f},
    };
    return table;
}

const LandUseClassInfo& landUseClass(const std::string& nameIn) {
    static const std::unordered_map<std::string, std::string> aliases = {
        {"village_green", "grass"}, {"wood", "forest"}, {"scrub", "meadow"},
        {"heath", "meadow"}, {"grassland", "meadow"}, {"wetland", "meadow"},
        {"farmyard", "farmland"}, {"vineyard", "orchard"}, {"garden", "park"},
        {"playground", "park"}, {"pitch", "recreation_ground"}, {"sports_centre", "recreation_ground"},
        {"greenfield", "construction"}, {"brownfield", "construction"},
        {"basin", "water"}, {"reservoir", "water"}, {"education", "commercial"},
        {"religious", "residential"}, {"military", "industrial"}, {"quarry", "industrial"},
        {"landfill", "industrial"}, {"plant_nursery", "farmland"}, {"greenhouse_horticulture", "farmland"},
    };
    std::string name = lower(nameIn);
    if (auto it = aliases.find(name); it != aliases.end()) name = it->second;
    const auto& table = landUseTable();
    for (const auto& row : table)
        if (name == row.name) return row;
    return table.back();
}

Box2 CityModel::bounds() const {
    Box2 b = terrain.bounds();
    for (const Vec2& p : buildings.footprints.points) b.extend(p);
    for (const Vec2& p : roads.nodePos) b.extend(p);
    for (const Vec2& p : water.areas.points) b.extend(p);
    return b;
}

} // namespace ct
