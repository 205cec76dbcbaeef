#include "registry/login.hpp"

#include "registry/session_state.hpp"
#include "registry/transport.hpp"

namespace kiln::registry {

void verify_login(Session& session, const std::string& domain, const Credential& credential) {
    auto endpoints = session.state().endpoints(domain, true);
    Transport t(session.state(), std::move(endpoints.back()), {});
    t.use_credential(credential);
    std::string url = t.url("/v2/");
    http::Response r = t.send(bare_request("GET", url), "login");
    if (r.status == 200) return;
    t.fail("login", r);
}

}  // namespace kiln::registry
