// ZipArchive and ZipWriter: round trips (plain and ZIP64), alignment, and archives that lie.
#include "io/zip.h"

#include <gtest/gtest.h>

#include <cstring>

#include "io/crc32.h"
#include "io/le_bytes.h"
#include "support/fixtures.h"
#include "support/pth_builder.h"
#include "util/error.h"

namespace rwkv {
namespace {

std::span<const std::byte> as_span(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

template <typename T>
void put(std::string& s, size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof v);
}
template <typename T>
T get(const std::string& s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

const std::vector<std::pair<std::string, std::string>> kEntries = {
    {"a/data.pkl", "pickle bytes"}, {"a/data/0", std::string(1000, 'x')}, {"a/empty", ""}, {"a/version", "3\n"}};

std::string make_zip(bool zip64 = false) {
  test::TempDir dir;
  {
    AtomicFileWriter out((dir / "z.zip").string());
    ZipWriter zip(out, zip64);
    for (const auto& [name, data] : kEntries) zip.add_entry(name, std::string_view(data));
    zip.finish();
    out.commit();
  }
  return test::read_file(dir / "z.zip");
}

// Offset of the central directory of a zip without ZIP64 records or comment.
size_t central_directory(const std::string& z) { return get<uint32_t>(z, z.size() - 22 + 16); }

std::string error_of(const std::string& z, const std::string& entry = {}) {
  try {
    ZipArchive a(test::map_bytes(z, "z.zip"));
    if (!entry.empty()) a.data(*a.find(entry));
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(Crc32, KnownValues) {
  EXPECT_EQ(crc32_update(0, as_span("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32_update(0, {}), 0u);
  const std::string s = "The quick brown fox jumps over the lazy dog, several times over";
  EXPECT_EQ(crc32_update(crc32_update(0, as_span(s.substr(0, 13))), as_span(s.substr(13))),
            crc32_update(0, as_span(s)));
}

TEST(Zip, RoundTripAligned) {
  for (bool zip64 : {false, true}) {
    ZipArchive a(test::map_bytes(make_zip(zip64), "z.zip"));
    ASSERT_EQ(a.entries().size(), kEntries.size());
    for (size_t i = 0; i < kEntries.size(); ++i) {
      const ZipEntry& e = a.entries()[i];
      EXPECT_EQ(e.name, kEntries[i].first);
      EXPECT_EQ(text(a.data(e)), kEntries[i].second);
      EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
      EXPECT_EQ(a.find(e.name), &e);
    }
    EXPECT_EQ(a.find("a/missing"), nullptr);
  }
}

// What torch writes for an entry that starts past 4 GiB: sizes in the 32-bit fields, the local
// header offset 0xffffffff with the real one alone in the ZIP64 extra field. Built by hand, with
// and without the ZIP64 end records.
std::string zip_with_offset_in_extra(bool zip64_end) {
  const std::string name = "a/x", data = "hello";
  std::string z;
  append_le<uint32_t>(z, 0x04034b50);
  for (uint16_t v : {20, 0, 0, 0, 0}) append_le<uint16_t>(z, v);  // version, flags, method, time, date
  append_le<uint32_t>(z, crc32_update(0, as_span(data)));
  append_le<uint32_t>(z, 5);
  append_le<uint32_t>(z, 5);
  append_le<uint16_t>(z, 3);
  append_le<uint16_t>(z, 0);
  z += name + data;
  const uint64_t cd = z.size();
  append_le<uint32_t>(z, 0x02014b50);
  for (uint16_t v : {45, 45, 0, 0, 0, 0}) append_le<uint16_t>(z, v);
  append_le<uint32_t>(z, crc32_update(0, as_span(data)));
  append_le<uint32_t>(z, 5);
  append_le<uint32_t>(z, 5);
  for (uint16_t v : {3, 12, 0, 0, 0}) append_le<uint16_t>(z, v);  // name, extra, comment, disk, attrs
  append_le<uint32_t>(z, 0);
  append_le<uint32_t>(z, 0xffffffff);
  z += name;
  append_le<uint16_t>(z, 1);
  append_le<uint16_t>(z, 8);
  append_le<uint64_t>(z, 0);  // the real local header offset
  const uint64_t cd_size = z.size() - cd;
  if (zip64_end) {
    const uint64_t rec = z.size();
    append_le<uint32_t>(z, 0x06064b50);
    append_le<uint64_t>(z, 44);
    append_le<uint16_t>(z, 45);
    append_le<uint16_t>(z, 45);
    append_le<uint32_t>(z, 0);
    append_le<uint32_t>(z, 0);
    for (uint64_t v : {uint64_t{1}, uint64_t{1}, cd_size, cd}) append_le<uint64_t>(z, v);
    append_le<uint32_t>(z, 0x07064b50);
    append_le<uint32_t>(z, 0);
    append_le<uint64_t>(z, rec);
    append_le<uint32_t>(z, 1);
  }
  append_le<uint32_t>(z, 0x06054b50);
  for (uint16_t v : {0, 0, 1, 1}) append_le<uint16_t>(z, v);
  append_le<uint32_t>(z, static_cast<uint32_t>(cd_size));
  append_le<uint32_t>(z, static_cast<uint32_t>(cd));
  append_le<uint16_t>(z, 0);
  return z;
}

TEST(Zip, ReadsAnOffsetFromTheZip64ExtraAlone) {
  for (bool zip64_end : {false, true}) {
    ZipArchive a(test::map_bytes(zip_with_offset_in_extra(zip64_end), "z.zip"));
    ASSERT_EQ(a.entries().size(), 1u);
    EXPECT_EQ(a.entries()[0].local_header_offset, 0u);
    EXPECT_EQ(text(a.data(a.entries()[0])), "hello");
  }
}

TEST(Zip, AcceptsAComment) {
  std::string z = make_zip();
  std::string comment = "PK\x05\x06";  // a comment may even contain the signature
  comment += std::string(36, '\0');
  put<uint16_t>(z, z.size() - 2, static_cast<uint16_t>(comment.size()));
  ZipArchive a(test::map_bytes(z + comment));
  EXPECT_EQ(a.entries().size(), kEntries.size());
  put<uint16_t>(z, z.size() - 2, 0);
  ZipArchive b(test::map_bytes(z + "trailing junk"));
  EXPECT_EQ(b.entries().size(), kEntries.size());
}

TEST(Zip, RefusesCompressedAndEncryptedEntries) {
  std::string z = make_zip();
  const size_t cd = central_directory(z);     // the first entry is a/data.pkl
  put<uint16_t>(z, cd + 10, 8);               // deflate
  ZipArchive a(test::map_bytes(z, "z.zip"));  // listing works; reading that entry does not
  EXPECT_EQ(text(a.data(*a.find("a/version"))), "3\n");
  const std::string e = error_of(z, "a/data.pkl");
  EXPECT_NE(e.find("'a/data.pkl' is compressed (method 8)"), std::string::npos) << e;
  put<uint16_t>(z, cd + 10, 0);
  put<uint16_t>(z, cd + 8, 1);  // encrypted
  EXPECT_NE(error_of(z, "a/data.pkl").find("encrypted"), std::string::npos);
}

TEST(Zip, RefusesLies) {
  const std::string good = make_zip();
  const size_t cd = central_directory(good);
  const size_t end = good.size() - 22;
  auto patched = [&](size_t at, auto v) {
    std::string z = good;
    put(z, at, v);
    return z;
  };
  EXPECT_NE(error_of(good.substr(0, 10)).find("too small"), std::string::npos);
  EXPECT_NE(error_of(good.substr(0, good.size() - 1)).find("end-of-central-directory"), std::string::npos);
  EXPECT_NE(error_of(patched(end + 16, uint32_t(good.size()))).find("runs past the end"), std::string::npos);
  EXPECT_NE(error_of(patched(end + 10, uint16_t(1000))).find("claims 1000 entries"), std::string::npos);
  EXPECT_NE(error_of(patched(end + 10, uint16_t(0xffff))).find("no ZIP64 locator"), std::string::npos);
  EXPECT_NE(error_of(patched(end + 4, uint16_t(1))).find("multi-disk"), std::string::npos);
  EXPECT_NE(error_of(patched(cd, uint32_t(0))).find("bad zip central directory signature at byte"), std::string::npos);
  // an entry's size, offset or name that does not fit
  std::string e = error_of(patched(cd + 20, uint32_t(0xfffffff0)));
  EXPECT_NE(e.find("'a/data.pkl': data at byte 64 with 4294967280 bytes runs past the end"), std::string::npos) << e;
  EXPECT_NE(error_of(patched(cd + 24, uint32_t(0xffffffff))).find("needs a ZIP64 extra field"), std::string::npos);
  EXPECT_NE(error_of(patched(cd + 42, uint32_t(7))).find("bad local header signature at byte 7"), std::string::npos);
  EXPECT_NE(error_of(patched(cd + 42, uint32_t(0xfffffff0))).find("local header of zip entry 'a/data.pkl'"),
            std::string::npos);
  EXPECT_NE(error_of(patched(cd + 28, uint16_t(0xfff0))).find("runs past the directory's end"), std::string::npos);
  std::string renamed = good;
  renamed[cd + 46] = 'b';  // the central name no longer matches the local one
  EXPECT_NE(error_of(renamed).find("names a different entry"), std::string::npos);
}

TEST(Zip, RefusesDuplicateNames) {
  test::TempDir dir;
  {
    AtomicFileWriter out((dir / "d.zip").string());
    ZipWriter zip(out);
    zip.add_entry("x/a", std::string_view("1"));
    zip.add_entry("x/a", std::string_view("2"));
    zip.finish();
    out.commit();
  }
  EXPECT_NE(error_of(test::read_file(dir / "d.zip")).find("appears twice"), std::string::npos);
}

// Every byte of the headers, directory and end records flipped: an Error or a consistent archive.
TEST(Zip, FlippedBytesNeverCrash) {
  for (bool zip64 : {false, true}) {
    const std::string good = make_zip(zip64);
    for (size_t i = 0; i < good.size(); ++i) {
      if (i % 64 >= 16 && i < good.size() - 400) continue;  // skip most entry data, keep the headers
      for (unsigned char x : {0x01, 0x10, 0xff}) {
        std::string z = good;
        z[i] = static_cast<char>(z[i] ^ x);
        auto file = test::map_bytes(z);
        try {
          ZipArchive a(file);
          for (const ZipEntry& e : a.entries()) {
            const auto d = a.data(e);
            EXPECT_GE(d.data(), file->bytes().data());
            EXPECT_LE(d.data() + d.size(), file->bytes().data() + file->size());
          }
        } catch (const Error&) {
        }
      }
    }
  }
}

TEST(ZipWriter, ChecksEntrySizes) {
  test::TempDir dir;
  AtomicFileWriter out((dir / "w.zip").string());
  ZipWriter zip(out);
  zip.begin_entry("a", 3);
  EXPECT_THROW(zip.write(as_span("abcd")), Error);
  zip.write(as_span("ab"));
  EXPECT_THROW(zip.end_entry(), Error);
  EXPECT_THROW(zip.begin_entry("b", 1), Error);
}

}  // namespace
}  // namespace rwkv
