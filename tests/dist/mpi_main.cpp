// tests/dist/mpi_main.cpp — gtest main for test_dist_mpi: one MPI communicator for all tests; the job
// fails when any rank's tests fail.
#include <gtest/gtest.h>

#include "tests/dist/mpi_test_env.h"

namespace ng::dist::testing {
Communicator* g_comm = nullptr;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = ng::dist::make_communicator("mpi", 60.0);
  ng::dist::testing::g_comm = comm.get();
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const std::vector<double> any = comm->all_reduce_sum({static_cast<double>(failed)});
  ng::dist::testing::g_comm = nullptr;
  comm.reset();
  return any[0] > 0 ? 1 : 0;
}
