#pragma once

// Rooms and their members. Automatic rooms (member m in room (m-1)/room_size + 1) need no
// state per member; rooms created over REST keep an explicit member set. Thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace stompede::server {

enum class room_type { group, priv };

/// What GET /v1/chat/rooms/... lists.
struct room_summary {
  std::uint64_t room_id = 0;
  room_type type = room_type::group;
  std::string last_message_preview;
  std::string last_message_at;
};

/// Result of a room operation that can fail for a REST caller.
enum class room_result { ok, no_such_room, no_such_member, too_many_members, not_group };

class room_registry {
public:
  /// Members are 1..users. With auto_rooms, rooms 1..ceil(users/room_size) pre-exist.
  room_registry(std::uint64_t users, bool auto_rooms, std::uint64_t room_size);

  bool member_exists(std::uint64_t member) const noexcept {
    return member >= 1 && member <= users_;
  }
  bool room_exists(std::uint64_t room) const;
  bool is_member(std::uint64_t room, std::uint64_t member) const;

  /// The automatic room of a member (0 without auto rooms).
  std::uint64_t auto_room_of(std::uint64_t member) const noexcept;

  /// Creates a group room with the caller and `others` (at most 50).
  room_result create_group(std::uint64_t caller, const std::vector<std::uint64_t>& others,
                           std::uint64_t& room_out);
  /// The 1:1 room of the two members, created on first use.
  room_result private_room(std::uint64_t caller, std::uint64_t other, std::uint64_t& room_out);
  /// Adds the caller to a group room.
  room_result join(std::uint64_t room, std::uint64_t member);

  /// Next per-room sequence number (1, 2, ...); 0 when the room does not exist.
  std::uint64_t next_seq(std::uint64_t room);
  /// Records the last message of a room for the room lists.
  void set_last(std::uint64_t room, const std::string& preview, const std::string& at);

  /// Calls f(member) for every member of the room.
  template<class F>
  void for_each_member(std::uint64_t room, F&& f) const {
    std::vector<std::uint64_t> extra;
    const room_state* r = find(room);
    if (r == nullptr)
      return;
    {
      std::lock_guard<std::mutex> lock(r->mutex);
      extra.assign(r->extra.begin(), r->extra.end());
    }
    if (r->auto_first != 0) {
      for (std::uint64_t m = r->auto_first; m <= r->auto_last; ++m)
        f(m);
    }
    for (auto m : extra) {
      if (r->auto_first == 0 || m < r->auto_first || m > r->auto_last)
        f(m);
    }
  }

  /// Rooms of a member (auto room first).
  std::vector<room_summary> rooms_of(std::uint64_t member) const;
  /// Every group room.
  std::vector<room_summary> group_rooms() const;

  std::uint64_t auto_room_count() const noexcept {
    return auto_count_;
  }

private:
  struct room_state {
    std::uint64_t id = 0;
    room_type type = room_type::group;
    std::uint64_t auto_first = 0; // 0 = no automatic members
    std::uint64_t auto_last = 0;
    std::atomic<std::uint64_t> seq{0};
    mutable std::mutex mutex; // guards extra and last_*
    std::unordered_set<std::uint64_t> extra;
    std::string last_preview;
    std::string last_at;
  };

  const room_state* find(std::uint64_t room) const;
  room_state* find(std::uint64_t room);
  room_summary summary(const room_state& r) const;
  room_state& add_room(room_type type); // caller holds created_mutex_ exclusively

  std::uint64_t users_;
  std::uint64_t room_size_;
  std::uint64_t auto_count_;
  std::vector<std::unique_ptr<room_state>> auto_rooms_;
  mutable std::shared_mutex created_mutex_;
  std::unordered_map<std::uint64_t, std::unique_ptr<room_state>> created_;
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> member_rooms_;
  std::unordered_map<std::uint64_t, std::uint64_t> private_rooms_; // key: (a << 32) | b
  std::uint64_t next_id_;
};

} // namespace stompede::server
