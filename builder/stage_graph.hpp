#pragma once
// The stages of a Dockerfile as a graph (FROM, COPY --from and RUN --mount from= name
// earlier stages), and the scheduler that builds those a target needs, several at once.
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "parser/instructions.hpp"
#include "util/error.hpp"

namespace kiln::builder {

// The stage a name means: a stage's name (case-insensitive) or its index.
std::optional<std::size_t> stage_index(const parser::Program& program, const std::string& name);

// A word expanded with the build's global ARGs (what FROM lines see).
using ExpandGlobal = std::function<std::string(const std::string&)>;

// The earlier stages the stage at index stands on, through FROM, COPY --from and
// RUN --mount=...,from= (names after expand). A later stage of that name is an image.
std::set<std::size_t> stage_dependencies(const parser::Program& program, std::size_t index, const ExpandGlobal& expand);

// Every stage, with the stages it stands on.
using StageGraph = std::map<std::size_t, std::set<std::size_t>>;
StageGraph stage_graph(const parser::Program& program, const ExpandGlobal& expand);

// target and every stage it stands on, directly or not.
std::set<std::size_t> needed_stages(const StageGraph& graph, std::size_t target);

// What a stage still building meets once another stage failed.
class BuildCancelled : public Error {
public:
    using Error::Error;
};

// Builds the wanted stages of graph, each after the stages it stands on, at most `jobs` at
// once (lowest index first among those ready, so one job builds in Dockerfile order). The
// first failure cancels the rest: no stage starts after it, on_cancel runs once (to stop
// what is running), and run() rethrows it once every running stage has returned.
class StageScheduler {
public:
    using BuildStage = std::function<void(std::size_t stage)>;
    StageScheduler(StageGraph graph, const std::set<std::size_t>& wanted, unsigned jobs, BuildStage build,
                   std::function<void()> on_cancel = {});
    StageScheduler(const StageScheduler&) = delete;
    StageScheduler& operator=(const StageScheduler&) = delete;

    void run();
    // From inside a stage's build: returns once `stage` is built (building it on this
    // thread when nobody has started it: a stage found to be needed only while building,
    // as an ONBUILD trigger's COPY --from). Throws BuildCancelled when the build failed.
    void wait_for(std::size_t stage);
    // Throws BuildCancelled when another stage failed: a step checks before it starts.
    void throw_if_cancelled() const;
    bool cancelled() const;

private:
    enum class State { Waiting, Building, Built };
    std::optional<std::size_t> claim_ready();  // with mutex_ held
    void build_claimed(std::size_t stage);
    void worker();

    const StageGraph graph_;
    std::map<std::size_t, State> state_;  // the wanted stages
    unsigned jobs_;
    BuildStage build_;
    std::function<void()> on_cancel_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::exception_ptr failure_;
    bool cancelled_ = false;
};

}  // namespace kiln::builder
