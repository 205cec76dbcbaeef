#include "runtime/rootfs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

// Docker's masked paths: files get /dev/null bound over them, directories an empty
// read-only tmpfs. Missing ones (most depend on kernel config) are skipped.
constexpr const char* masked_paths[] = {
    "/proc/asound", "/proc/acpi",      "/proc/kcore",      "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",   "/sys/firmware",   "/sys/devices/virtual/powercap",
};
constexpr const char* readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

struct Device {
    const char* name;
    unsigned major, minor;
};
constexpr Device devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
constexpr const char* dev_symlinks[][2] = {
    {"ptmx", "pts/ptmx"},         {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
};

// "/proc/self/fd/N": the path through which mount(2) reaches what an fd refers to.
struct FdPath {
    char text[32];
    explicit FdPath(int fd) { std::snprintf(text, sizeof text, "/proc/self/fd/%d", fd); }
    operator const char*() const { return text; }
};

// Opens path beneath rootfd as if rootfd were "/". Returns -1 with errno set.
int open_beneath(int rootfd, const char* path, int flags) {
    while (*path == '/') ++path;
    if (!*path) path = ".";
    open_how how{};
    how.flags = static_cast<__u64>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = ::syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    return static_cast<int>(fd);
}

// Opens path beneath rootfd (O_PATH), creating missing components: directories, and for
// the last one a directory or an empty file (a bind target for a file).
int ensure_beneath(int rootfd, const char* path, bool directory, ChildReport& r) {
    char prefix[PATH_MAX];
    std::size_t len = std::strlen(path);
    if (len >= sizeof prefix) return r.fail("path too long: %s", path), -1;
    UniqueFd parent(open_beneath(rootfd, "/", O_PATH | O_DIRECTORY));
    if (!parent) return r.fail_errno(errno, "open rootfs"), -1;
    std::size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/') ++i;
        if (i == len) break;
        std::size_t end = i;
        while (end < len && path[end] != '/') ++end;
        bool last = true;
        for (std::size_t k = end; k < len; ++k)
            if (path[k] != '/') last = false;
        std::memcpy(prefix, path, end);
        prefix[end] = '\0';
        UniqueFd fd(open_beneath(rootfd, prefix, O_PATH));
        if (!fd && errno == ENOENT) {
            const char* name = prefix + i;
            int rc;
            if (last && !directory) {
                rc = ::openat(parent.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (rc >= 0) ::close(rc);
            } else {
                rc = ::mkdirat(parent.get(), name, 0755);
            }
            if (rc < 0 && errno != EEXIST) return r.fail_errno(errno, "create mountpoint %s", prefix), -1;
            fd.reset(open_beneath(rootfd, prefix, O_PATH));
        }
        if (!fd) return r.fail_errno(errno, "open mountpoint %s", prefix), -1;
        parent = std::move(fd);
        i = end;
    }
    return parent.release();
}

bool mount_fs(int rootfd, const char* target, const char* type, unsigned long flags, const char* data,
              ChildReport& r) {
    UniqueFd fd(ensure_beneath(rootfd, target, true, r));
    if (!fd) return false;
    if (::mount(type, FdPath(fd.get()), type, flags, data) != 0) return r.fail_errno(errno, "mount %s", target);
    return true;
}

// Makes the mount at `fd` read-only, keeping its other flags (nosuid, noexec, ...).
bool remount_readonly(int fd, const char* what, ChildReport& r) {
    struct statvfs st;
    if (::fstatvfs(fd, &st) != 0) return r.fail_errno(errno, "statvfs %s", what);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    const std::pair<unsigned long, unsigned long> keep[] = {
        {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    for (auto [st_flag, ms_flag] : keep)
        if (st.f_flag & st_flag) flags |= ms_flag;
    if (::mount(nullptr, FdPath(fd), nullptr, flags, nullptr) != 0)
        return r.fail_errno(errno, "remount %s read-only", what);
    return true;
}

// Binds source (a host path, or /proc/self/fd/N) onto target inside the rootfs.
bool bind_into(int rootfd, const char* source, const char* target, bool directory, bool readonly,
               ChildReport& r) {
    UniqueFd fd(ensure_beneath(rootfd, target, directory, r));
    if (!fd) return false;
    if (::mount(source, FdPath(fd.get()), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return r.fail_errno(errno, "bind mount %s on %s", source, target);
    if (!readonly) return true;
    // The fd still names the covered directory; reopen to reach the new mount.
    UniqueFd mounted(open_beneath(rootfd, target, O_PATH));
    if (!mounted) return r.fail_errno(errno, "open %s", target);
    // Read-only all the way down, as Docker 25+ does: a plain remount would leave every
    // submount of the source (MS_REC brought them along) writable.
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::syscall(SYS_mount_setattr, mounted.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
        return true;
    if (errno != ENOSYS) return r.fail_errno(errno, "make %s read-only", target);
    return remount_readonly(mounted.get(), target, r);
}

bool mask_paths(int rootfd, ChildReport& r) {
    for (const char* path : masked_paths) {
        UniqueFd fd(open_beneath(rootfd, path, O_PATH | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) continue;
            return r.fail_errno(errno, "open %s", path);
        }
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return r.fail_errno(errno, "stat %s", path);
        int rc = S_ISDIR(st.st_mode)
                     ? ::mount("tmpfs", FdPath(fd.get()), "tmpfs", MS_RDONLY, "size=0")
                     : ::mount("/dev/null", FdPath(fd.get()), nullptr, MS_BIND, nullptr);
        if (rc != 0) return r.fail_errno(errno, "mask %s", path);
    }
    for (const char* path : readonly_paths) {
        UniqueFd fd(open_beneath(rootfd, path, O_PATH | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) continue;
            return r.fail_errno(errno, "open %s", path);
        }
        if (::mount(FdPath(fd.get()), FdPath(fd.get()), nullptr, MS_BIND | MS_REC, nullptr) != 0)
            return r.fail_errno(errno, "bind %s", path);
        UniqueFd mounted(open_beneath(rootfd, path, O_PATH | O_NOFOLLOW));
        if (!mounted) return r.fail_errno(errno, "open %s", path);
        if (!remount_readonly(mounted.get(), path, r)) return false;
    }
    return true;
}

// A tmpfs /dev with the device nodes, /dev/pts, /dev/shm, /dev/mqueue and the usual links.
bool setup_dev(int rootfd, const char* shm_options, ChildReport& r) {
    if (!mount_fs(rootfd, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", r)) return false;
    UniqueFd dev(open_beneath(rootfd, "/dev", O_PATH | O_DIRECTORY));
    if (!dev) return r.fail_errno(errno, "open /dev");
    // As real root, mknod in our own tmpfs is simpler and cheaper than bind-mounting the
    // host's nodes (fewer mounts to set up and tear down). The umask is 0 here.
    for (const auto& d : devices)
        if (::mknodat(dev.get(), d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) != 0)
            return r.fail_errno(errno, "mknod /dev/%s", d.name);
    for (const auto& link : dev_symlinks)
        if (::symlinkat(link[1], dev.get(), link[0]) != 0) return r.fail_errno(errno, "symlink /dev/%s", link[0]);
    if (!mount_fs(rootfd, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5", r))
        return false;
    if (!mount_fs(rootfd, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_options, r))
        return false;
    return mount_fs(rootfd, "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, r);
}

// --device nodes: the host node's type, numbers, mode and owner, at their path in the
// container (replacing whatever was there).
bool make_device_nodes(int rootfd, const std::vector<DeviceNode>& nodes, ChildReport& r) {
    for (const auto& node : nodes) {
        char parent[PATH_MAX];
        std::size_t len = node.path.size();
        if (len >= sizeof parent) return r.fail("path too long: %s", node.path.c_str());
        std::memcpy(parent, node.path.c_str(), len + 1);
        char* slash = std::strrchr(parent, '/');
        const char* name = node.path.c_str() + (slash - parent) + 1;
        *slash = '\0';
        if (!*name) return r.fail("bad device path %s", node.path.c_str());
        UniqueFd dir(ensure_beneath(rootfd, parent[0] ? parent : "/", true, r));
        if (!dir) return false;
        if (::unlinkat(dir.get(), name, 0) != 0 && errno != ENOENT)
            return r.fail_errno(errno, "replace %s", node.path.c_str());
        if (::mknodat(dir.get(), name, node.mode, node.rdev) != 0) return r.fail_errno(errno, "mknod %s", node.path.c_str());
        if (::fchownat(dir.get(), name, node.uid, node.gid, AT_SYMLINK_NOFOLLOW) != 0)
            return r.fail_errno(errno, "chown %s", node.path.c_str());
    }
    return true;
}

bool mount_rootfs(const RootfsPlan& plan, ChildReport& r) {
    const image::MountSpec& spec = *plan.rootfs;
    // Relative overlay lowerdirs resolve against base_dir (see image/mount_spec.hpp).
    if (!spec.base_dir.empty() && ::chdir(spec.base_dir.c_str()) != 0)
        return r.fail_errno(errno, "chdir %s", spec.base_dir.c_str());
    if (spec.type == "bind") {
        if (::mount(spec.source.c_str(), plan.mountpoint, nullptr, MS_BIND | MS_REC, nullptr) != 0)
            return r.fail_errno(errno, "bind rootfs %s", spec.source.c_str());
    } else if (spec.type == "overlay") {
        if (::mount(spec.source.empty() ? "overlay" : spec.source.c_str(), plan.mountpoint, "overlay", 0,
                    spec.options.c_str()) != 0)
            return r.fail_errno(errno, "mount overlay rootfs (%s)", spec.options.c_str());
    } else {
        return r.fail("unsupported rootfs mount type \"%s\"", spec.type.c_str());
    }
    return true;
}

bool has_explicit_propagation(const RootfsPlan& plan, const char* destination) {
    if (!plan.propagation) return false;
    for (const auto& p : *plan.propagation)
        if (std::strcmp(p.destination.c_str(), destination) == 0) return true;
    return false;
}

}  // namespace

bool make_directories(const char* path, ChildReport& r) {
    char buf[PATH_MAX];
    std::size_t len = std::strlen(path);
    if (len >= sizeof buf) return r.fail("path too long: %s", path);
    std::memcpy(buf, path, len + 1);
    for (std::size_t i = 1; i <= len; ++i) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (::mkdir(buf, 0755) != 0 && errno != EEXIST) return r.fail_errno(errno, "mkdir %s", buf);
        buf[i] = saved;
    }
    return true;
}

bool setup_rootfs(const RootfsPlan& plan, ChildReport& r) {
    // Nothing done here may propagate back to the host's mount table, except what a
    // shared bind's owner asked for (mount_propagation.hpp).
    const unsigned long root_flags = plan.root_propagation ? plan.root_propagation : MS_REC | MS_PRIVATE;
    const bool host_peers = root_flags != (MS_REC | MS_PRIVATE);
    if (::mount(nullptr, "/", nullptr, root_flags, nullptr) != 0) return r.fail_errno(errno, "set the propagation of /");
    if (host_peers && ::mount(nullptr, plan.private_parent, nullptr, MS_PRIVATE, nullptr) != 0)
        return r.fail_errno(errno, "make %s private", plan.private_parent);
    if (!mount_rootfs(plan, r)) return false;
    // A bind-mounted rootfs may bring shared submounts along.
    if (host_peers && ::mount(nullptr, plan.mountpoint, nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return r.fail_errno(errno, "make the rootfs private");
    UniqueFd root(::open(plan.mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return r.fail_errno(errno, "open rootfs %s", plan.mountpoint);
    const int rootfd = root.get();

    if (!mount_fs(rootfd, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, r)) return false;
    const unsigned long sys_ro = plan.privileged ? 0 : MS_RDONLY;
    if (!mount_fs(rootfd, "/sys", "sysfs", sys_ro | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, r)) return false;
    if (!setup_dev(rootfd, plan.shm_options, r)) return false;
    if (plan.devices && !make_device_nodes(rootfd, *plan.devices, r)) return false;
    if (!plan.privileged && !mask_paths(rootfd, r)) return false;
    if (plan.tmpfs)
        for (const auto& t : *plan.tmpfs)
            if (!mount_fs(rootfd, t.destination.c_str(), "tmpfs", t.flags, t.data.c_str(), r)) return false;
    for (const auto& bind : *plan.binds) {
        struct stat st;
        if (::stat(bind.source.c_str(), &st) != 0) return r.fail_errno(errno, "bind source %s", bind.source.c_str());
        if (!bind_into(rootfd, bind.source.c_str(), bind.destination.c_str(), S_ISDIR(st.st_mode), bind.readonly, r))
            return false;
    }
    // A bind is rprivate unless told otherwise; with the host's peers kept, that has to be
    // said, or a shared source would make it shared.
    if (host_peers)
        for (const auto& bind : *plan.binds) {
            if (has_explicit_propagation(plan, bind.destination.c_str())) continue;
            UniqueFd mounted(open_beneath(rootfd, bind.destination.c_str(), O_PATH));
            if (!mounted) return r.fail_errno(errno, "open %s", bind.destination.c_str());
            if (::mount(nullptr, FdPath(mounted.get()), nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
                return r.fail_errno(errno, "make %s private", bind.destination.c_str());
        }
    if (plan.propagation)
        for (const auto& p : *plan.propagation) {
            UniqueFd mounted(open_beneath(rootfd, p.destination.c_str(), O_PATH));
            if (!mounted) return r.fail_errno(errno, "open %s", p.destination.c_str());
            if (::mount(nullptr, FdPath(mounted.get()), nullptr, p.flags, nullptr) != 0)
                return r.fail_errno(errno, "set the propagation of %s", p.destination.c_str());
        }

    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
    // only the container's tree, with no directory needed for the old root.
    UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!old_root) return r.fail_errno(errno, "open /");
    if (::fchdir(rootfd) != 0) return r.fail_errno(errno, "chdir rootfs");
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return r.fail_errno(errno, "pivot_root");
    // The old root's mounts may be peers of the host's: as slaves, their unmounting here
    // cannot propagate to the host. Only a directory of the old root names it ("." would
    // still be the new root: mount(2) does not step onto what is stacked on a path's end).
    if (host_peers) {
        if (::fchdir(old_root.get()) != 0) return r.fail_errno(errno, "chdir to the old root");
        if (::mount(nullptr, ".", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
            return r.fail_errno(errno, "make the old root a slave");
    }
    if (::umount2(".", MNT_DETACH) != 0) return r.fail_errno(errno, "detach old root");
    if (::chdir("/") != 0) return r.fail_errno(errno, "chdir /");
    if (!plan.rootfs->readonly) return true;
    // Read-only only now: the mountpoints above had to be created first.
    UniqueFd newroot(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!newroot) return r.fail_errno(errno, "open /");
    return remount_readonly(newroot.get(), "/", r);
}

}  // namespace kiln::runtime
