// HTTP messages as the gateway keeps them: the start line, the header fields in one flat,
// reusable byte store, and the body. Parsing is Beast's (RequestParser and ResponseParser derive
// from beast::http::basic_parser, which tokenizes and validates); only the storage is ours.
// Beast's own message type allocates a node per field and keeps them in an ordered set, which
// cost more than the parse itself on the request path; this store reuses its memory from one
// message to the next, so a kept-alive connection parses without allocating.
//
// Thread safety: a message and its parser belong to one connection.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.h"

namespace sluice::http {

// Header fields in arrival order, their bytes in one string.
class Fields {
 public:
  struct Field {
    beast::http::field id;  // beast::http::field::unknown for names Beast does not know
    std::string_view name;
    std::string_view value;
  };

  class Iterator {
   public:
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    Iterator(const Fields* f, std::size_t i) : fields_(f), index_(i) {}
    Field operator*() const { return fields_->at(index_); }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return index_ == o.index_; }

   private:
    const Fields* fields_;
    std::size_t index_;
  };

  void clear() {
    bytes_.clear();
    refs_.clear();
  }
  void add(beast::http::field id, std::string_view name, std::string_view value);

  // The first field with this name (ASCII case-insensitive), or an empty view.
  std::string_view get(std::string_view name) const;
  std::string_view get(beast::http::field id) const;
  std::string_view operator[](std::string_view name) const { return get(name); }
  bool contains(beast::http::field id) const;

  std::size_t size() const { return refs_.size(); }
  Field at(std::size_t i) const;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, refs_.size()); }

 private:
  struct Ref {
    beast::http::field id;
    std::uint32_t name_at;
    std::uint32_t name_size;
    std::uint32_t value_at;
    std::uint32_t value_size;
  };
  std::string bytes_;
  std::vector<Ref> refs_;
};

class Request {
 public:
  beast::http::verb method() const { return method_; }
  std::string_view method_string() const { return method_string_; }
  std::string_view target() const { return target_; }
  unsigned version() const { return version_; }
  bool keep_alive() const { return keep_alive_; }
  const Fields& fields() const { return fields_; }
  std::string_view operator[](std::string_view name) const { return fields_.get(name); }
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

 private:
  friend class RequestParser;
  beast::http::verb method_ = beast::http::verb::unknown;
  std::string method_string_;
  std::string target_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  Fields fields_;
  std::string body_;
};

// Parses one request into a Request it was given (cleared first, memory kept).
class RequestParser final : public beast::http::basic_parser<true> {
 public:
  // Decides a request's body limit from its method and target, before its headers are read (so
  // a Content-Length over it is refused at once, as with the parser's own limit).
  using BodyLimitFn = std::uint64_t (*)(void* owner, beast::http::verb method,
                                        std::string_view target);

  explicit RequestParser(Request& request);
  void limit_body_with(BodyLimitFn fn, void* owner) {
    limit_fn_ = fn;
    limit_owner_ = owner;
  }

 private:
  void on_request_impl(beast::http::verb method, beast::string_view method_str,
                       beast::string_view target, int version, beast::error_code& ec) override;
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(beast::http::field name, beast::string_view name_string,
                     beast::string_view value, beast::error_code& ec) override;
  void on_header_impl(beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code& ec) override;
  std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code& ec) override;
  void on_finish_impl(beast::error_code&) override {}

  Request& request_;
  BodyLimitFn limit_fn_ = nullptr;
  void* limit_owner_ = nullptr;
};

class Response {
 public:
  int status() const { return status_; }
  const Fields& fields() const { return fields_; }
  std::string_view operator[](std::string_view name) const { return fields_.get(name); }
  std::string& body() { return body_; }

 private:
  friend class ResponseParser;
  int status_ = 0;
  Fields fields_;
  std::string body_;
};

// Parses one response into a Response it was given (cleared first, memory kept).
class ResponseParser final : public beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(Response& response);

 private:
  void on_request_impl(beast::http::verb, beast::string_view, beast::string_view, int,
                       beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view reason, int version,
                        beast::error_code& ec) override;
  void on_field_impl(beast::http::field name, beast::string_view name_string,
                     beast::string_view value, beast::error_code& ec) override;
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code& ec) override;
  std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code& ec) override;
  void on_finish_impl(beast::error_code&) override {}

  Response& response_;
};

// The value of query parameter `name` in a request target ("/path?a=1&b=2"), percent-decoded;
// nullopt when it is absent or the target does not parse.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace sluice::http
