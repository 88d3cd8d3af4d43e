// dist/nccl_communicator.cpp — collectives over NCCL on a separate CUDA stream (dist/nccl_communicator.h).
#include "dist/nccl_communicator.h"

#include <nccl.h>

#include <chrono>
#include <thread>

#include "dist/mpi_communicator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/memory.h"

namespace ng::dist {

namespace {

void check_nccl(ncclResult_t rc, const char* call) {
  if (rc != ncclSuccess && rc != ncclInProgress)
    throw Error(std::string(call) + " failed: " + ncclGetErrorString(rc));
}

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i64: return ncclInt64;
    case DType::bf16: return ncclBfloat16;
  }
  throw Error("nccl: unknown dtype");
}

class NcclCommunicator;

class NcclRequest final : public Request {
 public:
  NcclRequest(NcclCommunicator& comm, cudaEvent_t done) : comm_(comm), done_(done) {}
  ~NcclRequest() override { cudaEventDestroy(done_); }
  bool test() override { return cudaEventQuery(done_) == cudaSuccess; }
  void wait() override;

 private:
  NcclCommunicator& comm_;
  cudaEvent_t done_;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(double timeout_seconds) : mpi_(timeout_seconds), timeout_(timeout_seconds) {
    device_ = launched_local_rank();
    const int visible = kernels::cuda::device_count();
    NG_CHECK(device_ < visible, "rank ", mpi_.rank(), ": local rank ", device_, " needs cuda:", device_, " but ",
             visible, " CUDA device(s) are visible (one GPU per rank)");
    kernels::cuda::set_device(device_);
    ncclUniqueId id{};
    if (mpi_.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_.broadcast_bytes(&id, static_cast<int>(sizeof id), 0);
    check_nccl(ncclCommInitRank(&comm_, mpi_.size(), id, mpi_.rank()), "ncclCommInitRank");
    NG_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::string backend() const override { return "nccl"; }

  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) override {
    check_tensor(t);
    begin();
    check_nccl(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                             op == ReduceOp::sum ? ncclSum : ncclAvg, comm_, stream_),
               "ncclAllReduce");
    return end();
  }
  void broadcast(Tensor& t, int root) override {
    check_tensor(t);
    begin();
    check_nccl(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root,
                             comm_, stream_),
               "ncclBroadcast");
    end()->wait();
  }
  Tensor all_gather(const Tensor& t) override {
    Tensor src = t.contiguous();
    check_tensor(src);
    Shape shape{size()};
    for (int64_t d : t.shape()) shape.push_back(d);
    Tensor out = Tensor::empty(shape, t.dtype(), t.device());
    begin();
    check_nccl(ncclAllGather(src.raw_data(), out.raw_data(), static_cast<size_t>(src.numel()), nccl_type(t.dtype()),
                             comm_, stream_),
               "ncclAllGather");
    end()->wait();
    return out;
  }
  void barrier() override { mpi_.barrier(); }

  // Polls `done` until it completed; an NCCL error or the timeout aborts the communicator and throws.
  void wait(cudaEvent_t done, const char* what) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    while (cudaEventQuery(done) == cudaErrorNotReady) {
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      const bool late = std::chrono::duration<double>(Clock::now() - t0).count() > timeout_;
      if (async != ncclSuccess || late) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        if (late)
          throw Timeout("rank " + std::to_string(rank()) + ": " + what + " (collective #" + std::to_string(collectives_) +
                        ") did not complete within " + std::to_string(static_cast<int64_t>(timeout_)) +
                        " s (distributed.timeout_s): " + mpi_.unreached_ranks(collectives_));
        throw Error("rank " + std::to_string(rank()) + ": " + what + " failed: " + ncclGetErrorString(async));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    NG_CUDA_CHECK(cudaStreamWaitEvent(kernels::cuda::stream(device_), done, 0));
  }

 protected:
  void abort_job(int code) override {
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    mpi_.abort(code);
  }

 private:
  void check_tensor(const Tensor& t) const {
    NG_CHECK(t.device().is_cuda() && t.device().index == device_ && t.is_contiguous(), "nccl collective: ",
             t.describe(), " must be a contiguous tensor on cuda:", device_, " (this rank's GPU)");
    NG_CHECK(comm_ != nullptr, "nccl collective after the communicator was aborted");
  }
  // The collective's stream waits for the work queued so far on natgrad's stream; the collective is counted
  // (the timeout diagnosis compares the counts, MpiCommunicator::unreached_ranks).
  void begin() {
    ++collectives_;
    cudaEvent_t queued;
    NG_CUDA_CHECK(cudaEventCreateWithFlags(&queued, cudaEventDisableTiming));
    NG_CUDA_CHECK(cudaEventRecord(queued, kernels::cuda::stream(device_)));
    NG_CUDA_CHECK(cudaStreamWaitEvent(stream_, queued, 0));
    cudaEventDestroy(queued);
  }
  std::unique_ptr<Request> end() {
    cudaEvent_t done;
    NG_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    NG_CUDA_CHECK(cudaEventRecord(done, stream_));
    return std::make_unique<NcclRequest>(*this, done);
  }

  MpiCommunicator mpi_;
  double timeout_;
  int device_ = 0;
  int64_t collectives_ = 0;  // NCCL collectives started
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

void NcclRequest::wait() { comm_.wait(done_, "all_reduce"); }

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(timeout_seconds);
}

}  // namespace ng::dist
