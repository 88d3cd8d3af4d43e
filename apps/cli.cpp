// apps/cli.cpp — argument parsing and exit codes shared by the subcommands.
#include "apps/cli.h"

#include <iostream>

#include "apps/config_reader.h"

namespace ng::app {

std::string Args::value(const std::string& flag, const std::string& def) const {
  auto it = values.find(flag);
  return it == values.end() ? def : it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& flag) const {
  static const std::vector<std::string> none;
  auto it = values.find(flag);
  return it == values.end() ? none : it->second;
}

Args parse_args(const std::vector<std::string>& args, const std::set<std::string>& with_value,
                const std::set<std::string>& switches) {
  Args a;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string s = args[i];
    if (s == "-h" || s == "--help") {
      a.help = true;
      continue;
    }
    if (s.size() < 2 || s.rfind("--", 0) != 0) {
      a.positional.push_back(s);
      continue;
    }
    std::string inline_value;
    bool has_inline = false;
    if (const size_t eq = s.find('='); eq != std::string::npos) {
      inline_value = s.substr(eq + 1);
      s = s.substr(0, eq);
      has_inline = true;
    }
    if (switches.count(s)) {
      if (has_inline) throw UsageError(s + " takes no value");
      a.switches.insert(s);
    } else if (with_value.count(s)) {
      if (!has_inline && i + 1 == args.size()) throw UsageError(s + " needs a value");
      a.values[s].push_back(has_inline ? inline_value : args[++i]);
    } else {
      throw UsageError("unknown option '" + s + "'");
    }
  }
  return a;
}

int64_t positive_integer_flag(const Args& a, const std::string& flag) {
  const std::string v = a.value(flag);
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < 1) throw UsageError(flag + ": expected an integer >= 1, got '" + v + "'");
  return n;
}

int run_command(const std::string& name, const char* usage, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::cerr << "natgrad " << name << ": " << e.what() << "\n\n" << usage;
    return 2;
  } catch (const ConfigError& e) {
    std::cerr << "natgrad " << name << ": config error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // ng::Error, filesystem and JSON errors
    std::cerr << "natgrad " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ng::app
