// BuildKit's AST dump: `(keyword ["flag" …] "arg" …)`, one line per instruction.
#include "parser/parse.hpp"

namespace kiln::parser {
namespace {

std::string dump_instruction(const Instruction& instruction) {
    std::string out = instruction.keyword;
    if (!instruction.flags.empty()) {
        out += " [";
        for (std::size_t i = 0; i < instruction.flags.size(); ++i) {
            if (i > 0) out += ' ';
            out += go_quote(instruction.flags[i]);
        }
        out += ']';
    }
    if (instruction.inner) out += " (" + dump_instruction(*instruction.inner) + ')';
    for (const std::string& arg : instruction.args) out += ' ' + go_quote(arg);
    // BuildKit trims the assembled text; only an empty keyword can leave a leading blank.
    if (!out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
}

}  // namespace

std::string dump(const Dockerfile& file) {
    std::string out;
    for (const Instruction& instruction : file.instructions) {
        out += '(' + dump_instruction(instruction) + ")\n";
    }
    return out;
}

}  // namespace kiln::parser
