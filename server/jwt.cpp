#include "server/jwt.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace stompede::server {

namespace {

class jwt_category_impl : public std::error_category {
public:
  const char* name() const noexcept override {
    return "jwt";
  }
  std::string message(int e) const override {
    switch (static_cast<jwt_errc>(e)) {
    case jwt_errc::ok:
      return "ok";
    case jwt_errc::malformed:
      return "malformed token";
    case jwt_errc::bad_base64:
      return "token is not base64url";
    case jwt_errc::bad_algorithm:
      return "token algorithm is not HS256";
    case jwt_errc::bad_signature:
      return "token signature mismatch";
    case jwt_errc::expired:
      return "token expired";
    case jwt_errc::not_yet_valid:
      return "token not yet valid";
    case jwt_errc::wrong_type:
      return "wrong token type";
    case jwt_errc::bad_subject:
      return "token subject is not a member id";
    case jwt_errc::bad_header:
      return "token header is not a plain JWT header";
    }
    return "unknown jwt error";
  }
};

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

std::int64_t to_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Decodes one part into a JSON object; nullopt-like through the return code.
std::error_code decode_json_part(std::string_view part, nlohmann::json& out) {
  std::string raw;
  if (!base64url_decode(part, raw))
    return jwt_errc::bad_base64;
  out = nlohmann::json::parse(raw, nullptr, false);
  if (out.is_discarded() || !out.is_object())
    return jwt_errc::malformed;
  return {};
}

} // namespace

const std::error_category& jwt_category() noexcept {
  static const jwt_category_impl c;
  return c;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = p[i] << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 == 1)
    return false;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = decode_char(c);
    if (v < 0)
      return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero, or two encodings would decode to the same bytes.
  return (acc & ((1u << bits) - 1)) == 0;
}

jwt_codec::jwt_codec(std::string secret) : key_(std::move(secret)) {
  if (key_.empty()) {
    std::array<unsigned char, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
      throw std::runtime_error("CSPRNG unavailable for the JWT key");
    }
    key_.assign(reinterpret_cast<const char*>(k.data()), k.size());
  }
}

std::string jwt_codec::sign(std::string_view data) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string jwt_codec::issue(std::uint64_t member_id, token_kind kind, std::chrono::seconds ttl,
                             std::chrono::system_clock::time_point now) const {
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  const std::int64_t iat = to_seconds(now);
  nlohmann::json payload = {
      {"sub", std::to_string(member_id)},
      {"iat", iat},
      {"exp", iat + ttl.count()},
      {"token_type", kind == token_kind::access ? "access" : "refresh"},
  };
  if (kind == token_kind::refresh) {
    // Two refresh tokens issued in the same second must still differ.
    unsigned char n[12];
    RAND_bytes(n, sizeof n);
    payload["jti"] = base64url_encode(std::string_view(reinterpret_cast<char*>(n), sizeof n));
  }
  std::string token = header;
  token += '.';
  token += base64url_encode(payload.dump());
  const std::string sig = sign(token);
  token += '.';
  token += base64url_encode(sig);
  return token;
}

std::error_code jwt_codec::verify(std::string_view token, token_kind expected, jwt_claims& out,
                                  std::chrono::system_clock::time_point now) const {
  if (token.size() > 8192)
    return jwt_errc::malformed;
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos)
    return jwt_errc::malformed;
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return jwt_errc::malformed;
  }
  const auto h = token.substr(0, d1);
  const auto p = token.substr(d1 + 1, d2 - d1 - 1);
  const auto s = token.substr(d2 + 1);
  if (h.empty() || p.empty())
    return jwt_errc::malformed;

  nlohmann::json header;
  if (auto ec = decode_json_part(h, header))
    return ec;
  // Pinned: only HS256 is ever accepted, whatever the header claims.
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    return jwt_errc::bad_algorithm;
  }
  const auto typ = header.find("typ");
  if (typ != header.end() && (!typ->is_string() || typ->get<std::string>() != "JWT")) {
    return jwt_errc::bad_header;
  }
  // RFC 7515 4.1.11: a recipient must refuse a token whose crit lists what it does not
  // understand, and this verifier understands no extension.
  if (header.contains("crit")) {
    return jwt_errc::bad_header;
  }

  std::string sig;
  if (!base64url_decode(s, sig))
    return jwt_errc::bad_base64;
  const std::string expect = sign(token.substr(0, d2));
  if (sig.size() != expect.size() || CRYPTO_memcmp(sig.data(), expect.data(), expect.size()) != 0) {
    return jwt_errc::bad_signature;
  }

  nlohmann::json payload;
  if (auto ec = decode_json_part(p, payload))
    return ec;
  const std::int64_t t = to_seconds(now);
  const auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number_integer())
    return jwt_errc::expired;
  if (exp->get<std::int64_t>() <= t)
    return jwt_errc::expired;
  const auto nbf = payload.find("nbf");
  if (nbf != payload.end()) {
    if (!nbf->is_number_integer())
      return jwt_errc::malformed;
    if (nbf->get<std::int64_t>() > t)
      return jwt_errc::not_yet_valid;
  }
  const auto kind = payload.find("token_type");
  if (kind == payload.end() || !kind->is_string())
    return jwt_errc::wrong_type;
  const std::string k = kind->get<std::string>();
  const token_kind got = k == "access" ? token_kind::access : token_kind::refresh;
  if ((k != "access" && k != "refresh") || got != expected)
    return jwt_errc::wrong_type;
  const auto sub = payload.find("sub");
  if (sub == payload.end() || !sub->is_string())
    return jwt_errc::bad_subject;
  const std::string sv = sub->get<std::string>();
  if (sv.empty() || sv.size() > 18 || sv[0] == '0')
    return jwt_errc::bad_subject;
  std::uint64_t id = 0;
  for (char c : sv) {
    if (c < '0' || c > '9')
      return jwt_errc::bad_subject;
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out.member_id = id;
  out.kind = got;
  out.expires_at = exp->get<std::int64_t>();
  return {};
}

} // namespace stompede::server
