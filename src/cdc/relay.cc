#include "lockstep/cdc/relay.h"

#include <mutex>
#include <vector>
#include <thread>

#include "lockstep/base/backoff.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::cdc {
namespace {

// How long one Next() waits before the thread looks at the stop flag again.
constexpr std::chrono::milliseconds kPollInterval{200};
// Transactions appended together at most (fewer when their rows fill an append).
constexpr size_t kMaxBatch = 256;

bool Terminal(const Status& s) {
  switch (s.code()) {
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnimplemented:
    case StatusCode::kResourceExhausted:
    case StatusCode::kInvalidArgument:
    case StatusCode::kPermissionDenied:
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

class RelayImpl final : public Relay {
 public:
  RelayImpl(redis::Client& client, RelayOptions options) : client_(client), options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RelayImpl() override { Stop(); }

  void Stop() override {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      if (reader_ != nullptr) reader_->Stop();
      cv_.SignalAll();
    }
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  Status status() const override {
    MutexLock lock(&mu_);
    return status_;
  }

  StreamCheckpoint checkpoint() const override {
    MutexLock lock(&mu_);
    return checkpoint_;
  }

  bool AwaitPosition(const GtidPosition& position, const Deadline& deadline) const override {
    MutexLock lock(&mu_);
    while (true) {
      bool covered = true;
      for (const Gtid& g : position.gtids()) covered = covered && checkpoint_.position.Covers(g);
      if (covered) return true;
      if (finished_ || !cv_.WaitUntil(&mu_, deadline)) {
        for (const Gtid& g : position.gtids()) {
          if (!checkpoint_.position.Covers(g)) return false;
        }
        return true;
      }
    }
  }

 private:
  void Run() {
    SetCurrentThreadName("cdc-relay");
    Backoff backoff({.initial = options_.retry_initial, .max = options_.retry_max});
    Status final_status;
    while (true) {
      Status s = RunOnce(&backoff);
      if (Stopping()) {
        final_status = Status::Cancelled("relay stopped");
        break;
      }
      if (Terminal(s)) {
        final_status = s;
        break;
      }
      if (options_.observer.on_retry) options_.observer.on_retry(s);
      // Interruptible backoff.
      const Deadline until = Deadline::After(backoff.NextDelay());
      MutexLock lock(&mu_);
      while (!stopping_ && cv_.WaitUntil(&mu_, until)) {
      }
      if (stopping_) {
        final_status = Status::Cancelled("relay stopped");
        break;
      }
    }
    MutexLock lock(&mu_);
    status_ = final_status;
    finished_ = true;
    cv_.SignalAll();
  }

  bool Stopping() const {
    MutexLock lock(&mu_);
    return stopping_;
  }

  // One connection's life: checkpoint, reader, appends until a failure. Returns why it
  // ended.
  Status RunOnce(Backoff* backoff) {
    const Deadline setup = Deadline::After(options_.publisher.append_timeout);
    LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<StreamPublisher> publisher,
                              StreamPublisher::Create(client_, options_.publisher));
    LOCKSTEP_ASSIGN_OR_RETURN(std::optional<StreamCheckpoint> stored, publisher->Load(setup));
    BinlogReaderOptions reader_options = options_.reader;
    if (stored) reader_options.start = stored->position;
    Result<std::unique_ptr<BinlogReader>> opened = BinlogReader::Open(reader_options, setup);
    if (!opened.ok() && opened.status().code() == StatusCode::kDataLoss) {
      const Status gap = opened.status();
      if (options_.observer.on_gap) options_.observer.on_gap(gap);
      if (options_.gap_policy == GapPolicy::kStop) return gap;
      // Resume at the primary's current position, saying in the stream what is lost.
      reader_options.start = std::nullopt;
      opened = BinlogReader::Open(reader_options, setup);
      if (!opened.ok()) return opened.status();
      LOCKSTEP_RETURN_IF_ERROR(publisher->RecordGap((*opened)->start_position(), std::string(gap.message()), setup));
    }
    if (!opened.ok()) return opened.status();
    if (!stored) LOCKSTEP_RETURN_IF_ERROR(publisher->Initialize((*opened)->start_position(), setup).status());
    std::shared_ptr<BinlogReader> reader = std::move(*opened);
    {
      MutexLock lock(&mu_);
      if (stopping_) return Status::Cancelled("relay stopped");
      reader_ = reader;
      checkpoint_ = publisher->checkpoint();
      cv_.SignalAll();
    }
    Status ended;
    std::vector<CommittedTransaction> batch;
    while (ended.ok()) {
      Result<CommittedTransaction> txn = reader->Next(Deadline::After(kPollInterval));
      if (!txn.ok()) {
        if (txn.status().code() == StatusCode::kDeadlineExceeded) {
          if (Stopping()) ended = Status::Cancelled("relay stopped");
          continue;
        }
        ended = txn.status();
        break;
      }
      // Whatever the reader has decoded already goes into the same appends (one script,
      // one round trip and one AOF write for many small transactions).
      batch.clear();
      size_t rows = txn->changes.size();
      batch.push_back(std::move(*txn));
      while (batch.size() < kMaxBatch && rows < options_.publisher.max_rows_per_append) {
        Result<CommittedTransaction> more = reader->Next(Deadline::After(std::chrono::milliseconds(0)));
        if (!more.ok()) {
          if (more.status().code() != StatusCode::kDeadlineExceeded) ended = more.status();
          break;
        }
        rows += more->changes.size();
        batch.push_back(std::move(*more));
      }
      std::vector<const CommittedTransaction*> pointers;
      pointers.reserve(batch.size());
      for (const CommittedTransaction& t : batch) pointers.push_back(&t);
      Result<size_t> appended = publisher->PublishBatch(pointers, Deadline::After(options_.publisher.append_timeout));
      if (!appended.ok()) {
        ended = appended.status();
        break;
      }
      backoff->Reset();
      if (options_.observer.on_published) {
        for (const CommittedTransaction& t : batch) options_.observer.on_published(t, t.changes.size());
      }
      MutexLock lock(&mu_);
      checkpoint_ = publisher->checkpoint();
      cv_.SignalAll();
    }
    reader->Stop();
    MutexLock lock(&mu_);
    reader_.reset();
    return ended;
  }

  redis::Client& client_;
  const RelayOptions options_;

  mutable Mutex mu_;
  mutable CondVar cv_;  // Checkpoint moved, finished, or stopping.
  bool stopping_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool finished_ LOCKSTEP_GUARDED_BY(mu_) = false;
  Status status_ LOCKSTEP_GUARDED_BY(mu_);
  StreamCheckpoint checkpoint_ LOCKSTEP_GUARDED_BY(mu_);
  std::shared_ptr<BinlogReader> reader_ LOCKSTEP_GUARDED_BY(mu_);

  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Relay>> Relay::Start(redis::Client& client, RelayOptions options) {
  if (options.publisher.stream.empty()) return Status::InvalidArgument("RelayOptions.publisher.stream must not be empty");
  if (options.retry_initial <= std::chrono::milliseconds(0) || options.retry_max < options.retry_initial) {
    return Status::InvalidArgument("RelayOptions: 0 < retry_initial <= retry_max");
  }
  if (options.reader.server_id == 0 || options.reader.tables.empty()) {
    return Status::InvalidArgument("RelayOptions.reader needs a server_id and tables");
  }
  return std::unique_ptr<Relay>(new RelayImpl(client, std::move(options)));
}

}  // namespace lockstep::cdc
