#include "lockstep/batch/coalescer_options.h"

#include <chrono>
#include <sstream>

namespace lockstep::batch {

Status CoalescerOptions::Validate() const {
  if (!executor && threads <= 0) return Status::InvalidArgument("CoalescerOptions.threads must be > 0, got ", threads);
  if (max_batch == 0) return Status::InvalidArgument("CoalescerOptions.max_batch must be > 0");
  if (batch_budget <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("CoalescerOptions.batch_budget must be > 0, got ", batch_budget.count(), "ms");
  }
  if (max_queued_per_key == 0) return Status::InvalidArgument("CoalescerOptions.max_queued_per_key must be > 0");
  if (max_queued == 0) return Status::InvalidArgument("CoalescerOptions.max_queued must be > 0");
  return Status::Ok();
}

std::size_t CoalescerStats::BucketOf(std::size_t size) {
  // Bucket b >= 1 holds (2^(b-1), 2^b]; bucket 0 holds 1; the last one everything above.
  std::size_t bucket = 0;
  std::size_t upper = 1;
  while (size > upper && bucket + 1 < kBuckets) {
    upper *= 2;
    ++bucket;
  }
  return bucket;
}

std::string CoalescerStats::BucketLabel(std::size_t bucket) {
  if (bucket == 0) return "1";
  const std::size_t upper = std::size_t{1} << bucket;
  const std::size_t lower = upper / 2 + 1;
  if (bucket + 1 == kBuckets) return std::to_string(lower) + "+";
  if (lower == upper) return std::to_string(upper);
  return std::to_string(lower) + "-" + std::to_string(upper);
}

std::string CoalescerStats::ToString() const {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  std::ostringstream out;
  out << "submitted=" << submitted << " rejected=" << rejected << " (key_full=" << rejected_key_full
      << " overloaded=" << rejected_overloaded << " shed=" << rejected_shed << ") expired_before_start=" << expired_before_start
      << " outcome_unknown=" << outcome_unknown << " cancelled=" << cancelled << " batches=" << batches
      << " batched_requests=" << batched_requests << " whole_batch_errors=" << whole_batch_errors
      << " queue_depth=" << queue_depth << " running=" << running << " max_batch_seen=" << max_batch_seen
      << " avg_wait_us="
      << (batched_requests == 0 ? 0 : duration_cast<microseconds>(total_wait).count() / static_cast<long long>(batched_requests))
      << " max_wait_us=" << duration_cast<microseconds>(max_wait).count() << " sizes={";
  bool first = true;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    if (batch_size_histogram[b] == 0) continue;
    out << (first ? "" : ",") << BucketLabel(b) << ":" << batch_size_histogram[b];
    first = false;
  }
  out << "}";
  return out.str();
}

}  // namespace lockstep::batch
