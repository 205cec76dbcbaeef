#include "image/blob_cache.hpp"

#include <fcntl.h>

#include "image/content_store.hpp"
#include "image/metadata_db.hpp"
#include "image/oci.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kCopyBlock = 1u << 20;

// Reads a stored blob's file into sink, hashing it on the way: the content store names
// files by digest, but a file can rot on disk, and a corrupt layer must not leave the store.
TarStats read_blob_file(Store& store, const Digest& digest, const ByteSink& sink) {
    const std::string path = store.content().path(digest);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open blob " + path);
    std::unique_ptr<char[]> buf(new char[kCopyBlock]);
    Sha256 hash;
    std::uint64_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.get(), kCopyBlock);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read blob " + path);
        }
        if (n == 0) break;
        hash.update(buf.get(), static_cast<std::size_t>(n));
        sink(buf.get(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    return TarStats{hash.finish(), total};
}

}  // namespace

TarStats stream_blob(Store& store, const Digest& digest, const ByteSink& sink) {
    TarStats st = read_blob_file(store, digest, sink);
    if (st.digest != digest)
        throw Error("blob " + digest.str() + " in the store is corrupt (its bytes hash to " + st.digest.str() + ")");
    return st;
}

std::string layer_media_type(Compression c) {
    switch (c) {
    case Compression::Gzip:
        return std::string(media::kOciLayerGzip);
    case Compression::Zstd:
        return std::string(media::kOciLayerZstd);
    case Compression::None:
        break;
    }
    return std::string(media::kOciLayer);
}

std::optional<LayerBlob> find_layer_blob(Store& store, const Digest& diff_id, Compression c) {
    const std::string want = layer_media_type(c);
    for (const auto& row : store.db().blobs_for_diff(diff_id)) {
        if (row.media_type != want) continue;
        auto size = store.content().size(row.digest);
        if (size && *size == row.size) return LayerBlob{row.media_type, row.digest, row.size};
    }
    return std::nullopt;
}

namespace {

// The compression of a layer media type, OCI or Docker; nullopt for anything else
// (uncompressed, foreign or unknown types).
std::optional<Compression> compressed_layer_kind(std::string_view media_type) {
    if (media_type == media::kOciLayerGzip || media_type == media::kDockerLayerGzip) return Compression::Gzip;
    if (media_type == media::kOciLayerZstd) return Compression::Zstd;
    return std::nullopt;
}

}  // namespace

std::optional<LayerBlob> find_kept_compressed_blob(Store& store, const Digest& diff_id) {
    std::optional<LayerBlob> zstd;
    for (const auto& row : store.db().blobs_for_diff(diff_id)) {
        auto kind = compressed_layer_kind(row.media_type);
        if (!kind) continue;
        auto size = store.content().size(row.digest);
        if (!size || *size != row.size) continue;
        LayerBlob blob{layer_media_type(*kind), row.digest, row.size};
        if (*kind == Compression::Gzip) return blob;
        if (!zstd) zstd = blob;
    }
    return zstd;
}

void record_layer_blob(Store& store, const Digest& diff_id, const LayerBlob& blob) {
    store.db().put_blob(BlobRow{blob.digest, blob.media_type, blob.size, diff_id});
}

TarStats stream_layer_tar(Store& store, const LayerInfo& layer, const ByteSink& sink) {
    if (auto kept = find_layer_blob(store, layer.diff_id, Compression::None)) {
        TarStats st = read_blob_file(store, kept->digest, sink);
        if (st.digest != layer.diff_id)
            throw Error("layer " + layer.diff_id.str() + ": its kept tar " + kept->digest.str() + " is corrupt");
        return st;
    }
    if (store.layers().tar_reproducible(layer)) {
        // Known to tar to its diffID: the archive's own size check and every reader's
        // digest check stand where a second sha256 pass over the same bytes would.
        TarWriteOptions options;
        options.hash = false;
        TarStats st = write_layer_tar(layer.diff_dir, sink, options);
        if (st.size != layer.size)
            throw Error("layer " + layer.diff_id.str() + " changed on disk: its files tar to " +
                        std::to_string(st.size) + " bytes, not " + std::to_string(layer.size));
        return TarStats{layer.diff_id, st.size};
    }
    // A pulled layer keeps the registry's compressed blob instead: its tar is that, unpacked.
    for (Compression c : {Compression::Gzip, Compression::Zstd}) {
        auto kept = find_layer_blob(store, layer.diff_id, c);
        if (!kept) continue;
        const std::string path = store.content().path(kept->digest);
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("open blob " + path);
        TarStats st = decompress_layer(
            [&](void* buf, std::size_t cap) {
                for (;;) {
                    ssize_t n = ::read(fd.get(), buf, cap);
                    if (n >= 0) return static_cast<std::size_t>(n);
                    if (errno != EINTR) throw_errno("read blob " + path);
                }
            },
            sink);
        if (st.digest != layer.diff_id)
            throw Error("layer " + layer.diff_id.str() + ": its kept blob " + kept->digest.str() + " is corrupt");
        return st;
    }
    TarStats st = write_layer_tar(layer.diff_dir, sink);
    if (st.digest != layer.diff_id)
        throw Error("layer " + layer.diff_id.str() + " cannot be reproduced: its files tar to " +
                    st.digest.str() + " (" + std::to_string(st.size) +
                    " bytes); it was stored before kiln kept layer tars, import or build it again");
    try {
        store.layers().mark_tar_reproducible(layer);
    } catch (const Error&) {
        // Only a shortcut for the next save (a read-only store simply hashes again).
    }
    return st;
}

LayerBlob ensure_layer_blob(Store& store, const LayerInfo& layer, Compression c) {
    if (c == Compression::None) return LayerBlob{layer_media_type(c), layer.diff_id, layer.size};
    if (auto kept = find_layer_blob(store, layer.diff_id, c)) return *kept;
    ContentStore::Writer blob = store.content().writer();
    // The writer hashes what it stores: the compressor need not hash the same bytes again.
    Compressor compressor(c, [&](const void* d, std::size_t n) { blob.write(d, n); }, -1, false);
    stream_layer_tar(store, layer, compressor.sink());
    TarStats packed = compressor.finish();
    LayerBlob out{layer_media_type(c), blob.commit(), packed.size};
    record_layer_blob(store, layer.diff_id, out);
    return out;
}

StagedLayerWithTar stage_layer_keeping_tar(Store& store, const ByteSource& source) {
    ContentStore::Writer tar = store.content().writer();
    StagedLayer layer =
        store.layers().stage_tar(source, [&](const void* d, std::size_t n) { tar.write(d, n); });
    return StagedLayerWithTar{std::move(layer), std::move(tar)};
}

LayerInfo publish_layer_keeping_tar(Store& store, StagedLayerWithTar& staged, const std::optional<Digest>& parent) {
    // The blob first: a layer row must never promise a kept tar that is not there.
    const std::uint64_t size = staged.tar.size();
    Digest digest = staged.tar.commit(staged.layer.diff_id);
    LayerInfo info = store.layers().publish(staged.layer, parent);
    record_layer_blob(store, info.diff_id, LayerBlob{layer_media_type(Compression::None), digest, size});
    return info;
}

}  // namespace kiln::image
