#pragma once
// Content hashes for run manifests (SHA-256) and cheap file fingerprints for the cache.
#include <cstdint>
#include <filesystem>
#include <string>

namespace ct {

// SHA-256 of a file's bytes as lowercase hex; throws InputError if unreadable.
std::string sha256File(const std::filesystem::path& path);
std::string sha256Text(const std::string& text);

// SplitMix64's finaliser: a well-mixed 64-bit value from any 64-bit input.
uint64_t splitmix64(uint64_t x);
// A uniform number in [0, 1) from (seed, key, purpose): the simulations' deterministic draws,
// the same whatever order or thread asks for them.
double keyedUniform(uint64_t seed, uint64_t key, uint64_t purpose);

// 64-bit FNV-1a, for building cache keys out of small strings.
uint64_t fnv1a(const void* data, size_t size, uint64_t seed = 1469598103934665603ull);
inline uint64_t fnv1a(const std::string& s, uint64_t seed = 1469598103934665603ull) {
    return fnv1a(s.data(), s.size(), seed);
}

} // namespace ct
