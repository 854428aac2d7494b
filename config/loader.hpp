#pragma once

#include "config/diagnostic.hpp"
#include "config/environment.hpp"
#include "config/scenario.hpp"

#include <optional>
#include <string>
#include <vector>

namespace stompede::config {

/// The outcome of loading: a validated scenario, or every problem found.
struct load_result {
  /// Set only when `problems` is empty.
  std::optional<config::scenario> value;
  /// The scenario as read when only semantic checks failed (every key known, every type
  /// right): later checks (behaviour names and parameters, fault toxics) can still run on it,
  /// so that all the problems of a file are reported at once.
  std::optional<config::scenario> unchecked;
  std::vector<diagnostic> problems;

  bool ok() const noexcept {
    return value.has_value();
  }
};

/// Loads, expands, overrides and validates a TOML scenario file.
///
/// - `${VAR}` / `${VAR:-default}` in string values come from `env`, then from the `.env` file
///   (`dotenv_path`, or `.env` next to the scenario when empty); `env` wins.
/// - `overrides` are `dotted.key=value` (`stage[0].users=50`); the value is read as a TOML value
///   when it is one, else as a string. An unknown key is an error.
/// - Unknown keys (with a did-you-mean), wrong types, bad durations and every semantic problem
///   of `validate()` are reported together, each as `file:line:column: key: what was expected`.
/// The seed's environment variables (SERVER_URL, ...) do NOT overlay a scenario file.
/// Never throws.
load_result load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                          const env_map& env, const std::string& dotenv_path = {});

/// Same as load_scenario for TOML text; `name` stands for the file in diagnostics. No `.env`
/// file is read unless `dotenv_path` is given.
load_result load_scenario_text(const std::string& text, const std::string& name,
                               const std::vector<std::string>& overrides, const env_map& env,
                               const std::string& dotenv_path = {});

/// The seed's configuration with no scenario file: its environment variables (SERVER_URL,
/// TOKEN, EMAIL, PASSWORD, ROOM_ID, CREATE_NEW_ROOM, MEMBER_IDS, ENABLE_RECONNECT,
/// MAX_RECONNECT_ATTEMPTS, INITIAL_BACKOFF_MS, MAX_BACKOFF_MS, MESSAGE_INTERVAL_MS,
/// START_MEMBER_ID, MAX_USERS, MAX_MEMBERS_PER_ROOM), its defaults and its four stages.
/// `env` wins over the `.env` file at `dotenv_path` (default: `.env` in the working directory;
/// a missing file is fine). `overrides` apply on top as for a file. Never throws.
load_result load_from_env(const env_map& env, const std::vector<std::string>& overrides = {},
                          const std::string& dotenv_path = ".env");

} // namespace stompede::config
