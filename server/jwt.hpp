#pragma once

// JWT HS256 issue and verify for the embedded server. The algorithm is pinned: the verifier
// never reads `alg` to choose how to check, it only refuses anything but HS256.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace stompede::server {

/// Why a token was refused.
enum class jwt_errc {
  ok = 0,
  malformed,     ///< not three dot-separated parts, or JSON that is not an object
  bad_base64,    ///< a part is not unpadded base64url
  bad_algorithm, ///< header alg is not HS256 (none, HS384, RS256, ...)
  bad_signature, ///< HMAC mismatch
  expired,       ///< exp missing or not in the future
  not_yet_valid, ///< nbf in the future
  wrong_type,    ///< an access token where a refresh token is expected, or the reverse
  bad_subject,   ///< sub missing or not a positive member id
  bad_header,    ///< typ present but not JWT, or a crit extension (none is understood)
};

const std::error_category& jwt_category() noexcept;
inline std::error_code make_error_code(jwt_errc e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

/// Which of the two token kinds (payload claim `token_type`: "access" or "refresh").
enum class token_kind { access, refresh };

/// The verified claims the server uses.
struct jwt_claims {
  std::uint64_t member_id = 0;
  token_kind kind = token_kind::access;
  std::int64_t expires_at = 0; ///< seconds since the epoch
};

/// Unpadded base64url (RFC 4648 §5), as JWT uses it.
std::string base64url_encode(std::string_view bytes);
/// Strict decoder: false on padding, whitespace, characters outside the alphabet, or a
/// length that no encoding produces.
bool base64url_decode(std::string_view text, std::string& out);

/// Issues and verifies HS256 tokens with one key.
class jwt_codec {
public:
  /// `secret` empty = 32 random bytes from the OpenSSL CSPRNG.
  explicit jwt_codec(std::string secret);

  /// A signed token for `member_id` valid for `ttl` from `now`.
  std::string
  issue(std::uint64_t member_id, token_kind kind, std::chrono::seconds ttl,
        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  /// Verifies signature, algorithm, time claims and kind.
  std::error_code
  verify(std::string_view token, token_kind expected, jwt_claims& out,
         std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  /// HMAC-SHA256 of `data` with the key (raw 32 bytes); for tests that forge tokens.
  std::string sign(std::string_view data) const;

private:
  std::string key_;
};

} // namespace stompede::server

namespace std {
template<>
struct is_error_code_enum<stompede::server::jwt_errc> : true_type {};
} // namespace std
