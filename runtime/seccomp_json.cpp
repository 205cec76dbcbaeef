#include "runtime/seccomp_json.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <initializer_list>
#include <limits>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

using nlohmann::json;

// A profile nests five levels deep (root, syscalls, rule, args, arg); anything much deeper
// is not a profile and only costs memory.
constexpr int max_depth = 8;
// The kernel turns a larger errno into a bogus return value.
constexpr std::uint64_t max_errno = 4095;
constexpr unsigned max_arg_index = 5;

constexpr std::array<std::pair<std::string_view, SeccompAction>, 8> action_names = {{
    {"SCMP_ACT_KILL", SeccompAction::kill_thread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
    {"SCMP_ACT_TRAP", SeccompAction::trap},
    {"SCMP_ACT_ERRNO", SeccompAction::errno_return},
    {"SCMP_ACT_TRACE", SeccompAction::trace},
    {"SCMP_ACT_ALLOW", SeccompAction::allow},
    {"SCMP_ACT_LOG", SeccompAction::log},
}};

constexpr std::array<std::pair<std::string_view, SeccompOp>, 7> op_names = {{
    {"SCMP_CMP_NE", SeccompOp::not_equal},
    {"SCMP_CMP_LT", SeccompOp::less},
    {"SCMP_CMP_LE", SeccompOp::less_equal},
    {"SCMP_CMP_EQ", SeccompOp::equal},
    {"SCMP_CMP_GE", SeccompOp::greater_equal},
    {"SCMP_CMP_GT", SeccompOp::greater},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_equal},
}};

// Walks one parsed profile; every error says which file and which key.
class ProfileReader {
public:
    explicit ProfileReader(const std::string& source) : source_(source) {}

    SeccompProfile profile(const json& root) {
        require_object(root, "the profile");
        check_keys(root, "the profile",
                   {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls", "flags",
                    "listenerPath", "listenerMetadata"});
        SeccompProfile p;
        if (!present(root, "defaultAction")) fail("defaultAction", "missing");
        p.default_action = action(root["defaultAction"], "defaultAction");
        if (present(root, "defaultErrnoRet"))
            p.default_errno_ret = errno_value(root["defaultErrnoRet"], p.default_action, "defaultErrnoRet");
        if (present(root, "architectures")) {
            p.architectures = strings(root["architectures"], "architectures");
            for (std::size_t i = 0; i < p.architectures.size(); ++i)
                scmp_arch(p.architectures[i], index_key("architectures", i));
        }
        if (present(root, "archMap")) {
            if (!p.architectures.empty())
                fail("archMap", "give either \"architectures\" or \"archMap\", not both");
            const json& map = array(root["archMap"], "archMap");
            for (std::size_t i = 0; i < map.size(); ++i) p.arch_map.push_back(arch_map_entry(map[i], index_key("archMap", i)));
        }
        // Features kiln does not implement must not be dropped silently.
        if (present(root, "flags") && !array(root["flags"], "flags").empty())
            fail("flags", "seccomp filter flags are not supported by kiln");
        for (const char* key : {"listenerPath", "listenerMetadata"})
            if (present(root, key) && !string(root[key], key).empty())
                fail(key, "seccomp user notification is not supported by kiln");
        if (present(root, "syscalls")) {
            const json& rules = array(root["syscalls"], "syscalls");
            for (std::size_t i = 0; i < rules.size(); ++i) p.syscalls.push_back(rule(rules[i], index_key("syscalls", i)));
        }
        return p;
    }

private:
    [[noreturn]] void fail(const std::string& where, const std::string& what) const {
        throw Error("seccomp profile " + source_ + ": " + where + ": " + what);
    }

    // Go's decoder, which Docker uses, reads null as "not given".
    static bool present(const json& object, const char* key) {
        auto it = object.find(key);
        return it != object.end() && !it->is_null();
    }

    static std::string index_key(const std::string& where, std::size_t i) {
        return where + "[" + std::to_string(i) + "]";
    }

    void require_object(const json& value, const std::string& where) const {
        if (!value.is_object()) fail(where, "expected an object, got " + std::string(value.type_name()));
    }

    // Docker ignores unknown keys; kiln refuses them, because a misspelt "args" or
    // "excludes" would quietly allow more than its author meant.
    void check_keys(const json& object, const std::string& where, std::initializer_list<std::string_view> known) const {
        for (const auto& item : object.items()) {
            bool found = false;
            for (auto k : known) found = found || k == item.key();
            if (!found) fail(where, "unknown key \"" + item.key() + "\"");
        }
    }

    const json& array(const json& value, const std::string& where) const {
        if (!value.is_array()) fail(where, "expected an array, got " + std::string(value.type_name()));
        return value;
    }

    std::string string(const json& value, const std::string& where) const {
        if (!value.is_string()) fail(where, "expected a string, got " + std::string(value.type_name()));
        return value.get<std::string>();
    }

    std::vector<std::string> strings(const json& value, const std::string& where) const {
        std::vector<std::string> out;
        const json& items = array(value, where);
        for (std::size_t i = 0; i < items.size(); ++i) out.push_back(string(items[i], index_key(where, i)));
        return out;
    }

    std::uint64_t unsigned_number(const json& value, const std::string& where) const {
        if (!value.is_number_unsigned())
            fail(where, "expected an unsigned integer, got " +
                            (value.is_number() ? value.dump() : std::string(value.type_name())));
        return value.get<std::uint64_t>();
    }

    SeccompAction action(const json& value, const std::string& where) const {
        std::string name = string(value, where);
        for (const auto& [text, act] : action_names)
            if (text == name) return act;
        if (name == "SCMP_ACT_NOTIFY") fail(where, "SCMP_ACT_NOTIFY is not supported by kiln");
        fail(where, "unknown action \"" + name + "\"");
    }

    std::uint32_t errno_value(const json& value, SeccompAction act, const std::string& where) const {
        if (act != SeccompAction::errno_return && act != SeccompAction::trace)
            fail(where, "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
        std::uint64_t n = unsigned_number(value, where);
        // TRACE passes a 16-bit message to the tracer; ERRNO must be a real errno.
        std::uint64_t limit = act == SeccompAction::trace ? 0xffff : max_errno;
        if (n > limit) fail(where, std::to_string(n) + " is out of range (0-" + std::to_string(limit) + ")");
        return static_cast<std::uint32_t>(n);
    }

    void scmp_arch(const std::string& name, const std::string& where) const {
        if (!docker_arch_name(name)) fail(where, "unknown architecture \"" + name + "\"");
    }

    SeccompArchMapEntry arch_map_entry(const json& value, const std::string& where) const {
        require_object(value, where);
        check_keys(value, where, {"architecture", "subArchitectures"});
        SeccompArchMapEntry entry;
        if (!present(value, "architecture")) fail(where + ".architecture", "missing");
        entry.architecture = string(value["architecture"], where + ".architecture");
        scmp_arch(entry.architecture, where + ".architecture");
        if (present(value, "subArchitectures")) {
            std::string key = where + ".subArchitectures";
            entry.sub_architectures = strings(value["subArchitectures"], key);
            for (std::size_t i = 0; i < entry.sub_architectures.size(); ++i)
                scmp_arch(entry.sub_architectures[i], index_key(key, i));
        }
        return entry;
    }

    SeccompRule rule(const json& value, const std::string& where) const {
        require_object(value, where);
        check_keys(value, where, {"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"});
        SeccompRule r;
        if (present(value, "name") && present(value, "names"))
            fail(where, "give either \"name\" or \"names\", not both");
        if (present(value, "name"))
            r.names = {string(value["name"], where + ".name")};
        else if (present(value, "names"))
            r.names = strings(value["names"], where + ".names");
        if (r.names.empty()) fail(where, "no syscall names");
        for (std::size_t i = 0; i < r.names.size(); ++i)
            if (r.names[i].empty()) fail(index_key(where + ".names", i), "empty syscall name");
        if (!present(value, "action")) fail(where + ".action", "missing");
        r.action = action(value["action"], where + ".action");
        if (present(value, "errnoRet")) r.errno_ret = errno_value(value["errnoRet"], r.action, where + ".errnoRet");
        if (present(value, "comment")) string(value["comment"], where + ".comment");
        if (present(value, "args")) {
            const json& args = array(value["args"], where + ".args");
            for (std::size_t i = 0; i < args.size(); ++i) r.args.push_back(arg(args[i], index_key(where + ".args", i)));
        }
        if (present(value, "includes")) r.includes = condition(value["includes"], where + ".includes");
        if (present(value, "excludes")) r.excludes = condition(value["excludes"], where + ".excludes");
        return r;
    }

    SeccompArg arg(const json& value, const std::string& where) const {
        require_object(value, where);
        check_keys(value, where, {"index", "value", "valueTwo", "op"});
        SeccompArg a;
        if (!present(value, "index")) fail(where + ".index", "missing");
        std::uint64_t index = unsigned_number(value["index"], where + ".index");
        if (index > max_arg_index) fail(where + ".index", std::to_string(index) + " is out of range (0-5)");
        a.index = static_cast<unsigned>(index);
        if (present(value, "value")) a.value = unsigned_number(value["value"], where + ".value");
        if (present(value, "valueTwo")) a.value_two = unsigned_number(value["valueTwo"], where + ".valueTwo");
        if (!present(value, "op")) fail(where + ".op", "missing");
        std::string op = string(value["op"], where + ".op");
        bool known = false;
        for (const auto& [text, parsed] : op_names)
            if (text == op) a.op = parsed, known = true;
        if (!known) fail(where + ".op", "unknown operator \"" + op + "\"");
        return a;
    }

    SeccompCondition condition(const json& value, const std::string& where) const {
        require_object(value, where);
        check_keys(value, where, {"caps", "arches", "minKernel"});
        SeccompCondition c;
        if (present(value, "caps")) {
            auto caps = strings(value["caps"], where + ".caps");
            for (std::size_t i = 0; i < caps.size(); ++i) {
                // Docker compares names as strings, so an unknown one would never match:
                // an `excludes` that never excludes.
                auto number = caps[i].starts_with("CAP_") ? capability_from_name(caps[i]) : std::nullopt;
                if (!number) fail(index_key(where + ".caps", i), "unknown capability \"" + caps[i] + "\"");
                c.caps |= CapMask{1} << *number;
            }
        }
        if (present(value, "arches")) {
            c.arches = strings(value["arches"], where + ".arches");
            for (std::size_t i = 0; i < c.arches.size(); ++i)
                if (!is_docker_arch_name(c.arches[i]))
                    fail(index_key(where + ".arches", i), "unknown architecture \"" + c.arches[i] + "\"");
        }
        if (present(value, "minKernel")) c.min_kernel = kernel_version(value["minKernel"], where + ".minKernel");
        return c;
    }

    // "MAJOR.MINOR", as Docker writes it.
    KernelVersion kernel_version(const json& value, const std::string& where) const {
        std::string text = string(value, where);
        KernelVersion v;
        auto dot = text.find('.');
        auto digits = [](std::string_view s) {
            return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string_view::npos;
        };
        std::string_view major = std::string_view(text).substr(0, dot);
        std::string_view minor = dot == std::string::npos ? std::string_view() : std::string_view(text).substr(dot + 1);
        if (!digits(major) || !digits(minor)) fail(where, "\"" + text + "\" is not a kernel version like \"4.8\"");
        v.major = static_cast<unsigned>(std::stoul(std::string(major)));
        v.minor = static_cast<unsigned>(std::stoul(std::string(minor)));
        return v;
    }

    const std::string& source_;
};

}  // namespace

SeccompProfile parse_seccomp_profile(std::string_view text, const std::string& source_name) {
    if (text.size() > seccomp_profile_max_size)
        throw Error("seccomp profile " + source_name + ": larger than " +
                    std::to_string(seccomp_profile_max_size >> 20) + " MiB");
    json root;
    try {
        root = json::parse(text, [&](int depth, json::parse_event_t, json&) {
            if (depth > max_depth)
                throw Error("seccomp profile " + source_name + ": nested deeper than a profile can be");
            return true;
        });
    } catch (const json::exception& e) {
        throw Error("seccomp profile " + source_name + ": not valid JSON: " + e.what());
    }
    return ProfileReader(source_name).profile(root);
}

SeccompProfile load_seccomp_profile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("seccomp profile " + path);
    // Reading stops one chunk past the limit, so a huge file (or a device that never ends)
    // costs no more than that.
    std::string text;
    char chunk[65536];
    while (text.size() <= seccomp_profile_max_size) {
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("seccomp profile " + path + ": read");
        if (n == 0) break;
        text.append(chunk, static_cast<std::size_t>(n));
    }
    return parse_seccomp_profile(text, path);
}

}  // namespace kiln::runtime
