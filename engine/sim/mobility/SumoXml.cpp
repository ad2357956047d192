#include "sim/mobility/SumoXml.h"

#include "core/Error.h"
#include "core/Hash.h"
#include "sim/mobility/Router.h"

#include <pugixml.hpp>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace ct::mobility {
namespace {

namespace fs = std::filesystem;

// Thrown by element parsers; the caller skips the element and records why.
struct BadElement {
    std::string what;
};

// ---------------------------------------------------------------- files

std::string readBytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError("cannot open the file", file.string(), "check the path and the permissions");
    in.seekg(0, std::ios::end);
    std::string bytes(size_t(std::max<std::streamoff>(in.tellg(), 0)), '\0');
    in.seekg(0);
    in.read(bytes.data(), std::streamsize(bytes.size()));
    if (!in) throw InputError("cannot read the file", file.string(), "check the permissions");
    return bytes;
}

bool isGzip(const std::string& bytes) {
    return bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b;
}

// Inflates a gzip file (several concatenated members allowed). A stream that stops before
// its end marker is truncated: that is an error, not a short document.
std::string gunzip(const std::string& packed, const std::string& where) {
    const char* hint = "the gzip file is damaged or incomplete; download or compress it again";
    struct Stream {
        z_stream z{};
        ~Stream() { inflateEnd(&z); }
    } s;
    if (inflateInit2(&s.z, 16 + MAX_WBITS) != Z_OK) throw InputError("cannot start zlib", where);
    std::string out(std::max<size_t>(packed.size() * 6, 1 << 16), '\0');
    size_t produced = 0;
    s.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
    s.z.avail_in = uInt(packed.size());
    for (;;) {
        if (produced == out.size()) out.resize(out.size() * 2);
        s.z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        s.z.avail_out = uInt(std::min<size_t>(out.size() - produced, std::numeric_limits<uInt>::max()));
        const uInt before = s.z.avail_out;
        int rc = inflate(&s.z, Z_NO_FLUSH);
        produced += before - s.z.avail_out;
        if (rc == Z_STREAM_END) {
            // Another gzip member may follow; anything else after the end is ignored.
            if (s.z.avail_in >= 2 && s.z.next_in[0] == 0x1f && s.z.next_in[1] == 0x8b) {
                inflateReset(&s.z);
                continue;
            }
            break;
        }
        if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR)
            throw InputError(std::string("corrupt gzip data: ") + (s.z.msg ? s.z.msg : "unknown zlib error"), where,
                             hint);
        if (s.z.avail_in == 0 && s.z.avail_out > 0)
            throw InputError("the gzip data ends early (truncated file)", where, hint);
    }
    out.resize(produced);
    return out;
}

// An XML file in memory with a line index, so elements can be reported as "file:line".
struct XmlFile {
    std::string name;
    std::string text;
    std::vector<size_t> lineStarts; // offset of each line's first character
    pugi::xml_document doc;

    int lineOf(const pugi::xml_node& node) const {
        ptrdiff_t offset = node.offset_debug();
        if (offset < 0) return 0;
        auto it = std::upper_bound(lineStarts.begin(), lineStarts.end(), size_t(offset));
        return int(it - lineStarts.begin());
    }
    std::string at(const pugi::xml_node& node) const { return name + ":" + std::to_string(lineOf(node)); }
    pugi::xml_node root() const { return doc.document_element(); }
};

// Loads a plain or gzip-compressed XML file whose root element is one of `roots` (empty =
// any). `kind` names the expected content in messages.
std::unique_ptr<XmlFile> loadXml(const fs::path& file, std::initializer_list<std::string_view> roots,
                                 const std::string& kind) {
    auto xml = std::make_unique<XmlFile>();
    xml->name = file.string();
    std::string bytes = readBytes(file);
    xml->text = isGzip(bytes) ? gunzip(bytes, xml->name) : std::move(bytes);
    // Lines are counted before parsing: pugixml rewrites the buffer in place.
    xml->lineStarts.push_back(0);
    for (size_t i = 0; i < xml->text.size(); ++i)
        if (xml->text[i] == '\n') xml->lineStarts.push_back(i + 1);
    pugi::xml_parse_result parsed =
        xml->doc.load_buffer_inplace(xml->text.data(), xml->text.size(), pugi::parse_default, pugi::encoding_auto);
    if (!parsed) {
        auto it = std::upper_bound(xml->lineStarts.begin(), xml->lineStarts.end(), size_t(parsed.offset));
        throw InputError("not a readable XML file (" + std::string(parsed.description()) + " at line " +
                             std::to_string(it - xml->lineStarts.begin()) + ")",
                         xml->name, "expected " + kind);
    }
    std::string_view rootName = xml->root().name();
    if (roots.size() != 0 && std::find(roots.begin(), roots.end(), rootName) == roots.end()) {
        std::string expected;
        for (auto r : roots) expected += (expected.empty() ? "<" : " or <") + std::string(r) + ">";
        throw InputError("the root element is <" + std::string(rootName) + ">, not " + expected, xml->name,
                         "expected " + kind);
    }
    return xml;
}

// ---------------------------------------------------------------- values

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> splitList(std::string_view s, std::string_view separators = " \t\r\n") {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find_first_of(separators, i);
        if (j == std::string_view::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::optional<double> toNumber(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<int> toInt(std::string_view s) {
    s = trim(s);
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// SUMO times: seconds ("54000", "12.5") or [D:]HH:MM:SS.
std::optional<double> toTime(std::string_view s) {
    s = trim(s);
    if (s.find(':') == std::string_view::npos) return toNumber(s);
    auto parts = splitList(s, ":");
    if (parts.size() < 2 || parts.size() > 4) return std::nullopt;
    static constexpr double unit[] = {86400, 3600, 60, 1};
    double t = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        auto v = toNumber(parts[i]);
        if (!v || *v < 0) return std::nullopt;
        t += *v * unit[4 - parts.size() + i];
    }
    return t;
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool has(const pugi::xml_node& n, const char* name) { return !n.attribute(name).empty(); }

std::string str(const pugi::xml_node& n, const char* name) { return n.attribute(name).value(); }
// The attribute's text in the document buffer (lives as long as the document).
std::string_view view(const pugi::xml_node& n, const char* name) { return n.attribute(name).value(); }

std::string required(const pugi::xml_node& n, const char* name) {
    std::string v(trim(n.attribute(name).value()));
    if (v.empty()) throw BadElement{"<" + std::string(n.name()) + "> without " + name};
    return v;
}

// A numeric attribute: `fallback` when absent, BadElement when present but not a number.
double num(const pugi::xml_node& n, const char* name, double fallback) {
    if (!has(n, name)) return fallback;
    auto v = toNumber(n.attribute(name).value());
    if (!v) throw BadElement{std::string(name) + "=" + quote(n.attribute(name).value()) + " is not a number"};
    return *v;
}

double seconds(const pugi::xml_node& n, const char* name, double fallback) {
    if (!has(n, name)) return fallback;
    auto v = toTime(n.attribute(name).value());
    if (!v) throw BadElement{std::string(name) + "=" + quote(n.attribute(name).value()) + " is not a time"};
    return *v;
}

// Canonical name per class: a SUMO allow/disallow list lets our class C pass only when it
// names C's own SUMO class ("taxi" on a bus lane does not open it to all passenger cars).
ClassMask classesNamed(std::string_view list) {
    ClassMask mask = 0;
    for (auto token : splitList(list)) {
        if (token == "all") return kAllClasses;
        for (unsigned c = 0; c < unsigned(VClass::Count); ++c)
            if (token == toString(VClass(c))) mask |= classBit(VClass(c));
    }
    return mask;
}

ClassMask laneClasses(const pugi::xml_node& lane) {
    if (has(lane, "allow")) return classesNamed(lane.attribute("allow").value());
    if (has(lane, "disallow")) return ClassMask(kAllClasses & ~classesNamed(lane.attribute("disallow").value()));
    return kAllClasses;
}

// "x,y[,z] x,y[,z] ..." (z dropped).
std::vector<Vec2> parseShape(std::string_view s) {
    std::vector<Vec2> points;
    for (auto token : splitList(s)) {
        auto xyz = splitList(token, ",");
        auto x = xyz.size() >= 2 ? toNumber(xyz[0]) : std::nullopt;
        auto y = xyz.size() >= 2 ? toNumber(xyz[1]) : std::nullopt;
        if (!x || !y || xyz.size() > 3) throw BadElement{"shape point " + quote(token) + " is not x,y[,z]"};
        points.emplace_back(*x, *y);
    }
    return points;
}

// ---------------------------------------------------------------- network

std::optional<JunctionType> junctionType(std::string_view t) {
    if (t == "priority" || t == "priority_stop" || t == "zipper") return JunctionType::Priority;
    if (t == "right_before_left" || t == "left_before_right") return JunctionType::RightBeforeLeft;
    if (t == "traffic_light" || t == "traffic_light_unregulated" || t == "traffic_light_right_on_red")
        return JunctionType::TrafficLight;
    if (t == "allway_stop") return JunctionType::AllWayStop;
    if (t == "dead_end") return JunctionType::DeadEnd;
    if (t == "unregulated" || t == "district" || t == "rail_signal" || t == "rail_crossing")
        return JunctionType::Unregulated;
    return std::nullopt;
}

std::optional<LinkDir> linkDir(std::string_view d) {
    if (d == "s") return LinkDir::Straight;
    if (d == "l") return LinkDir::Left;
    if (d == "r") return LinkDir::Right;
    if (d == "L") return LinkDir::PartLeft;
    if (d == "R") return LinkDir::PartRight;
    if (d == "t") return LinkDir::Turn;
    return std::nullopt;
}

struct LaneSpec {
    std::string id;
    int index = 0;
    float lengthM = 0, speedMps = 0;
    ClassMask allow = kAllClasses;
    std::vector<Vec2> shape;
};

LaneSpec parseLane(const pugi::xml_node& node) {
    LaneSpec lane;
    lane.id = required(node, "id");
    auto index = toInt(str(node, "index"));
    if (!index || *index < 0) throw BadElement{"lane " + quote(lane.id) + " has no valid index"};
    lane.index = *index;
    double speed = num(node, "speed", std::nan("")), length = num(node, "length", std::nan(""));
    if (!(speed > 0 && speed <= 150)) throw BadElement{"lane " + quote(lane.id) + " has an absurd speed"};
    if (!(length >= 0)) throw BadElement{"lane " + quote(lane.id) + " has an absurd length"};
    lane.speedMps = float(speed);
    lane.lengthM = float(length);
    lane.allow = laneClasses(node);
    lane.shape = parseShape(str(node, "shape"));
    return lane;
}

// The right-of-way table of one junction: its internal lanes in link order and the
// <request> bit strings per link.
struct JunctionRules {
    std::unordered_map<std::string, uint32_t> linkOfLane; // internal lane id -> link index
    std::vector<std::string> response, foes;              // by link index
    std::vector<uint32_t> connectionOfLink;               // link index -> connection, kNone if none
};

class NetReader {
public:
    NetReader(const XmlFile& xml, SumoNetInfo& info) : xml(xml), info(info) {}

    Network read() {
        readLocation();
        readJunctions();
        readSignals();
        readInternalEdges();
        readNormalEdges();
        readConnections();
        buildRightOfWay();
        if (pedestrianEdges > 0)
            info.skipped.add(xml.name + ": " + std::to_string(pedestrianEdges) +
                             " walking areas and crossings: pedestrian infrastructure is not simulated");
        return std::move(net);
    }

private:
    const XmlFile& xml;
    SumoNetInfo& info;
    Network net;
    std::unordered_map<std::string, uint32_t> junctionIndex, edgeIndex, signalIndex;
    std::unordered_set<std::string> skippedEdges;
    std::vector<JunctionRules> rules; // parallel to net.junctions
    std::unordered_map<std::string, LaneSpec> internalLanes;
    std::unordered_map<std::string, std::string> nextInChain; // internal lane -> next internal lane ("" = end)
    std::vector<uint32_t> requestLink;                         // per connection: its link index, kNone
    size_t pedestrianEdges = 0;
    bool notedActuated = false, notedTlWithoutLogic = false, notedJunctionType = false;

    void skip(const pugi::xml_node& node, const std::string& what) { info.skipped.add(xml.at(node) + ": " + what); }

    void readLocation() {
        pugi::xml_node loc = xml.root().child("location");
        if (!loc) return;
        auto xy = splitList(view(loc, "netOffset"), ",");
        if (xy.size() == 2 && toNumber(xy[0]) && toNumber(xy[1])) info.netOffset = Vec2(*toNumber(xy[0]), *toNumber(xy[1]));
        info.projection = str(loc, "projParameter");
    }

    void readJunctions() {
        for (pugi::xml_node node : xml.root().children("junction")) {
            std::string type = str(node, "type");
            if (type == "internal") continue;
            try {
                addJunction(node, type);
            } catch (const BadElement& bad) {
                skip(node, bad.what);
            }
        }
    }

    void addJunction(const pugi::xml_node& node, const std::string& type) {
        Junction j;
        j.id = required(node, "id");
        auto mapped = junctionType(type);
        if (!mapped && !notedJunctionType) {
            notedJunctionType = true;
            skip(node, "junction type " + quote(type) + " is unknown; treated as priority");
        }
        j.type = mapped.value_or(JunctionType::Priority);
        j.pos = Vec2(num(node, "x", 0), num(node, "y", 0));
        if (!junctionIndex.emplace(j.id, uint32_t(net.junctions.size())).second)
            throw BadElement{"junction " + quote(j.id) + " appears twice"};
        JunctionRules r;
        auto lanes = splitList(view(node, "intLanes"));
        for (size_t i = 0; i < lanes.size(); ++i) r.linkOfLane.emplace(std::string(lanes[i]), uint32_t(i));
        r.response.resize(lanes.size());
        r.foes.resize(lanes.size());
        r.connectionOfLink.assign(lanes.size(), kNone);
        for (pugi::xml_node req : node.children("request")) {
            auto index = toInt(str(req, "index"));
            if (index && *index >= 0 && size_t(*index) < lanes.size()) {
                r.response[size_t(*index)] = str(req, "response");
                r.foes[size_t(*index)] = str(req, "foes");
            }
        }
        net.junctions.push_back(std::move(j));
        rules.push_back(std::move(r));
    }

    void readSignals() {
        for (pugi::xml_node node : xml.root().children("tlLogic")) {
            try {
                addSignal(node);
            } catch (const BadElement& bad) {
                skip(node, bad.what);
            }
        }
    }

    void addSignal(const pugi::xml_node& node) {
        SignalProgram p;
        p.id = required(node, "id");
        if (signalIndex.count(p.id)) return; // several programIDs: the first one is kept
        std::string type = str(node, "type");
        if ((type == "actuated" || type == "delay_based" || type == "NEMA") && !notedActuated) {
            notedActuated = true;
            skip(node, "tlLogic type " + quote(type) + " is run as a fixed-time program with its phase durations");
        }
        p.offsetS = float(seconds(node, "offset", 0));
        for (pugi::xml_node ph : node.children("phase")) {
            SignalPhase phase;
            phase.durationS = float(seconds(ph, "duration", std::nan("")));
            if (!(phase.durationS >= 0)) throw BadElement{"tlLogic " + quote(p.id) + " has a phase without duration"};
            phase.state = required(ph, "state");
            p.phases.push_back(std::move(phase));
        }
        if (p.phases.empty() || p.cycleS() <= 0) throw BadElement{"tlLogic " + quote(p.id) + " has no phases"};
        signalIndex.emplace(p.id, uint32_t(net.signals.size()));
        net.signals.push_back(std::move(p));
    }

    void readInternalEdges() {
        for (pugi::xml_node node : xml.root().children("edge")) {
            if (std::string_view(node.attribute("function").value()) != "internal") continue;
            for (pugi::xml_node laneNode : node.children("lane")) {
                try {
                    LaneSpec lane = parseLane(laneNode);
                    std::string id = lane.id;
                    internalLanes.emplace(std::move(id), std::move(lane));
                } catch (const BadElement& bad) {
                    skip(laneNode, bad.what); // connections through it keep going without an internal lane
                }
            }
        }
        // Internal lanes chain through internal junctions: ":J_0_0" -> ":J_5_0" -> normal edge.
        for (pugi::xml_node node : xml.root().children("connection")) {
            std::string from = str(node, "from");
            if (from.empty() || from[0] != ':') continue;
            nextInChain[from + "_" + str(node, "fromLane")] = str(node, "via");
        }
    }

    void readNormalEdges() {
        for (pugi::xml_node node : xml.root().children("edge")) {
            std::string_view function = node.attribute("function").value();
            if (function == "internal") continue;
            if (function == "walkingarea" || function == "crossing") {
                ++pedestrianEdges;
                continue;
            }
            try {
                addEdge(node);
            } catch (const BadElement& bad) {
                skippedEdges.insert(str(node, "id"));
                skip(node, bad.what);
            }
        }
    }

    uint32_t junctionOf(const pugi::xml_node& edge, const char* attr) {
        std::string id = str(edge, attr);
        auto it = junctionIndex.find(id);
        if (it == junctionIndex.end())
            throw InputError("edge " + quote(str(edge, "id")) + " names junction " + quote(id) +
                                 " which is not in the file",
                             xml.at(edge), "the network is incomplete; rebuild it with netconvert");
        return it->second;
    }

    void addEdge(const pugi::xml_node& node) {
        Edge edge;
        edge.id = required(node, "id");
        edge.fromJunction = junctionOf(node, "from");
        edge.toJunction = junctionOf(node, "to");
        edge.name = str(node, "name");
        edge.priority = int(num(node, "priority", -1));
        std::vector<LaneSpec> lanes;
        for (pugi::xml_node laneNode : node.children("lane")) lanes.push_back(parseLane(laneNode));
        if (lanes.empty()) throw BadElement{"edge " + quote(edge.id) + " has no lanes"};
        if (lanes.size() > 255) throw BadElement{"edge " + quote(edge.id) + " has more than 255 lanes"};
        std::stable_sort(lanes.begin(), lanes.end(), [](const LaneSpec& a, const LaneSpec& b) { return a.index < b.index; });
        if (edgeIndex.count(edge.id)) throw BadElement{"edge " + quote(edge.id) + " appears twice"};
        const uint32_t e = uint32_t(net.edges.size());
        edge.firstLane = uint32_t(net.lanes.size());
        edge.laneCount = uint8_t(lanes.size());
        edge.lengthM = lanes[0].lengthM;
        edge.speedMps = lanes[0].speedMps;
        for (size_t i = 0; i < lanes.size(); ++i) {
            net.lanes.push_back(makeLane(lanes[i], e, uint8_t(i)));
        }
        edgeIndex.emplace(edge.id, e);
        net.edges.push_back(std::move(edge));
    }

    Lane makeLane(const LaneSpec& spec, uint32_t edge, uint8_t index) {
        Lane lane;
        lane.edge = edge;
        lane.index = index;
        lane.allow = spec.allow;
        lane.lengthM = spec.lengthM;
        lane.speedMps = spec.speedMps;
        lane.shapeStart = uint32_t(net.shapePoints.size());
        net.shapePoints.insert(net.shapePoints.end(), spec.shape.begin(), spec.shape.end());
        lane.shapeEnd = uint32_t(net.shapePoints.size());
        return lane;
    }

    // The lane index of edge `edgeId`'s lane `laneAttr`, or BadElement.
    uint32_t normalLane(const pugi::xml_node& node, const char* edgeAttr, const char* laneAttr) {
        std::string id = str(node, edgeAttr);
        auto it = edgeIndex.find(id);
        if (it == edgeIndex.end())
            throw BadElement{"connection " + std::string(edgeAttr) + " edge " + quote(id) +
                             (skippedEdges.count(id) ? " was skipped" : " is not in the file")};
        const Edge& edge = net.edges[it->second];
        auto lane = toInt(str(node, laneAttr));
        if (!lane || *lane < 0 || *lane >= edge.laneCount)
            throw BadElement{"connection names lane " + quote(str(node, laneAttr)) + " of edge " + quote(id) +
                             " which does not exist"};
        return edge.firstLane + uint32_t(*lane);
    }

    void readConnections() {
        for (pugi::xml_node node : xml.root().children("connection")) {
            std::string from = str(node, "from"), to = str(node, "to");
            // Links inside junctions (internal chains, crossings, walking areas) are consumed
            // by the chains built in addInternalLane.
            if (from.empty() || from[0] == ':' || to.empty() || to[0] == ':') continue;
            try {
                addConnection(node);
            } catch (const BadElement& bad) {
                skip(node, bad.what);
            }
        }
    }

    void addConnection(const pugi::xml_node& node) {
        Connection c;
        c.fromLane = normalLane(node, "from", "fromLane");
        c.toLane = normalLane(node, "to", "toLane");
        c.junction = net.edges[net.lanes[c.fromLane].edge].toJunction;
        std::string dir = str(node, "dir");
        auto d = linkDir(dir);
        if (!d) throw BadElement{"connection direction " + quote(dir) + " is unknown"};
        c.dir = *d;
        std::string state = str(node, "state");
        char s = state.empty() ? 'M' : state[0];
        c.major = s == 'M' || s == 'O' || s == 'G';
        c.mustStop = s == 's' || s == 'w';
        if (has(node, "tl")) {
            auto it = signalIndex.find(str(node, "tl"));
            auto link = toInt(str(node, "linkIndex"));
            if (it != signalIndex.end() && link && *link >= 0) {
                c.signal = it->second;
                c.signalIndex = *link;
                net.junctions[c.junction].signal = it->second;
            } else if (!notedTlWithoutLogic) {
                // Rail crossings and rail signals name a "tl" with no tlLogic: SUMO runs them
                // by train detection, and trains are not simulated here.
                notedTlWithoutLogic = true;
                skip(node, "connections controlled by " + quote(str(node, "tl")) +
                               " and others without a tlLogic (rail crossings) are treated as unsignalised");
            }
        }
        const uint32_t index = uint32_t(net.connections.size());
        std::vector<std::string> chain;
        if (has(node, "via")) {
            try {
                c.viaLane = addInternalLane(str(node, "via"), index, chain);
            } catch (const BadElement& bad) {
                skip(node, bad.what + "; the connection is kept without an internal lane");
            }
        }
        requestLink.push_back(linkOf(c.junction, chain));
        net.connections.push_back(c);
    }

    // Collapses the chain of internal lanes starting at `via` into one lane; `chain` gets
    // the lane ids in driving order.
    uint32_t addInternalLane(const std::string& via, uint32_t connection, std::vector<std::string>& chain) {
        LaneSpec merged;
        merged.speedMps = std::numeric_limits<float>::max();
        for (std::string id = via; !id.empty();) {
            if (chain.size() > 8) throw BadElement{"the internal lanes after " + quote(via) + " do not end"};
            auto it = internalLanes.find(id);
            if (it == internalLanes.end()) throw BadElement{"internal lane " + quote(id) + " is not in the file"};
            const LaneSpec& piece = it->second;
            merged.lengthM += piece.lengthM;
            merged.speedMps = std::min(merged.speedMps, piece.speedMps);
            merged.allow &= piece.allow;
            size_t skipFirst = !merged.shape.empty() && !piece.shape.empty() && merged.shape.back() == piece.shape.front();
            merged.shape.insert(merged.shape.end(), piece.shape.begin() + ptrdiff_t(skipFirst), piece.shape.end());
            chain.push_back(id);
            auto next = nextInChain.find(id);
            id = next == nextInChain.end() ? std::string() : next->second;
        }
        Lane lane = makeLane(merged, kNone, 0);
        lane.connection = connection;
        net.lanes.push_back(lane);
        return uint32_t(net.lanes.size() - 1);
    }

    // SUMO lists in a junction's intLanes, per link, the last lane of the link's chain (the
    // one behind the internal junction), so any lane of the chain may carry the link index.
    uint32_t linkOf(uint32_t junction, const std::vector<std::string>& chain) {
        JunctionRules& r = rules[junction];
        for (const auto& id : chain) {
            auto it = r.linkOfLane.find(id);
            if (it != r.linkOfLane.end()) {
                r.connectionOfLink[it->second] = uint32_t(net.connections.size());
                return it->second;
            }
        }
        return kNone;
    }

    // Bit j of a request string is its character n-1-j.
    void appendLinks(const JunctionRules& r, const std::string& bits, uint32_t self) {
        const size_t n = bits.size();
        for (size_t j = 0; j < n && j < r.connectionOfLink.size(); ++j)
            if (bits[n - 1 - j] == '1' && r.connectionOfLink[j] != kNone && r.connectionOfLink[j] != self)
                net.linkRefs.push_back(r.connectionOfLink[j]);
    }

    void buildRightOfWay() {
        for (uint32_t i = 0; i < net.connections.size(); ++i) {
            Connection& c = net.connections[i];
            const JunctionRules& r = rules[c.junction];
            const uint32_t link = requestLink[i];
            c.yieldStart = c.yieldEnd = c.foeStart = c.foeEnd = uint32_t(net.linkRefs.size());
            if (link == kNone) continue;
            appendLinks(r, r.response[link], i);
            c.yieldEnd = c.foeStart = uint32_t(net.linkRefs.size());
            appendLinks(r, r.foes[link], i);
            c.foeEnd = uint32_t(net.linkRefs.size());
        }
    }
};

// ---------------------------------------------------------------- routes

Mode modeOf(VClass c) {
    switch (c) {
    case VClass::Bicycle: return Mode::Bicycle;
    case VClass::Pedestrian: return Mode::Walk;
    case VClass::Bus: return Mode::Bus;
    default: return Mode::Car;
    }
}

// A uniform number in [0, 1) from the generator's raw bits (same on every platform, unlike
// the standard distributions).
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

uint32_t pickWeighted(const std::vector<uint32_t>& items, const std::vector<double>& weights, std::mt19937_64& rng) {
    double total = 0;
    for (double w : weights) total += std::max(w, 0.0);
    if (total <= 0) return items[size_t(uniform01(rng) * double(items.size())) % items.size()];
    double u = uniform01(rng) * total;
    for (size_t i = 0; i < items.size(); ++i) {
        u -= std::max(weights[i], 0.0);
        if (u < 0) return items[i];
    }
    return items.back();
}

// speedFactor: "1.1" (mean only), "norm(mean,dev)" or "normc(mean,dev,min,max)".
void parseSpeedFactor(std::string_view s, VehicleType& t) {
    s = trim(s);
    if (auto v = toNumber(s)) {
        t.speedFactor = float(*v);
        return;
    }
    size_t open = s.find('('), close = s.rfind(')');
    std::string_view name = trim(s.substr(0, open));
    if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
        (name != "norm" && name != "normc"))
        throw BadElement{"speedFactor " + quote(s) + " is neither a number nor norm(...)/normc(...)"};
    auto args = splitList(s.substr(open + 1, close - open - 1), ",");
    auto mean = args.size() >= 2 ? toNumber(args[0]) : std::nullopt;
    auto dev = args.size() >= 2 ? toNumber(args[1]) : std::nullopt;
    if (!mean || !dev) throw BadElement{"speedFactor " + quote(s) + " needs a mean and a deviation"};
    t.speedFactor = float(*mean);
    t.speedDev = float(*dev);
}

std::optional<VehicleType> builtinType(std::string_view id) {
    if (id == "DEFAULT_VEHTYPE" || id == "DEFAULT_TAXITYPE") {
        VehicleType t = VehicleType::defaults(VClass::Passenger);
        t.id = std::string(id);
        return t;
    }
    if (id == "DEFAULT_BIKETYPE") return VehicleType::defaults(VClass::Bicycle);
    if (id == "DEFAULT_PEDTYPE") return VehicleType::defaults(VClass::Pedestrian);
    return std::nullopt;
}

// An <interval>'s begin and end: the defaults of the flows inside it.
struct FlowTimes {
    double begin = 0, end = 0;
};

class RouteReader {
public:
    RouteReader(const XmlFile& xml, const Network& net, Demand& demand, uint64_t seed, const std::vector<Taz>& zones)
        : xml(xml), net(net), demand(demand), seed(seed) {
        for (size_t i = 0; i < zones.size(); ++i) zoneById.emplace(zones[i].id, &zones[i]);
        for (const Trip& t : demand.trips) tripIds.insert(t.id);
    }

    void read() {
        for (pugi::xml_node node : xml.root().children()) {
            std::string_view name = node.name();
            if (name == "vType") guarded(node, [&] { addType(parseTypeOrRemember(node)); });
            if (name == "vTypeDistribution") guarded(node, [&] { readTypeDistribution(node); });
        }
        for (pugi::xml_node node : xml.root().children()) {
            std::string_view name = node.name();
            if (name == "route") guarded(node, [&] { readNamedRoute(node); });
            if (name == "routeDistribution") guarded(node, [&] { readRouteDistribution(node); });
        }
        for (pugi::xml_node node : xml.root().children()) readDemandElement(node, nullptr);
        if (persons > 0) {
            demand.skipped.add(xml.at(firstPerson) + ": " + std::to_string(persons) +
                               " persons: pedestrians are not simulated");
            demand.skipped.count += persons - 1;
        }
        demand.sortTrips();
    }

private:
    const XmlFile& xml;
    const Network& net;
    Demand& demand;
    uint64_t seed;
    std::unordered_map<std::string, const Taz*> zoneById;
    std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> zonePairs; // best source/sink edges
    std::map<VClass, std::unique_ptr<Router>> routers;
    std::unordered_set<std::string> tripIds;
    std::unordered_map<std::string, std::vector<uint32_t>> routes;
    std::unordered_map<std::string, std::string> badRoutes; // id -> why
    std::unordered_map<std::string, std::string> badTypes;  // id -> why
    std::unordered_set<std::string> notes;                   // one-off remarks already made
    size_t persons = 0;
    pugi::xml_node firstPerson;

    void skip(const pugi::xml_node& node, const std::string& what) {
        demand.skipped.add(xml.at(node) + ": " + what);
    }
    // A remark about a simplification, made once per file.
    void noteOnce(const pugi::xml_node& node, const std::string& key, const std::string& what) {
        if (notes.insert(key).second) skip(node, what);
    }
    template <class F> void guarded(const pugi::xml_node& node, F&& f) {
        try {
            f();
        } catch (const BadElement& bad) {
            skip(node, bad.what);
        }
    }

    // ---- types

    VehicleType parseType(const pugi::xml_node& node) {
        std::string id = required(node, "id");
        std::string cls = has(node, "vClass") ? str(node, "vClass") : "passenger";
        auto vclass = vclassFromString(cls);
        if (!vclass) throw BadElement{"vType " + quote(id) + " has vClass " + quote(cls) + ", which is not simulated"};
        VehicleType t = VehicleType::defaults(*vclass);
        t.id = id;
        t.accel = float(num(node, "accel", t.accel));
        t.decel = float(num(node, "decel", t.decel));
        t.emergencyDecel = float(num(node, "emergencyDecel", std::max(t.emergencyDecel, t.decel)));
        t.sigma = float(num(node, "sigma", t.sigma));
        t.tau = float(num(node, "tau", t.tau));
        t.lengthM = float(num(node, "length", t.lengthM));
        t.minGapM = float(num(node, "minGap", t.minGapM));
        t.maxSpeedMps = float(num(node, "maxSpeed", t.maxSpeedMps));
        if (has(node, "speedFactor")) parseSpeedFactor(str(node, "speedFactor"), t);
        t.speedDev = float(num(node, "speedDev", t.speedDev));
        t.idmDelta = float(num(node, "delta", t.idmDelta));
        std::string model = str(node, "carFollowModel");
        if (model == "IDM") {
            t.model = CarFollowing::IDM;
        } else if (!model.empty() && model.rfind("Krauss", 0) != 0) {
            noteOnce(node, "cf:" + model, "carFollowModel " + quote(model) + " is not supported; Krauss is used");
        }
        if (!(t.accel > 0 && t.decel > 0 && t.emergencyDecel > 0 && t.lengthM > 0 && t.minGapM >= 0 &&
              t.maxSpeedMps > 0 && t.tau >= 0 && t.sigma >= 0 && t.sigma <= 1 && t.speedFactor > 0 && t.speedDev >= 0))
            throw BadElement{"vType " + quote(id) + " has an absurd value (accel, decel, length, speed, sigma, tau)"};
        return t;
    }

    VehicleType parseTypeOrRemember(const pugi::xml_node& node) {
        try {
            return parseType(node);
        } catch (const BadElement& bad) {
            badTypes[str(node, "id")] = bad.what;
            throw;
        }
    }

    uint32_t addType(VehicleType t) {
        if (auto existing = demand.findType(t.id)) {
            // SUMO lets a file redefine its DEFAULT_* types once; other ids are unique.
            if (!builtinType(t.id)) throw BadElement{"vType " + quote(t.id) + " is defined twice; the first is kept"};
            demand.types[*existing] = std::move(t);
            return *existing;
        }
        demand.types.push_back(std::move(t));
        return uint32_t(demand.types.size() - 1);
    }

    // Simplification: the distribution id stands for its first vType (a copy under the
    // distribution's id), not a random draw among its members.
    void readTypeDistribution(const pugi::xml_node& node) {
        std::string id = required(node, "id");
        std::optional<VehicleType> first;
        for (pugi::xml_node child : node.children("vType")) {
            guarded(child, [&] {
                VehicleType t = parseTypeOrRemember(child);
                addType(t);
                if (!first) first = std::move(t);
            });
        }
        if (!first && has(node, "vTypes")) {
            auto members = splitList(view(node, "vTypes"));
            if (!members.empty())
                if (auto idx = typeIndex(members[0])) first = demand.types[*idx];
        }
        if (!first) throw BadElement{"vTypeDistribution " + quote(id) + " has no usable vType"};
        first->id = id;
        addType(std::move(*first));
    }

    std::optional<uint32_t> typeIndex(std::string_view id) {
        if (auto idx = demand.findType(id)) return idx;
        if (auto builtin = builtinType(id)) {
            demand.types.push_back(std::move(*builtin));
            return uint32_t(demand.types.size() - 1);
        }
        return std::nullopt;
    }

    // ---- routes

    uint32_t edgeIndex(std::string_view id) {
        auto e = net.findEdge(id);
        if (!e) throw BadElement{"edge " + quote(id) + " is not in the network"};
        return *e;
    }

    std::vector<uint32_t> parseRoute(const pugi::xml_node& node) {
        std::vector<uint32_t> route;
        for (auto id : splitList(view(node, "edges"))) route.push_back(edgeIndex(id));
        if (route.empty()) throw BadElement{"route without edges"};
        for (size_t i = 1; i < route.size(); ++i) {
            auto succ = net.successors(route[i - 1]);
            if (!std::binary_search(succ.begin(), succ.end(), route[i]))
                throw BadElement{"route is not connected: no connection from " + quote(net.edges[route[i - 1]].id) +
                                 " to " + quote(net.edges[route[i]].id)};
        }
        return route;
    }

    void noteStops(const pugi::xml_node& node) {
        if (node.child("stop") || node.child("route").child("stop"))
            noteOnce(node, "stop", "<stop> elements are ignored: vehicles drive through their stops");
    }

    void readNamedRoute(const pugi::xml_node& node) {
        std::string id = required(node, "id");
        noteStops(node);
        try {
            routes[id] = parseRoute(node);
        } catch (const BadElement& bad) {
            badRoutes[id] = bad.what;
            throw;
        }
    }

    // Simplification as for vTypes: the distribution id stands for its first route.
    void readRouteDistribution(const pugi::xml_node& node) {
        std::string id = required(node, "id");
        std::optional<std::vector<uint32_t>> first;
        for (pugi::xml_node child : node.children("route")) {
            guarded(child, [&] {
                std::vector<uint32_t> route = has(child, "refId") ? namedRoute(str(child, "refId")) : parseRoute(child);
                if (has(child, "id")) routes[str(child, "id")] = route;
                if (!first) first = std::move(route);
            });
        }
        if (!first && has(node, "routes")) {
            auto members = splitList(view(node, "routes"));
            if (!members.empty()) first = namedRoute(members[0]);
        }
        if (!first) {
            badRoutes[id] = "routeDistribution " + quote(id) + " has no usable route";
            throw BadElement{badRoutes[id]};
        }
        routes[id] = std::move(*first);
    }

    const std::vector<uint32_t>& namedRoute(std::string_view id) {
        auto it = routes.find(std::string(id));
        if (it != routes.end()) return it->second;
        auto bad = badRoutes.find(std::string(id));
        if (bad != badRoutes.end()) throw BadElement{"route " + quote(id) + " was skipped (" + bad->second + ")"};
        throw BadElement{"route " + quote(id) + " is not defined in this file"};
    }

    // The route of a <vehicle>/<flow>: `route` attribute or an embedded <route>.
    std::optional<std::vector<uint32_t>> ownRoute(const pugi::xml_node& node) {
        if (has(node, "route")) return namedRoute(str(node, "route"));
        if (pugi::xml_node r = node.child("route")) return parseRoute(r);
        if (pugi::xml_node d = node.child("routeDistribution")) {
            if (pugi::xml_node r = d.child("route")) return parseRoute(r);
        }
        return std::nullopt;
    }

    // ---- vehicles, trips, flows

    void readDemandElement(const pugi::xml_node& node, const FlowTimes* interval) {
        std::string_view name = node.name();
        if (name == "vehicle") guarded(node, [&] { readVehicle(node); });
        else if (name == "trip") guarded(node, [&] { readTrip(node); });
        else if (name == "flow") guarded(node, [&] { readFlow(node, interval); });
        else if (name == "interval") guarded(node, [&] { readInterval(node); });
        else if (name == "person" || name == "personFlow" || name == "container" || name == "containerFlow") {
            if (persons++ == 0) firstPerson = node;
        }
    }

    void readInterval(const pugi::xml_node& node) {
        FlowTimes times{seconds(node, "begin", 0), seconds(node, "end", 86400)};
        for (pugi::xml_node child : node.children()) readDemandElement(child, &times);
    }

    // id, type, departure details and mode; the edges come later.
    Trip tripBase(const pugi::xml_node& node, bool needDepart) {
        Trip t;
        t.id = required(node, "id");
        if (tripIds.count(t.id)) throw BadElement{"vehicle id " + quote(t.id) + " appears twice"};
        noteStops(node);
        std::string type = has(node, "type") ? str(node, "type") : "DEFAULT_VEHTYPE";
        auto typeIdx = typeIndex(type);
        if (!typeIdx) {
            auto bad = badTypes.find(type);
            if (bad != badTypes.end()) throw BadElement{"vType " + quote(type) + " was skipped (" + bad->second + ")"};
            throw BadElement{"vType " + quote(type) + " is not defined (in this or an earlier file)"};
        }
        t.type = *typeIdx;
        t.mode = modeOf(demand.types[t.type].vclass);
        if (needDepart) t.departS = departTime(node);
        t.departLane = departLane(node);
        t.departSpeed = departSpeed(node);
        return t;
    }

    double departTime(const pugi::xml_node& node) {
        std::string depart = required(node, "depart");
        if (depart == "triggered" || depart == "containerTriggered")
            throw BadElement{"depart=" + quote(depart) + " (waiting for a person or container) is not supported"};
        auto t = toTime(depart);
        if (!t) throw BadElement{"depart=" + quote(depart) + " is not a time"};
        return *t;
    }

    int departLane(const pugi::xml_node& node) {
        std::string v = str(node, "departLane");
        if (v.empty() || v == "best" || v == "free" || v == "first" || v == "random" || v == "allowed") return -1;
        auto lane = toInt(v);
        if (!lane || *lane < 0) throw BadElement{"departLane=" + quote(v) + " is not supported"};
        return *lane;
    }

    float departSpeed(const pugi::xml_node& node) {
        std::string v = str(node, "departSpeed");
        if (v.empty()) return 0;
        if (v == "max" || v == "desired" || v == "speedLimit" || v == "random" || v == "avg" || v == "last") return -1;
        auto s = toNumber(v);
        if (!s || *s < 0) throw BadElement{"departSpeed=" + quote(v) + " is not supported"};
        return float(*s);
    }

    // departPos / arrivalPos on `edge`: a keyword -> -1 (SUMO's default placement), metres
    // from the start, or negative metres counted back from the end.
    float position(const pugi::xml_node& node, const char* attr, std::initializer_list<std::string_view> keywords,
                   const Edge& edge) {
        std::string v = str(node, attr);
        if (v.empty() || std::find(keywords.begin(), keywords.end(), v) != keywords.end()) return -1;
        auto p = toNumber(v);
        if (!p) throw BadElement{std::string(attr) + "=" + quote(v) + " is not supported"};
        double fromStart = *p < 0 ? edge.lengthM + *p : *p;
        return float(std::clamp(fromStart, 0.0, double(edge.lengthM)));
    }

    void finish(Trip t, const pugi::xml_node& node) {
        if (!t.route.empty()) {
            t.fromEdge = t.route.front();
            t.toEdge = t.route.back();
        }
        if (tripIds.count(t.id)) throw BadElement{"vehicle id " + quote(t.id) + " appears twice"};
        const Edge& first = net.edges[t.fromEdge];
        if (t.departLane >= first.laneCount)
            throw BadElement{"departLane " + std::to_string(t.departLane) + " does not exist on edge " + quote(first.id)};
        t.departPos = position(node, "departPos", {"base", "random", "free", "random_free", "last", "stop", "splitFront"},
                               first);
        t.arrivalPos = position(node, "arrivalPos", {"max", "random", "center"}, net.edges[t.toEdge]);
        tripIds.insert(t.id);
        demand.trips.push_back(std::move(t));
    }

    void readVehicle(const pugi::xml_node& node) {
        Trip t = tripBase(node, true);
        auto route = ownRoute(node);
        if (!route) throw BadElement{"vehicle " + quote(t.id) + " has no route"};
        t.route = std::move(*route);
        finish(std::move(t), node);
    }

    // from/to (or fromTaz/toTaz) of a trip or flow; `rng` draws TAZ edges.
    void setEnds(Trip& t, const pugi::xml_node& node, std::mt19937_64& rng) {
        if (has(node, "fromJunction") || has(node, "toJunction") || has(node, "fromXY") || has(node, "fromLonLat"))
            throw BadElement{"trips between junctions or coordinates are not supported"};
        if (has(node, "via"))
            noteOnce(node, "via", "via edges are ignored: trips are routed from 'from' to 'to' directly");
        if (!has(node, "from") && !has(node, "to") && has(node, "fromTaz") && has(node, "toTaz")) {
            zonePair(t, node);
            return;
        }
        t.fromEdge = has(node, "from") ? edgeIndex(str(node, "from")) : zoneEdge(node, "fromTaz", true, rng);
        t.toEdge = has(node, "to") ? edgeIndex(str(node, "to")) : zoneEdge(node, "toTaz", false, rng);
    }

    // Zone to zone, as SUMO routes it: from a virtual source joined to every source edge to a
    // virtual sink, i.e. the source/sink pair with the fastest free-flow route.
    void zonePair(Trip& t, const pugi::xml_node& node) {
        const std::string from = str(node, "fromTaz"), to = str(node, "toTaz");
        auto zone = [&](const std::string& id) -> const Taz& {
            auto it = zoneById.find(id);
            if (it == zoneById.end()) throw BadElement{"TAZ " + quote(id) + " is not among the zones read"};
            return *it->second;
        };
        const Taz &a = zone(from), &b = zone(to);
        const VehicleType& type = demand.types[t.type];
        const std::string key = from + "\n" + to + "\n" + type.id;
        auto cached = zonePairs.find(key);
        if (cached == zonePairs.end()) {
            auto& router = routers[type.vclass];
            if (!router) router = std::make_unique<Router>(net, type.vclass, 0);
            std::pair<uint32_t, uint32_t> best{kNone, kNone};
            double bestCost = std::numeric_limits<double>::infinity();
            for (uint32_t s : a.sources)
                for (uint32_t e : b.sinks) {
                    RouteResult r = router->route(s, e);
                    double cost = r.costS + router->costs()[s]; // the source edge counts too
                    if (r.found() && cost < bestCost) {
                        bestCost = cost;
                        best = {s, e};
                    }
                }
            cached = zonePairs.emplace(key, best).first;
        }
        if (cached->second.first == kNone)
            throw BadElement{"no route from TAZ " + quote(from) + " to TAZ " + quote(to) + " for " + type.id};
        t.fromEdge = cached->second.first;
        t.toEdge = cached->second.second;
    }

    uint32_t zoneEdge(const pugi::xml_node& node, const char* attr, bool source, std::mt19937_64& rng) {
        if (!has(node, attr)) throw BadElement{"trip without " + std::string(source ? "from/fromTaz" : "to/toTaz")};
        std::string id = str(node, attr);
        auto it = zoneById.find(id);
        if (it == zoneById.end()) throw BadElement{"TAZ " + quote(id) + " is not among the zones read"};
        const Taz& z = *it->second;
        const auto& edges = source ? z.sources : z.sinks;
        if (edges.empty()) throw BadElement{"TAZ " + quote(id) + " has no " + (source ? "source" : "sink") + " edges"};
        return pickWeighted(edges, source ? z.sourceWeights : z.sinkWeights, rng);
    }

    std::mt19937_64 rngFor(const std::string& id) const { return std::mt19937_64(seed ^ fnv1a(id)); }

    void readTrip(const pugi::xml_node& node) {
        Trip t = tripBase(node, true);
        auto rng = rngFor(t.id);
        setEnds(t, node, rng);
        finish(std::move(t), node);
    }

    // A flow's departure window; `limit` = its number attribute, if any.
    struct FlowWindow {
        double begin = 0, end = 0;
        bool hasEnd = false;
        size_t limit = std::numeric_limits<size_t>::max();
        bool open(double t, size_t made) const { return made < limit && (t < end || (!hasEnd && limit != SIZE_MAX)); }
    };

    FlowWindow flowWindow(const pugi::xml_node& node, const FlowTimes* interval) {
        FlowWindow w;
        w.begin = seconds(node, "begin", interval ? interval->begin : 0);
        w.hasEnd = has(node, "end") || interval;
        w.end = seconds(node, "end", interval ? interval->end : w.begin + 86400);
        if (w.end < w.begin) throw BadElement{"flow ends before it begins"};
        if (has(node, "number")) {
            const double count = num(node, "number", 0);
            if (count < 0 || count != std::floor(count)) throw BadElement{"flow number must be a whole number >= 0"};
            w.limit = size_t(count);
        } else if (!w.hasEnd) {
            noteOnce(node, "flowEnd", "flow without end or number: expanded for 24 h after its begin");
        }
        return w;
    }

    // SUMO 1.15's rules (checked with duarouter): period / vehsPerHour insert at begin,
    // begin + period, ... while < end; number alone spaces `number` vehicles by
    // (end - begin) / number; probability draws once per second in [begin, end);
    // period="exp(rate)" has exponential gaps.
    std::vector<double> flowDepartures(const pugi::xml_node& node, const FlowTimes* interval, std::mt19937_64& rng) {
        const FlowWindow w = flowWindow(node, interval);
        int ways = has(node, "period") + has(node, "vehsPerHour") + has(node, "probability");
        if (ways > 1) throw BadElement{"flow with more than one of period, vehsPerHour, probability"};
        std::vector<double> times;
        if (has(node, "probability")) {
            double p = num(node, "probability", 0);
            if (!(p >= 0 && p <= 1)) throw BadElement{"flow probability must be in [0, 1]"};
            for (double t = w.begin; t < w.end && times.size() < w.limit; t += 1.0)
                if (uniform01(rng) < p) times.push_back(t);
            return times;
        }
        if (std::string_view period = view(node, "period"); period.rfind("exp(", 0) == 0) {
            const double rate = poissonRate(period);
            // Like SUMO 1.15 (duarouter): the first vehicle at begin, then exponential gaps.
            for (double t = w.begin; w.open(t, times.size());
                 t -= std::log(1 - uniform01(rng)) / rate)
                times.push_back(t);
            return times;
        }
        double spacing = 0;
        if (has(node, "period")) spacing = num(node, "period", 0);
        else if (has(node, "vehsPerHour")) spacing = num(node, "vehsPerHour", 0) > 0 ? 3600.0 / num(node, "vehsPerHour", 0) : -1;
        else if (w.limit == SIZE_MAX) throw BadElement{"flow without period, vehsPerHour, probability or number"};
        else if (!w.hasEnd) throw BadElement{"flow with number but neither end nor period"};
        else if (w.limit > 0) spacing = (w.end - w.begin) / double(w.limit);
        if (!(spacing > 0) && w.limit != 0) throw BadElement{"flow period must be > 0"};
        for (double t = w.begin; w.open(t, times.size()); t = w.begin + double(times.size()) * spacing)
            times.push_back(t);
        return times;
    }

    static double poissonRate(std::string_view period) {
        auto rate = period.back() == ')' ? toNumber(period.substr(4, period.size() - 5)) : std::nullopt;
        if (!rate || *rate <= 0) throw BadElement{"period=" + quote(period) + " needs a positive rate"};
        return *rate;
    }

    void readFlow(const pugi::xml_node& node, const FlowTimes* interval) {
        Trip base = tripBase(node, false);
        std::string id = base.id;
        auto rng = rngFor(id);
        auto route = ownRoute(node);
        std::vector<double> departures = flowDepartures(node, interval, rng);
        if (!route) {
            // Check the ends once so a bad flow is one skip, not one per vehicle.
            Trip probe = base;
            auto probeRng = rng;
            setEnds(probe, node, probeRng);
        }
        for (size_t k = 0; k < departures.size(); ++k) {
            Trip t = base;
            t.id = id + "." + std::to_string(k);
            t.departS = departures[k];
            if (route) t.route = *route;
            else setEnds(t, node, rng);
            finish(std::move(t), node);
        }
        tripIds.insert(id);
    }
};

// ---------------------------------------------------------------- writing

std::string formatNumber(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}
std::string formatNumber(float v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void setNumber(pugi::xml_node node, const char* name, float v) {
    node.append_attribute(name).set_value(formatNumber(v).c_str());
}

void writeType(pugi::xml_node routes, const VehicleType& t) {
    pugi::xml_node n = routes.append_child("vType");
    n.append_attribute("id").set_value(t.id.c_str());
    n.append_attribute("vClass").set_value(toString(t.vclass));
    setNumber(n, "length", t.lengthM);
    setNumber(n, "minGap", t.minGapM);
    setNumber(n, "accel", t.accel);
    setNumber(n, "decel", t.decel);
    setNumber(n, "emergencyDecel", t.emergencyDecel);
    setNumber(n, "sigma", t.sigma);
    setNumber(n, "tau", t.tau);
    setNumber(n, "maxSpeed", t.maxSpeedMps);
    setNumber(n, "speedFactor", t.speedFactor);
    setNumber(n, "speedDev", t.speedDev);
    n.append_attribute("carFollowModel").set_value(toString(t.model));
    if (t.model == CarFollowing::IDM) setNumber(n, "delta", t.idmDelta);
}

std::string edgeList(const Network& net, const std::vector<uint32_t>& route) {
    std::string s;
    for (uint32_t e : route) {
        if (!s.empty()) s += ' ';
        s += net.edges.at(e).id;
    }
    return s;
}

void writeTrip(pugi::xml_node routes, const Network& net, const Demand& demand, const Trip& t) {
    pugi::xml_node n = routes.append_child(t.route.empty() ? "trip" : "vehicle");
    n.append_attribute("id").set_value(t.id.c_str());
    n.append_attribute("type").set_value(demand.types.at(t.type).id.c_str());
    n.append_attribute("depart").set_value(formatNumber(t.departS).c_str());
    if (t.route.empty()) {
        n.append_attribute("from").set_value(net.edges.at(t.fromEdge).id.c_str());
        n.append_attribute("to").set_value(net.edges.at(t.toEdge).id.c_str());
    }
    n.append_attribute("departLane").set_value(t.departLane < 0 ? "best" : std::to_string(t.departLane).c_str());
    if (t.departSpeed < 0) n.append_attribute("departSpeed").set_value("max");
    else setNumber(n, "departSpeed", t.departSpeed);
    if (t.departPos >= 0) setNumber(n, "departPos", t.departPos);
    if (t.arrivalPos >= 0) setNumber(n, "arrivalPos", t.arrivalPos);
    if (!t.route.empty()) n.append_child("route").append_attribute("edges").set_value(edgeList(net, t.route).c_str());
}

} // namespace

// ---------------------------------------------------------------- public

Network readSumoNet(const std::filesystem::path& file, SumoNetInfo* infoOut) {
    auto xml = loadXml(file, {"net"}, "a SUMO network (.net.xml or .net.xml.gz)");
    SumoNetInfo info;
    Network net = NetReader(*xml, info).read();
    if (net.edges.empty())
        throw InputError("the network has no usable edges", xml->name, "check the file with netedit or sumo-gui");
    net.finalize(xml->name);
    if (infoOut) *infoOut = std::move(info);
    return net;
}

std::vector<Taz> readSumoTaz(const std::filesystem::path& file, const Network& net) {
    auto xml = loadXml(file, {}, "SUMO traffic assignment zones (<taz>)");
    std::vector<Taz> zones;
    size_t unknownEdges = 0;
    for (pugi::xpath_node found : xml->doc.select_nodes("//taz")) {
        pugi::xml_node node = found.node();
        Taz z;
        z.id = str(node, "id");
        if (z.id.empty()) continue;
        auto addEdge = [&](std::vector<uint32_t>& edges, std::vector<double>& weights, std::string_view id, double w) {
            if (auto e = net.findEdge(id)) {
                edges.push_back(*e);
                weights.push_back(w);
            } else {
                ++unknownEdges;
            }
        };
        for (auto id : splitList(view(node, "edges"))) {
            addEdge(z.sources, z.sourceWeights, id, 1.0);
            addEdge(z.sinks, z.sinkWeights, id, 1.0);
        }
        for (pugi::xml_node s : node.children("tazSource"))
            addEdge(z.sources, z.sourceWeights, str(s, "id"), toNumber(str(s, "weight")).value_or(1.0));
        for (pugi::xml_node s : node.children("tazSink"))
            addEdge(z.sinks, z.sinkWeights, str(s, "id"), toNumber(str(s, "weight")).value_or(1.0));
        zones.push_back(std::move(z));
    }
    if (unknownEdges > 0)
        spdlog::warn("{}: {} TAZ edge references name edges that are not in the network; ignored", xml->name,
                     unknownEdges);
    return zones;
}

SumoConfig readSumoConfig(const std::filesystem::path& file) {
    auto xml = loadXml(file, {"configuration", "sumoConfiguration"}, "a SUMO configuration (.sumocfg)");
    const fs::path folder = file.parent_path();
    auto option = [&](const char* name) -> std::optional<std::string> {
        pugi::xml_node n = xml->doc.select_node((std::string("//") + name).c_str()).node();
        if (!n || !has(n, "value")) return std::nullopt;
        return str(n, "value");
    };
    auto resolve = [&](std::string_view p) { return fs::path(p).is_absolute() ? fs::path(p) : folder / fs::path(p); };
    auto files = [&](const char* name) {
        std::vector<fs::path> out;
        if (auto v = option(name))
            for (auto p : splitList(*v, ", \t\r\n")) out.push_back(resolve(p));
        return out;
    };
    auto seconds = [&](const char* name, double fallback) {
        auto v = option(name);
        if (!v) return fallback;
        auto t = toTime(*v);
        if (!t) throw InputError(std::string(name) + "=" + quote(*v) + " is not a time", xml->name,
                                 "use seconds or HH:MM:SS");
        return *t;
    };
    SumoConfig cfg;
    auto net = option("net-file");
    if (!net || trim(*net).empty())
        throw InputError("the configuration names no net-file", xml->name, "add <net-file value=\"...\"/> to <input>");
    cfg.netFile = resolve(trim(*net));
    cfg.routeFiles = files("route-files");
    cfg.additionalFiles = files("additional-files");
    cfg.beginS = seconds("begin", 0);
    cfg.endS = seconds("end", -1);
    cfg.stepS = seconds("step-length", 1);
    cfg.timeToTeleportS = seconds("time-to-teleport", 300);
    cfg.adaptationIntervalS = seconds("device.rerouting.adaptation-interval", 1);
    if (auto steps = option("device.rerouting.adaptation-steps")) {
        char* end = nullptr;
        const long n = std::strtol(steps->c_str(), &end, 10);
        if (end == steps->c_str() || *end != '\0' || n < 1 || n > 100000)
            throw InputError("device.rerouting.adaptation-steps=" + quote(*steps) + " is not a count from 1 to 100000",
                             xml->name, "give a whole number of samples, e.g. 180");
        cfg.adaptationSteps = int(n);
    }
    return cfg;
}

void readSumoRoutes(const std::filesystem::path& file, const Network& net, Demand& demand, uint64_t seed,
                    const std::vector<Taz>& zones) {
    auto xml = loadXml(file, {"routes", "additional"}, "a SUMO route file (<routes>)");
    RouteReader(*xml, net, demand, seed, zones).read();
}

void writeSumoTrips(const std::filesystem::path& file, const Network& net, const Demand& demand) {
    pugi::xml_document doc;
    pugi::xml_node decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version").set_value("1.0");
    decl.append_attribute("encoding").set_value("UTF-8");
    pugi::xml_node routes = doc.append_child("routes");

    std::vector<bool> used(demand.types.size(), false);
    for (const Trip& t : demand.trips) used.at(t.type) = true;
    for (size_t i = 0; i < demand.types.size(); ++i)
        if (used[i]) writeType(routes, demand.types[i]);

    // SUMO reads departures in order.
    std::vector<const Trip*> order;
    order.reserve(demand.trips.size());
    for (const Trip& t : demand.trips) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](const Trip* a, const Trip* b) {
        return a->departS != b->departS ? a->departS < b->departS : a->id < b->id;
    });
    for (const Trip* t : order) writeTrip(routes, net, demand, *t);

    if (!doc.save_file(file.c_str(), "    ", pugi::format_default, pugi::encoding_utf8))
        throw InputError("cannot write the trips file", file.string(), "check that the folder exists and is writable");
}

} // namespace ct::mobility
