#include "lockstep/redis/streams.h"

#include <algorithm>
#include <string>

namespace lockstep::redis {
namespace {

using std::chrono::milliseconds;

Status Malformed(std::string_view what, const Reply& reply) {
  return Status::Internal("redis ", what, ": unexpected reply ", reply.DebugString());
}

// [id, [f1, v1, ...] | nil]
Result<StreamEntry> ParseEntry(const Reply& reply) {
  if (!reply.is_array() || reply.array().size() != 2 || !reply.array()[0].is_string()) {
    return Malformed("stream entry", reply);
  }
  StreamEntry entry;
  entry.id = reply.array()[0].str();
  const Reply& fields = reply.array()[1];
  if (fields.is_nil()) return entry;  // Deleted while pending.
  if (!fields.is_array() || fields.array().size() % 2 != 0) return Malformed("stream entry fields", reply);
  for (size_t i = 0; i < fields.array().size(); i += 2) {
    entry.fields.emplace_back(fields.array()[i].str(), fields.array()[i + 1].str());
  }
  return entry;
}

Result<std::vector<StreamEntry>> ParseEntries(const Reply& reply) {
  std::vector<StreamEntry> out;
  if (reply.is_nil()) return out;
  if (!reply.is_array()) return Malformed("stream entries", reply);
  out.reserve(reply.array().size());
  for (const Reply& e : reply.array()) {
    LOCKSTEP_ASSIGN_OR_RETURN(StreamEntry entry, ParseEntry(e));
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Result<std::string> XAdd(Client& client, std::string_view stream, const StreamFields& fields,
                         const Deadline& deadline, const XAddOptions& options) {
  if (fields.empty()) return Status::InvalidArgument("XADD: no fields");
  if (options.max_len.has_value() && options.min_id.has_value()) {
    return Status::InvalidArgument("XADD: max_len and min_id are exclusive");
  }
  std::vector<std::string_view> argv = {"XADD", stream};
  if (options.no_mkstream) argv.push_back("NOMKSTREAM");
  std::string max_len;
  if (options.max_len.has_value()) {
    max_len = std::to_string(*options.max_len);
    argv.push_back("MAXLEN");
    argv.push_back(options.approximate_trim ? "~" : "=");
    argv.push_back(max_len);
  } else if (options.min_id.has_value()) {
    argv.push_back("MINID");
    argv.push_back(options.approximate_trim ? "~" : "=");
    argv.push_back(*options.min_id);
  }
  argv.push_back(options.id);
  for (const auto& [field, value] : fields) {
    argv.push_back(field);
    argv.push_back(value);
  }
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, client.Execute(argv, deadline));
  if (reply.is_nil()) return Status::NotFound("XADD NOMKSTREAM: stream ", stream, " does not exist");
  return reply.AsString();
}

Status XGroupCreate(Client& client, std::string_view stream, std::string_view group, std::string_view start_id,
                    bool mkstream, const Deadline& deadline) {
  std::vector<std::string_view> argv = {"XGROUP", "CREATE", stream, group, start_id};
  if (mkstream) argv.push_back("MKSTREAM");
  Result<Reply> reply = client.Execute(argv, deadline);
  if (!reply.ok() && reply.status().code() == StatusCode::kAlreadyExists && reply.status().reason() == "busygroup") {
    return Status::Ok();  // Idempotent create: the group is there, which is what was asked.
  }
  return reply.ok() ? Status::Ok() : reply.status();
}

Result<std::vector<StreamEntry>> XReadGroup(Client& client, std::string_view group, std::string_view consumer,
                                            std::string_view stream, int64_t count, milliseconds block,
                                            const Deadline& deadline, std::string_view id) {
  if (count <= 0) return Status::InvalidArgument("XREADGROUP: count must be > 0");
  Deadline effective = deadline;
  if (deadline.infinite()) {
    // Block as asked, plus the client's usual command budget for the reply itself.
    effective = Deadline::After(std::max(block, milliseconds(0)) + client.options().command_timeout);
  }
  const std::string count_text = std::to_string(count);
  std::vector<std::string_view> argv = {"XREADGROUP", "GROUP", group, consumer, "COUNT", count_text};
  std::string block_text;
  if (block > milliseconds::zero()) {
    // Leave room for the reply to travel back before the socket timeout fires (a timeout
    // would cost the connection): a quarter of the time left, at most 100ms.
    const auto left = std::chrono::floor<milliseconds>(effective.remaining());
    const auto margin = std::min(milliseconds(100), left / 4);
    const auto bounded = std::min(block, left - margin);
    if (bounded >= milliseconds(1)) {  // BLOCK 0 would mean forever: never send it.
      block_text = std::to_string(bounded.count());
      argv.push_back("BLOCK");
      argv.push_back(block_text);
    }
  }
  argv.push_back("STREAMS");
  argv.push_back(stream);
  argv.push_back(id);
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, client.Execute(argv, effective));
  if (reply.is_nil()) return std::vector<StreamEntry>();
  // [[stream, [entries...]]]
  if (!reply.is_array() || reply.array().size() != 1 || !reply.array()[0].is_array() ||
      reply.array()[0].array().size() != 2) {
    return Malformed("XREADGROUP", reply);
  }
  return ParseEntries(reply.array()[0].array()[1]);
}

Result<int64_t> XAck(Client& client, std::string_view stream, std::string_view group,
                     const std::vector<std::string>& ids, const Deadline& deadline) {
  if (ids.empty()) return int64_t{0};
  std::vector<std::string_view> argv = {"XACK", stream, group};
  argv.insert(argv.end(), ids.begin(), ids.end());
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, client.Execute(argv, deadline));
  return reply.AsInteger();
}

Result<AutoClaimResult> XAutoClaim(Client& client, std::string_view stream, std::string_view group,
                                   std::string_view consumer, milliseconds min_idle, std::string_view start,
                                   int64_t count, const Deadline& deadline) {
  if (count <= 0) return Status::InvalidArgument("XAUTOCLAIM: count must be > 0");
  const std::string idle_text = std::to_string(std::max<int64_t>(0, min_idle.count()));
  const std::string count_text = std::to_string(count);
  LOCKSTEP_ASSIGN_OR_RETURN(
      Reply reply,
      client.Execute({"XAUTOCLAIM", stream, group, consumer, idle_text, start, "COUNT", count_text}, deadline));
  // Redis 6.2: [cursor, entries]; Redis 7: [cursor, entries, deleted_ids].
  if (!reply.is_array() || reply.array().size() < 2 || !reply.array()[0].is_string()) {
    return Malformed("XAUTOCLAIM", reply);
  }
  AutoClaimResult result;
  result.next_cursor = reply.array()[0].str();
  LOCKSTEP_ASSIGN_OR_RETURN(result.entries, ParseEntries(reply.array()[1]));
  if (reply.array().size() >= 3) {
    for (const Reply& id : reply.array()[2].array()) result.deleted_ids.push_back(id.str());
  }
  // Entries deleted from the stream come back with nil fields in 6.2; report them as
  // deleted ids in both versions.
  auto is_deleted = [](const StreamEntry& e) { return e.fields.empty(); };
  for (const StreamEntry& e : result.entries) {
    if (is_deleted(e)) result.deleted_ids.push_back(e.id);
  }
  result.entries.erase(std::remove_if(result.entries.begin(), result.entries.end(), is_deleted),
                       result.entries.end());
  return result;
}

Result<PendingSummary> XPendingSummary(Client& client, std::string_view stream, std::string_view group,
                                       const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, client.Execute({"XPENDING", stream, group}, deadline));
  if (!reply.is_array() || reply.array().size() != 4) return Malformed("XPENDING", reply);
  PendingSummary summary;
  LOCKSTEP_ASSIGN_OR_RETURN(summary.count, reply.array()[0].AsInteger());
  summary.min_id = reply.array()[1].str();
  summary.max_id = reply.array()[2].str();
  for (const Reply& c : reply.array()[3].array()) {
    if (!c.is_array() || c.array().size() != 2) return Malformed("XPENDING consumer", reply);
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t n, c.array()[1].AsInteger());
    summary.consumers.emplace_back(c.array()[0].str(), n);
  }
  return summary;
}

Result<int64_t> XTrimMinId(Client& client, std::string_view stream, std::string_view min_id,
                           const Deadline& deadline, bool approximate) {
  LOCKSTEP_ASSIGN_OR_RETURN(
      Reply reply, client.Execute({"XTRIM", stream, "MINID", approximate ? "~" : "=", min_id}, deadline));
  return reply.AsInteger();
}

Result<int64_t> XLen(Client& client, std::string_view stream, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, client.Execute({"XLEN", stream}, deadline));
  return reply.AsInteger();
}

}  // namespace lockstep::redis
