#include "builder/cache_key.hpp"

#include <cstdint>

namespace kiln::builder {

namespace {

// Length-prefixed fields: no choice of separators can make two different inputs collide.
void field(Sha256& h, std::string_view tag, std::string_view value) {
    h.update(tag);
    std::uint64_t n = value.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    h.update(len, sizeof len);
    h.update(value);
}

}  // namespace

Digest cache_key(const CacheKeyInput& input) {
    Sha256 h;
    field(h, "kiln-step-v1", "");
    field(h, "parent", input.parent ? input.parent->str() : "");
    field(h, "instruction", input.instruction);
    for (const auto& [name, value] : input.build_args) {
        field(h, "arg-name", name);
        field(h, "arg-value", value);
    }
    field(h, "platform", input.platform);
    field(h, "sources", input.sources ? input.sources->str() : "");
    return h.finish();
}

}  // namespace kiln::builder
