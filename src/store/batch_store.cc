// BatchStore: the batches table (batch_store.h, schema.cc).
#include "store/batch_store.h"

#include <sqlite3.h>

#include <boost/json.hpp>

#include <array>

#include "core/asio.h"

namespace sluice::store {

namespace {

constexpr std::string_view kColumns =
    "id, owner, endpoint, input_file_id, completion_window, status, output_file_id, "
    "error_file_id, errors, metadata, created_at, in_progress_at, expires_at, finalizing_at, "
    "completed_at, failed_at, expired_at, cancelling_at, cancelled_at, total, completed, failed";

struct StatusName {
  BatchStatus status;
  std::string_view name;
};
constexpr std::array<StatusName, 8> kStatusNames{{{BatchStatus::kValidating, "validating"},
                                                  {BatchStatus::kFailed, "failed"},
                                                  {BatchStatus::kInProgress, "in_progress"},
                                                  {BatchStatus::kFinalizing, "finalizing"},
                                                  {BatchStatus::kCompleted, "completed"},
                                                  {BatchStatus::kExpired, "expired"},
                                                  {BatchStatus::kCancelling, "cancelling"},
                                                  {BatchStatus::kCancelled, "cancelled"}}};

core::Error not_found(std::string_view id, std::string param = "batch_id") {
  return core::Error(core::Errc::kObjectNotFound,
                     "No batch found with id '" + std::string(id) + "'.", std::move(param));
}

json::value time_or_null(std::int64_t t) { return t == 0 ? json::value(nullptr) : json::value(t); }
json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

std::string errors_text(const std::vector<BatchError>& errors) {
  if (errors.empty()) return {};
  json::array data;
  for (const BatchError& e : errors) {
    data.push_back(json::object{{"code", e.code},
                                {"message", e.message},
                                {"param", text_or_null(e.param)},
                                {"line", time_or_null(e.line)}});
  }
  return json::serialize(data);
}

// Only Sluice writes these columns; a value that does not parse (a hand edit) reads as none
// rather than failing every read.
std::vector<BatchError> read_errors(const std::string& text) {
  std::vector<BatchError> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const json::value& item : v.get_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.get_object();
    BatchError e;
    if (auto* c = o.if_contains("code"); c && c->is_string()) e.code = c->get_string();
    if (auto* m = o.if_contains("message"); m && m->is_string()) e.message = m->get_string();
    if (auto* p = o.if_contains("param"); p && p->is_string()) e.param = p->get_string();
    if (auto* l = o.if_contains("line"); l && l->is_int64()) e.line = l->get_int64();
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<json::object> read_metadata(const std::string& text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

BatchRecord read_batch(const Statement& s) {
  BatchRecord b;
  b.id = s.column_text(0);
  b.owner = s.column_text(1);
  b.endpoint = s.column_text(2);
  b.input_file_id = s.column_text(3);
  b.completion_window = s.column_text(4);
  // An unknown status (a hand edit) reads as failed: it is never resumed.
  b.status = parse_batch_status(s.column_text(5)).value_or(BatchStatus::kFailed);
  b.output_file_id = s.column_text(6);
  b.error_file_id = s.column_text(7);
  b.errors = read_errors(s.column_text(8));
  b.metadata = read_metadata(s.column_text(9));
  b.created_at = s.column_int(10);
  b.in_progress_at = s.column_int(11);
  b.expires_at = s.column_int(12);
  b.finalizing_at = s.column_int(13);
  b.completed_at = s.column_int(14);
  b.failed_at = s.column_int(15);
  b.expired_at = s.column_int(16);
  b.cancelling_at = s.column_int(17);
  b.cancelled_at = s.column_int(18);
  b.total = s.column_int(19);
  b.completed = s.column_int(20);
  b.failed = s.column_int(21);
  return b;
}

// The columns a batch's life changes, bound from ?2 on (?1 is the id).
constexpr std::string_view kMutable =
    "status = ?2, output_file_id = ?3, error_file_id = ?4, errors = ?5, in_progress_at = ?6, "
    "finalizing_at = ?7, completed_at = ?8, failed_at = ?9, expired_at = ?10, cancelling_at = "
    "?11, cancelled_at = ?12, total = ?13, completed = ?14, failed = ?15";

void bind_mutable(Statement& s, const BatchRecord& b) {
  s.bind_text(1, b.id)
      .bind_text(2, batch_status_name(b.status))
      .bind_text(3, b.output_file_id)
      .bind_text(4, b.error_file_id)
      .bind_text(5, errors_text(b.errors))
      .bind_int(6, b.in_progress_at)
      .bind_int(7, b.finalizing_at)
      .bind_int(8, b.completed_at)
      .bind_int(9, b.failed_at)
      .bind_int(10, b.expired_at)
      .bind_int(11, b.cancelling_at)
      .bind_int(12, b.cancelled_at)
      .bind_int(13, b.total)
      .bind_int(14, b.completed)
      .bind_int(15, b.failed);
}

constexpr std::string_view kUnfinished =
    "status IN ('validating', 'in_progress', 'finalizing', 'cancelling')";

}  // namespace

std::string_view batch_status_name(BatchStatus status) {
  for (const StatusName& s : kStatusNames) {
    if (s.status == status) return s.name;
  }
  return "failed";
}

std::optional<BatchStatus> parse_batch_status(std::string_view name) {
  for (const StatusName& s : kStatusNames) {
    if (s.name == name) return s.status;
  }
  return std::nullopt;
}

bool is_finished(BatchStatus status) {
  return status == BatchStatus::kCompleted || status == BatchStatus::kFailed ||
         status == BatchStatus::kExpired || status == BatchStatus::kCancelled;
}

json::object batch_json(const BatchRecord& b) {
  json::value errors = nullptr;
  if (!b.errors.empty()) {
    boost::system::error_code ec;
    errors = json::object{{"object", "list"}, {"data", json::parse(errors_text(b.errors), ec)}};
  }
  json::value metadata = nullptr;
  if (b.metadata) metadata = *b.metadata;
  return json::object{
      {"id", b.id},
      {"object", "batch"},
      {"endpoint", b.endpoint},
      {"errors", std::move(errors)},
      {"input_file_id", b.input_file_id},
      {"completion_window", b.completion_window},
      {"status", batch_status_name(b.status)},
      {"output_file_id", text_or_null(b.output_file_id)},
      {"error_file_id", text_or_null(b.error_file_id)},
      {"created_at", b.created_at},
      {"in_progress_at", time_or_null(b.in_progress_at)},
      {"expires_at", time_or_null(b.expires_at)},
      {"finalizing_at", time_or_null(b.finalizing_at)},
      {"completed_at", time_or_null(b.completed_at)},
      {"failed_at", time_or_null(b.failed_at)},
      {"expired_at", time_or_null(b.expired_at)},
      {"cancelling_at", time_or_null(b.cancelling_at)},
      {"cancelled_at", time_or_null(b.cancelled_at)},
      {"request_counts",
       json::object{{"total", b.total}, {"completed", b.completed}, {"failed", b.failed}}},
      {"metadata", std::move(metadata)}};
}

core::Result<std::vector<BatchRecord>> BatchStore::select(std::string_view where,
                                                          std::string_view a, std::string_view b) {
  auto stmt =
      db_.prepare("SELECT " + std::string(kColumns) + " FROM batches " + std::string(where));
  if (!stmt) return stmt.error();
  if (!a.empty()) stmt->bind_text(1, a);
  if (!b.empty()) stmt->bind_text(2, b);
  std::vector<BatchRecord> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read_batch(*stmt));
  }
  return out;
}

core::Result<void> BatchStore::insert(const BatchRecord& b) {
  auto stmt = db_.prepare("INSERT INTO batches (" + std::string(kColumns) +
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                          "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, b.id)
      .bind_text(2, b.owner)
      .bind_text(3, b.endpoint)
      .bind_text(4, b.input_file_id)
      .bind_text(5, b.completion_window)
      .bind_text(6, batch_status_name(b.status))
      .bind_text(7, b.output_file_id)
      .bind_text(8, b.error_file_id)
      .bind_text(9, errors_text(b.errors))
      .bind_text(10, b.metadata ? json::serialize(*b.metadata) : std::string())
      .bind_int(11, b.created_at)
      .bind_int(12, b.in_progress_at)
      .bind_int(13, b.expires_at)
      .bind_int(14, b.finalizing_at)
      .bind_int(15, b.completed_at)
      .bind_int(16, b.failed_at)
      .bind_int(17, b.expired_at)
      .bind_int(18, b.cancelling_at)
      .bind_int(19, b.cancelled_at)
      .bind_int(20, b.total)
      .bind_int(21, b.completed)
      .bind_int(22, b.failed);
  return stmt->run();
}

core::Result<BatchRecord> BatchStore::get(std::string_view owner, std::string_view id) {
  // Bound as (id, owner): an empty owner (auth off) must still be bound, so the id goes first.
  auto stmt =
      db_.prepare("SELECT " + std::string(kColumns) + " FROM batches WHERE id = ?1 AND owner = ?2");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id).bind_text(2, owner);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return not_found(id);
  return read_batch(*stmt);
}

core::Result<BatchRecord> BatchStore::find(std::string_view id) {
  auto found = select("WHERE id = ?1", id);
  if (!found) return found.error();
  if (found->empty()) return not_found(id);
  return std::move(found->front());
}

core::Result<Page<BatchRecord>> BatchStore::list(std::string_view owner, std::string_view after,
                                                 std::size_t limit) {
  auto tx = Transaction::begin(db_, Transaction::Kind::kRead);
  if (!tx) return tx.error();
  std::int64_t before_seq = INT64_MAX;
  if (!after.empty()) {
    auto seq = db_.prepare("SELECT seq FROM batches WHERE id = ?1 AND owner = ?2");
    if (!seq) return seq.error();
    seq->bind_text(1, after).bind_text(2, owner);
    auto row = seq->step();
    if (!row) return row.error();
    if (!*row) return not_found(after, "after");
    before_seq = seq->column_int(0);
  }
  auto stmt = db_.prepare("SELECT " + std::string(kColumns) +
                          " FROM batches WHERE owner = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, owner)
      .bind_int(2, before_seq)
      .bind_int(3, static_cast<std::int64_t>(limit) + 1);
  Page<BatchRecord> page;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    if (page.items.size() == limit) {
      page.has_more = true;
      break;
    }
    page.items.push_back(read_batch(*stmt));
  }
  return page;
}

core::Result<std::vector<BatchRecord>> BatchStore::unfinished() {
  return select("WHERE " + std::string(kUnfinished) + " ORDER BY seq");
}

core::Result<std::optional<BatchRecord>> BatchStore::reading(std::string_view owner,
                                                             std::string_view file_id) {
  auto stmt = db_.prepare("SELECT " + std::string(kColumns) +
                          " FROM batches WHERE input_file_id = ?1 AND owner = ?2 AND " +
                          std::string(kUnfinished) + " ORDER BY seq LIMIT 1");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, file_id).bind_text(2, owner);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<BatchRecord>();
  return std::optional<BatchRecord>(read_batch(*stmt));
}

core::Result<bool> BatchStore::update(const BatchRecord& b,
                                      std::initializer_list<BatchStatus> from) {
  std::string in;
  for (BatchStatus s : from) {
    in += in.empty() ? "'" : ", '";
    in += batch_status_name(s);
    in += "'";
  }
  auto stmt = db_.prepare("UPDATE batches SET " + std::string(kMutable) +
                          " WHERE id = ?1 AND status IN (" + in + ")");
  if (!stmt) return stmt.error();
  bind_mutable(*stmt, b);
  if (auto r = stmt->run(); !r) return r.error();
  return sqlite3_changes(db_.handle()) > 0;
}

core::Result<bool> BatchStore::request_cancel(std::string_view id, std::int64_t now_s) {
  auto stmt = db_.prepare(
      "UPDATE batches SET status = 'cancelling', cancelling_at = ?2 WHERE id = ?1 AND status IN "
      "('validating', 'in_progress')");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id).bind_int(2, now_s);
  if (auto r = stmt->run(); !r) return r.error();
  return sqlite3_changes(db_.handle()) > 0;
}

core::Result<void> BatchStore::set_counts(std::string_view id, std::int64_t total,
                                          std::int64_t completed, std::int64_t failed) {
  auto stmt =
      db_.prepare("UPDATE batches SET total = ?2, completed = ?3, failed = ?4 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id).bind_int(2, total).bind_int(3, completed).bind_int(4, failed);
  return stmt->run();
}

}  // namespace sluice::store
