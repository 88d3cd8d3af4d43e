// tests/core/safetensors_test.cpp — core/safetensors: round trips for every dtype, byte equality with the
// python `safetensors` package (a literal file it wrote, and the PyTorch-made fixture re-saved), atomic
// writes, failed writes (file size limit, rename) and stale temporaries, and one test per malformed-file
// error (each must name the file and what was expected).
#include "core/safetensors.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"

namespace ng {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hex_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("natgrad_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes an 8-byte little-endian length, `header` and `data` (a hand-made, possibly broken file).
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                        uint64_t declared_len) const {
    std::string bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(declared_len >> (8 * i)));
    bytes += header + data;
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data) const {
    return write_raw(name, header, data, header.size());
  }

  // Loading `file` must fail with a message naming the file and containing `expected`.
  static void expect_load_error(const std::string& file, const std::string& expected) {
    try {
      load_safetensors(file);
      ADD_FAILURE() << "loading " << file << " should have failed with '" << expected << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find(expected), std::string::npos) << msg;
    }
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDtypeShapeAndMetadata) {
  Generator gen(3);
  const Tensor f32 = Tensor::normal({2, 3}, 0, 1, gen);
  const Tensor f64 = Tensor::normal({4}, 0, 1, gen, DType::f64);
  const Tensor b16 = Tensor::normal({3, 1, 2}, 0, 1, gen, DType::bf16);
  const Tensor i64 = Tensor::from_vector(std::vector<int64_t>{-7, 0, 1LL << 40}, {3});
  const Tensor scalar = Tensor::from_vector(std::vector<int64_t>{42}, {});
  const Tensor empty = Tensor::zeros({0, 5});
  const Tensor strided = Tensor::normal({3, 4}, 0, 1, gen).transpose(0, 1);  // non-contiguous
  const NamedTensors in{{"w", f32},      {"v64", f64},     {"h", b16}, {"idx", i64},
                        {"count", scalar}, {"none", empty}, {"t", strided}};
  save_safetensors(path("a.safetensors"), in, {{"format", "pt"}, {"note", "é \"quoted\"\n"}});

  const SafetensorsFile out = load_safetensors(path("a.safetensors"));
  EXPECT_EQ(out.metadata.size(), 2u);
  EXPECT_EQ(out.metadata.at("format"), "pt");
  EXPECT_EQ(out.metadata.at("note"), "é \"quoted\"\n");
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const Tensor* got = out.find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->dtype(), t.dtype()) << name;
    EXPECT_EQ(got->shape(), t.shape()) << name;
    EXPECT_TRUE(got->is_contiguous()) << name;
    if (t.dtype() == DType::i64)
      EXPECT_EQ(got->to_vector<int64_t>(), t.to_vector<int64_t>()) << name;
    else
      EXPECT_EQ(got->to_vector<double>(), t.to_vector<double>()) << name;
  }
  EXPECT_EQ(out.find("missing"), nullptr);
}

TEST_F(SafetensorsTest, BytesEqualThePythonPackagesFile) {
  // safetensors.torch.save_file({'b.weight': [1, -2, .5] f32, 'a': [[1, 2], [3, -4]] bf16, 'n': 5 (i64
  // scalar), 'z': [2.5] f64, 'empty': f32 [0]}, metadata={'format': 'pt'}) wrote exactly these bytes:
  // tensors sorted by dtype (I64, F64, F32, BF16) then name, header padded with spaces to 8 bytes.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("z":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
      R"("b.weight":{"dtype":"F32","shape":[3],"data_offsets":[16,28]},)"
      R"("empty":{"dtype":"F32","shape":[0],"data_offsets":[28,28]},)"
      R"("a":{"dtype":"BF16","shape":[2,2],"data_offsets":[28,36]}}   )";
  const std::string expected = hex_bytes("4001000000000000") + header +
                               hex_bytes("050000000000000000000000000004400000803f000000c00000003f803f0040404080c0");
  const NamedTensors in{
      {"b.weight", Tensor::from_vector(std::vector<double>{1, -2, 0.5}, {3})},
      {"a", Tensor::from_vector(std::vector<double>{1, 2, 3, -4}, {2, 2}, DType::bf16)},
      {"n", Tensor::from_vector(std::vector<int64_t>{5}, {})},
      {"z", Tensor::from_vector(std::vector<double>{2.5}, {1}, DType::f64)},
      {"empty", Tensor::zeros({0})}};
  save_safetensors(path("p.safetensors"), in, {{"format", "pt"}});
  EXPECT_EQ(read_bytes(path("p.safetensors")), expected);

  // Loading returns file order and the exact values.
  const SafetensorsFile f = load_safetensors(path("p.safetensors"));
  std::vector<std::string> names;
  for (const auto& [n, t] : f.tensors) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"n", "z", "b.weight", "empty", "a"}));
  EXPECT_EQ(f.find("a")->to_vector<double>(), (std::vector<double>{1, 2, 3, -4}));
  EXPECT_EQ(f.find("n")->item(), 5.0);
}

TEST_F(SafetensorsTest, ResavingTheTorchFixtureIsByteIdentical) {
  const std::string fixture =
      std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/layers_vgg11bn_w025_state.safetensors";
  ASSERT_TRUE(fs::exists(fixture)) << fixture << " (written by scripts/make_golden_layers.py)";
  const SafetensorsFile f = load_safetensors(fixture);
  EXPECT_EQ(f.tensors.size(), 58u);
  save_safetensors(path("resaved.safetensors"), f.tensors, f.metadata);
  EXPECT_EQ(read_bytes(path("resaved.safetensors")), read_bytes(fixture));
}

TEST_F(SafetensorsTest, WriteIsAtomicAndReplacesTheTarget) {
  const std::string p = path("w.safetensors");
  save_safetensors(p, {{"x", Tensor::ones({2})}});
  save_safetensors(p, {{"y", Tensor::zeros({3})}});
  const SafetensorsFile f = load_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].first, "y");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";

  try {
    save_safetensors(path("no_such_dir/x.safetensors"), {{"x", Tensor::ones({1})}});
    ADD_FAILURE() << "saving into a missing directory should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir"), std::string::npos) << e.what();
  }
}

// Runs `body` with the process's file size limit lowered to `bytes` (a write past it fails with EFBIG:
// SIGXFSZ is ignored meanwhile).
void with_file_size_limit(rlim_t bytes, const std::function<void()>& body) {
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old;
  lim.rlim_cur = bytes;
  setrlimit(RLIMIT_FSIZE, &lim);
  body();
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
}

TEST_F(SafetensorsTest, FailedWritesNameTheFileAndKeepWhatItHeld) {
  const std::string p = path("w.safetensors");
  save_safetensors(p, {{"x", Tensor::ones({2})}});
  const std::string before = read_bytes(p);
  with_file_size_limit(1000, [&] {
    try {
      save_safetensors(p, {{"big", Tensor::zeros({4000})}});
      ADD_FAILURE() << "a write past the file size limit should fail";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("cannot write " + p + ": write failed"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    }
  });
  fs::create_directories(path("dir.safetensors/inside"));  // a rename cannot replace a non-empty folder
  try {
    save_safetensors(path("dir.safetensors"), {{"x", Tensor::ones({1})}});
    ADD_FAILURE() << "renaming onto a non-empty folder should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write " + path("dir.safetensors") + ": rename"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_bytes(p), before);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"dir.safetensors", "w.safetensors"})) << "temporary files left behind";
}

TEST_F(SafetensorsTest, RemoveStaleTemporariesRemovesOnlyThoseOfTheTarget) {
  const std::string p = path("m.safetensors");
  for (const char* name : {"m.safetensors.tmp.a1B2c3", "m.safetensors.tmp.zzzzzz", "m.safetensors.tmp.short",
                           "n.safetensors.tmp.a1B2c3", "m.safetensors"})
    std::ofstream(path(name)) << "x";
  EXPECT_EQ(remove_stale_temporaries(p), 2);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"m.safetensors", "m.safetensors.tmp.short", "n.safetensors.tmp.a1B2c3"}));
}

TEST_F(SafetensorsTest, SaveRejectsDuplicateAndReservedNames) {
  EXPECT_THROW(save_safetensors(path("d.safetensors"), {{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}}),
               Error);
  EXPECT_THROW(save_safetensors(path("m.safetensors"), {{"__metadata__", Tensor::ones({1})}}), Error);
  EXPECT_THROW(save_safetensors(path("e.safetensors"), {{"", Tensor::ones({1})}}), Error);
  EXPECT_THROW(save_safetensors(path("u.safetensors"), {{"x", Tensor()}}), Error);
  EXPECT_FALSE(fs::exists(path("d.safetensors")));
}

TEST_F(SafetensorsTest, MissingFileIsNamed) {
  expect_load_error(path("absent.safetensors"), "file not found");
}

TEST_F(SafetensorsTest, FileShorterThanTheLengthPrefixIsTruncated) {
  std::ofstream(path("short.safetensors"), std::ios::binary) << "abc";
  expect_load_error(path("short.safetensors"), "truncated: 3 bytes, expected at least 8");
}

TEST_F(SafetensorsTest, HeaderLengthBeyondTheFileIsTruncated) {
  const std::string f = write_raw("hdr.safetensors", "{}      ", "", 4096);
  expect_load_error(f, "truncated: header length 4096 runs past the end");
}

TEST_F(SafetensorsTest, AbsurdHeaderLengthIsRejected) {
  const std::string f = write_raw("huge.safetensors", "{}", "", 1ULL << 40);
  expect_load_error(f, "exceeds the limit");
}

TEST_F(SafetensorsTest, BadJsonIsReported) {
  expect_load_error(write_raw("json.safetensors", R"({"x": {"dtype": "F32",)", ""), "bad JSON header");
  expect_load_error(write_raw("arr.safetensors", "[1, 2]", ""), "must be an object");
  expect_load_error(write_raw("dup.safetensors",
                              R"({"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                              R"("x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                              std::string(4, '\0')),
                    "x: key given twice");
  expect_load_error(write_raw("meta.safetensors", R"({"__metadata__":{"k":1}})", ""),
                    "__metadata__['k'] must be a string");
}

TEST_F(SafetensorsTest, MalformedEntriesAreReported) {
  expect_load_error(write_raw("nooff.safetensors", R"({"x":{"dtype":"F32","shape":[1]}})", ""),
                    "tensor 'x': expected 'data_offsets'");
  expect_load_error(write_raw("negshape.safetensors",
                              R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0')),
                    "shape entries must be non-negative integers");
  expect_load_error(write_raw("extra.safetensors",
                              R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"foo":1}})",
                              std::string(4, '\0')),
                    "unexpected field 'foo'");
  expect_load_error(write_raw("rev.safetensors", R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})",
                              std::string(4, '\0')),
                    "must satisfy begin <= end");
}

TEST_F(SafetensorsTest, UnknownDtypeIsNamed) {
  const std::string f = write_raw("f16.safetensors", R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})",
                                  std::string(4, '\0'));
  expect_load_error(f, "tensor 'h': unknown dtype 'F16' (natgrad reads F32, BF16, F64, I64)");
}

TEST_F(SafetensorsTest, OffsetsThatDisagreeWithTheShapeAreReported) {
  const std::string f = write_raw("mismatch.safetensors",
                                  R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                                  std::string(20, '\0'));
  expect_load_error(f, "tensor 'w': data_offsets [0, 20] span 20 bytes, but dtype F32 and shape [2, 3] need 24");
}

TEST_F(SafetensorsTest, DataBeyondTheFileIsTruncated) {
  const std::string f = write_raw("cut.safetensors", R"({"w":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}})",
                                  std::string(10, '\0'));
  expect_load_error(f, "truncated: tensor 'w' has data_offsets [0, 32] but the data buffer holds only 10 bytes");
}

TEST_F(SafetensorsTest, OverlappingRangesAreReported) {
  const std::string f = write_raw("overlap.safetensors",
                                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  std::string(12, '\0'));
  expect_load_error(f, "data ranges overlap: tensor 'b' [4, 12) starts inside tensor 'a'");
}

TEST_F(SafetensorsTest, HolesAndTrailingBytesAreReported) {
  expect_load_error(write_raw("gap.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                              std::string(8, '\0')),
                    "bytes [0, 4) of the data buffer belong to no tensor");
  expect_load_error(write_raw("tail.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                              std::string(9, '\0')),
                    "trailing bytes");
}

}  // namespace
}  // namespace ng
