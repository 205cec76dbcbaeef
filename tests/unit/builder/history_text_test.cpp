#include <catch2/catch.hpp>

#include "builder/history_text.hpp"

using kiln::builder::copy_history_text;
using kiln::builder::run_history_text;

TEST_CASE("RUN's history names the stage's ARGs and the argv as BuildKit does", "[builder][history]") {
    CHECK(run_history_text({"/bin/sh", "-c", "echo hi > /f"}, {}) == "RUN /bin/sh -c echo hi > /f # buildkit");
    CHECK(run_history_text({"/bin/sh", "-c", "make"}, {{"V", "1.0"}, {"EMPTY", ""}}) ==
          "RUN |2 V=1.0 EMPTY= /bin/sh -c make # buildkit");
    // an ARG declared twice keeps its first place and takes the later value
    CHECK(run_history_text({"true"}, {{"A", "1"}, {"B", "2"}, {"A", "3"}}) == "RUN |2 A=3 B=2 true # buildkit");
    CHECK(run_history_text({"/bin/echo", "exec", "form"}, {}) == "RUN /bin/echo exec form # buildkit");
}

TEST_CASE("COPY and ADD history lists flags, paths, heredocs and the destination as written", "[builder][history]") {
    CHECK(copy_history_text({false, false, "", "", {"a.txt", "b.txt"}, "/multi/"}) == "COPY a.txt b.txt /multi/ # buildkit");
    CHECK(copy_history_text({true, false, "", "", {"archive.tar.gz"}, "/unpacked/"}) ==
          "ADD archive.tar.gz /unpacked/ # buildkit");
    CHECK(copy_history_text({false, true, "99:99", "0640", {"x/a"}, "rel/"}) ==
          "COPY --parents --chown=99:99 --chmod=0640 x/a rel/ # buildkit");
    CHECK(copy_history_text({false, false, "", "", {"<<-EOT", "f", "<<TWO"}, "/d/"}) ==
          "COPY f <<EOT <<TWO /d/ # buildkit");
}
