#pragma once

// From an experiment's scenario keys to what the fault injector and the experiment tracker
// run: each `[[fault]]` resolved (cohort -> user index range and behaviour index, server kinds
// -> fault-interface calls, the cohort in words), and the hypothesis parsed.

#include "actors/fault_injector.hpp"
#include "config/diagnostic.hpp"
#include "config/scenario.hpp"
#include "metrics/experiment.hpp"

#include <string>
#include <vector>

namespace stompede {

/// The `[[fault]]` entries for the injector; `behaviour_labels` are the run's behaviours in
/// the order users' identities index them. A server fault with a `behaviour` or `stage`
/// cohort names the members of the run's `users` users (its peak population) in its calls.
std::vector<fault_spec> make_fault_specs(const config::scenario& sc,
                                         const std::vector<std::string>& behaviour_labels,
                                         std::uint32_t users);

/// The experiment's settings for the tracker (hypothesis parsed, times in seconds).
metrics::experiment_settings make_experiment_settings(const config::scenario& sc);

/// True when some `[[fault]]` acts on the server.
bool has_server_faults(const config::scenario& sc);

/// True when some `[[fault]]` needs the fault proxy between users and target.
bool has_proxy_faults(const config::scenario& sc);

/// The proxy spec of a net.* / stomp.* fault ("latency:downstream:latency=100ms").
std::string toxic_spec(const config::fault_entry& f);

/// Every net.* / stomp.* fault whose toxic the proxy would refuse, one diagnostic each
/// (file:line:column of its `toxic` or `kind`).
std::vector<config::diagnostic> check_fault_toxics(const config::scenario& sc);

} // namespace stompede
