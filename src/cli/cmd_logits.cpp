#include "cli/commands.h"
#include "util/error.h"

namespace rwkv::cli {

int cmd_logits(int argc, char** argv) { throw UsageError("logits: not available yet"); }

}  // namespace rwkv::cli
