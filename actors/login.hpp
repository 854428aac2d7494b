#pragma once

// Before the first stage: log every user in over REST (bounded concurrency, as the seed: 50 at
// a time) and create the shared room when the scenario asks for one.

#include "actors/session_settings.hpp"
#include "config/scenario.hpp"

#include <string>
#include <vector>

namespace stompede {

class io_pool;

/// Fills in tokens (auth mode login) and creates the room (rooms mode create). False with a
/// one-line `why` when it cannot: a target that refuses every login is a failed run, not a
/// run that retries forever.
bool prepare_users(io_pool& pool, const config::scenario& sc, std::vector<user_identity>& ids,
                   std::int64_t& created_room, std::string& why);

} // namespace stompede
