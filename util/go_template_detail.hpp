#pragma once
// Pieces go_template.cpp and go_template_functions.cpp share; not for other callers.
#include <cstdint>
#include <string>
#include <vector>

#include "util/go_template.hpp"

namespace kiln::go_template_detail {

// A key that is not there: printed as <no value>, false in a condition.
TemplateValue missing();
[[noreturn]] void exec_error(const std::string& why);
// Go's truth: false, 0, nil, a missing key and empty strings, lists and maps are false.
bool truthy(const TemplateValue& v);
// Go's fmt %v of a float64.
std::string format_float(double f);
// A string as itself, anything else as %v prints it.
std::string to_text(const TemplateValue& v);
double to_number(const TemplateValue& v, const char* function);
std::int64_t to_int(const TemplateValue& v, const char* function);

// Calls the template function `name`; throws kiln::Error ("template: executing: …").
TemplateValue call_function(const std::string& name, const std::vector<TemplateValue>& args);

}  // namespace kiln::go_template_detail
