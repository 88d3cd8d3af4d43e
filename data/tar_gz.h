// data/tar_gz.h — unpacks a gzip-compressed tar archive (zlib + a small POSIX ustar reader).
//
// Only what dataset archives need: regular files and folders are written under the destination;
// links, devices and pax/GNU extension records are skipped. Each 512-byte header's checksum is verified
// and the gzip stream is read to its end so zlib checks the CRC-32 as well; a corrupt or truncated
// archive is an ng::Error naming the archive and the byte offset in the uncompressed tar stream.
// Entry names that are absolute or contain ".." are refused (no writes outside the destination).
#pragma once
#include <string>
#include <vector>

namespace ng::data {

// Returns the relative paths of the regular files written, in archive order.
std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& dest);

}  // namespace ng::data
