#include "cli/commands.h"
#include "util/error.h"

namespace rwkv::cli {

int cmd_generate(int argc, char** argv) {
  throw UsageError("text generation is not available yet; try `rwkv logits --help`");
}

}  // namespace rwkv::cli
