#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_output.hpp"
#include "builder/context_archive.hpp"
#include "builder/reproducible.hpp"
#include "builder/run_settings.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::builder::BuildOutput;
using kiln::builder::parse_build_output;

TEST_CASE("build --output: the shorthands are local and a tar on stdout", "[build_output]") {
    auto dir = parse_build_output("out/dir");
    CHECK(dir.type == BuildOutput::Type::Local);
    CHECK(dir.dest == "out/dir");
    auto dash = parse_build_output("-");
    CHECK(dash.type == BuildOutput::Type::Tar);
    CHECK(dash.to_stdout());
}

TEST_CASE("build --output: each type with its dest", "[build_output]") {
    CHECK(parse_build_output("type=local,dest=/tmp/x").type == BuildOutput::Type::Local);
    auto tar = parse_build_output("type=tar,dest=-");
    CHECK(tar.type == BuildOutput::Type::Tar);
    CHECK(tar.to_stdout());
    auto oci = parse_build_output("type=oci,dest=img.tar");
    CHECK(oci.type == BuildOutput::Type::Oci);
    CHECK(oci.dest == "img.tar");
    CHECK(parse_build_output("type=docker").type == BuildOutput::Type::Docker);
    CHECK(parse_build_output("type=docker,dest=d.tar").dest == "d.tar");
    auto reg = parse_build_output("type=registry,name=localhost:5000/a:b");
    CHECK(reg.push);
    REQUIRE(reg.names.size() == 1);
    CHECK(reg.names[0] == "localhost:5000/a:b");
    CHECK(parse_build_output("type=image,push=true").push);
    CHECK_FALSE(parse_build_output("type=image").push);
}

TEST_CASE("build --output: bad values are one-line errors", "[build_output]") {
    CHECK_THROWS_WITH(parse_build_output("type=s3,dest=x"), Catch::Contains("unknown type \"s3\""));
    CHECK_THROWS_WITH(parse_build_output("type=local"), Catch::Contains("dest= is required"));
    CHECK_THROWS_WITH(parse_build_output("type=tar"), Catch::Contains("dest= is required"));
    CHECK_THROWS_WITH(parse_build_output("type=oci,compression=zstd,dest=x"), Catch::Contains("unknown key \"compression\""));
    CHECK_THROWS_WITH(parse_build_output("dest=x"), Catch::Contains("type= is required"));
    CHECK_THROWS_WITH(parse_build_output("type=local,dest=-"), Catch::Contains("needs a directory"));
    CHECK_THROWS_WITH(parse_build_output("type=registry,dest=x"), Catch::Contains("takes no dest"));
    CHECK_THROWS_AS(parse_build_output(""), kiln::Error);
}

TEST_CASE("build --add-host and --network values", "[build_output]") {
    using kiln::builder::parse_add_host;
    CHECK(parse_add_host("db:10.0.0.5") == std::pair<std::string, std::string>{"db", "10.0.0.5"});
    CHECK(parse_add_host("db=10.0.0.5").second == "10.0.0.5");
    CHECK(parse_add_host("v6:::1").second == "::1");
    CHECK(parse_add_host("v6:[fe80::1]").second == "fe80::1");
    CHECK_THROWS_WITH(parse_add_host("db"), Catch::Contains("bad format"));
    CHECK_THROWS_WITH(parse_add_host("db:10.0.0.500"), Catch::Contains("invalid IP address"));
    CHECK_THROWS_WITH(parse_add_host("d b:10.0.0.5"), Catch::Contains("invalid host name"));
    CHECK_THROWS_WITH(parse_add_host("gw:host-gateway"), Catch::Contains("host-gateway"));
    using kiln::builder::parse_build_network;
    CHECK(parse_build_network("host") == "host");
    CHECK(parse_build_network("none") == "none");
    CHECK_THROWS_WITH(parse_build_network("bridge"), Catch::Contains("not supported"));
}

TEST_CASE("build settings change RUN cache keys only when given", "[build_output]") {
    kiln::builder::RunSettings settings;
    CHECK(settings.cache_text().empty());
    settings.extra_hosts.push_back({"db", "10.0.0.5"});
    CHECK(settings.cache_text().find("db:10.0.0.5") != std::string::npos);
}

TEST_CASE("build context archives are told from Dockerfiles by their magic", "[build_output]") {
    using kiln::builder::looks_like_context_archive;
    CHECK(looks_like_context_archive(std::string("\x1f\x8b\x08", 3)));
    CHECK(looks_like_context_archive("BZh91AY"));
    CHECK(looks_like_context_archive(std::string("\xfd" "7zXZ\0", 6)));
    CHECK(looks_like_context_archive(std::string("\x28\xb5\x2f\xfd", 4)));
    std::string tar(512, '\0');
    tar.replace(257, 5, "ustar");
    CHECK(looks_like_context_archive(tar));
    CHECK_FALSE(looks_like_context_archive("FROM busybox\nRUN true\n"));
    CHECK_FALSE(looks_like_context_archive(""));
}

TEST_CASE("SOURCE_DATE_EPOCH values and their RFC 3339 form", "[build_output]") {
    using kiln::builder::parse_source_date_epoch;
    CHECK(parse_source_date_epoch("1700000000") == 1700000000);
    CHECK(parse_source_date_epoch("0") == 0);
    CHECK_THROWS_AS(parse_source_date_epoch("-1"), kiln::Error);
    CHECK_THROWS_AS(parse_source_date_epoch("17e8"), kiln::Error);
    CHECK_THROWS_AS(parse_source_date_epoch(""), kiln::Error);
    CHECK(kiln::builder::rfc3339_utc(1700000000) == "2023-11-14T22:13:20Z");
    CHECK(kiln::builder::rfc3339_utc(0) == "1970-01-01T00:00:00Z");
}

TEST_CASE("clamp_tree_mtimes clamps later mtimes, keeps earlier ones, never follows a link", "[build_output]") {
    kiln::TempDir dir("/tmp", "kiln-clamp-test-");
    kiln::TempDir outside("/tmp", "kiln-clamp-outside-");
    const std::string d = dir.path();
    kiln::mkdir_p(d + "/sub");
    kiln::atomic_write(d + "/sub/new", "n");
    kiln::atomic_write(d + "/old", "o");
    kiln::atomic_write(outside.path() + "/target", "t");
    REQUIRE(::symlink((outside.path() + "/target").c_str(), (d + "/link").c_str()) == 0);
    struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (d + "/old").c_str(), old_times, 0) == 0);
    auto mtime = [](const std::string& p) {
        struct stat st;
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        return static_cast<long>(st.st_mtim.tv_sec);
    };
    const long target_before = mtime(outside.path() + "/target");
    kiln::builder::clamp_tree_mtimes(d, 5000);
    CHECK(mtime(d + "/sub/new") == 5000);
    CHECK(mtime(d + "/sub") == 5000);
    CHECK(mtime(d) == 5000);
    CHECK(mtime(d + "/link") == 5000);
    CHECK(mtime(d + "/old") == 1000);
    CHECK(mtime(outside.path() + "/target") == target_before);
}
