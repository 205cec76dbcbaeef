// push_test_image: an image made by tools/make_test_image.py, pushed by skopeo, so that
// kiln's pull tests start from a registry kiln never wrote to.
#include "harness.hpp"
#include "registry_fixture.hpp"
#include "util/error.hpp"

namespace kiln::test {

namespace {

const std::string make_image_script = KILN_SOURCE_DIR "/tests/integration/tools/make_test_image.py";

// The user (and password) skopeo pushes as: "" when the registry has no auth.
std::pair<std::string, std::string> push_credentials(const RegistryOptions& o, const std::string& wanted) {
    const auto& users = o.token_users.empty() ? o.htpasswd : o.token_users;
    if (users.empty()) return {};
    std::string user = wanted;
    if (user.empty()) user = o.token_admins.empty() ? users.begin()->first : o.token_admins.front();
    auto it = users.find(user);
    if (it == users.end()) throw Error("push_test_image: no such user " + user);
    return *it;
}

}  // namespace

std::string push_test_image(const RegistryServer& server, const std::string& repo_tag, const TestImage& image) {
    TempDir work("/tmp", "kiln-test-push-");
    const std::string w = work.path();
    for (const char* d : {"/etc", "/tmp", "/certs"}) mkdir_p(w + d);
    atomic_write(w + "/etc/policy.json", R"({"default": [{"type": "insecureAcceptAnything"}]})");
    atomic_write(w + "/etc/registries.conf", "unqualified-search-registries = []\n");
    auto py = run_command({"/usr/bin/python3", "-B", make_image_script, w + "/layout", "latest", image.marker});
    if (py.exit_code != 0) throw Error("make_test_image.py failed: " + py.err);

    // Private configs: skopeo must not read the machine's registries.conf, policy or auth.
    std::vector<std::string> env = {"env", "CONTAINERS_REGISTRIES_CONF=" + w + "/etc/registries.conf",
                                    "REGISTRY_AUTH_FILE=" + w + "/etc/auth.json", "TMPDIR=" + w + "/tmp",
                                    "HOME=" + w, "timeout", "120", "skopeo"};
    std::string cert_dir;
    if (server.tls()) cert_dir = server.install_ca(w + "/certs", server.options().client_cert);
    // skopeo's TLS flags for the registry: "" for login's, "dest-" for copy's.
    auto tls_flags = [&](const std::string& prefix) -> std::vector<std::string> {
        if (cert_dir.empty()) return {"--" + prefix + "tls-verify=false"};
        return {"--" + prefix + "cert-dir", cert_dir};
    };
    auto [user, password] = push_credentials(server.options(), image.user);
    if (!user.empty()) {
        // The password goes through stdin, never the process list.
        std::vector<std::string> login = env;
        login.insert(login.end(), {"login", "--authfile", w + "/etc/auth.json", "--password-stdin", "-u", user});
        for (auto& flag : tls_flags("")) login.push_back(flag);
        login.push_back(server.host());
        auto r = run_command(login, password + "\n");
        if (r.exit_code != 0) throw Error("skopeo login failed: " + r.err);
    }
    std::vector<std::string> copy = env;
    copy.insert(copy.end(), {"--policy", w + "/etc/policy.json", "copy", "--retry-times", "0", "--digestfile",
                             w + "/digest", "--format", image.docker_format ? "v2s2" : "oci"});
    for (auto& flag : tls_flags("dest-")) copy.push_back(flag);
    if (!user.empty()) copy.insert(copy.end(), {"--dest-authfile", w + "/etc/auth.json"});
    copy.insert(copy.end(), {"oci:" + w + "/layout:latest", "docker://" + server.host() + "/" + repo_tag});
    auto r = run_command(copy);
    if (r.exit_code != 0) throw Error("skopeo copy to " + server.host() + "/" + repo_tag + " failed: " + r.err);
    return trimmed(read_file(w + "/digest"));
}

}  // namespace kiln::test
