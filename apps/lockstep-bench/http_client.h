#pragma once

// The bench's names for the shared client (apps/common/http_client): one HttpClient per
// load-generating thread. See http_client/client.h for the contracts and thread-safety.
#include "http_client/client.h"

namespace lockstep::bench {

using HttpClient = http_client::Client;
using HttpResponse = http_client::Response;
using http_client::ParseHttpUrl;

}  // namespace lockstep::bench
