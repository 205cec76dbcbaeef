#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <fstream>
#include <memory>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "harness.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::test::ChildProcess;
using kiln::test::import_base;
using kiln::test::Kiln;

namespace {

// One entry of an archive a test makes.
struct Entry {
    std::string name;
    std::string content;               // a file's bytes
    std::string symlink, hardlink;     // targets, for those types
    bool directory = false;
    int uid = 0;
};

Entry file(std::string name, std::string content, int uid = 0) {
    Entry e;
    e.name = std::move(name);
    e.content = std::move(content);
    e.uid = uid;
    return e;
}
Entry directory(std::string name) {
    Entry e;
    e.name = std::move(name);
    e.directory = true;
    return e;
}
Entry symlink_entry(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.symlink = std::move(target);
    return e;
}
Entry hardlink_entry(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.hardlink = std::move(target);
    return e;
}

enum class Filter { None, Gzip, Bzip2, Xz, Zstd };

struct ArchiveWriterDeleter {
    void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

void add_filter(archive* a, Filter filter) {
    switch (filter) {
    case Filter::None: break;
    case Filter::Gzip: archive_write_add_filter_gzip(a); break;
    case Filter::Bzip2: archive_write_add_filter_bzip2(a); break;
    case Filter::Xz: archive_write_add_filter_xz(a); break;
    case Filter::Zstd: archive_write_add_filter_zstd(a); break;
    }
}

// Writes a tar (raw = false) or, with raw, the single entry's bytes alone, through filter.
void write_archive(const std::string& path, Filter filter, const std::vector<Entry>& entries, bool raw = false) {
    std::unique_ptr<archive, ArchiveWriterDeleter> a(archive_write_new());
    raw ? archive_write_set_format_raw(a.get()) : archive_write_set_format_pax_restricted(a.get());
    add_filter(a.get(), filter);
    REQUIRE(archive_write_open_filename(a.get(), path.c_str()) == ARCHIVE_OK);
    for (const auto& e : entries) {
        std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), e.name.c_str());
        archive_entry_set_uid(entry.get(), e.uid);
        archive_entry_set_gid(entry.get(), e.uid);
        archive_entry_set_mtime(entry.get(), 1500000000, 0);
        if (e.directory) {
            archive_entry_set_filetype(entry.get(), AE_IFDIR);
            archive_entry_set_perm(entry.get(), 0755);
        } else if (!e.symlink.empty()) {
            archive_entry_set_filetype(entry.get(), AE_IFLNK);
            archive_entry_set_perm(entry.get(), 0777);
            archive_entry_set_symlink(entry.get(), e.symlink.c_str());
        } else {
            archive_entry_set_filetype(entry.get(), AE_IFREG);
            archive_entry_set_perm(entry.get(), 0644);
            if (!e.hardlink.empty()) archive_entry_set_hardlink(entry.get(), e.hardlink.c_str());
            archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.content.size()));
        }
        REQUIRE(archive_write_header(a.get(), entry.get()) == ARCHIVE_OK);
        if (!e.content.empty())
            REQUIRE(archive_write_data(a.get(), e.content.data(), e.content.size()) ==
                    static_cast<la_ssize_t>(e.content.size()));
    }
    REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
}

std::string unique_name(const std::string& prefix) {
    std::random_device rd;
    return prefix + std::to_string(rd()) + std::to_string(rd());
}

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

void set_mtime(const std::string& path, time_t when) {
    struct utimbuf times {when, when};
    REQUIRE(::utime(path.c_str(), &times) == 0);
}

// tools/file_server.py on a port of its own, serving dir.path()/files.
struct FileServer {
    kiln::TempDir dir{"/tmp", "kiln-it-files-"};
    std::string files = dir.path() + "/files";
    ChildProcess server;
    int port = 0;

    FileServer() {
        kiln::mkdir_p(files);
        std::string log = dir.path() + "/server.log";
        server = ChildProcess({"/usr/bin/python3", "-B", KILN_SOURCE_DIR "/tests/integration/tools/file_server.py",
                               files, dir.path() + "/port", dir.path() + "/requests.jsonl"},
                              log);
        port = kiln::test::wait_for_port_file(server, dir.path() + "/port", log, "file_server.py");
    }
    std::string url(const std::string& name) const {
        return "http://127.0.0.1:" + std::to_string(port) + "/" + name;
    }
    // The requests served so far, one JSON object each.
    std::vector<nlohmann::json> requests() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(dir.path() + "/requests.jsonl");
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) out.push_back(nlohmann::json::parse(line));
        return out;
    }
};

bool have_python() { return ::access("/usr/bin/python3", X_OK) == 0; }

#define SKIP_UNLESS_PYTHON()                                              \
    do {                                                                  \
        if (!have_python()) {                                             \
            WARN("skipped: /usr/bin/python3 serves the test's URLs");     \
            return;                                                       \
        }                                                                 \
    } while (0)

// Writes the Dockerfile into ctx and builds it as tag; the test stops unless that works.
void build_ok(const Kiln& kiln, const std::string& ctx, const std::string& tag, const std::string& dockerfile) {
    kiln::atomic_write(ctx + "/Dockerfile", dockerfile);
    auto built = kiln({"build", "-t", tag, ctx});
    INFO(built.out << built.err);
    REQUIRE(built.exit_code == 0);
}

// What a failed build must leave unchanged in the store.
struct StoreState {
    std::set<std::string> layers, blobs;
    explicit StoreState(const Kiln& kiln)
        : layers(kiln::test::dir_entries(kiln.root.path() + "/layers")),
          blobs(kiln::test::dir_entries(kiln.root.path() + "/blobs/sha256")) {}
    bool operator==(const StoreState&) const = default;
};

}  // namespace

TEST_CASE("ADD unpacks local archives of every compression, known by their bytes", "[integration][build][add]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    const std::string c = ctx.path() + "/";
    auto tree = [](const std::string& tag) {
        return std::vector<Entry>{directory("d-" + tag), file("d-" + tag + "/f", tag + "\n", 1234)};
    };
    write_archive(c + "plain.tar", Filter::None, tree("plain"));
    write_archive(c + "data.bin", Filter::Gzip, tree("gzip"));  // no archive name: found by content
    write_archive(c + "a.tar.bz2", Filter::Bzip2, tree("bzip2"));
    write_archive(c + "a.tar.xz", Filter::Xz, tree("xz"));
    write_archive(c + "a.tar.zst", Filter::Zstd, tree("zstd"));
    write_archive(c + "text.gz", Filter::Gzip, {file("text", "just text\n")}, true);  // gzip, but no tar inside
    // Entries below directories the image has, without entries for those directories.
    write_archive(c + "deep.tar", Filter::None, {file("tmp/deep", "deep\n"), file("new/dir/f", "new\n")});
    build_ok(kiln, ctx.path(), "unpacked",
             "FROM localhost/busybox:latest\n"
             "ADD plain.tar /u/\n"
             "ADD data.bin /u\n"
             "ADD a.tar.bz2 a.tar.xz a.tar.zst /u/\n"
             "ADD text.gz /u/\n"
             "COPY plain.tar /packed/\n"
             "ADD --unpack=false data.bin /kept/\n"
             "ADD --chown=65534:65534 plain.tar /owned/\n"
             "ADD deep.tar /\n");

    auto r = kiln({"run", "--rm", "unpacked", "sh", "-c",
                   "cat /u/d-plain/f /u/d-gzip/f /u/d-bzip2/f /u/d-xz/f /u/d-zstd/f; ls /u /packed /kept; "
                   "stat -c '%u %n' /u/d-plain/f /owned/d-plain/f; stat -c '%a %n' /tmp /new/dir; cat /tmp/deep"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("plain\ngzip\nbzip2\nxz\nzstd\n") == 0);
    // The gzip of plain text is copied as it is; COPY and --unpack=false never unpack.
    CHECK(r.out.find("d-bzip2\nd-gzip\nd-plain\nd-xz\nd-zstd\ntext.gz\n") != std::string::npos);
    CHECK(r.out.find("/packed:\nplain.tar\n") != std::string::npos);
    CHECK(r.out.find("/kept:\ndata.bin\n") != std::string::npos);
    // The archive's owners are kept; --chown replaces them, as BuildKit does.
    CHECK(r.out.find("1234 /u/d-plain/f\n65534 /owned/d-plain/f\n") != std::string::npos);
    // A directory the image has keeps its mode when an entry lands in it; a new one is 0755.
    CHECK(r.out.find("1777 /tmp\n755 /new/dir\ndeep\n") != std::string::npos);

    SECTION("an unchanged rebuild is cached, a changed archive is unpacked again") {
        auto again = kiln({"build", "-t", "unpacked", ctx.path()});
        INFO(again.out << again.err);
        REQUIRE(again.exit_code == 0);
        CHECK(count(again.out, " CACHED") == 8);
        write_archive(c + "a.tar.xz", Filter::Xz, tree("xz-changed"));
        auto changed = kiln({"build", "-t", "unpacked", ctx.path()});
        REQUIRE(changed.exit_code == 0);
        CHECK(count(changed.out, " CACHED") == 2);
        auto out = kiln({"run", "--rm", "unpacked", "cat", "/u/d-xz-changed/f"});
        CHECK(out.out == "xz-changed\n");
    }
}

TEST_CASE("an archive ADD unpacks never writes outside its destination", "[integration][build][add]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    const std::string c = ctx.path() + "/";
    const std::string climbed = unique_name("kiln-add-escape-");
    write_archive(c + "dotdot.tar", Filter::Gzip,
                  {file(kiln::test::up + "/tmp/" + climbed, "climbed\n")});
    // Absolute links resolve inside the destination, as if it were "/".
    write_archive(c + "symlink.tar", Filter::None,
                  {symlink_entry("root", "/"), file("root/tmp/" + climbed + "-root", "through /\n"),
                   symlink_entry("l", "/tmp"), file("l/" + climbed + "-link", "through the link\n")});
    write_archive(c + "hardlink.tar", Filter::None, {hardlink_entry("h", "/etc/passwd")});

    build_ok(kiln, ctx.path(), "contained",
             "FROM localhost/busybox:latest\n"
             "ADD dotdot.tar /e1/\n"
             "ADD symlink.tar /e2/\n");
    for (const char* suffix : {"", "-root", "-link"}) CHECK_FALSE(kiln::path_exists("/tmp/" + climbed + suffix));
    auto r = kiln({"run", "--rm", "contained", "sh", "-c",
                   "cat /e1/tmp/" + climbed + " /e2/tmp/" + climbed + "-root /e2/tmp/" + climbed +
                       "-link; readlink /e2/l; readlink /e2/root"});
    INFO(r.err);
    CHECK(r.out == "climbed\nthrough /\nthrough the link\n/tmp\n/\n");

    struct stat passwd_before {};
    REQUIRE(::stat("/etc/passwd", &passwd_before) == 0);
    StoreState before(kiln);
    kiln::atomic_write(c + "Dockerfile",
                       "FROM localhost/busybox:latest\n"
                       "ADD hardlink.tar /e3/\n");
    auto bad = kiln({"build", ctx.path()});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("Dockerfile:2:") != std::string::npos);
    CHECK(bad.err.find("hardlink") != std::string::npos);
    struct stat passwd_after {};
    REQUIRE(::stat("/etc/passwd", &passwd_after) == 0);
    CHECK(passwd_after.st_nlink == passwd_before.st_nlink);
    CHECK(StoreState(kiln) == before);
}

TEST_CASE("ADD downloads URLs: name, mode 0600, Last-Modified, --chown/--chmod, redirects", "[integration][build][add]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_PYTHON();
    Kiln kiln;
    import_base(kiln);
    FileServer files;
    kiln::atomic_write(files.files + "/hello.txt", "hello\n");
    set_mtime(files.files + "/hello.txt", 1600000000);
    write_archive(files.files + "/pack.tgz", Filter::Gzip, {file("inside", "packed\n")});
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    build_ok(kiln, ctx.path(), "fetched",
             "FROM localhost/busybox:latest\n"
             "ADD " + files.url("hello.txt") + " /dl/\n"
             "ADD --chown=nobody:nogroup --chmod=0640 " + files.url("hello.txt?x=1") + " /dl/owned.txt\n"
             "ADD " + files.url("redirect/hello.txt") + " /dl/r/\n"
             "ADD " + files.url("pack.tgz") + " /packed/\n"
             "ADD --unpack=true " + files.url("pack.tgz") + " /unpacked/\n");
    auto r = kiln({"run", "--rm", "fetched", "sh", "-c",
                   "stat -c '%a %u:%g %Y %n' /dl/hello.txt /dl/owned.txt /dl/r/hello.txt; cat /dl/owned.txt; "
                   "ls /packed; cat /unpacked/inside"});
    INFO(r.err);
    CHECK(r.out == "600 0:0 1600000000 /dl/hello.txt\n"
                   "640 65534:65534 1600000000 /dl/owned.txt\n"
                   "600 0:0 1600000000 /dl/r/hello.txt\n"
                   "hello\npack.tgz\npacked\n");

    SECTION("a rebuild asks with If-None-Match and is cached; changed content is fetched again") {
        std::size_t served = files.requests().size();
        auto again = kiln({"build", "-t", "fetched", ctx.path()});
        INFO(again.out << again.err);
        REQUIRE(again.exit_code == 0);
        CHECK(count(again.out, " CACHED") == 5);
        auto log = files.requests();
        REQUIRE(log.size() > served);
        for (std::size_t i = served; i < log.size(); ++i)
            if (log[i]["status"] != 302) {
                CHECK(log[i]["status"] == 304);
                CHECK(log[i]["if_none_match"] != "");
            }

        kiln::atomic_write(files.files + "/hello.txt", "hello again\n");
        set_mtime(files.files + "/hello.txt", 1600000100);
        auto changed = kiln({"build", "-t", "fetched", ctx.path()});
        INFO(changed.out << changed.err);
        REQUIRE(changed.exit_code == 0);
        CHECK(count(changed.out, " CACHED") == 0);  // every later step stands on the first
        auto out = kiln({"run", "--rm", "fetched", "sh", "-c", "stat -c %Y /dl/hello.txt; cat /dl/r/hello.txt"});
        CHECK(out.out == "1600000100\nhello again\n");
    }

    SECTION("cache prune takes the downloads with it: the next build downloads again") {
        auto pruned = kiln({"cache", "prune", "-a", "-f"});
        INFO(pruned.out << pruned.err);
        REQUIRE(pruned.exit_code == 0);
        std::size_t served = files.requests().size();
        build_ok(kiln, ctx.path(), "fetched", kiln::read_file(ctx.path() + "/Dockerfile"));
        // The first step's URL is asked for without a remembered ETag and sent in full.
        auto log = files.requests();
        REQUIRE(log.size() > served);
        CHECK(log[served]["path"] == "/hello.txt");
        CHECK(log[served]["if_none_match"] == "");
        CHECK(log[served]["status"] == 200);
    }
}

TEST_CASE("ADD --checksum, a 404 and a refused connection: one error at the line, nothing stored", "[integration][build][add]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_PYTHON();
    Kiln kiln;
    import_base(kiln);
    FileServer files;
    kiln::atomic_write(files.files + "/payload", "payload bytes\n");
    const std::string right = kiln::sha256_of("payload bytes\n").str();
    const std::string wrong = kiln::sha256_of("other bytes\n").str();
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    auto build = [&](const std::string& add_line) {
        kiln::atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox:latest\n" + add_line + "\n");
        return kiln({"build", "-t", "checked", ctx.path()});
    };

    auto good = build("ADD --checksum=" + right + " " + files.url("payload") + " /p");
    INFO(good.out << good.err);
    CHECK(good.exit_code == 0);
    CHECK(kiln({"run", "--rm", "checked", "cat", "/p"}).out == "payload bytes\n");

    Kiln fresh;
    import_base(fresh);
    StoreState before(fresh);
    auto fresh_build = [&](const std::string& add_line) {
        kiln::atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox:latest\n" + add_line + "\n");
        return fresh({"build", ctx.path()});
    };
    auto mismatch = fresh_build("ADD --checksum=" + wrong + " " + files.url("payload") + " /p");
    CHECK(mismatch.exit_code == 1);
    CHECK(mismatch.err.find("Dockerfile:2:") != std::string::npos);
    CHECK(mismatch.err.find("checksum mismatch") != std::string::npos);
    CHECK(StoreState(fresh) == before);

    auto missing = fresh_build("ADD " + files.url("missing") + " /p");
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("Dockerfile:2:") != std::string::npos);
    CHECK(missing.err.find("404") != std::string::npos);
    CHECK(StoreState(fresh) == before);

    int closed = kiln::test::free_port();  // nothing listens there
    auto refused = fresh_build("ADD http://127.0.0.1:" + std::to_string(closed) + "/x /p");
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("Dockerfile:2:") != std::string::npos);
    CHECK(refused.err.find("cannot fetch") != std::string::npos);
    CHECK(StoreState(fresh) == before);
}

TEST_CASE("ADD refuses what kiln does not do: --link, git sources, --checksum on a local file", "[integration][build][add]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(ctx.path() + "/f", "f\n");
    for (const std::string& line : std::vector<std::string>{"ADD --link f /f", "ADD git@github.com:moby/buildkit.git#v0.1 /src",
                                   "ADD --keep-git-dir=true https://example.invalid/repo.git /src",
                                   "ADD --checksum=" + kiln::sha256_of("f\n").str() + " f /f",
                                   "ADD f f2 /not-a-dir"}) {
        kiln::atomic_write(ctx.path() + "/f2", "f2\n");
        kiln::atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox:latest\n" + line + "\n");
        auto r = kiln({"build", ctx.path()});
        INFO(line << "\n" << r.out << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("Dockerfile:2:") != std::string::npos);
    }
}
