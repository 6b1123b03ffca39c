#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "config/rate_limit_spec.h"
#include "lockstep/redis/url.h"
#include "lockstep/sql/url.h"

namespace shopd::config {
namespace {

using lockstep::Status;

enum class Kind { kString, kInt, kList };

struct KeySpec {
  const char* key;
  Kind kind;
  bool flag;  // Has a command-line flag (passwords themselves do not: `ps` shows flags).
};

// Every setting; the TOML key, SHOPD_<UPPER> and --<key-with-dashes> derive from `key`.
constexpr KeySpec kKeys[] = {
    {"listen", Kind::kString, true},
    {"mysql", Kind::kString, true},
    {"mysql_replicas", Kind::kList, false},  // Flag: --mysql-replica (repeatable).
    {"read_max_staleness_ms", Kind::kInt, true},
    {"redis", Kind::kList, true},
    {"mysql_password", Kind::kString, false},
    {"mysql_password_file", Kind::kString, true},
    {"redis_password", Kind::kString, false},
    {"redis_password_file", Kind::kString, true},
    {"io_threads", Kind::kInt, true},
    {"worker_threads", Kind::kInt, true},
    {"queue_limit", Kind::kInt, true},
    {"admission_control", Kind::kInt, true},
    {"admission_target_ms", Kind::kInt, true},
    {"admission_interval_ms", Kind::kInt, true},
    {"rate_limit", Kind::kList, false},         // Flag: --rate-limit (repeatable).
    {"client_rate_limit", Kind::kList, false},  // Flag: --client-rate-limit (repeatable).
    {"rate_limit_min_instances", Kind::kInt, true},
    {"body_limit_bytes", Kind::kInt, true},
    {"default_request_timeout_ms", Kind::kInt, true},
    {"max_request_timeout_ms", Kind::kInt, true},
    {"header_timeout_ms", Kind::kInt, true},
    {"idle_timeout_ms", Kind::kInt, true},
    {"drain_timeout_ms", Kind::kInt, true},
    {"log_level", Kind::kString, true},
    {"mysql_ssl_ca", Kind::kString, true},
    {"mysql_ssl_cert", Kind::kString, true},
    {"mysql_ssl_key", Kind::kString, true},
    {"redis_key_prefix", Kind::kString, true},
    {"cache_l1", Kind::kInt, true},
    {"cache_l2", Kind::kInt, true},
    {"cache_l1_ttl_ms", Kind::kInt, true},
    {"cache_l2_ttl_ms", Kind::kInt, true},
    {"cache_negative_ttl_ms", Kind::kInt, true},
    {"cache_tombstone_ttl_ms", Kind::kInt, true},
    {"cache_staleness_bound_ms", Kind::kInt, true},
    {"cache_l1_max_entries", Kind::kInt, true},
    {"cache_second_delete_ms", Kind::kInt, true},
    {"reserved_max_pending", Kind::kInt, true},
    {"reserved_persist_batch", Kind::kInt, true},
    {"reserved_persister", Kind::kInt, true},
    {"reserved_claim_idle_ms", Kind::kInt, true},
    {"reserved_min_fsync", Kind::kString, true},
    {"cdc", Kind::kInt, true},
    {"cdc_server_id", Kind::kInt, true},
    {"cdc_lease_ms", Kind::kInt, true},
    {"cdc_claim_idle_ms", Kind::kInt, true},
    {"payments_mysql", Kind::kString, true},
    {"checkout_merchant_account", Kind::kInt, true},
    {"checkout_recovery_ms", Kind::kInt, true},
    {"checkout_test_hook", Kind::kString, true},
    {"checkout_test_hook_ms", Kind::kInt, true},
    {"events_relay", Kind::kInt, true},
    {"events_server_id", Kind::kInt, true},
};

const KeySpec* FindKey(std::string_view key) {
  for (const KeySpec& k : kKeys) {
    if (key == k.key) return &k;
  }
  return nullptr;
}

std::string EnvName(std::string_view key) {
  std::string out = "SHOPD_";
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string FlagName(std::string_view key) {
  std::string out = "--";
  for (char c : key) out += c == '_' ? '-' : c;
  return out;
}

// A raw value and where it came from (for error messages).
struct Raw {
  std::string value;  // Lists: comma-joined.
  std::string source;
};
using Layer = std::map<std::string, Raw>;

// Higher layers replace lower ones key by key; a password and its file are one setting.
void Merge(Layer& into, const Layer& layer) {
  for (const auto& [key, raw] : layer) {
    for (const char* group : {"mysql_password", "redis_password"}) {
      const std::string g(group);
      if (key == g || key == g + "_file") {
        into.erase(g);
        into.erase(g + "_file");
      }
    }
  }
  for (const auto& [key, raw] : layer) into[key] = raw;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t b = item.find_first_not_of(" \t");
    const size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

lockstep::Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read ", what, " '", path, "': ", std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read ", what, " '", path, "'");
  return buf.str();
}

lockstep::Result<Layer> TomlLayer(const std::string& path) {
  LOCKSTEP_ASSIGN_OR_RETURN(std::string text, ReadFile(path, "config file"));
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config file '", path, "' line ", e.source().begin.line, ": ", e.description());
  }
  Layer layer;
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const KeySpec* spec = FindKey(key);
    const std::string source = path + ": " + key;
    if (spec == nullptr) return Status::InvalidArgument("config file '", path, "': unknown key '", key, "'");
    std::string value;
    if (spec->kind == Kind::kInt) {
      if (!node.is_integer()) return Status::InvalidArgument(source, ": must be an integer");
      value = std::to_string(node.as_integer()->get());
    } else if (node.is_string()) {
      value = node.as_string()->get();
    } else if (spec->kind == Kind::kList && node.is_array()) {
      for (const auto& item : *node.as_array()) {
        if (!item.is_string()) return Status::InvalidArgument(source, ": must be an array of strings");
        if (!value.empty()) value += ",";
        value += item.as_string()->get();
      }
    } else {
      return Status::InvalidArgument(source, spec->kind == Kind::kList ? ": must be a string or an array of strings"
                                                                     : ": must be a string");
    }
    layer[key] = Raw{std::move(value), source};
  }
  return layer;
}

Layer EnvLayer(const EnvLookup& env) {
  Layer layer;
  for (const KeySpec& k : kKeys) {
    const std::string name = EnvName(k.key);
    if (auto v = env(name)) layer[k.key] = Raw{*v, name};
  }
  return layer;
}

lockstep::Result<int64_t> ToInt(const Raw& raw, int64_t min) {
  int64_t v = 0;
  const std::string& s = raw.value;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return Status::InvalidArgument(raw.source, ": '", s, "' is not an integer");
  }
  if (v < min) return Status::InvalidArgument(raw.source, ": must be >= ", min);
  return v;
}

// Resolves a password setting (direct or file) into `out`; false if none was given.
lockstep::Result<bool> ResolvePassword(const Layer& merged, const std::string& key, std::string* out) {
  if (auto it = merged.find(key); it != merged.end()) {
    *out = it->second.value;
    return true;
  }
  if (auto it = merged.find(key + "_file"); it != merged.end()) {
    auto text = ReadFile(it->second.value, it->second.source);
    if (!text.ok()) return text.status();
    std::string pw = std::move(text).value();
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    *out = std::move(pw);
    return true;
  }
  return false;
}

// A MariaDB URL setting through lockstep's parser. shopd takes mysql:// only (lockstep also
// reads mariadb://); errors name `source`.
lockstep::Result<lockstep::sql::ConnectionOptions> ParseMysql(const std::string& url, const std::string& source) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) {
    return Status::InvalidArgument(source, ": URL must look like mysql://[user[:password]@]host[:port][/path]");
  }
  if (std::string_view(url).substr(0, sep) != "mysql") {
    return Status::InvalidArgument(source, ": URL scheme must be 'mysql', got '", url.substr(0, sep), "'");
  }
  lockstep::Result<lockstep::sql::ConnectionOptions> parsed = lockstep::sql::ParseMysqlUrl(url);
  if (!parsed.ok()) return std::move(parsed).status().Annotate(source);
  return parsed;
}

// A Redis URL setting through lockstep's parser; errors name `source`.
lockstep::Result<lockstep::redis::RedisOptions> ParseRedis(const std::string& url, const std::string& source) {
  lockstep::Result<lockstep::redis::RedisOptions> parsed = lockstep::redis::ParseRedisUrl(url);
  if (!parsed.ok()) return std::move(parsed).status().Annotate(source);
  return parsed;
}

lockstep::Status Build(const Layer& merged, ShopdConfig& c) {
  auto source = [&](const char* key) { return merged.count(key) ? merged.at(key).source : std::string(key); };
  auto get = [&](const char* key) -> const Raw* {
    auto it = merged.find(key);
    return it == merged.end() ? nullptr : &it->second;
  };
  if (const Raw* r = get("listen")) c.listen = r->value;
  if (auto l = ParseListenAddress(c.listen); !l.ok()) {
    return Status::InvalidArgument(source("listen"), ": ", l.status().message());
  }
  if (const Raw* r = get("mysql")) c.mysql = r->value;
  if (const Raw* r = get("mysql_replicas")) c.mysql_replicas = SplitList(r->value);
  if (const Raw* r = get("redis")) {
    c.redis = SplitList(r->value);
    if (c.redis.empty()) return Status::InvalidArgument(r->source, ": needs at least one redis:// URL");
  }
  struct IntField {
    const char* key;
    int64_t min;
    std::function<void(int64_t)> set;
  };
  const IntField ints[] = {
      {"io_threads", 1, [&](int64_t v) { c.io_threads = static_cast<int>(std::min<int64_t>(v, 1024)); }},
      {"worker_threads", 1, [&](int64_t v) { c.worker_threads = static_cast<int>(std::min<int64_t>(v, 4096)); }},
      {"queue_limit", 1, [&](int64_t v) { c.queue_limit = static_cast<int>(std::min<int64_t>(v, 1 << 30)); }},
      {"admission_control", 0, [&](int64_t v) { c.admission_control = v != 0; }},
      {"admission_target_ms", 1, [&](int64_t v) { c.admission_target = std::chrono::milliseconds(v); }},
      {"admission_interval_ms", 1, [&](int64_t v) { c.admission_interval = std::chrono::milliseconds(v); }},
      {"rate_limit_min_instances", 1,
       [&](int64_t v) { c.rate_limit_min_instances = static_cast<int>(std::min<int64_t>(v, 1 << 20)); }},
      {"body_limit_bytes", 1, [&](int64_t v) { c.body_limit_bytes = v; }},
      {"default_request_timeout_ms", 1, [&](int64_t v) { c.default_request_timeout = std::chrono::milliseconds(v); }},
      {"max_request_timeout_ms", 1, [&](int64_t v) { c.max_request_timeout = std::chrono::milliseconds(v); }},
      {"header_timeout_ms", 1, [&](int64_t v) { c.header_timeout = std::chrono::milliseconds(v); }},
      {"idle_timeout_ms", 1, [&](int64_t v) { c.idle_timeout = std::chrono::milliseconds(v); }},
      {"drain_timeout_ms", 0, [&](int64_t v) { c.drain_timeout = std::chrono::milliseconds(v); }},
      {"cache_l1", 0, [&](int64_t v) { c.cache_l1 = v != 0; }},
      {"cache_l2", 0, [&](int64_t v) { c.cache_l2 = v != 0; }},
      {"cache_l1_ttl_ms", 1, [&](int64_t v) { c.cache_l1_ttl = std::chrono::milliseconds(v); }},
      {"cache_l2_ttl_ms", 1, [&](int64_t v) { c.cache_l2_ttl = std::chrono::milliseconds(v); }},
      {"cache_negative_ttl_ms", 1, [&](int64_t v) { c.cache_negative_ttl = std::chrono::milliseconds(v); }},
      {"cache_tombstone_ttl_ms", 2, [&](int64_t v) { c.cache_tombstone_ttl = std::chrono::milliseconds(v); }},
      {"read_max_staleness_ms", 0, [&](int64_t v) { c.read_max_staleness = std::chrono::milliseconds(v); }},
      {"cache_staleness_bound_ms", 5, [&](int64_t v) { c.cache_staleness_bound = std::chrono::milliseconds(v); }},
      {"cache_l1_max_entries", 1, [&](int64_t v) { c.cache_l1_max_entries = v; }},
      {"cache_second_delete_ms", 0, [&](int64_t v) { c.cache_second_delete = std::chrono::milliseconds(v); }},
      {"reserved_max_pending", 1, [&](int64_t v) { c.reserved_max_pending = v; }},
      {"reserved_persist_batch", 1, [&](int64_t v) { c.reserved_persist_batch = std::min<int64_t>(v, 10'000); }},
      {"reserved_persister", 0, [&](int64_t v) { c.reserved_persister = v == 0 ? 0 : 1; }},
      {"reserved_claim_idle_ms", 1, [&](int64_t v) { c.reserved_claim_idle = std::chrono::milliseconds(v); }},
      {"cdc", 0, [&](int64_t v) { c.cdc = v != 0; }},
      {"cdc_server_id", 1, [&](int64_t v) { c.cdc_server_id = v; }},
      {"cdc_lease_ms", 100, [&](int64_t v) { c.cdc_lease = std::chrono::milliseconds(v); }},
      {"cdc_claim_idle_ms", 1, [&](int64_t v) { c.cdc_claim_idle = std::chrono::milliseconds(v); }},
      {"checkout_merchant_account", 0, [&](int64_t v) { c.checkout_merchant_account = v; }},
      {"checkout_recovery_ms", 100, [&](int64_t v) { c.checkout_recovery = std::chrono::milliseconds(v); }},
      {"checkout_test_hook_ms", 0, [&](int64_t v) { c.checkout_test_hook_time = std::chrono::milliseconds(v); }},
      {"events_relay", 0, [&](int64_t v) { c.events_relay = v != 0; }},
      {"events_server_id", 1, [&](int64_t v) { c.events_server_id = v; }},
  };
  for (const IntField& f : ints) {
    if (const Raw* r = get(f.key)) {
      LOCKSTEP_ASSIGN_OR_RETURN(int64_t v, ToInt(*r, f.min));
      f.set(v);
    }
  }
  if (c.cdc_server_id > int64_t{0xFFFFFFFF}) {
    return Status::InvalidArgument(source("cdc_server_id"), ": must be at most 4294967295");
  }
  if (c.events_server_id > int64_t{0xFFFFFFFF}) {
    return Status::InvalidArgument(source("events_server_id"), ": must be at most 4294967295");
  }
  for (const char* flag : {"cache_l1", "cache_l2", "admission_control", "cdc", "events_relay"}) {
    if (const Raw* r = get(flag); r != nullptr && r->value != "0" && r->value != "1") {
      return Status::InvalidArgument(r->source, ": must be 0 or 1");
    }
  }
  for (const auto& [key, ttl] : {std::pair{"cache_l1_ttl_ms", c.cache_l1_ttl}, std::pair{"cache_l2_ttl_ms", c.cache_l2_ttl},
                                 std::pair{"cache_negative_ttl_ms", c.cache_negative_ttl}}) {
    if (ttl < c.cache_tombstone_ttl) {
      return Status::InvalidArgument(source(key), ": must be >= cache_tombstone_ttl_ms (", c.cache_tombstone_ttl.count(),
                                     ")");
    }
  }
  if (c.default_request_timeout > c.max_request_timeout) {
    return Status::InvalidArgument(source("default_request_timeout_ms"),
                                   ": must not exceed max_request_timeout_ms (", c.max_request_timeout.count(), ")");
  }
  if (const Raw* r = get("rate_limit")) {
    LOCKSTEP_ASSIGN_OR_RETURN(c.rate_limits, ParseRateLimits(SplitList(r->value), r->source));
  }
  if (const Raw* r = get("client_rate_limit")) {
    LOCKSTEP_ASSIGN_OR_RETURN(c.client_rate_limits, ParseRateLimits(SplitList(r->value), r->source));
  }
  if (const Raw* r = get("log_level")) c.log_level = r->value;
  if (const Raw* r = get("mysql_ssl_ca")) c.mysql_ssl_ca = r->value;
  if (const Raw* r = get("mysql_ssl_cert")) c.mysql_ssl_cert = r->value;
  if (const Raw* r = get("mysql_ssl_key")) c.mysql_ssl_key = r->value;
  if (const Raw* r = get("redis_key_prefix")) c.redis_key_prefix = r->value;
  if (const Raw* r = get("payments_mysql")) c.payments_mysql = r->value;
  if (const Raw* r = get("checkout_test_hook")) c.checkout_test_hook = r->value;
  if (const Raw* r = get("reserved_min_fsync")) {
    if (r->value != "always" && r->value != "everysec") {
      return Status::InvalidArgument(r->source, ": '", r->value, "' is not one of always|everysec");
    }
    c.reserved_min_fsync = r->value;
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return Status::InvalidArgument(source("log_level"), ": '", c.log_level,
                                   "' is not one of trace|debug|info|warn|error|critical|off");
  }

  std::string pw;
  std::optional<std::string> mysql_pw;
  LOCKSTEP_ASSIGN_OR_RETURN(bool has_mysql_pw, ResolvePassword(merged, "mysql_password", &pw));
  if (has_mysql_pw) mysql_pw = pw;
  std::optional<std::string> redis_pw;
  LOCKSTEP_ASSIGN_OR_RETURN(bool has_redis_pw, ResolvePassword(merged, "redis_password", &pw));
  if (has_redis_pw) redis_pw = pw;

  // Each URL is parsed once, here; a separately given password replaces the URL's own.
  LOCKSTEP_ASSIGN_OR_RETURN(c.mysql_connection, ParseMysql(c.mysql, source("mysql")));
  if (mysql_pw) c.mysql_connection.password = *mysql_pw;
  c.mysql_password = c.mysql_connection.password;
  if (c.payments_mysql.empty()) {
    c.payments_connection = c.mysql_connection;
  } else {
    LOCKSTEP_ASSIGN_OR_RETURN(c.payments_connection, ParseMysql(c.payments_mysql, source("payments_mysql")));
    if (mysql_pw || c.payments_connection.password.empty()) c.payments_connection.password = c.mysql_password;
  }
  c.mysql_replica_connections.clear();
  for (const std::string& url : c.mysql_replicas) {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::ConnectionOptions replica, ParseMysql(url, source("mysql_replicas")));
    if (mysql_pw) replica.password = *mysql_pw;
    c.mysql_replica_connections.push_back(std::move(replica));
  }
  std::string url_pw;  // The first URL password, when none was given separately.
  c.redis_connections.clear();
  for (const std::string& url : c.redis) {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::redis::RedisOptions redis, ParseRedis(url, source("redis")));
    if (url_pw.empty()) url_pw = redis.password;
    if (redis_pw) redis.password = *redis_pw;
    c.redis_connections.push_back(std::move(redis));
  }
  c.redis_password = redis_pw.value_or(url_pw);
  return Status::Ok();
}

// A connection as a URL for the log, the password shown as "***".
std::string RedactedUrl(const lockstep::sql::ConnectionOptions& o) { return o.ToString(); }
std::string RedactedUrl(const lockstep::redis::RedisOptions& o) {
  std::string out = "redis://";
  if (!o.user.empty() || !o.password.empty()) out += o.user + (o.password.empty() ? "" : ":***") + "@";
  out += o.host.find(':') == std::string::npos ? o.host : "[" + o.host + "]";
  out += ":" + std::to_string(o.port);
  if (o.db != 0) out += "/" + std::to_string(o.db);
  return out;
}

template <typename Options>
std::string Join(const std::vector<Options>& items) {
  std::string out = "[";
  for (const Options& o : items) {
    if (out.size() > 1) out += ",";
    out += RedactedUrl(o);
  }
  return out + "]";
}

std::string JoinSpecs(const std::vector<RateLimitSpec>& specs) {
  std::string out = "[";
  for (const RateLimitSpec& s : specs) out += (out.size() > 1 ? "," : "") + s.ToString();
  return out + "]";
}

}  // namespace

lockstep::Result<ListenAddress> ParseListenAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("listen address '", listen, "' must be IP:port");
  }
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  bool v6 = false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    v6 = true;
  }
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1) {
    return Status::InvalidArgument("listen address '", listen, "': '", host, "' is not an IP",
                                   v6 ? "v6" : "v4", " address");
  }
  int p = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 0 || p > 65535) {
    return Status::InvalidArgument("listen address '", listen, "': port must be 0..65535");
  }
  return ListenAddress{host, static_cast<uint16_t>(p)};
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string ShopdConfig::Redacted() const {
  std::ostringstream out;
  out << "listen=" << listen << " mysql=" << RedactedUrl(mysql_connection)
      << " mysql_replicas=" << Join(mysql_replica_connections)
      << " read_max_staleness_ms=" << read_max_staleness.count() << " redis=" << Join(redis_connections)
      << " mysql_password=" << (mysql_password.empty() ? "<none>" : "***")
      << " redis_password=" << (redis_password.empty() ? "<none>" : "***") << " io_threads=" << io_threads
      << " worker_threads=" << worker_threads << " queue_limit=" << queue_limit
      << " admission_control=" << admission_control << " admission_target_ms=" << admission_target.count()
      << " admission_interval_ms=" << admission_interval.count() << " rate_limit=" << JoinSpecs(rate_limits)
      << " client_rate_limit=" << JoinSpecs(client_rate_limits)
      << " rate_limit_min_instances=" << rate_limit_min_instances
      << " body_limit_bytes=" << body_limit_bytes << " default_request_timeout_ms=" << default_request_timeout.count()
      << " max_request_timeout_ms=" << max_request_timeout.count() << " header_timeout_ms=" << header_timeout.count()
      << " idle_timeout_ms=" << idle_timeout.count() << " drain_timeout_ms=" << drain_timeout.count()
      << " log_level=" << log_level << " mysql_ssl_ca=" << (mysql_ssl_ca.empty() ? "<none>" : mysql_ssl_ca)
      << " redis_key_prefix=" << (redis_key_prefix.empty() ? "<shopd:DATABASE:>" : redis_key_prefix)
      << " cache_l1=" << cache_l1 << " cache_l2=" << cache_l2 << " cache_l1_ttl_ms=" << cache_l1_ttl.count()
      << " cache_l2_ttl_ms=" << cache_l2_ttl.count() << " cache_negative_ttl_ms=" << cache_negative_ttl.count()
      << " cache_tombstone_ttl_ms=" << cache_tombstone_ttl.count()
      << " cache_staleness_bound_ms=" << cache_staleness_bound.count()
      << " cache_l1_max_entries=" << cache_l1_max_entries << " cache_second_delete_ms=" << cache_second_delete.count()
      << " reserved_max_pending=" << reserved_max_pending << " reserved_persist_batch=" << reserved_persist_batch
      << " reserved_persister=" << reserved_persister << " reserved_claim_idle_ms=" << reserved_claim_idle.count()
      << " reserved_min_fsync=" << reserved_min_fsync << " cdc=" << cdc << " cdc_server_id=" << cdc_server_id
      << " cdc_lease_ms=" << cdc_lease.count() << " cdc_claim_idle_ms=" << cdc_claim_idle.count()
      << " payments_mysql=" << (payments_mysql.empty() ? std::string("(mysql)") : RedactedUrl(payments_connection))
      << " checkout_merchant_account=" << checkout_merchant_account
      << " checkout_recovery_ms=" << checkout_recovery.count()
      << " events_relay=" << events_relay << " events_server_id=" << events_server_id;
  if (!checkout_test_hook.empty()) {
    out << " checkout_test_hook=" << checkout_test_hook << " checkout_test_hook_ms=" << checkout_test_hook_time.count();
  }
  return out.str();
}

std::string ShopdConfig::EffectiveRedisKeyPrefix() const {
  if (!redis_key_prefix.empty()) return redis_key_prefix;
  if (mysql_connection.database.empty()) return "shopd:";
  return "shopd:" + mysql_connection.database + ":";
}

lockstep::Result<ConfigLoad> LoadConfig(const std::vector<std::string>& args, const EnvLookup& env) {
  CLI::App app("shopd: the lockstep reference service (HTTP/JSON, see API.md)", "shopd");
  std::map<std::string, std::string> flag_values;
  std::vector<std::string> replicas;
  std::vector<std::string> rate_limits;
  std::vector<std::string> client_rate_limits;
  std::string config_file;
  app.add_option("--config", config_file, "TOML config file (also SHOPD_CONFIG)");
  for (const KeySpec& k : kKeys) {
    if (k.flag) app.add_option(FlagName(k.key), flag_values[k.key], "see " + EnvName(k.key));
  }
  bool reconcile = false;
  app.add_flag("--reconcile", reconcile, "Reconcile the reserved mode's Redis state with MariaDB, print a report, exit");
  app.add_option("--mysql-replica", replicas, "MariaDB replica URL (repeatable)")->allow_extra_args(false);
  app.add_option("--rate-limit", rate_limits, "GROUP=RATE[:BURST], summed over instances (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--client-rate-limit", client_rate_limits, "GROUP=RATE[:BURST] per X-Client-Id (repeatable)")
      ->allow_extra_args(false);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed.
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return ConfigLoad{ShopdConfig{}, app.help()};
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }

  Layer flags;
  for (const KeySpec& k : kKeys) {
    if (k.flag && app.count(FlagName(k.key)) > 0) flags[k.key] = Raw{flag_values[k.key], FlagName(k.key)};
  }
  for (const auto& [values, key, flag] : {std::tuple{&replicas, "mysql_replicas", "--mysql-replica"},
                                          std::tuple{&rate_limits, "rate_limit", "--rate-limit"},
                                          std::tuple{&client_rate_limits, "client_rate_limit", "--client-rate-limit"}}) {
    if (values->empty()) continue;
    std::string joined;
    for (const std::string& v : *values) joined += (joined.empty() ? "" : ",") + v;
    flags[key] = Raw{joined, flag};
  }

  Layer merged;
  if (config_file.empty()) config_file = env("SHOPD_CONFIG").value_or("");
  if (!config_file.empty()) {
    LOCKSTEP_ASSIGN_OR_RETURN(Layer toml_layer, TomlLayer(config_file));
    Merge(merged, toml_layer);
  }
  Merge(merged, EnvLayer(env));
  Merge(merged, flags);

  ConfigLoad load;
  load.reconcile = reconcile;
  LOCKSTEP_RETURN_IF_ERROR(Build(merged, load.config));
  return load;
}

}  // namespace shopd::config
