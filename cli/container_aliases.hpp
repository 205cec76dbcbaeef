#pragma once
// `kiln container VERB …`, the docker CLI's management commands: the same commands as
// `kiln VERB …`, reached by rewriting the command line before it is parsed, so each
// command is registered once (`container inspect` and `container prune` are commands of
// their own and are left alone).
#include <string>
#include <vector>

namespace kiln::cli {

// The verbs `kiln container` takes as another name of a top-level command.
const std::vector<std::string>& container_alias_verbs();

// The line `kiln container --help` ends with, naming the verbs.
std::string container_alias_help();

// args without argv[0]. If its command (the first word after kiln's global options) is
// `container` followed by an alias verb, returns args with `container` gone and ls/list
// named ps; otherwise args unchanged.
std::vector<std::string> resolve_container_alias(std::vector<std::string> args);

}  // namespace kiln::cli
