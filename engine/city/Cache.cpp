#include "city/Cache.h"

#include "core/Hash.h"

#include <Eigen/Core>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <spdlog/spdlog.h>
#include <type_traits>

namespace ct {

namespace fs = std::filesystem;

// Bump when the layout of CityModel or the import rules change.
static constexpr uint32_t kCacheFormat = 1;
static constexpr char kMagic[8] = {'C', 'T', 'C', 'I', 'T', 'Y', '\0', '\1'};

std::string cacheKey(const CityConfig& c) {
    std::string text = fmt::format("format={} version={} crs={} assume={} storey={} default={} max={}\n",
                                   kCacheFormat, CITYTWIN_VERSION, c.crs, c.assumeCrs, c.storeyHeightM,
                                   c.defaultHeightM, c.maxHeightM);
    auto sources = [&](const char* kind, const std::vector<LayerSource>& list) {
        for (const auto& s : list)
            text += fmt::format("{}={}|{}|{}\n", kind, fs::absolute(s.path).string(), s.layer, s.where);
    };
    sources("buildings", c.buildings);
    sources("roads", c.roads);
    sources("water", c.water);
    sources("landuse", c.landuse);
    for (auto& t : c.terrain) text += "terrain=" + fs::absolute(t).string() + "\n";
    if (!c.osm.empty()) text += "osm=" + fs::absolute(c.osm).string() + "\n";
    for (auto& [role, name] : c.attributes) text += "attr " + role + "=" + name + "\n";
    // A changed file changes its size or modification time.
    for (const auto& f : c.files()) {
        std::error_code ec;
        auto size = fs::file_size(f, ec);
        auto mtime = fs::last_write_time(f, ec).time_since_epoch().count();
        text += fmt::format("file={} size={} mtime={}\n", fs::absolute(f).string(), size, mtime);
    }
    return sha256Text(text).substr(0, 32);
}

namespace {

class Writer {
public:
    explicit Writer(std::ostream& out) : out(out) {}
    template <class T>
    void pod(const T& v) {
        static_assert(std::is_trivially_copyable_v<T> || std::is_base_of_v<Eigen::MatrixBase<T>, T>);
        out.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
    template <class T>
    void vec(const std::vector<T>& v) {
        pod(static_cast<uint64_t>(v.size()));
        if constexpr (std::is_same_v<T, std::string>) {
            for (const auto& s : v) str(s);
        } else {
            static_assert(std::is_trivially_copyable_v<T> || std::is_base_of_v<Eigen::MatrixBase<T>, T>);
            out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
        }
    }
    void str(const std::string& s) {
        pod(static_cast<uint32_t>(s.size()));
        out.write(s.data(), static_cast<std::streamsize>(s.size()));
    }

private:
    std::ostream& out;
};

class Reader {
public:
    Reader(const std::string& data, size_t start) : data(data), pos(start) {}
    template <class T>
    void pod(T& v) {
        need(sizeof v);
        std::memcpy(static_cast<void*>(&v), data.data() + pos, sizeof v);
        pos += sizeof v;
    }
    template <class T>
    void vec(std::vector<T>& v) {
        uint64_t n = 0;
        pod(n);
        if constexpr (std::is_same_v<T, std::string>) {
            if (n > data.size()) throw std::runtime_error("corrupt cache");
            v.resize(n);
            for (auto& s : v) str(s);
        } else {
            need(n * sizeof(T));
            v.resize(n);
            std::memcpy(static_cast<void*>(v.data()), data.data() + pos, n * sizeof(T));
            pos += n * sizeof(T);
        }
    }
    void str(std::string& s) {
        uint32_t n = 0;
        pod(n);
        need(n);
        s.assign(data.data() + pos, n);
        pos += n;
    }
    bool atEnd() const { return pos == data.size(); }

private:
    void need(size_t n) const {
        if (pos + n > data.size()) throw std::runtime_error("truncated cache");
    }
    const std::string& data;
    size_t pos;
};

// One function walks every field for both directions, so save and load cannot drift apart.
template <class IO, class Model>
void serialize(IO& io, Model& m) {
    io.pod(m.frame.origin); // the CRS goes as WKT before this (see save/load)
    auto& t = m.terrain;
    io.pod(t.width); io.pod(t.height); io.pod(t.originX); io.pod(t.originY); io.pod(t.cellSize);
    io.vec(t.heightM); io.pod(t.nodataCells);
    auto polys = [&](auto& p) { io.vec(p.points); io.vec(p.ringStart); io.vec(p.polygonRingStart); };
    auto& b = m.buildings;
    polys(b.footprints);
    io.vec(b.partStart); io.vec(b.sourceId); io.vec(b.name); io.vec(b.heightM); io.vec(b.groundM);
    io.vec(b.levels); io.vec(b.use); io.vec(b.yearBuilt); io.vec(b.heightSource);
    io.vec(b.attributes.names);
    uint64_t ncols = b.attributes.columns.size();
    io.pod(ncols);
    b.attributes.columns.resize(ncols);
    for (auto& col : b.attributes.columns) io.vec(col);
    io.vec(b.roofStart); io.vec(b.roofRingStart); io.vec(b.roofPoints);
    auto& r = m.roads;
    io.vec(r.nodePos); io.vec(r.from); io.vec(r.to); io.vec(r.shapeStart); io.vec(r.shapePoints);
    io.vec(r.lengthM); io.vec(r.speedMps); io.vec(r.lanes); io.vec(r.roadClass); io.vec(r.layer);
    io.vec(r.flags); io.vec(r.reverse); io.vec(r.way); io.vec(r.wayId); io.vec(r.wayName);
    io.vec(r.outStart); io.vec(r.outEdges);
    auto& w = m.water;
    polys(w.areas);
    io.vec(w.areaKind); io.vec(w.areaName); io.vec(w.linePoints); io.vec(w.lineStart);
    io.vec(w.lineKind); io.vec(w.lineName); io.vec(w.lineWidthM);
    auto& l = m.landuse;
    polys(l.areas);
    io.vec(l.className); io.vec(l.sourceClass); io.vec(l.imperviousness); io.vec(l.manningN);
    // The import report, so `info` lists skipped features also from the cache.
    uint64_t nlayers = m.report.layers.size();
    io.pod(nlayers);
    m.report.layers.resize(nlayers);
    for (auto& lr : m.report.layers) {
        io.str(lr.kind); io.str(lr.source); io.str(lr.layer); io.str(lr.crs);
        io.pod(lr.read); io.pod(lr.imported);
        for (auto* map : {&lr.skippedByReason, &lr.defaultsUsed}) {
            std::vector<std::string> keys;
            std::vector<uint64_t> counts;
            for (auto& [k, v] : *map) { keys.push_back(k); counts.push_back(v); }
            io.vec(keys); io.vec(counts);
            map->clear();
            for (size_t i = 0; i < keys.size(); ++i) (*map)[keys[i]] = counts[i];
        }
    }
    uint64_t nskips = m.report.skips.size();
    io.pod(nskips);
    m.report.skips.resize(nskips);
    for (auto& s : m.report.skips) { io.str(s.kind); io.str(s.layer); io.str(s.featureId); io.str(s.reason); }
    io.vec(m.report.warnings);
}

} // namespace

void saveCityCache(const CityModel& city, const fs::path& file) {
    fs::create_directories(file.parent_path());
    // Write to a temporary name and rename: a crash never leaves a half cache behind.
    fs::path tmp = file;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        out.write(kMagic, sizeof kMagic);
        Writer w(out);
        w.pod(kCacheFormat);
        w.str(city.frame.crs.wkt());
        serialize(w, const_cast<CityModel&>(city)); // the Writer only reads the model
        if (!out) throw std::runtime_error("write failed: " + tmp.string());
    }
    fs::rename(tmp, file);
}

std::optional<CityModel> loadCityCache(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < sizeof kMagic + 4 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
        return std::nullopt;
    try {
        Reader r(data, sizeof kMagic);
        uint32_t format = 0;
        r.pod(format);
        if (format != kCacheFormat) return std::nullopt;
        CityModel m;
        std::string wkt;
        r.str(wkt);
        m.frame.crs = Crs::fromWkt(wkt);
        serialize(r, m);
        if (!r.atEnd()) return std::nullopt;
        return m;
    } catch (const std::exception& e) {
        spdlog::warn("ignoring unreadable import cache {}: {}", file.string(), e.what());
        return std::nullopt;
    }
}

} // namespace ct
