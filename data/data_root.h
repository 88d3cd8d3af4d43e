// data/data_root.h — where the app looks for CIFAR-10 (a folder holding cifar-10-batches-bin/).
//
// Order: the config's data root → the NATGRAD_DATA environment variable → <repo>/../shared/data →
// <repo>/data. A root that is set explicitly (config or environment) must hold the data — a wrong
// setting is reported rather than silently replaced by another copy. When nothing is found, the error
// lists where it looked and how to fetch the data.
#pragma once
#include <string>

namespace ng::data {

inline constexpr const char* kDataRootEnv = "NATGRAD_DATA";

std::string find_data_root(const std::string& configured, const std::string& repo_dir);

// The source tree natgrad was built from: the nearest folder above the running executable that holds
// apps/commands.h (build folders live inside the repository); the current folder if there is none.
std::string default_repo_dir();

}  // namespace ng::data
