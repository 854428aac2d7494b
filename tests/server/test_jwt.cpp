#include "server/jwt.hpp"

#include <catch2/catch.hpp>

using namespace stompede::server;

namespace {
const std::string secret(32, 'k');

// Builds header.payload.signature with our own signature over arbitrary header/payload JSON.
std::string forge(const jwt_codec& c, const std::string& header, const std::string& payload) {
  std::string t = base64url_encode(header) + "." + base64url_encode(payload);
  return t + "." + base64url_encode(c.sign(t));
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
} // namespace

TEST_CASE("base64url round trip and strictness", "[server][jwt]") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    std::string out;
    REQUIRE(base64url_decode(base64url_encode(s), out));
    CHECK(out == s);
  }
  std::string out;
  CHECK_FALSE(base64url_decode("Zm9v=", out)); // padding
  CHECK_FALSE(base64url_decode("Zm+v", out));  // standard alphabet
  CHECK_FALSE(base64url_decode("Z", out));     // impossible length
  CHECK_FALSE(base64url_decode("Zh", out));    // non-zero trailing bits
}

TEST_CASE("issued tokens verify with their subject and kind", "[server][jwt]") {
  jwt_codec c(secret);
  jwt_claims claims;
  const auto t = c.issue(42, token_kind::access, std::chrono::seconds(60));
  REQUIRE_FALSE(c.verify(t, token_kind::access, claims));
  CHECK(claims.member_id == 42);
  CHECK(c.verify(t, token_kind::refresh, claims) == make_error_code(jwt_errc::wrong_type));
  const auto r = c.issue(7, token_kind::refresh, std::chrono::seconds(60));
  CHECK(c.verify(r, token_kind::access, claims) == make_error_code(jwt_errc::wrong_type));
  REQUIRE_FALSE(c.verify(r, token_kind::refresh, claims));
  CHECK(claims.member_id == 7);
}

TEST_CASE("JWT negatives are refused with their reason", "[server][jwt]") {
  jwt_codec c(secret);
  jwt_codec other(std::string(32, 'x'));
  jwt_claims claims;
  const std::string payload =
      R"({"sub":"5","exp":)" + std::to_string(now_s() + 60) + R"(,"token_type":"access"})";

  SECTION("wrong signature (another key)") {
    const auto t = other.issue(5, token_kind::access, std::chrono::seconds(60));
    CHECK(c.verify(t, token_kind::access, claims) == make_error_code(jwt_errc::bad_signature));
  }
  SECTION("tampered payload") {
    auto t = c.issue(5, token_kind::access, std::chrono::seconds(60));
    const auto d1 = t.find('.'), d2 = t.rfind('.');
    const auto forged =
        R"({"sub":"6","exp":)" + std::to_string(now_s() + 60) + R"(,"token_type":"access"})";
    t = t.substr(0, d1 + 1) + base64url_encode(forged) + t.substr(d2);
    CHECK(c.verify(t, token_kind::access, claims) == make_error_code(jwt_errc::bad_signature));
  }
  SECTION("alg none, with and without a signature") {
    const auto h = base64url_encode(R"({"alg":"none","typ":"JWT"})");
    const auto p = base64url_encode(payload);
    CHECK(c.verify(h + "." + p + ".", token_kind::access, claims) ==
          make_error_code(jwt_errc::bad_algorithm));
    CHECK(c.verify(forge(c, R"({"alg":"none"})", payload), token_kind::access, claims) ==
          make_error_code(jwt_errc::bad_algorithm));
  }
  SECTION("HS384 and RS256 headers, even with our HS256 signature") {
    CHECK(c.verify(forge(c, R"({"alg":"HS384","typ":"JWT"})", payload), token_kind::access,
                   claims) == make_error_code(jwt_errc::bad_algorithm));
    CHECK(c.verify(forge(c, R"({"alg":"RS256","typ":"JWT"})", payload), token_kind::access,
                   claims) == make_error_code(jwt_errc::bad_algorithm));
  }
  SECTION("a typ other than JWT, or a crit extension, even with our HS256 signature") {
    CHECK(c.verify(forge(c, R"({"alg":"HS256","typ":"JWE"})", payload), token_kind::access,
                   claims) == make_error_code(jwt_errc::bad_header));
    CHECK(c.verify(forge(c, R"({"alg":"HS256","typ":"JWT","crit":["exp2"],"exp2":1})", payload),
                   token_kind::access, claims) == make_error_code(jwt_errc::bad_header));
    // typ is optional (RFC 7519 5.1): a header with alg alone is a plain JWT header.
    CHECK_FALSE(c.verify(forge(c, R"({"alg":"HS256"})", payload), token_kind::access, claims));
  }
  SECTION("malformed") {
    CHECK(c.verify("", token_kind::access, claims) == make_error_code(jwt_errc::malformed));
    CHECK(c.verify("abc", token_kind::access, claims) == make_error_code(jwt_errc::malformed));
    CHECK(c.verify("a.b.c.d", token_kind::access, claims) == make_error_code(jwt_errc::malformed));
    CHECK(c.verify(forge(c, "[1,2]", payload), token_kind::access, claims) ==
          make_error_code(jwt_errc::malformed));
  }
  SECTION("bad base64url") {
    CHECK(c.verify("e30=.e30.AAAA", token_kind::access, claims) ==
          make_error_code(jwt_errc::bad_base64));
    CHECK(c.verify("ey!!.e30.AAAA", token_kind::access, claims) ==
          make_error_code(jwt_errc::bad_base64));
  }
  SECTION("expired") {
    const auto t = c.issue(5, token_kind::access, std::chrono::seconds(60),
                           std::chrono::system_clock::now() - std::chrono::hours(1));
    CHECK(c.verify(t, token_kind::access, claims) == make_error_code(jwt_errc::expired));
    CHECK(
        c.verify(forge(c, R"({"alg":"HS256","typ":"JWT"})", R"({"sub":"5","token_type":"access"})"),
                 token_kind::access, claims) == make_error_code(jwt_errc::expired));
  }
  SECTION("nbf in the future") {
    const std::string p = R"({"sub":"5","exp":)" + std::to_string(now_s() + 600) + R"(,"nbf":)" +
                          std::to_string(now_s() + 300) + R"(,"token_type":"access"})";
    CHECK(c.verify(forge(c, R"({"alg":"HS256","typ":"JWT"})", p), token_kind::access, claims) ==
          make_error_code(jwt_errc::not_yet_valid));
  }
  SECTION("subject that is not a member id") {
    const std::string p =
        R"({"sub":"abc","exp":)" + std::to_string(now_s() + 60) + R"(,"token_type":"access"})";
    CHECK(c.verify(forge(c, R"({"alg":"HS256","typ":"JWT"})", p), token_kind::access, claims) ==
          make_error_code(jwt_errc::bad_subject));
  }
}

TEST_CASE("an empty secret draws a random key per codec", "[server][jwt]") {
  jwt_codec a(""), b("");
  jwt_claims claims;
  const auto t = a.issue(1, token_kind::access, std::chrono::seconds(60));
  CHECK_FALSE(a.verify(t, token_kind::access, claims));
  CHECK(b.verify(t, token_kind::access, claims) == make_error_code(jwt_errc::bad_signature));
}
