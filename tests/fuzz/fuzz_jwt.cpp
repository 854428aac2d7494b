// The embedded server's JWT verification as a forgery oracle. Every input is verified twice:
// as given (a token the fuzzer made up or mutated from a real one), and re-signed with the key
// (so the claim checks behind the signature are reached too). A token accepted as given must
// be exactly header.payload.signature where signature is the canonical base64url of
// HMAC-SHA256(key, header.payload), computed here with OpenSSL independently of the verifier:
// any other accepted token is a forgery, and the count of forgeries must stay 0. Accepted
// claims must be sane (a positive member id, not expired at the verification time).

#include "fuzz_support.hpp"

#include "server/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <string>

using namespace stompede;

namespace {

const std::string key = "fuzz-jwt-key-0123456789abcdef0123";
// Fixed verification time, so committed seed tokens stay valid: 2026-01-01T00:00:00Z.
const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1767225600}};

std::string hmac(std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

void check_accepted(const server::jwt_claims& c) {
  fuzz::require(c.member_id > 0, "accepted token with member id 0");
  fuzz::require(
      c.expires_at >
          std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(),
      "accepted an expired token");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const server::jwt_codec codec(key);
  static unsigned long forgeries = 0;
  const std::string_view token(reinterpret_cast<const char*>(data), size);

  for (auto kind : {server::token_kind::access, server::token_kind::refresh}) {
    server::jwt_claims claims;
    if (!codec.verify(token, kind, claims, now)) {
      const auto dot = token.rfind('.');
      const bool genuine =
          dot != std::string_view::npos &&
          token.substr(dot + 1) == server::base64url_encode(hmac(token.substr(0, dot)));
      if (!genuine)
        ++forgeries;
      fuzz::require(forgeries == 0, "accepted a token not signed with the key");
      check_accepted(claims);
    }
  }

  // Re-signed: header.payload of the input (everything before its last dot, or all of it).
  const auto dot = token.rfind('.');
  const std::string signing_input{
      token.substr(0, dot == std::string_view::npos ? token.size() : dot)};
  const std::string resigned = signing_input + "." + server::base64url_encode(hmac(signing_input));
  server::jwt_claims claims;
  if (!codec.verify(resigned, server::token_kind::access, claims, now))
    check_accepted(claims);

  // base64url: decode(encode(x)) == x, and a successful decode re-encodes to the same text.
  std::string raw;
  if (server::base64url_decode(token, raw))
    fuzz::require(server::base64url_encode(raw) == token, "base64url decoding is not canonical");
  fuzz::require(server::base64url_decode(server::base64url_encode(token), raw) && raw == token,
                "base64url encode + decode is not the identity");
  return 0;
}
