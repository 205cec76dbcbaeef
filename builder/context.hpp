#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "builder/copy.hpp"
#include "builder/source_tree.hpp"

namespace kiln::image {
class Store;
}
namespace kiln::parser {
class PatternMatcher;
}

namespace kiln::builder {

// The build context directory as COPY sees it: read through a dirfd, filtered by
// .dockerignore (or <Dockerfile>.dockerignore beside the Dockerfile, which wins), with file
// digests remembered across builds by (path, size, mtime, inode, device) so an unchanged
// file is never read twice.
class BuildContext {
public:
    // dockerfile_path empty: no Dockerfile beside the context (read from stdin). remember
    // false: a scratch context, whose digests save_digests() does not keep.
    BuildContext(const std::string& context_dir, const std::string& dockerfile_path,
                 image::Store& store, bool remember = true);
    ~BuildContext();

    const SourceTree& tree() const;
    // Null when nothing is excluded.
    ExcludeFn excluder() const;
    // Writes the digests learned during this build to the store (one transaction).
    void save_digests();

private:
    class Tree;
    std::unique_ptr<Tree> tree_;
    std::shared_ptr<parser::PatternMatcher> excludes_;
    bool remember_ = true;
};

}  // namespace kiln::builder
