// `sluice keys` and `sluice usage` through the real binary against a temporary data_dir: the
// whole life of a key, errors that name the flag (exit 1, on stderr), command-line misuse (exit
// 2), the data_dir found through a configuration file, the usage report as a table and as JSON,
// and a revocation by the CLI reaching a ControlPlane in another process within a second.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/utc.h"
#include "store/control_plane.h"
#include "store/keys.h"
#include "store/usage.h"
#include "support/cli_run.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

// The smallest configuration a command can load: one model on the in-process mock.
const std::string kModels = R"(providers:
  - name: sim
    kind: mock
models:
  - name: m
    deployments: [{provider: sim}]
)";

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class KeysCliTest : public ::testing::Test {
 protected:
  CliRun keys(std::vector<std::string> args) {
    args.insert(args.begin(), "keys");
    args.insert(args.begin() + 2, {"--data-dir", data_dir()});
    return sluice(dir_, args);
  }
  std::string data_dir() const { return dir_.file("data").string(); }
  std::string db_path() const { return dir_.file("data").string() + "/sluice.db"; }

  TempDir dir_;
};

TEST_F(KeysCliTest, CreateListShowUpdateRevoke) {
  auto created = keys({"create", "--name", "team-a", "--models", "gpt-4o*,mock", "--rpm", "60",
                       "--budget-daily", "2.5", "--expires", "2030-01-01", "--metadata",
                       "owner=ana", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(created.err, "");
  auto key = json::parse(created.out).as_object();
  std::string id(key.at("id").as_string());
  std::string secret(key.at("secret").as_string());
  EXPECT_TRUE(store::well_formed_secret(secret));
  EXPECT_EQ(key.at("prefix").as_string(), secret.substr(0, 14));
  EXPECT_EQ(key.at("rpm"), 60);
  EXPECT_EQ(key.at("expires_at"), 1893456000);
  EXPECT_EQ(json::serialize(key.at("models")), R"(["gpt-4o*","mock"])");
  EXPECT_EQ(json::serialize(key.at("metadata")), R"({"owner":"ana"})");
  EXPECT_FALSE(key.contains("hash"));
  ASSERT_TRUE(std::filesystem::exists(db_path()));

  // Without --json the secret is printed once, with the warning.
  auto human = keys({"create", "--name", "team-b"});
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_TRUE(contains(human.out, "secret: sk-sluice-")) << human.out;
  EXPECT_TRUE(contains(human.out, "will not be shown again")) << human.out;

  auto listed = keys({"list"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, id)) << listed.out;
  EXPECT_TRUE(contains(listed.out, "team-a")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "team-b")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "rpm=60")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "$2.50/day")) << listed.out;
  EXPECT_FALSE(contains(listed.out, secret)) << "the secret is shown only once";
  auto listed_json = keys({"list", "--json"});
  ASSERT_EQ(listed_json.code, 0);
  EXPECT_EQ(json::parse(listed_json.out).at("data").as_array().size(), 2u);

  auto shown = keys({"show", id});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_TRUE(contains(shown.out, "gpt-4o*,mock")) << shown.out;
  EXPECT_TRUE(contains(shown.out, "2030-01-01 00:00:00 UTC")) << shown.out;
  EXPECT_TRUE(contains(shown.out, "active")) << shown.out;

  auto updated = keys({"update", id, "--rpm", "10", "--name", "team-a2", "--expires", "never",
                       "--namespace", "shared", "--json"});
  ASSERT_EQ(updated.code, 0) << updated.err;
  auto after = json::parse(updated.out).as_object();
  EXPECT_EQ(after.at("rpm"), 10);
  EXPECT_EQ(after.at("name"), "team-a2");
  EXPECT_TRUE(after.at("expires_at").is_null());
  EXPECT_EQ(after.at("cache_namespace"), "shared");
  EXPECT_EQ(after.at("budget").at("daily").as_double(), 2.5);  // untouched

  // --metadata repeats, one value each, so the id may come after it; it replaces the metadata.
  auto meta = keys({"update", "--metadata", "a=1", "--metadata", "b=x=y", id, "--json"});
  ASSERT_EQ(meta.code, 0) << meta.err;
  EXPECT_EQ(json::serialize(json::parse(meta.out).at("metadata")), R"({"a":"1","b":"x=y"})");

  auto revoked = keys({"revoke", id});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_TRUE(contains(revoked.out, "Revoked " + id)) << revoked.out;
  auto gone = keys({"show", id, "--json"});
  ASSERT_EQ(gone.code, 0);
  EXPECT_FALSE(json::parse(gone.out).at("revoked_at").is_null());
  listed = keys({"list"});
  EXPECT_TRUE(contains(listed.out, "revoked")) << listed.out;
  // A revoked key cannot be changed.
  auto late = keys({"update", id, "--rpm", "5"});
  EXPECT_EQ(late.code, 1);
  EXPECT_TRUE(contains(late.err, "revoked")) << late.err;

  // The database holds the hash, never the secret.
  for (const char* suffix : {"", "-wal"}) {
    std::string bytes = slurp(db_path() + suffix);
    EXPECT_FALSE(contains(bytes, secret.substr(14))) << "secret found in sluice.db" << suffix;
  }
}

TEST_F(KeysCliTest, BadFlagsExitOneWithAMessageNamingTheField) {
  ASSERT_EQ(keys({"create", "--name", "taken"}).code, 0);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"create", "--name", "x", "--rpm", "-5"}, "--rpm: rpm must not be negative"},
      {{"create", "--name", "x", "--tpm", "1.5"}, "--tpm: tpm must be a whole number, not 1.5"},
      {{"create", "--name", "x", "--max-concurrency", "many"},
       "--max-concurrency: max_concurrency must be a whole number"},
      {{"create", "--name", "x", "--budget-daily", "-1"},
       "--budget-daily: budget.daily must not be negative"},
      {{"create", "--name", "x", "--models", "gpt-[4]o"}, "--models: models[0] uses [...]"},
      {{"create", "--name", ""}, "--name: name must not be empty"},
      {{"create", "--name", "taken"}, "--name: name \"taken\" is taken by another key"},
      {{"create", "--rpm", "5"}, "--name: name is required"},
      {{"create", "--name", "x", "--expires", "soon"}, "--expires: must be never, a duration"},
      {{"create", "--name", "x", "--metadata", "novalue"}, "--metadata: must be KEY=VALUE"},
      {{"create", "--name", "x", "--namespace", "key_abc"}, "--namespace: cache_namespace must"},
      {{"show", "key_0000000000000000"}, "no key with id \"key_0000000000000000\""},
      {{"revoke", "key_0000000000000000"}, "no key with id"},
  };
  for (const auto& c : cases) {
    auto r = keys(c.args);
    std::string what = c.args[0] + " " + (c.args.size() > 1 ? c.args.back() : "");
    EXPECT_EQ(r.code, 1) << what << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.message)) << what << ": " << r.err;
    EXPECT_EQ(r.out, "") << what;
  }
  // Nothing was created by the failures.
  auto listed = keys({"list", "--json"});
  EXPECT_EQ(json::parse(listed.out).at("data").as_array().size(), 1u);
}

TEST_F(KeysCliTest, MisusingTheCommandLineExitsTwo) {
  EXPECT_EQ(keys({"create", "--name", "x", "--no-such-flag"}).code, 2);
  EXPECT_EQ(sluice(dir_, {"keys", "show"}).code, 2);  // the id is required
  EXPECT_EQ(sluice(dir_, {"keys"}).code, 2);
  EXPECT_EQ(sluice(dir_, {"keys", "list", "-c", "x.yaml", "--data-dir", "d"}).code, 2);
  EXPECT_EQ(sluice(dir_, {"keys", "--help"}).code, 0);
}

TEST_F(KeysCliTest, TheDatabaseIsFoundThroughTheConfigurationOrNotAtAll) {
  std::string with_dir = dir_.write("with.yaml", "data_dir: " + data_dir() + "\n" + kModels);
  auto created = sluice(dir_, {"keys", "create", "-c", with_dir, "--name", "via-config"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_TRUE(std::filesystem::exists(db_path()));
  auto listed = sluice(dir_, {"keys", "list", "--config", with_dir});
  EXPECT_TRUE(contains(listed.out, "via-config")) << listed.out << listed.err;

  std::string without = dir_.write("without.yaml", kModels);
  auto r = sluice(dir_, {"keys", "list", "-c", without});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "sets no data_dir")) << r.err;
  r = sluice(dir_, {"keys", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--data-dir DIR or -c FILE")) << r.err;
  // Reading commands do not create a database in a mistyped directory.
  r = sluice(dir_, {"keys", "list", "--data-dir", dir_.file("typo").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no database at")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("typo")));
}

TEST_F(KeysCliTest, UsageReportsAsATableAndAsJson) {
  auto created = keys({"create", "--name", "alpha", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  std::string id(json::parse(created.out).at("id").as_string());
  {
    auto db = store::Database::open(db_path());
    ASSERT_TRUE(db) << db.error().message;
    std::vector<store::UsageRow> rows;
    const std::int64_t jan1 = 1767225600000;  // 2026-01-01
    for (int i = 0; i < 4; ++i) {
      store::UsageRow r;
      r.at_ms = jan1 + i * core::kDayMs / 2;  // 1, 1, 2, 2 January
      r.key_id = i < 3 ? id : "";
      r.model = i % 2 == 0 ? "gpt-4o" : "mock";
      r.status = i == 1 ? 500 : 200;
      r.prompt_tokens = 100;
      r.completion_tokens = 10;
      r.cost_usd = 0.5;
      r.latency_ms = 20;
      rows.push_back(r);
    }
    ASSERT_TRUE(store::UsageStore(**db).insert(rows));
  }
  auto table = sluice(dir_, {"usage", "--data-dir", data_dir()});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, id)) << table.out;
  EXPECT_TRUE(contains(table.out, "alpha")) << table.out;
  EXPECT_TRUE(contains(table.out, "(no key)")) << table.out;
  EXPECT_TRUE(contains(table.out, "\ntotal")) << table.out;
  EXPECT_TRUE(contains(table.out, "2.000000")) << table.out;  // the total cost

  auto by_day = sluice(dir_, {"usage", "--data-dir", data_dir(), "--group-by", "day", "--from",
                              "2026-01-02", "--json"});
  ASSERT_EQ(by_day.code, 0) << by_day.err;
  auto report = json::parse(by_day.out).as_object();
  EXPECT_EQ(report.at("object"), "sluice.usage_report");
  EXPECT_EQ(report.at("group_by"), "day");
  auto& data = report.at("data").as_array();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].at("group"), "2026-01-02");
  EXPECT_EQ(data[0].at("requests"), 2);
  EXPECT_EQ(report.at("total").at("prompt_tokens"), 200);

  auto one_key = sluice(
      dir_, {"usage", "--data-dir", data_dir(), "--group-by", "model", "--key", id, "--json"});
  ASSERT_EQ(one_key.code, 0) << one_key.err;
  auto models = json::parse(one_key.out).as_object();
  EXPECT_EQ(models.at("total").at("requests"), 3);
  EXPECT_EQ(models.at("total").at("errors"), 1);

  auto bad = sluice(dir_, {"usage", "--data-dir", data_dir(), "--group-by", "week"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "--group-by: group_by must be key, model or day")) << bad.err;
  bad = sluice(dir_, {"usage", "--data-dir", data_dir(), "--from", "2026-02-30"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "--from: from must be")) << bad.err;
}

TEST_F(KeysCliTest, ARevocationByTheCliReachesARunningControlPlaneWithinASecond) {
  auto created = keys({"create", "--name", "live", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  std::string id(json::parse(created.out).at("id").as_string());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<store::KeyRecord> current;
  store::ControlPlane::Options options;
  options.path = db_path();
  auto cp = store::ControlPlane::open(options, [&](std::vector<store::KeyRecord> keys) {
    std::lock_guard lock(mu);
    current = std::move(keys);
    cv.notify_all();
  });
  ASSERT_TRUE(cp) << cp.error().message;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(current.size(), 1u);
  }
  auto revoked = keys({"revoke", id});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  auto done = std::chrono::steady_clock::now();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return current.empty(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - done, 1s);
}

}  // namespace
}  // namespace sluice::testing
