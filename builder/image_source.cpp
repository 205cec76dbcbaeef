#include "builder/image_source.hpp"

#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::builder {

PullPolicy parse_pull_policy(const std::string& text) {
    if (text == "missing" || text == "false") return PullPolicy::Missing;
    if (text == "always" || text == "true") return PullPolicy::Always;
    if (text == "never") return PullPolicy::Never;
    throw Error("invalid pull policy '" + text.substr(0, 40) + "': use missing, always or never");
}

Digest find_or_pull(image::Store& store, const std::string& name, PullPolicy policy, const ImagePuller& puller) {
    std::optional<Digest> id;
    auto ref = image::try_parse_reference(name);
    if (policy != PullPolicy::Always || !ref) {
        id = store.images().resolve(name);
        if (!id && ref) id = store.images().resolve(ref->str());
        if (id) return *id;
    }
    // An image id (or a prefix of one) is only ever looked up, as in docker.
    if (!ref || image::looks_like_image_id(name)) throw Error("No such image: " + name);
    if (policy == PullPolicy::Never || !puller) throw Error("No such image: " + ref->familiar());
    return puller(*ref);
}

}  // namespace kiln::builder
