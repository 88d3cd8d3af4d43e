// apps/tensorboard.cpp — TFRecord framing, CRC32C and the protobuf encoding of the few Event fields natgrad
// writes (apps/tensorboard.h gives the layouts).
#include "apps/tensorboard.h"

#include <array>
#include <bit>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ng::app::tensorboard {
namespace {

namespace fs = std::filesystem;

// Byte-at-a-time table of the reflected Castagnoli polynomial.
std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

// Protobuf wire format: a key is (field << 3) | wire type; 0 = varint, 1 = 64-bit, 2 = length-delimited,
// 5 = 32-bit; fixed-width values are little-endian.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void put_key(std::string& out, int field, int wire) { put_varint(out, static_cast<uint64_t>(field) << 3 | wire); }
template <class T>
void put_fixed(std::string& out, T v) {
  static_assert(std::endian::native == std::endian::little);
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void put_bytes(std::string& out, int field, std::string_view s) {
  put_key(out, field, 2);
  put_varint(out, s.size());
  out.append(s);
}

// Event fields 1 (wall_time) and 2 (step; proto3 leaves a zero out).
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  put_key(e, 1, 1);
  put_fixed(e, wall_time);
  if (step != 0) {
    put_key(e, 2, 0);
    put_varint(e, static_cast<uint64_t>(step));
  }
  return e;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Keys of a JSONL line that say where it is, not what was measured.
bool bookkeeping(const std::string& key) {
  return key == "step" || key == "epoch" || key == "time" || key == "epoch_progress" || key == "kind" ||
         key == "layer";
}

void collect(const std::string& prefix, const nlohmann::json& j, std::vector<std::pair<std::string, float>>& out) {
  for (const auto& [key, v] : j.items()) {
    if (bookkeeping(key)) continue;
    if (v.is_number()) out.emplace_back(prefix + "/" + key, v.get<float>());
    else if (v.is_object()) collect(prefix + "/" + key, v, out);
  }
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string frame_record(std::string_view data) {
  std::string len;
  put_fixed(len, static_cast<uint64_t>(data.size()));
  std::string r = len;
  put_fixed(r, masked_crc32c(len));
  r.append(data);
  put_fixed(r, masked_crc32c(data));
  return r;
}

std::string file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string session_start_event(double wall_time, int64_t step) {
  std::string log;
  put_key(log, 1, 0);
  put_varint(log, 1);  // SessionLog.START
  std::string e = event_head(wall_time, step);
  put_bytes(e, 7, log);
  return e;
}

std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_key(v, 2, 5);
    put_fixed(v, value);
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

std::vector<std::pair<std::string, float>> line_scalars(const nlohmann::json& line, bool curvature) {
  std::vector<std::pair<std::string, float>> out;
  if (curvature) {
    const std::string layer = line.value("layer", "");
    for (const auto& [key, v] : line.items())
      if (!bookkeeping(key) && v.is_number()) out.emplace_back("curvature/" + key + "/" + layer, v.get<float>());
    return out;
  }
  const std::string kind = line.value("kind", "");
  if (kind == "event") {
    if (line.value("event", "") == "skipped_step") out.emplace_back("events/skipped_step", 1.0f);
    return out;
  }
  collect(kind, line, out);
  return out;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  fs::create_directories(dir);
  const std::string stem = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) + ".natgrad.";
  for (int n = 0;; ++n) {
    path_ = stem + std::to_string(n);
    if (!fs::exists(path_)) break;
  }
  out_.open(path_, std::ios::binary);
  NG_CHECK(out_, "cannot create the TensorBoard event file ", path_);
  write(file_version_event(now_seconds()));
}

void EventFileWriter::write(std::string_view event) {
  out_ << frame_record(event);
  out_.flush();
  NG_CHECK(out_, "cannot write to the TensorBoard event file ", path_);
}

TensorBoardLog::TensorBoardLog(const std::string& dir, int64_t resumed_step) : file_(dir) {
  if (resumed_step >= 0) file_.write(session_start_event(now_seconds(), resumed_step));
}

void TensorBoardLog::write(const nlohmann::json& line, bool curvature) {
  const auto scalars = line_scalars(line, curvature);
  if (scalars.empty() || !line.contains("step") || !line["step"].is_number_integer()) return;
  file_.write(scalars_event(now_seconds(), line["step"].get<int64_t>() + (curvature ? 1 : 0), scalars));
}

}  // namespace ng::app::tensorboard
