#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace kiln::builder {

// COPY/ADD --chmod: an octal mode (`0755`) or chmod(1)'s symbolic form (`u+x,g-w`, `+x`,
// `a=r`, `go=rX`), as BuildKit accepts since dockerfile 1.14. Symbolic clauses change each
// copied file's own mode, so they need the mode and the file type to apply.
class ChmodSpec {
public:
    // Throws kiln::Error naming the value when it is neither form.
    static ChmodSpec parse(std::string_view text);

    bool symbolic() const { return symbolic_; }
    // The mode an entry gets: the octal value, or `current` changed clause by clause.
    // `X` adds execute only for a directory or a file that has an execute bit already.
    mode_t apply(mode_t current, bool is_directory) const;
    // The value as written, canonical enough for a cache key.
    const std::string& text() const { return text_; }

private:
    // One operator of a clause: `go-w` is {g|o, '-', "w"}; `u+x-w` gives two.
    struct Clause {
        unsigned classes = 0;  // 1 user, 2 group, 4 others; no letter means all three
        char op = '+';
        std::string perms;     // letters of rwxXst
    };
    std::string text_;
    bool symbolic_ = false;
    mode_t octal_ = 0;
    std::vector<Clause> clauses_;
};

}  // namespace kiln::builder
