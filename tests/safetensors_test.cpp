#include <gtest/gtest.h>

#include <cstring>

#include "io/readers.h"
#include "support/fixtures.h"
#include "util/error.h"

namespace rwkv {
namespace {

std::string make_safetensors(const std::string& json, size_t data_bytes) {
  std::string header = json;
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\x01');
}

TensorMap parse(const std::string& bytes) {
  return read_safetensors(MappedFile::from_bytes(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), "mem.safetensors"));
}

TEST(Safetensors, ReadsValidFile) {
  auto m = parse(make_safetensors(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})",
      32));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.get("a").shape, (Shape{2, 3}));
  EXPECT_EQ(m.get("b").dtype, DType::BF16);
  EXPECT_EQ(m.metadata().at("safetensors.format"), "pt");
}

TEST(Safetensors, RejectsLies) {
  // offsets past the end
  EXPECT_THROW(parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)), Error);
  // size does not match the shape
  EXPECT_THROW(parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 16)), Error);
  // overlap
  EXPECT_THROW(parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                      16)),
               Error);
  // unsupported dtype, bad json, truncated header
  EXPECT_THROW(parse(make_safetensors(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8)), Error);
  EXPECT_THROW(parse(make_safetensors(R"({"a":)", 8)), Error);
  EXPECT_THROW(parse(std::string("\xff\xff\xff\x00\x00\x00\x00\x00{", 9)), Error);
  EXPECT_THROW(parse(std::string("\x01\x00", 2)), Error);
}

TEST(Safetensors, ReadsFixture) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv7-tiny/model.safetensors");
  auto m = read_tensor_file(path.string());
  EXPECT_EQ(m.get("emb.weight").shape, (Shape{512, 128}));
  EXPECT_EQ(m.get("blocks.0.att.r_k").shape, (Shape{2, 64}));
}

}  // namespace
}  // namespace rwkv
