#include "builder/exec_container.hpp"

#include "builder/run_image.hpp"
#include "runtime/container.hpp"
#include "runtime/container_config.hpp"
#include "util/error.hpp"

namespace kiln::builder {

runtime::ExecSpec exec_spec(const runtime::ContainerConfig& config, const ExecOptions& options) {
    if (options.command.empty()) throw Error("\"kiln exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
    runtime::ExecSpec spec;
    spec.container_id = config.id;
    spec.args = options.command;
    spec.env = config.env;
    apply_env_flags(spec.env, options.env);
    spec.hostname = config.hostname;
    spec.user = options.user ? *options.user : config.user;
    check_user_spec(spec.user);
    spec.cwd = options.workdir ? *options.workdir : config.cwd;
    if (spec.cwd.empty()) spec.cwd = "/";
    if (!spec.cwd.starts_with('/'))
        throw Error("the working directory '" + spec.cwd + "' is invalid, it needs to be an absolute path");
    spec.tty = options.tty;
    spec.detach = options.detach;
    // Detached, -i attaches nothing, as the docker CLI sends no AttachStdin with -d: the
    // command reads the container's /dev/null.
    if (options.interactive && !options.detach) spec.stdin_fd = 0;
    // The confinement the container runs under: the same --security-opt, --cap-add,
    // --cap-drop and --ulimit values its start used.
    runtime::ContainerSpec container;
    apply_process_settings(config, container);
    spec.seccomp = container.seccomp;
    spec.capabilities = container.capabilities;
    spec.rlimits = container.rlimits;
    spec.privileged = config.privileged;
    return spec;
}

}  // namespace kiln::builder
