#include "builder/history_text.hpp"

#include <algorithm>

namespace kiln::builder {

std::string run_history_text(const std::vector<std::string>& argv,
                             const std::vector<std::pair<std::string, std::string>>& declared_args) {
    std::vector<std::pair<std::string, std::string>> args;
    for (const auto& arg : declared_args) {
        auto same = std::find_if(args.begin(), args.end(), [&](const auto& a) { return a.first == arg.first; });
        if (same != args.end())
            same->second = arg.second;
        else
            args.push_back(arg);
    }
    std::string text = "RUN";
    if (!args.empty()) {
        text += " |" + std::to_string(args.size());
        for (const auto& [name, value] : args) text += " " + name + "=" + value;
    }
    for (const auto& word : argv) text += " " + word;
    return text + " # buildkit";
}

std::string copy_history_text(const CopyHistoryInput& input) {
    std::string text = input.is_add ? "ADD" : "COPY";
    if (input.parents) text += " --parents";
    if (!input.chown.empty()) text += " --chown=" + input.chown;
    if (!input.chmod.empty()) text += " --chmod=" + input.chmod;
    auto is_heredoc = [](const std::string& source) { return source.starts_with("<<"); };
    for (const auto& source : input.sources)
        if (!is_heredoc(source)) text += " " + source;
    for (const auto& source : input.sources)
        if (is_heredoc(source)) text += " <<" + source.substr(source.starts_with("<<-") ? 3 : 2);
    return text + " " + input.dest + " # buildkit";
}

}  // namespace kiln::builder
