#include <catch2/catch.hpp>

#include <thread>

#include "image/metadata_db.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::LayerRow;
using kiln::image::MetadataDb;

namespace {

Digest d(const std::string& s) { return kiln::sha256_of(s); }

LayerRow layer(const std::string& name, std::optional<Digest> parent = std::nullopt) {
    return LayerRow{d(name), d("diff-" + name), parent, 42, "SHORT" + name, 1000};
}

}  // namespace

TEST_CASE("metadata db opens in WAL mode with the current schema", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    {
        MetadataDb db(path);
        CHECK(db.journal_mode() == "wal");
        CHECK(db.schema_version() == MetadataDb::kSchemaVersion);
        db.put_layer(layer("a"));
    }
    // Reopening keeps data and does not migrate again.
    MetadataDb db(path);
    CHECK(db.schema_version() == MetadataDb::kSchemaVersion);
    REQUIRE(db.get_layer(d("a")));
    CHECK(db.get_layer(d("a"))->short_id == "SHORTa");
}

TEST_CASE("metadata db refuses a schema newer than it knows", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    {
        MetadataDb db(path);
        db.exec("PRAGMA user_version=99");
    }
    CHECK_THROWS_AS(MetadataDb(path), kiln::Error);
}

TEST_CASE("metadata db transactions roll back unless committed", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    MetadataDb db(dir.path() + "/kiln.db");
    {
        MetadataDb::Transaction tx(db);
        db.put_layer(layer("a"));
        CHECK(db.get_layer(d("a")));  // visible inside the transaction
    }
    CHECK_FALSE(db.get_layer(d("a")));
    {
        auto tx = db.transaction();
        db.put_layer(layer("a"));
        tx.commit();
    }
    CHECK(db.get_layer(d("a")));
    CHECK_THROWS(db.in_transaction([&] {
        db.set_ref("x", d("img"));
        throw kiln::Error("boom");
    }));
    CHECK_FALSE(db.get_ref("x"));
}

TEST_CASE("metadata db: a second connection sees committed writes and waits for the lock",
          "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    MetadataDb a(dir.path() + "/kiln.db");
    MetadataDb b(dir.path() + "/kiln.db");
    MetadataDb c(dir.path() + "/kiln.db");
    std::thread writer;
    {
        MetadataDb::Transaction tx(a);
        a.put_layer(layer("a"));
        // b's write must wait (busy_timeout) for a's commit rather than fail.
        writer = std::thread([&] { b.put_layer(layer("b")); });
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK_FALSE(c.get_layer(d("a")));  // readers see the last commit (WAL)
        tx.commit();
    }
    writer.join();
    CHECK(b.get_layer(d("a")));
    CHECK(a.get_layer(d("b")));
}

TEST_CASE("metadata db layers, images, refs and blobs", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    MetadataDb db(dir.path() + "/kiln.db");
    CHECK(db.put_layer(layer("a")));
    CHECK_FALSE(db.put_layer(layer("a")));  // existing row kept
    db.put_layer(layer("b", d("a")));
    CHECK(db.layer_children(d("a")) == std::vector<Digest>{d("b")});
    CHECK(db.list_layers().size() == 2);
    REQUIRE(db.get_layer(d("b"))->parent);
    CHECK(*db.get_layer(d("b"))->parent == d("a"));

    Digest img = d("config");
    db.put_image({img, img, d("b"), 5, 84});
    CHECK(db.images_with_top_chain(d("b")) == std::vector<Digest>{img});
    CHECK(db.images_with_prefix(img.hex().substr(0, 6)) == std::vector<Digest>{img});
    CHECK(db.images_with_prefix("%").empty());
    CHECK(db.images_with_prefix("zz").empty());

    db.set_ref("docker.io/library/x:latest", img);
    db.set_ref("docker.io/library/x:1", img);
    CHECK(db.refs_for(img) == std::vector<std::string>{"docker.io/library/x:1", "docker.io/library/x:latest"});
    CHECK(db.delete_ref("docker.io/library/x:1"));
    CHECK_FALSE(db.delete_ref("docker.io/library/x:1"));
    CHECK(db.list_refs().size() == 1);

    db.put_blob({d("gz"), "application/vnd.oci.image.layer.v1.tar+gzip", 10, d("diff-b")});
    db.put_blob({d("gz-orphan"), "application/vnd.oci.image.layer.v1.tar+gzip", 10, d("diff-zzz")});
    CHECK(db.blobs_for_diff(d("diff-b")).size() == 1);
    auto orphans = db.orphan_layer_blobs();
    REQUIRE(orphans.size() == 1);
    CHECK(orphans[0].digest == d("gz-orphan"));
    db.delete_image(img);
    CHECK_FALSE(db.get_image(img));
}

TEST_CASE("metadata db build cache", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    MetadataDb db(dir.path() + "/kiln.db");
    CHECK_FALSE(db.cache_get("k1"));
    db.cache_put("k1", d("chain").str());
    db.cache_put("k2", R"({"Env":["A=1"]})", "config");
    CHECK(db.cache_get("k1") == d("chain").str());
    auto e = db.cache_entry("k2");
    REQUIRE(e);
    CHECK(e->kind == "config");
    CHECK(e->result == R"({"Env":["A=1"]})");
    CHECK(e->created > 0);
    CHECK(db.cache_list().size() == 2);
    CHECK(db.cache_layer_roots() == std::vector<Digest>{d("chain")});
    db.cache_put("k1", d("other").str());  // overwrite
    CHECK(db.cache_get("k1") == d("other").str());
    CHECK(db.cache_delete("k1"));
    CHECK_FALSE(db.cache_delete("k1"));
    CHECK(db.cache_list().size() == 1);
    CHECK(db.cache_layer_roots().empty());
}

TEST_CASE("metadata db remembers build-context file digests by file identity", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    MetadataDb db(dir.path() + "/kiln.db");
    using kiln::image::FileDigestRow;
    db.file_digest_put_many({{"/ctx/a", 3, 111, 7, 1, "sha256:aa"},
                             {"/ctx/b%_", 4, 222, 8, 1, "sha256:bb"},
                             {"/ctxother/c", 5, 333, 9, 1, "sha256:cc"}});
    CHECK(db.file_digest_get("/ctx/a", 3, 111, 7, 1) == "sha256:aa");
    CHECK_FALSE(db.file_digest_get("/ctx/a", 3, 112, 7, 1));  // touched: read it again
    CHECK_FALSE(db.file_digest_get("/ctx/a", 3, 111, 6, 1));  // replaced by another inode
    auto under = db.file_digests_under("/ctx/");
    REQUIRE(under.size() == 2);
    CHECK(under[1].path == "/ctx/b%_");
    CHECK(under[1].mtime_ns == 222);
    db.file_digest_put_many({{"/ctx/a", 3, 999, 7, 1, "sha256:new"}});
    CHECK(db.file_digest_get("/ctx/a", 3, 999, 7, 1) == "sha256:new");
}

TEST_CASE("metadata db migrates a version 1 store", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    {
        MetadataDb db(path);
        db.put_layer(layer("a"));
        db.exec("DROP TABLE file_digests; PRAGMA user_version=1");
    }
    MetadataDb db(path);
    CHECK(db.schema_version() == MetadataDb::kSchemaVersion);
    CHECK(db.get_layer(d("a")));
    db.file_digest_put_many({{"/x", 1, 1, 1, 1, "sha256:x"}});
    CHECK(db.file_digest_get("/x", 1, 1, 1, 1));
}

TEST_CASE("metadata db migrates a version 3 build cache, counting hits from then on", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    {
        MetadataDb db(path);
        db.exec("DROP TABLE build_cache; CREATE TABLE build_cache(key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "result TEXT NOT NULL, created INTEGER NOT NULL, last_used INTEGER NOT NULL); "
                "INSERT INTO build_cache VALUES('old', 'layer', 'sha256:x', 1, 2); PRAGMA user_version=3");
    }
    MetadataDb db(path);
    CHECK(db.schema_version() == MetadataDb::kSchemaVersion);
    auto old = db.cache_entry("old");
    REQUIRE(old);
    CHECK(old->hits == 0);
    CHECK(old->step.empty());
    CHECK(db.cache_get("old") == "sha256:x");
    CHECK(db.cache_get("old"));
    CHECK(db.cache_entry("old")->hits == 2);
    db.cache_put("new", "sha256:y", "layer", "RUN make");
    db.cache_put("new", "sha256:y", "layer");  // stored again without a step: the text stays
    CHECK(db.cache_entry("new")->step == "RUN make");
}

TEST_CASE("metadata db adds the image_manifests table to a version 7 store", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    const auto image = kiln::sha256_of("config"), manifest = kiln::sha256_of("manifest");
    {
        MetadataDb db(path);
        db.put_image(kiln::image::ImageRow{image, image, std::nullopt, 1, 0});
        db.exec("DROP TABLE image_manifests; PRAGMA user_version=7");
    }
    MetadataDb db(path);
    CHECK(db.schema_version() == MetadataDb::kSchemaVersion);
    CHECK(db.get_image(image));
    CHECK(db.image_manifests_for(image).empty());
    db.put_image_manifest(image, manifest, "application/vnd.docker.distribution.manifest.v2+json");
    const auto rows = db.image_manifests_for(image);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].digest == manifest);
    CHECK(rows[0].media_type == "application/vnd.docker.distribution.manifest.v2+json");
    db.delete_image(image);  // the image's manifests go with it
    CHECK(db.image_manifests_for(image).empty());
}
