// Zip writing; record layouts as in PKWARE's APPNOTE.TXT (4.3.7 local header, 4.3.12 central
// header, 4.3.14-16 ZIP64 end records, 4.5.3 ZIP64 extra field).
#include "io/zip_writer.h"

#include "io/crc32.h"
#include "io/le_bytes.h"
#include "util/error.h"

namespace rwkv {

namespace {

constexpr uint32_t kMax32 = 0xffffffffu;
constexpr uint16_t kMax16 = 0xffffu;
constexpr uint16_t kVersion20 = 20;                     // "version needed": stored entries
constexpr uint16_t kVersion45 = 45;                     // "version needed": ZIP64
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01: fixed, so output is reproducible
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCrcOffset = 14;  // within the local header

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace

void ZipWriter::begin_entry(const std::string& name, uint64_t size) {
  if (open_) throw Error("{}: zip entry '{}' started before the previous one ended", out_.path(), name);
  if (name.empty() || name.size() > kMax16) throw Error("{}: bad zip entry name '{}'", out_.path(), name);
  if (alignment_ == 0 || alignment_ > 4096) throw Error("{}: bad zip alignment {}", out_.path(), alignment_);
  Entry e;
  e.name = name;
  e.size = size;
  e.local_header_offset = out_.offset();
  e.zip64_sizes = force_zip64_ || size >= kMax32;

  std::string extra;
  if (e.zip64_sizes) {  // a local ZIP64 extra field holds both sizes
    append_le<uint16_t>(extra, 0x0001);
    append_le<uint16_t>(extra, 16);
    append_le<uint64_t>(extra, size);
    append_le<uint64_t>(extra, size);
  }
  // Pad with an "FB" extra field (as torch does) so that the data starts 64-byte aligned; a
  // field needs at least its 4-byte header, hence the extra round when the gap is smaller.
  const uint64_t header_end = e.local_header_offset + kLocalHeaderSize + name.size() + extra.size();
  uint64_t pad = (alignment_ - header_end % alignment_) % alignment_;
  while (pad != 0 && pad < 4) pad += alignment_;
  if (pad) {
    append_le<uint16_t>(extra, 0x4246);  // "FB"
    append_le<uint16_t>(extra, static_cast<uint16_t>(pad - 4));
    extra.append(pad - 4, 'Z');
  }

  std::string h;
  append_le<uint32_t>(h, 0x04034b50);
  append_le<uint16_t>(h, e.zip64_sizes ? kVersion45 : kVersion20);
  append_le<uint16_t>(h, 0);  // flags
  append_le<uint16_t>(h, 0);  // method: stored
  append_le<uint16_t>(h, 0);  // time
  append_le<uint16_t>(h, kDosDate);
  append_le<uint32_t>(h, 0);  // CRC-32, patched in end_entry()
  const uint32_t size32 = e.zip64_sizes ? kMax32 : static_cast<uint32_t>(size);
  append_le<uint32_t>(h, size32);  // compressed
  append_le<uint32_t>(h, size32);  // uncompressed
  append_le<uint16_t>(h, static_cast<uint16_t>(name.size()));
  append_le<uint16_t>(h, static_cast<uint16_t>(extra.size()));
  h += name;
  h += extra;
  out_.write(as_bytes(h));
  entries_.push_back(std::move(e));
  open_ = true;
}

void ZipWriter::write(std::span<const std::byte> data) {
  if (!open_) throw Error("{}: zip data written outside an entry", out_.path());
  Entry& e = entries_.back();
  if (data.size() > e.size - e.written)
    throw Error("{}: zip entry '{}' receives more than its declared {} bytes", out_.path(), e.name, e.size);
  e.crc = crc32_update(e.crc, data);
  out_.write(data);
  e.written += data.size();
}

void ZipWriter::end_entry() {
  if (!open_) throw Error("{}: zip entry ended twice", out_.path());
  Entry& e = entries_.back();
  if (e.written != e.size)
    throw Error("{}: zip entry '{}' got {} of its declared {} bytes", out_.path(), e.name, e.written, e.size);
  std::string crc;
  append_le<uint32_t>(crc, e.crc);
  out_.write_at(e.local_header_offset + kCrcOffset, as_bytes(crc));
  open_ = false;
}

void ZipWriter::finish() {
  if (open_) throw Error("{}: zip finished with entry '{}' still open", out_.path(), entries_.back().name);
  const uint64_t cd_offset = out_.offset();
  for (const Entry& e : entries_) {
    const bool big_offset = force_zip64_ || e.local_header_offset >= kMax32;
    std::string extra;
    if (e.zip64_sizes || big_offset) {
      append_le<uint16_t>(extra, 0x0001);
      append_le<uint16_t>(extra, static_cast<uint16_t>((e.zip64_sizes ? 16 : 0) + (big_offset ? 8 : 0)));
      if (e.zip64_sizes) {
        append_le<uint64_t>(extra, e.size);
        append_le<uint64_t>(extra, e.size);
      }
      if (big_offset) append_le<uint64_t>(extra, e.local_header_offset);
    }
    const bool zip64 = !extra.empty();
    const uint32_t size32 = e.zip64_sizes ? kMax32 : static_cast<uint32_t>(e.size);
    std::string h;
    append_le<uint32_t>(h, 0x02014b50);
    append_le<uint16_t>(h, zip64 ? kVersion45 : kVersion20);  // made by
    append_le<uint16_t>(h, zip64 ? kVersion45 : kVersion20);  // needed
    append_le<uint16_t>(h, 0);                                // flags
    append_le<uint16_t>(h, 0);                                // stored
    append_le<uint16_t>(h, 0);
    append_le<uint16_t>(h, kDosDate);
    append_le<uint32_t>(h, e.crc);
    append_le<uint32_t>(h, size32);
    append_le<uint32_t>(h, size32);
    append_le<uint16_t>(h, static_cast<uint16_t>(e.name.size()));
    append_le<uint16_t>(h, static_cast<uint16_t>(extra.size()));
    append_le<uint16_t>(h, 0);  // comment
    append_le<uint16_t>(h, 0);  // disk
    append_le<uint16_t>(h, 0);  // internal attributes
    append_le<uint32_t>(h, 0);  // external attributes
    append_le<uint32_t>(h, big_offset ? kMax32 : static_cast<uint32_t>(e.local_header_offset));
    h += e.name;
    h += extra;
    out_.write(as_bytes(h));
  }
  const uint64_t cd_size = out_.offset() - cd_offset;
  const uint64_t count = entries_.size();
  const bool zip64 = force_zip64_ || count >= kMax16 || cd_offset >= kMax32 || cd_size >= kMax32;

  std::string end;
  if (zip64) {
    const uint64_t record_offset = out_.offset();
    append_le<uint32_t>(end, 0x06064b50);  // ZIP64 end of central directory record
    append_le<uint64_t>(end, 44);          // size of the rest of the record
    append_le<uint16_t>(end, kVersion45);
    append_le<uint16_t>(end, kVersion45);
    append_le<uint32_t>(end, 0);  // this disk
    append_le<uint32_t>(end, 0);  // disk with the directory
    append_le<uint64_t>(end, count);
    append_le<uint64_t>(end, count);
    append_le<uint64_t>(end, cd_size);
    append_le<uint64_t>(end, cd_offset);
    append_le<uint32_t>(end, 0x07064b50);  // ZIP64 locator
    append_le<uint32_t>(end, 0);
    append_le<uint64_t>(end, record_offset);
    append_le<uint32_t>(end, 1);  // total disks
  }
  append_le<uint32_t>(end, 0x06054b50);
  append_le<uint16_t>(end, 0);
  append_le<uint16_t>(end, 0);
  const uint16_t count16 = zip64 && (force_zip64_ || count >= kMax16) ? kMax16 : static_cast<uint16_t>(count);
  append_le<uint16_t>(end, count16);
  append_le<uint16_t>(end, count16);
  append_le<uint32_t>(end, zip64 ? kMax32 : static_cast<uint32_t>(cd_size));
  append_le<uint32_t>(end, zip64 ? kMax32 : static_cast<uint32_t>(cd_offset));
  append_le<uint16_t>(end, 0);  // comment
  out_.write(as_bytes(end));
}

}  // namespace rwkv
