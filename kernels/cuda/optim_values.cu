// kernels/cuda/optim_values.cu — the curvature optimizers' element operations on CUDA (see
// kernels/optim_values.h), with the CPU loops' arithmetic: every product and sum the CPU rounds separately
// is an _rn intrinsic here (the CPU build does not contract either), so the stored values match the CPU's;
// the float64 sums are per-block trees combined in a fixed order (kernels/cuda/partials.cuh), so they
// match it to rounding and are reproducible.
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/partials.cuh"
#include "kernels/cuda/rounded.cuh"
#include "kernels/optim_values.h"

namespace ng::kernels::cuda {

namespace {

template <class S, class D>
__global__ void scale_into_kernel(int64_t rows, int64_t cols, const S* __restrict__ src, int64_t ss,
                                  D* __restrict__ dst, int64_t ds, double m) {
  NG_GRID_STRIDE(i, rows * cols) {
    const int64_t r = i / cols, c = i - r * cols;
    dst[r * ds + c] = store<D>(__dmul_rn(static_cast<double>(load(src[r * ss + c])), m));
  }
}

template <class T>
__global__ void scale_lines_kernel(int64_t rows, int64_t cols, const T* __restrict__ z, int64_t zs,
                                   const T* __restrict__ v, bool by_column, bool accumulate, T* out, int64_t os) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, rows * cols) {
    const int64_t r = i / cols, c = i - r * cols;
    const A p = load(store<T>(mul(load(z[r * zs + c]), load(v[by_column ? c : r]))));
    T& o = out[r * os + c];
    o = accumulate ? store<T>(add(load(o), p)) : store<T>(p);
  }
}

// One launch takes up to kMaxJobs items of one dtype, passed by value (≤ 4 KB of parameters); the
// grid's y index picks the item, x strides over its elements.
constexpr int kMaxJobs = 32;

template <class T> struct CombineJobs {
  struct Job {
    const T* x[kMaxTerms];
    dacc_t<T> c[kMaxTerms];
    T* out;
    int64_t n;
    int count;
  } job[kMaxJobs];
};

template <class T> __global__ void combine_kernel(CombineJobs<T> jobs) {
  using A = dacc_t<T>;
  const auto& t = jobs.job[blockIdx.y];
  NG_GRID_STRIDE(i, t.n) {
    A s = 0;
    for (int k = 0; k < t.count; ++k) s = add(s, mul(t.c[k], load(t.x[k][i])));
    t.out[i] = store<T>(s);
  }
}

// Runs of strided elements (kernels/optim_values.h StridedRun), typed.
template <class T> struct RunJobs {
  struct Job {
    T* p;  // x + offset
    int64_t n, stride, count, step;
    double v;  // strided_add's value
    int slot;  // the reductions' result index
  } job[kMaxJobs];
};

template <class T> __device__ __forceinline__ T& run_element(const typename RunJobs<T>::Job& r, int64_t e) {
  const int64_t j = e / r.n;
  return r.p[j * r.step + (e - j * r.n) * r.stride];
}

template <class T> __global__ void strided_add_kernel(RunJobs<T> jobs) {
  const auto& r = jobs.job[blockIdx.y];
  NG_GRID_STRIDE(e, r.n * r.count) {
    T& x = run_element<T>(r, e);
    x = store<T>(__dadd_rn(static_cast<double>(load(x)), r.v));
  }
}

// partial[y·gridDim.x + x] ← Op over block x's share of run y (of |element| when Abs).
template <class Op, bool Abs, class T> __global__ void run_reduce_kernel(RunJobs<T> jobs, double* partial) {
  const auto& r = jobs.job[blockIdx.y];
  double s = Op::identity();
  NG_GRID_STRIDE(e, r.n * r.count) {
    const double x = static_cast<double>(load(run_element<T>(r, e)));
    s = Op::apply(s, Abs ? fabs(x) : x);
  }
  s = block_reduce<Op>(s);
  if (threadIdx.x == 0) partial[blockIdx.y * gridDim.x + blockIdx.x] = s;
}

// result[slot of run y] ← Op over the run's `parts` partials, in order (one block per run).
template <class Op, class T>
__global__ void finish_runs_kernel(RunJobs<T> jobs, const double* partial, unsigned parts, double* result) {
  double s = Op::identity();
  for (unsigned i = threadIdx.x; i < parts; i += blockDim.x) s = Op::apply(s, partial[blockIdx.y * parts + i]);
  s = block_reduce<Op>(s);
  if (threadIdx.x == 0) result[jobs.job[blockIdx.y].slot] = s;
}

void check_cuda(const Tensor& t, const char* op) {
  NG_CHECK(t.device().is_cuda(), op, ": expected a CUDA tensor, got ", t.describe());
}

}  // namespace

void scale_into(const Tensor& src, double m, const Tensor& dst) {
  check_cuda(src, "scale_into");
  NG_CHECK(dst.device() == src.device() && src.dim() == 2 && src.shape() == dst.shape() &&
               (src.size(1) <= 1 || src.strides()[1] == 1) && (dst.size(1) <= 1 || dst.strides()[1] == 1),
           "scale_into: expected 2-D src and dst of one shape on one device with last stride 1, got ",
           src.describe(), " and ", dst.describe());
  const int64_t rows = src.size(0), cols = src.size(1);
  if (rows * cols == 0) return;
  const int dev = use_device(src);
  dispatch_floating(src.dtype(), "scale_into", [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_floating(dst.dtype(), "scale_into", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      scale_into_kernel<<<blocks_for(rows * cols), kThreads, 0, stream(dev)>>>(
          rows, cols, dptr<S>(src), src.strides()[0], dptr<D>(dst), dst.strides()[0], m);
    });
  });
  NG_CUDA_LAUNCH_CHECK();
}

void scale_lines(const Tensor& Z, const Tensor& v, bool by_column, double beta, const Tensor& out) {
  check_cuda(Z, "scale_lines");
  check_scale_lines(Z, v, by_column, beta, out, Z.device());
  const int64_t rows = Z.size(0), cols = Z.size(1);
  if (rows * cols == 0) return;
  const int dev = use_device(Z);
  dispatch_floating(out.dtype(), "scale_lines", [&](auto tag) {
    using H = decltype(tag);
    scale_lines_kernel<<<blocks_for(rows * cols), kThreads, 0, stream(dev)>>>(
        rows, cols, dptr<H>(Z), Z.strides()[0], dptr<H>(v), by_column, beta != 0.0, dptr<H>(out), out.strides()[0]);
  });
  NG_CUDA_LAUNCH_CHECK();
}

namespace {

// f(dtype tag, chunk) for the items of `dtypes` in chunks (lists of item indices, in item order) of
// ≤ kMaxJobs items of one dtype.
template <class F> void for_each_chunk(const std::vector<DType>& dtypes, F&& f) {
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    std::vector<size_t> items;
    for (size_t k = 0; k < dtypes.size(); ++k)
      if (dtypes[k] == dt) items.push_back(k);
    for (size_t first = 0; first < items.size(); first += kMaxJobs) {
      const std::vector<size_t> chunk(items.begin() + first,
                                      items.begin() + std::min(items.size(), first + static_cast<size_t>(kMaxJobs)));
      dispatch_floating(dt, "optim_values", [&](auto tag) { f(tag, chunk); });
    }
  }
}

// Checks the (non-empty) runs: all on one CUDA device, which is made current; returns its index.
int checked_device(const std::vector<StridedRun>& runs, const char* op) {
  const Device dev = runs[0].x.device();
  NG_CHECK(dev.is_cuda(), op, ": expected CUDA tensors, got ", runs[0].x.describe());
  for (const StridedRun& r : runs) check_strided_run(r, dev, op);
  return use_device(runs[0].x);
}

// f(jobs, count, longest) for each chunk of checked runs: jobs a RunJobs<T> of `count` runs (value v[k]
// when v is given, result slot k), the longest of `longest` elements.
template <class F> void for_each_run_chunk(const std::vector<StridedRun>& runs, const std::vector<double>* v, F&& f) {
  std::vector<DType> dtypes;
  for (const StridedRun& r : runs) dtypes.push_back(r.x.dtype());
  for_each_chunk(dtypes, [&](auto tag, const std::vector<size_t>& chunk) {
    using H = decltype(tag);
    RunJobs<dev_t<H>> jobs{};
    int64_t longest = 0;
    for (size_t c = 0; c < chunk.size(); ++c) {
      const StridedRun& r = runs[chunk[c]];
      jobs.job[c] = {dptr<H>(r.x) + r.offset, r.n, r.stride, r.count, r.step, v ? (*v)[chunk[c]] : 0.0,
                     static_cast<int>(chunk[c])};
      longest = std::max(longest, r.n * r.count);
    }
    f(jobs, static_cast<unsigned>(chunk.size()), longest);
  });
}

// out[k] ← Op over run k (|elements| when Abs), for all runs: per chunk one partials launch and one
// finishing launch, then one copy of every result to the host and one wait.
template <class Op, bool Abs> void reduce_runs(const std::vector<StridedRun>& runs, double* out, const char* op) {
  if (runs.empty()) return;
  const int d = checked_device(runs, op);
  DeviceBuffer result(runs.size() * sizeof(double), d);
  for_each_run_chunk(runs, nullptr, [&](const auto& jobs, unsigned count, int64_t longest) {
    using T = std::remove_pointer_t<decltype(jobs.job[0].p)>;
    const unsigned parts = std::min(blocks_for(std::max<int64_t>(longest, 1)), kMaxPartials);
    DeviceBuffer partial(parts * count * sizeof(double), d);
    run_reduce_kernel<Op, Abs, T><<<dim3(parts, count), kThreads, 0, stream(d)>>>(jobs, partial.as<double>());
    NG_CUDA_LAUNCH_CHECK();
    finish_runs_kernel<Op, T><<<dim3(1, count), kThreads, 0, stream(d)>>>(jobs, partial.as<double>(), parts,
                                                                         result.as<double>());
    NG_CUDA_LAUNCH_CHECK();
  });
  NG_CUDA_CHECK(cudaMemcpyAsync(out, result.get(), runs.size() * sizeof(double), cudaMemcpyDeviceToHost, stream(d)));
  NG_CUDA_CHECK(cudaStreamSynchronize(stream(d)));
}

}  // namespace

void combine(const std::vector<Combination>& jobs) {
  if (jobs.empty()) return;
  const Device dev = jobs[0].out.device();
  check_cuda(jobs[0].out, "combine");
  std::vector<DType> dtypes;
  for (const Combination& j : jobs) {
    check_combination(j, dev);
    dtypes.push_back(j.out.dtype());
  }
  const int d = use_device(jobs[0].out);
  for_each_chunk(dtypes, [&](auto tag, const std::vector<size_t>& chunk) {
    using H = decltype(tag);
    using T = dev_t<H>;
    CombineJobs<T> t{};
    int64_t longest = 0;
    for (size_t c = 0; c < chunk.size(); ++c) {
      const Combination& j = jobs[chunk[c]];
      auto& job = t.job[c];
      job.count = static_cast<int>(j.terms.size());
      for (int k = 0; k < job.count; ++k) {
        job.x[k] = dptr<H>(j.terms[static_cast<size_t>(k)].second);
        job.c[k] = static_cast<acc_t<H>>(j.terms[static_cast<size_t>(k)].first);
      }
      job.out = dptr<H>(j.out);
      job.n = j.out.numel();
      longest = std::max(longest, job.n);
    }
    if (longest == 0) return;
    combine_kernel<T><<<dim3(blocks_for(longest), static_cast<unsigned>(chunk.size())), kThreads, 0, stream(d)>>>(t);
    NG_CUDA_LAUNCH_CHECK();
  });
}

void strided_add(const std::vector<StridedRun>& runs, const std::vector<double>& v) {
  NG_CHECK(v.size() == runs.size(), "strided_add: expected one value per run, got ", v.size(), " for ", runs.size());
  if (runs.empty()) return;
  const int d = checked_device(runs, "strided_add");
  for_each_run_chunk(runs, &v, [&](const auto& jobs, unsigned count, int64_t longest) {
    using T = std::remove_pointer_t<decltype(jobs.job[0].p)>;
    if (longest == 0) return;
    strided_add_kernel<T><<<dim3(blocks_for(longest), count), kThreads, 0, stream(d)>>>(jobs);
    NG_CUDA_LAUNCH_CHECK();
  });
}

void strided_sum(const std::vector<StridedRun>& runs, double* out) { reduce_runs<SumOp, false>(runs, out, "strided_sum"); }

void abs_max(const std::vector<Tensor>& xs, double* out) {
  std::vector<StridedRun> runs;
  for (const Tensor& x : xs) {
    check_cuda(x, "abs_max");
    const Tensor c = x.contiguous();
    runs.push_back({c, 0, c.numel(), 1, 1, 0});
  }
  reduce_runs<MaxNanOp, true>(runs, out, "abs_max");
}

}  // namespace ng::kernels::cuda
