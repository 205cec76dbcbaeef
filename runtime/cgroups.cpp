#include "runtime/cgroups.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "runtime/device_filter.hpp"
#include "runtime/monitor/oom_count.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

void debug_note(const std::string& text) {
    if (std::getenv("KILN_DEBUG")) std::fprintf(stderr, "kiln: debug: %s\n", text.c_str());
}

enum class Controller { unified, pids, memory, cpu, cpuset, devices, blkio, freezer };

struct Hierarchy {
    std::string root;
    Controller controller;
};

bool is_cgroup_dir(const std::string& dir) { return ::access((dir + "/cgroup.procs").c_str(), F_OK) == 0; }

// The hierarchy roots present, found once per process.
const std::vector<Hierarchy>& hierarchies() {
    static const std::vector<Hierarchy> found = [] {
        std::vector<Hierarchy> out;
        const std::string base = "/sys/fs/cgroup";
        if (::access((base + "/cgroup.controllers").c_str(), F_OK) == 0) {
            out.push_back({base, Controller::unified});  // pure cgroup2
            return out;
        }
        const std::pair<const char*, Controller> known[] = {
            {"pids", Controller::pids},
            {"memory", Controller::memory},
            {"cpu", Controller::cpu},
            {"cpuset", Controller::cpuset},
            {"devices", Controller::devices},
            {"blkio", Controller::blkio},  // accounting only: stats' BLOCK I/O
            {"freezer", Controller::freezer},
            {"unified", Controller::unified},
        };
        for (auto [sub, controller] : known) {
            std::string dir = base + "/" + sub;
            if (is_cgroup_dir(dir))
                out.push_back({dir, controller});
            else
                debug_note("cgroup hierarchy " + dir + " absent; not used");
        }
        return out;
    }();
    return found;
}

bool has_unified() {
    for (const auto& h : hierarchies())
        if (h.controller == Controller::unified) return true;
    return false;
}

// Writes text to an existing cgroup control file.
bool write_control(const std::string& path, std::string_view text, int& err) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        err = errno;
        return false;
    }
    return true;
}

// Writes one limit file; false if the controller is not there (no such file).
bool write_limit(const std::string& dir, const char* file, const std::string& value) {
    int err = 0;
    if (write_control(dir + "/" + file, value, err)) return true;
    if (err == ENOENT) return false;
    throw_errno(std::string("set ") + file + " of cgroup " + dir, err);
}

struct Enforced {
    bool memory = false, pids = false, cpus = false, devices = false, reservation = false, shares = false,
         cpuset = false;
};

// Docker's --memory-swap as each version counts it: v1 memory+swap, v2 swap alone.
std::string v1_memsw_limit(const CgroupLimits& limits) {
    if (limits.memory_swap < 0) return "-1";
    return std::to_string(limits.memory_swap > 0 ? limits.memory_swap : 2 * limits.memory_bytes);
}
std::string v2_swap_max(const CgroupLimits& limits) {
    if (limits.memory_swap < 0) return "max";
    return std::to_string(limits.memory_swap > 0 ? limits.memory_swap - limits.memory_bytes : limits.memory_bytes);
}

std::int64_t clamped_shares(std::int64_t shares) { return std::clamp<std::int64_t>(shares, 2, 262144); }

// Applies the limits the hierarchy can enforce to `dir`; records which ones.
void apply_limits(Controller controller, const std::string& dir, const CgroupLimits& limits, Enforced& enforced) {
    const bool v2 = controller == Controller::unified;
    const auto quota = static_cast<long long>(limits.cpus * 100000);
    if (limits.memory_bytes > 0 && (v2 || controller == Controller::memory)) {
        const std::string bytes = std::to_string(limits.memory_bytes);
        enforced.memory |= write_limit(dir, v2 ? "memory.max" : "memory.limit_in_bytes", bytes);
        // Swap is accounted only where the kernel was built for it (else Docker is silent too).
        if (v2)
            write_limit(dir, "memory.swap.max", v2_swap_max(limits));
        else
            write_limit(dir, "memory.memsw.limit_in_bytes", v1_memsw_limit(limits));
    }
    if (limits.memory_reservation > 0 && (v2 || controller == Controller::memory))
        enforced.reservation |= write_limit(dir, v2 ? "memory.low" : "memory.soft_limit_in_bytes",
                                            std::to_string(limits.memory_reservation));
    if (limits.pids > 0 && (v2 || controller == Controller::pids))
        enforced.pids |= write_limit(dir, "pids.max", std::to_string(limits.pids));
    if (limits.cpus > 0 && v2) enforced.cpus |= write_limit(dir, "cpu.max", std::to_string(quota) + " 100000");
    if (limits.cpus > 0 && controller == Controller::cpu)
        enforced.cpus |= write_limit(dir, "cpu.cfs_period_us", "100000") &&
                         write_limit(dir, "cpu.cfs_quota_us", std::to_string(quota));
    if (limits.cpu_shares > 0 && v2)
        enforced.shares |= write_limit(dir, "cpu.weight", std::to_string(cpu_weight_for_shares(limits.cpu_shares)));
    if (limits.cpu_shares > 0 && controller == Controller::cpu)
        enforced.shares |= write_limit(dir, "cpu.shares", std::to_string(clamped_shares(limits.cpu_shares)));
    if (!limits.cpuset_cpus.empty() && (v2 || controller == Controller::cpuset))
        enforced.cpuset |= write_limit(dir, "cpuset.cpus", limits.cpuset_cpus);
}

// A v1 cpuset group starts with no CPUs and no memory nodes, and no task may join it until
// it has both: a new group takes its parent's (what the container may narrow).
void inherit_cpuset(const std::string& parent, const std::string& dir) {
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        std::string current = read_file(dir + "/" + file);
        if (current.find_first_not_of(" \n") != std::string::npos) continue;
        std::string inherited = read_file(parent + "/" + file);
        while (!inherited.empty() && inherited.back() == '\n') inherited.pop_back();
        if (inherited.empty()) throw Error("cgroup " + parent + " has no " + file + " to give " + dir);
        write_limit(dir, file, inherited);
    }
}

// The v1 devices controller: start from nothing, then the policy's rules in order.
void apply_v1_devices(const std::string& dir, const DevicePolicy& policy) {
    UniqueFd deny(::open((dir + "/devices.deny").c_str(), O_WRONLY | O_CLOEXEC));
    UniqueFd allow(::open((dir + "/devices.allow").c_str(), O_WRONLY | O_CLOEXEC));
    if (!deny || !allow) throw_errno("open the device lists of cgroup " + dir);
    auto write_rule = [&](int fd, const std::string& rule) {
        if (::write(fd, rule.data(), rule.size()) != static_cast<ssize_t>(rule.size()))
            throw_errno("write \"" + rule + "\" to the device list of cgroup " + dir);
    };
    write_rule(deny.get(), "a");
    for (const auto& rule : policy.rules) write_rule(rule.allow ? allow.get() : deny.get(), rule.str());
}

// Loading a program costs a verifier pass; containers of one process mostly share a
// policy, so each distinct program is loaded once.
std::shared_ptr<const DeviceFilter> device_filter_for(const DevicePolicy& policy) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const DeviceFilter>> loaded;
    std::string key;
    for (const auto& rule : policy.rules) key += rule.str() + (rule.allow ? "+" : "-") + ";";
    std::lock_guard lock(mutex);
    auto& filter = loaded[key];
    if (!filter) filter = std::make_shared<const DeviceFilter>(policy);
    return filter;
}

// Reads the pids listed in a cgroup.procs file.
std::vector<pid_t> cgroup_pids(const std::string& dir) {
    std::vector<pid_t> pids;
    std::string text;
    try {
        text = read_file(dir + "/cgroup.procs");
    } catch (const Error&) {
        return pids;
    }
    for (const char* p = text.c_str(); *p;) {
        char* end = nullptr;
        long pid = std::strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
        p = end;
    }
    return pids;
}

}  // namespace

std::int64_t cpu_weight_for_shares(std::int64_t shares) {
    if (shares <= 0) return 0;
    return 1 + ((clamped_shares(shares) - 2) * 9999) / 262142;
}

void validate_limits(const CgroupLimits& limits) {
    if (limits.memory_bytes > 0 && limits.memory_bytes < min_memory_limit)
        throw Error("Minimum memory limit allowed is 6MB");
    if (limits.memory_swap > 0 && limits.memory_bytes <= 0)
        throw Error("You should always set the Memory limit when using Memoryswap limit, see usage");
    if (limits.memory_swap > 0 && limits.memory_swap < limits.memory_bytes)
        throw Error("Minimum memoryswap limit should be larger than memory limit, see usage");
    if (limits.memory_reservation > 0 && limits.memory_reservation < min_memory_limit)
        throw Error("Minimum memory reservation allowed is 6MB");
    if (limits.memory_bytes > 0 && limits.memory_reservation > limits.memory_bytes)
        throw Error("Minimum memory limit can not be less than memory reservation limit, see usage");
    if (limits.cpu_shares < 0) throw Error("CPU shares must be a positive integer");
}

Cgroup::Cgroup(const std::string& name, const CgroupLimits& limits, const DevicePolicy& devices) {
    validate_limits(limits);
    Enforced enforced;
    try {
        for (const auto& [root, controller] : hierarchies()) {
            // Joining a v1 cpu group can fail for a real-time caller (no RT budget in the
            // new group); only a cpu limit or shares are worth that. A v1 cpuset group must be
            // filled in before anyone joins it; only --cpuset-cpus is worth that.
            if (controller == Controller::cpu && limits.cpus <= 0 && limits.cpu_shares <= 0) continue;
            if (controller == Controller::cpuset && limits.cpuset_cpus.empty()) continue;
            // pause freezes through cgroup2's cgroup.freeze where there is one.
            if (controller == Controller::freezer && has_unified()) continue;
            std::string parent = root + "/kiln";
            if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
                if (errno == EROFS) {
                    debug_note("cgroup hierarchy " + root + " is read-only; not used");
                    continue;
                }
                throw_errno("create cgroup " + parent);
            }
            if (root == "/sys/fs/cgroup") {
                // Pure v2: delegate the controllers kiln limits to its subtree. Best effort:
                // a controller the root does not offer is simply not limited.
                int ignored;
                for (const char* c : {"+pids", "+memory", "+cpu", "+cpuset", "+io"})
                    write_control(parent + "/cgroup.subtree_control", c, ignored);
            }
            std::string dir = parent + "/" + name;
            if (controller == Controller::cpuset) inherit_cpuset(root, parent);
            if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("create cgroup " + dir);
            dirs_.push_back(dir);
            if (controller == Controller::cpuset) inherit_cpuset(parent, dir);
            apply_limits(controller, dir, limits, enforced);
            if (controller == Controller::devices) {
                apply_v1_devices(dir, devices);
                enforced.devices = true;
            }
            if (controller == Controller::unified) {
                v2_procs_ = dir + "/cgroup.procs";
                v2_fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (!v2_fd_) throw_errno("open cgroup " + dir);
                // The device hook asks the v1 devices controller and the cgroup2 group's
                // programs alike, so on a hybrid host the v1 rules (applied above, the
                // hierarchies come in that order) already hold the policy, as under runc.
                // A program there would only repeat them, for a verifier pass (~0.5 ms)
                // on every start.
                if (!enforced.devices) {
                    device_filter_for(devices)->attach(v2_fd_.get());
                    enforced.devices = true;
                }
            } else {
                v1_tasks_.push_back(dir + "/tasks");
            }
        }
        if ((limits.memory_bytes > 0 && !enforced.memory) || (limits.pids > 0 && !enforced.pids) ||
            (limits.cpus > 0 && !enforced.cpus) || (limits.memory_reservation > 0 && !enforced.reservation) ||
            (limits.cpu_shares > 0 && !enforced.shares) || (!limits.cpuset_cpus.empty() && !enforced.cpuset))
            throw Error("cannot enforce the requested memory/pids/cpu limit: no cgroup controller for it");
        if (!enforced.devices)
            throw Error("cannot restrict device access: neither a cgroup v1 devices hierarchy nor cgroup2 is mounted");
    } catch (...) {
        for (const auto& dir : dirs_) ::rmdir(dir.c_str());
        throw;
    }
}

Cgroup::~Cgroup() {
    for (const auto& dir : dirs_) {
        // A cgroup2 directory can read as populated for a moment after its last task was
        // reaped; a few immediate retries cover that without sleeping.
        int tries = 0;
        while (::rmdir(dir.c_str()) != 0 && errno == EBUSY && ++tries < 100) ::sched_yield();
        if (tries == 100) debug_note("cgroup " + dir + " still busy; left behind");
    }
}

std::int64_t Cgroup::oom_kills() const {
    std::int64_t kills = 0;
    for (const auto& dir : dirs_) kills += cgroup_oom_kills(dir);
    return kills;
}

ContainerCgroups find_container_cgroups(const std::string& name) {
    ContainerCgroups found;
    for (const auto& h : hierarchies()) {
        const std::string dir = h.root + "/kiln/" + name;
        if (!is_cgroup_dir(dir)) continue;
        if (h.controller != Controller::unified) {
            found.v1_tasks.push_back(dir + "/tasks");
            continue;
        }
        found.v2_procs = dir + "/cgroup.procs";
        found.v2_fd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!found.v2_fd) throw_errno("open cgroup " + dir);
    }
    if (found.v1_tasks.empty() && found.v2_procs.empty()) throw Error("container " + name + " has no cgroup");
    return found;
}

ContainerCgroupPaths container_cgroup_paths(const std::string& name) {
    ContainerCgroupPaths found;
    for (const auto& h : hierarchies()) {
        std::string dir = h.root + "/kiln/" + name;
        if (!is_cgroup_dir(dir)) continue;
        switch (h.controller) {
            case Controller::unified: found.unified = std::move(dir); break;
            case Controller::pids: found.pids = std::move(dir); break;
            case Controller::memory: found.memory = std::move(dir); break;
            case Controller::cpu: found.cpu = std::move(dir); break;
            case Controller::blkio: found.blkio = std::move(dir); break;
            case Controller::freezer: found.freezer = std::move(dir); break;
            case Controller::cpuset:
            case Controller::devices: break;
        }
    }
    return found;
}

ContainerCgroupPaths container_freezer_paths(const std::string& name) {
    ContainerCgroupPaths found;
    for (Controller wanted : {Controller::unified, Controller::freezer}) {
        for (const auto& h : hierarchies()) {
            if (h.controller != wanted) continue;
            std::string dir = h.root + "/kiln/" + name;
            if (!is_cgroup_dir(dir)) continue;
            (wanted == Controller::unified ? found.unified : found.freezer) = std::move(dir);
            return found;
        }
    }
    return found;
}

namespace {

void collect_pids(const std::string& dir, int depth, std::vector<pid_t>& out) {
    for (pid_t pid : cgroup_pids(dir)) out.push_back(pid);
    if (depth > 32) return;  // deeper than any sane nesting: what is above is enough
    std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir.c_str()), ::closedir);
    if (!listing) return;
    while (const dirent* entry = ::readdir(listing.get()))
        if (entry->d_type == DT_DIR && entry->d_name[0] != '.') collect_pids(dir + "/" + entry->d_name, depth + 1, out);
}

}  // namespace

std::vector<pid_t> container_pids(const std::string& name) {
    auto paths = container_cgroup_paths(name);
    std::vector<pid_t> pids;
    for (const auto* dir : {&paths.unified, &paths.pids, &paths.memory})
        if (!dir->empty()) {
            collect_pids(*dir, 0, pids);
            break;
        }
    return pids;
}

bool remove_leftover_cgroup(const std::string& name) {
    using namespace std::chrono;
    bool all_gone = true;
    for (const auto& h : hierarchies()) {
        const std::string dir = h.root + "/kiln/" + name;
        if (::access(dir.c_str(), F_OK) != 0) continue;
        // cgroup.kill (5.14+) kills the whole group at once, even tasks forking meanwhile;
        // elsewhere kill what is listed until nothing is.
        int err;
        // A v1 frozen task never acts on SIGKILL: thaw a paused container's group first.
        if (h.controller == Controller::freezer) write_control(dir + "/freezer.state", "THAWED", err);
        bool killed = h.controller == Controller::unified && write_control(dir + "/cgroup.kill", "1", err);
        const auto deadline = steady_clock::now() + seconds(2);
        for (;;) {
            if (!killed)
                for (pid_t pid : cgroup_pids(dir)) ::kill(pid, SIGKILL);
            if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
            if (errno != EBUSY || steady_clock::now() > deadline) {
                debug_note("cgroup " + dir + " left behind: " + std::strerror(errno));
                all_gone = false;
                break;
            }
            std::this_thread::sleep_for(milliseconds(2));
        }
    }
    return all_gone;
}

bool join_cgroup_self(const std::string& file, ChildReport& report) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd && ::write(fd.get(), "0", 1) == 1) return true;
    const int err = errno;
    if (err == EINVAL && std::strstr(file.c_str(), "/cpu/kiln/"))
        return report.fail_errno(err, "join cgroup %s (a real-time process cannot join a cgroup v1 cpu group "
                                      "without an RT budget; run kiln without real-time priority to use --cpus)",
                                 file.c_str());
    return report.fail_errno(err, "join cgroup %s", file.c_str());
}

}  // namespace kiln::runtime
