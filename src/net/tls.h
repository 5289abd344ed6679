// TLS contexts. Client contexts verify the upstream's certificate against the system store (or a
// configured CA file) and its host name; server contexts are used by `sluice mock --tls-*` so the
// tests can exercise real TLS on loopback.
//
// Thread safety: a context is configured once at startup and then only used to create streams,
// which OpenSSL allows from any thread.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>

#include <memory>
#include <string>

namespace sluice::net {

// Throws std::runtime_error (startup only) when the CA file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(bool verify,
                                                                   const std::string& ca_file);

// Throws std::runtime_error when the certificate or key cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_file,
                                                                   const std::string& key_file);

// Prepares one client connection's SSL object: SNI and the expected peer name (a DNS name or an
// IP address). Returns false when OpenSSL refuses the name.
bool prepare_client_ssl(SSL* ssl, const std::string& host, bool verify);

// Describes why a handshake failed, including the certificate verification result when that is
// the cause ("certificate verify failed: self-signed certificate").
std::string describe_tls_error(SSL* ssl, const boost::system::error_code& ec);

}  // namespace sluice::net
