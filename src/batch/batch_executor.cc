#include "batch/batch_executor.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "batch/batch_line.h"
#include "batch/gateway_client.h"
#include "batch/runner.h"
#include "store/database.h"
#include "store/files_store.h"

namespace sluice::batch {

namespace {

using store::BatchRecord;
using store::BatchStatus;

// A failed batch lists at most this many of its input's problems (the first ones, by line).
constexpr std::size_t kMaxErrors = 100;
// How long the executor's connection waits for a lock: it is its own thread, so it may wait
// longer than the store thread, and a busy moment should not fail a batch.
constexpr std::chrono::milliseconds kBusyTimeout{5000};

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

// The id of a batch's output ("output") or error ("errors") file: the same every time for the
// same batch, so that a finish cut short by a crash is done again under the same names.
std::string result_file_id(const std::string& batch_id, std::string_view which) {
  std::string input = batch_id + ":" + std::string(which);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return std::string(store::kFilePrefix) + hex(digest, 12);
}

std::string work_dir(const std::string& data_dir, const std::string& batch_id) {
  return (std::filesystem::path(data_dir) / "batches" / batch_id).string();
}

std::string output_path(const std::string& data_dir, const std::string& batch_id) {
  return (std::filesystem::path(work_dir(data_dir, batch_id)) / "output.jsonl").string();
}

std::string errors_path(const std::string& data_dir, const std::string& batch_id) {
  return (std::filesystem::path(work_dir(data_dir, batch_id)) / "errors.jsonl").string();
}

// Complete lines in a results file (the runner's check() has cut a torn last one); 0 when it
// does not exist.
std::int64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::int64_t n = 0;
  std::array<char, 64 * 1024> buf;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    n += std::count(buf.data(), buf.data() + in.gcount(), '\n');
  }
  return n;
}

std::int64_t file_size(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

// A results file that a finish cut short moved to <data_dir>/files but did not register: it is
// still the batch's working file, so it goes back before the runner appends to it.
void restore_working_file(const std::string& working, const std::string& moved) {
  std::error_code ec;
  if (std::filesystem::exists(working, ec) || !std::filesystem::exists(moved, ec)) return;
  if (auto r = store::rename_durably(moved, working); !r) {
    spdlog::warn("batch: cannot move {} back to {}: {}", moved, working, r.error().message);
  }
}

// Each line's own problems, with the field at fault, and lines whose url is not the batch's
// endpoint (OpenAI requires one endpoint per batch), keyed by line number.
std::map<std::size_t, store::BatchError> line_problems(const std::string& input,
                                                       const std::string& endpoint) {
  std::map<std::size_t, store::BatchError> out;
  std::ifstream in(input, std::ios::binary);
  std::string line;
  for (std::size_t number = 1; std::getline(in, line) && out.size() < kMaxErrors; ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = parse_batch_line(line);
    if (!parsed) {
      const core::Error& e = parsed.error();
      bool json = e.message.starts_with("the line is not valid JSON") ||
                  e.message.starts_with("the line must be a JSON object");
      out[number] = {json ? "invalid_json_line" : "invalid_request", e.message, e.param,
                     static_cast<std::int64_t>(number)};
    } else if (parsed->url != endpoint) {
      out[number] = {"mismatched_endpoint",
                     "url " + parsed->url + " is not the batch's endpoint " + endpoint, "url",
                     static_cast<std::int64_t>(number)};
    }
  }
  return out;
}

}  // namespace

std::string BatchExecutor::make_secret() {
  std::array<unsigned char, 32> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("no randomness available for the batch executor's secret");
  }
  return hex(bytes.data(), bytes.size());
}

BatchExecutor::BatchExecutor(Options options, std::string secret, const core::Clock& clock)
    : options_(std::move(options)), secret_(std::move(secret)), clock_(clock) {}

BatchExecutor::~BatchExecutor() {
  stop();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

core::Result<void> BatchExecutor::start(std::string gateway_url) {
  auto db = store::Database::open(store::database_path(options_.data_dir), kBusyTimeout);
  if (!db) return db.error();
  db_ = std::move(*db);
  gateway_url_ = std::move(gateway_url);
  thread_ = std::thread([this] { run(); });
  return core::ok();
}

void BatchExecutor::request_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    halt_ = Halt::kStop;
    runner_cancel_ = true;
  }
  cv_.notify_all();
}

bool BatchExecutor::stop_within(std::chrono::milliseconds limit) {
  request_stop();
  if (!thread_.joinable()) return true;
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [this] { return exited_; });
}

void BatchExecutor::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void BatchExecutor::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void BatchExecutor::cancel_requested(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
    if (id == running_id_ && halt_ == Halt::kNone) {
      halt_ = Halt::kCancel;
      runner_cancel_ = true;
    }
  }
  cv_.notify_all();
}

std::int64_t BatchExecutor::now_s() const { return clock_.unix_ms() / 1000; }

bool BatchExecutor::expired(const BatchRecord& batch) const {
  return batch.expires_at != 0 && now_s() >= batch.expires_at;
}

bool BatchExecutor::take_lock() {
  const std::string path = (std::filesystem::path(options_.data_dir) / "batches.lock").string();
  if (lock_fd_ < 0) lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    spdlog::error("batch jobs: cannot open {}: {}; no batch runs", path, std::strerror(errno));
    return false;
  }
  bool logged = false;
  while (!stopping_) {
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) {
      if (logged) spdlog::info("batch jobs: {} is free now; this process runs the batches", path);
      return true;
    }
    if (!logged) {
      spdlog::warn(
          "batch jobs: another process holds {} and runs this data_dir's batches; this "
          "one waits for it",
          path);
      logged = true;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_.load(); });
  }
  return false;
}

void BatchExecutor::run() {
  struct Exited {
    BatchExecutor* self;
    ~Exited() {
      {
        std::lock_guard lock(self->mu_);
        self->exited_ = true;
      }
      self->cv_.notify_all();
    }
  } exited{this};
  if (!take_lock()) return;
  while (!stopping_) {
    if (step()) continue;
    // Nothing to do, or the database is in trouble: wait for a wake-up or the next look.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [this] { return woken_ || stopping_; });
    woken_ = false;
  }
}

bool BatchExecutor::step() {
  store::BatchStore batches(*db_);
  auto open = batches.unfinished();
  if (!open) {
    spdlog::warn("batch: cannot read the batches to run: {}", open.error().message);
    return false;
  }
  if (open->empty()) return false;
  return process(std::move(open->front()));
}

bool BatchExecutor::process(BatchRecord batch) {
  store::BatchStore batches(*db_);
  // Claimed before it is read again: a cancel that the read misses sees the claim instead
  // (cancel_requested), so none is lost.
  {
    std::lock_guard lock(mu_);
    running_id_ = batch.id;
    halt_ = stopping_ ? Halt::kStop : Halt::kNone;
    runner_cancel_ = stopping_.load();
  }
  struct Unclaim {
    BatchExecutor* self;
    ~Unclaim() {
      std::lock_guard lock(self->mu_);
      self->running_id_.clear();
    }
  } unclaim{this};

  // Each step moves the batch on (or finds someone else did); the next turn reads it again and
  // takes the next step, until it is finished.
  while (!stopping_) {
    auto fresh = batches.find(batch.id);
    if (!fresh) {
      spdlog::warn("batch {}: cannot read it: {}", batch.id, fresh.error().message);
      return false;
    }
    batch = std::move(*fresh);
    if (store::is_finished(batch.status)) return true;
    bool ok = true;
    if (expired(batch) &&
        (batch.status == BatchStatus::kValidating || batch.status == BatchStatus::kInProgress)) {
      ok = finish(batch, BatchStatus::kExpired, batch.status);
    } else if (batch.status == BatchStatus::kValidating) {
      ok = validate(batch);
    } else if (batch.status == BatchStatus::kInProgress) {
      ok = execute(batch);
    } else if (batch.status == BatchStatus::kFinalizing) {
      ok = finish(batch, BatchStatus::kCompleted, BatchStatus::kFinalizing);
    } else if (batch.status == BatchStatus::kCancelling) {
      ok = finish(batch, BatchStatus::kCancelled, BatchStatus::kCancelling);
    }
    if (!ok) return false;
  }
  return true;
}

bool BatchExecutor::validate(BatchRecord& batch) {
  RunOptions options;
  options.input_path = store::file_path(options_.data_dir, batch.input_file_id);
  options.output_path = output_path(options_.data_dir, batch.id);
  options.error_path = errors_path(options_.data_dir, batch.id);
  auto plan = Runner::check(options);
  if (!plan) return fail(batch, "file_unreadable", plan.error().message);

  std::map<std::size_t, store::BatchError> problems =
      line_problems(options.input_path, batch.endpoint);
  for (const LineProblem& p : plan->problems) {
    problems.emplace(p.line, store::BatchError{"invalid_request", p.message, "",
                                               static_cast<std::int64_t>(p.line)});
  }
  store::BatchStore batches(*db_);
  if (!problems.empty()) {
    batch.errors.clear();
    for (auto& [line, e] : problems) {
      if (batch.errors.size() == kMaxErrors) break;
      batch.errors.push_back(std::move(e));
    }
    batch.status = BatchStatus::kFailed;
    batch.failed_at = now_s();
    auto moved = batches.update(batch, {BatchStatus::kValidating});
    if (!moved) {
      spdlog::warn("batch {}: cannot fail it: {}", batch.id, moved.error().message);
      return false;
    }
    if (*moved) {
      spdlog::info("batch {}: failed validation ({} problem(s), the first on line {})", batch.id,
                   problems.size(), batch.errors.front().line);
    }
    return true;
  }
  if (plan->total == 0) return fail(batch, "empty_file", "The input file has no requests.");

  batch.status = BatchStatus::kInProgress;
  batch.in_progress_at = now_s();
  batch.total = static_cast<std::int64_t>(plan->total);
  auto moved = batches.update(batch, {BatchStatus::kValidating});
  if (!moved) {
    spdlog::warn("batch {}: cannot start it: {}", batch.id, moved.error().message);
    return false;
  }
  if (*moved) spdlog::info("batch {}: in progress, {} request(s)", batch.id, batch.total);
  return true;
}

bool BatchExecutor::fail(BatchRecord& batch, std::string code, std::string message) {
  spdlog::warn("batch {}: failed: {}", batch.id, message);
  BatchStatus from = batch.status;
  batch.errors = {store::BatchError{std::move(code), std::move(message), "", 0}};
  batch.status = BatchStatus::kFailed;
  batch.failed_at = now_s();
  store::BatchStore batches(*db_);
  auto moved = batches.update(batch, {from});
  if (!moved) {
    spdlog::warn("batch {}: cannot fail it: {}", batch.id, moved.error().message);
    return false;
  }
  return true;
}

bool BatchExecutor::execute(BatchRecord& batch) {
  const std::string out = output_path(options_.data_dir, batch.id);
  const std::string err = errors_path(options_.data_dir, batch.id);
  std::error_code ec;
  std::filesystem::create_directories(work_dir(options_.data_dir, batch.id), ec);
  if (ec) {
    return fail(batch, "internal_error",
                "Cannot create " + work_dir(options_.data_dir, batch.id) + ": " + ec.message());
  }
  restore_working_file(out,
                       store::file_path(options_.data_dir, result_file_id(batch.id, "output")));
  restore_working_file(err,
                       store::file_path(options_.data_dir, result_file_id(batch.id, "errors")));

  RunOptions options;
  options.input_path = store::file_path(options_.data_dir, batch.input_file_id);
  options.output_path = out;
  options.error_path = err;
  options.concurrency = options_.concurrency;
  options.max_concurrency = options_.concurrency;
  options.retries = options_.retries;
  // Cuts a torn last line (kill -9) and finds what an earlier run finished.
  auto plan = Runner::check(options);
  if (!plan) return fail(batch, "file_unreadable", plan.error().message);
  const std::int64_t done_before = count_lines(out);
  const std::int64_t failed_before = count_lines(err);
  batch.total = static_cast<std::int64_t>(plan->total);
  if (plan->already_done > 0) {
    spdlog::info("batch {}: resuming, {} of {} request(s) already done", batch.id,
                 plan->already_done, plan->total);
  }

  GatewayClient::Options client_options;
  client_options.url = gateway_url_;
  if (!batch.owner.empty()) {
    client_options.headers = {{"x-sluice-batch-secret", secret_},
                              {"x-sluice-batch-owner", batch.owner}};
  }
  auto client = GatewayClient::open(std::move(client_options));
  if (!client) return fail(batch, "internal_error", client.error().message);
  // Progress is written at most once per poll_interval, and at the end.
  auto last_write = std::chrono::steady_clock::now();
  std::optional<Progress> pending;

  // The runner blocks its thread; this one keeps writing progress and watching for a cancel.
  std::mutex progress_mu;
  std::optional<Progress> latest;
  bool done = false;
  core::Result<Progress> result = Progress{};
  std::thread runner([&] {
    auto on_progress = [&](const Progress& p) {
      {
        std::lock_guard lock(progress_mu);
        latest = p;
      }
    };
    core::Result<Progress> r = Runner::run(**client, options, on_progress, &runner_cancel_);
    {
      std::lock_guard lock(progress_mu);
      result = std::move(r);
      done = true;
    }
    wake();
  });

  store::BatchStore batches(*db_);
  for (;;) {
    {
      // Not woken by a stop: the runner's lines in flight finish first, and its end wakes this.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.poll_interval, [this] { return woken_; });
      woken_ = false;
    }
    std::optional<Progress> progress;
    bool finished = false;
    {
      std::lock_guard lock(progress_mu);
      progress = std::exchange(latest, std::nullopt);
      finished = done;
    }
    if (finished) break;
    if (progress) pending = std::move(progress);
    if (pending && std::chrono::steady_clock::now() - last_write >= options_.poll_interval) {
      write_progress(batch, *pending, done_before, failed_before);
      pending.reset();
      last_write = std::chrono::steady_clock::now();
    }
    // Another process, or a cancel this thread missed, or the window passing: the database and
    // the clock say what to do as well as the API does.
    if (halt_ == Halt::kNone) {
      auto now = batches.find(batch.id);
      if (now && now->status == BatchStatus::kCancelling) cancel_requested(batch.id);
      if (expired(batch)) {
        std::lock_guard lock(mu_);
        if (halt_ == Halt::kNone) {
          halt_ = Halt::kExpire;
          runner_cancel_ = true;
        }
      }
    }
    finish_waiting_cancellations();
  }
  runner.join();
  client->reset();

  if (!result) {
    return fail(batch, "internal_error",
                "The batch's results could not be written: " + result.error().message);
  }
  write_progress(batch, *result, done_before, failed_before);
  switch (halt_.load()) {
    case Halt::kStop:
      spdlog::info("batch {}: stopped with the server at {} of {}; it resumes at the next start",
                   batch.id, batch.completed + batch.failed, batch.total);
      return true;
    case Halt::kCancel:  // the next turn reads it: cancelling, finished as cancelled
    case Halt::kExpire:  // ... past its window, finished as expired
      return true;
    case Halt::kNone:
      break;
  }
  batch.status = BatchStatus::kFinalizing;
  batch.finalizing_at = now_s();
  auto moved = batches.update(batch, {BatchStatus::kInProgress});
  if (!moved) {
    spdlog::warn("batch {}: cannot finalize it: {}", batch.id, moved.error().message);
    return false;
  }
  return true;  // the next turn reads it: finalizing, finished as completed (or moved by a cancel)
}

void BatchExecutor::write_progress(BatchRecord& batch, const Progress& p, std::int64_t done_before,
                                   std::int64_t failed_before) {
  batch.failed = failed_before + static_cast<std::int64_t>(p.failed);
  batch.completed = done_before + static_cast<std::int64_t>(p.done - p.failed);
  if (p.total != 0) batch.total = static_cast<std::int64_t>(p.total);
  store::BatchStore batches(*db_);
  if (auto r = batches.set_counts(batch.id, batch.total, batch.completed, batch.failed); !r) {
    spdlog::warn("batch {}: cannot write its progress: {}", batch.id, r.error().message);
  }
}

void BatchExecutor::finish_waiting_cancellations() {
  store::BatchStore batches(*db_);
  auto open = batches.unfinished();
  if (!open) return;
  for (BatchRecord& b : *open) {
    if (b.status != BatchStatus::kCancelling) continue;
    {
      std::lock_guard lock(mu_);
      if (b.id == running_id_) continue;
    }
    finish(b, BatchStatus::kCancelled, BatchStatus::kCancelling);
  }
}

bool BatchExecutor::finish(BatchRecord& batch, BatchStatus to, BatchStatus from) {
  struct Result {
    std::string working, moved, id;
    std::int64_t lines = 0, bytes = 0;
  };
  Result results[] = {{output_path(options_.data_dir, batch.id), "", "", 0, 0},
                      {errors_path(options_.data_dir, batch.id), "", "", 0, 0}};
  const char* which[] = {"output", "errors"};
  std::vector<store::FileRecord> files;
  for (int i = 0; i < 2; ++i) {
    Result& r = results[i];
    r.id = result_file_id(batch.id, which[i]);
    r.moved = store::file_path(options_.data_dir, r.id);
    std::error_code ec;
    if (std::filesystem::exists(r.working, ec)) {
      r.lines = count_lines(r.working);
      if (r.lines == 0) continue;
      if (auto moved = store::rename_durably(r.working, r.moved); !moved) {
        spdlog::warn("batch {}: cannot move its results into place: {}", batch.id,
                     moved.error().message);
        return false;
      }
    } else {
      r.lines = count_lines(r.moved);  // moved by a finish that did not get to register it
      if (r.lines == 0) continue;
    }
    r.bytes = file_size(r.moved);
    store::FileRecord f;
    f.id = r.id;
    f.owner = batch.owner;
    f.filename = batch.id + (i == 0 ? "_output.jsonl" : "_errors.jsonl");
    f.purpose = "batch_output";
    f.bytes = r.bytes;
    f.created_at = now_s();
    files.push_back(std::move(f));
  }

  BatchRecord next = batch;
  next.status = to;
  next.output_file_id = results[0].lines > 0 ? results[0].id : "";
  next.error_file_id = results[1].lines > 0 ? results[1].id : "";
  next.completed = results[0].lines;
  next.failed = results[1].lines;
  const std::int64_t now = now_s();
  switch (to) {
    case BatchStatus::kCompleted:
      next.completed_at = now;
      break;
    case BatchStatus::kCancelled:
      next.cancelled_at = now;
      break;
    case BatchStatus::kExpired:
      next.expired_at = now;
      break;
    default:
      break;
  }
  // The files and the final status in one transaction: a file is registered exactly when its
  // batch says it is done.
  auto tx = store::Transaction::begin(*db_, store::Transaction::Kind::kWrite);
  if (!tx) {
    spdlog::warn("batch {}: cannot finish it: {}", batch.id, tx.error().message);
    return false;
  }
  store::FilesStore file_store(*db_);
  for (const store::FileRecord& f : files) {
    if (auto r = file_store.insert(f, /*if_missing=*/true); !r) {
      spdlog::warn("batch {}: cannot register {}: {}", batch.id, f.id, r.error().message);
      return false;
    }
  }
  store::BatchStore batches(*db_);
  auto moved = batches.update(next, {from});
  if (!moved) {
    spdlog::warn("batch {}: cannot finish it: {}", batch.id, moved.error().message);
    return false;
  }
  if (!*moved) return true;  // someone moved it first (rolled back): the caller reads it again
  if (auto r = tx->commit(); !r) {
    spdlog::warn("batch {}: cannot finish it: {}", batch.id, r.error().message);
    return false;
  }
  batch = std::move(next);
  std::error_code ec;
  std::filesystem::remove_all(work_dir(options_.data_dir, batch.id), ec);
  spdlog::info("batch {}: {} ({} completed, {} failed)", batch.id, batch_status_name(to),
               batch.completed, batch.failed);
  return true;
}

}  // namespace sluice::batch
