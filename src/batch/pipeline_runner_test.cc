// The pipeline scheduler against a fake executor that sleeps and answers like the gateway: the
// order steps run in, that independent steps truly overlap (timed, with generous margins),
// foreach fan-out and its bounds, retries, failures skipping only what depends on them, and a
// stop that finishes what is in flight.
#include "batch/pipeline_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "mock/png.h"
#include "mock/text.h"

namespace sluice::batch {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

Plan plan_of(const std::string& yaml) { return build_plan(parse_pipeline(yaml, "p.yaml")); }

Reply chat_reply(const std::string& text, const std::string& cache = "miss") {
  Reply r;
  r.status = 200;
  r.cache = cache;
  r.request_id = "req-" + text.substr(0, 12);
  r.body = json::serialize(json::object{
      {"object", "chat.completion"},
      {"choices",
       json::array{json::object{
           {"index", 0}, {"message", json::object{{"role", "assistant"}, {"content", text}}}}}},
      {"usage",
       json::object{{"prompt_tokens", 10}, {"completion_tokens", 4}, {"total_tokens", 14}}}});
  return r;
}

// The user message of a chat request body.
std::string prompt_of(const StepRequest& req) {
  json::value body = json::parse(req.body);
  return std::string(body.at("messages").as_array().back().at("content").as_string());
}

// A fake gateway: each request sleeps for its step's delay, then answers "<step>:<prompt>"
// (or what `answer` says), and records when every request ran and how many overlapped.
class FakeGateway {
 public:
  std::map<std::string, std::chrono::milliseconds> delay;
  std::function<std::optional<Reply>(const StepRequest&, int attempt)> answer;

  StepExecutor executor() {
    return [this](const StepRequest& req) { return serve(req); };
  }

  struct Call {
    std::string step;
    std::size_t item = 0;
    std::string prompt;
    std::chrono::steady_clock::time_point start, end;
  };
  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  const Call& first_call(const std::string& step) {
    for (const Call& c : calls_) {
      if (c.step == step) return c;
    }
    throw std::runtime_error("no call of " + step);
  }
  int max_in_flight() const { return max_in_flight_; }
  int max_in_flight(const std::string& step) {
    std::lock_guard lock(mutex_);
    return max_by_step_[step];
  }

 private:
  Reply serve(const StepRequest& req) {
    Call call{req.step, req.item, prompt_of(req), std::chrono::steady_clock::now(), {}};
    int attempt = 0;
    {
      std::lock_guard lock(mutex_);
      int now = ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_.load(), now);
      int step_now = ++by_step_[req.step];
      max_by_step_[req.step] = std::max(max_by_step_[req.step], step_now);
      attempt = ++attempts_[req.step + "#" + std::to_string(req.item)];
    }
    auto d = delay.find(req.step);
    if (d != delay.end()) std::this_thread::sleep_for(d->second);
    std::optional<Reply> reply;
    if (answer) reply = answer(req, attempt);
    if (!reply) reply = chat_reply(req.step + ":" + call.prompt);
    call.end = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    --in_flight_;
    --by_step_[req.step];
    calls_.push_back(call);
    return *reply;
  }

  std::mutex mutex_;
  std::vector<Call> calls_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::map<std::string, int> by_step_, max_by_step_, attempts_;
};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

RunnerOptions fast_retries() {
  RunnerOptions o;
  o.backoff_base = 1ms;
  o.backoff_max = 5ms;
  return o;
}

TEST(PipelineRunnerTest, StepsRunInDependencyOrderAndSeeEarlierOutputs) {
  Plan plan = plan_of(R"(inputs: {topic: rivers}
defaults: {model: m}
steps:
  - {name: c, needs: [b], prompt: "C after {{steps.b.output}}"}
  - {name: a, prompt: "about {{inputs.topic}}"}
  - {name: b, prompt: "B from {{steps.a.output}}"}
)");
  FakeGateway gw;
  gw.delay = {{"a", 50ms}, {"b", 50ms}, {"c", 50ms}};
  RunResult r = run_pipeline(plan, gw.executor());
  ASSERT_TRUE(r.ok());
  EXPECT_GE(gw.first_call("b").start, gw.first_call("a").end);
  EXPECT_GE(gw.first_call("c").start, gw.first_call("b").end);
  EXPECT_EQ(r.steps[plan.index_of("a")].output, "a:about rivers");
  EXPECT_EQ(r.steps[plan.index_of("b")].output, "b:B from a:about rivers");
  EXPECT_EQ(r.steps[plan.index_of("c")].output, "c:C after b:B from a:about rivers");
  const ItemResult& item = r.steps[plan.index_of("c")].items.at(0);
  EXPECT_EQ(item.file, "c.txt");
  EXPECT_EQ(item.content, item.output);
  EXPECT_EQ(item.prompt_tokens, 10);
  EXPECT_EQ(item.completion_tokens, 4);
  EXPECT_EQ(item.attempts, 1);
  EXPECT_EQ(item.cache, "miss");
}

TEST(PipelineRunnerTest, IndependentStepsRunTrulyAtOnce) {
  Plan parallel = plan_of(R"(defaults: {model: m}
steps:
  - parallel:
      name: both
      steps:
        - {name: left, prompt: x}
        - {name: right, prompt: y}
  - {name: after, needs: [both], prompt: z}
)");
  FakeGateway gw;
  gw.delay = {{"left", 300ms}, {"right", 300ms}};
  auto start = std::chrono::steady_clock::now();
  RunResult r = run_pipeline(parallel, gw.executor());
  double took = elapsed_ms(start);
  ASSERT_TRUE(r.ok());
  EXPECT_LT(took, 500) << "two 300 ms steps side by side";
  EXPECT_GE(took, 295);
  EXPECT_EQ(gw.max_in_flight(), 2);
  // `needs: [both]` waited for both members.
  EXPECT_GE(gw.first_call("after").start, gw.first_call("left").end);
  EXPECT_GE(gw.first_call("after").start, gw.first_call("right").end);

  Plan chain = plan_of(R"(defaults: {model: m}
steps:
  - {name: left, prompt: x}
  - {name: right, prompt: "{{steps.left.output}}"}
)");
  FakeGateway gw2;
  gw2.delay = {{"left", 300ms}, {"right", 300ms}};
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_pipeline(chain, gw2.executor()).ok());
  EXPECT_GE(elapsed_ms(start), 600) << "a chain runs one step after the other";
  EXPECT_EQ(gw2.max_in_flight(), 1);
}

TEST(PipelineRunnerTest, AStepStartsWhenItsOwnDependenciesAreDoneNotItsWave) {
  // slow and quick start together; after_quick needs only quick, so it must not wait for slow.
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - {name: slow, prompt: x}
  - {name: quick, prompt: y}
  - {name: after_quick, prompt: "{{steps.quick.output}}"}
)");
  FakeGateway gw;
  gw.delay = {{"slow", 400ms}, {"quick", 50ms}, {"after_quick", 50ms}};
  ASSERT_TRUE(run_pipeline(plan, gw.executor()).ok());
  EXPECT_LT(gw.first_call("after_quick").end, gw.first_call("slow").end);
}

TEST(PipelineRunnerTest, ForeachFansOutOverAnEarlierOutputWithinItsBound) {
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - {name: list, prompt: x}
  - name: each
    foreach: "{{steps.list.output}}"
    max_workers: 2
    prompt: "#{{index}} {{item}}"
  - {name: sum, prompt: "{{steps.each.output}}"}
)");
  FakeGateway gw;
  gw.delay = {{"each", 100ms}};
  gw.answer = [](const StepRequest& req, int) -> std::optional<Reply> {
    if (req.step == "list") return chat_reply("1. one\n2. two\n3. three\n4. four\n5. five\n6. six");
    return std::nullopt;
  };
  auto start = std::chrono::steady_clock::now();
  RunResult r = run_pipeline(plan, gw.executor());
  double took = elapsed_ms(start);
  ASSERT_TRUE(r.ok());
  const StepResult& each = r.steps[plan.index_of("each")];
  ASSERT_EQ(each.items.size(), 6u);
  EXPECT_EQ(each.items[0].output, "each:#1 one");
  EXPECT_EQ(each.items[5].output, "each:#6 six");
  EXPECT_EQ(each.items[2].file, "each/003.txt");
  EXPECT_EQ(each.output.substr(0, 25), "each:#1 one\n\neach:#2 two\n");
  EXPECT_EQ(gw.max_in_flight("each"), 2) << "max_workers: 2 bounds the items in flight";
  EXPECT_GE(took, 300) << "six 100 ms items two at a time";
  EXPECT_LT(took, 550);
  EXPECT_EQ(r.steps[plan.index_of("sum")].output, "sum:" + each.output);
}

TEST(PipelineRunnerTest, ThePipelinesMaxWorkersBoundsEverything) {
  Plan plan = plan_of(R"(max_workers: 3
defaults: {model: m}
steps:
  - {name: a, prompt: x}
  - {name: b, prompt: x}
  - {name: fan, foreach: [1, 2, 3, 4, 5, 6], prompt: "{{item}}"}
)");
  FakeGateway gw;
  gw.delay = {{"a", 60ms}, {"b", 60ms}, {"fan", 60ms}};
  ASSERT_TRUE(run_pipeline(plan, gw.executor()).ok());
  EXPECT_EQ(gw.max_in_flight(), 3);
  EXPECT_EQ(gw.calls().size(), 8u);
}

TEST(PipelineRunnerTest, AnEmptyForeachSucceedsWithNoItems) {
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - {name: list, prompt: x}
  - {name: each, foreach: "{{steps.list.output}}", prompt: "{{item}}"}
  - {name: after, prompt: "[{{steps.each.output}}]"}
)");
  FakeGateway gw;
  gw.answer = [](const StepRequest& req, int) -> std::optional<Reply> {
    if (req.step == "list") return chat_reply("\n\n");
    return std::nullopt;
  };
  RunResult r = run_pipeline(plan, gw.executor());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.steps[1].items.empty());
  EXPECT_EQ(r.steps[2].output, "after:[]");
}

TEST(PipelineRunnerTest, AFailedStepSkipsOnlyWhatDependsOnIt) {
  Plan plan = plan_of(R"(defaults: {model: m, retries: 1}
steps:
  - {name: bad, prompt: x}
  - {name: child, prompt: "{{steps.bad.output}}"}
  - {name: grandchild, prompt: "{{steps.child.output}}"}
  - {name: independent, prompt: y}
  - {name: after_independent, prompt: "{{steps.independent.output}}"}
)");
  FakeGateway gw;
  gw.answer = [](const StepRequest& req, int) -> std::optional<Reply> {
    if (req.step != "bad") return std::nullopt;
    Reply r;
    r.status = 500;
    r.request_id = "req-bad";
    r.body = R"({"error":{"message":"upstream broke","type":"server_error"}})";
    return r;
  };
  std::vector<std::string> reported;
  RunnerOptions options = fast_retries();
  options.on_step_done = [&](const StepSpec& step, const StepResult& result) {
    reported.push_back(step.name + "=" + std::string(step_status_name(result.status)));
  };
  RunResult r = run_pipeline(plan, gw.executor(), options);
  EXPECT_FALSE(r.ok());
  const StepResult& bad = r.steps[0];
  EXPECT_EQ(bad.status, StepStatus::kFailed);
  EXPECT_EQ(bad.items[0].attempts, 2);  // retries: 1
  EXPECT_THAT(bad.items[0].request_ids, ElementsAre("req-bad", "req-bad"));
  EXPECT_EQ(bad.error, "HTTP 500: upstream broke (after 2 attempts)");
  EXPECT_EQ(r.steps[1].status, StepStatus::kSkipped);
  EXPECT_EQ(r.steps[1].error, "not run: it waits for bad, which failed");
  EXPECT_EQ(r.steps[2].status, StepStatus::kSkipped);
  EXPECT_EQ(r.steps[2].error, "not run: it waits for child, which was skipped");
  EXPECT_EQ(r.steps[3].status, StepStatus::kOk);
  EXPECT_EQ(r.steps[4].status, StepStatus::kOk);
  for (const auto& call : gw.calls()) {
    EXPECT_NE(call.step, "child");
    EXPECT_NE(call.step, "grandchild");
  }
  std::sort(reported.begin(), reported.end());
  EXPECT_THAT(reported, ElementsAre("after_independent=ok", "bad=failed", "child=skipped",
                                    "grandchild=skipped", "independent=ok"));
}

TEST(PipelineRunnerTest, RetryableAnswersAreTriedAgainOthersAreNot) {
  Plan plan = plan_of(R"(defaults: {model: m, retries: 3}
steps:
  - {name: flaky, prompt: x}
  - {name: limited, prompt: x}
  - {name: silent, prompt: x, retries: 1}
  - {name: refused, prompt: x}
)");
  FakeGateway gw;
  gw.answer = [](const StepRequest& req, int attempt) -> std::optional<Reply> {
    Reply r;
    if (req.step == "flaky" && attempt < 3) {
      r.status = 503;
      return r;
    }
    if (req.step == "limited" && attempt == 1) {
      r.status = 429;
      r.retry_after_s = 0.001;
      return r;
    }
    if (req.step == "silent") {
      r.error = "connection refused";
      return r;
    }
    if (req.step == "refused") {
      r.status = 400;
      r.body = R"({"error":{"message":"bad field","type":"invalid_request_error"}})";
      return r;
    }
    return std::nullopt;
  };
  RunResult r = run_pipeline(plan, gw.executor(), fast_retries());
  EXPECT_EQ(r.steps[0].status, StepStatus::kOk);
  EXPECT_EQ(r.steps[0].items[0].attempts, 3);
  EXPECT_EQ(r.steps[1].status, StepStatus::kOk);
  EXPECT_EQ(r.steps[1].items[0].attempts, 2);
  EXPECT_EQ(r.steps[2].status, StepStatus::kFailed);
  EXPECT_EQ(r.steps[2].error, "no answer: connection refused (after 2 attempts)");
  EXPECT_EQ(r.steps[3].status, StepStatus::kFailed);
  EXPECT_EQ(r.steps[3].items[0].attempts, 1);
  EXPECT_EQ(r.steps[3].error, "HTTP 400: bad field");
}

// sluice run's Ctrl-C: what is in flight finishes and is kept; no retry is waited for; nothing
// new is sent; every step not finished is skipped as interrupted.
TEST(PipelineRunnerTest, AStopFinishesWhatIsInFlightAndSkipsTheRest) {
  Plan plan = plan_of(R"(defaults: {model: m, retries: 5}
steps:
  - {name: slow, prompt: x}
  - {name: after, prompt: "{{steps.slow.output}}"}
  - {name: fan, foreach: [1, 2, 3, 4, 5, 6], max_workers: 1, prompt: "{{item}}"}
  - {name: flaky, prompt: z}
)");
  FakeGateway gw;
  gw.delay = {{"slow", 600ms}, {"fan", 100ms}};
  gw.answer = [](const StepRequest& req, int) -> std::optional<Reply> {
    if (req.step != "flaky") return std::nullopt;
    Reply r;
    r.status = 503;
    r.retry_after_s = 60;  // a long wait the stop must cut short
    return r;
  };
  std::atomic<bool> stop{false};
  RunnerOptions options;
  options.stop = &stop;
  std::vector<std::string> reported;
  options.on_step_done = [&](const StepSpec& step, const StepResult&) {
    reported.push_back(step.name);
  };
  std::thread stopper([&] {
    std::this_thread::sleep_for(150ms);
    stop = true;
  });
  auto start = std::chrono::steady_clock::now();
  RunResult r = run_pipeline(plan, gw.executor(), options);
  double took = elapsed_ms(start);
  stopper.join();

  EXPECT_TRUE(r.interrupted);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(took, 590) << "the request in flight was waited for";
  EXPECT_LT(took, 2000) << "the 60 s Retry-After was not";
  const StepResult& slow = r.steps[plan.index_of("slow")];
  EXPECT_EQ(slow.status, StepStatus::kOk) << "it was in flight: its answer counts";
  EXPECT_EQ(slow.output, "slow:x");
  const StepResult& after = r.steps[plan.index_of("after")];
  EXPECT_EQ(after.status, StepStatus::kSkipped);
  EXPECT_EQ(after.error, "not run: the run was interrupted");
  const StepResult& fan = r.steps[plan.index_of("fan")];
  EXPECT_EQ(fan.status, StepStatus::kSkipped);
  // One at a time, 100 ms each: about two had ended when the stop came (more on a slow machine).
  std::size_t fanned = 0;
  while (fanned < fan.items.size() && fan.items[fanned].ok) ++fanned;
  EXPECT_GE(fanned, 1u);
  EXPECT_LT(fanned, 6u);
  EXPECT_EQ(fan.error, "interrupted after " + std::to_string(fanned) + " of 6 requests");
  for (std::size_t i = fanned; i < fan.items.size(); ++i) EXPECT_FALSE(fan.items[i].ok) << i;
  const StepResult& flaky = r.steps[plan.index_of("flaky")];
  EXPECT_EQ(flaky.status, StepStatus::kFailed);
  EXPECT_EQ(flaky.items[0].attempts, 1);
  EXPECT_THAT(flaky.error, HasSubstr("interrupted before it was tried again"));
  int sent_after = 0;
  for (const auto& call : gw.calls()) sent_after += call.step == "after";
  EXPECT_EQ(sent_after, 0);
  EXPECT_EQ(gw.calls().size(), 2 + fanned) << "slow, flaky and the items of fan that ended";
  std::sort(reported.begin(), reported.end());
  EXPECT_THAT(reported, ElementsAre("after", "fan", "flaky", "slow"));
}

TEST(PipelineRunnerTest, AForeachFailsWhenAnItemDoesAndTheOthersStillRun) {
  Plan plan = plan_of(R"(defaults: {model: m, retries: 0}
steps:
  - {name: fan, foreach: [a, b, c], prompt: "{{item}}"}
)");
  FakeGateway gw;
  gw.answer = [](const StepRequest& req, int) -> std::optional<Reply> {
    if (req.item != 2) return std::nullopt;
    Reply r;
    r.status = 200;
    r.body = R"({"choices":[]})";
    return r;
  };
  RunResult r = run_pipeline(plan, gw.executor());
  const StepResult& fan = r.steps[0];
  EXPECT_EQ(fan.status, StepStatus::kFailed);
  EXPECT_EQ(fan.error, "item 2: the answer has no text in choices[0].message.content");
  EXPECT_TRUE(fan.items[0].ok);
  EXPECT_FALSE(fan.items[1].ok);
  EXPECT_TRUE(fan.items[2].ok);
}

TEST(PipelineRunnerTest, RequestsCarryTheStepsTargetTimeoutAndParams) {
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - name: pic
    type: image
    model: painter
    timeout: 7s
    prompt: "a {{inputs.colour}} square"
    params: {size: 256x256}
inputs: {colour: red}
)");
  std::string png = mock::solid_png(4, 4, {255, 0, 0});
  StepRequest seen;
  StepExecutor exec = [&](const StepRequest& req) {
    seen = req;
    Reply r;
    r.status = 200;
    r.cache = "hit";
    r.body = json::serialize(
        json::object{{"data", json::array{json::object{{"b64_json", mock::base64_encode(png)}}}}});
    return r;
  };
  RunnerOptions options;
  options.cost = [](const StepSpec&, std::int64_t, std::int64_t) { return 1.0; };
  RunResult r = run_pipeline(plan, exec, options);
  ASSERT_TRUE(r.ok()) << r.steps[0].error;
  EXPECT_EQ(seen.target, "/v1/images/generations");
  EXPECT_EQ(seen.timeout, 7s);
  EXPECT_EQ(json::parse(seen.body),
            json::parse(R"({"model":"painter","prompt":"a red square","size":"256x256",)"
                        R"("response_format":"b64_json"})"));
  const ItemResult& item = r.steps[0].items[0];
  EXPECT_EQ(item.file, "pic.png");
  EXPECT_EQ(item.output, "pic.png");
  EXPECT_EQ(item.content, png);
  EXPECT_EQ(item.cost_usd, 0) << "a cache hit costs nothing";
}

}  // namespace
}  // namespace sluice::batch
