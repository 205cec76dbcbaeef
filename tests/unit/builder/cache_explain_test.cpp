#include <catch2/catch.hpp>

#include "builder/cache_explain.hpp"

using namespace kiln;
using namespace kiln::builder;

namespace {

Digest key_of(const std::string& name) { return sha256_of("key " + name); }

StepInputs step(const std::string& key, std::optional<std::string> parent, const std::string& instruction,
                std::map<std::string, std::string> args = {}, std::vector<SourceEntry> listing = {},
                std::int64_t created = 1) {
    std::optional<Digest> sources;
    if (!listing.empty()) {
        std::string all;
        for (const auto& e : listing) all += e.path + e.meta + e.content + "\n";
        sources = sha256_of(all);
    }
    auto inputs = StepInputs::make(key_of(key), parent ? std::optional(key_of(*parent)) : std::nullopt, instruction,
                                   args, sources, std::move(listing));
    inputs.created = created;
    return inputs;
}

SourceEntry file(const std::string& path, const std::string& content) {
    return {path, "32768:420", sha256_of(content).str()};
}

}  // namespace

TEST_CASE("explain_miss names the source file whose content changed, with old and new digests") {
    std::vector<StepInputs> earlier{step("from", std::nullopt, "FROM sha256:base"),
                                    step("copy1", "from", "COPY [\"src\"] /app/", {}, {file("/app/a.c", "one"), file("/app/b.c", "b")})};
    auto now = step("copy2", "from", "COPY [\"src\"] /app/", {}, {file("/app/a.c", "two"), file("/app/b.c", "b")});
    std::string why = explain_miss(now, earlier, false);
    CHECK(why == "source /app/a.c changed (" + sha256_of("one").str().substr(0, 19) + " -> " +
                     sha256_of("two").str().substr(0, 19) + ")");
}

TEST_CASE("explain_miss lists added and removed sources, and counts those it does not name") {
    std::vector<StepInputs> earlier{step("copy1", "from", "COPY . /", {}, {file("/a", "a"), file("/gone", "g")})};
    auto now = step("copy2", "from", "COPY . /", {},
                    {file("/a", "a"), file("/n1", "1"), file("/n2", "2"), file("/n3", "3"), file("/n4", "4")});
    std::string why = explain_miss(now, earlier, false);
    CHECK(why == "source /n1 added, source /n2 added, source /n3 added and 2 more");
}

TEST_CASE("explain_miss names a changed build arg but never its value") {
    std::vector<StepInputs> earlier{step("run1", "from", "RUN [\"/bin/sh\",\"-c\",\"make\"]", {{"VERSION", "1.0-secretish"}})};
    auto now = step("run2", "from", "RUN [\"/bin/sh\",\"-c\",\"make\"]", {{"VERSION", "2.0"}, {"EXTRA", "x"}});
    std::string why = explain_miss(now, earlier, false);
    CHECK(why == "build arg EXTRA is new, VERSION changed");
    CHECK(why.find("1.0") == std::string::npos);
    CHECK(now.serialize().find("2.0") == std::string::npos);
}

TEST_CASE("explain_miss shows the instruction it replaced when the same parent ran something else") {
    std::vector<StepInputs> earlier{step("run-old", "p", "RUN echo old", {}, {}, 1),
                                    step("run-older", "p", "RUN echo older", {}, {}, 0)};
    CHECK(explain_miss(step("run-new", "p", "RUN echo new"), earlier, false) ==
          "the instruction changed (was: RUN echo old)");
}

TEST_CASE("explain_miss blames the step before when that one was rebuilt") {
    std::vector<StepInputs> earlier{step("run1", "p-old", "RUN make")};
    CHECK(explain_miss(step("run2", "p-new", "RUN make"), earlier, true) == "the step before it was rebuilt");
}

TEST_CASE("explain_miss tells a changed base image apart from a new step") {
    std::vector<StepInputs> earlier{step("from-old", std::nullopt, "FROM sha256:" + std::string(64, 'a')),
                                    step("run1", "from-old", "RUN make"),
                                    step("from-new", std::nullopt, "FROM sha256:" + std::string(64, 'b'))};
    CHECK(explain_miss(step("run2", "from-new", "RUN make"), earlier, false) ==
          "the image or stage it is built FROM changed (sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb)");
    CHECK(explain_miss(step("run3", "from-new", "RUN other"), earlier, false) == "no earlier build ran it on this base");
    CHECK(explain_miss(step("run4", "run1", "RUN next"), earlier, false) ==
          "no earlier build ran it after the step before it");
}

TEST_CASE("explain_miss on an entry whose inputs match says the result is gone") {
    std::vector<StepInputs> earlier{step("run1", "p", "RUN make")};
    auto again = step("run1-again", "p", "RUN make");
    CHECK(explain_miss(again, earlier, false) == "its cached result is gone from the store (pruned?)");
}

TEST_CASE("step inputs survive serialization and hostile rows parse to nothing") {
    auto inputs = step("copy", "from", "COPY a /", {{"A", "1"}}, {file("/a", "x")});
    auto back = StepInputs::parse(inputs.serialize());
    REQUIRE(back);
    CHECK(back->key == inputs.key);
    CHECK(back->parent == inputs.parent);
    CHECK(back->instruction == inputs.instruction);
    CHECK(back->arg_digests == inputs.arg_digests);
    CHECK(back->sources == inputs.sources);
    CHECK(back->listing == inputs.listing);
    for (const char* bad : {"", "[]", "{\"key\":\"nope\"}", "{\"key\":null}", "{\"key\":\"sha256:00\",\"instruction\":1}"})
        CHECK_FALSE(StepInputs::parse(bad));
}

TEST_CASE("a listing over the cap is dropped and the explanation says so") {
    std::vector<SourceEntry> many;
    for (std::size_t i = 0; i <= kMaxListedSources; ++i) many.push_back(file("/f" + std::to_string(i), "x"));
    auto big = StepInputs::make(key_of("big"), key_of("p"), "COPY . /", {}, sha256_of("a"), many);
    CHECK(big.listing.empty());
    CHECK_FALSE(big.listing_complete);
    auto before = StepInputs::make(key_of("before"), key_of("p"), "COPY . /", {}, sha256_of("b"), {});
    CHECK(explain_miss(big, {before}, false) == "the files it copies changed (too many to list)");
}
