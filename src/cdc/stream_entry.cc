#include "lockstep/cdc/stream_entry.h"

#include <charconv>
#include <cstdlib>

namespace lockstep::cdc {
namespace {

std::string Tag(const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull: return "n";
    case ValueKind::kInt: return "i" + v.ToString();
    case ValueKind::kUint: return "u" + v.ToString();
    case ValueKind::kDouble: return "f" + v.ToString();
    case ValueKind::kDecimal: return "d" + v.text;
    case ValueKind::kString: return "s" + v.text;
    case ValueKind::kTemporal: return "t" + v.text;
    case ValueKind::kUnsupported: return "x" + v.text;
    case ValueKind::kAbsent: return "";
  }
  return "";
}

// Tag(v) appended to `out` without a temporary (the multi-row encoder's hot path).
void AppendTagged(std::string& out, const Value& v) {
  char buf[24];
  switch (v.kind) {
    case ValueKind::kInt: {
      out += 'i';
      out.append(buf, std::to_chars(buf, buf + sizeof buf, v.i).ptr);
      return;
    }
    case ValueKind::kUint: {
      out += 'u';
      out.append(buf, std::to_chars(buf, buf + sizeof buf, v.u).ptr);
      return;
    }
    case ValueKind::kDecimal:
      out += 'd';
      out += v.text;
      return;
    case ValueKind::kString:
      out += 's';
      out += v.text;
      return;
    default:
      out += Tag(v);
      return;
  }
}

// The header fields after "row" (and "count") that both row entry forms carry: rows, ts,
// db, table, op, pk.
void AddRowHeader(std::vector<std::string>& f, const CommittedTransaction& txn, const RowChange& change) {
  const TableSchema& schema = *change.schema;
  std::string pk;
  for (size_t i : schema.primary_key) {
    if (!pk.empty()) pk += ',';
    if (i < schema.columns.size()) pk += schema.columns[i].name;
  }
  for (std::string field :
       {std::string("rows"), std::to_string(txn.changes.size()), std::string("ts"),
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(txn.commit_time.time_since_epoch()).count()),
        std::string("db"), schema.database, std::string("table"), schema.table, std::string("op"),
        std::string(RowOpName(change.op)), std::string("pk"), pk}) {
    f.push_back(std::move(field));
  }
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Result<Value> Untag(std::string_view tagged) {
  if (tagged.empty()) return Status::InvalidArgument("empty tagged value");
  const std::string_view body = tagged.substr(1);
  switch (tagged[0]) {
    case 'n': return Value::Null();
    case 'i': {
      int64_t v = 0;
      if (!ParseNumber(body, &v)) break;
      return Value::Int(v);
    }
    case 'u': {
      uint64_t v = 0;
      if (!ParseNumber(body, &v)) break;
      return Value::Uint(v);
    }
    case 'f': return Value::Double(std::strtod(std::string(body).c_str(), nullptr));
    case 'd': return Value::Decimal(std::string(body));
    case 's': return Value::String(std::string(body));
    case 't': return Value::Temporal(std::string(body));
    case 'x': return Value::Unsupported(std::string(body));
    default: break;
  }
  return Status::InvalidArgument("bad tagged value '", tagged, "'");
}

}  // namespace

const Value* StreamRow::Get(std::string_view column) const {
  const auto& image = op == RowOp::kDelete ? before : after;
  for (const auto& [name, value] : image) {
    if (name == column) return &value;
  }
  return nullptr;
}

std::vector<std::string> EncodeStreamEntry(const CommittedTransaction& txn, size_t row_index) {
  const RowChange& change = txn.changes[row_index];
  const TableSchema& schema = *change.schema;
  std::vector<std::string> f;
  f.reserve(18 + 2 * (change.before.size() + change.after.size()));
  auto add = [&f](std::string k, std::string v) {
    f.push_back(std::move(k));
    f.push_back(std::move(v));
  };
  add("type", "row");
  add("gtid", txn.gtid.ToString());
  add("row", std::to_string(row_index));
  AddRowHeader(f, txn, change);
  for (size_t i = 0; i < change.after.size() && i < schema.columns.size(); ++i) {
    if (change.after[i].kind == ValueKind::kAbsent) continue;
    add("a:" + schema.columns[i].name, Tag(change.after[i]));
  }
  for (size_t i = 0; i < change.before.size() && i < schema.columns.size(); ++i) {
    if (change.before[i].kind == ValueKind::kAbsent) continue;
    add("b:" + schema.columns[i].name, Tag(change.before[i]));
  }
  return f;
}

std::vector<std::string> EncodeDdlEntry(const CommittedTransaction& txn, size_t index) {
  const DdlStatement& ddl = txn.ddl[index];
  return {"type", "ddl", "gtid", txn.gtid.ToString(), "ts",
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(txn.commit_time.time_since_epoch()).count()),
          "db", ddl.database, "statement", ddl.statement};
}

Result<StreamDdl> DecodeDdlEntry(const std::vector<std::string>& fields) {
  if (fields.size() < 2 || fields[0] != "type" || fields[1] != "ddl") return Status::NotFound("not a ddl entry");
  if (fields.size() % 2 != 0) return Status::InvalidArgument("odd number of stream entry fields");
  StreamDdl ddl;
  bool has_gtid = false;
  for (size_t i = 2; i < fields.size(); i += 2) {
    const std::string& k = fields[i];
    const std::string& v = fields[i + 1];
    if (k == "gtid") {
      LOCKSTEP_ASSIGN_OR_RETURN(ddl.gtid, Gtid::Parse(v));
      has_gtid = true;
    } else if (k == "ts") {
      if (!ParseNumber(v, &ddl.commit_unix_seconds)) return Status::InvalidArgument("bad ts '", v, "'");
    } else if (k == "db") {
      ddl.database = v;
    } else if (k == "statement") {
      ddl.statement = v;
    }
  }
  if (!has_gtid) return Status::InvalidArgument("ddl entry lacks gtid");
  return ddl;
}

std::vector<std::string> EncodeGapEntry(const StreamGap& gap) {
  return {"type", "gap", "from", gap.from.ToString(), "to", gap.to.ToString(), "reason", gap.reason};
}

Result<StreamGap> DecodeGapEntry(const std::vector<std::string>& fields) {
  if (fields.size() < 2 || fields[0] != "type" || fields[1] != "gap") return Status::NotFound("not a gap entry");
  if (fields.size() % 2 != 0) return Status::InvalidArgument("odd number of stream entry fields");
  StreamGap gap;
  for (size_t i = 2; i < fields.size(); i += 2) {
    if (fields[i] == "from") {
      LOCKSTEP_ASSIGN_OR_RETURN(gap.from, GtidPosition::Parse(fields[i + 1]));
    } else if (fields[i] == "to") {
      LOCKSTEP_ASSIGN_OR_RETURN(gap.to, GtidPosition::Parse(fields[i + 1]));
    } else if (fields[i] == "reason") {
      gap.reason = fields[i + 1];
    }
  }
  return gap;
}

namespace {

// The header fields shared by "row" and "rows" entries.
struct Header {
  StreamRow row;
  bool has_gtid = false;
  bool has_op = false;
  uint64_t count = 1;  // "rows" entries only.
};

// Parses `k` = `v` into `h` when `k` is a header field; returns whether it was one.
Result<bool> HeaderField(const std::string& k, const std::string& v, Header& h) {
  StreamRow& row = h.row;
  if (k == "gtid") {
    LOCKSTEP_ASSIGN_OR_RETURN(row.gtid, Gtid::Parse(v));
    h.has_gtid = true;
  } else if (k == "row") {
    if (!ParseNumber(v, &row.row)) return Status::InvalidArgument("bad row '", v, "'");
  } else if (k == "rows") {
    if (!ParseNumber(v, &row.rows)) return Status::InvalidArgument("bad rows '", v, "'");
  } else if (k == "count") {
    if (!ParseNumber(v, &h.count) || h.count == 0) return Status::InvalidArgument("bad count '", v, "'");
  } else if (k == "ts") {
    if (!ParseNumber(v, &row.commit_unix_seconds)) return Status::InvalidArgument("bad ts '", v, "'");
  } else if (k == "db") {
    row.database = v;
  } else if (k == "table") {
    row.table = v;
  } else if (k == "op") {
    if (v == "insert") row.op = RowOp::kInsert;
    else if (v == "update") row.op = RowOp::kUpdate;
    else if (v == "delete") row.op = RowOp::kDelete;
    else return Status::InvalidArgument("bad op '", v, "'");
    h.has_op = true;
  } else if (k == "pk") {
    size_t start = 0;
    while (start < v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      row.primary_key.push_back(v.substr(start, comma - start));
      start = comma + 1;
    }
  } else {
    return false;
  }
  return true;
}

bool IsImageField(const std::string& k) {
  return k.size() > 2 && (k.compare(0, 2, "a:") == 0 || k.compare(0, 2, "b:") == 0);
}

void AppendLength(std::string& out, size_t n) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
  out += ':';
}

}  // namespace

Result<StreamRow> DecodeStreamEntry(const std::vector<std::string>& fields) {
  if (fields.size() % 2 != 0) return Status::InvalidArgument("odd number of stream entry fields");
  Header h;
  bool has_type = false;
  for (size_t i = 0; i < fields.size(); i += 2) {
    const std::string& k = fields[i];
    const std::string& v = fields[i + 1];
    if (k == "type") {
      if (v != "row") return Status::InvalidArgument("stream entry type '", v, "' is not 'row'");
      has_type = true;
      continue;
    }
    LOCKSTEP_ASSIGN_OR_RETURN(const bool header, HeaderField(k, v, h));
    if (!header && IsImageField(k)) {
      LOCKSTEP_ASSIGN_OR_RETURN(Value value, Untag(v));
      (k[0] == 'a' ? h.row.after : h.row.before).emplace_back(k.substr(2), std::move(value));
    }
    // Unknown fields are ignored: later versions may add some.
  }
  if (!has_type || !h.has_gtid || !h.has_op) return Status::InvalidArgument("stream entry lacks type, gtid or op");
  return std::move(h.row);
}

size_t RowsEntryEnd(const CommittedTransaction& txn, size_t first, size_t max_rows) {
  const RowChange& head = txn.changes[first];
  size_t end = first + 1;
  while (end < txn.changes.size() && end - first < max_rows && txn.changes[end].schema == head.schema &&
         txn.changes[end].op == head.op) {
    ++end;
  }
  return end;
}

std::vector<std::string> EncodeRowsEntry(const CommittedTransaction& txn, size_t first, size_t last) {
  const RowChange& head = txn.changes[first];
  const TableSchema& schema = *head.schema;
  const size_t count = last - first;
  std::vector<std::string> f;
  f.reserve(20 + 4 * schema.columns.size());
  auto add = [&f](std::string k, std::string v) {
    f.push_back(std::move(k));
    f.push_back(std::move(v));
  };
  add("type", "rows");
  add("gtid", txn.gtid.ToString());
  add("row", std::to_string(first));
  add("count", std::to_string(count));
  AddRowHeader(f, txn, head);
  std::string scratch;
  auto image = [&](const char* prefix, std::vector<Value> RowChange::*member) {
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      bool any = false;
      for (size_t r = first; r < last && !any; ++r) {
        const std::vector<Value>& values = txn.changes[r].*member;
        any = c < values.size() && values[c].kind != ValueKind::kAbsent;
      }
      if (!any) continue;
      std::string packed;
      for (size_t r = first; r < last; ++r) {
        const std::vector<Value>& values = txn.changes[r].*member;
        scratch.clear();
        if (c < values.size()) AppendTagged(scratch, values[c]);
        AppendLength(packed, scratch.size());
        packed += scratch;
      }
      add(prefix + schema.columns[c].name, std::move(packed));
    }
  };
  image("a:", &RowChange::after);
  image("b:", &RowChange::before);
  return f;
}

Result<std::vector<StreamRow>> DecodeRowEntries(const std::vector<std::string>& fields) {
  if (fields.size() < 2 || fields[0] != "type") return Status::InvalidArgument("stream entry does not start with type");
  if (fields[1] == "row") {
    LOCKSTEP_ASSIGN_OR_RETURN(StreamRow row, DecodeStreamEntry(fields));
    std::vector<StreamRow> out;
    out.push_back(std::move(row));
    return out;
  }
  if (fields[1] != "rows") return Status::NotFound("stream entry type '", fields[1], "' holds no rows");
  if (fields.size() % 2 != 0) return Status::InvalidArgument("odd number of stream entry fields");
  Header h;
  for (size_t i = 2; i < fields.size(); i += 2) {
    LOCKSTEP_ASSIGN_OR_RETURN(const bool header, HeaderField(fields[i], fields[i + 1], h));
    (void)header;
  }
  if (!h.has_gtid || !h.has_op) return Status::InvalidArgument("rows entry lacks gtid or op");
  // Bound the allocation by the data: every row has at least one image value of at least
  // two bytes ("0:") in the first image field.
  size_t first_image = 0;
  for (size_t i = 2; i < fields.size() && first_image == 0; i += 2) {
    if (IsImageField(fields[i])) first_image = i + 1;
  }
  if (first_image == 0) return Status::InvalidArgument("rows entry without row images");
  if (h.count > fields[first_image].size() / 2) {
    return Status::InvalidArgument("rows entry count ", h.count, " exceeds its packed values");
  }
  std::vector<StreamRow> out(h.count, h.row);
  for (uint64_t k = 0; k < h.count; ++k) out[k].row = h.row.row + k;
  for (size_t i = 2; i < fields.size(); i += 2) {
    const std::string& k = fields[i];
    if (!IsImageField(k)) continue;
    const std::string_view packed = fields[i + 1];
    const std::string column = k.substr(2);
    size_t pos = 0;
    for (uint64_t r = 0; r < h.count; ++r) {
      const size_t colon = packed.find(':', pos);
      size_t len = 0;
      if (colon == std::string_view::npos || !ParseNumber(packed.substr(pos, colon - pos), &len) ||
          len > packed.size() - colon - 1) {
        return Status::InvalidArgument("rows entry: bad packed values of ", k);
      }
      if (len > 0) {
        LOCKSTEP_ASSIGN_OR_RETURN(Value value, Untag(packed.substr(colon + 1, len)));
        (k[0] == 'a' ? out[r].after : out[r].before).emplace_back(column, std::move(value));
      }
      pos = colon + 1 + len;
    }
    if (pos != packed.size()) return Status::InvalidArgument("rows entry: ", k, " holds more than ", h.count, " values");
  }
  return out;
}

}  // namespace lockstep::cdc
