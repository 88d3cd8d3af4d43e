// apps/cli.h — what every natgrad subcommand shares: argument parsing and the mapping of errors to exit
// codes (0 success, 2 bad usage or config, 1 runtime failure).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace ng::app {

// Bad command-line usage (exit code 2, like a ConfigError).
class UsageError : public Error {
 public:
  using Error::Error;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // flag -> every value given (in order)
  std::set<std::string> switches;                          // flags without a value that were given
  bool help = false;

  bool has(const std::string& flag) const { return values.count(flag) > 0; }
  // The flag's value (the last one given), or `def`.
  std::string value(const std::string& flag, const std::string& def = "") const;
  const std::vector<std::string>& all(const std::string& flag) const;
};

// Splits args into positionals, `--flag VALUE` (flags in `with_value`) and `--switch` (flags in
// `switches`); `--flag=VALUE` works too. -h/--help set `help`. Anything else is a UsageError.
Args parse_args(const std::vector<std::string>& args, const std::set<std::string>& with_value,
                const std::set<std::string>& switches = {});

// The value of `flag` as an integer >= 1 (a UsageError naming the flag otherwise).
int64_t positive_integer_flag(const Args& a, const std::string& flag);

// Runs a subcommand body: prints its usage for --help; maps UsageError and ConfigError to exit code 2
// (message and usage hint on stderr), other exceptions to 1.
int run_command(const std::string& name, const char* usage, const std::function<int()>& body);

}  // namespace ng::app
