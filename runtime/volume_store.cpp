#include "runtime/volume_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

bool name_char(char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

std::int64_t now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    unsigned char buf[32];
    while (out.size() < 2 * bytes) {
        std::size_t want = std::min(sizeof buf, bytes - out.size() / 2);
        ssize_t n = ::getrandom(buf, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("getrandom");
        for (ssize_t i = 0; i < n; ++i) {
            out += hex[buf[i] >> 4];
            out += hex[buf[i] & 15];
        }
    }
    return out;
}

std::string metadata_json(const Volume& v) {
    return nlohmann::json{{"name", v.name},       {"driver", v.driver}, {"created_ns", v.created_ns},
                          {"labels", v.labels},   {"options", v.options}}
        .dump();
}

// Blocking exclusive flock on a file or directory, released when the fd closes.
UniqueFd lock_exclusive(const std::string& path, int open_flags) {
    UniqueFd fd(::open(path.c_str(), open_flags | O_CLOEXEC, 0600));
    if (!fd) throw_errno("open " + path);
    while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("lock " + path);
    return fd;
}

void du(int dirfd, std::uint64_t& total) {
    UniqueFd own(::dup(dirfd));
    if (!own) return;
    DIR* d = ::fdopendir(own.release());
    if (!d) return;
    while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            UniqueFd sub(::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (sub) du(sub.get(), total);
        } else if (S_ISREG(st.st_mode)) {
            total += static_cast<std::uint64_t>(st.st_size);
        }
    }
    ::closedir(d);
}

}  // namespace

bool Volume::is_tmpfs() const {
    auto it = options.find("type");
    return it != options.end() && it->second == "tmpfs";
}

std::optional<std::string> Volume::bound_device() const {
    auto o = options.find("o");
    auto device = options.find("device");
    if (o == options.end() || device == options.end() || is_tmpfs()) return std::nullopt;
    for (std::size_t start = 0;;) {
        auto comma = o->second.find(',', start);
        if (o->second.substr(start, comma - start) == "bind") return device->second;
        if (comma == std::string::npos) return std::nullopt;
        start = comma + 1;
    }
}

void validate_volume_name(const std::string& name) {
    bool ok = name.size() >= 2;
    for (std::size_t i = 0; ok && i < name.size(); ++i) ok = name_char(name[i], i == 0);
    if (!ok)
        throw Error("create " + name + ": \"" + name +
                    "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                    "are allowed. If you intended to pass a host directory, use absolute path");
}

void validate_volume_options(const std::map<std::string, std::string>& options) {
    for (const auto& [key, value] : options)
        if (key != "type" && key != "device" && key != "o") throw Error("invalid option key: \"" + key + "\"");
    Volume probe;
    probe.options = options;
    if (options.empty()) return;
    if (probe.is_tmpfs()) return;
    if (auto device = probe.bound_device()) {
        struct stat st;
        if (!device->starts_with('/') || ::stat(device->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw Error("invalid volume device \"" + *device + "\": o=bind needs an existing absolute host directory");
        return;
    }
    throw Error("kiln's local volume driver mounts -o type=tmpfs and -o o=bind,device=PATH only");
}

std::string generate_volume_name() { return random_hex(32); }

VolumeStore::VolumeStore(const std::string& store_root) : root_(store_root + "/volumes") { mkdir_p(root_); }

VolumeStore::Lock::Lock(const VolumeStore& store) : fd_(lock_exclusive(store.root_ + "/.lock", O_RDWR | O_CREAT)) {}

Volume VolumeStore::create(const std::string& name, const std::map<std::string, std::string>& labels,
                           const std::map<std::string, std::string>& options, bool* created) {
    validate_volume_name(name);
    validate_volume_options(options);
    if (created) *created = false;
    Lock lock(*this);
    if (auto existing = find(name)) {
        if (!options.empty() && existing->options != options)
            throw Error("create " + name + ": a volume with the name " + name +
                        " already exists with other options");
        return *existing;
    }
    Volume v;
    v.name = name;
    v.created_ns = now_ns();
    v.labels = labels;
    v.options = options;
    v.mountpoint = dir(name) + "/_data";
    // Built beside its final place and renamed there: a crash leaves a dot entry that
    // list() never shows, not a volume without its metadata.
    const std::string staging = root_ + "/.new-" + random_hex(8);
    try {
        mkdir_p(staging);
        if (::mkdir((staging + "/_data").c_str(), 0755) != 0) throw_errno("create " + staging + "/_data");
        atomic_write(staging + "/volume.json", metadata_json(v), 0600);
        durable_rename(staging, dir(name));
    } catch (...) {
        remove_all(staging);
        throw;
    }
    if (created) *created = true;
    return v;
}

std::optional<Volume> VolumeStore::find(const std::string& name) const {
    if (name.empty() || name.starts_with('.') || name.find('/') != std::string::npos) return std::nullopt;
    std::string text;
    try {
        text = read_file(dir(name) + "/volume.json");
    } catch (const Error&) {
        return std::nullopt;
    }
    try {
        auto j = nlohmann::json::parse(text);
        Volume v;
        v.name = j.at("name");
        v.driver = j.at("driver");
        v.created_ns = j.at("created_ns");
        v.labels = j.at("labels");
        v.options = j.at("options");
        v.mountpoint = dir(name) + "/_data";
        return v;
    } catch (const nlohmann::json::exception& e) {
        throw Error("volume " + name + ": bad volume.json: " + e.what());
    }
}

Volume VolumeStore::get(const std::string& name) const {
    auto v = find(name);
    if (!v) throw Error("get " + name + ": no such volume");
    return *v;
}

std::vector<Volume> VolumeStore::list() const {
    std::vector<Volume> out;
    UniqueFd d(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return out;
    DIR* stream = ::fdopendir(d.release());
    if (!stream) return out;
    std::vector<std::string> names;
    while (auto* e = ::readdir(stream))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(stream);
    std::sort(names.begin(), names.end());
    for (const auto& name : names)
        if (auto v = find(name)) out.push_back(std::move(*v));
    return out;
}

void VolumeStore::remove(const std::string& name) {
    get(name);
    const std::string gone = root_ + "/.gone-" + random_hex(8);
    durable_rename(dir(name), gone);
    remove_all(gone);
}

std::uint64_t VolumeStore::size(const Volume& volume) const {
    std::uint64_t total = 0;
    UniqueFd d(::open(volume.mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) du(d.get(), total);
    return total;
}

bool VolumeStore::empty(const Volume& volume) const {
    UniqueFd d(::open(volume.mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return true;
    DIR* stream = ::fdopendir(d.release());
    if (!stream) return true;
    bool none = true;
    while (auto* e = ::readdir(stream)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") {
            none = false;
            break;
        }
    }
    ::closedir(stream);
    return none;
}

void VolumeStore::with_data_locked(const Volume& volume,
                                   const std::function<void(const std::string& data_dir)>& fill) {
    UniqueFd lock = lock_exclusive(dir(volume.name), O_RDONLY | O_DIRECTORY);
    fill(volume.mountpoint);
}

}  // namespace kiln::runtime
