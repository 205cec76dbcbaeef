#include "builder/run_image.hpp"

#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/flag_values.hpp"
#include "builder/image_config.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/container.hpp"
#include "runtime/user.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_json.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

std::vector<std::string> container_args(const std::vector<std::string>& image_entrypoint,
                                        const std::vector<std::string>& image_cmd,
                                        const RunOptions& options) {
    std::vector<std::string> args;
    if (options.entrypoint) {
        if (!options.entrypoint->empty()) args.push_back(*options.entrypoint);
        // A new entrypoint drops the image's CMD, as in Docker.
        args.insert(args.end(), options.command.begin(), options.command.end());
        return args;
    }
    args = image_entrypoint;
    const auto& cmd = options.command.empty() ? image_cmd : options.command;
    args.insert(args.end(), cmd.begin(), cmd.end());
    return args;
}

namespace {

runtime::BindMount parse_volume(const std::string& spec) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        auto colon = spec.find(':', start);
        parts.push_back(spec.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
        throw Error("invalid volume \"" + spec + "\": expected HOST:CONTAINER[:ro|rw]");
    if (!parts[0].starts_with('/'))
        throw Error("invalid volume \"" + spec + "\": named volumes are not supported yet; give an absolute host path");
    if (!parts[1].starts_with('/'))
        throw Error("invalid volume \"" + spec + "\": the container path must be absolute");
    runtime::BindMount bind{parts[0], clean_path(parts[1]), false};
    if (parts.size() == 3) {
        if (parts[2] == "ro")
            bind.readonly = true;
        else if (parts[2] != "rw")
            throw Error("invalid volume \"" + spec + "\": mode must be ro or rw");
    }
    if (!path_exists(bind.source)) mkdir_p(bind.source);  // docker creates a missing host dir
    return bind;
}

// Ids are checked here too, so a bad -u is refused before anything is created (the
// container checks again: USER can name a passwd entry only the image knows).
void check_user_spec(const std::string& user) {
    auto colon = user.find(':');
    std::string_view name = std::string_view(user).substr(0, colon);
    std::string_view group = colon == std::string::npos ? std::string_view() : std::string_view(user).substr(colon + 1);
    if (runtime::is_out_of_range_id(name) || runtime::is_out_of_range_id(group))
        throw Error("invalid user \"" + user + "\": uids and gids must be in range 0-" +
                    std::to_string(runtime::max_id));
}

}  // namespace

void apply_security_opts(const std::vector<std::string>& opts, runtime::ContainerSpec& spec) {
    for (const auto& opt : opts) {
        auto invalid = [&](const std::string& why) { return Error("invalid --security-opt \"" + opt + "\": " + why); };
        auto eq = opt.find('=');
        std::string key = opt.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
        if (eq == std::string::npos && opt != "no-new-privileges") {
            if (auto colon = opt.find(':'); colon != std::string::npos)
                throw invalid("the \":\" separator is deprecated in Docker and not accepted by kiln; write " +
                              opt.substr(0, colon) + "=" + opt.substr(colon + 1));
        }
        if (key == "no-new-privileges") {
            // kiln always sets no_new_privs; it cannot be turned off.
            if (eq == std::string::npos || value == "true" || value == "1") continue;
            throw invalid("kiln always runs containers with no-new-privileges");
        }
        if (key != "seccomp") throw invalid("kiln supports only seccomp=unconfined|builtin|PROFILE.json and no-new-privileges");
        if (value.empty()) throw invalid("give seccomp=unconfined or seccomp=PROFILE.json");
        if (value == "unconfined")
            spec.seccomp = std::make_shared<const std::vector<sock_filter>>();
        else if (value == "builtin")
            spec.seccomp = nullptr;
        else
            spec.seccomp = std::make_shared<const std::vector<sock_filter>>(runtime::compile_seccomp(
                runtime::load_seccomp_profile(value), runtime::docker_default_capabilities()));
    }
}

int run_image(image::Store& store, const RunOptions& options) {
    runtime::ContainerSpec spec;
    apply_security_opts(options.security_opts, spec);
    auto id = store.images().resolve(options.image);
    if (!id) id = store.images().resolve(image::parse_reference(options.image).str());
    if (!id) throw Error("Unable to find image '" + options.image + "' in the store");
    auto config = ImageConfig::from_base(nlohmann::json::parse(store.images().config(*id)));

    spec.args = container_args(config.entrypoint(), config.cmd(), options);
    if (spec.args.empty()) throw Error("no command specified");
    spec.env = config.env();
    for (const auto& e : options.env) {
        std::string entry = e;
        if (e.find('=') == std::string::npos) {
            const char* value = std::getenv(e.c_str());
            if (!value) continue;  // docker drops -e NAME when NAME is unset
            entry = e + "=" + value;
        }
        std::string key = entry.substr(0, entry.find('='));
        std::erase_if(spec.env, [&](const std::string& x) {
            return x == key || x.starts_with(key + "=");
        });
        spec.env.push_back(entry);
    }
    spec.cwd = options.workdir ? *options.workdir : config.working_dir();
    if (!spec.cwd.starts_with('/')) throw Error("the working directory '" + spec.cwd + "' is invalid, it needs to be an absolute path");
    spec.user = options.user ? *options.user : config.user();
    check_user_spec(spec.user);
    std::string container_id = runtime::generate_container_id();
    spec.id = container_id;
    spec.hostname = options.hostname ? *options.hostname : container_id.substr(0, 12);
    for (const auto& v : options.volumes) spec.binds.push_back(parse_volume(v));
    if (options.interactive) spec.stdin_fd = 0;
    spec.tty = options.tty;
    spec.network_files = true;  // /etc/hostname, /etc/hosts, /etc/resolv.conf as docker run writes them
    if (!options.memory.empty()) spec.memory_limit = parse_memory_size(options.memory);
    if (!options.pids_limit.empty()) spec.pids_limit = parse_pids_limit(options.pids_limit);
    if (!options.cpus.empty()) spec.cpus = parse_cpus(options.cpus, std::thread::hardware_concurrency());
    runtime::validate_limits({spec.memory_limit, spec.pids_limit, spec.cpus});  // before the snapshot exists

    std::optional<Digest> top;
    for (const auto& diff_id : config.diff_ids()) top = image::chain_id(top, diff_id);
    std::string key = "container-" + container_id;
    auto snapshot = store.layers().prepare(key, top);
    spec.rootfs = snapshot.mount;
    // Stopped containers are not kept yet (ps/rm/commit come with the container lifecycle):
    // the writable layer goes away with the run, --rm or not.
    int code;
    try {
        code = runtime::run_container(spec);
    } catch (...) {
        store.layers().remove(key);
        throw;
    }
    store.layers().remove(key);
    return code;
}

}  // namespace kiln::builder
