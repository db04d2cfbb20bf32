// Helpers shared by the subcommands: flag value parsing with one-line errors, CLI11 glue,
// and safe output files.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rwkv/model.h"
#include "tensor/dtype.h"

namespace rwkv::cli {

// "1,2,3" -> {1,2,3}; throws UsageError naming `flag` on anything else.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& flag);
// "a.pth,b.pth" or repeated flags -> the list of files.
std::vector<std::string> split_files(const std::vector<std::string>& values);
DType parse_dtype_flag(const std::string& value);

// --device cpu|cuda|cuda:N|auto and --cpu (= --device cpu). Default auto: the GPU when this build
// has the CUDA backend and a device is present, else the CPU.
struct DeviceFlags {
  std::string device = "auto";
  bool cpu = false;
  // The ModelOptions::device value, resolved ("cpu" or "cuda:N"); UsageError for a bad value.
  std::string resolve() const;
};
void add_device_flags(CLI::App& app, DeviceFlags& flags);
Arch parse_arch_flag(const std::string& value);

// Runs CLI11 parsing; returns an exit code when the program should stop (help: 0, error: 2).
std::optional<int> parse_args(CLI::App& app, int argc, char** argv);

// Writes bytes to `path` via a temporary file and a rename, so a failure (full disk) never
// leaves a truncated file that looks complete.
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

}  // namespace rwkv::cli
