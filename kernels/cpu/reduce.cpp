// kernels/cpu/reduce.cpp — CPU sum over dims (see kernels/reduce.h).
//
// The input's dims are coalesced (size-1 dims dropped, neighbours with the same role — kept or
// reduced — merged), leaving alternating kept/reduced runs. Two loop shapes cover every case:
//   * innermost dim reduced ([.., R] e.g. row sums, or [N, C, H·W] -> [C]): each output sums
//     contiguous runs with 8 independent accumulators (vectorised, and more accurate than one chain);
//     when there are fewer outputs than threads, each output's runs are split across threads and the
//     chunk partials are added in chunk order;
//   * innermost dim kept ([N, K] -> [K], a bias gradient): blocks of output columns accumulate whole
//     input rows, so reads stay contiguous; (row, column block) units go to threads.
// Each output's summation order is fixed by the shapes (and thread count), never by scheduling.
#include <algorithm>
#include <array>
#include <vector>

#include "core/parallel.h"
#include "kernels/reduce.h"

namespace ng::kernels::cpu {

namespace {

constexpr int64_t kGrain = 32768;      // elements per thread chunk
constexpr int64_t kColumnBlock = 256;  // output columns accumulated together (kept-innermost case)

struct Run {
  int64_t size, stride;
};

// A multi-index over `runs` (outermost first) with its element offset, stepped like an odometer.
struct Odometer {
  const std::vector<Run>& runs;
  std::vector<int64_t> idx;
  int64_t offset = 0;

  Odometer(const std::vector<Run>& r, int64_t linear) : runs(r), idx(r.size(), 0) {
    for (size_t d = runs.size(); d-- > 0;) {
      idx[d] = linear % runs[d].size;
      linear /= runs[d].size;
      offset += idx[d] * runs[d].stride;
    }
  }
  void step() {
    for (size_t d = runs.size(); d-- > 0;) {
      offset += runs[d].stride;
      if (++idx[d] < runs[d].size) return;
      offset -= runs[d].stride * runs[d].size;
      idx[d] = 0;
    }
  }
};

// Rounds a float64 result once into T (via acc_t<T>, so bf16 rounds from float32 as everywhere).
template <class T>
T store(double v) {
  return T(static_cast<acc_t<T>>(v));
}

int64_t count(const std::vector<Run>& runs) {
  int64_t n = 1;
  for (const Run& r : runs) n *= r.size;
  return n;
}

// One summand: the element, or its square (Summand::square), in acc_t<T>.
template <bool Square, class T>
acc_t<T> term(T v) {
  const acc_t<T> x(v);
  if constexpr (Square) return x * x;
  return x;
}

// Σ p[0..n) with 8 interleaved accumulators combined pairwise.
template <bool Square, class T>
acc_t<T> sum_contiguous(const T* p, int64_t n) {
  using A = acc_t<T>;
  std::array<A, 8> lane{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += term<Square>(p[i + k]);
  A tail = 0;
  for (; i < n; ++i) tail += term<Square>(p[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
}

// Sum of reduced elements [begin, end) of one output: `outer` indexes the reduced runs before the
// innermost one, whose length is `len` (stride 1).
template <bool Square, class T>
acc_t<T> sum_range(const T* base, const std::vector<Run>& outer, int64_t len, int64_t begin, int64_t end) {
  acc_t<T> total = 0;
  Odometer it(outer, begin / len);
  int64_t j = begin % len;
  while (begin < end) {
    const int64_t n = std::min(len - j, end - begin);
    total += sum_contiguous<Square>(base + it.offset + j, n);
    begin += n;
    j = 0;
    it.step();
  }
  return total;
}

template <bool Square, class T>
void sum_inner_reduced(const T* a, T* out, const std::vector<Run>& kept, std::vector<Run> reduced,
                       double scale) {
  const int64_t len = reduced.back().size;
  reduced.pop_back();
  const int64_t per_out = count(reduced) * len;
  const int64_t outputs = count(kept);
  if (outputs >= num_threads()) {
    parallel_for(outputs, std::max<int64_t>(1, kGrain / per_out), [&](int64_t o0, int64_t o1) {
      Odometer it(kept, o0);
      for (int64_t o = o0; o < o1; ++o, it.step())
        out[o] = store<T>(static_cast<double>(sum_range<Square>(a + it.offset, reduced, len, 0, per_out)) * scale);
    });
    return;
  }
  const int64_t chunks = parallel_chunks(per_out, kGrain);
  std::vector<acc_t<T>> partial(static_cast<size_t>(chunks));
  Odometer it(kept, 0);
  for (int64_t o = 0; o < outputs; ++o, it.step()) {
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t b, e;
        chunk_bounds(per_out, chunks, c, &b, &e);
        partial[c] = sum_range<Square>(a + it.offset, reduced, len, b, e);
      }
    });
    acc_t<T> total = 0;
    for (const auto& p : partial) total += p;
    out[o] = store<T>(static_cast<double>(total) * scale);
  }
}

template <bool Square, class T>
void sum_inner_kept(const T* a, T* out, std::vector<Run> kept, const std::vector<Run>& reduced,
                    double scale) {
  using A = acc_t<T>;
  const int64_t len = kept.back().size;
  kept.pop_back();
  const int64_t blocks = (len + kColumnBlock - 1) / kColumnBlock;
  const int64_t units = count(kept) * blocks;
  const int64_t nred = count(reduced);
  parallel_for(units, std::max<int64_t>(1, kGrain / (nred * std::min(len, kColumnBlock))),
               [&](int64_t u0, int64_t u1) {
                 std::array<A, kColumnBlock> acc;
                 for (int64_t u = u0; u < u1; ++u) {
                   const int64_t row = u / blocks, c0 = (u % blocks) * kColumnBlock;
                   const int64_t w = std::min(kColumnBlock, len - c0);
                   const T* base = a + Odometer(kept, row).offset + c0;
                   std::fill(acc.begin(), acc.begin() + w, A(0));
                   Odometer r(reduced, 0);
                   for (int64_t i = 0; i < nred; ++i, r.step()) {
                     const T* p = base + r.offset;
                     for (int64_t c = 0; c < w; ++c) acc[c] += term<Square>(p[c]);
                   }
                   T* o = out + row * len + c0;
                   for (int64_t c = 0; c < w; ++c) o[c] = store<T>(static_cast<double>(acc[c]) * scale);
                 }
               });
}

}  // namespace

namespace {

// The runs of `a` after coalescing: kept and reduced runs in input order, each with its input stride.
struct Runs {
  std::vector<Run> kept, reduced;
  bool last_reduced = false;
};

Runs coalesce(const Tensor& a, const std::vector<int64_t>& dims) {
  const Shape cs = contiguous_strides(a.shape());
  Runs r;
  bool any = false;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.shape()[d] == 1) continue;
    const bool red = std::binary_search(dims.begin(), dims.end(), d);
    std::vector<Run>& runs = red ? r.reduced : r.kept;
    if (any && red == r.last_reduced) {
      runs.back().size *= a.shape()[d];
      runs.back().stride = cs[d];
    } else {
      runs.push_back({a.shape()[d], cs[d]});
    }
    r.last_reduced = red;
    any = true;
  }
  return r;
}

template <bool Square, class T>
void sum_typed(const T* pa, T* po, const Tensor& a, const std::vector<int64_t>& dims, double scale, int64_t outputs) {
  if (a.numel() == 0) {  // empty sums are 0 (mean: 0 · 1/0 = NaN, as PyTorch)
    std::fill(po, po + outputs, store<T>(0.0 * scale));
    return;
  }
  const Runs r = coalesce(a, dims);
  if (r.reduced.empty()) {
    for (int64_t i = 0; i < outputs; ++i) po[i] = store<T>(static_cast<double>(term<Square>(pa[i])) * scale);
  } else if (r.last_reduced) {
    sum_inner_reduced<Square>(pa, po, r.kept, r.reduced, scale);
  } else {
    sum_inner_kept<Square>(pa, po, r.kept, r.reduced, scale);
  }
}

}  // namespace

void sum(const Tensor& a, const std::vector<int64_t>& dims, double scale, const Tensor& out, Summand what) {
  dispatch_floating(a.dtype(), "sum", [&](auto t) {
    using T = decltype(t);
    if (what == Summand::square)
      sum_typed<true>(a.data<T>(), out.data<T>(), a, dims, scale, out.numel());
    else
      sum_typed<false>(a.data<T>(), out.data<T>(), a, dims, scale, out.numel());
  });
}

}  // namespace ng::kernels::cpu
