#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace shopd::config {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup FromMap(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// A file in a per-test temporary directory, removed with the fixture.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shopd_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }
  std::filesystem::path dir_;
};

lockstep::Result<ConfigLoad> Load(std::vector<std::string> args, const Env& env = {}) {
  return LoadConfig(args, FromMap(env));
}

TEST_F(ConfigTest, Defaults) {
  auto c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->config.mysql, "mysql://lockstep@127.0.0.1:13306/shop");
  EXPECT_EQ(c->config.redis, std::vector<std::string>{"redis://127.0.0.1:16379"});
  EXPECT_EQ(c->config.io_threads, 2);
  EXPECT_EQ(c->config.worker_threads, 32);
  EXPECT_EQ(c->config.queue_limit, 1024);
  EXPECT_EQ(c->config.body_limit_bytes, 1 << 20);
  EXPECT_EQ(c->config.default_request_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c->config.max_request_timeout, std::chrono::milliseconds(60000));
  EXPECT_EQ(c->config.drain_timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c->config.mysql_password, "");
}

TEST_F(ConfigTest, FlagsBeatEnvBeatFileBeatDefaults) {
  const std::string file = Write("shopd.toml", R"(
listen = "127.0.0.1:1111"
mysql = "mysql://file@127.0.0.1:1/shop"
redis = ["redis://127.0.0.1:1", "redis://127.0.0.1:2"]
io_threads = 3
worker_threads = 5
queue_limit = 7
)");
  auto c = Load({"--config", file, "--listen", "127.0.0.1:3333", "--io-threads", "9"},
                {{"SHOPD_LISTEN", "127.0.0.1:2222"}, {"SHOPD_WORKER_THREADS", "6"}, {"SHOPD_IO_THREADS", "8"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.listen, "127.0.0.1:3333");  // flag
  EXPECT_EQ(c->config.io_threads, 9);              // flag over env over file
  EXPECT_EQ(c->config.worker_threads, 6);          // env over file
  EXPECT_EQ(c->config.queue_limit, 7);             // file
  EXPECT_EQ(c->config.mysql, "mysql://file@127.0.0.1:1/shop");
  EXPECT_EQ(c->config.redis.size(), 2u);
  EXPECT_EQ(c->config.log_level, "info");  // default
}

TEST_F(ConfigTest, RedisKeyPrefixDefaultsToTheDatabase) {
  auto d = Load({"--mysql", "mysql://u@127.0.0.1:1/shop_7"}, {});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->config.EffectiveRedisKeyPrefix(), "shopd:shop_7:");
  auto e = Load({"--mysql", "mysql://u@127.0.0.1:1/shop_7"}, {{"SHOPD_REDIS_KEY_PREFIX", "tenant-a:"}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->config.EffectiveRedisKeyPrefix(), "tenant-a:");
}

TEST_F(ConfigTest, ConfigFileFromEnvironment) {
  const std::string file = Write("a.toml", "queue_limit = 11\n");
  auto c = Load({}, {{"SHOPD_CONFIG", file}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.queue_limit, 11);
}

TEST_F(ConfigTest, ListsFromFlagsAndEnv) {
  auto c = Load({"--mysql-replica", "mysql://r@127.0.0.1:2/shop", "--mysql-replica", "mysql://r@127.0.0.1:3/shop",
                 "--redis", "redis://127.0.0.1:1, redis://127.0.0.1:2,redis://127.0.0.1:3"},
                {{"SHOPD_MYSQL_REPLICAS", "mysql://env@127.0.0.1:9/shop"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.mysql_replicas,
            (std::vector<std::string>{"mysql://r@127.0.0.1:2/shop", "mysql://r@127.0.0.1:3/shop"}));
  ASSERT_EQ(c->config.mysql_replica_connections.size(), 2u);
  EXPECT_EQ(c->config.mysql_replica_connections[1].port, 3);
  EXPECT_EQ(c->config.redis.size(), 3u);
  ASSERT_EQ(c->config.redis_connections.size(), 3u);
  EXPECT_EQ(c->config.redis_connections[2].port, 3);
  auto e = Load({}, {{"SHOPD_MYSQL_REPLICAS", "mysql://a@127.0.0.1:9/shop,mysql://b@127.0.0.1:10/shop"}});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->config.mysql_replicas.size(), 2u);
}

TEST_F(ConfigTest, ReadMaxStalenessFromFlagEnvAndFileWithItsCheck) {
  EXPECT_EQ(Load({}).value().config.read_max_staleness, std::chrono::milliseconds(50));
  auto f = Load({"--read-max-staleness-ms", "0"}, {{"SHOPD_READ_MAX_STALENESS_MS", "200"}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.read_max_staleness, std::chrono::milliseconds(0));
  auto e = Load({}, {{"SHOPD_READ_MAX_STALENESS_MS", "200"}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->config.read_max_staleness, std::chrono::milliseconds(200));
  EXPECT_NE(e->config.Redacted().find("read_max_staleness_ms=200"), std::string::npos);
  EXPECT_FALSE(Load({"--read-max-staleness-ms", "-1"}).ok());
  EXPECT_FALSE(Load({"--read-max-staleness-ms", "soon"}).ok());
}

TEST_F(ConfigTest, SeparatePasswordOverridesUrlPassword) {
  auto c = Load({"--mysql", "mysql://user:inurl@127.0.0.1:3306/shop", "--redis", "redis://:rpw@127.0.0.1:6379"},
                {{"SHOPD_MYSQL_PASSWORD", "s3cret"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.mysql, "mysql://user:inurl@127.0.0.1:3306/shop");  // As given.
  EXPECT_EQ(c->config.mysql_connection.user, "user");
  EXPECT_EQ(c->config.mysql_connection.password, "s3cret");
  EXPECT_EQ(c->config.mysql_connection.host, "127.0.0.1");
  EXPECT_EQ(c->config.mysql_connection.port, 3306);
  EXPECT_EQ(c->config.mysql_connection.database, "shop");
  EXPECT_EQ(c->config.mysql_password, "s3cret");
  EXPECT_EQ(c->config.redis_password, "rpw");  // From the URL.
  ASSERT_EQ(c->config.redis_connections.size(), 1u);
  EXPECT_EQ(c->config.redis_connections[0].password, "rpw");
  EXPECT_EQ(c->config.redis_connections[0].port, 6379);
}

TEST_F(ConfigTest, SeparatePasswordReachesEveryUrlAndAnEmptyOneRemovesThem) {
  auto c = Load({"--mysql-replica", "mysql://r:old@127.0.0.1:2/shop", "--redis",
                 "redis://:a@127.0.0.1:1,redis://127.0.0.1:2"},
                {{"SHOPD_MYSQL_PASSWORD", "new"}, {"SHOPD_REDIS_PASSWORD", ""}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->config.mysql_replica_connections.size(), 1u);
  EXPECT_EQ(c->config.mysql_replica_connections[0].password, "new");
  ASSERT_EQ(c->config.redis_connections.size(), 2u);
  EXPECT_EQ(c->config.redis_connections[0].password, "");
  EXPECT_EQ(c->config.redis_password, "");
}

TEST_F(ConfigTest, UrlPasswordIsPercentDecodedLikeLockstepReadsIt) {
  auto c = Load({"--mysql", "mysql://u:p%40ss%2F1@127.0.0.1:1/shop", "--redis",
                 "redis://127.0.0.1:1,redis://:r%3A1@127.0.0.1:2"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.mysql_password, "p@ss/1");
  EXPECT_EQ(c->config.mysql_connection.password, "p@ss/1");
  EXPECT_EQ(c->config.redis_password, "r:1");  // The first URL that has one.
}

TEST_F(ConfigTest, PasswordFileFlagBeatsEnvPassword) {
  const std::string pw = Write("pw", "from-file\n");
  auto c = Load({"--mysql-password-file", pw}, {{"SHOPD_MYSQL_PASSWORD", "from-env"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.mysql_password, "from-file");
  EXPECT_EQ(c->config.mysql_connection.user, "lockstep");
  EXPECT_EQ(c->config.mysql_connection.password, "from-file");
  EXPECT_EQ(c->config.mysql_connection.port, 13306);
  auto e = Load({}, {{"SHOPD_REDIS_PASSWORD_FILE", pw}});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->config.redis_password, "from-file");
  ASSERT_EQ(e->config.redis_connections.size(), 1u);
  EXPECT_EQ(e->config.redis_connections[0].password, "from-file");
  EXPECT_EQ(e->config.redis_connections[0].port, 16379);
}

TEST_F(ConfigTest, RedactedHidesPasswords) {
  auto c = Load({"--mysql", "mysql://user:hunter2@127.0.0.1:3306/shop", "--redis", "redis://:topsecret@127.0.0.1:1"},
                {{"SHOPD_REDIS_PASSWORD", "topsecret"}});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string line = c->config.Redacted();
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  EXPECT_EQ(line.find("topsecret"), std::string::npos) << line;
  EXPECT_NE(line.find("mysql://user:***@127.0.0.1:3306/shop"), std::string::npos) << line;
  EXPECT_NE(line.find("redis=[redis://:***@127.0.0.1:1]"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto at = Load({"--mysql", "mysql://u:p@w:rd@h:1/db"});  // The last '@' ends the password.
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_NE(at->config.Redacted().find(" mysql=mysql://u:***@h:1/db "), std::string::npos) << at->config.Redacted();
  EXPECT_EQ(at->config.Redacted().find("rd@"), std::string::npos);
}

TEST_F(ConfigTest, Errors) {
  struct Case {
    std::vector<std::string> args;
    Env env;
    std::string expect;  // Substring of the message.
  };
  const std::string unknown = Write("u.toml", "listen = \"127.0.0.1:1\"\nbogus = 1\n");
  const std::string badtype = Write("t.toml", "io_threads = \"four\"\n");
  const std::string badsyntax = Write("s.toml", "listen = \n");
  const Case cases[] = {
      {{"--listen", "localhost:8080"}, {}, "--listen"},
      {{"--listen", "127.0.0.1"}, {}, "IP:port"},
      {{"--listen", "127.0.0.1:70000"}, {}, "port"},
      {{}, {{"SHOPD_LISTEN", "nope"}}, "SHOPD_LISTEN"},
      {{"--io-threads", "0"}, {}, "--io-threads"},
      {{}, {{"SHOPD_QUEUE_LIMIT", "12x"}}, "SHOPD_QUEUE_LIMIT"},
      {{"--config", unknown}, {}, "unknown key 'bogus'"},
      {{"--config", badtype}, {}, "must be an integer"},
      {{"--config", badsyntax}, {}, "line 1"},
      {{"--config", "/nonexistent/shopd.toml"}, {}, "cannot read config file"},
      {{"--mysql-password-file", "/nonexistent/pw"}, {}, "--mysql-password-file"},
      {{"--mysql", "postgres://x@h:1/db"}, {}, "scheme must be 'mysql'"},
      {{"--mysql", "mariadb://x@h:1/db"}, {}, "scheme must be 'mysql'"},
      {{"--mysql", "mysql://x@[::1]:/db"}, {}, "port"},
      {{}, {{"SHOPD_MYSQL_REPLICAS", "mysql://x@h:1/db,mysql://x@h:0/db"}}, "SHOPD_MYSQL_REPLICAS"},
      {{"--redis", "redis://h:0"}, {}, "port"},
      {{"--log-level", "loud"}, {}, "--log-level"},
      {{"--default-request-timeout-ms", "70000"}, {}, "max_request_timeout_ms"},
      {{"--no-such-flag"}, {}, "no-such-flag"},
  };
  for (const Case& c : cases) {
    auto r = Load(c.args, c.env);
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.status().code(), lockstep::StatusCode::kInvalidArgument);
    const std::string msg(r.status().message());
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "message: " << msg << " expected: " << c.expect;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(ConfigTest, HelpIsReported) {
  auto r = Load({"--help"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->help.has_value());
  EXPECT_NE(r->help->find("--mysql-replica"), std::string::npos);
}

TEST(ListenAddressTest, Parses) {
  auto v4 = ParseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 0);
  auto v6 = ParseListenAddress("[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseListenAddress(":8080").ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:-1").ok());
}

}  // namespace
}  // namespace shopd::config

namespace shopd::config {
namespace {

TEST_F(ConfigTest, MysqlTlsFromFlagsEnvAndFile) {
  const std::string file = Write("tls.toml", "mysql_ssl_ca = \"/etc/ca.pem\"\nmysql_ssl_key = \"/file/key.pem\"\n");
  auto c = Load({"--config", file, "--mysql-ssl-key", "/flag/key.pem"}, {{"SHOPD_MYSQL_SSL_CERT", "/env/cert.pem"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.mysql_ssl_ca, "/etc/ca.pem");
  EXPECT_EQ(c->config.mysql_ssl_cert, "/env/cert.pem");
  EXPECT_EQ(c->config.mysql_ssl_key, "/flag/key.pem");
  EXPECT_TRUE(Load({}).value().config.mysql_ssl_ca.empty());
}

TEST_F(ConfigTest, CacheKeysFromFlagsAndEnvironmentWithTheirChecks) {
  auto c = LoadConfig({"--cache-l1", "0", "--cache-staleness-bound-ms", "80", "--cache-tombstone-ttl-ms", "3000"},
                      FromMap({{"SHOPD_CACHE_L2_TTL_MS", "60000"}, {"SHOPD_CACHE_SECOND_DELETE_MS", "500"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->config.cache_l1);
  EXPECT_TRUE(c->config.cache_l2);
  EXPECT_EQ(c->config.cache_staleness_bound, std::chrono::milliseconds(80));
  EXPECT_EQ(c->config.cache_tombstone_ttl, std::chrono::milliseconds(3000));
  EXPECT_EQ(c->config.cache_l2_ttl, std::chrono::milliseconds(60000));
  EXPECT_EQ(c->config.cache_second_delete, std::chrono::milliseconds(500));
  EXPECT_NE(c->config.Redacted().find("cache_l1=0"), std::string::npos);

  auto bad_flag = LoadConfig({"--cache-l1", "2"}, FromMap({}));
  EXPECT_EQ(bad_flag.status().code(), lockstep::StatusCode::kInvalidArgument);
  // A TTL shorter than the tombstone TTL would let a stale fill outlive its tombstone.
  auto short_ttl = LoadConfig({"--cache-negative-ttl-ms", "1000"}, FromMap({}));
  EXPECT_EQ(short_ttl.status().code(), lockstep::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(short_ttl.status().message()).find("negative-ttl"), std::string::npos)
      << short_ttl.status();
}

TEST_F(ConfigTest, AdmissionControlKeys) {
  auto defaults = LoadConfig({}, FromMap({}));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_TRUE(defaults->config.admission_control);
  EXPECT_EQ(defaults->config.admission_target, std::chrono::milliseconds(1000));
  EXPECT_EQ(defaults->config.admission_interval, std::chrono::milliseconds(1000));
  auto c = LoadConfig({"--admission-control", "0", "--admission-target-ms", "20"},
                      FromMap({{"SHOPD_ADMISSION_INTERVAL_MS", "200"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->config.admission_control);
  EXPECT_EQ(c->config.admission_target, std::chrono::milliseconds(20));
  EXPECT_EQ(c->config.admission_interval, std::chrono::milliseconds(200));
  EXPECT_NE(c->config.Redacted().find("admission_control=0"), std::string::npos);
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--admission-control", "2"},
                                              std::vector<std::string>{"--admission-target-ms", "0"},
                                              std::vector<std::string>{"--admission-interval-ms", "x"}}) {
    auto refused = LoadConfig(bad, FromMap({}));
    EXPECT_EQ(refused.status().code(), lockstep::StatusCode::kInvalidArgument) << bad[0];
    EXPECT_NE(std::string(refused.status().message()).find(bad[0].substr(2)), std::string::npos) << refused.status();
  }
}

TEST_F(ConfigTest, ReservedModeKeys) {
  auto c = LoadConfig({"--reserved-max-pending", "7", "--reserved-min-fsync", "everysec", "--reconcile"},
                      FromMap({{"SHOPD_RESERVED_PERSIST_BATCH", "64"}, {"SHOPD_RESERVED_PERSISTER", "0"},
                               {"SHOPD_RESERVED_CLAIM_IDLE_MS", "1500"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.reserved_max_pending, 7);
  EXPECT_EQ(c->config.reserved_min_fsync, "everysec");
  EXPECT_EQ(c->config.reserved_persist_batch, 64);
  EXPECT_EQ(c->config.reserved_persister, 0);
  EXPECT_EQ(c->config.reserved_claim_idle, std::chrono::milliseconds(1500));
  EXPECT_TRUE(c->reconcile);
  EXPECT_NE(c->config.Redacted().find("reserved_min_fsync=everysec"), std::string::npos);

  auto defaults = LoadConfig({}, FromMap({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.reserved_min_fsync, "always");
  EXPECT_EQ(defaults->config.reserved_persister, 1);
  EXPECT_FALSE(defaults->reconcile);

  auto bad = LoadConfig({"--reserved-min-fsync", "no"}, FromMap({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("always|everysec"), std::string::npos);
  EXPECT_FALSE(LoadConfig({"--reserved-max-pending", "0"}, FromMap({})).ok());
}

}  // namespace
}  // namespace shopd::config

namespace shopd::config {
namespace {

TEST_F(ConfigTest, RateLimitsFromFlagsEnvAndFile) {
  auto c = Load({"--rate-limit", "orders=100:10", "--rate-limit", "transfers=0.5", "--client-rate-limit", "all=20"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->config.rate_limits.size(), 2u);
  EXPECT_EQ(c->config.rate_limits[0], (RateLimitSpec{"orders", 100, 10}));
  EXPECT_EQ(c->config.rate_limits[1], (RateLimitSpec{"transfers", 0.5, 1}));  // Burst max(1, rate/10).
  ASSERT_EQ(c->config.client_rate_limits.size(), 1u);
  EXPECT_EQ(c->config.client_rate_limits[0], (RateLimitSpec{"all", 20, 2}));
  EXPECT_EQ(c->config.rate_limit_min_instances, 1);

  auto env = Load({}, {{"SHOPD_RATE_LIMIT", "accounts=5:2, products_read=1000"}, {"SHOPD_RATE_LIMIT_MIN_INSTANCES", "3"}});
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_EQ(env->config.rate_limits.size(), 2u);
  EXPECT_EQ(env->config.rate_limits[1], (RateLimitSpec{"products_read", 1000, 100}));
  EXPECT_EQ(env->config.rate_limit_min_instances, 3);

  const std::string file = Write("shopd.toml", "rate_limit = [\"checkouts=7:3\"]\nclient_rate_limit = \"orders=1\"\n");
  auto from_file = Load({"--config", file});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->config.rate_limits, (std::vector<RateLimitSpec>{{"checkouts", 7, 3}}));
  EXPECT_EQ(from_file->config.client_rate_limits, (std::vector<RateLimitSpec>{{"orders", 1, 1}}));
  // A flag replaces the file's list as a whole.
  auto flag_wins = Load({"--config", file, "--rate-limit", "orders=9"});
  ASSERT_TRUE(flag_wins.ok()) << flag_wins.status();
  EXPECT_EQ(flag_wins->config.rate_limits, (std::vector<RateLimitSpec>{{"orders", 9, 1}}));
  EXPECT_NE(flag_wins->config.Redacted().find("rate_limit=[orders=9:1]"), std::string::npos)
      << flag_wins->config.Redacted();
}

TEST_F(ConfigTest, MalformedRateLimitsNameTheirSourceAndWhatIsWrong) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--rate-limit", "orders=abc"}, "--rate-limit: 'orders=abc': rate 'abc' is not a positive number"},
      {{"--rate-limit", "bogus=5"}, "unknown group 'bogus'"},
      {{"--rate-limit", "orders=0"}, "rate must be > 0"},
      {{"--rate-limit", "orders=0.0"}, "rate must be > 0"},
      {{"--rate-limit", "orders=-5"}, "is not a positive number"},
      {{"--rate-limit", "orders=5:-1"}, "burst must be >= 1"},
      {{"--rate-limit", "orders=5:0"}, "burst must be >= 1"},
      {{"--rate-limit", "orders=5:x"}, "burst 'x' is not an integer"},
      {{"--rate-limit", "orders"}, "missing '='"},
      {{"--rate-limit", "orders=1e3"}, "is not a positive number"},
      {{"--rate-limit", "orders=nan"}, "is not a positive number"},
      {{"--rate-limit", "orders=2000000"}, "rate must be <= 1000000"},
      {{"--rate-limit", "orders=5", "--rate-limit", "orders=6"}, "group 'orders' is limited twice"},
      {{"--client-rate-limit", "all=1:2:3"}, "--client-rate-limit: 'all=1:2:3': burst '2:3' is not an integer"},
      {{"--rate-limit-min-instances", "0"}, "--rate-limit-min-instances: must be >= 1"},
  };
  for (const auto& [args, message] : cases) {
    auto c = Load(args);
    ASSERT_FALSE(c.ok()) << args[1];
    EXPECT_EQ(c.status().code(), lockstep::StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(message), std::string::npos) << c.status();
  }
  auto env = Load({}, {{"SHOPD_CLIENT_RATE_LIMIT", "orders=x"}});
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("SHOPD_CLIENT_RATE_LIMIT: 'orders=x'"), std::string::npos) << env.status();
  const std::string file = Write("bad.toml", "rate_limit = [\"orders=5:-2\"]\n");
  auto from_file = Load({"--config", file});
  ASSERT_FALSE(from_file.ok());
  EXPECT_NE(from_file.status().message().find("bad.toml: rate_limit: 'orders=5:-2': burst must be >= 1"),
            std::string::npos)
      << from_file.status();
}

TEST_F(ConfigTest, CheckoutSettings) {
  auto defaults = Load({"--mysql", "mysql://u:secret@127.0.0.1:3306/shop"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->config.checkout_merchant_account, 0);  // Checkouts off.
  EXPECT_EQ(defaults->config.checkout_recovery, std::chrono::milliseconds(10'000));
  EXPECT_EQ(defaults->config.payments_connection.database, "shop");  // The --mysql database.
  EXPECT_EQ(defaults->config.payments_connection.password, "secret");

  auto c = Load({"--mysql", "mysql://u@127.0.0.1:3306/shop", "--payments-mysql", "mysql://u@127.0.0.1:3307/pay",
                 "--checkout-merchant-account", "7", "--checkout-recovery-ms", "4000"},
                {{"SHOPD_MYSQL_PASSWORD", "pw"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.payments_connection.database, "pay");
  EXPECT_EQ(c->config.payments_connection.port, 3307);
  EXPECT_EQ(c->config.payments_connection.password, "pw");  // The separately given password.
  EXPECT_EQ(c->config.checkout_merchant_account, 7);
  EXPECT_EQ(c->config.checkout_recovery, std::chrono::milliseconds(4000));
  EXPECT_EQ(c->config.Redacted().find("pw"), std::string::npos) << c->config.Redacted();

  EXPECT_FALSE(Load({"--checkout-recovery-ms", "99"}).ok());
  EXPECT_FALSE(Load({"--checkout-merchant-account", "-1"}).ok());
  EXPECT_FALSE(Load({"--payments-mysql", "redis://127.0.0.1/0"}).ok());
}

}  // namespace
}  // namespace shopd::config
