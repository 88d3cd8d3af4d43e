// tests/dist/mpi_test_env.h — the communicator the MPI tests share (made by tests/dist/mpi_main.cpp).
#pragma once
#include "dist/communicator.h"

namespace ng::dist::testing {
extern Communicator* g_comm;
}
