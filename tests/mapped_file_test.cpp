// The read-only file mapping: pages released after a tensor was replaced by a copy leave the
// resident set, and reading them again gives the same bytes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "io/mapped_file.h"
#include "support/fixtures.h"

namespace rwkv {
namespace {

// Resident pages of this process (/proc/self/statm, second field).
long resident_pages() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident : -1;
}

TEST(MappedFile, ReleasedPagesLeaveTheResidentSetAndReadBackTheSame) {
  test::TempDir dir;
  const auto path = (dir / "blob.bin").string();
  constexpr size_t kBytes = size_t{64} << 20;
  {
    std::vector<char> data(kBytes);
    for (size_t i = 0; i < kBytes; ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  const auto file = MappedFile::open(path);  // populated: every page resident
  uint64_t sum_before = 0;
  for (std::byte b : file->bytes()) sum_before += static_cast<uint8_t>(b);
  const long before = resident_pages();
  ASSERT_GT(before, 0) << "no /proc/self/statm";
  // Release all but the first and last KiB: whole pages only, the partial ones at the ends stay.
  file->release(file->bytes().subspan(1000, kBytes - 2000));
  const long page = ::sysconf(_SC_PAGESIZE);
  EXPECT_LE(resident_pages(), before - static_cast<long>(kBytes / static_cast<size_t>(page)) * 9 / 10);
  uint64_t sum_after = 0;
  for (std::byte b : file->bytes()) sum_after += static_cast<uint8_t>(b);
  EXPECT_EQ(sum_after, sum_before);
  // Bytes outside the mapping are ignored.
  std::vector<std::byte> elsewhere(size_t{1} << 20, std::byte{1});
  file->release(elsewhere);
  EXPECT_EQ(elsewhere[12345], std::byte{1});
}

}  // namespace
}  // namespace rwkv
