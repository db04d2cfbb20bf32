// The hub's failures turned into messages that say what is wrong and what to do about it.
#pragma once

#include <string>

#include "hub/http.h"
#include "hub/hub.h"

namespace rwkv::hub {

// An HTTP answer that ends the download (4xx, 5xx). `status` lets the caller fall back to the
// cache for a server error.
class HubHttpError : public Error {
 public:
  HubHttpError(const std::string& what, long status) : Error(what), status(status) {}
  long status;
};

// "'file' from org/name at revision rev": how every message names the file.
std::string describe(const HubFile& f);

// 401/403/404/... with the hub's X-Error-Code / X-Error-Message when it sent them.
[[noreturn]] void throw_http_error(const HttpResponse& r, const HubFile& f, const HubOptions& opt);

// No answer at all: names the endpoint and the ways around it (a mirror, offline mode).
std::string network_message(const NetworkError& e, const HubFile& f, const HubOptions& opt);

// Why `f` is not in the cache, for HF_HUB_OFFLINE.
std::string offline_miss_message(const HubFile& f, const HubOptions& opt);

}  // namespace rwkv::hub
