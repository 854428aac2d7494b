#include "protocol/tls_context.hpp"

#include "protocol/transport_error.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <map>
#include <mutex>

namespace stompede::net {
namespace ssl = boost::asio::ssl;

namespace {

std::shared_ptr<ssl::context> build(const tls_options& opts, std::error_code& ec,
                                    std::string* why) {
  auto set_error = [&](const char* step, const std::string& file) {
    ec = transport_errc::tls_error;
    if (why)
      *why = file.empty() ? std::string(step) : std::string(step) + " '" + file + "'";
    return nullptr;
  };
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception&) {
    return set_error("cannot create a TLS context", {});
  }
  boost::system::error_code bec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   bec);
  // Idle connections give their 2 x ~17 KB record buffers back: with thousands of mostly idle
  // connections this is most of the TLS memory.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  if (opts.verify) {
    if (opts.ca_file.empty())
      ctx->set_default_verify_paths(bec);
    else
      ctx->load_verify_file(opts.ca_file, bec);
    if (bec)
      return set_error("cannot load CA certificates", opts.ca_file);
    ctx->set_verify_mode(ssl::verify_peer, bec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, bec);
  }
  if (!opts.cert_file.empty()) {
    ctx->use_certificate_chain_file(opts.cert_file, bec);
    if (bec)
      return set_error("cannot load client certificate", opts.cert_file);
    ctx->use_private_key_file(opts.key_file.empty() ? opts.cert_file : opts.key_file,
                              ssl::context::pem, bec);
    if (bec)
      return set_error("cannot load client key", opts.key_file);
  }
  warm_certificate_caches(*ctx);
  return ctx;
}

} // namespace

void warm_certificate_caches(ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  // X509_check_purpose with purpose -1 checks nothing; it only fills the extension cache.
  auto warm = [](X509* cert) {
    if (cert)
      X509_check_purpose(cert, -1, 0);
  };
  if (X509_STORE* store = SSL_CTX_get_cert_store(native)) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
      warm(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))); // null for a CRL
  }
  warm(SSL_CTX_get0_certificate(native));
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(native, &chain) == 1 && chain) {
    for (int i = 0; i < sk_X509_num(chain); ++i)
      warm(sk_X509_value(chain, i));
  }
}

std::shared_ptr<ssl::context> shared_tls_context(const tls_options& opts, std::error_code& ec,
                                                 std::string* why) {
  ec.clear();
  // NUL cannot occur in a path, so it separates the key fields unambiguously.
  std::string key;
  key += opts.verify ? '1' : '0';
  key += '\0';
  key += opts.ca_file;
  key += '\0';
  key += opts.cert_file;
  key += '\0';
  key += opts.key_file;

  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<ssl::context>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto ctx = it->second.lock())
      return ctx;
  }
  auto ctx = build(opts, ec, why);
  if (!ctx)
    return nullptr;
  // Drop entries whose context died so the map stays as small as the live settings.
  for (auto it = cache.begin(); it != cache.end();)
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  cache[key] = ctx;
  return ctx;
}

} // namespace stompede::net
