// `sluice batch` through the real binary: 2,000 lines through an in-process gateway whose
// upstream (`sluice mock`) fails a fifth of its answers, every custom_id once with its right
// status; problems in the input reported by line before anything is sent; `kill -9` in the
// middle and a rerun that sends only what was not finished (a torn last line included); 429s
// waited out by their Retry-After; progress lines when stderr is not a terminal.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/await.h"
#include "support/cli_run.h"
#include "support/fake_upstream.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::string chat_line(const std::string& id, const std::string& extra = "") {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"model":"mock",)"
         R"("messages":[{"role":"user","content":"Tell me about )" +
         id + R"("}])" + extra + "}}";
}

void write_lines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
}

struct OutputLine {
  int status = 0;  // 0: no response (an error object)
  json::object body;
  std::string error;
};

// The output file by custom_id; a custom_id seen twice fails the test.
std::map<std::string, OutputLine> read_output(const std::filesystem::path& path) {
  std::map<std::string, OutputLine> out;
  std::ifstream in(path, std::ios::binary);
  std::string text;
  while (std::getline(in, text)) {
    json::value v = json::parse(text);
    const json::object& o = v.as_object();
    EXPECT_TRUE(o.at("id").as_string().starts_with("batch_req_"));
    std::string id(o.at("custom_id").as_string());
    OutputLine line;
    if (o.at("response").is_object()) {
      const json::object& r = o.at("response").as_object();
      line.status = static_cast<int>(r.at("status_code").as_int64());
      line.body = r.at("body").as_object();
      EXPECT_TRUE(o.at("error").is_null());
    } else {
      line.error = o.at("error").at("message").as_string();
    }
    EXPECT_TRUE(out.emplace(id, std::move(line)).second) << "custom_id " << id << " twice";
  }
  return out;
}

std::string yaml_for(const std::string& base_url) {
  return "providers:\n  - name: up\n    kind: openai\n    base_url: " + base_url +
         "\nmodels:\n  - name: mock\n    deployments: [{provider: up}]\n";
}

TEST(BatchCliTest, TwoThousandLinesThroughFaultsEachOnceWithItsStatus) {
  TempDir dir;
  auto mock = start_mock(dir, {"--fault-rate", "0.2", "--seed", "7"});
  ASSERT_NE(mock.port, 0);
  std::ofstream(dir.file("sluice.yaml")) << yaml_for(mock.base_url());
  std::vector<std::string> lines;
  std::set<std::string> invalid;  // answered 400 by the upstream, never retried
  for (int i = 0; i < 2000; ++i) {
    std::string id = "req-" + std::to_string(i);
    if (i % 100 == 7) {
      invalid.insert(id);
      lines.push_back(chat_line(id, R"(,"temperature":3)"));
    } else if (i % 10 == 3) {
      lines.push_back(R"({"custom_id":")" + id +
                      R"(","method":"POST","url":"/v1/embeddings","body":{"model":"mock",)"
                      R"("input":"vector )" +
                      id + R"("}})");
    } else {
      lines.push_back(chat_line(id));
    }
  }
  write_lines(dir.file("in.jsonl"), lines);

  auto run = sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o",
                          dir.file("out.jsonl").string(), "-c", dir.file("sluice.yaml").string(),
                          "--concurrency", "16", "--retries", "6", "--progress-every", "0.2"});
  EXPECT_EQ(run.code, 1) << run.err;  // the 20 invalid lines failed
  auto out = read_output(dir.file("out.jsonl"));
  ASSERT_EQ(out.size(), 2000u);
  for (int i = 0; i < 2000; ++i) {
    std::string id = "req-" + std::to_string(i);
    auto it = out.find(id);
    ASSERT_NE(it, out.end()) << id;
    if (invalid.count(id)) {
      EXPECT_EQ(it->second.status, 400) << id;
      EXPECT_EQ(it->second.body.at("error").at("param"), "temperature") << id;
    } else {
      ASSERT_EQ(it->second.status, 200) << id << " " << it->second.error;
      bool embedding = i % 10 == 3;
      EXPECT_EQ(it->second.body.at("object"), embedding ? "list" : "chat.completion") << id;
    }
  }
  EXPECT_GT(mock.stats().at("faults").as_int64(), 100);  // the faults did happen
  EXPECT_NE(run.out.find("2000 requests"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("1980 ok, 20 failed"), std::string::npos) << run.out;
  // Not a terminal: plain progress lines, no bar and no carriage returns.
  EXPECT_NE(run.err.find("sluice batch: "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("/2000 "), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\r'), std::string::npos);

  // Run again: everything is already there, nothing is sent.
  std::int64_t sent = mock.requests();
  auto again =
      sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o", dir.file("out.jsonl").string(),
                   "-c", dir.file("sluice.yaml").string()});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("2000 of 2000 already in"), std::string::npos) << again.err;
  EXPECT_EQ(mock.requests(), sent);
  EXPECT_EQ(read_output(dir.file("out.jsonl")).size(), 2000u);
}

TEST(BatchCliTest, ProblemsInTheInputAreReportedByLineBeforeAnythingIsSent) {
  TempDir dir;
  auto mock = start_mock(dir);
  write_lines(dir.file("in.jsonl"),
              {chat_line("a"), "{not json", chat_line("b"), chat_line("a"),
               R"({"custom_id":"c","method":"POST","url":"/v1/files","body":{"model":"mock"}})", "",
               R"({"method":"POST","url":"/v1/chat/completions","body":{"model":"mock"}})"});
  auto run = sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o",
                          dir.file("out.jsonl").string(), "--url", mock.base_url()});
  EXPECT_EQ(run.code, 1);
  std::string in = dir.file("in.jsonl").string();
  EXPECT_NE(run.err.find(in + ":2: the line is not valid JSON"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(in + ":4: duplicate custom_id (first used on line 1)"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(in + ":5: url /v1/files is not an inference endpoint"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(in + ":7: custom_id must be a non-empty string"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("4 problem(s) in the input; nothing was sent"), std::string::npos);
  EXPECT_EQ(mock.requests(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.jsonl")));

  // Nor when the gateway is not there: the message says so.
  write_lines(dir.file("ok.jsonl"), {chat_line("a")});
  auto down =
      sluice(dir, {"batch", dir.file("ok.jsonl").string(), "-o", dir.file("out.jsonl").string(),
                   "--url", "http://127.0.0.1:" + std::to_string(closed_port()), "--retries", "0"});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.out.find("0 ok, 1 failed"), std::string::npos) << down.out;
  auto out = read_output(dir.file("out.jsonl"));
  ASSERT_EQ(out.count("a"), 1u);
  EXPECT_EQ(out["a"].status, 0);
  EXPECT_FALSE(out["a"].error.empty());
  auto neither = sluice(dir, {"batch", dir.file("ok.jsonl").string(), "-o", "x.jsonl"});
  EXPECT_EQ(neither.code, 1);
  EXPECT_NE(neither.err.find("-c CONFIG"), std::string::npos) << neither.err;
}

TEST(BatchCliTest, AutoConcurrencyGrowsWhileTheUpstreamKeepsItsLatency) {
  TempDir dir;
  auto mock = start_mock(dir, {"--first-token-delay", "50ms"});
  std::vector<std::string> lines;
  for (int i = 0; i < 600; ++i) lines.push_back(chat_line("auto-" + std::to_string(i)));
  write_lines(dir.file("in.jsonl"), lines);
  auto start = std::chrono::steady_clock::now();
  auto run =
      sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o", dir.file("out.jsonl").string(),
                   "--url", mock.base_url(), "--progress-every", "0.2"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(run.code, 0) << run.err;
  // At the starting four in flight, 600 answers of 50 ms would take 7.5 s.
  EXPECT_LT(took, 5s);
  int highest = 0;
  for (std::size_t at = run.err.find(" c="); at != std::string::npos;
       at = run.err.find(" c=", at + 1)) {
    highest = std::max(highest, std::atoi(run.err.c_str() + at + 3));
  }
  EXPECT_GE(highest, 16) << run.err;
}

// An upstream that says which custom_ids it answered: each body names its custom_id in `user`.
class RecordingUpstream {
 public:
  explicit RecordingUpstream(std::function<std::string(const std::string& id, int seen)> answer)
      : answer_(std::move(answer)), fake_([this](const std::string& request) {
          json::value body = json::parse(request.substr(request.find("\r\n\r\n") + 4));
          std::string id(body.at("user").as_string());
          int seen;
          {
            std::lock_guard lock(mu_);
            seen = ++counts_[id];
          }
          return answer_(id, seen);
        }) {}

  std::map<std::string, int> counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  std::string base_url() const { return fake_.base_url(); }

  static std::string ok(const std::string& id) {
    std::string body = R"({"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":)"
                       R"([{"index":0,"message":{"role":"assistant","content":"about )" +
                       id +
                       R"("},"finish_reason":"stop"}],)"
                       R"("usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})";
    return "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
           std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" + body;
  }

 private:
  std::function<std::string(const std::string&, int)> answer_;
  std::mutex mu_;
  std::map<std::string, int> counts_;
  FakeUpstream fake_;  // last: its thread calls the members above
};

std::string user_line(int i) {
  std::string id = "item-" + std::to_string(i);
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"model":"m","user":")" + id +
         R"(","messages":[{"role":"user","content":"hi"}]}})";
}

std::size_t complete_lines(const std::filesystem::path& path) {
  std::string text = slurp(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(BatchCliTest, KillNineMidwayThenRerunSendsOnlyWhatWasNotFinished) {
  TempDir dir;
  RecordingUpstream upstream([](const std::string& id, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
    return RecordingUpstream::ok(id);
  });
  constexpr int kLines = 400;
  std::vector<std::string> lines;
  for (int i = 0; i < kLines; ++i) lines.push_back(user_line(i));
  write_lines(dir.file("in.jsonl"), lines);
  std::vector<std::string> args = {sluice_binary(),
                                   "batch",
                                   dir.file("in.jsonl").string(),
                                   "-o",
                                   dir.file("out.jsonl").string(),
                                   "--url",
                                   upstream.base_url(),
                                   "--concurrency",
                                   "4",
                                   "-q"};
  auto first = Process::start(args, dir.file("first.log").string());
  ASSERT_TRUE(eventually([&] { return complete_lines(dir.file("out.jsonl")) >= 100; }, 20s));
  first->signal(SIGKILL);
  first->wait(5s);
  auto before = read_output(dir.file("out.jsonl"));
  ASSERT_GE(before.size(), 100u);
  ASSERT_LT(before.size(), static_cast<std::size_t>(kLines)) << "finished before the kill";
  // What a crash in the middle of an append leaves: a line without its end.
  std::ofstream(dir.file("out.jsonl"), std::ios::app) << R"({"id":"batch_req_x","custom_id":"ite)";

  auto second =
      sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o", dir.file("out.jsonl").string(),
                   "--url", upstream.base_url(), "--concurrency", "4"});
  EXPECT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find(std::to_string(before.size()) + " of 400 already in"),
            std::string::npos)
      << second.err;
  auto after = read_output(dir.file("out.jsonl"));  // fails on any custom_id twice
  ASSERT_EQ(after.size(), static_cast<std::size_t>(kLines));
  auto counts = upstream.counts();
  for (const auto& [id, line] : before) {
    EXPECT_EQ(counts[id], 1) << id << " was finished before the kill, yet sent again";
  }
  for (const auto& [id, line] : after) {
    EXPECT_EQ(line.status, 200) << id;
    EXPECT_EQ(line.body.at("choices").at(0).at("message").at("content").as_string(), "about " + id);
  }
  EXPECT_NE(second.out.find("tokens " + std::to_string(5 * (kLines - before.size())) + " prompt"),
            std::string::npos)
      << second.out;
}

TEST(BatchCliTest, AnInterruptFinishesWhatIsInFlightAndExits130) {
  TempDir dir;
  RecordingUpstream upstream([](const std::string& id, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return RecordingUpstream::ok(id);
  });
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) lines.push_back(user_line(i));
  write_lines(dir.file("in.jsonl"), lines);
  auto first = Process::start(
      {sluice_binary(), "batch", dir.file("in.jsonl").string(), "-o",
       dir.file("out.jsonl").string(), "--url", upstream.base_url(), "--concurrency", "4", "-q"},
      dir.file("first.log").string());
  ASSERT_TRUE(eventually([&] { return complete_lines(dir.file("out.jsonl")) >= 10; }, 20s));
  first->signal(SIGINT);
  EXPECT_EQ(first->wait(10s), 130) << first->log();
  EXPECT_NE(first->log().find("interrupted"), std::string::npos) << first->log();
  // Every answer the upstream gave was written: none is lost to be asked again.
  auto written = read_output(dir.file("out.jsonl"));
  EXPECT_LT(written.size(), 200u);
  std::size_t answered = 0;
  for (const auto& [id, n] : upstream.counts()) answered += n;
  EXPECT_EQ(written.size(), answered);
  auto second = sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o",
                             dir.file("out.jsonl").string(), "--url", upstream.base_url()});
  EXPECT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(read_output(dir.file("out.jsonl")).size(), 200u);
  for (const auto& [id, n] : upstream.counts()) EXPECT_EQ(n, 1) << id;
}

TEST(BatchCliTest, AnInterruptDuringARetryWaitLeavesTheLineForTheNextRun) {
  TempDir dir;
  std::atomic<bool> limited{true};  // read on the fake's thread
  RecordingUpstream upstream([&limited](const std::string& id, int) -> std::string {
    if (!limited) return RecordingUpstream::ok(id);
    std::string body = R"({"error":{"message":"Slow down","type":"requests","param":null,)"
                       R"("code":"rate_limit_exceeded"}})";
    return "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
           "retry-after: 60\r\ncontent-length: " +
           std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" + body;
  });
  write_lines(dir.file("in.jsonl"), {user_line(0), user_line(1)});
  auto first = Process::start(
      {sluice_binary(), "batch", dir.file("in.jsonl").string(), "-o",
       dir.file("out.jsonl").string(), "--url", upstream.base_url(), "--concurrency", "1", "-q"},
      dir.file("first.log").string());
  ASSERT_TRUE(eventually([&] { return !upstream.counts().empty(); }, 10s));
  first->signal(SIGINT);
  // Not the 60 s of the Retry-After: the wait ends with the interrupt.
  EXPECT_EQ(first->wait(5s), 130) << first->log();
  // The rate-limited line is not finished, so it is not written as a failure.
  EXPECT_EQ(complete_lines(dir.file("out.jsonl")), 0u);
  limited = false;
  auto second = sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o",
                             dir.file("out.jsonl").string(), "--url", upstream.base_url()});
  EXPECT_EQ(second.code, 0) << second.err;
  auto out = read_output(dir.file("out.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  for (const auto& [id, line] : out) EXPECT_EQ(line.status, 200) << id;
}

TEST(BatchCliTest, RateLimitedLinesWaitOutRetryAfterAndSucceed) {
  TempDir dir;
  RecordingUpstream upstream([](const std::string& id, int seen) -> std::string {
    if (seen == 1) {
      std::string body =
          R"({"error":{"message":"Rate limit reached","type":"requests","param":null,)"
          R"("code":"rate_limit_exceeded"}})";
      return "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
             "retry-after: 0.2\r\ncontent-length: " +
             std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" + body;
    }
    return RecordingUpstream::ok(id);
  });
  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) lines.push_back(user_line(i));
  write_lines(dir.file("in.jsonl"), lines);
  auto start = std::chrono::steady_clock::now();
  auto run = sluice(dir, {"batch", dir.file("in.jsonl").string(), "-o",
                          dir.file("out.jsonl").string(), "--url", upstream.base_url()});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("20 ok, 0 failed"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("retries 20"), std::string::npos) << run.out;
  EXPECT_GE(took, 200ms);  // Retry-After was waited out, not ignored
  auto out = read_output(dir.file("out.jsonl"));
  EXPECT_EQ(out.size(), 20u);
  for (const auto& [id, count] : upstream.counts()) EXPECT_EQ(count, 2) << id;
}

}  // namespace
}  // namespace sluice::testing
