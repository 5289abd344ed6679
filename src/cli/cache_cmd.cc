// `sluice cache warm FILE.jsonl [--url URL] [--concurrency N]`: sends every request of an OpenAI
// batch input file through a running gateway, so its cache holds their answers before real
// traffic asks. The file is read line by line (any size); bad lines are reported with their
// numbers and skipped. Prints what happened to each kind of answer; exits 1 when any line was
// bad or any request failed.
//
// `sluice cache stats [--url URL]` and `sluice cache clear [--url URL] [--namespace NS]` call
// GET and DELETE /admin/cache on the gateway.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "batch/batch_line.h"
#include "cli/commands.h"
#include "core/asio.h"

namespace sluice::cli {

namespace {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct Target {
  std::string host;
  std::string port;
};

std::optional<Target> parse_gateway_url(const std::string& text, std::string& error) {
  auto url = boost::urls::parse_uri(text);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    error = "--url must be an http:// URL such as http://127.0.0.1:8080";
    return std::nullopt;
  }
  return Target{std::string(url->host()), url->has_port() ? std::string(url->port()) : "80"};
}

// One keep-alive connection to the gateway, blocking, with a timeout on every read and write.
class Connection {
 public:
  Connection(const Target& target, int timeout_s) : target_(target), timeout_s_(timeout_s) {}

  // Status and x-sluice-cache of the answer; status 0 with `error` set when the exchange failed.
  struct Answer {
    int status = 0;
    std::string cache;
    std::string error;
    std::string body;
  };

  Answer exchange(bhttp::verb method, const std::string& target, const std::string& body) {
    Answer a;
    for (int attempt = 0; attempt < 2; ++attempt) {
      boost::system::error_code ec;
      if (!socket_ || !socket_->is_open()) {
        if (!connect(ec)) {
          a.error = "cannot connect to the gateway: " + ec.message();
          return a;
        }
      }
      bhttp::request<bhttp::string_body> req(method, target, 11);
      req.set(bhttp::field::host, target_.host);
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
      bhttp::write(*socket_, req, ec);
      bhttp::response<bhttp::string_body> res;
      if (!ec) bhttp::read(*socket_, buffer_, res, ec);
      if (ec) {
        socket_.reset();
        buffer_.clear();
        a.error = ec.message();
        continue;  // a kept-alive connection the gateway closed: once more on a new one
      }
      a.status = static_cast<int>(res.result_int());
      if (auto it = res.find("x-sluice-cache"); it != res.end()) a.cache = std::string(it->value());
      a.body = std::move(res.body());
      a.error.clear();
      if (!res.keep_alive()) socket_.reset();
      return a;
    }
    return a;
  }

 private:
  bool connect(boost::system::error_code& ec) {
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(target_.host, target_.port, ec);
    if (ec) return false;
    socket_.emplace(io_);
    asio::connect(*socket_, endpoints, ec);
    if (ec) {
      socket_.reset();
      return false;
    }
    timeval tv{timeout_s_, 0};
    ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return true;
  }

  Target target_;
  int timeout_s_;
  asio::io_context io_;
  std::optional<tcp::socket> socket_;
  beast::flat_buffer buffer_;
};

struct WarmOptions {
  std::string file;
  std::string url = "http://127.0.0.1:8080";
  int concurrency = 8;
  int timeout_s = 600;
};

int warm(const WarmOptions& opts) {
  std::string error;
  auto target = parse_gateway_url(opts.url, error);
  if (!target) {
    std::cerr << "sluice cache warm: " << error << "\n";
    return 1;
  }
  std::ifstream in(opts.file);
  if (!in) {
    std::cerr << "sluice cache warm: cannot read " << opts.file << "\n";
    return 1;
  }

  struct Item {
    std::size_t line = 0;
    batch::BatchLine request;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;  // bounded, so any file size takes little memory
  bool done_reading = false;
  const std::size_t max_queue = static_cast<std::size_t>(opts.concurrency) * 4;
  std::atomic<std::uint64_t> stored{0}, already{0}, not_cached{0}, failed{0};
  std::mutex print_mu;

  std::vector<std::thread> workers;
  for (int i = 0; i < opts.concurrency; ++i) {
    workers.emplace_back([&] {
      Connection conn(*target, opts.timeout_s);
      for (;;) {
        Item item;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return !queue.empty() || done_reading; });
          if (queue.empty()) return;
          item = std::move(queue.front());
          queue.pop_front();
        }
        cv.notify_all();
        auto a = conn.exchange(bhttp::verb::post, item.request.url, item.request.body);
        if (a.status == 200 && a.cache == "miss") {
          ++stored;
        } else if (a.status == 200 && (a.cache == "hit" || a.cache == "coalesced")) {
          ++already;
        } else if (a.status == 200) {
          ++not_cached;
        } else {
          ++failed;
          std::lock_guard lock(print_mu);
          std::cerr << opts.file << ":" << item.line << ": " << item.request.custom_id << ": "
                    << (a.status
                            ? "status " + std::to_string(a.status) + " " + a.body.substr(0, 300)
                            : a.error)
                    << "\n";
        }
      }
    });
  }

  std::size_t number = 0;
  std::uint64_t bad = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines
    auto parsed = batch::parse_batch_line(line);
    if (!parsed) {
      ++bad;
      std::lock_guard lock(print_mu);
      std::cerr << opts.file << ":" << number << ": " << parsed.error().message << "\n";
      continue;
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return queue.size() < max_queue; });
    queue.push_back(Item{number, std::move(*parsed)});
    lock.unlock();
    cv.notify_all();
  }
  {
    std::lock_guard lock(mu);
    done_reading = true;
  }
  cv.notify_all();
  for (auto& t : workers) t.join();

  std::cout << "stored " << stored << ", already cached " << already << ", not cacheable "
            << not_cached << ", failed " << failed << ", invalid lines " << bad << "\n";
  return failed == 0 && bad == 0 ? 0 : 1;
}

int admin_call(const std::string& url, bhttp::verb method, const std::string& path) {
  std::string error;
  auto target = parse_gateway_url(url, error);
  if (!target) {
    std::cerr << "sluice cache: " << error << "\n";
    return 1;
  }
  Connection conn(*target, 30);
  auto a = conn.exchange(method, path, "");
  if (a.status == 0) {
    std::cerr << "sluice cache: " << a.error << "\n";
    return 1;
  }
  std::cout << a.body << "\n";
  return a.status == 200 ? 0 : 1;
}

}  // namespace

void add_cache(CLI::App& app, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("cache", "Work with a running gateway's response cache");
  cmd->require_subcommand(1);

  auto opts = std::make_shared<WarmOptions>();
  auto* warm_cmd = cmd->add_subcommand(
      "warm", "Send an OpenAI batch input file (JSONL) through the gateway to fill its cache");
  warm_cmd->add_option("file", opts->file, "The JSONL file")->required();
  warm_cmd->add_option("--url", opts->url, "The gateway")->capture_default_str();
  warm_cmd->add_option("--concurrency", opts->concurrency, "Requests in flight at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  warm_cmd->add_option("--timeout", opts->timeout_s, "Seconds to wait for one answer")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  warm_cmd->callback([opts, &run] { run = [opts] { return warm(*opts); }; });

  auto url = std::make_shared<std::string>("http://127.0.0.1:8080");
  auto* stats = cmd->add_subcommand("stats", "Print GET /admin/cache");
  stats->add_option("--url", *url, "The gateway")->capture_default_str();
  stats->callback(
      [url, &run] { run = [url] { return admin_call(*url, bhttp::verb::get, "/admin/cache"); }; });

  auto ns = std::make_shared<std::string>();
  auto* clear = cmd->add_subcommand("clear", "Remove entries (DELETE /admin/cache)");
  clear->add_option("--url", *url, "The gateway")->capture_default_str();
  clear->add_option("--namespace", *ns, "Only this namespace");
  clear->callback([url, ns, &run] {
    run = [url, ns] {
      std::string path = "/admin/cache";
      if (!ns->empty()) path += "?namespace=" + *ns;
      return admin_call(*url, bhttp::verb::delete_, path);
    };
  });
}

}  // namespace sluice::cli
