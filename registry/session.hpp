#pragma once
#include <memory>
#include <string>

#include "registry/credentials.hpp"
#include "registry/settings.hpp"

namespace kiln::registry {

// What one kiln command shares between all its registry traffic: the settings, the user's
// credentials, cached bearer tokens (per registry and scope set, until they expire) and
// which mirrors failed to connect (tried once, then skipped for the rest of the command).
class Session {
public:
    Session(Settings settings, CredentialStore credentials);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const Settings& settings() const;
    CredentialStore& credentials();

    struct State;
    State& state();  // for registry/ internals

private:
    std::unique_ptr<State> state_;
};

// The Session a kiln command uses: settings from settings_path(), credentials from config_dir
// (GlobalOptions::config_dir: empty means DOCKER_CONFIG, else ~/.docker).
std::unique_ptr<Session> open_session(const std::string& config_dir);

}  // namespace kiln::registry
