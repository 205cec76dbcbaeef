#pragma once
// The history `created_by` of the steps that make a layer, written as BuildKit writes them
// (what `docker history` shows for an image built by Docker today). Only the history: the
// cache keys of these steps keep their own, stricter text.
#include <string>
#include <utility>
#include <vector>

namespace kiln::builder {

// "RUN |2 A=1 B= /bin/sh -c make # buildkit": the stage's ARGs (count, then NAME=VALUE in
// declaration order, a later one of the same name replacing the earlier in place), then
// the argv joined by spaces.
std::string run_history_text(const std::vector<std::string>& argv,
                             const std::vector<std::pair<std::string, std::string>>& declared_args);

struct CopyHistoryInput {
    bool is_add = false;
    bool parents = false;
    std::string chown, chmod;
    std::vector<std::string> sources;  // expanded; a heredoc is "<<NAME" (or "<<-NAME")
    std::string dest;                  // expanded, as written (not resolved against WORKDIR)
};

// "COPY --chown=1:1 a b /dest/ # buildkit": --parents, --chown and --chmod as given, the
// paths, then the heredocs as "<<NAME", then the destination. --from, --link and
// --exclude do not show (BuildKit leaves them out).
std::string copy_history_text(const CopyHistoryInput& input);

}  // namespace kiln::builder
