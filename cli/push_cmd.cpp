// kiln push: images to a registry, printed as docker push prints them.
#include "cli/push_cmd.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/transfer_progress.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "registry/push.hpp"
#include "registry/session.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

bool stdout_is_terminal() {
    const char* term = std::getenv("TERM");
    return ::isatty(STDOUT_FILENO) && !(term && std::string_view(term) == "dumb");
}

std::string status_text(const registry::PushEvent& e) {
    switch (e.state) {
    case registry::BlobState::Preparing:
        return "Preparing";
    case registry::BlobState::Waiting:
        return "Waiting";
    case registry::BlobState::Pushing:
        return "Pushing";
    case registry::BlobState::Pushed:
        return "Pushed";
    case registry::BlobState::Exists:
        return "Layer already exists";
    case registry::BlobState::Mounted:
        return "Mounted from " + e.from;
    }
    return "";
}

// One tag (or digest) of the repository, with docker's per-layer lines (top layer first).
registry::PushResult push_one(registry::Session& session, image::Store& store, const image::Reference& ref,
                              const PushFlags& flags) {
    registry::PushOptions options;
    options.compress_while_uploading = true;
    if (!flags.compression.empty()) options.compression = registry::parse_push_compression(flags.compression);
    std::optional<TransferProgress> display;
    if (!flags.quiet) display.emplace(std::cout, stdout_is_terminal());
    registry::PushPlan plan = registry::plan_push(store, ref, options);
    if (display) {
        // Docker lists the top layer first; claim the lines in that order before any event.
        for (auto it = plan.blobs.rbegin(); it != plan.blobs.rend(); ++it)
            if (it->layer) display->status(it->diff_id.short_hex(), "Preparing");
        options.observer = [&](const registry::PushEvent& e) {
            if (!e.layer) return;
            const std::string id = e.diff_id.short_hex();
            if (e.state == registry::BlobState::Pushing)
                display->progress(id, "Pushing", e.done, e.total);
            else
                display->status(id, status_text(e));
        };
    }
    return registry::push_planned(session, store, ref, plan, options);
}

}  // namespace

int push_named(const GlobalOptions& global, image::Store& store, const std::string& name, const PushFlags& flags) {
    try {
        image::Reference ref = image::parse_reference(name);
        std::vector<image::Reference> refs{ref};
        // A tag or digest the user wrote (a port sits before the last '/', a tag after it).
        const std::string last = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
        const bool named_version = name.find('@') != std::string::npos || last.find(':') != std::string::npos;
        if (!flags.all_tags && !named_version && !flags.quiet) std::cout << "Using default tag: latest\n";
        if (flags.all_tags) {
            if (named_version) throw Error("tag can't be used with --all-tags/-a");
            refs = registry::local_tags(store, ref);
            if (refs.empty()) throw Error("An image does not exist locally with the tag: " + ref.familiar_repository());
        }
        auto session_owner = registry::open_session(global.config_dir);
        registry::Session& session = *session_owner;
        if (!flags.quiet) std::cout << "The push refers to repository [" << ref.domain << "/" << ref.path << "]\n";
        for (const auto& r : refs) {
            registry::PushResult result = push_one(session, store, r, flags);
            if (flags.quiet)
                std::cout << r.str() << "\n";
            else
                std::cout << result.reference << ": digest: " << result.manifest_digest.str()
                          << " size: " << result.manifest_size << "\n";
        }
        return 0;
    } catch (const Error& e) {
        std::cout.flush();
        std::cerr << "kiln: " << e.what() << std::endl;
        return 1;
    }
}

void register_push_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        PushFlags push;
        std::string name;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("push", "Upload an image to a registry");
    cmd->add_flag("-q,--quiet", flags->push.quiet, "Suppress verbose output");
    cmd->add_flag("-a,--all-tags", flags->push.all_tags, "Push all tags of an image to the repository");
    cmd->add_option("--compression", flags->push.compression,
                    "Layer compression for layers pushed for the first time: gzip (default) or zstd");
    cmd->add_option("name", flags->name, "NAME[:TAG]")->required();
    cmd->callback([flags, &global, &exit_code] {
        image::Store store(global.root);
        exit_code = push_named(global, store, flags->name, flags->push);
    });
}

}  // namespace kiln::cli
