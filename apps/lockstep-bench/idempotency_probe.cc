#include "idempotency_probe.h"

#include <future>
#include <utility>

namespace lockstep::bench {

IdempotencyProbe::IdempotencyProbe(const std::vector<Endpoint>& endpoints, std::string headers, int replay_every,
                                   int duplicate_every)
    : endpoints_(endpoints),
      headers_(std::move(headers)),
      replay_every_(replay_every),
      duplicate_every_(duplicate_every) {}

Result<http_client::Response> IdempotencyProbe::Send(int thread_index, int64_t index, http_client::Client& client,
                                            std::string_view target, const std::string& rid, std::string_view body,
                                            const Deadline& deadline) {
  if (duplicate_every_ <= 0 || index % duplicate_every_ != 1) {
    return client.Send("POST", target, body, deadline, headers_);
  }
  // The same request at the same time on a second connection (to the next endpoint).
  const Endpoint& other = endpoints_[static_cast<size_t>(thread_index + 1) % endpoints_.size()];
  auto twin = std::async(std::launch::async, [&] {
    http_client::Client c2(other.host, other.port);
    return c2.Send("POST", target, body, deadline, headers_);
  });
  Result<http_client::Response> r = client.Send("POST", target, body, deadline, headers_);
  auto r2 = twin.get();
  if (r.ok() && r2.ok() && r->status < 500 && r2->status < 500 && (r->status != r2->status || r->body != r2->body)) {
    Note(duplicate_mismatches_, rid + ": concurrent duplicates answered " + std::to_string(r->status) + " " + r->body +
                                    " vs " + std::to_string(r2->status) + " " + r2->body);
  }
  return r;
}

void IdempotencyProbe::Replay(int64_t index, http_client::Client& client, std::string_view target, const std::string& rid,
                              std::string_view body, const Deadline& deadline, const http_client::Response& first) {
  if (replay_every_ <= 0 || index % replay_every_ != 0 || first.status >= 500) return;
  auto again = client.Send("POST", target, body, deadline, headers_);
  if (again.ok() && again->status < 500 &&
      (again->status != first.status || again->body != first.body || again->Header("idempotent-replay") != "true")) {
    Note(replay_mismatches_, rid + ": replay answered " + std::to_string(again->status) + " " + again->body +
                                 " (Idempotent-Replay: " + again->Header("idempotent-replay") + ") vs original " +
                                 std::to_string(first.status) + " " + first.body);
  }
}

void IdempotencyProbe::NoteReplayMismatch(std::string what) { Note(replay_mismatches_, std::move(what)); }

void IdempotencyProbe::Note(std::atomic<int64_t>& counter, std::string what) {
  counter.fetch_add(1);
  MutexLock lock(&mu_);
  if (examples_.size() < 5) examples_.push_back(std::move(what));
}

void IdempotencyProbe::AddCounts(nlohmann::json& j) const {
  j["replay_mismatches"] = replay_mismatches();
  j["duplicate_mismatches"] = duplicate_mismatches();
}

void IdempotencyProbe::AddViolations(std::vector<std::string>& violations) const {
  {
    MutexLock lock(&mu_);
    for (const auto& m : examples_) violations.push_back(m);
  }
  if (replay_mismatches() > 0) violations.push_back(std::to_string(replay_mismatches()) + " replay mismatches");
  if (duplicate_mismatches() > 0) violations.push_back(std::to_string(duplicate_mismatches()) + " duplicate mismatches");
}

}  // namespace lockstep::bench
