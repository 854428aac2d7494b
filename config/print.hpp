#pragma once

#include "config/scenario.hpp"

#include <string>

namespace stompede::config {

/// The effective scenario as TOML, every key spelled out, secrets (and sensitive header values,
/// credential-like URL query values and URL userinfo: redact_url) as "***". For `stompede check`
/// and for `scenario.toml` in the results folder; it loads back as a scenario.
std::string to_toml(const scenario& s);

/// The same TOML with the secrets' real values: only for handing a scenario to a worker process
/// over its link (docs/workers.md); never for a file, a log or a report.
std::string to_toml_with_secrets(const scenario& s);

} // namespace stompede::config
