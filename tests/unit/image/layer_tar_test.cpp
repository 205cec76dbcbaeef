#include "image/layer_tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "tar_test_helpers.hpp"

namespace {

using kiln::TempDir;
using kiln::UniqueFd;
using kiln::test::bytes_fd;
using kiln::image::extract_layer_tar;
using kiln::image::TarStats;
using kiln::image::write_layer_tar;

void put(const std::string& path, const std::string& data, mode_t mode = 0644) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    REQUIRE(fd);
    REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    REQUIRE(::fchmod(fd.get(), mode) == 0);
}

void set_mtime(const std::string& path, time_t sec) {
    timespec ts[2] = {{sec, 0}, {sec, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

std::string tar_bytes(const std::string& dir, TarStats* stats = nullptr) {
    std::string out;
    TarStats s = write_layer_tar(dir, [&](const void* p, std::size_t n) {
        out.append(static_cast<const char*>(p), n);
    });
    if (stats) *stats = s;
    return out;
}

struct WriteDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};

std::string compress(const std::string& data, int (*add_filter)(archive*)) {
    std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
    REQUIRE(add_filter(a.get()) == ARCHIVE_OK);
    REQUIRE(archive_write_set_format_raw(a.get()) == ARCHIVE_OK);
    std::vector<char> buf(data.size() + (1 << 16));
    size_t used = 0;
    REQUIRE(archive_write_open_memory(a.get(), buf.data(), buf.size(), &used) == ARCHIVE_OK);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    REQUIRE(archive_write_header(a.get(), e) == ARCHIVE_OK);
    archive_entry_free(e);
    REQUIRE(archive_write_data(a.get(), data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
    REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
    return std::string(buf.data(), used);
}

// A layer tree with most things a layer can hold. Root-only parts only when root.
void make_tree(const std::string& d, bool root) {
    REQUIRE(::mkdir((d + "/a").c_str(), 0755) == 0);
    put(d + "/a/file", "hello\n", 04755);
    REQUIRE(::symlink("file", (d + "/a/link").c_str()) == 0);
    REQUIRE(::link((d + "/a/file").c_str(), (d + "/a/hard").c_str()) == 0);
    REQUIRE(::mkdir((d + "/b").c_str(), 0755) == 0);
    REQUIRE(::chmod((d + "/b").c_str(), 01777) == 0);
    put(d + "/b/empty", "", 0600);
    std::string big(3 * 1024 * 1024 + 17, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
    put(d + "/b/big", big);
    std::string deep = d + "/" + std::string(60, 'x');
    REQUIRE(::mkdir(deep.c_str(), 0755) == 0);
    deep += "/" + std::string(70, 'y');
    REQUIRE(::mkdir(deep.c_str(), 0755) == 0);
    put(deep + "/" + std::string(120, 'z'), "long name");
    REQUIRE(::symlink(std::string(150, 't').c_str(), (d + "/longlink").c_str()) == 0);
    REQUIRE(::mkfifo((d + "/fifo").c_str(), 0640) == 0);
    REQUIRE(::lsetxattr((d + "/a/file").c_str(), "user.kiln", "v1", 2, 0) == 0);
    if (root) {
        REQUIRE(::mknod((d + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
        REQUIRE(::mkdir((d + "/opq").c_str(), 0755) == 0);
        put(d + "/opq/kept", "k");
        REQUIRE(::lsetxattr((d + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
        REQUIRE(::lsetxattr((d + "/b/big").c_str(), "security.capability",
                            "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20,
                            0) == 0);
        REQUIRE(::lchown((d + "/a/link").c_str(), 1234, 5678) == 0);
        REQUIRE(::chown((d + "/b/empty").c_str(), 3000000, 3000001) == 0);  // > ustar octal
    }
    for (const char* p : {"/a/file", "/a/link", "/b/empty", "/b/big", "/longlink", "/fifo"})
        set_mtime(d + p, 1600000000);
    set_mtime(deep + "/" + std::string(120, 'z'), 1500000005);
    set_mtime(deep, 1500000000);
    set_mtime(d + "/" + std::string(60, 'x'), 1500000001);
    if (root) {
        set_mtime(d + "/gone", 1500000003);
        set_mtime(d + "/opq/kept", 1500000004);
        set_mtime(d + "/opq", 1500000002);
    }
    set_mtime(d + "/a", 1700000000);
    set_mtime(d + "/b", 1700000001);
}

std::string shell_output(const std::string& cmd) {
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    if (!p) return {};
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
    return out;
}

}  // namespace

TEST_CASE("layer tar: round trip keeps the tree and the diffID", "[layer_tar]") {
    const bool root = ::geteuid() == 0;
    if (!root) WARN("not root: skipping whiteouts, opaque dirs, trusted/security xattrs and owners");
    TempDir tmp("/tmp", "kiln-tar-");
    const std::string src = tmp.path() + "/src", dst = tmp.path() + "/dst";
    kiln::mkdir_p(src);
    kiln::mkdir_p(dst);
    make_tree(src, root);

    TarStats w;
    std::string bytes = tar_bytes(src, &w);
    CHECK(w.size == bytes.size());
    CHECK(bytes.size() % 512 == 0);
    UniqueFd in = bytes_fd(bytes);
    TarStats r = extract_layer_tar(in.get(), dst);
    CHECK(r.digest == w.digest);
    CHECK(r.size == w.size);

    // Writing the extracted tree again yields the same stream: same metadata everywhere.
    TarStats again = write_layer_tar(dst, {});
    CHECK(again.digest == w.digest);

    struct stat a, b;
    REQUIRE(::lstat((dst + "/a/file").c_str(), &a) == 0);
    REQUIRE(::lstat((dst + "/a/hard").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK((a.st_mode & 07777) == 04755);
    CHECK(a.st_mtim.tv_sec == 1600000000);
    char target[64] = {};
    REQUIRE(::readlink((dst + "/a/link").c_str(), target, sizeof target - 1) > 0);
    CHECK(std::string(target) == "file");
    REQUIRE(::lstat((dst + "/b").c_str(), &a) == 0);
    CHECK((a.st_mode & 07777) == 01777);
    CHECK(a.st_mtim.tv_sec == 1700000001);
    char v[8] = {};
    CHECK(::lgetxattr((dst + "/a/file").c_str(), "user.kiln", v, sizeof v) == 2);
    if (root) {
        REQUIRE(::lstat((dst + "/gone").c_str(), &a) == 0);
        CHECK(S_ISCHR(a.st_mode));
        CHECK(a.st_rdev == makedev(0, 0));
        CHECK(::lgetxattr((dst + "/opq").c_str(), "trusted.overlay.opaque", v, sizeof v) == 1);
        REQUIRE(::lstat((dst + "/b/empty").c_str(), &a) == 0);
        CHECK(a.st_uid == 3000000u);
        CHECK(bytes.find(".wh.gone") != std::string::npos);
        CHECK(bytes.find("opq/.wh..wh..opq") != std::string::npos);
        CHECK(bytes.find("trusted.overlay") == std::string::npos);
    }
}

TEST_CASE("layer tar: the stream is deterministic and canonical", "[layer_tar]") {
    const bool root = ::geteuid() == 0;
    TempDir t1("/tmp", "kiln-tar-"), t2("/tmp", "kiln-tar-");
    // Same tree created in a different order.
    make_tree(t1.path(), root);
    make_tree(t2.path(), root);
    put(t1.path() + "/z1", "1");
    put(t1.path() + "/z0", "0");
    put(t2.path() + "/z0", "0");
    put(t2.path() + "/z1", "1");
    for (const auto* t : {&t1, &t2}) {
        set_mtime(t->path() + "/z0", 1);
        set_mtime(t->path() + "/z1", 1);
        // the hardlink pair is discovered in sorted order, whatever the inode order
    }
    TarStats s1 = write_layer_tar(t1.path(), {});
    TarStats s2 = write_layer_tar(t2.path(), {});
    CHECK(s1.digest == s2.digest);
    CHECK(s1.size == s2.size);
    CHECK(write_layer_tar(t1.path(), {}).digest == s1.digest);

    // Entries are in per-directory bytewise order, parents first, with empty owner names.
    std::string bytes = tar_bytes(t1.path());
    CHECK(bytes.find("a/\0", 0, 3) < bytes.find("a/file"));
    CHECK(bytes.find("a/file") < bytes.find("a/hard"));
    CHECK(bytes.find("a/hard") < bytes.find("a/link"));
    CHECK(bytes.find("z0") < bytes.find("z1"));
}

TEST_CASE("layer tar: an empty directory is just the end-of-archive marker", "[layer_tar]") {
    TempDir tmp("/tmp", "kiln-tar-");
    std::string bytes = tar_bytes(tmp.path());
    CHECK(bytes == std::string(1024, '\0'));
    CHECK(write_layer_tar(tmp.path(), {}).digest.str() ==
          "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
}

TEST_CASE("layer tar: GNU tar reads the stream", "[layer_tar]") {
    if (shell_output("command -v tar").empty()) {
        WARN("GNU tar not installed: skipped");
        return;
    }
    const bool root = ::geteuid() == 0;
    TempDir tmp("/tmp", "kiln-tar-");
    const std::string src = tmp.path() + "/src";
    kiln::mkdir_p(src);
    make_tree(src, root);
    std::string bytes = tar_bytes(src);
    {
        UniqueFd fd(::open((tmp.path() + "/l.tar").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    std::string listing = shell_output("tar --numeric-owner -tvf " + tmp.path() + "/l.tar 2>&1; echo rc=$?");
    INFO(listing);
    CHECK(listing.find("rc=0") != std::string::npos);
    const std::string owner = std::to_string(::geteuid()) + "/" + std::to_string(::getegid());
    CHECK(listing.find("-rwsr-xr-x " + owner) != std::string::npos);
    CHECK(listing.find("a/hard link to a/file") != std::string::npos);
    CHECK(listing.find("a/link -> file") != std::string::npos);
    CHECK(listing.find(std::string(120, 'z')) != std::string::npos);
    CHECK(listing.find("longlink -> " + std::string(150, 't')) != std::string::npos);
    CHECK(listing.find("drwxrwxrwt") != std::string::npos);
    CHECK(listing.find("warning") == std::string::npos);
    std::string check = shell_output("mkdir " + tmp.path() + "/gnu && tar --xattrs --xattrs-include='*' -xpf " +
                                     tmp.path() + "/l.tar -C " + tmp.path() + "/gnu 2>&1; echo rc=$?");
    INFO(check);
    CHECK(check.find("rc=0") != std::string::npos);
    CHECK(kiln::read_file(tmp.path() + "/gnu/a/file") == "hello\n");
}

TEST_CASE("layer tar: compressed layers have the diffID of the plain stream", "[layer_tar]") {
    TempDir tmp("/tmp", "kiln-tar-");
    const std::string src = tmp.path() + "/src";
    kiln::mkdir_p(src);
    make_tree(src, ::geteuid() == 0);
    TarStats w;
    std::string plain = tar_bytes(src, &w);
    struct Case {
        const char* name;
        int (*filter)(archive*);
    };
    for (Case c : {Case{"gzip", archive_write_add_filter_gzip}, Case{"zstd", archive_write_add_filter_zstd},
                   Case{"xz", archive_write_add_filter_xz}}) {
        SECTION(c.name) {
            std::string packed = compress(plain, c.filter);
            CHECK(packed.size() < plain.size());
            const std::string dst = tmp.path() + "/" + c.name;
            kiln::mkdir_p(dst);
            UniqueFd fd = bytes_fd(packed);
            TarStats r = extract_layer_tar(fd.get(), dst);
            CHECK(r.digest == w.digest);
            CHECK(r.size == plain.size());
            CHECK(write_layer_tar(dst, {}).digest == w.digest);
        }
    }
}

TEST_CASE("layer tar: names are bytes: UTF-8 and not", "[layer_tar]") {
    TempDir tmp("/tmp", "kiln-tar-");
    const std::string src = tmp.path() + "/src", dst = tmp.path() + "/dst";
    kiln::mkdir_p(src);
    kiln::mkdir_p(dst);
    std::string u;
    for (int i = 0; i < 40; ++i) u += "\xc3\xbc";  // 80 bytes of "ü"
    REQUIRE(::mkdir((src + "/" + u).c_str(), 0755) == 0);
    put(src + "/" + u + "/" + u, "utf8");                   // long: PAX path
    put(src + "/latin1-\xe9\xff", "latin1");               // short, not UTF-8
    put(src + "/" + std::string(120, '\xe9'), "long latin1");  // long, not UTF-8
    REQUIRE(::symlink(u.c_str(), (src + "/sl").c_str()) == 0);
    TarStats w;
    std::string bytes = tar_bytes(src, &w);
    UniqueFd fd = bytes_fd(bytes);
    TarStats r = extract_layer_tar(fd.get(), dst);
    CHECK(r.digest == w.digest);
    CHECK(kiln::read_file(dst + "/" + u + "/" + u) == "utf8");
    CHECK(kiln::read_file(dst + "/latin1-\xe9\xff") == "latin1");
    CHECK(kiln::read_file(dst + "/" + std::string(120, '\xe9')) == "long latin1");
    set_mtime(dst + "/" + u, 0);
    set_mtime(src + "/" + u, 0);
    CHECK(write_layer_tar(dst, {}).digest == write_layer_tar(src, {}).digest);
}

TEST_CASE("layer tar: record padding after the end marker is hashed too", "[layer_tar]") {
    TempDir tmp("/tmp", "kiln-tar-");
    put(tmp.path() + "/f", "x");
    std::string plain = tar_bytes(tmp.path());
    plain.append(10240 - plain.size() % 10240, '\0');  // as GNU tar pads records
    const std::string dst = tmp.path() + "/out";
    kiln::mkdir_p(dst);
    UniqueFd fd = bytes_fd(plain);
    TarStats r = extract_layer_tar(fd.get(), dst);
    CHECK(r.size == plain.size());
    CHECK(r.digest == kiln::sha256_of(plain));
}

TEST_CASE("layer tar: throughput of a 512 MiB file", "[.bench]") {
    TempDir tmp("/var/tmp", "kiln-tar-bench-");
    {
        UniqueFd fd(::open((tmp.path() + "/big").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        std::string chunk(1 << 20, 'q');
        for (int i = 0; i < 512; ++i) REQUIRE(::write(fd.get(), chunk.data(), chunk.size()) == (1 << 20));
    }
    write_layer_tar(tmp.path(), {});  // warm the page cache
    auto t0 = std::chrono::steady_clock::now();
    TarStats s = write_layer_tar(tmp.path(), {});
    auto t1 = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    WARN("write_layer_tar (hash only): " << (static_cast<double>(s.size) / (1 << 20)) / secs << " MiB/s");

    std::string tarpath = tmp.path() + "/../" + "kiln-bench.tar";
    {
        UniqueFd out(::open(tarpath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        write_layer_tar(tmp.path(), [&](const void* p, std::size_t n) {
            REQUIRE(::write(out.get(), p, n) == static_cast<ssize_t>(n));
        });
    }
    TempDir dst("/var/tmp", "kiln-tar-bench-out-");
    UniqueFd in(::open(tarpath.c_str(), O_RDONLY | O_CLOEXEC));
    t0 = std::chrono::steady_clock::now();
    TarStats r = extract_layer_tar(in.get(), dst.path());
    t1 = std::chrono::steady_clock::now();
    ::unlink(tarpath.c_str());
    secs = std::chrono::duration<double>(t1 - t0).count();
    CHECK(r.digest == s.digest);
    WARN("extract_layer_tar (plain): " << (static_cast<double>(r.size) / (1 << 20)) / secs << " MiB/s");
}

TEST_CASE("layer tar: Compressor makes deterministic blobs that extract to the diffID", "[layer_tar]") {
    using kiln::image::Compression;
    using kiln::image::Compressor;
    TempDir tmp("/tmp", "kiln-tar-");
    const std::string src = tmp.path() + "/src";
    kiln::mkdir_p(src);
    make_tree(src, ::geteuid() == 0);
    for (Compression codec : {Compression::Gzip, Compression::Zstd, Compression::None}) {
        auto blob_of = [&](int level) {
            std::string blob;
            Compressor c(codec, [&](const void* p, std::size_t n) { blob.append(static_cast<const char*>(p), n); },
                         level);
            TarStats diff = write_layer_tar(src, c.sink());
            TarStats packed = c.finish();
            CHECK(packed.size == blob.size());
            CHECK(packed.digest == kiln::sha256_of(blob));
            return std::make_pair(diff, blob);
        };
        auto [diff, blob] = blob_of(-1);
        INFO("codec " << static_cast<int>(codec));
        if (codec == Compression::None) CHECK(blob.size() == diff.size);
        if (codec != Compression::None) CHECK(blob.size() < diff.size / 2);
        if (codec == Compression::Gzip) CHECK(blob.substr(0, 2) == "\x1f\x8b");
        if (codec == Compression::Zstd) CHECK(blob.substr(0, 4) == "\x28\xb5\x2f\xfd");
        ::sleep(codec == Compression::Gzip ? 1 : 0);  // a gzip timestamp would show up
        CHECK(blob_of(-1).second == blob);
        if (codec != Compression::None) CHECK(blob_of(1).second != blob);

        const std::string dst = tmp.path() + "/out" + std::to_string(static_cast<int>(codec));
        kiln::mkdir_p(dst);
        UniqueFd fd = bytes_fd(blob);
        CHECK(extract_layer_tar(fd.get(), dst).digest == diff.digest);
    }
}

TEST_CASE("layer tar: clamp_mtime makes later mtimes reproducible", "[layer_tar]") {
    TempDir t1("/tmp", "kiln-tar-"), t2("/tmp", "kiln-tar-");
    for (const auto* t : {&t1, &t2}) {
        REQUIRE(::mkdir((t->path() + "/d").c_str(), 0755) == 0);
        put(t->path() + "/d/new", "n");
        put(t->path() + "/old", "o");
        set_mtime(t->path() + "/old", 1000);
    }
    set_mtime(t1.path() + "/d/new", 2000000000);
    set_mtime(t2.path() + "/d/new", 2100000000);
    set_mtime(t1.path() + "/d", 1900000000);
    set_mtime(t2.path() + "/d", 1950000000);
    kiln::image::TarWriteOptions opts;
    opts.clamp_mtime = 1700000000;
    CHECK(write_layer_tar(t1.path(), {}, opts).digest == write_layer_tar(t2.path(), {}, opts).digest);
    CHECK(write_layer_tar(t1.path(), {}).digest != write_layer_tar(t2.path(), {}).digest);
    // earlier mtimes are kept
    opts.clamp_mtime = 500;
    TarStats low = write_layer_tar(t1.path(), {}, opts);
    set_mtime(t1.path() + "/old", 999);
    CHECK(write_layer_tar(t1.path(), {}, opts).digest == low.digest);
    opts.clamp_mtime = 5000;
    TarStats high = write_layer_tar(t1.path(), {}, opts);
    set_mtime(t1.path() + "/old", 1000);
    CHECK(write_layer_tar(t1.path(), {}, opts).digest != high.digest);
}

TEST_CASE("decompress_layer gives back the bytes a compressor packed, with their digest", "[layer][tar]") {
    using kiln::image::Compression;
    const std::string data(300000, 'x');
    for (Compression c : {Compression::Gzip, Compression::Zstd, Compression::None}) {
        std::string packed;
        if (c == Compression::None) {
            packed = data;
        } else {
            kiln::image::Compressor compressor(c, [&](const void* d, std::size_t n) {
                packed.append(static_cast<const char*>(d), n);
            });
            compressor.write(data.data(), data.size());
            compressor.finish();
        }
        std::size_t pos = 0;
        std::string out;
        auto st = kiln::image::decompress_layer(
            [&](void* buf, std::size_t cap) {
                std::size_t n = std::min(cap, packed.size() - pos);
                std::memcpy(buf, packed.data() + pos, n);
                pos += n;
                return n;
            },
            [&](const void* d, std::size_t n) { out.append(static_cast<const char*>(d), n); });
        CHECK(out == data);
        CHECK(st.size == data.size());
        CHECK(st.digest == kiln::sha256_of(data));
    }
}
