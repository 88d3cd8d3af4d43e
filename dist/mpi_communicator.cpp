// dist/mpi_communicator.cpp — collectives over MPI with bounded, polled waits.
#include "dist/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace ng::dist {

namespace {

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string(call) + " failed: " + std::string(msg, static_cast<size_t>(len)));
}

MPI_Datatype reduce_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    default: throw Error(std::string("all_reduce: dtype ") + dtype_name(d) + " is not supported (float32, float64, int64)");
  }
}

int byte_count(const Tensor& t) {
  const size_t n = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
  NG_CHECK(n < (size_t{1} << 31), "collective on ", t.describe(), ": more than 2 GiB in one message");
  return static_cast<int>(n);
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// A tensor the collective works on in host memory: `t` itself when it is a contiguous CPU tensor, else a
// host copy that finish() writes back.
struct HostView {
  Tensor target, host;
  explicit HostView(Tensor& t) : target(t) {
    host = t.device().is_cpu() && t.is_contiguous() ? t : t.to(Device::cpu()).contiguous();
  }
  void finish() {
    if (host.impl() != target.impl()) target.copy_(host);
  }
};

class MpiRequest final : public Request {
 public:
  MpiRequest(const MpiCommunicator& comm, HostView view, ReduceOp op, int size)
      : comm_(comm), view_(std::move(view)), op_(op), size_(size) {}
  MPI_Request& handle() { return req_; }
  void* buffer() { return view_.host.raw_data(); }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    check(MPI_Test(&req_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) complete();
    return done_;
  }
  void wait() override;

 private:
  void complete();
  const MpiCommunicator& comm_;
  HostView view_;
  ReduceOp op_;
  int size_;
  MPI_Request req_ = MPI_REQUEST_NULL;
  bool done_ = false;
};

void MpiRequest::complete() {
  done_ = true;
  if (op_ == ReduceOp::avg) {
    Tensor& h = view_.host;
    const double inv = 1.0 / size_;
    if (h.dtype() == DType::f32) {
      float* p = h.data<float>();
      for (int64_t i = 0; i < h.numel(); ++i) p[i] = static_cast<float>(p[i] * inv);
    } else {
      double* p = h.data<double>();
      for (int64_t i = 0; i < h.numel(); ++i) p[i] *= inv;
    }
  }
  view_.finish();
}

void MpiRequest::wait() {
  if (done_) return;
  comm_.wait(req_, "all_reduce");
  complete();
}

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_seconds) : timeout_(timeout_seconds) {
  NG_CHECK(timeout_seconds > 0, "MpiCommunicator: timeout must be > 0 s, got ", timeout_seconds);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &diagnosis_), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(diagnosis_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  if (diagnosis_ != MPI_COMM_NULL) MPI_Comm_free(&diagnosis_);
}

void MpiCommunicator::wait(MPI_Request& r, const char* what) const {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (int polls = 0;; ++polls) {
    int flag = 0;
    check(MPI_Test(&r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) return;
    if (std::chrono::duration<double>(Clock::now() - t0).count() > timeout_)
      throw Timeout("rank " + std::to_string(rank_) + ": " + what + " (collective #" + std::to_string(collectives_) +
                    ") did not complete within " + std::to_string(static_cast<int64_t>(timeout_)) +
                    " s (distributed.timeout_s): " + unreached_ranks(collectives_));
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::string MpiCommunicator::unreached_ranks(int64_t collective) const {
  using Clock = std::chrono::steady_clock;
  const double grace = std::min(10.0, timeout_);
  sent_count_ = collective;
  const int64_t mine = collective;
  std::vector<int64_t>& theirs = received_counts_;
  theirs.assign(static_cast<size_t>(size_), -1);
  std::vector<MPI_Request> sends, receives(static_cast<size_t>(size_), MPI_REQUEST_NULL);
  constexpr int kTag = 7;
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    MPI_Request r = MPI_REQUEST_NULL;
    if (MPI_Isend(&sent_count_, 1, MPI_INT64_T, p, kTag, diagnosis_, &r) == MPI_SUCCESS) sends.push_back(r);
    MPI_Irecv(&theirs[static_cast<size_t>(p)], 1, MPI_INT64_T, p, kTag, diagnosis_, &receives[static_cast<size_t>(p)]);
  }
  const auto t0 = Clock::now();
  for (int pending = size_ - 1; pending > 0 && std::chrono::duration<double>(Clock::now() - t0).count() < grace;) {
    pending = 0;
    for (MPI_Request& r : receives) {
      int flag = 1;
      if (r != MPI_REQUEST_NULL) MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
      pending += flag ? 0 : 1;
    }
    if (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::string silent, elsewhere;
  for (int p = 0; p < size_; ++p) {
    MPI_Request& r = receives[static_cast<size_t>(p)];
    if (r != MPI_REQUEST_NULL) {  // no answer: abandon the receive
      MPI_Cancel(&r);
      MPI_Request_free(&r);
      silent += (silent.empty() ? "" : ", ") + std::to_string(p);
    } else if (p != rank_ && theirs[static_cast<size_t>(p)] != mine) {
      elsewhere += (elsewhere.empty() ? "" : ", ") + std::to_string(p) + " (at #" +
                   std::to_string(theirs[static_cast<size_t>(p)]) + ")";
    }
  }
  for (MPI_Request& r : sends) MPI_Request_free(&r);
  std::string out;
  if (!silent.empty())
    out = "rank(s) " + silent + " did not reach it (no answer within " + std::to_string(static_cast<int64_t>(grace)) +
          " s: stopped, hung, busy elsewhere or unreachable)";
  if (!elsewhere.empty()) out += (out.empty() ? "" : "; ") + std::string("rank(s) ") + elsewhere + " are at another collective";
  return out.empty() ? "every rank reached it, but it did not complete" : out;
}

std::unique_ptr<Request> MpiCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  started();
  const MPI_Datatype type = reduce_type(t.dtype());
  NG_CHECK(op == ReduceOp::sum || t.dtype() != DType::i64, "all_reduce: avg of an int64 tensor");
  auto req = std::make_unique<MpiRequest>(*this, HostView(t), op, size_);
  NG_CHECK(t.numel() < (int64_t{1} << 31), "all_reduce: ", t.describe(), " is too large for one message");
  check(MPI_Iallreduce(MPI_IN_PLACE, req->buffer(), static_cast<int>(t.numel()), type, MPI_SUM, comm_,
                       &req->handle()),
        "MPI_Iallreduce");
  return req;
}

void MpiCommunicator::broadcast(Tensor& t, int root) {
  HostView v(t);
  broadcast_bytes(v.host.raw_data(), byte_count(t), root);
  v.finish();
}

void MpiCommunicator::broadcast_bytes(void* data, int bytes, int root) {
  NG_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " outside [0, ", size_, ")");
  started();
  MPI_Request r = MPI_REQUEST_NULL;
  check(MPI_Ibcast(data, bytes, MPI_BYTE, root, comm_, &r), "MPI_Ibcast");
  wait(r, "broadcast");
}

Tensor MpiCommunicator::all_gather(const Tensor& t) {
  const Tensor src = t.to(Device::cpu()).contiguous();
  Shape shape{size_};
  for (int64_t d : t.shape()) shape.push_back(d);
  Tensor out = Tensor::empty(shape, t.dtype());
  MPI_Request r = MPI_REQUEST_NULL;
  const int bytes = byte_count(src);
  started();
  check(MPI_Iallgather(src.raw_data(), bytes, MPI_BYTE, out.raw_data(), bytes, MPI_BYTE, comm_, &r), "MPI_Iallgather");
  wait(r, "all_gather");
  return out.to(t.device());
}

void MpiCommunicator::barrier() {
  started();
  MPI_Request r = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(comm_, &r), "MPI_Ibarrier");
  wait(r, "barrier");
}

void MpiCommunicator::abort_job(int code) { MPI_Abort(comm_, code); }

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds) {
  return std::make_unique<MpiCommunicator>(timeout_seconds);
}

}  // namespace ng::dist
