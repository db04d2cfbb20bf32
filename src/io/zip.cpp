// ZIP reading, following PKWARE's APPNOTE.TXT (sections 4.3.6 to 4.3.16 and 4.5.3 for ZIP64).
// Every number read from the file is checked against the file's size before it is used.
#include "io/zip.h"

#include <algorithm>
#include <cstring>

#include "io/le_bytes.h"
#include "util/error.h"

namespace rwkv {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;

constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kMaxCommentSize = 0xffff;

constexpr uint16_t kFlagEncrypted = 1;
constexpr uint32_t kMissing32 = 0xffffffffu;  // "the real value is in the ZIP64 extra field"
constexpr uint16_t kMissing16 = 0xffffu;

// The ZIP64 extra field holds, in this order, only those of the values whose 32-bit fields are
// 0xffffffff (APPNOTE 4.5.3). Replaces those values in place; throws when one is missing.
void apply_zip64_extra(std::span<const std::byte> extra, uint64_t* size, uint64_t* compressed_size,
                       uint64_t* local_header_offset, const std::string& path, const std::string& name,
                       uint64_t extra_offset) {
  uint64_t* wanted[3] = {size, compressed_size, local_header_offset};
  bool needed = false;
  for (uint64_t* w : wanted) needed |= w && *w == kMissing32;
  if (!needed) return;
  size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const uint16_t id = load_le<uint16_t>(extra.data() + pos);
    const uint16_t len = load_le<uint16_t>(extra.data() + pos + 2);
    if (len > extra.size() - pos - 4)
      throw Error("{}: zip entry '{}': extra field at byte {} runs past its end", path, name, extra_offset + pos);
    if (id == kZip64ExtraId) {
      size_t field = pos + 4;
      const size_t end = field + len;
      for (uint64_t* w : wanted) {
        if (!w || *w != kMissing32) continue;
        if (field + 8 > end)
          throw Error("{}: zip entry '{}': ZIP64 extra field at byte {} is too short", path, name, extra_offset + pos);
        *w = load_le<uint64_t>(extra.data() + field);
        field += 8;
      }
      return;
    }
    pos += 4 + len;
  }
  throw Error("{}: zip entry '{}' needs a ZIP64 extra field (sizes or offset are 0xffffffff) but has none", path, name);
}

}  // namespace

ZipArchive::ZipArchive(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  read_directory(find_directory());
}

ZipArchive::Directory ZipArchive::find_directory() const {
  const std::string& path = file_->path();
  const uint64_t size = file_->size();
  if (size < kEndSize) throw Error("{}: too small to be a zip archive ({} bytes)", path, size);
  // The end record sits at the end, followed only by a comment of at most 64 KiB: search
  // backwards over that window for its signature. Prefer a record whose comment ends exactly at
  // the end of the file (a comment may itself contain the signature); else accept one whose
  // comment fits (some tools append bytes).
  const std::byte* base = file_->bytes().data();
  const uint64_t lowest = size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  uint64_t end_pos = UINT64_MAX;
  for (uint64_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (load_le<uint32_t>(base + pos) != kEndSig) continue;
    const uint64_t comment_end = pos + kEndSize + load_le<uint16_t>(base + pos + 20);
    if (comment_end == size) {
      end_pos = pos;
      break;
    }
    if (comment_end < size && end_pos == UINT64_MAX) end_pos = pos;
  }
  if (end_pos == UINT64_MAX)
    throw Error("{}: no zip end-of-central-directory record in the last {} bytes; the file is truncated or not a zip",
                path, size - lowest);

  const std::byte* e = base + end_pos;
  const uint16_t disk = load_le<uint16_t>(e + 4), cd_disk = load_le<uint16_t>(e + 6);
  Directory dir{load_le<uint16_t>(e + 10), load_le<uint32_t>(e + 16), load_le<uint32_t>(e + 12)};
  const bool marked64 = dir.entries == kMissing16 || dir.offset == kMissing32 || dir.size == kMissing32 ||
                        disk == kMissing16 || cd_disk == kMissing16;

  const bool has_locator =
      end_pos >= kZip64LocatorSize && load_le<uint32_t>(base + end_pos - kZip64LocatorSize) == kZip64LocatorSig;
  if (has_locator) {
    const uint64_t loc_pos = end_pos - kZip64LocatorSize;
    const uint64_t rec_pos = load_le<uint64_t>(base + loc_pos + 8);
    const auto rec = file_->slice(rec_pos, kZip64EndSize, "ZIP64 end-of-central-directory record");
    if (load_le<uint32_t>(rec.data()) != kZip64EndSig)
      throw Error("{}: ZIP64 locator at byte {} points to byte {}, which holds no ZIP64 end record", path, loc_pos,
                  rec_pos);
    if (load_le<uint32_t>(rec.data() + 16) != 0 || load_le<uint32_t>(rec.data() + 20) != 0)
      throw Error("{}: multi-disk (split) zip archives are not supported", path);
    dir.entries = load_le<uint64_t>(rec.data() + 32);
    dir.size = load_le<uint64_t>(rec.data() + 40);
    dir.offset = load_le<uint64_t>(rec.data() + 48);
  } else if (marked64) {
    throw Error("{}: zip end record at byte {} needs ZIP64 values but there is no ZIP64 locator", path, end_pos);
  } else if (disk != 0 || cd_disk != 0) {
    throw Error("{}: multi-disk (split) zip archives are not supported", path);
  }
  if (dir.offset > size || dir.size > size - dir.offset)
    throw Error("{}: zip central directory at byte {} with {} bytes runs past the end of the file ({} bytes)", path,
                dir.offset, dir.size, size);
  if (dir.entries > dir.size / kCentralHeaderSize)
    throw Error("{}: zip central directory claims {} entries, more than its {} bytes can hold", path, dir.entries,
                dir.size);
  return dir;
}

void ZipArchive::read_directory(const Directory& dir) {
  const std::string& path = file_->path();
  const auto cd = file_->slice(dir.offset, dir.size, "zip central directory");
  entries_.reserve(static_cast<size_t>(std::min<uint64_t>(dir.entries, 4096)));  // a hint; the count is untrusted
  uint64_t pos = 0;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    const uint64_t at = dir.offset + pos;  // file offset, for messages
    if (cd.size() - pos < kCentralHeaderSize)
      throw Error("{}: zip central directory entry {} at byte {} runs past the directory's end", path, i, at);
    const std::byte* h = cd.data() + pos;
    if (load_le<uint32_t>(h) != kCentralHeaderSig)
      throw Error("{}: bad zip central directory signature at byte {} (entry {})", path, at, i);
    ZipEntry e;
    e.flags = load_le<uint16_t>(h + 8);
    e.method = load_le<uint16_t>(h + 10);
    e.compressed_size = load_le<uint32_t>(h + 20);
    e.size = load_le<uint32_t>(h + 24);
    const uint16_t name_len = load_le<uint16_t>(h + 28);
    const uint16_t extra_len = load_le<uint16_t>(h + 30);
    const uint16_t comment_len = load_le<uint16_t>(h + 32);
    e.local_header_offset = load_le<uint32_t>(h + 42);
    const uint64_t total = kCentralHeaderSize + name_len + extra_len + comment_len;
    if (total > cd.size() - pos)
      throw Error("{}: zip central directory entry {} at byte {} runs past the directory's end", path, i, at);
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    apply_zip64_extra(cd.subspan(pos + kCentralHeaderSize + name_len, extra_len), &e.size, &e.compressed_size,
                      &e.local_header_offset, path, e.name, at + kCentralHeaderSize + name_len);
    pos += total;

    // The local header repeats name and flags but has its own extra field (torch pads it so the
    // data is 64-byte aligned), so the data offset can only be learned from it.
    const auto local =
        file_->slice(e.local_header_offset, kLocalHeaderSize, "local header of zip entry '" + e.name + "'");
    if (load_le<uint32_t>(local.data()) != kLocalHeaderSig)
      throw Error("{}: zip entry '{}': bad local header signature at byte {}", path, e.name, e.local_header_offset);
    const uint16_t local_name_len = load_le<uint16_t>(local.data() + 26);
    const uint16_t local_extra_len = load_le<uint16_t>(local.data() + 28);
    const auto local_name = file_->slice(e.local_header_offset + kLocalHeaderSize, local_name_len,
                                         "local name of zip entry '" + e.name + "'");
    if (local_name_len != name_len || std::memcmp(local_name.data(), e.name.data(), name_len) != 0)
      throw Error("{}: zip entry '{}': the local header at byte {} names a different entry", path, e.name,
                  e.local_header_offset);
    e.data_offset = e.local_header_offset + kLocalHeaderSize + local_name_len + local_extra_len;
    if (e.data_offset > file_->size() || e.compressed_size > file_->size() - e.data_offset)
      throw Error("{}: zip entry '{}': data at byte {} with {} bytes runs past the end of the file ({} bytes)", path,
                  e.name, e.data_offset, e.compressed_size, file_->size());
    if (!by_name_.emplace(e.name, entries_.size()).second)
      throw Error("{}: zip entry '{}' appears twice in the central directory (second at byte {})", path, e.name, at);
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::data(const ZipEntry& e) const {
  const std::string& path = file_->path();
  if (e.flags & kFlagEncrypted) throw Error("{}: zip entry '{}' is encrypted; it cannot be read", path, e.name);
  if (e.method != 0)
    throw Error(
        "{}: zip entry '{}' is compressed (method {}); only stored entries are supported, as torch.save "
        "writes them. Re-save the checkpoint with torch.save",
        path, e.name, e.method);
  if (e.size != e.compressed_size)
    throw Error("{}: zip entry '{}' is stored but its sizes differ ({} vs {} bytes)", path, e.name, e.size,
                e.compressed_size);
  return file_->slice(e.data_offset, e.size, "data of zip entry '" + e.name + "'");
}

}  // namespace rwkv
