#include "lockstep/outbox/consumer.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "lockstep/outbox/event_entry.h"
#include "lockstep/redis/streams.h"

namespace lockstep::outbox {

// Shared by the consumer and its loop's handler. Only the loop thread touches `failures`.
struct Consumer::State {
  redis::Client& client;
  sql::Pool& pool;
  ConsumerOptions options;
  EventHandler handler;
  std::map<std::string, int> failures;  // Entry id -> failed attempts (this process).

  // Moves `entry` to the dead-letter stream. OK once it is there (then it may be acked).
  Status DeadLetter(const redis::StreamEntry& entry, const Status& error) {
    redis::StreamFields fields = entry.fields;
    fields.emplace_back("source_id", entry.id);
    fields.emplace_back("group", options.stream.group);
    fields.emplace_back("error", error.ToString());
    LOCKSTEP_RETURN_IF_ERROR(
        redis::XAdd(client, options.dead_letter_stream, fields, Deadline::After(options.stream.command_timeout))
            .status());
    failures.erase(entry.id);
    if (options.observer.on_dead_letter) options.observer.on_dead_letter(entry.id, error);
    return Status::Ok();
  }

  // One attempt at `event`: dedup row + handler in one transaction.
  Status Apply(const StoredEvent& event) {
    bool duplicate = false;
    const std::string insert =
        "INSERT INTO " + options.dedup_table + " (consumer_group, event_id) VALUES (?, ?)";
    Status s = sql::RunInTransaction(
        pool, options.run, Deadline::After(options.attempt_timeout), [&](sql::Transaction& tx) -> Status {
          duplicate = false;
          Result<sql::ExecResult> r = tx.Execute(insert, options.stream.group, event.event_id);
          if (!r.ok()) {
            if (r.status().code() != StatusCode::kAlreadyExists) return r.status();
            duplicate = true;
            return tx.Rollback();
          }
          return handler(tx, event);
        });
    if (!s.ok()) return s;
    if (duplicate) {
      if (options.observer.on_duplicate) options.observer.on_duplicate(event);
    } else if (options.observer.on_applied) {
      options.observer.on_applied(event);
    }
    return Status::Ok();
  }

  Status HandleBatch(std::vector<redis::StreamEntry>& entries, std::vector<Status>& per_entry) {
    for (size_t i = 0; i < entries.size(); ++i) {
      const redis::StreamEntry& entry = entries[i];
      std::vector<std::string> flat;
      flat.reserve(entry.fields.size() * 2);
      for (const auto& [k, v] : entry.fields) {
        flat.push_back(k);
        flat.push_back(v);
      }
      Result<StoredEvent> event = DecodeEventEntry(flat);
      Status s = event.ok() ? Apply(*event) : event.status();
      if (s.ok()) {
        failures.erase(entry.id);
        continue;
      }
      if (options.observer.on_failure) options.observer.on_failure(s);
      const int failed = event.ok() ? ++failures[entry.id] : options.max_failures;
      if (failed >= options.max_failures) {
        Status moved = DeadLetter(entry, s);
        if (moved.ok()) continue;  // Acked with the others.
        s = std::move(moved);
      }
      // Keep this entry and every later one of the batch pending: they come back in order
      // (this consumer's pending list), so an aggregate's later events never overtake it.
      for (size_t j = i; j < entries.size(); ++j) {
        per_entry[j] = j == i ? s : Status::Aborted("an earlier entry of the batch failed");
      }
      return Status::Ok();
    }
    return Status::Ok();
  }
};

std::string Consumer::SchemaStatement(const std::string& dedup_table) {
  return "CREATE TABLE IF NOT EXISTS " + dedup_table +
         " (consumer_group VARCHAR(190) NOT NULL, event_id BIGINT UNSIGNED NOT NULL, "
         "processed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (consumer_group, event_id)) "
         "ENGINE=InnoDB";
}

Result<std::unique_ptr<Consumer>> Consumer::Start(redis::Client& client, sql::Pool& pool, ConsumerOptions options,
                                                  EventHandler handler) {
  if (!handler) return Status::InvalidArgument("outbox::Consumer: handler is empty");
  const std::string& t = options.dedup_table;
  if (t.empty() || t.size() > 64 ||
      !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; })) {
    return Status::InvalidArgument("ConsumerOptions.dedup_table must be 1..64 of [A-Za-z0-9_]");
  }
  if (options.max_failures < 1) return Status::InvalidArgument("ConsumerOptions.max_failures must be >= 1");
  if (options.attempt_timeout.count() <= 0) return Status::InvalidArgument("ConsumerOptions.attempt_timeout must be > 0");
  LOCKSTEP_RETURN_IF_ERROR(options.stream.Validate());
  if (options.dead_letter_stream.empty()) options.dead_letter_stream = options.stream.stream + ":dead";
  auto state = std::make_shared<State>(State{client, pool, std::move(options), std::move(handler), {}});
  std::unique_ptr<Consumer> consumer(new Consumer(state));
  LOCKSTEP_ASSIGN_OR_RETURN(
      consumer->loop_,
      redis::StreamConsumer::Start(client, state->options.stream,
                                   [state](std::vector<redis::StreamEntry>& entries, std::vector<Status>& per_entry) {
                                     return state->HandleBatch(entries, per_entry);
                                   }));
  return consumer;
}

Consumer::~Consumer() { Stop(); }

void Consumer::Stop() {
  if (loop_) loop_->Stop();
}

redis::StreamConsumerStats Consumer::stats() const { return loop_->stats(); }

}  // namespace lockstep::outbox
