#pragma once

// The built-in behaviours (seed_mix, listener, burst, room_hopper, private_pairs, replier) and
// the declarative steps engine. Internal to the library: users go through registry.hpp.

#include "actors/behaviours/registry.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace stompede {

namespace config {
struct behaviour_config;
} // namespace config

/// Every built-in, in the order they are documented.
std::vector<behaviour_info> builtin_behaviours();

/// The one behaviour a scenario without `[[behaviour]]` runs: the seed's mix from `[behaviour]`
/// (or "listener" for kind = "listener"), with the table's values as parameters.
config::behaviour_entry seed_entry(const config::behaviour_config& b);

/// The factory of a `steps` entry.
behaviour_factory make_steps_factory(std::shared_ptr<const config::behaviour_entry> entry);

/// `pattern` against `text`: with `*` (any run) or `?` (one character) the whole text must
/// match; without them, `text` must contain `pattern`. An empty pattern matches everything.
bool pattern_match(std::string_view pattern, std::string_view text);

} // namespace stompede
