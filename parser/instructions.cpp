// The typed stage: raw instructions → commands, with BuildKit's checks (instructions
// package) and messages that say what to change.
#include "parser/instructions.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "parser/instruction_flags.hpp"
#include "parser/parse.hpp"
#include "parser/utf8.hpp"

namespace kiln::parser {
namespace {

using typed::FlagSet;
using typed::Site;
using Kind = FlagSet::Kind;

constexpr std::array<std::string_view, 18> kInstructions = {
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
    "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The closest known instruction, if it is close enough to be a typo.
std::string suggestion_for(std::string_view keyword) {
    std::string best;
    std::size_t best_distance = 3;  // at most two edits away
    for (std::string_view candidate : kInstructions) {
        const std::size_t distance = edit_distance(ascii_lower(keyword), candidate);
        if (distance < best_distance && distance < candidate.size()) {
            best_distance = distance;
            best = ascii_upper(candidate);
        }
    }
    return best;
}

// The keyword exactly as written in the instruction text.
std::string_view written_keyword(const Instruction& instruction) {
    const std::string_view text = instruction.original;
    const std::size_t end = text.find_first_of(" \t\v\f\r");
    return text.substr(0, end);
}

CommandLine command_line(const Instruction& instruction, std::size_t skip = 0) {
    CommandLine line;
    if (instruction.json_form) {
        line.args.assign(instruction.args.begin() + static_cast<std::ptrdiff_t>(
                                                        std::min(skip, instruction.args.size())),
                         instruction.args.end());
    } else if (instruction.args.size() > skip) {
        line.args = {instruction.args[skip]};
        line.shell_form = true;
    }
    return line;
}

class Typer {
public:
    Typer(const Dockerfile& file, const Instruction& located, const std::vector<Heredoc>& heredocs)
        : site_{file, located}, heredocs_(heredocs) {}

    Command type(const Instruction& instruction, bool inside_onbuild) {
        const std::string keyword = ascii_upper(instruction.keyword);
        // An ONBUILD trigger's keyword sits further along the ONBUILD line.
        const Position keyword_at = &instruction == &site_.located
                                        ? site_.located.keyword_pos
                                        : site_.find(written_keyword(instruction));
        const auto fail = [&](const std::string& message) -> Command { site_.fail(keyword_at, message); };
        FlagSet flags(site_, instruction, keyword);
        const auto& args = instruction.args;
        const std::string& k = instruction.keyword;

        if (k == "from") {
            if (inside_onbuild) fail("FROM isn't allowed as an ONBUILD trigger");
            flags.declare("platform", Kind::string).parse();
            return from(instruction, flags);
        }
        if (k == "run") {
            flags.declare("mount", Kind::repeated).declare("network", Kind::string)
                .declare("security", Kind::string).parse();
            return run(instruction, flags);
        }
        if (k == "copy" || k == "add") {
            flags.declare("chown", Kind::string).declare("chmod", Kind::string)
                .declare("link", Kind::boolean).declare("parents", Kind::boolean)
                .declare("exclude", Kind::repeated);
            if (k == "copy") flags.declare("from", Kind::string);
            if (k == "add") flags.declare("checksum", Kind::string).declare("keep-git-dir", Kind::boolean);
            if (k == "add") flags.declare("unpack", Kind::boolean);
            flags.parse();
            return copy(instruction, flags, k == "add");
        }
        if (k == "healthcheck") {
            flags.declare("interval", Kind::string).declare("timeout", Kind::string)
                .declare("start-period", Kind::string).declare("start-interval", Kind::string)
                .declare("retries", Kind::string).parse();
            return healthcheck(instruction, flags);
        }
        if (k == "onbuild") {
            flags.parse();
            if (inside_onbuild) fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
            return onbuild(instruction);
        }
        if (std::find(kInstructions.begin(), kInstructions.end(), k) == kInstructions.end()) {
            const std::string suggestion = suggestion_for(k);
            return fail("unknown instruction " + go_quote(written_keyword(instruction)) +
                        (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
        }
        flags.parse();  // the rest take no flags

        if (k == "env" || k == "label") {
            if (args.empty()) fail(keyword + " requires at least one argument");
            std::vector<KeyValue> pairs;
            for (std::size_t i = 0; i + 1 < args.size(); i += 3) {
                if (args[i].empty()) fail(keyword + " names can not be blank");
                pairs.push_back({args[i], args[i + 1]});
            }
            if (k == "env") return EnvCmd{std::move(pairs)};
            return LabelCmd{std::move(pairs)};
        }
        if (k == "arg") {
            if (args.empty()) fail("ARG requires at least one argument");
            ArgCmd arg;
            for (const std::string& word : args) {
                const std::size_t equals = word.find('=');
                const std::string name = word.substr(0, equals);
                if (name.empty()) site_.fail_at(word, "ARG names can not be blank");
                if (equals == std::string::npos) arg.args.emplace_back(name, std::nullopt);
                else arg.args.emplace_back(name, word.substr(equals + 1));
            }
            return arg;
        }
        if (k == "maintainer") {
            if (inside_onbuild) fail("MAINTAINER isn't allowed as an ONBUILD trigger");
            if (args.empty()) fail("MAINTAINER requires exactly one argument");
            return MaintainerCmd{args.front()};
        }
        if (k == "workdir" || k == "user" || k == "stopsignal") {
            if (args.size() != 1 || args.front().empty()) fail(keyword + " requires exactly one argument");
            if (k == "workdir") return WorkdirCmd{args.front()};
            if (k == "user") return UserCmd{args.front()};
            return StopSignalCmd{args.front()};
        }
        if (k == "cmd") return CmdCmd{command_line(instruction)};
        if (k == "entrypoint") return EntrypointCmd{command_line(instruction)};
        if (k == "shell") {
            if (args.empty()) fail("SHELL requires at least one argument");
            if (!instruction.json_form) {
                fail("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
            }
            return ShellCmd{args};
        }
        if (k == "expose") {
            if (args.empty()) fail("EXPOSE requires at least one argument");
            return ExposeCmd{args};
        }
        // volume
        if (args.empty()) fail("VOLUME requires at least one argument");
        for (const std::string& path : args) {
            if (path.find_first_not_of(" \t\r\n") == std::string::npos) {
                fail("VOLUME specified can not be an empty string");
            }
        }
        return VolumeCmd{args};
    }

private:
    FromCmd from(const Instruction& instruction, const FlagSet& flags) {
        const auto& args = instruction.args;
        if (args.empty()) site_.fail(site_.located.keyword_pos, "FROM requires the name of a base image");
        if (args.size() != 1 && !(args.size() == 3 && ascii_lower(args[1]) == "as")) {
            site_.fail_at(args.size() > 1 ? args[1] : args[0],
                          "FROM requires either one or three arguments: FROM <image> [AS <name>]");
        }
        FromCmd cmd{args[0], "", flags.string("platform")};
        if (args.size() == 3) {
            cmd.stage_name = ascii_lower(args[2]);
            const bool valid = !cmd.stage_name.empty() && std::isalpha(static_cast<unsigned char>(cmd.stage_name[0])) &&
                               cmd.stage_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") ==
                                   std::string::npos;
            if (!valid) {
                site_.fail_at(args[2], "invalid name for build stage: " + go_quote(args[2]) +
                                           ", name can't start with a number or contain symbols");
            }
        }
        return cmd;
    }

    RunCmd run(const Instruction& instruction, const FlagSet& flags) {
        if (instruction.args.empty() && heredocs_.empty()) {
            site_.fail(site_.located.keyword_pos, "RUN requires at least one argument");
        }
        RunCmd cmd;
        cmd.command = command_line(instruction);
        cmd.heredocs = heredocs_;
        for (const std::string& spec : flags.repeated("mount")) cmd.mounts.push_back(typed::parse_mount(flags, spec));
        cmd.network = flags.string("network");
        if (flags.given("network") && cmd.network != "default" && cmd.network != "none" && cmd.network != "host") {
            flags.fail("network", "unsupported network mode " + go_quote(cmd.network) +
                                      " (use default, none or host)");
        }
        cmd.security = flags.string("security");
        if (flags.given("security") && cmd.security != "sandbox" && cmd.security != "insecure") {
            flags.fail("security", "unsupported security mode " + go_quote(cmd.security) +
                                       " (use sandbox or insecure)");
        }
        return cmd;
    }

    const Heredoc* heredoc_for(std::string_view word) const {
        std::optional<Heredoc> parsed;
        try {
            parsed = parse_heredoc_word(word);
        } catch (const kiln::Error&) {
            return nullptr;  // unbalanced quotes: the raw stage opened no heredoc for it
        }
        if (!parsed) return nullptr;
        for (const Heredoc& heredoc : heredocs_) {
            if (heredoc.name == parsed->name) return &heredoc;
        }
        return nullptr;
    }

    CopyCmd copy(const Instruction& instruction, const FlagSet& flags, bool is_add) {
        const char* name = is_add ? "ADD" : "COPY";
        const auto& args = instruction.args;
        if (args.size() < 2) {
            site_.fail(site_.located.keyword_pos,
                       std::string(name) + (args.empty() ? " requires at least two arguments"
                                                         : " requires at least two arguments, but only one "
                                                           "was provided. Destination could not be determined."));
        }
        CopyCmd cmd;
        cmd.is_add = is_add;
        cmd.dest = args.back();
        if (!instruction.json_form && heredoc_for(cmd.dest) != nullptr) {
            site_.fail_at(cmd.dest, std::string(name) + " destination can't be a heredoc");
        }
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            const Heredoc* heredoc = instruction.json_form ? nullptr : heredoc_for(args[i]);
            // A heredoc source is normalised to `<<NAME` (`<<-NAME` when chomped), quotes
            // and fd dropped, so consumers match it against heredocs[].name directly.
            cmd.sources.push_back(heredoc != nullptr ? (heredoc->chomp ? "<<-" : "<<") + heredoc->name
                                                     : args[i]);
        }
        cmd.heredocs = heredocs_;
        cmd.from = flags.string("from");
        cmd.chown = flags.string("chown");
        cmd.chmod = flags.string("chmod");
        // A chmod built from variables is checked by the builder after expansion.
        if (flags.given("chmod") && cmd.chmod.find('$') == std::string::npos &&
            !typed::valid_chmod(cmd.chmod)) {
            flags.fail("chmod", "invalid --chmod value " + go_quote(cmd.chmod) +
                                    ": expected octal (0755) or symbolic (u+x,go-w) mode");
        }
        if (flags.given("from") && cmd.from.empty()) flags.fail("from", "--from needs a stage name or image");
        cmd.checksum = flags.string("checksum");
        cmd.excludes = flags.repeated("exclude");
        cmd.link = flags.boolean("link");
        cmd.parents = flags.boolean("parents");
        cmd.keep_git_dir = flags.boolean("keep-git-dir");
        if (flags.given("unpack")) cmd.unpack = flags.boolean("unpack");
        return cmd;
    }

    HealthcheckCmd healthcheck(const Instruction& instruction, const FlagSet& flags) {
        const auto& args = instruction.args;
        if (args.empty()) site_.fail(site_.located.keyword_pos, "HEALTHCHECK requires at least one argument");
        HealthcheckCmd cmd;
        const std::string type = ascii_upper(args.front());
        if (type == "NONE") {
            if (args.size() > 1) site_.fail_at(args[1], "HEALTHCHECK NONE takes no arguments");
            cmd.none = true;
            return cmd;
        }
        if (type != "CMD") {
            site_.fail_at(args.front(), "Unknown type " + go_quote(args.front()) + " in HEALTHCHECK (try CMD)");
        }
        if (args.size() < 2) site_.fail_at(args.front(), "Missing command after HEALTHCHECK CMD");
        cmd.test = command_line(instruction, 1);
        const auto duration = [&](const char* flag, std::string& out) {
            if (!flags.given(flag)) return;
            out = flags.string(flag);
            const auto nanoseconds = typed::parse_go_duration(out);
            if (!nanoseconds) {
                flags.fail(flag, "invalid duration " + go_quote(out) + " for --" + flag +
                                     " (use a number with a unit: 30s, 1m30s, 500ms)");
            }
            if (*nanoseconds != 0 && *nanoseconds < 1e6L) {
                flags.fail(flag, std::string("--") + flag + " cannot be less than 1ms (got " + out + ")");
            }
        };
        duration("interval", cmd.interval);
        duration("timeout", cmd.timeout);
        duration("start-period", cmd.start_period);
        duration("start-interval", cmd.start_interval);
        if (flags.given("retries")) {
            const std::string text = flags.string("retries");
            int retries = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), retries);
            if (error != std::errc{} || end != text.data() + text.size()) {
                flags.fail("retries", "invalid --retries value " + go_quote(text) + ": expected a whole number");
            }
            if (retries < 0) flags.fail("retries", "--retries cannot be negative (" + text + ")");
            cmd.retries = retries;
        }
        return cmd;
    }

    OnbuildCmd onbuild(const Instruction& instruction) {
        if (!instruction.inner) site_.fail(site_.located.keyword_pos, "ONBUILD requires at least one argument");
        type(*instruction.inner, true);  // validates the trigger; its command is rebuilt later
        return OnbuildCmd{instruction.inner->original};
    }

    Site site_;
    const std::vector<Heredoc>& heredocs_;
};

}  // namespace

Program to_program(const Dockerfile& file) {
    Program program;
    if (file.instructions.empty()) {
        throw ParseError(file.filename, {}, "file with no instructions", "");
    }
    for (std::size_t index = 0; index < file.instructions.size(); ++index) {
        const Instruction& instruction = file.instructions[index];
        Typer typer(file, instruction, instruction.heredocs);
        Command command = typer.type(instruction, false);
        if (auto* from = std::get_if<FromCmd>(&command)) {
            program.stages.push_back({std::move(*from), &instruction, {}});
            // Commands are large variants: size the stage once instead of moving them
            // through every reallocation.
            std::size_t end = index + 1;
            while (end < file.instructions.size() && file.instructions[end].keyword != "from") ++end;
            program.stages.back().instructions.reserve(end - index - 1);
            continue;
        }
        if (program.stages.empty()) {
            if (auto* arg = std::get_if<ArgCmd>(&command)) {
                program.global_args.push_back(std::move(*arg));
                continue;
            }
            const Site site{file, instruction};
            site.fail(instruction.keyword_pos,
                      ascii_upper(instruction.keyword) + " comes before the first FROM: only ARG may precede FROM "
                      "(no build stage in current context)");
        }
        program.stages.back().instructions.push_back({std::move(command), &instruction});
    }
    if (program.stages.empty()) {
        const Instruction& last = file.instructions.back();
        Site{file, last}.fail(last.keyword_pos, "no FROM instruction: the Dockerfile has no stage to build");
    }
    return program;
}

}  // namespace kiln::parser
