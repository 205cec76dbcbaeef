#include "builder/build.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/cache_explain.hpp"
#include "builder/add_source.hpp"
#include "builder/build_platform.hpp"
#include "builder/build_progress.hpp"
#include "builder/cache_key.hpp"
#include "builder/chown.hpp"
#include "builder/config_edit.hpp"
#include "builder/context.hpp"
#include "builder/copy.hpp"
#include "builder/history_text.hpp"
#include "builder/image_config.hpp"
#include "builder/reproducible.hpp"
#include "builder/run_mount_setup.hpp"
#include "builder/run_step.hpp"
#include "builder/stage_graph.hpp"
#include "builder/variables.hpp"
#include "builder/workdir.hpp"
#include "image/layer_tar.hpp"
#include "image/process_lease.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "parser/instruction_flags.hpp"
#include "parser/instructions.hpp"
#include "parser/dockerignore.hpp"
#include "parser/lint.hpp"
#include "parser/parse.hpp"
#include "parser/utf8.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

constexpr const char* kPlatform = "linux/amd64";
// What BuildKit puts in Env when a stage's base sets no PATH (system.DefaultPathEnvUnix).
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The state after a step: what the next step builds on.
struct StageState {
    ImageConfig config = ImageConfig::scratch("linux", "amd64");
    std::optional<Digest> top_layer;  // chain ID
    Digest key;                       // cache key of the last step
};

std::string random_suffix() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string source_text(const parser::Instruction* source) {
    if (!source) return "";
    std::string text = source->original;
    // Progress lines are one line: continuation newlines become spaces.
    for (auto& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    if (text.size() > 120) text = text.substr(0, 117) + "...";
    return text;
}

// What the stages of one build share. Each stage's Builder reads it; what stages change
// here is behind a lock: the store's own, the progress's, or one of the mutexes below.
struct SharedBuild {
    SharedBuild(image::Store& store, const BuildOptions& options, std::ostream& out)
        : store(store), options(options), progress(out, options.quiet, options.progress_terminal), lease(store.db(), store.root()) {}

    image::Store& store;
    const BuildOptions& options;
    BuildProgress progress;
    parser::Dockerfile file;
    parser::Program program;
    std::unique_ptr<BuildContext> context;
    std::unique_ptr<BuildVariables> global_vars;
    const ImageConfig empty_config = ImageConfig::scratch("linux", "amd64");
    std::set<std::size_t> needed;  // the target and the stages it stands on
    std::set<std::size_t> no_cache_stages;
    std::size_t target_stage = 0;
    // Holds every layer the build stands on, so no prune or rmi takes it mid-build.
    image::ProcessLease lease;
    // Written by each stage when it is built; the scheduler orders that before any reader.
    std::vector<std::optional<StageState>> stage_states;
    std::vector<BuildResult> stage_results;
    StageScheduler* scheduler = nullptr;
    std::mutex pull_mutex;
    std::map<std::string, Digest> pulled;  // external images by full name, as this build found them
    // --cache-from sources are asked one stage at a time.
    std::mutex remote_cache_mutex;
    std::mutex inputs_mutex;
    std::vector<StepInputs> earlier_inputs;  // what earlier builds (and earlier steps of this one) keyed
};

std::string stage_name(const parser::Program& program, std::size_t stage) {
    std::string name = program.stages[stage].from.stage_name;
    return name.empty() ? "stage-" + std::to_string(stage) : name;
}

// The flag of a RUN that needs an entitlement the build was not granted, and the message.
std::optional<std::pair<std::string, std::string>> refused_entitlement(const BuildOptions& options, const parser::TypedInstruction& ti) {
    const auto* run = std::get_if<parser::RunCmd>(&ti.command);
    if (!run) return std::nullopt;
    std::string entitlement, flag;
    if (run->network == "host" && !options.allow_network_host) entitlement = "network.host", flag = "--network";
    if (run->security == "insecure" && !options.allow_security_insecure)
        entitlement = "security.insecure", flag = "--security";
    if (entitlement.empty()) return std::nullopt;
    return std::pair{flag, entitlement + " is not allowed (grant it with kiln build --allow " + entitlement + ")"};
}

// Builds one stage, step by step, on the thread the scheduler gives it.
class Builder {
public:
    Builder(SharedBuild& shared, std::size_t stage)
        : shared_(shared),
          store_(shared.store),
          options_(shared.options),
          out_(shared.progress, stage_name(shared.program, stage)),
          file_(shared.file),
          program_(shared.program),
          context_(shared.context.get()),
          global_vars_(shared.global_vars.get()),
          empty_config_(shared.empty_config),
          stage_states_(shared.stage_states),
          lease_(shared.lease),
          building_stage_(stage),
          no_cache_stages_(shared.no_cache_stages),
          target_stage_(shared.target_stage) {}

    StageState run_stage() { return build_stage(building_stage_); }
    const BuildResult& result() const { return result_; }
    // The layers of a built stage in the store (a --cache-from step may only name them).
    void fetch_layers(const StageState& state) { materialize(state); }

private:
    // A stage the FROM or a COPY --from names, if it is one (earlier stages only).
    std::optional<std::size_t> referenced_stage(const std::string& name, std::size_t current) const {
        auto idx = stage_index(program_, name);
        if (idx && *idx < current) return idx;
        return std::nullopt;
    }

    // An earlier stage, once built: one this stage found only while building (a COPY
    // --from through a stage's ARG, an ONBUILD trigger's) may still be building, or not
    // be started at all.
    const StageState& built_stage(std::size_t stage) {
        shared_.scheduler->wait_for(stage);
        return *stage_states_[stage];
    }

    std::string expand_global(const std::string& word) const {
        return global_vars_->expand(word, empty_config_);
    }

    void step_line(std::size_t, int n, int total, const std::string& text) {
        shared_.scheduler->throw_if_cancelled();
        out_.begin(n, total, text);
    }

    void step_result(bool cached) {
        ++result_.steps;
        if (cached) ++result_.cached_steps;
        if (cached)
            out_.cached();
        else
            out_.done();
    }

    // A cached step restores the exact config it produced (history, timestamps included),
    // so a fully cached rebuild yields the very same image ID.
    // Cache value of a step: the digest of the config it produced, plus a marker when CMD
    // is still the base image's (config JSON cannot say so, and ENTRYPOINT depends on it).
    static constexpr std::string_view kInheritedCmd = " inherited-cmd";

    bool restore_from_cache(const Digest& key, StageState& state) {
        const bool no_cache = options_.no_cache || no_cache_stages_.count(building_stage_);
        if (!no_cache && (restore_local(key, state) || restore_remote(key, state))) {
            note_step(state);
            previous_missed_ = false;
            return true;
        }
        explain_miss_now();
        previous_missed_ = true;
        return false;
    }

    // Every key goes through here: what made it is kept with the step, so that a later
    // build with --explain-cache can compare.
    Digest step_key(const CacheKeyInput& input) {
        Digest key = cache_key(input);
        pending_inputs_ = StepInputs::make(key, input.parent, input.instruction, input.build_args, input.sources, {});
        pending_listing_ = nullptr;
        return key;
    }

    // A FROM has no cache entry of its own but keeps its inputs too: later
    // steps stand on their keys.
    // They run on every build, cached or not: written only the first time, so that a fully
    // cached rebuild writes nothing.
    void remember_pending(bool without_entry = false) {
        if (!pending_inputs_) return;
        if (!without_entry || !store_.db().cache_entry(pending_inputs_->key.str() + "/inputs")) {
            fill_listing();
            remember_inputs(store_.db(), *pending_inputs_);
        }
        if (options_.explain_cache) {
            std::lock_guard lock(shared_.inputs_mutex);
            shared_.earlier_inputs.push_back(*pending_inputs_);
        }
        pending_inputs_.reset();
    }

    void fill_listing() {
        if (!pending_listing_) return;
        pending_inputs_->listing = pending_listing_();
        pending_listing_ = nullptr;
        if (pending_inputs_->listing.size() > kMaxListedSources) {
            pending_inputs_->listing.clear();
            pending_inputs_->listing_complete = false;
        }
    }

    void explain_miss_now() {
        if (!options_.explain_cache || options_.quiet || !pending_inputs_) return;
        std::string reason;
        if (options_.no_cache || no_cache_stages_.count(building_stage_)) {
            reason = "--no-cache";
        } else {
            fill_listing();
            std::lock_guard lock(shared_.inputs_mutex);
            reason = explain_miss(*pending_inputs_, shared_.earlier_inputs, previous_missed_);
        }
        out_.note("cache miss: " + reason);
    }

    bool restore_local(const Digest& key, StageState& state) {
        auto value = store_.db().cache_get(key.str());
        if (!value) return false;
        bool inherited = value->ends_with(kInheritedCmd);
        std::string digest = inherited ? value->substr(0, value->size() - kInheritedCmd.size()) : *value;
        if (!Digest::valid(digest)) return false;
        Digest config_digest = Digest::parse(digest);
        if (!store_.content().has(config_digest)) return false;
        auto config = ImageConfig::restore(nlohmann::json::parse(store_.content().read(config_digest)), inherited);
        std::optional<Digest> top;
        for (const auto& diff_id : config.diff_ids()) top = image::chain_id(top, diff_id);
        if (top && !store_.layers().get(*top)) return false;
        state.config = std::move(config);
        state.top_layer = top;
        state.key = key;
        if (top) lease_.hold(*top);
        return true;
    }

    // A step another machine built: its config is enough to go on; its layers come later,
    // and only if a step that must run, or the final image, stands on them.
    bool restore_remote(const Digest& key, StageState& state) {
        std::lock_guard lock(shared_.remote_cache_mutex);
        for (const auto& source : options_.cache_sources) {
            auto step = source->find(key);
            if (!step) continue;
            auto config = ImageConfig::restore(nlohmann::json::parse(step->config), step->cmd_inherited);
            std::optional<Digest> top;
            for (const auto& diff_id : config.diff_ids()) top = image::chain_id(top, diff_id);
            state.config = std::move(config);
            state.top_layer = top;
            state.key = key;
            hold_if_present(state);
            return true;
        }
        return false;
    }

    void hold_if_present(const StageState& state) {
        if (state.top_layer && store_.layers().get(*state.top_layer)) lease_.hold(*state.top_layer);
    }

    // The layers of state in the store: a step restored from a remote cache may stand on
    // layers this machine has not downloaded yet.
    void materialize(const StageState& state) {
        if (!state.top_layer || store_.layers().get(*state.top_layer)) return;
        auto diff_ids = state.config.diff_ids();
        std::lock_guard lock(shared_.remote_cache_mutex);
        for (const auto& source : options_.cache_sources)
            if (source->fetch_layers(store_, diff_ids)) {
                lease_.hold(*state.top_layer);
                return;
            }
        throw Error("build cache: layer chain " + state.top_layer->str() + " is in neither the store nor a --cache-from source");
    }

    void note_step(const StageState& state) {
        CachedStep step{state.key, state.config.serialize(), state.config.cmd_inherited()};
        if (building_stage_ == target_stage_) result_.target_steps.push_back(step);
        result_.exported_steps.push_back(std::move(step));
    }

    // The cache maps a step's key to the config it produced; for layer steps a second
    // entry names the layer, which keeps it alive until the cache is pruned.
    void record_step(const Digest& key, StageState& state, bool made_layer) {
        Digest config_digest = store_.content().put(state.config.serialize());
        std::string value = config_digest.str();
        if (state.config.cmd_inherited()) value += kInheritedCmd;
        store_.db().cache_put(key.str(), value, "config", current_step_);
        if (made_layer && state.top_layer)
            store_.db().cache_put(key.str() + "/layer", state.top_layer->str(), "layer", current_step_);
        remember_pending();
        state.key = key;
        note_step(state);
    }

    // An image a FROM or COPY --from names: found, or pulled under the build's policy (once
    // per build: two stages FROM the same image see the same one).
    Digest external_image(const std::string& name) {
        const std::string key = image::parse_reference(name).str();
        std::lock_guard lock(shared_.pull_mutex);
        if (auto it = shared_.pulled.find(key); it != shared_.pulled.end()) return it->second;
        // A pull prints its own progress: the stages' lines wait for it.
        Digest id = shared_.progress.exclusive([&] { return find_or_pull(store_, key, options_.pull, options_.puller); });
        shared_.pulled.emplace(key, id);
        return id;
    }

    StageState base_state(std::size_t index, const std::string& base_name, Digest& base_key) {
        StageState state;
        if (auto dep = referenced_stage(base_name, index)) {
            state = built_stage(*dep);
            base_key = state.key;
            return state;
        }
        if (lower(base_name) == "scratch") {
            base_key = sha256_of("scratch");
            return state;
        }
        std::optional<Digest> id = external_image(base_name);
        state.config = ImageConfig::from_base(nlohmann::json::parse(store_.images().config(*id)));
        for (const auto& diff_id : state.config.diff_ids())
            state.top_layer = image::chain_id(state.top_layer, diff_id);
        if (state.top_layer && !store_.layers().get(*state.top_layer))
            throw Error("base image " + base_name + " has layers missing from the store");
        if (state.top_layer) lease_.hold(*state.top_layer);
        base_key = *id;
        return state;
    }

    std::unique_ptr<SourceTree> chain_tree(const std::optional<Digest>& top) const {
        std::vector<std::string> dirs;
        if (top)
            for (const auto& layer : store_.layers().chain(*top)) dirs.insert(dirs.begin(), layer.diff_dir);
        return std::make_unique<LayerChainTree>(std::move(dirs));
    }

    StageState build_stage(std::size_t index) {
        const auto& stage = program_.stages[index];
        int total = static_cast<int>(stage.instructions.size()) + 1;
        std::string base_name = expand_global(stage.from.image);
        step_line(index, 1, total, "FROM " + base_name);
        Digest base_key;
        StageState state = base_state(index, base_name, base_key);
        // Every later key chains from this one: a reproducible build caches apart. The key
        // also says PATH is defaulted, so configs cached before that are not restored.
        std::string epoch_text = options_.source_date_epoch ? " epoch=" + std::to_string(*options_.source_date_epoch) : "";
        state.key = step_key({std::nullopt, "FROM " + base_key.str() + " default-path" + epoch_text, {}, kPlatform, std::nullopt});
        remember_pending(true);
        previous_missed_ = false;
        // BuildKit: every stage has a PATH, the default one when its base sets none.
        if (!state.config.env_value("PATH")) state.config.set_env("PATH", kDefaultPath);
        const auto triggers = onbuild_triggers(index, base_name, state);
        total += static_cast<int>(triggers.size());
        step_result(false);

        BuildVariables vars(file_.escape, options_.build_args);
        int n = 1;
        // The base's triggers run first, as if written right after FROM.
        for (const auto* trigger : triggers) run_instruction(index, ++n, total, *trigger, "ONBUILD ", state, vars);
        for (const auto& ti : stage.instructions) run_instruction(index, ++n, total, ti, "", state, vars);
        return state;
    }

    void run_instruction(std::size_t index, int n, int total, const parser::TypedInstruction& ti,
                         const std::string& prefix, StageState& state, BuildVariables& vars) {
        current_step_ = prefix + source_text(ti.source);
        current_source_ = ti.source;
        step_line(index, n, total, current_step_);
        bool cached = false;
        try {
            if (const auto* workdir = std::get_if<parser::WorkdirCmd>(&ti.command))
                cached = apply_workdir(*workdir, state, vars);
            else if (auto edit = config_edit(ti.command, vars, state.config))
                cached = metadata_step(edit->created_by, state, vars, edit->history, [&] { edit->apply(state.config); });
            else
                cached = std::visit([&](const auto& cmd) { return apply(cmd, index, state, vars); }, ti.command);
        } catch (const BuildCancelled&) {
            out_.cancelled();
            throw;
        } catch (const parser::ParseError& e) {
            out_.failed(e.what());
            throw;
        } catch (const Error& e) {
            // A RUN killed because another stage failed: that failure is the build's error.
            if (shared_.scheduler->cancelled()) {
                out_.cancelled();
                throw BuildCancelled(e.what());
            }
            out_.failed(e.what());
            // As BuildKit: the failing step by name, then the last lines it printed.
            const std::string tail = out_.tail();
            throw Error(fmt::format("#{} {}: {}", out_.number(), out_.label(), e.what()) + (tail.empty() ? "" : "\n" + tail));
        }
        step_result(cached);
    }

    // The ONBUILD triggers of the stage's base, each parsed and checked as a Dockerfile line,
    // and taken out of the config: they fire in the image built FROM it, not in later ones.
    std::vector<const parser::TypedInstruction*> onbuild_triggers(std::size_t index, const std::string& base_name,
                                                                  StageState& state) {
        std::vector<const parser::TypedInstruction*> out;
        const std::vector<std::string> triggers = state.config.take_onbuild();
        if (triggers.empty()) return out;
        const parser::typed::Site site{file_, *program_.stages[index].from_source};
        for (const auto& trigger : triggers) {
            const auto refuse = [&](const std::string& why) {
                site.fail(program_.stages[index].from_source->keyword_pos,
                          "ONBUILD trigger " + parser::go_quote(trigger) + " of " + base_name + ": " + why);
            };
            auto parsed = std::make_unique<ParsedTrigger>();
            try {
                parsed->file = parser::parse_dockerfile("FROM scratch\n" + trigger + "\n", "ONBUILD");
            } catch (const parser::ParseError& e) {
                refuse(e.message());
            }
            if (parsed->file.instructions.size() != 2) refuse("a trigger must be exactly one instruction");
            const std::string keyword = parsed->file.instructions[1].keyword;
            if (keyword == "onbuild") refuse("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
            if (keyword == "from" || keyword == "maintainer")
                refuse(parser::ascii_upper(keyword) + " isn't allowed as an ONBUILD trigger");
            try {
                parsed->program = parser::to_program(parsed->file);
            } catch (const parser::ParseError& e) {
                refuse(e.message());
            }
            const parser::TypedInstruction& ti = parsed->program.stages.at(0).instructions.at(0);
            if (auto refused = refused_entitlement(options_, ti)) refuse(refused->second);
            if (const auto* copy = std::get_if<parser::CopyCmd>(&ti.command); copy && !copy->from.empty())
                if (auto dep = referenced_stage(copy->from, index); dep && !shared_.needed.count(*dep))
                    refuse("it copies from stage " + copy->from + ", which this build does not build");
            out.push_back(&ti);
            triggers_.push_back(std::move(parsed));
        }
        return out;
    }

    // Metadata-only steps: change the config, add a history entry (unless BuildKit records
    // none, as for ONBUILD), no layer.
    template <typename Mutate>
    bool metadata_step(const std::string& created_by, StageState& state, BuildVariables& vars, bool history,
                       Mutate&& mutate) {
        Digest key = step_key({state.key, created_by, vars.visible_args(), kPlatform, std::nullopt});
        if (restore_from_cache(key, state)) return true;
        mutate();
        if (history) state.config.add_history(created_by, true, created_time());
        record_step(key, state, false);
        return false;
    }

    // WORKDIR: a config change, plus a layer with the directories when the image lacks them
    // (BuildKit's mkdir, owned by the USER in effect). A cache hit needs neither.
    bool apply_workdir(const parser::WorkdirCmd& cmd, StageState& state, BuildVariables& vars) {
        auto edit = config_edit(parser::Command{cmd}, vars, state.config);
        Digest key = step_key({state.key, edit->created_by, vars.visible_args(), kPlatform, std::nullopt});
        if (restore_from_cache(key, state)) return true;
        ImageConfig after = state.config;
        edit->apply(after);
        const std::string dir = after.working_dir();
        materialize(state);
        auto rootfs = chain_tree(state.top_layer);
        if (!workdir_needs_dirs(*rootfs, dir)) {
            state.config = std::move(after);
            state.config.add_history(edit->created_by, true, created_time());
            record_step(key, state, false);
            return false;
        }
        const std::string user = state.config.user();
        const auto owner = user.empty() ? std::pair<uid_t, gid_t>{0, 0} : resolve_owner(user, *rootfs);
        layer_step(edit->created_by, state, [&](const image::Snapshot& snapshot) {
            make_workdir(dir, owner.first, owner.second, snapshot.upper_dir, *rootfs);
        });
        edit->apply(state.config);
        record_step(key, state, true);
        return false;
    }

    bool apply(const parser::FromCmd&, std::size_t, StageState&, BuildVariables&) {
        throw Error("internal: FROM inside a stage");
    }

    // Metadata instructions are config_edit's; they never get here.
    template <typename Metadata>
    bool apply(const Metadata&, std::size_t, StageState&, BuildVariables&) {
        throw Error("internal: a metadata instruction without a config edit");
    }

    bool apply(const parser::ArgCmd& cmd, std::size_t, StageState& state, BuildVariables& vars) {
        // History as BuildKit writes it: each name with the value it ends up with (a
        // --build-arg, the expanded default, or the global ARG's), bare when it has none.
        std::string text = "ARG";
        for (const auto& [name, value] : cmd.args) {
            std::optional<std::string> def;
            if (value) def = vars.expand(*value, state.config);
            if (!value && global_vars_->arg_value(name))
                vars.inherit_global(name, *global_vars_);
            else
                vars.declare_arg(name, def);
            const auto effective = vars.arg_value(name);
            text += " " + name + (effective ? "=" + *effective : "");
        }
        // ARG changes no config; its value is part of later keys through visible_args().
        return metadata_step(text, state, vars, true, [] {});
    }

    std::vector<std::string> command_args(const parser::CommandLine& line, const StageState& state) const {
        if (!line.shell_form) return line.args;
        auto args = state.config.shell();
        args.insert(args.end(), line.args.begin(), line.args.end());
        return args;
    }

    // Layer steps: prepare a snapshot, fill it, commit it as a layer.
    template <typename Fill>
    void layer_step(const std::string& created_by, StageState& state, Fill&& fill) {
        materialize(state);
        std::string key = "build-" + random_suffix();
        auto snapshot = store_.layers().prepare(key, state.top_layer);
        try {
            fill(snapshot);
            if (options_.source_date_epoch) clamp_tree_mtimes(snapshot.upper_dir, *options_.source_date_epoch);
        } catch (...) {
            store_.layers().remove(key);
            throw;
        }
        auto layer = store_.layers().commit(key);
        lease_.hold(layer.chain_id);
        state.config.add_layer(layer.diff_id);
        state.config.add_history(created_by, false, created_time());
        state.top_layer = layer.chain_id;
    }

    // RUN --network=default (or none given) takes the build's --network.
    std::string run_network(const parser::RunCmd& cmd) const {
        return cmd.network.empty() || cmd.network == "default" ? options_.run.network : cmd.network;
    }

    std::string created_time() const {
        return options_.source_date_epoch ? rfc3339_utc(*options_.source_date_epoch) : now_rfc3339();
    }

    bool apply(const parser::RunCmd& cmd, std::size_t index, StageState& state, BuildVariables& vars) {
        std::map<std::string, MountFrom> from;
        auto mounts = run_mounts(cmd, index, state, vars, from);
        RunMountInputs mount_inputs{store_, options_.context_dir, context_->tree(), context_->excluder(),
                                    std::move(from), options_.secrets, options_.ssh_sockets};
        std::string mounts_text;
        std::optional<Digest> mount_sources;
        try {
            check_run_mounts(mounts, mount_inputs);
            mount_sources = run_mount_sources_digest(mounts, mount_inputs);
        } catch (const parser::ParseError&) {
            throw;
        } catch (const Error& e) {
            fail_at("--mount", e.what());
        }
        for (const auto& m : mounts) mounts_text += "\n--mount " + run_mount_key_text(m);
        RunStepInput input{command_args(cmd.command, state), cmd.command.shell_form, cmd.heredocs,
                           state.config, vars.visible_args(), run_network(cmd) == "host",
                           cmd.security == "insecure"};  // both granted by --allow, checked before the build
        input.settings = &options_.run;
        auto args = run_step_args(input);
        std::string created_by = "RUN " + std::string(input.host_network ? "--network=host " : "") +
                                 std::string(input.insecure ? "--security=insecure " : "") +
                                 nlohmann::json(args).dump();
        Digest key = step_key({state.key, created_by + options_.run.cache_text() + mounts_text, vars.visible_args(),
                               kPlatform, mount_sources});
        if (restore_from_cache(key, state)) return true;
        layer_step(run_history_text(args, vars.declared_args(state.config)), state, [&](const image::Snapshot& snapshot) {
            std::optional<PreparedRunMounts> prepared;
            if (!mounts.empty()) {
                auto parent = chain_tree(state.top_layer);
                located([&] { prepared.emplace(mounts, mount_inputs, *parent); });
                input.mounts = &*prepared;
            }
            run_step(input, snapshot, out_);
        });
        record_step(key, state, true);
        return false;
    }

    bool apply(const parser::CopyCmd& cmd, std::size_t index, StageState& state, BuildVariables& vars) {
        std::vector<std::string> sources;
        for (const auto& s : cmd.sources) sources.push_back(vars.expand(s, state.config));
        std::string dest = vars.expand(cmd.dest, state.config);
        const std::string dest_as_written = dest;
        if (!dest.starts_with('/')) {
            bool dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
            dest = state.config.working_dir() + "/" + dest;
            if (dir && !dest.ends_with('/')) dest += '/';
        }

        materialize(state);  // the destination resolves in the parent's files
        auto lower = chain_tree(state.top_layer);
        // --link makes the layer as if on an empty image: nothing of the parent is read.
        const SourceTree* dest_tree = cmd.link ? nullptr : lower.get();
        std::optional<AddSources> add;  // ADD's downloads and archives
        if (cmd.is_add)
            add.emplace(store_, cmd, sources, dest, vars.expand(cmd.checksum, state.config), *lower,
                        options_.no_cache, [this](std::string_view needle, const std::string& message) {
                            fail_at(needle, message);
                        });
        CopyOptions options = located([&] { return copy_options(cmd, vars, state, *lower); });
        std::unique_ptr<SourceTree> from_tree;
        std::optional<Digest> from_top;  // the source's layer chain, when not the context
        const SourceTree* tree = &context_->tree();
        ExcludeFn excluded = context_->excluder();
        std::string from_text;
        if (!cmd.from.empty()) {
            std::string from = vars.expand(cmd.from, state.config);
            MountFrom source = stage_or_image(from, index, "COPY --from=");
            from_top = source.chain;
            from_tree = chain_tree(from_top);
            from_text = "--from=" + source.key + " ";
            tree = from_tree.get();
            excluded = nullptr;
            options.keep_owner = cmd.chown.empty();  // Docker keeps the source's owner
        }
        const auto& local_sources = add ? add->local_sources() : sources;
        auto heredocs = heredoc_sources(cmd.heredocs, [&](const std::string& body) {
            return located([&] { return vars.expand_raw(body, state.config); });
        });
        auto items = local_sources.empty() && heredocs.empty()
                         ? std::vector<CopyItem>{}
                         : located([&] {
                               return plan_copy(*tree, local_sources, heredocs, add ? add->destination() : dest,
                                                dest_tree, excluded, CopyPlanFlags{cmd.parents});
                           });
        // Layers never change, so a chain ID already names the bytes of everything in it:
        // sources from another stage or image are keyed by it instead of being read again.
        Digest sources_digest = from_tree ? chain_sources_digest(from_top, items, options)
                                          : digest_copy(*tree, items, options, excluded);
        if (add) sources_digest = add->key(sources_digest, options);
        std::string exclude_text;
        for (const auto& pattern : cmd.excludes) exclude_text += "--exclude=" + pattern + " ";

        std::string created_by = std::string(cmd.is_add ? "ADD " : "COPY ") + from_text +
                                 (cmd.chown.empty() ? "" : "--chown=" + cmd.chown + " ") +
                                 (cmd.chmod.empty() ? "" : "--chmod=" + cmd.chmod + " ") +
                                 (cmd.parents ? "--parents " : "") + exclude_text + (add ? add->flags_text() : "") +
                                 nlohmann::json(sources).dump() + " " + dest;
        std::string display =
            copy_history_text({cmd.is_add, cmd.parents, vars.expand(cmd.chown, state.config),
                               vars.expand(cmd.chmod, state.config), sources, dest_as_written});
        auto fill = [&](const image::Snapshot& snapshot) {
            if (add) add->unpack_archives(*tree, items, options, snapshot.upper_dir, dest_tree);
            located([&] { apply_copy(*tree, items, options, excluded, snapshot.upper_dir, dest_tree); });
            if (add) add->write_downloads(options, snapshot.upper_dir, dest_tree);
        };
        if (cmd.link) return linked_step("--link " + created_by, display, sources_digest, vars, state, fill);
        Digest key = step_key({state.key, created_by, vars.visible_args(), kPlatform, sources_digest});
        if (!from_tree)
            pending_listing_ = [&, tree, excluded] {
                std::vector<SourceEntry> listing;
                digest_copy(*tree, items, options, excluded, &listing);
                return listing;
            };
        if (restore_from_cache(key, state)) {
            if (add) add->keep();
            return true;
        }
        layer_step(display, state, fill);
        if (add) add->keep();
        record_step(key, state, true);
        return false;
    }

    // The layers of a stage built before `index`, or of an image (pulled if need be).
    MountFrom stage_or_image(const std::string& name, std::size_t index, const std::string& what) {
        if (auto dep = referenced_stage(name, index)) {
            const StageState& source = built_stage(*dep);
            materialize(source);
            return {source.top_layer, source.key.str()};
        }
        std::optional<Digest> id;
        try {
            id = external_image(name);
        } catch (const Error& e) {
            throw Error(what + name + ": no such stage, and " + e.what());
        }
        auto config = ImageConfig::from_base(nlohmann::json::parse(store_.images().config(*id)));
        std::optional<Digest> top;
        for (const auto& d : config.diff_ids()) top = image::chain_id(top, d);
        return {top, id->str()};
    }

    // RUN --mount with build args expanded, checked, and the stages and images they name.
    std::vector<RunMountSpec> run_mounts(const parser::RunCmd& cmd, std::size_t index, const StageState& state,
                                         BuildVariables& vars, std::map<std::string, MountFrom>& from) {
        std::vector<RunMountSpec> specs;
        int ssh_index = 0;
        for (const auto& mount : cmd.mounts) {
            std::map<std::string, std::string> options;
            for (const auto& [key, value] : mount.options) options[key] = vars.expand(value, state.config);
            try {
                specs.push_back(parse_run_mount(options, options["type"] == "ssh" ? ssh_index++ : 0));
                const auto& name = specs.back().from;
                if (!name.empty() && !from.contains(name)) from.emplace(name, stage_or_image(name, index, "--mount from="));
            } catch (const parser::ParseError&) {
                throw;
            } catch (const Error& e) {
                fail_at("--mount", e.what());
            }
        }
        return specs;
    }

    // An error about the instruction being built, at its file:line:col.
    [[noreturn]] void fail_at(std::string_view needle, const std::string& message) const {
        if (!current_source_) throw Error(message);
        parser::typed::Site{file_, *current_source_}.fail_at(needle, message);
    }

    // COPY --link: the layer's own key leaves the parent out, so the same sources give the
    // same layer on any base; the step's key (what later steps chain from) keeps it.
    template <typename Fill>
    bool linked_step(const std::string& created_by, const std::string& display, const Digest& sources,
                     BuildVariables& vars, StageState& state, Fill&& fill) {
        Digest layer_key = cache_key({std::nullopt, created_by, vars.visible_args(), kPlatform, sources});
        Digest key = step_key({state.key, "linked " + layer_key.str(), {}, kPlatform, std::nullopt});
        if (restore_from_cache(key, state)) return true;
        if (!options_.no_cache && stack_linked_layer(layer_key, display, state)) {
            record_step(key, state, true);
            return true;
        }
        layer_step(display, state, fill);
        store_.db().cache_put(layer_key.str(), state.top_layer->str(), "layer", current_step_);
        record_step(key, state, true);
        return false;
    }

    // A layer an earlier --link step made, put on this parent: the same files, so the same
    // diffID (its tar is written again and applied on top of the new chain).
    bool stack_linked_layer(const Digest& layer_key, const std::string& display, StageState& state) {
        auto chain = store_.db().cache_get(layer_key.str());
        if (!chain || !Digest::valid(*chain)) return false;
        auto layer = store_.layers().get(Digest::parse(*chain));
        if (!layer) return false;
        materialize(state);
        image::LayerInfo placed = *layer;
        if (layer->parent != state.top_layer) {
            UniqueFd tar(::memfd_create("kiln-linked-layer", MFD_CLOEXEC));
            if (!tar) throw_errno("memfd_create");
            image::write_layer_tar(layer->diff_dir, [&](const void* data, std::size_t size) {
                write_all(tar.get(), std::string_view(static_cast<const char*>(data), size), "the linked layer");
            });
            if (::lseek(tar.get(), 0, SEEK_SET) != 0) throw_errno("rewind the linked layer");
            placed = store_.layers().apply_tar(tar.get(), state.top_layer);
            if (placed.diff_id != layer->diff_id) return false;
        }
        lease_.hold(placed.chain_id);
        state.config.add_layer(placed.diff_id);
        state.config.add_history(display, false, created_time());
        state.top_layer = placed.chain_id;
        return true;
    }

    static Digest chain_sources_digest(const std::optional<Digest>& chain, const std::vector<CopyItem>& items,
                                       const CopyOptions& options) {
        nlohmann::json selection = nlohmann::json::array();
        for (const auto& item : items)
            selection.push_back({item.source, item.destination, item.contents_only, item.directory_only});
        // What the copy does with the entries beyond their selection.
        std::string how = options.keep_owner ? "\nowners kept" : "";
        return sha256_of((chain ? chain->str() : "no-layers") + "\n" + selection.dump() + how);
    }

    CopyOptions copy_options(const parser::CopyCmd& cmd, BuildVariables& vars, const StageState& state,
                             const SourceTree& rootfs) {
        CopyOptions options;
        if (!cmd.chown.empty() && cmd.link) {
            // As BuildKit: --link reads no /etc/passwd of the parent, so only numbers.
            std::string spec = vars.expand(cmd.chown, state.config);
            auto colon = spec.find(':');
            std::string user = spec.substr(0, colon);
            std::string group = colon == std::string::npos ? "" : ":" + spec.substr(colon + 1);
            if (user == "root") user = "0";
            if (group == ":root") group = ":0";
            try {
                auto owner = resolve_owner(user + group, LayerChainTree(std::vector<std::string>{}));
                options.uid = owner.first;
                options.gid = owner.second;
            } catch (const Error&) {
                fail_at("--chown", "COPY --link --chown=" + spec +
                                            ": only numeric IDs (--link reads nothing of the parent image)");
            }
        } else if (!cmd.chown.empty()) {
            auto owner = resolve_owner(vars.expand(cmd.chown, state.config), rootfs);
            options.uid = owner.first;
            options.gid = owner.second;
        }
        if (!cmd.chmod.empty()) {
            options.chmod = ChmodSpec::parse(vars.expand(cmd.chmod, state.config));
            if (!options.chmod->symbolic()) options.mode = options.chmod->apply(0, false);
        }
        if (!cmd.excludes.empty()) {
            std::vector<std::string> patterns;
            for (const auto& pattern : cmd.excludes) patterns.push_back(vars.expand(pattern, state.config));
            options.excludes = std::make_shared<parser::PatternMatcher>(patterns);
        }
        return options;
    }

    // Runs step; a plain error from it is reported at the instruction being built
    // (file:line:col), as the parser reports its own.
    template <typename Step>
    auto located(Step&& step) -> decltype(step()) {
        try {
            return step();
        } catch (const parser::ParseError&) {
            throw;
        } catch (const Error& e) {
            if (!current_source_) throw;
            parser::typed::Site{file_, *current_source_}.fail(current_source_->keyword_pos, e.what());
        }
    }

    SharedBuild& shared_;
    image::Store& store_;
    const BuildOptions& options_;
    StageProgress out_;
    const parser::Dockerfile& file_;
    const parser::Program& program_;
    BuildContext* const context_;
    const BuildVariables* const global_vars_;
    // ONBUILD triggers of base images, parsed: their steps point into these.
    struct ParsedTrigger {
        parser::Dockerfile file;
        parser::Program program;
    };
    std::vector<std::unique_ptr<ParsedTrigger>> triggers_;
    const ImageConfig& empty_config_;
    std::vector<std::optional<StageState>>& stage_states_;
    BuildResult result_;
    image::ProcessLease& lease_;
    std::string current_step_;  // the instruction being built, as the cache records it
    // --explain-cache bookkeeping: the inputs of the step being keyed (its per-file
    // listing made only when needed: a cached step never pays for it), and whether the
    // step before missed.
    std::optional<StepInputs> pending_inputs_;
    std::function<std::vector<SourceEntry>()> pending_listing_;
    bool previous_missed_ = false;
    const parser::Instruction* current_source_ = nullptr;  // its place in the Dockerfile
    const std::size_t building_stage_;
    const std::set<std::size_t>& no_cache_stages_;
    const std::size_t target_stage_;
};

// Reads the Dockerfile, checks the whole build, builds the stages the target needs (at
// once where they are independent) and stores the target as the image.
class BuildRun {
public:
    BuildRun(image::Store& store, const BuildOptions& options, std::ostream& out)
        : shared_(store, options, out), store_(store), options_(options), out_(out) {}

    BuildResult run() {
        const image::Platform target_platform = build_target_platform(options_.platform);
        std::string dockerfile_path = options_.dockerfile_text ? "Dockerfile"
                                      : options_.dockerfile.empty()
                                          ? options_.context_dir + "/Dockerfile"
                                          : options_.dockerfile;
        std::string text;
        if (options_.dockerfile_text) text = *options_.dockerfile_text;
        else try {
            text = read_file(dockerfile_path);
        } catch (const Error& e) {
            throw Error("cannot read Dockerfile: " + std::string(e.what()));
        }
        if (text.size() > parser::kMaxDockerfileSize)
            throw Error(dockerfile_path + ": Dockerfile larger than " +
                        std::to_string(parser::kMaxDockerfileSize >> 20) + " MiB");
        file_ = parser::parse_dockerfile(text, dockerfile_path);
        program_ = parser::to_program(file_);
        if (program_.stages.empty()) throw Error(dockerfile_path + ": no FROM instruction");
        run_lint();

        // A Dockerfile from stdin has no <Dockerfile>.dockerignore beside it.
        shared_.context = std::make_unique<BuildContext>(options_.context_dir, options_.dockerfile_text ? "" : dockerfile_path,
                                                  store_, !options_.context_is_scratch);
        if (options_.explain_cache) shared_.earlier_inputs = remembered_inputs(store_.db());
        auto& global_vars = shared_.global_vars;
        global_vars = std::make_unique<BuildVariables>(file_.escape, options_.build_args);
        // BuildKit's automatic platform ARGs live in the global scope: FROM lines see them,
        // a stage sees one after `ARG NAME`.
        for (const auto& [name, value] : automatic_platform_args(image::host_platform(), target_platform))
            global_vars->declare_arg(name, value);
        for (const auto& arg : program_.global_args)
            for (const auto& [name, value] : arg.args)
                global_vars->declare_arg(name, value ? std::optional(global_vars->expand(*value, shared_.empty_config)) : std::nullopt);

        std::size_t target = program_.stages.size() - 1;
        if (!options_.target.empty()) {
            auto idx = stage_index(program_, options_.target);
            if (!idx) throw Error("target stage \"" + options_.target + "\" could not be found");
            target = *idx;
        }
        const StageGraph graph = stage_graph(program_, [this](const std::string& word) { return expand_global(word); });
        const std::set<std::size_t>& needed = shared_.needed = needed_stages(graph, target);
        for (const auto& name : options_.no_cache_stages)
            if (auto idx = stage_index(program_, name)) shared_.no_cache_stages.insert(*idx);  // unknown names: ignored, as BuildKit
        check_entitlements(needed);
        check_platforms(needed);
        shared_.target_stage = target;
        shared_.stage_states.resize(program_.stages.size());
        shared_.stage_results.resize(program_.stages.size());
        StageScheduler scheduler(
            graph, needed, build_jobs(options_),
            [this](std::size_t stage) {
                Builder builder(shared_, stage);
                shared_.stage_states[stage] = builder.run_stage();
                shared_.stage_results[stage] = builder.result();
            },
            [this] { shared_.progress.cancel(); });
        shared_.scheduler = &scheduler;
        try {
            scheduler.run();
        } catch (...) {
            // What was learned about the context is true whether or not the build failed.
            shared_.context->save_digests();
            throw;
        }
        shared_.context->save_digests();

        BuildResult result;
        // In stage order, as a serial build records them.
        for (const auto& stage_result : shared_.stage_results) {
            result.steps += stage_result.steps;
            result.cached_steps += stage_result.cached_steps;
            result.exported_steps.insert(result.exported_steps.end(), stage_result.exported_steps.begin(),
                                         stage_result.exported_steps.end());
            result.target_steps.insert(result.target_steps.end(), stage_result.target_steps.begin(),
                                       stage_result.target_steps.end());
        }
        const StageState& final_state = *shared_.stage_states[target];
        Builder(shared_, target).fetch_layers(final_state);
        ImageConfig final_config = final_state.config;
        for (const auto& [key, value] : options_.labels) final_config.set_label(key, value);
        std::string config = final_config.serialize();
        Digest image_id = store_.images().put_image(config);
        for (const auto& tag : options_.tags) {
            std::string name = image::parse_reference(tag).str();
            store_.images().tag(name, image_id);
        }
        result.image_id = image_id;
        return result;
    }


private:
    // BuildKit's checks run with every build: warnings are printed, and `# check=error=true`
    // makes them fail the build before anything runs.
    void run_lint() {
        parser::LintOptions options;
        options.base_env = [this](const std::string& image) -> std::optional<std::vector<std::string>> {
            auto ref = image::try_parse_reference(image);
            auto id = ref ? store_.images().resolve(ref->str()) : std::nullopt;
            if (!id) return std::nullopt;
            std::vector<std::string> names;
            auto config = ImageConfig::from_base(nlohmann::json::parse(store_.images().config(*id)));
            for (const auto& entry : config.env()) names.push_back(entry.substr(0, entry.find('=')));
            return names;
        };
        auto result = parser::lint(file_, options);
        if (!options_.quiet)
            for (const auto& warning : result.warnings)
                out_ << "WARNING: " << warning.rule << ": " << warning.message << " ("
                     << file_.filename << ":" << warning.position.line << ")\n";
        if (result.failed())
            throw Error(std::to_string(result.warnings.size()) +
                        " lint check(s) failed and the Dockerfile asks for # check=error=true");
    }

    std::string expand_global(const std::string& word) const {
        return shared_.global_vars->expand(word, shared_.empty_config);
    }

    static unsigned build_jobs(const BuildOptions& options) {
        if (options.jobs > 0) return static_cast<unsigned>(options.jobs);
        return std::max(1u, std::thread::hardware_concurrency());
    }

    // Before any step runs, as BuildKit validates the whole build first: a Dockerfile
    // from a stranger must not reach the host's network or drop the sandbox unasked.
    void check_entitlements(const std::set<std::size_t>& needed) const {
        for (std::size_t i : needed)
            for (const auto& ti : program_.stages[i].instructions) {
                auto refused = refused_entitlement(options_, ti);
                if (!refused) continue;
                if (!ti.source) throw Error(refused->second);
                parser::typed::Site{file_, *ti.source}.fail_at(refused->first, refused->second);
            }
    }

    // FROM --platform, expanded with the global ARGs: only this machine's platform builds,
    // checked before any step runs.
    void check_platforms(const std::set<std::size_t>& needed) const {
        for (std::size_t i : needed) {
            const auto& stage = program_.stages[i];
            if (stage.from.platform.empty() || !stage.from_source) continue;
            const parser::typed::Site site{file_, *stage.from_source};
            const std::string text = expand_global(stage.from.platform);
            image::Platform platform;
            try {
                platform = image::parse_platform(text);
            } catch (const Error& e) {
                site.fail_at("--platform", "FROM --platform=" + text + ": " + e.what());
            }
            if (!builds_here(platform))
                site.fail_at("--platform", foreign_platform_message("FROM --platform=" + text, platform));
        }
    }
    SharedBuild shared_;
    image::Store& store_;
    const BuildOptions& options_;
    std::ostream& out_;
    parser::Dockerfile& file_ = shared_.file;
    parser::Program& program_ = shared_.program;
};

}  // namespace

BuildResult build(image::Store& store, const BuildOptions& options, std::ostream& progress) {
    return BuildRun(store, options, progress).run();
}

}  // namespace kiln::builder
