#include "builder/run_mounts.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <initializer_list>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

std::uint32_t parse_number(const std::string& key, const std::string& text, int base) {
    std::uint32_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
    if (text.empty() || ec != std::errc() || ptr != end)
        throw Error(fmt::format("invalid --mount {} \"{}\": expected {}", key, text,
                                base == 8 ? "an octal number such as 0755" : "a number"));
    return value;
}

std::uint64_t parse_size(const std::string& text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    std::string unit;
    for (char c : text.substr(digits)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "b") scale = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") scale = 1ull << 10;
    else if (unit == "m" || unit == "mb" || unit == "mib") scale = 1ull << 20;
    else if (unit == "g" || unit == "gb" || unit == "gib") scale = 1ull << 30;
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (digits == 0 || scale == 0 || ec != std::errc() || ptr != text.data() + digits || value > (~0ull / scale))
        throw Error("invalid --mount size \"" + text + "\"");
    return value * scale;
}

bool parse_flag(const std::string& key, const std::string& text) {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    throw Error("invalid value for --mount " + key + ": \"" + text + "\"");
}

std::string absolute_target(const std::string& target) {
    // BuildKit resolves a relative target against "/", not against WORKDIR.
    return clean_path("/" + target);
}

}  // namespace

const char* run_mount_type_name(RunMountType type) {
    switch (type) {
        case RunMountType::bind: return "bind";
        case RunMountType::cache: return "cache";
        case RunMountType::tmpfs: return "tmpfs";
        case RunMountType::secret: return "secret";
        case RunMountType::ssh: return "ssh";
    }
    return "?";
}

RunMountSpec parse_run_mount(const std::map<std::string, std::string>& options, int ssh_index) {
    RunMountSpec spec;
    auto value = [&](const char* key) -> const std::string* {
        auto it = options.find(key);
        return it == options.end() ? nullptr : &it->second;
    };
    const std::string type = value("type") ? *value("type") : "bind";
    if (type == "bind") spec.type = RunMountType::bind;
    else if (type == "cache") spec.type = RunMountType::cache;
    else if (type == "tmpfs") spec.type = RunMountType::tmpfs;
    else if (type == "secret") spec.type = RunMountType::secret;
    else if (type == "ssh") spec.type = RunMountType::ssh;
    else throw Error("unsupported mount type \"" + type + "\" (use bind, cache, tmpfs, secret or ssh)");

    auto only_for = [&](const char* key, std::initializer_list<RunMountType> types) {
        if (!value(key)) return;
        for (auto t : types)
            if (t == spec.type) return;
        throw Error(fmt::format("{} is not valid for --mount type={}", key, type));
    };
    only_for("sharing", {RunMountType::cache});
    only_for("size", {RunMountType::tmpfs});
    only_for("from", {RunMountType::bind, RunMountType::cache});
    only_for("source", {RunMountType::bind, RunMountType::cache});
    only_for("env", {RunMountType::secret});
    only_for("required", {RunMountType::secret, RunMountType::ssh});
    only_for("id", {RunMountType::cache, RunMountType::secret, RunMountType::ssh});
    only_for("mode", {RunMountType::cache, RunMountType::secret, RunMountType::ssh});
    only_for("uid", {RunMountType::cache, RunMountType::secret, RunMountType::ssh});
    only_for("gid", {RunMountType::cache, RunMountType::secret, RunMountType::ssh});
    only_for("readonly", {RunMountType::bind, RunMountType::cache});

    if (auto* t = value("target")) {
        if (t->empty()) throw Error("--mount type=" + type + " has an empty target");
        spec.target = absolute_target(*t);
    }
    if (auto* v = value("id")) spec.id = *v;
    if (auto* v = value("source")) spec.source = *v;
    if (auto* v = value("from")) spec.from = *v;
    if (auto* v = value("env")) spec.env = *v;
    if (auto* v = value("sharing")) {
        if (*v == "shared") spec.sharing = CacheSharing::shared;
        else if (*v == "private") spec.sharing = CacheSharing::private_;
        else if (*v == "locked") spec.sharing = CacheSharing::locked;
        else throw Error("unsupported sharing value \"" + *v + "\" (use shared, private or locked)");
    }
    if (auto* v = value("mode")) spec.mode = parse_number("mode", *v, 8);
    if (auto* v = value("uid")) spec.uid = parse_number("uid", *v, 10);
    if (auto* v = value("gid")) spec.gid = parse_number("gid", *v, 10);
    if (auto* v = value("size")) spec.size = parse_size(*v);
    if (auto* v = value("required")) spec.required = parse_flag("required", *v);
    spec.readonly = spec.type == RunMountType::bind;
    if (auto* v = value("readonly")) spec.readonly = parse_flag("readonly", *v);

    switch (spec.type) {
        case RunMountType::bind:
        case RunMountType::cache:
        case RunMountType::tmpfs:
            if (spec.target.empty()) throw Error("--mount type=" + type + " needs a target (target=/path)");
            if (spec.target == "/") throw Error("--mount type=" + type + " cannot be mounted over /");
            if (spec.type == RunMountType::cache && spec.id.empty()) spec.id = spec.target;
            break;
        case RunMountType::secret:
            if (spec.id.empty() && !spec.target.empty()) {
                auto slash = spec.target.rfind('/');
                spec.id = spec.target.substr(slash + 1);
            }
            if (spec.id.empty()) throw Error("--mount type=secret needs an id (id=NAME) or a target");
            if (spec.target.empty() && spec.env.empty()) spec.target = "/run/secrets/" + spec.id;
            if (!spec.env.empty() && spec.env.find('=') != std::string::npos)
                throw Error("invalid --mount env \"" + spec.env + "\": a variable name cannot hold '='");
            if (!spec.mode) spec.mode = 0400;
            break;
        case RunMountType::ssh:
            if (spec.id.empty()) spec.id = "default";
            if (spec.target.empty()) spec.target = fmt::format("/run/buildkit/ssh_agent.{}", ssh_index);
            if (!spec.mode) spec.mode = 0600;
            break;
    }
    if (spec.target == "/") throw Error("--mount type=" + type + " cannot be mounted over /");
    return spec;
}

std::string run_mount_key_text(const RunMountSpec& spec) {
    static const char* const kSharing[] = {"shared", "private", "locked"};
    return fmt::format("type={},target={},id={},source={},from={},sharing={},ro={},required={},mode={:o},uid={},gid={},size={},env={}",
                       run_mount_type_name(spec.type), spec.target, spec.id, spec.source, spec.from,
                       kSharing[static_cast<int>(spec.sharing)], spec.readonly, spec.required,
                       spec.mode.value_or(0), spec.uid, spec.gid, spec.size.value_or(0), spec.env);
}

}  // namespace kiln::builder
