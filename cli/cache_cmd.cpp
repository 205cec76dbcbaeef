// kiln cache ls/du/prune, system df, image prune: what the store holds and taking it back.
#include "cli/commands.hpp"

namespace kiln::cli {

void register_cache_commands(CLI::App&, const GlobalOptions&, int&) {}

}  // namespace kiln::cli
