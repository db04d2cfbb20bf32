// The text side of generation: prompt templates of the RWKV-7 G1 models, their default stop
// strings, and a streaming stop-sequence matcher.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

// ------------------------------------------------------------------ prompt templates

// raw:        the prompt as given.
// chat:       [System: {system}\n\n]User: {prompt}\n\nAssistant:
// think:      the same, ending "Assistant: <think" (the model writes its reasoning first)
// fake-think: the same, ending "Assistant: <think></think" (an empty reasoning, then the answer)
// fim:        ✿prefix✿✿suffix✿{suffix}✿middle✿{prompt}   (fill in the middle, G1c and later:
//             prompt is the text before the gap, suffix the text after it)
enum class PromptTemplate { raw, chat, think, fake_think, fim };

// "raw", "chat", "think", "fake-think", "fim"; throws rwkv::UsageError naming --template and the
// valid names otherwise.
PromptTemplate parse_prompt_template(std::string_view name);
std::string_view prompt_template_name(PromptTemplate t);

struct PromptParts {
  std::string_view prompt;
  std::optional<std::string_view> system;  // chat, think, fake-think only
  std::optional<std::string_view> suffix;  // fim only
};

// The text to tokenize. For chat, think and fake-think, the user and system texts go through
// normalize_turn_text() first (so that they cannot contain the turn separator "\n\n"); an
// empty system text after that leaves out the System line. fim and raw use the texts exactly as
// given. Throws rwkv::UsageError when a part is given that the template does not use
// (--system without a chat template, --suffix without fim): the seed ignores them silently.
std::string apply_template(PromptTemplate t, const PromptParts& parts);

// "\r\n" becomes "\n", every run of newlines becomes one "\n" (as the official ChatRWKV chat demo
// does: "a\n\n\nb" -> "a\nb"), and leading and trailing whitespace is removed.
std::string normalize_turn_text(std::string_view text);

// `text` without its trailing (Unicode White_Space) characters. The seed trims every RWKV-7
// prompt this way, after applying the template and before tokenizing, raw and fim included
// (a prompt ending in a space makes the World tokenizer pick unusual tokens); the generation loop
// does it, so that apply_template() stays exact.
std::string_view trim_trailing_whitespace(std::string_view text);

// Where generation ends by default: "\n\n" for chat, think and fake-think (the end of the
// assistant's turn), "✿" for fim (the model closes the middle), nothing for raw.
std::vector<std::string> default_stop_strings(PromptTemplate t);
// The user's --stop strings when there are any (they replace the defaults, as in the seed's fim),
// else default_stop_strings(t).
std::vector<std::string> effective_stop_strings(PromptTemplate t, std::vector<std::string> user_stops);

// ------------------------------------------------------------------ stop strings

// Watches generated text for stop strings while it streams out. Feed it the bytes of each decoded
// token; it returns what is safe to print now and holds back only a suffix that could still turn
// into a stop string (or an incomplete UTF-8 character). When a stop string completes, it returns
// the text before it and stops: the stop string and anything after it are never returned.
//
// With several stop strings, the one that completes first (ends earliest) wins; among those
// ending at the same byte, the one starting earliest. The result does not depend on how the text
// is cut into pieces. Output never ends inside a UTF-8 character, even when the input pieces do.
class StopMatcher {
 public:
  // Throws rwkv::UsageError naming --stop for an empty string or one that is not valid UTF-8
  // (a valid stop string begins on a character boundary, so cutting before it never splits one).
  // No stop strings at all is fine: the matcher then only keeps characters whole.
  explicit StopMatcher(std::vector<std::string> stops);

  // Takes the next bytes; returns the bytes that can be printed now. Empty once stopped().
  std::string feed(std::string_view bytes);
  // Generation ended another way (length limit, end-of-text token): returns the held-back bytes.
  std::string finish();
  // Forgets the held-back bytes and the stop, to watch a new text with the same stop strings.
  void reset();

  bool stopped() const { return matched_.has_value(); }
  // The index in stops() of the stop string that ended the text.
  std::optional<size_t> matched() const { return matched_; }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::optional<size_t> matched_;
};

}  // namespace rwkv
