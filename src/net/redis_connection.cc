#include "net/redis_connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <deque>

namespace sluice::net {

namespace {

using Handler = asio::any_completion_handler<void(RedisReply)>;

RedisReply outcome(RedisReply::Type type) {
  RedisReply r;
  r.type = type;
  return r;
}

RedisReply copy_reply(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = RedisReply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i)
        out.elements.push_back(copy_reply(*r.element[i]));
      break;
    default:
      out.type = RedisReply::Type::kError;
      out.str = "unexpected reply type";
      break;
  }
  return out;
}

// Completes an awaited command from the event loop, never from inside hiredis: the coroutine
// that resumes may issue commands or finish, and hiredis must not be re-entered or outlived.
void complete(const asio::any_io_executor& executor, Handler handler, RedisReply reply) {
  asio::post(executor, [h = std::move(handler), r = std::move(reply)]() mutable {
    std::move(h)(std::move(r));
  });
}

std::size_t command_bytes(std::span<const std::string_view> args) {
  std::size_t n = 16;
  for (auto a : args) n += a.size() + 16;  // RESP framing per argument
  return n;
}

}  // namespace

// ---- RedisEndpoint ----

core::Result<RedisEndpoint> RedisEndpoint::parse(std::string_view text) {
  auto bad = [](std::string why) {
    return core::fail(core::Errc::kInvalidRequest, std::move(why));
  };
  auto url = boost::urls::parse_uri(text);
  if (!url || url->scheme() != "redis" || !url->has_authority() || url->host().empty()) {
    return bad("expected a URL such as redis://127.0.0.1:6379/0");
  }
  RedisEndpoint e;
  e.host = url->host_address();
  if (url->has_port()) {
    e.port = url->port_number();
    if (e.port == 0) return bad("invalid port");
  }
  if (url->has_userinfo()) {
    e.user = url->user();
    if (url->has_password()) e.password = url->password();
  }
  std::string_view path = url->encoded_path();
  if (!path.empty() && path != "/") {
    std::string_view digits = path.substr(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), e.db);
    if (ec != std::errc() || end != digits.data() + digits.size() || e.db < 0) {
      return bad("the path must be a database number, such as /0");
    }
  }
  return e;
}

std::string RedisEndpoint::describe() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

// ---- RedisHealth ----

void RedisHealth::up() {
  int n = connected_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < connections()) return;
  bool again = announced_.exchange(true);
  if (degraded_.exchange(false) || !again) {
    spdlog::info("{}: connected to {}{}", component_, where_, again ? " again" : "");
  }
}

void RedisHealth::down(bool was_up, std::string_view reason) {
  if (was_up) connected_.fetch_sub(1, std::memory_order_relaxed);
  if (!degraded_.exchange(true)) {
    spdlog::warn("{}: {} {}: {}; {}", component_,
                 was_up ? "lost the connection to" : "cannot connect to", where_, reason,
                 while_down_);
  }
}

// ---- Pending commands and the Link ----

struct RedisConnection::Pending {
  enum class Kind : std::uint8_t { kIgnored, kAwaited, kHandshake, kHandshakeLast };
  Kind kind = Kind::kIgnored;
  Clock::time_point sent{};
  Clock::time_point deadline = Clock::time_point::max();  // kAwaited
  std::size_t bytes = 0;
  Handler handler;                                 // kAwaited, until completed
  std::atomic<std::uint64_t>* failures = nullptr;  // kIgnored
};

// One hiredis context and its socket. Owned by shared_ptr: the connection holds the current one,
// and every handler queued on the loop holds the Link it belongs to, so a handler that runs after
// the context is gone finds `ac == nullptr` and returns without touching anything else.
struct RedisConnection::Link : std::enable_shared_from_this<Link> {
  Link(RedisConnection* o, asio::any_io_executor ex, redisAsyncContext* c)
      : owner(o), executor(std::move(ex)), ac(c) {}
  ~Link() { assert(ac == nullptr); }

  // Hooks the context to the loop; false when its socket cannot be watched.
  bool attach() {
    boost::system::error_code ec;
    fd.emplace(executor);
    fd->assign(ac->c.fd, ec);
    if (ec) {
      fd.reset();
      return false;
    }
    int one = 1;
    ::setsockopt(ac->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    redisEnableKeepAlive(&ac->c);
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = [](void* p) { static_cast<Link*>(p)->add_read(); };
    ac->ev.delRead = [](void* p) { static_cast<Link*>(p)->want_read = false; };
    ac->ev.addWrite = [](void* p) { static_cast<Link*>(p)->add_write(); };
    ac->ev.delWrite = [](void* p) { static_cast<Link*>(p)->want_write = false; };
    ac->ev.cleanup = [](void* p) { static_cast<Link*>(p)->cleanup(); };
    // Connect and disconnect callbacks only record why; the connection acts after hiredis has
    // returned (hiredis 0.14 calls them outside its in-callback guard, so freeing there is unsafe).
    redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
      if (status != REDIS_OK) static_cast<Link*>(c->data)->note_failure(c->errstr);
    });
    redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int status) {
      if (status != REDIS_OK) static_cast<Link*>(c->data)->note_failure(c->errstr);
    });
    return true;
  }

  void note_failure(const char* why) {
    if (failure.empty()) failure = why != nullptr && *why != '\0' ? why : "connection closed";
  }

  bool command(std::span<const std::string_view> args, Pending& pending) {
    if (ac == nullptr) return false;
    constexpr std::size_t kInline = 8;
    const char* argv_inline[kInline];
    std::size_t len_inline[kInline];
    std::vector<const char*> argv_heap;
    std::vector<std::size_t> len_heap;
    const char** argv = argv_inline;
    std::size_t* lens = len_inline;
    if (args.size() > kInline) {
      argv_heap.resize(args.size());
      len_heap.resize(args.size());
      argv = argv_heap.data();
      lens = len_heap.data();
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      lens[i] = args[i].size();
    }
    // Binary-safe: every argument goes with its length (values are compressed bytes).
    if (redisAsyncCommandArgv(ac, &Link::on_reply, this, static_cast<int>(args.size()), argv,
                              lens) != REDIS_OK) {
      return false;
    }
    pending_bytes += pending.bytes;
    queue.push_back(std::move(pending));
    return true;
  }

  static void on_reply(redisAsyncContext*, void* reply, void* privdata) {
    static_cast<Link*>(privdata)->take_reply(static_cast<const redisReply*>(reply));
  }

  // hiredis calls back once per command, in the order sent; a null reply means the context is
  // being freed.
  void take_reply(const redisReply* r) {
    if (queue.empty()) return;  // cannot happen: one entry per command hiredis accepted
    Pending p = std::move(queue.front());
    queue.pop_front();
    pending_bytes -= p.bytes;
    switch (p.kind) {
      case Pending::Kind::kAwaited:
        // A command that timed out has no handler left: its late reply is dropped here.
        if (p.handler) {
          complete(executor, std::move(p.handler),
                   r != nullptr ? copy_reply(*r) : outcome(RedisReply::Type::kLost));
        }
        break;
      case Pending::Kind::kIgnored:
        if ((r == nullptr || r->type == REDIS_REPLY_ERROR) && p.failures != nullptr) {
          p.failures->fetch_add(1, std::memory_order_relaxed);
        }
        break;
      case Pending::Kind::kHandshake:
      case Pending::Kind::kHandshakeLast:
        if (r == nullptr) break;
        if (r->type == REDIS_REPLY_ERROR) {
          if (drop_reason.empty()) drop_reason = std::string(r->str, r->len);
        } else if (p.kind == Pending::Kind::kHandshakeLast && drop_reason.empty()) {
          became_ready = true;
        }
        break;
    }
  }

  void add_read() {
    want_read = true;
    if (read_waiting || !fd) return;
    read_waiting = true;
    fd->async_wait(asio::posix::descriptor_base::wait_read,
                   [self = shared_from_this()](boost::system::error_code ec) {
                     self->read_waiting = false;
                     if (self->ac == nullptr || ec == asio::error::operation_aborted) return;
                     if (!self->want_read) return;
                     self->in_hiredis = true;
                     redisAsyncHandleRead(self->ac);
                     self->leave();
                   });
  }

  // On a connected socket a write is tried from a posted handler: every command issued in this
  // turn of the loop goes out in one send, with no readiness wait. Only while connecting, or
  // when the kernel did not take everything, is writability awaited.
  void add_write() {
    want_write = true;
    if (ac == nullptr) return;
    if ((ac->c.flags & REDIS_CONNECTED) != 0 && !writing) {
      if (flush_posted) return;
      flush_posted = true;
      asio::post(executor, [self = shared_from_this()] {
        self->flush_posted = false;
        self->on_writable();
      });
      return;
    }
    if (write_waiting || !fd) return;
    write_waiting = true;
    fd->async_wait(asio::posix::descriptor_base::wait_write,
                   [self = shared_from_this()](boost::system::error_code ec) {
                     self->write_waiting = false;
                     if (ec == asio::error::operation_aborted) return;
                     self->on_writable();
                   });
  }

  void on_writable() {
    if (ac == nullptr || !want_write) return;
    in_hiredis = true;
    writing = true;
    redisAsyncHandleWrite(ac);
    writing = false;
    leave();
  }

  // hiredis is about to close the socket: stop watching it first. Outstanding waits complete
  // with operation_aborted and find ac == nullptr.
  void cleanup() {
    want_read = want_write = false;
    if (fd) {
      fd->release();
      fd.reset();
    }
    ac = nullptr;
  }

  // Frees the context now (not from inside hiredis): pending commands complete with kLost.
  void free() {
    owner = nullptr;
    if (ac != nullptr) redisAsyncFree(ac);  // calls cleanup(), which clears ac
    ac = nullptr;
  }

  // After hiredis returned to us: act on what its callbacks recorded.
  void leave() {
    in_hiredis = false;
    RedisConnection* o = owner;
    if (o == nullptr) return;
    if (ac == nullptr) {
      owner = nullptr;
      o->on_link_closed(this, failure.empty() ? "connection closed" : failure);
    } else if (!drop_reason.empty()) {
      o->drop_link(drop_reason);
    } else if (became_ready) {
      became_ready = false;
      o->on_ready();
    }
  }

  RedisConnection* owner;  // valid while ac != nullptr
  asio::any_io_executor executor;
  redisAsyncContext* ac;
  std::optional<asio::posix::stream_descriptor> fd;
  std::deque<Pending> queue;  // commands sent, in order, awaiting their replies
  std::size_t pending_bytes = 0;
  bool want_read = false;
  bool want_write = false;
  bool read_waiting = false;
  bool write_waiting = false;
  bool flush_posted = false;
  bool writing = false;
  bool in_hiredis = false;
  bool became_ready = false;
  std::string failure;      // why hiredis closed the connection
  std::string drop_reason;  // why we want to close it (a handshake error)
};

// ---- RedisConnection ----

RedisConnection::RedisConnection(asio::any_io_executor executor, Options options,
                                 std::shared_ptr<RedisHealth> health)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      health_(std::move(health)),
      backoff_(options_.backoff_min),
      rng_(std::random_device{}()) {}

RedisConnection::~RedisConnection() { close(); }

void RedisConnection::start() {
  if (state_ != State::kIdle) return;
  retry_timer_.emplace(executor_);
  timeout_timer_.emplace(executor_);
  resolver_.emplace(executor_);
  connect();
}

void RedisConnection::close() {
  if (state_ == State::kClosed) return;
  bool was_up = state_ == State::kReady;
  state_ = State::kClosed;
  connected_.store(false, std::memory_order_relaxed);
  if (was_up) health_->closed();
  if (auto link = std::move(link_)) link->free();
  // Destroying them cancels their waits; the handlers hold this object and see kClosed.
  retry_timer_.reset();
  timeout_timer_.reset();
  resolver_.reset();
}

void RedisConnection::connect() {
  state_ = State::kConnecting;
  // One deadline for the whole attempt: resolve, connect, AUTH, SELECT, PING.
  arm_retry(options_.connect_timeout);
  const RedisEndpoint& ep = options_.endpoint;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ep.host, ec);
  if (!ec) {
    open(address.to_string());
    return;
  }
  // A host name is resolved on Asio's resolver thread: hiredis would call getaddrinfo on the
  // worker.
  resolver_->async_resolve(
      ep.host, std::to_string(ep.port),
      [self = shared_from_this(), gen = retry_gen_](boost::system::error_code rec,
                                                    asio::ip::tcp::resolver::results_type found) {
        if (self->state_ != State::kConnecting || gen != self->retry_gen_ || self->link_) return;
        if (rec || found.empty()) {
          self->fail("cannot resolve " + self->options_.endpoint.host + ": " +
                     (rec ? rec.message() : std::string("no address")));
          return;
        }
        auto best = found.begin();
        for (auto it = found.begin(); it != found.end(); ++it) {
          if (it->endpoint().address().is_v4()) {
            best = it;
            break;
          }
        }
        self->open(best->endpoint().address().to_string());
      });
}

void RedisConnection::open(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), options_.endpoint.port);
  if (ac == nullptr) {
    fail("out of memory");
    return;
  }
  if (ac->err != 0) {
    std::string reason = ac->errstr;
    redisAsyncFree(ac);
    fail(reason);
    return;
  }
  auto link = std::make_shared<Link>(this, executor_, ac);
  if (!link->attach()) {
    link->free();
    fail("cannot watch the socket");
    return;
  }
  link_ = link;
  // The handshake, pipelined behind the TCP connect; ready when PING answers.
  const RedisEndpoint& ep = options_.endpoint;
  Pending p;
  p.kind = Pending::Kind::kHandshake;
  p.sent = Clock::now();
  std::string db = std::to_string(ep.db);
  std::string_view auth_user[] = {"AUTH", ep.user, ep.password};
  std::string_view auth[] = {"AUTH", ep.password};
  std::string_view select[] = {"SELECT", db};
  std::string_view ping[] = {"PING"};
  bool ok = true;
  if (!ep.password.empty()) {
    ok = ep.user.empty() ? link->command(auth, p) : link->command(auth_user, p);
  }
  if (ok && ep.db != 0) ok = link->command(select, p);
  p.kind = Pending::Kind::kHandshakeLast;
  if (ok) ok = link->command(ping, p);
  if (!ok) drop_link("cannot send the handshake");
}

void RedisConnection::on_ready() {
  state_ = State::kReady;
  ++retry_gen_;
  retry_timer_->cancel();
  backoff_ = options_.backoff_min;
  if (ever_ready_) counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
  ever_ready_ = true;
  connected_.store(true, std::memory_order_relaxed);
  health_->up();
  spdlog::debug("{}: connection to {} ready", health_->component(), options_.endpoint.describe());
}

void RedisConnection::drop_link(std::string reason) {
  if (link_ && link_->in_hiredis) {
    // Not from inside hiredis: Link::leave() comes back here once it has returned.
    if (link_->drop_reason.empty()) link_->drop_reason = std::move(reason);
    return;
  }
  if (auto link = std::move(link_)) link->free();
  fail(std::move(reason));
}

void RedisConnection::on_link_closed(Link* link, std::string reason) {
  if (link != link_.get()) return;
  link_.reset();
  fail(std::move(reason));
}

void RedisConnection::fail(std::string reason) {
  if (state_ == State::kClosed) return;
  const bool was_up = state_ == State::kReady;
  connected_.store(false, std::memory_order_relaxed);
  if (!was_up) counters_.connect_errors.fetch_add(1, std::memory_order_relaxed);
  health_->down(was_up, reason);
  if (resolver_) resolver_->cancel();
  state_ = State::kWaiting;
  // Full delay doubles per failed attempt; each wait is drawn from its upper half, so workers
  // (and gateways) that lost Redis together do not all come back in the same millisecond.
  auto delay = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  std::uniform_int_distribution<long> half(delay.count() / 2, delay.count());
  spdlog::debug("{}: {}: {}; retrying", health_->component(), options_.endpoint.describe(), reason);
  arm_retry(std::chrono::milliseconds(half(rng_)));
}

void RedisConnection::arm_retry(std::chrono::milliseconds delay) {
  const std::uint64_t gen = ++retry_gen_;
  retry_timer_->expires_after(delay);
  retry_timer_->async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (ec || gen != self->retry_gen_) return;
    if (self->state_ == State::kConnecting) {
      self->drop_link("no answer within " + std::to_string(self->options_.connect_timeout.count()) +
                      " ms");
    } else if (self->state_ == State::kWaiting) {
      self->connect();
    }
  });
}

void RedisConnection::arm_timeout(Clock::time_point at) {
  if (timeout_armed_ && timeout_at_ <= at) return;
  timeout_armed_ = true;
  timeout_at_ = at;
  const std::uint64_t gen = ++timeout_gen_;
  timeout_timer_->expires_at(at);
  timeout_timer_->async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (ec || gen != self->timeout_gen_ || self->state_ == State::kClosed) return;
    self->on_timeout();
  });
}

// Completes the awaited commands whose time is up with kTimeout; their entries stay queued, so
// the replies that may still come are matched to them and dropped.
void RedisConnection::on_timeout() {
  timeout_armed_ = false;
  if (!link_) return;
  const auto now = Clock::now();
  auto& queue = link_->queue;
  if (!queue.empty() && now - queue.front().sent > options_.stall_limit) {
    drop_link("no answer for " + std::to_string(options_.stall_limit.count()) + " ms");
    return;
  }
  auto next = Clock::time_point::max();
  for (auto& p : queue) {
    if (!p.handler) continue;
    if (p.deadline <= now) {
      complete(executor_, std::move(p.handler), outcome(RedisReply::Type::kTimeout));
    } else {
      next = std::min(next, p.deadline);
    }
  }
  if (next != Clock::time_point::max()) arm_timeout(next);
}

bool RedisConnection::refuse(std::size_t bytes, std::chrono::milliseconds wait) {
  if (state_ != State::kReady || !link_ || link_->ac == nullptr) return true;
  const auto& queue = link_->queue;
  if (queue.size() >= options_.max_in_flight ||
      link_->pending_bytes + bytes > options_.max_in_flight_bytes) {
    return true;
  }
  if (!queue.empty()) {
    auto age = Clock::now() - queue.front().sent;
    if (age > options_.stall_limit) {
      drop_link("no answer for " + std::to_string(options_.stall_limit.count()) + " ms");
      return true;
    }
    // Replies come in order: this one could only come after that one, which is already late.
    if (age > wait) return true;
  }
  return false;
}

bool RedisConnection::send(std::span<const std::string_view> args,
                           std::atomic<std::uint64_t>* failures) {
  const std::size_t bytes = command_bytes(args);
  if (refuse(bytes, options_.stall_limit)) return false;
  Pending p;
  p.kind = Pending::Kind::kIgnored;
  p.sent = Clock::now();
  p.bytes = bytes;
  p.failures = failures;
  return link_->command(args, p);
}

asio::awaitable<RedisReply> RedisConnection::call(std::span<const std::string_view> args,
                                                  std::chrono::milliseconds timeout) {
  const std::size_t bytes = command_bytes(args);
  if (refuse(bytes, timeout)) co_return outcome(RedisReply::Type::kNotSent);
  auto self = shared_from_this();
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(RedisReply)>(
      [this, args, bytes, timeout](Handler handler) {
        Pending p;
        p.kind = Pending::Kind::kAwaited;
        p.sent = Clock::now();
        p.deadline = p.sent + timeout;
        p.bytes = bytes;
        // Not `p.handler = std::move(handler)`: Boost 1.81's move assignment of
        // any_completion_handler wraps the handler in itself, recursing without end.
        p.handler.swap(handler);
        const auto deadline = p.deadline;
        if (!link_ || !link_->command(args, p)) {
          complete(executor_, std::move(p.handler), outcome(RedisReply::Type::kNotSent));
          return;
        }
        arm_timeout(deadline);
      },
      asio::use_awaitable);
}

}  // namespace sluice::net
