#pragma once
// docker attach --detach-keys: a comma-separated key sequence, each key a single
// character or ctrl-<value> (a-z, @, [, \, ], ^, _), "ctrl-p,ctrl-q" by default. Seeing
// it in the input detaches the client and leaves the container running.
#include <string>
#include <string_view>

namespace kiln::runtime {

inline constexpr const char* default_detach_keys = "ctrl-p,ctrl-q";

// The bytes the keys are; throws kiln::Error (docker's message) on a bad spec.
std::string parse_detach_keys(std::string_view spec);

// Watches input for the sequence. Bytes that start it are held back until the next
// byte shows whether it goes on; if not, they are passed on after all (docker's
// escape proxy does the same).
class DetachKeyMatcher {
public:
    explicit DetachKeyMatcher(std::string keys) : keys_(std::move(keys)) {}
    // What of data (and of held-back bytes) to forward. Sets detached when the sequence
    // is complete; what followed it in data is dropped.
    std::string feed(std::string_view data, bool& detached);

private:
    std::string keys_;
    std::size_t matched_ = 0;
};

}  // namespace kiln::runtime
