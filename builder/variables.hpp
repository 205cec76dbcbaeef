#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/image_config.hpp"

namespace kiln::builder {

// ARG scoping and $VAR expansion for one stage. ENV values win over ARG values of the same
// name (Docker's rule); ARGs are visible to RUN as environment but never stored in the image.
class BuildVariables {
public:
    BuildVariables(char escape, const std::map<std::string, std::string>& build_args);

    // ARG name[=default]: the --build-arg value wins over the default.
    void declare_arg(const std::string& name, const std::optional<std::string>& default_value);
    // Makes a global ARG (declared before the first FROM) visible, with its global value.
    void inherit_global(const std::string& name, const BuildVariables& global);

    std::optional<std::string> arg_value(const std::string& name) const;
    // Declared ARGs that have a value: part of the cache key and of RUN's environment.
    std::map<std::string, std::string> visible_args() const;
    // Every ARG the stage declared, in declaration order, with the value a RUN sees (ENV
    // first, as BuildKit's history text takes it; "" for an ARG with none).
    std::vector<std::pair<std::string, std::string>> declared_args(const ImageConfig& config) const;

    // Single-word expansion (quotes removed, escapes applied, variables substituted).
    std::string expand(std::string_view word, const ImageConfig& config) const;
    // Heredoc bodies of COPY/ADD as BuildKit expands them: variables and backslash escapes,
    // quotes kept as ordinary characters.
    std::string expand_raw(std::string_view text, const ImageConfig& config) const;
    // Word-splitting expansion, for instructions that take lists (EXPOSE, VOLUME, …).
    std::vector<std::string> expand_words(std::string_view text, const ImageConfig& config) const;

private:
    std::optional<std::string> lookup(std::string_view name, const ImageConfig& config) const;

    char escape_;
    const std::map<std::string, std::string>& build_args_;
    std::map<std::string, std::optional<std::string>> args_;
    std::vector<std::string> declaration_order_;
};

}  // namespace kiln::builder
