#pragma once

// The fault proxy lanes of an experiment: the built-in fault proxy (proxy/fault_proxy.hpp)
// between the users and the target, one proxy per "lane". Every user whose cohort memberships
// (over the proxy faults that name a cohort: rooms, behaviour, stage) are the same shares a
// lane, so a toxic of a fault with a cohort goes on that cohort's lanes only and reaches its
// users' connections and no others. Without cohorts there is one lane.

#include "actors/fault_injector.hpp"
#include "actors/proxy_faults.hpp"
#include "actors/session_settings.hpp"
#include "config/scenario.hpp"
#include "protocol/url.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace stompede {

namespace proxy {
class fault_proxy;
} // namespace proxy

class fault_lanes {
public:
  fault_lanes();
  ~fault_lanes();
  fault_lanes(const fault_lanes&) = delete;
  fault_lanes& operator=(const fault_lanes&) = delete;

  /// Starts the lanes in front of `target` for the proxy faults among `specs` (one per
  /// `[[fault]]` entry, in order), points `target` at the first lane and each identity with a
  /// lane of its own at that lane's port (user_identity::ws_port). False with `why` when a
  /// proxy cannot start.
  bool start(const config::scenario& sc, const std::vector<fault_spec>& specs, net::url& target,
             std::vector<user_identity>& ids, std::string& why);

  /// The fault injector's port onto the lanes; valid while this object lives. Empty when no
  /// lane runs.
  proxy_fault_port port();

  /// Stops every lane (also done by the destructor).
  void stop();

  std::size_t size() const noexcept {
    return proxies_.size();
  }

  /// The lanes fault entry `entry` acts on.
  const std::vector<std::size_t>& lanes_of(std::uint32_t entry) const;

private:
  std::vector<std::unique_ptr<proxy::fault_proxy>> proxies_;
  std::vector<std::vector<std::size_t>> lanes_of_entry_;
  std::mutex mutex_;
  /// A fault's toxic: one per lane it went on.
  std::map<std::uint64_t, std::vector<std::pair<std::size_t, std::uint64_t>>> toxics_;
  std::uint64_t next_id_ = 1;
};

} // namespace stompede
