#pragma once
// What the docker-shaped object groups (`kiln volume …`, `kiln network …`) share: their
// K=V flags, their label filter and column, and Docker's daemon-error reporting.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace kiln::cli {

// K=V pairs of repeated flags (--label, --opt); a bare K has the value "".
std::map<std::string, std::string> key_value_pairs(const std::vector<std::string>& flags);

// --filter label=K or label=K=V against an object's labels.
bool labels_match(const std::map<std::string, std::string>& labels, const std::string& filter_value);

// The LABELS column: K=V pairs joined by commas.
std::string joined_labels(const std::map<std::string, std::string>& labels);

// Runs body; a kiln::Error is Docker's daemon error: one line on stderr, exit code 1.
template <class Body>
void reported(int& exit_code, Body body) {
    try {
        body();
    } catch (const Error& e) {
        std::cerr << "kiln: " << e.what() << std::endl;
        exit_code = 1;
    }
}

}  // namespace kiln::cli
