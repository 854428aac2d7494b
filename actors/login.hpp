#pragma once

// Before the first stage: log every user in over REST (bounded concurrency, as the seed: 50 at
// a time) and create the shared room when the scenario asks for one.

#include "actors/session_settings.hpp"
#include "config/scenario.hpp"
#include "protocol/http_client.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stompede {

class io_pool;

/// Parses a login answer (`data.tokenInfo.accessToken`, `data.memberInfo.memberId`); false
/// with a one-line `why` (status and the server's error message, never the request) otherwise.
bool parse_login_response(const std::error_code& ec, const net::http_response& r,
                          std::string& token, std::int64_t& member_id, std::string& why);

/// The `exp` claim (seconds since the epoch) of a JWT, without verifying it; nullopt when the
/// token is not a JWT, has no `exp`, or one that no int64 holds.
std::optional<std::int64_t> jwt_expiry(std::string_view token);

/// The login settings of a scenario (auth mode login), or nullopt.
std::optional<login_settings> make_login_settings(const config::scenario& sc);

/// The REST login request of one member.
net::http_request login_request(const login_settings& ls, std::int64_t member_id);

/// The room REST settings of a scenario (auth mode login or token with an http(s) target),
/// or nullopt.
std::optional<room_rest_settings> make_room_rest_settings(const config::scenario& sc);

/// The chat protocol's REST call joining group room `room` (`POST /v1/chat/rooms/{room}`), or,
/// with `room` 0, opening the private room with `other_member`
/// (`POST /v1/chat/rooms/private?otherMemberId=...`), as the user with `token`.
net::http_request room_request(const room_rest_settings& rs, const std::string& token,
                               std::int64_t room, std::int64_t other_member);

/// Parses the answer to `room_request`: true with `room` set to the room id in `data` (kept as
/// it is when `data` is null, as for a join); false with a one-line `why` otherwise.
bool parse_room_response(const std::error_code& ec, const net::http_response& r, std::int64_t& room,
                         std::string& why);

/// Fills in tokens (auth mode login) and creates the room (rooms mode create). False with a
/// one-line `why` when it cannot: a target that refuses every login is a failed run, not a
/// run that retries forever. `failed_logins`, when given, receives the number of logins that
/// failed (those users go on without a token; the run counts them as `login_failed` errors).
/// `interrupted`, polled every 100 ms while requests are out, ends the wait at once (false,
/// `why` saying so) instead of waiting out the requests' timeouts.
bool prepare_users(io_pool& pool, const config::scenario& sc, std::vector<user_identity>& ids,
                   std::int64_t& created_room, std::string& why,
                   std::size_t* failed_logins = nullptr,
                   const std::function<bool()>& interrupted = {});

} // namespace stompede
