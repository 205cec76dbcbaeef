#include "builder/stage_graph.hpp"

#include <algorithm>
#include <thread>
#include <vector>

namespace kiln::builder {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::optional<std::size_t> stage_index(const parser::Program& program, const std::string& name) {
    for (std::size_t i = 0; i < program.stages.size(); ++i)
        if (!program.stages[i].from.stage_name.empty() && lower(program.stages[i].from.stage_name) == lower(name))
            return i;
    if (!name.empty() && name.size() < 10 && std::all_of(name.begin(), name.end(), ::isdigit)) {
        auto idx = std::stoul(name);
        if (idx < program.stages.size()) return idx;
    }
    return std::nullopt;
}

std::set<std::size_t> stage_dependencies(const parser::Program& program, std::size_t index, const ExpandGlobal& expand) {
    std::set<std::size_t> deps;
    const auto add = [&](const std::string& name) {
        if (auto dep = stage_index(program, expand(name)); dep && *dep < index) deps.insert(*dep);
    };
    const auto& stage = program.stages.at(index);
    add(stage.from.image);
    for (const auto& ti : stage.instructions) {
        if (const auto* copy = std::get_if<parser::CopyCmd>(&ti.command); copy && !copy->from.empty()) add(copy->from);
        if (const auto* run = std::get_if<parser::RunCmd>(&ti.command))
            for (const auto& mount : run->mounts)
                if (auto from = mount.options.find("from"); from != mount.options.end()) add(from->second);
    }
    return deps;
}

StageGraph stage_graph(const parser::Program& program, const ExpandGlobal& expand) {
    StageGraph graph;
    for (std::size_t i = 0; i < program.stages.size(); ++i) graph[i] = stage_dependencies(program, i, expand);
    return graph;
}

std::set<std::size_t> needed_stages(const StageGraph& graph, std::size_t target) {
    std::set<std::size_t> needed;
    std::vector<std::size_t> todo{target};
    while (!todo.empty()) {
        std::size_t stage = todo.back();
        todo.pop_back();
        if (!needed.insert(stage).second) continue;
        if (auto it = graph.find(stage); it != graph.end()) todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
    return needed;
}

StageScheduler::StageScheduler(StageGraph graph, const std::set<std::size_t>& wanted, unsigned jobs, BuildStage build,
                               std::function<void()> on_cancel)
    : graph_(std::move(graph)), jobs_(std::max(jobs, 1u)), build_(std::move(build)), on_cancel_(std::move(on_cancel)) {
    for (std::size_t stage : wanted) state_[stage] = State::Waiting;
}

void StageScheduler::run() {
    {
        std::vector<std::jthread> workers;
        const std::size_t count = std::min<std::size_t>(jobs_, state_.size());
        for (std::size_t i = 0; i < count; ++i) workers.emplace_back([this] { worker(); });
    }
    if (failure_) std::rethrow_exception(failure_);
}

std::optional<std::size_t> StageScheduler::claim_ready() {
    for (auto& [stage, state] : state_) {
        if (state != State::Waiting) continue;
        const auto& deps = graph_.at(stage);
        if (std::all_of(deps.begin(), deps.end(), [&](std::size_t dep) {
                auto it = state_.find(dep);
                return it != state_.end() && it->second == State::Built;
            })) {
            state = State::Building;
            return stage;
        }
    }
    return std::nullopt;
}

void StageScheduler::worker() {
    std::unique_lock lock(mutex_);
    while (!cancelled_) {
        if (auto stage = claim_ready()) {
            lock.unlock();
            build_claimed(*stage);
            lock.lock();
            continue;
        }
        if (std::none_of(state_.begin(), state_.end(), [](const auto& entry) { return entry.second == State::Waiting; }))
            return;
        changed_.wait(lock);
    }
}

void StageScheduler::build_claimed(std::size_t stage) {
    bool first_failure = false;
    try {
        build_(stage);
        std::lock_guard lock(mutex_);
        state_[stage] = State::Built;
    } catch (...) {
        std::lock_guard lock(mutex_);
        // What fails after the cancel is its consequence (a killed RUN), not its cause.
        if (!cancelled_) {
            failure_ = std::current_exception();
            cancelled_ = first_failure = true;
        }
    }
    changed_.notify_all();
    if (first_failure && on_cancel_) on_cancel_();
}

void StageScheduler::wait_for(std::size_t stage) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (cancelled_) throw BuildCancelled("build cancelled: another stage failed");
        auto it = state_.try_emplace(stage, State::Waiting).first;
        if (it->second == State::Built) return;
        if (it->second == State::Building) {
            changed_.wait(lock);
            continue;
        }
        // Nobody started it: this thread builds it (its own dependencies first), since the
        // stage waiting for it holds a job already. Dependencies are earlier stages: no cycle.
        lock.unlock();
        for (std::size_t dep : graph_.at(stage)) wait_for(dep);
        lock.lock();
        if (state_.at(stage) != State::Waiting) continue;
        state_[stage] = State::Building;
        lock.unlock();
        build_claimed(stage);
        lock.lock();
    }
}

void StageScheduler::throw_if_cancelled() const {
    if (cancelled()) throw BuildCancelled("build cancelled: another stage failed");
}

bool StageScheduler::cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
}

}  // namespace kiln::builder
