#pragma once
// Containers kept in the store (DESIGN "Store"): a row in kiln.db's `containers` table and
// containers/<id>/ holding config.json, the json-file log and, once it has stopped, the
// exit record its monitor (or kiln run) wrote; the writable layer is the layer store's
// kept snapshot "container-<id>". Any kiln process can read and change them: whether a
// container runs is its runtime dir's lock (runtime_dir.hpp), not a daemon's memory.
#include <optional>
#include <string>
#include <vector>

#include "image/metadata_db.hpp"
#include "util/fd.hpp"
#include "runtime/container_config.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::runtime {

using ContainerRow = image::ContainerRow;

struct ContainerPaths {
    std::string dir, config, log, exit;
    // Present once the OOM killer struck during the last run (written by kiln run or the
    // monitor, removed when the container starts again): Docker's State.OOMKilled.
    std::string oom_killed;
};

class ContainerRecords {
public:
    explicit ContainerRecords(image::Store& store);

    ContainerPaths paths(const std::string& id) const;

    // Records a new container from `config` (its id set; an empty name gets a generated
    // one, written back): row, folder, config.json, kept snapshot over config.top_layer
    // and a lease on that layer. All or nothing; a name in use is Docker's Conflict error.
    ContainerRow create(ContainerConfig& config);
    // The same for `kiln run`: the row reads "starting" (Docker's "created") while this
    // object lives and holds containers/<id>/ locked; if this process dies before the
    // start, later readers take it as exited (removed, with --rm).
    ContainerRow create_for_run(ContainerConfig& config);

    // A full id, a name (with or without '/') or a unique id prefix, as Docker resolves
    // them. Throws kiln::Error "No such container: REF" or, for an ambiguous prefix,
    // "multiple IDs found with provided prefix: REF".
    ContainerRow resolve(const std::string& ref);

    // Every container, newest first, with current states.
    std::vector<ContainerRow> list();
    // The row with its state made current: a "running" one whose runtime dir nobody
    // holds any more has exited (with the code its monitor recorded, or 137 if the
    // monitor itself was killed). One created with --rm is then removed: its state reads
    // "removed".
    ContainerRow refresh(ContainerRow row);

    ContainerConfig config(const ContainerRow& row) const;

    void mark_running(const std::string& id, pid_t pid);
    // Before a start: the last run's exit record and OOM marker go, so that what the new
    // run's monitor writes (even before mark_running) is the only record.
    void clear_exit_record(const std::string& id);
    void mark_exited(const std::string& id, int exit_code, const std::string& error = "", bool oom_killed = false);
    // Whether the OOM killer struck during the container's last run.
    bool oom_killed(const std::string& id) const;

    // Docker's rename: new_name is checked (validate_container_name) and must differ from
    // the current one and be free; throws kiln::Error in Docker's words otherwise.
    void rename(const ContainerRow& row, const std::string& new_name);

    // Records the container's networks as `network connect`/`disconnect` changed them.
    void set_network(const ContainerRow& row, const NetworkConfig& network);

    // Removes a container that does not run: snapshot, lease, folder, row. Throws if it runs.
    // With remove_volumes (`rm -v`), or for a --rm container, its anonymous volumes go too.
    void remove(const ContainerRow& row, bool remove_volumes = false);

private:
    ContainerRow insert(ContainerConfig& config, const std::string& state);

    image::Store& store_;
    std::vector<UniqueFd> starting_locks_;
};

// The kept snapshot key of a container's writable layer.
std::string container_snapshot_key(const std::string& id);

// Unix nanoseconds now.
std::int64_t unix_now_ns();

}  // namespace kiln::runtime
