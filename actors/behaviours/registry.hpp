#pragma once

// Behaviours by name. A `[[behaviour]]` entry of a scenario names one of them; its other keys
// are parameters, checked against what the behaviour declares here before the run starts.
//
//   register_behaviour({"greeter", "says hello every few seconds",
//                       {{"every", param_type::duration, "5s", "time between greetings"}},
//                       [](behaviour_context&) { return std::make_unique<greeter>(); }});

#include "actors/behaviours/behaviour.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace stompede {

namespace config {
struct scenario;
struct diagnostic;
struct behaviour_entry;
} // namespace config

enum class param_type { string, integer, number, boolean, duration };

/// One parameter a behaviour accepts.
struct param_spec {
  std::string key;
  param_type type = param_type::string;
  /// The default as it would be written in TOML (without quotes); empty string = no default
  /// for strings. A parameter whose default is "required" must be given.
  std::string fallback;
  std::string doc;
};

/// Creates the behaviour of one session (called on the session's IO thread).
using behaviour_factory = std::function<std::unique_ptr<behaviour>(behaviour_context&)>;

struct behaviour_info {
  std::string name;
  std::string summary;
  std::vector<param_spec> params;
  behaviour_factory make;
};

/// One behaviour of a run as its sessions use it (built from a `[[behaviour]]` entry).
struct behaviour_slot {
  /// Metrics label.
  std::string label;
  behaviour_params params;
  /// Creates a session's behaviour.
  behaviour_factory make;
};

/// The run's behaviours: the `[[behaviour]]` entries, or without any the one `[behaviour]`
/// describes (the seed's mix, or listen only). Entries must have passed `check_behaviours`.
std::vector<behaviour_slot> make_behaviour_slots(const config::scenario& sc);

/// Adds (or replaces) a behaviour under `info.name`. Call before the run starts (typically
/// first thing in main(), or in `register_builtin_behaviours`); not thread-safe.
void register_behaviour(behaviour_info info);

/// The behaviour registered as `name`, or nullptr.
const behaviour_info* find_behaviour(std::string_view name);

/// Every registered name, sorted.
std::vector<std::string> behaviour_names();

/// Registers the built-ins once (seed_mix, listener, burst, room_hopper, private_pairs,
/// replier, steps); called by the functions below, so rarely needed directly.
void register_builtin_behaviours();

/// Checks every `[[behaviour]]` entry against the registry: known name (an unknown one lists
/// the known ones), known parameters of the right types (a bad one names its key), required
/// parameters present; each problem at its file:line:column.
std::vector<config::diagnostic> check_behaviours(const config::scenario& sc);

/// An entry's parameters with the declared defaults filled in (the entry must have passed
/// `check_behaviours`).
behaviour_params make_params(const config::behaviour_entry& e, const behaviour_info& info);

} // namespace stompede
