#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "builder/stage_graph.hpp"
#include "parser/instructions.hpp"
#include "parser/parse.hpp"

using kiln::builder::BuildCancelled;
using kiln::builder::needed_stages;
using kiln::builder::StageGraph;
using kiln::builder::StageScheduler;

namespace {

kiln::parser::Program program(const std::string& text) {
    return kiln::parser::to_program(kiln::parser::parse_dockerfile(text, "Dockerfile"));
}

std::string same(const std::string& word) { return word; }

}  // namespace

TEST_CASE("stages depend on the earlier stages FROM, COPY --from and RUN --mount from= name", "[builder][graph]") {
    auto p = program(
        "FROM busybox AS base\n"
        "FROM base AS tools\n"
        "FROM busybox AS data\nCOPY --from=0 /a /a\n"
        "FROM busybox AS cache\nRUN --mount=type=cache,target=/c,from=DATA true\n"
        "FROM busybox AS unused\nCOPY --from=later /x /x\n"
        "FROM busybox AS later\n"
        "FROM tools\nCOPY --from=cache /c /c\n");
    auto graph = kiln::builder::stage_graph(p, same);
    CHECK(graph.at(0).empty());
    CHECK(graph.at(1) == std::set<std::size_t>{0});
    CHECK(graph.at(2) == std::set<std::size_t>{0});
    CHECK(graph.at(3) == std::set<std::size_t>{2});  // names are case-insensitive
    CHECK(graph.at(4).empty());                      // a later stage's name is an image
    CHECK(graph.at(6) == std::set<std::size_t>{1, 3});
    CHECK(needed_stages(graph, 6) == std::set<std::size_t>{0, 1, 2, 3, 6});
    CHECK(needed_stages(graph, 5) == std::set<std::size_t>{5});

    auto expanded = kiln::builder::stage_graph(program("FROM busybox AS a\nFROM ${BASE}\n"), [](const std::string& w) {
        return w == "${BASE}" ? std::string("a") : w;
    });
    CHECK(expanded.at(1) == std::set<std::size_t>{0});
}

TEST_CASE("one job builds the stages in Dockerfile order, each after what it stands on", "[builder][graph]") {
    StageGraph graph{{0, {}}, {1, {}}, {2, {0}}, {3, {1, 2}}, {4, {}}};
    std::vector<std::size_t> order;
    std::atomic<int> running = 0, most = 0;
    StageScheduler scheduler(graph, {0, 1, 2, 3}, 1, [&](std::size_t stage) {
        most = std::max(most.load(), ++running);
        order.push_back(stage);
        --running;
    });
    scheduler.run();
    CHECK(order == std::vector<std::size_t>{0, 1, 2, 3});  // 4 is not wanted
    CHECK(most == 1);
}

TEST_CASE("two jobs build independent stages at the same time, never more than two", "[builder][graph]") {
    StageGraph graph{{0, {}}, {1, {}}, {2, {}}, {3, {}}, {4, {0, 1, 2, 3}}};
    std::mutex mutex;
    std::condition_variable changed;
    int running = 0, most = 0;
    bool met = false;
    StageScheduler scheduler(graph, {0, 1, 2, 3, 4}, 2, [&](std::size_t stage) {
        std::unique_lock lock(mutex);
        most = std::max(most, ++running);
        if (stage == 0 || stage == 1) {
            // The first two stages wait for each other: only a parallel build lets both in.
            changed.notify_all();
            met = changed.wait_for(lock, std::chrono::seconds(30), [&] { return running == 2; }) || met;
        }
        --running;
    });
    scheduler.run();
    CHECK(met);
    CHECK(most == 2);
}

TEST_CASE("the first failure cancels the stages not started and is what run() throws", "[builder][graph]") {
    StageGraph graph{{0, {}}, {1, {0}}, {2, {1}}};
    std::vector<std::size_t> built;
    int cancels = 0;
    StageScheduler scheduler(
        graph, {0, 1, 2}, 2,
        [&](std::size_t stage) {
            built.push_back(stage);
            if (stage == 1) throw kiln::Error("stage 1 failed");
        },
        [&] { ++cancels; });
    CHECK_THROWS_WITH(scheduler.run(), "stage 1 failed");
    CHECK(built == std::vector<std::size_t>{0, 1});
    CHECK(cancels == 1);
    CHECK(scheduler.cancelled());
    CHECK_THROWS_AS(scheduler.throw_if_cancelled(), BuildCancelled);
}

TEST_CASE("a stage found to be needed while building is built on the waiting thread", "[builder][graph]") {
    StageGraph graph{{0, {}}, {1, {0}}, {2, {}}};
    std::vector<std::size_t> built;
    StageScheduler* self = nullptr;
    StageScheduler scheduler(graph, {2}, 1, [&](std::size_t stage) {
        if (stage == 2) self->wait_for(1);  // 1 (and 0 under it) was not wanted at first
        built.push_back(stage);
    });
    self = &scheduler;
    scheduler.run();
    CHECK(built == std::vector<std::size_t>{0, 1, 2});
}
