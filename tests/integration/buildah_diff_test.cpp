// Differential suite against Buildah: every context in tests/integration/buildah_diff is
// built by `buildah bud --layers` and by `kiln build` from the same base image, and the two
// images must agree on the config fields Docker's builders set, on their history's length
// and empty_layer flags, and on every file of the final tree. Where Buildah itself differs
// from Docker, the case's `known-differences` file names the fact and why; a listed fact
// that stops differing fails too, so the list stays true.
#include <catch2/catch.hpp>

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

namespace {

namespace fs = std::filesystem;
using kiln::test::Kiln;
using kiln::test::run_command;
using Facts = std::map<std::string, std::string>;

const std::string cases_dir = KILN_SOURCE_DIR "/tests/integration/buildah_diff";
const std::string buildah_private = KILN_SOURCE_DIR "/tests/integration/tools/buildah-private";

struct ArchiveReader {
    std::unique_ptr<archive, decltype(&archive_read_free)> a{archive_read_new(), archive_read_free};
    explicit ArchiveReader(const std::string& path) {
        archive_read_support_format_tar(a.get());
        archive_read_support_filter_all(a.get());
        if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
            throw std::runtime_error(path + ": " + archive_error_string(a.get()));
    }
    std::string data() {
        std::string out;
        char buf[1 << 16];
        la_ssize_t n;
        while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
        if (n < 0) throw std::runtime_error(archive_error_string(a.get()));
        return out;
    }
};

// The image config of the single image in a `docker save` archive.
nlohmann::json saved_config(const std::string& tarball) {
    std::map<std::string, std::string> members;
    ArchiveReader reader(tarball);
    archive_entry* entry;
    while (archive_read_next_header(reader.a.get(), &entry) == ARCHIVE_OK) {
        std::string name = archive_entry_pathname(entry);
        if (name.ends_with(".json") || name.starts_with("blobs/")) members[name] = reader.data();
    }
    auto manifest = nlohmann::json::parse(members.at("manifest.json"));
    return nlohmann::json::parse(members.at(manifest.at(0).at("Config").get<std::string>()));
}

// One fact per config field Docker's builders write, per label, for the history's
// empty_layer flags, and per file of the exported tree (type, mode, owner, size, link
// target, content digest, user.* xattrs; never times).
Facts image_facts(const Kiln& kiln, const std::string& image, const std::string& work) {
    Facts facts;
    const std::string saved = work + "/saved.tar", tree = work + "/tree.tar";
    auto s = kiln({"save", "-o", saved, image});
    if (s.exit_code != 0) throw std::runtime_error("kiln save " + image + ": " + s.err);
    auto config_json = saved_config(saved);
    auto config = config_json.value("config", nlohmann::json::object());
    for (const char* field : {"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                              "StopSignal", "Healthcheck", "OnBuild", "Shell"}) {
        auto it = config.find(field);
        bool empty = it == config.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()) ||
                     ((it->is_array() || it->is_object()) && it->empty());
        facts[std::string("config ") + field] = empty ? "(none)" : it->dump();
    }
    if (auto labels = config.find("Labels"); labels != config.end() && labels->is_object())
        for (auto& [key, value] : labels->items()) facts["label " + key] = value.dump();
    auto history = config_json.value("history", nlohmann::json::array());
    // One fact for the whole history: an entry missing or added shifts every later index.
    std::string layers;
    for (const auto& entry : history) layers += entry.value("empty_layer", false) ? "empty " : "layer ";
    facts["history"] = layers;

    auto e = kiln({"export", "-o", tree, image});
    if (e.exit_code != 0) throw std::runtime_error("kiln export " + image + ": " + e.err);
    ArchiveReader reader(tree);
    archive_entry* entry;
    while (archive_read_next_header(reader.a.get(), &entry) == ARCHIVE_OK) {
        std::string path = archive_entry_pathname(entry);
        while (path.starts_with("./")) path.erase(0, 2);
        while (path.ends_with("/")) path.pop_back();
        if (path.empty() || path == ".") continue;
        std::ostringstream f;
        const auto type = archive_entry_filetype(entry);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(archive_entry_perm(entry)));
        f << (archive_entry_hardlink(entry) ? "hardlink" : type == AE_IFDIR ? "dir" : type == AE_IFLNK ? "symlink"
                                                          : type == AE_IFREG ? "file" : "special")
          << " mode=" << mode << " owner=" << archive_entry_uid(entry) << ":" << archive_entry_gid(entry);
        if (const char* link = archive_entry_hardlink(entry)) f << " link=/" << link;
        if (const char* target = archive_entry_symlink(entry)) f << " target=" << target;
        if (type == AE_IFREG && !archive_entry_hardlink(entry)) {
            auto bytes = reader.data();
            f << " size=" << bytes.size() << " " << kiln::sha256_of(bytes).str();
        }
        archive_entry_xattr_reset(entry);
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK)
            if (std::string(name).starts_with("user."))
                f << " xattr " << name << "=" << std::string(static_cast<const char*>(value), size);
        facts["file /" + path] = f.str();
    }
    return facts;
}

// The case's known differences: "FACT  # why" per line (FACT as image_facts names it).
std::map<std::string, std::string> known_differences(const std::string& file) {
    std::map<std::string, std::string> known;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        auto hash = line.find('#');
        std::string fact = line.substr(0, hash);
        while (!fact.empty() && (fact.back() == ' ' || fact.back() == '\t')) fact.pop_back();
        if (fact.empty()) continue;
        known[fact] = hash == std::string::npos ? "" : line.substr(hash + 1);
    }
    return known;
}

// A copy of the case's context, its `setup` script run in it (hard links, xattrs and
// archives cannot live in git).
std::string prepared_context(const std::string& name, const std::string& work) {
    const std::string context = work + "/ctx-" + name;
    fs::copy(cases_dir + "/" + name, context, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    if (fs::exists(context + "/setup")) {
        auto r = run_command({"bash", "-euc", "cd \"$1\" && . ./setup && rm setup", "setup", context});
        if (r.exit_code != 0) throw std::runtime_error(name + "/setup: " + r.err);
    }
    fs::remove(context + "/known-differences");
    return context;
}

struct Builders {
    const Kiln& kiln;
    // Buildah's images are loaded here, apart from kiln's: a docker-archive keeps the name
    // they were built under.
    const Kiln& loaded;
    std::string buildah_dir;

    kiln::test::CommandResult buildah(std::vector<std::string> args) const {
        args.insert(args.begin(), {buildah_private, buildah_dir});
        return run_command(args);
    }

    // Builds `dockerfile` in `context` with both tools as `name`.
    void build(const std::string& context, const std::string& dockerfile, const std::string& name) const {
        auto k = kiln({"build", "-q", "-t", name, "-f", context + "/" + dockerfile, context});
        INFO("kiln build " << name << ": " << k.err);
        REQUIRE(k.exit_code == 0);
        auto b = buildah({"bud", "--layers", "--isolation", "chroot", "--format", "docker", "--pull=never", "-q",
                          "-t", name, "-f", context + "/" + dockerfile, context});
        INFO("buildah bud " << name << ": " << b.err);
        REQUIRE(b.exit_code == 0);
    }

    // Buildah's image `name` in `loaded`, so both images are read the same way.
    void load_buildah_image(const std::string& name, const std::string& work) const {
        const std::string archive = work + "/buildah.tar";
        auto p = buildah({"push", "-q", name, "docker-archive:" + archive + ":" + name});
        INFO("buildah push " << name << ": " << p.err);
        REQUIRE(p.exit_code == 0);
        auto l = loaded({"load", "-q", "-i", archive});
        INFO("kiln load " << name << ": " << l.err);
        REQUIRE(l.exit_code == 0);
        fs::remove(archive);
    }
};

}  // namespace

TEST_CASE("kiln build and buildah bud make the same images from the suite's contexts", "[buildah-diff]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_TOOL("buildah");
    Kiln kiln, loaded;
    kiln::test::import_base(kiln);
    kiln::TempDir work("/var/tmp", "kiln-buildah-diff-");
    Builders builders{kiln, loaded, work.path() + "/buildah"};

    // Buildah starts from kiln's base, byte for byte.
    const std::string base = work.path() + "/base.tar";
    REQUIRE(kiln({"save", "-o", base, "localhost/busybox:latest"}).exit_code == 0);
    auto pulled = builders.buildah({"pull", "-q", "docker-archive:" + base});
    INFO(pulled.err);
    REQUIRE(pulled.exit_code == 0);
    REQUIRE(builders.buildah({"tag", kiln::test::trimmed(pulled.out), "localhost/busybox:latest"}).exit_code == 0);

    auto everywhere = known_differences(cases_dir + "/known-differences");
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(cases_dir))
        if (entry.is_directory()) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    REQUIRE(names.size() >= 10);

    for (const auto& name : names) {
        const std::string context = prepared_context(name, work.path());
        if (fs::exists(context + "/base.Dockerfile")) builders.build(context, "base.Dockerfile", "localhost/diff-base:latest");
        builders.build(context, "Dockerfile", "localhost/diff/" + name + ":latest");
        const std::string image = "localhost/diff/" + name + ":latest";
        builders.load_buildah_image(image, work.path());
        auto ours = image_facts(kiln, image, work.path());
        auto theirs = image_facts(loaded, image, work.path());
        std::set<std::string> keys;
        for (const auto& [k, v] : ours) keys.insert(k);
        for (const auto& [k, v] : theirs) keys.insert(k);
        auto known = known_differences(cases_dir + "/" + name + "/known-differences");
        for (const auto& [key, why] : known) {
            INFO(name << ": known difference " << key << " names no fact of either image");
            CHECK(keys.count(key) == 1);
        }
        // The suite-wide list holds what Buildah does to every image that has the fact.
        known.insert(everywhere.begin(), everywhere.end());
        for (const auto& key : keys) {
            auto a = ours.count(key) ? ours[key] : "(absent)";
            auto b = theirs.count(key) ? theirs[key] : "(absent)";
            INFO(name << ": " << key << "\n  kiln:    " << a << "\n  buildah: " << b);
            if (known.count(key)) {
                INFO("listed as a known difference (" << known[key] << ") but both agree: take it off the list");
                CHECK(a != b);
            } else {
                CHECK(a == b);
            }
        }
        fs::remove_all(context);
    }
}
