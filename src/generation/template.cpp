// Prompt templates of the RWKV-7 G1 models and their default stop strings.
#include <array>

#include "generation/utf8.h"
#include "rwkv/generation.h"
#include "util/error.h"

namespace rwkv {

namespace {

struct TemplateInfo {
  PromptTemplate id;
  std::string_view name;
  std::string_view assistant;  // what follows "\n\n" after the user turn; empty: not a chat template
};

// "<think" without ">": the model writes the rest of the tag itself, as the G1 models were trained.
constexpr std::array<TemplateInfo, 5> kTemplates = {{
    {PromptTemplate::raw, "raw", ""},
    {PromptTemplate::chat, "chat", "Assistant:"},
    {PromptTemplate::think, "think", "Assistant: <think"},
    {PromptTemplate::fake_think, "fake-think", "Assistant: <think></think"},
    {PromptTemplate::fim, "fim", ""},
}};

const TemplateInfo& info(PromptTemplate t) {
  for (const auto& i : kTemplates)
    if (i.id == t) return i;
  throw Error("unknown prompt template {}", static_cast<int>(t));
}

std::string_view trim_leading_whitespace(std::string_view text) {
  size_t len = 0;
  while (!text.empty() && generation::is_unicode_whitespace(generation::decode_at(text, 0, &len)))
    text.remove_prefix(len);
  return text;
}

}  // namespace

PromptTemplate parse_prompt_template(std::string_view name) {
  for (const auto& i : kTemplates)
    if (i.name == name) return i.id;
  throw UsageError("--template: unknown template '{}' (valid: raw, chat, think, fake-think, fim)", name);
}

std::string_view prompt_template_name(PromptTemplate t) { return info(t).name; }

std::string_view trim_trailing_whitespace(std::string_view text) {
  while (!text.empty()) {
    size_t start = 0;
    if (!generation::is_unicode_whitespace(generation::decode_last(text, &start))) break;
    text = text.substr(0, start);
  }
  return text;
}

std::string normalize_turn_text(std::string_view text) {
  // "\n\n" separates turns, so a user's blank lines would end the turn early: keep one newline of
  // each run, and treat "\r\n" as "\n" first so that Windows line ends collapse too.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // the '\n' follows
    if (c == '\n' && !out.empty() && out.back() == '\n') continue;
    out.push_back(c);
  }
  return std::string(trim_trailing_whitespace(trim_leading_whitespace(out)));
}

std::string apply_template(PromptTemplate t, const PromptParts& parts) {
  const TemplateInfo& i = info(t);
  const bool is_chat = !i.assistant.empty();
  if (parts.system && !is_chat)
    throw UsageError("--system is used only by the chat, think and fake-think templates, not by {}", i.name);
  if (parts.suffix && t != PromptTemplate::fim)
    throw UsageError("--suffix is used only by the fim template, not by {}", i.name);

  if (t == PromptTemplate::raw) return std::string(parts.prompt);
  if (t == PromptTemplate::fim) {
    std::string out = "✿prefix✿✿suffix✿";
    out += parts.suffix.value_or("");
    out += "✿middle✿";
    out += parts.prompt;
    return out;
  }
  std::string out;
  if (parts.system) {
    const std::string system = normalize_turn_text(*parts.system);
    if (!system.empty()) out += "System: " + system + "\n\n";
  }
  out += "User: " + normalize_turn_text(parts.prompt) + "\n\n";
  out += i.assistant;
  return out;
}

std::vector<std::string> default_stop_strings(PromptTemplate t) {
  switch (t) {
    case PromptTemplate::chat:
    case PromptTemplate::think:
    case PromptTemplate::fake_think:
      return {"\n\n"};
    case PromptTemplate::fim:
      return {"✿"};
    case PromptTemplate::raw:
      break;
  }
  return {};
}

std::vector<std::string> effective_stop_strings(PromptTemplate t, std::vector<std::string> user_stops) {
  return user_stops.empty() ? default_stop_strings(t) : user_stops;
}

}  // namespace rwkv
