#include "builder/image_source.hpp"

#include <catch2/catch.hpp>

#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::builder::find_or_pull;
using kiln::builder::parse_pull_policy;
using kiln::builder::PullPolicy;

TEST_CASE("pull policies are docker's words", "[builder][pull]") {
    CHECK(parse_pull_policy("missing") == PullPolicy::Missing);
    CHECK(parse_pull_policy("always") == PullPolicy::Always);
    CHECK(parse_pull_policy("never") == PullPolicy::Never);
    CHECK(parse_pull_policy("true") == PullPolicy::Always);  // build --pull
    CHECK(parse_pull_policy("false") == PullPolicy::Missing);
    CHECK_THROWS_WITH(parse_pull_policy("sometimes"), Catch::Contains("missing, always or never"));
}

TEST_CASE("an image is pulled only when the policy says so", "[builder][pull]") {
    kiln::TempDir root("/tmp", "kiln-pull-policy-");
    kiln::image::Store store(root.path());
    Digest id = store.images().put_image(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})");
    store.images().tag("docker.io/library/here:latest", id);
    std::vector<std::string> pulled;
    kiln::builder::ImagePuller puller = [&](const kiln::image::Reference& ref) {
        pulled.push_back(ref.str());
        return id;
    };

    CHECK(find_or_pull(store, "here", PullPolicy::Missing, puller) == id);
    CHECK(find_or_pull(store, id.str(), PullPolicy::Missing, puller) == id);
    CHECK(pulled.empty());
    CHECK(find_or_pull(store, "absent:1", PullPolicy::Missing, puller) == id);
    CHECK(pulled == std::vector<std::string>{"docker.io/library/absent:1"});
    CHECK(find_or_pull(store, "here", PullPolicy::Always, puller) == id);
    CHECK(pulled.size() == 2);

    CHECK_THROWS_WITH(find_or_pull(store, "absent:1", PullPolicy::Never, puller), "No such image: absent:1");
    CHECK_THROWS_WITH(find_or_pull(store, "absent", PullPolicy::Missing, {}), "No such image: absent:latest");
    // An image id is looked up, never pulled.
    CHECK_THROWS_WITH(find_or_pull(store, "sha256:" + std::string(64, 'f'), PullPolicy::Missing, puller),
                      Catch::Contains("No such image"));
    CHECK(pulled.size() == 2);
}
