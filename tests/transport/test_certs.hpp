#pragma once

// A throwaway CA and a server certificate for 127.0.0.1 / localhost, made once per test run
// with the openssl command line into a private temporary directory.

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace test_support {

struct test_certs {
  std::string dir;
  std::string ca_pem;
  std::string server_pem;
  std::string server_key;
};

inline const test_certs& certs() {
  static const test_certs made = [] {
    char tmpl[] = "/tmp/stompede-tls-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (!dir)
      throw std::runtime_error("mkdtemp failed");
    test_certs c{dir, std::string(dir) + "/ca.pem", std::string(dir) + "/server.pem",
                 std::string(dir) + "/server.key"};
    const std::string d = c.dir;
    const std::string script =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=stompede-test-ca && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' "
        "> ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf";
    if (std::system(("(" + script + ") >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("openssl could not make test certificates");
    return c;
  }();
  return made;
}

} // namespace test_support
