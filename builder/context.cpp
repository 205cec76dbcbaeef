#include "builder/context.hpp"

#include <unordered_map>

#include "image/store.hpp"
#include "parser/dockerignore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

class BuildContext::Tree : public DirectoryTree {
public:
    // What earlier builds learned about this context, read in one query: a rebuild then
    // checks each file with one lstat and a map lookup.
    Tree(const std::string& root, image::MetadataDb& db) : DirectoryTree(root), db_(db) {
        for (auto& row : db_.file_digests_under(root + "/")) known_.emplace(row.path, std::move(row));
    }

    Digest file_digest(std::string_view rel, const struct stat& st) const override {
        image::FileDigestRow row{root() + "/" + std::string(rel), static_cast<std::uint64_t>(st.st_size),
                                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                                 st.st_ino, st.st_dev, ""};
        if (auto known = known_.find(row.path); known != known_.end() && same_file(known->second, row))
            return Digest::parse(known->second.digest);
        {
            // Learned earlier in this build (a cold COPY reads its sources for its key, then
            // lists them for --explain-cache: the second pass must not hash them again).
            std::lock_guard lock(mutex_);
            if (auto learned = learned_.find(row.path); learned != learned_.end() && same_file(learned->second, row))
                return Digest::parse(learned->second.digest);
        }
        Digest digest = DirectoryTree::file_digest(rel, st);
        row.digest = digest.str();
        std::lock_guard lock(mutex_);
        learned_.insert_or_assign(row.path, std::move(row));
        return digest;
    }

    void save() {
        std::lock_guard lock(mutex_);
        if (learned_.empty()) return;
        std::vector<image::FileDigestRow> rows;
        rows.reserve(learned_.size());
        for (auto& [path, row] : learned_) rows.push_back(std::move(row));
        db_.file_digest_put_many(rows);
        learned_.clear();
    }

private:
    static bool same_file(const image::FileDigestRow& k, const image::FileDigestRow& row) {
        return k.size == row.size && k.mtime_ns == row.mtime_ns && k.inode == row.inode && k.device == row.device &&
               Digest::valid(k.digest);
    }

    image::MetadataDb& db_;
    std::unordered_map<std::string, image::FileDigestRow> known_;
    mutable std::mutex mutex_;
    mutable std::unordered_map<std::string, image::FileDigestRow> learned_;
};

BuildContext::BuildContext(const std::string& context_dir, const std::string& dockerfile_path,
                           image::Store& store, bool remember)
    : remember_(remember) {
    struct stat st;
    if (::stat(context_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error("build context " + context_dir + " is not a directory");
    tree_ = std::make_unique<Tree>(context_dir, store.db());

    // Dockerfile.dockerignore beside the Dockerfile wins over the context's .dockerignore.
    std::string specific = dockerfile_path.empty() ? "" : dockerfile_path + ".dockerignore";
    std::string ignore_file = !specific.empty() && path_exists(specific) ? specific : safe_join(context_dir, ".dockerignore");
    if (path_exists(ignore_file)) {
        auto patterns = parser::read_dockerignore(read_file(ignore_file));
        if (!patterns.empty())
            excludes_ = std::make_shared<parser::PatternMatcher>(patterns);
    }
}

BuildContext::~BuildContext() = default;

const SourceTree& BuildContext::tree() const { return *tree_; }

ExcludeFn BuildContext::excluder() const {
    if (!excludes_) return nullptr;
    auto matcher = excludes_;
    return ExcludeFn([matcher](std::string_view rel) { return matcher->matches(rel); },
                     matcher->has_exclusions());
}

void BuildContext::save_digests() {
    if (remember_) tree_->save();
}

}  // namespace kiln::builder
