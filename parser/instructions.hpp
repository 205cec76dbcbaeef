#pragma once
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parser/ast.hpp"

namespace kiln::parser {

// The typed stage: raw instructions checked and turned into commands, as `kiln build` and
// `kiln parse` (without --dump) see them. Word values are kept unexpanded: variables are
// expanded by the builder, which knows the ARG/ENV scope at that step.

struct KeyValue {
    std::string key;    // unexpanded word
    std::string value;  // unexpanded word
};

// A command line: exec form (JSON) is run as is; shell form is prefixed with the SHELL.
struct CommandLine {
    std::vector<std::string> args;
    bool shell_form = false;  // args has one element, the shell text
};

struct FromCmd { std::string image; std::string stage_name; std::string platform; };
// Canonical option names: type, target, source, from, id, env, sharing, mode, uid, gid,
// size, required, readonly ("true"/"false"). A value containing `$` is kept as written
// (and stored as "readwrite" for rw=…) because build args are expanded into it later.
struct RunMount { std::map<std::string, std::string> options; };
struct RunCmd {
    CommandLine command;
    std::vector<Heredoc> heredocs;
    std::vector<RunMount> mounts;
    std::string network;   // "", "default", "none", "host"
    std::string security;  // "", "sandbox", "insecure"
};
struct CopyCmd {
    bool is_add = false;
    std::vector<std::string> sources;  // unexpanded; a heredoc source is "<<NAME" ("<<-NAME")
    std::string dest;
    std::vector<Heredoc> heredocs;
    std::string from, chown, chmod, checksum;
    std::vector<std::string> excludes;
    bool link = false, parents = false, keep_git_dir = false;
    std::optional<bool> unpack;  // ADD --unpack (BuildKit): unset means local archives only
};
struct EnvCmd { std::vector<KeyValue> vars; };
struct ArgCmd { std::vector<std::pair<std::string, std::optional<std::string>>> args; };
struct LabelCmd { std::vector<KeyValue> labels; };
struct WorkdirCmd { std::string path; };
struct UserCmd { std::string user; };
struct CmdCmd { CommandLine command; };
struct EntrypointCmd { CommandLine command; };
struct ShellCmd { std::vector<std::string> shell; };
struct ExposeCmd { std::vector<std::string> ports; };
struct VolumeCmd { std::vector<std::string> paths; };
struct StopSignalCmd { std::string signal; };
struct HealthcheckCmd {
    bool none = false;
    CommandLine test;
    std::string interval, timeout, start_period, start_interval;  // durations as written
    std::optional<int> retries;
};
struct MaintainerCmd { std::string name; };
struct OnbuildCmd { std::string expression; };  // the inner instruction's text

using Command = std::variant<FromCmd, RunCmd, CopyCmd, EnvCmd, ArgCmd, LabelCmd, WorkdirCmd,
                             UserCmd, CmdCmd, EntrypointCmd, ShellCmd, ExposeCmd, VolumeCmd,
                             StopSignalCmd, HealthcheckCmd, MaintainerCmd, OnbuildCmd>;

struct TypedInstruction {
    Command command;
    const Instruction* source = nullptr;  // points into the Dockerfile it came from
};

struct Stage {
    FromCmd from;
    const Instruction* from_source = nullptr;
    std::vector<TypedInstruction> instructions;  // after FROM
};

struct Program {
    std::vector<ArgCmd> global_args;  // ARGs before the first FROM
    std::vector<Stage> stages;
};

// Checks every instruction (unknown instruction or flag, duplicated flag, bad flag value,
// ONBUILD FROM/ONBUILD/MAINTAINER, missing arguments) and builds the typed program.
// Throws ParseError pointing at the offending line and column.
Program to_program(const Dockerfile& file);

}  // namespace kiln::parser
