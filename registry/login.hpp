#pragma once
#include <string>

#include "registry/credentials.hpp"
#include "registry/session.hpp"

namespace kiln::registry {

// Checks a credential against a registry before `kiln login` stores it: GET /v2/ with it,
// answering a Basic challenge with the credential, or a Bearer challenge with a token request
// made with it. Throws kiln::Error ("registry HOST: login: unauthorized: …") when refused.
void verify_login(Session& session, const std::string& domain, const Credential& credential);

}  // namespace kiln::registry
