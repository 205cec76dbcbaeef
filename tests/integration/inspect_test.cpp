#include <catch2/catch.hpp>

#include <regex>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "image_fixture.hpp"

using kiln::test::build_image;
using kiln::test::import_base;
using kiln::test::Kiln;

namespace {

constexpr const char* kDockerfile =
    "FROM localhost/busybox\n"
    "ENV GREETING=hello PATH=/usr/bin:/bin\n"
    "LABEL org.example.team=builders\n"
    "RUN echo made > /made.txt && rm /bin/vi\n"
    "COPY data.txt /data/data.txt\n"
    "CMD [\"sh\"]\n";

void build_demo(const Kiln& kiln) {
    import_base(kiln);
    build_image(kiln, kDockerfile, "localhost/demo:1", {{"data.txt", "some data\n"}});
}

}  // namespace

TEST_CASE("image inspect prints Docker's JSON array and templates", "[integration][inspect]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    build_demo(kiln);

    auto r = kiln({"image", "inspect", "localhost/demo:1"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.starts_with("[\n    {\n        \"Id\": \"sha256:"));
    auto parsed = nlohmann::json::parse(r.out);
    REQUIRE(parsed.size() == 1);
    CHECK(parsed[0]["RepoTags"] == nlohmann::json::array({"localhost/demo:1"}));
    CHECK(parsed[0]["RootFS"]["Layers"].size() == 3);
    CHECK(parsed[0]["GraphDriver"]["Name"] == "overlay2");
    CHECK(kiln::path_exists(parsed[0]["GraphDriver"]["Data"]["UpperDir"].get<std::string>()));

    auto env = kiln({"inspect", "-f", "{{json .Config.Env}}", "localhost/demo:1"});
    // The base sets no PATH, so the stage starts with the default one (BuildKit); ENV replaces it in place.
    CHECK(env.out == "[\"PATH=/usr/bin:/bin\",\"GREETING=hello\"]\n");
    auto label = kiln({"image", "inspect", "--format", "{{index .Config.Labels \"org.example.team\"}}", "localhost/demo:1"});
    CHECK(label.out == "builders\n");
    auto tags = kiln({"inspect", "-f", "{{range .RepoTags}}<{{.}}>{{end}} {{.Os}}", "localhost/demo:1", "localhost/busybox"});
    CHECK(tags.out == "<localhost/demo:1> linux\n<localhost/busybox:latest> linux\n");
    auto id = kiln({"inspect", "-f", "{{.Id}}", "localhost/demo:1"});
    auto by_id = kiln({"inspect", "-f", "{{.Id}}", id.out.substr(7, 12)});
    CHECK(by_id.out == id.out);
}

TEST_CASE("inspecting an unknown image fails as docker does", "[integration][inspect]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    auto none = kiln({"image", "inspect", "no-such-image"});
    CHECK(none.exit_code == 1);
    CHECK(none.out == "[]\n");
    CHECK(none.err == "Error: No such image: no-such-image\n");

    auto some = kiln({"inspect", "-f", "{{.Os}}", "localhost/busybox", "nope"});
    CHECK(some.exit_code == 1);
    CHECK(some.out == "linux\n");
    CHECK(some.err == "Error: No such object: nope\n");

    auto bad = kiln({"inspect", "-f", "{{.Os", "localhost/busybox"});
    CHECK(bad.exit_code == 125);

    auto history = kiln({"history", "nope"});
    CHECK(history.exit_code == 1);
    CHECK(history.err == "Error: No such image: nope\n");
}

TEST_CASE("history lists the config's steps newest first with layer sizes", "[integration][history]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    build_demo(kiln);

    auto r = kiln({"history", "localhost/demo:1"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> lines;
    for (std::size_t start = 0, nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(r.out.substr(start, nl - start));
    REQUIRE(lines.size() == 7);
    CHECK(std::regex_search(lines[0], std::regex("^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$")));
    CHECK(std::regex_search(lines[1], std::regex("^[0-9a-f]{12}   .*CMD \\[\"sh\"\\] +0B")));
    CHECK(std::regex_search(lines[2], std::regex("^<missing> +.*COPY .*[0-9.]+kB")));
    CHECK(lines[3].find("…") != std::string::npos);  // the RUN line is longer than 45 characters
    CHECK(std::regex_search(lines[5], std::regex("ENV GREETING=hello PATH=/usr/bin:/bin +0B")));

    auto raw = kiln({"history", "-H=false", "--no-trunc", "--format", "{{.ID}}|{{.Size}}|{{.CreatedBy}}", "localhost/demo:1"});
    INFO(raw.err);
    REQUIRE(raw.exit_code == 0);
    CHECK(std::regex_search(raw.out, std::regex("^sha256:[0-9a-f]{64}\\|0\\|CMD \\[\"sh\"\\]\n")));
    CHECK(raw.out.find("rm /bin/vi") != std::string::npos);
    CHECK(raw.out.find("…") == std::string::npos);

    auto quiet = kiln({"history", "-q", "localhost/demo:1"});
    CHECK(std::regex_match(quiet.out, std::regex("[0-9a-f]{12}\n(<missing>\n){5}")));
}

TEST_CASE("images lists, filters and formats like docker images", "[integration][images]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    build_demo(kiln);
    REQUIRE(kiln({"tag", "localhost/demo:1", "localhost/demo:latest"}).exit_code == 0);

    auto table = kiln({"images"});
    REQUIRE(table.exit_code == 0);
    CHECK(table.out.starts_with("REPOSITORY          TAG       IMAGE ID       CREATED"));
    CHECK(std::regex_search(table.out, std::regex("\nlocalhost/demo      1         [0-9a-f]{12}   [^\n]* ago   [0-9.]+MB\n")));

    CHECK(kiln({"image", "ls"}).out == table.out);
    auto quiet = kiln({"images", "-q"});
    CHECK(std::regex_match(quiet.out, std::regex("([0-9a-f]{12}\n){3}")));  // one line per name, as docker
    auto refs = kiln({"images", "--filter", "reference=localhost/demo", "--format", "{{.Repository}}:{{.Tag}}"});
    CHECK(refs.out == "localhost/demo:1\nlocalhost/demo:latest\n");
    auto positional = kiln({"images", "localhost/busybox", "--format", "{{.Tag}}"});
    CHECK(positional.out == "latest\n");
    auto labelled = kiln({"images", "-f", "label=org.example.team=builders", "--format", "{{.Repository}}"});
    CHECK(labelled.out == "localhost/demo\nlocalhost/demo\n");
    auto before = kiln({"images", "--filter", "before=localhost/demo:1", "--format", "{{.Repository}}"});
    auto since = kiln({"images", "--filter", "since=localhost/busybox", "--format", "{{.Repository}}"});
    // The build may land in the same second as the import: then neither is before the other.
    CHECK((before.out == "localhost/busybox\n" || before.out.empty()));
    CHECK((since.out == "localhost/demo\nlocalhost/demo\n" || since.out.empty()));
    auto full = kiln({"images", "--no-trunc", "--digests", "--format", "table {{.ID}}\t{{.Digest}}", "localhost/busybox"});
    CHECK(std::regex_match(full.out, std::regex("IMAGE ID +DIGEST\nsha256:[0-9a-f]{64}   <none>\n")));

    REQUIRE(kiln({"rmi", "localhost/demo:latest"}).exit_code == 0);
    REQUIRE(kiln({"tag", "localhost/busybox", "localhost/demo:1"}).exit_code == 0);  // demo is now dangling
    auto dangling = kiln({"images", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}}"});
    CHECK(dangling.out == "<none>:<none>\n");
    auto bad = kiln({"images", "--filter", "colour=red"});
    CHECK(bad.exit_code != 0);
    CHECK(bad.err.find("invalid filter 'colour'") != std::string::npos);
}

TEST_CASE("diff and image tree show each layer's changes and the bytes later layers waste", "[integration][diff]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    build_image(kiln,
                "FROM localhost/busybox\n"
                "COPY big.bin /data/big.bin\n"
                "RUN rm /data/big.bin && echo small > /data/small && rm /etc/group\n",
                "localhost/wasteful", {{"big.bin", std::string(10000, 'x')}});

    auto top = kiln({"diff", "--layer", "2", "localhost/wasteful"});
    INFO(top.out << top.err);
    REQUIRE(top.exit_code == 0);
    CHECK(top.out == "C /data\nD /data/big.bin\nA /data/small\nC /etc\nD /etc/group\n");
    auto copy = kiln({"diff", "--layer", "1", "localhost/wasteful"});
    CHECK(copy.out == "A /data\nA /data/big.bin\n");

    auto all = kiln({"diff", "localhost/wasteful"});
    CHECK(std::regex_search(all.out, std::regex("\n# layer 1 sha256:[0-9a-f]{12} [0-9.]+kB, wasted 10kB: COPY ")));
    CHECK(all.out.ends_with("# wasted: 10kB\n"));

    auto json = nlohmann::json::parse(kiln({"diff", "--json", "localhost/wasteful"}).out);
    REQUIRE(json["Layers"].size() == 3);
    CHECK(json["Layers"][0]["WastedBytes"] > 0);  // the base's /etc/group, deleted by the RUN
    CHECK(json["WastedBytes"] == 10000 + json["Layers"][0]["WastedBytes"].get<int>());
    CHECK(json["Layers"][1]["WastedBytes"] == 10000);
    CHECK(json["Layers"][2]["Changes"][1] == nlohmann::json({{"Kind", "D"}, {"Path", "/data/big.bin"}, {"Size", 10000}}));

    auto tree = kiln({"image", "tree", "localhost/wasteful"});
    CHECK(std::regex_search(tree.out, std::regex("^localhost/wasteful sha256:[0-9a-f]{12} [0-9.]+MB, 3 layers, wasted 10kB\n")));
    CHECK(std::regex_search(tree.out, std::regex("\n├─ 1 +sha256:[0-9a-f]{12} +[0-9.]+kB +A 2  C 0  D 0 +wasted 10kB +COPY")));
    CHECK(std::regex_search(tree.out, std::regex("\n└─ 2 .*A 1  C 2  D 2 +wasted 0B +RUN ")));

    auto missing = kiln({"diff", "nope"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "Error: No such image: nope\n");
    CHECK(kiln({"diff", "--layer", "7", "localhost/wasteful"}).exit_code == 125);
}
