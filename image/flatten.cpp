#include "image/flatten.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kPipeBlock = 1u << 20;

// In the child: mount and tar into out_fd. Returns an exit status; errors go to err_fd.
int child_main(const MountSpec& rootfs, const std::string& target, int out_fd, int err_fd) {
    try {
        if (::unshare(CLONE_NEWNS) != 0) throw_errno("unshare the mount namespace");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw_errno("make mounts private");
        if (!rootfs.base_dir.empty() && ::chdir(rootfs.base_dir.c_str()) != 0) throw_errno("chdir " + rootfs.base_dir);
        unsigned long flags = rootfs.type == "bind" ? MS_BIND | MS_REC : 0;
        if (rootfs.readonly && rootfs.type != "bind") flags |= MS_RDONLY;
        if (::mount(rootfs.source.c_str(), target.c_str(), rootfs.type.c_str(), flags,
                    rootfs.options.empty() ? nullptr : rootfs.options.c_str()) != 0)
            throw_errno("mount the root filesystem (" + rootfs.type + ")");
        TarWriteOptions options;
        options.merged = true;
        write_layer_tar(target, [out_fd](const void* d, std::size_t n) {
            write_all(out_fd, std::string_view(static_cast<const char*>(d), n), "the export stream");
        }, options);
        return 0;
    } catch (const std::exception& e) {
        std::string msg = e.what();
        (void)!::write(err_fd, msg.data(), msg.size());
        return 1;
    }
}

}  // namespace

TarStats write_rootfs_tar(const MountSpec& rootfs, const std::string& scratch_dir, const ByteSink& sink) {
    TempDir target(scratch_dir, "export-");
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("create a pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("create a pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) ::_exit(child_main(rootfs, target.path(), out_w.get(), err_w.get()));
    out_w.reset();
    err_w.reset();
    Sha256 hash;
    std::uint64_t total = 0;
    std::unique_ptr<char[]> buf(new char[kPipeBlock]);
    try {
        while (std::size_t n = read_some(out_r.get(), buf.get(), kPipeBlock, "the export stream")) {
            hash.update(buf.get(), n);
            sink(buf.get(), n);
            total += n;
        }
    } catch (...) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        throw;
    }
    std::string child_error = read_all(err_r.get(), "the export child's errors");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error("export: " + (child_error.empty() ? std::string("the export process failed") : child_error));
    return TarStats{hash.finish(), total};
}

TarStats write_image_rootfs_tar(Store& store, const Digest& image_id, const ByteSink& sink) {
    auto summary = store.images().get(image_id);
    if (!summary) throw Error("No such image: " + image_id.str());
    return write_rootfs_tar(store.layers().view(summary->top_chain_id), store.root() + "/tmp", sink);
}

TarStats write_snapshot_rootfs_tar(Store& store, const std::string& snapshot_key, const ByteSink& sink) {
    return write_rootfs_tar(store.layers().snapshot_view(snapshot_key), store.root() + "/tmp", sink);
}

}  // namespace kiln::image
