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

/// The room type as the REST lists and the room summaries spell it.
inline const char* room_type_name(room_type t) noexcept {
  return t == room_type::priv ? "PRIVATE" : "GROUP";
}

/// What GET /v1/chat/rooms/... lists.
struct room_summary {
  std::uint64_t room_id = 0;
  room_type type = room_type::group;
  std::string last_message_preview;
  std::string last_message_at;
  std::uint64_t unread_count = 0; ///< for the member the list was made for
};

/// Result of a room operation that can fail for a REST caller.
enum class room_result { ok, no_such_room, no_such_member, too_many_members, not_group };

class room_registry {
public:
  /// Members are 1..users. With auto_rooms, members first_member..users fill rooms
  /// 1..ceil((users - first_member + 1)/room_size), room_size each, in order.
  room_registry(std::uint64_t users, bool auto_rooms, std::uint64_t room_size,
                std::uint64_t first_member = 1);

  bool member_exists(std::uint64_t member) const noexcept {
    return member >= 1 && member <= users_;
  }
  bool room_exists(std::uint64_t room) const;
  bool is_member(std::uint64_t room, std::uint64_t member) const;
  /// The room's type (fixed at creation; group for a room that does not exist).
  room_type type_of(std::uint64_t room) const;

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
  /// Held by a sender from next_seq() until its broadcast is handed to every IO thread, so
  /// that senders on different IO threads cannot overtake each other: every subscriber sees a
  /// room's messages in seq order. Not locked when the room does not exist.
  std::unique_lock<std::mutex> publish_order(std::uint64_t room);
  /// Records the last message of a room for the room lists.
  void set_last(std::uint64_t room, const std::string& preview, const std::string& at);

  /// Read tracking for `unreadCount`. A member subscribed to the room's topic is viewing the
  /// room and reads everything as it arrives; otherwise the room's messages since the member
  /// last viewed it (or last sent to it) are unread. `delta` is +1 on SUBSCRIBE, -1 when that
  /// subscription ends.
  void view(std::uint64_t room, std::uint64_t member, int delta);
  /// The member has read the room up to `seq` (its own message).
  void mark_read(std::uint64_t room, std::uint64_t member, std::uint64_t seq);
  /// Messages of the room the member has not read.
  std::uint64_t unread(std::uint64_t room, std::uint64_t member) const;

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

  /// Calls f(member, unread) for every member of the room, under one lock.
  template<class F>
  void for_each_member_unread(std::uint64_t room, F&& f) const {
    const room_state* r = find(room);
    if (r == nullptr)
      return;
    std::lock_guard<std::mutex> lock(r->mutex);
    const std::uint64_t seq = r->seq.load(std::memory_order_relaxed);
    auto visit = [&](std::uint64_t m) { f(m, unread_locked(*r, m, seq)); };
    if (r->auto_first != 0) {
      for (std::uint64_t m = r->auto_first; m <= r->auto_last; ++m)
        visit(m);
    }
    for (auto m : r->extra) {
      if (r->auto_first == 0 || m < r->auto_first || m > r->auto_last)
        visit(m);
    }
  }

  /// Rooms of a member (auto room first).
  std::vector<room_summary> rooms_of(std::uint64_t member) const;
  /// Every group room, with unread counts for `member`.
  std::vector<room_summary> group_rooms(std::uint64_t member) const;

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
    std::mutex order;         // see publish_order()
    mutable std::mutex mutex; // guards extra, readers and last_*
    std::unordered_set<std::uint64_t> extra;
    struct reader {
      std::uint32_t viewing = 0;   // open subscriptions to the room's topic
      std::uint64_t last_read = 0; // seq read up to, while not viewing
    };
    std::unordered_map<std::uint64_t, reader> readers; // members who ever viewed or sent
    std::string last_preview;
    std::string last_at;
  };

  const room_state* find(std::uint64_t room) const;
  room_state* find(std::uint64_t room);
  room_summary summary(const room_state& r, std::uint64_t member) const;
  static std::uint64_t unread_locked(const room_state& r, std::uint64_t member, std::uint64_t seq) {
    auto it = r.readers.find(member);
    if (it == r.readers.end())
      return seq;
    if (it->second.viewing > 0 || it->second.last_read >= seq)
      return 0;
    return seq - it->second.last_read;
  }
  room_state& add_room(room_type type); // caller holds created_mutex_ exclusively

  std::uint64_t users_;
  std::uint64_t room_size_;
  std::uint64_t first_member_;
  std::uint64_t auto_count_;
  std::vector<std::unique_ptr<room_state>> auto_rooms_;
  mutable std::shared_mutex created_mutex_;
  std::unordered_map<std::uint64_t, std::unique_ptr<room_state>> created_;
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> member_rooms_;
  std::unordered_map<std::uint64_t, std::uint64_t> private_rooms_; // key: (a << 32) | b
  std::uint64_t next_id_;
};

} // namespace stompede::server
