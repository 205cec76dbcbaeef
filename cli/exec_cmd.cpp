#include "cli/commands.hpp"

namespace kiln::cli {

void register_exec_commands(CLI::App&, const GlobalOptions&, int&) {}

}  // namespace kiln::cli
