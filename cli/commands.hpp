#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "builder/image_source.hpp"
#include "runtime/detach_keys.hpp"
#include "util/fd.hpp"
#include "util/go_template.hpp"

namespace kiln::image {
class Store;
}
namespace kiln::runtime {
class ContainerRecords;
}

namespace kiln::cli {

// Global options every command sees.
struct GlobalOptions {
    std::string root;  // --root / KILN_ROOT, default /var/lib/kiln
    bool debug = false;
    // --config DIR: the docker CLI's client config folder (credentials); empty means
    // DOCKER_CONFIG, else ~/.docker, as the docker CLI chooses.
    std::string config_dir;
};

// A flag that may be given many times, one value each time (`-e A=1 -e B=2`). CLI11
// otherwise lets a list option swallow the words after it, the image name included.
inline CLI::Option* repeatable(CLI::Option* option) {
    return option->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// A command group (`kiln image …`) that several files add subcommands to: the first caller
// makes it.
inline CLI::App* subcommand_group(CLI::App& app, const std::string& name, const std::string& description) {
    try {
        return app.get_subcommand(name);
    } catch (const CLI::OptionNotFound&) {
        return app.add_subcommand(name, description)->require_subcommand(1);
    }
}

// Runs action for each container named, as the docker CLI's container verbs do: an error
// (kiln::Error) is reported on stderr for that container, the others go on, exit_code is 1.
using ContainerAction = std::function<void(image::Store&, runtime::ContainerRecords&, const std::string&)>;
void for_each_container(const GlobalOptions& global, const std::vector<std::string>& names, int& exit_code,
                        const ContainerAction& action);

// One register function per command group (one file each). A command's callback does its
// work and stores the process exit code in `exit_code`; errors are thrown as kiln::Error.
void register_parse_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_lint_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_image_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_build_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_container_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_archive_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_cp_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// commit (diff CONTAINER is in register_inspect_commands: it falls back to images).
void register_commit_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_ps_commands(CLI::App& app, const GlobalOptions& global);
void register_exec_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// pause, unpause, rename, port, top, stats.
void register_pause_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_rename_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_port_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_top_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_stats_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// These add to the `container` group, which main creates first.
void register_container_ops_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_container_inspect_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// `kiln inspect` tries containers first, then images, as docker does.
std::optional<TemplateValue> inspect_container_named(image::Store& store, const std::string& name);
void register_inspect_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// `kiln attach` and `start -a`: what the client attaches (flags as docker's).
struct AttachChoice {
    bool stdin = true;  // when the container has -i: attach's default, start's -i
    bool sig_proxy = true;
    std::string detach_keys = runtime::default_detach_keys;
};
void register_attach_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// Refuses a bad choice before anything happens: bad --detach-keys, or a tty container's
// input that is not a terminal (docker's "the input device is not a TTY").
void check_attach_choice(image::Store& store, const std::string& id, const AttachChoice& choice);
// Attaches to a running container (connection: one made already, or empty to connect
// now) until it exits (its exit code) or the client detaches (1, as docker). Throws
// kiln::Error when it is not running.
int attach_to_container(image::Store& store, const std::string& id, UniqueFd connection, const AttachChoice& choice);
void register_cache_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_pull_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// How build, run and create pull an image the store lacks: `kiln pull`'s output to out, after
// docker's "Unable to find image 'x:latest' locally" when announce_missing (run, create).
builder::ImagePuller image_puller(const GlobalOptions& global, image::Store& store, std::ostream& out,
                                  bool announce_missing);
// login, logout, search.
void register_registry_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_push_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// volume create|ls|inspect|rm|prune (cli/volume_cmd.cpp).
void register_volume_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);
void register_network_commands(CLI::App& app, const GlobalOptions& global, int& exit_code);

}  // namespace kiln::cli
