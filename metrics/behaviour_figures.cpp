#include "metrics/behaviour_figures.hpp"

namespace stompede::metrics {

void behaviour_figures::count(std::string_view name, std::uint64_t n) {
  for (auto& [k, v] : counters)
    if (k == name) {
      v += n;
      return;
    }
  counters.emplace_back(std::string{name}, n);
}

void behaviour_figures::record(std::string_view name, std::int64_t us) {
  for (auto& [k, h] : latencies)
    if (k == name) {
      h.record(us);
      return;
    }
  latencies.emplace_back(std::string{name}, histogram{});
  latencies.back().second.record(us);
}

void behaviour_figures::merge(const behaviour_figures& o) {
  if (label.empty())
    label = o.label;
  sessions += o.sessions;
  messages_sent += o.messages_sent;
  messages_received += o.messages_received;
  connected += o.connected;
  for (auto& [k, v] : o.counters)
    count(k, v);
  for (auto& [k, h] : o.latencies) {
    bool found = false;
    for (auto& [k2, h2] : latencies)
      if (k2 == k) {
        h2.merge(h);
        found = true;
        break;
      }
    if (!found) {
      latencies.emplace_back(k, histogram{});
      latencies.back().second.merge(h);
    }
  }
}

behaviour_figures behaviour_figures::take() {
  behaviour_figures d;
  d.label = label;
  d.sessions = sessions;
  d.messages_sent = messages_sent;
  d.messages_received = messages_received;
  d.connected = connected;
  sessions = messages_sent = messages_received = 0;
  d.counters = counters;
  for (auto& [k, v] : counters)
    v = 0;
  // A moved-from histogram is empty and usable: nothing is copied or allocated here.
  for (auto& [k, h] : latencies)
    d.latencies.emplace_back(k, std::move(h));
  return d;
}

std::uint64_t behaviour_figures::counter(std::string_view name) const {
  for (auto& [k, v] : counters)
    if (k == name)
      return v;
  return 0;
}

const histogram* behaviour_figures::latency(std::string_view name) const {
  for (auto& [k, h] : latencies)
    if (k == name)
      return &h;
  return nullptr;
}

void merge(std::vector<behaviour_figures>& into, const std::vector<behaviour_figures>& from) {
  if (into.size() < from.size())
    into.resize(from.size());
  for (std::size_t i = 0; i < from.size(); ++i)
    into[i].merge(from[i]);
}

void merge_interval(std::vector<behaviour_figures>& total,
                    const std::vector<behaviour_figures>& interval) {
  merge(total, interval);
  for (std::size_t i = 0; i < interval.size(); ++i)
    total[i].connected = interval[i].connected;
}

} // namespace stompede::metrics
