// Registry accounts and discovery: login, logout, search.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/listing.hpp"
#include "image/image_inspect.hpp"
#include "registry/credentials.hpp"
#include "registry/login.hpp"
#include "registry/search.hpp"
#include "registry/session.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

// One line from stdin without its line ending; echo off while reading when it is a terminal.
std::string read_line(bool hide) {
    termios old{};
    bool restore = false;
    if (hide && ::isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        std::cout << "\n";
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

// All of stdin minus trailing line endings, as `docker login --password-stdin` reads it.
std::string read_password_stdin() {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    return all;
}

// Runs a registry command; a registry's refusal is exit 1 as in the docker CLI.
template <typename F>
void registry_command(int& exit_code, F&& body) {
    try {
        body();
    } catch (const Error& e) {
        std::cerr << "kiln: " << e.what() << std::endl;
        exit_code = 1;
    }
}

void register_login(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string username, password, server;
        bool password_stdin = false;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("login", "Log in to a registry");
    cmd->add_option("-u,--username", flags->username, "Username");
    auto* pw = cmd->add_option("-p,--password", flags->password, "Password or Personal Access Token (PAT)");
    auto* pw_stdin = cmd->add_flag("--password-stdin", flags->password_stdin, "Take the Password or PAT from stdin");
    cmd->add_option("server", flags->server, "Registry server (default: docker.io)");
    cmd->callback([flags, pw, pw_stdin, &global, &exit_code] {
        if (pw->count() && pw_stdin->count()) throw Error("--password and --password-stdin are mutually exclusive");
        if (flags->password_stdin && flags->username.empty())
            throw Error("Must provide --username with --password-stdin");
        std::string domain = registry::login_domain(flags->server);
        auto session = registry::open_session(global.config_dir);
        registry_command(exit_code, [&] {
            auto& store = session->credentials();
            bool interactive = flags->username.empty() && !pw->count() && !flags->password_stdin;
            if (interactive) {
                if (auto existing = store.get(domain)) {
                    std::cout << "Authenticating with existing credentials..." << std::endl;
                    try {
                        registry::verify_login(*session, domain, *existing);
                        std::cout << "Login Succeeded" << std::endl;
                        return;
                    } catch (const Error& e) {
                        std::cerr << "Login did not succeed, error: " << e.what() << std::endl;
                    }
                }
            }
            registry::Credential credential{flags->username, flags->password};
            if (pw->count()) std::cerr << "WARNING! Using --password via the CLI is insecure. Use --password-stdin." << std::endl;
            if (flags->password_stdin) credential.secret = read_password_stdin();
            if (credential.username.empty()) {
                if (!::isatty(STDIN_FILENO)) throw Error("Cannot perform an interactive login from a non TTY device");
                std::cout << "Username: " << std::flush;
                credential.username = read_line(false);
                if (credential.username.empty()) throw Error("Username is required");
            }
            if (!pw->count() && !flags->password_stdin) {
                if (!::isatty(STDIN_FILENO)) throw Error("Cannot perform an interactive login from a non TTY device");
                std::cout << "Password: " << std::flush;
                credential.secret = read_line(true);
            }
            if (credential.secret.empty()) throw Error("Password is required");
            registry::verify_login(*session, domain, credential);
            if (store.stores_in_file(domain))
                std::cerr << "WARNING! Your password will be stored unencrypted in " << store.config_dir()
                          << "/config.json.\nConfigure a credential helper to remove this warning. See\n"
                             "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n"
                          << std::endl;
            store.store(domain, credential);
            std::cout << "Login Succeeded" << std::endl;
        });
    });
}

void register_logout(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto server = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("logout", "Log out from a registry");
    cmd->add_option("server", *server, "Registry server (default: docker.io)");
    cmd->callback([server, &global, &exit_code] {
        std::string domain = registry::login_domain(*server);
        std::string shown = registry::credential_key(domain);
        registry::CredentialStore store(global.config_dir);
        registry_command(exit_code, [&] {
            if (!store.erase(domain)) {
                std::cout << "Not logged in to " << shown << std::endl;
                return;
            }
            std::cout << "Removing login credentials for " << shown << std::endl;
        });
    });
}

struct SearchFilter {
    std::optional<long> min_stars;
    std::optional<bool> official, automated;
};

SearchFilter parse_filters(const std::vector<std::string>& filters) {
    SearchFilter f;
    auto boolean = [](const std::string& key, const std::string& v) {
        if (v == "true" || v == "1") return true;
        if (v == "false" || v == "0") return false;
        throw Error("invalid filter '" + key + "=" + v + "'");
    };
    for (const auto& text : filters) {
        auto eq = text.find('=');
        if (eq == std::string::npos) throw Error("bad format of filter (expected name=value)");
        std::string key = text.substr(0, eq), value = text.substr(eq + 1);
        if (key == "stars") {
            char* end = nullptr;
            long n = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0') throw Error("invalid filter 'stars=" + value + "'");
            f.min_stars = n;
        } else if (key == "is-official") {
            f.official = boolean(key, value);
        } else if (key == "is-automated") {
            f.automated = boolean(key, value);
        } else {
            throw Error("invalid filter '" + key + "'");
        }
    }
    return f;
}

bool keep(const registry::SearchResult& r, const SearchFilter& f) {
    if (f.min_stars && r.stars.value_or(0) < *f.min_stars) return false;
    if (f.official && r.official.value_or(false) != *f.official) return false;
    if (f.automated && r.automated.value_or(false) != *f.automated) return false;
    return true;
}

void register_search(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        int limit = 25;
        std::string format, term;
        bool no_trunc = false;
        std::vector<std::string> filters;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("search", "Search a registry for images");
    cmd->add_option("--limit", flags->limit, "Max number of search results");
    cmd->add_option("--format", flags->format, "Pretty-print search using a Go template");
    cmd->add_flag("--no-trunc", flags->no_trunc, "Don't truncate output");
    repeatable(cmd->add_option("-f,--filter", flags->filters, "Filter output based on conditions provided"));
    cmd->add_option("term", flags->term, "Search term (REGISTRY/TERM searches that registry)")->required();
    cmd->callback([flags, &global, &exit_code] {
        SearchFilter filter = parse_filters(flags->filters);
        Listing listing{"table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
                        {{"Name", "NAME"},
                         {"Description", "DESCRIPTION"},
                         {"StarCount", "STARS"},
                         {"IsOfficial", "OFFICIAL"},
                         {"IsAutomated", "AUTOMATED"}}};
        auto session = registry::open_session(global.config_dir);
        registry_command(exit_code, [&] {
            // The daemon's check in docker, so its exit code (1), not a usage error's (125).
            if (flags->limit < 1 || flags->limit > 100)
                throw Error("limit " + std::to_string(flags->limit) + " is outside the range of [1, 100]");
            auto [domain, term] = registry::split_search_term(flags->term);
            std::vector<TemplateValue> rows;
            for (const auto& r : registry::search(*session, domain, term, static_cast<std::size_t>(flags->limit))) {
                if (!keep(r, filter)) continue;
                std::string description = r.description;
                for (char& c : description)
                    if (c == '\n' || c == '\r') c = ' ';
                if (!flags->no_trunc) description = image::ellipsis(description, 45);
                rows.push_back(TemplateValue{{"Name", r.name},
                                             {"Description", description},
                                             {"StarCount", r.stars ? std::to_string(*r.stars) : ""},
                                             {"IsOfficial", r.official.value_or(false) ? "[OK]" : ""},
                                             {"IsAutomated", r.automated.value_or(false) ? "[OK]" : ""}});
            }
            print_listing(std::cout, listing, flags->format, rows);
        });
    });
}

}  // namespace

void register_registry_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    register_login(app, global, exit_code);
    register_logout(app, global, exit_code);
    register_search(app, global, exit_code);
}

}  // namespace kiln::cli
