// Keys, limits, budgets and usage end to end (docs/keys-and-limits.md): a real `sluice serve`
// with `auth.mode: keys` and a data_dir, in front of a real `sluice mock`. Keys are created and
// revoked through the admin API; what a client sees (401, 403, 429 with Retry-After and
// x-ratelimit-*, insufficient_quota) and what the usage report says are checked from outside.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <thread>

#include "support/await.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kAdminKey = "admin-test-key-0123456789";

const std::string kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Tell me about keys"}],"max_tokens":8})";

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  void start(const std::string& extra = "", const std::string& model_extra = "") {
    gateway_ = start_gateway(dir_,
                             "data_dir: " + dir_.file("data").string() +
                                 "\nauth: {mode: keys}\ncoalesce: {enabled: false}\n" + extra +
                                 R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() +
                                 R"(
models:
  - name: fast
)" + model_extra + R"(
    deployments:
      - provider: local
        model: llama-3.1-8b
        input_cost_per_mtok: 1000
        output_cost_per_mtok: 2000
  - name: other
    deployments:
      - provider: local
        model: llama-3.1-8b
  - name: gpt-4o-mini
    deployments:
      - provider: local
)",
                             {{"SLUICE_ADMIN_KEY", kAdminKey}});
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  Response admin(const std::string& method, const std::string& path, const std::string& body = {}) {
    auto r = request(gateway_.port, method, path, body, bearer(kAdminKey));
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  // Creates a key through the admin API; returns {id, secret}.
  std::pair<std::string, std::string> create_key(const std::string& spec) {
    Response r = admin("POST", "/admin/keys", spec);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return {};
    json::object o = json::parse(r.body).as_object();
    return {std::string(o.at("id").as_string()), std::string(o.at("secret").as_string())};
  }

  Response chat(const std::string& key, const std::string& body = kChat) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions", body, bearer(key));
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  json::object usage(const std::string& query) {
    Response r = admin("GET", "/admin/usage?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body).as_object() : json::object{};
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

TEST_F(KeysTest, NoWrongOrRevokedKeyIs401AndAGoodOneIsServed) {
  start();
  auto none = request(gateway_.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(openai_error(*none).at("code"), "invalid_api_key");
  EXPECT_EQ(openai_error(*none).at("type"), "authentication_error");
  EXPECT_EQ(chat("sk-sluice-notarealkeynotarealkeynotarealkeynotareal").status, 401);
  Response malformed = chat("hello");
  EXPECT_EQ(malformed.status, 401);
  EXPECT_EQ(malformed.body.find("hello"), std::string::npos);  // keys are never echoed
  auto models = request(gateway_.port, "GET", "/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  EXPECT_EQ(mock_.requests(), 0);
  // Refused before the body is read, they are still counted as the chat requests they were.
  auto scrape = request(gateway_.port, "GET", "/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_NE(scrape->body.find(
                R"(sluice_requests_total{endpoint="chat",model="",status="401",cache=""} 3)"),
            std::string::npos)
      << scrape->body;

  auto [id, secret] = create_key(R"({"name":"team-a"})");
  ASSERT_FALSE(secret.empty());
  EXPECT_TRUE(secret.starts_with("sk-sluice-"));
  Response ok = chat(secret);
  EXPECT_EQ(ok.status, 200) << ok.body;

  // The admin API never shows the secret again.
  Response listed = admin("GET", "/admin/keys");
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find(secret), std::string::npos);
  EXPECT_NE(listed.body.find(id), std::string::npos);

  Response revoked = admin("DELETE", "/admin/keys/" + id);
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  Response after = chat(secret);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(KeysTest, TheAdminApiNeedsTheAdminKey) {
  start();
  auto none = request(gateway_.port, "GET", "/admin/cache");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  openai_error(*none);
  auto wrong = request(gateway_.port, "GET", "/admin/deployments", "", bearer("admin-test-key-x"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(admin("GET", "/admin/deployments").status, 200);
  // A client key is not an admin key.
  auto [id, secret] = create_key(R"({"name":"plain"})");
  auto as_client = request(gateway_.port, "GET", "/admin/keys", "", bearer(secret));
  ASSERT_TRUE(as_client);
  EXPECT_EQ(as_client->status, 401);
}

TEST_F(KeysTest, BadKeySpecsAre400NamingTheField) {
  start();
  auto check = [&](const std::string& body, const std::string& param) {
    Response r = admin("POST", "/admin/keys", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    json::object e = openai_error(r);
    EXPECT_EQ(e.at("param"), param.c_str()) << body << " -> " << r.body;
  };
  check(R"({"name":"a","colour":"red"})", "colour");
  check(R"({"name":"a","rpm":-1})", "rpm");
  check(R"({"name":"a","budget":{"daily":-2}})", "budget.daily");
  check(R"({"rpm":5})", "name");
  create_key(R"({"name":"dup"})");
  check(R"({"name":"dup"})", "name");
  Response not_json = admin("POST", "/admin/keys", "{");
  EXPECT_EQ(not_json.status, 400);
  openai_error(not_json);
  EXPECT_EQ(admin("GET", "/admin/keys/key_0000000000000000").status, 404);
}

TEST_F(KeysTest, AModelOutsideTheKeysGlobsIs403) {
  start();
  auto [id, secret] = create_key(R"({"name":"only-fast","models":["fa*"]})");
  EXPECT_EQ(chat(secret).status, 200);
  Response denied = chat(secret, R"({"model":"other","messages":[]})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(openai_error(denied).at("type"), "permission_error");
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(KeysTest, AKeyAt60RpmGets60Of120RequestsInASecond) {
  start();
  auto [id, secret] = create_key(R"({"name":"sixty","rpm":60})");
  int ok = 0;
  int limited = 0;
  std::string retry_after;
  std::string remaining_after_first;
  auto t0 = Clock::now();
  HttpClient client(gateway_.port);
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(client.send("POST", "/v1/chat/completions", kChat, bearer(secret)));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    if (r->status == 200) {
      if (ok == 0) remaining_after_first = r->header("x-ratelimit-remaining-requests");
      ++ok;
      EXPECT_EQ(r->header("x-ratelimit-limit-requests"), "60");
    } else {
      ASSERT_EQ(r->status, 429) << r->body;
      EXPECT_EQ(openai_error(*r).at("code"), "rate_limit_exceeded");
      retry_after = r->header("retry-after");
      ++limited;
    }
  }
  auto elapsed = Clock::now() - t0;
  // One more token arrives each second: a run longer than a second may fairly get one more.
  int slack =
      1 + static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
  EXPECT_GE(ok, 60);
  EXPECT_LE(ok, 60 + slack);
  EXPECT_EQ(ok + limited, 120);
  EXPECT_EQ(remaining_after_first, "59");
  EXPECT_EQ(retry_after, "1");  // one request per second is the steady rate
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(chat(secret).status, 200);  // Retry-After was right: the next one gets through
}

TEST_F(KeysTest, TokenLimitsReserveAndRefuseWhatCannotFit) {
  start();
  auto [id, secret] = create_key(R"({"name":"tokens","tpm":100})");
  Response ok = chat(secret);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("x-ratelimit-limit-tokens"), "100");
  EXPECT_FALSE(ok.header("x-ratelimit-remaining-tokens").empty());
  Response big = chat(
      secret, R"({"model":"fast","messages":[{"role":"user","content":"x"}],"max_tokens":500})");
  EXPECT_EQ(big.status, 429);
  EXPECT_NE(openai_error(big).at("message").as_string().find("TPM"), std::string::npos);
}

TEST_F(KeysTest, AnOpenAIModelsPromptIsCountedExactly) {
  start();
  const std::string messages =
      R"("messages":[{"role":"user","content":"hello world"}],"max_tokens":10})";
  // gpt-4o-mini counts with o200k_base and OpenAI's chat framing: 3 per message, "user" (1) and
  // "hello world" (2), 3 to prime the reply: 9 tokens, plus max_tokens 10 reserved.
  auto [a, exact] = create_key(R"({"name":"exact","tpm":1000})");
  Response r = chat(exact, R"({"model":"gpt-4o-mini",)" + messages);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-ratelimit-limit-tokens"), "1000");
  EXPECT_EQ(r.header("x-ratelimit-remaining-tokens"), std::to_string(1000 - 9 - 10));
  // "fast" is sent upstream as llama-3.1-8b: no known tokenizer, so four bytes a token over the
  // prompt's strings ("user" and "hello world": 15 bytes, 4 tokens).
  auto [b, estimated] = create_key(R"({"name":"estimated","tpm":1000})");
  Response e = chat(estimated, R"({"model":"fast",)" + messages);
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.header("x-ratelimit-remaining-tokens"), std::to_string(1000 - 4 - 10));
}

TEST_F(KeysTest, ABudgetSpentIs429InsufficientQuota) {
  start();
  // The model costs $1000 per million input tokens, $2000 per million output: a few cents a call.
  auto [id, secret] = create_key(R"({"name":"thrifty","budget":{"total":0.02}})");
  int ok = 0;
  Response last;
  for (int i = 0; i < 20; ++i) {
    last = chat(secret);
    if (last.status != 200) break;
    ++ok;
  }
  EXPECT_GE(ok, 1);
  EXPECT_LT(ok, 20);
  EXPECT_EQ(last.status, 429) << last.body;
  json::object e = openai_error(last);
  EXPECT_EQ(e.at("type"), "insufficient_quota");
  EXPECT_EQ(e.at("code"), "insufficient_quota");
}

TEST_F(KeysTest, UsageReportTotalsEqualWhatTheUpstreamReported) {
  start();
  auto [a, secret_a] = create_key(R"({"name":"a"})");
  auto [b, secret_b] = create_key(R"({"name":"b"})");
  std::uint64_t prompt = 0;
  std::uint64_t completion = 0;
  auto add = [&](const json::value& u) {
    prompt += u.at("prompt_tokens").to_number<std::uint64_t>();
    completion += u.at("completion_tokens").to_number<std::uint64_t>();
  };
  for (int i = 0; i < 3; ++i) {
    Response r = chat(secret_a, R"({"model":"fast","messages":[{"role":"user","content":"n)" +
                                    std::to_string(i) + R"("}],"max_tokens":6})");
    ASSERT_EQ(r.status, 200);
    add(json::parse(r.body).at("usage"));
  }
  // A stream that asks for usage shows it; one that does not gets no usage chunk, but the
  // gateway still counts it (the mock is deterministic: the same request, the same usage).
  const std::string with =
      R"({"model":"fast","messages":[{"role":"user","content":"stream me"}],)"
      R"("max_tokens":5,"stream":true,"stream_options":{"include_usage":true}})";
  const std::string without =
      R"({"model":"fast","messages":[{"role":"user","content":"stream me"}],)"
      R"("max_tokens":5,"stream":true})";
  Response s1 = chat(secret_b, with);
  ASSERT_EQ(s1.status, 200);
  json::value stream_usage;
  for (const std::string& d : sse_data(s1.body)) {
    if (d == "[DONE]") continue;
    json::value v = json::parse(d);
    if (v.as_object().contains("usage") && v.at("usage").is_object()) stream_usage = v.at("usage");
  }
  ASSERT_TRUE(stream_usage.is_object()) << s1.body;
  add(stream_usage);
  Response s2 = chat(secret_b, without);
  ASSERT_EQ(s2.status, 200);
  EXPECT_EQ(s2.body.find("\"prompt_tokens\""), std::string::npos) << s2.body;
  EXPECT_NE(s2.body.find("[DONE]"), std::string::npos);
  add(stream_usage);

  // Each ledger row is queued after its answer went out: the last may land a moment later.
  json::object by_key;
  EXPECT_TRUE(eventually(
      [&] {
        by_key = usage("group_by=key");
        return by_key.contains("total") &&
               by_key.at("total").at("requests").to_number<std::uint64_t>() == 5u;
      },
      5s));
  json::object total = by_key.at("total").as_object();
  EXPECT_EQ(total.at("requests").to_number<std::uint64_t>(), 5u);
  EXPECT_EQ(total.at("prompt_tokens").to_number<std::uint64_t>(), prompt);
  EXPECT_EQ(total.at("completion_tokens").to_number<std::uint64_t>(), completion);
  double expected_cost = (prompt * 1000.0 + completion * 2000.0) / 1e6;
  EXPECT_NEAR(total.at("cost_usd").to_number<double>(), expected_cost, 1e-9);
  ASSERT_EQ(by_key.at("data").as_array().size(), 2u);
  json::object by_model = usage("group_by=model");
  EXPECT_EQ(by_model.at("data").as_array().size(), 1u);
  Response bad = admin("GET", "/admin/usage?group_by=colour");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(openai_error(bad).at("param"), "group_by");
}

TEST_F(KeysTest, TwoKeysInTheirOwnNamespacesNeverShareACachedAnswer) {
  start("cache: {enabled: true}\n");
  auto [a, secret_a] = create_key(R"({"name":"tenant-a"})");
  auto [b, secret_b] = create_key(R"({"name":"tenant-b"})");
  auto [c, secret_c] = create_key(R"({"name":"tenant-c","cache_namespace":"shared"})");
  auto [d, secret_d] = create_key(R"({"name":"tenant-d","cache_namespace":"shared"})");
  EXPECT_EQ(chat(secret_a).header("x-sluice-cache"), "miss");
  EXPECT_EQ(chat(secret_b).header("x-sluice-cache"), "miss");
  EXPECT_EQ(chat(secret_a).header("x-sluice-cache"), "hit");
  EXPECT_EQ(chat(secret_b).header("x-sluice-cache"), "hit");
  EXPECT_EQ(mock_.requests(), 2);
  // Keys that name the same namespace share on purpose.
  EXPECT_EQ(chat(secret_c).header("x-sluice-cache"), "miss");
  EXPECT_EQ(chat(secret_d).header("x-sluice-cache"), "hit");
  EXPECT_EQ(mock_.requests(), 3);
  // What the hit saved is in the ledger.
  json::object report = usage("group_by=key");
  EXPECT_GT(report.at("total").at("saved_usd").to_number<double>(), 0);
}

}  // namespace
}  // namespace sluice::testing
