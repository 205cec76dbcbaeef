#include "builder/reproducible.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "util/error.hpp"

namespace kiln::builder {

namespace {

void clamp_one(const std::string& path, std::int64_t epoch) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) throw_errno("lstat " + path);
    if (st.st_mtim.tv_sec < epoch || (st.st_mtim.tv_sec == epoch && st.st_mtim.tv_nsec == 0)) return;
    struct timespec times[2];
    times[0] = times[1] = {static_cast<time_t>(epoch), 0};
    if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set the mtime of " + path);
}

}  // namespace

std::int64_t parse_source_date_epoch(const std::string& text) {
    bool digits = !text.empty() && text.size() <= 18 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw Error("invalid SOURCE_DATE_EPOCH \"" + text + "\": expected seconds since 1970 (digits only)");
    return std::stoll(text);
}

std::string rfc3339_utc(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (!gmtime_r(&t, &tm)) throw Error(fmt::format("time {} is out of range", unix_seconds));
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void clamp_tree_mtimes(const std::string& dir, std::int64_t epoch) {
    namespace fs = std::filesystem;
    std::error_code ec;
    // The directory iterator never descends through a symlink; the tree is kiln's own
    // (a committed step's upper dir), with nothing running in it any more.
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        clamp_one(it->path().string(), epoch);
    if (ec) throw Error("clamp mtimes under " + dir + ": " + ec.message());
    clamp_one(dir, epoch);
}

}  // namespace kiln::builder
