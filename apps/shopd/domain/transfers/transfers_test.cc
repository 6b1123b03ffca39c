// TransferOkBody must print exactly what reply::Outcome::Json prints: the database records the
// assembled body (procedure shopd_transfer_v2) and replays return it byte for byte.
#include <gtest/gtest.h>

#include <limits>

#include <nlohmann/json.hpp>

#include "reply/outcome.h"
#include "domain/transfers/transfers.h"

namespace shopd::domain {
namespace {

TEST(TransferOkBodyTest, AssemblesWhatOutcomeJsonPrints) {
  const std::vector<std::string> ids = {"t-1", R"(quote"and\backslash)", "~!@#$%^&*()_+{}|:<>?`-=[];',./ ", "x"};
  const std::vector<int64_t> balances = {0, 1, 9900, std::numeric_limits<int64_t>::max()};
  for (const std::string& id : ids) {
    for (int64_t b : balances) {
      TransferRequest r{id, 7, std::numeric_limits<int64_t>::max(), 100};
      const reply::Outcome expected =
          reply::Outcome::Json(200, {{"request_id", r.request_id},
                              {"from", {{"id", r.from}, {"balance", b}}},
                              {"to", {{"id", r.to}, {"balance", b / 2}}}});
      EXPECT_EQ(TransferOkBody(r).Assemble(b, b / 2), expected.body) << id << " " << b;
    }
  }
}

}  // namespace
}  // namespace shopd::domain
