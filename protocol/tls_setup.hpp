#pragma once

// Client-side TLS set-up shared by the WebSocket and the HTTP client: SNI with a host name
// (never an address literal, never a port), RFC 6125 host-name verification, and the reason
// of a failed handshake. Includes Asio's SSL headers: only for the transport's .cpp files.

#include "protocol/tls_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string>

namespace stompede::net {

/// Prepares `stream` (a Beast or Asio SSL stream) for the handshake with `url_host`; an error
/// when OpenSSL refuses the SNI name. The host check is OpenSSL's own (RFC 6125 via
/// X509_check_host / X509_check_ip), so a mismatch is recorded as a verification error with its
/// own reason ("hostname mismatch", "IP address mismatch").
template<class SslStream>
boost::system::error_code prepare_client_tls(SslStream& stream, const tls_options& opts,
                                             const std::string& url_host) {
  const std::string& name = opts.server_name.empty() ? url_host : opts.server_name;
  SSL* ssl = stream.native_handle();
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(name, not_an_address);
  if (not_an_address && !SSL_set_tlsext_host_name(ssl, name.c_str()))
    return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  if (opts.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int ok = not_an_address ? SSL_set1_host(ssl, name.c_str())
                                  : X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    if (ok != 1)
      return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  }
  return {};
}

/// Why a TLS handshake on `stream` failed with `ec`, in OpenSSL's words: the certificate
/// verification error when verification refused the peer ("certificate has expired", "unable to
/// get local issuer certificate", "hostname mismatch", ...), otherwise the handshake's own
/// reason ("wrong version number", "tlsv13 alert certificate required", ...).
template<class SslStream>
std::string tls_failure_reason(SslStream& stream, const boost::system::error_code& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long result = SSL_get_verify_result(stream.native_handle());
    if (result != X509_V_OK)
      return X509_verify_cert_error_string(result);
  }
  std::string m = ec.message();
  // Asio appends the OpenSSL library name: "(SSL routines)" says nothing to a reader.
  if (auto paren = m.rfind(" ("); paren != std::string::npos && m.back() == ')')
    m.erase(paren);
  return m;
}

} // namespace stompede::net
