#pragma once
// `kiln build --secret` and `--ssh`: what a RUN --mount=type=secret|ssh may receive. The
// values are read only when a RUN mounts them and never enter the store.

#include <optional>
#include <string>
#include <utility>

namespace kiln::builder {

struct SecretSource {
    std::string id;
    std::string file;  // read at the RUN that mounts it (when env is empty)
    std::string env;   // an environment variable of the build's process
};

// id=X,src=FILE | id=X,env=VAR | id=X (the variable X when set, else the file X), with
// BuildKit's spellings (source=, type=file|env). Throws kiln::Error naming the flag.
SecretSource parse_secret_flag(const std::string& text);

// The secret's bytes; nullopt when its variable is unset or its file missing.
std::optional<std::string> read_secret(const SecretSource& source);

// default | default=PATH | ID=PATH: the id and the agent's socket (SSH_AUTH_SOCK when no
// path is given). Throws kiln::Error naming the flag.
std::pair<std::string, std::string> parse_ssh_flag(const std::string& text);

}  // namespace kiln::builder
