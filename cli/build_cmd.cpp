#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "builder/build.hpp"
#include "builder/build_output.hpp"
#include "builder/context_archive.hpp"
#include "builder/flag_values.hpp"
#include "builder/reproducible.hpp"
#include "cli/commands.hpp"
#include "builder/registry_cache.hpp"
#include "cli/push_cmd.hpp"
#include "registry/session.hpp"
#include "image/store.hpp"
#include "parser/parse.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/ulimits.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::cli {

namespace {


std::string checked_progress(const std::string& text) {
    if (text == "auto" || text == "plain" || text == "tty" || text == "quiet") return text;
    throw Error("invalid progress mode \"" + text + "\" (auto, plain, tty or quiet)");
}

// The Dockerfile of a context kiln unpacked from a stranger's tarball: opened inside it
// (a symlink cannot lead out), and only a regular file (not a device the tar made).
std::string dockerfile_in_scratch(const std::string& context_dir, const std::string& rel) {
    UniqueFd root = open_directory(context_dir);
    UniqueFd fd;
    try {
        fd = open_in_root(root.get(), rel, O_RDONLY | O_NOFOLLOW);
    } catch (const Error& e) {
        throw Error("cannot read Dockerfile " + rel + " in the build context: " + e.what());
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat Dockerfile " + rel);
    if (!S_ISREG(st.st_mode)) throw Error("Dockerfile " + rel + " in the build context is not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > parser::kMaxDockerfileSize)
        throw Error(rel + ": Dockerfile larger than " + std::to_string(parser::kMaxDockerfileSize >> 20) + " MiB");
    return read_all(fd.get(), "Dockerfile " + rel);
}

std::string read_stdin_dockerfile() {
    std::string text;
    char buf[65536];
    while (std::size_t n = read_some(STDIN_FILENO, buf, sizeof buf, "the Dockerfile from stdin")) {
        if (text.size() + n > parser::kMaxDockerfileSize)
            throw Error("the Dockerfile from stdin is larger than " + std::to_string(parser::kMaxDockerfileSize >> 20) + " MiB");
        text.append(buf, n);
    }
    return text;
}

bool is_regular_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

void register_build_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::BuildOptions options;
        std::vector<std::string> build_args;
        std::vector<std::string> allow;
        std::string pull = "missing";
        std::string output;
        bool push = false;
        std::vector<std::string> cache_from, cache_to;
        std::vector<std::string> labels, add_hosts, ulimits, secrets, ssh;
        std::string iidfile, network = "default", shm_size, progress = "auto";
        int jobs = 0;  // 0: one per core
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
    repeatable(cmd->add_option("-t,--tag", flags->options.tags, "Name and optionally a tag (name:tag)"));
    cmd->add_option("-f,--file", flags->options.dockerfile, "Dockerfile (default: CONTEXT/Dockerfile; - reads it from stdin)");
    repeatable(cmd->add_option("--build-arg", flags->build_args, "Build-time variable (NAME=VALUE or NAME)"));
    cmd->add_option("--target", flags->options.target, "Stage to build");
    cmd->add_option("--platform", flags->options.platform,
                    "Target platform (only this machine's, e.g. linux/amd64: RUN executes natively)");
    repeatable(cmd->add_option("--allow", flags->allow,
                               "Grant an entitlement: network.host (RUN --network=host), security.insecure"));
    cmd->add_flag("--no-cache", flags->options.no_cache, "Do not use the build cache");
    cmd->add_flag("--explain-cache", flags->options.explain_cache,
                  "For every step that misses the cache, say which input changed (instruction, build arg, source file, parent)");
    repeatable(cmd->add_option("--no-cache-filter", flags->options.no_cache_stages,
                               "Do not use the build cache for this stage (name or index; repeatable)"));
    // `--pull` alone is docker build's "always"; buildx also takes a policy.
    cmd->add_flag("--pull{always}", flags->pull, "Pull images FROM names: always (--pull alone), missing, never");
    cmd->add_flag("-q,--quiet", flags->options.quiet, "Print only the image ID");
    cmd->add_option("--progress", flags->progress,
                    "Progress output: auto (tty on a terminal, else plain), plain, tty (a live view) or quiet (as -q)");
    cmd->add_flag("--push", flags->push, "Push the image to its registry after the build (shorthand for --output=type=registry)");
    cmd->add_option("-o,--output", flags->output,
                    "Output: type=local,dest=DIR | type=tar,dest=FILE | type=oci,dest=FILE | type=docker[,dest=FILE] | "
                    "type=registry | type=image[,push=true] (DIR alone: local; -: a tar on stdout)");
    repeatable(cmd->add_option("-l,--label", flags->labels, "Set a label on the image (KEY=VALUE)"));
    cmd->add_option("--iidfile", flags->iidfile, "Write the image ID to the file");
    cmd->add_option("--network", flags->network, "Network of RUN steps without --network: default, none or host");
    repeatable(cmd->add_option("--add-host", flags->add_hosts, "Add a host to RUN steps' /etc/hosts (HOST:IP)"));
    cmd->add_option("--shm-size", flags->shm_size, "Size of /dev/shm in RUN steps (default 64m)");
    repeatable(cmd->add_option("--ulimit", flags->ulimits, "Ulimit of RUN steps (TYPE=SOFT[:HARD])"));
    repeatable(cmd->add_option("--secret", flags->secrets,
                               "Secret for RUN --mount=type=secret (id=ID,src=FILE | id=ID,env=VAR | id=ID)"));
    repeatable(cmd->add_option("--ssh", flags->ssh,
                               "SSH agent socket for RUN --mount=type=ssh (default | default=SOCKET | ID=SOCKET)"));
    cmd->add_option("--jobs", flags->jobs,
                    "Stages built at once, at least 1 (default: the number of cores)");
    repeatable(cmd->add_option("--cache-from", flags->cache_from,
                               "Import the build cache from a registry (type=registry,ref=HOST/REPO:TAG, or a bare reference)"));
    repeatable(cmd->add_option("--cache-to", flags->cache_to,
                               "Export the build cache to a registry (type=registry,ref=HOST/REPO:TAG[,mode=min|max][,ignore-error=true])"));
    cmd->add_option("context", flags->options.context_dir,
                    "Build context: a directory, a tarball (plain, gzip, bzip2, xz, zstd), or - (a tarball or a Dockerfile on stdin)")
        ->required();
    cmd->callback([flags, cmd, &global, &exit_code] {
        auto& options = flags->options;
        for (const auto& entitlement : flags->allow) {
            if (entitlement == "network.host")
                options.allow_network_host = true;
            else if (entitlement == "security.insecure")
                options.allow_security_insecure = true;
            else
                throw Error("invalid entitlement \"" + entitlement + "\" for --allow (network.host or security.insecure)");
        }
        for (const auto& arg : flags->build_args) {
            auto eq = arg.find('=');
            if (eq == 0) throw Error("invalid --build-arg \"" + arg + "\": empty name");
            if (eq == std::string::npos) {
                // docker: --build-arg NAME takes the value from the environment, if set.
                if (const char* value = std::getenv(arg.c_str())) options.build_args[arg] = value;
                continue;
            }
            options.build_args[arg.substr(0, eq)] = arg.substr(eq + 1);
        }
        // buildx passes SOURCE_DATE_EPOCH from the environment as a build arg; one given
        // as --build-arg wins.
        if (!options.build_args.count("SOURCE_DATE_EPOCH"))
            if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch)
                options.build_args["SOURCE_DATE_EPOCH"] = epoch;
        if (auto it = options.build_args.find("SOURCE_DATE_EPOCH"); it != options.build_args.end() && !it->second.empty())
            options.source_date_epoch = builder::parse_source_date_epoch(it->second);
        for (const auto& label : flags->labels) {
            auto eq = label.find('=');
            if (eq == 0 || label.empty()) throw Error("invalid --label \"" + label + "\": empty key");
            options.labels[label.substr(0, eq)] = eq == std::string::npos ? "" : label.substr(eq + 1);
        }
        options.run.network = builder::parse_build_network(flags->network);
        // As buildx: --network host on the command line is the entitlement it needs.
        if (options.run.network == "host") options.allow_network_host = true;
        for (const auto& host : flags->add_hosts) options.run.extra_hosts.push_back(builder::parse_add_host(host));
        for (const auto& text : flags->secrets) {
            auto secret = builder::parse_secret_flag(text);
            options.secrets[secret.id] = secret;
        }
        for (const auto& text : flags->ssh) {
            auto [id, socket] = builder::parse_ssh_flag(text);
            options.ssh_sockets[id] = socket;
        }
        if (!flags->shm_size.empty()) {
            options.run.shm_size = builder::parse_memory_size(flags->shm_size, "--shm-size");
            if (options.run.shm_size <= 0) throw Error("invalid --shm-size " + flags->shm_size + ": it must be greater than 0");
        }
        for (const auto& text : flags->ulimits) {
            auto limit = runtime::parse_ulimit(text);
            std::erase_if(options.run.ulimits, [&](const runtime::Ulimit& u) { return u.name == limit.name; });
            options.run.ulimits.push_back(limit);
        }
        runtime::to_rlimits(options.run.ulimits);  // a hard limit above kiln's own is refused now
        if (cmd->count("--jobs") && flags->jobs < 1) throw Error("invalid --jobs " + std::to_string(flags->jobs) + ": at least 1");
        options.jobs = flags->jobs;
        const std::string progress = checked_progress(flags->progress);
        if (progress == "quiet") options.quiet = true;

        builder::BuildOutput output;
        if (!flags->output.empty()) output = builder::parse_build_output(flags->output);
        for (const auto& name : output.names) options.tags.push_back(name);
        const bool push = flags->push || output.push;
        if (push && options.tags.empty()) throw Error("tag is needed when pushing to registry");
        if (output.to_stdout() && ::isatty(STDOUT_FILENO))
            throw Error("--output " + flags->output + ": refusing to write a tar to the terminal (redirect stdout, or give dest=FILE)");
        // stdout carries the tar, or -q's image ID alone: everything else goes to stderr.
        std::ostream& progress_out = output.to_stdout() ? std::cerr : std::cout;
        std::ostream& id_out = output.to_stdout() ? std::cerr : std::cout;
        const int progress_fd = output.to_stdout() ? STDERR_FILENO : STDOUT_FILENO;
        // BuildKit's choice: the live view where a person watches, plain lines in a CI log.
        const char* term = std::getenv("TERM");
        const bool on_terminal = ::isatty(progress_fd) && !(term && std::string_view(term) == "dumb");
        if (progress == "tty" || (progress == "auto" && on_terminal)) options.progress_terminal = progress_fd;

        std::vector<builder::CacheSpec> cache_from, cache_to;
        for (const auto& text : flags->cache_from) cache_from.push_back(builder::parse_cache_spec(text, "--cache-from"));
        for (const auto& text : flags->cache_to) cache_to.push_back(builder::parse_cache_spec(text, "--cache-to"));
        // docker build removes an old iidfile first, so a failed build leaves none behind.
        if (!flags->iidfile.empty() && ::unlink(flags->iidfile.c_str()) != 0 && errno != ENOENT)
            throw_errno("remove the old --iidfile " + flags->iidfile);
        runtime::sweep_stale_runtime_dirs();  // before the store sweeps their snapshots
        image::Store store(global.root);

        // A context that is no directory is unpacked into a scratch directory first.
        const bool dockerfile_on_stdin = options.dockerfile == "-";
        std::unique_ptr<image::StagingDir> scratch_context;
        if (options.context_dir == "-" || is_regular_file(options.context_dir)) {
            const bool from_stdin = options.context_dir == "-";
            if (from_stdin && dockerfile_on_stdin)
                throw Error("invalid argument: can't use stdin for both build context and dockerfile");
            UniqueFd file;
            if (!from_stdin) {
                file = UniqueFd(::open(options.context_dir.c_str(), O_RDONLY | O_CLOEXEC));
                if (!file) throw_errno("open build context " + options.context_dir);
            }
            auto stream = builder::read_stream_context(from_stdin ? STDIN_FILENO : file.get(),
                                                       from_stdin ? "stdin" : options.context_dir,
                                                       store.root() + "/tmp", from_stdin, parser::kMaxDockerfileSize);
            scratch_context = std::move(stream.dir);
            options.context_dir = scratch_context->path();
            options.context_is_scratch = true;
            if (stream.dockerfile_text) {
                if (!options.dockerfile.empty())
                    throw Error("-f " + options.dockerfile + " names no file: stdin holds a Dockerfile, not a context archive");
                options.dockerfile_text = std::move(stream.dockerfile_text);
            } else if (dockerfile_on_stdin) {
                options.dockerfile_text = read_stdin_dockerfile();
            } else {
                options.dockerfile_text = dockerfile_in_scratch(
                    options.context_dir, options.dockerfile.empty() ? "Dockerfile" : options.dockerfile);
            }
        } else if (dockerfile_on_stdin) {
            options.dockerfile_text = read_stdin_dockerfile();
        }

        std::unique_ptr<registry::Session> session;
        if (!cache_from.empty() || !cache_to.empty()) session = registry::open_session(global.config_dir);
        // As BuildKit: a cache that cannot be read costs only the cache, not the build.
        for (const auto& spec : cache_from) try {
                options.cache_sources.push_back(builder::open_registry_cache(*session, spec, std::cerr));
            } catch (const Error& e) {
                std::cerr << "WARNING: importing build cache from " << spec.ref << ": " << e.what() << "\n";
            }
        options.pull = builder::parse_pull_policy(flags->pull);
        options.puller = image_puller(global, store, progress_out, false);
        builder::BuildResult result;
        try {
            result = builder::build(store, options, progress_out);
            write_build_output(store, result.image_id, options.tags, output,
                               options.source_date_epoch.value_or(0));
        } catch (const parser::ParseError&) {
            throw;  // main prints it with the source line and a caret
        } catch (const Error& e) {
            // docker build exits 1 when the build itself fails.
            progress_out.flush();
            std::cerr << "ERROR: failed to build: " << e.what() << std::endl;
            exit_code = 1;
            return;
        }
        if (!flags->iidfile.empty()) atomic_write(flags->iidfile, result.image_id.str(), 0644);
        if (options.quiet) {
            id_out << result.image_id.str() << "\n";
        } else {
            // BuildKit's line, which CI scripts read the image ID from.
            progress_out << "writing image " << result.image_id.str() << " done\n";
            progress_out << "Successfully built " << result.image_id.short_hex() << " ("
                         << result.cached_steps << " of " << result.steps << " steps cached)\n";
            for (const auto& tag : options.tags) progress_out << "Successfully tagged " << tag << "\n";
        }
        progress_out.flush();
        exit_code = 0;
        for (const auto& spec : cache_to) try {
                auto exported = builder::export_registry_cache(*session, store, spec, result);
                if (!options.quiet)
                    progress_out << "exported build cache " << spec.ref << " (" << exported.steps << " steps, "
                                 << exported.layers << " layers, " << exported.uploaded << " uploaded): "
                                 << exported.manifest.str() << "\n";
            } catch (const Error& e) {
                std::cerr << (spec.ignore_error ? "WARNING" : "ERROR") << ": exporting build cache to " << spec.ref
                          << ": " << e.what() << std::endl;
                if (!spec.ignore_error) {
                    exit_code = 1;
                    return;
                }
            }
        if (push) {
            PushFlags push_flags;
            push_flags.quiet = options.quiet;
            for (const auto& tag : options.tags)
                if ((exit_code = push_named(global, store, tag, push_flags)) != 0) return;
        }
    });
}

}  // namespace kiln::cli
