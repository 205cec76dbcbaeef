// The raw parse stage: bytes → physical lines → logical instructions → per-instruction
// argument rules, following BuildKit's parser (shared/conformance/buildkit-parser/README.md).
#include "parser/parse.hpp"

#include <algorithm>
#include <cctype>

#include "parser/grammar.hpp"
#include "parser/lexer.hpp"
#include "parser/utf8.hpp"

namespace kiln::parser {
namespace pegtl = tao::pegtl;
namespace g = grammar;

// ---------------------------------------------------------------------------------------
// ParseError

namespace {
std::string located_message(const std::string& file, Position pos, const std::string& message) {
    std::string out = file;
    if (pos.line > 0) {
        out += ':' + std::to_string(pos.line);
        if (pos.column > 0) out += ':' + std::to_string(pos.column);
    }
    return out + ": " + message;
}
}  // namespace

ParseError::ParseError(std::string file, Position pos, std::string message, std::string source_line)
    : kiln::Error(located_message(file, pos, message)),
      file_(std::move(file)),
      pos_(pos),
      message_(std::move(message)),
      source_line_(std::move(source_line)) {}

std::string ParseError::render() const {
    std::string out = what();
    if (pos_.line <= 0 || source_line_.empty()) return out;
    out += "\n  " + source_line_ + "\n  ";
    // Keep tabs so the caret lines up under the same column in a terminal.
    const std::size_t caret = pos_.column > 0 ? static_cast<std::size_t>(pos_.column - 1) : 0;
    for (std::size_t i = 0; i < caret && i < source_line_.size(); ++i) {
        out += source_line_[i] == '\t' ? '\t' : ' ';
    }
    out += '^';
    return out;
}

namespace {

constexpr std::size_t kMaxLineLength = 65535;
constexpr int kMaxOnbuildNesting = 8;  // BuildKit recurses without limit; we stop early
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

struct PhysicalLine {
    std::string_view text;         // without the trailing '\n'
    std::string_view with_ending;  // as in the file
};

// ---------------------------------------------------------------------------------------
// Physical lines through the PEGTL line grammar.
struct LineState {
    std::vector<PhysicalLine> lines;
};
template <typename Rule>
struct line_action : pegtl::nothing<Rule> {};
template <>
struct line_action<g::lines::body> {
    template <typename Input>
    static void apply(const Input& in, LineState& state) {
        state.lines.push_back({in.string_view(), {}});
    }
};
template <>
struct line_action<g::lines::line> {
    template <typename Input>
    static void apply(const Input& in, LineState& state) {
        state.lines.back().with_ending = in.string_view();
    }
};

std::string_view trim_newline(std::string_view text) {
    while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) text.remove_suffix(1);
    return text;
}

bool is_comment(std::string_view line) {
    const std::string_view trimmed = trim_left_unicode(line);
    return !trimmed.empty() && trimmed.front() == '#';
}

// ---------------------------------------------------------------------------------------
// Parser directives.
struct DirectiveMatch {
    std::string_view name;
    std::string_view value;
};
template <typename Rule>
struct directive_action : pegtl::nothing<Rule> {};
template <>
struct directive_action<g::directive::name> {
    template <typename Input>
    static void apply(const Input& in, DirectiveMatch& match) { match.name = in.string_view(); }
};
template <>
struct directive_action<g::directive::value> {
    template <typename Input>
    static void apply(const Input& in, DirectiveMatch& match) { match.value = in.string_view(); }
};

bool is_go_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

std::optional<DirectiveMatch> match_directive(std::string_view line) {
    DirectiveMatch match;
    auto in = g::input_of(line, "directive");
    if (!pegtl::parse<g::directive::line, directive_action>(in, match)) return std::nullopt;
    // Regexp `\s*(.+?)\s*$`: the value is the text without surrounding blanks, but never
    // empty; an all-blank value keeps its last blank, as the lazy match would.
    std::string_view value = match.value;
    while (!value.empty() && is_go_space(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_go_space(value.back())) value.remove_suffix(1);
    match.value = value.empty() ? match.value.substr(match.value.size() - 1) : value;
    return match;
}

// ---------------------------------------------------------------------------------------
// Argument rules.

// An error in the arguments of the instruction being built; parse_dockerfile adds the
// position.
struct ArgumentError {
    std::string message;
    std::string near;  // text to point the caret at, if it can be found
};

void set_maybe_json(Instruction& instruction, std::string_view rest, bool split_fallback) {
    lexer::JsonArray json = lexer::parse_json_array(rest);
    if (json.status == lexer::JsonStatus::not_strings) {
        throw ArgumentError{"when using JSON array syntax, arrays must be comprised of strings only",
                            std::string(rest.substr(0, 1))};
    }
    if (json.status == lexer::JsonStatus::strings) {
        instruction.args = std::move(json.elements);
        instruction.json_form = true;
        return;
    }
    if (rest.empty()) return;
    if (split_fallback) {
        instruction.args = lexer::split_blanks(rest);
    } else {
        instruction.args = {std::string(rest)};
    }
}

void set_name_values(Instruction& instruction, std::string_view rest, char escape, const char* key) {
    const std::vector<std::string_view> words = lexer::split_word_views(rest, escape);
    if (words.empty()) return;
    if (words.front().find('=') == std::string_view::npos) {
        // Legacy `ENV key value with spaces`.
        std::vector<std::string> parts = lexer::split_blanks(rest, 2);
        if (parts.size() < 2) {
            throw ArgumentError{std::string(key) + " must have two arguments", std::string(rest)};
        }
        instruction.args = {std::move(parts[0]), std::move(parts[1]), ""};
        return;
    }
    instruction.args.reserve(words.size() * 3);
    for (const std::string_view word : words) {
        const std::size_t equals = word.find('=');
        if (equals == std::string_view::npos) {
            throw ArgumentError{"Syntax error - can't find = in " + go_quote(word) +
                                    ". Must be of the form: name=value",
                                std::string(word)};
        }
        instruction.args.emplace_back(word.substr(0, equals));
        instruction.args.emplace_back(word.substr(equals + 1));
        instruction.args.emplace_back("=");
    }
}

void set_healthcheck(Instruction& instruction, std::string_view rest) {
    const auto is_blank = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    };
    std::size_t type_end = 0;
    while (type_end < rest.size() && !is_blank(rest[type_end])) ++type_end;
    if (type_end == 0) return;
    std::size_t command_start = type_end;
    while (command_start < rest.size() && is_blank(rest[command_start])) ++command_start;
    instruction.args.emplace_back(rest.substr(0, type_end));
    Instruction command;
    set_maybe_json(command, rest.substr(command_start), false);
    instruction.json_form = command.json_form;
    for (std::string& arg : command.args) instruction.args.push_back(std::move(arg));
}

Instruction build_instruction(std::string_view text, char escape, int depth);

void apply_argument_rule(Instruction& instruction, std::string_view rest, char escape, int depth) {
    // A view compares by length first, without strlen on each literal.
    const std::string_view keyword = instruction.keyword;
    if (keyword == "from" || keyword == "expose") {
        if (!rest.empty()) instruction.args = lexer::split_blanks(rest);
    } else if (keyword == "add" || keyword == "copy" || keyword == "volume") {
        set_maybe_json(instruction, rest, true);
    } else if (keyword == "run" || keyword == "cmd" || keyword == "entrypoint" || keyword == "shell") {
        if (!rest.empty()) set_maybe_json(instruction, rest, false);
    } else if (keyword == "healthcheck") {
        set_healthcheck(instruction, rest);
    } else if (keyword == "env") {
        set_name_values(instruction, rest, escape, "ENV");
    } else if (keyword == "label") {
        set_name_values(instruction, rest, escape, "LABEL");
    } else if (keyword == "arg") {
        instruction.args = lexer::split_words(rest, escape);
    } else if (keyword == "maintainer" || keyword == "user" || keyword == "workdir" ||
               keyword == "stopsignal") {
        if (!rest.empty()) instruction.args = {std::string(rest)};
    } else if (keyword == "onbuild") {
        if (rest.empty()) return;
        if (depth >= kMaxOnbuildNesting) {
            // Deeper nesting is kept as text only; the typed stage rejects ONBUILD ONBUILD.
            instruction.args = {std::string(rest)};
            return;
        }
        instruction.inner = std::make_unique<Instruction>(build_instruction(rest, escape, depth + 1));
    } else {
        instruction.args = {""};  // unknown instructions keep no arguments at this stage
    }
}

Instruction build_instruction(std::string_view text, char escape, int depth) {
    Instruction instruction;
    const std::string_view trimmed = trim_unicode(text);
    instruction.original = std::string(trimmed);
    const lexer::InstructionHead head = lexer::split_head(trimmed);
    instruction.keyword = ascii_lower(head.keyword);
    lexer::FlagSplit flags = lexer::split_flags(head.rest, escape);
    instruction.flags = std::move(flags.flags);
    apply_argument_rule(instruction, trim_unicode(flags.rest), escape, depth);
    return instruction;
}

bool can_contain_heredoc(const Instruction& instruction) {
    const Instruction* target = &instruction;
    if (target->keyword == "onbuild" && target->inner) target = target->inner.get();
    const std::string_view keyword = target->keyword;
    return (keyword == "run" || keyword == "copy" || keyword == "add") && !target->json_form;
}

// Column (1-based) of `needle` in `line`, or `fallback`.
int column_of(std::string_view line, std::string_view needle, int fallback) {
    if (needle.empty()) return fallback;
    const std::size_t at = line.find(needle);
    return at == std::string_view::npos ? fallback : static_cast<int>(at) + 1;
}

class DockerfileParser {
public:
    DockerfileParser(std::string_view text, std::string filename) : text_(text) {
        file_.filename = std::move(filename);
    }

    Dockerfile run() {
        if (text_.size() > kMaxDockerfileSize) {
            throw ParseError(file_.filename, {}, "file is " + std::to_string(text_.size()) +
                                                     " bytes; Dockerfiles larger than " +
                                                     std::to_string(kMaxDockerfileSize >> 20) +
                                                     " MiB are refused", "");
        }
        split_lines();
        // At most one instruction per line. Reserving once avoids moving every Instruction
        // on each regrowth; pages of the tail that stay unused are never touched.
        file_.instructions.reserve(lines_.size());
        while (next_ < lines_.size()) read_instruction();
        if (file_.instructions.empty()) {
            fail({static_cast<int>(lines_.size()), 0}, "file with no instructions");
        }
        return std::move(file_);
    }

private:
    void split_lines() {
        LineState state;
        // One memchr-speed count up front saves regrowing the line table as it fills.
        state.lines.reserve(static_cast<std::size_t>(std::count(text_.begin(), text_.end(), '\n')) + 1);
        auto in = g::input_of(text_, file_.filename.c_str());
        pegtl::parse<g::lines::file, line_action>(in, state);
        lines_ = std::move(state.lines);
        if (!lines_.empty() && lines_.front().text.starts_with(kUtf8Bom)) {
            lines_.front().text.remove_prefix(kUtf8Bom.size());
            lines_.front().with_ending.remove_prefix(kUtf8Bom.size());
        }
        file_.lines.reserve(lines_.size());
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            const std::string_view line = trim_newline(lines_[i].text);
            file_.lines.emplace_back(line);
            if (line.size() > kMaxLineLength) {
                fail({static_cast<int>(i) + 1, static_cast<int>(kMaxLineLength) + 1},
                     "dockerfile line greater than max allowed size of " +
                         std::to_string(kMaxLineLength));
            }
        }
    }

    [[noreturn]] void fail(Position pos, const std::string& message) const {
        std::string source;
        if (pos.line >= 1 && static_cast<std::size_t>(pos.line) <= file_.lines.size()) {
            source = file_.lines[static_cast<std::size_t>(pos.line) - 1];
        }
        throw ParseError(file_.filename, pos, message, source);
    }

    void check_directive(std::string_view line, int line_number) {
        if (directives_done_) return;
        const auto match = match_directive(line);
        const std::string name = match ? ascii_lower(match->name) : std::string();
        if (!match || (name != "syntax" && name != "escape" && name != "check")) {
            directives_done_ = true;
            return;
        }
        const bool seen = std::any_of(file_.directives.begin(), file_.directives.end(),
                                      [&](const Directive& d) { return d.name == name; });
        const int value_column = column_of(file_.lines[static_cast<std::size_t>(line_number) - 1],
                                           match->value, 1);
        if (seen) fail({line_number, 1}, "only one " + name + " parser directive can be used");
        if (name == "escape") {
            if (match->value != "\\" && match->value != "`") {
                fail({line_number, value_column},
                     "invalid escape token '" + std::string(match->value) + "' does not match ` or \\");
            }
            file_.escape = match->value.front();
        }
        file_.directives.push_back({name, std::string(match->value), line_number});
    }

    // Removes a trailing continuation escape: `([^E])E[ \t]*$` or `^E[ \t]*$`.
    std::pair<std::string_view, bool> trim_continuation(std::string_view line) const {
        std::size_t end = line.size();
        while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
        if (end == 0 || line[end - 1] != file_.escape) return {line, true};
        if (end >= 2 && line[end - 2] == file_.escape) return {line, true};  // escaped escape
        return {line.substr(0, end - 1), false};
    }

    void read_instruction() {
        const std::size_t first = next_++;
        const int start_line = static_cast<int>(first) + 1;
        const std::string_view raw = trim_newline(lines_[first].text);
        const std::string_view left_trimmed = trim_left_unicode(raw);
        check_directive(left_trimmed, start_line);
        if (is_comment(left_trimmed)) return;
        auto [text, complete] = trim_continuation(left_trimmed);
        if (complete && text.empty()) return;

        // Most instructions fit on one line: only continued ones need a joined copy.
        const bool single_line = complete;
        const std::string_view first_text = text;
        std::string continued;
        if (!single_line) continued = text;
        bool empty_continuation = false;
        while (!complete && next_ < lines_.size()) {
            const std::string_view line = trim_newline(lines_[next_++].text);
            if (is_comment(line)) continue;
            if (trim_left_unicode(line).empty()) {
                empty_continuation = true;
                continue;
            }
            std::tie(text, complete) = trim_continuation(line);
            continued += text;
        }
        const std::string_view joined = single_line ? first_text : std::string_view(continued);
        const int joined_end = static_cast<int>(next_);
        if (empty_continuation) {
            // BuildKit locates this warning on the instruction's last line (its line counter
            // when the continuation ends), not where the instruction starts.
            file_.warnings.push_back({"Empty continuation line found in: " + std::string(joined),
                                      "Empty continuation lines will become errors in a future release",
                                      {{joined_end, 1}, {joined_end, 1}}});
        }
        if (!complete) {
            file_.warnings.push_back({"the file ends inside a line continuation (the last line ends with " +
                                          std::string(1, file_.escape) + ")",
                                      "the instruction is used as if the continuation were not there",
                                      {{start_line, 1}, {joined_end, 1}}});
        }

        const int keyword_column = static_cast<int>(raw.size() - left_trimmed.size()) + 1;
        Instruction instruction;
        try {
            instruction = build_instruction(joined, file_.escape, 0);
        } catch (const ArgumentError& error) {
            fail({start_line, column_of(file_.lines[first], error.near, keyword_column)}, error.message);
        }
        instruction.keyword_pos = {start_line, keyword_column};
        if (can_contain_heredoc(instruction) && joined.find("<<") != std::string_view::npos) {
            read_heredocs(instruction, joined, start_line);
        }
        const int end_line = static_cast<int>(next_);
        instruction.range = {{start_line, keyword_column},
                             {end_line, static_cast<int>(file_.lines[next_ - 1].size()) + 1}};
        file_.instructions.push_back(std::move(instruction));
    }

    void read_heredocs(Instruction& instruction, std::string_view joined, int start_line) {
        std::vector<Heredoc> heredocs;
        try {
            heredocs = heredocs_in_line(joined);
        } catch (const kiln::Error& error) {
            fail({start_line, column_of(file_.lines[start_line - 1], "<<", 1)}, error.what());
        }
        for (Heredoc& heredoc : heredocs) {
            bool terminated = false;
            while (next_ < lines_.size()) {
                const PhysicalLine& line = lines_[next_++];
                std::string_view candidate = trim_newline(line.text);
                if (heredoc.chomp) {
                    while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
                }
                if (candidate == heredoc.name) {
                    terminated = true;
                    break;
                }
                heredoc.content += line.with_ending;
            }
            if (!terminated) {
                const std::string& first_line = file_.lines[static_cast<std::size_t>(start_line) - 1];
                fail({start_line, column_of(first_line, "<<", 1)},
                     "unterminated heredoc: no line " + go_quote(heredoc.name) +
                         " closes the heredoc opened here");
            }
            instruction.heredocs.push_back(std::move(heredoc));
        }
    }

    std::string_view text_;
    Dockerfile file_;
    std::vector<PhysicalLine> lines_;
    std::size_t next_ = 0;
    bool directives_done_ = false;
};

}  // namespace

Dockerfile parse_dockerfile(std::string_view text, std::string filename) {
    return DockerfileParser(text, std::move(filename)).run();
}

}  // namespace kiln::parser
