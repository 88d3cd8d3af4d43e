// data/fetch.h — getting CIFAR-10 onto a fresh machine: download, verify, unpack, verify again.
//
//   1. download the official cifar-10-binary.tar.gz with libcurl to DIR (URL: the option, else the
//      NATGRAD_CIFAR10_URL environment variable, else the official address);
//   2. check the archive's MD5 against the one its authors publish;
//   3. unpack it (data/tar_gz.h) into DIR, giving DIR/cifar-10-batches-bin/;
//   4. check the SHA-256 of the six batch files, then delete the archive.
// If DIR already holds six batch files with the right SHA-256, nothing is downloaded. The checksums are
// options so tests can serve a small fake archive from a local HTTP server.
#pragma once
#include <functional>
#include <map>
#include <string>

namespace ng::data {

inline constexpr const char* kCifar10Url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
inline constexpr const char* kCifar10ArchiveMd5 = "c32a1d4ab5d03f1284b67883e8d87530";
inline constexpr const char* kCifar10UrlEnv = "NATGRAD_CIFAR10_URL";

// SHA-256 of the official batch files, keyed by file name.
const std::map<std::string, std::string>& cifar10_sha256();

// Empty if every file of `sha` in batch_dir has its SHA-256, else the first difference (file, got, expected).
std::string check_cifar10_checksums(const std::string& batch_dir,
                                    const std::map<std::string, std::string>& sha = cifar10_sha256());

struct FetchOptions {
  std::string dir;  // DIR: receives cifar-10-batches-bin/
  std::string url;  // empty: $NATGRAD_CIFAR10_URL, else kCifar10Url
  std::string archive_md5 = kCifar10ArchiveMd5;
  std::map<std::string, std::string> file_sha256 = cifar10_sha256();
  long connect_timeout_s = 20;
  std::function<void(const std::string&)> log = [](const std::string&) {};  // progress lines
};

// Throws ng::Error with a message saying what failed and what to do about it.
void fetch_cifar10(const FetchOptions& opts);

}  // namespace ng::data
