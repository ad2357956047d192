#pragma once
// Strong ids: a BuildingId cannot be passed where an EdgeId is expected.
#include <cstdint>
#include <functional>

namespace ct {

template <class Tag>
struct Id {
    uint32_t value = UINT32_MAX;
    constexpr Id() = default;
    constexpr explicit Id(uint32_t v) : value(v) {}
    constexpr bool valid() const { return value != UINT32_MAX; }
    constexpr auto operator<=>(const Id&) const = default;
};

using BuildingId = Id<struct BuildingTag>;
using NodeId = Id<struct NodeTag>;
using EdgeId = Id<struct EdgeTag>;
using SensorId = Id<struct SensorTag>;

} // namespace ct

template <class Tag>
struct std::hash<ct::Id<Tag>> {
    size_t operator()(ct::Id<Tag> id) const noexcept { return std::hash<uint32_t>{}(id.value); }
};
