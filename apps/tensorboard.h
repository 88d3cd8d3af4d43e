// apps/tensorboard.h — TensorBoard event files written without TensorFlow or protobuf.
//
// An event file is a sequence of TFRecords, each framing one serialised `tensorflow.Event` protobuf:
//   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
// where masked_crc32c(x) = rotate_right(crc32c(x), 15) + 0xa282ead8 and crc32c is the Castagnoli CRC
// (polynomial 0x82F63B78, reflected). The Events natgrad writes use these protobuf fields:
//   Event      { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//                SessionLog session_log = 7; }
//   Summary    { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
//   SessionLog { Status status = 1; }          (START = 1)
// A file starts with an Event holding file_version "brain.Event:2". A resumed run opens a new file whose
// first scalar event is preceded by SessionLog START at the resumed step: TensorBoard then drops the
// events of earlier files with larger steps (the steps that the resume replays), so the curves show each
// step once.
//
// TensorBoardLog mirrors the run's JSONL lines (apps/run_dir.h) as scalars: a metrics line of kind K
// gives "K/<key>" for every numeric key (nested objects as "K/<key>/<subkey>"), a curvature record gives
// "curvature/<key>/<layer>", a skipped-step event gives "events/skipped_step" = 1. The event's step is the
// number of optimizer steps done: a metrics line's "step", a curvature record's "step" (the 0-based index
// of the step it describes) + 1. The bookkeeping keys (step, epoch, time, epoch_progress) are not plotted.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ng::app::tensorboard {

uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

// One TFRecord: the framing above around `data`.
std::string frame_record(std::string_view data);

// Serialised Events.
std::string file_version_event(double wall_time);
std::string session_start_event(double wall_time, int64_t step);
std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars);

// The scalars a JSONL line stands for (see the header comment); `kind` is "metrics" or "curvature".
std::vector<std::pair<std::string, float>> line_scalars(const nlohmann::json& line, bool curvature);

// Appends framed events to a new file `dir`/events.out.tfevents.<unix seconds>.natgrad.<n> (the first
// free n), created with its file_version event. Every write is flushed; a failed write throws naming the file.
class EventFileWriter {
 public:
  explicit EventFileWriter(const std::string& dir);
  void write(std::string_view event);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// The run's TensorBoard log: RUN_DIR/tensorboard/. `resumed_step` >= 0 marks a resumed session.
class TensorBoardLog {
 public:
  TensorBoardLog(const std::string& dir, int64_t resumed_step);
  void metrics(const nlohmann::json& line) { write(line, false); }
  void curvature(const nlohmann::json& record) { write(record, true); }

 private:
  void write(const nlohmann::json& line, bool curvature);
  EventFileWriter file_;
};

}  // namespace ng::app::tensorboard
