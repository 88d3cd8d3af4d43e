// core/json_input.h — strict parsing of the JSON natgrad reads from outside (config files, `--set` values,
// safetensors headers, checkpoint metadata), and short excerpts of values for error messages.
//
// parse_json_strict refuses, naming the JSON path of the offending place ("model.layers[2].lr"):
//   - nesting deeper than kMaxJsonDepth arrays and objects (the code that later copies, compares and prints
//     a value recurses once per level, so unbounded nesting would overflow the stack),
//   - a key given twice in one object (JSON leaves the meaning open; natgrad refuses rather than guess),
//   - a number outside the range of a double (1e400).
// Syntax errors are JsonSyntaxError, the refusals above JsonLimitError; both are ng::Error and their
// messages do not name the source, so callers prefix the file or option they parsed.
#pragma once
#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ng {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kExcerptChars = 200;

class JsonSyntaxError : public Error {
 public:
  using Error::Error;
};

class JsonLimitError : public Error {
 public:
  using Error::Error;
};

nlohmann::json parse_json_strict(std::string_view text);
nlohmann::json parse_json_strict(std::istream& in);

// At most max_chars characters of `s`; a longer text is cut and ends in "…".
std::string text_excerpt(std::string_view s, size_t max_chars = kExcerptChars);
// `v` as compact JSON, cut like text_excerpt.
std::string json_excerpt(const nlohmann::json& v, size_t max_chars = kExcerptChars);

// Checked access to the member `key` of the object `obj` found at JSON path `at` of `what` (e.g. "optimizer
// state"): a missing member, or one that fails `ok`, is an ng::Error naming the field and `expected`.
const nlohmann::json& json_member(const nlohmann::json& obj, const std::string& what, const std::string& at,
                                  const std::string& key, bool (*ok)(const nlohmann::json&), const char* expected);

// Predicates for json_member.
namespace json_is {
bool count(const nlohmann::json& v);     // an integer in [0, 2^63)
bool uint64(const nlohmann::json& v);    // an integer in [0, 2^64)
bool finite(const nlohmann::json& v);    // a finite number
bool positive(const nlohmann::json& v);  // a finite number > 0
bool string(const nlohmann::json& v);
bool array(const nlohmann::json& v);
bool object(const nlohmann::json& v);
bool string_array(const nlohmann::json& v);
}  // namespace json_is

}  // namespace ng
