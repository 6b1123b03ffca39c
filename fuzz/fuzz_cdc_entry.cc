// Fuzz target: what a CDC consumer decodes from a Redis Stream entry anyone could have
// written (fields separated by NUL bytes): DecodeRowEntries, DecodeStreamEntry,
// DecodeGapEntry, DecodeDdlEntry, and the checkpoint / GTID parsers. Never a crash or an
// unbounded allocation; a decoded multi-row entry has as many rows as it says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/cdc/gtid.h"
#include "lockstep/cdc/stream_entry.h"
#include "lockstep/cdc/stream_publisher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  size_t start = 0;
  while (start <= text.size() && fields.size() < 4096) {
    size_t nul = text.find('\0', start);
    if (nul == std::string_view::npos) nul = text.size();
    fields.emplace_back(text.substr(start, nul - start));
    start = nul + 1;
  }
  using lockstep::cdc::StreamRow;
  lockstep::Result<std::vector<StreamRow>> rows = lockstep::cdc::DecodeRowEntries(fields);
  if (rows.ok()) {
    for (size_t k = 0; k < rows->size(); ++k) {
      if (k > 0 && (*rows)[k].row != (*rows)[k - 1].row + 1) std::abort();
    }
  }
  (void)lockstep::cdc::DecodeStreamEntry(fields);
  (void)lockstep::cdc::DecodeGapEntry(fields);
  (void)lockstep::cdc::DecodeDdlEntry(fields);
  lockstep::Result<lockstep::cdc::GtidPosition> position = lockstep::cdc::GtidPosition::Parse(text);
  if (position.ok()) {
    // What parses prints back to something that parses to the same position.
    lockstep::Result<lockstep::cdc::GtidPosition> again = lockstep::cdc::GtidPosition::Parse(position->ToString());
    if (!again.ok() || !(*again == *position)) std::abort();
  }
  (void)lockstep::cdc::StreamCheckpoint::Parse(text);
  return 0;
}
