// The hand-written JSON writers must print exactly what nlohmann::json prints: replayed
// bodies are compared byte for byte, and error bodies come from both.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reply/json_text.h"

namespace shopd::reply {
namespace {

const std::vector<std::string>& Strings() {
  static const std::vector<std::string> strings = {
      "plain",  "",          R"(quote"and\backslash)", "tab\there", "nl\nand\x01ctl", "del\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\x92",  // UTF-8: é € 🛒
      "bad \xff utf8", "~!@#$%^&*()_+{}|:<>?`-=[];',./ ", std::string("nul\0inside", 10)};
  return strings;
}

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

TEST(JsonTextTest, StringsAndIntsPrintAsNlohmannPrintsThem) {
  for (const std::string& s : Strings()) {
    std::string out;
    AppendJsonString(out, s);
    EXPECT_EQ(out, Dump(s)) << s;
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{42}, std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min()}) {
    std::string out;
    AppendJsonInt(out, v);
    EXPECT_EQ(out, Dump(v));
  }
}

TEST(JsonTextTest, ErrorJsonIsTheApiErrorBody) {
  for (const std::string& s : Strings()) {
    EXPECT_EQ(ErrorJson("out_of_stock", s), Dump({{"error", {{"code", "out_of_stock"}, {"message", s}}}})) << s;
  }
}

}  // namespace
}  // namespace shopd::reply
