#pragma once
// What `kiln stats` shows of a running container, read from its cgroups (v1, v2 or both
// on a hybrid host) and its network namespace, the way the docker daemon collects it and
// the docker CLI derives its columns.
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace kiln::runtime {

struct ContainerSample {
    bool running = false;          // false: every figure is 0, as Docker shows a stopped one
    std::uint64_t cpu_ns = 0;      // CPU time the container's group used so far
    std::uint64_t system_ns = 0;   // the host's CPU time (/proc/stat) when it was read
    std::uint32_t online_cpus = 0;
    std::uint64_t memory_used = 0;   // usage without the inactive file cache (the CLI's MEM USAGE)
    std::uint64_t memory_limit = 0;  // its limit, or the host's memory when it has none
    std::uint64_t net_rx = 0, net_tx = 0;
    std::uint64_t block_read = 0, block_write = 0;
    std::uint64_t pids = 0;
};

// Reads container `name`'s figures now; init_pid (its init on the host) is whose network
// namespace counts. Missing files count as 0: a group the host lacks has nothing to say.
ContainerSample sample_container(const std::string& name, pid_t init_pid);

// The docker CLI's CPU %: the container's share of the host's CPU time between two
// samples, times the online CPUs (100% a core). 0 without progress on both.
double cpu_percent(const ContainerSample& before, const ContainerSample& after);

// The docker CLI's MEM %.
double memory_percent(const ContainerSample& sample);

// The parsers, for tests.
// /proc/stat's "cpu" line (user..softirq) in ns, and the number of "cpuN" lines.
void parse_proc_stat(const std::string& text, std::uint64_t& total_ns, std::uint32_t& cpus);
// /proc/PID/net/dev: bytes received and sent, summed over the interfaces.
void parse_net_dev(const std::string& text, std::uint64_t& rx, std::uint64_t& tx);
// blkio.throttle.io_service_bytes_recursive ("8:0 Read 4096") or io.stat ("8:0 rbytes=4096
// wbytes=0 ..."): bytes read and written, summed over the devices.
void parse_block_io(const std::string& text, bool v2, std::uint64_t& read, std::uint64_t& write);
// One "key value" line's value of memory.stat / cpu.stat (0 if absent).
std::uint64_t stat_value(const std::string& text, const std::string& key);

}  // namespace kiln::runtime
