#pragma once
// Conversions between Python objects and the engine's JSON (KPIs) and YAML (scenarios).
#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>
#include <string>
#include <yaml-cpp/yaml.h>

namespace ct::py {

// JSON → dict/list/float/int/str/bool/None.
pybind11::object fromJson(const nlohmann::json& j);

// YAML → Python. Plain scalars are typed like YAML 1.2's core schema (int, float, bool, null,
// else str); quoted scalars stay str; mapping keys are always str.
pybind11::object fromYaml(const YAML::Node& node);

// Python dict/list/scalars → YAML text (block style, one key a line, so errors name a line).
// Strings that would read back as numbers or booleans are quoted.
std::string toYamlText(pybind11::handle obj);

} // namespace ct::py
