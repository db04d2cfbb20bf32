// The restricted unpickler on its own: the values it decodes, and every way it must refuse.
#include "io/pickle.h"

#include <gtest/gtest.h>

#include <cstring>

#include "io/pickle_writer.h"
#include "io/readers.h"
#include "io/zip.h"
#include "support/fixtures.h"
#include "support/pth_builder.h"
#include "util/error.h"

namespace rwkv::pickle {
namespace {

std::span<const std::byte> as_span(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

Unpickled parse(const std::string& bytes) { return unpickle(as_span(bytes), "test.pkl"); }

// The message of the Error that unpickling `bytes` throws (fails the test when none is thrown).
std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

std::string proto2(const std::string& body) { return std::string("\x80\x02", 2) + body; }

TEST(Unpickle, Integers) {
  constexpr int64_t k31 = int64_t{1} << 31, k40 = int64_t{1} << 40;
  const std::vector<int64_t> values = {0,         1,         255, 256,      65535, 65536,     -1,       -256,
                                       INT32_MAX, INT32_MIN, k31, -k31 - 1, k40,   INT64_MAX, INT64_MIN};
  PickleWriter p;
  p.op(']');
  p.mark();
  for (int64_t v : values) p.integer(v);
  p.op('e');  // APPENDS
  p.stop();
  const Unpickled u = parse(p.bytes());
  ASSERT_TRUE(u.root().is(Kind::List));
  ASSERT_EQ(u.root().items.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(u.root().items[i]->integer, values[i]) << i;
  // LONG1 of zero bytes is 0; BININT is signed, BININT1/2 are not
  EXPECT_EQ(parse(proto2(std::string("\x8a\x00.", 3))).root().integer, 0);
  EXPECT_EQ(parse(proto2("J\xfe\xff\xff\xff.")).root().integer, -2);
  EXPECT_EQ(parse(proto2("M\xff\xff.")).root().integer, 65535);
}

// Bytes from a list of values (hex escapes in literals would swallow following hex digits).
std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(Unpickle, StringsFloatsAndContainers) {
  const std::string body = "(" + bytes({'X', 3, 0, 0, 0}) + "abc" + bytes({0x8c, 2}) + "de" +
                           bytes({0x8d, 1, 0, 0, 0, 0, 0, 0, 0}) + "f" + bytes({'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}) +
                           "N" + bytes({0x88, 0x89}) + ")" + bytes({'K', 1, 0x85}) + bytes({'K', 1, 'K', 2, 0x86}) +
                           bytes({'K', 1, 'K', 2, 'K', 3, 0x87}) + "t.";
  const Unpickled u = parse(proto2(body));
  const auto& t = u.root().items;
  ASSERT_EQ(t.size(), 11u);
  EXPECT_EQ(t[0]->text, "abc");
  EXPECT_EQ(t[1]->text, "de");
  EXPECT_EQ(t[2]->text, "f");
  EXPECT_EQ(t[3]->real, 1.5);
  EXPECT_TRUE(t[4]->is(Kind::None));
  EXPECT_EQ(t[5]->integer, 1);
  EXPECT_EQ(t[6]->integer, 0);
  EXPECT_EQ(t[7]->items.size(), 0u);
  EXPECT_EQ(t[8]->items.size(), 1u);
  EXPECT_EQ(t[9]->items.size(), 2u);
  EXPECT_EQ(t[10]->items.size(), 3u);
}

TEST(Unpickle, MemoSharesObjectsAndDictsKeepOrder) {
  PickleWriter p;
  p.empty_dict();
  p.binput(0);
  p.mark();
  p.string("b");
  p.empty_tuple();
  p.binput(300);  // LONG_BINPUT
  p.string("a");
  p.binget(300);  // LONG_BINGET
  p.setitems();
  p.string("self");
  p.binget(0);  // a dict that holds itself: harmless, nothing walks it recursively
  p.op('s');
  p.stop();
  const Unpickled u = parse(p.bytes());
  const auto& e = u.root().entries;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].first->text, "b");
  EXPECT_EQ(e[1].first->text, "a");
  EXPECT_EQ(e[0].second, e[1].second);
  EXPECT_EQ(e[2].second, &u.root());
}

TEST(Unpickle, DeepNestingNeedsNoRecursion) {
  const int depth = 200000;
  const Unpickled u = parse(proto2(std::string(depth, '(') + std::string(depth, 't') + "."));
  const Object* o = &u.root();
  int d = 0;
  while (!o->items.empty()) {
    o = o->items[0];
    ++d;
  }
  EXPECT_EQ(d, depth - 1);
}

TEST(Unpickle, RefusesGlobalsOutsideTheAllowList) {
  for (const char* g : {"os\nsystem\n", "builtins\neval\n", "torch\nload\n", "torch._utils\n_rebuild_qtensor\n",
                        "collections\ndefaultdict\n", "torch.storage\n_load_from_bytes\n"}) {
    const std::string e = error_of(proto2(std::string("c") + g + "."));
    EXPECT_NE(e.find("GLOBAL (0x63) at byte 2"), std::string::npos) << e;
    EXPECT_NE(e.find("is not allowed"), std::string::npos) << e;
  }
  // STACK_GLOBAL names its global through strings on the stack
  const std::string e = error_of(std::string("\x80\x04\x8c\x02os\x8c\x06system\x93.", 16));
  EXPECT_NE(e.find("'os system'"), std::string::npos) << e;
  EXPECT_NE(e.find("STACK_GLOBAL"), std::string::npos) << e;
}

TEST(Unpickle, RefusesBadStreams) {
  auto refuses = [](const std::string& bytes, const std::string& part) {
    const std::string e = error_of(bytes);
    EXPECT_NE(e.find(part), std::string::npos) << "wanted '" << part << "' in: " << e;
    EXPECT_NE(e.find("test.pkl"), std::string::npos) << e;
  };
  refuses(proto2("\xff."), "unknown opcode");
  refuses(proto2("i__main__\nX\n."), "INST");  // known but not accepted
  refuses(proto2("\x81."), "NEWOBJ");
  refuses(proto2("S'x'\n."), "STRING");
  refuses(std::string("\x80\x01.", 3), "protocol 1");
  refuses(std::string("\x80\x06.", 3), "protocol 6");
  refuses(proto2("\x86."), "stack underflow");    // TUPLE2 on an empty stack
  refuses(proto2("N(\x85."), "stack underflow");  // a MARK hides what is below it
  refuses(proto2("h\x05."), "memo index 5");
  refuses(proto2("t."), "no MARK");
  refuses(proto2("1."), "no MARK");
  refuses(proto2("."), "stack underflow");
  refuses(proto2("(N."), "MARK is still open");
  refuses(proto2("N"), "without a STOP");
  refuses(proto2(""), "without a STOP");
  refuses(proto2("]K\x01K\x02s."), "must be a dict");                 // SETITEM on a list
  refuses(proto2(bytes({'}', 'K', 1, 'a', '.'})), "must be a list");  // APPEND on a dict
  refuses(proto2("}(K\x01u."), "odd number");
  refuses(proto2("ccollections\nOrderedDict\nK\x01R."), "REDUCE arguments must be a tuple");
  refuses(proto2("ccollections\nOrderedDict\n(K\x01tR."), "no arguments");
  refuses(proto2("ctorch\nFloatStorage\n)R."), "cannot be called");
  refuses(proto2("K\x01)R."), "REDUCE callable must be a global");
  refuses(proto2("]}b."), "BUILD is only accepted on a dict");
  refuses(proto2(bytes({'}', 'K', 1, 'b', '.'})), "BUILD state must be a dict");
  // sizes that lie
  refuses(proto2("X\xff\xff\xff\xff."), "implausible");
  refuses(proto2(bytes({'X', 0x10, 0, 0, 0}) + "abc"), "truncated");
  refuses(proto2(std::string("\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", 9)), "implausible");
  refuses(proto2(std::string("\x8a\x09", 2) + std::string(9, '\x01') + "."), "does not fit");
  refuses(proto2(std::string("\x95\xff\xff\xff\xff\xff\xff\xff\xff.", 10)), "frame");
  refuses(proto2("cos"), "newline");
  refuses(proto2("c" + std::string(300, 'a') + "\nb\n."), "newline");
}

TEST(Unpickle, ErrorsGiveTheByteOffset) {
  const std::string e = error_of(proto2("NNN\xff."));
  EXPECT_NE(e.find("at byte 5"), std::string::npos) << e;
  EXPECT_NE(e.find("0xff"), std::string::npos) << e;
}

TEST(Unpickle, LimitsBoundMemory) {
  std::string gets = bytes({'N', 'q', 0});  // one object, pushed again and again from the memo
  for (size_t i = 0; i < kMaxStack; ++i) gets += bytes({'h', 0});
  EXPECT_NE(error_of(proto2(gets + ".")).find("stack holds more than"), std::string::npos);
  std::string many;
  for (size_t i = 0; i <= kMaxObjects; ++i) many += "N0";
  EXPECT_NE(error_of(proto2(many + "N.")).find("objects"), std::string::npos);
  EXPECT_NE(error_of(proto2(std::string(kMaxStack + 1, '('))).find("open MARKs"), std::string::npos);
  std::string refs = bytes({']', 'N', 'q', 0, '0'});  // a list, grown from the memo in batches
  for (size_t batch = 0; batch <= kMaxReferences / kMaxStack; ++batch) {
    refs += '(';
    for (size_t i = 0; i + 1 < kMaxStack; ++i) refs += bytes({'h', 0});
    refs += 'e';
  }
  EXPECT_NE(error_of(proto2(refs + ".")).find("containers hold more than"), std::string::npos);
}

// A memoized tuple of n items reused as the arguments of n calls: n objects, not n * n references.
TEST(Unpickle, ReusedArgumentsAreNotCopied) {
  const size_t n = 400000;
  std::string p = "ctorch._utils\n_rebuild_tensor_v2\nq" + bytes({1, '0', '('});
  p += std::string(n, 'N');
  p += bytes({'t', 'q', 0, '0'});
  for (size_t i = 0; i < n; ++i) p += bytes({'h', 1, 'h', 0, 'R', '0'});  // call(*args), then POP
  const Unpickled u = parse(proto2(p + "N."));
  EXPECT_TRUE(u.root().is(Kind::None));
}

// The real thing: data.pkl of a torch 1.13 file parses, and every truncation of it is refused.
TEST(Unpickle, FixturePickleAndItsPrefixes) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv7-tiny/model-f32.pth");
  ZipArchive zip(MappedFile::open(path.string()));
  const auto data = zip.data(*zip.find("model-f32/data.pkl"));
  const Unpickled u = unpickle(data, "data.pkl");
  ASSERT_TRUE(u.root().is(Kind::Dict));
  EXPECT_GT(u.root().entries.size(), 20u);
  for (size_t n = 0; n < data.size(); n += (n < 4096 ? 1 : 7))
    EXPECT_THROW(unpickle(data.first(n), "data.pkl"), Error) << "prefix " << n;
}

}  // namespace
}  // namespace rwkv::pickle
