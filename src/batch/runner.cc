#include "batch/runner.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "api/json_text.h"
#include "batch/batch_line.h"
#include "batch/pipeline_cost.h"
#include "config/prices.h"

namespace sluice::batch {

namespace {

using Clock = std::chrono::steady_clock;

// A custom_id as 16 bytes: a million of them fit in 16 MB.
struct IdDigest {
  std::uint64_t high = 0, low = 0;
  auto operator<=>(const IdDigest&) const = default;
};

IdDigest digest(std::string_view id) {
  XXH128_hash_t h = XXH3_128bits(id.data(), id.size());
  return {h.high64, h.low64};
}

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == line.npos; }

core::Error io_error(const std::string& path, std::string_view doing) {
  return core::Error(core::Errc::kInternal,
                     path + ": cannot " + std::string(doing) + ": " + std::strerror(errno));
}

// Reads the custom_ids of a results file into `done`. A last line without its newline, or one
// that is not an output line, is what a crash mid-append leaves: the file is cut back to the end
// of the line before it. A bad line anywhere else means the file is not ours: an error.
core::Result<void> scan_results(const std::string& path, std::vector<IdDigest>& done) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return core::ok();
    return io_error(path, "read");
  }
  std::string line;
  std::size_t number = 0;
  std::uint64_t good_end = 0;  // offset just past the last good line
  std::uint64_t offset = 0;
  std::optional<std::size_t> bad_line;
  while (std::getline(in, line)) {
    ++number;
    bool complete = !in.eof();  // getline stopped at a newline
    offset += line.size() + (complete ? 1 : 0);
    if (bad_line) {
      return core::fail(core::Errc::kInvalidRequest,
                        path + ":" + std::to_string(*bad_line) +
                            ": not a batch output line; is this the right output file?");
    }
    boost::system::error_code ec;
    json::value v = complete ? json::parse(line, ec) : json::value();
    const json::string* id = nullptr;
    if (!ec && v.is_object()) {
      if (const json::value* c = v.get_object().if_contains("custom_id"); c && c->is_string()) {
        id = &c->get_string();
      }
    }
    if (id == nullptr) {
      bad_line = number;
      continue;
    }
    done.push_back(digest(*id));
    good_end = offset;
  }
  if (bad_line) {
    in.close();
    if (::truncate(path.c_str(), static_cast<off_t>(good_end)) != 0) {
      return io_error(path, "cut its torn last line");
    }
  }
  return core::ok();
}

core::Result<std::vector<IdDigest>> finished_ids(const RunOptions& options) {
  std::vector<IdDigest> done;
  if (auto r = scan_results(options.output_path, done); !r) return r.error();
  if (!options.error_path.empty()) {
    if (auto r = scan_results(options.error_path, done); !r) return r.error();
  }
  std::sort(done.begin(), done.end());
  return done;
}

// Appends lines to one file from any thread; a thread of its own writes them and makes them
// durable (fdatasync) at least every `every`, so a caller never waits on the disk.
class ResultWriter {
 public:
  static core::Result<std::unique_ptr<ResultWriter>> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return io_error(path, "open for writing");
    return std::unique_ptr<ResultWriter>(new ResultWriter(path, fd));
  }
  ~ResultWriter() { close(); }

  void append(std::string_view line) {
    std::lock_guard lock(mu_);
    pending_.append(line);
    if (pending_.size() >= kFlushBytes) cv_.notify_one();
  }

  // Writes and syncs what is pending and stops; the first write error, if any.
  core::Result<void> close() {
    {
      std::lock_guard lock(mu_);
      if (closing_) return result();
      closing_ = true;
    }
    cv_.notify_one();
    thread_.join();
    ::close(fd_);
    return result();
  }

 private:
  static constexpr std::size_t kFlushBytes = 1 << 20;
  static constexpr std::chrono::milliseconds kEvery{200};

  ResultWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    thread_ = std::thread([this] { loop(); });
  }

  core::Result<void> result() {
    if (error_.empty()) return core::ok();
    return core::fail(core::Errc::kInternal, error_);
  }

  void loop() {
    std::string batch;
    for (;;) {
      bool last;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, kEvery, [&] { return closing_ || pending_.size() >= kFlushBytes; });
        batch.swap(pending_);
        last = closing_;
      }
      if (!batch.empty() && error_.empty()) {
        std::string_view rest = batch;
        while (!rest.empty()) {
          ssize_t n = ::write(fd_, rest.data(), rest.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            error_ = io_error(path_, "write").message;
            break;
          }
          rest.remove_prefix(static_cast<std::size_t>(n));
        }
        if (error_.empty() && ::fdatasync(fd_) != 0) error_ = io_error(path_, "sync").message;
      }
      batch.clear();
      if (last) return;
    }
  }

  std::string path_;
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool closing_ = false;
  std::string error_;  // written by the thread; read after join or under mu_ at close
  std::thread thread_;
};

// "batch_req_" and 24 hex digits, as OpenAI's output lines carry.
std::string output_id(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "batch_req_";
  for (int i = 0; i < 2; ++i) {
    std::uint64_t bits = rng();
    for (int j = 0; j < 12; ++j, bits >>= 4) id += kHex[bits & 15];
  }
  return id;
}

bool retryable(const Reply& r) {
  return r.status == 0 || r.status == 408 || r.status == 409 || r.status == 429 || r.status >= 500;
}

// The concurrency `auto` settles on: grows while answers keep their latency (or throughput
// still rises with it), halves on a 429, eases off when latency balloons without gain.
class AutoConcurrency {
 public:
  explicit AutoConcurrency(int max) : max_(max) {}
  int limit() const { return static_cast<int>(limit_); }

  void rate_limited() {
    limit_ = std::max(1.0, limit_ / 2);
    reset_window();
  }

  void answered(double latency_ms, bool from_cache) {
    if (from_cache) return;  // a cache hit says nothing about the upstream's load
    min_latency_ = std::min(min_latency_, latency_ms);
    ++window_n_;
    window_sum_ += latency_ms;
    if (window_n_ < std::max(8, limit())) return;
    double seconds = std::chrono::duration<double>(Clock::now() - window_start_).count();
    double rate = window_n_ / std::max(seconds, 1e-6);
    double mean = window_sum_ / window_n_;
    if (mean <= 2 * min_latency_ || rate >= 1.05 * last_rate_) {
      limit_ = std::min<double>(max_, limit_ * 1.25 + 1);
    } else if (mean > 4 * min_latency_) {
      limit_ = std::max(1.0, limit_ * 0.9);
    }
    last_rate_ = rate;
    reset_window();
  }

 private:
  void reset_window() {
    window_n_ = 0;
    window_sum_ = 0;
    window_start_ = Clock::now();
  }

  int max_;
  double limit_ = 4;
  double min_latency_ = 1e300;
  double last_rate_ = 0;
  int window_n_ = 0;
  double window_sum_ = 0;
  Clock::time_point window_start_ = Clock::now();
};

struct Item {
  std::size_t line = 0;
  BatchLine request;
};

// One run, on the client's thread.
class Run {
 public:
  Run(GatewayClient& client, const RunOptions& options, std::vector<IdDigest> done,
      ResultWriter& output, ResultWriter* errors,
      const std::function<void(const Progress&)>& on_progress, const std::atomic<bool>* cancel)
      : client_(client),
        options_(options),
        done_(std::move(done)),
        output_(output),
        errors_(errors),
        on_progress_(on_progress),
        cancel_(cancel),
        wake_(client.executor()),
        ticker_(client.executor()),
        auto_(std::max(1, options.max_concurrency)),
        rng_(std::random_device{}()) {}

  asio::awaitable<core::Result<Progress>> run(std::uint64_t total) {
    started_ = Clock::now();
    progress_.total = total;
    progress_.concurrency = limit();
    asio::co_spawn(wake_.get_executor(), tick(), [this](std::exception_ptr) {
      ticking_ = false;
      wake_.cancel();
    });
    auto read = co_await dispatch();
    while (in_flight_ > 0) co_await sleep_until(Clock::time_point::max());
    finished_ = true;
    ticker_.cancel();
    // The ticker's coroutine refers to this object: it must be over before run() returns.
    while (ticking_) co_await sleep_until(Clock::time_point::max());
    report();
    if (!read) co_return read.error();
    co_return progress_;
  }

 private:
  int limit() const { return options_.concurrency > 0 ? options_.concurrency : auto_.limit(); }

  // Waits until `when`, or until an answer comes back (wake_.cancel()). A cancel is a flag set
  // from another thread (a signal handler, the API's cancel), which cannot touch the timer: with
  // one to watch, the wait is cut into kCancelCheck slices.
  asio::awaitable<void> sleep_until(Clock::time_point when) {
    if (cancel_ != nullptr) when = std::min(when, Clock::now() + kCancelCheck);
    wake_.expires_at(when);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // Waits out a retry's backoff; false when the run was cancelled meanwhile.
  asio::awaitable<bool> back_off_until(Clock::time_point until) {
    asio::steady_timer timer(wake_.get_executor());
    while (!cancelled() && Clock::now() < until) {
      timer.expires_at(cancel_ != nullptr ? std::min(until, Clock::now() + kCancelCheck) : until);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return !cancelled();
  }

  static constexpr std::chrono::milliseconds kCancelCheck{100};

  asio::awaitable<core::Result<void>> dispatch() {
    std::ifstream in(options_.input_path, std::ios::binary);
    if (!in) co_return io_error(options_.input_path, "read");
    std::string text;
    std::size_t number = 0;
    Clock::time_point next_start = Clock::now();
    while (std::getline(in, text)) {
      ++number;
      if (blank(text)) continue;
      auto parsed = parse_batch_line(text);
      if (!parsed) continue;  // check() reported it; run() is not called then
      if (std::binary_search(done_.begin(), done_.end(), digest(parsed->custom_id))) continue;
      // Room in flight, the end of a 429's pause, and the rpm/tpm pace, in that order.
      for (;;) {
        if (cancelled()) co_return core::ok();
        auto now = Clock::now();
        if (now < paused_until_) {
          co_await sleep_until(paused_until_);
        } else if (in_flight_ >= limit()) {
          co_await sleep_until(Clock::time_point::max());
        } else if (now < next_start) {
          co_await sleep_until(next_start);
        } else {
          break;
        }
      }
      next_start = std::max(next_start, Clock::now()) + pace(*parsed);
      ++in_flight_;
      asio::co_spawn(wake_.get_executor(), process(Item{number, std::move(*parsed)}),
                     asio::detached);
    }
    if (in.bad()) co_return io_error(options_.input_path, "read");
    co_return core::ok();
  }

  bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }

  // How long after this request the next may start, under the rpm and tpm ceilings.
  Clock::duration pace(const BatchLine& line) const {
    double seconds = 0;
    if (options_.rpm > 0) seconds = std::max(seconds, 60.0 / options_.rpm);
    if (options_.tpm > 0) {
      // What the gateway reserves: the prompt (about four bytes a token) and the completion.
      double tokens = line.body.size() / 4.0 + (line.max_tokens > 0 ? line.max_tokens : 256);
      seconds = std::max(seconds, 60.0 * tokens / options_.tpm);
    }
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  asio::awaitable<void> process(Item item) {
    Reply reply;
    // A line that would be tried again when the run is cancelled is left unwritten: it is not
    // finished, so the next run sends it, rather than record a failure the wait did not earn.
    bool unfinished = false;
    for (int attempt = 0;; ++attempt) {
      reply = co_await client_.exchange("POST", item.request.url, item.request.body);
      if (options_.concurrency <= 0 && reply.status == 429) auto_.rate_limited();
      if (!retryable(reply) || attempt >= options_.retries) break;
      ++progress_.retries;
      double wait_s = reply.retry_after_s >= 0
                          ? reply.retry_after_s
                          : std::min(30.0, 0.25 * (1 << std::min(attempt, 7))) *
                                std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
      auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(wait_s));
      // A 429 is about the whole key or model: nothing new starts before it says.
      if (reply.status == 429) paused_until_ = std::max(paused_until_, until);
      if (!co_await back_off_until(until)) {
        unfinished = true;
        break;
      }
    }
    if (options_.concurrency <= 0 && reply.status >= 200 && reply.status < 300) {
      auto_.answered(reply.total_ms, reply.cache == "hit" || reply.cache == "coalesced");
    }
    if (!unfinished) write(item, reply);
    --in_flight_;
    wake_.cancel();
    co_return;
  }

  // Formats OpenAI's output line for `reply` and counts it.
  void write(const Item& item, const Reply& reply) {
    std::string line;
    line.reserve(reply.body.size() + item.request.custom_id.size() + 160);
    line += R"({"id":")";
    line += output_id(rng_);
    line += R"(","custom_id":)";
    api::append_json_string(line, item.request.custom_id);
    // Parsed only to check it and read its usage: into an arena the next answer reuses.
    const json::value* body = reply.status != 0 ? answers_.parse(reply.body) : nullptr;
    bool ok = false;
    if (body != nullptr && body->is_object()) {
      line += R"(,"response":{"status_code":)";
      api::append_int(line, reply.status);
      line += R"(,"request_id":)";
      api::append_json_string(line, reply.request_id);
      line += R"(,"body":)";
      line += reply.body;
      line += R"(},"error":null})";
      ok = reply.status >= 200 && reply.status < 300;
      if (ok) count_usage(item.request, body->get_object(), reply);
    } else {
      std::string message = reply.status == 0
                                ? reply.error
                                : "the gateway answered " + std::to_string(reply.status) +
                                      " with a body that is not a JSON object";
      line += R"(,"response":null,"error":{"code":"request_failed","message":)";
      api::append_json_string(line, message);
      line += "}}";
    }
    line += '\n';
    (ok || errors_ == nullptr ? output_ : *errors_).append(line);
    ++progress_.done;
    if (!ok) ++progress_.failed;
    if (reply.cache == "hit" || reply.cache == "coalesced") ++progress_.cache_hits;
  }

  void count_usage(const BatchLine& request, const json::object& body, const Reply& reply) {
    const json::value* usage = body.if_contains("usage");
    if (usage == nullptr || !usage->is_object()) return;
    auto count = [&](std::initializer_list<std::string_view> names) -> std::int64_t {
      for (std::string_view name : names) {
        const json::value* n = usage->get_object().if_contains(name);
        if (n != nullptr && n->is_int64()) return n->get_int64();
      }
      return 0;
    };
    std::int64_t prompt = count({"prompt_tokens", "input_tokens"});
    std::int64_t completion = count({"completion_tokens", "output_tokens"});
    progress_.prompt_tokens += prompt;
    progress_.completion_tokens += completion;
    std::string_view answered;
    if (const json::value* m = body.if_contains("model"); m != nullptr && m->is_string()) {
      answered = m->get_string();
    }
    double cost = 0;
    if (options_.cost) {
      cost = options_.cost(request.model, answered, prompt, completion);
    } else if (auto price = config::list_price(answered.empty() ? request.model : answered)) {
      cost = cost_usd(*price, prompt, completion);
    }
    if (reply.cache == "hit" || reply.cache == "coalesced") {
      progress_.saved_usd += cost;
    } else {
      progress_.cost_usd += cost;
    }
  }

  asio::awaitable<void> tick() {
    while (!finished_) {
      ticker_.expires_after(options_.progress_every);
      boost::system::error_code ec;
      co_await ticker_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!finished_) report();
    }
  }

  void report() {
    progress_.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    progress_.concurrency = limit();
    if (on_progress_) on_progress_(progress_);
  }

  GatewayClient& client_;
  const RunOptions& options_;
  std::vector<IdDigest> done_;
  ResultWriter& output_;
  ResultWriter* errors_;
  const std::function<void(const Progress&)>& on_progress_;
  const std::atomic<bool>* cancel_;
  asio::steady_timer wake_;
  asio::steady_timer ticker_;
  AutoConcurrency auto_;
  std::mt19937_64 rng_;
  api::JsonArenaParser answers_;  // write()'s, on the client's thread (write does not suspend)
  int in_flight_ = 0;
  Clock::time_point paused_until_{};
  Clock::time_point started_;
  bool finished_ = false;
  bool ticking_ = true;
  Progress progress_;
};

}  // namespace

core::Result<BatchPlan> Runner::check(const RunOptions& options) {
  auto done = finished_ids(options);
  if (!done) return done.error();
  std::ifstream in(options.input_path, std::ios::binary);
  if (!in) return io_error(options.input_path, "read");
  BatchPlan plan;
  struct Seen {
    IdDigest id;
    std::size_t line;
    bool operator<(const Seen& o) const { return id < o.id || (id == o.id && line < o.line); }
  };
  std::vector<Seen> seen;
  std::string text;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (blank(text)) continue;
    auto parsed = parse_batch_line(text);
    if (!parsed) {
      plan.problems.push_back({number, parsed.error().message});
      continue;
    }
    ++plan.total;
    seen.push_back({digest(parsed->custom_id), number});
  }
  if (in.bad()) return io_error(options.input_path, "read");
  std::sort(seen.begin(), seen.end());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (i > 0 && seen[i].id == seen[i - 1].id) {
      // Named by line: the id itself may be long, and the first line holds it.
      std::size_t first = seen[i - 1].line;
      while (i < seen.size() && seen[i].id == seen[i - 1].id) {
        plan.problems.push_back({seen[i].line, "duplicate custom_id (first used on line " +
                                                   std::to_string(first) + ")"});
        ++i;
      }
      --i;
    } else if (std::binary_search(done->begin(), done->end(), seen[i].id)) {
      ++plan.already_done;
    }
  }
  std::sort(plan.problems.begin(), plan.problems.end(),
            [](const LineProblem& a, const LineProblem& b) { return a.line < b.line; });
  return plan;
}

core::Result<Progress> Runner::run(GatewayClient& client, const RunOptions& options,
                                   const std::function<void(const Progress&)>& on_progress,
                                   const std::atomic<bool>* cancel) {
  auto plan = check(options);
  if (!plan) return plan.error();
  if (!plan->problems.empty()) {
    const LineProblem& p = plan->problems.front();
    return core::fail(core::Errc::kInvalidRequest,
                      options.input_path + ":" + std::to_string(p.line) + ": " + p.message);
  }
  auto done = finished_ids(options);
  if (!done) return done.error();
  auto output = ResultWriter::open(options.output_path);
  if (!output) return output.error();
  std::unique_ptr<ResultWriter> errors;
  if (!options.error_path.empty()) {
    auto opened = ResultWriter::open(options.error_path);
    if (!opened) return opened.error();
    errors = std::move(*opened);
  }
  std::function<void(const Progress&)> report = [&](const Progress& p) {
    Progress shown = p;
    shown.resumed = plan->already_done;
    if (on_progress) on_progress(shown);
  };
  Run run(client, options, std::move(*done), **output, errors.get(), report, cancel);
  auto result =
      asio::co_spawn(client.executor(), run.run(plan->total - plan->already_done), asio::use_future)
          .get();
  auto closed = (*output)->close();
  if (errors) {
    if (auto e = errors->close(); !e && closed) closed = e;
  }
  if (!result) return result.error();
  if (!closed) return closed.error();
  result->total = plan->total;
  result->resumed = plan->already_done;
  return result;
}

}  // namespace sluice::batch
