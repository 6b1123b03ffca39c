#include "scenarios/settle.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <thread>

#include "http_client/client.h"

namespace lockstep::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The value of shopd_reserved_pending in `url`'s /metrics (Prometheus text); nullopt if
// unreachable.
std::optional<int64_t> ReservedPending(const std::string& url) {
  auto hp = http_client::ParseHttpUrl(url);
  if (!hp.ok()) return std::nullopt;
  http_client::Client client(hp->first, hp->second);
  auto r = client.Send("GET", "/metrics", "", Deadline::After(std::chrono::seconds(5)), "");
  if (!r.ok() || r->status != 200) return std::nullopt;
  const std::string key = "\nshopd_reserved_pending ";
  const size_t at = r->body.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stoll(r->body.substr(at + key.size()));
}

// Whether every 201 of `manifest` has its order row; false if the rows cannot be read.
bool AllConfirmedHaveRows(sql::Pool& pool, const FlashsaleManifest& manifest) {
  auto conn = pool.Acquire(Deadline::After(std::chrono::seconds(10)));
  if (!conn.ok()) return false;
  auto rows = conn->Query("SELECT request_id FROM orders WHERE LEFT(request_id, ?) = ?",
                          static_cast<int64_t>(manifest.request_prefix.size()), manifest.request_prefix,
                          Deadline::After(std::chrono::seconds(30)));
  if (!rows.ok()) return false;
  std::set<std::string> present;
  for (const auto& row : *rows) {
    if (auto rid = row.GetString(0); rid.ok()) present.insert(*rid);
  }
  for (const auto& [rid, ack] : manifest.answers) {
    if (ack.status == 201 && present.count(rid) == 0) return false;
  }
  return true;
}

}  // namespace

bool AwaitSettled(sql::Pool& pool, const FlashsaleManifest& manifest, const std::vector<std::string>& urls,
                  double timeout_s) {
  if (timeout_s <= 0) return true;
  const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  int zero_polls = 0;
  while (Clock::now() < give_up) {
    std::optional<int64_t> pending;
    for (const auto& u : urls) {
      if ((pending = ReservedPending(u))) break;
    }
    if (pending) {
      zero_polls = *pending == 0 ? zero_polls + 1 : 0;
      if (zero_polls >= 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (AllConfirmedHaveRows(pool, manifest)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "lockstep-bench: orders did not settle within %.0f s\n", timeout_s);
  return false;
}

}  // namespace lockstep::bench
