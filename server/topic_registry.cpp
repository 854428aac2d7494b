#include "server/topic_registry.hpp"

#include "protocol/utf8.hpp"

namespace stompede::server::detail {

void topic_registry::add(const std::string& topic, subscriber s) {
  s.sub_id_utf8 = valid_utf8(s.sub_id); // once, not per delivery
  auto& sh = shard_of(topic);
  std::lock_guard<std::mutex> lock(sh.mutex);
  auto& slot = sh.topics[topic];
  auto next = slot ? std::make_shared<subscriber_list>(*slot) : std::make_shared<subscriber_list>();
  next->push_back(std::move(s));
  slot = std::move(next);
}

void topic_registry::remove(const std::string& topic, const connection* session,
                            const std::string& sub_id) {
  auto& sh = shard_of(topic);
  std::lock_guard<std::mutex> lock(sh.mutex);
  auto it = sh.topics.find(topic);
  if (it == sh.topics.end())
    return;
  auto next = std::make_shared<subscriber_list>();
  next->reserve(it->second->size());
  for (const auto& s : *it->second) {
    if (s.session.get() != session || s.sub_id != sub_id)
      next->push_back(s);
  }
  if (next->empty()) {
    sh.topics.erase(it);
  } else {
    it->second = std::move(next);
  }
}

std::shared_ptr<const subscriber_list> topic_registry::snapshot(const std::string& topic) const {
  auto& sh = shard_of(topic);
  std::lock_guard<std::mutex> lock(sh.mutex);
  auto it = sh.topics.find(topic);
  return it == sh.topics.end() ? nullptr : it->second;
}

} // namespace stompede::server::detail
