#pragma once

// A throwaway PKI made at test time with the OpenSSL API, written as PEM files into a private
// temporary directory: a CA, a server certificate for 127.0.0.1 and localhost, an expired one,
// one for another host name, a client certificate, and a second CA nobody trusts (with a server
// certificate of its own). Made once per test process.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace test_support {

struct test_pki {
  std::string dir;
  std::string ca_pem;     ///< the trusted test CA
  std::string server_pem; ///< 127.0.0.1 + localhost, valid now, signed by ca
  std::string server_key;
  std::string expired_pem; ///< same names, expired yesterday, signed by ca
  std::string expired_key;
  std::string wrong_host_pem; ///< only other.example, valid, signed by ca
  std::string wrong_host_key;
  std::string client_pem; ///< a client certificate signed by ca
  std::string client_key;
  std::string rogue_ca_pem;     ///< a CA nobody trusts
  std::string rogue_server_pem; ///< 127.0.0.1 + localhost, signed by the rogue CA
  std::string rogue_server_key;
};

namespace pki_detail {

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

inline void check(bool ok, const char* what) {
  if (!ok)
    throw std::runtime_error(std::string("test PKI: ") + what);
}

inline key_ptr new_key() {
  key_ptr k(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  check(k != nullptr, "EC key generation");
  return k;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `key` named `cn`, valid from now+`from_s` to now+`to_s`, signed by
/// `issuer`/`issuer_key` (itself when null). `san` empty = no subjectAltName.
inline cert_ptr make_cert(EVP_PKEY* key, const std::string& cn, long from_s, long to_s, bool ca,
                          const std::string& san, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  cert_ptr c(X509_new(), &X509_free);
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), to_s);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
  add_ext(c.get(), signer, NID_subject_key_identifier, "hash");
  if (ca) {
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(c.get(), signer, NID_authority_key_identifier, "keyid:always");
    add_ext(c.get(), signer, NID_basic_constraints, "CA:FALSE");
    add_ext(c.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (!san.empty())
    add_ext(c.get(), signer, NID_subject_alt_name, san);
  check(X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "signing");
  return c;
}

inline void write_cert(const std::string& path, X509* c) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "open certificate file");
  const bool ok = PEM_write_X509(f, c) == 1;
  std::fclose(f);
  check(ok, "write certificate");
}

inline void write_key(const std::string& path, EVP_PKEY* k) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "open key file");
  const bool ok = PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  check(ok, "write key");
}

} // namespace pki_detail

inline const test_pki& pki() {
  static const test_pki made = [] {
    using namespace pki_detail;
    char tmpl[] = "/tmp/stompede-pki-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    check(d != nullptr, "mkdtemp");
    const std::string dir = d;
    test_pki p;
    p.dir = dir;
    constexpr long day = 24 * 3600;
    const std::string local_names = "IP:127.0.0.1,DNS:localhost";

    auto ca_key = new_key();
    auto ca =
        make_cert(ca_key.get(), "stompede test CA", -day, 2 * day, true, {}, nullptr, nullptr);
    p.ca_pem = dir + "/ca.pem";
    write_cert(p.ca_pem, ca.get());

    auto leaf = [&](const std::string& name, const std::string& cn, long from, long to,
                    const std::string& san, X509* issuer, EVP_PKEY* issuer_key, std::string& pem,
                    std::string& key_path) {
      auto k = new_key();
      auto c = make_cert(k.get(), cn, from, to, false, san, issuer, issuer_key);
      pem = dir + "/" + name + ".pem";
      key_path = dir + "/" + name + ".key";
      write_cert(pem, c.get());
      write_key(key_path, k.get());
    };
    leaf("server", "localhost", -3600, 2 * day, local_names, ca.get(), ca_key.get(), p.server_pem,
         p.server_key);
    leaf("expired", "localhost", -3 * day, -day, local_names, ca.get(), ca_key.get(), p.expired_pem,
         p.expired_key);
    leaf("wrong-host", "other.example", -3600, 2 * day, "DNS:other.example", ca.get(), ca_key.get(),
         p.wrong_host_pem, p.wrong_host_key);
    leaf("client", "stompede test client", -3600, 2 * day, {}, ca.get(), ca_key.get(), p.client_pem,
         p.client_key);

    auto rogue_key = new_key();
    auto rogue = make_cert(rogue_key.get(), "rogue CA", -day, 2 * day, true, {}, nullptr, nullptr);
    p.rogue_ca_pem = dir + "/rogue-ca.pem";
    write_cert(p.rogue_ca_pem, rogue.get());
    leaf("rogue-server", "localhost", -3600, 2 * day, local_names, rogue.get(), rogue_key.get(),
         p.rogue_server_pem, p.rogue_server_key);
    return p;
  }();
  // The keys are throwaway, but the folder should not outlive the test process.
  static const struct remover {
    std::string dir;
    ~remover() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_at_exit{made.dir};
  return made;
}

} // namespace test_support
