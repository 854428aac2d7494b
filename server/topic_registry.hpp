#pragma once

// Who is subscribed to what. Copy-on-write subscriber lists: SUBSCRIBE/UNSUBSCRIBE (rare)
// replace a topic's list, a broadcast (frequent) takes a shared snapshot under a short lock and
// iterates it without any lock. Sharded by topic hash so threads rarely meet on a mutex.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace stompede::server::detail {

class connection;

/// One subscription as the fan-out needs it.
struct subscriber {
  std::shared_ptr<connection> session;
  std::string sub_id; ///< the `subscription` header value, already escaped
  std::uint32_t shard = 0;
  bool sub_id_utf8 = true; ///< set by topic_registry::add
  /// ack:client or ack:client-individual: each MESSAGE carries `ack:<message-id>`.
  bool ack_header = false;

};

using subscriber_list = std::vector<subscriber>;

class topic_registry {
public:
  void add(const std::string& topic, subscriber s);
  /// Removes the subscription `sub_id` of `session` from `topic`.
  void remove(const std::string& topic, const connection* session, const std::string& sub_id);
  /// The current subscribers (null when none).
  std::shared_ptr<const subscriber_list> snapshot(const std::string& topic) const;

private:
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<const subscriber_list>> topics;
  };
  shard& shard_of(const std::string& topic) const {
    return shards_[std::hash<std::string>{}(topic) % shards_.size()];
  }
  mutable std::array<shard, 64> shards_;
};

} // namespace stompede::server::detail
