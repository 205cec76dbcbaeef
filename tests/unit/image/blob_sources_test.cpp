#include <catch2/catch.hpp>

#include "image/blob_sources.hpp"
#include "image/metadata_db.hpp"
#include "image/store.hpp"
#include "util/fs.hpp"

using kiln::sha256_of;
using kiln::image::blob_source_repositories;
using kiln::image::record_blob_sources;
using Repos = std::vector<std::string>;

TEST_CASE("blob sources are kept per registry, without the repository asking, at most limit", "[store][blob-sources]") {
    kiln::TempDir root("/tmp", "kiln-blob-sources-test-");
    kiln::image::Store store(root.path());
    const auto a = sha256_of("a"), b = sha256_of("b");
    record_blob_sources(store, "localhost:5000", "team/one", {a, b});
    record_blob_sources(store, "localhost:5000", "team/two", {a});
    record_blob_sources(store, "localhost:5001", "elsewhere", {a});
    record_blob_sources(store, "localhost:5000", "team/one", {a});  // again: one row

    auto for_a = blob_source_repositories(store, a, "localhost:5000", "");
    std::sort(for_a.begin(), for_a.end());
    CHECK(for_a == Repos{"team/one", "team/two"});
    CHECK(blob_source_repositories(store, a, "localhost:5000", "team/two") == Repos{"team/one"});
    CHECK(blob_source_repositories(store, a, "localhost:5000", "", 1).size() == 1);
    CHECK(blob_source_repositories(store, b, "localhost:5000", "") == Repos{"team/one"});
    CHECK(blob_source_repositories(store, b, "localhost:5001", "").empty());
    CHECK(blob_source_repositories(store, sha256_of("c"), "localhost:5000", "").empty());
    record_blob_sources(store, "localhost:5000", "x", {});  // nothing to record
}

TEST_CASE("metadata db adds the blob_sources table to a version 6 store", "[store][db]") {
    kiln::TempDir dir("/tmp", "kiln-db-test-");
    const std::string path = dir.path() + "/kiln.db";
    {
        kiln::image::MetadataDb db(path);
        db.exec("DROP TABLE blob_sources; PRAGMA user_version=6");
    }
    kiln::image::MetadataDb db(path);
    CHECK(db.schema_version() == kiln::image::MetadataDb::kSchemaVersion);
    db.blob_source_put(sha256_of("a"), "localhost:5000", "r");
    CHECK(db.blob_source_repositories(sha256_of("a"), "localhost:5000") == Repos{"r"});
}
