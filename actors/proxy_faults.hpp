#pragma once

// How the fault injector reaches the built-in fault proxy (proxy/fault_proxy.hpp) that the
// engine places between the users and the target for an experiment's net.* and stomp.* faults.

#include <cstdint>
#include <functional>
#include <string>

namespace stompede {

/// Each call returns "" on success, else one line. `entry` is the `[[fault]]` entry: with a
/// cohort, its toxic goes on the proxy lanes of that cohort's users only.
struct proxy_fault_port {
  /// Adds the toxic of `spec` ("latency:downstream:latency=100ms") applied to `toxicity` of the
  /// connections; `id` receives its handle.
  std::function<std::string(std::uint32_t entry, const std::string& spec, double toxicity,
                            std::uint64_t& id)>
      add;
  /// Removes toxic `id`; `affected` receives the connections it applied to.
  std::function<std::string(std::uint64_t id, std::int64_t& affected)> remove;
  /// Refuses new connections (on) or accepts them again (off).
  std::function<std::string(std::uint32_t entry, bool on)> refuse;

  explicit operator bool() const noexcept {
    return static_cast<bool>(add);
  }
};

} // namespace stompede
