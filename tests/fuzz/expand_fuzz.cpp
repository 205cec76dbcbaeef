// libFuzzer target: ShellExpander in single-word and words mode.
//
// Input layout: byte 0 picks the escape character ('\\' or '`') and the ExpandOptions
// switches; the rest is the word. kiln::Error is the documented rejection ("failed to process
// ..."), so it is a normal outcome; crashes, sanitizer reports, other exception types and the
// broken invariants below are findings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parser/expand.hpp"
#include "util/error.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace kiln::parser;
using kiln::fuzz::check;

const EnvMap& fuzz_env() {
    // Set, set-but-empty, word-splitting, glob-ish and escape-laden values; anything else is
    // unset, so both sides of ${V:-w} / ${V-w} are reached.
    static const EnvMap env{
        {"A", "a"},          {"EMPTY", ""},          {"SPACES", "x  y\tz "},
        {"PATH", "/usr/local/bin:/usr/bin"},         {"GLOB", "*?[a-z]\\"},
        {"Q", "'\"`$"},      {"LONG", std::string(300, 'L')},
    };
    return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    const std::string_view word(reinterpret_cast<const char*>(data) + 1, size - 1);

    ExpandOptions options;
    options.raw_quotes = mode & 0x02;
    options.raw_escapes = mode & 0x04;
    options.skip_process_quotes = mode & 0x08;
    options.skip_unset_env = mode & 0x10;
    const ShellExpander expander((mode & 0x01) ? '`' : '\\', options);

    std::optional<ExpandResult> both;
    try {
        both = expander.process(word, fuzz_env());
    } catch (const kiln::Error&) {
    }

    // The EnvLookup overloads must agree with the map overloads, and the one-pass process()
    // with the single-mode calls.
    const EnvLookup lookup = lookup_in(fuzz_env());
    try {
        const std::string single = expander.expand_word(word, lookup);
        check(both.has_value(), "expand_word succeeded where process failed");
        check(single == both->word, "expand_word differs from process().word");
    } catch (const kiln::Error&) {
        check(!both.has_value(), "expand_word failed where process succeeded");
    }
    try {
        const std::vector<std::string> words = expander.expand_words(word, lookup);
        check(both.has_value(), "expand_words succeeded where process failed");
        check(words == both->words, "expand_words differs from process().words");
    } catch (const kiln::Error&) {
        check(!both.has_value(), "expand_words failed where process succeeded");
    }
    if (both) {
        for (const auto& name : both->matched) check(fuzz_env().count(name) == 1, "matched unset");
        for (const auto& name : both->unmatched) check(fuzz_env().count(name) == 0, "unmatched set");
    }
    return 0;
}
