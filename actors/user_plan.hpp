#pragma once

// Who each simulated user is: member id, room and send interval, derived from the scenario.
// Pure functions, so the placement rules (the seed's) are testable without a run.

#include "actors/session_settings.hpp"
#include "config/scenario.hpp"

#include <cstdint>
#include <vector>

namespace stompede {

/// The seed's class of a user by index, spread so that every block of 100 consecutive users
/// holds the configured shares (to 1%).
enum class sender_class { active, moderate, passive };

sender_class classify_sender(std::uint32_t index, const config::behaviour_config& b);

/// Send interval of user `index` (zero for listeners).
std::chrono::milliseconds send_interval(std::uint32_t index, const config::behaviour_config& b);

/// Room of user `index` (mode per_users: index / members_per_room + 1; existing: room_id;
/// create: `created_room`).
std::int64_t room_of(std::uint32_t index, const config::rooms_config& r,
                     std::int64_t created_room = 0);

/// Which `[[behaviour]]` entry each of users 0..n-1 runs, by weight (all 0 for one entry).
std::vector<std::uint16_t> assign_behaviours(const std::vector<double>& weights, std::uint32_t n);

/// The identities of users 0..n-1 (tokens empty: logins fill them in).
std::vector<user_identity> make_identities(const config::scenario& sc, std::uint32_t n,
                                           std::int64_t created_room = 0);

/// The settings every session of the run shares.
session_settings make_session_settings(const config::scenario& sc);

} // namespace stompede
