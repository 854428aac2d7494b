#include "actors/fault_lanes.hpp"

#include "actors/user_fault.hpp"
#include "proxy/fault_proxy.hpp"

#include <algorithm>
#include <stdexcept>

namespace stompede {

fault_lanes::fault_lanes() = default;

fault_lanes::~fault_lanes() {
  stop();
}

bool fault_lanes::start(const config::scenario& sc, const std::vector<fault_spec>& specs,
                        net::url& target, std::vector<user_identity>& ids, std::string& why) {
  // The entries whose cohort splits the users.
  std::vector<std::size_t> split;
  for (std::size_t i = 0; i < specs.size(); ++i)
    if (specs[i].proxy_cohort)
      split.push_back(i);
  auto open_lane = [&]() -> bool {
    proxy::proxy_options po;
    po.upstream_host = target.host;
    po.upstream_port = target.port;
    po.seed = sc.run.random_seed + 1 + proxies_.size();
    auto p = proxy::fault_proxy::start(po, why);
    if (!p)
      return false;
    proxies_.push_back(std::move(p));
    return true;
  };
  // A user's lane is the set of split cohorts it is in; lane 0 is the first user's (or the
  // only one).
  std::map<std::vector<bool>, std::size_t> lane_of;
  std::vector<std::vector<bool>> signature_of_lane;
  std::vector<std::size_t> user_lane(ids.size(), 0);
  for (std::size_t u = 0; u < ids.size(); ++u) {
    std::vector<bool> sig;
    for (auto i : split)
      sig.push_back(in_cohort(*specs[i].proxy_cohort, ids[u].index, ids[u].room,
                              static_cast<int>(ids[u].behaviour)));
    auto [it, fresh] = lane_of.emplace(sig, proxies_.size());
    if (fresh) {
      if (!open_lane()) {
        stop();
        return false;
      }
      signature_of_lane.push_back(sig);
    }
    user_lane[u] = it->second;
  }
  if (proxies_.empty()) {
    if (!open_lane())
      return false;
    signature_of_lane.emplace_back(split.size(), false);
  }
  // Which lanes each entry acts on: all, or those whose users are in its cohort.
  lanes_of_entry_.assign(specs.size(), {});
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto pos = std::find(split.begin(), split.end(), i);
    for (std::size_t l = 0; l < proxies_.size(); ++l)
      if (pos == split.end() || signature_of_lane[l][static_cast<std::size_t>(pos - split.begin())])
        lanes_of_entry_[i].push_back(l);
  }
  target.host = proxies_.front()->host();
  target.port = proxies_.front()->port();
  if (proxies_.size() > 1)
    for (std::size_t u = 0; u < ids.size(); ++u)
      ids[u].ws_port = proxies_[user_lane[u]]->port();
  return true;
}

const std::vector<std::size_t>& fault_lanes::lanes_of(std::uint32_t entry) const {
  static const std::vector<std::size_t> none;
  return entry < lanes_of_entry_.size() ? lanes_of_entry_[entry] : none;
}

proxy_fault_port fault_lanes::port() {
  proxy_fault_port p;
  if (proxies_.empty())
    return p;
  p.add = [this](std::uint32_t entry, const std::string& spec, double toxicity,
                 std::uint64_t& id) -> std::string {
    std::string why;
    auto t = proxy::parse_toxic(spec, why);
    if (!t)
      return "the fault proxy refuses \"" + spec + "\": " + why;
    t->toxicity = toxicity;
    t->name = spec;
    std::vector<std::pair<std::size_t, std::uint64_t>> parts;
    try {
      for (auto l : lanes_of(entry))
        parts.emplace_back(l, proxies_[l]->add_toxic(*t));
    } catch (const std::exception& e) {
      for (auto& [l, tid] : parts)
        proxies_[l]->remove_toxic(tid);
      return std::string{e.what()};
    }
    std::lock_guard<std::mutex> guard(mutex_);
    id = next_id_++;
    toxics_[id] = std::move(parts);
    return {};
  };
  p.remove = [this](std::uint64_t id, std::int64_t& affected) -> std::string {
    std::vector<std::pair<std::size_t, std::uint64_t>> parts;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      auto it = toxics_.find(id);
      if (it == toxics_.end())
        return "the fault proxy has no toxic " + std::to_string(id);
      parts = std::move(it->second);
      toxics_.erase(it);
    }
    affected = 0;
    for (auto& [l, tid] : parts)
      if (auto c = proxies_[l]->remove_toxic(tid))
        affected += static_cast<std::int64_t>(c->connections_affected);
    return {};
  };
  p.refuse = [this](std::uint32_t entry, bool on) -> std::string {
    for (auto l : lanes_of(entry))
      proxies_[l]->refuse_new_connections(on);
    return {};
  };
  return p;
}

void fault_lanes::stop() {
  for (auto& p : proxies_)
    if (p)
      p->stop();
}

} // namespace stompede
