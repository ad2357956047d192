#include "gis/VectorRead.h"

#include "core/Error.h"
#include "gis/Gdal.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <ogrsf_frmts.h>
#include <regex>

namespace ct::gis {

VectorFile::VectorFile(const std::filesystem::path& path)
    : filePath(path), ds(openDataset(path, GDAL_OF_VECTOR)) {
    if (ds->GetLayerCount() == 0)
        throw InputError("file has no vector layers", path.string(),
                         "is it a raster? terrain goes under city.terrain");
}

std::string VectorFile::driverName() const {
    return ds->GetDriver() ? ds->GetDriver()->GetDescription() : "";
}

int VectorFile::layerCount() const { return ds->GetLayerCount(); }

std::vector<std::string> VectorFile::layerNames() const {
    std::vector<std::string> names;
    for (int i = 0; i < ds->GetLayerCount(); ++i) names.push_back(ds->GetLayer(i)->GetName());
    return names;
}

OGRLayer& VectorFile::layer(const std::string& name) const {
    OGRLayer* l = ds->GetLayerByName(name.c_str());
    if (!l)
        throw InputError("no layer '" + name + "'", filePath.string(),
                         "available layers: " + fmt::format("{}", fmt::join(layerNames(), ", ")));
    return *l;
}

OGRLayer& VectorFile::layer(int index) const { return *ds->GetLayer(index); }

Crs layerCrs(OGRLayer& layer, const std::string& where, const Crs* assumed) {
    if (const OGRSpatialReference* srs = layer.GetSpatialRef()) return Crs::fromSpatialReference(*srs);
    if (assumed && !assumed->empty()) return *assumed;
    throw InputError("layer '" + std::string(layer.GetName()) + "' has no coordinate system", where,
                     "set city.assume_crs (e.g. EPSG:25832) in the scenario or pass "
                     "--assume-crs to citytwin info");
}

Box2 layerExtent(OGRLayer& layer, const Crs& from, const Crs& to) {
    Box2 box;
    OGREnvelope env;
    if (layer.GetExtent(&env, TRUE) != OGRERR_NONE) {
        // Some drivers (OSM) know no extent up front: take it from the features.
        bool any = false;
        layer.ResetReading();
        for (auto& f : layer)
            if (const OGRGeometry* g = f->GetGeometryRef(); g && !g->IsEmpty()) {
                OGREnvelope e;
                g->getEnvelope(&e);
                env.Merge(e);
                any = true;
            }
        layer.ResetReading();
        if (!any) return box;
    }
    Reprojector r(from, to);
    // Corners and edge midpoints: enough for the centre of a city-sized extent.
    double xs[8] = {env.MinX, env.MaxX, env.MinX, env.MaxX, (env.MinX + env.MaxX) / 2,
                    (env.MinX + env.MaxX) / 2, env.MinX, env.MaxX};
    double ys[8] = {env.MinY, env.MinY, env.MaxY, env.MaxY, env.MinY, env.MaxY,
                    (env.MinY + env.MaxY) / 2, (env.MinY + env.MaxY) / 2};
    if (!r.apply(xs, ys, 8)) return box;
    for (int i = 0; i < 8; ++i) box.extend(Vec2(xs[i], ys[i]));
    return box;
}

std::unordered_map<std::string, std::string> parseHstore(std::string_view s) {
    std::unordered_map<std::string, std::string> out;
    size_t i = 0;
    auto readQuoted = [&](std::string& dst) {
        while (i < s.size() && s[i] != '"') ++i;
        if (i >= s.size()) return false;
        ++i;
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < s.size()) ++i;
            dst += s[i++];
        }
        ++i;
        return true;
    };
    while (i < s.size()) {
        std::string key, value;
        if (!readQuoted(key)) break;
        while (i < s.size() && (s[i] == '=' || s[i] == '>' || s[i] == ' ')) ++i;
        if (!readQuoted(value)) break;
        out.emplace(std::move(key), std::move(value));
    }
    return out;
}

std::optional<std::string> FeatureAttributes::get(std::string_view name) const {
    std::string n(name);
    int idx = feature.GetFieldIndex(n.c_str());
    if (idx >= 0) {
        if (!feature.IsFieldSetAndNotNull(idx)) return std::nullopt;
        std::string v = feature.GetFieldAsString(idx);
        if (v.empty()) return std::nullopt;
        return v;
    }
    if (!tagsParsed) {
        tagsParsed = true;
        int t = feature.GetFieldIndex("other_tags");
        if (t >= 0 && feature.IsFieldSetAndNotNull(t)) tags = parseHstore(feature.GetFieldAsString(t));
    }
    auto it = tags.find(n);
    if (it == tags.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

std::optional<std::string> FeatureAttributes::first(const std::vector<std::string>& names) const {
    for (const auto& n : names)
        if (auto v = get(n)) return v;
    return std::nullopt;
}

static std::optional<std::string> ringFrom(const OGRSimpleCurve& curve, Ring& ring) {
    const int n = curve.getNumPoints();
    if (n < 4) return fmt::format("ring has {} points, needs at least 4 (closed)", n);
    if (curve.getX(0) != curve.getX(n - 1) || curve.getY(0) != curve.getY(n - 1))
        return std::string("unclosed ring (first and last point differ)");
    ring.resize(static_cast<size_t>(n - 1));
    for (int i = 0; i < n - 1; ++i) ring[static_cast<size_t>(i)] = Vec2(curve.getX(i), curve.getY(i));
    return std::nullopt;
}

std::optional<std::string> extractPolygons(const OGRGeometry* g, std::vector<Rings>& out) {
    if (!g || g->IsEmpty()) return std::string("empty geometry");
    std::unique_ptr<OGRGeometry> linear;
    if (g->hasCurveGeometry()) {
        linear.reset(g->getLinearGeometry());
        g = linear.get();
    }
    switch (wkbFlatten(g->getGeometryType())) {
    case wkbPolygon: {
        auto* poly = g->toPolygon();
        Rings rings;
        for (int k = -1; k < poly->getNumInteriorRings(); ++k) {
            const OGRLinearRing* r = k < 0 ? poly->getExteriorRing() : poly->getInteriorRing(k);
            if (!r) return std::string("polygon without exterior ring");
            Ring ring;
            if (auto problem = ringFrom(*r, ring)) return problem;
            rings.push_back(std::move(ring));
        }
        out.push_back(std::move(rings));
        return std::nullopt;
    }
    case wkbMultiPolygon:
    case wkbGeometryCollection:
    case wkbMultiSurface:
    case wkbPolyhedralSurface:
    case wkbTIN: {
        auto* coll = dynamic_cast<const OGRGeometryCollection*>(g);
        if (!coll) return std::string("unsupported surface type ") + g->getGeometryName();
        bool any = false;
        for (const OGRGeometry* part : *coll) {
            auto t = wkbFlatten(part->getGeometryType());
            if (t != wkbPolygon && t != wkbMultiPolygon && t != wkbTriangle) continue;
            if (auto problem = extractPolygons(part, out)) return problem;
            any = true;
        }
        if (!any) return std::string("geometry collection without polygons");
        return std::nullopt;
    }
    default:
        return std::string("not a polygon but ") + g->getGeometryName();
    }
}

std::optional<std::string> extractLines(const OGRGeometry* g, std::vector<Ring>& out) {
    if (!g || g->IsEmpty()) return std::string("empty geometry");
    std::unique_ptr<OGRGeometry> linear;
    if (g->hasCurveGeometry()) {
        linear.reset(g->getLinearGeometry());
        g = linear.get();
    }
    auto t = wkbFlatten(g->getGeometryType());
    if (t == wkbLineString) {
        auto* ls = g->toLineString();
        Ring line(static_cast<size_t>(ls->getNumPoints()));
        for (int i = 0; i < ls->getNumPoints(); ++i)
            line[static_cast<size_t>(i)] = Vec2(ls->getX(i), ls->getY(i));
        out.push_back(std::move(line));
        return std::nullopt;
    }
    if (t == wkbMultiLineString || t == wkbGeometryCollection) {
        for (const OGRGeometry* part : *g->toGeometryCollection())
            if (auto problem = extractLines(part, out)) return problem;
        return std::nullopt;
    }
    return std::string("not a line but ") + g->getGeometryName();
}

bool toLocal(std::vector<Ring>& rings, const Reprojector& reprojector, const Vec2& origin) {
    for (Ring& ring : rings) {
        std::vector<double> xs(ring.size()), ys(ring.size());
        for (size_t i = 0; i < ring.size(); ++i) {
            xs[i] = ring[i].x();
            ys[i] = ring[i].y();
        }
        if (!reprojector.apply(xs.data(), ys.data(), ring.size())) return false;
        for (size_t i = 0; i < ring.size(); ++i) {
            if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) return false;
            ring[i] = Vec2(xs[i] - origin.x(), ys[i] - origin.y());
        }
    }
    return true;
}

std::optional<double> parseLength(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c == ',') c = '.';
    static const std::regex re(R"(^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(m|ft|')?\s*$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) return std::nullopt;
    double v = std::stod(m[1]);
    if (m[2] == "ft" || m[2] == "'") v *= 0.3048;
    return v;
}

std::optional<int> parseYear(std::string_view text) {
    size_t i = 0;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '-')
        ++i; // skip "~", "ca. ", "before " etc.
    int year = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), year);
    if (ec != std::errc() || ptr - (text.data() + i) != 4) return std::nullopt;
    return year;
}

} // namespace ct::gis
