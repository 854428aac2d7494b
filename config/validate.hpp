#pragma once

#include "config/diagnostic.hpp"
#include "config/scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace stompede::config {

/// Every semantic problem of `s` (at least one stage, URL schemes, non-loopback targets need
/// `i_own_this_target`, positive intervals, weights, ...), each with the key's position from
/// `s.positions` when known. Empty when the scenario can run.
std::vector<diagnostic> validate(const scenario& s);

/// The login e-mail of member `id` under `auth.email` (at most one %d-like conversion, always
/// formatted as a 64-bit integer): "user%05d@test.com" and 42 give "user00042@test.com".
std::string render_email(const std::string& pattern, std::int64_t id);

} // namespace stompede::config
