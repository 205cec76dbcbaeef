#include "builder/add_source.hpp"

#include <archive.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <memory>

#include "image/layer_tar.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

// Sources BuildKit takes as git repositories. kiln does not clone them (yet): refused, so
// nothing tries them as a URL or a context path.
bool is_git_source(const std::string& source) {
    if (source.starts_with("git@") || source.starts_with("git://") || source.starts_with("ssh://")) return true;
    if (!is_http_url(source)) return false;
    std::string path = source.substr(0, source.find_first_of("?#"));
    return path.ends_with(".git");
}

// The downloads of one ADD as a tree COPY's machinery can read: one regular file per URL,
// named after the URL, mode 0600 and owned by root as BuildKit writes it, with the
// Last-Modified time (else the time of this build) as its mtime.
class DownloadTree : public SourceTree {
public:
    DownloadTree(image::Store& store, const std::vector<const FetchedUrl*>& files) : store_(store) {
        for (const auto* file : files) files_[url_file_name(file->url)] = file;  // the last of a name wins
        now_ = std::time(nullptr);
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, file] : files_) out.push_back(name);
        return out;
    }
    std::optional<struct stat> stat(std::string_view rel) const override {
        struct stat st {};
        if (rel.empty()) {
            st.st_mode = S_IFDIR | 0755;
            return st;
        }
        const FetchedUrl* file = find(rel);
        if (!file) return std::nullopt;
        st.st_mode = S_IFREG | 0600;
        st.st_nlink = 1;
        st.st_size = static_cast<off_t>(file->size);
        st.st_mtim.tv_sec = file->mtime.value_or(now_);
        return st;
    }
    std::vector<std::string> list(std::string_view rel) const override {
        return rel.empty() ? names() : std::vector<std::string>{};
    }
    UniqueFd open_file(std::string_view rel) const override {
        const FetchedUrl* file = find(rel);
        if (!file) throw Error("ADD: no download named " + std::string(rel));
        UniqueFd fd(::open(file->body_path(store_).c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("open the download of " + file->url);
        return fd;
    }
    std::string read_link(std::string_view rel) const override {
        throw Error("ADD: the download " + std::string(rel) + " is not a symlink");
    }
    Digest file_digest(std::string_view rel, const struct stat&) const override { return find(rel)->digest; }

private:
    const FetchedUrl* find(std::string_view rel) const {
        auto it = files_.find(std::string(rel));
        return it == files_.end() ? nullptr : it->second;
    }
    image::Store& store_;
    std::map<std::string, const FetchedUrl*> files_;
    std::int64_t now_ = 0;
};

// A directory the extractor made on the way to an entry: where the image below has one, the
// new one takes its owner and mode, so an archive holding "tmp/x" but no "tmp/" entry does
// not lay a 0755 /tmp over the image's 1777 one.
void like_lower(int dir_fd, const std::string& dest, const std::string& rel, const SourceTree* lower) {
    if (!lower) return;
    std::string image_path = clean_path(dest + "/" + rel);
    auto st = lower->stat(image_path.substr(1));
    if (!st || !S_ISDIR(st->st_mode)) return;
    UniqueFd dir(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("open " + image_path);
    if (::fchown(dir.get(), st->st_uid, st->st_gid) != 0) throw_errno("chown " + image_path);
    if (::fchmod(dir.get(), st->st_mode & 07777) != 0) throw_errno("chmod " + image_path);
}

struct ArchiveReadDeleter {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};

}  // namespace

bool is_tar_archive(int fd) {
    // Docker's test (archive.IsArchivePath): its own decompressors, then one tar header.
    std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
    if (!a) throw Error("libarchive: out of memory");
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_fd(a.get(), fd, 1 << 16) != ARCHIVE_OK) return false;
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

AddSources::AddSources(image::Store& store, const parser::CopyCmd& cmd, const std::vector<std::string>& sources,
                       const std::string& dest, const std::string& checksum, const SourceTree& lower,
                       bool no_cache, const FailAt& fail)
    : store_(store), fail_(fail), unpack_flag_(cmd.unpack), checksum_(checksum), dest_(dest) {
    if (cmd.link) fail_("--link", "ADD --link is not supported by kiln yet");
    if (cmd.keep_git_dir) fail_("--keep-git-dir", "ADD --keep-git-dir: git sources are not supported by kiln yet");
    std::vector<std::string> urls;
    for (const auto& source : sources) {
        if (is_git_source(source)) fail_(source, "ADD from a git repository is not supported by kiln yet: " + source);
        (is_http_url(source) ? urls : local_).push_back(source);
    }
    FetchOptions options;
    options.revalidate = !no_cache;
    if (!checksum_.empty()) {
        if (!local_.empty()) fail_("--checksum", "checksum can't be specified for non-HTTP(S) sources");
        if (!Digest::valid(checksum_))
            fail_("--checksum", "invalid checksum " + checksum_ + ": expected sha256: and 64 lowercase hex digits");
        options.checksum = Digest::parse(checksum_);
    }
    if (sources.size() > 1 && !dest_.ends_with('/')) {
        std::string rel = clean_path(dest_).substr(1);
        auto st = lower.stat(rel);
        if (!(st && S_ISDIR(st->st_mode)) && !dest_.ends_with("/."))
            fail_(cmd.dest, "When using ADD with more than one source file, the destination must be a "
                            "directory and end with a /");
        dest_ += '/';
    }
    for (const auto& url : urls) {
        try {
            fetched_.push_back(fetch_url(store_, url, options));
        } catch (const Error& e) {
            fail_(url, std::string("ADD: ") + e.what());
        }
    }
}

std::string AddSources::flags_text() const {
    std::string text;
    if (!checksum_.empty()) text += "--checksum=" + checksum_ + " ";
    if (unpack_flag_) text += std::string("--unpack=") + (*unpack_flag_ ? "true" : "false") + " ";
    return text;
}

Digest AddSources::key(const Digest& local_digest, const CopyOptions& options) const {
    std::string text = local_digest.str() + "\n";
    for (const auto& file : fetched_)
        text += url_file_name(file.url) + " " + file.digest.str() + " " +
                (file.mtime ? std::to_string(*file.mtime) : "-") + "\n";
    text += "mode " + (options.mode ? std::to_string(*options.mode) : "-") + "\n";
    return sha256_of(text);
}

void AddSources::unpack(int fd, const std::string& name, const CopyOptions& options, const std::string& upper_dir,
                        const SourceTree* lower) {
    std::string dir = clean_path(dest_);
    try {
        UniqueFd into = open_destination_dir(upper_dir, lower, options, dir);
        image::ExtractOptions extract;
        extract.layer = false;  // .wh. names are files here, as BuildKit extracts them
        // --chown gives every entry that owner, as BuildKit does; --chmod leaves them as packed.
        if (options.uid) extract.owner = std::make_pair(*options.uid, options.gid.value_or(*options.uid));
        extract.made_parent = [&](int dir_fd, const std::string& rel) { like_lower(dir_fd, dir, rel, lower); };
        image::ByteSource source = [&](void* buf, std::size_t cap) { return read_some(fd, buf, cap, name); };
        image::extract_tar_into(into.get(), dir, source, extract);
    } catch (const Error& e) {
        fail_(name, "ADD: cannot unpack " + name + " into " + dir + ": " + e.what());
    }
}

void AddSources::unpack_archives(const SourceTree& tree, std::vector<CopyItem>& items, const CopyOptions& options,
                                 const std::string& upper_dir, const SourceTree* lower) {
    if (!unpack_flag_.value_or(true)) return;
    std::vector<CopyItem> rest;
    for (auto& item : items) {
        auto st = item.inline_content || item.contents_only ? std::nullopt : tree.stat(item.source);
        UniqueFd fd = st && S_ISREG(st->st_mode) ? tree.open_file(item.source) : UniqueFd();
        if (fd && is_tar_archive(fd.get())) {
            if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("rewind " + item.source);
            unpack(fd.get(), item.source, options, upper_dir, lower);
        } else {
            rest.push_back(std::move(item));
        }
    }
    items = std::move(rest);
}

void AddSources::write_downloads(const CopyOptions& options, const std::string& upper_dir, const SourceTree* lower) {
    std::vector<const FetchedUrl*> files;
    for (const auto& file : fetched_) {
        if (unpack_flag_.value_or(false)) {
            UniqueFd fd(::open(file.body_path(store_).c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) throw_errno("open the download of " + file.url);
            if (is_tar_archive(fd.get())) {
                if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("rewind the download of " + file.url);
                unpack(fd.get(), file.url, options, upper_dir, lower);
                continue;
            }
        }
        files.push_back(&file);
    }
    if (files.empty()) return;
    DownloadTree tree(store_, files);
    auto items = plan_copy(tree, tree.names(), {}, dest_, lower, nullptr);
    apply_copy(tree, items, options, nullptr, upper_dir, lower);
}

void AddSources::keep() {
    for (auto& file : fetched_) keep_fetched(store_, file);
}

}  // namespace kiln::builder
