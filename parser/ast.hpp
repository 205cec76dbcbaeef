#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::parser {

// 1-based physical line and column in the Dockerfile (column counts bytes).
struct Position {
    int line = 0;
    int column = 0;
};

struct Range {
    Position start;
    Position end;
};

struct Heredoc {
    std::string name;     // delimiter with quotes removed
    std::string content;  // body, lines verbatim with their line endings
    bool expand = true;   // false when any part of the delimiter was quoted
    bool chomp = false;   // <<- : leading tabs are stripped by the consumer
    int fd = 0;           // "3<<EOF" → 3
};

// One instruction as BuildKit's raw parse stage sees it (parser/Node in BuildKit).
struct Instruction {
    std::string keyword;             // lowercased, as written ("from", "copy", "frobnicate")
    std::vector<std::string> flags;  // "--from=x", quotes/escapes already removed
    std::vector<std::string> args;   // per-instruction argument rule (see conformance README)
    bool json_form = false;          // arguments came from a JSON array
    std::vector<Heredoc> heredocs;
    std::unique_ptr<Instruction> inner;  // ONBUILD's wrapped instruction
    std::string original;            // the joined instruction text (keyword included)
    Range range;                     // first to last physical line consumed
    Position keyword_pos;            // where the keyword starts (for error carets)
};

struct Directive {
    std::string name;   // lowercased: syntax, escape, check
    std::string value;
    int line = 0;
};

struct Warning {
    std::string message;  // one line: what and where
    std::string detail;   // why it matters / what will change
    Range range;
};

struct Dockerfile {
    std::string filename;  // as given by the caller, used in messages
    std::vector<std::string> lines;  // physical lines without line endings (for carets)
    std::vector<Directive> directives;
    char escape = '\\';
    std::vector<Instruction> instructions;
    std::vector<Warning> warnings;
};

}  // namespace kiln::parser
