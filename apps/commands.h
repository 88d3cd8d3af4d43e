// apps/commands.h — the natgrad CLI's subcommands. main.cpp routes `natgrad <command> args...` here.
// Each returns the process exit code: 0 success, 2 bad usage or config, 1 runtime failure.
#pragma once
#include <string>
#include <vector>

namespace ng::app {

int run_data_command(const std::vector<std::string>& args);  // apps/data_command.cpp

}  // namespace ng::app
