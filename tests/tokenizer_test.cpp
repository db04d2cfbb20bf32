// The World tokenizer against the official test vectors (/work/shared/tokenizer, README there),
// the lossy JSON vocab, the byte tokenizer and the factory.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "rwkv/tokenizer.h"
#include "support/fixtures.h"
#include "support/jsonl.h"
#include "hub/sha256.h"
#include "tokenizer/utf8_stream.h"
#include "tokenizer/world_tokenizer.h"
#include "util/error.h"

namespace rwkv {
namespace {

using test::read_jsonl;
using test::unhex;

constexpr size_t kCases = 437;        // manifest.json "counts"
constexpr size_t kBytesCases = 272;
constexpr size_t kDecodeCases = 542;
constexpr size_t kCasesNeedingNonUtf8Tokens = 65;  // the cases the JSON vocab cannot encode
constexpr size_t kNonUtf8Tokens = 486;             // the b'…' lines of the .txt
constexpr int32_t kFirstPaddingId = 65530;         // 65530..65535 have no text

// Loading takes milliseconds, but there is no need to repeat it for every test.
const WorldTokenizer& txt_tokenizer(const std::filesystem::path& path) {
  static std::map<std::string, std::unique_ptr<WorldTokenizer>> cache;
  auto& slot = cache[path.string()];
  if (!slot) slot = path.extension() == ".json" ? WorldTokenizer::load_json(path) : WorldTokenizer::load_txt(path);
  return *slot;
}

std::vector<int32_t> ids_of(const nlohmann::json& row) { return row.at("ids").get<std::vector<int32_t>>(); }

bool is_valid_utf8(std::string_view s) { return !validate_utf8(s).has_value(); }

TEST(WorldTokenizer, EncodesAndDecodesEveryTextCase) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(cases, "cases.jsonl");
  const auto& tok = txt_tokenizer(vocab);
  const auto rows = read_jsonl(cases);
  ASSERT_EQ(rows.size(), kCases);
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "cases.jsonl line " << i + 1);
    const std::string text = rows[i].at("text").get<std::string>();
    const std::vector<int32_t> ids = ids_of(rows[i]);
    EXPECT_EQ(tok.encode(text), ids);
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(WorldTokenizer, EncodesAndDecodesEveryByteCase) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(cases, "cases-bytes.jsonl");
  const auto& tok = txt_tokenizer(vocab);
  const auto rows = read_jsonl(cases);
  ASSERT_EQ(rows.size(), kBytesCases);
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "cases-bytes.jsonl line " << i + 1);
    const std::string bytes = unhex(rows[i].at("hex").get<std::string>());
    EXPECT_FALSE(is_valid_utf8(bytes));
    EXPECT_EQ(tok.encode(bytes), ids_of(rows[i]));
    EXPECT_EQ(tok.decode(ids_of(rows[i])), bytes);
  }
}

// decode.jsonl: the joined bytes, the errors for ids without an entry, and the text a streaming
// decoder shows when the ids arrive one at a time (== Python's errors="replace" on the whole).
TEST(WorldTokenizer, DecodesEveryDecodeCase) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(cases, "decode.jsonl");
  const auto& tok = txt_tokenizer(vocab);
  const auto rows = read_jsonl(cases);
  ASSERT_EQ(rows.size(), kDecodeCases);
  size_t errors = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.at("name").get<std::string>());
    const std::vector<int32_t> ids = ids_of(row);
    if (row.at("hex").is_null()) {
      // The official decodeBytes raises KeyError for 0 and 65530..65535. We raise for the
      // padding ids too, but decode 0 (end of document) to nothing: the ids around it still decode.
      ++errors;
      EXPECT_EQ(row.at("decode_bytes_error").get<std::string>().rfind("KeyError(", 0), 0u);
      std::vector<int32_t> without_eod;
      bool padding = false;
      for (const int32_t id : ids) {
        padding |= id >= kFirstPaddingId;
        if (id != 0) without_eod.push_back(id);
      }
      if (padding) EXPECT_THROW(tok.decode(ids), Error);
      else EXPECT_EQ(tok.decode(ids), tok.decode(without_eod));
      continue;
    }
    EXPECT_EQ(tok.decode(ids), unhex(row.at("hex").get<std::string>()));
    Utf8StreamDecoder stream;
    std::string shown;
    for (const int32_t id : ids) stream.feed(tok.token_bytes(id), shown);
    shown += stream.finish();
    EXPECT_EQ(shown, row.at("decode_replace").get<std::string>());
  }
  EXPECT_EQ(errors, 6u);  // README: the cases with ids 0 and 65530..65535
}

TEST(WorldTokenizer, BenchmarkTextMatchesManifestHash) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(bench, "bench-1mb.txt");
  RWKV_TOKENIZER_OR_SKIP(manifest_path, "manifest.json");
  const auto manifest = nlohmann::json::parse(test::read_file(manifest_path));
  const auto& expected = manifest.at("bench_text");
  const std::string text = test::read_file(bench);
  ASSERT_EQ(text.size(), expected.at("bytes").get<size_t>());
  const std::vector<int32_t> ids = txt_tokenizer(vocab).encode(text);
  EXPECT_EQ(ids.size(), expected.at("tokens").get<size_t>());
  std::string joined;
  for (size_t i = 0; i < ids.size(); ++i) joined += (i ? "," : "") + std::to_string(ids[i]);
  hub::Sha256 sha;
  sha.update(joined);
  EXPECT_EQ(sha.hex_digest(), expected.at("ids_sha256").get<std::string>());
  EXPECT_EQ(txt_tokenizer(vocab).decode(ids), text);
}

// Any bytes encode, and decode back to themselves.
TEST(WorldTokenizer, RoundTripsRandomBytes) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  const auto& tok = txt_tokenizer(vocab);
  std::mt19937 rng(3);
  const std::string common = " \n\tetaoinshrd-#*\xE4\xBD\xA0\xF0\x9F";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = rng() % 2 ? common[rng() % common.size()] : static_cast<char>(rng());
    EXPECT_EQ(tok.decode(tok.encode(bytes)), bytes);
  }
}

TEST(WorldTokenizer, VocabFactsAndSpecialIds) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  const auto& tok = txt_tokenizer(vocab);
  EXPECT_EQ(tok.vocab_size(), 65536);
  EXPECT_EQ(tok.end_of_document(), 0);
  EXPECT_TRUE(tok.load_warning().empty());
  EXPECT_FALSE(tok.has_text(0));
  EXPECT_EQ(tok.token_bytes(0), "");
  for (int32_t id = 1; id < kFirstPaddingId; ++id) ASSERT_TRUE(tok.has_text(id)) << id;
  for (int32_t id = kFirstPaddingId; id < tok.vocab_size(); ++id) {
    EXPECT_FALSE(tok.has_text(id));
    EXPECT_THROW(tok.token_bytes(id), Error);
  }
  EXPECT_FALSE(tok.has_text(-1));
  EXPECT_FALSE(tok.has_text(tok.vocab_size()));
  EXPECT_THROW(tok.token_bytes(-1), Error);
  EXPECT_THROW(tok.token_bytes(tok.vocab_size()), Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{33155, 70000}), Error);
  EXPECT_EQ(tok.token_bytes(261), "\n\n");          // the chat turn separator
  EXPECT_EQ(tok.token_bytes(10060), "\u273F");      // ✿, the FIM delimiter
  EXPECT_EQ(tok.token_bytes(65529), std::string(128, ' '));  // the longest token
  EXPECT_EQ(tok.token_bytes(2423), "\xC2\x80");     // str literal '\x80' is U+0080
  EXPECT_EQ(tok.token_bytes(256), "\xFF");          // bytes literal b'\xff' is the byte
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tok.token_bytes(b + 1), std::string(1, static_cast<char>(b)));

  size_t non_utf8 = 0;
  for (int32_t id = 1; id < kFirstPaddingId; ++id) non_utf8 += is_valid_utf8(tok.token_bytes(id)) ? 0 : 1;
  EXPECT_EQ(non_utf8, kNonUtf8Tokens);
}

// candle's JSON form: exact for every token that is valid UTF-8, and nothing else.
TEST(WorldTokenizerJson, AgreesWithTxtWhereItCan) {
  RWKV_TOKENIZER_OR_SKIP(txt_path, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(json_path, "rwkv_vocab_v20230424.json");
  RWKV_TOKENIZER_OR_SKIP(cases, "cases.jsonl");
  RWKV_TOKENIZER_OR_SKIP(bytes_cases, "cases-bytes.jsonl");
  const auto& txt = txt_tokenizer(txt_path);
  const auto& json = txt_tokenizer(json_path);
  EXPECT_NE(json.load_warning().find("lossy"), std::string_view::npos);
  EXPECT_NE(json.load_warning().find("486"), std::string_view::npos);
  EXPECT_EQ(json.vocab_size(), txt.vocab_size());

  for (int32_t id = 0; id < txt.vocab_size(); ++id) {
    const bool lost = txt.has_text(id) && !is_valid_utf8(txt.token_bytes(id));
    ASSERT_EQ(json.has_text(id), txt.has_text(id) && !lost) << id;
    if (json.has_text(id)) {
      ASSERT_EQ(json.token_bytes(id), txt.token_bytes(id)) << id;
    }
    if (lost) {
      EXPECT_THROW(json.token_bytes(id), Error);
    }
  }

  // Skip exactly the cases whose ids use a lost token (README); for those, encoding must fail
  // loudly rather than return different ids.
  size_t skipped = 0;
  const auto rows = read_jsonl(cases);
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "cases.jsonl line " << i + 1);
    const std::string text = rows[i].at("text").get<std::string>();
    const std::vector<int32_t> ids = ids_of(rows[i]);
    bool needs_lost = false;
    for (const int32_t id : ids) needs_lost |= !json.has_text(id);
    if (needs_lost) {
      ++skipped;
      EXPECT_THROW(json.encode(text), Error);
      continue;
    }
    EXPECT_EQ(json.encode(text), ids);
    EXPECT_EQ(json.decode(ids), text);
  }
  EXPECT_EQ(skipped, kCasesNeedingNonUtf8Tokens);
  // Invalid UTF-8 always needs a lost token.
  for (const auto& row : read_jsonl(bytes_cases))
    EXPECT_THROW(json.encode(unhex(row.at("hex").get<std::string>())), Error);
}

TEST(ByteTokenizer, IdIsTheByteValue) {
  const auto tok = make_byte_tokenizer();
  EXPECT_EQ(tok->vocab_size(), 256);
  EXPECT_EQ(tok->end_of_document(), std::nullopt);
  std::string all;
  std::vector<int32_t> ids;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
    ids.push_back(b);
    EXPECT_TRUE(tok->has_text(b));
  }
  EXPECT_EQ(tok->encode(all), ids);
  EXPECT_EQ(tok->decode(ids), all);
  EXPECT_EQ(tok->encode(""), std::vector<int32_t>{});
  EXPECT_FALSE(tok->has_text(256));
  EXPECT_FALSE(tok->has_text(-1));
  EXPECT_THROW(tok->token_bytes(256), Error);
  EXPECT_THROW(tok->decode(std::vector<int32_t>{-1}), Error);
}

TEST(LoadTokenizer, ChoosesByNameExtensionAndContent) {
  EXPECT_EQ(load_tokenizer("bytes")->vocab_size(), 256);
  EXPECT_THROW(load_tokenizer("/nonexistent/vocab.txt"), Error);
  EXPECT_THROW(load_tokenizer("/nonexistent/vocab"), Error);

  RWKV_TOKENIZER_OR_SKIP(txt_path, "rwkv_vocab_v20230424.txt");
  RWKV_TOKENIZER_OR_SKIP(json_path, "rwkv_vocab_v20230424.json");
  const auto txt = load_tokenizer(txt_path);
  const auto json = load_tokenizer(json_path);
  EXPECT_TRUE(txt->load_warning().empty());
  EXPECT_FALSE(json->load_warning().empty());
  EXPECT_EQ(txt->encode("Hello"), std::vector<int32_t>{33155});

  // Without a known extension the content decides.
  test::TempDir dir;
  test::write_file(dir / "vocab-txt", test::read_file(txt_path));
  test::write_file(dir / "vocab-json", test::read_file(json_path));
  EXPECT_TRUE(load_tokenizer(dir / "vocab-txt")->load_warning().empty());
  EXPECT_FALSE(load_tokenizer(dir / "vocab-json")->load_warning().empty());
}

}  // namespace
}  // namespace rwkv
