#pragma once

// Client-side TLS set-up shared by the WebSocket and the HTTP client: SNI with a host name
// (never an address literal, never a port) and RFC 6125 host-name verification. Includes
// Asio's SSL headers: only for the transport's .cpp files.

#include "protocol/tls_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace stompede::net {

/// Prepares `stream` (a Beast or Asio SSL stream) for the handshake with `url_host`; an error
/// when OpenSSL refuses the SNI name.
template<class SslStream>
boost::system::error_code prepare_client_tls(SslStream& stream, const tls_options& opts,
                                             const std::string& url_host) {
  const std::string& name = opts.server_name.empty() ? url_host : opts.server_name;
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(name, not_an_address);
  if (not_an_address && !SSL_set_tlsext_host_name(stream.native_handle(), name.c_str()))
    return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  if (opts.verify)
    stream.set_verify_callback(boost::asio::ssl::host_name_verification(name));
  return {};
}

} // namespace stompede::net
