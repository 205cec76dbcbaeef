#pragma once
// What a metadata instruction (ENV, LABEL, WORKDIR, USER, CMD, ENTRYPOINT, SHELL, EXPOSE,
// VOLUME, STOPSIGNAL, HEALTHCHECK, MAINTAINER, ONBUILD) does to an image config, and the
// history text Docker records for it. Build steps and `import`/`commit --change` share it,
// so an instruction means the same wherever it is written.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "builder/image_config.hpp"
#include "builder/variables.hpp"
#include "parser/instructions.hpp"

namespace kiln::builder {

struct ConfigEdit {
    std::string created_by;                 // "ENV A=1", "CMD [\"sh\"]", … as BuildKit writes it
    std::function<void(ImageConfig&)> apply;
    bool history = true;  // false for ONBUILD, which BuildKit records in no history entry
};

// Variables are expanded against `config` (the state before the instruction), as a build
// step expands them. nullopt for instructions that are not metadata (FROM, ARG, RUN, COPY).
std::optional<ConfigEdit> config_edit(const parser::Command& command, const BuildVariables& vars,
                                      const ImageConfig& config);

// The instructions `docker import --change` and `docker commit --change` accept.
inline constexpr const char* change_instructions = "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR";

// Applies `--change` values in order: each is one Dockerfile instruction, parsed and checked
// like a line of a Dockerfile. Throws kiln::Error (naming the change) for a parse error or
// an instruction outside change_instructions.
void apply_changes(ImageConfig& config, const std::vector<std::string>& changes);

}  // namespace kiln::builder
