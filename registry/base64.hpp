#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace kiln::registry {

// Standard base64 with padding (RFC 4648 §4), as HTTP Basic auth and Docker's config.json use.
std::string base64_encode(std::string_view data);
// Decodes padded or unpadded standard base64; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln::registry
