#pragma once
// Binary cache of an imported CityModel, keyed by the config and the source files'
// size and modification time, so a changed file invalidates it.
#include "city/CityModel.h"
#include "city/Import.h"

#include <filesystem>
#include <optional>

namespace ct {

std::string cacheKey(const CityConfig& config);
void saveCityCache(const CityModel& city, const std::filesystem::path& file);
std::optional<CityModel> loadCityCache(const std::filesystem::path& file);

} // namespace ct
