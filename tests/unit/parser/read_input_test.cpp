// Reading a Dockerfile for `kiln parse` / `kiln lint`: files by their size, pipes growing.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "parser/parse.hpp"
#include "parser/read_input.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using kiln::parser::read_dockerfile_input;

namespace {
std::string temp_parent() {
    const char* dir = std::getenv("TMPDIR");
    return dir ? dir : "/tmp";
}
}  // namespace

TEST_CASE("a Dockerfile is read whole, exactly its bytes", "[parser][read]") {
    kiln::TempDir dir(temp_parent(), "kiln-read-");
    const std::string path = dir.path() + "/Dockerfile";
    kiln::atomic_write(path, "FROM a\nRUN b\n");
    const std::string text = read_dockerfile_input(path);
    CHECK(text == "FROM a\nRUN b\n");
    // Sized from fstat: the buffer is not the parser's 64 MiB limit.
    CHECK(text.capacity() < (1u << 20));

    kiln::atomic_write(path, "");
    CHECK(read_dockerfile_input(path).empty());
}

TEST_CASE("an input past the limit is cut one byte past it, for the parser to refuse", "[parser][read]") {
    kiln::TempDir dir(temp_parent(), "kiln-read-");
    const std::string path = dir.path() + "/Dockerfile";
    kiln::atomic_write(path, "");
    REQUIRE(::truncate(path.c_str(), static_cast<off_t>(kiln::parser::kMaxDockerfileSize + 100)) == 0);
    CHECK(read_dockerfile_input(path).size() == kiln::parser::kMaxDockerfileSize + 1);
}

TEST_CASE("a missing Dockerfile or a directory is a one-line error naming it", "[parser][read][errors]") {
    kiln::TempDir dir(temp_parent(), "kiln-read-");
    CHECK_THROWS_WITH(read_dockerfile_input(dir.path() + "/nope"),
                      Catch::Contains("cannot read " + dir.path() + "/nope"));
    CHECK_THROWS_WITH(read_dockerfile_input(dir.path()), Catch::Contains("is a directory"));
}

TEST_CASE("a pipe is read to its end, growing past the first chunk", "[parser][read]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    kiln::UniqueFd read_end(fds[0]);
    kiln::UniqueFd write_end(fds[1]);
    std::string body = "FROM a\n";
    while (body.size() < 300000) body += "RUN echo " + std::to_string(body.size()) + "\n";
    std::thread writer([&] {
        kiln::write_all(write_end.get(), body, "pipe");
        write_end.reset();
    });
    // stdin is the pipe for the call; the old stdin comes back afterwards.
    kiln::UniqueFd saved_stdin(::dup(STDIN_FILENO));
    REQUIRE(::dup2(read_end.get(), STDIN_FILENO) == STDIN_FILENO);
    std::string text;
    try {
        text = read_dockerfile_input("-");
    } catch (...) {
        ::dup2(saved_stdin.get(), STDIN_FILENO);
        writer.join();
        throw;
    }
    ::dup2(saved_stdin.get(), STDIN_FILENO);
    writer.join();
    CHECK(text == body);
}
