#pragma once
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "builder/build_progress.hpp"
#include "builder/image_config.hpp"
#include "builder/run_settings.hpp"
#include "image/layer_store.hpp"
#include "parser/ast.hpp"

namespace kiln::builder {

class PreparedRunMounts;

struct RunStepInput {
    std::vector<std::string> args;  // shell already prepended for the shell form
    bool shell_form = false;
    std::vector<parser::Heredoc> heredocs;
    const ImageConfig& config;
    std::map<std::string, std::string> build_args;
    bool host_network = false;  // RUN --network=host
    bool insecure = false;      // RUN --security=insecure: a privileged container
    const RunSettings* settings = nullptr;  // the build's --add-host, --shm-size, --ulimit
    const PreparedRunMounts* mounts = nullptr;  // RUN --mount
};

// The argv the container runs. With heredocs in shell form, a RUN that is nothing but one
// heredoc runs its body as the script; otherwise the bodies follow the command line so the
// shell reads them as here-documents (what BuildKit does).
std::vector<std::string> run_step_args(const RunStepInput& input);

// Runs the step in a container over the snapshot; its output goes to `out` line by line,
// and a cancel of the build kills it. Throws kiln::Error with the exit code when the
// command fails.
void run_step(const RunStepInput& input, const image::Snapshot& snapshot, StageProgress& out);

}  // namespace kiln::builder
