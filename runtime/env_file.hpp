#pragma once
// `--env-file FILE` in the docker CLI's format: one KEY=VALUE a line, the value taken as it
// is (no quotes removed, no trailing space trimmed); a KEY alone takes the caller's value
// of KEY and is dropped when the caller has none; leading white space is ignored; blank
// lines and lines starting with '#' are skipped; a UTF-8 byte order mark is ignored.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kiln::runtime {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The "K=V" entries of a file's text, in order. Throws kiln::Error naming name:line for a
// key with white space in it, a line without a key, or bytes that are not UTF-8.
std::vector<std::string> parse_env_file(const std::string& text, const std::string& name, const EnvLookup& lookup);

// The same for the file at path, with this process's environment as the lookup.
std::vector<std::string> read_env_file(const std::string& path);

}  // namespace kiln::runtime
