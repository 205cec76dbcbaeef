#include "util/go_template.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "util/error.hpp"
#include "util/go_template_detail.hpp"

namespace kiln {

namespace go_template_detail {

// A key that is not there: printed as <no value>, false in a condition.
TemplateValue missing() { return TemplateValue(TemplateValue::value_t::discarded); }

[[noreturn]] void exec_error(const std::string& why) { throw Error("template: executing: " + why); }

bool truthy(const TemplateValue& v) {
    switch (v.type()) {
        case TemplateValue::value_t::boolean: return v.get<bool>();
        case TemplateValue::value_t::number_integer: return v.get<std::int64_t>() != 0;
        case TemplateValue::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
        case TemplateValue::value_t::number_float: return v.get<double>() != 0;
        case TemplateValue::value_t::string: return !v.get_ref<const std::string&>().empty();
        case TemplateValue::value_t::array:
        case TemplateValue::value_t::object: return !v.empty();
        default: return false;  // null, missing
    }
}

// Go's fmt %v of a float64: the shortest digits that read back the same, in exponent
// form when the exponent is below -4 or at least 6 (fmt's rule for the shortest %g).
std::string format_float(double f) {
    if (std::isnan(f)) return "NaN";
    if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
    char buf[64];
    int digits = 1;
    for (; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*e", digits - 1, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    int exponent = std::atoi(std::strchr(buf, 'e') + 1);
    if (exponent < -4 || exponent >= 6) {
        // C writes at least two exponent digits, as Go does: 1e+06.
        std::string text = buf;
        auto e = text.find('e');
        std::string mantissa = text.substr(0, e);
        if (mantissa.find('.') != std::string::npos) {
            while (mantissa.back() == '0') mantissa.pop_back();
            if (mantissa.back() == '.') mantissa.pop_back();
        }
        return mantissa + text.substr(e);
    }
    int decimals = std::max(0, digits - 1 - exponent);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, f);
    return buf;
}

std::string to_text(const TemplateValue& v) {
    return v.is_string() ? v.get<std::string>() : go_print(v);
}

double to_number(const TemplateValue& v, const char* function) {
    if (!v.is_number()) exec_error(std::string("error calling ") + function + ": incompatible types for comparison");
    return v.get<double>();
}

std::int64_t to_int(const TemplateValue& v, const char* function) {
    if (v.is_number_integer()) return v.get<std::int64_t>();
    exec_error(std::string("error calling ") + function + ": cannot convert " + go_print(v) + " to int");
}

}  // namespace go_template_detail

using namespace go_template_detail;

namespace {

[[noreturn]] void parse_error(const std::string& why) { throw Error("template parsing error: " + why); }

// --- lexing ----------------------------------------------------------------------------

enum class Tok { field, variable, ident, string, number, pipe, lparen, rparen, declare, assign, comma, end };

struct Token {
    Tok kind;
    std::string text;  // field: ".A.B"; variable: "$x" or "$x.A"; string: the decoded value
};

std::string decode_quoted(std::string_view body) {
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i == body.size()) parse_error("unterminated quoted string");
        switch (body[i]) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '\\': out += '\\'; break;
            case '"': out += '"'; break;
            case '\'': out += '\''; break;
            case '0': out += '\0'; break;
            default: parse_error(std::string("unknown escape sequence: \\") + body[i]);
        }
    }
    return out;
}

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::vector<Token> lex_action(std::string_view s) {
    std::vector<Token> out;
    std::size_t i = 0;
    auto chain = [&](std::size_t start) {  // .A.B after a field start or a variable
        while (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && ident_char(s[i])) ++i;
        }
        return std::string(s.substr(start, i - start));
    };
    while (i < s.size()) {
        char c = s[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '.' && (i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
            out.push_back({Tok::field, chain(i)});
        } else if (c == '$') {
            std::size_t start = i++;
            while (i < s.size() && ident_char(s[i])) ++i;
            out.push_back({Tok::variable, chain(start)});
        } else if (c == '"' || c == '`') {
            std::size_t start = ++i;
            while (i < s.size() && s[i] != c) i += (c == '"' && s[i] == '\\') ? 2 : 1;
            if (i >= s.size()) parse_error("unterminated quoted string");
            std::string_view body = s.substr(start, i - start);
            ++i;
            out.push_back({Tok::string, c == '`' ? std::string(body) : decode_quoted(body)});
        } else if (std::isdigit(static_cast<unsigned char>(c)) || ((c == '-' || c == '+' || c == '.') && i + 1 < s.size() &&
                                                                   std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
            std::size_t start = i++;
            while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
            out.push_back({Tok::number, std::string(s.substr(start, i - start))});
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t start = i;
            while (i < s.size() && ident_char(s[i])) ++i;
            out.push_back({Tok::ident, std::string(s.substr(start, i - start))});
        } else if (c == '|') {
            out.push_back({Tok::pipe, "|"}), ++i;
        } else if (c == '(') {
            out.push_back({Tok::lparen, "("}), ++i;
        } else if (c == ')') {
            // (pipeline).Field: the chain stays with the closing parenthesis.
            std::size_t start = ++i;
            out.push_back({Tok::rparen, chain(start)});
        } else if (c == ',') {
            out.push_back({Tok::comma, ","}), ++i;
        } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
            out.push_back({Tok::declare, ":="}), i += 2;
        } else if (c == '=') {
            out.push_back({Tok::assign, "="}), ++i;
        } else {
            parse_error(std::string("unexpected \"") + c + "\" in command");
        }
    }
    out.push_back({Tok::end, ""});
    return out;
}

// --- syntax tree -----------------------------------------------------------------------

struct Pipeline;

std::vector<std::string> split_chain(std::string_view chain) {  // ".A.B" → {"A", "B"}
    std::vector<std::string> names;
    std::size_t i = 0;
    while (i < chain.size()) {
        std::size_t next = chain.find('.', i + 1);
        std::string name(chain.substr(i + 1, next == std::string_view::npos ? std::string_view::npos : next - i - 1));
        if (!name.empty()) names.push_back(name);
        i = next == std::string_view::npos ? chain.size() : next;
    }
    return names;
}

struct Operand {
    enum Kind { field, variable, literal, function, sub } kind = literal;
    std::string name;                 // variable or function name
    std::vector<std::string> chain;   // fields to follow after the base value
    TemplateValue value;              // literal
    std::shared_ptr<Pipeline> pipeline;  // sub
};

struct Command {
    std::vector<Operand> args;
};

struct Pipeline {
    std::vector<std::string> vars;  // declared or assigned
    bool declare = false;
    std::vector<Command> commands;
};

}  // namespace

struct GoTemplate::Node {
    enum Kind { list, literal, action, if_, range, with } kind = list;
    std::string text;
    Pipeline pipeline;
    std::vector<std::unique_ptr<Node>> children;  // list: the items; others: the body
    std::unique_ptr<Node> otherwise;              // else branch
};

namespace {

using Node = GoTemplate::Node;

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    std::unique_ptr<Node> parse() {
        auto root = std::make_unique<Node>();
        std::string stop = parse_list(*root);
        if (!stop.empty()) parse_error("unexpected {{" + stop + "}}");
        return root;
    }

private:
    // Parses items into `into` until {{end}} or {{else…}}; returns "end", "else" or
    // (at the top level) "". After "else", rest_ holds the tokens following it.
    std::string parse_list(Node& into) {
        for (;;) {
            std::size_t open = text_.find("{{", pos_);
            std::string_view chunk = text_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_);
            bool trim_left = open != std::string_view::npos && open + 3 <= text_.size() && text_[open + 2] == '-' &&
                             open + 3 < text_.size() && std::isspace(static_cast<unsigned char>(text_[open + 3]));
            std::string piece(chunk);
            if (trim_pending_) {
                piece.erase(0, piece.find_first_not_of(" \t\r\n") == std::string::npos ? piece.size()
                                                                                       : piece.find_first_not_of(" \t\r\n"));
                trim_pending_ = false;
            }
            if (trim_left) piece.erase(piece.find_last_not_of(" \t\r\n") + 1);
            if (!piece.empty()) {
                auto node = std::make_unique<Node>();
                node->kind = Node::literal;
                node->text = std::move(piece);
                into.children.push_back(std::move(node));
            }
            if (open == std::string_view::npos) {
                pos_ = text_.size();
                return "";
            }
            std::size_t body_start = open + (trim_left ? 3 : 2);
            std::size_t close = find_close(body_start);
            std::size_t body_end = close;
            if (close >= 2 && text_[close - 1] == '-' && std::isspace(static_cast<unsigned char>(text_[close - 2]))) {
                body_end = close - 1;
                trim_pending_ = true;
            }
            std::string_view body = text_.substr(body_start, body_end - body_start);
            pos_ = close + 2;
            std::string_view trimmed = trim(body);
            if (trimmed.starts_with("/*")) {
                if (!trimmed.ends_with("*/")) parse_error("unclosed comment");
                continue;
            }
            auto tokens = lex_action(body);
            tokens_ = std::move(tokens);
            at_ = 0;
            if (peek().kind == Tok::ident) {
                const std::string& word = peek().text;
                if (word == "end" || word == "else") {
                    ++at_;
                    return word;
                }
                if (word == "if" || word == "range" || word == "with") {
                    ++at_;
                    into.children.push_back(parse_control(word));
                    continue;
                }
                if (word == "define" || word == "template" || word == "block" || word == "break" || word == "continue")
                    parse_error("{{" + word + "}} is not supported");
            }
            auto node = std::make_unique<Node>();
            node->kind = Node::action;
            node->pipeline = parse_pipeline(true);
            expect_end();
            into.children.push_back(std::move(node));
        }
    }

    std::unique_ptr<Node> parse_control(const std::string& word) {
        auto node = std::make_unique<Node>();
        node->kind = word == "if" ? Node::if_ : word == "range" ? Node::range : Node::with;
        node->pipeline = parse_pipeline(true);
        if (node->pipeline.commands.empty()) parse_error("missing value for " + word);
        expect_end();
        auto body = std::make_unique<Node>();
        std::string stop = parse_list(*body);
        node->children.push_back(std::move(body));
        if (stop.empty()) parse_error("unexpected EOF: {{" + word + "}} without {{end}}");
        if (stop == "else") {
            node->otherwise = std::make_unique<Node>();
            // {{else if …}} / {{else with …}}: a nested control that shares our {{end}}.
            if (peek().kind == Tok::ident && (peek().text == "if" || peek().text == "with")) {
                std::string nested = peek().text;
                ++at_;
                node->otherwise->children.push_back(parse_control(nested));
                return node;
            }
            expect_end();
            stop = parse_list(*node->otherwise);
            if (stop != "end") parse_error("expected {{end}} after {{else}}");
        }
        return node;
    }

    Pipeline parse_pipeline(bool allow_decl) {
        Pipeline p;
        if (allow_decl && peek().kind == Tok::variable) {
            // $x := …, $x = …, $i, $e := …
            std::size_t save = at_;
            std::vector<std::string> vars{tokens_[at_++].text};
            if (peek().kind == Tok::comma) {
                ++at_;
                if (peek().kind != Tok::variable) parse_error("expected a variable after ','");
                vars.push_back(tokens_[at_++].text);
            }
            if (peek().kind == Tok::declare || peek().kind == Tok::assign) {
                p.declare = peek().kind == Tok::declare;
                ++at_;
                p.vars = std::move(vars);
            } else {
                at_ = save;
            }
        }
        for (;;) {
            Command cmd;
            while (peek().kind != Tok::pipe && peek().kind != Tok::end && peek().kind != Tok::rparen)
                cmd.args.push_back(parse_operand());
            if (cmd.args.empty()) {
                if (peek().kind == Tok::pipe || !p.commands.empty()) parse_error("missing command");
                break;
            }
            p.commands.push_back(std::move(cmd));
            if (peek().kind != Tok::pipe) break;
            ++at_;
        }
        return p;
    }

    Operand parse_operand() {
        Token t = tokens_[at_++];
        Operand o;
        switch (t.kind) {
            case Tok::field:
                o.kind = Operand::field;
                o.chain = split_chain(t.text);
                break;
            case Tok::variable: {
                o.kind = Operand::variable;
                auto dot = t.text.find('.');
                o.name = t.text.substr(0, dot);
                if (dot != std::string::npos) o.chain = split_chain(t.text.substr(dot));
                break;
            }
            case Tok::string: o.value = t.text; break;
            case Tok::number: o.value = parse_number(t.text); break;
            case Tok::ident:
                if (t.text == "true" || t.text == "false") {
                    o.value = t.text == "true";
                } else if (t.text == "nil") {
                    o.value = nullptr;
                } else {
                    o.kind = Operand::function;
                    o.name = t.text;
                }
                break;
            case Tok::lparen: {
                o.kind = Operand::sub;
                o.pipeline = std::make_shared<Pipeline>(parse_pipeline(false));
                if (peek().kind != Tok::rparen) parse_error("unclosed left paren");
                o.chain = split_chain(tokens_[at_++].text);
                break;
            }
            default: parse_error("unexpected \"" + t.text + "\" in operand");
        }
        return o;
    }

    static TemplateValue parse_number(const std::string& text) {
        std::size_t used = 0;
        try {
            if (text.find_first_of(".eE") == std::string::npos) {
                long long v = std::stoll(text, &used, 0);
                if (used == text.size()) return TemplateValue(static_cast<std::int64_t>(v));
            } else {
                double v = std::stod(text, &used);
                if (used == text.size()) return TemplateValue(v);
            }
        } catch (const std::exception&) {
        }
        parse_error("bad number syntax: \"" + text + "\"");
    }

    std::size_t find_close(std::size_t from) const {
        char quote = 0;
        for (std::size_t i = from; i + 1 < text_.size(); ++i) {
            char c = text_[i];
            if (quote) {
                if (c == '\\' && quote == '"') ++i;
                else if (c == quote) quote = 0;
            } else if (c == '"' || c == '`') {
                quote = c;
            } else if (c == '}' && text_[i + 1] == '}') {
                return i;
            }
        }
        parse_error("unclosed action");
    }

    static std::string_view trim(std::string_view s) {
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
        return s;
    }

    const Token& peek() const { return tokens_[at_]; }
    void expect_end() {
        if (peek().kind != Tok::end) parse_error("unexpected \"" + peek().text + "\" in command");
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    bool trim_pending_ = false;
    std::vector<Token> tokens_;
    std::size_t at_ = 0;
};

// --- execution -------------------------------------------------------------------------

class Executor {
public:
    Executor(const TemplateValue& root, std::string& out) : out_(out) { vars_.emplace_back("$", root); }

    void run(const Node& node, const TemplateValue& dot) {
        switch (node.kind) {
            case Node::list:
                for (const auto& child : node.children) run(*child, dot);
                break;
            case Node::literal: out_ += node.text; break;
            case Node::action: {
                TemplateValue v = eval_pipeline(node.pipeline, dot);
                if (node.pipeline.vars.empty()) out_ += to_text(v);
                break;
            }
            case Node::if_:
            case Node::with: {
                std::size_t mark = vars_.size();
                TemplateValue v = eval_pipeline(node.pipeline, dot);
                if (truthy(v))
                    run(*node.children[0], node.kind == Node::with ? v : dot);
                else if (node.otherwise)
                    run(*node.otherwise, dot);
                vars_.resize(mark);
                break;
            }
            case Node::range: run_range(node, dot); break;
        }
    }

private:
    void run_range(const Node& node, const TemplateValue& dot) {
        std::size_t mark = vars_.size();
        Pipeline head = node.pipeline;
        std::vector<std::string> names = head.vars;
        head.vars.clear();  // the loop variables are bound per element, below
        TemplateValue v = eval_pipeline(head, dot);
        auto each = [&](const TemplateValue& key, const TemplateValue& elem) {
            vars_.resize(mark);
            if (names.size() == 1) vars_.emplace_back(names[0], elem);
            if (names.size() == 2) vars_.emplace_back(names[0], key), vars_.emplace_back(names[1], elem);
            run(*node.children[0], elem);
        };
        bool any = false;
        if (v.is_array()) {
            for (std::size_t k = 0; k < v.size(); ++k) each(static_cast<std::int64_t>(k), v[k]), any = true;
        } else if (v.is_object()) {
            std::vector<std::string> keys;
            for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
            std::sort(keys.begin(), keys.end());  // Go ranges over a map in key order
            for (const auto& k : keys) each(k, v[k]), any = true;
        } else if (!v.is_null() && !v.is_discarded()) {
            exec_error("range can't iterate over " + go_print(v));
        }
        vars_.resize(mark);
        if (!any && node.otherwise) run(*node.otherwise, dot);
    }

    TemplateValue eval_pipeline(const Pipeline& p, const TemplateValue& dot) {
        TemplateValue value = missing();
        bool have = false;
        for (const auto& cmd : p.commands) {
            value = eval_command(cmd, dot, have ? &value : nullptr);
            have = true;
        }
        for (const auto& name : p.vars) {
            if (p.declare) {
                vars_.emplace_back(name, value);
            } else {
                auto it = find_var(name);
                it->second = value;
            }
        }
        return value;
    }

    TemplateValue eval_command(const Command& cmd, const TemplateValue& dot, const TemplateValue* piped) {
        const Operand& head = cmd.args[0];
        if (head.kind == Operand::function) {
            std::vector<TemplateValue> args;
            for (std::size_t k = 1; k < cmd.args.size(); ++k) args.push_back(eval_operand(cmd.args[k], dot));
            if (piped) args.push_back(*piped);
            return call_function(head.name, args);
        }
        if (cmd.args.size() > 1 || piped) exec_error("can't give argument to non-function " + describe(head));
        return eval_operand(head, dot);
    }

    TemplateValue eval_operand(const Operand& o, const TemplateValue& dot) {
        switch (o.kind) {
            case Operand::literal: return o.value;
            case Operand::field: return follow(dot, o.chain);
            case Operand::variable: return follow(find_var(o.name)->second, o.chain);
            case Operand::sub: return follow(eval_pipeline(*o.pipeline, dot), o.chain);
            case Operand::function: return call_function(o.name, {});
        }
        return missing();
    }

    static TemplateValue follow(TemplateValue v, const std::vector<std::string>& chain) {
        for (const auto& name : chain) {
            if (v.is_object()) {
                auto it = v.find(name);
                v = it == v.end() ? missing() : TemplateValue(*it);
            } else if (v.is_null() || v.is_discarded()) {
                return missing();
            } else {
                exec_error("can't evaluate field " + name + " in type " + go_print(v));
            }
        }
        return v;
    }

    std::vector<std::pair<std::string, TemplateValue>>::iterator find_var(const std::string& name) {
        for (auto it = vars_.end(); it != vars_.begin();) {
            --it;
            if (it->first == name) return it;
        }
        exec_error("undefined variable: " + name);
    }

    static std::string describe(const Operand& o) {
        std::string chain;
        for (const auto& n : o.chain) chain += "." + n;
        if (o.kind == Operand::variable) return o.name + chain;
        return chain.empty() ? go_print(o.value) : chain;
    }

    std::string& out_;
    std::vector<std::pair<std::string, TemplateValue>> vars_;
};

}  // namespace

GoTemplate::GoTemplate(std::string_view text) : root_(Parser(text).parse()) {}
GoTemplate::~GoTemplate() = default;
GoTemplate::GoTemplate(GoTemplate&&) noexcept = default;
GoTemplate& GoTemplate::operator=(GoTemplate&&) noexcept = default;

std::string GoTemplate::execute(const TemplateValue& data) const {
    std::string out;
    Executor(data, out).run(*root_, data);
    return out;
}

std::string go_json(const TemplateValue& value) {
    std::string text = value.dump(-1, ' ', false, TemplateValue::error_handler_t::replace);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' && (text[i + 2] == '\xa8' || text[i + 2] == '\xa9'))
            out += text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029", i += 2;
        else out += c;
    }
    return out;
}

std::string go_print(const TemplateValue& value) {
    switch (value.type()) {
        case TemplateValue::value_t::discarded: return "<no value>";
        case TemplateValue::value_t::null: return "<nil>";
        case TemplateValue::value_t::string: return value.get<std::string>();
        case TemplateValue::value_t::boolean: return value.get<bool>() ? "true" : "false";
        case TemplateValue::value_t::number_integer: return std::to_string(value.get<std::int64_t>());
        case TemplateValue::value_t::number_unsigned: return std::to_string(value.get<std::uint64_t>());
        case TemplateValue::value_t::number_float: return format_float(value.get<double>());
        case TemplateValue::value_t::array: {
            std::string out = "[";
            for (std::size_t k = 0; k < value.size(); ++k) out += (k ? " " : "") + go_print(value[k]);
            return out + "]";
        }
        case TemplateValue::value_t::object: {
            std::vector<std::string> keys;
            for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
            std::sort(keys.begin(), keys.end());
            std::string out = "map[";
            for (std::size_t k = 0; k < keys.size(); ++k) out += (k ? " " : "") + keys[k] + ":" + go_print(value[keys[k]]);
            return out + "]";
        }
        default: return "";
    }
}

std::string tabwrite(std::string_view text, std::size_t min_width, std::size_t padding, char pad_char) {
    std::vector<std::vector<std::string>> rows;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        std::vector<std::string> cells;
        std::size_t cell_start = 0;
        for (std::size_t tab; (tab = line.find('\t', cell_start)) != std::string_view::npos; cell_start = tab + 1)
            cells.emplace_back(line.substr(cell_start, tab - cell_start));
        cells.emplace_back(line.substr(cell_start));
        rows.push_back(std::move(cells));
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    auto display_width = [](const std::string& s) {  // UTF-8 characters, not bytes
        std::size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    };
    std::vector<std::size_t> widths;
    for (const auto& row : rows)
        for (std::size_t k = 0; k + 1 < row.size(); ++k) {
            if (widths.size() <= k) widths.push_back(0);
            widths[k] = std::max(widths[k], display_width(row[k]) + padding);
        }
    constexpr std::size_t kTabWidth = 8;
    for (auto& w : widths) {
        w = std::max(w, min_width);
        if (pad_char == '\t') w = (w + kTabWidth - 1) / kTabWidth * kTabWidth;
    }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t k = 0; k < row.size(); ++k) {
            line += row[k];
            if (k + 1 >= row.size()) continue;
            std::size_t gap = widths[k] - display_width(row[k]);
            if (pad_char == '\t')
                line.append((gap + kTabWidth - 1) / kTabWidth, '\t');
            else
                line.append(gap, pad_char);
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace kiln
