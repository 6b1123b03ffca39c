#include "cdc/row_decoder.h"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace lockstep::cdc::internal {
namespace {

constexpr int kDig2Bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

bool IsNumeric(uint8_t type) {
  switch (type) {
    case kTypeTiny: case kTypeShort: case kTypeInt24: case kTypeLong: case kTypeLongLong:
    case kTypeNewDecimal: case kTypeFloat: case kTypeDouble:
      return true;
    default:
      return false;
  }
}

// Metadata bytes per logged type in the TABLE_MAP event.
int MetadataSize(uint8_t type) {
  switch (type) {
    case kTypeFloat: case kTypeDouble: case kTypeBlob: case kTypeTinyBlob: case kTypeMediumBlob:
    case kTypeLongBlob: case kTypeGeometry: case kTypeJson: case kTypeTimestamp2: case kTypeDatetime2:
    case kTypeTime2:
      return 1;
    case kTypeNewDecimal: case kTypeVarchar: case kTypeVarString: case kTypeString: case kTypeEnum:
    case kTypeSet: case kTypeBit:
      return 2;
    default:
      return 0;
  }
}

// Reads a length-encoded integer; false if truncated.
bool ReadLenenc(std::string_view* in, uint64_t* out) {
  if (in->empty()) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(in->data());
  int n = 0;
  if (p[0] < 251) {
    *out = p[0];
    in->remove_prefix(1);
    return true;
  }
  if (p[0] == 252) n = 2;
  else if (p[0] == 253) n = 3;
  else if (p[0] == 254) n = 8;
  else return false;
  if (in->size() < static_cast<size_t>(n) + 1) return false;
  uint64_t v = 0;
  for (int i = n; i >= 1; --i) v = (v << 8) | p[i];
  *out = v;
  in->remove_prefix(static_cast<size_t>(n) + 1);
  return true;
}

uint64_t LittleEndian(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t BigEndian(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

bool Bit(std::string_view bitmap, size_t i) {
  return i / 8 < bitmap.size() && ((static_cast<uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1) != 0;
}

// Microseconds of a TIME2/DATETIME2/TIMESTAMP2 fractional part of `dec` digits.
int FracBytes(int dec) { return (dec + 1) / 2; }
uint32_t FracMicros(const uint8_t* p, int dec) {
  switch (FracBytes(dec)) {
    case 1: return static_cast<uint32_t>(p[0]) * 10000;
    case 2: return static_cast<uint32_t>(BigEndian(p, 2)) * 100;
    case 3: return static_cast<uint32_t>(BigEndian(p, 3));
    default: return 0;
  }
}
std::string Fraction(uint32_t micros, int dec) {
  if (dec <= 0) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%06u", micros);
  return std::string(buf, 1 + static_cast<size_t>(dec > 6 ? 6 : dec));
}

std::string DateTimeText(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute, unsigned second) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04u-%02u-%02u %02u:%02u:%02u", year, month, day, hour, minute, second);
  return buf;
}

std::string UnixText(uint64_t seconds) {
  if (seconds == 0) return "0000-00-00 00:00:00";
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return DateTimeText(static_cast<unsigned>(tm.tm_year + 1900), static_cast<unsigned>(tm.tm_mon + 1),
                      static_cast<unsigned>(tm.tm_mday), static_cast<unsigned>(tm.tm_hour),
                      static_cast<unsigned>(tm.tm_min), static_cast<unsigned>(tm.tm_sec));
}

std::string TypeName(uint8_t type) { return "type " + std::to_string(type); }

// Decodes one non-NULL value at the front of *in.
Status DecodeValue(const ColumnInfo& column, const ColumnCodec& codec, std::string_view* in, Value* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in->data());
  const size_t avail = in->size();
  size_t size = 0;
  auto need = [&](size_t n) -> bool { return avail >= n; };
  auto truncated = [&]() {
    return Status::InvalidArgument("row image truncated in column '", column.name, "' of ", TypeName(codec.type));
  };
  auto integer = [&](int n) {
    if (!need(static_cast<size_t>(n))) return false;
    const uint64_t raw = LittleEndian(p, n);
    if (column.is_unsigned) {
      *out = Value::Uint(raw);
    } else {
      const int shift = 64 - 8 * n;
      *out = Value::Int(shift == 0 ? static_cast<int64_t>(raw)
                                   : static_cast<int64_t>(raw << shift) >> shift);
    }
    size = static_cast<size_t>(n);
    return true;
  };
  uint8_t type = codec.type;
  uint8_t m0 = codec.m0, m1 = codec.m1;
  if (type == kTypeString) {
    // CHAR/BINARY, ENUM and SET are all logged as STRING; the first metadata byte holds the
    // real type, and for CHAR longer than 255 bytes two extra bits of the length.
    uint32_t max_len = m1;
    uint8_t real = m0;
    if ((m0 & 0x30) != 0x30) {
      max_len |= static_cast<uint32_t>((m0 & 0x30) ^ 0x30) << 4;
      real = static_cast<uint8_t>(m0 | 0x30);
    }
    if (real == kTypeEnum || real == kTypeSet) {
      type = real;
      m1 = static_cast<uint8_t>(max_len);
    } else {
      const int prefix = max_len > 255 ? 2 : 1;
      if (!need(static_cast<size_t>(prefix))) return truncated();
      const size_t len = LittleEndian(p, prefix);
      if (!need(prefix + len)) return truncated();
      *out = Value::String(std::string(in->substr(static_cast<size_t>(prefix), len)));
      in->remove_prefix(prefix + len);
      return Status::Ok();
    }
  }
  switch (type) {
    case kTypeTiny: if (!integer(1)) return truncated(); break;
    case kTypeShort: if (!integer(2)) return truncated(); break;
    case kTypeInt24: if (!integer(3)) return truncated(); break;
    case kTypeLong: if (!integer(4)) return truncated(); break;
    case kTypeLongLong: if (!integer(8)) return truncated(); break;
    case kTypeYear:
      if (!need(1)) return truncated();
      *out = Value::Uint(p[0] == 0 ? 0 : 1900u + p[0]);
      size = 1;
      break;
    case kTypeFloat: {
      if (!need(4)) return truncated();
      float f;
      std::memcpy(&f, p, 4);
      *out = Value::Double(f);
      size = 4;
      break;
    }
    case kTypeDouble: {
      if (!need(8)) return truncated();
      double d;
      std::memcpy(&d, p, 8);
      *out = Value::Double(d);
      size = 8;
      break;
    }
    case kTypeNewDecimal: {
      LOCKSTEP_ASSIGN_OR_RETURN(std::string text, DecodeDecimal(*in, m0, m1, &size));
      *out = Value::Decimal(std::move(text));
      break;
    }
    case kTypeVarchar:
    case kTypeVarString: {
      const uint32_t max_len = static_cast<uint32_t>(m0) | (static_cast<uint32_t>(m1) << 8);
      const int prefix = max_len > 255 ? 2 : 1;
      if (!need(static_cast<size_t>(prefix))) return truncated();
      const size_t len = LittleEndian(p, prefix);
      if (!need(prefix + len)) return truncated();
      *out = Value::String(std::string(in->substr(static_cast<size_t>(prefix), len)));
      size = prefix + len;
      break;
    }
    case kTypeBlob: case kTypeTinyBlob: case kTypeMediumBlob: case kTypeLongBlob: case kTypeGeometry:
    case kTypeJson: {
      const int prefix = m0;
      if (prefix < 1 || prefix > 4) return Status::InvalidArgument("bad blob length size ", prefix);
      if (!need(static_cast<size_t>(prefix))) return truncated();
      const size_t len = LittleEndian(p, prefix);
      if (!need(prefix + len)) return truncated();
      *out = Value::String(std::string(in->substr(static_cast<size_t>(prefix), len)));
      size = prefix + len;
      break;
    }
    case kTypeBit: {
      const size_t len = m1 + (m0 != 0 ? 1u : 0u);
      if (len > 8 || !need(len)) return truncated();
      *out = Value::Uint(BigEndian(p, static_cast<int>(len)));
      size = len;
      break;
    }
    case kTypeEnum:
    case kTypeSet: {
      const size_t len = m1;
      if (len < 1 || len > 8 || !need(len)) return truncated();
      *out = Value::Uint(LittleEndian(p, static_cast<int>(len)));
      size = len;
      break;
    }
    case kTypeDate:
    case kTypeNewDate: {
      if (!need(3)) return truncated();
      const uint32_t v = static_cast<uint32_t>(LittleEndian(p, 3));
      char buf[24];
      std::snprintf(buf, sizeof buf, "%04u-%02u-%02u", v >> 9, (v >> 5) & 15, v & 31);
      *out = Value::Temporal(buf);
      size = 3;
      break;
    }
    case kTypeDatetime2: {
      const int dec = m0;
      const size_t len = 5 + static_cast<size_t>(FracBytes(dec));
      if (dec > 6 || !need(len)) return truncated();
      const int64_t v = static_cast<int64_t>(BigEndian(p, 5)) - 0x8000000000LL;
      const uint64_t u = v < 0 ? 0 : static_cast<uint64_t>(v);
      const uint64_t ymd = u >> 17, ym = ymd >> 5, hms = u & 0x1FFFF;
      *out = Value::Temporal(DateTimeText(static_cast<unsigned>(ym / 13), static_cast<unsigned>(ym % 13),
                                          static_cast<unsigned>(ymd & 31), static_cast<unsigned>(hms >> 12),
                                          static_cast<unsigned>((hms >> 6) & 63), static_cast<unsigned>(hms & 63)) +
                             Fraction(FracMicros(p + 5, dec), dec));
      size = len;
      break;
    }
    case kTypeTimestamp2: {
      const int dec = m0;
      const size_t len = 4 + static_cast<size_t>(FracBytes(dec));
      if (dec > 6 || !need(len)) return truncated();
      *out = Value::Temporal(UnixText(BigEndian(p, 4)) + Fraction(FracMicros(p + 4, dec), dec));
      size = len;
      break;
    }
    case kTypeTimestamp:
      if (!need(4)) return truncated();
      *out = Value::Temporal(UnixText(LittleEndian(p, 4)));
      size = 4;
      break;
    case kTypeDatetime: {
      if (!need(8)) return truncated();
      const uint64_t v = LittleEndian(p, 8);
      const uint64_t d = v / 1000000, t = v % 1000000;
      *out = Value::Temporal(DateTimeText(static_cast<unsigned>(d / 10000), static_cast<unsigned>(d / 100 % 100),
                                          static_cast<unsigned>(d % 100), static_cast<unsigned>(t / 10000),
                                          static_cast<unsigned>(t / 100 % 100), static_cast<unsigned>(t % 100)));
      size = 8;
      break;
    }
    case kTypeTime2: {
      const int dec = m0;
      const size_t len = 3 + static_cast<size_t>(FracBytes(dec));
      if (dec > 6 || !need(len)) return truncated();
      *out = Value::Unsupported("TIME");
      size = len;
      break;
    }
    case kTypeTime:
      if (!need(3)) return truncated();
      *out = Value::Unsupported("TIME");
      size = 3;
      break;
    case kTypeNull:
      *out = Value::Null();
      size = 0;
      break;
    default:
      return Status::Unimplemented("cannot decode column '", column.name, "' of ", TypeName(codec.type),
                                   " (unknown size)");
  }
  in->remove_prefix(size);
  return Status::Ok();
}

Status DecodeImage(const TableLayout& layout, std::string_view present, std::string_view* in,
                   std::vector<Value>* image) {
  const auto& columns = layout.schema->columns;
  size_t n_present = 0;
  for (size_t i = 0; i < columns.size(); ++i) n_present += Bit(present, i) ? 1 : 0;
  const size_t null_bytes = (n_present + 7) / 8;
  if (in->size() < null_bytes) return Status::InvalidArgument("row image truncated in its NULL bitmap");
  const std::string_view nulls = in->substr(0, null_bytes);
  in->remove_prefix(null_bytes);
  image->assign(columns.size(), Value::Absent());
  size_t j = 0;  // Index among present columns (the NULL bitmap counts only those).
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!Bit(present, i)) continue;
    if (Bit(nulls, j++)) {
      (*image)[i] = Value::Null();
      continue;
    }
    LOCKSTEP_RETURN_IF_ERROR(DecodeValue(columns[i], layout.codecs[i], in, &(*image)[i]));
  }
  return Status::Ok();
}

}  // namespace

size_t CountNumericColumns(std::string_view column_types) {
  size_t n = 0;
  for (char c : column_types) n += IsNumeric(static_cast<uint8_t>(c)) ? 1 : 0;
  return n;
}

Result<std::string> DecodeDecimal(std::string_view data, int precision, int scale, size_t* size) {
  if (precision <= 0 || scale < 0 || scale > precision) {
    return Status::InvalidArgument("bad DECIMAL(", precision, ",", scale, ")");
  }
  const int intg = precision - scale;
  const int intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
  const size_t bin_size =
      static_cast<size_t>(intg0 * 4 + kDig2Bytes[intg0x] + frac0 * 4 + kDig2Bytes[frac0x]);
  if (data.size() < bin_size) return Status::InvalidArgument("DECIMAL value truncated");
  std::string b(data.substr(0, bin_size));
  const bool negative = (static_cast<uint8_t>(b[0]) & 0x80) == 0;
  b[0] = static_cast<char>(static_cast<uint8_t>(b[0]) ^ 0x80);
  if (negative) {
    for (char& c : b) c = static_cast<char>(~static_cast<uint8_t>(c));
  }
  const auto* p = reinterpret_cast<const uint8_t*>(b.data());
  size_t pos = 0;
  auto read = [&](int n) {
    const uint64_t v = BigEndian(p + pos, n);
    pos += static_cast<size_t>(n);
    return v;
  };
  char buf[24];
  std::string ip;
  if (intg0x > 0) ip += std::to_string(read(kDig2Bytes[intg0x]));
  for (int i = 0; i < intg0; ++i) {
    std::snprintf(buf, sizeof buf, "%09llu", static_cast<unsigned long long>(read(4)));
    ip += buf;
  }
  const size_t first = ip.find_first_not_of('0');
  ip = first == std::string::npos ? "0" : ip.substr(first);
  std::string fp;
  for (int i = 0; i < frac0; ++i) {
    std::snprintf(buf, sizeof buf, "%09llu", static_cast<unsigned long long>(read(4)));
    fp += buf;
  }
  if (frac0x > 0) {
    std::snprintf(buf, sizeof buf, "%0*llu", frac0x, static_cast<unsigned long long>(read(kDig2Bytes[frac0x])));
    fp += buf;
  }
  *size = bin_size;
  return (negative ? "-" : "") + ip + (scale > 0 ? "." + fp : "");
}

Result<TableLayout> BuildTableLayout(const TableMapParts& parts) {
  auto schema = std::make_shared<TableSchema>();
  schema->database = parts.database;
  schema->table = parts.table;
  const size_t n = parts.column_types.size();
  TableLayout layout;
  layout.codecs.resize(n);
  schema->columns.resize(n);
  std::string_view meta = parts.metadata;
  size_t numeric = 0;
  for (size_t i = 0; i < n; ++i) {
    ColumnCodec& c = layout.codecs[i];
    c.type = static_cast<uint8_t>(parts.column_types[i]);
    const int m = MetadataSize(c.type);
    if (meta.size() < static_cast<size_t>(m)) return Status::InvalidArgument("TABLE_MAP metadata truncated");
    if (m >= 1) c.m0 = static_cast<uint8_t>(meta[0]);
    if (m >= 2) c.m1 = static_cast<uint8_t>(meta[1]);
    meta.remove_prefix(static_cast<size_t>(m));
    schema->columns[i].type = c.type;
    if (IsNumeric(c.type)) {
      const size_t bit = numeric++;
      schema->columns[i].is_unsigned =
          bit / 8 < parts.signedness.size() && ((static_cast<uint8_t>(parts.signedness[bit / 8]) << (bit % 8)) & 0x80) != 0;
    }
  }
  std::string_view names = parts.column_names;
  for (size_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (!ReadLenenc(&names, &len) || names.size() < len) {
      return Status::FailedPrecondition("binlog TABLE_MAP of ", parts.database, ".", parts.table,
                                        " has no column names: set binlog_row_metadata=FULL on the primary")
          .WithReason("binlog_settings");
    }
    schema->columns[i].name = std::string(names.substr(0, len));
    names.remove_prefix(len);
  }
  std::string_view pk = parts.simple_primary_key;
  while (!pk.empty()) {
    uint64_t idx = 0;
    if (!ReadLenenc(&pk, &idx) || idx >= n) return Status::InvalidArgument("bad SIMPLE_PRIMARY_KEY metadata");
    schema->primary_key.push_back(idx);
  }
  pk = parts.prefixed_primary_key;
  while (!pk.empty()) {
    uint64_t idx = 0, prefix = 0;
    if (!ReadLenenc(&pk, &idx) || !ReadLenenc(&pk, &prefix) || idx >= n) {
      return Status::InvalidArgument("bad PRIMARY_KEY_WITH_PREFIX metadata");
    }
    schema->primary_key.push_back(idx);
  }
  layout.schema = std::move(schema);
  return layout;
}

Status DecodeRows(const TableLayout& layout, RowOp op, std::string_view present, std::string_view present_after,
                  std::string_view data, std::vector<RowChange>* out) {
  if (present_after.empty()) present_after = present;
  while (!data.empty()) {
    RowChange change;
    change.schema = layout.schema;
    change.op = op;
    if (op == RowOp::kInsert) {
      LOCKSTEP_RETURN_IF_ERROR(DecodeImage(layout, present, &data, &change.after));
    } else if (op == RowOp::kDelete) {
      LOCKSTEP_RETURN_IF_ERROR(DecodeImage(layout, present, &data, &change.before));
    } else {
      LOCKSTEP_RETURN_IF_ERROR(DecodeImage(layout, present, &data, &change.before));
      LOCKSTEP_RETURN_IF_ERROR(DecodeImage(layout, present_after, &data, &change.after));
    }
    out->push_back(std::move(change));
  }
  return Status::Ok();
}

}  // namespace lockstep::cdc::internal
