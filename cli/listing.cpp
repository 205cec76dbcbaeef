#include "cli/listing.hpp"

#include <iostream>

namespace kiln::cli {

namespace {

// The docker CLI reads "\t" and "\n" typed literally in a --format as tab and newline.
std::string unescape(std::string text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 't' || text[i + 1] == 'n')) {
            out += text[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string trim_spaces(std::string text) {
    auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

}  // namespace

void print_listing(std::ostream& out, const Listing& listing, const std::string& format,
                   const std::vector<TemplateValue>& rows) {
    std::string chosen = trim_spaces(format).empty() || trim_spaces(format) == "table" ? listing.default_table : format;
    if (chosen == "json") chosen = "{{json .}}";
    bool table = chosen.starts_with("table");
    if (table) chosen = chosen.substr(5);
    GoTemplate tmpl(unescape(trim_spaces(chosen)));
    std::string text;
    if (table) text += tmpl.execute(listing.headers) + "\n";
    for (const auto& row : rows) text += tmpl.execute(row) + "\n";
    out << (table ? tabwrite(text, 10, 3) : text);
}

bool confirm(std::ostream& out, const std::string& warning) {
    out << warning << "\nAre you sure you want to continue? [y/N] ";
    out.flush();
    std::string answer;
    if (!std::getline(std::cin, answer)) answer.clear();
    answer = trim_spaces(answer);
    return answer == "y" || answer == "Y";
}

}  // namespace kiln::cli
