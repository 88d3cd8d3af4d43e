// kernels/cpu/conv.cpp — CPU conv2d: im2col + GEMM (general), Winograd F(m×m, 3×3) + GEMM (3×3, stride 1).
//
// im2col (Chellapilla et al. 2006). For a block of nb images and group g the input is lowered to
// col ∈ R^{K × nb·P}, K = C_in/G·kH·kW (one row per (c, i, j), one column per (image, output position)):
//   forward          Y_g  = W_g · col                     [C_out/G × nb·P]
//   backward-input   col' = W_gᵀ · dY_g,  dX = col2im(col')   (col2im is the adjoint of im2col)
//   backward-weight  dW_g += dY_g · colᵀ
// Winograd (Lavin & Gray 2016, eq. 8): for output tiles Y_t of m×m (α = m + 2),
//   Y_t = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d_t B) ] A,
// so with U[ξ] = (G g Gᵀ)[ξ] and V[ξ] = (Bᵀ d_t B)[ξ] the channel sum becomes α² GEMMs
// M[ξ] = U[ξ] · V[ξ] ([C_out/G × C_in/G] · [C_in/G × tiles]). Its adjoints give the backward passes:
//   backward-weight  dg = Gᵀ [ Σ_t (A dY_t Aᵀ) ⊙ (Bᵀ d_t B) ] G      (α² GEMMs summed over tiles)
//   backward-input   a stride-1 3×3 conv of dY with the flipped, transposed weights and padding 2 − p.
// m = 2 for float32/float64; m = 4 for bfloat16 maps of at least 8×8 outputs. The small transforms run on 16 lanes at once
// (tiles, channels or weight pairs) with the transform matrices as template constants, so they
// vectorise and their zeros fold away. The automatic choice takes Winograd for 3×3 stride-1 convs with
// >= 16 channels per group, im2col otherwise.
// Several images share one GEMM so the GEMMs stay wide on small feature maps. The batch is cut into
// one contiguous chunk per thread (ng::parallel_for); each thread reuses its own scratch buffers and
// calls the single-threaded GEMM. Weight and bias gradients are summed per chunk and the chunk partials
// added in chunk order, so results are bitwise reproducible for a fixed thread count. With fewer images
// than threads the images run in order and the GEMMs are split over threads instead. bf16 is widened
// to float32 while lowering and rounded once when stored.
#include "kernels/conv.h"

#include <algorithm>
#include <array>
#include <functional>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/gemm.h"

namespace ng::kernels {

int64_t check_patch_rows(const Tensor& x, const Tensor& cols, int64_t P, int64_t K) {
  NG_CHECK(x.dim() == 4 && cols.dim() == 3 && x.is_contiguous() && x.dtype() == cols.dtype(),
           "im2col: expected a contiguous 4-D input and a 3-D output of one dtype, got ", x.describe(), " and ",
           cols.describe());
  NG_CHECK(cols.size(0) == x.size(0) && cols.size(1) == P && cols.size(2) == K, "im2col: output ", cols.describe(),
           " does not match [N, OH·OW, C·kH·kW] = [", x.size(0), ", ", P, ", ", K, "]");
  const int64_t ld = cols.strides()[1];
  NG_CHECK((K <= 1 || cols.strides()[2] == 1) && ld >= K && (cols.size(0) <= 1 || cols.strides()[0] == P * ld),
           "im2col: output ", cols.describe(), " must be rows of stride >= ", K, " one after another, got strides ",
           shape_str(cols.strides()));
  return ld;
}

}  // namespace ng::kernels

namespace ng::kernels::cpu {

namespace {

// ---- shapes, threads, buffers ---------------------------------------------------------------------

constexpr int64_t kIm2colColumns = 256;                // im2col: images per GEMM so that nb·P >= this
constexpr int64_t kWinogradBuffer = int64_t{1} << 22;  // Winograd: most transformed-tile elements per block
constexpr int64_t kMinWinogradChannels = 16;           // below this the α² thin GEMMs lose to im2col
constexpr double kMinParallelFlops = 1 << 20;          // smaller convs run on the calling thread

// One convolution seen as per-group GEMMs.
struct ConvShape {
  int64_t n, c, h, w;  // input
  int64_t oc, oh, ow;  // output
  int64_t cg, og;      // channels per group: input, output
  Conv2dGeometry g;
  int64_t p() const { return oh * ow; }           // output positions per image
  int64_t k() const { return cg * g.kH * g.kW; }  // im2col GEMM depth: one row per (c, i, j)
};

ConvShape conv_shape(const Tensor& x, const Tensor& y, const Conv2dGeometry& g) {
  NG_CHECK(x.dim() == 4 && y.dim() == 4 && x.is_contiguous() && y.is_contiguous() && x.dtype() == y.dtype(),
           "conv2d kernel: expected contiguous 4-D tensors of one dtype, got ", x.describe(), " and ", y.describe());
  return {x.size(0), x.size(1), x.size(2), x.size(3), y.size(1), y.size(2), y.size(3),
          x.size(1) / g.groups, y.size(1) / g.groups, g};
}

// Per-thread scratch buffers, kept between calls (no allocation or page faults per layer call); each
// holds the largest size any layer asked for (tens of MB per thread for 512-channel layers).
enum Slot { kCol, kRows, kImage, kTransIn, kTransOut, kAccum, kPartial, kWeights, kPadded, kSlots };
template <class A>
A* scratch(Slot slot, int64_t n) {
  thread_local std::vector<A> buf[kSlots];
  if (buf[slot].size() < static_cast<size_t>(n)) buf[slot].resize(static_cast<size_t>(n));
  return buf[slot].data();
}

// The tensor's data as acc_t<T>: the tensor itself for float/double, a widened copy for bf16.
template <class T>
const acc_t<T>* widened(const Tensor& t, std::vector<acc_t<T>>& hold) {
  if constexpr (std::is_same_v<T, acc_t<T>>) {
    return t.data<T>();
  } else {
    const T* p = t.data<T>();
    hold.assign(p, p + t.numel());
    return hold.data();
  }
}

template <class A>
void gemm(bool serial, const GemmDims& d, A beta, const A* a, const A* b, A* c) {
  if (serial)
    gemm_serial<A>(d, A(1), a, b, beta, c);
  else
    gemm_parallel<A>(d, A(1), a, b, beta, c);
}

// Threads' chunks of the batch: one per thread, or a single chunk (with parallel GEMMs) when there
// are fewer images than threads or the whole conv is too small to be worth a thread hand-off.
int64_t image_chunks(const ConvShape& s) {
  const double flops = 2.0 * static_cast<double>(s.n * s.oc * s.p()) * static_cast<double>(s.k());
  return s.n >= num_threads() && flops >= kMinParallelFlops ? parallel_chunks(s.n, 1) : 1;
}

// Calls fn(chunk, begin, end, serial_gemm) for every chunk of images, chunks in parallel.
template <class F>
void for_image_chunks(const ConvShape& s, F&& fn) {
  const int64_t chunks = image_chunks(s);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t chunk = c0; chunk < c1; ++chunk) {
      int64_t begin, end;
      chunk_bounds(s.n, chunks, chunk, &begin, &end);
      fn(chunk, begin, end, chunks > 1);
    }
  });
}

// Calls fn(b0, nb) for equal blocks of at most max_images images covering [begin, end).
template <class F>
void for_blocks(int64_t begin, int64_t end, int64_t max_images, F&& fn) {
  const int64_t n = end - begin, blocks = (n + max_images - 1) / max_images;
  for (int64_t i = 0; i < blocks; ++i) {
    int64_t b, e;
    chunk_bounds(n, blocks, i, &b, &e);
    fn(begin + b, e - b);
  }
}

// dst[o, b·P + p] = src[b0 + b, c0 + o, p] for o < rows: an NCHW slice as one GEMM operand.
template <class T, class A>
void gather_rows(const T* src, int64_t channels, int64_t P, int64_t b0, int64_t nb, int64_t c0, int64_t rows,
                 A* dst) {
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t b = 0; b < nb; ++b) {
      const T* in = src + ((b0 + b) * channels + c0 + o) * P;
      std::transform(in, in + P, dst + (o * nb + b) * P, [](T v) { return static_cast<A>(v); });
    }
}

// The inverse of gather_rows, adding bias[o] (if given) on the way.
template <class A, class T>
void scatter_rows(const A* src, int64_t channels, int64_t P, int64_t b0, int64_t nb, int64_t c0, int64_t rows,
                  const A* bias, T* dst) {
  for (int64_t o = 0; o < rows; ++o) {
    const A add = bias ? bias[c0 + o] : A(0);
    for (int64_t b = 0; b < nb; ++b) {
      const A* in = src + (o * nb + b) * P;
      std::transform(in, in + P, dst + ((b0 + b) * channels + c0 + o) * P, [add](A v) { return T(v + add); });
    }
  }
}

// db[o] += Σ_{b ∈ [begin, end), p} dY[b, o, p]
template <class T, class A>
void bias_grad(const T* gy, const ConvShape& s, int64_t begin, int64_t end, A* db) {
  for (int64_t b = begin; b < end; ++b)
    for (int64_t o = 0; o < s.oc; ++o) {
      const T* r = gy + (b * s.oc + o) * s.p();
      A sum = 0;
      for (int64_t p = 0; p < s.p(); ++p) sum += static_cast<A>(r[p]);
      db[o] += sum;
    }
}

// ---- im2col ---------------------------------------------------------------------------------------

// Output positions o ∈ [lo, hi) whose input index o·s + off lies in [0, in).
struct Span {
  int64_t lo, hi;
};
Span valid_outputs(int64_t in, int64_t out, int64_t off, int64_t s) {
  const int64_t lo = std::min(out, off >= 0 ? 0 : (-off + s - 1) / s);
  const int64_t hi = in - off <= 0 ? 0 : std::min(out, (in - off - 1) / s + 1);
  return {lo, std::max(lo, hi)};
}

// Visits every (im2col row r = (c, i, j), image b, output row p) of a block:
// fn(r, b, c, p, ih, off_w, span) with ih the input row (−1 in the padding), off_w = j·dW − pW the input
// column of output column 0, and span the output columns that read real input. Shared by im2col and
// its adjoint col2im.
template <class F>
void for_lowering(const ConvShape& s, int64_t nb, F&& fn) {
  const Conv2dGeometry& g = s.g;
  for (int64_t c = 0; c < s.cg; ++c)
    for (int64_t i = 0; i < g.kH; ++i) {
      const int64_t off_h = i * g.dH - g.pH;
      const Span rows = valid_outputs(s.h, s.oh, off_h, g.sH);
      for (int64_t j = 0; j < g.kW; ++j) {
        const int64_t off_w = j * g.dW - g.pW;
        const Span cols = valid_outputs(s.w, s.ow, off_w, g.sW);
        const int64_t r = (c * g.kH + i) * g.kW + j;
        for (int64_t b = 0; b < nb; ++b)
          for (int64_t p = 0; p < s.oh; ++p)
            fn(r, b, c, p, p >= rows.lo && p < rows.hi ? p * g.sH + off_h : -1, off_w, cols);
      }
    }
}

// col[r, b·P + p·OW + q] = x[b0 + b, c0 + c, p·sH − pH + i·dH, q·sW − pW + j·dW], zero outside.
template <class T, class A>
void im2col_block(const T* x, const ConvShape& s, int64_t b0, int64_t nb, int64_t c0, A* col) {
  const int64_t P = s.p(), ld = nb * P, sw = s.g.sW;
  for_lowering(s, nb, [&](int64_t r, int64_t b, int64_t c, int64_t p, int64_t ih, int64_t off_w, Span q) {
    A* d = col + r * ld + b * P + p * s.ow;
    if (ih < 0) {
      std::fill(d, d + s.ow, A(0));
      return;
    }
    const T* src = x + (((b0 + b) * s.c + c0 + c) * s.h + ih) * s.w;
    std::fill(d, d + q.lo, A(0));
    if (sw == 1)
      for (int64_t k = q.lo; k < q.hi; ++k) d[k] = static_cast<A>(src[k + off_w]);
    else
      for (int64_t k = q.lo; k < q.hi; ++k) d[k] = static_cast<A>(src[k * sw + off_w]);
    std::fill(d + q.hi, d + s.ow, A(0));
  });
}

// The adjoint of im2col_block: dx[c, b, ih, iw] += col[r, b·P + p·OW + q] (dx: cg channels of nb images,
// channel-major like a gather_rows operand).
template <class A>
void col2im_block(const A* col, const ConvShape& s, int64_t nb, A* dx) {
  const int64_t P = s.p(), ld = nb * P, sw = s.g.sW;
  for_lowering(s, nb, [&](int64_t r, int64_t b, int64_t c, int64_t p, int64_t ih, int64_t off_w, Span q) {
    if (ih < 0) return;
    const A* d = col + r * ld + b * P + p * s.ow;
    A* dst = dx + ((c * nb + b) * s.h + ih) * s.w;
    if (sw == 1)
      for (int64_t k = q.lo; k < q.hi; ++k) dst[k + off_w] += d[k];
    else
      for (int64_t k = q.lo; k < q.hi; ++k) dst[k * sw + off_w] += d[k];
  });
}

// dst[p·ld + r] = src[r·P + p] for r < K, p < P ([K, P] → [P, K] with rows of stride ld), in square tiles
// so that reads and writes both stay within a few cache lines.
template <class T>
void transpose_tiles(const T* src, int64_t K, int64_t P, T* dst, int64_t ld) {
  constexpr int64_t kTile = 32;
  for (int64_t p0 = 0; p0 < P; p0 += kTile)
    for (int64_t r0 = 0; r0 < K; r0 += kTile) {
      const int64_t p1 = std::min(P, p0 + kTile), r1 = std::min(K, r0 + kTile);
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t r = r0; r < r1; ++r) dst[p * ld + r] = src[r * P + p];
    }
}

int64_t im2col_images(const ConvShape& s) { return std::max<int64_t>(1, (kIm2colColumns + s.p() - 1) / s.p()); }

template <class T, class A>
void im2col_forward(const T* x, const A* w, const A* bias, T* y, const ConvShape& s, int64_t begin, int64_t end,
                    bool serial) {
  const int64_t K = s.k(), P = s.p();
  for_blocks(begin, end, im2col_images(s), [&](int64_t b0, int64_t nb) {
    A* col = scratch<A>(kCol, K * nb * P);
    A* out = scratch<A>(kRows, s.og * nb * P);
    for (int64_t grp = 0; grp < s.g.groups; ++grp) {
      im2col_block(x, s, b0, nb, grp * s.cg, col);
      gemm<A>(serial, {false, false, s.og, nb * P, K, K, nb * P, nb * P}, A(0), w + grp * s.og * K, col, out);
      scatter_rows(out, s.oc, P, b0, nb, grp * s.og, s.og, bias, y);
    }
  });
}

template <class T, class A>
void im2col_backward_input(const T* gy, const A* w, T* gx, const ConvShape& s, int64_t begin, int64_t end,
                           bool serial) {
  const int64_t K = s.k(), P = s.p(), plane = s.h * s.w;
  for_blocks(begin, end, im2col_images(s), [&](int64_t b0, int64_t nb) {
    A* rows = scratch<A>(kRows, s.og * nb * P);
    A* col = scratch<A>(kCol, K * nb * P);
    A* dx = scratch<A>(kImage, s.cg * nb * plane);
    for (int64_t grp = 0; grp < s.g.groups; ++grp) {
      gather_rows(gy, s.oc, P, b0, nb, grp * s.og, s.og, rows);
      gemm<A>(serial, {true, false, K, nb * P, s.og, K, nb * P, nb * P}, A(0), w + grp * s.og * K, rows, col);
      std::fill(dx, dx + s.cg * nb * plane, A(0));
      col2im_block(col, s, nb, dx);
      scatter_rows(dx, s.c, plane, b0, nb, grp * s.cg, s.cg, static_cast<const A*>(nullptr), gx);
    }
  });
}

// dw[C_out, K] += Σ_{b ∈ [begin, end)} dY_b · col_bᵀ
template <class T, class A>
void im2col_backward_weight(const T* x, const T* gy, const ConvShape& s, int64_t begin, int64_t end, bool serial,
                            A* dw) {
  const int64_t K = s.k(), P = s.p();
  for_blocks(begin, end, im2col_images(s), [&](int64_t b0, int64_t nb) {
    A* rows = scratch<A>(kRows, s.og * nb * P);
    A* col = scratch<A>(kCol, K * nb * P);
    for (int64_t grp = 0; grp < s.g.groups; ++grp) {
      gather_rows(gy, s.oc, P, b0, nb, grp * s.og, s.og, rows);
      im2col_block(x, s, b0, nb, grp * s.cg, col);
      gemm<A>(serial, {false, true, s.og, K, nb * P, nb * P, nb * P, K}, A(1), rows, col, dw + grp * s.og * K);
    }
  });
}

// ---- Winograd F(m×m, 3×3) -------------------------------------------------------------------------

template <int R, int C>
using Mat = std::array<std::array<double, C>, R>;

template <int R, int C>
constexpr Mat<C, R> transposed(const Mat<R, C>& m) {
  Mat<C, R> t{};
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) t[j][i] = m[i][j];
  return t;
}

// Transform matrices of Lavin & Gray (2016), section 4.1 (m = 2) and 4.2 (m = 4); α = m + 2.
template <int M>
struct Winograd;
template <>
struct Winograd<2> {
  static constexpr Mat<4, 4> BT{{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}};
  static constexpr Mat<4, 3> G{{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}};
  static constexpr Mat<2, 4> AT{{{1, 1, 1, 0}, {0, 1, -1, -1}}};
  static constexpr Mat<4, 2> A = transposed<2, 4>(AT);
  static constexpr Mat<3, 4> GT = transposed<4, 3>(G);
};
template <>
struct Winograd<4> {
  static constexpr Mat<6, 6> BT{{{4, 0, -5, 0, 1, 0},
                                 {0, -4, -4, 1, 1, 0},
                                 {0, 4, -4, -1, 1, 0},
                                 {0, -2, -1, 2, 1, 0},
                                 {0, 2, -1, -2, 1, 0},
                                 {0, 4, 0, -5, 0, 1}}};
  static constexpr Mat<6, 3> G{{{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}}};
  static constexpr Mat<4, 6> AT{{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}};
  static constexpr Mat<6, 4> A = transposed<4, 6>(AT);
  static constexpr Mat<3, 6> GT = transposed<6, 3>(G);
};

// Transforms run on kLanes independent small matrices at once (tiles or (o, c) pairs), lane-minor,
// so the arithmetic vectorises.
constexpr int64_t kLanes = 16;
template <class A, int N>
using LaneMat = A[N][N][kLanes];

// dst[0, count) = lanes[0, count); a full set of lanes is one fixed-size (vectorised) copy.
template <class A>
void copy_lanes(const A* lanes, int64_t count, A* dst) {
  if (count == kLanes)
    std::copy(lanes, lanes + kLanes, dst);
  else
    std::copy(lanes, lanes + count, dst);
}

// Full unrolling lets the transform constants fold; sanitizer builds skip it, since instrumenting the
// unrolled code makes them take minutes to compile this file.
#ifdef __SANITIZE_ADDRESS__
#define NG_UNROLL
#else
#define NG_UNROLL _Pragma("GCC unroll 8")
#endif

// out = L · in · Lᵀ in every lane (every Winograd transform has this form). L is a template argument
// and the loops unroll fully, so its zeros and ones fold away and the lanes stay in vector registers.
template <int R, int C, const Mat<R, C>& L, class A>
void lane_transform(const LaneMat<A, C>& in, LaneMat<A, R>& out) {
  A tmp[R][C][kLanes];
NG_UNROLL
  for (int r = 0; r < R; ++r)
NG_UNROLL
    for (int j = 0; j < C; ++j) {
      A acc[kLanes] = {};
NG_UNROLL
      for (int i = 0; i < C; ++i)
        if (L[r][i] != 0)
          for (int64_t l = 0; l < kLanes; ++l) acc[l] += static_cast<A>(L[r][i]) * in[i][j][l];
      std::copy(acc, acc + kLanes, tmp[r][j]);
    }
NG_UNROLL
  for (int r = 0; r < R; ++r)
NG_UNROLL
    for (int q = 0; q < R; ++q) {
      A acc[kLanes] = {};
NG_UNROLL
      for (int j = 0; j < C; ++j)
        if (L[q][j] != 0)
          for (int64_t l = 0; l < kLanes; ++l) acc[l] += static_cast<A>(L[q][j]) * tmp[r][j][l];
      std::copy(acc, acc + kLanes, out[r][q]);
    }
}

#undef NG_UNROLL

// For items [0, n) in groups of kLanes: load(first item, count, in) fills lanes [0, count) of `in`
// (the rest are zeroed here); then out = L · in · Lᵀ; store(first item, count, out).
template <int R, int C, const Mat<R, C>& L, class A, class Load, class Store>
void transform_lanes(int64_t n, Load&& load, Store&& store) {
  LaneMat<A, C> in;
  LaneMat<A, R> out;
  for (int64_t i0 = 0; i0 < n; i0 += kLanes) {
    const int64_t count = std::min(kLanes, n - i0);
    if (count < kLanes)
      for (int i = 0; i < C; ++i)
        for (int j = 0; j < C; ++j) std::fill(in[i][j] + count, in[i][j] + kLanes, A(0));
    load(i0, count, in);
    lane_transform<R, C, L, A>(in, out);
    store(i0, count, out);
  }
}

// Output tiles of m×m: per image th × tw of them, tile t = (b, ty, tx) in row-major order.
struct Tiles {
  int64_t th, tw;
  int64_t per_image() const { return th * tw; }
};
Tiles output_tiles(const ConvShape& s, int m) { return {(s.oh + m - 1) / m, (s.ow + m - 1) / m}; }

// Walks the tiles of a block in order (transform_lanes visits items in order), without divisions.
struct TileCursor {
  const Tiles& tl;
  int64_t b = 0, ty = 0, tx = 0;
  void next() {
    if (++tx < tl.tw) return;
    tx = 0;
    if (++ty < tl.th) return;
    ty = 0;
    ++b;
  }
};

// V[ξ, t, c] = (L d_t Lᵀ)[ξ] for the S×S tiles d_t of channels c0 + c (c < nc) of nb images of `src`
// (planes ph×pw), tile t = (b, ty, tx) starting at (ty·m − off_h, tx·m − off_w), zero outside the plane.
// The lanes are kLanes channels: their planes are first interleaved into one zero-padded, channel-minor
// buffer that holds every tile whole, so each tile element of all lanes is one contiguous load and each
// transformed element one contiguous store.
template <int M, int S, int R, const Mat<R, S>& L, class T, class A>
void transform_tiles(const T* src, int64_t channels, int64_t ph, int64_t pw, int64_t off_h, int64_t off_w,
                     const Tiles& tl, int64_t b0, int64_t nb, int64_t c0, int64_t nc, A* V) {
  const int64_t nt = nb * tl.per_image();
  const int64_t PH = tl.th * M + S - M, PW = tl.tw * M + S - M;  // padded plane
  const Span cols = valid_outputs(pw, PW, -off_w, 1);            // padded columns holding real input
  A* padded = scratch<A>(kPadded, nb * PH * PW * kLanes);
  LaneMat<A, S> in;
  LaneMat<A, R> out;
  for (int64_t cl = 0; cl < nc; cl += kLanes) {
    const int64_t count = std::min(kLanes, nc - cl);
    std::fill(padded, padded + nb * PH * PW * kLanes, A(0));
    for (int64_t l = 0; l < count; ++l)
      for (int64_t b = 0; b < nb; ++b)
        for (int64_t r = std::max<int64_t>(0, off_h); r < std::min(PH, ph + off_h); ++r) {
          // padded column x holds row[x − off_w]
          const T* row = src + (((b0 + b) * channels + c0 + cl + l) * ph + r - off_h) * pw;
          A* dst = padded + (b * PH + r) * PW * kLanes + l;
          for (int64_t x = cols.lo; x < cols.hi; ++x) dst[x * kLanes] = static_cast<A>(row[x - off_w]);
        }
    TileCursor at{tl};
    for (int64_t t = 0; t < nt; ++t, at.next()) {
      const A* tile = padded + ((at.b * PH + at.ty * M) * PW + at.tx * M) * kLanes;
      for (int i = 0; i < S; ++i)
        for (int j = 0; j < S; ++j) std::copy(tile + (i * PW + j) * kLanes, tile + (i * PW + j + 1) * kLanes, in[i][j]);
      lane_transform<R, S, L, A>(in, out);
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < R; ++j) copy_lanes(out[i][j], count, V + ((i * R + j) * nt + t) * nc + cl);
    }
  }
}

// U[g, ξ, o, c] = (G w_g[o, c] Gᵀ)[ξ] for every group g, where w_g[o, c] is the 3×3 matrix
// w[g·og + o, c] (w: [C_out, C_in/G, 3, 3]), or — `flip`, for the input pass — the rotated
// w[g·cg + c, o, 2 − i, 2 − j] of weights stored [C_in, C_out/G, 3, 3]. Split over threads by (o, c).
template <int M, class A>
void winograd_weights(const A* w, int64_t groups, int64_t og, int64_t cg, bool flip, A* U) {
  constexpr int a = M + 2;
  const int64_t pairs = og * cg;
  for (int64_t grp = 0; grp < groups; ++grp) {
    const A* wg = w + grp * pairs * 9;
    A* Ug = U + grp * a * a * pairs;
    parallel_for((pairs + kLanes - 1) / kLanes, 64, [&](int64_t begin, int64_t end) {
      const int64_t first = begin * kLanes, n = std::min(pairs, end * kLanes) - first;
      auto load = [&](int64_t q0, int64_t count, LaneMat<A, 3>& in) {
        int64_t o = (first + q0) / cg, c = (first + q0) % cg;  // pair q = o·cg + c
        for (int64_t l = 0; l < count; ++l) {
          const A* k = flip ? wg + (c * og + o) * 9 : wg + (o * cg + c) * 9;
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) in[i][j][l] = flip ? k[8 - i * 3 - j] : k[i * 3 + j];
          if (++c == cg) c = 0, ++o;
        }
      };
      auto store = [&](int64_t q0, int64_t count, const LaneMat<A, a>& out) {
        for (int i = 0; i < a; ++i)
          for (int j = 0; j < a; ++j) copy_lanes(out[i][j], count, Ug + (i * a + j) * pairs + first + q0);
      };
      transform_lanes<a, 3, Winograd<M>::G, A>(n, load, store);
    });
  }
}

// Images per block. The block's transformed tiles (V and M) get twice the room of the transformed
// weights U, which every block reads once, within [kWinogradBuffer / 8, kWinogradBuffer] elements:
// small blocks stay in cache when activations dominate (large maps, few channels), large blocks
// amortise U when weights dominate (small maps, many channels).
int64_t winograd_images(const ConvShape& s, int m) {
  const int64_t a2 = (m + 2) * (m + 2), per_image = a2 * (s.cg + s.og) * output_tiles(s, m).per_image();
  const int64_t budget = std::clamp(2 * a2 * s.og * s.cg, kWinogradBuffer / 8, kWinogradBuffer);
  return std::max<int64_t>(1, budget / per_image);
}

// Forward for images [begin, end) from transformed weights U (winograd_weights).
template <int M, class T, class A>
void winograd_forward(const T* x, const A* U, const A* bias, T* y, const ConvShape& s, int64_t begin, int64_t end,
                      bool serial) {
  constexpr int a = M + 2;
  const Tiles tl = output_tiles(s, M);
  for_blocks(begin, end, winograd_images(s, M), [&](int64_t b0, int64_t nb) {
    const int64_t nt = nb * tl.per_image();
    A* V = scratch<A>(kTransIn, a * a * s.cg * nt);
    A* Mx = scratch<A>(kTransOut, a * a * s.og * nt);
    for (int64_t grp = 0; grp < s.g.groups; ++grp) {
      transform_tiles<M, a, a, Winograd<M>::BT>(x, s.c, s.h, s.w, s.g.pH, s.g.pW, tl, b0, nb, grp * s.cg, s.cg, V);
      for (int64_t xi = 0; xi < a * a; ++xi)
        gemm<A>(serial, {false, true, s.og, nt, s.cg, s.cg, s.cg, nt}, A(0), U + (grp * a * a + xi) * s.og * s.cg,
                V + xi * nt * s.cg, Mx + xi * s.og * nt);
      // Y_t = Aᵀ M_t A, added to the bias and cropped to the output plane.
      for (int64_t o = 0; o < s.og; ++o) {
        const int64_t oc = grp * s.og + o;
        const A add = bias ? bias[oc] : A(0);
        auto load = [&](int64_t t0, int64_t count, LaneMat<A, a>& in) {
          for (int i = 0; i < a; ++i)
            for (int j = 0; j < a; ++j) copy_lanes(Mx + ((i * a + j) * s.og + o) * nt + t0, count, in[i][j]);
        };
        TileCursor at{tl};
        auto store = [&](int64_t, int64_t count, const LaneMat<A, M>& out) {
          for (int64_t l = 0; l < count; ++l, at.next()) {
            const int64_t oy0 = at.ty * M, ox0 = at.tx * M;
            T* plane = y + ((b0 + at.b) * s.oc + oc) * s.p() + oy0 * s.ow + ox0;
            const int rows = static_cast<int>(std::min<int64_t>(M, s.oh - oy0));
            const int cols = static_cast<int>(std::min<int64_t>(M, s.ow - ox0));
            for (int i = 0; i < rows; ++i)
              for (int j = 0; j < cols; ++j) plane[i * s.ow + j] = T(out[i][j][l] + add);
          }
        };
        transform_lanes<M, a, Winograd<M>::AT, A>(nt, load, store);
      }
    }
  });
}

// dw[C_out, C_in/G·9] = Gᵀ [ Σ_t (A dY_t Aᵀ) ⊙ (Bᵀ d_t B) ] G over images [begin, end) (overwrites dw).
template <int M, class T, class A>
void winograd_backward_weight(const T* x, const T* gy, const ConvShape& s, int64_t begin, int64_t end, bool serial,
                              A* dw) {
  constexpr int a = M + 2;
  const Tiles tl = output_tiles(s, M);
  const int64_t pairs = s.og * s.cg;
  A* dU = scratch<A>(kAccum, s.g.groups * a * a * pairs);
  bool first = true;
  for_blocks(begin, end, winograd_images(s, M), [&](int64_t b0, int64_t nb) {
    const int64_t nt = nb * tl.per_image();
    A* V = scratch<A>(kTransIn, a * a * s.cg * nt);
    A* W = scratch<A>(kTransOut, a * a * s.og * nt);
    for (int64_t grp = 0; grp < s.g.groups; ++grp) {
      transform_tiles<M, a, a, Winograd<M>::BT>(x, s.c, s.h, s.w, s.g.pH, s.g.pW, tl, b0, nb, grp * s.cg, s.cg, V);
      transform_tiles<M, M, a, Winograd<M>::A>(gy, s.oc, s.oh, s.ow, 0, 0, tl, b0, nb, grp * s.og, s.og, W);
      for (int64_t xi = 0; xi < a * a; ++xi)
        gemm<A>(serial, {true, false, s.og, s.cg, nt, s.og, s.cg, s.cg}, first ? A(0) : A(1), W + xi * nt * s.og,
                V + xi * nt * s.cg, dU + (grp * a * a + xi) * pairs);
    }
    first = false;
  });
  if (first) return;  // no images in this chunk: dw keeps its zeros
  for (int64_t grp = 0; grp < s.g.groups; ++grp) {
    const A* dUg = dU + grp * a * a * pairs;
    A* dwg = dw + grp * pairs * 9;
    auto load = [&](int64_t q0, int64_t count, LaneMat<A, a>& in) {
      for (int i = 0; i < a; ++i)
        for (int j = 0; j < a; ++j) copy_lanes(dUg + (i * a + j) * pairs + q0, count, in[i][j]);
    };
    auto store = [&](int64_t q0, int64_t count, const LaneMat<A, 3>& out) {
      for (int64_t l = 0; l < count; ++l)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) dwg[(q0 + l) * 9 + i * 3 + j] = out[i][j][l];
    };
    transform_lanes<3, a, Winograd<M>::GT, A>(pairs, load, store);
  }
}

// ---- algorithm choice and the kernels -------------------------------------------------------------

// Winograd tile size m for a conv of this shape (0: use im2col). The forward and weight passes need a
// 3×3 stride-1 undilated window; the input pass runs as the transposed conv, which needs padding <= 2.
int winograd_tile(const ConvShape& s, bool input_pass, bool bf16_data) {
  const Conv2dGeometry& g = s.g;
  const bool applies = g.kH == 3 && g.kW == 3 && g.sH == 1 && g.sW == 1 && g.dH == 1 && g.dW == 1 &&
                       (!input_pass || (g.pH <= 2 && g.pW <= 2));
  if (g.algorithm == Conv2dAlgorithm::im2col) return 0;
  if (g.algorithm == Conv2dAlgorithm::winograd) {
    NG_CHECK(applies, "conv2d kernel: Winograd needs a 3x3 stride-1 undilated window (padding <= 2 for the input "
             "gradient), got kernel ", g.kH, "x", g.kW, ", stride ", g.sH, "x", g.sW, ", dilation ", g.dH, "x", g.dW,
             ", padding ", g.pH, "x", g.pW);
  } else if (!applies || std::min(s.cg, s.og) < kMinWinogradChannels) {
    return 0;
  }
  // F(4×4) amplifies rounding 4-5× over a direct convolution (its transforms have entries up to 8), which
  // puts float32 results past PyTorch's error level (tests/golden); float32 and float64 therefore use
  // F(2×2), whose error matches im2col's. bfloat16 outputs are rounded to 8 bits anyway, so there F(4×4)'s
  // speed is free. It needs 4 tiles per plane to beat F(2×2): its 4× larger transformed weights cost
  // memory traffic that only pays off over enough tiles. The plane is y for forward/weight, x for the input pass.
  const int64_t oh = input_pass ? s.h : s.oh, ow = input_pass ? s.w : s.ow;
  return bf16_data && oh >= 8 && ow >= 8 ? 4 : 2;
}

template <class F>
void with_tile(int m, F&& fn) {
  if (m == 4)
    fn(std::integral_constant<int, 4>{});
  else
    fn(std::integral_constant<int, 2>{});
}

template <class T>
void forward_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, const ConvShape& s) {
  using A = acc_t<T>;
  std::vector<A> w_hold, b_hold;
  const A* w = widened<T>(weight, w_hold);
  const A* bs = bias.defined() ? widened<T>(bias, b_hold) : nullptr;
  const int m = winograd_tile(s, false, std::is_same_v<T, bf16>);
  if (m == 0) {
    for_image_chunks(s, [&](int64_t, int64_t begin, int64_t end, bool serial) {
      im2col_forward(x.data<T>(), w, bs, y.data<T>(), s, begin, end, serial);
    });
    return;
  }
  with_tile(m, [&](auto tile) {
    constexpr int M = decltype(tile)::value;
    A* U = scratch<A>(kWeights, s.g.groups * (M + 2) * (M + 2) * s.og * s.cg);
    winograd_weights<M>(w, s.g.groups, s.og, s.cg, false, U);
    for_image_chunks(s, [&](int64_t, int64_t begin, int64_t end, bool serial) {
      winograd_forward<M>(x.data<T>(), U, bs, y.data<T>(), s, begin, end, serial);
    });
  });
}

template <class T>
void backward_input_impl(const Tensor& grad_y, const Tensor& weight, const Tensor& grad_x, const ConvShape& s) {
  using A = acc_t<T>;
  std::vector<A> w_hold;
  const A* w = widened<T>(weight, w_hold);
  const int m = winograd_tile(s, true, std::is_same_v<T, bf16>);
  if (m == 0) {
    for_image_chunks(s, [&](int64_t, int64_t begin, int64_t end, bool serial) {
      im2col_backward_input(grad_y.data<T>(), w, grad_x.data<T>(), s, begin, end, serial);
    });
    return;
  }
  // dX = conv(dY, w'), w'[g·cg + c, o, i, j] = w[g·og + o, c, 2 − i, 2 − j], padding 2 − p (stride 1).
  Conv2dGeometry tg = s.g;
  tg.pH = 2 - s.g.pH, tg.pW = 2 - s.g.pW;
  const ConvShape ts{s.n, s.oc, s.oh, s.ow, s.c, s.h, s.w, s.og, s.cg, tg};
  with_tile(m, [&](auto tile) {
    constexpr int M = decltype(tile)::value;
    A* U = scratch<A>(kWeights, ts.g.groups * (M + 2) * (M + 2) * ts.og * ts.cg);
    winograd_weights<M>(w, ts.g.groups, ts.og, ts.cg, true, U);
    for_image_chunks(ts, [&](int64_t, int64_t begin, int64_t end, bool serial) {
      winograd_forward<M>(grad_y.data<T>(), U, static_cast<const A*>(nullptr), grad_x.data<T>(), ts, begin, end,
                          serial);
    });
  });
}

template <class T>
void backward_weight_impl(const Tensor& x, const Tensor& grad_y, const Tensor& grad_w, const Tensor& grad_b,
                          const ConvShape& s) {
  using A = acc_t<T>;
  const T* xp = x.data<T>();
  const T* gy = grad_y.data<T>();
  const int64_t wn = s.oc * s.k(), stride = wn + s.oc;  // per chunk: dW then db
  const int64_t chunks = image_chunks(s);
  A* partial = scratch<A>(kPartial, chunks * stride);
  std::fill(partial, partial + chunks * stride, A(0));
  const int m = winograd_tile(s, false, std::is_same_v<T, bf16>);
  for_image_chunks(s, [&](int64_t chunk, int64_t begin, int64_t end, bool serial) {
    A* dw = partial + chunk * stride;
    if (grad_w.defined()) {
      if (m == 4)
        winograd_backward_weight<4>(xp, gy, s, begin, end, serial, dw);
      else if (m == 2)
        winograd_backward_weight<2>(xp, gy, s, begin, end, serial, dw);
      else
        im2col_backward_weight(xp, gy, s, begin, end, serial, dw);
    }
    if (grad_b.defined()) bias_grad(gy, s, begin, end, dw + wn);
  });
  for (int64_t chunk = 1; chunk < chunks; ++chunk)
    std::transform(partial, partial + stride, partial + chunk * stride, partial, std::plus<A>());
  auto store = [](const A* src, int64_t n, T* dst) {
    std::transform(src, src + n, dst, [](A v) { return static_cast<T>(v); });
  };
  if (grad_w.defined()) store(partial, wn, grad_w.data<T>());
  if (grad_b.defined()) store(partial + wn, s.oc, grad_b.data<T>());
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dGeometry& g) {
  const ConvShape s = conv_shape(x, y, g);
  dispatch_floating(x.dtype(), "conv2d", [&](auto t) { forward_impl<decltype(t)>(x, weight, bias, y, s); });
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& weight, const Tensor& grad_x,
                           const Conv2dGeometry& g) {
  const ConvShape s = conv_shape(grad_x, grad_y, g);
  dispatch_floating(grad_x.dtype(), "conv2d backward",
                    [&](auto t) { backward_input_impl<decltype(t)>(grad_y, weight, grad_x, s); });
}

void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, const Tensor& grad_weight,
                            const Tensor& grad_bias, const Conv2dGeometry& g) {
  const ConvShape s = conv_shape(x, grad_y, g);
  dispatch_floating(x.dtype(), "conv2d backward",
                    [&](auto t) { backward_weight_impl<decltype(t)>(x, grad_y, grad_weight, grad_bias, s); });
}

void im2col(const Tensor& x, const Tensor& cols, const Conv2dGeometry& g) {
  Conv2dGeometry one = g;
  one.groups = 1;  // patches span all input channels
  const int64_t oh = conv_output_size(x.size(2), g.kH, g.sH, g.pH, g.dH);
  const int64_t ow = conv_output_size(x.size(3), g.kW, g.sW, g.pW, g.dW);
  const ConvShape s{x.size(0), x.size(1), x.size(2), x.size(3), 1, oh, ow, x.size(1), 1, one};
  const int64_t K = s.k(), P = s.p(), ld = check_patch_rows(x, cols, P, K);
  dispatch_floating(x.dtype(), "im2col", [&](auto t) {
    using T = decltype(t);
    const T* xp = x.data<T>();
    T* out = cols.data<T>();
    parallel_for(s.n, 1, [&](int64_t b, int64_t e) {
      T* col = scratch<T>(kCol, K * P);
      for (int64_t n = b; n < e; ++n) {
        im2col_block(xp, s, n, 1, 0, col);
        transpose_tiles(col, K, P, out + n * P * ld, ld);
      }
    });
  });
}

}  // namespace ng::kernels::cpu
