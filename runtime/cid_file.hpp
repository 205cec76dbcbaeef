#pragma once
// `--cidfile FILE`, the docker CLI's way: the file is created (exclusively: an existing
// one is an error, it may belong to a container still running) before the container, gets
// its full id once it exists, and is removed again if the container is not kept.
#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

class CidFile {
public:
    // An empty path: no file. Throws kiln::Error if the file exists or cannot be created.
    explicit CidFile(const std::string& path);
    ~CidFile();  // removes the file unless keep() was called
    CidFile(const CidFile&) = delete;
    CidFile& operator=(const CidFile&) = delete;

    void write(const std::string& id);
    // The container stays: so does the file.
    void keep() { kept_ = true; }

private:
    std::string path_;
    UniqueFd fd_;
    bool kept_ = false;
};

}  // namespace kiln::runtime
