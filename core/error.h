// core/error.h — natgrad's one exception type and the NG_CHECK macro.
//
// Every misuse is reported as ng::Error whose message names the op and the offending
// shapes / dtypes / devices ("conv2d: weight has 3 dims, expected 4 (OIHW); weight shape [3, 3, 3]").
// NG_CHECK builds that message from any streamable pieces, so call sites stay one line.
#pragma once
#include <cstdint>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ng {

// Shapes are std::vector<int64_t>; declared here so NG_CHECK messages can stream them
// (argument-dependent lookup would not find it in namespace ng). Defined in core/shape.cpp.
std::ostream& operator<<(std::ostream& os, const std::vector<int64_t>& shape);

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

}  // namespace ng

// Throws ng::Error(concat(parts...)) unless `cond` holds.
#define NG_CHECK(cond, ...)                                           \
  do {                                                                \
    if (!(cond)) throw ::ng::Error(::ng::detail::concat(__VA_ARGS__)); \
  } while (0)

#define NG_FAIL(...) throw ::ng::Error(::ng::detail::concat(__VA_ARGS__))
