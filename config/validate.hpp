#pragma once

#include "config/diagnostic.hpp"
#include "config/scenario.hpp"

#include <vector>

namespace stompede::config {

/// Every semantic problem of `s` (at least one stage, URL schemes, non-loopback targets need
/// `i_own_this_target`, positive intervals, weights, ...), each with the key's position from
/// `s.positions` when known. Empty when the scenario can run.
std::vector<diagnostic> validate(const scenario& s);

} // namespace stompede::config
