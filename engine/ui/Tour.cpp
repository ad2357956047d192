#include "ui/Tour.h"

#include "core/Error.h"
#include "core/I18n.h"
#include "gis/VectorRead.h"
#include "sim/YamlReader.h"
#include "ui/CityScene.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <ogrsf_frmts.h>
#include <spdlog/spdlog.h>

namespace ct::ui {

namespace fs = std::filesystem;

std::string LocalText::get() const {
    bool german = language() == Language::German;
    const std::string& first = german ? de : en;
    return first.empty() ? (german ? en : de) : first;
}

namespace {

constexpr double pi = 3.14159265358979323846;

// 6s⁵ − 15s⁴ + 10s³: starts and ends with zero speed and zero acceleration.
double smootherstep(double s) { return s * s * s * (s * (s * 6 - 15) + 10); }

class TourReader : public YamlReader {
public:
    TourReader(const fs::path& file, const CityModel& city)
        : YamlReader(file.string(), file.parent_path().empty() ? fs::path(".") : file.parent_path()), city(city) {}

    Tour read(const YAML::Node& root) const;

private:
    LocalText text(const YAML::Node& n, const std::string& key) const {
        if (n.IsScalar()) return {n.Scalar(), n.Scalar()};
        checkKeys(n, key, {"en", "de"});
        LocalText t;
        if (n["en"]) t.en = str(n["en"], key + ".en");
        if (n["de"]) t.de = str(n["de"], key + ".de");
        return t;
    }
    double seconds(const YAML::Node& n, const std::string& key) const {
        double s = duration(n, key);
        if (s < 0) fail(n, "'" + key + "' must not be negative");
        return s;
    }
    // [x, y] or [x, y, z] in the city's CRS → local; z from the terrain when missing.
    Vec3 place(const YAML::Node& n, const std::string& key) const {
        if (!n.IsSequence() || (n.size() != 2 && n.size() != 3)) fail(n, "'" + key + "' must be [x, y] or [x, y, z] in the city's CRS");
        Vec2 local = city.frame.toLocal(Vec2(number(n[0], key), number(n[1], key)));
        checkInside(n, key, local);
        return {local.x(), local.y(), n.size() == 3 ? number(n[2], key) : groundAt(local)};
    }
    void checkInside(const YAML::Node& n, const std::string& key, const Vec2& local) const {
        Box2 b = city.bounds();
        if (b.empty()) return;
        double margin = std::max(2000.0, (b.max - b.min).norm());
        if (local.x() < b.min.x() - margin || local.x() > b.max.x() + margin || local.y() < b.min.y() - margin ||
            local.y() > b.max.y() + margin)
            fail(n, fmt::format("'{}' lies far outside the city", key),
                 fmt::format("coordinates are in the city's CRS ({}), x east and y north", city.frame.crs.name()));
    }
    double groundAt(const Vec2& local) const {
        float z = city.terrain.empty() ? NAN : city.terrain.heightAt(local);
        return std::isnan(z) ? 0.0 : double(z);
    }
    Bookmark bookmark(const YAML::Node& n) const;
    void labelsFromLayer(const YAML::Node& n, std::vector<PlaceLabel>& out) const;

    const CityModel& city;
};

Bookmark TourReader::bookmark(const YAML::Node& n) const {
    checkKeys(n, "a bookmark", {"name", "look_at", "distance", "heading", "pitch", "camera"});
    Bookmark b;
    if (!n["name"]) fail(n, "a bookmark needs a 'name'");
    b.name = str(n["name"], "name");
    if (n["camera"] && n["look_at"]) fail(n, "give either 'camera' or 'look_at', not both");
    if (auto c = n["camera"]) {
        if (!c.IsSequence() || c.size() != 5) fail(c, "'camera' must be [x, y, z, heading, pitch]", "as printed by citytwin render");
        Vec2 local = city.frame.toLocal(Vec2(number(c[0], "camera"), number(c[1], "camera")));
        checkInside(c, "camera", local);
        b.camera.eye = Vec3(local.x(), local.y(), number(c[2], "camera"));
        b.camera.yawDeg = number(c[3], "camera");
        b.camera.pitchDeg = number(c[4], "camera");
    } else if (auto l = n["look_at"]) {
        double distance = n["distance"] ? number(n["distance"], "distance") : 400;
        if (distance <= 0) fail(n["distance"], "'distance' must be positive");
        b.camera = lookAt(place(l, "look_at"), distance, n["heading"] ? number(n["heading"], "heading") : 20,
                          n["pitch"] ? number(n["pitch"], "pitch") : -35);
    } else {
        fail(n, fmt::format("bookmark '{}' needs 'look_at' (a point) or 'camera'", b.name),
             "e.g. look_at: [475700, 5734100], distance: 500, heading: 20, pitch: -35");
    }
    if (!(b.camera.pitchDeg > -89.5 && b.camera.pitchDeg < 89.5)) fail(n, "'pitch' must lie between -89.5 and 89.5 degrees");
    return b;
}

void TourReader::labelsFromLayer(const YAML::Node& n, std::vector<PlaceLabel>& out) const {
    fs::path file = path(n["layer"], "layer");
    if (!n["field"]) fail(n, "a label layer needs 'field' (the attribute holding the text)");
    std::string field = str(n["field"], "field");
    gis::VectorFile vf(file);
    OGRLayer& layer = vf.layer(0);
    Crs crs = gis::layerCrs(layer, file.string(), &city.frame.crs);
    Reprojector toCity(crs, city.frame.crs);
    size_t skipped = 0, added = 0;
    layer.ResetReading();
    for (auto& feature : layer) {
        auto value = gis::FeatureAttributes(*feature).get(field);
        const OGRGeometry* g = feature->GetGeometryRef();
        OGRPoint centre;
        if (!value || value->empty() || !g || g->IsEmpty() || g->Centroid(&centre) != OGRERR_NONE) {
            ++skipped;
            continue;
        }
        Vec2 local = city.frame.toLocal(toCity.apply(Vec2(centre.getX(), centre.getY())));
        out.push_back({{*value, *value}, {local.x(), local.y(), groundAt(local)}});
        ++added;
    }
    spdlog::info("{}: {} labels from '{}' ({} features without text or geometry skipped)", file.string(), added, field, skipped);
}

Tour TourReader::read(const YAML::Node& root) const {
    checkKeys(root, "the tour", {"title", "subtitle", "split", "light_at", "baseline", "variant", "bookmarks", "stops", "labels"});
    Tour t;
    if (root["title"]) t.title = text(root["title"], "title");
    if (root["subtitle"]) t.subtitle = text(root["subtitle"], "subtitle");
    if (root["baseline"]) t.baselineName = text(root["baseline"], "baseline");
    else t.baselineName = {"baseline", "heute"};
    if (root["variant"]) t.variantName = text(root["variant"], "variant");
    else t.variantName = {"variant", "Variante"};
    if (auto s = root["split"]) {
        try {
            t.split = s.as<bool>();
        } catch (const YAML::Exception&) {
            fail(s, "'split' must be true or false");
        }
    }
    if (auto l = root["light_at"]) {
        t.lightAt = parseIsoInstant(str(l, "light_at"));
        if (!t.lightAt) fail(l, "'light_at' must be an ISO instant with offset", "e.g. 2026-02-03T12:00:00+01:00");
    }
    auto bookmarks = root["bookmarks"];
    if (!bookmarks || !bookmarks.IsSequence() || bookmarks.size() == 0)
        fail(bookmarks ? bookmarks : root, "the tour needs 'bookmarks': a list of named views");
    for (auto b : bookmarks) {
        t.bookmarks.push_back(bookmark(b));
        if (std::count_if(t.bookmarks.begin(), t.bookmarks.end(), [&](auto& x) { return x.name == t.bookmarks.back().name; }) > 1)
            fail(b, fmt::format("bookmark '{}' is defined twice", t.bookmarks.back().name));
    }
    if (auto stops = root["stops"]) {
        if (!stops.IsSequence()) fail(stops, "'stops' must be a list");
        for (auto s : stops) {
            checkKeys(s, "a stop", {"bookmark", "glide", "hold", "sim_time", "caption"});
            TourStop stop;
            if (!s["bookmark"]) fail(s, "a stop needs 'bookmark' (a bookmark's name)");
            std::string name = str(s["bookmark"], "bookmark");
            auto index = t.find(name);
            if (!index) {
                std::string names;
                for (auto& b : t.bookmarks) names += (names.empty() ? "" : ", ") + b.name;
                fail(s["bookmark"], fmt::format("no bookmark named '{}'", name), "bookmarks: " + names);
            }
            stop.bookmark = *index;
            if (s["glide"]) stop.glideS = seconds(s["glide"], "glide");
            if (s["hold"]) stop.holdS = seconds(s["hold"], "hold");
            if (auto st = s["sim_time"]) {
                if (!st.IsSequence() || st.size() != 2) fail(st, "'sim_time' must be [from, to]", "e.g. [0, 2h]: seconds or durations after the start");
                stop.simTime = std::make_pair(seconds(st[0], "sim_time"), seconds(st[1], "sim_time"));
            }
            if (s["caption"]) stop.caption = text(s["caption"], "caption");
            t.stops.push_back(stop);
        }
    } else {
        for (size_t i = 0; i < t.bookmarks.size(); ++i) t.stops.push_back(TourStop{i});
    }
    if (t.stops.empty()) fail(root["stops"], "the tour has no stops");
    t.stops.front().glideS = 0; // the tour starts at its first stop
    if (t.duration() <= 0) fail(root["stops"], "the tour lasts 0 s", "give the stops 'hold' or 'glide' durations");
    if (auto labels = root["labels"]) {
        if (!labels.IsSequence()) fail(labels, "'labels' must be a list");
        for (auto l : labels) {
            checkKeys(l, "a label", {"text", "at", "layer", "field"});
            if (l["layer"]) {
                labelsFromLayer(l, t.labels);
                continue;
            }
            if (!l["text"] || !l["at"]) fail(l, "a label needs 'text' and 'at' (or 'layer' and 'field')");
            t.labels.push_back({text(l["text"], "text"), place(l["at"], "at")});
        }
    }
    return t;
}

double wrapDegrees(double d) { return d - 360 * std::floor((d + 180) / 360); } // → [−180, 180)

} // namespace

double Tour::arrival(size_t stop) const {
    double t = 0;
    for (size_t i = 0; i < stop && i < stops.size(); ++i) t += stops[i].holdS + (i + 1 < stops.size() ? stops[i + 1].glideS : 0);
    return t;
}

double Tour::duration() const {
    double t = 0;
    for (size_t i = 0; i < stops.size(); ++i) t += (i ? stops[i].glideS : 0) + stops[i].holdS;
    return t;
}

std::optional<size_t> Tour::find(const std::string& name) const {
    for (size_t i = 0; i < bookmarks.size(); ++i)
        if (bookmarks[i].name == name) return i;
    return std::nullopt;
}

TourFrame Tour::at(double t) const {
    TourFrame f;
    if (stops.empty()) return f;
    t = std::clamp(t, 0.0, duration());
    // Simulation time carried over from earlier stops' ranges.
    std::optional<double> carried;
    double start = 0; // when stop i's segment (glide, then hold) begins
    for (size_t i = 0; i < stops.size(); ++i) {
        const TourStop& s = stops[i];
        double glideS = i ? s.glideS : 0, end = start + glideS + s.holdS;
        bool last = i + 1 == stops.size();
        if (t < end || last) {
            double local = t - start;
            f.stop = i;
            f.holding = local >= glideS;
            const render::Camera& to = bookmarks[s.bookmark].camera;
            f.camera = f.holding || i == 0 ? to : glide(bookmarks[stops[i - 1].bookmark].camera, to, smootherstep(local / glideS));
            if (s.simTime) {
                double segment = glideS + s.holdS, u = segment > 0 ? std::clamp(local / segment, 0.0, 1.0) : 1.0;
                f.simTimeS = s.simTime->first + (s.simTime->second - s.simTime->first) * u;
            } else {
                f.simTimeS = carried;
            }
            return f;
        }
        if (s.simTime) carried = s.simTime->second;
        start = end;
    }
    return f;
}

render::Camera glide(const render::Camera& a, const render::Camera& b, double s) {
    if (s <= 0) return a;
    if (s >= 1) return b;
    render::Camera c = b;
    c.eye = a.eye + (b.eye - a.eye) * s;
    // Rise a little on long flights so the viewer keeps the overview (at most 300 m).
    double horizontal = (b.eye - a.eye).head<2>().norm();
    c.eye.z() += std::min(0.2 * horizontal, 300.0) * std::sin(pi * s);
    c.yawDeg = wrapDegrees(a.yawDeg + wrapDegrees(b.yawDeg - a.yawDeg) * s);
    c.pitchDeg = a.pitchDeg + (b.pitchDeg - a.pitchDeg) * s;
    c.fovYDeg = a.fovYDeg + (b.fovYDeg - a.fovYDeg) * s;
    return c;
}

Tour loadTour(const fs::path& file, const CityModel& city) {
    if (!fs::exists(file)) throw InputError("tour file not found", file.string(), "give the path of a tour YAML (docs/presentation.md)");
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    Tour t = TourReader(file, city).read(parseYaml(text.str(), file.string()));
    t.file = file;
    return t;
}

void saveTour(const Tour& tour, const fs::path& file, const CityModel& city) {
    YAML::Emitter out;
    auto local = [](const LocalText& t) {
        YAML::Node n;
        if (t.en == t.de) return YAML::Node(t.en);
        if (!t.en.empty()) n["en"] = t.en;
        if (!t.de.empty()) n["de"] = t.de;
        return n;
    };
    YAML::Node root;
    if (!tour.title.empty()) root["title"] = local(tour.title);
    if (!tour.subtitle.empty()) root["subtitle"] = local(tour.subtitle);
    root["split"] = tour.split;
    if (tour.lightAt) root["light_at"] = tour.lightAt->iso();
    root["baseline"] = local(tour.baselineName);
    root["variant"] = local(tour.variantName);
    for (const Bookmark& b : tour.bookmarks) {
        YAML::Node n;
        n["name"] = b.name;
        Vec2 w = city.frame.toWorld(b.camera.eye.head<2>());
        YAML::Node cam;
        for (double v : {std::round(w.x() * 10) / 10, std::round(w.y() * 10) / 10, std::round(b.camera.eye.z() * 10) / 10,
                         std::round(b.camera.yawDeg * 10) / 10, std::round(b.camera.pitchDeg * 10) / 10})
            cam.push_back(v);
        cam.SetStyle(YAML::EmitterStyle::Flow);
        n["camera"] = cam;
        root["bookmarks"].push_back(n);
    }
    for (const TourStop& s : tour.stops) {
        YAML::Node n;
        n["bookmark"] = tour.bookmarks[s.bookmark].name;
        n["glide"] = s.glideS;
        n["hold"] = s.holdS;
        if (s.simTime) {
            YAML::Node st;
            st.push_back(s.simTime->first);
            st.push_back(s.simTime->second);
            st.SetStyle(YAML::EmitterStyle::Flow);
            n["sim_time"] = st;
        }
        if (!s.caption.empty()) n["caption"] = local(s.caption);
        root["stops"].push_back(n);
    }
    for (const PlaceLabel& l : tour.labels) {
        YAML::Node n;
        n["text"] = local(l.text);
        Vec2 w = city.frame.toWorld(l.position.head<2>());
        YAML::Node at;
        at.push_back(w.x());
        at.push_back(w.y());
        at.push_back(l.position.z());
        at.SetStyle(YAML::EmitterStyle::Flow);
        n["at"] = at;
        root["labels"].push_back(n);
    }
    out << root;
    fs::path tmp = file;
    tmp += ".tmp";
    {
        std::ofstream f(tmp);
        f << "# citytwin tour (docs/presentation.md)\n" << out.c_str() << "\n";
        if (!f) throw InputError("cannot write the tour", tmp.string(), "check the folder exists and is writable");
    }
    fs::rename(tmp, file); // the old file stays whole if writing failed
}

} // namespace ct::ui
