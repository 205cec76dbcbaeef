#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::cli {

// Left-aligned columns separated by three spaces, as docker prints listings.
class Table {
public:
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out) const;

private:
    std::vector<std::vector<std::string>> rows_;
};

// "2.14MB", "512kB": decimal units as docker prints sizes.
std::string human_size(std::uint64_t bytes);
// "About a minute ago", "3 hours ago" from a unix time.
std::string human_age(std::int64_t unix_seconds);

}  // namespace kiln::cli
