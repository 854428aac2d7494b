#pragma once

// TLS client settings and the shared OpenSSL context built from them. One context serves every
// connection with the same settings: a context holds the loaded CA store (hundreds of KB for the
// system store), so building one per connection would cost gigabytes at 10k connections.

#include <memory>
#include <string>
#include <system_error>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace stompede::net {

/// TLS settings of a client.
struct tls_options {
  /// Verify the server certificate chain and host name. Turning this off is loud (the caller
  /// warns); it is never the default.
  bool verify = true;
  /// PEM file of trusted CAs; empty = the system store.
  std::string ca_file;
  /// PEM client certificate and key for mutual TLS; empty = none.
  std::string cert_file;
  std::string key_file;
  /// Name sent as SNI and checked against the certificate; empty = the URL's host.
  std::string server_name;
};

/// The client context for `opts` (TLS 1.2+, verify mode, CA store, client certificate),
/// shared by everyone asking with the same settings while any holder keeps it alive.
/// `server_name` is per connection and not part of the context. On failure returns null with
/// `ec` = transport_errc::tls_error and `why` naming the file or step that failed.
/// Thread-safe.
std::shared_ptr<boost::asio::ssl::context>
shared_tls_context(const tls_options& opts, std::error_code& ec, std::string* why = nullptr);

/// Computes, once and on the calling thread, what OpenSSL otherwise computes lazily on the first
/// handshake that looks at each certificate of `ctx` (its trusted CAs, its own certificate and
/// chain): their decoded extensions, key identifiers among them. OpenSSL 3.0 fills that cache
/// without excluding readers, so two first handshakes on two IO threads race on a shared CA
/// certificate (one rewrites the key identifier the other is comparing). Call it after the
/// context's files are loaded and before it is shared.
void warm_certificate_caches(boost::asio::ssl::context& ctx);

} // namespace stompede::net
