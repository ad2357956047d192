#include "gis/CityGml.h"

#include "core/Error.h"

#include <cstdlib>
#include <cstring>
#include <pugixml.hpp>
#include <regex>

namespace ct::gis {

static std::string_view localName(const pugi::xml_node& n) {
    std::string_view name = n.name();
    auto colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

static pugi::xml_node child(const pugi::xml_node& n, std::string_view local) {
    for (auto c : n.children())
        if (localName(c) == local) return c;
    return {};
}

// All descendants with local name `local`, not descending into nested Buildings.
template <class F>
static void forEachDescendant(const pugi::xml_node& n, std::string_view local, F&& f) {
    for (auto c : n.children()) {
        if (c.type() != pugi::node_element) continue;
        if (localName(c) == local) f(c);
        else forEachDescendant(c, local, f);
    }
}

static std::vector<Vec3> parseRing(const pugi::xml_node& ringNode) {
    std::vector<Vec3> pts;
    std::vector<double> values;
    auto appendNumbers = [&](const char* text) {
        char* end = nullptr;
        for (const char* p = text;; p = end) {
            double v = std::strtod(p, &end);
            if (end == p) break;
            values.push_back(v);
        }
    };
    int dim = 3;
    if (auto posList = child(ringNode, "posList")) {
        if (auto d = posList.attribute("srsDimension")) dim = d.as_int(3);
        appendNumbers(posList.child_value());
    } else {
        for (auto c : ringNode.children())
            if (localName(c) == "pos") appendNumbers(c.child_value());
    }
    if (dim != 2 && dim != 3) dim = 3;
    for (size_t i = 0; i + dim <= values.size(); i += dim)
        pts.emplace_back(values[i], values[i + 1], dim == 3 ? values[i + 2] : 0.0);
    if (pts.size() > 1 && pts.front() == pts.back()) pts.pop_back();
    return pts;
}

static CityGmlPolygon parsePolygon(const pugi::xml_node& polygon) {
    CityGmlPolygon out;
    for (auto c : polygon.children()) {
        auto ln = localName(c);
        if (ln != "exterior" && ln != "interior") continue;
        auto ring = child(c, "LinearRing");
        if (!ring) continue;
        auto pts = parseRing(ring);
        if (ln == "exterior") out.rings.insert(out.rings.begin(), std::move(pts));
        else out.rings.push_back(std::move(pts));
    }
    return out;
}

static std::optional<double> number(const pugi::xml_node& n) {
    if (!n) return std::nullopt;
    const char* t = n.child_value();
    char* end = nullptr;
    double v = std::strtod(t, &end);
    if (end == t) return std::nullopt;
    return v;
}

// Surfaces of one Building or BuildingPart (its own boundedBy, not nested parts).
static void readSurfaces(const pugi::xml_node& b, CityGmlBuilding& out, std::vector<CityGmlPolygon>& solid) {
    for (auto c : b.children()) {
        auto ln = localName(c);
        if (ln == "boundedBy") {
            for (auto surface : c.children()) {
                auto kind = localName(surface);
                auto* target = kind == "GroundSurface" ? &out.ground : kind == "RoofSurface" ? &out.roofs : nullptr;
                if (!target) continue;
                forEachDescendant(surface, "Polygon", [&](const pugi::xml_node& p) {
                    target->push_back(parsePolygon(p));
                });
            }
        } else if (ln == "lod1Solid" || ln == "lod2Solid" || ln == "lod1MultiSurface") {
            forEachDescendant(c, "Polygon", [&](const pugi::xml_node& p) { solid.push_back(parsePolygon(p)); });
        } else if (ln == "lod0FootPrint") {
            forEachDescendant(c, "Polygon", [&](const pugi::xml_node& p) { out.ground.push_back(parsePolygon(p)); });
        }
    }
}

static void readBuilding(const pugi::xml_node& b, CityGmlBuilding& out) {
    if (out.id.empty()) out.id = b.attribute("gml:id").as_string();
    if (out.function.empty()) out.function = child(b, "function").child_value();
    if (out.roofType.empty()) out.roofType = child(b, "roofType").child_value();
    if (auto h = number(child(b, "measuredHeight")))
        out.measuredHeight = std::max(out.measuredHeight.value_or(0.0), *h);
    if (auto s = number(child(b, "storeysAboveGround"))) out.storeys = static_cast<int>(*s);
    if (auto y = number(child(b, "yearOfConstruction"))) out.yearOfConstruction = static_cast<int>(*y);

    std::vector<CityGmlPolygon> solid;
    size_t groundBefore = out.ground.size();
    readSurfaces(b, out, solid);
    // LoD1 (or a solid without boundary surfaces): the footprint is the lowest horizontal faces.
    if (out.ground.size() == groundBefore && !solid.empty()) {
        double zmin = 1e300;
        for (auto& p : solid)
            for (auto& v : p.rings.front()) zmin = std::min(zmin, v.z());
        for (auto& p : solid) {
            if (p.rings.empty()) continue;
            bool flatAtBottom = true;
            for (auto& v : p.rings.front()) flatAtBottom &= std::abs(v.z() - zmin) < 0.05;
            if (flatAtBottom) out.ground.push_back(p);
        }
    }
    for (auto c : b.children())
        if (localName(c) == "consistsOfBuildingPart")
            for (auto part : c.children())
                if (localName(part) == "BuildingPart") {
                    ++out.parts;
                    readBuilding(part, out);
                }
}

Crs crsFromSrsName(const std::string& srsName) {
    if (srsName.empty()) return {};
    static const std::regex adv(R"(ETRS89_UTM(\d\d))");
    std::smatch m;
    if (std::regex_search(srsName, m, adv)) return Crs::fromEpsg(25800 + std::stoi(m[1]));
    static const std::regex epsg(R"(EPSG(?::[0-9.]*)?:+(\d+))");
    if (std::regex_search(srsName, m, epsg)) {
        try {
            return Crs::fromEpsg(std::stoi(m[1]));
        } catch (const InputError&) {
            return {};
        }
    }
    return {};
}

CityGmlFile readCityGml(const std::filesystem::path& path) {
    pugi::xml_document doc;
    auto result = doc.load_file(path.c_str());
    if (!result)
        throw InputError(std::string("not well-formed XML: ") + result.description() + " at byte " +
                             std::to_string(result.offset),
                         path.string(), "the file may be truncated or corrupt");
    CityGmlFile file;
    auto root = doc.document_element();
    if (localName(root) != "CityModel")
        throw InputError("not a CityGML CityModel (root element '" + std::string(root.name()) + "')",
                         path.string());
    forEachDescendant(root, "Envelope", [&](const pugi::xml_node& e) {
        if (file.srsName.empty()) file.srsName = e.attribute("srsName").as_string();
    });
    file.crs = crsFromSrsName(file.srsName);
    for (auto member : root.children()) {
        if (localName(member) != "cityObjectMember") continue;
        for (auto obj : member.children()) {
            if (localName(obj) != "Building") continue;
            CityGmlBuilding b;
            readBuilding(obj, b);
            file.buildings.push_back(std::move(b));
        }
    }
    return file;
}

} // namespace ct::gis
