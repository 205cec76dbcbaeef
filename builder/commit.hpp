#pragma once
// `kiln commit`: a container's writable layer (its snapshot's upper dir, whiteouts and
// opaque directories included) becomes a new layer on top of its image, with the
// container's own Config (env, cmd, entrypoint, …, as docker commit takes it) and then
// the --change instructions applied.
#include <string>
#include <vector>

#include "runtime/container_records.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

struct CommitOptions {
    std::vector<std::string> changes;  // Dockerfile instructions (change_instructions)
    std::string message;               // the history entry's comment
    std::string author;
    std::string reference;             // REPO[:TAG] to tag the image with; may be empty
    bool pause = true;                 // freeze a running container while its layer is taken
};

// Returns the new image's ID. Bad changes or a bad reference throw kiln::Error before
// anything is stored.
Digest commit_container(image::Store& store, const runtime::ContainerRow& row, const CommitOptions& options);

}  // namespace kiln::builder
