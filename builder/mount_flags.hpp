#pragma once
// `run -v` and `run --mount` values, read as Docker reads them (its Linux volume parser and
// its CLI's --mount CSV), into one shape. Checks everything that can be checked without
// the store, so a bad value is refused before anything is created.
#include <map>
#include <string>

namespace kiln::builder {

enum class MountType { bind, volume, tmpfs };

struct MountRequest {
    MountType type = MountType::volume;
    std::string source;       // bind: absolute host path; volume: its name ("" anonymous); tmpfs: ""
    std::string destination;  // absolute, cleaned
    bool readonly = false;
    std::string propagation;  // bind only: "" (Docker's rprivate) or shared, rslave, ...
    bool nocopy = false;      // volume only: no copy-up of the image's files
    std::string tmpfs_options;  // tmpfs only: "size=N,mode=0755", as --tmpfs takes them
    // volume only (--mount volume-label, volume-opt): what a volume made for it gets.
    std::map<std::string, std::string> volume_labels, volume_options;
    // -v's options as given ("ro,z"): Docker's Mode in inspect; "" from --mount.
    std::string mode;
    bool from_volume_flag = false;  // -v (HostConfig.Binds), else --mount (HostConfig.Mounts)
};

// -v [SOURCE:]DESTINATION[:OPTIONS]: SOURCE an absolute host path (a bind) or a volume
// name; none makes an anonymous volume. OPTIONS: rw|ro, z|Z, nocopy (volumes), and one of
// shared, slave, private, rshared, rslave, rprivate (binds). Throws kiln::Error.
MountRequest parse_volume_flag(const std::string& text);

// --mount type=bind|volume|tmpfs,source|src=…,target|dst|destination=…,readonly|ro[=BOOL],
// bind-propagation=…, volume-nocopy[=BOOL], volume-label=K=V, volume-driver=local,
// volume-opt=K=V, tmpfs-size=SIZE, tmpfs-mode=OCTAL, consistency=… (ignored, as on Linux).
// A bind's source must exist. Throws kiln::Error in Docker's words.
MountRequest parse_mount_flag(const std::string& text);

// --volumes-from CONTAINER[:ro|rw]: the container and the mode ("" keeps each mount's).
std::pair<std::string, std::string> parse_volumes_from(const std::string& text);

}  // namespace kiln::builder
