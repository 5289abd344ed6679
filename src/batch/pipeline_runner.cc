#include "batch/pipeline_runner.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "batch/step_request.h"

namespace sluice::batch {

namespace {

using Clock = std::chrono::steady_clock;

// How often an idle worker or a retry's wait looks at RunnerOptions::stop.
constexpr std::chrono::milliseconds kStopPoll{100};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool retryable(int status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

// One request to send: an item of a started step.
struct Task {
  std::size_t step = 0;
  std::size_t item = 0;   // 0-based
  std::size_t count = 0;  // the step's requests
  StepRequest request;
};

class Scheduler {
 public:
  Scheduler(const Plan& plan, const StepExecutor& execute, const RunnerOptions& options)
      : plan_(plan), execute_(execute), options_(options), states_(plan.spec.steps.size()) {
    result_.steps.resize(plan.spec.steps.size());
  }

  RunResult run() {
    start_ = Clock::now();
    result_.started_unix_ms = unix_ms();
    std::vector<std::size_t> done;
    {
      std::lock_guard lock(mutex_);
      unresolved_ = plan_.spec.steps.size();
      for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
        states_[i].waiting = plan_.steps[i].deps.size();
      }
      for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
        if (states_[i].waiting == 0) start_step(i, done);
      }
    }
    report(done);
    std::vector<std::thread> threads;
    int workers = std::max(1, plan_.spec.max_workers);
    for (int w = 0; w < workers; ++w) threads.emplace_back([this] { work(); });
    for (std::thread& t : threads) t.join();
    result_.finished_unix_ms = unix_ms();
    result_.duration_ms = ms_between(start_, Clock::now());
    return std::move(result_);
  }

 private:
  struct State {
    std::size_t waiting = 0;  // dependencies not yet done
    bool started = false;
    bool finished = false;
    std::vector<std::string> items;  // a foreach step's
    std::size_t count = 0;           // requests: items, or 1
    std::size_t next = 0;            // the next request to hand out
    std::size_t in_flight = 0;
    std::size_t done = 0;
    std::size_t limit = 0;  // requests of this step in flight at once
    Clock::time_point started_at;
  };

  static std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  bool stopping() const { return options_.stop != nullptr && options_.stop->load(); }

  void work() {
    std::unique_lock lock(mutex_);
    while (unresolved_ > 0) {
      if (stopping() && in_flight_ == 0) {
        std::vector<std::size_t> done;
        interrupt(done);
        lock.unlock();
        ready_.notify_all();
        report(done);
        lock.lock();
        continue;
      }
      std::optional<Task> task = stopping() ? std::nullopt : take_task();
      if (!task) {
        if (options_.stop != nullptr) {
          ready_.wait_for(lock, kStopPoll);
        } else {
          ready_.wait(lock);
        }
        continue;
      }
      lock.unlock();
      ItemResult r = run_item(*task);
      lock.lock();
      std::vector<std::size_t> done;
      finish_item(*task, std::move(r), done);
      lock.unlock();
      // Before reporting, which may write files: the steps this one freed need not wait for it.
      ready_.notify_all();
      report(done);
      lock.lock();
    }
    ready_.notify_all();
  }

  // Under the lock. The started step with items to hand out and the fewest in flight, so that
  // one wide foreach does not keep every other step waiting.
  std::optional<Task> take_task() {
    std::size_t best = states_.size();
    for (std::size_t s : running_) {
      const State& st = states_[s];
      if (st.next >= st.count || st.in_flight >= st.limit) continue;
      if (best == states_.size() || st.in_flight < states_[best].in_flight) best = s;
    }
    if (best == states_.size()) return std::nullopt;
    State& st = states_[best];
    Task t;
    t.step = best;
    t.item = st.next++;
    t.count = st.count;
    ++st.in_flight;
    ++in_flight_;
    if (st.next == st.count) running_.erase(std::find(running_.begin(), running_.end(), best));

    const StepSpec& step = plan_.spec.steps[best];
    TemplateValues values = template_values();
    bool foreach = step.foreach.has_value();
    if (foreach) {
      values.item = &st.items[t.item];
      values.index = t.item + 1;
    }
    std::string system = step.system ? render(*step.system, values) : std::string();
    std::string prompt = render(step.prompt, values);
    t.request.step = step.name;
    t.request.item = foreach ? t.item + 1 : 0;
    t.request.target = step_target(step.type);
    t.request.body = step_body(step, system, prompt);
    t.request.timeout = step.timeout;
    return t;
  }

  // Under the lock: what templates see. Only finished steps' outputs are read.
  TemplateValues template_values() {
    TemplateValues v;
    v.input = [this](std::string_view name) -> const std::string* {
      const Input* input = plan_.spec.find_input(name);
      return input != nullptr ? &input->text : nullptr;
    };
    v.step_output = [this](std::string_view name) -> const std::string* {
      std::size_t i = plan_.index_of(name);
      if (i >= result_.steps.size() || !states_[i].finished) return nullptr;
      return &result_.steps[i].output;
    };
    return v;
  }

  // Under the lock: every dependency of `s` is done and ok.
  void start_step(std::size_t s, std::vector<std::size_t>& done) {
    State& st = states_[s];
    const StepSpec& step = plan_.spec.steps[s];
    st.started = true;
    st.started_at = Clock::now();
    result_.steps[s].started_ms = ms_between(start_, st.started_at);
    if (step.foreach) {
      if (auto known = known_items(plan_.spec, step)) {
        st.items = std::move(*known);
      } else {
        st.items = split_items(render(step.foreach->source, template_values()));
      }
      st.count = st.items.size();
      st.limit = step.max_workers > 0 ? static_cast<std::size_t>(step.max_workers) : st.count;
    } else {
      st.count = 1;
      st.limit = 1;
    }
    result_.steps[s].items.resize(st.count);
    if (st.count == 0) {
      // Nothing to fan out over: done at once, with an empty output.
      finish_step(s, done);
      return;
    }
    running_.push_back(s);
  }

  // Outside the lock: sends one request, with its retries.
  ItemResult run_item(const Task& t) {
    const StepSpec& step = plan_.spec.steps[t.step];
    ItemResult r;
    auto begin = Clock::now();
    for (int attempt = 0;; ++attempt) {
      Reply reply = execute_(t.request);
      ++r.attempts;
      if (!reply.request_id.empty()) r.request_ids.push_back(reply.request_id);
      r.cache = reply.cache;
      if (reply.status >= 200 && reply.status < 300) {
        auto answer = read_answer(step.type, reply.body);
        if (!answer) {
          r.error = answer.error().message;
          break;
        }
        r.ok = true;
        r.file = item_file_name(step, step.foreach ? t.item + 1 : 0, t.count, answer->extension);
        r.prompt_tokens = answer->prompt_tokens;
        r.completion_tokens = answer->completion_tokens;
        bool saved = reply.cache == "hit" || reply.cache == "coalesced";
        if (!saved && options_.cost) {
          r.cost_usd = options_.cost(step, r.prompt_tokens, r.completion_tokens);
        }
        if (step.type == StepType::kImage) {
          r.output = r.file;
          r.content = std::move(answer->image);
        } else {
          r.output = std::move(answer->output);
          r.content = r.output;
        }
        break;
      }
      bool again = retryable(reply.status) && attempt < step.retries;
      bool interrupted = again && !pause(backoff(attempt, reply.retry_after_s));
      if (!again || interrupted) {
        r.error = reply.status == 0 ? "no answer: " + reply.error
                                    : answer_error(reply.status, reply.body);
        if (r.attempts > 1) r.error += " (after " + std::to_string(r.attempts) + " attempts)";
        if (interrupted) r.error += " (interrupted before it was tried again)";
        break;
      }
    }
    r.latency_ms = ms_between(begin, Clock::now());
    return r;
  }

  // Waits `d` before a retry; false, at once, when the run is stopped meanwhile.
  bool pause(std::chrono::milliseconds d) const {
    const Clock::time_point until = Clock::now() + d;
    for (Clock::time_point now = Clock::now(); now < until; now = Clock::now()) {
      if (stopping()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(until - now, kStopPoll));
    }
    return !stopping();
  }

  // Full jitter on an exponential delay; a Retry-After is honoured as it is.
  std::chrono::milliseconds backoff(int attempt, double retry_after_s) {
    using std::chrono::milliseconds;
    if (retry_after_s >= 0) {
      auto wait = milliseconds(static_cast<std::int64_t>(retry_after_s * 1000));
      return std::min(wait, options_.backoff_max);
    }
    std::int64_t ceiling = options_.backoff_base.count() << std::min(attempt, 20);
    ceiling = std::min<std::int64_t>(ceiling, options_.backoff_max.count());
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> pick(ceiling / 2,
                                                     std::max<std::int64_t>(ceiling, 1));
    return milliseconds(pick(rng));
  }

  // Under the lock.
  void finish_item(const Task& t, ItemResult r, std::vector<std::size_t>& done) {
    State& st = states_[t.step];
    result_.steps[t.step].items[t.item] = std::move(r);
    --st.in_flight;
    --in_flight_;
    if (++st.done == st.count) finish_step(t.step, done);
  }

  // Under the lock: every request of `s` has ended.
  void finish_step(std::size_t s, std::vector<std::size_t>& done) {
    State& st = states_[s];
    StepResult& r = result_.steps[s];
    const StepSpec& step = plan_.spec.steps[s];
    r.status = StepStatus::kOk;
    for (std::size_t k = 0; k < r.items.size(); ++k) {
      const ItemResult& item = r.items[k];
      if (!item.ok && r.status == StepStatus::kOk) {
        r.status = StepStatus::kFailed;
        r.error = step.foreach ? "item " + std::to_string(k + 1) + ": " + item.error : item.error;
      }
    }
    if (r.status == StepStatus::kOk) {
      for (const ItemResult& item : r.items) {
        if (!r.output.empty()) r.output += "\n\n";
        r.output += item.output;
      }
    }
    st.finished = true;
    r.finished_ms = ms_between(start_, Clock::now());
    --unresolved_;
    done.push_back(s);
    for (std::size_t next : plan_.steps[s].dependants) {
      if (states_[next].finished || states_[next].started) continue;
      if (r.status != StepStatus::kOk) {
        skip(next, s, done);
      } else if (--states_[next].waiting == 0) {
        start_step(next, done);
      }
    }
  }

  // Under the lock: `s` waits for `cause`, which did not succeed; so do the steps after it.
  void skip(std::size_t s, std::size_t cause, std::vector<std::size_t>& done) {
    State& st = states_[s];
    if (st.finished) return;
    st.finished = true;
    StepResult& r = result_.steps[s];
    r.status = StepStatus::kSkipped;
    const std::string& name = plan_.spec.steps[cause].name;
    r.error = "not run: it waits for " + name + ", which " +
              (result_.steps[cause].status == StepStatus::kFailed ? "failed" : "was skipped");
    --unresolved_;
    done.push_back(s);
    for (std::size_t next : plan_.steps[s].dependants) skip(next, s, done);
  }

  // Under the lock, with nothing in flight after a stop: every step not finished ends, skipped.
  void interrupt(std::vector<std::size_t>& done) {
    result_.interrupted = true;
    for (std::size_t s = 0; s < states_.size(); ++s) {
      State& st = states_[s];
      if (st.finished) continue;
      st.finished = true;
      StepResult& r = result_.steps[s];
      r.status = StepStatus::kSkipped;
      if (st.started) r.finished_ms = ms_between(start_, Clock::now());
      r.error = st.done == 0 ? "not run: the run was interrupted"
                             : "interrupted after " + std::to_string(st.done) + " of " +
                                   std::to_string(st.count) + " requests";
      --unresolved_;
      done.push_back(s);
    }
    running_.clear();
  }

  // Outside the lock: tells on_step_done about the steps that ended, one call at a time. A finished
  // step's result is no longer written by anyone, so reading it here is safe.
  void report(const std::vector<std::size_t>& done) {
    if (!options_.on_step_done || done.empty()) return;
    std::lock_guard lock(report_mutex_);
    for (std::size_t s : done) options_.on_step_done(plan_.spec.steps[s], result_.steps[s]);
  }

  const Plan& plan_;
  const StepExecutor& execute_;
  const RunnerOptions& options_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<State> states_;
  std::vector<std::size_t> running_;  // started steps with requests left to hand out
  std::size_t unresolved_ = 0;        // steps not yet finished
  std::size_t in_flight_ = 0;         // requests being sent, over all steps
  RunResult result_;
  Clock::time_point start_;
  std::mutex report_mutex_;
};

}  // namespace

std::string_view step_status_name(StepStatus status) {
  switch (status) {
    case StepStatus::kOk:
      return "ok";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
  }
  return "skipped";
}

bool RunResult::ok() const {
  return std::all_of(steps.begin(), steps.end(),
                     [](const StepResult& s) { return s.status == StepStatus::kOk; });
}

std::string item_file_name(const StepSpec& step, std::size_t item, std::size_t count,
                           std::string_view extension) {
  if (item == 0) return step.name + "." + std::string(extension);
  std::string number = std::to_string(item);
  std::size_t width = std::max<std::size_t>(3, std::to_string(count).size());
  if (number.size() < width) number.insert(0, width - number.size(), '0');
  return step.name + "/" + number + "." + std::string(extension);
}

RunResult run_pipeline(const Plan& plan, const StepExecutor& execute,
                       const RunnerOptions& options) {
  return Scheduler(plan, execute, options).run();
}

}  // namespace sluice::batch
