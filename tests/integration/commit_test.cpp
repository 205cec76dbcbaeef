// kiln commit and kiln diff CONTAINER: a container's writable layer as docker lists it and
// as a new image.
#include <catch2/catch.hpp>

#include <string>

#include "harness.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

}  // namespace

TEST_CASE("diff CONTAINER lists A, C and D like docker diff, and diff IMAGE still lists layers", "[diff]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::build_small_image(kiln, "localhost/small");
    auto run = kiln({"run", "--name", "box", "localhost/small", "sh", "-c",
                     "echo new > /added; rm /marker; echo more >> /etc/passwd; mkdir -p /newdir/sub; "
                     "rm -rf /home; mkdir /home; touch /home/again"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto diff = kiln({"diff", "box"});
    REQUIRE(diff.exit_code == 0);
    CHECK(diff.out ==
          "A /added\n"
          "C /etc\n"
          "C /etc/passwd\n"
          "D /home\n"
          "A /home/again\n"
          "D /marker\n"
          "A /newdir\n"
          "A /newdir/sub\n");
    auto image_diff = kiln({"diff", "--layer", "1", "localhost/small"});
    CHECK(image_diff.exit_code == 0);
    CHECK(image_diff.out == "A /marker\n");
    auto missing = kiln({"diff", "nothing-by-this-name"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "Error: No such image: nothing-by-this-name\n");
}

TEST_CASE("commit of a running container: the image has its files, its deletions and a docker history entry",
          "[commit]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::build_small_image(kiln, "localhost/small");
    auto run = kiln({"run", "-d", "--name", "box", "-e", "GREETING=hi", "localhost/small", "sh", "-c",
                     "echo new > /added; rm /marker; touch /ready; while :; do sleep 0.1; done"});
    REQUIRE(run.exit_code == 0);
    REQUIRE(soon([&] { return kiln({"exec", "box", "test", "-e", "/ready"}).exit_code == 0; }));

    auto commit = kiln({"commit", "-m", "saved by a test", "-a", "Tester <t@example.com>", "box", "localhost/snap:v1"});
    INFO(commit.err);
    REQUIRE(commit.exit_code == 0);
    const std::string id = trimmed(commit.out);
    CHECK(id.starts_with("sha256:"));
    CHECK(id.size() == 71);
    // Still running, not left frozen.
    CHECK(kiln({"exec", "box", "true"}).exit_code == 0);
    CHECK(trimmed(kiln({"inspect", "-f", "{{.Id}}", "localhost/snap:v1"}).out) == id);

    auto check = kiln({"run", "--rm", "localhost/snap:v1", "sh", "-c",
                       "cat /added; test -e /marker || echo marker-gone; echo $GREETING; test -e /ready && echo ready"});
    INFO(check.err);
    CHECK(check.out == "new\nmarker-gone\nhi\nready\n");
    auto history = kiln({"history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "localhost/snap:v1"});
    CHECK(history.out.starts_with("sh -c echo new > /added; rm /marker; touch /ready; while :; do sleep 0.1; done|saved by a test\n"));
    CHECK(trimmed(kiln({"inspect", "-f", "{{.Author}}", "localhost/snap:v1"}).out) == "Tester <t@example.com>");
    // The container's command is the image's now, as docker commit keeps its Config.
    CHECK(trimmed(kiln({"inspect", "-f", "{{json .Config.Cmd}}", "localhost/snap:v1"}).out).starts_with("[\"sh\",\"-c\""));
    kiln({"rm", "-f", "box"});
}

TEST_CASE("commit of a stopped container with --change CMD and ENV", "[commit]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "--name", "done", "localhost/busybox", "sh", "-c", "echo made > /f"}).exit_code == 0);
    auto commit = kiln({"commit", "--change", "ENV FOO=bar", "-c", "CMD [\"sh\", \"-c\", \"echo $FOO; cat /f\"]",
                        "done", "localhost/changed"});
    INFO(commit.err);
    REQUIRE(commit.exit_code == 0);
    auto check = kiln({"run", "--rm", "localhost/changed"});
    INFO(check.err);
    CHECK(check.out == "bar\nmade\n");
}

TEST_CASE("commit with a bad --change is a one-line error and makes no image", "[commit]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "--name", "done", "localhost/busybox", "true"}).exit_code == 0);
    const std::string images_before = kiln({"images", "-q", "--no-trunc"}).out;
    const auto layers_before = kiln::test::dir_entries(kiln.root.path() + "/layers");
    for (const std::string change : {"RUN echo hi", "FROM scratch", "HEALTHCHECK NONE", "ENV", "NOSUCH thing"}) {
        auto bad = kiln({"commit", "-c", change, "done", "localhost/bad"});
        INFO(change << ": " << bad.err);
        CHECK(bad.exit_code == 1);
        CHECK(bad.err.starts_with("Error: "));
        CHECK(bad.err.find('\n') == bad.err.size() - 1);
    }
    CHECK(kiln({"images", "-q", "--no-trunc"}).out == images_before);
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/layers") == layers_before);
    CHECK(kiln({"inspect", "localhost/bad"}).exit_code == 1);
    auto missing = kiln({"commit", "nobody", "localhost/x"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "Error response from daemon: No such container: nobody\n");
}
