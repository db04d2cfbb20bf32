// Errors: exceptions whose message names the file, tensor, flag or byte offset at fault.
// The CLI turns them into one line on stderr and a non-zero exit.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace rwkv {

// Anything that went wrong while loading or running: a bad file, a missing tensor, a bad shape.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  template <typename... Args>
  explicit Error(fmt::format_string<Args...> f, Args&&... args)
      : std::runtime_error(fmt::format(f, std::forward<Args>(args)...)) {}
};

// A bad command-line flag or value: the CLI exits with status 2 for these.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace rwkv
