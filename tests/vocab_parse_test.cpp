// Vocab files (.txt, JSON) and the vocab inside GGUF models: what they read, and that every
// malformed one is an rwkv::Error that names the file (and line).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "rwkv/tokenizer.h"
#include "support/fixtures.h"
#include "tokenizer/vocab.h"
#include "tokenizer/world_tokenizer.h"
#include "util/error.h"

namespace rwkv {
namespace {

WorldTokenizer from_txt(const std::string& text) { return WorldTokenizer(parse_vocab_txt(text, "v.txt")); }
WorldTokenizer from_json(const std::string& text) { return WorldTokenizer(parse_vocab_json(text, "v.json")); }

// Expects `f` to throw rwkv::Error whose message contains `needle`.
template <typename F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning `" << needle << "`";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void expect_txt_error(const std::string& text, const std::string& needle) {
  SCOPED_TRACE(text);
  expect_error([&] { from_txt(text); }, needle);
}

TEST(VocabTxt, ParsesEveryLiteralForm) {
  const auto tok = from_txt(
      "1 'a' 1\n"
      "2 b'\\xff' 1\n"
      "3 '\\x80' 2\n"                  // str \xHH is a code point: U+0080 = C2 80
      "4 \"it's\" 4\n"                 // double quotes when the text holds '
      "5 '\\\\\\'\\\"\\n\\t\\r' 6\n"   // \\ \' \" \n \t \r
      "6 '\\u273f' 3\n"
      "7 '\\U0001f600' 4\n"
      "8 'a b' 3\n"                    // spaces inside the token
      "9 '\xE4\xBD\xA0' 3\r\n"         // raw UTF-8, CRLF line end
      "10 b'a\\x00' 2");               // no final newline
  EXPECT_EQ(tok.token_bytes(1), "a");
  EXPECT_EQ(tok.token_bytes(2), "\xFF");
  EXPECT_EQ(tok.token_bytes(3), "\xC2\x80");
  EXPECT_EQ(tok.token_bytes(4), "it's");
  EXPECT_EQ(tok.token_bytes(5), "\\'\"\n\t\r");
  EXPECT_EQ(tok.token_bytes(6), "\u273F");
  EXPECT_EQ(tok.token_bytes(7), "\U0001F600");
  EXPECT_EQ(tok.token_bytes(8), "a b");
  EXPECT_EQ(tok.token_bytes(9), "\xE4\xBD\xA0");
  EXPECT_EQ(tok.token_bytes(10), std::string("a\0", 2));
  EXPECT_EQ(tok.encode("aa b"), (std::vector<int32_t>{1, 8}));
}

TEST(VocabTxt, RejectsBadEscapes) {
  expect_txt_error("1 'a' 1\n2 '\\q' 1\n", "v.txt:2: unsupported escape \\q");
  expect_txt_error("1 '\\x4' 1\n", "v.txt:1: truncated \\x escape");
  expect_txt_error("1 '\\xZZ' 1\n", "not a hex digit");
  expect_txt_error("1 '\\u12' 1\n", "truncated \\u escape");
  expect_txt_error("1 '\\ud800' 3\n", "surrogate");
  expect_txt_error("1 '\\U00110000' 4\n", "above U+10FFFF");
  expect_txt_error("1 b'\\u0041' 1\n", "\\u escape in a bytes literal");
  expect_txt_error("1 b'\xC3\xA9' 2\n", "non-ASCII byte 0xC3 in a bytes literal");
  expect_txt_error("1 '\xFF' 1\n", "invalid UTF-8");
  expect_txt_error("1 'ab\\' 2\n", "lone backslash");
}

TEST(VocabTxt, RejectsBadLines) {
  expect_txt_error("1 'a' 1\n2 'b' 2\n", "v.txt:2: the length field says 2 bytes but the literal is 1 bytes");
  expect_txt_error("1 '\\x80' 1\n", "says 1 bytes but the literal is 2 bytes");
  expect_txt_error("1 'a' 1\n2 'b' 1\n1 'c' 1\n", "v.txt:3: duplicate id 1");
  expect_txt_error("1 'a' 1\n2 'a' 1\n", "ids 1 and 2 have the same bytes");
  expect_txt_error("1 'a' 1\n2 'ab\n", "v.txt:2: expected `<id> <python literal> <byte length>`");  // truncated
  expect_txt_error("1 'a' 1\n2 'a b\n", "v.txt:2: expected a Python literal");                      // truncated
  expect_txt_error("1 'a' 1\n2 'b' \n", "v.txt:2: the byte length `` is not a decimal number");
  expect_txt_error("1 'a' x\n", "the byte length `x` is not a decimal number");
  expect_txt_error("x 'a' 1\n", "the id `x` is not a decimal number");
  expect_txt_error("-1 'a' 1\n", "the id `-1` is not a decimal number");
  expect_txt_error("0 'a' 1\n", "id 0 is reserved");
  expect_txt_error("99999999 'a' 1\n", "too large");
  expect_txt_error("1234567890 'a' 1\n", "the id `1234567890` is not a decimal number");
  expect_txt_error("1 '' 0\n", "empty token");
  expect_txt_error("1 'a'b' 3\n", "unescaped '");
  expect_txt_error("1 a 1\n", "expected a Python literal");
  expect_txt_error("1 'a' 1\n\n2 'b' 1\n", "v.txt:2: empty line");
  expect_txt_error("", "no tokens");
}

TEST(VocabJson, ReadsKeysAndReportsWhatIsMissing) {
  const auto tok = from_json(R"({"a": 1, "\u00e9": 3, "": 2, "\ud83d\udc4d": 4})");
  EXPECT_EQ(tok.token_bytes(1), "a");
  EXPECT_EQ(tok.token_bytes(3), "\xC3\xA9");
  EXPECT_EQ(tok.token_bytes(4), "\xF0\x9F\x91\x8D");
  EXPECT_FALSE(tok.has_text(2));  // the empty key: a token whose text was lost
  EXPECT_NE(tok.load_warning().find("1 of the ids 1..4 have no text"), std::string_view::npos) << tok.load_warning();
  EXPECT_TRUE(from_json(R"({"a": 1})").load_warning().empty());
}

TEST(VocabJson, RejectsBadFiles) {
  expect_error([] { from_json("[1, 2]"); }, "must be an object");
  expect_error([] { from_json(R"({"a": 1,)"); }, "v.json: not a valid JSON vocab");
  expect_error([] { from_json(R"({"a": "1"})"); }, "must be an integer id");
  expect_error([] { from_json(R"({"a": 0})"); }, "outside 1..");
  expect_error([] { from_json(R"({"a": 1, "b": 1})"); }, "duplicate id 1");
  expect_error([] { from_json("{}"); }, "no tokens");
}

// Mutated copies of the head of the real vocab either load or throw rwkv::Error: no crash, no
// other exception (run under RWKV_SANITIZE=ON to also catch out-of-bounds reads).
TEST(VocabTxt, SurvivesMutations) {
  RWKV_TOKENIZER_OR_SKIP(path, "rwkv_vocab_v20230424.txt");
  const std::string full = test::read_file(path);
  constexpr size_t kHeadBytes = 20000;  // the first ~1,500 lines: every literal form occurs
  const std::string head = full.substr(0, full.rfind('\n', kHeadBytes) + 1);
  std::mt19937 rng(7);
  const std::string interesting = "\\'\"bxuU0123456789abcdefABCDEF \n\r\x80\xff";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text = head;
    for (int edits = 1 + rng() % 3; edits > 0; --edits) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = interesting[rng() % interesting.size()]; break;
        case 1: text.erase(at, 1 + rng() % 4); break;
        default: text.insert(at, 1, interesting[rng() % interesting.size()]); break;
      }
    }
    try {
      WorldTokenizer(parse_vocab_txt(text, "v.txt"));
    } catch (const Error&) {
    }
  }
}

// The vocab llama.cpp's converter stores in GGUF metadata: tokens as repr(bytes)[2:-1] text.
std::map<std::string, std::string> gguf_meta(const std::string& tokens_json, const std::string& types_json = "") {
  std::map<std::string, std::string> m{{"tokenizer.ggml.model", "rwkv"}, {"tokenizer.ggml.tokens", tokens_json}};
  if (!types_json.empty()) m["tokenizer.ggml.token_type"] = types_json;
  return m;
}

TEST(VocabGguf, UnescapesReprTextAndKeepsOnlyNormalTokens) {
  // <s>, a byte, a newline, both quotes raw and escaped, a backslash, UTF-8 as \x escapes, padding.
  const auto v = parse_vocab_gguf(
      gguf_meta(R"(["<s>", "\\x00", "\\n", "it's", "\\'\"", "a\\\\b", "\\xc3\\xa9", "[PAD0]"])",
                "[3, 1, 1, 1, 1, 1, 1, 4]"),
      "m.gguf");
  EXPECT_FALSE(v.has(0));  // <s>: control, our end of document
  EXPECT_EQ(v.token(1), std::string(1, '\0'));
  EXPECT_EQ(v.token(2), "\n");
  EXPECT_EQ(v.token(3), "it's");
  EXPECT_EQ(v.token(4), "'\"");
  EXPECT_EQ(v.token(5), "a\\b");
  EXPECT_EQ(v.token(6), "\xC3\xA9");
  EXPECT_FALSE(v.has(7));  // padding: user-defined
  // Without token types every token after id 0 is text.
  EXPECT_TRUE(parse_vocab_gguf(gguf_meta(R"(["<s>", "a", "[PAD0]"])"), "m.gguf").has(2));
}

TEST(VocabGguf, RejectsWhatIsNotAnRwkvVocab) {
  expect_error([] { parse_vocab_gguf({}, "m.gguf"); }, "m.gguf: the GGUF file has no tokenizer");
  expect_error([] { parse_vocab_gguf({{"tokenizer.ggml.model", "gpt2"}}, "m.gguf"); }, "is 'gpt2', not the RWKV");
  expect_error([] { parse_vocab_gguf({{"tokenizer.ggml.model", "rwkv"}}, "m.gguf"); }, "no 'tokenizer.ggml.tokens'");
  expect_error([] { parse_vocab_gguf(gguf_meta("[array of 9000000 string]"), "m.gguf"); }, "not a readable array");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>", "a\\q"])"), "m.gguf"); }, "token 1 (\"a\\\\q\"): unsupported escape");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>", "\\x4"])"), "m.gguf"); }, "truncated \\x escape");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>", 5])"), "m.gguf"); }, "token 1 is not a string");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>", ""])"), "m.gguf"); }, "token 1 is empty");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>", "a"])", "[1]"), "m.gguf"); }, "1 token types for 2 tokens");
  expect_error([] { parse_vocab_gguf(gguf_meta(R"(["<s>"])"), "m.gguf"); }, "no normal tokens");
  expect_error([] { WorldTokenizer(parse_vocab_gguf(gguf_meta(R"(["<s>", "a", "a"])"), "m.gguf")); }, "m.gguf");
}

// llama.cpp's own GGUF fixture (the first 512 World tokens): each id holds the official bytes.
TEST(VocabGguf, FixtureMatchesTheOfficialVocab) {
  const auto fixtures = test::fixtures_dir();
  const auto vocab_dir = test::tokenizer_dir();
  if (!fixtures || !vocab_dir) GTEST_SKIP() << "fixtures not found";
  const auto gguf = tokenizer_in_model_file(*fixtures / "gguf" / "rwkv7-tiny-F16.gguf");
  ASSERT_NE(gguf, nullptr);
  std::ifstream f(*vocab_dir / "rwkv_vocab_v20230424.txt", std::ios::binary);
  std::stringstream text;
  text << f.rdbuf();
  const Vocab official = parse_vocab_txt(text.str(), "rwkv_vocab_v20230424.txt");
  EXPECT_FALSE(gguf->has_text(0));
  Vocab first_512;  // the official vocab cut to the fixture's ids
  for (int32_t id = 1; id < 512; ++id) {
    ASSERT_TRUE(gguf->has_text(id)) << id;
    ASSERT_EQ(gguf->token_bytes(id), official.token(id)) << id;
    first_512.add(id, official.token(id));
  }
  EXPECT_FALSE(gguf->has_text(512));
  const std::string sample = "Hello, \"world\"!\n\t\xC3\xA9\\";
  EXPECT_EQ(gguf->encode(sample), WorldTokenizer(std::move(first_512)).encode(sample));
  // Files without a vocab of their own.
  EXPECT_EQ(tokenizer_in_model_file(*fixtures / "rwkv7-tiny" / "model.safetensors"), nullptr);
}

}  // namespace
}  // namespace rwkv
