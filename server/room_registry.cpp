#include "server/room_registry.hpp"

#include <algorithm>

namespace stompede::server {

room_registry::room_registry(std::uint64_t users, bool auto_rooms, std::uint64_t room_size,
                             std::uint64_t first_member)
    : users_(users), room_size_(room_size == 0 ? 1 : room_size),
      first_member_(first_member == 0 ? 1 : first_member),
      auto_count_(auto_rooms && users >= first_member_
                      ? (users - first_member_ + 1 + room_size_ - 1) / room_size_
                      : 0),
      next_id_(auto_count_ + 1) {
  auto_rooms_.reserve(auto_count_);
  for (std::uint64_t i = 0; i < auto_count_; ++i) {
    auto r = std::make_unique<room_state>();
    r->id = i + 1;
    r->auto_first = first_member_ + i * room_size_;
    r->auto_last = std::min(users_, first_member_ + (i + 1) * room_size_ - 1);
    auto_rooms_.push_back(std::move(r));
  }
}

const room_registry::room_state* room_registry::find(std::uint64_t room) const {
  if (room >= 1 && room <= auto_count_)
    return auto_rooms_[room - 1].get();
  std::shared_lock<std::shared_mutex> lock(created_mutex_);
  auto it = created_.find(room);
  return it == created_.end() ? nullptr : it->second.get();
}

room_registry::room_state* room_registry::find(std::uint64_t room) {
  return const_cast<room_state*>(static_cast<const room_registry*>(this)->find(room));
}

bool room_registry::room_exists(std::uint64_t room) const {
  return find(room) != nullptr;
}

std::uint64_t room_registry::auto_room_of(std::uint64_t member) const noexcept {
  if (auto_count_ == 0 || !member_exists(member) || member < first_member_)
    return 0;
  return (member - first_member_) / room_size_ + 1;
}

room_type room_registry::type_of(std::uint64_t room) const {
  const room_state* r = find(room);
  return r == nullptr ? room_type::group : r->type;
}

bool room_registry::is_member(std::uint64_t room, std::uint64_t member) const {
  const room_state* r = find(room);
  if (r == nullptr)
    return false;
  if (r->auto_first != 0 && member >= r->auto_first && member <= r->auto_last)
    return true;
  std::lock_guard<std::mutex> lock(r->mutex);
  return r->extra.count(member) != 0;
}

room_registry::room_state& room_registry::add_room(room_type type) {
  auto r = std::make_unique<room_state>();
  r->id = next_id_++;
  r->type = type;
  auto& ref = *r;
  created_.emplace(ref.id, std::move(r));
  return ref;
}

room_result room_registry::create_group(std::uint64_t caller,
                                        const std::vector<std::uint64_t>& others,
                                        std::uint64_t& room_out) {
  if (others.size() > 50)
    return room_result::too_many_members;
  if (!member_exists(caller))
    return room_result::no_such_member;
  for (auto m : others) {
    if (!member_exists(m))
      return room_result::no_such_member;
  }
  std::unique_lock<std::shared_mutex> lock(created_mutex_);
  auto& r = add_room(room_type::group);
  r.extra.insert(caller);
  r.extra.insert(others.begin(), others.end());
  for (auto m : r.extra)
    member_rooms_[m].push_back(r.id);
  room_out = r.id;
  return room_result::ok;
}

room_result room_registry::private_room(std::uint64_t caller, std::uint64_t other,
                                        std::uint64_t& room_out) {
  if (!member_exists(caller) || !member_exists(other))
    return room_result::no_such_member;
  const std::uint64_t a = std::min(caller, other);
  const std::uint64_t b = std::max(caller, other);
  const std::uint64_t key = (a << 32) | b;
  std::unique_lock<std::shared_mutex> lock(created_mutex_);
  auto it = private_rooms_.find(key);
  if (it != private_rooms_.end()) {
    room_out = it->second;
    return room_result::ok;
  }
  auto& r = add_room(room_type::priv);
  r.extra.insert(a);
  r.extra.insert(b);
  member_rooms_[a].push_back(r.id);
  if (b != a)
    member_rooms_[b].push_back(r.id);
  private_rooms_.emplace(key, r.id);
  room_out = r.id;
  return room_result::ok;
}

room_result room_registry::join(std::uint64_t room, std::uint64_t member) {
  if (!member_exists(member))
    return room_result::no_such_member;
  room_state* r = find(room);
  if (r == nullptr)
    return room_result::no_such_room;
  if (r->type != room_type::group)
    return room_result::not_group;
  if (r->auto_first != 0 && member >= r->auto_first && member <= r->auto_last) {
    return room_result::ok;
  }
  bool inserted = false;
  {
    std::lock_guard<std::mutex> lock(r->mutex);
    inserted = r->extra.insert(member).second;
  }
  if (inserted) {
    std::unique_lock<std::shared_mutex> lock(created_mutex_);
    member_rooms_[member].push_back(room);
  }
  return room_result::ok;
}

std::unique_lock<std::mutex> room_registry::publish_order(std::uint64_t room) {
  room_state* r = find(room);
  if (r == nullptr)
    return {};
  return std::unique_lock<std::mutex>(r->order);
}

std::uint64_t room_registry::next_seq(std::uint64_t room) {
  room_state* r = find(room);
  if (r == nullptr)
    return 0;
  return r->seq.fetch_add(1, std::memory_order_relaxed) + 1;
}

void room_registry::set_last(std::uint64_t room, const std::string& preview,
                             const std::string& at) {
  room_state* r = find(room);
  if (r == nullptr)
    return;
  std::lock_guard<std::mutex> lock(r->mutex);
  r->last_preview = preview;
  r->last_at = at;
}

void room_registry::view(std::uint64_t room, std::uint64_t member, int delta) {
  room_state* r = find(room);
  if (r == nullptr)
    return;
  std::lock_guard<std::mutex> lock(r->mutex);
  auto& rd = r->readers[member];
  if (delta > 0) {
    ++rd.viewing;
  } else if (rd.viewing > 0 && --rd.viewing == 0) {
    rd.last_read = r->seq.load(std::memory_order_relaxed);
  }
}

void room_registry::mark_read(std::uint64_t room, std::uint64_t member, std::uint64_t seq) {
  room_state* r = find(room);
  if (r == nullptr)
    return;
  std::lock_guard<std::mutex> lock(r->mutex);
  auto& rd = r->readers[member];
  rd.last_read = std::max(rd.last_read, seq);
}

std::uint64_t room_registry::unread(std::uint64_t room, std::uint64_t member) const {
  const room_state* r = find(room);
  if (r == nullptr)
    return 0;
  std::lock_guard<std::mutex> lock(r->mutex);
  return unread_locked(*r, member, r->seq.load(std::memory_order_relaxed));
}

room_summary room_registry::summary(const room_state& r, std::uint64_t member) const {
  room_summary s;
  s.room_id = r.id;
  s.type = r.type;
  std::lock_guard<std::mutex> lock(r.mutex);
  s.last_message_preview = r.last_preview;
  s.last_message_at = r.last_at;
  s.unread_count = unread_locked(r, member, r.seq.load(std::memory_order_relaxed));
  return s;
}

std::vector<room_summary> room_registry::rooms_of(std::uint64_t member) const {
  std::vector<room_summary> out;
  if (auto a = auto_room_of(member))
    out.push_back(summary(*auto_rooms_[a - 1], member));
  std::vector<std::uint64_t> ids;
  {
    std::shared_lock<std::shared_mutex> lock(created_mutex_);
    auto it = member_rooms_.find(member);
    if (it != member_rooms_.end())
      ids = it->second;
  }
  for (auto id : ids) {
    if (const room_state* r = find(id))
      out.push_back(summary(*r, member));
  }
  return out;
}

std::vector<room_summary> room_registry::group_rooms(std::uint64_t member) const {
  std::vector<room_summary> out;
  for (const auto& r : auto_rooms_)
    out.push_back(summary(*r, member));
  std::vector<const room_state*> created;
  {
    std::shared_lock<std::shared_mutex> lock(created_mutex_);
    for (const auto& [id, r] : created_) {
      if (r->type == room_type::group)
        created.push_back(r.get());
    }
  }
  std::sort(created.begin(), created.end(),
            [](const room_state* a, const room_state* b) { return a->id < b->id; });
  for (auto* r : created)
    out.push_back(summary(*r, member));
  return out;
}

} // namespace stompede::server
