#include "server/server_stream.hpp"

#include "protocol/tls_context.hpp"

#include <boost/asio/ssl/verify_mode.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <unistd.h>

namespace stompede::server::detail {

namespace ssl = boost::asio::ssl;

namespace {

/// OpenSSL's reason for a failure to use a file ("key values mismatch", "no start line", ...).
std::string openssl_reason(const boost::system::error_code& ec) {
  std::string m = ec.message();
  if (auto paren = m.rfind(" ("); paren != std::string::npos && !m.empty() && m.back() == ')')
    m.erase(paren);
  return m.empty() || m == "asio.ssl error" ? "not a usable PEM file" : m;
}

/// Empty when `path` can be read, else the system's reason ("No such file or directory").
std::string unreadable(const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0)
    return {};
  return std::strerror(errno);
}

} // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file,
                                                      const std::string& client_ca_file,
                                                      std::string& why) {
  if (cert_file.empty() || key_file.empty()) {
    why = "tls_cert_file and tls_key_file go together: set both or neither";
    return nullptr;
  }
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    why = std::string("cannot create a TLS context: ") + e.what();
    return nullptr;
  }
  for (const auto& [what, path] :
       {std::pair{"TLS certificate", &cert_file}, std::pair{"TLS key", &key_file},
        std::pair{"client CA certificates", &client_ca_file}}) {
    if (path->empty())
      continue;
    if (auto e = unreadable(*path); !e.empty()) {
      why = std::string("cannot read ") + what + " '" + *path + "': " + e;
      return nullptr;
    }
  }
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  // Idle sessions give their TLS record buffers back (most sessions are idle most of the time).
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    why = "cannot load TLS certificate '" + cert_file + "': " + openssl_reason(ec);
    return nullptr;
  }
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    why = "cannot load TLS key '" + key_file + "': " + openssl_reason(ec);
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    why = "TLS key '" + key_file + "' does not match the certificate '" + cert_file + "'";
    return nullptr;
  }
  if (!client_ca_file.empty()) {
    ctx->load_verify_file(client_ca_file, ec);
    if (ec) {
      why = "cannot load client CA certificates '" + client_ca_file + "': " + openssl_reason(ec);
      return nullptr;
    }
    // Tell clients which CAs we accept, so one holding several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_file.c_str()))
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    ERR_clear_error();
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  net::warm_certificate_caches(*ctx);
  return ctx;
}

} // namespace stompede::server::detail
