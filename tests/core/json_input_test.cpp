// tests/core/json_input_test.cpp — strict JSON parsing (core/json_input.h): the depth limit at its
// boundary, duplicate keys and out-of-range numbers named by their JSON path, syntax errors kept apart
// from limit errors, and excerpts cut at a UTF-8 character boundary.
#include <gtest/gtest.h>

#include <sstream>

#include "core/json_input.h"

namespace ng {
namespace {

std::string nested(int levels) { return std::string(static_cast<size_t>(levels), '[') + std::string(static_cast<size_t>(levels), ']'); }

template <class E>
std::string error_of(const std::string& text) {
  try {
    parse_json_strict(text);
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << text.substr(0, 80);
  return "";
}

TEST(JsonInput, ParsesOrdinaryJsonAsNlohmannDoes) {
  const std::string text = R"({"a": [1, 2.5, "x", null, true], "b": {"c": {}}})";
  EXPECT_EQ(parse_json_strict(text), nlohmann::json::parse(text));
  std::istringstream in(text);
  EXPECT_EQ(parse_json_strict(in), nlohmann::json::parse(text));
}

TEST(JsonInput, DepthLimitHoldsAtItsBoundary) {
  EXPECT_NO_THROW(parse_json_strict(nested(kMaxJsonDepth)));
  EXPECT_NE(error_of<JsonLimitError>(nested(kMaxJsonDepth + 1)).find("nested deeper than 64 levels"), std::string::npos);
  const std::string msg = error_of<JsonLimitError>(R"({"model": {"layers": [0, )" + nested(200000) + "]}}");
  EXPECT_EQ(msg.rfind("model.layers[1][0][0]", 0), 0u) << msg;  // the path of the place, from the top
}

TEST(JsonInput, DuplicateKeysAreRefusedAtAnyLevel) {
  EXPECT_EQ(error_of<JsonLimitError>(R"({"a": 1, "a": 2})"), "a: key given twice");
  EXPECT_EQ(error_of<JsonLimitError>(R"({"a": [{"b": 1}, {"c": 1, "c": 1}]})"), "a[1].c: key given twice");
  EXPECT_NO_THROW(parse_json_strict(R"([{"a": 1}, {"a": 2}])"));  // one key in two objects is fine
}

TEST(JsonInput, NumbersOutsideTheDoubleRangeNameTheirKey) {
  EXPECT_EQ(error_of<JsonLimitError>(R"({"opt": {"lr": 1e400}})"), "opt.lr: number out of range: 1e400");
  EXPECT_EQ(error_of<JsonLimitError>("-1e999"), "number out of range: -1e999");
  EXPECT_NO_THROW(parse_json_strict("1e308"));
}

TEST(JsonInput, SyntaxErrorsAreTheirOwnKind) {
  EXPECT_NE(error_of<JsonSyntaxError>(R"({"a": [1, 2)").find("a[2]: "), std::string::npos);
  error_of<JsonSyntaxError>("");
  error_of<JsonSyntaxError>("{} x");
  error_of<JsonSyntaxError>("[NaN]");
}

TEST(JsonInput, ExcerptsAreShortAndCutBetweenCharacters) {
  EXPECT_EQ(text_excerpt("short"), "short");
  EXPECT_EQ(text_excerpt(std::string(1000, 'x'), 10), std::string(10, 'x') + "…");
  EXPECT_EQ(text_excerpt("aaaé", 4), "aaa…");  // 'é' is two bytes: never half of it
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string(50, 'y')), 8), "\"yyyyyyy…");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string("\xff"))), "\"\xEF\xBF\xBD\"");  // invalid UTF-8 replaced
}

TEST(JsonInput, MemberChecksPresenceAndType) {
  const nlohmann::json j = {{"n", -1}, {"s", "x"}};
  EXPECT_EQ(json_member(j, "state", "", "s", json_is::string, "a string"), "x");
  try {
    json_member(j, "state", "top", "n", json_is::count, "a count");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "state: field 'top.n': expected a count, got -1");
  }
  EXPECT_FALSE(json_is::count(nlohmann::json(uint64_t{1} << 63)));  // would wrap to a negative int64
  EXPECT_TRUE(json_is::count(nlohmann::json(uint64_t{1} << 62)));
  try {
    json_member(j, "state", "", "gone", json_is::count, "a count");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "state: field 'gone' is missing (expected a count)");
  }
}

}  // namespace
}  // namespace ng
