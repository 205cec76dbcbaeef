#pragma once
#include <sys/stat.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::builder {

// A read-only tree COPY takes files from: the build context, or another stage's layers.
// Paths are relative, "/"-separated and already cleaned; "" is the tree's root.
class SourceTree {
public:
    virtual ~SourceTree() = default;
    // lstat of rel; nullopt when it does not exist (or is hidden by a whiteout).
    virtual std::optional<struct stat> stat(std::string_view rel) const = 0;
    // Names directly below the directory rel, sorted bytewise.
    virtual std::vector<std::string> list(std::string_view rel) const = 0;
    virtual UniqueFd open_file(std::string_view rel) const = 0;
    // A directory of the tree opened for reading (its xattrs); the base class has none.
    virtual UniqueFd open_directory_at(std::string_view rel) const;
    virtual std::string read_link(std::string_view rel) const = 0;
    // sha256 of a regular file's bytes (the context remembers these by inode/size/mtime).
    virtual Digest file_digest(std::string_view rel, const struct stat& st) const;
    // The user.* extended attributes of a regular file or directory, sorted by name
    // (BuildKit keeps them on COPY; other namespaces are the host's or the kernel's).
    virtual std::vector<std::pair<std::string, std::string>> user_xattrs(std::string_view rel) const;
};

// rel with every symlink on the way resolved as the tree's own root would resolve it: an
// absolute target and ".." stop at the tree's root, never leave it. The last component is
// followed only when follow_last. nullopt when a link dangles before the end or more than
// 40 links are followed (a loop).
std::optional<std::string> resolve_in_tree(const SourceTree& tree, std::string_view rel, bool follow_last);

// A directory on the host read through a dirfd: nothing outside it is ever opened.
class DirectoryTree : public SourceTree {
public:
    explicit DirectoryTree(const std::string& root);
    std::optional<struct stat> stat(std::string_view rel) const override;
    std::vector<std::string> list(std::string_view rel) const override;
    UniqueFd open_file(std::string_view rel) const override;
    UniqueFd open_directory_at(std::string_view rel) const override;
    std::string read_link(std::string_view rel) const override;
    // Through the parent directory's fd, without opening rel itself.
    std::vector<std::pair<std::string, std::string>> user_xattrs(std::string_view rel) const override;
    const std::string& root() const { return root_; }

private:
    // f(fd of rel's parent directory, opened inside the root; rel's last component), the
    // fd valid only while f runs.
    template <typename F>
    auto in_parent(std::string_view rel, F&& f) const;

    std::string root_;
    UniqueFd root_fd_;
    // The entries of a tree are visited folder by folder: the last parent opened is kept
    // (as an O_PATH fd, resolved in the root when it was opened) and handed out again, so
    // a COPY of 5,000 files does not resolve each one's folder from the root four times.
    struct LastParent {
        std::mutex mutex;
        std::string path;
        UniqueFd fd;
    };
    // Held by pointer so that a tree stays movable (LayerChainTree keeps a vector of them).
    std::unique_ptr<LastParent> last_parent_ = std::make_unique<LastParent>();
};

// The merged view of unpacked layers (top first), as overlayfs would show it: whiteouts
// (0/0 character devices) hide lower entries, an opaque directory hides lower contents.
class LayerChainTree : public SourceTree {
public:
    explicit LayerChainTree(std::vector<std::string> diff_dirs_top_first);
    std::optional<struct stat> stat(std::string_view rel) const override;
    std::vector<std::string> list(std::string_view rel) const override;
    UniqueFd open_file(std::string_view rel) const override;
    UniqueFd open_directory_at(std::string_view rel) const override;
    std::string read_link(std::string_view rel) const override;
    std::vector<std::pair<std::string, std::string>> user_xattrs(std::string_view rel) const override;

private:
    // Index into layers_ of the layer that provides rel, if visible.
    std::optional<std::size_t> provider(std::string_view rel) const;
    std::vector<DirectoryTree> layers_;
};

bool is_whiteout(const struct stat& st);

}  // namespace kiln::builder
