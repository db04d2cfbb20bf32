// Model::load: read the files, bring their tensors to the official naming, detect the
// architecture from names and shapes, and build the model.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "io/readers.h"
#include "models/architectures.h"
#include "models/layouts.h"
#include "util/error.h"

namespace rwkv {

std::string_view arch_name(Arch a) {
  switch (a) {
    case Arch::Rwkv5: return "rwkv5";
    case Arch::Rwkv6: return "rwkv6";
    case Arch::Rwkv7: return "rwkv7";
    case Arch::Rwkv7a: return "rwkv7a";
    case Arch::Rwkv7b: return "rwkv7b";
  }
  return "unknown";
}

bool parse_arch(std::string_view name, Arch* out) {
  for (Arch a : {Arch::Rwkv5, Arch::Rwkv6, Arch::Rwkv7, Arch::Rwkv7a, Arch::Rwkv7b}) {
    if (arch_name(a) == name) {
      *out = a;
      return true;
    }
  }
  return false;
}

int64_t count_layers(const TensorMap& t) {
  std::set<int64_t> layers;
  for (const std::string& name : t.names()) {
    if (name.rfind("blocks.", 0) != 0) continue;
    const size_t dot = name.find('.', 7);
    if (dot == std::string::npos) continue;
    const std::string num = name.substr(7, dot - 7);
    if (num.empty() || !std::all_of(num.begin(), num.end(), ::isdigit) || num.size() > 6) continue;
    layers.insert(std::stoll(num));
  }
  if (layers.empty()) throw Error("{}: no blocks.N.* tensors: not an RWKV checkpoint in a layout we know", t.source());
  const int64_t n = *layers.rbegin() + 1;
  if (static_cast<int64_t>(layers.size()) != n)
    for (int64_t i = 0; i < n; ++i)
      if (!layers.count(i)) throw Error("{}: layer {} is missing (found blocks up to {})", t.source(), i, n - 1);
  return n;
}

namespace {

// What the tensor names and shapes say about the RWKV version (after normalize_layout).
struct Detected {
  std::optional<Arch> arch;  // a version we run (7a/7b are refined by rwkv7_hparams)
  bool known = false;        // a version we recognise, supported or not
  std::string what;          // the evidence, or why it cannot run
};

std::string shape_of(const TensorMap& t, const std::string& name) { return shape_str(t.get(name).shape); }

// The rules, in order (docs/FORMATS.md): r_k -> 7; time_maa_x -> 6; ln_x + gate + (H, S) decay
// -> 5.2; ln_x alone -> 5.0; ln_x + gate + a per-head decay -> 5.1; time_decay/time_first -> 4.
Detected detect_arch(const TensorMap& t) {
  const std::string a = "blocks.0.att.";
  if (t.contains(a + "r_k")) return {Arch::Rwkv7, true, "the tensors are those of RWKV-7 (blocks.0.att.r_k)"};
  if (t.contains(a + "time_maa_x"))
    return {Arch::Rwkv6, true, "the tensors are those of RWKV-6 (blocks.0.att.time_maa_x)"};
  if (t.contains(a + "ln_x.weight")) {
    if (!t.contains(a + "gate.weight"))
      return {std::nullopt, true,
              "this is an RWKV-5.0 checkpoint (blocks.0.att.ln_x but no blocks.0.att.gate.weight); RWKV-5.0 is not "
              "supported (RWKV-5.2, 6 and 7 are)"};
    const std::string decay = t.contains(a + "time_decay_factor") ? a + "time_decay_factor" : a + "time_decay";
    if (!t.contains(decay))
      return {std::nullopt, true, "an RWKV-5 checkpoint (blocks.0.att.ln_x) without blocks.0.att.time_decay"};
    const Shape& s = t.get(decay).shape;
    if (s.size() == 2 && s[1] > 1)
      return {Arch::Rwkv5, true,
              fmt::format("the tensors are those of RWKV-5.2 (blocks.0.att.ln_x, gate, {} {})", decay, shape_str(s))};
    return {std::nullopt, true,
            fmt::format("this is an RWKV-5.1 checkpoint ({} has shape {}, one decay per head; RWKV-5.2 has (heads, "
                        "head_size)); RWKV-5.1 is not supported (RWKV-5.2, 6 and 7 are)",
                        decay, shape_of(t, decay))};
  }
  if (t.contains(a + "time_first") || t.contains(a + "time_decay"))
    return {std::nullopt, true,
            "this is an RWKV-4 checkpoint (blocks.0.att.time_decay and no ln_x); RWKV-4 is not supported (RWKV-5.2, 6 "
            "and 7 are)"};
  return {std::nullopt, false,
          "cannot tell the RWKV version from the tensor names (no blocks.0.att.r_k, time_maa_x or ln_x.weight)"};
}

bool same_family(Arch a, Arch b) {
  auto family = [](Arch x) { return x == Arch::Rwkv7a || x == Arch::Rwkv7b ? Arch::Rwkv7 : x; };
  return family(a) == family(b);
}

// The architecture to build: the detected one, or the --arch override when the tensors do not
// contradict it (an override is for files whose names we cannot read a version from).
Arch choose_arch(const TensorMap& t, const std::optional<Arch>& forced, const char* forced_by) {
  const Detected d = detect_arch(t);
  if (!forced) {
    if (!d.arch) throw Error("{}: {}", t.source(), d.what);
    return *d.arch;
  }
  if (d.known && (!d.arch || !same_family(*d.arch, *forced)))
    throw Error("{}: {} {} given, but {}", t.source(), forced_by, arch_name(*forced), d.what);
  return *forced;
}

}  // namespace

Checkpoint open_checkpoint(const std::vector<std::string>& files, const ModelOptions& options) {
  if (files.empty()) throw UsageError("no weight files given");
  TensorMap tensors = read_tensor_file(files[0]);
  for (size_t i = 1; i < files.size(); ++i) tensors.merge(read_tensor_file(files[i]));

  // Bring the layout to the official names, shapes and values; then read the version.
  const Layout layout = normalize_layout(tensors);
  count_layers(tensors);  // a missing layer (layer 0 included) is reported as such, before detection
  // Our GGUF files name their architecture (rwkv.arch, written by `rwkv quantize`): it must agree
  // with the tensors like an --arch flag, and an explicit --arch must agree with it.
  std::optional<Arch> forced = options.arch;
  if (auto it = tensors.metadata().find(kArchKey); it != tensors.metadata().end()) {
    Arch stated;
    if (!parse_arch(it->second, &stated))
      throw Error("{}: metadata {} is '{}', not an architecture we know (rwkv5, rwkv6, rwkv7, rwkv7a, rwkv7b)",
                  tensors.source(), kArchKey, it->second);
    if (forced && *forced != stated)
      throw Error("{}: --arch {} given, but the file says {} ({})", tensors.source(), arch_name(*forced), it->second,
                  kArchKey);
    forced = stated;
  }
  const Arch arch = choose_arch(tensors, forced, options.arch ? "--arch" : kArchKey);

  HParams hp;
  switch (arch) {
    case Arch::Rwkv5: hp = rwkv5_hparams(tensors); break;
    case Arch::Rwkv6: hp = rwkv6_hparams(tensors); break;
    case Arch::Rwkv7:
    case Arch::Rwkv7a:
    case Arch::Rwkv7b:
      hp = rwkv7_hparams(tensors);
      if (forced && *forced != hp.arch)
        throw Error("{}: {} {} given, but the tensors are those of {}", tensors.source(),
                    options.arch ? "--arch" : kArchKey, arch_name(*forced), arch_name(hp.arch));
      break;
  }

  // A Hugging Face config.json: the one given, else the one beside the weights of an HF layout.
  std::string config = options.config_file;
  if (config.empty() && layout == Layout::HuggingFace) config = find_hf_config(files[0]);
  if (!config.empty()) check_hf_config(config, hp, tensors.source());
  return Checkpoint{std::move(tensors), layout, hp};
}

std::unique_ptr<Model> Model::load(const std::vector<std::string>& files, const ModelOptions& options) {
  Checkpoint c = open_checkpoint(files, options);
  switch (c.hp.arch) {
    case Arch::Rwkv5: return make_rwkv5(std::move(c.tensors), c.hp, options);
    case Arch::Rwkv6: return make_rwkv6(std::move(c.tensors), c.hp, options);
    case Arch::Rwkv7:
    case Arch::Rwkv7a:
    case Arch::Rwkv7b: return make_rwkv7(std::move(c.tensors), c.hp, options);
  }
  throw Error("unknown architecture");
}

}  // namespace rwkv
