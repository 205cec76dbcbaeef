#include "image/layer_diff.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "image/image_inspect.hpp"
#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::image {

namespace {

bool opaque(const std::string& dir) {
    char value[2] = {};
    ssize_t n = ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", value, sizeof value);
    return n == 1 && value[0] == 'y';
}

LayerEntry entry_for(const std::string& full, const std::string& path) {
    struct stat st{};
    if (::lstat(full.c_str(), &st) != 0) throw_errno("lstat " + full);
    LayerEntry entry{path, EntryKind::other, 0};
    if (S_ISREG(st.st_mode)) {
        entry.kind = EntryKind::file;
        entry.size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
        entry.kind = opaque(full) ? EntryKind::opaque_directory : EntryKind::directory;
    } else if (S_ISLNK(st.st_mode)) {
        entry.kind = EntryKind::symlink;
    } else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) {
        entry.kind = EntryKind::whiteout;
    }
    return entry;
}

// What the stack so far shows at a path, and which layer put it there.
struct Visible {
    std::size_t layer = 0;
    EntryKind kind = EntryKind::file;
    std::uint64_t size = 0;
};

bool is_dir(EntryKind kind) { return kind == EntryKind::directory || kind == EntryKind::opaque_directory; }

class StackView {
public:
    explicit StackView(std::vector<LayerChanges>& out) : out_(out) {}

    // Removes path's descendants (and path itself when with_self) from the view, charging
    // the hidden files to the layers that wrote them; returns what was removed.
    std::map<std::string, Visible> hide(const std::string& path, bool with_self) {
        std::map<std::string, Visible> hidden;
        auto take = [&](std::map<std::string, Visible>::iterator it) {
            if (it->second.kind == EntryKind::file) out_[it->second.layer].wasted_bytes += it->second.size;
            hidden.insert(*it);
            return visible_.erase(it);
        };
        if (auto self = visible_.find(path); with_self && self != visible_.end()) take(self);
        // Exactly the paths below `path`: those from "path/" up to "path0" ('0' follows '/').
        for (auto it = visible_.lower_bound(path + "/"), last = visible_.lower_bound(path + "0"); it != last;)
            it = take(it);
        return hidden;
    }

    std::optional<Visible> find(const std::string& path) const {
        auto it = visible_.find(path);
        if (it == visible_.end()) return std::nullopt;
        return it->second;
    }

    void put(const std::string& path, const Visible& v) { visible_[path] = v; }

private:
    std::map<std::string, Visible> visible_;
    std::vector<LayerChanges>& out_;
};

}  // namespace

std::vector<LayerEntry> scan_layer(const std::string& diff_dir) {
    std::vector<LayerEntry> entries;
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(diff_dir, std::filesystem::directory_options::none, ec), end;
    if (ec) throw Error("read layer " + diff_dir + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec) throw Error("read layer " + diff_dir + ": " + ec.message());
        std::string full = it->path().string();
        entries.push_back(entry_for(full, full.substr(diff_dir.size())));
    }
    std::sort(entries.begin(), entries.end(), [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
    return entries;
}

std::vector<LayerChanges> layer_changes(const std::vector<std::vector<LayerEntry>>& stack) {
    std::vector<LayerChanges> out(stack.size());
    StackView view(out);
    for (std::size_t layer = 0; layer < stack.size(); ++layer) {
        auto& changes = out[layer].changes;
        // Paths an opaque directory of this layer hid: deleted unless the layer writes them again.
        std::map<std::string, Visible> hidden;
        for (const auto& entry : stack[layer]) {
            if (entry.kind == EntryKind::whiteout) {
                if (!view.find(entry.path)) continue;  // nothing below to delete
                std::uint64_t bytes = 0;
                for (const auto& [path, v] : view.hide(entry.path, true)) bytes += v.size;
                changes.push_back({'D', entry.path, bytes});
                continue;
            }
            auto below = view.find(entry.path);
            if (!below) {
                if (auto it = hidden.find(entry.path); it != hidden.end()) {
                    below = it->second;
                    hidden.erase(it);
                }
            }
            if (below && below->kind == EntryKind::file) out[below->layer].wasted_bytes += below->size;
            if (below && is_dir(below->kind) && !is_dir(entry.kind)) view.hide(entry.path, false);
            if (entry.kind == EntryKind::opaque_directory) hidden.merge(view.hide(entry.path, false));
            changes.push_back({below ? 'C' : 'A', entry.path, entry.size});
            out[layer].written_bytes += entry.size;
            view.put(entry.path, {layer, entry.kind, entry.size});
        }
        for (const auto& [path, v] : hidden) changes.push_back({'D', path, v.size});
        std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
    }
    return out;
}

std::vector<ImageLayer> image_layers(Store& store, const Digest& image_id) {
    auto summary = store.images().get(image_id);
    if (!summary) throw Error("No such image: " + image_id.str());
    std::vector<LayerInfo> chain;
    if (summary->top_chain_id) chain = store.layers().chain(*summary->top_chain_id);
    auto history = layer_history(nlohmann::json::parse(store.images().config(image_id)), chain.size());
    std::vector<std::vector<LayerEntry>> stack;
    for (const auto& layer : chain) stack.push_back(scan_layer(layer.diff_dir));
    auto changes = layer_changes(stack);
    std::vector<ImageLayer> out;
    for (std::size_t i = 0; i < chain.size(); ++i) out.push_back({chain[i], history[i], std::move(changes[i])});
    return out;
}

}  // namespace kiln::image
