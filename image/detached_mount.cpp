#include "image/detached_mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>

#include <cerrno>

#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::image {

namespace {

// fsconfig resolves overlay's layer paths against the working directory, so the options'
// short relative links need base_dir as cwd for the moment they are read.
class WorkingDirectory {
public:
    explicit WorkingDirectory(const std::string& dir) {
        if (dir.empty()) return;
        saved_.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!saved_) throw_errno("open the working directory");
        if (::chdir(dir.c_str()) != 0) throw_errno("chdir " + dir);
    }
    ~WorkingDirectory() {
        if (saved_) (void)!::fchdir(saved_.get());
    }
    WorkingDirectory(const WorkingDirectory&) = delete;
    WorkingDirectory& operator=(const WorkingDirectory&) = delete;

private:
    UniqueFd saved_;
};

UniqueFd mount_bind(const MountSpec& spec) {
    UniqueFd tree(::open_tree(AT_FDCWD, spec.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) throw_errno("clone the tree of " + spec.source);
    if (spec.readonly) {
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0)
            throw_errno("make the clone of " + spec.source + " read-only");
    }
    return tree;
}

}  // namespace

UniqueFd mount_detached(const MountSpec& spec) {
    if (spec.type == "bind") return mount_bind(spec);
    UniqueFd context(::fsopen(spec.type.c_str(), FSOPEN_CLOEXEC));
    if (!context) throw_errno("open a " + spec.type + " filesystem context");
    {
        WorkingDirectory cwd(spec.base_dir);
        for (const auto& option : split_fields(spec.options, ',')) {
            if (option.empty()) continue;
            auto eq = option.find('=');
            std::string key = option.substr(0, eq);
            int rc = eq == std::string::npos
                         ? ::fsconfig(context.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                         : ::fsconfig(context.get(), FSCONFIG_SET_STRING, key.c_str(), option.c_str() + eq + 1, 0);
            if (rc != 0) throw_errno("set " + spec.type + " option " + key);
        }
        if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
            throw_errno("create the " + spec.type + " filesystem");
    }
    UniqueFd mount(::fsmount(context.get(), FSMOUNT_CLOEXEC, spec.readonly ? MOUNT_ATTR_RDONLY : 0));
    if (!mount) throw_errno("mount the " + spec.type + " filesystem");
    return mount;
}

}  // namespace kiln::image
