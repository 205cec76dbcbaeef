#include "runtime/detach_keys.hpp"

#include "util/error.hpp"

namespace kiln::runtime {

std::string parse_detach_keys(std::string_view spec) {
    auto bad = [&] { return Error("Invalid detach keys (" + std::string(spec) + ") provided"); };
    std::string keys;
    std::size_t start = 0;
    for (;;) {
        std::size_t comma = spec.find(',', start);
        std::string_view key = spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (key.size() == 1) {
            keys.push_back(key[0]);
        } else if (key.size() == 6 && key.substr(0, 5) == "ctrl-") {
            const char c = key[5];
            if (c >= 'a' && c <= 'z') keys.push_back(static_cast<char>(c - 'a' + 1));
            else if (c == '@') keys.push_back('\0');
            else if (c >= '[' && c <= '_') keys.push_back(static_cast<char>(c - '[' + 27));
            else throw bad();
        } else {
            throw bad();
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return keys;
}

std::string DetachKeyMatcher::feed(std::string_view data, bool& detached) {
    detached = false;
    std::string out;
    if (keys_.empty()) return std::string(data);
    for (char c : data) {
        if (c == keys_[matched_]) {
            if (++matched_ == keys_.size()) {
                matched_ = 0;
                detached = true;
                return out;
            }
            continue;
        }
        // The held-back prefix was not the sequence after all.
        out.append(keys_, 0, matched_);
        matched_ = 0;
        // (Only a sequence of two or more keys gets here, so c cannot complete one.)
        if (c == keys_[0]) matched_ = 1;
        else out.push_back(c);
    }
    return out;
}

}  // namespace kiln::runtime
