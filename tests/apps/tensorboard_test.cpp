// tests/apps/tensorboard_test.cpp — the TensorBoard event writer (apps/tensorboard.h): CRC32C, TFRecord
// framing and Event encoding byte for byte against what TensorBoard's own protobuf classes produce
// (the expected bytes were serialised with tensorboard.compat.proto.event_pb2), the JSONL-to-scalar
// mapping, and a real run with log.tensorboard whose event file holds one scalar event per logged line.
#include <cstring>
#include <map>

#include "apps/tensorboard.h"
#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

namespace tb = ng::app::tensorboard;

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(tb::crc32c("123456789"), 0xE3069283u);               // the CRC-32C check value
  EXPECT_EQ(tb::crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4, 32 zero bytes
  EXPECT_EQ(tb::crc32c(""), 0u);
}

TEST(TensorBoard, RecordFramingMatchesTensorFlow) {
  EXPECT_EQ(hex(tb::frame_record("hello")), "0500000000000000eab2043e68656c6c6fbb1f1c19");
}

TEST(TensorBoard, EventsMatchTensorBoardProtobuf) {
  EXPECT_EQ(hex(tb::scalars_event(1.5, 7, {{"a/b", 0.25f}, {"c", -3.0f}})),
            "09000000000000f83f10072a160a0a0a03612f62150000803e0a080a016315000040c0");
  EXPECT_EQ(hex(tb::session_start_event(2.0, 12)), "090000000000000040100c3a020801");
  EXPECT_EQ(hex(tb::file_version_event(0.5)), "09000000000000e03f1a0d627261696e2e4576656e743a32");
}

TEST(TensorBoard, LineScalars) {
  using Scalars = std::vector<std::pair<std::string, float>>;
  const auto train = nlohmann::json::parse(
      R"({"kind": "train", "epoch": 1, "step": 4, "epoch_progress": 0.5, "loss": 2.5, "lr": 0.1,
          "scheduled": {"lr": 0.1, "damping": 0.001}, "images_per_s": 100, "time": 3.0})");
  EXPECT_EQ(tb::line_scalars(train, false),
            (Scalars{{"train/images_per_s", 100.0f}, {"train/loss", 2.5f}, {"train/lr", 0.1f},
                     {"train/scheduled/damping", 0.001f}, {"train/scheduled/lr", 0.1f}}));  // keys in JSON order
  const auto curv = nlohmann::json::parse(R"({"step": 4, "epoch": 1, "layer": "0", "grad_norm": 2, "cond_KKt": null})");
  EXPECT_EQ(tb::line_scalars(curv, true), (Scalars{{"curvature/grad_norm/0", 2.0f}}));
  const auto skip = nlohmann::json::parse(R"({"kind": "event", "event": "skipped_step", "step": 9})");
  EXPECT_EQ(tb::line_scalars(skip, false), (Scalars{{"events/skipped_step", 1.0f}}));
  const auto train_nan = nlohmann::json::parse(R"({"kind": "train", "step": 5, "loss": null})");
  EXPECT_TRUE(tb::line_scalars(train_nan, false).empty());
}

// One decoded Event: its step, its SessionLog status (0: none) and its scalars.
struct Event {
  int64_t step = 0;
  int session_status = 0;
  std::map<std::string, float> scalars;
};

uint64_t varint(std::string_view s, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0; i < s.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(s[i++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("truncated varint");
}

// Calls f(field, wire type, value, bytes) for each field of one protobuf message.
template <class F>
void fields(std::string_view s, F f) {
  for (size_t i = 0; i < s.size();) {
    const uint64_t key = varint(s, i);
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    uint64_t v = 0;
    std::string_view bytes;
    if (wire == 0) v = varint(s, i);
    else if (wire == 1 || wire == 5) {
      const size_t n = wire == 1 ? 8 : 4;
      std::memcpy(&v, s.data() + i, n);
      i += n;
    } else {
      const uint64_t n = varint(s, i);
      bytes = s.substr(i, n);
      i += n;
    }
    f(field, wire, v, bytes);
  }
}

Event decode(std::string_view data) {
  Event e;
  fields(data, [&](int field, int, uint64_t v, std::string_view bytes) {
    if (field == 2) e.step = static_cast<int64_t>(v);
    if (field == 7) fields(bytes, [&](int, int, uint64_t status, std::string_view) { e.session_status = static_cast<int>(status); });
    if (field == 5)
      fields(bytes, [&](int, int, uint64_t, std::string_view value) {
        std::string tag;
        float x = 0;
        fields(value, [&](int f, int, uint64_t bits, std::string_view t) {
          if (f == 1) tag = std::string(t);
          if (f == 2) std::memcpy(&x, &bits, 4);
        });
        e.scalars[tag] = x;
      });
  });
  return e;
}

// Reads every record of an event file, checking both CRCs of each.
std::vector<Event> read_events(const std::string& path) {
  const std::string s = read_file(path);
  std::vector<Event> out;
  for (size_t i = 0; i < s.size();) {
    uint64_t n = 0;
    std::memcpy(&n, s.data() + i, 8);
    uint32_t len_crc = 0, data_crc = 0;
    std::memcpy(&len_crc, s.data() + i + 8, 4);
    EXPECT_EQ(len_crc, tb::masked_crc32c(std::string_view(s).substr(i, 8)));
    const std::string_view data = std::string_view(s).substr(i + 12, n);
    std::memcpy(&data_crc, s.data() + i + 12 + n, 4);
    EXPECT_EQ(data_crc, tb::masked_crc32c(data));
    out.push_back(decode(data));
    i += 16 + n;
  }
  return out;
}

std::vector<std::string> event_files(const std::string& run_dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(run_dir + "/tensorboard")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// Every metrics.jsonl and curvature.jsonl line with scalars appears as one event with the same step and values.
TEST(TensorBoard, RunWritesTheLoggedLines) {
  TempDir tmp;
  nlohmann::json cfg = tiny_config();
  cfg["train"]["epochs"] = 1;
  cfg["log"]["tensorboard"] = true;
  const std::string run = tmp / "run";
  const RunResult r = run_natgrad({"train", write_config(tmp / "c.json", cfg), "--out", run});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto files = event_files(run);
  ASSERT_EQ(files.size(), 1u);
  const auto events = read_events(files[0]);
  std::vector<std::pair<int64_t, std::vector<std::pair<std::string, float>>>> expected;
  for (const auto& line : read_jsonl(run + "/metrics.jsonl"))
    if (auto s = tb::line_scalars(line, false); !s.empty()) expected.emplace_back(line["step"].get<int64_t>(), s);
  const auto curvature = read_jsonl(run + "/curvature.jsonl");
  ASSERT_FALSE(curvature.empty());
  ASSERT_EQ(events.size(), 1 + expected.size() + curvature.size());  // + the file_version event
  size_t k = 0;
  for (size_t i = 1; i < events.size(); ++i) {
    if (!events[i].scalars.begin()->first.starts_with("curvature/")) {
      ASSERT_LT(k, expected.size());
      EXPECT_EQ(events[i].step, expected[k].first);
      for (const auto& [tag, v] : expected[k].second) EXPECT_EQ(events[i].scalars.at(tag), v) << tag;
      ++k;
    }
  }
  EXPECT_EQ(k, expected.size());
  EXPECT_TRUE(events.back().scalars.contains("epoch/test_accuracy"));
}

// A resumed run opens a second file that starts with SessionLog START one step after its checkpoint.
TEST(TensorBoard, ResumeStartsANewFileWithSessionStart) {
  TempDir tmp;
  nlohmann::json cfg = tiny_config();
  cfg["train"]["epochs"] = 2;
  cfg["log"]["tensorboard"] = true;
  const std::string run = tmp / "run";
  const std::string config = write_config(tmp / "c.json", cfg);
  const pid_t pid = spawn_natgrad({"train", config, "--out", run}, tmp / "log");
  while (!fs::exists(run + "/checkpoints/last.safetensors")) usleep(20000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  const RunResult r = run_natgrad({"train", "--resume", run});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto files = event_files(run);
  ASSERT_EQ(files.size(), 2u);
  const auto resumed = read_events(files[1]);
  ASSERT_GE(resumed.size(), 3u);
  EXPECT_EQ(resumed[1].session_status, 1);
  EXPECT_GE(resumed[1].step, 6);  // the first checkpoint is at step 5
  for (size_t i = 2; i < resumed.size(); ++i) EXPECT_GE(resumed[i].step, resumed[1].step);
}

}  // namespace
}  // namespace ng::app::testing
