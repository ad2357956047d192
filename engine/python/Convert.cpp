#include "python/Convert.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace ct::py {

namespace pyb = pybind11;

pyb::object fromJson(const nlohmann::json& j) {
    using T = nlohmann::json::value_t;
    switch (j.type()) {
    case T::null:
        return pyb::none();
    case T::boolean:
        return pyb::bool_(j.get<bool>());
    case T::number_integer:
        return pyb::int_(j.get<int64_t>());
    case T::number_unsigned:
        return pyb::int_(j.get<uint64_t>());
    case T::number_float:
        return pyb::float_(j.get<double>());
    case T::string:
        return pyb::str(j.get<std::string>());
    case T::array: {
        pyb::list l;
        for (const auto& v : j)
            l.append(fromJson(v));
        return l;
    }
    case T::object: {
        pyb::dict d;
        for (auto it = j.begin(); it != j.end(); ++it)
            d[pyb::str(it.key())] = fromJson(it.value());
        return d;
    }
    default:
        return pyb::none();
    }
}

namespace {

// The YAML 1.2 core schema's reading of a plain scalar.
pyb::object typedScalar(const std::string& s) {
    static const std::regex nullRe("~|null|Null|NULL"), trueRe("true|True|TRUE"),
        falseRe("false|False|FALSE"), intRe("[-+]?[0-9]+"),
        floatRe(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)"), infRe(R"([-+]?\.(inf|Inf|INF))"),
        nanRe(R"(\.(nan|NaN|NAN))");
    if (s.empty() || std::regex_match(s, nullRe)) return pyb::none();
    if (std::regex_match(s, trueRe)) return pyb::bool_(true);
    if (std::regex_match(s, falseRe)) return pyb::bool_(false);
    if (std::regex_match(s, intRe))
        return pyb::reinterpret_steal<pyb::object>(PyLong_FromString(s.c_str(), nullptr, 10));
    if (std::regex_match(s, floatRe)) return pyb::float_(std::strtod(s.c_str(), nullptr));
    if (std::regex_match(s, infRe)) return pyb::float_(s[0] == '-' ? -INFINITY : INFINITY);
    if (std::regex_match(s, nanRe)) return pyb::float_(NAN);
    return pyb::str(s);
}

void emit(YAML::Emitter& out, pyb::handle obj) {
    if (obj.is_none()) {
        out << YAML::Null;
    } else if (pyb::isinstance<pyb::bool_>(obj)) {
        out << (obj.cast<bool>() ? "true" : "false");
    } else if (pyb::isinstance<pyb::int_>(obj)) {
        out << pyb::str(obj).cast<std::string>();
    } else if (pyb::isinstance<pyb::float_>(obj)) {
        double v = obj.cast<double>();
        // repr is Python's shortest text that reads back to the same double.
        out << (std::isnan(v)   ? ".nan"
                : std::isinf(v) ? (v < 0 ? "-.inf" : ".inf")
                                : pyb::repr(obj).cast<std::string>());
    } else if (pyb::isinstance<pyb::str>(obj)) {
        auto s = obj.cast<std::string>();
        if (!pyb::isinstance<pyb::str>(typedScalar(s))) out << YAML::DoubleQuoted;
        out << s;
    } else if (pyb::isinstance<pyb::dict>(obj)) {
        out << YAML::BeginMap;
        for (auto [k, v] : obj.cast<pyb::dict>()) {
            out << YAML::Key << pyb::str(k).cast<std::string>() << YAML::Value;
            emit(out, v);
        }
        out << YAML::EndMap;
    } else if (pyb::isinstance<pyb::list>(obj) || pyb::isinstance<pyb::tuple>(obj)) {
        out << YAML::BeginSeq;
        for (auto v : obj)
            emit(out, v);
        out << YAML::EndSeq;
    } else if (pyb::hasattr(obj, "__fspath__")) {
        out << pyb::module_::import("os").attr("fspath")(obj).cast<std::string>();
    } else if (pyb::hasattr(obj, "tolist")) { // numpy scalars and arrays
        emit(out, obj.attr("tolist")());
    } else {
        throw pyb::type_error("cannot put a " +
                              pyb::str(obj.get_type().attr("__name__")).cast<std::string>() +
                              " into a scenario: use dict, list, str, int, float, bool or None");
    }
}

} // namespace

pyb::object fromYaml(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Map: {
        pyb::dict d;
        for (auto it = node.begin(); it != node.end(); ++it)
            d[pyb::str(it->first.Scalar())] = fromYaml(it->second);
        return d;
    }
    case YAML::NodeType::Sequence: {
        pyb::list l;
        for (auto it = node.begin(); it != node.end(); ++it)
            l.append(fromYaml(*it));
        return l;
    }
    case YAML::NodeType::Scalar:
        // yaml-cpp tags quoted scalars "!" and plain ones "?".
        return node.Tag() == "!" ? pyb::str(node.Scalar()) : typedScalar(node.Scalar());
    default:
        return pyb::none();
    }
}

std::string toYamlText(pyb::handle obj) {
    YAML::Emitter out;
    emit(out, obj);
    return std::string(out.c_str()) + "\n";
}

} // namespace ct::py
