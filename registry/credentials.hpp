#pragma once
#include <optional>
#include <string>

namespace kiln::registry {

struct Credential {
    std::string username;
    std::string secret;  // a password or an identity token; never printed
    // secret is an identity token (config.json `identitytoken`, or a helper's "<token>"
    // user): it is a refresh token for the OAuth2 flow, not a password.
    bool identity_token = false;
};

// The key Docker files a registry's credentials under: "https://index.docker.io/v1/" for
// docker.io (and its aliases), else the host[:port] itself.
std::string credential_key(const std::string& domain);
// The registry a `kiln login`/`logout` SERVER names, as the docker CLI reads it:
// "https://reg.example:5000/v1/" → "reg.example:5000"; "", "index.docker.io",
// "https://index.docker.io/v1/" → "docker.io".
std::string login_domain(const std::string& server);

// The docker CLI's config.json (DIR/config.json; DIR from --config, else DOCKER_CONFIG, else
// ~/.docker): `auths` with base64 `auth`, `credsStore`, `credHelpers`, and the
// `docker-credential-NAME get|store|erase` helpers. Written atomically with mode 0600;
// keys kiln does not know are kept.
class CredentialStore {
public:
    explicit CredentialStore(std::string config_dir);
    // The config dir the docker CLI would use: DOCKER_CONFIG, else $HOME/.docker.
    static std::string default_dir();

    // Credentials for a registry host as Docker keys it ("https://index.docker.io/v1/" for docker.io).
    std::optional<Credential> get(const std::string& domain);
    void store(const std::string& domain, const Credential& credential);
    bool erase(const std::string& domain);  // false when there was nothing to erase

    // True when store() writes the secret into config.json itself (no helper configured).
    bool stores_in_file(const std::string& domain);

    const std::string& config_dir() const { return dir_; }

private:
    std::string dir_;
};

}  // namespace kiln::registry
