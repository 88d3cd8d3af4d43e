// data/fetch.cpp — libcurl download and the checksum-verified unpacking of CIFAR-10.
#include "data/fetch.h"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/hash.h"
#include "data/tar_gz.h"

namespace ng::data {
namespace {

namespace fs = std::filesystem;

size_t write_to_file(char* p, size_t size, size_t n, void* file) {
  return std::fwrite(p, size, n, static_cast<std::FILE*>(file)) * size;
}

// Downloads url to path (via path.part, renamed on success).
void download(const std::string& url, const fs::path& path, long connect_timeout_s) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const fs::path part = path.string() + ".part";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(part.c_str(), "wb"), std::fclose);
  NG_CHECK(file, "fetch cifar10: cannot write ", part.string());
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  NG_CHECK(curl, "fetch cifar10: cannot initialise libcurl");
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_to_file);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, file.get());
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, err);
  const CURLcode rc = curl_easy_perform(curl.get());
  file.reset();
  if (rc != CURLE_OK) {
    fs::remove(part);
    NG_FAIL("fetch cifar10: downloading ", url, " failed: ", err[0] ? err : curl_easy_strerror(rc),
            ". Check the network connection, or set ", kCifar10UrlEnv,
            " (or --url) to a reachable copy; without network, copy cifar-10-binary.tar.gz from another "
            "machine and unpack it so that DIR/", kCifarBatchDir, "/ holds the batch files");
  }
  fs::rename(part, path);
}

}  // namespace

const std::map<std::string, std::string>& cifar10_sha256() {
  static const std::map<std::string, std::string> sha = {
      {"data_batch_1.bin", "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5"},
      {"data_batch_2.bin", "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed"},
      {"data_batch_3.bin", "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67"},
      {"data_batch_4.bin", "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48"},
      {"data_batch_5.bin", "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add"},
      {"test_batch.bin", "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b"}};
  return sha;
}

std::string check_cifar10_checksums(const std::string& batch_dir, const std::map<std::string, std::string>& sha) {
  for (const auto& [name, want] : sha) {
    const fs::path f = fs::path(batch_dir) / name;
    if (!fs::is_regular_file(f)) return "missing " + f.string();
    const std::string got = hash_file_hex(HashKind::sha256, f.string());
    if (got != want) return f.string() + " has SHA-256 " + got + ", expected " + want;
  }
  return {};
}

void fetch_cifar10(const FetchOptions& opts) {
  NG_CHECK(!opts.dir.empty(), "fetch cifar10: no destination folder given (--dir DIR)");
  const fs::path dir(opts.dir), batches = dir / kCifarBatchDir, archive = dir / "cifar-10-binary.tar.gz";
  if (fs::is_directory(batches) && check_cifar10_checksums(batches.string(), opts.file_sha256).empty()) {
    opts.log("CIFAR-10 already present and verified in " + batches.string());
    return;
  }
  fs::create_directories(dir);
  const char* env = std::getenv(kCifar10UrlEnv);
  const std::string url = !opts.url.empty() ? opts.url : (env && *env ? env : kCifar10Url);
  opts.log("downloading " + url);
  download(url, archive, opts.connect_timeout_s);

  const std::string md5 = hash_file_hex(HashKind::md5, archive.string());
  if (md5 != opts.archive_md5) {
    fs::remove(archive);
    NG_FAIL("fetch cifar10: the archive from ", url, " has MD5 ", md5, ", expected ", opts.archive_md5,
            ": the download is corrupt or not the official cifar-10-binary.tar.gz (deleted; run again)");
  }
  opts.log("archive MD5 ok; unpacking");
  extract_tar_gz(archive.string(), dir.string());
  const std::string problem = check_cifar10_checksums(batches.string(), opts.file_sha256);
  NG_CHECK(problem.empty(), "fetch cifar10: after unpacking, ", problem);
  fs::remove(archive);
  opts.log("CIFAR-10 verified (SHA-256 of all batch files) in " + batches.string());
}

}  // namespace ng::data
