#include "lockstep/cdc/stream_publisher.h"

#include <algorithm>
#include <charconv>

#include "lockstep/cdc/stream_entry.h"
#include "lockstep/redis/script.h"

namespace lockstep::cdc {
namespace {

// KEYS[1] checkpoint key, KEYS[2] stream, KEYS[3] fence key. ARGV[1] the publisher's fence
// ("0" = not fenced), ARGV[2] the checkpoint the caller last saw ("" = none), ARGV[3] the new
// checkpoint, ARGV[4] number of entries, then per entry its field count followed by its
// fields. Returns 1 when appended, 0 when this exact append had already run (the stored
// checkpoint is ARGV[3]: a retry after a lost reply). A fenced publisher first compares its
// fence with the highest one the stream has seen: a lower one is refused (FENCED) before
// anything else, a higher one is stored.
const redis::Script kAppend(R"lua(
local fence = tonumber(ARGV[1])
if fence > 0 then
  local seen = tonumber(redis.call('GET', KEYS[3]) or '0')
  if seen > fence then
    return redis.error_reply('FENCED the stream was taken over by fence ' .. seen .. ', this publisher has ' .. ARGV[1])
  end
  if seen < fence then redis.call('SET', KEYS[3], ARGV[1]) end
end
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then
  if cur == ARGV[3] then return 0 end
  return redis.error_reply('CHECKPOINT_MOVED stored checkpoint is "' .. cur .. '", expected "' .. ARGV[2] .. '"')
end
local i = 5
for e = 1, tonumber(ARGV[4]) do
  local n = tonumber(ARGV[i])
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
)lua");

class StreamPublisherImpl final : public StreamPublisher {
 public:
  StreamPublisherImpl(redis::Client& client, StreamPublisherOptions options)
      : client_(client), options_(std::move(options)) {
    if (options_.checkpoint_key.empty()) options_.checkpoint_key = options_.stream + ":checkpoint";
    if (options_.fence_key.empty()) options_.fence_key = options_.stream + ":fence";
  }

  Result<std::optional<StreamCheckpoint>> Load(const Deadline& deadline) override {
    LOCKSTEP_ASSIGN_OR_RETURN(std::optional<std::string> stored, client_.Get(options_.checkpoint_key, Cap(deadline)));
    if (!stored) {
      stored_ = "";
      checkpoint_ = StreamCheckpoint{};
      loaded_ = true;
      return std::optional<StreamCheckpoint>();
    }
    LOCKSTEP_ASSIGN_OR_RETURN(StreamCheckpoint cp, StreamCheckpoint::Parse(*stored));
    stored_ = *stored;
    checkpoint_ = cp;
    loaded_ = true;
    return std::optional<StreamCheckpoint>(cp);
  }

  Result<StreamCheckpoint> Initialize(const GtidPosition& position, const Deadline& deadline) override {
    StreamCheckpoint cp;
    cp.position = position;
    LOCKSTEP_ASSIGN_OR_RETURN(redis::Reply r, client_.Command({"SET", options_.checkpoint_key, cp.ToString(), "NX"},
                                                              Cap(deadline)));
    (void)r;
    LOCKSTEP_ASSIGN_OR_RETURN(std::optional<StreamCheckpoint> loaded, Load(deadline));
    if (!loaded) return Status::Internal("checkpoint ", options_.checkpoint_key, " vanished after SET NX");
    return *loaded;
  }

  Result<size_t> Publish(const CommittedTransaction& txn, const Deadline& deadline) override {
    return PublishBatch({&txn}, deadline);
  }

  Result<size_t> PublishBatch(const std::vector<const CommittedTransaction*>& txns,
                              const Deadline& deadline) override {
    if (!loaded_) return Status::FailedPrecondition("StreamPublisher::Publish before Load/Initialize");
    // The changes of a partially appended transaction already in the stream.
    const std::optional<Gtid> partial = checkpoint_.partial;
    const uint64_t partial_done = checkpoint_.rows_done;
    GtidPosition position = checkpoint_.position;  // After the transactions fully consumed.
    std::vector<std::string> chunk;  // Entry arguments: field count, fields...
    size_t chunk_rows = 0;     // Row changes in `chunk`.
    size_t chunk_entries = 0;  // Other entries (DDL) in `chunk`.
    size_t chunk_xadds = 0;    // Stream entries in `chunk` (a multi-row entry is one).
    size_t appended = 0;
    auto flush = [&](StreamCheckpoint next) -> Status {
      const std::string next_text = next.ToString();
      std::vector<std::string> args;
      args.reserve(4 + chunk.size());
      args.push_back(std::to_string(options_.fence));
      args.push_back(stored_);
      args.push_back(next_text);
      args.push_back(std::to_string(chunk_xadds));
      for (std::string& a : chunk) args.push_back(std::move(a));
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t ran, RunAppend(args, deadline));
      stored_ = next_text;
      checkpoint_ = std::move(next);
      if (ran == 1) {
        appended += chunk_rows + chunk_entries;
        if (options_.observer.on_append) options_.observer.on_append(checkpoint_, chunk_rows + chunk_entries);
      }
      chunk.clear();
      chunk_rows = 0;
      chunk_entries = 0;
      chunk_xadds = 0;
      return Status::Ok();
    };
    for (const CommittedTransaction* txn : txns) {
      if (position.Covers(txn->gtid)) continue;  // Already in the stream.
      const size_t total = txn->changes.size();
      size_t row = partial && *partial == txn->gtid ? std::min<size_t>(partial_done, total) : 0;
      if (row == 0 && options_.ddl_entries) {
        // DDL entries ride with the transaction's first chunk (not counted as rows: a
        // resumed transaction, row > 0, has them in already).
        for (size_t i = 0; i < txn->ddl.size(); ++i) {
          std::vector<std::string> fields = EncodeDdlEntry(*txn, i);
          chunk.push_back(std::to_string(fields.size()));
          for (std::string& f : fields) chunk.push_back(std::move(f));
          ++chunk_entries;
          ++chunk_xadds;
        }
      }
      while (row < total) {
        // An entry never spans two appends: a partial checkpoint counts whole entries.
        const size_t room = options_.max_rows_per_append - chunk_rows;
        size_t end = row + 1;
        std::vector<std::string> fields;
        if (options_.encode_row) {
          fields = options_.encode_row(*txn, row);  // One entry for this change, or none.
        } else if (options_.max_rows_per_entry <= 1) {
          fields = EncodeStreamEntry(*txn, row);
        } else {
          end = RowsEntryEnd(*txn, row, std::min(options_.max_rows_per_entry, room));
          fields = EncodeRowsEntry(*txn, row, end);
        }
        if (!fields.empty()) {  // Else no entry for this change; it is done all the same.
          chunk.push_back(std::to_string(fields.size()));
          for (std::string& f : fields) chunk.push_back(std::move(f));
          chunk_rows += end - row;
          ++chunk_xadds;
        }
        row = end;
        if (chunk_rows >= options_.max_rows_per_append && row < total) {
          StreamCheckpoint next;
          next.position = position;
          next.partial = txn->gtid;
          next.rows_done = row;
          LOCKSTEP_RETURN_IF_ERROR(flush(std::move(next)));
        }
      }
      position.Advance(txn->gtid);
      if (chunk_rows >= options_.max_rows_per_append) LOCKSTEP_RETURN_IF_ERROR(flush(StreamCheckpoint{position, {}, 0}));
    }
    // Rows left, or transactions without rows that moved the position. (A stored partial
    // transaction that this batch did not reach stays as it is.)
    if (chunk_rows + chunk_entries > 0 || !(position == checkpoint_.position)) {
      LOCKSTEP_RETURN_IF_ERROR(flush(StreamCheckpoint{position, {}, 0}));
    }
    return appended;
  }

  Status RecordGap(const GtidPosition& resume_at, std::string_view reason, const Deadline& deadline) override {
    if (!loaded_) return Status::FailedPrecondition("StreamPublisher::RecordGap before Load/Initialize");
    StreamCheckpoint next;
    next.position = resume_at;
    const std::string next_text = next.ToString();
    std::vector<std::string> fields = EncodeGapEntry({checkpoint_.position, resume_at, std::string(reason)});
    std::vector<std::string> args = {std::to_string(options_.fence), stored_, next_text, "1",
                                     std::to_string(fields.size())};
    for (std::string& f : fields) args.push_back(std::move(f));
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t ran, RunAppend(args, deadline));
    (void)ran;
    stored_ = next_text;
    checkpoint_ = std::move(next);
    return Status::Ok();
  }

  const StreamCheckpoint& checkpoint() const override { return checkpoint_; }
  const StreamPublisherOptions& options() const override { return options_; }

 private:
  Deadline Cap(const Deadline& deadline) const {
    return deadline.infinite() ? Deadline::After(options_.append_timeout) : deadline;
  }

  // Runs the append script; a reply lost to an I/O error or timeout (the script may have
  // run) is retried with the same arguments until the deadline: the script tells a
  // repeated append by its checkpoint and does not append twice.
  Result<int64_t> RunAppend(const std::vector<std::string>& args, const Deadline& deadline) {
    const Deadline d = Cap(deadline);
    const std::vector<std::string> keys = {options_.checkpoint_key, options_.stream, options_.fence_key};
    while (true) {
      Result<redis::Reply> r = kAppend.Run(client_, keys, args, d);
      if (r.ok()) return r->AsInteger();
      const StatusCode code = r.status().code();
      if ((code != StatusCode::kUnavailable && code != StatusCode::kDeadlineExceeded) || d.expired()) {
        return r.status();
      }
    }
  }

  redis::Client& client_;
  StreamPublisherOptions options_;
  bool loaded_ = false;
  std::string stored_;  // The checkpoint text as stored ("" = no key).
  StreamCheckpoint checkpoint_;
};

}  // namespace

std::string StreamCheckpoint::ToString() const {
  std::string out = position.ToString();
  if (partial) out += "|" + partial->ToString() + "|" + std::to_string(rows_done);
  return out;
}

Result<StreamCheckpoint> StreamCheckpoint::Parse(std::string_view text) {
  StreamCheckpoint cp;
  const size_t bar = text.find('|');
  LOCKSTEP_ASSIGN_OR_RETURN(cp.position, GtidPosition::Parse(text.substr(0, bar)));
  if (bar == std::string_view::npos) return cp;
  const std::string_view rest = text.substr(bar + 1);
  const size_t bar2 = rest.find('|');
  if (bar2 == std::string_view::npos) return Status::InvalidArgument("bad stream checkpoint '", text, "'");
  LOCKSTEP_ASSIGN_OR_RETURN(Gtid g, Gtid::Parse(rest.substr(0, bar2)));
  cp.partial = g;
  const std::string_view n = rest.substr(bar2 + 1);
  auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), cp.rows_done);
  if (ec != std::errc() || ptr != n.data() + n.size() || n.empty()) {
    return Status::InvalidArgument("bad stream checkpoint '", text, "'");
  }
  return cp;
}

Result<std::unique_ptr<StreamPublisher>> StreamPublisher::Create(redis::Client& client,
                                                                 const StreamPublisherOptions& options) {
  if (options.stream.empty()) return Status::InvalidArgument("StreamPublisherOptions.stream must not be empty");
  if (options.max_rows_per_append == 0) return Status::InvalidArgument("max_rows_per_append must be > 0");
  if (options.max_rows_per_entry == 0) return Status::InvalidArgument("max_rows_per_entry must be > 0");
  if (options.append_timeout <= std::chrono::milliseconds(0)) return Status::InvalidArgument("append_timeout must be > 0");
  if (options.fence < 0) return Status::InvalidArgument("StreamPublisherOptions.fence must be >= 0");
  return std::unique_ptr<StreamPublisher>(new StreamPublisherImpl(client, options));
}

}  // namespace lockstep::cdc
