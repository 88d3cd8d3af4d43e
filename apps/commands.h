// apps/commands.h — the natgrad CLI's subcommands. main.cpp routes `natgrad <command> args...` here.
// Each returns the process exit code: 0 success, 2 bad usage or config, 1 runtime failure.
#pragma once
#include <string>
#include <vector>

namespace ng::app {

int run_data_command(const std::vector<std::string>& args);      // apps/data_command.cpp
int run_train_command(const std::vector<std::string>& args);     // apps/train_command.cpp
int run_compare_command(const std::vector<std::string>& args);   // apps/compare_command.cpp
int run_tune_command(const std::vector<std::string>& args);      // apps/tune_command.cpp
int run_report_command(const std::vector<std::string>& args);    // apps/report_command.cpp
int run_eval_command(const std::vector<std::string>& args);      // apps/eval_command.cpp
int run_validate_command(const std::vector<std::string>& args);  // apps/validate_command.cpp

}  // namespace ng::app
