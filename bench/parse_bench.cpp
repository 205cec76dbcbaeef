// kiln_parse_bench FILE [RUNS]: parses FILE RUNS times (default 20) and prints the median
// throughput and the process's peak RSS:
//   parse: X MB/s (median of N), peak RSS Y MiB, input Z MB / L lines
// and the same figure for parse + to_program (the typed stage `kiln build` uses).
// MB is 10^6 bytes (as disk and network figures are); MiB is 2^20 (as RSS usually is).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parser/instructions.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"

namespace {

std::string read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw kiln::Error(std::string("cannot open ") + path);
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct Timing {
    double wall = 0;  // median seconds on the wall clock
    double cpu = 0;   // median seconds of this thread's CPU time
};

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Median times of RUNS calls of work(). Results are dropped inside work(), so freeing the
// AST is timed too (a real caller pays it). CPU time is reported beside wall time because on
// a shared, loaded machine the wall clock mostly measures waiting for a core.
template <typename Work>
Timing median_times(int runs, Work work) {
    std::vector<double> wall, cpu;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = thread_cpu_seconds();
        work();
        cpu.push_back(thread_cpu_seconds() - cpu_start);
        wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return {median(std::move(wall)), median(std::move(cpu))};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s FILE [RUNS]\n", argv[0]);
        return 2;
    }
    try {
        const std::string text = read_file(argv[1]);
        const int runs = argc == 3 ? std::max(1, std::stoi(argv[2])) : 20;
        const double mb = static_cast<double>(text.size()) / 1e6;
        const auto lines = std::count(text.begin(), text.end(), '\n');

        // One untimed parse first: it checks the input is accepted and warms the caches.
        std::size_t instructions = kiln::parser::parse_dockerfile(text).instructions.size();

        const Timing parse = median_times(runs, [&] {
            const auto file = kiln::parser::parse_dockerfile(text);
            instructions = file.instructions.size();
        });
        std::printf("parse: %.1f MB/s (median of %d), peak RSS %.1f MiB, input %.2f MB / %ld lines"
                    " (%zu instructions; CPU-time %.1f MB/s)\n",
                    mb / parse.wall, runs, peak_rss_mib(), mb, static_cast<long>(lines),
                    instructions, mb / parse.cpu);

        std::size_t stages = 0;
        const Timing program = median_times(runs, [&] {
            const auto file = kiln::parser::parse_dockerfile(text);
            stages = kiln::parser::to_program(file).stages.size();
        });
        std::printf("parse+to_program: %.1f MB/s (median of %d), peak RSS %.1f MiB (%zu stages;"
                    " CPU-time %.1f MB/s)\n",
                    mb / program.wall, runs, peak_rss_mib(), stages, mb / program.cpu);
        return 0;
    } catch (const kiln::parser::ParseError& e) {
        std::fprintf(stderr, "%s\n", e.render().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kiln_parse_bench: %s\n", e.what());
    }
    return 1;
}
