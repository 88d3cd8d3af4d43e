// data/hash.h — MD5 and SHA-256 digests (OpenSSL libcrypto's EVP interface) as lowercase hex.
//
// Used to check downloads against published checksums: MD5 for the official CIFAR-10 archive (the
// only checksum its authors publish), SHA-256 for the extracted batch files.
#pragma once
#include <string>
#include <string_view>

namespace ng::data {

enum class HashKind { md5, sha256 };

std::string hash_hex(HashKind kind, std::string_view bytes);
// Streams the file; throws ng::Error naming the file if it cannot be read.
std::string hash_file_hex(HashKind kind, const std::string& path);

}  // namespace ng::data
