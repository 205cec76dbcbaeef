// `kiln pull`, and the pulls `build`, `run` and `create` make for images not in the store.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "image/oci.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "registry/client.hpp"
#include "registry/pull.hpp"
#include "registry/pull_progress.hpp"
#include "registry/session.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

// True when text names no tag and no digest: docker then says which tag it uses.
bool names_default_tag(const std::string& text) {
    if (text.find('@') != std::string::npos) return false;
    auto slash = text.rfind('/');
    auto colon = text.rfind(':');
    return colon == std::string::npos || (slash != std::string::npos && colon < slash);
}

// docker's "Status:" line names the image in its familiar form.
std::string status_line(const registry::PullResult& r, const std::string& familiar) {
    return r.up_to_date ? "Status: Image is up to date for " + familiar
                        : "Status: Downloaded newer image for " + familiar;
}

struct PullFlags {
    std::string platform;
    bool quiet = false, all_tags = false;
    std::string reference;
};

// One `kiln pull`. Returns the process exit code; failures are one line on stderr.
int run_pull(const GlobalOptions& global, const PullFlags& flags) {
    const image::Reference ref = image::parse_reference(flags.reference);
    registry::PullOptions options;
    if (!flags.platform.empty()) options.platform = image::parse_platform(flags.platform);
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    registry::PullProgress progress(std::cout, terminal);
    if (!flags.quiet) options.listener = progress.listener();

    image::Store store(global.root);
    auto session = registry::open_session(global.config_dir);
    try {
        if (flags.all_tags) {
            if (ref.digest || !names_default_tag(flags.reference))
                throw Error("tag can't be used with --all-tags/-a");
            registry::Repository repo(*session, ref, registry::Access::Pull);
            bool newer = false;
            for (const auto& tag : repo.tags()) {
                image::Reference tagged = ref;
                tagged.tag = tag;
                auto r = registry::pull_image(repo, store, tagged, options);
                newer = newer || !r.up_to_date;
                if (!flags.quiet) std::cout << "Digest: " << r.manifest_digest.str() << "\n";
            }
            if (!flags.quiet) {
                progress.finish();
                std::cout << (newer ? "Status: Downloaded newer image for " : "Status: Image is up to date for ")
                          << ref.familiar_repository() << "\n";
            }
            std::cout << ref.repository() << "\n";
            return 0;
        }
        if (!flags.quiet && names_default_tag(flags.reference)) std::cout << "Using default tag: latest\n";
        auto r = registry::pull_image(*session, store, ref, options);
        if (!flags.quiet) {
            progress.finish();
            std::cout << "Digest: " << r.manifest_digest.str() << "\n";
            std::cout << status_line(r, image::parse_reference(r.name).familiar()) << "\n";
        }
        std::cout << r.name << "\n";
        return 0;
    } catch (const Error& e) {
        std::cout.flush();
        std::cerr << "kiln: " << e.what() << std::endl;
        return 1;
    }
}

}  // namespace

builder::ImagePuller image_puller(const GlobalOptions& global, image::Store& store, std::ostream& out,
                                  bool announce_missing) {
    auto session = std::make_shared<std::unique_ptr<registry::Session>>();
    return [&global, &store, &out, announce_missing, session](const image::Reference& ref) {
        if (announce_missing && !store.images().resolve(ref.str()))
            out << "Unable to find image '" << ref.familiar() << "' locally\n";
        if (!*session) *session = registry::open_session(global.config_dir);
        const bool terminal = &out == &std::cerr ? ::isatty(STDERR_FILENO) == 1 : ::isatty(STDOUT_FILENO) == 1;
        registry::PullProgress progress(out, terminal);
        registry::PullOptions options;
        options.listener = progress.listener();
        auto r = registry::pull_image(**session, store, ref, options);
        progress.finish();
        out << "Digest: " << r.manifest_digest.str() << "\n"
            << status_line(r, image::parse_reference(r.name).familiar()) << "\n";
        out.flush();
        return r.image_id;
    };
}

void register_pull_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto flags = std::make_shared<PullFlags>();
    auto* cmd = app.add_subcommand("pull", "Download an image from a registry");
    cmd->add_option("--platform", flags->platform, "Set platform if server is multi-platform capable (os/arch[/variant])");
    cmd->add_flag("-q,--quiet", flags->quiet, "Suppress verbose output");
    cmd->add_flag("-a,--all-tags", flags->all_tags, "Download all tagged images in the repository");
    cmd->add_option("name", flags->reference, "NAME[:TAG|@DIGEST]")->required();
    cmd->callback([flags, &global, &exit_code] { exit_code = run_pull(global, *flags); });
}

}  // namespace kiln::cli
