// `kiln attach`, and the attaching that `kiln start -a` shares with it: a client of the
// detached container's monitor (runtime/attach_client.hpp). Also `kiln container-cleanup`,
// which the monitor of a `run -d --rm` container runs last.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/attach_client.hpp"
#include "runtime/attach_socket.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_records.hpp"
#include "runtime/detach_keys.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

const char* const stopped_message = "You cannot attach to a stopped container, start it first";

// The exit code of a container whose monitor went away before sending it.
int recorded_exit_code(runtime::ContainerRecords& records, const std::string& id) {
    for (int tries = 0; tries < 500; ++tries) {
        auto row = records.refresh(records.resolve(id));
        if (row.state != "running") return row.exit_code;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw Error("the container's monitor stopped answering");
}

}  // namespace

int attach_to_container(image::Store& store, const std::string& id, UniqueFd connection, const AttachChoice& choice) {
    runtime::ContainerRecords records(store);
    auto row = records.resolve(id);
    if (!connection) connection = runtime::connect_attach_socket(records.paths(row.id).dir);
    if (!connection) throw Error(stopped_message);
    const auto config = records.config(row);
    runtime::AttachOptions options;
    options.tty = config.tty;
    options.send_stdin = choice.stdin && config.interactive;
    options.sig_proxy = choice.sig_proxy;
    options.detach_keys = runtime::parse_detach_keys(choice.detach_keys);
    auto result = runtime::attach_to_monitor(std::move(connection), options);
    if (result.detached) {
        // The docker CLI's words, and its exit code, for a detach.
        std::cerr << "read escape sequence" << std::endl;
        return 1;
    }
    return result.exit_known ? result.exit_code : recorded_exit_code(records, row.id);
}

void check_attach_choice(image::Store& store, const std::string& id, const AttachChoice& choice) {
    runtime::parse_detach_keys(choice.detach_keys);
    runtime::ContainerRecords records(store);
    const auto config = records.config(records.resolve(id));
    if (config.tty && config.interactive && choice.stdin && !::isatty(0)) throw Error("the input device is not a TTY");
}

void register_attach_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string container;
        bool no_stdin = false;
        AttachChoice choice;
    };
    auto f = std::make_shared<Flags>();
    auto* attach = app.add_subcommand("attach", "Attach local standard input, output, and error streams to a running container");
    attach->add_option("CONTAINER", f->container, "Container")->required();
    attach->add_option("--detach-keys", f->choice.detach_keys, "Override the key sequence for detaching a container");
    attach->add_flag("--no-stdin", f->no_stdin, "Do not attach STDIN");
    attach->add_flag("--sig-proxy", f->choice.sig_proxy, "Proxy all received signals to the process (default true)");
    attach->callback([f, &global, &exit_code] {
        f->choice.stdin = !f->no_stdin;
        try {
            image::Store store(global.root);
            runtime::ContainerRecords records(store);
            auto row = records.refresh(records.resolve(f->container));
            check_attach_choice(store, row.id, f->choice);
            if (row.state != "running") throw Error(stopped_message);
            exit_code = attach_to_container(store, row.id, {}, f->choice);
        } catch (const Error& e) {
            std::cerr << "kiln: " << e.what() << std::endl;
            exit_code = 1;
        }
    });

    // Run by a `run -d --rm` container's monitor once the container has exited; not for people.
    auto id = std::make_shared<std::string>();
    auto* cleanup = app.add_subcommand("container-cleanup", "")->group("");
    cleanup->add_option("ID", *id)->required();
    cleanup->callback([id, &global] {
        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        // Reading the row records the exit and, for --rm, removes the container as rm does.
        records.refresh(records.resolve(*id));
    });
}

}  // namespace kiln::cli
