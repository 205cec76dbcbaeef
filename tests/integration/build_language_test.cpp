// The rest of the Dockerfile language as BuildKit has it: automatic platform ARGs and
// --platform, ONBUILD triggers, ARG history, the default PATH, WORKDIR's directories.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "image/oci.hpp"
#include "image/store.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;

namespace {

// `kiln build` of `dockerfile` (with extra arguments before the context) in a fresh context.
kiln::test::CommandResult build(const Kiln& kiln, const std::string& dockerfile, std::vector<std::string> args = {}) {
    kiln::TempDir context("/tmp", "kiln-it-lang-");
    kiln::atomic_write(context.path() + "/Dockerfile", dockerfile);
    std::vector<std::string> argv{"build"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(context.path());
    return kiln(argv);
}

// The stored image config of `name`, as the build wrote it.
nlohmann::json config_of(const Kiln& kiln, const std::string& name) {
    kiln::image::Store store(kiln.root.path());
    auto id = store.images().resolve(name);
    REQUIRE(id);
    return nlohmann::json::parse(store.images().config(*id));
}

// The history entries the build added after the base's `skip` entries.
nlohmann::json added_history(const nlohmann::json& config, std::size_t skip) {
    nlohmann::json out = nlohmann::json::array();
    const auto& history = config.at("history");
    for (std::size_t i = skip; i < history.size(); ++i) out.push_back(history[i]);
    return out;
}

std::string run_in(const Kiln& kiln, const std::string& image, const std::string& script) {
    auto r = kiln({"run", "--rm", image, "sh", "-c", script});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

}  // namespace

TEST_CASE("automatic platform ARGs: in FROM lines, and in a stage after ARG NAME", "[integration][build][lang]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    const std::string host = kiln::image::host_platform().str();
    auto r = build(kiln,
                   "ARG BASE=localhost/busybox\n"
                   "FROM --platform=$BUILDPLATFORM $BASE AS base\n"
                   "ARG TARGETARCH\nARG TARGETPLATFORM\nARG TARGETVARIANT\n"
                   "RUN echo \"$TARGETARCH|$TARGETPLATFORM|$TARGETVARIANT|${BUILDOS:-unset}\" > /platform\n",
                   {"-t", "localhost/platform"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // Not declared in the stage: BUILDOS stays out of it, as in BuildKit.
    CHECK(run_in(kiln, "localhost/platform", "cat /platform") ==
          kiln::image::host_platform().architecture + "|" + host + "||unset\n");

    // --platform naming this machine's platform is accepted.
    auto same = build(kiln, "FROM localhost/busybox\nRUN true\n", {"--platform", host, "-t", "localhost/same"});
    INFO(same.out << same.err);
    CHECK(same.exit_code == 0);
}

TEST_CASE("another platform is refused before anything runs, saying which one kiln builds for",
          "[integration][build][lang][errors]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    const std::string host = kiln::image::host_platform().str();
    const std::string other = kiln::image::host_platform().architecture == "arm64" ? "linux/amd64" : "linux/arm64";
    const auto images_before = kiln({"images", "-q"}).out;

    auto from = build(kiln, "FROM localhost/busybox\nRUN touch /ran\nFROM --platform=" + other +
                                " localhost/busybox\nRUN true\n");
    CHECK(from.exit_code != 0);
    CHECK(from.err.find("Dockerfile:3:6: FROM --platform=" + other + ": kiln builds only for this machine's platform " +
                        host) != std::string::npos);
    CHECK(from.out.find("RUN touch") == std::string::npos);  // nothing ran

    auto flag = build(kiln, "FROM localhost/busybox\n", {"--platform", other});
    CHECK(flag.exit_code == 1);
    CHECK(flag.err.find("--platform " + other + ": kiln builds only for this machine's platform " + host) !=
          std::string::npos);
    CHECK(kiln({"images", "-q"}).out == images_before);
}

TEST_CASE("ONBUILD triggers run in the image built FROM it, once, then leave the config",
          "[integration][build][lang]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    auto base = build(kiln,
                      "FROM localhost/busybox\n"
                      "ONBUILD RUN echo triggered >> /onbuild\n"
                      "ONBUILD ENV FROM_TRIGGER=yes\n",
                      {"-t", "localhost/onbase"});
    INFO(base.out << base.err);
    REQUIRE(base.exit_code == 0);
    CHECK(config_of(kiln, "localhost/onbase")["config"]["OnBuild"] ==
          nlohmann::json::array({"RUN echo triggered >> /onbuild", "ENV FROM_TRIGGER=yes"}));
    CHECK(kiln({"run", "--rm", "localhost/onbase", "test", "-e", "/onbuild"}).exit_code == 1);

    auto child = build(kiln, "FROM localhost/onbase\nRUN echo \"child sees $FROM_TRIGGER\" > /child\n",
                       {"-t", "localhost/onchild"});
    INFO(child.out << child.err);
    REQUIRE(child.exit_code == 0);
    CHECK(child.out.find("ONBUILD RUN echo triggered") != std::string::npos);
    CHECK(run_in(kiln, "localhost/onchild", "cat /onbuild /child") == "triggered\nchild sees yes\n");
    const auto child_config = config_of(kiln, "localhost/onchild");
    CHECK_FALSE(child_config["config"].contains("OnBuild"));

    // The grandchild does not run them again.
    auto grandchild = build(kiln, "FROM localhost/onchild\n", {"-t", "localhost/ongrand"});
    INFO(grandchild.out << grandchild.err);
    REQUIRE(grandchild.exit_code == 0);
    CHECK(grandchild.out.find("ONBUILD") == std::string::npos);
    CHECK(run_in(kiln, "localhost/ongrand", "cat /onbuild") == "triggered\n");

    // A stage FROM a stage that declares ONBUILD runs it too (BuildKit).
    auto staged = build(kiln, "FROM localhost/busybox AS first\nONBUILD RUN touch /from-stage\nFROM first\n",
                        {"-t", "localhost/onstaged"});
    INFO(staged.out << staged.err);
    REQUIRE(staged.exit_code == 0);
    CHECK(run_in(kiln, "localhost/onstaged", "ls /from-stage") == "/from-stage\n");
}

TEST_CASE("an ONBUILD trigger needs the same entitlements as the line it stands for",
          "[integration][build][lang][errors]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    auto base = build(kiln, "FROM localhost/busybox\nONBUILD RUN --network=host true\n", {"-t", "localhost/onhost"});
    INFO(base.out << base.err);
    REQUIRE(base.exit_code == 0);
    auto child = build(kiln, "FROM localhost/onhost\n");
    CHECK(child.exit_code != 0);
    CHECK(child.err.find("Dockerfile:1:1: ONBUILD trigger \"RUN --network=host true\" of localhost/onhost: "
                         "network.host is not allowed") != std::string::npos);
}

TEST_CASE("ARG records an empty_layer history entry with its value and the stage gets Docker's default PATH",
          "[integration][build][lang]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    const std::size_t base_history = config_of(kiln, "localhost/busybox")["history"].size();
    REQUIRE_FALSE(config_of(kiln, "localhost/busybox")["config"].contains("Env"));  // the base sets no PATH

    auto r = build(kiln, "FROM localhost/busybox\nARG a=b\nARG c\nARG d=$a-x\nUSER nobody\n",
                   {"-t", "localhost/args", "--build-arg", "c=given"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto config = config_of(kiln, "localhost/args");
    const auto history = added_history(config, base_history);
    REQUIRE(history.size() == 4);
    CHECK(history[0]["created_by"] == "ARG a=b");
    CHECK(history[1]["created_by"] == "ARG c=given");
    CHECK(history[2]["created_by"] == "ARG d=b-x");
    CHECK(history[3]["created_by"] == "USER nobody");
    for (const auto& entry : history) CHECK(entry["empty_layer"] == true);
    CHECK(config["config"]["Env"] ==
          nlohmann::json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}));

    // Built again: every ARG step is cached and the image is the same.
    auto again = build(kiln, "FROM localhost/busybox\nARG a=b\nARG c\nARG d=$a-x\nUSER nobody\n",
                       {"-t", "localhost/args2", "--build-arg", "c=given"});
    INFO(again.out);
    REQUIRE(again.exit_code == 0);
    CHECK(config_of(kiln, "localhost/args2") == config);
}

TEST_CASE("WORKDIR: kept as written, its new directories owned by the USER, BuildKit's history",
          "[integration][build][lang]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    const std::size_t base_history = config_of(kiln, "localhost/busybox")["history"].size();
    auto r = build(kiln,
                   "FROM localhost/busybox\nWORKDIR /tmp/\nUSER nobody\nWORKDIR /new/dir\nWORKDIR sub\n"
                   "HEALTHCHECK --interval=30s --retries=2 CMD true\nEXPOSE 80\nCMD [\"sh\"]\n",
                   {"-t", "localhost/workdir"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto config = config_of(kiln, "localhost/workdir");
    CHECK(config["config"]["WorkingDir"] == "/new/dir/sub");
    CHECK(config["config"]["Healthcheck"] ==
          nlohmann::json({{"Test", {"CMD-SHELL", "true"}}, {"Interval", 30'000'000'000LL}, {"Retries", 2}}));
    const auto history = added_history(config, base_history);
    REQUIRE(history.size() == 7);
    CHECK(history[0]["created_by"] == "WORKDIR /tmp/");
    CHECK(history[0]["empty_layer"] == true);  // /tmp exists: no layer
    CHECK(history[2]["created_by"] == "WORKDIR /new/dir");
    CHECK_FALSE(history[2].contains("empty_layer"));  // it made /new and /new/dir
    CHECK(history[3]["created_by"] == "WORKDIR /new/dir/sub");
    CHECK(history[5]["created_by"] == "EXPOSE [80/tcp]");
    CHECK(history[6]["created_by"] == "CMD [\"sh\"]");
    CHECK(run_in(kiln, "localhost/workdir", "stat -c '%n %u:%g %a' /new /new/dir /new/dir/sub /tmp") ==
          "/new 65534:65534 755\n/new/dir 65534:65534 755\n/new/dir/sub 65534:65534 755\n/tmp 0:0 1777\n");

    // The stored /tmp/ is what a container starts in.
    auto tmp = build(kiln, "FROM localhost/busybox\nWORKDIR /tmp/\n", {"-t", "localhost/tmpdir"});
    REQUIRE(tmp.exit_code == 0);
    CHECK(config_of(kiln, "localhost/tmpdir")["config"]["WorkingDir"] == "/tmp/");
    CHECK(run_in(kiln, "localhost/tmpdir", "pwd") == "/tmp\n");
}

TEST_CASE("RUN, COPY and ADD history reads as BuildKit writes it", "[integration][build][lang][history]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    const std::size_t base_history = config_of(kiln, "localhost/busybox")["history"].size();
    auto r = build(kiln,
                   "FROM localhost/busybox\nARG V=1\nARG E\nRUN echo $V > /v\nCOPY --chmod=0640 Dockerfile rel/\n"
                   "COPY <<EOT /h.txt\nx\nEOT\nADD Dockerfile /added\nRUN [\"/bin/echo\", \"exec\"]\n",
                   {"-t", "localhost/histories"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto history = added_history(config_of(kiln, "localhost/histories"), base_history);
    REQUIRE(history.size() == 7);
    CHECK(history[2]["created_by"] == "RUN |2 V=1 E= /bin/sh -c echo $V > /v # buildkit");
    CHECK(history[3]["created_by"] == "COPY --chmod=0640 Dockerfile rel/ # buildkit");
    CHECK(history[4]["created_by"] == "COPY <<EOT /h.txt # buildkit");
    CHECK(history[5]["created_by"] == "ADD Dockerfile /added # buildkit");
    CHECK(history[6]["created_by"] == "RUN |2 V=1 E= /bin/echo exec # buildkit");
    for (std::size_t i = 2; i < history.size(); ++i) CHECK_FALSE(history[i].contains("empty_layer"));
}
