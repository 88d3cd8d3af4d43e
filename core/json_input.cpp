// core/json_input.cpp — strict JSON parsing (depth limit, duplicate keys, number range; see json_input.h):
// a SAX handler that checks each event and hands it on to nlohmann's DOM builder.
#include "core/json_input.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

namespace ng {

namespace {

using json = nlohmann::json;

class StrictSax {
 public:
  explicit StrictSax(json& out) : dom_(out) {}

  bool null() { return value_done(dom_.null()); }
  bool boolean(bool v) { return value_done(dom_.boolean(v)); }
  bool number_integer(json::number_integer_t v) { return value_done(dom_.number_integer(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return value_done(dom_.number_unsigned(v)); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return value_done(dom_.number_float(v, s)); }
  bool string(json::string_t& v) { return value_done(dom_.string(v)); }
  bool binary(json::binary_t& v) { return value_done(dom_.binary(v)); }

  bool start_object(std::size_t n) {
    open(false);
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    Frame& f = frames_.back();
    f.key = k;
    if (!f.keys.insert(k).second) throw JsonLimitError(path() + ": key given twice");
    return dom_.key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return value_done(dom_.end_object());
  }
  bool start_array(std::size_t n) {
    open(true);
    return dom_.start_array(n);
  }
  bool end_array() {
    frames_.pop_back();
    return value_done(dom_.end_array());
  }

  bool parse_error(std::size_t, const std::string& token, const nlohmann::detail::exception& ex) {
    const std::string where = frames_.empty() ? "" : path() + ": ";
    if (ex.id == 406)  // out_of_range.406: a number the parser cannot represent
      throw JsonLimitError(where + "number out of range: " + text_excerpt(token));
    throw JsonSyntaxError(where + text_excerpt(ex.what(), 2 * kExcerptChars));
  }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;  // arrays: the element being read
    std::string key;   // objects: the key being read
    std::set<std::string> keys;
  };

  void open(bool array) {
    if (static_cast<int>(frames_.size()) >= kMaxJsonDepth)
      throw JsonLimitError(path() + ": nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    frames_.push_back({array, 0, "", {}});
  }

  bool value_done(bool ok) {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return ok;
  }

  // The JSON path of the place being read ("model.layers[2].lr"; "(top level)" outside every container).
  std::string path() const {
    std::string p;
    for (const Frame& f : frames_) {
      if (f.array) {
        p.append("[").append(std::to_string(f.index)).append("]");
      } else {
        if (!p.empty()) p.push_back('.');
        p.append(text_excerpt(f.key, 60));
      }
    }
    return p.empty() ? std::string("(top level)") : text_excerpt(p);
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Frame> frames_;
};

template <class Input>
json parse_with(Input&& in) {
  json out;
  StrictSax sax(out);
  json::sax_parse(std::forward<Input>(in), &sax);
  return out;
}

}  // namespace

json parse_json_strict(std::string_view text) { return parse_with(text); }

json parse_json_strict(std::istream& in) { return parse_with(in); }

std::string text_excerpt(std::string_view s, size_t max_chars) {
  if (s.size() <= max_chars) return std::string(s);
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return std::string(s.substr(0, cut)) + "…";
}

std::string json_excerpt(const json& v, size_t max_chars) {
  return text_excerpt(v.dump(-1, ' ', false, json::error_handler_t::replace), max_chars);
}

const json& json_member(const json& obj, const std::string& what, const std::string& at, const std::string& key,
                        bool (*ok)(const json&), const char* expected) {
  const std::string field = at.empty() ? key : at + "." + key;
  NG_CHECK(obj.is_object(), what, ": field '", at, "': expected an object, got ", json_excerpt(obj));
  const auto it = obj.find(key);
  NG_CHECK(it != obj.end(), what, ": field '", field, "' is missing (expected ", expected, ")");
  NG_CHECK(ok(*it), what, ": field '", field, "': expected ", expected, ", got ", json_excerpt(*it));
  return *it;
}

namespace json_is {
bool count(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  return v.is_number_integer() && v.get<int64_t>() >= 0;
}
bool uint64(const json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0); }
bool finite(const json& v) { return v.is_number() && std::isfinite(v.get<double>()); }
bool positive(const json& v) { return finite(v) && v.get<double>() > 0; }
bool string(const json& v) { return v.is_string(); }
bool array(const json& v) { return v.is_array(); }
bool object(const json& v) { return v.is_object(); }
bool string_array(const json& v) {
  return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
}
}  // namespace json_is

}  // namespace ng
