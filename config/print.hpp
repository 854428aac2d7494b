#pragma once

#include "config/scenario.hpp"

#include <string>

namespace stompede::config {

/// The effective scenario as TOML, every key spelled out, secrets (and sensitive header values)
/// as "***". For `stompede check` and for `scenario.toml` in the results folder.
std::string to_toml(const scenario& s);

} // namespace stompede::config
