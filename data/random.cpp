// data/random.cpp — seeded Fisher–Yates permutation.
#include "data/random.h"

#include <cstddef>
#include <numeric>
#include <utility>

namespace ng::data {

std::vector<int64_t> seeded_permutation(int64_t n, Generator gen) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[uniform_below(gen.next_u32(), i + 1)]);
  return p;
}

}  // namespace ng::data
