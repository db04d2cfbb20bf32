#include "cli/cli_util.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "kernels/device.h"
#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv::cli {

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  for (int item = 1;; ++item) {
    const size_t comma = text.find(',', pos);
    std::string field = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    // tolerate spaces around items ("1, 2, 3")
    const size_t b = field.find_first_not_of(" \t"), e = field.find_last_not_of(" \t");
    field = b == std::string::npos ? "" : field.substr(b, e - b + 1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (field.empty() || ec != std::errc() || end != field.data() + field.size())
      throw UsageError("{}: item {} `{}` is not an integer (expected ids like 1,2,3)", flag, item, field);
    if (v < 0 || v > INT32_MAX) throw UsageError("{}: id {} is out of range", flag, v);
    ids.push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

std::vector<std::string> split_files(const std::vector<std::string>& values) {
  std::vector<std::string> files;
  for (const std::string& v : values) {
    size_t pos = 0;
    while (pos <= v.size()) {
      const size_t comma = v.find(',', pos);
      std::string f = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!f.empty()) files.push_back(f);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return files;
}

DType parse_dtype_flag(const std::string& value) {
  DType d;
  if (!parse_dtype(value, &d) || (dtype_is_quantized(d) && !quant::can_quantize(d)))
    throw UsageError("--dtype: unknown dtype '{}' (expected f32, f16, bf16, q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0 "
                     "or q4_k)",
                     value);
  return d;
}

Arch parse_arch_flag(const std::string& value) {
  Arch a;
  if (!parse_arch(value, &a))
    throw UsageError("--arch: unknown architecture '{}' (expected rwkv5, rwkv6, rwkv7, rwkv7a or rwkv7b)", value);
  return a;
}

std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "rwkv %s: error: %s\n", app.get_name().c_str(), e.what());
    return 2;
  }
  return std::nullopt;
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("{}: cannot create: {}", tmp, std::strerror(errno));
  const size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = n == bytes.size() && std::fflush(f) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw Error("{}: write failed after {} of {} bytes: {}", path, n, bytes.size(), std::strerror(ok ? errno : err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw Error("{}: cannot rename the finished file into place: {}", path, std::strerror(e));
  }
}

std::string DeviceFlags::resolve() const {
  const DeviceChoice d = resolve_device(cpu ? "cpu" : device);
  return d.kind == DeviceChoice::Cuda ? "cuda:" + std::to_string(d.index) : "cpu";
}

void add_device_flags(CLI::App& app, DeviceFlags& flags) {
  app.add_option("--device", flags.device,
                 std::string("where to run: cpu, cuda, cuda:N or auto (the GPU when present") +
                     (build_has_cuda() ? ")" : "; this build has no CUDA backend)"))
      ->capture_default_str();
  app.add_flag("--cpu", flags.cpu, "run on the CPU (= --device cpu)");
}

}  // namespace rwkv::cli
