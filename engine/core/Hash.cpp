#include "core/Hash.h"

#include "core/Error.h"

#include <cstdio>
#include <memory>
#include <openssl/evp.h>
#include <vector>

namespace ct {

namespace {
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string hex(const unsigned char* bytes, unsigned int n) {
    static const char* digits = "0123456789abcdef";
    std::string s(n * 2, '0');
    for (unsigned int i = 0; i < n; ++i) {
        s[2 * i] = digits[bytes[i] >> 4];
        s[2 * i + 1] = digits[bytes[i] & 15];
    }
    return s;
}
} // namespace

std::string sha256File(const std::filesystem::path& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) throw InputError("cannot read file", path.string(), "check the path and permissions");
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<unsigned char> buffer(1 << 20);
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0)
        EVP_DigestUpdate(ctx.get(), buffer.data(), n);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    return hex(digest, len);
}

std::string sha256Text(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
    return hex(digest, len);
}

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

double keyedUniform(uint64_t seed, uint64_t key, uint64_t purpose) {
    return double(splitmix64(seed ^ splitmix64(key * 0x100000001b3ull + purpose)) >> 11) * 0x1.0p-53;
}

uint64_t fnv1a(const void* data, size_t size, uint64_t h) {
    auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

} // namespace ct
