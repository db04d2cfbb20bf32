// Prompt templates: exact strings of the G1 formats, blank-line collapsing, trimming, FIM, stops.
#include <gtest/gtest.h>

#include "rwkv/generation.h"
#include "util/error.h"

namespace rwkv {
namespace {

std::string apply(PromptTemplate t, std::string_view prompt, std::optional<std::string_view> system = {},
                  std::optional<std::string_view> suffix = {}) {
  return apply_template(t, PromptParts{prompt, system, suffix});
}

TEST(Template, ParsesNamesAndListsTheValidOnes) {
  for (auto t : {PromptTemplate::raw, PromptTemplate::chat, PromptTemplate::think, PromptTemplate::fake_think,
                 PromptTemplate::fim})
    EXPECT_EQ(parse_prompt_template(prompt_template_name(t)), t);
  EXPECT_EQ(parse_prompt_template("fake-think"), PromptTemplate::fake_think);
  try {
    parse_prompt_template("fake_think");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--template: unknown template 'fake_think' (valid: raw, chat, think, fake-think, fim)");
  }
}

TEST(Template, ChatFormats) {
  EXPECT_EQ(apply(PromptTemplate::chat, "Hi"), "User: Hi\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "Hi", "Be brief."), "System: Be brief.\n\nUser: Hi\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::think, "Why?"), "User: Why?\n\nAssistant: <think");
  EXPECT_EQ(apply(PromptTemplate::think, "Why?", "S"), "System: S\n\nUser: Why?\n\nAssistant: <think");
  EXPECT_EQ(apply(PromptTemplate::fake_think, "Why?"), "User: Why?\n\nAssistant: <think></think");
  EXPECT_EQ(apply(PromptTemplate::chat, ""), "User: \n\nAssistant:");
}

TEST(Template, BlankLinesCollapseAndEndsAreTrimmed) {
  EXPECT_EQ(apply(PromptTemplate::chat, "a\n\n\nb"), "User: a\nb\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "a\n\nb\nc"), "User: a\nb\nc\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "a\r\n\r\nb\r\nc"), "User: a\nb\nc\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "  hello there \n\n"), "User: hello there\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "x\u3000\u00a0"), "User: x\n\nAssistant:");  // Unicode spaces
  EXPECT_EQ(apply(PromptTemplate::chat, "a\rb"), "User: a\rb\n\nAssistant:");       // a lone CR stays
  EXPECT_EQ(apply(PromptTemplate::chat, "q", " sys\n\n\nline \n"), "System: sys\nline\n\nUser: q\n\nAssistant:");
  EXPECT_EQ(apply(PromptTemplate::chat, "q", " \n\n "), "User: q\n\nAssistant:");  // empty system: no line
  EXPECT_EQ(normalize_turn_text("\n\na\n\n\n\nb\n"), "a\nb");
}

TEST(Template, FillInTheMiddle) {
  // The strings of the FIM cases in shared/tokenizer/cases.jsonl.
  EXPECT_EQ(apply(PromptTemplate::fim, "def compute(values):\n", std::nullopt, "\n    return result\n"),
            "✿prefix✿✿suffix✿\n    return result\n✿middle✿def compute(values):\n");
  EXPECT_EQ(apply(PromptTemplate::fim, "When I was young, I only liked to", std::nullopt,
                  "and that's how first I got interested in AI research."),
            "✿prefix✿✿suffix✿and that's how first I got interested in AI research.✿middle✿When I was young, I "
            "only liked to");
  EXPECT_EQ(apply(PromptTemplate::fim, ""), "✿prefix✿✿suffix✿✿middle✿");
  // Texts are used as given: code keeps its blank lines.
  EXPECT_EQ(apply(PromptTemplate::fim, "a\n\n\nb ", std::nullopt, "c\n\n"), "✿prefix✿✿suffix✿c\n\n✿middle✿a\n\n\nb ");
}

TEST(Template, RawIsUntouched) {
  EXPECT_EQ(apply(PromptTemplate::raw, "  The\n\n\ncat "), "  The\n\n\ncat ");
}

TEST(Template, PartsATemplateDoesNotUseAreErrors) {
  EXPECT_THROW(apply(PromptTemplate::raw, "x", "sys"), UsageError);
  EXPECT_THROW(apply(PromptTemplate::fim, "x", "sys"), UsageError);
  try {
    apply(PromptTemplate::chat, "x", std::nullopt, "suffix");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--suffix", 0), 0u) << e.what();
  }
}

TEST(Template, TrimTrailingWhitespace) {
  EXPECT_EQ(trim_trailing_whitespace("abc \t\r\n"), "abc");
  EXPECT_EQ(trim_trailing_whitespace("abc\u3000\u2029"), "abc");
  EXPECT_EQ(trim_trailing_whitespace(" \n "), "");
  EXPECT_EQ(trim_trailing_whitespace(""), "");
  EXPECT_EQ(trim_trailing_whitespace("ab✿"), "ab✿");
  EXPECT_EQ(trim_trailing_whitespace("ab\xe3\x80"), "ab\xe3\x80");  // a cut character is not whitespace
  EXPECT_EQ(trim_trailing_whitespace("ab\xff "), "ab\xff");
}

TEST(Template, StopStrings) {
  using V = std::vector<std::string>;
  EXPECT_EQ(default_stop_strings(PromptTemplate::chat), V{"\n\n"});
  EXPECT_EQ(default_stop_strings(PromptTemplate::think), V{"\n\n"});
  EXPECT_EQ(default_stop_strings(PromptTemplate::fake_think), V{"\n\n"});
  EXPECT_EQ(default_stop_strings(PromptTemplate::fim), V{"✿"});
  EXPECT_EQ(default_stop_strings(PromptTemplate::raw), V{});
  EXPECT_EQ(effective_stop_strings(PromptTemplate::fim, {}), V{"✿"});
  EXPECT_EQ(effective_stop_strings(PromptTemplate::fim, {"END", "\n"}), (V{"END", "\n"}));
  EXPECT_EQ(effective_stop_strings(PromptTemplate::raw, {"x"}), V{"x"});
}

}  // namespace
}  // namespace rwkv
