#include "registry/base64.hpp"

#include <openssl/evp.h>

namespace kiln::registry {

std::string base64_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string padded(text);
    while (padded.size() % 4 != 0) padded += '=';
    for (std::size_t i = 0; i < padded.size(); ++i) {
        char c = padded[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        // '=' only as the last one or two characters.
        if (!alpha && !(c == '=' && i + 2 >= padded.size())) return std::nullopt;
        if (c == '=' && i + 1 < padded.size() && padded[i + 1] != '=') return std::nullopt;
    }
    std::string out(padded.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes: drop them.
    std::size_t pad = padded.ends_with("==") ? 2 : padded.ends_with("=") ? 1 : 0;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

}  // namespace kiln::registry
