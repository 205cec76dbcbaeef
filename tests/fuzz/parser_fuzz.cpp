// libFuzzer target: Dockerfile bytes → parse_dockerfile → dump → to_program, plus the heredoc helpers and a pass of the shell expander over each argument,
// the way the builder would use them.
//
// kiln::Error (ParseError included) is the documented way to reject input, so it is a normal
// outcome. Anything else — a crash, a sanitizer report, another exception type escaping (it
// reaches std::terminate), a broken invariant below — is a finding.
#include <cstdint>
#include <string>
#include <string_view>

#include "parser/expand.hpp"
#include "parser/instructions.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace kiln::parser;
using kiln::fuzz::check;

const EnvMap& fuzz_env() {
    // A few set, empty and word-splitting values so expansions take every branch.
    static const EnvMap env{{"A", "a"}, {"EMPTY", ""}, {"SPACES", "x  y z"}, {"HOME", "/root"}};
    return env;
}

void check_instruction(const Instruction& in, const Dockerfile& file, int depth) {
    check(depth < 1000, "ONBUILD nesting without bound");
    for (char c : in.keyword) check(!(c >= 'A' && c <= 'Z'), "keyword not lowercased");
    if (depth == 0) {
        // Top-level instructions span physical lines of the file.
        const auto lines = static_cast<int>(file.lines.size());
        check(in.range.start.line >= 1, "range starts before line 1");
        check(in.range.start.line <= in.range.end.line, "range ends before it starts");
        check(in.range.end.line <= lines, "range ends past the last line");
    }
    if (in.inner) check_instruction(*in.inner, file, depth + 1);
}

// The builder expands instruction words; do the same with the file's escape character.
void expand_arguments(const Dockerfile& file) {
    if (file.escape != '\\' && file.escape != '`') return;
    const ShellExpander expander(file.escape);
    int budget = 32;  // keeps one input's work bounded
    for (const auto& in : file.instructions) {
        for (const auto& arg : in.args) {
            if (budget-- == 0) return;
            try {
                (void)expander.process(arg, fuzz_env());
            } catch (const kiln::Error&) {
            }
        }
    }
}

void fuzz_heredoc_helpers(std::string_view text) {
    int budget = 16;
    std::size_t begin = 0;
    while (begin < text.size() && budget-- > 0) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(begin, end - begin);
        try {
            (void)heredocs_in_line(line);
            if (line.size() < 256) (void)parse_heredoc_word(line);
        } catch (const kiln::Error&) {
        }
        begin = end + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const std::string quoted = go_quote(text);
    check(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"', "go_quote frame");

    fuzz_heredoc_helpers(text);

    try {
        const Dockerfile file = parse_dockerfile(text, "Dockerfile");
        for (const auto& in : file.instructions) check_instruction(in, file, 0);

        // One "(...)\n" line per instruction: strings are Go-quoted, so no raw newline may
        // leak into the dump.
        const std::string out = dump(file);
        std::size_t newlines = 0;
        for (char c : out) newlines += c == '\n';
        check(newlines == file.instructions.size(), "dump: one line per instruction");
        check(out.empty() || out.front() == '(', "dump: line starts with (");
        check(dump(file) == out, "dump is deterministic");

        expand_arguments(file);

        try {
            const Program program = to_program(file);
            for (const auto& stage : program.stages) {
                check(stage.from_source != nullptr, "stage without its FROM");
                for (const auto& typed : stage.instructions) {
                    check(typed.source != nullptr, "typed instruction without its source");
                }
            }
        } catch (const ParseError& e) {
            (void)e.render();
        }
    } catch (const ParseError& e) {
        // The caret rendering indexes the source line by column: exercise it too.
        const std::string shown = e.render();
        check(!shown.empty(), "empty rendered error");
    } catch (const kiln::Error&) {
    }
    return 0;
}
