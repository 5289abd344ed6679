#include "http/message.h"

#include <boost/url/parse.hpp>

#include "core/strings.h"

namespace sluice::http {

namespace bhttp = beast::http;

// --- Fields ---

void Fields::add(bhttp::field id, std::string_view name, std::string_view value) {
  Ref r;
  r.id = id;
  r.name_at = static_cast<std::uint32_t>(bytes_.size());
  r.name_size = static_cast<std::uint32_t>(name.size());
  bytes_.append(name);
  r.value_at = static_cast<std::uint32_t>(bytes_.size());
  r.value_size = static_cast<std::uint32_t>(value.size());
  bytes_.append(value);
  refs_.push_back(r);
}

Fields::Field Fields::at(std::size_t i) const {
  const Ref& r = refs_[i];
  std::string_view bytes(bytes_);
  return {r.id, bytes.substr(r.name_at, r.name_size), bytes.substr(r.value_at, r.value_size)};
}

std::string_view Fields::get(std::string_view name) const {
  std::string_view bytes(bytes_);
  for (const Ref& r : refs_) {
    if (r.name_size == name.size() && core::iequals(bytes.substr(r.name_at, r.name_size), name)) {
      return bytes.substr(r.value_at, r.value_size);
    }
  }
  return {};
}

std::string_view Fields::get(bhttp::field id) const {
  std::string_view bytes(bytes_);
  for (const Ref& r : refs_) {
    if (r.id == id) return bytes.substr(r.value_at, r.value_size);
  }
  return {};
}

bool Fields::contains(bhttp::field id) const {
  for (const Ref& r : refs_) {
    if (r.id == id) return true;
  }
  return false;
}

// --- RequestParser ---

RequestParser::RequestParser(Request& request) : request_(request) {
  request_.fields_.clear();
  request_.body_.clear();
}

void RequestParser::on_request_impl(bhttp::verb method, beast::string_view method_str,
                                    beast::string_view target, int version, beast::error_code&) {
  request_.method_ = method;
  request_.method_string_.assign(method_str);
  request_.target_.assign(target);
  request_.version_ = static_cast<unsigned>(version);
  if (limit_fn_ != nullptr) body_limit(limit_fn_(limit_owner_, method, request_.target_));
}

void RequestParser::on_field_impl(bhttp::field name, beast::string_view name_string,
                                  beast::string_view value, beast::error_code&) {
  request_.fields_.add(name, name_string, value);
}

void RequestParser::on_header_impl(beast::error_code&) { request_.keep_alive_ = keep_alive(); }

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      beast::error_code&) {
  // The body limit was checked against the length already.
  if (content_length) request_.body_.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(beast::string_view body, beast::error_code&) {
  request_.body_.append(body);
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                              beast::error_code&) {
  request_.body_.append(body);
  return body.size();
}

// --- ResponseParser ---

ResponseParser::ResponseParser(Response& response) : response_(response) {
  response_.fields_.clear();
  response_.body_.clear();
}

void ResponseParser::on_response_impl(int code, beast::string_view, int, beast::error_code&) {
  response_.status_ = code;
}

void ResponseParser::on_field_impl(bhttp::field name, beast::string_view name_string,
                                   beast::string_view value, beast::error_code&) {
  response_.fields_.add(name, name_string, value);
}

void ResponseParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       beast::error_code&) {
  // Bounded by the caller (read_body's limit), not trusted blindly: cap the reservation.
  constexpr std::uint64_t kMaxReserve = 1 << 20;
  if (content_length) {
    response_.body_.reserve(static_cast<std::size_t>(std::min(*content_length, kMaxReserve)));
  }
}

std::size_t ResponseParser::on_body_impl(beast::string_view body, beast::error_code&) {
  response_.body_.append(body);
  return body.size();
}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                               beast::error_code&) {
  response_.body_.append(body);
  return body.size();
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  auto params = url->params();
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

}  // namespace sluice::http
