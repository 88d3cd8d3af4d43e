// tests/data/fetch_test.cpp — `natgrad data fetch cifar10` end to end against a local HTTP server on
// 127.0.0.1 (started by the test in a thread) serving a tar.gz built here from tiny fake batch files:
// success, skip-when-present, corrupted archive (MD5 and unpack), wrong SHA-256, no server, HTTP 404,
// the URL from the environment; plus the tar reader's refusals and the hash functions.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "data/cifar10.h"
#include "data/fetch.h"
#include "data/hash.h"
#include "data/tar_gz.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// ---- archive building ------------------------------------------------------------------------------

// One ustar entry: 512-byte header (checksum computed as the format defines) + data padded to 512.
std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), name.size());
  std::snprintf(&h[100], 8, "%07o", 0644);
  std::snprintf(&h[108], 8, "%07o", 0);
  std::snprintf(&h[116], 8, "%07o", 0);
  std::snprintf(&h[124], 12, "%011o", static_cast<unsigned>(data.size()));
  std::snprintf(&h[136], 12, "%011o", 0);
  h[156] = type;
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  std::string padded = data;
  padded.resize((data.size() + 511) / 512 * 512, '\0');
  return h + padded;
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);  // +16: gzip wrapper
  std::string out(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A fake cifar-10-binary.tar.gz (two records per batch file) and the SHA-256 of its batch files.
struct FakeArchive {
  std::string bytes;
  std::map<std::string, std::string> sha;
};

FakeArchive fake_archive() {
  FakeArchive a;
  std::string tar = tar_entry("cifar-10-batches-bin/", "", '5');
  const auto& files = cifar10_batch_files();
  for (int f = 0; f < 6; ++f) {
    const std::string data = fake_batch(f, 2);
    tar += tar_entry(std::string("cifar-10-batches-bin/") + files[f], data);
    a.sha[files[f]] = hash_hex(HashKind::sha256, data);
  }
  tar += tar_entry("cifar-10-batches-bin/batches.meta.txt", kFakeMeta);
  tar += std::string(1024, '\0');
  a.bytes = gzip(tar);
  return a;
}

// ---- a one-file HTTP/1.0 server ---------------------------------------------------------------------

// Serves `body` for GET /cifar-10-binary.tar.gz and 404 for anything else, until destroyed.
class LocalServer {
 public:
  explicit LocalServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path = "/cifar-10-binary.tar.gz") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++requests_;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      const bool found = req.rfind("GET /cifar-10-binary.tar.gz ", 0) == 0;
      const std::string body = found ? body_ : "not found";
      const std::string head = std::string(found ? "HTTP/1.0 200 OK" : "HTTP/1.0 404 Not Found") +
                               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      send_all(c, head + body);
      ::close(c);
    }
  }
  static void send_all(int c, const std::string& s) {
    for (size_t sent = 0; sent < s.size();) {
      const ssize_t n = ::send(c, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A URL on a port where nothing listens.
std::string dead_url() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/cifar-10-binary.tar.gz";
}

FetchOptions options_for(const FakeArchive& a, const TempDir& dir, const std::string& url) {
  FetchOptions o;
  o.dir = dir.str();
  o.url = url;
  o.archive_md5 = hash_hex(HashKind::md5, a.bytes);
  o.file_sha256 = a.sha;
  o.connect_timeout_s = 5;
  return o;
}

// ---- tests -------------------------------------------------------------------------------------------

TEST(Hash, KnownDigests) {
  EXPECT_EQ(hash_hex(HashKind::md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hash_hex(HashKind::sha256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  TempDir dir;
  write_bytes(dir.path() / "f", "abc");
  EXPECT_EQ(hash_file_hex(HashKind::sha256, (dir.path() / "f").string()), hash_hex(HashKind::sha256, "abc"));
  EXPECT_NE(error_of([&] { hash_file_hex(HashKind::md5, (dir.path() / "none").string()); }).find("cannot open"),
            std::string::npos);
}

TEST(Fetch, DownloadsVerifiesAndUnpacksALoadableDataset) {
  const FakeArchive a = fake_archive();
  LocalServer server(a.bytes);
  TempDir dir;
  fetch_cifar10(options_for(a, dir, server.url()));
  for (const auto& [name, sha] : a.sha)
    EXPECT_EQ(hash_file_hex(HashKind::sha256, (dir.path() / kCifarBatchDir / name).string()), sha);
  EXPECT_FALSE(fs::exists(dir.path() / "cifar-10-binary.tar.gz"));  // removed once verified
  Cifar10Options c;
  c.root = dir.str();
  c.records_per_file = 2;
  const Cifar10 data = load_cifar10(c);
  EXPECT_EQ(data.train.size(), 10);
  EXPECT_EQ(data.test.labels[1], fake_label(5, 1));

  // A second fetch finds verified files and downloads nothing, even with no server.
  fetch_cifar10(options_for(a, dir, dead_url()));
  EXPECT_EQ(server.requests(), 1);
}

TEST(Fetch, UrlComesFromTheEnvironmentWhenNotGiven) {
  const FakeArchive a = fake_archive();
  LocalServer server(a.bytes);
  TempDir dir;
  ::setenv(kCifar10UrlEnv, server.url().c_str(), 1);
  fetch_cifar10(options_for(a, dir, ""));
  ::unsetenv(kCifar10UrlEnv);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_TRUE(fs::exists(dir.path() / kCifarBatchDir / "test_batch.bin"));
}

TEST(Fetch, CorruptedArchiveFailsTheMd5Check) {
  const FakeArchive a = fake_archive();
  std::string bad = a.bytes;
  bad[bad.size() / 2] ^= 0x5a;
  LocalServer server(bad);
  TempDir dir;
  const std::string msg = error_of([&] { fetch_cifar10(options_for(a, dir, server.url())); });
  EXPECT_NE(msg.find("has MD5 " + hash_hex(HashKind::md5, bad)), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected " + hash_hex(HashKind::md5, a.bytes)), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.path() / kCifarBatchDir));
  EXPECT_FALSE(fs::exists(dir.path() / "cifar-10-binary.tar.gz"));
}

TEST(Fetch, CorruptedArchiveWithMatchingMd5FailsToUnpack) {
  const FakeArchive a = fake_archive();
  for (const std::string& bad : {a.bytes.substr(0, a.bytes.size() / 2),  // truncated
                                 std::string(a.bytes).replace(a.bytes.size() / 2, 8, "garbage!")}) {
    LocalServer server(bad);
    TempDir dir;
    FetchOptions o = options_for(a, dir, server.url());
    o.archive_md5 = hash_hex(HashKind::md5, bad);
    const std::string msg = error_of([&] { fetch_cifar10(o); });
    EXPECT_NE(msg.find("extract: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("cifar-10-binary.tar.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
  }
}

TEST(Fetch, WrongSha256OfABatchFileIsReported) {
  const FakeArchive a = fake_archive();
  LocalServer server(a.bytes);
  TempDir dir;
  FetchOptions o = options_for(a, dir, server.url());
  o.file_sha256["data_batch_4.bin"] = std::string(64, '0');
  const std::string msg = error_of([&] { fetch_cifar10(o); });
  EXPECT_NE(msg.find("data_batch_4.bin has SHA-256 " + a.sha.at("data_batch_4.bin") + ", expected 000"),
            std::string::npos)
      << msg;
}

TEST(Fetch, NoServerGivesAClearMessage) {
  const FakeArchive a = fake_archive();
  TempDir dir;
  const std::string msg = error_of([&] { fetch_cifar10(options_for(a, dir, dead_url())); });
  EXPECT_NE(msg.find("fetch cifar10: downloading http://127.0.0.1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("network"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.path() / "cifar-10-binary.tar.gz.part"));
}

TEST(Fetch, HttpErrorIsAFailure) {
  const FakeArchive a = fake_archive();
  LocalServer server(a.bytes);
  TempDir dir;
  const std::string msg = error_of([&] { fetch_cifar10(options_for(a, dir, server.url("/elsewhere.tar.gz"))); });
  EXPECT_NE(msg.find("404"), std::string::npos) << msg;
}

TEST(TarGz, RefusesEntriesOutsideTheDestination) {
  TempDir dir;
  const fs::path archive = dir.path() / "evil.tar.gz";
  write_bytes(archive, gzip(tar_entry("ok/../../evil.txt", "x") + std::string(1024, '\0')));
  const std::string msg = error_of([&] { extract_tar_gz(archive.string(), (dir.path() / "out").string()); });
  EXPECT_NE(msg.find("refusing entry 'ok/../../evil.txt' at byte offset 0"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.path() / "evil.txt"));
}

TEST(TarGz, BadHeaderChecksumReportsTheOffset) {
  TempDir dir;
  std::string tar = tar_entry("a.txt", "hello") + tar_entry("b.txt", "world");
  tar[1024 + 3] ^= 1;  // a byte of the second header's name
  const fs::path archive = dir.path() / "bad.tar.gz";
  write_bytes(archive, gzip(tar + std::string(1024, '\0')));
  const std::string msg = error_of([&] { extract_tar_gz(archive.string(), dir.str()); });
  EXPECT_NE(msg.find("tar header at byte offset 1024 has a bad checksum"), std::string::npos) << msg;
}

TEST(TarGz, ExtractsFilesWithTheirContents) {
  TempDir dir;
  const std::string big(70000, 'q');
  const fs::path archive = dir.path() / "ok.tar.gz";
  write_bytes(archive, gzip(tar_entry("d/", "", '5') + tar_entry("d/big.bin", big) + tar_entry("small", "s") +
                            std::string(1024, '\0')));
  EXPECT_EQ(extract_tar_gz(archive.string(), (dir.path() / "out").string()),
            (std::vector<std::string>{"d/big.bin", "small"}));
  EXPECT_EQ(read_bytes(dir.path() / "out" / "d" / "big.bin"), big);
  EXPECT_EQ(read_bytes(dir.path() / "out" / "small"), "s");
}

}  // namespace
}  // namespace ng::data::test
