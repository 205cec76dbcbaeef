#include "runtime/cgroups.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

void debug_note(const std::string& text) {
    if (std::getenv("KILN_DEBUG")) std::fprintf(stderr, "kiln: debug: %s\n", text.c_str());
}

bool is_cgroup2(const std::string& root) { return root == "/sys/fs/cgroup" || root.ends_with("/unified"); }

bool is_cgroup_dir(const std::string& dir) { return ::access((dir + "/cgroup.procs").c_str(), F_OK) == 0; }

// The hierarchy roots to use, found once per process.
const std::vector<std::string>& hierarchies() {
    static const std::vector<std::string> found = [] {
        std::vector<std::string> out;
        const std::string base = "/sys/fs/cgroup";
        if (::access((base + "/cgroup.controllers").c_str(), F_OK) == 0) {
            out.push_back(base);  // pure cgroup2
            return out;
        }
        for (const char* sub : {"pids", "memory", "cpu", "unified"}) {
            std::string dir = base + "/" + sub;
            if (is_cgroup_dir(dir))
                out.push_back(dir);
            else
                debug_note("cgroup hierarchy " + dir + " absent; not used");
        }
        return out;
    }();
    return found;
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

// Applies the limits the hierarchy at `root` can enforce to `dir`; records which ones.
void apply_limits(const std::string& root, const std::string& dir, const CgroupLimits& limits, bool applied[3]) {
    const bool v2 = is_cgroup2(root);
    const auto quota = static_cast<long long>(limits.cpus * 100000);
    if (limits.memory_bytes > 0 && (v2 || root.ends_with("/memory")))
        applied[0] |= write_limit(dir, v2 ? "memory.max" : "memory.limit_in_bytes", std::to_string(limits.memory_bytes));
    if (limits.pids > 0 && (v2 || root.ends_with("/pids")))
        applied[1] |= write_limit(dir, "pids.max", std::to_string(limits.pids));
    if (limits.cpus > 0 && v2)
        applied[2] |= write_limit(dir, "cpu.max", std::to_string(quota) + " 100000");
    if (limits.cpus > 0 && root.ends_with("/cpu"))
        applied[2] |= write_limit(dir, "cpu.cfs_period_us", "100000") &&
                      write_limit(dir, "cpu.cfs_quota_us", std::to_string(quota));
}

}  // namespace

Cgroup::Cgroup(const std::string& name, const CgroupLimits& limits) {
    bool applied[3] = {false, false, false};  // memory, pids, cpus
    try {
        for (const auto& root : hierarchies()) {
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
                for (const char* c : {"+pids", "+memory", "+cpu"})
                    write_control(parent + "/cgroup.subtree_control", c, ignored);
            }
            std::string dir = parent + "/" + name;
            if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("create cgroup " + dir);
            dirs_.push_back(dir);
            apply_limits(root, dir, limits, applied);
            if (is_cgroup2(root)) {
                v2_procs_ = dir + "/cgroup.procs";
                v2_fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (!v2_fd_) throw_errno("open cgroup " + dir);
            } else {
                v1_tasks_.push_back(dir + "/tasks");
            }
        }
        if ((limits.memory_bytes > 0 && !applied[0]) || (limits.pids > 0 && !applied[1]) ||
            (limits.cpus > 0 && !applied[2]))
            throw Error("cannot enforce the requested memory/pids/cpu limit: no cgroup controller for it");
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

bool join_cgroup_self(const std::string& file, ChildReport& report) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd && ::write(fd.get(), "0", 1) == 1) return true;
    // A real-time caller cannot join a v1 cpu group that has no RT budget
    // (CONFIG_RT_GROUP_SCHED); kiln sets no cpu limits yet, so it stays where it is.
    if (fd && errno == EINVAL && file.find("/cpu/kiln/") != std::string::npos) return true;
    return report.fail_errno(errno, "join cgroup %s", file.c_str());
}

}  // namespace kiln::runtime
