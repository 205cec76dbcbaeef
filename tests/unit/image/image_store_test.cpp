#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::LayerInfo;
using kiln::image::Store;

namespace {

// A config whose rootfs is the given layers, bottom first.
std::string config_for(const std::vector<LayerInfo>& layers, const std::string& created,
                       const std::string& cmd = "sh") {
    nlohmann::json diff_ids = nlohmann::json::array();
    for (const auto& l : layers) diff_ids.push_back(l.diff_id.str());
    nlohmann::json cfg = {{"architecture", "amd64"},
                          {"os", "linux"},
                          {"created", created},
                          {"config", {{"Cmd", {cmd}}}},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    return cfg.dump();
}

struct Fixture {
    kiln::TempDir root{"/tmp", "kiln-is-test-"};
    Store store{root.path()};
    LayerInfo base, top;

    Fixture() {
        base = layer("base", std::nullopt, "bin/sh", "shell");
        top = layer("top", base.chain_id, "app", "app");
    }
    LayerInfo layer(const std::string& key, const std::optional<Digest>& parent, const std::string& name,
                    const std::string& content) {
        auto snap = store.layers().prepare(key, parent);
        kiln::mkdir_p(snap.upper_dir + "/bin");
        kiln::atomic_write(snap.upper_dir + "/" + name, content);
        return store.layers().commit(key);
    }
};

}  // namespace

TEST_CASE("parse_rfc3339", "[store][images]") {
    using kiln::image::parse_rfc3339;
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339("2024-01-02T03:04:05.123456789Z") == 1704164645);
    CHECK(parse_rfc3339("2024-01-02T04:04:05+01:00") == 1704164645);
    CHECK_FALSE(parse_rfc3339("2024-01-02 03:04:05"));
    CHECK_FALSE(parse_rfc3339("2024-01-02T03:04:05"));
    CHECK_FALSE(parse_rfc3339("yesterday"));
}

TEST_CASE_METHOD(Fixture, "put_image records the config, chain and size", "[store][images]") {
    auto& images = store.images();
    std::string cfg = config_for({base, top}, "2024-01-02T03:04:05Z");
    Digest id = images.put_image(cfg);
    CHECK(id == kiln::sha256_of(cfg));
    CHECK(store.content().has(id));
    CHECK(images.config(id) == cfg);
    auto s = images.get(id);
    REQUIRE(s);
    CHECK(s->top_chain_id == top.chain_id);
    CHECK(s->size == base.size + top.size);
    CHECK(s->created == 1704164645);
    CHECK(s->names.empty());
    CHECK(images.put_image(cfg) == id);  // again: same image
    CHECK(images.list().size() == 1);

    // A config naming layers the store does not have is refused, and nothing is recorded.
    LayerInfo fake = top;
    fake.diff_id = kiln::sha256_of("missing");
    CHECK_THROWS_WITH(images.put_image(config_for({base, fake}, "2024-01-02T03:04:05Z")),
                      Catch::Contains("not in the layer store"));
    CHECK(images.list().size() == 1);
    CHECK_THROWS(images.put_image("not json"));
    CHECK_THROWS(images.put_image(R"({"rootfs":{"diff_ids":["sha256:zz"]}})"));
    // An image without layers is fine (FROM scratch with only metadata).
    Digest empty = images.put_image(R"({"rootfs":{"type":"layers","diff_ids":[]}})");
    CHECK_FALSE(images.get(empty)->top_chain_id);
}

TEST_CASE_METHOD(Fixture, "tag and resolve by name, id and id prefix", "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base, top}, "2024-01-02T03:04:05Z"));
    images.tag("docker.io/library/app:latest", id);
    CHECK(images.resolve("docker.io/library/app:latest") == id);
    CHECK(images.resolve("app") == id);
    CHECK(images.resolve("docker.io/app:latest") == id);
    CHECK(images.resolve(id.str()) == id);
    CHECK(images.resolve(id.hex()) == id);
    CHECK(images.resolve(id.hex().substr(0, 4)) == id);
    CHECK(images.resolve("sha256:" + id.hex().substr(0, 12)) == id);
    CHECK_FALSE(images.resolve(id.hex().substr(0, 3)));
    CHECK_FALSE(images.resolve("docker.io/library/nope:latest"));
    CHECK_FALSE(images.resolve(kiln::sha256_of("nope").str()));
    CHECK_THROWS(images.tag("docker.io/library/x:1", kiln::sha256_of("nope")));

    // Moving a tag to another image.
    Digest id2 = images.put_image(config_for({base}, "2024-01-03T00:00:00Z"));
    images.tag("docker.io/library/app:latest", id2);
    // A name that is also an id prefix means the name, as in docker.
    const std::string prefix = id.hex().substr(0, 5);
    images.tag("docker.io/library/" + prefix + ":latest", id2);
    CHECK(images.resolve(prefix) == id2);
    images.untag("docker.io/library/" + prefix + ":latest");
    CHECK(images.resolve("docker.io/library/app:latest") == id2);
    CHECK(images.get(id)->names.empty());
    auto list = images.list();
    REQUIRE(list.size() == 2);
    CHECK(list[0].id == id2);  // newest first
    CHECK(list[0].names == std::vector<std::string>{"docker.io/library/app:latest"});
    CHECK(images.untag("docker.io/library/app:latest"));
    CHECK_FALSE(images.untag("docker.io/library/app:latest"));
}

TEST_CASE_METHOD(Fixture, "remove follows docker rmi and collects unused layers", "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base, top}, "2024-01-02T03:04:05Z"));
    Digest small = images.put_image(config_for({base}, "2024-01-02T03:04:05Z"));
    images.tag("docker.io/library/app:1", id);
    images.tag("docker.io/library/app:2", id);
    images.tag("docker.io/library/base:latest", small);

    CHECK_THROWS_WITH(images.remove("docker.io/library/nope:latest"), Catch::Contains("No such image"));
    // By id with two names: refused without force.
    CHECK_THROWS_WITH(images.remove(id.hex().substr(0, 8)), Catch::Contains("must be forced"));
    // By name: only untags while another name remains.
    CHECK(images.remove("docker.io/library/app:1") ==
          std::vector<std::string>{"Untagged: app:1"});
    CHECK(images.get(id));
    // The last name: untag, delete, and drop the top layer (base is still used).
    auto lines = images.remove("app:2");  // normalized like docker
    CHECK(lines == std::vector<std::string>{"Untagged: app:2", "Deleted: " + id.str(),
                                            "Deleted: " + top.chain_id.str()});
    CHECK_FALSE(images.get(id));
    CHECK_FALSE(store.content().has(id));
    CHECK_FALSE(store.layers().get(top.chain_id));
    CHECK(store.layers().get(base.chain_id));
    CHECK_FALSE(kiln::path_exists(top.diff_dir));

    // Forced removal by id of an image with several names.
    images.tag("docker.io/library/base:other", small);
    lines = images.remove(small.str(), true);
    CHECK(lines.size() == 4);
    CHECK(lines[0] == "Untagged: base:latest");
    CHECK(lines[2] == "Deleted: " + small.str());
    CHECK(store.layers().walk().empty());
    CHECK(images.list().empty());
}

TEST_CASE_METHOD(Fixture, "rmi keeps layers the build cache points at", "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base, top}, "2024-01-02T03:04:05Z"));
    store.db().cache_put("step-key", top.chain_id.str());
    auto lines = images.remove(id.str());
    CHECK(lines == std::vector<std::string>{"Deleted: " + id.str()});
    CHECK(store.layers().get(top.chain_id));
    CHECK(store.layers().get(base.chain_id));
}

TEST_CASE_METHOD(Fixture, "blobs of removed layers are dropped", "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base, top}, "2024-01-02T03:04:05Z"));
    Digest gz = store.content().put("pretend gzip of top");
    store.db().put_blob({gz, "application/vnd.oci.image.layer.v1.tar+gzip", 19, top.diff_id});
    images.remove(id.str());
    CHECK_FALSE(store.content().has(gz));
    CHECK_FALSE(store.db().get_blob(gz));
}

TEST_CASE_METHOD(Fixture, "repo digests name an image and go with its last tag in their repository",
                 "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base, top}, "2024-01-02T03:04:05Z"));
    const Digest manifest = kiln::sha256_of("a manifest");
    images.tag("docker.io/library/app:1", id);
    images.tag("docker.io/library/app:2", id);
    store.db().put_repo_digest(id, "docker.io/library/app", manifest);
    store.db().put_repo_digest(id, "docker.io/library/app", manifest);  // twice: one row
    CHECK(store.db().repo_digests_for(id).size() == 1);

    // "app@sha256:…" resolves through the digest, as docker's digest references do.
    CHECK(images.resolve("app@" + manifest.str()) == id);
    CHECK_FALSE(images.resolve("other@" + manifest.str()));

    CHECK(images.remove("app:1") == std::vector<std::string>{"Untagged: app:1"});
    CHECK(store.db().repo_digests_for(id).size() == 1);  // app:2 still tags it in that repository
    auto lines = images.remove("app:2");
    REQUIRE(lines.size() >= 3);
    CHECK(lines[0] == "Untagged: app:2");
    CHECK(lines[1] == "Untagged: app@" + manifest.str());
    CHECK(lines[2] == "Deleted: " + id.str());
    CHECK(store.db().repo_digests_for(id).empty());
    CHECK_FALSE(store.db().image_for_repo_digest("docker.io/library/app", manifest));
}

TEST_CASE_METHOD(Fixture, "an image pulled by digest only is removed by its digest reference", "[store][images]") {
    auto& images = store.images();
    Digest id = images.put_image(config_for({base}, "2024-01-02T03:04:05Z"));
    const Digest manifest = kiln::sha256_of("another manifest");
    store.db().put_repo_digest(id, "localhost:5000/a/b", manifest);
    auto lines = images.remove("localhost:5000/a/b@" + manifest.str());
    REQUIRE(lines.size() >= 2);
    CHECK(lines[0] == "Untagged: localhost:5000/a/b@" + manifest.str());
    CHECK(lines[1] == "Deleted: " + id.str());
    CHECK_FALSE(images.get(id));
}
