#include "lockstep/routing/consistency_token.h"

namespace lockstep::routing {

Result<ConsistencyToken> ConsistencyToken::Parse(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("consistency token is empty");
  if (text.size() > kMaxTokenLength) {
    return Status::InvalidArgument("consistency token longer than ", kMaxTokenLength, " characters");
  }
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return Status::InvalidArgument("consistency token has a character that is not printable ASCII");
  }
  auto position = sql::GtidPosition::Parse(text);
  if (!position.ok()) return Status::InvalidArgument("malformed consistency token: ", position.status().message());
  return FromPosition(std::move(*position));
}

Result<ConsistencyToken> ConsistencyToken::FromPosition(sql::GtidPosition position) {
  if (position.empty()) return Status::InvalidArgument("consistency token is empty");
  return ConsistencyToken(std::move(position));
}

}  // namespace lockstep::routing
