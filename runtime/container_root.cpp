#include "runtime/container_root.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/detached_mount.hpp"
#include "image/store.hpp"
#include "runtime/container_control.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

ContainerRoot open_container_root(image::Store& store, const ContainerRow& row) {
    if (UniqueFd init = open_container_init(row)) {
        std::string path = "/proc/" + std::to_string(row.pid) + "/root";
        UniqueFd root(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        // Alive after the open: the pid still named the init, so the root is the container's.
        bool alive = ::syscall(SYS_pidfd_send_signal, init.get(), 0, nullptr, 0) == 0;
        if (root && alive) return {std::move(root), true};
        if (alive) throw_errno("open the root of container " + row.id);
        // It stopped meanwhile: its rootfs is no longer mounted anywhere; mount it here.
    }
    auto snapshot = store.layers().existing(container_snapshot_key(row.id));
    return {image::mount_detached(snapshot.mount), false};
}

}  // namespace kiln::runtime
