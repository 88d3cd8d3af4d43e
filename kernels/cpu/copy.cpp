// kernels/cpu/copy.cpp — strided copy with dtype conversion, fill, and Philox random fills on the CPU.
//
// The strided walk keeps an N-d index over all dims but the last and runs the last dim as a plain
// loop, so contiguous and transposed layouts both stream well. Large copies split the outer index
// range over threads (each output element is written once, so the result is thread-count independent).
#include <cstring>

#include "core/parallel.h"
#include "kernels/copy.h"

namespace ng::kernels::cpu {

namespace {

template <class D, class S>
inline D convert(S s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<D, bf16>) {
    return bf16(static_cast<float>(s));
  } else if constexpr (std::is_same_v<S, bf16>) {
    return static_cast<D>(static_cast<float>(s));
  } else {
    return static_cast<D>(s);
  }
}

// dst[i] = convert(src[i]) for every index i of dst.shape(); rows of the last dim run as plain loops.
template <class D, class S>
void strided_copy(const Tensor& src, const Tensor& dst) {
  const Shape& shape = dst.shape();
  const int64_t nd = static_cast<int64_t>(shape.size());
  const S* sp = static_cast<const S*>(src.raw_data());
  D* dp = static_cast<D*>(dst.raw_data());
  if (nd == 0) {
    *dp = convert<D>(*sp);
    return;
  }
  const int64_t inner = shape[nd - 1];
  const int64_t ss = src.strides()[nd - 1], ds = dst.strides()[nd - 1];
  const int64_t rows = inner == 0 ? 0 : numel(shape) / inner;
  parallel_for(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r, so = 0, doff = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % shape[d];
        rem /= shape[d];
        so += i * src.strides()[d];
        doff += i * dst.strides()[d];
      }
      const S* s = sp + so;
      D* o = dp + doff;
      if (ss == 1 && ds == 1) {
        if constexpr (std::is_same_v<D, S>) {
          std::memcpy(o, s, static_cast<size_t>(inner) * sizeof(D));
        } else {
          for (int64_t i = 0; i < inner; ++i) o[i] = convert<D>(s[i]);
        }
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i * ds] = convert<D>(s[i * ss]);
      }
    }
  });
}

template <class T>
void fill_typed(const Tensor& dst, double value) {
  const T v = convert<T>(value);
  if (dst.is_contiguous()) {
    T* p = static_cast<T*>(dst.raw_data());
    const int64_t n = dst.numel();
    parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = v;
    });
    return;
  }
  // Strided destination: fill a contiguous scalar source through the strided copy.
  Tensor one = Tensor::empty({}, dst.dtype());
  *static_cast<T*>(one.raw_data()) = v;
  strided_copy<T, T>(one.expand(dst.shape()), dst);
}

}  // namespace

void copy(const Tensor& src, const Tensor& dst) {
  NG_CHECK(src.shape() == dst.shape(), "copy: source ", src.describe(), " does not match destination ",
           dst.describe());
  dispatch_all(dst.dtype(), [&](auto d) {
    using D = decltype(d);
    dispatch_all(src.dtype(), [&](auto s) {
      using S = decltype(s);
      strided_copy<D, S>(src, dst);
    });
  });
}

void fill(const Tensor& dst, double value) {
  dispatch_all(dst.dtype(), [&](auto t) { fill_typed<decltype(t)>(dst, value); });
}

void fill_uniform(const Tensor& dst, uint64_t key, uint64_t counter, double lo, double hi) {
  NG_CHECK(dst.is_contiguous(), "fill_uniform: destination must be contiguous, got ", dst.describe());
  dispatch_floating(dst.dtype(), "fill_uniform", [&](auto t) {
    using T = decltype(t);
    T* p = static_cast<T*>(dst.raw_data());
    parallel_for(dst.numel(), 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const uint64_t c = counter + static_cast<uint64_t>(i);
        if constexpr (std::is_same_v<T, double>)
          p[i] = lo + (hi - lo) * Generator::uniform_f64(key, c);
        else
          p[i] = convert<T>(static_cast<float>(lo) + static_cast<float>(hi - lo) * Generator::uniform(key, c));
      }
    });
  });
}

void fill_normal(const Tensor& dst, uint64_t key, uint64_t counter, double mean, double stddev) {
  NG_CHECK(dst.is_contiguous(), "fill_normal: destination must be contiguous, got ", dst.describe());
  dispatch_floating(dst.dtype(), "fill_normal", [&](auto t) {
    using T = decltype(t);
    T* p = static_cast<T*>(dst.raw_data());
    parallel_for(dst.numel(), 1 << 12, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = convert<T>(mean + stddev * Generator::normal_f64(key, counter + static_cast<uint64_t>(i)));
    });
  });
}

}  // namespace ng::kernels::cpu
