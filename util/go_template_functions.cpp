// The functions a template calls: text/template's builtins and the docker CLI's additions.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <vector>

#include "util/error.hpp"
#include "util/go_template_detail.hpp"

namespace kiln::go_template_detail {

namespace {

// --- printf ----------------------------------------------------------------------------

std::string quote_go(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::string go_sprintf(const std::string& format, const std::vector<TemplateValue>& args) {
    std::string out;
    std::size_t next = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out += format[i];
            continue;
        }
        std::size_t start = i++;
        while (i < format.size() && std::strchr("-+ #0", format[i])) ++i;
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) ++i;
        if (i < format.size() && format[i] == '.') {
            ++i;
            while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) ++i;
        }
        if (i >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        char verb = format[i];
        if (verb == '%') {
            out += '%';
            continue;
        }
        std::string flags(format.substr(start + 1, i - start - 1));
        if (next >= args.size()) {
            out += std::string("%!") + verb + "(MISSING)";
            continue;
        }
        const TemplateValue& arg = args[next++];
        char buf[512];
        auto with = [&](const char* conversion, auto value) {
            std::string spec = "%" + flags + conversion;
            std::snprintf(buf, sizeof buf, spec.c_str(), value);
            return std::string(buf);
        };
        switch (verb) {
            case 'd':
                if (arg.is_number_integer()) out += with("lld", static_cast<long long>(arg.get<std::int64_t>()));
                else out += "%!d(" + go_print(arg) + ")";
                break;
            case 'x':
            case 'X':
                if (arg.is_number_integer())
                    out += with(verb == 'x' ? "llx" : "llX", static_cast<long long>(arg.get<std::int64_t>()));
                else
                    out += "%!x(" + go_print(arg) + ")";
                break;
            case 'f':
            case 'e':
            case 'g':
                if (arg.is_number()) out += with(std::string(1, verb).c_str(), arg.get<double>());
                else out += std::string("%!") + verb + "(" + go_print(arg) + ")";
                break;
            case 't':
                out += arg.is_boolean() ? with("s", arg.get<bool>() ? "true" : "false") : "%!t(" + go_print(arg) + ")";
                break;
            case 'q': out += with("s", quote_go(to_text(arg)).c_str()); break;
            case 's':
            case 'v': out += with("s", to_text(arg).c_str()); break;
            default: out += std::string("%!") + verb + "(" + go_print(arg) + ")";
        }
    }
    if (next < args.size()) {
        out += "%!(EXTRA ";
        for (std::size_t k = next; k < args.size(); ++k) out += (k > next ? ", " : "") + go_print(args[k]);
        out += ")";
    }
    return out;
}

// --- functions -------------------------------------------------------------------------

bool values_equal(const TemplateValue& a, const TemplateValue& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
        return a.get<std::int64_t>() == b.get<std::int64_t>();
    }
    if (a.is_discarded() || b.is_discarded()) return a.is_discarded() == b.is_discarded() || a.is_null() || b.is_null();
    return a == b;
}

int compare(const TemplateValue& a, const TemplateValue& b, const char* function) {
    if (a.is_string() && b.is_string()) return a.get<std::string>().compare(b.get<std::string>());
    double x = to_number(a, function), y = to_number(b, function);
    return x < y ? -1 : x > y ? 1 : 0;
}

void want_args(const std::vector<TemplateValue>& args, std::size_t n, const std::string& name) {
    if (args.size() != n)
        exec_error("wrong number of args for " + name + ": want " + std::to_string(n) + " got " +
                   std::to_string(args.size()));
}

std::string title_case(std::string s) {
    bool start = true;
    for (auto& c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (start && std::isalpha(u)) c = static_cast<char>(std::toupper(u));
        start = !std::isalnum(u) && u != '_' && u != '\'';
    }
    return s;
}

std::string case_map(std::string s, int (*fn)(int)) {
    for (auto& c : s) c = static_cast<char>(fn(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

TemplateValue call_function(const std::string& name, const std::vector<TemplateValue>& args) {
    if (name == "and" || name == "or") {
        if (args.empty()) exec_error("wrong number of args for " + name + ": want at least 1 got 0");
        for (const auto& a : args)
            if (truthy(a) == (name == "or")) return a;
        return args.back();
    }
    if (name == "not") {
        want_args(args, 1, name);
        return !truthy(args[0]);
    }
    if (name == "len") {
        want_args(args, 1, name);
        if (args[0].is_string()) return args[0].get_ref<const std::string&>().size();
        if (args[0].is_array() || args[0].is_object()) return args[0].size();
        exec_error("error calling len: len of type " + go_print(args[0]));
    }
    if (name == "index") {
        if (args.empty()) exec_error("wrong number of args for index: want at least 1 got 0");
        TemplateValue v = args[0];
        for (std::size_t k = 1; k < args.size(); ++k) {
            if (v.is_object()) {
                if (!args[k].is_string()) exec_error("error calling index: value has type int; should be string");
                auto it = v.find(args[k].get<std::string>());
                v = it == v.end() ? missing() : TemplateValue(*it);
            } else if (v.is_array() || v.is_string()) {
                std::int64_t n = to_int(args[k], "index");
                std::size_t size = v.is_array() ? v.size() : v.get_ref<const std::string&>().size();
                if (n < 0 || static_cast<std::size_t>(n) >= size)
                    exec_error("error calling index: index out of range: " + std::to_string(n));
                v = v.is_array() ? TemplateValue(v[static_cast<std::size_t>(n)])
                                 : TemplateValue(static_cast<std::int64_t>(
                                       static_cast<unsigned char>(v.get_ref<const std::string&>()[static_cast<std::size_t>(n)])));
            } else if (v.is_null() || v.is_discarded()) {
                return missing();
            } else {
                exec_error("error calling index: can't index item of type " + go_print(v));
            }
        }
        return v;
    }
    if (name == "slice") {
        if (args.empty() || args.size() > 3) exec_error("wrong number of args for slice");
        const TemplateValue& v = args[0];
        std::size_t size = v.is_array() ? v.size() : v.is_string() ? v.get_ref<const std::string&>().size() : 0;
        if (!v.is_array() && !v.is_string()) exec_error("error calling slice: can't slice item of type " + go_print(v));
        std::int64_t from = args.size() > 1 ? to_int(args[1], "slice") : 0;
        std::int64_t to = args.size() > 2 ? to_int(args[2], "slice") : static_cast<std::int64_t>(size);
        if (from < 0 || to < from || static_cast<std::size_t>(to) > size)
            exec_error("error calling slice: index out of range");
        if (v.is_string()) return v.get<std::string>().substr(static_cast<std::size_t>(from), static_cast<std::size_t>(to - from));
        TemplateValue out = TemplateValue::array();
        for (auto k = from; k < to; ++k) out.push_back(v[static_cast<std::size_t>(k)]);
        return out;
    }
    if (name == "eq") {
        if (args.size() < 2) exec_error("wrong number of args for eq: want at least 2");
        for (std::size_t k = 1; k < args.size(); ++k)
            if (values_equal(args[0], args[k])) return true;
        return false;
    }
    if (name == "ne") {
        want_args(args, 2, name);
        return !values_equal(args[0], args[1]);
    }
    if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
        want_args(args, 2, name);
        int c = compare(args[0], args[1], name.c_str());
        return name == "lt" ? c < 0 : name == "le" ? c <= 0 : name == "gt" ? c > 0 : c >= 0;
    }
    if (name == "print" || name == "println") {
        std::string out;
        for (std::size_t k = 0; k < args.size(); ++k) {
            // Sprint puts a space between operands when neither is a string; Sprintln always.
            if (k > 0 && (name == "println" || (!args[k - 1].is_string() && !args[k].is_string()))) out += ' ';
            out += to_text(args[k]);
        }
        if (name == "println") out += '\n';
        return out;
    }
    if (name == "printf") {
        if (args.empty() || !args[0].is_string()) exec_error("wrong number of args for printf");
        return go_sprintf(args[0].get<std::string>(), std::vector<TemplateValue>(args.begin() + 1, args.end()));
    }
    if (name == "json") {
        want_args(args, 1, name);
        return go_json(args[0].is_discarded() ? TemplateValue(nullptr) : args[0]);
    }
    if (name == "join") {
        want_args(args, 2, name);
        if (!args[1].is_string()) exec_error("error calling join: the separator must be a string");
        std::string out;
        if (args[0].is_array())
            for (std::size_t k = 0; k < args[0].size(); ++k) out += (k ? args[1].get<std::string>() : "") + to_text(args[0][k]);
        else if (!args[0].is_null() && !args[0].is_discarded())
            exec_error("error calling join: can't join item of type " + go_print(args[0]));
        return out;
    }
    if (name == "split") {
        want_args(args, 2, name);
        std::string s = to_text(args[0]), sep = to_text(args[1]);
        TemplateValue out = TemplateValue::array();
        if (sep.empty()) {
            for (char c : s) out.push_back(std::string(1, c));
            return out;
        }
        std::size_t at = 0;
        for (std::size_t hit; (hit = s.find(sep, at)) != std::string::npos; at = hit + sep.size())
            out.push_back(s.substr(at, hit - at));
        out.push_back(s.substr(at));
        return out;
    }
    if (name == "upper" || name == "lower" || name == "title") {
        want_args(args, 1, name);
        std::string s = to_text(args[0]);
        return name == "title" ? title_case(s) : case_map(s, name == "upper" ? ::toupper : ::tolower);
    }
    if (name == "truncate") {
        want_args(args, 2, name);
        std::string s = to_text(args[0]);
        std::int64_t n = to_int(args[1], "truncate");
        if (n < 0) n = 0;
        // Whole UTF-8 characters, as the docker CLI counts runes.
        std::size_t bytes = 0;
        for (std::int64_t runes = 0; bytes < s.size() && runes < n; ++runes) {
            ++bytes;
            while (bytes < s.size() && (static_cast<unsigned char>(s[bytes]) & 0xC0) == 0x80) ++bytes;
        }
        return s.substr(0, bytes);
    }
    if (name == "pad") {
        want_args(args, 3, name);
        return std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, to_int(args[1], "pad"))), ' ') +
               to_text(args[0]) +
               std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, to_int(args[2], "pad"))), ' ');
    }
    exec_error("function \"" + name + "\" not defined");
}

}  // namespace kiln::go_template_detail
