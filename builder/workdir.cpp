#include "builder/workdir.hpp"

#include <ctime>

#include "builder/copy.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

// A tree holding only an empty root directory: copying its contents into a destination
// makes the destination's directories and nothing else.
class EmptyDirectoryTree : public SourceTree {
public:
    std::optional<struct stat> stat(std::string_view rel) const override {
        if (!rel.empty()) return std::nullopt;
        struct stat st {};
        st.st_mode = S_IFDIR | 0755;
        return st;
    }
    std::vector<std::string> list(std::string_view) const override { return {}; }
    UniqueFd open_file(std::string_view rel) const override {
        throw Error("internal: no file " + std::string(rel) + " in an empty tree");
    }
    std::string read_link(std::string_view rel) const override {
        throw Error("internal: no link " + std::string(rel) + " in an empty tree");
    }
};

}  // namespace

bool workdir_needs_dirs(const SourceTree& rootfs, const std::string& path) {
    std::string rel;
    for (const auto& part : split_path(clean_path(path))) {
        rel += (rel.empty() ? "" : "/") + part;
        const auto st = rootfs.stat(rel);
        if (!st) return true;
        if (!S_ISDIR(st->st_mode)) return false;
    }
    return false;
}

void make_workdir(const std::string& path, uid_t uid, gid_t gid, const std::string& upper_dir,
                  const SourceTree& rootfs) {
    CopyOptions options;
    options.uid = uid;
    options.gid = gid;
    const EmptyDirectoryTree empty;
    apply_copy(empty, {CopyItem{"", std::nullopt, clean_path(path), true}}, options, nullptr, upper_dir, &rootfs);
}

}  // namespace kiln::builder
