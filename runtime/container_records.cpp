#include "runtime/container_records.hpp"

#include "runtime/network/leases.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstdlib>

#include "image/staging.hpp"
#include "image/store.hpp"
#include "runtime/container_names.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/volume_usage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<std::uint64_t>(unix_now_ns());
    return seed;
}

std::string lease_owner(const std::string& id) { return "container:" + id; }

std::string name_conflict(const std::string& name, const std::string& holder_id) {
    return "Conflict. The container name \"/" + name + "\" is already in use by container \"" + holder_id +
           "\". You have to remove (or rename) that container to be able to reuse that name.";
}

}  // namespace

std::string container_snapshot_key(const std::string& id) { return "container-" + id; }

std::int64_t unix_now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

ContainerRecords::ContainerRecords(image::Store& store) : store_(store) {}

ContainerPaths ContainerRecords::paths(const std::string& id) const {
    std::string dir = store_.root() + "/containers/" + id;
    return {dir, dir + "/config.json", dir + "/" + id + "-json.log", dir + "/exit", dir + "/oom_killed"};
}

ContainerRow ContainerRecords::create(ContainerConfig& config) { return insert(config, "created"); }

ContainerRow ContainerRecords::create_for_run(ContainerConfig& config) {
    auto row = insert(config, "starting");
    UniqueFd lock = image::try_lock_path(paths(row.id).dir);
    if (!lock) throw Error("cannot lock " + paths(row.id).dir);
    starting_locks_.push_back(std::move(lock));
    return row;
}

ContainerRow ContainerRecords::insert(ContainerConfig& config, const std::string& state) {
    auto& db = store_.db();
    ContainerRow row;
    row.id = config.id;
    row.image = config.image;
    row.image_id = config.image_id;
    row.created_ns = config.created_ns;
    row.state = state;
    const bool named = !config.name.empty();
    const std::uint64_t seed = random_seed();
    for (int attempt = 0;; ++attempt) {
        row.name = named ? config.name : generated_container_name(seed + static_cast<std::uint64_t>(attempt) * 7919, attempt);
        config.name = row.name;
        row.config = config_to_json(config);
        if (db.container_insert(row)) break;
        if (named) {
            auto holder = db.container_by_name(row.name);
            throw Error(name_conflict(row.name, holder ? holder->id : std::string("?")));
        }
        if (attempt > 50) throw Error("could not generate a unique container name");
    }
    const ContainerPaths p = paths(row.id);
    try {
        mkdir_p(p.dir);
        // A copy for people and tools: the row holds the config kiln reads.
        atomic_write(p.config, row.config, 0644, Durability::not_needed);
        std::optional<Digest> top;
        if (config.top_layer) top = Digest::parse(*config.top_layer);
        if (top) db.lease_add(lease_owner(row.id), *top);
        store_.layers().prepare_kept(container_snapshot_key(row.id), top);
    } catch (...) {
        db.lease_release(lease_owner(row.id));
        try {
            remove_all(p.dir);
        } catch (const Error&) {
        }
        db.container_delete(row.id);
        throw;
    }
    return row;
}

ContainerRow ContainerRecords::resolve(const std::string& ref) {
    auto& db = store_.db();
    std::optional<ContainerRow> found = db.container_get(ref);
    if (!found) found = db.container_by_name(ref.starts_with('/') ? ref.substr(1) : ref);
    if (!found) {
        auto ids = db.containers_with_prefix(ref);
        if (ids.size() > 1) throw Error("multiple IDs found with provided prefix: " + ref);
        if (ids.size() == 1) found = db.container_get(ids.front());
    }
    if (found) {
        auto row = refresh(std::move(*found));
        if (row.state != "removed") return row;
    }
    throw Error("No such container: " + ref);
}

std::vector<ContainerRow> ContainerRecords::list() {
    std::vector<ContainerRow> rows;
    for (auto& row : store_.db().list_containers()) {
        row = refresh(std::move(row));
        if (row.state != "removed") rows.push_back(std::move(row));
    }
    reconcile_leases();  // `ps` frees the addresses of containers whose monitor was killed
    return rows;
}

ContainerRow ContainerRecords::refresh(ContainerRow row) {
    if (row.state == "starting") {
        if (!image::try_lock_path(paths(row.id).dir)) return row;  // its kiln run is alive
    } else if (row.state != "running" || runtime_dir_locked(row.id)) {
        return row;
    }
    const std::string seen = row.state;
    row.state = "exited";
    row.pid = 0;
    row.exit_code = 137;
    row.finished_ns = unix_now_ns();
    try {
        std::string text = read_file(paths(row.id).exit);
        char* end = nullptr;
        row.exit_code = std::strtol(text.c_str(), &end, 10);
        row.finished_ns = std::strtoll(end, nullptr, 10);
    } catch (const Error&) {
        row.error = "the container's monitor was killed";
    }
    {
        // Another kiln may have started it again, or recorded the exit, since it was read.
        image::MetadataDb::Transaction tx(store_.db());
        auto current = store_.db().container_get(row.id);
        if (!current) return ContainerRow{row.id, row.name, "", "", 0, "removed", 0, 0, 0, 0, "", ""};
        if (current->state != seen || current->started_ns != row.started_ns) return *current;
        store_.db().container_set_state(row);
        tx.commit();
    }
    // `kiln run --rm` killed before it could remove its container: done here instead.
    if (config(row).auto_remove) {
        remove(row);
        row.state = "removed";
    }
    return row;
}

ContainerConfig ContainerRecords::config(const ContainerRow& row) const { return config_from_json(row.config); }

void ContainerRecords::mark_running(const std::string& id, pid_t pid) {
    auto row = store_.db().container_get(id);
    if (!row) return;
    row->state = "running";
    row->pid = pid;
    row->exit_code = 0;
    row->error.clear();
    row->started_ns = unix_now_ns();
    row->finished_ns = 0;
    store_.db().container_set_state(*row);
}

void ContainerRecords::clear_exit_record(const std::string& id) {
    ::unlink(paths(id).exit.c_str());
    ::unlink(paths(id).oom_killed.c_str());
}

bool ContainerRecords::oom_killed(const std::string& id) const { return path_exists(paths(id).oom_killed); }

void ContainerRecords::mark_exited(const std::string& id, int exit_code, const std::string& error, bool oom_killed) {
    auto row = store_.db().container_get(id);
    if (!row) return;
    row->state = "exited";
    row->pid = 0;
    row->exit_code = exit_code;
    row->error = error;
    row->finished_ns = unix_now_ns();
    // A later reader must not take an older exit record for this run's.
    ::unlink(paths(id).exit.c_str());
    if (oom_killed)
        atomic_write(paths(id).oom_killed, "");
    else
        ::unlink(paths(id).oom_killed.c_str());
    store_.db().container_set_state(*row);
}

void ContainerRecords::rename(const ContainerRow& row, const std::string& new_name) {
    const std::string bare = new_name.starts_with('/') ? new_name.substr(1) : new_name;
    if (bare == row.name) throw Error("Renaming a container with the same name as its current name");
    std::string name;
    try {
        name = validate_container_name(new_name);
    } catch (const Error& e) {
        throw Error(std::string("Error when allocating new name: ") + e.what());
    }
    auto config = config_from_json(row.config);
    config.name = name;
    const std::string json = config_to_json(config);
    if (!store_.db().container_rename(row.id, name, json)) {
        auto holder = store_.db().container_by_name(name);
        if (!holder) throw Error("No such container: " + row.id);
        throw Error("Error when allocating new name: " + name_conflict(name, holder->id));
    }
    atomic_write(paths(row.id).config, json, 0644, Durability::not_needed);
}

void ContainerRecords::set_network(const ContainerRow& row, const NetworkConfig& network) {
    auto config = config_from_json(store_.db().container_get(row.id).value_or(row).config);
    config.network = network;
    const std::string json = config_to_json(config);
    store_.db().container_set_config(row.id, json);
    atomic_write(paths(row.id).config, json, 0644, Durability::not_needed);
}

void ContainerRecords::remove(const ContainerRow& row, bool remove_volumes) {
    if (runtime_dir_locked(row.id))
        throw Error("You cannot remove a running container " + row.id +
                    ". Stop the container before attempting removal or force remove");
    remove_stale_runtime_dir(row.id);
    reconcile_leases();
    store_.layers().remove(container_snapshot_key(row.id));
    store_.db().lease_release(lease_owner(row.id));
    remove_all(paths(row.id).dir);
    store_.db().container_delete(row.id);
    ContainerConfig removed;
    try {
        removed = config_from_json(row.config);
    } catch (const Error&) {
        return;  // a record kiln cannot read names no volume it can tell
    }
    if (remove_volumes || removed.auto_remove) remove_anonymous_volumes(store_, removed);
}

}  // namespace kiln::runtime
