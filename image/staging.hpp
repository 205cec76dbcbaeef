#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/fd.hpp"

namespace kiln::image {

// Entries in the store's tmp/ (and snapshots/) are flock()ed by the process that owns them
// for as long as it works on them. A later open of the store removes only entries nobody
// holds a lock on, so a kill -9 leaves garbage that is cleaned, while another kiln process's
// work in progress is never touched. No daemon needed.

// A file being written in tmp/: unlinked on destruction unless committed.
class StagingFile {
public:
    StagingFile(const std::string& tmp_dir, const std::string& prefix);
    ~StagingFile();
    StagingFile(const StagingFile&) = delete;
    StagingFile& operator=(const StagingFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }
    void write(const void* data, std::size_t size);
    // fsyncs, closes and renames the file to dest (durably).
    void commit(const std::string& dest, mode_t mode = 0444);

private:
    std::string path_;
    UniqueFd fd_;
    std::uint64_t written_ = 0;  // bytes so far
    std::uint64_t flushed_ = 0;  // bytes handed to writeback already
};

// A directory being built in tmp/: removed on destruction unless released. The lock is held
// on the directory inode, so it stays held after the directory is renamed elsewhere.
class StagingDir {
public:
    StagingDir(const std::string& tmp_dir, const std::string& prefix);
    ~StagingDir();
    StagingDir(const StagingDir&) = delete;
    StagingDir& operator=(const StagingDir&) = delete;

    const std::string& path() const { return path_; }
    // The directory is no longer removed on destruction; the returned fd keeps it locked.
    UniqueFd release();

private:
    std::string path_;
    UniqueFd lock_;
};

// 16 random hex digits: a name for a new entry of a store folder.
std::string random_hex_name();

// Moves the directory path to a fresh prefix-named entry of tmp_dir and removes it from
// there, so it leaves its place at once and a crash part-way leaves only a tmp/ entry for
// the next cleanup (whose age guard spares it meanwhile: the rename set its ctime). A
// missing path is not an error; a failure of the removal itself is left to that cleanup.
void move_aside_and_remove(const std::string& path, const std::string& tmp_dir, const std::string& prefix);

// Takes an exclusive, non-blocking flock on path (a file or directory). Returns an empty
// fd if another process holds it or path cannot be opened.
UniqueFd try_lock_path(const std::string& path);

// Names in dir (without "." and ".."), sorted; empty if dir cannot be read.
std::vector<std::string> list_dir_names(const std::string& dir);

// Removes every entry of dir that is unlocked and older than min_age_seconds (the age
// guards the instant between an entry's creation and its owner's flock). If given,
// release_entry(name) runs first, with the entry's lock held, to undo what the entry
// stands for outside dir; when it returns false the entry is kept for a later sweep.
// An entry for which spared(name) holds is passed over before anything else, its lock
// not even tried (what can never be stale: the snapshot of a container).
void remove_stale_entries(const std::string& dir, long min_age_seconds,
                          const std::function<bool(const std::string& name)>& release_entry = {},
                          const std::function<bool(const std::string& name)>& spared = {});

}  // namespace kiln::image
