// tests/apps/bad_input_test.cpp — the bad-input suite: hostile configs and `--set` overrides, corrupt
// weight and checkpoint files, and corrupt datasets, all generated here from one tiny run and the real
// CIFAR-10 copy. Every case runs the `natgrad` binary under a time limit and asserts the exit code (2 for
// usage and config errors, 1 for runtime failures), that the message names the key or file, that the
// process ended without a signal and without hanging, that the message stays short (values are cut), and
// that no run directory is left behind at a `--out` that a retry would need.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "core/safetensors.h"
#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr int kTimeoutSeconds = 120;      // generous: the suite also runs under AddressSanitizer
constexpr size_t kMaxMessageBytes = 8192;  // a 10 MB value must not give a 10 MB message

struct Bounded {
  int exit_code = -1;  // -1: killed by a signal
  bool timed_out = false;
  std::string output;
};

// Runs natgrad with a time limit (SIGKILL after kTimeoutSeconds).
Bounded run_bounded(const std::vector<std::string>& args) {
  const std::string log = (fs::temp_directory_path() / ("natgrad-bad-input-" + std::to_string(getpid()))).string();
  const pid_t pid = spawn_natgrad(args, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutSeconds);
  int status = 0;
  Bounded r;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = read_file(log);
  std::remove(log.c_str());
  return r;
}

// The common assertions: exit code, no signal, no hang, every name in the message, a short message.
void expect_refused(const Bounded& r, int code, const std::vector<std::string>& names, const std::string& what) {
  EXPECT_FALSE(r.timed_out) << what << ": still running after " << kTimeoutSeconds << " s";
  EXPECT_EQ(r.exit_code, code) << what << "\n" << r.output.substr(0, 2000);
  for (const auto& n : names)
    EXPECT_NE(r.output.find(n), std::string::npos) << what << ": the message should name '" << n << "'\n"
                                                    << r.output.substr(0, 2000);
  EXPECT_LT(r.output.size(), kMaxMessageBytes) << what << ": message of " << r.output.size() << " bytes";
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string deep_array(size_t n) { return repeat("[", n) + repeat("]", n); }

// ---- configs and overrides ------------------------------------------------------------------------

json base_config() {
  json j = tiny_config();
  j["train"]["epochs"] = 1;
  j["data"]["train_subset"] = 128;
  j["data"]["test_subset"] = 64;
  return j;
}

struct ConfigCase {
  std::string what;
  std::function<std::string()> text;  // the config file's contents
  std::vector<std::string> sets;      // --set overrides
  std::vector<std::string> names;     // the message must contain each
};

// A case that edits the valid base config.
ConfigCase edit(std::string what, std::function<void(json&)> fn, std::vector<std::string> names) {
  return {std::move(what), [fn] { json j = base_config(); fn(j); return j.dump(); }, {}, std::move(names)};
}
// A case whose config text is made from the valid config's compact text.
ConfigCase raw(std::string what, std::function<std::string(const std::string&)> fn, std::vector<std::string> names) {
  return {std::move(what), [fn] { return fn(base_config().dump()); }, {}, std::move(names)};
}
// A case that adds overrides to the valid config.
ConfigCase set(std::string what, std::vector<std::string> sets, std::vector<std::string> names) {
  return {std::move(what), [] { return base_config().dump(); }, std::move(sets), std::move(names)};
}

// `text` with the first occurrence of `from` replaced by `to`.
std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

json& layer(json& j, size_t i) { return j["model"]["layers"][i]; }

std::vector<ConfigCase> config_cases() {
  const std::string big(10'000'000, 'x');
  const std::string big_arg(100'000, 'x');  // one argv string may not pass 128 KiB (MAX_ARG_STRLEN)
  return {
      raw("100000 nested arrays under model", [](const std::string& t) { return replace(t, "\"model\":{", "\"model\":" + deep_array(100000) + ",\"m\":{"); }, {"model[0][0]", "nested deeper than 64"}),
      raw("100000 nested objects under data", [](const std::string& t) { return replace(t, "\"data\":{", "\"data\":{\"x\":" + repeat("{\"a\":", 100000) + "1" + repeat("}", 100000) + ","); }, {"data.x.a.a", "nested deeper than 64"}),
      raw("65 nested arrays (one past the limit)", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":" + deep_array(64)); }, {"seed", "nested deeper than 64"}),
      raw("1e400 as the learning rate", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":1e400"); }, {"optimizer.lr", "number out of range: 1e400"}),
      raw("-1e400 as the seed", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":-1e400"); }, {"seed", "number out of range"}),
      raw("duplicate top-level key", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":3,\"seed\":4"); }, {"seed: key given twice"}),
      raw("duplicate nested key", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":0.02,\"lr\":0.1"); }, {"optimizer.lr: key given twice"}),
      raw("empty file", [](const std::string&) { return std::string(); }, {"invalid JSON"}),
      raw("cut in half", [](const std::string& t) { return t.substr(0, t.size() / 2); }, {"invalid JSON"}),
      raw("trailing garbage", [](const std::string& t) { return t + "}x"; }, {"invalid JSON"}),
      raw("a top-level array", [](const std::string& t) { return "[" + t + "]"; }, {"config: expected an object"}),
      raw("a top-level number", [](const std::string&) { return std::string("42"); }, {"config: expected an object"}),
      raw("NaN literal", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":NaN"); }, {"invalid JSON", "optimizer.lr"}),
      raw("invalid UTF-8 in a string", [](const std::string& t) { return replace(t, "\"tiny\"", "\"ti\xff\xfe\""); }, {"invalid JSON", "name"}),
      raw("a comment", [](const std::string& t) { return "// my config\n" + t; }, {"invalid JSON"}),
      edit("a 10 MB name with a slash", [big](json& j) { j["name"] = big + "/"; }, {"name: expected a non-empty name", "…"}),
      edit("a 10 MB unknown key", [big](json& j) { j[big] = 1; }, {"unknown key", "…"}),
      edit("a 10 MB value of the wrong type", [big](json& j) { j["seed"] = big; }, {"seed: expected an integer", "…"}),
      edit("nested arrays where a number belongs", [](json& j) { layer(j, 5)["p"] = json::parse(deep_array(40)); }, {"model.layers[5].p"}),
      edit("batch_size larger than the data with drop_last", [](json& j) { j["train"]["batch_size"] = 1000; }, {"train.batch_size", "128 training images"}),
      edit("one_cycle too short for its steps", [](json& j) { j["schedules"]["lr"] = {{"type", "one_cycle"}, {"pct_start", 0.05}}; }, {"schedules.lr", "4 steps"}),
      edit("device cuda:99", [](json& j) { j["device"] = "cuda:99"; }, {"device", "cuda:99"}),
      edit("device cuda:", [](json& j) { j["device"] = "cuda:"; }, {"device"}),
      edit("device with a 20-digit index", [](json& j) { j["device"] = "cuda:99999999999999999999"; }, {"device"}),
      edit("device empty", [](json& j) { j["device"] = ""; }, {"device"}),
      edit("seed past 2^53", [](json& j) { j["seed"] = (int64_t{1} << 53) + 1; }, {"seed"}),
      edit("zero epochs", [](json& j) { j["train"]["epochs"] = 0; }, {"train.epochs"}),
      edit("a million epochs", [](json& j) { j["train"]["epochs"] = 1000000; }, {"train.epochs"}),
      edit("batch_size 0", [](json& j) { j["train"]["batch_size"] = 0; }, {"train.batch_size"}),
      edit("batch_size as a string", [](json& j) { j["train"]["batch_size"] = "32"; }, {"train.batch_size"}),
      edit("label_smoothing 1.5", [](json& j) { j["train"]["label_smoothing"] = 1.5; }, {"train.label_smoothing"}),
      edit("negative learning rate", [](json& j) { j["optimizer"]["lr"] = -0.1; }, {"optimizer.lr"}),
      edit("learning rate as a word", [](json& j) { j["optimizer"]["lr"] = "fast"; }, {"optimizer.lr"}),
      edit("unknown optimizer", [](json& j) { j["optimizer"]["type"] = "lion"; }, {"optimizer.type"}),
      edit("no optimizer", [](json& j) { j.erase("optimizer"); }, {"optimizer: required key is missing"}),
      edit("no model", [](json& j) { j.erase("model"); }, {"model: required key is missing"}),
      edit("unknown layer type", [](json& j) { layer(j, 2)["type"] = "gelu2"; }, {"model.layers[2].type"}),
      edit("conv with the wrong input channels", [](json& j) { layer(j, 0)["in_channels"] = 4; }, {"model.layers[0]"}),
      edit("linear with the wrong input size", [](json& j) { layer(j, 6)["in_features"] = 100; }, {"model.layers[6]"}),
      edit("data root that does not exist", [](json& j) { j["data"]["root"] = "/nonexistent/natgrad"; }, {"data.root", "/nonexistent/natgrad"}),
      edit("data root that is a file", [](json& j) { j["data"]["root"] = "/dev/null"; }, {"data.root"}),
      edit("unknown dataset", [](json& j) { j["data"]["dataset"] = "mnist"; }, {"data.dataset"}),
      edit("validation split as large as the training split", [](json& j) { j["data"]["validation_size"] = 128; }, {"data.validation_size"}),
      edit("fixed normalisation without mean", [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}}; }, {"data.normalize.mode"}),
      edit("normalisation mean of two numbers", [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}, {"mean", {0.5, 0.5}}, {"std", {0.2, 0.2, 0.2}}}; }, {"data.normalize.mean"}),
      edit("crop padding 100", [](json& j) { j["data"]["augmentation"] = {{"crop_padding", 100}}; }, {"data.augmentation.crop_padding"}),
      edit("unknown schedule type", [](json& j) { j["schedules"]["lr"]["type"] = "exp"; }, {"schedules.lr.type"}),
      edit("schedule for a hyper-parameter the optimizer lacks", [](json& j) { j["schedules"]["beta9"] = {{"type", "cosine"}}; }, {"schedules.beta9"}),
      edit("warm-up longer than the run", [](json& j) { j["schedules"]["lr"]["warmup_epochs"] = 5; }, {"schedules.lr.warmup_epochs"}),
      edit("decreasing milestones", [](json& j) { j["schedules"]["lr"] = {{"type", "multistep"}, {"milestones_epochs", {0.8, 0.2}}}; }, {"schedules.lr.milestones_epochs"}),
      edit("negative checkpoint interval", [](json& j) { j["checkpoint"]["interval_steps"] = -1; }, {"checkpoint.interval_steps"}),
      edit("unknown progress style", [](json& j) { j["log"]["progress"] = "fancy"; }, {"log.progress"}),
      edit("target accuracy 2", [](json& j) { j["eval"]["target_accuracy"] = 2; }, {"eval.target_accuracy"}),
      edit("unknown precision", [](json& j) { j["precision"] = "fp8"; }, {"precision"}),
      edit("5000 threads", [](json& j) { j["threads"] = 5000; }, {"threads"}),
      edit("name with a slash", [](json& j) { j["name"] = "a/b"; }, {"name"}),
      edit("empty name", [](json& j) { j["name"] = ""; }, {"name"}),
      edit("null where an object belongs", [](json& j) { j["train"] = nullptr; }, {"train: expected an object"}),
      edit("layers that are not a list", [](json& j) { j["model"]["layers"] = "conv"; }, {"model.layers"}),
      set("--set 1e400", {"optimizer.lr=1e400"}, {"--set optimizer.lr=1e400", "number out of range"}),
      set("--set 60000 nested arrays", {"model=" + deep_array(60000)}, {"--set model=[[[", "nested deeper than 64"}),
      set("--set a 100-level key path", {repeat("a.", 100) + "b=1"}, {"--set a.a.a", "key path deeper than 64"}),
      set("--set without =", {"noequals"}, {"--set noequals: expected path.to.key=value"}),
      set("--set without a key", {"=5"}, {"--set =5: expected path.to.key=value"}),
      set("--set with an empty path segment", {"optimizer..lr=1"}, {"empty key in path"}),
      set("--set inside a number", {"seed.x=1"}, {"'x' is inside a non-object"}),
      set("--set with a duplicate key", {"optimizer={\"type\":\"sgd\",\"lr\":1,\"lr\":2}"}, {"--set optimizer=", "lr: key given twice"}),
      set("--set batch_size past the data", {"train.batch_size=100000"}, {"train.batch_size"}),
      set("--set a word as the learning rate", {"optimizer.lr=fast"}, {"optimizer.lr", "\"fast\""}),
      set("--set device cuda:99", {"device=cuda:99"}, {"device"}),
      set("--set an unknown block", {"extra.key=1"}, {"extra: unknown key"}),
      set("--set a 100 kB value", {"name=" + big_arg + "/"}, {"name", "…"}),
      set("--set epochs 1e400", {"train.epochs=1e400"}, {"train.epochs", "number out of range"}),
  };
}

TEST(BadInput, ConfigsAndOverridesExit2NamingTheKeyAndLeaveNoRunDirectory) {
  const std::vector<ConfigCase> cases = config_cases();
  ASSERT_GE(cases.size(), 60u);
  TempDir dir;
  const std::string good = write_config(dir / "good.json", base_config());
  ASSERT_EQ(run_bounded({"validate", good}).exit_code, 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConfigCase& c = cases[i];
    const std::string path = dir / ("case" + std::to_string(i) + ".json");
    write_file(path, c.text());
    std::vector<std::string> validate = {"validate", path}, train = {"train", path, "--out", dir / "run"};
    for (const auto& s : c.sets) {
      for (auto* args : {&validate, &train}) args->insert(args->end(), {"--set", s});
    }
    expect_refused(run_bounded(validate), 2, c.names, "validate: " + c.what);
    expect_refused(run_bounded(train), 2, c.names, "train: " + c.what);
    EXPECT_FALSE(fs::exists(dir / "run")) << c.what << ": train left a run directory";
    fs::remove_all(dir / "run");
  }
}

TEST(BadInput, AFolderOrAMissingFileAsTheConfigIsNamed) {
  TempDir dir;
  expect_refused(run_bounded({"validate", dir.path()}), 2, {dir.path(), "is a folder"}, "folder as config");
  expect_refused(run_bounded({"train", dir.path(), "--out", dir / "run"}), 2, {dir.path(), "is a folder"},
                 "folder as config (train)");
  expect_refused(run_bounded({"validate", dir / "none.json"}), 2, {"none.json: cannot open"}, "missing config");
}

// ---- weight and checkpoint files --------------------------------------------------------------------

// A corrupt file made from a good one (its path); the helpers below build these from smaller edits.
using Corrupt = std::function<std::string(const std::string& good)>;

struct RawFile {
  std::string header, data;  // the JSON header text and the data buffer
};

RawFile split(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  return {bytes.substr(8, n), bytes.substr(8 + n)};
}

std::string length_prefix(uint64_t n) {
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[static_cast<size_t>(i)] = static_cast<char>(n >> (8 * i));
  return len;
}

std::string join(const RawFile& f) { return length_prefix(f.header.size()) + f.header + f.data; }

Corrupt bytes(std::function<void(std::string&)> fn) {
  return [fn](const std::string& good) { std::string b = read_file(good); fn(b); return b; };
}
Corrupt header_text(std::function<void(std::string&)> fn) {
  return [fn](const std::string& good) { RawFile f = split(read_file(good)); fn(f.header); return join(f); };
}
Corrupt header(std::function<void(ordered_json&)> fn) {
  return header_text([fn](std::string& text) { ordered_json h = ordered_json::parse(text); fn(h); text = h.dump(); });
}
Corrupt tensors(std::function<void(SafetensorsFile&)> fn) {
  return [fn](const std::string& good) {
    SafetensorsFile f = load_safetensors(good);
    fn(f);
    const std::string tmp = good + ".edited";
    save_safetensors(tmp, f.tensors, f.metadata);
    const std::string b = read_file(tmp);
    fs::remove(tmp);
    return b;
  };
}
Corrupt metadata(const std::string& key, std::function<void(json&)> fn) {
  return tensors([key, fn](SafetensorsFile& f) { json j = json::parse(f.metadata.at(key)); fn(j); f.metadata[key] = j.dump(); });
}
Corrupt train_meta(std::function<void(json&)> fn) { return metadata("natgrad.train", fn); }
Corrupt opt_meta(std::function<void(json&)> fn) { return metadata("natgrad.optimizer", fn); }
Corrupt metadata_text(const std::string& key, std::string text) {
  return tensors([key, text](SafetensorsFile& f) { f.metadata[key] = text; });
}

Tensor& tensor_named(SafetensorsFile& f, const std::string& name) {
  for (auto& [n, t] : f.tensors)
    if (n == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return f.tensors.front().second;
}
Corrupt set_value(const std::string& name, float v) {
  return tensors([name, v](SafetensorsFile& f) { static_cast<float*>(tensor_named(f, name).raw_data())[1] = v; });
}
Corrupt drop(std::function<bool(const std::string&)> which) {
  return tensors([which](SafetensorsFile& f) { std::erase_if(f.tensors, [&](const auto& nt) { return which(nt.first); }); });
}
Corrupt add(const std::string& name, Tensor t) {
  return tensors([name, t](SafetensorsFile& f) { f.tensors.emplace_back(name, t); });
}
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The first header entry inserted again in front of the header (a tensor named twice).
void duplicate_first_entry(std::string& text) {
  const ordered_json h = ordered_json::parse(text);
  const auto first = h.begin();
  text = "{" + json(first.key()).dump() + ":" + first.value().dump() + "," + text.substr(1);
}

struct FileCase {
  std::string what;
  Corrupt make;
  std::vector<std::string> names;  // besides the file, which every message must name
};

std::vector<FileCase> weight_cases() {
  const std::string big(10'000'000, 'w');
  auto entry = [](const char* name) { return [name](ordered_json& h) -> ordered_json& { return h[name]; }; };
  const auto w6 = entry("6.weight");
  return {
      {"an empty file", bytes([](std::string& b) { b.clear(); }), {"truncated"}},
      {"5 bytes", bytes([](std::string& b) { b.resize(5); }), {"truncated"}},
      {"header length 2^63", bytes([](std::string& b) { b.replace(0, 8, length_prefix(uint64_t{1} << 63)); }), {"header length"}},
      {"header length past the end", bytes([](std::string& b) { b.replace(0, 8, length_prefix(b.size())); }), {"runs past the end"}},
      {"header length 0", bytes([](std::string& b) { b.replace(0, 8, length_prefix(0)); }), {"bad JSON header"}},
      {"data cut short", bytes([](std::string& b) { b.resize(b.size() - 100); }), {"truncated"}},
      {"trailing bytes", bytes([](std::string& b) { b += std::string(8, '\0'); }), {"trailing bytes"}},
      {"header of garbage", header_text([](std::string& t) { t = std::string(t.size(), '#'); }), {"bad JSON header"}},
      {"header is an array", header_text([](std::string& t) { t = "[1,2]"; }), {"must be an object"}},
      {"100000 nested arrays as a tensor entry", header_text([](std::string& t) { t = "{\"deep\":" + deep_array(100000) + "," + t.substr(1); }), {"deep[0][0]", "nested deeper than 64"}},
      {"100000 nested arrays in __metadata__", header_text([](std::string& t) { t = "{\"__metadata__\":{\"a\":" + deep_array(100000) + "}," + t.substr(1); }), {"__metadata__.a[0]", "nested deeper than 64"}},
      {"100000 nested arrays in data_offsets", header_text([](std::string& t) { t = replace(t, "\"data_offsets\":[", "\"data_offsets\":[" + deep_array(100000) + ","); }), {"data_offsets[0][0]", "nested deeper than 64"}},
      {"a tensor named twice", header_text(duplicate_first_entry), {"key given twice"}},
      {"a 10 MB tensor name", header([big](ordered_json& h) { h[big] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {0, 0}}}; }), {"unexpected key 'www", "…"}},
      {"unknown dtype", header([w6](ordered_json& h) { w6(h)["dtype"] = "F8"; }), {"6.weight", "unknown dtype 'F8'"}},
      {"dtype of another size", header([w6](ordered_json& h) { w6(h)["dtype"] = "BF16"; }), {"6.weight", "need"}},
      {"shape transposed", header([w6](ordered_json& h) { w6(h)["shape"] = {512, 10}; }), {"6.weight", "shape mismatch"}},
      {"negative shape", header([w6](ordered_json& h) { w6(h)["shape"] = {-10, 512}; }), {"6.weight", "non-negative integers"}},
      {"shape that overflows", header([w6](ordered_json& h) { w6(h)["shape"] = {uint64_t{1} << 62, uint64_t{1} << 62}; }), {"6.weight", "overflows"}},
      {"shape as a string", header([w6](ordered_json& h) { w6(h)["shape"] = "10x512"; }), {"6.weight", "'shape'"}},
      {"data_offsets past the data", header([w6](ordered_json& h) { w6(h)["data_offsets"] = {0, 20480}; w6(h)["data_offsets"][1] = uint64_t{1} << 40; }), {"6.weight"}},
      {"data_offsets reversed", header([w6](ordered_json& h) { auto o = w6(h)["data_offsets"]; w6(h)["data_offsets"] = {o[1], o[0]}; }), {"6.weight", "begin <= end"}},
      {"three data_offsets", header([w6](ordered_json& h) { w6(h)["data_offsets"].push_back(0); }), {"6.weight", "data_offsets"}},
      {"negative data_offsets", header([w6](ordered_json& h) { w6(h)["data_offsets"][0] = -4; }), {"6.weight", "data_offsets"}},
      {"overlapping data", header([w6](ordered_json& h) { h["6.bias"]["data_offsets"] = {0, 40}; }), {"overlap"}},
      {"an extra field in an entry", header([w6](ordered_json& h) { w6(h)["scale"] = 2; }), {"6.weight", "unexpected field 'scale'"}},
      {"an entry that is a number", header([w6](ordered_json& h) { w6(h) = 7; }), {"6.weight", "expected an object"}},
      {"__metadata__ with a number", header([](ordered_json& h) { h["__metadata__"] = {{"format", 1}}; }), {"__metadata__['format']"}},
      {"__metadata__ as an array", header([](ordered_json& h) { h["__metadata__"] = {1, 2}; }), {"__metadata__ must be an object"}},
      {"a tensor missing", drop([](const std::string& n) { return n == "6.bias"; }), {"missing key '6.bias'"}},
      {"no tensors at all", drop([](const std::string&) { return true; }), {"missing key"}},
      {"an extra tensor", add("7.weight", Tensor::zeros({2})), {"unexpected key '7.weight'"}},
      {"NaN in a weight", set_value("0.weight", std::nanf("")), {"tensor '0.weight' holds a non-finite value"}},
      {"+Inf in a bias", set_value("6.bias", INFINITY), {"tensor '6.bias' holds a non-finite value"}},
      {"-Inf in a BatchNorm statistic", set_value("1.running_var", -INFINITY), {"tensor '1.running_var' holds a non-finite value"}},
      {"an integer tensor for a weight", tensors([](SafetensorsFile& f) { tensor_named(f, "0.bias") = Tensor::zeros({8}, DType::i64); }), {"dtype mismatch for '0.bias'"}},
      {"the weights of another model", tensors([](SafetensorsFile& f) { tensor_named(f, "0.weight") = Tensor::zeros({4, 3, 3, 3}); }), {"shape mismatch for '0.weight'"}},
  };
}

std::vector<FileCase> checkpoint_cases() {
  auto is_opt = [](const std::string& n) { return starts_with(n, "optimizer."); };
  return {
      {"every optimizer tensor removed", drop(is_opt), {"optimizer state: tensor 'optimizer.", "is missing"}},
      {"one optimizer tensor removed", tensors([is_opt](SafetensorsFile& f) { f.tensors.erase(std::find_if(f.tensors.begin(), f.tensors.end(), [&](const auto& nt) { return is_opt(nt.first); })); }), {"is missing"}},
      {"a model tensor removed", drop([](const std::string& n) { return n == "model.6.bias"; }), {"missing key '6.bias'"}},
      {"an unknown tensor", add("junk", Tensor::zeros({1})), {"unknown tensor 'junk'"}},
      {"an unknown optimizer tensor", add("optimizer.state.bogus.momentum_buffer", Tensor::zeros({1})), {"unknown tensor 'optimizer.state.bogus.momentum_buffer'"}},
      {"NaN in a model weight", set_value("model.0.weight", std::nanf("")), {"tensor 'model.0.weight' holds a non-finite value"}},
      {"Inf in the optimizer state", tensors([is_opt](SafetensorsFile& f) { for (auto& [n, t] : f.tensors) if (is_opt(n) && t.dtype() == DType::f32 && t.numel() > 1) { static_cast<float*>(t.raw_data())[1] = INFINITY; return; } }), {"holds a non-finite value"}},
      {"epoch 10^9", train_meta([](json& j) { j["state"]["epoch"] = 1000000000; }), {"state.epoch = 1000000000"}},
      {"global_step -100", train_meta([](json& j) { j["state"]["global_step"] = -100; }), {"state.global_step", "-100"}},
      {"epoch 2^64 - 1", train_meta([](json& j) { j["state"]["epoch"] = UINT64_MAX; }), {"state.epoch", "18446744073709551615"}},
      {"global_step one too many", train_meta([](json& j) { j["state"]["global_step"] = j["state"]["global_step"].get<int64_t>() + 1; }), {"state.global_step"}},
      {"epoch_step past the epoch", train_meta([](json& j) { j["state"]["epoch"] = 0; j["state"]["epoch_step"] = 99; }), {"state.epoch_step = 99"}},
      {"elapsed as a word", train_meta([](json& j) { j["state"]["elapsed"] = "soon"; }), {"state.elapsed"}},
      {"no state", train_meta([](json& j) { j.erase("state"); }), {"field 'state' is missing"}},
      {"no generators", train_meta([](json& j) { j.erase("generators"); }), {"field 'generators' is missing"}},
      {"a generator offset as a string", train_meta([](json& j) { for (auto& g : j["generators"]) g["offset"] = "7"; }), {".offset'"}},
      {"another format version", train_meta([](json& j) { j["format_version"] = 7; }), {"format version 7"}},
      {"another config", train_meta([](json& j) { j["config"]["seed"] = 99; }), {"another config"}},
      {"train metadata that is not JSON", metadata_text("natgrad.train", "{oops"), {"natgrad.train", "not valid JSON"}},
      {"train metadata nested 100000 deep", metadata_text("natgrad.train", deep_array(100000)), {"natgrad.train", "nested deeper than 64"}},
      {"a schedule without name", opt_meta([](json& j) { j["schedules"] = json::parse(R"([{"base": []}])"); }), {"schedules[0].name"}},
      {"a schedule with an empty base", opt_meta([](json& j) { j["schedules"][0]["base"] = json::array(); }), {"schedules[0].base"}},
      {"a schedule of an unknown hyper-parameter", opt_meta([](json& j) { j["schedules"][0]["name"] = "nope"; }), {"schedules[0].name", "nope"}},
      {"a hyper-parameter as a string", opt_meta([](json& j) { j["groups"][0]["hypers"]["lr"] = "x"; }), {"groups[0].hypers.lr"}},
      {"a hyper-parameter with an empty name", opt_meta([](json& j) { j["groups"][0]["hypers"][""] = 1; }), {"groups[0].hypers"}},
      {"groups not an array", opt_meta([](json& j) { j["groups"] = 3; }), {"field 'groups'"}},
      {"format version as a string", opt_meta([](json& j) { j["format_version"] = "2"; }), {"field 'format_version'"}},
      {"no tensor list", opt_meta([](json& j) { j.erase("tensors"); }), {"field 'tensors' is missing"}},
      {"a negative step", opt_meta([](json& j) { j["step"] = -1; }), {"field 'step'"}},
      {"grad_scale 0", opt_meta([](json& j) { j["grad_scale"] = 0; }), {"field 'grad_scale'"}},
      {"no prev_grad_scale", opt_meta([](json& j) { j["extra"].erase("prev_grad_scale"); }), {"extra.prev_grad_scale"}},
      {"another optimizer type", opt_meta([](json& j) { j["type"] = "sgd"; }), {"saved by a 'sgd' optimizer"}},
      {"optimizer metadata that is not JSON", metadata_text("natgrad.optimizer", "[1,"), {"natgrad.optimizer", "not valid JSON"}},
      {"no optimizer metadata", tensors([](SafetensorsFile& f) { f.metadata.erase("natgrad.optimizer"); }), {"not a natgrad checkpoint"}},
      {"a truncated checkpoint", bytes([](std::string& b) { b.resize(b.size() / 2); }), {"truncated"}},
  };
}

// One tiny trained run shared by the file cases: its final weights and last checkpoint get corrupted.
class BadFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    json j = base_config();
    j["checkpoint"]["interval_steps"] = 3;
    write_config(*dir_ / "tiny.json", j);
    const Bounded r = run_bounded({"train", *dir_ / "tiny.json", "--out", *dir_ / "run"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string run() { return *dir_ / "run"; }
  static TempDir* dir_;
};
TempDir* BadFiles::dir_ = nullptr;

TEST_F(BadFiles, CorruptWeightsFailEvalWithExit1NamingTheFile) {
  const std::vector<FileCase> cases = weight_cases();
  ASSERT_GE(cases.size(), 30u);
  TempDir dir;
  const std::string good = run() + "/final.safetensors", config = run() + "/config.json";
  ASSERT_EQ(run_bounded({"eval", good, "--config", config}).exit_code, 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string bad = dir / ("weights" + std::to_string(i) + ".safetensors");
    write_file(bad, cases[i].make(good));
    std::vector<std::string> names = cases[i].names;
    names.push_back(bad);
    expect_refused(run_bounded({"eval", bad, "--config", config}), 1, names, "eval: " + cases[i].what);
  }
}

TEST_F(BadFiles, InitWithNaNWeightsFailsBeforeTrainingAndLeavesNoRunDirectory) {
  TempDir dir;
  const std::string bad = dir / "nan.safetensors";
  write_file(bad, set_value("0.weight", std::nanf(""))(run() + "/final.safetensors"));
  const Bounded r = run_bounded({"train", *dir_ / "tiny.json", "--init", bad, "--out", dir / "out"});
  expect_refused(r, 1, {bad, "tensor '0.weight' holds a non-finite value"}, "train --init with NaN weights");
  EXPECT_EQ(r.output.find("step "), std::string::npos) << r.output;  // not a single step trained
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(BadFiles, CorruptCheckpointsRefuseToResumeNamingTheCheckpoint) {
  const std::vector<FileCase> cases = checkpoint_cases();
  ASSERT_GE(cases.size(), 30u);
  TempDir dir;
  const std::string good = run() + "/checkpoints/last.safetensors";
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string copy = dir / ("run" + std::to_string(i));
    fs::copy(run(), copy, fs::copy_options::recursive);
    const std::string ckpt = copy + "/checkpoints/last.safetensors";
    write_file(ckpt, cases[i].make(good));
    std::vector<std::string> names = cases[i].names;
    names.push_back(ckpt);
    expect_refused(run_bounded({"train", "--resume", copy}), 1, names, "resume: " + cases[i].what);
  }
}

TEST_F(BadFiles, ACheckpointIsAlsoRefusedByEval) {
  TempDir dir;
  const std::string bad = dir / "ckpt.safetensors";
  write_file(bad, set_value("model.0.weight", std::nanf(""))(run() + "/checkpoints/last.safetensors"));
  expect_refused(run_bounded({"eval", bad, "--config", run() + "/config.json"}), 1,
                 {bad, "tensor '0.weight' holds a non-finite value"}, "eval of a checkpoint with NaN");
}

TEST_F(BadFiles, NaNResultsInTheMetricsGiveASummaryWithNulls) {
  // The run's last epoch line with NaN test results (written as null; padded to keep the byte count the
  // checkpoint recorded); resuming the completed run rewrites summary.json from it.
  TempDir dir;
  const std::string copy = dir / "run";
  fs::copy(run(), copy, fs::copy_options::recursive);
  std::string metrics = read_file(copy + "/metrics.jsonl");
  for (const char* key : {"\"test_accuracy\":", "\"test_loss\":"}) {
    const size_t at = metrics.rfind(key) + std::string(key).size();
    const size_t end = metrics.find_first_of(",}", at);
    ASSERT_GE(end - at, 4u);
    metrics.replace(at, end - at, "null" + std::string(end - at - 4, ' '));
  }
  write_file(copy + "/metrics.jsonl", metrics);
  fs::remove(copy + "/summary.json");
  const Bounded r = run_bounded({"train", "--resume", copy});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json sum = json::parse(read_file(copy + "/summary.json"));
  EXPECT_TRUE(sum["final_test_accuracy"].is_null()) << sum.dump();
  EXPECT_TRUE(sum["final_test_loss"].is_null()) << sum.dump();
  EXPECT_TRUE(fs::exists(copy + "/report.html"));
}

// ---- datasets ---------------------------------------------------------------------------------------

// A w×h 24-bit BMP of one colour (rows bottom-up, padded to 4 bytes).
std::string bmp(int w, int h, unsigned char shade) {
  const int row = (3 * w + 3) / 4 * 4;
  std::string b = "BM";
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) b += static_cast<char>(v >> (8 * i)); };
  auto u16 = [&](uint16_t v) { b += static_cast<char>(v & 255); b += static_cast<char>(v >> 8); };
  u32(static_cast<uint32_t>(54 + row * h)); u32(0); u32(54);
  u32(40); u32(static_cast<uint32_t>(w)); u32(static_cast<uint32_t>(h)); u16(1); u16(24); u32(0);
  u32(static_cast<uint32_t>(row * h)); u32(2835); u32(2835); u32(0); u32(0);
  for (int y = 0; y < h; ++y) b += std::string(static_cast<size_t>(3 * w), static_cast<char>(shade)) + std::string(static_cast<size_t>(row - 3 * w), '\0');
  return b;
}

void write_at(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  write_file(p.string(), bytes);
}

// CIFAR-10 root whose files link to the real copy; a case then replaces one of them.
void link_real_cifar(const fs::path& root) {
  const fs::path real = fs::path(cifar_root()) / "cifar-10-batches-bin", dir = root / "cifar-10-batches-bin";
  fs::create_directories(dir);
  for (const char* f : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                        "data_batch_5.bin", "test_batch.bin", "batches.meta.txt"})
    fs::create_symlink(real / f, dir / f);
}

// An image folder of 4×4 images, two classes: 3 training and 1 test image each.
void write_image_folder(const fs::path& root) {
  for (const char* c : {"a", "b"}) {
    for (int i = 0; i < 3; ++i) write_at(root / "train" / c / (std::to_string(i) + ".bmp"), bmp(4, 4, static_cast<unsigned char>(40 * i)));
    write_at(root / "test" / c / "0.bmp", bmp(4, 4, 100));
  }
}

json image_folder_config(const fs::path& root) {
  json j = base_config();
  j["data"] = {{"dataset", "image_folder"}, {"root", root.string()}, {"augmentation", {{"enabled", false}}}};
  j["model"] = {{"type", "sequential"}, {"layers", {{{"type", "flatten"}}, {{"type", "linear"}, {"in_features", 48}, {"out_features", 2}}}}};
  j["train"]["batch_size"] = 2;
  j["schedules"] = json::object();
  return j;
}

struct DataCase {
  std::string what;
  bool cifar;                                 // CIFAR-10 (else an image folder)
  std::function<void(const fs::path&)> spoil;  // edits the dataset root
  int exit_code;                              // 2: refused by validate and train; 1: by train only
  std::vector<std::string> names;
};

std::string cifar_records(int64_t n) {
  std::string b(static_cast<size_t>(n) * 3073, '\0');
  return b;
}

std::vector<DataCase> data_cases() {
  auto batch = [](const fs::path& root, const char* f) { return root / "cifar-10-batches-bin" / f; };
  auto replace_file = [batch](const char* f, std::function<std::string()> bytes) {
    return [batch, f, bytes](const fs::path& root) { fs::remove(batch(root, f)); write_at(batch(root, f), bytes()); };
  };
  auto with_label = [](int64_t records, unsigned char label) { return [records, label] { std::string b = cifar_records(records); b[0] = static_cast<char>(label); return b; }; };
  return {
      {"zero-byte data_batch_1.bin", true, replace_file("data_batch_1.bin", [] { return std::string(); }), 2, {"data_batch_1.bin: holds 0 records", "expected exactly 10000"}},
      {"data_batch_1.bin of 100 records", true, replace_file("data_batch_1.bin", [] { return cifar_records(100); }), 2, {"data_batch_1.bin: holds 100 records"}},
      {"a partial record", true, replace_file("data_batch_2.bin", [] { return cifar_records(2) + "12345"; }), 2, {"data_batch_2.bin", "not a whole number"}},
      {"test_batch.bin one record short", true, replace_file("test_batch.bin", [] { return cifar_records(9999); }), 2, {"test_batch.bin: holds 9999 records"}},
      {"data_batch_5.bin one record long", true, replace_file("data_batch_5.bin", [] { return cifar_records(10001); }), 2, {"data_batch_5.bin: holds 10001 records"}},
      {"data_batch_3.bin missing", true, [batch](const fs::path& r) { fs::remove(batch(r, "data_batch_3.bin")); }, 2, {"data_batch_3.bin is missing", "natgrad data fetch"}},
      {"data_batch_2.bin is a folder", true, [batch](const fs::path& r) { fs::remove(batch(r, "data_batch_2.bin")); fs::create_directory(batch(r, "data_batch_2.bin")); }, 2, {"data_batch_2.bin is missing"}},
      {"data_batch_4.bin a dangling link", true, [batch](const fs::path& r) { fs::remove(batch(r, "data_batch_4.bin")); fs::create_symlink("/nonexistent/batch", batch(r, "data_batch_4.bin")); }, 2, {"data_batch_4.bin is missing"}},
      {"batches.meta.txt missing", true, [batch](const fs::path& r) { fs::remove(batch(r, "batches.meta.txt")); }, 2, {"batches.meta.txt"}},
      {"batches.meta.txt with 9 classes", true, replace_file("batches.meta.txt", [] { return std::string("a\nb\nc\nd\ne\nf\ng\nh\ni\n"); }), 2, {"batches.meta.txt lists 9 class names"}},
      {"cifar-10-batches-bin is a file", true, [](const fs::path& r) { fs::remove_all(r / "cifar-10-batches-bin"); write_at(r / "cifar-10-batches-bin", "x"); }, 2, {"data.root"}},
      {"label 10 in a training batch", true, replace_file("data_batch_1.bin", with_label(10000, 10)), 1, {"data_batch_1.bin: record 0 at byte offset 0 has label 10"}},
      {"label 255 in the test batch", true, replace_file("test_batch.bin", with_label(10000, 255)), 1, {"test_batch.bin: record 0 at byte offset 0 has label 255"}},
      {"no train folder", false, [](const fs::path& r) { fs::remove_all(r / "train"); }, 2, {"data.root", "no train/ folder"}},
      {"no test folder", false, [](const fs::path& r) { fs::remove_all(r / "test"); }, 2, {"data.root", "no test/ folder"}},
      {"train folder without classes", false, [](const fs::path& r) { fs::remove_all(r / "train"); fs::create_directories(r / "train"); }, 2, {"data.root", "has no class subfolders"}},
      {"an empty class folder", false, [](const fs::path& r) { fs::remove_all(r / "train" / "b"); fs::create_directories(r / "train" / "b"); }, 2, {"data.root", "train/b holds no"}},
      {"a garbage image", false, [](const fs::path& r) { write_at(r / "train" / "a" / "9.png", "not a png at all"); }, 2, {"data.root", "cannot decode", "train/a/9.png"}},
      {"a zero-byte image", false, [](const fs::path& r) { write_at(r / "train" / "b" / "9.bmp", ""); }, 2, {"cannot decode", "train/b/9.bmp"}},
      {"an image cut inside its header", false, [](const fs::path& r) { write_at(r / "train" / "a" / "1.bmp", bmp(4, 4, 1).substr(0, 30)); }, 2, {"1.bmp is truncated (it ends inside its header)", "train/a/1.bmp"}},
      {"an image of another size", false, [](const fs::path& r) { write_at(r / "train" / "b" / "2.bmp", bmp(5, 4, 1)); }, 2, {"train/b/2.bmp is 5x4", "one size"}},
      {"a text file named .jpg", false, [](const fs::path& r) { write_at(r / "test" / "a" / "x.jpg", "hello"); }, 2, {"cannot decode", "test/a/x.jpg"}},
      {"test classes other than train's", false, [](const fs::path& r) { fs::rename(r / "test" / "b", r / "test" / "c"); }, 2, {"data.root", "other class folders"}},
      {"a test image of another size", false, [](const fs::path& r) { write_at(r / "test" / "b" / "0.bmp", bmp(8, 8, 1)); }, 2, {"test/b/0.bmp is 8x8"}},
  };
}

TEST(BadInput, CorruptDatasetsAreRefusedNamingTheFileAndLeaveNoRunDirectory) {
  const std::vector<DataCase> cases = data_cases();
  ASSERT_GE(cases.size(), 20u);
  TempDir dir;
  for (bool cifar : {true, false}) {  // the untouched datasets pass
    const fs::path root = fs::path(dir.path()) / (cifar ? "good-cifar" : "good-folder");
    cifar ? link_real_cifar(root) : write_image_folder(root);
    json j = cifar ? base_config() : image_folder_config(root);
    if (cifar) j["data"]["root"] = root.string();
    const Bounded r = run_bounded({"validate", write_config(dir / "good.json", j)});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const DataCase& c = cases[i];
    const fs::path root = fs::path(dir.path()) / ("data" + std::to_string(i));
    c.cifar ? link_real_cifar(root) : write_image_folder(root);
    c.spoil(root);
    json j = c.cifar ? base_config() : image_folder_config(root);
    if (c.cifar) j["data"]["root"] = root.string();
    const std::string config = write_config(dir / ("data" + std::to_string(i) + ".json"), j);
    if (c.exit_code == 2) expect_refused(run_bounded({"validate", config}), 2, c.names, "validate: " + c.what);
    expect_refused(run_bounded({"train", config, "--out", dir / "run"}), c.exit_code, c.names, "train: " + c.what);
    EXPECT_FALSE(fs::exists(dir / "run")) << c.what << ": train left a run directory";
    fs::remove_all(dir / "run");
    fs::remove_all(root);
  }
}

TEST(BadInput, DataInspectRefusesShortBatchFilesAndFlagsUnofficialOnes) {
  TempDir dir;
  const fs::path root = fs::path(dir.path()) / "cifar";
  link_real_cifar(root);
  const fs::path batch = root / "cifar-10-batches-bin" / "data_batch_1.bin";
  fs::remove(batch);
  write_at(batch, "");
  expect_refused(run_bounded({"data", "inspect", root.string()}), 1, {"data_batch_1.bin: holds 0 records"},
                 "inspect of a zero-byte batch");
  write_at(batch, cifar_records(10000));  // the right size, other bytes
  const Bounded r = run_bounded({"data", "inspect", root.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("checksums: NOT the official CIFAR-10 files: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("data_batch_1.bin has SHA-256"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ng::app::testing
