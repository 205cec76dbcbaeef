#pragma once
// What each layer of an image does to the filesystem below it: the paths it adds (A),
// changes (C) and deletes (D), as `docker diff` letters them, and the bytes it ships that a
// later layer overwrites or deletes, so they take space without ever being seen (what
// people install `dive` for).
#include <cstdint>
#include <string>
#include <vector>

#include "image/layer_store.hpp"
#include "util/digest.hpp"

namespace kiln::image {

class Store;

enum class EntryKind { file, directory, symlink, other, whiteout, opaque_directory };

// One path in an unpacked layer dir (overlay's format: whiteouts are 0/0 character devices,
// an opaque directory has trusted.overlay.opaque=y).
struct LayerEntry {
    std::string path;  // absolute inside the image: "/etc/passwd"
    EntryKind kind = EntryKind::file;
    std::uint64_t size = 0;  // bytes of a regular file, else 0
};

// Every path under diff_dir, parents before their children. Throws kiln::Error on I/O errors.
std::vector<LayerEntry> scan_layer(const std::string& diff_dir);

struct Change {
    char kind = 'A';  // 'A' added, 'C' changed, 'D' deleted
    std::string path;
    std::uint64_t size = 0;  // bytes of the file this layer writes (A, C) or hides (D)
};

struct LayerChanges {
    std::vector<Change> changes;  // in path order
    std::uint64_t written_bytes = 0;  // regular-file bytes this layer ships
    std::uint64_t wasted_bytes = 0;   // of those, what later layers overwrite or delete
};

// The changes of each layer of a stack (bottom first) against the layers below it.
std::vector<LayerChanges> layer_changes(const std::vector<std::vector<LayerEntry>>& stack);

struct ImageLayer {
    LayerInfo layer;
    std::string created_by;  // the history entry that made it
    LayerChanges changes;
};

// Every layer of a stored image, bottom first, with what it changes. Throws kiln::Error for
// an unknown image.
std::vector<ImageLayer> image_layers(Store& store, const Digest& image_id);

}  // namespace kiln::image
