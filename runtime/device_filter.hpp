#pragma once
// The cgroup2 form of a DevicePolicy: a BPF_PROG_TYPE_CGROUP_DEVICE program, which the
// kernel runs on every mknod and open of a device node by a task in the cgroup (on a
// hybrid host too: cgroup BPF always works on the cgroup2 hierarchy).
#include <linux/bpf.h>

#include <vector>

#include "runtime/device_policy.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

// The program's instructions: it reads bpf_cgroup_dev_ctx and returns 1 (allow) or
// 0 (deny) with the same answers as policy.allows().
std::vector<bpf_insn> compile_device_filter(const DevicePolicy& policy);

// A loaded program. Its fd is close-on-exec (the kernel creates every BPF fd so).
class DeviceFilter {
public:
    // Throws kiln::Error with the verifier's log if the kernel refuses the program.
    explicit DeviceFilter(const DevicePolicy& policy);

    // Attaches to the cgroup2 directory `cgroup_fd`; from then on the kernel holds the
    // program for that group, until the group is removed.
    void attach(int cgroup_fd) const;
    int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
};

}  // namespace kiln::runtime
