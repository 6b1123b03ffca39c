#include "scenarios/create_entities.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_client/client.h"

namespace lockstep::bench {

std::optional<std::vector<int64_t>> CreateEntities(const CommonOptions& opt, const std::vector<Endpoint>& endpoints,
                                                   const std::string& path, int count,
                                                   const std::function<std::string(int index)>& body_of,
                                                   const std::string& headers) {
  std::vector<int64_t> ids(static_cast<size_t>(count));
  std::atomic<int> next{0};
  std::atomic<bool> setup_failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min(opt.connections, 16); ++t) {
    threads.emplace_back([&, t] {
      const Endpoint& ep = endpoints[static_cast<size_t>(t) % endpoints.size()];
      http_client::Client client(ep.host, ep.port);
      for (int i; (i = next.fetch_add(1)) < count && !setup_failed;) {
        auto r = client.Send("POST", path, body_of(i), Deadline::After(std::chrono::seconds(30)), headers);
        if (!r.ok() || r->status != 201) {
          std::fprintf(stderr, "setup: POST %s failed: %s\n", path.c_str(),
                       r.ok() ? (std::to_string(r->status) + " " + r->body).c_str() : r.status().ToString().c_str());
          setup_failed = true;
          return;
        }
        ids[static_cast<size_t>(i)] = nlohmann::json::parse(r->body).at("id").get<int64_t>();
      }
    });
  }
  for (auto& th : threads) th.join();
  if (setup_failed) return std::nullopt;
  return ids;
}

}  // namespace lockstep::bench
