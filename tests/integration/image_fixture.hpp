#pragma once
// Builds small images for the tests that look into the store (inspect, cache, diff).
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "harness.hpp"
#include "util/fs.hpp"

namespace kiln::test {

// Builds `dockerfile` with the given context files as `tag` and returns kiln's output.
inline CommandResult build_image(const Kiln& kiln, const std::string& dockerfile, const std::string& tag,
                                 const std::map<std::string, std::string>& files = {}) {
    TempDir context("/tmp", "kiln-it-img-");
    atomic_write(context.path() + "/Dockerfile", dockerfile);
    for (const auto& [name, data] : files) atomic_write(context.path() + "/" + name, data);
    auto r = kiln({"build", "-t", tag, context.path()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
}

}  // namespace kiln::test
