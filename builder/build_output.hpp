#pragma once
// `kiln build --output` (buildx's exporters): where the built image goes besides the store.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

struct BuildOutput {
    enum class Type {
        Image,     // the store only (type=image; push=true pushes too)
        Registry,  // the store, then a push of every name
        Local,     // the image's files into the directory dest
        Tar,       // the image's files as one tar into dest ("-": stdout)
        Oci,       // an OCI image layout tar (as `kiln save --format oci-archive`)
        Docker,    // a docker-archive tar (as `kiln save`); without dest the store alone
    };
    Type type = Type::Image;
    std::string dest;
    bool push = false;
    std::vector<std::string> names;  // name=: more names, as -t gives them

    bool to_stdout() const { return dest == "-"; }
};

// Reads one --output value as buildx does: "type=T,key=value,…", or the shorthands "DIR"
// (type=local) and "-" (type=tar to stdout). Throws kiln::Error for an unknown type or
// key, or a missing dest.
BuildOutput parse_build_output(const std::string& text);

// Writes the image as output says (nothing for Image and Registry). names are the image's
// -t names (the archive's names for Oci and Docker); mtime is every archive header's time.
void write_build_output(image::Store& store, const Digest& image_id, const std::vector<std::string>& names,
                        const BuildOutput& output, std::int64_t mtime);

}  // namespace kiln::builder
