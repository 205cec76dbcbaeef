#pragma once
// Where `FROM`, `COPY --from=IMAGE`, `run` and `create` get an image: the store, or a pull
// when it is not there (docker's --pull=missing|always|never).
#include <functional>
#include <string>

#include "util/digest.hpp"

namespace kiln::image {
class Store;
struct Reference;
}  // namespace kiln::image

namespace kiln::builder {

enum class PullPolicy { Missing, Always, Never };

// "missing", "always", "never"; for `build --pull` also "true" (always) and "false" (missing).
// Throws kiln::Error naming the value for anything else.
PullPolicy parse_pull_policy(const std::string& text);

// Pulls a reference into the store and returns the image id; printing its progress is its
// business. Empty: nothing can be pulled.
using ImagePuller = std::function<Digest(const image::Reference& ref)>;

// The image `name` names: from the store (by name or id) unless the policy says to pull.
// Throws kiln::Error ("No such image: busybox:latest") when it is absent and cannot be pulled.
// An image id is never pulled.
Digest find_or_pull(image::Store& store, const std::string& name, PullPolicy policy, const ImagePuller& puller);

}  // namespace kiln::builder
