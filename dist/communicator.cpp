// dist/communicator.cpp — the launch environment, the backend choice and the single-process communicator.
#include "dist/communicator.h"

#include <algorithm>
#include <cstdlib>

#ifdef NATGRAD_WITH_MPI
#include "dist/mpi_communicator.h"
#endif
#ifdef NATGRAD_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace ng::dist {

namespace {

// The first of `names` set in the environment, as a non-negative integer; `fallback` if none is.
int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    NG_CHECK(*end == '\0' && n >= 0 && n < (1L << 24), "environment variable ", name, "=\"", v,
             "\" is not a rank count or rank");
    return static_cast<int>(n);
  }
  return fallback;
}

class NoRequest final : public Request {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// One rank: every collective leaves its tensor as it is.
class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  std::unique_ptr<Request> all_reduce_async(Tensor&, ReduceOp) override { return std::make_unique<NoRequest>(); }
  void broadcast(Tensor&, int root) override { NG_CHECK(root == 0, "broadcast: root ", root, " of 1 rank"); }
  Tensor all_gather(const Tensor& t) override { return t.clone().unsqueeze(0); }
  void barrier() override {}

 protected:
  void abort_job(int) override {}
};

}  // namespace

void Communicator::abort(int code) {
  abort_job(code);
  std::_Exit(code);
}

std::vector<double> Communicator::all_reduce_sum(const std::vector<double>& values) {
  Tensor t = Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, DType::f64);
  all_reduce(t, ReduceOp::sum);
  return t.to_vector<double>();
}

std::string Communicator::broadcast_string(const std::string& s, int root) {
  Tensor n = Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(s.size())}, {1});
  broadcast(n, root);
  const int64_t len = n.to_vector<int64_t>()[0];
  if (len == 0) return "";
  Tensor bytes = Tensor::zeros({len}, DType::i64);  // one character per element: short messages only
  if (rank() == root)
    for (int64_t i = 0; i < len; ++i) bytes.data<int64_t>()[i] = static_cast<unsigned char>(s[static_cast<size_t>(i)]);
  broadcast(bytes, root);
  std::string out(static_cast<size_t>(len), '\0');
  for (int64_t i = 0; i < len; ++i) out[static_cast<size_t>(i)] = static_cast<char>(bytes.data<int64_t>()[i]);
  return out;
}

bool mpi_built() {
#ifdef NATGRAD_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#ifdef NATGRAD_WITH_NCCL
  return true;
#else
  return false;
#endif
}

int launched_ranks() { return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}, 1); }
int launched_rank() { return env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}, 0); }
int launched_local_ranks() { return std::max(1, env_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}, 1)); }
int launched_local_rank() { return env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"}, 0); }

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

std::unique_ptr<Communicator> make_communicator(const std::string& backend, double timeout_seconds) {
  NG_CHECK(backend == "auto" || backend == "mpi" || backend == "nccl", "make_communicator: unknown backend \"",
           backend, "\" (auto, mpi, nccl)");
  const int ranks = launched_ranks();
  if (backend == "nccl") {
#ifdef NATGRAD_WITH_NCCL
    return make_nccl_communicator(timeout_seconds);
#else
    throw Error("distributed.backend \"nccl\": this natgrad was built without NCCL (it needs CUDA and NCCL at build time)");
#endif
  }
  if (backend == "auto" && ranks == 1) return make_single_communicator();
#ifdef NATGRAD_WITH_MPI
  return make_mpi_communicator(timeout_seconds);
#else
  throw Error("launched as " + std::to_string(ranks) + " ranks, but this natgrad was built without MPI (install " +
              "libopenmpi-dev and reconfigure; CMake's feature summary says whether MPI is on)");
#endif
}

}  // namespace ng::dist
