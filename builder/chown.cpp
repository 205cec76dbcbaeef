#include "builder/chown.hpp"

#include "runtime/user.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

std::string read_small_file(const SourceTree& tree, const std::string& rel) {
    auto st = tree.stat(rel);
    if (!st || !S_ISREG(st->st_mode)) return "";
    if (st->st_size > (16 << 20)) throw Error("/" + rel + " in the image is unreasonably large");
    UniqueFd fd = tree.open_file(rel);
    return read_all(fd.get(), "/" + rel);
}

}  // namespace

std::pair<uid_t, gid_t> resolve_owner(const std::string& spec, const SourceTree& rootfs) {
    if (spec.empty()) throw Error("--chown needs USER[:GROUP]");
    auto colon = spec.find(':');
    std::string user = spec.substr(0, colon);
    std::string passwd = read_small_file(rootfs, "etc/passwd");
    std::string group = read_small_file(rootfs, "etc/group");

    uid_t uid;
    if (auto id = runtime::parse_id(user)) {
        uid = *id;
    } else if (auto entry = runtime::find_passwd(passwd, user)) {
        uid = entry->uid;
    } else {
        throw Error("--chown=" + spec + ": unable to find user " + user + " in the image's /etc/passwd");
    }
    if (colon == std::string::npos) return {uid, static_cast<gid_t>(uid)};

    runtime::ResolvedUser resolved;
    const char* error = nullptr;
    if (!runtime::resolve_user(std::to_string(uid) + spec.substr(colon), passwd, group, resolved, error))
        throw Error("--chown=" + spec + ": " + (error ? error : "cannot resolve the group"));
    return {uid, resolved.gid};
}

}  // namespace kiln::builder
