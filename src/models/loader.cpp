// Model::load: read the files, bring their tensors to the official naming, detect the
// architecture from names and shapes, and build the model.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "io/readers.h"
#include "models/architectures.h"
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

// Whether some layer has a tensor blocks.N.<suffix> (any N: a broken file may lack layer 0).
bool any_layer_has(const TensorMap& t, const std::string& suffix) {
  for (const std::string& name : t.names())
    if (name.rfind("blocks.", 0) == 0 && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

// The architecture from tensor names (and, for v5, shapes); see docs/FORMATS.md.
Arch detect_arch(const TensorMap& t) {
  if (any_layer_has(t, ".att.r_k")) return Arch::Rwkv7;  // 7a/7b refined by rwkv7_hparams
  if (any_layer_has(t, ".att.time_maa_x")) return Arch::Rwkv6;
  if (any_layer_has(t, ".att.ln_x.weight")) return Arch::Rwkv5;
  if (any_layer_has(t, ".att.time_first") || any_layer_has(t, ".att.time_decay"))
    throw Error("{}: this is an RWKV-4 checkpoint (no ln_x); RWKV-4 is not supported", t.source());
  throw Error("{}: cannot tell the RWKV version from the tensor names (no blocks.0.att.r_k, time_maa_x or ln_x)",
              t.source());
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::vector<std::string>& files, const ModelOptions& options) {
  if (files.empty()) throw UsageError("no weight files given");
  TensorMap tensors = read_tensor_file(files[0]);
  for (size_t i = 1; i < files.size(); ++i) tensors.merge(read_tensor_file(files[i]));

  const Arch detected = options.arch.value_or(detect_arch(tensors));
  switch (detected) {
    case Arch::Rwkv7:
    case Arch::Rwkv7a:
    case Arch::Rwkv7b: {
      HParams hp = rwkv7_hparams(tensors);
      if (options.arch && *options.arch != hp.arch)
        throw Error("{}: --arch {} given, but the tensors are those of {}", tensors.source(), arch_name(*options.arch),
                    arch_name(hp.arch));
      return make_rwkv7(std::move(tensors), hp, options);
    }
    case Arch::Rwkv5:
    case Arch::Rwkv6:
      throw Error("{}: {} checkpoints are not supported yet", tensors.source(), arch_name(detected));
  }
  throw Error("unknown architecture");
}

}  // namespace rwkv
