#pragma once
// What ADD does beyond COPY, as BuildKit's Dockerfile frontend does it: sources that are
// http(s) URLs are downloaded (builder/url_fetch.hpp) and copied as files named after the
// URL's path, mode 0600 and Last-Modified as mtime; a local source that is a tar archive
// (plain, gzip, bzip2, xz or zstd, known by its bytes and never by its name) is unpacked
// into the destination instead of copied, through image/tar_extract's safe extractor.
// --unpack=false keeps archives packed; a URL is unpacked only with --unpack=true.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/copy.hpp"
#include "builder/source_tree.hpp"
#include "builder/url_fetch.hpp"
#include "parser/instructions.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

// Throws the error at the instruction's file:line:col nearest to `needle`. Never returns.
using FailAt = std::function<void(std::string_view needle, const std::string& message)>;

// True when the regular file open at fd is a tar archive Docker would unpack: a tar
// stream, uncompressed or in gzip, bzip2, xz or zstd. Reads from the current offset.
bool is_tar_archive(int fd);

class AddSources {
public:
    // Checks ADD's flags against its sources (expanded), downloads the URLs among them
    // and plans where they land. dest is the absolute destination as the step resolved it;
    // lower the image below the step (is the destination a directory there?).
    AddSources(image::Store& store, const parser::CopyCmd& cmd, const std::vector<std::string>& sources,
               const std::string& dest, const std::string& checksum, const SourceTree& lower, bool no_cache,
               const FailAt& fail);

    // The sources COPY's machinery takes from the context (URLs left out).
    const std::vector<std::string>& local_sources() const { return local_; }
    // The destination to plan the local sources with: with several sources in all (URLs
    // counted), a directory.
    const std::string& destination() const { return dest_; }
    // The flags ADD has and COPY has not, as the step's history text shows them.
    std::string flags_text() const;
    // The step's source digest: the local sources' (digest_copy) and the downloads'.
    Digest key(const Digest& local_digest, const CopyOptions& options) const;

    // Fills the layer: local archives among items are unpacked (and taken out of items, which
    // the caller copies as COPY does), then the downloads are written.
    void unpack_archives(const SourceTree& tree, std::vector<CopyItem>& items, const CopyOptions& options,
                         const std::string& upper_dir, const SourceTree* lower);
    void write_downloads(const CopyOptions& options, const std::string& upper_dir, const SourceTree* lower);

    // The step succeeded (built or cached): the downloads are kept in the store.
    void keep();

private:
    void unpack(int fd, const std::string& name, const CopyOptions& options, const std::string& upper_dir,
                const SourceTree* lower);

    image::Store& store_;
    FailAt fail_;
    std::optional<bool> unpack_flag_;
    std::string checksum_;
    std::vector<std::string> local_;
    std::vector<FetchedUrl> fetched_;
    std::string dest_;
};

}  // namespace kiln::builder
