#pragma once
// Listings printed through a docker --format: "table …" (a header line and padded columns),
// "json" (one JSON object a line) or any template, once per row.
#include <ostream>
#include <string>
#include <vector>

#include "util/go_template.hpp"

namespace kiln::cli {

struct Listing {
    std::string default_table;  // e.g. "table {{.ID}}\t{{.Size}}": used for "" and "table"
    TemplateValue headers;      // field → column name ({"ID": "IMAGE ID"}), for table headers
};

// Throws kiln::Error for a malformed template.
void print_listing(std::ostream& out, const Listing& listing, const std::string& format,
                   const std::vector<TemplateValue>& rows);

// A yes/no question as docker asks it before pruning: "<warning>\nAre you sure you want to
// continue? [y/N] " on stdout, then one line from stdin (a terminal or not). True for y/Y.
bool confirm(std::ostream& out, const std::string& warning);

}  // namespace kiln::cli
