// data/hash.cpp — EVP digest wrappers.
#include "data/hash.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"

namespace ng::data {
namespace {

// Incremental digest: feed() bytes, then hex().
class Digest {
 public:
  explicit Digest(HashKind kind) : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    NG_CHECK(ctx_ && EVP_DigestInit_ex(ctx_.get(), kind == HashKind::md5 ? EVP_md5() : EVP_sha256(), nullptr) == 1,
             "hash: cannot initialise the OpenSSL digest");
  }
  void feed(const void* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < len; ++i) {
      s += digits[md[i] >> 4];
      s += digits[md[i] & 15];
    }
    return s;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

}  // namespace

std::string hash_hex(HashKind kind, std::string_view bytes) {
  Digest d(kind);
  d.feed(bytes.data(), bytes.size());
  return d.hex();
}

std::string hash_file_hex(HashKind kind, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NG_CHECK(f.good(), "hash: cannot open ", path);
  Digest d(kind);
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    d.feed(buf.data(), static_cast<size_t>(f.gcount()));
  }
  NG_CHECK(f.eof(), "hash: read error in ", path);
  return d.hex();
}

}  // namespace ng::data
