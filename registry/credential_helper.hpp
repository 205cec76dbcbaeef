#pragma once
// The docker credential helper protocol: `docker-credential-NAME get|store|erase`, found in
// PATH, request on stdin, answer on stdout. Secrets travel on stdin and stdout only: the
// helper's argv is its name and the action, its environment is kiln's own.
#include <optional>
#include <string>

#include "registry/credentials.hpp"

namespace kiln::registry {

class CredentialHelper {
public:
    explicit CredentialHelper(std::string name) : name_(std::move(name)) {}

    // nullopt when the helper has no credentials for server_url.
    std::optional<Credential> get(const std::string& server_url) const;
    void store(const std::string& server_url, const Credential& credential) const;
    // false when the helper had nothing for server_url.
    bool erase(const std::string& server_url) const;

private:
    struct Result {
        int exit_code = 0;
        std::string out;
    };
    Result run(const std::string& action, const std::string& input) const;
    std::string program() const { return "docker-credential-" + name_; }

    std::string name_;
};

}  // namespace kiln::registry
