#include "builder/variables.hpp"

#include "parser/expand.hpp"

namespace kiln::builder {

BuildVariables::BuildVariables(char escape, const std::map<std::string, std::string>& build_args)
    : escape_(escape), build_args_(build_args) {}

void BuildVariables::declare_arg(const std::string& name, const std::optional<std::string>& default_value) {
    if (!args_.count(name)) declaration_order_.push_back(name);
    auto given = build_args_.find(name);
    if (given != build_args_.end())
        args_[name] = given->second;
    else
        args_[name] = default_value;
}

void BuildVariables::inherit_global(const std::string& name, const BuildVariables& global) {
    if (!args_.count(name)) declaration_order_.push_back(name);
    auto given = build_args_.find(name);
    args_[name] = given != build_args_.end() ? std::optional(given->second) : global.arg_value(name);
}

std::optional<std::string> BuildVariables::arg_value(const std::string& name) const {
    auto it = args_.find(name);
    if (it == args_.end()) return std::nullopt;
    return it->second;
}

std::map<std::string, std::string> BuildVariables::visible_args() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : args_)
        if (value) out[name] = *value;
    return out;
}

std::vector<std::pair<std::string, std::string>> BuildVariables::declared_args(const ImageConfig& config) const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& name : declaration_order_) out.emplace_back(name, lookup(name, config).value_or(""));
    return out;
}

std::optional<std::string> BuildVariables::lookup(std::string_view name, const ImageConfig& config) const {
    std::string key(name);
    if (auto env = config.env_value(key)) return env;
    return arg_value(key);
}

std::string BuildVariables::expand(std::string_view word, const ImageConfig& config) const {
    parser::ShellExpander expander(escape_);
    return expander.expand_word(word, [&](std::string_view name) { return lookup(name, config); });
}

std::string BuildVariables::expand_raw(std::string_view text, const ImageConfig& config) const {
    parser::ExpandOptions options;
    options.skip_process_quotes = true;
    parser::ShellExpander expander('\\', options);
    return expander.expand_word(text, [&](std::string_view name) { return lookup(name, config); });
}

std::vector<std::string> BuildVariables::expand_words(std::string_view text, const ImageConfig& config) const {
    parser::ShellExpander expander(escape_);
    return expander.expand_words(text, [&](std::string_view name) { return lookup(name, config); });
}

}  // namespace kiln::builder
