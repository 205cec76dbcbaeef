#include <catch2/catch.hpp>

#include "util/error.hpp"
#include "util/go_template.hpp"

using kiln::GoTemplate;
using kiln::TemplateValue;

namespace {

// An image as `docker image inspect` shows it (the fields the docker docs' examples use).
const TemplateValue image = TemplateValue::parse(R"({
  "Id": "sha256:abc",
  "RepoTags": ["app:1", "app:latest"],
  "Size": 1234,
  "Config": {"Env": ["PATH=/usr/bin", "A=1"], "Labels": {"org.x": "y", "b": "2"}, "Cmd": null, "User": ""},
  "Ratio": 0.5,
  "Big": 1000000.0,
  "Ok": true
})");

std::string render(const std::string& text, const TemplateValue& data = image) {
    return GoTemplate(text).execute(data);
}

}  // namespace

TEST_CASE("fields, dot and Go's printing of values", "[util][template]") {
    CHECK(render("{{.Id}}") == "sha256:abc");
    CHECK(render("id={{ .Id }}!") == "id=sha256:abc!");
    CHECK(render("{{.Config.Env}}") == "[PATH=/usr/bin A=1]");
    CHECK(render("{{.Config.Labels}}") == "map[b:2 org.x:y]");
    CHECK(render("{{.Size}} {{.Ok}} {{.Ratio}} {{.Big}}") == "1234 true 0.5 1e+06");
    CHECK(render("{{.Config.Cmd}}") == "<nil>");
    CHECK(render("{{.Nope}}") == "<no value>");
    CHECK(render("{{.Nope.Deeper}}") == "<no value>");
    CHECK(render("{{.}}", TemplateValue("x")) == "x");
    CHECK(render("{{$.Id}}") == "sha256:abc");
}

TEST_CASE("json, index, len, join and the docker CLI's string functions", "[util][template]") {
    CHECK(render("{{json .Config.Env}}") == R"(["PATH=/usr/bin","A=1"])");
    CHECK(render("{{json .Config}}") ==
          R"({"Env":["PATH=/usr/bin","A=1"],"Labels":{"org.x":"y","b":"2"},"Cmd":null,"User":""})");
    CHECK(render("{{json .}}", TemplateValue("<a&b>")) == R"("\u003ca\u0026b\u003e")");
    CHECK(render(R"({{index .Config.Labels "org.x"}})") == "y");
    CHECK(render(R"({{index .RepoTags 1}})") == "app:latest");
    CHECK(render("{{len .RepoTags}}") == "2");
    CHECK(render(R"({{join .RepoTags ", "}})") == "app:1, app:latest");
    CHECK(render(R"({{upper .Id}} {{lower "AbC"}} {{title "hello world"}})") == "SHA256:ABC abc Hello World");
    CHECK(render(R"({{truncate .Id 6}}|{{pad "x" 1 2}}|)") == "sha256| x  |");
    CHECK(render(R"({{split "a:b:c" ":"}})") == "[a b c]");
    CHECK(render(R"({{printf "%s=%d %q %5s|%-4s|" "n" 7 "q" "r" "l"}})") == R"(n=7 "q"     r|l   |)");
    CHECK(render(R"({{println "a" 1}})") == "a 1\n");
    CHECK(render(R"({{print 1 2 "x" 3}})") == "1 2x3");
    CHECK(render(R"({{.Id | printf "%s!"}})") == "sha256:abc!");
    CHECK(render(R"({{(index .RepoTags 0) | upper}})") == "APP:1");
}

TEST_CASE("range, if, with, variables and trimming", "[util][template]") {
    CHECK(render("{{range .RepoTags}}[{{.}}]{{end}}") == "[app:1][app:latest]");
    CHECK(render("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}") == "0=app:1 1=app:latest ");
    CHECK(render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}") == "b:2;org.x:y;");
    CHECK(render("{{range .Config.Cmd}}x{{else}}none{{end}}") == "none");
    CHECK(render("{{if .Ok}}yes{{else}}no{{end}}") == "yes");
    CHECK(render("{{if .Config.User}}u{{else if .Ok}}ok{{else}}no{{end}}") == "ok");
    CHECK(render("{{if and .Ok (eq .Size 1234)}}both{{end}}") == "both");
    CHECK(render("{{if or .Config.User (not .Ok)}}a{{else}}b{{end}}") == "b");
    CHECK(render(R"({{if eq .Id "x" "sha256:abc"}}m{{end}})") == "m");
    CHECK(render("{{if gt .Size 1000}}big{{end}}{{if lt .Ratio 1}} small{{end}}") == "big small");
    CHECK(render("{{with .Config}}{{.Env}}{{end}}") == "[PATH=/usr/bin A=1]");
    CHECK(render("{{with .Nope}}x{{else}}empty{{end}}") == "empty");
    CHECK(render("{{$n := .Size}}{{$n}}") == "1234");
    CHECK(render("a  {{- .Ok -}}  \n b") == "atrueb");
    CHECK(render("{{/* a comment */}}x") == "x");
    CHECK(render("{{range .RepoTags}}{{$.Size}}{{end}}") == "12341234");
}

TEST_CASE("bad templates and failing functions are one-line errors", "[util][template]") {
    for (const char* bad : {"{{.Id", "{{if .Ok}}x", "{{end}}", "{{range}}{{end}}", R"({{"unterminated}})",
                            "{{.Id | }}", "{{define \"x\"}}{{end}}", "{{else}}", "{{(.Id}}"}) {
        INFO(bad);
        CHECK_THROWS_WITH(GoTemplate(bad), Catch::StartsWith("template parsing error: "));
    }
    CHECK_THROWS_WITH(render("{{nosuch .Id}}"), Catch::Contains("function \"nosuch\" not defined"));
    CHECK_THROWS_WITH(render("{{index .RepoTags 5}}"), Catch::Contains("index out of range: 5"));
    CHECK_THROWS_WITH(render("{{.Id .Size}}"), Catch::Contains("can't give argument to non-function"));
    CHECK_THROWS_WITH(render("{{$x}}"), Catch::Contains("undefined variable: $x"));
    CHECK_THROWS_WITH(render("{{.RepoTags.Name}}"), Catch::Contains("can't evaluate field Name"));
    CHECK_THROWS_AS(render("{{range .Size}}{{end}}"), kiln::Error);
}

TEST_CASE("tabwrite pads columns as the docker CLI's tables", "[util][template]") {
    CHECK(kiln::tabwrite("REPOSITORY\tTAG\nbusybox\tlatest\n") == "REPOSITORY   TAG\nbusybox      latest\n");
    CHECK(kiln::tabwrite("REPOSITORY\tTAG\nbusybox\tlatest\n", 20) ==
          "REPOSITORY          TAG\nbusybox             latest\n");
    std::string long_name(25, 'n');
    CHECK(kiln::tabwrite("A\tB\n" + long_name + "\tx\n", 20) == "A" + std::string(27, ' ') + "B\n" + long_name + "   x\n");
}

TEST_CASE("tabwrite with tab padding rounds cells up to tab stops as buildx's tables", "[util][template]") {
    CHECK(kiln::tabwrite("ID\tSIZE\nabcdefgh\t1kB\n", 1, 1, '\t') == "ID\t\tSIZE\nabcdefgh\t1kB\n");
    CHECK(kiln::tabwrite("Total:\t5MB\n", 1, 1, '\t') == "Total:\t5MB\n");
}
