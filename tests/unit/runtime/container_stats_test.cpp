#include <catch2/catch.hpp>

#include <unistd.h>

#include "runtime/container_stats.hpp"

using namespace kiln::runtime;

TEST_CASE("stats reads /proc/PID/net/dev as the sum over the interfaces", "[runtime][stats]") {
    const std::string text =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:    1200      10    0    0    0     0          0         0     1200      10    0    0    0     0       0          0\n"
        "  eth0: 5000000    3000    0    0    0     0          0         0    42000     300    0    0    0     0       0          0\n";
    std::uint64_t rx = 0, tx = 0;
    parse_net_dev(text, rx, tx);
    CHECK(rx == 5001200);
    CHECK(tx == 43200);
    parse_net_dev("", rx, tx);
    CHECK(rx == 0);
    CHECK(tx == 0);
}

TEST_CASE("stats reads block I/O from v1 blkio and v2 io.stat", "[runtime][stats]") {
    std::uint64_t read = 0, write = 0;
    parse_block_io("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 100\nTotal 12388\n", false,
                   read, write);
    CHECK(read == 4196);
    CHECK(write == 8192);
    parse_block_io("8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=5 wbytes=7 rios=1 wios=1\n",
                   true, read, write);
    CHECK(read == 1005);
    CHECK(write == 2007);
}

TEST_CASE("stats sums /proc/stat's cpu line the way the docker daemon does", "[runtime][stats]") {
    const std::uint64_t ticks = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
    std::uint64_t total = 0;
    std::uint32_t cpus = 0;
    // user nice system idle iowait irq softirq steal guest guest_nice: steal and after are not counted.
    parse_proc_stat("cpu  10 20 30 40 50 60 70 1000 1000 1000\ncpu0 5 10 15 20 25 30 35 0 0 0\n"
                    "cpu1 5 10 15 20 25 30 35 0 0 0\nintr 1 2 3\n",
                    total, cpus);
    CHECK(total == 280 * 1000000000ull / ticks);
    CHECK(cpus == 2);
}

TEST_CASE("stats takes keyed values from memory.stat and cpu.stat", "[runtime][stats]") {
    const std::string memory = "cache 100\nactive_file 5\ninactive_file 4096\ntotal_inactive_file 8192\n";
    CHECK(stat_value(memory, "inactive_file") == 4096);
    CHECK(stat_value(memory, "total_inactive_file") == 8192);
    CHECK(stat_value(memory, "rss") == 0);
    CHECK(stat_value("usage_usec 123456\nuser_usec 1\n", "usage_usec") == 123456);
    CHECK(stat_value("MemTotal:       16305648 kB\n", "MemTotal:") == 16305648);
}

TEST_CASE("CPU % is the container's share of the host's CPU time times the CPUs, as docker computes it",
          "[runtime][stats]") {
    ContainerSample before, after;
    before.running = after.running = true;
    before.cpu_ns = 1000;
    after.cpu_ns = 1000 + 500000000;  // half a second of CPU
    before.system_ns = 0;
    after.system_ns = 2000000000;  // 2 CPUs for 1 second
    after.online_cpus = 2;
    CHECK(cpu_percent(before, after) == Approx(50.0));
    ContainerSample stopped;
    CHECK(cpu_percent(stopped, after) == 0.0);
    CHECK(cpu_percent(after, after) == 0.0);
    after.memory_used = 16 << 20;
    after.memory_limit = 64 << 20;
    CHECK(memory_percent(after) == Approx(25.0));
    CHECK(memory_percent(stopped) == 0.0);
}
