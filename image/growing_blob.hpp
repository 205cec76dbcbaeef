#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "image/blob_cache.hpp"
#include "image/content_store.hpp"
#include "image/layer_store.hpp"
#include "image/layer_tar.hpp"
#include "util/fd.hpp"

namespace kiln::image {

class Store;

// A layer's compressed blob made on a thread of its own while a reader takes the bytes
// already written: a push sends the first chunks while the rest is being compressed,
// instead of compressing to a file and then reading it back. The bytes go into the
// content store's tmp/ as they are made, so a reader can go back to any offset (an upload
// resumed after a dropped connection). finish() commits and records the blob, the same one
// ensure_layer_blob makes, so the next push or save finds it kept.
class GrowingLayerBlob {
public:
    GrowingLayerBlob(Store& store, const LayerInfo& layer, Compression compression);
    // Stops the maker and discards the blob unless finish() committed it.
    ~GrowingLayerBlob();
    GrowingLayerBlob(const GrowingLayerBlob&) = delete;
    GrowingLayerBlob& operator=(const GrowingLayerBlob&) = delete;

    // Blocks until `want` bytes past offset are written or the blob is complete; returns
    // how many bytes there are from offset, at most want (0: offset is the end). Throws
    // kiln::Error with the maker's error when it failed.
    std::uint64_t wait(std::uint64_t offset, std::uint64_t want);
    // Reads written bytes: [offset, offset + cap) must lie within what wait() reported
    // (also after finish()).
    std::size_t read(std::uint64_t offset, void* buf, std::size_t cap) const;
    // The complete blob's digest and size (waits for the end); not in the store yet, so a
    // push can send the digest while the file still goes to disk.
    LayerBlob complete();
    // The complete blob, committed to the content store (durably) and recorded as the
    // layer's blob in this compression.
    LayerBlob finish();

private:
    void make();

    Store& store_;
    LayerInfo layer_;
    Compression compression_;
    ContentStore::Writer writer_;
    UniqueFd fd_;  // the staged file, still readable once committed (renamed) into the store

    std::mutex mutex_;
    std::condition_variable grown_;
    std::uint64_t written_ = 0;
    std::uint64_t flushed_ = 0;  // written back to disk (started) up to here: only the maker uses it
    bool complete_ = false;
    bool cancelled_ = false;
    std::string error_;
    std::optional<LayerBlob> committed_;
    std::thread maker_;  // last: started once everything above exists
};

}  // namespace kiln::image
