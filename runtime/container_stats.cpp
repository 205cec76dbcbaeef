#include "runtime/container_stats.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "runtime/cgroups.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::string read_or_empty(const std::string& path) {
    try {
        return read_file(path);
    } catch (const Error&) {
        return "";
    }
}

// A file holding one number ("max" and other words read as 0).
std::uint64_t read_number(const std::string& path) { return std::strtoull(read_or_empty(path).c_str(), nullptr, 10); }

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::uint64_t host_memory() {
    return stat_value(read_or_empty("/proc/meminfo"), "MemTotal:") * 1024;  // kB
}

void read_memory(const ContainerCgroupPaths& groups, ContainerSample& s) {
    std::uint64_t usage = 0, inactive = 0, limit = 0;
    if (!groups.memory.empty()) {
        usage = read_number(groups.memory + "/memory.usage_in_bytes");
        inactive = stat_value(read_or_empty(groups.memory + "/memory.stat"), "total_inactive_file");
        limit = read_number(groups.memory + "/memory.limit_in_bytes");
    } else if (!groups.unified.empty() && exists(groups.unified + "/memory.current")) {
        usage = read_number(groups.unified + "/memory.current");
        inactive = stat_value(read_or_empty(groups.unified + "/memory.stat"), "inactive_file");
        limit = read_number(groups.unified + "/memory.max");  // "max": 0
    }
    s.memory_used = inactive < usage ? usage - inactive : usage;
    // No limit reads as "max" on v2 and as a page-rounded 2^63 on v1; Docker shows the host's.
    const std::uint64_t host = host_memory();
    s.memory_limit = limit == 0 || (host > 0 && limit > host) ? host : limit;
}

std::uint64_t read_cpu_ns(const ContainerCgroupPaths& groups) {
    // cgroup2 keeps cpu.stat in every group, the cpu controller enabled or not.
    if (!groups.unified.empty() && exists(groups.unified + "/cpu.stat"))
        return stat_value(read_or_empty(groups.unified + "/cpu.stat"), "usage_usec") * 1000;
    if (!groups.cpu.empty()) return read_number(groups.cpu + "/cpuacct.usage");
    return 0;
}

std::uint64_t read_pids(const std::string& name, const ContainerCgroupPaths& groups) {
    if (!groups.pids.empty()) return read_number(groups.pids + "/pids.current");
    if (!groups.unified.empty() && exists(groups.unified + "/pids.current"))
        return read_number(groups.unified + "/pids.current");
    return container_pids(name).size();
}

void read_block_io(const ContainerCgroupPaths& groups, ContainerSample& s) {
    if (!groups.blkio.empty()) {
        std::string text = read_or_empty(groups.blkio + "/blkio.throttle.io_service_bytes_recursive");
        // Kernels with a proportional scheduler (bfq) count there instead.
        if (text.find("Read") == std::string::npos)
            text = read_or_empty(groups.blkio + "/blkio.bfq.io_service_bytes_recursive");
        parse_block_io(text, false, s.block_read, s.block_write);
    } else if (!groups.unified.empty()) {
        parse_block_io(read_or_empty(groups.unified + "/io.stat"), true, s.block_read, s.block_write);
    }
}

}  // namespace

std::uint64_t stat_value(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() ||
            (line[key.size()] != ' ' && line[key.size()] != '\t'))
            continue;
        return std::strtoull(line.c_str() + key.size(), nullptr, 10);
    }
    return 0;
}

void parse_proc_stat(const std::string& text, std::uint64_t& total_ns, std::uint32_t& cpus) {
    total_ns = 0;
    cpus = 0;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("cpu")) continue;
        if (line.size() > 3 && line[3] >= '0' && line[3] <= '9') {
            ++cpus;
            continue;
        }
        std::istringstream fields(line.substr(3));
        std::uint64_t value = 0, sum = 0;
        // user, nice, system, idle, iowait, irq, softirq: what the daemon sums.
        for (int i = 0; i < 7 && fields >> value; ++i) sum += value;
        total_ns = sum * 1000000000ull / static_cast<std::uint64_t>(ticks > 0 ? ticks : 100);
    }
}

void parse_net_dev(const std::string& text, std::uint64_t& rx, std::uint64_t& tx) {
    rx = tx = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;  // the two header lines
        std::istringstream fields(line.substr(colon + 1));
        std::uint64_t value[9] = {};
        for (auto& v : value) fields >> v;
        if (!fields) continue;
        rx += value[0];  // receive bytes; transmit bytes come after the 8 receive columns
        tx += value[8];
    }
}

void parse_block_io(const std::string& text, bool v2, std::uint64_t& read, std::uint64_t& write) {
    read = write = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string device, word;
        if (!(fields >> device)) continue;
        if (!v2) {
            std::uint64_t value = 0;
            if (!(fields >> word >> value)) continue;
            if (word == "Read") read += value;
            if (word == "Write") write += value;
            continue;
        }
        while (fields >> word) {
            if (word.starts_with("rbytes=")) read += std::strtoull(word.c_str() + 7, nullptr, 10);
            if (word.starts_with("wbytes=")) write += std::strtoull(word.c_str() + 7, nullptr, 10);
        }
    }
}

ContainerSample sample_container(const std::string& name, pid_t init_pid) {
    ContainerSample s;
    const auto groups = container_cgroup_paths(name);
    if (groups.unified.empty() && groups.memory.empty() && groups.pids.empty()) return s;
    s.running = true;
    parse_proc_stat(read_or_empty("/proc/stat"), s.system_ns, s.online_cpus);
    s.cpu_ns = read_cpu_ns(groups);
    read_memory(groups, s);
    s.pids = read_pids(name, groups);
    read_block_io(groups, s);
    if (init_pid > 0) parse_net_dev(read_or_empty("/proc/" + std::to_string(init_pid) + "/net/dev"), s.net_rx, s.net_tx);
    return s;
}

double cpu_percent(const ContainerSample& before, const ContainerSample& after) {
    if (!before.running || !after.running) return 0;
    const double cpu_delta = static_cast<double>(after.cpu_ns) - static_cast<double>(before.cpu_ns);
    const double system_delta = static_cast<double>(after.system_ns) - static_cast<double>(before.system_ns);
    if (cpu_delta <= 0 || system_delta <= 0) return 0;
    return cpu_delta / system_delta * after.online_cpus * 100.0;
}

double memory_percent(const ContainerSample& sample) {
    if (sample.memory_limit == 0) return 0;
    return static_cast<double>(sample.memory_used) / static_cast<double>(sample.memory_limit) * 100.0;
}

}  // namespace kiln::runtime
