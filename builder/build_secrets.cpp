#include "builder/build_secrets.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

SecretSource parse_secret_flag(const std::string& text) {
    SecretSource secret;
    std::string type;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        const std::string field = text.substr(start, comma - start);
        start = comma + 1;
        if (field.empty()) continue;
        const std::size_t equals = field.find('=');
        if (equals == std::string::npos)
            throw Error("--secret " + text + ": field \"" + field + "\" needs a value (KEY=VALUE)");
        const std::string key = field.substr(0, equals), value = field.substr(equals + 1);
        if (key == "id") secret.id = value;
        else if (key == "src" || key == "source") secret.file = value;
        else if (key == "env") secret.env = value;
        else if (key == "type") type = value;
        else throw Error("--secret " + text + ": unknown key \"" + key + "\" (use id, src, env or type)");
    }
    if (type != "" && type != "file" && type != "env")
        throw Error("--secret " + text + ": unsupported type \"" + type + "\" (use file or env)");
    if (!secret.file.empty() && !secret.env.empty())
        throw Error("--secret " + text + ": give src or env, not both");
    if (secret.id.empty()) secret.id = !secret.file.empty() ? secret.file : secret.env;
    if (secret.id.empty()) throw Error("--secret " + text + ": needs id=NAME");
    if (secret.file.empty() && secret.env.empty()) {
        if (type == "env" || (type.empty() && std::getenv(secret.id.c_str()))) secret.env = secret.id;
        else secret.file = secret.id;
    }
    if (type == "env" && secret.env.empty()) secret.env = secret.file, secret.file.clear();
    if (!secret.file.empty()) {
        struct stat st;
        if (::stat(secret.file.c_str(), &st) != 0)
            throw Error("--secret id=" + secret.id + ": " + secret.file + ": " + std::strerror(errno));
        if (!S_ISREG(st.st_mode)) throw Error("--secret id=" + secret.id + ": " + secret.file + " is not a regular file");
    }
    return secret;
}

std::optional<std::string> read_secret(const SecretSource& source) {
    if (!source.env.empty()) {
        const char* value = std::getenv(source.env.c_str());
        if (!value) return std::nullopt;
        return std::string(value);
    }
    if (!path_exists(source.file)) return std::nullopt;
    return read_file(source.file);
}

std::pair<std::string, std::string> parse_ssh_flag(const std::string& text) {
    const std::size_t equals = text.find('=');
    std::string id = text.substr(0, equals);
    if (id.empty()) throw Error("--ssh " + text + ": needs an id (default, or ID=PATH)");
    std::string path;
    if (equals != std::string::npos) {
        path = text.substr(equals + 1);
        if (path.find(',') != std::string::npos)
            throw Error("--ssh " + text + ": only one socket per id is supported (key files are not)");
    } else {
        const char* sock = std::getenv("SSH_AUTH_SOCK");
        if (!sock || !*sock) throw Error("--ssh " + text + ": SSH_AUTH_SOCK is not set (give " + id + "=PATH)");
        path = sock;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw Error("--ssh " + text + ": " + path + ": " + std::strerror(errno));
    if (!S_ISSOCK(st.st_mode)) throw Error("--ssh " + text + ": " + path + " is not a socket (key files are not supported)");
    return {id, path};
}

}  // namespace kiln::builder
