#include "image/archive_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "image/blob_cache.hpp"
#include "image/oci.hpp"
#include "image/reference.hpp"
#include "image/staging.hpp"
#include "image/store.hpp"
#include "image/tar_index.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::uint64_t kMaxJson = 64ull << 20;  // manifests, indexes, configs
constexpr std::size_t kSpoolBlock = 1u << 20;
constexpr int kMaxIndexDepth = 4;

// ---- sources

class TarSource : public ArchiveSource {
public:
    TarSource(UniqueFd fd, std::unique_ptr<StagingFile> spool)
        : owned_(std::move(fd)), spool_(std::move(spool)) {
        fd_ = spool_ ? spool_->fd() : owned_.get();
        struct stat st;
        if (::fstat(fd_, &st) != 0) throw_errno("stat the archive");
        index_ = TarIndex::read(fd_, static_cast<std::uint64_t>(st.st_size));
    }

    std::optional<ArchiveFile> open(const std::string& name) override {
        auto found = index_.resolve(name);
        if (!found) return std::nullopt;
        ArchiveFile f;
        f.name = clean_member_name(name);
        f.fd = fd_;
        f.offset = found->second.offset;
        f.size = found->second.size;
        return f;
    }

private:
    UniqueFd owned_;
    std::unique_ptr<StagingFile> spool_;
    int fd_ = -1;
    TarIndex index_;
};

class DirSource : public ArchiveSource {
public:
    explicit DirSource(const std::string& dir) : root_(open_directory(dir)) {}

    std::optional<ArchiveFile> open(const std::string& name) override {
        std::string rel = clean_member_name(name);
        UniqueFd fd;
        try {
            // RESOLVE_IN_ROOT: a symlink in the layout cannot reach outside it.
            fd = open_in_root(root_.get(), rel, O_RDONLY);
        } catch (const Error&) {
            return std::nullopt;
        }
        struct stat st;
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
        ArchiveFile f;
        f.name = rel;
        f.fd = fd.get();
        f.size = static_cast<std::uint64_t>(st.st_size);
        f.owned = std::move(fd);
        return f;
    }

private:
    UniqueFd root_;
};

bool compressed_magic(const unsigned char* b, std::size_t n) {
    auto starts = [&](std::initializer_list<unsigned char> magic) {
        return n >= magic.size() && std::equal(magic.begin(), magic.end(), b);
    };
    return starts({0x1f, 0x8b}) || starts({0xfd, '7', 'z', 'X', 'Z', 0x00}) || starts({0x28, 0xb5, 0x2f, 0xfd}) ||
           starts({'B', 'Z', 'h'});
}

struct ReadDeleter {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};

// Decompresses (or just copies) fd into a staged file in the store's tmp/.
std::unique_ptr<StagingFile> spool(Store& store, int fd, const std::string& what) {
    auto file = std::make_unique<StagingFile>(store.root() + "/tmp", "load-");
    std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
    if (!a) throw Error("libarchive: out of memory");
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    auto fail = [&](const std::string& doing) {
        const char* msg = archive_error_string(a.get());
        throw Error(doing + " " + what + ": " + (msg ? msg : "libarchive error"));
    };
    if (archive_read_open_fd(a.get(), fd, kSpoolBlock) != ARCHIVE_OK) fail("open");
    archive_entry* ent = nullptr;
    int r = archive_read_next_header(a.get(), &ent);
    if (r == ARCHIVE_EOF) throw Error(what + " is empty");
    if (r < ARCHIVE_WARN) fail("read");
    std::unique_ptr<char[]> buf(new char[kSpoolBlock]);
    for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.get(), kSpoolBlock);
        if (n < 0) fail("decompress");
        if (n == 0) break;
        file->write(buf.get(), static_cast<std::size_t>(n));
    }
    return file;
}

// ---- reading members

// Reads a member sequentially with pread: the archive fd is shared by all members.
ByteSource member_reader(const ArchiveFile& f, std::uint64_t& pos) {
    return [&f, &pos](void* buf, std::size_t cap) -> std::size_t {
        std::uint64_t left = f.size - pos;
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(cap, left));
        if (want == 0) return 0;
        for (;;) {
            ssize_t n = ::pread(f.fd, buf, want, static_cast<off_t>(f.offset + pos));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("read " + f.name + " in the archive");
            if (n == 0) throw Error(f.name + " in the archive is truncated");
            pos += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
    };
}

ArchiveFile need(ArchiveSource& src, const std::string& name, const std::string& why) {
    auto f = src.open(name);
    if (!f) throw Error("invalid archive: " + why + " " + name + " is missing");
    return std::move(*f);
}

std::string read_member(const ArchiveFile& f) {
    if (f.size > kMaxJson)
        throw Error(f.name + " in the archive is " + std::to_string(f.size) + " bytes, too large for a JSON document");
    std::string out(f.size, '\0');
    std::uint64_t pos = 0;
    ByteSource read = member_reader(f, pos);
    while (pos < f.size) read(out.data() + pos, static_cast<std::size_t>(f.size - pos));
    return out;
}

std::string read_verified(ArchiveSource& src, const std::string& name, const Digest& digest, const std::string& why) {
    ArchiveFile f = need(src, name, why);
    std::string bytes = read_member(f);
    Digest got = sha256_of(bytes);
    if (got != digest)
        throw Error(f.name + " in the archive does not match its digest: expected " + digest.str() + ", got " + got.str());
    return bytes;
}

std::string blob_name(const Descriptor& d, const std::string& what) {
    if (d.digest.empty()) throw Error(what + " uses digest " + d.other_digest + "; kiln reads sha256 blobs only");
    return "blobs/sha256/" + d.digest.hex();
}

// ---- the plan: what to load, decided before anything is unpacked

struct LayerRef {
    std::string file;                   // name inside the archive
    std::optional<Descriptor> expected;  // from an OCI manifest: the blob's digest and size
};

struct ImagePlan {
    std::string config;  // exact bytes
    Digest id;
    std::vector<Digest> diff_ids;
    std::vector<LayerRef> layers;
    std::vector<std::string> names;
    std::string where;  // what to name in errors
};

std::string normalized_tag(const std::string& tag, const std::string& where) {
    Reference ref;
    try {
        ref = parse_reference(tag);
    } catch (const Error& e) {
        throw Error(where + ": " + e.what());
    }
    if (ref.digest) throw Error(where + ": " + tag + " is not a name:tag");
    return ref.str();
}

void check_config(ImagePlan& plan) {
    ImageConfig config;
    try {
        config = parse_image_config(plan.config);
    } catch (const Error& e) {
        throw Error(plan.where + ": " + e.what());
    }
    plan.diff_ids = config.diff_ids;
    if (plan.diff_ids.size() != plan.layers.size())
        throw Error(plan.where + " lists " + std::to_string(plan.layers.size()) + " layers but its config has " +
                    std::to_string(plan.diff_ids.size()) + " diff_ids");
}

std::vector<ImagePlan> plan_docker(ArchiveSource& src, const ArchiveFile& manifest_file) {
    nlohmann::json list = parse_json(read_member(manifest_file), "manifest.json in the archive");
    if (!list.is_array()) throw Error("invalid archive: manifest.json is not a JSON array");
    std::vector<ImagePlan> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& e = list[i];
        ImagePlan plan;
        plan.where = "manifest.json entry " + std::to_string(i);
        if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string())
            throw Error("invalid archive: " + plan.where + " has no Config file");
        const std::string config_name = e["Config"].get<std::string>();
        plan.config = read_member(need(src, config_name, plan.where + " names a config:"));
        plan.id = sha256_of(plan.config);
        if (e.contains("Layers") && !e["Layers"].is_null()) {
            if (!e["Layers"].is_array()) throw Error("invalid archive: " + plan.where + ": Layers is not an array");
            for (const auto& l : e["Layers"]) {
                if (!l.is_string()) throw Error("invalid archive: " + plan.where + ": a layer is not a file name");
                plan.layers.push_back(LayerRef{l.get<std::string>(), std::nullopt});
            }
        }
        if (e.contains("RepoTags") && !e["RepoTags"].is_null()) {
            if (!e["RepoTags"].is_array()) throw Error("invalid archive: " + plan.where + ": RepoTags is not an array");
            for (const auto& t : e["RepoTags"]) {
                if (!t.is_string()) throw Error("invalid archive: " + plan.where + ": a RepoTag is not a string");
                plan.names.push_back(normalized_tag(t.get<std::string>(), plan.where));
            }
        }
        plan.where = config_name;
        check_config(plan);
        out.push_back(std::move(plan));
    }
    return out;
}

// The names an index descriptor gives its image: containerd's full-name annotation, or an
// OCI ref name that is a whole reference (a bare tag names no repository).
std::vector<std::string> names_of(const Descriptor& d, const std::string& where) {
    if (auto it = d.annotations.find("io.containerd.image.name"); it != d.annotations.end())
        return {normalized_tag(it->second, where)};
    if (auto it = d.annotations.find("org.opencontainers.image.ref.name"); it != d.annotations.end()) {
        const std::string& ref = it->second;
        if (ref.find_first_of("/:") != std::string::npos)
            if (auto parsed = try_parse_reference(ref); parsed && !parsed->digest) return {parsed->str()};
    }
    return {};
}

void plan_manifest_descriptor(ArchiveSource& src, const Descriptor& d, const std::vector<std::string>& names,
                              int depth, std::vector<ImagePlan>& out, std::vector<std::string>& notes) {
    const std::string file = blob_name(d, "a manifest");
    if (media::is_index(d.media_type)) {
        if (depth >= kMaxIndexDepth) throw Error("invalid archive: indexes nested too deep at " + file);
        Index index;
        try {
            index = parse_index(read_verified(src, file, d.digest, "an index names"));
        } catch (const Error& e) {
            throw Error(file + ": " + e.what());
        }
        const Platform want = host_platform();
        for (const auto& m : index.manifests) {
            if (!m.platform || !platform_matches(*m.platform, want)) continue;
            notes.push_back("picked platform " + m.platform->str() + " (manifest " + m.digest.str() +
                            ") from the index " + file);
            plan_manifest_descriptor(src, m, names, depth + 1, out, notes);
            return;
        }
        throw Error(file + ": the index has no image for this machine's platform " + want.str());
    }
    if (!media::is_manifest(d.media_type) && !d.media_type.empty())
        throw Error("invalid archive: " + file + " has media type " + d.media_type + ", not an image manifest");
    for (auto& p : out)
        if (p.where == file) {  // the same image under another name
            for (const auto& n : names)
                if (std::find(p.names.begin(), p.names.end(), n) == p.names.end()) p.names.push_back(n);
            return;
        }
    Manifest m;
    try {
        m = parse_manifest(read_verified(src, file, d.digest, "index.json names"));
    } catch (const Error& e) {
        throw Error(file + ": " + e.what());
    }
    ImagePlan plan;
    plan.where = file;
    plan.names = names;
    const std::string config_file = blob_name(m.config, file + "'s config");
    plan.config = read_verified(src, config_file, m.config.digest, file + " names a config:");
    plan.id = m.config.digest;
    for (const auto& l : m.layers) plan.layers.push_back(LayerRef{blob_name(l, file + "'s layer"), l});
    check_config(plan);
    out.push_back(std::move(plan));
}

std::vector<ImagePlan> plan_oci(ArchiveSource& src, const ArchiveFile& index_file, std::vector<std::string>& notes) {
    if (auto layout = src.open("oci-layout")) {
        nlohmann::json j = parse_json(read_member(*layout), "oci-layout in the archive");
        if (!j.is_object() || j.value("imageLayoutVersion", nlohmann::json()) != "1.0.0")
            throw Error("invalid archive: oci-layout does not say imageLayoutVersion 1.0.0");
    }
    Index index;
    try {
        index = parse_index(read_member(index_file));
    } catch (const Error& e) {
        throw Error("index.json in the archive: " + std::string(e.what()));
    }
    std::vector<ImagePlan> out;
    for (const auto& d : index.manifests)
        plan_manifest_descriptor(src, d, names_of(d, "index.json"), 0, out, notes);
    return out;
}

// ---- unpacking and publishing

struct StagedChainLayer {
    StagedLayerWithTar staged;
    std::optional<Digest> parent;
};

// Stages one layer, checking the blob against its descriptor (OCI) and the tar against
// the config's diffID, whatever the compression.
StagedLayerWithTar stage_layer(Store& store, ArchiveSource& src, const LayerRef& ref, const Digest& diff_id) {
    ArchiveFile f = need(src, ref.file, "a manifest names the layer");
    if (ref.expected && static_cast<std::uint64_t>(ref.expected->size) != f.size)
        throw Error("layer " + f.name + " in the archive is " + std::to_string(f.size) + " bytes, its manifest says " +
                    std::to_string(ref.expected->size));
    std::uint64_t pos = 0;
    ByteSource read = member_reader(f, pos);
    Sha256 blob_hash;
    ByteSource hashed = [&](void* buf, std::size_t cap) {
        std::size_t n = read(buf, cap);
        blob_hash.update(buf, n);
        return n;
    };
    std::optional<StagedLayerWithTar> staged;
    try {
        staged.emplace(stage_layer_keeping_tar(store, hashed));
    } catch (const Error& e) {
        throw Error("layer " + f.name + " in the archive: " + e.what());
    }
    if (ref.expected) {
        // The extractor may stop before the compressed stream's last bytes: hash them too.
        char rest[65536];
        while (hashed(rest, sizeof rest) > 0) {}
        Digest got = blob_hash.finish();
        if (got != ref.expected->digest)
            throw Error("layer " + f.name + " in the archive does not match its digest: got " + got.str());
    }
    if (staged->layer.diff_id != diff_id)
        throw Error("layer " + f.name + " in the archive does not match the config: its content is " +
                    staged->layer.diff_id.str() + ", the config says " + diff_id.str());
    return std::move(*staged);
}

}  // namespace

std::unique_ptr<ArchiveSource> open_archive(Store& store, const std::string& input) {
    if (input == "-") return std::make_unique<TarSource>(UniqueFd(), spool(store, STDIN_FILENO, "the archive on stdin"));
    struct stat st;
    if (::stat(input.c_str(), &st) != 0) throw_errno("open " + input);
    if (S_ISDIR(st.st_mode)) return std::make_unique<DirSource>(input);
    UniqueFd fd(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + input);
    if (!S_ISREG(st.st_mode)) return std::make_unique<TarSource>(UniqueFd(), spool(store, fd.get(), input));
    unsigned char magic[6] = {};
    ssize_t n = ::pread(fd.get(), magic, sizeof magic, 0);
    if (n < 0) throw_errno("read " + input);
    if (n == 0) throw Error(input + " is empty");
    if (compressed_magic(magic, static_cast<std::size_t>(n)))
        return std::make_unique<TarSource>(UniqueFd(), spool(store, fd.get(), input));
    return std::make_unique<TarSource>(std::move(fd), nullptr);
}

LoadReport load_images(Store& store, ArchiveSource& source) {
    LoadReport report;
    std::vector<ImagePlan> plans;
    if (auto manifest = source.open("manifest.json"))
        plans = plan_docker(source, *manifest);
    else if (auto index = source.open("index.json"))
        plans = plan_oci(source, *index, report.notes);
    else
        throw Error("invalid archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)");

    // Every layer file must exist before the first one is unpacked.
    for (const auto& p : plans)
        for (const auto& l : p.layers) need(source, l.file, p.where + " names the layer");

    std::map<Digest, StagedChainLayer> staged;  // by chain ID
    std::vector<Digest> order;                  // publish order: parents first
    for (const auto& p : plans) {
        std::optional<Digest> parent;
        for (std::size_t i = 0; i < p.layers.size(); ++i) {
            const Digest chain = chain_id(parent, p.diff_ids[i]);
            if (!staged.count(chain) && !store.layers().get(chain)) {
                staged.emplace(chain, StagedChainLayer{stage_layer(store, source, p.layers[i], p.diff_ids[i]), parent});
                order.push_back(chain);
            }
            parent = chain;
        }
    }

    // Publish: layers bottom up, then the images and their names. Should a step fail here
    // (a full disk, a concurrent rmi), the layers published so far are taken back out.
    std::vector<Digest> published;
    try {
        for (const auto& chain : order) {
            auto& s = staged.at(chain);
            publish_layer_keeping_tar(store, s.staged, s.parent);
            published.push_back(chain);
        }
        for (const auto& p : plans) {
            Digest id = store.images().put_image(p.config);
            for (const auto& n : p.names) store.images().tag(n, id);
            report.images.push_back(LoadedImage{id, p.names});
        }
    } catch (...) {
        if (report.images.empty())
            for (auto it = published.rbegin(); it != published.rend(); ++it) store.layers().remove_layer(*it);
        throw;
    }
    return report;
}

}  // namespace kiln::image
