#include "batch/batch_api.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

#include "api/endpoint.h"
#include "batch/batch_executor.h"
#include "core/clock.h"
#include "core/run_on.h"
#include "gateway/request_context.h"
#include "gateway/respond.h"
#include "gateway/tenants.h"
#include "gateway/worker_state.h"
#include "http/multipart.h"
#include "http/server_session.h"
#include "store/batch_store.h"
#include "store/control_plane.h"
#include "store/files_store.h"

namespace sluice::batch {

namespace bhttp = beast::http;
using core::Errc;
using http::query_param;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::size_t kContentChunk = 1024 * 1024;  // bytes of a file per write of /content
// OpenAI's bounds on metadata.
constexpr std::size_t kMaxMetadataPairs = 16;
constexpr std::size_t kMaxMetadataKey = 64;
constexpr std::size_t kMaxMetadataValue = 512;
constexpr std::int64_t kCompletionWindowS = 24 * 3600;

core::Error invalid(std::string message, std::string param = {}) {
  return core::Error(Errc::kInvalidRequest, std::move(message), std::move(param));
}

// The tenant's key id, or '' with auth off (one owner for everything).
std::string owner_of(const gateway::RequestContext& ctx) {
  return ctx.tenant != nullptr ? ctx.tenant->key.id : std::string();
}

// `limit` from the query: an integer from 1 to `max`, `fallback` when absent.
core::Result<std::size_t> limit_param(std::string_view target, std::size_t fallback,
                                      std::size_t max) {
  auto text = query_param(target, "limit");
  if (!text) return fallback;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size() || n < 1 || n > max) {
    return invalid("Invalid value for limit: '" + *text + "'. It must be an integer from 1 to " +
                       std::to_string(max) + ".",
                   "limit");
  }
  return n;
}

// OpenAI's list: {"object":"list","data":[...],"has_more","first_id","last_id"}.
std::string list_body(json::array data, bool has_more) {
  json::value first = nullptr, last = nullptr;
  if (!data.empty()) {
    first = data.front().as_object().at("id");
    last = data.back().as_object().at("id");
  }
  return json::serialize(json::object{{"object", "list"},
                                      {"data", std::move(data)},
                                      {"has_more", has_more},
                                      {"first_id", std::move(first)},
                                      {"last_id", std::move(last)}});
}

// OpenAI's answer to a delete. (Outside the coroutine: GCC 12 cannot keep the initializer list of
// string literals in a coroutine frame.)
std::string deleted_body(const std::string& id) {
  return json::serialize(json::object{{"id", id}, {"object", "file"}, {"deleted", true}});
}

// What an operation on the store thread gives back: the body, or the error.
struct Outcome {
  std::optional<core::Error> error;
  std::string body;
};

Outcome error_of(core::Error e) { return {std::move(e), {}}; }

core::Result<std::optional<json::object>> parse_metadata(const json::value& v) {
  if (v.is_null()) return std::optional<json::object>();
  if (!v.is_object()) return invalid("metadata must be an object of strings, or null", "metadata");
  const json::object& o = v.get_object();
  if (o.size() > kMaxMetadataPairs) {
    return invalid("metadata may have at most " + std::to_string(kMaxMetadataPairs) + " keys",
                   "metadata");
  }
  for (const auto& member : o) {
    if (member.key().size() > kMaxMetadataKey) {
      return invalid(
          "metadata keys may be at most " + std::to_string(kMaxMetadataKey) + " characters long",
          "metadata");
    }
    if (!member.value().is_string() || member.value().get_string().size() > kMaxMetadataValue) {
      return invalid("metadata." + std::string(member.key()) + " must be a string of at most " +
                         std::to_string(kMaxMetadataValue) + " characters",
                     "metadata");
    }
  }
  return std::optional<json::object>(o);
}

// A file's bytes, read a piece at a time on the I/O thread for GET /v1/files/{id}/content.
class FileReader {
 public:
  explicit FileReader(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), error_(fd_ < 0 ? errno : 0) {}
  ~FileReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  int error() const { return error_; }
  bool eof() const { return eof_; }
  // The next piece (empty at the end); error() says whether reading failed.
  std::string next() {
    std::string out(kContentChunk, '\0');
    std::size_t have = 0;
    while (have < out.size() && error_ == 0) {
      ssize_t n = ::read(fd_, out.data() + have, out.size() - have);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error_ = errno;
      if (n <= 0) {
        eof_ = true;
        break;
      }
      have += static_cast<std::size_t>(n);
    }
    out.resize(have);
    return out;
  }

 private:
  int fd_;
  int error_;
  bool eof_ = false;
};

}  // namespace

BatchApi::BatchApi(Options options, store::ControlPlane& control_plane, BatchExecutor& executor)
    : options_(std::move(options)), control_plane_(control_plane), executor_(executor) {}

BatchApi::~BatchApi() { io_.join(); }

asio::awaitable<void> BatchApi::handle(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  const std::string_view path = session.path();
  const auto method = session.request().method();
  const bool get = method == bhttp::verb::get || method == bhttp::verb::head;
  static constexpr http::Header kAllowList[] = {{"allow", "GET, HEAD, POST"}};
  static constexpr http::Header kAllowFile[] = {{"allow", "GET, HEAD, DELETE"}};
  static constexpr http::Header kAllowGet[] = {{"allow", "GET"}};
  static constexpr http::Header kAllowBatch[] = {{"allow", "GET, HEAD"}};
  static constexpr http::Header kAllowPost[] = {{"allow", "POST"}};

  // /v1/files[/{id}[/content]] and /v1/batches[/{id}[/cancel]]
  const bool files = path.starts_with("/v1/files");
  std::string_view rest = path.substr(files ? 9 : 11);
  std::string_view id, action;
  if (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    std::size_t slash = rest.find('/');
    id = rest.substr(0, slash);
    if (slash != std::string_view::npos) action = rest.substr(slash + 1);
  }
  // (Not a helper lambda: respond_error keeps a reference to its error, which must live until
  // the co_await ends.)
  std::span<const http::Header> allow;

  if (files && id.empty() && rest.empty()) {
    if (method == bhttp::verb::post) co_return co_await create_file(ctx);
    if (get) co_return co_await list_files(ctx);
    allow = kAllowList;
  }
  if (files && !id.empty() && action.empty() && rest.find('/') == std::string_view::npos) {
    if (get) co_return co_await file(ctx, std::string(id), false);
    if (method == bhttp::verb::delete_) co_return co_await delete_file(ctx, std::string(id));
    allow = kAllowFile;
  }
  if (files && !id.empty() && action == "content") {
    if (method == bhttp::verb::get) co_return co_await file(ctx, std::string(id), true);
    allow = kAllowGet;
  }
  if (!files && id.empty() && rest.empty()) {
    if (method == bhttp::verb::post) co_return co_await create_batch(ctx);
    if (get) co_return co_await list_batches(ctx);
    allow = kAllowList;
  }
  if (!files && !id.empty() && action.empty() && rest.find('/') == std::string_view::npos) {
    if (get) co_return co_await get_batch(ctx, std::string(id));
    allow = kAllowBatch;
  }
  if (!files && !id.empty() && action == "cancel") {
    if (method == bhttp::verb::post) co_return co_await cancel_batch(ctx, std::string(id));
    allow = kAllowPost;
  }
  if (!allow.empty())
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), allow);
  co_await gateway::respond_error(
      ctx, core::Error(Errc::kNotFound, "Invalid URL (" +
                                            std::string(session.request().method_string()) + " " +
                                            std::string(path) + ")."));
}

// --- files ---

asio::awaitable<void> BatchApi::create_file(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  auto boundary =
      http::multipart_boundary(session.request().fields().get(bhttp::field::content_type));
  if (!boundary) co_return co_await gateway::respond_error(ctx, boundary.error());
  auto id = store::random_object_id(store::kFilePrefix);
  if (!id) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kInternal, "No randomness available to name the file."));
  }

  // Parsing a large body and writing it out are the I/O thread's, not the worker's.
  struct Upload {
    std::optional<core::Error> error;
    store::FileRecord file;
  };
  auto work = [body = std::string_view(session.request().body()), boundary = std::move(*boundary),
               path = store::file_path(options_.data_dir, *id), id = *id, owner = owner_of(ctx),
               now_s = ctx.worker.services.clock->unix_ms() / 1000]() -> Upload {
    auto parts = http::parse_multipart(body, boundary);
    if (!parts) return {parts.error(), {}};
    // As for the JSON routes: a field this gateway would not honour is refused, not dropped.
    for (const http::MultipartPart& part : *parts) {
      if (part.name.starts_with("expires_after")) {
        return {invalid("expires_after is not supported: files are kept until they are deleted.",
                        "expires_after"),
                {}};
      }
      if (part.name != "purpose" && part.name != "file") {
        return {invalid("Unrecognized request argument supplied: " + part.name, part.name), {}};
      }
    }
    const http::MultipartPart* purpose = http::find_part(*parts, "purpose");
    if (purpose == nullptr)
      return {invalid("Missing required parameter: 'purpose'.", "purpose"), {}};
    if (purpose->body != "batch") {
      return {invalid("Invalid value for purpose: '" + std::string(purpose->body) +
                          "'. This gateway stores files for the Batch API only: use 'batch'.",
                      "purpose"),
              {}};
    }
    const http::MultipartPart* file = http::find_part(*parts, "file");
    if (file == nullptr || !file->filename) {
      return {invalid("Missing required parameter: 'file' (a file part, with a filename).", "file"),
              {}};
    }
    if (auto written = store::write_durably(path, file->body); !written) {
      return {written.error(), {}};
    }
    store::FileRecord record;
    record.id = id;
    record.owner = owner;
    record.filename = file->filename->empty() ? std::string("upload") : *file->filename;
    record.purpose = "batch";
    record.bytes = static_cast<std::int64_t>(file->body.size());
    record.created_at = now_s;
    return {std::nullopt, std::move(record)};
  };
  asio::awaitable<Upload> written = core::run_on<Upload>(io_.get_executor(), std::move(work));
  Upload upload = co_await std::move(written);
  if (upload.error) co_return co_await gateway::respond_error(ctx, *upload.error);

  auto insert = [file = upload.file](store::Database& db) -> std::optional<core::Error> {
    store::FilesStore files(db);
    if (auto r = files.insert(file); !r) return r.error();
    return std::nullopt;
  };
  asio::awaitable<std::optional<core::Error>> inserted =
      control_plane_.run<std::optional<core::Error>>(std::move(insert));
  if (std::optional<core::Error> failed = co_await std::move(inserted)) {
    auto remove = [path = store::file_path(options_.data_dir, upload.file.id)] {
      ::unlink(path.c_str());
    };
    asio::awaitable<void> removed = core::run_on<void>(io_.get_executor(), std::move(remove));
    co_await std::move(removed);
    co_return co_await gateway::respond_error(ctx, *failed);
  }
  co_await session.respond(200, kJson, json::serialize(store::file_json(upload.file)));
}

asio::awaitable<void> BatchApi::list_files(gateway::RequestContext& ctx) {
  std::string_view target = ctx.session.request().target();
  store::FileQuery query;
  query.owner = owner_of(ctx);
  query.purpose = query_param(target, "purpose").value_or("");
  query.after = query_param(target, "after").value_or("");
  auto limit = limit_param(target, 10000, 10000);
  if (!limit) co_return co_await gateway::respond_error(ctx, limit.error());
  query.limit = *limit;
  std::string order = query_param(target, "order").value_or("desc");
  if (order != "asc" && order != "desc") {
    co_return co_await gateway::respond_error(
        ctx, invalid("Invalid value for order: '" + order + "'. Use 'asc' or 'desc'.", "order"));
  }
  query.ascending = order == "asc";
  auto work = [query = std::move(query)](store::Database& db) -> Outcome {
    store::FilesStore files(db);
    auto page = files.list(query);
    if (!page) return error_of(page.error());
    json::array data;
    for (const store::FileRecord& f : page->items) data.push_back(store::file_json(f));
    return {std::nullopt, list_body(std::move(data), page->has_more)};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  co_await ctx.session.respond(200, kJson, outcome.body);
}

asio::awaitable<void> BatchApi::file(gateway::RequestContext& ctx, std::string id, bool content) {
  http::ServerSession& session = ctx.session;
  auto lookup = [owner = owner_of(ctx),
                 id](store::Database& db) -> core::Result<store::FileRecord> {
    store::FilesStore files(db);
    return files.get(owner, id);
  };
  asio::awaitable<core::Result<store::FileRecord>> op =
      control_plane_.run<core::Result<store::FileRecord>>(std::move(lookup));
  core::Result<store::FileRecord> found = co_await std::move(op);
  if (!found) co_return co_await gateway::respond_error(ctx, found.error());
  if (!content) {
    co_await session.respond(200, kJson, json::serialize(store::file_json(*found)));
    co_return;
  }

  // The bytes, a piece at a time: a large output file is never held in memory whole.
  auto reader = std::make_shared<FileReader>(store::file_path(options_.data_dir, found->id));
  auto read = [reader] { return reader->next(); };
  asio::awaitable<std::string> first = core::run_on<std::string>(io_.get_executor(), read);
  std::string piece = co_await std::move(first);
  if (reader->error() != 0) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kInternal, "Cannot read the bytes of " + found->id + ": " +
                                              std::strerror(reader->error())));
  }
  if (!co_await session.begin_stream(200, "application/octet-stream", {}, piece, reader->eof())) {
    co_return;
  }
  while (!reader->eof()) {
    asio::awaitable<std::string> next = core::run_on<std::string>(io_.get_executor(), read);
    piece = co_await std::move(next);
    if (reader->error() != 0) {
      // Headers are out: end without the terminating chunk, so the client sees a cut body.
      session.abort();
      co_return;
    }
    if (!co_await session.write_stream(piece, reader->eof())) co_return;
  }
}

asio::awaitable<void> BatchApi::delete_file(gateway::RequestContext& ctx, std::string id) {
  auto work = [owner = owner_of(ctx), id](store::Database& db) -> Outcome {
    auto tx = store::Transaction::begin(db, store::Transaction::Kind::kWrite);
    if (!tx) return error_of(tx.error());
    store::BatchStore batches(db);
    store::FilesStore files(db);
    if (auto found = files.get(owner, id); !found) return error_of(found.error());
    auto reader = batches.reading(owner, id);
    if (!reader) return error_of(reader.error());
    if (*reader) {
      return error_of(core::Error(Errc::kConflict,
                                  "The file " + id + " is the input of batch " + (*reader)->id +
                                      ", which is " +
                                      std::string(store::batch_status_name((*reader)->status)) +
                                      "; cancel it or let it finish before deleting its input.",
                                  "file_id"));
    }
    auto removed = files.remove(owner, id);
    if (!removed) return error_of(removed.error());
    if (auto r = tx->commit(); !r) return error_of(r.error());
    return {std::nullopt, {}};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  // The row is gone, so nothing serves the bytes any more; a failed unlink leaves only litter.
  auto remove = [path = store::file_path(options_.data_dir, id)] { ::unlink(path.c_str()); };
  asio::awaitable<void> removed = core::run_on<void>(io_.get_executor(), std::move(remove));
  co_await std::move(removed);
  co_await ctx.session.respond(200, kJson, deleted_body(id));
}

// --- batches ---

asio::awaitable<void> BatchApi::create_batch(gateway::RequestContext& ctx) {
  boost::system::error_code ec;
  json::value body = json::parse(ctx.session.request().body(), ec);
  if (ec || !body.is_object()) {
    // The message first, not a ?: inside the co_await: GCC 12 destroys such a temporary twice.
    std::string message = "The request body must be a JSON object.";
    if (ec) message = "We could not parse the JSON body of your request: " + ec.message() + ".";
    co_return co_await gateway::respond_error(ctx, invalid(std::move(message)));
  }
  const json::object& o = body.get_object();
  for (const auto& member : o) {
    std::string_view k = member.key();
    if (k == "output_expires_after") {
      co_return co_await gateway::respond_error(
          ctx, invalid("output_expires_after is not supported: a batch's output files are kept "
                       "until they are deleted.",
                       std::string(k)));
    }
    if (k != "input_file_id" && k != "endpoint" && k != "completion_window" && k != "metadata") {
      co_return co_await gateway::respond_error(
          ctx,
          invalid("Unrecognized request argument supplied: " + std::string(k), std::string(k)));
    }
  }
  auto string_field = [&](std::string_view name) -> core::Result<std::string> {
    const json::value* v = o.if_contains(name);
    if (v == nullptr)
      return invalid("Missing required parameter: '" + std::string(name) + "'.", std::string(name));
    if (!v->is_string()) {
      return invalid("Invalid type for '" + std::string(name) + "': expected a string.",
                     std::string(name));
    }
    return std::string(v->get_string());
  };
  auto input = string_field("input_file_id");
  if (!input) co_return co_await gateway::respond_error(ctx, input.error());
  auto endpoint = string_field("endpoint");
  if (!endpoint) co_return co_await gateway::respond_error(ctx, endpoint.error());
  if (!api::endpoint_for_path(*endpoint)) {
    co_return co_await gateway::respond_error(
        ctx, invalid("Invalid value for endpoint: '" + *endpoint +
                         "'. Supported: /v1/chat/completions, /v1/completions, /v1/embeddings, "
                         "/v1/images/generations.",
                     "endpoint"));
  }
  auto window = string_field("completion_window");
  if (!window) co_return co_await gateway::respond_error(ctx, window.error());
  if (*window != "24h") {
    co_return co_await gateway::respond_error(
        ctx,
        invalid("Invalid value for completion_window: '" + *window + "'. Only '24h' is supported.",
                "completion_window"));
  }
  std::optional<json::object> metadata;
  if (const json::value* m = o.if_contains("metadata")) {
    auto parsed = parse_metadata(*m);
    if (!parsed) co_return co_await gateway::respond_error(ctx, parsed.error());
    metadata = std::move(*parsed);
  }
  auto id = store::random_object_id(store::kBatchPrefix);
  if (!id) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kInternal, "No randomness available to name the batch."));
  }

  store::BatchRecord batch;
  batch.id = std::move(*id);
  batch.owner = owner_of(ctx);
  batch.endpoint = std::move(*endpoint);
  batch.input_file_id = std::move(*input);
  batch.completion_window = std::move(*window);
  batch.metadata = std::move(metadata);
  batch.created_at = ctx.worker.services.clock->unix_ms() / 1000;
  batch.expires_at = batch.created_at + kCompletionWindowS;
  auto work = [batch](store::Database& db) -> Outcome {
    auto tx = store::Transaction::begin(db, store::Transaction::Kind::kWrite);
    if (!tx) return error_of(tx.error());
    store::FilesStore files(db);
    auto input = files.get(batch.owner, batch.input_file_id);
    if (!input) {
      core::Error e = input.error();
      e.param = "input_file_id";
      return error_of(std::move(e));
    }
    if (input->purpose != "batch") {
      return error_of(invalid("The file " + input->id + " has purpose " + input->purpose +
                                  "; a batch reads a file uploaded with purpose batch.",
                              "input_file_id"));
    }
    store::BatchStore batches(db);
    if (auto r = batches.insert(batch); !r) return error_of(r.error());
    if (auto r = tx->commit(); !r) return error_of(r.error());
    return {std::nullopt, json::serialize(store::batch_json(batch))};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  executor_.wake();
  co_await ctx.session.respond(200, kJson, outcome.body);
}

asio::awaitable<void> BatchApi::list_batches(gateway::RequestContext& ctx) {
  std::string_view target = ctx.session.request().target();
  auto limit = limit_param(target, 20, 100);
  if (!limit) co_return co_await gateway::respond_error(ctx, limit.error());
  auto work = [owner = owner_of(ctx), after = query_param(target, "after").value_or(""),
               limit = *limit](store::Database& db) -> Outcome {
    store::BatchStore batches(db);
    auto page = batches.list(owner, after, limit);
    if (!page) return error_of(page.error());
    json::array data;
    for (const store::BatchRecord& b : page->items) data.push_back(store::batch_json(b));
    return {std::nullopt, list_body(std::move(data), page->has_more)};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  co_await ctx.session.respond(200, kJson, outcome.body);
}

asio::awaitable<void> BatchApi::get_batch(gateway::RequestContext& ctx, std::string id) {
  auto work = [owner = owner_of(ctx), id](store::Database& db) -> Outcome {
    store::BatchStore batches(db);
    auto batch = batches.get(owner, id);
    if (!batch) return error_of(batch.error());
    return {std::nullopt, json::serialize(store::batch_json(*batch))};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  co_await ctx.session.respond(200, kJson, outcome.body);
}

asio::awaitable<void> BatchApi::cancel_batch(gateway::RequestContext& ctx, std::string id) {
  auto work = [owner = owner_of(ctx), id, now_s = ctx.worker.services.clock->unix_ms() / 1000](
                  store::Database& db) -> Outcome {
    store::BatchStore batches(db);
    auto batch = batches.get(owner, id);
    if (!batch) return error_of(batch.error());
    if (batch->status == store::BatchStatus::kValidating ||
        batch->status == store::BatchStatus::kInProgress) {
      if (auto r = batches.request_cancel(id, now_s); !r) return error_of(r.error());
      batch = batches.get(owner, id);  // as it is now, whoever moved it
      if (!batch) return error_of(batch.error());
    }
    if (batch->status != store::BatchStatus::kCancelling) {
      return error_of(core::Error(Errc::kConflict,
                                  "Cannot cancel a batch with status '" +
                                      std::string(store::batch_status_name(batch->status)) + "'.",
                                  "batch_id"));
    }
    return {std::nullopt, json::serialize(store::batch_json(*batch))};
  };
  asio::awaitable<Outcome> op = control_plane_.run<Outcome>(std::move(work));
  Outcome outcome = co_await std::move(op);
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  executor_.cancel_requested(id);
  co_await ctx.session.respond(200, kJson, outcome.body);
}

}  // namespace sluice::batch
