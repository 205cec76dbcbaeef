#pragma once
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "parser/ast.hpp"
#include "util/error.hpp"

namespace kiln::parser {

// A problem in a Dockerfile. what() is the full one-line message
// "FILE:LINE:COL: message"; render() adds the source line and a caret under COL.
class ParseError : public kiln::Error {
public:
    ParseError(std::string file, Position pos, std::string message, std::string source_line);
    const std::string& file() const { return file_; }
    Position position() const { return pos_; }
    const std::string& message() const { return message_; }
    // "FILE:LINE:COL: message\n  <source line>\n  <spaces>^"
    std::string render() const;

private:
    std::string file_;
    Position pos_;
    std::string message_;
    std::string source_line_;
};

// Inputs larger than this are refused before parsing.
inline constexpr std::size_t kMaxDockerfileSize = 64u << 20;

// The raw parse stage: bytes → instructions, exactly as BuildKit's parser (unknown
// instructions and flags are accepted here). Throws ParseError.
Dockerfile parse_dockerfile(std::string_view text, std::string filename = "Dockerfile");

// Go's strconv.Quote: the quoting used by the dump (and handy in messages).
std::string go_quote(std::string_view text);

// One shell word → the heredoc it opens (`<<EOF`, `3<<-'EOF'`…), or nullopt when the word
// is not a heredoc. Throws kiln::Error for an unbalanced quote in the delimiter.
std::optional<Heredoc> parse_heredoc_word(std::string_view word);

// The heredocs an instruction line opens, in order (bodies left empty). A line that cannot
// be split into shell words (unbalanced quote) opens none.
std::vector<Heredoc> heredocs_in_line(std::string_view line);

// The body as the command sees it: for `<<-` every line's leading tabs removed
// (BuildKit's ChompHeredocContent); otherwise the content unchanged. Not expanded.
std::string heredoc_body(const Heredoc& heredoc);

// BuildKit's AST dump format (one "(keyword ...)" line per instruction, each ending "\n").
std::string dump(const Dockerfile& file);

}  // namespace kiln::parser
