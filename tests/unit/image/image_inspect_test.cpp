#include <catch2/catch.hpp>

#include "image/image_inspect.hpp"
#include "image/layer_store.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

const Digest kImage = sha256_of("image");

nlohmann::json built_config() {
    return nlohmann::json::parse(R"({
        "architecture": "amd64", "os": "linux", "created": "2024-05-01T10:00:00Z", "author": "me",
        "config": {"Env": ["PATH=/bin", "A=<1>"], "Cmd": ["sh"], "Labels": {"k": "v"},
                   "ExposedPorts": {"80/tcp": {}}, "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111",
                                                   "sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
        "history": [
            {"created": "2024-05-01T09:00:00Z", "created_by": "ADD rootfs.tar /", "comment": "base"},
            {"created": "2024-05-01T09:30:00Z", "created_by": "ENV A=<1>", "empty_layer": true},
            {"created": "2024-05-01T10:00:00Z", "created_by": "RUN [\"/bin/sh\",\"-c\",\"apk add --no-cache curl ca-certificates\"]"},
            {"created": "2024-05-01T10:00:00Z", "created_by": "CMD [\"sh\"]", "empty_layer": true}
        ]})");
}

}  // namespace

TEST_CASE("inspect objects have Docker's fields in Docker's order", "[image][inspect]") {
    LayerInfo bottom{sha256_of("l1"), sha256_of("d1"), std::nullopt, 10, "/s/layers/l1/diff"};
    LayerInfo top{sha256_of("l2"), sha256_of("d2"), bottom.chain_id, 20, "/s/layers/l2/diff"};
    auto object = inspect_object(kImage, built_config(), 30, {"demo:1"}, {bottom, top}, "/s/layers");
    std::vector<std::string> keys;
    for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created",
                                           "DockerVersion", "Author", "Config", "Architecture", "Os", "Size",
                                           "GraphDriver", "RootFS", "Metadata"});
    CHECK(object["Config"]["Env"][1] == "A=<1>");
    CHECK(object["Config"]["ExposedPorts"].contains("80/tcp"));
    CHECK(object["Config"]["Entrypoint"].is_null());
    CHECK(object["Config"]["Volumes"].is_null());
    CHECK(object["GraphDriver"]["Data"]["LowerDir"] == "/s/layers/l1/diff");
    CHECK(object["GraphDriver"]["Data"]["UpperDir"] == "/s/layers/l2/diff");
    CHECK(object["RootFS"]["Layers"].size() == 2);
    std::string text = inspect_json(TemplateValue::array({object}));
    CHECK(text.starts_with("[\n    {\n        \"Id\": \"sha256:"));
    CHECK(text.find("\"A=\\u003c1\\u003e\"") != std::string::npos);
}

TEST_CASE("history rows pair layers with the entries that made them, newest first", "[image][history]") {
    auto rows = history_rows(built_config(), {2000000, 3072}, kImage, {"demo:1"});
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].id == kImage.str());
    CHECK(rows[0].tags == std::vector<std::string>{"demo:1"});
    CHECK(rows[0].size == 0);  // CMD: metadata only
    CHECK(rows[1].id == "<missing>");
    CHECK(rows[1].size == 3072);
    CHECK(rows[2].size == 0);
    CHECK(rows[3].size == 2000000);
    CHECK(rows[3].comment == "base");

    auto fields = history_fields(rows[1], true, true, rows[1].created + 7200);
    CHECK(fields["ID"] == "<missing>");
    CHECK(fields["CreatedSince"] == "2 hours ago");
    CHECK(fields["CreatedBy"] == "RUN [\"/bin/sh\",\"-c\",\"apk add --no-cache curl…");
    CHECK(fields["Size"] == "3.07kB");
    auto top = history_fields(rows[0], false, true, 0);
    CHECK(top["ID"] == kImage.short_hex());
    CHECK(top["Size"] == "0");
    CHECK(history_fields(rows[1], true, false, 0)["CreatedBy"] == rows[1].created_by);
}

TEST_CASE("a config without history still shows its layers", "[image][history]") {
    auto config = nlohmann::json::parse(R"({"rootfs": {"type": "layers", "diff_ids": []}})");
    auto rows = history_rows(config, {5, 7}, kImage, {});
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].size == 7);
    CHECK(rows[0].id == kImage.str());
    CHECK(ellipsis("äöü", 3) == "äöü");
    CHECK(ellipsis("äöüß", 3) == "äö…");
}
