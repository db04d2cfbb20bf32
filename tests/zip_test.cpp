// ZipArchive and ZipWriter: round trips (plain and ZIP64), alignment, and archives that lie.
#include <gtest/gtest.h>

#include <cstring>

#include "io/crc32.h"
#include "io/zip.h"
#include "support/fixtures.h"
#include "support/pth_builder.h"
#include "util/error.h"

namespace rwkv {
namespace {

std::span<const std::byte> as_span(std::string_view s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

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
  const size_t cd = central_directory(z);  // the first entry is a/data.pkl
  put<uint16_t>(z, cd + 10, 8);            // deflate
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
