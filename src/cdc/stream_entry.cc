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
  add("rows", std::to_string(txn.changes.size()));
  add("ts", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(txn.commit_time.time_since_epoch()).count()));
  add("db", schema.database);
  add("table", schema.table);
  add("op", std::string(RowOpName(change.op)));
  std::string pk;
  for (size_t i : schema.primary_key) {
    if (!pk.empty()) pk += ',';
    if (i < schema.columns.size()) pk += schema.columns[i].name;
  }
  add("pk", pk);
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

Result<StreamRow> DecodeStreamEntry(const std::vector<std::string>& fields) {
  if (fields.size() % 2 != 0) return Status::InvalidArgument("odd number of stream entry fields");
  StreamRow row;
  bool has_type = false, has_gtid = false, has_op = false;
  for (size_t i = 0; i < fields.size(); i += 2) {
    const std::string& k = fields[i];
    const std::string& v = fields[i + 1];
    if (k == "type") {
      if (v != "row") return Status::InvalidArgument("stream entry type '", v, "' is not 'row'");
      has_type = true;
    } else if (k == "gtid") {
      LOCKSTEP_ASSIGN_OR_RETURN(row.gtid, Gtid::Parse(v));
      has_gtid = true;
    } else if (k == "row") {
      if (!ParseNumber(v, &row.row)) return Status::InvalidArgument("bad row '", v, "'");
    } else if (k == "rows") {
      if (!ParseNumber(v, &row.rows)) return Status::InvalidArgument("bad rows '", v, "'");
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
      has_op = true;
    } else if (k == "pk") {
      size_t start = 0;
      while (start < v.size()) {
        size_t comma = v.find(',', start);
        if (comma == std::string::npos) comma = v.size();
        row.primary_key.push_back(v.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (k.size() > 2 && (k.compare(0, 2, "a:") == 0 || k.compare(0, 2, "b:") == 0)) {
      LOCKSTEP_ASSIGN_OR_RETURN(Value value, Untag(v));
      (k[0] == 'a' ? row.after : row.before).emplace_back(k.substr(2), std::move(value));
    }
    // Unknown fields are ignored: later versions may add some.
  }
  if (!has_type || !has_gtid || !has_op) return Status::InvalidArgument("stream entry lacks type, gtid or op");
  return row;
}

}  // namespace lockstep::cdc
