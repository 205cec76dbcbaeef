#include "image/archive_output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "image/tar_header.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kBufferSize = 1u << 20;

// Buffered writes to an fd (a pipe, a terminal-less stdout, a staged file).
class FdWriter {
public:
    FdWriter(int fd, std::string what) : fd_(fd), what_(std::move(what)), buf_(kBufferSize) {}

    void write(const void* data, std::size_t n) {
        if (n >= kBufferSize) {
            flush();
            write_all(fd_, std::string_view(static_cast<const char*>(data), n), what_);
            return;
        }
        if (used_ + n > buf_.size()) flush();
        std::memcpy(buf_.data() + used_, data, n);
        used_ += n;
    }
    void zeros(std::size_t n) {
        static const char kZeros[kTarBlock * 2] = {};
        while (n > 0) {
            std::size_t take = std::min(n, sizeof kZeros);
            write(kZeros, take);
            n -= take;
        }
    }
    void flush() {
        if (used_ == 0) return;
        write_all(fd_, std::string_view(buf_.data(), used_), what_);
        used_ = 0;
    }

private:
    int fd_;
    std::string what_;
    std::vector<char> buf_;
    std::size_t used_ = 0;
};

class TarOutput : public ArchiveOutput {
public:
    TarOutput(int fd, std::int64_t mtime) : out_(fd, "write the archive"), mtime_(mtime) {}

    void add_directory(const std::string& path) override { header(path + "/", '5', 0755, 0); }

    void add_bytes(const std::string& path, std::string_view data, mode_t mode) override {
        header(path, '0', mode, data.size());
        out_.write(data.data(), data.size());
        out_.zeros(tar_padding(data.size()));
    }

    void add_stream(const std::string& path, std::uint64_t size, mode_t mode,
                    const std::function<void(const ByteSink&)>& produce) override {
        header(path, '0', mode, size);
        std::uint64_t written = 0;
        produce([&](const void* d, std::size_t n) {
            written += n;
            // A tar header already promised the size: more would corrupt every later entry.
            if (written > size)
                throw Error("archive entry " + path + " grew beyond its " + std::to_string(size) + " bytes");
            out_.write(d, n);
        });
        if (written != size)
            throw Error("archive entry " + path + " has " + std::to_string(written) + " bytes, expected " +
                        std::to_string(size));
        out_.zeros(tar_padding(size));
    }

    void finish() override {
        out_.zeros(2 * kTarBlock);
        out_.flush();
    }

private:
    void header(const std::string& path, char type, mode_t mode, std::uint64_t size) {
        TarHeader h;
        h.name = path;
        h.type = type;
        h.mode = mode;
        h.size = size;
        h.mtime = mtime_;
        std::string blocks;
        append_tar_header(blocks, h);
        out_.write(blocks.data(), blocks.size());
    }

    FdWriter out_;
    std::int64_t mtime_;
};

class DirectoryOutput : public ArchiveOutput {
public:
    explicit DirectoryOutput(std::string dest) : dest_(clean_path(dest)) {
        auto slash = dest_.rfind('/');
        std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dest_.substr(0, slash);
        struct stat st;
        if (::lstat(dest_.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode) || ::rmdir(dest_.c_str()) != 0)
                throw Error("output directory " + dest_ + " exists and is not empty");
            replaced_empty_ = true;
        }
        stage_ = std::make_unique<TempDir>(parent, ".kiln-save-");
    }
    ~DirectoryOutput() override {
        if (replaced_empty_ && !done_) ::mkdir(dest_.c_str(), 0755);
    }

    void add_directory(const std::string& path) override { mkdir_p(safe_join(stage_->path(), path)); }

    void add_bytes(const std::string& path, std::string_view data, mode_t mode) override {
        UniqueFd fd = create(path, mode);
        write_all(fd.get(), data, "write " + path);
    }

    void add_stream(const std::string& path, std::uint64_t size, mode_t mode,
                    const std::function<void(const ByteSink&)>& produce) override {
        UniqueFd fd = create(path, mode);
        FdWriter out(fd.get(), "write " + path);
        std::uint64_t written = 0;
        produce([&](const void* d, std::size_t n) {
            written += n;
            out.write(d, n);
        });
        out.flush();
        if (written != size)
            throw Error("output file " + path + " has " + std::to_string(written) + " bytes, expected " +
                        std::to_string(size));
    }

    void finish() override {
        if (::rename(stage_->path().c_str(), dest_.c_str()) != 0) throw_errno("rename into " + dest_);
        stage_->release();
        done_ = true;
    }

private:
    UniqueFd create(const std::string& path, mode_t mode) {
        std::string full = safe_join(stage_->path(), path);
        UniqueFd fd(::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
        if (!fd) throw_errno("create " + full);
        if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + full);
        return fd;
    }

    std::string dest_;
    std::unique_ptr<TempDir> stage_;
    bool replaced_empty_ = false;
    bool done_ = false;
};

}  // namespace

std::unique_ptr<ArchiveOutput> tar_output(int fd, std::int64_t mtime) {
    return std::make_unique<TarOutput>(fd, mtime);
}

std::unique_ptr<ArchiveOutput> directory_output(const std::string& dest) {
    return std::make_unique<DirectoryOutput>(dest);
}

}  // namespace kiln::image
