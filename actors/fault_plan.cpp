#include "actors/fault_plan.hpp"

#include "actors/user_plan.hpp"

#include "config/duration.hpp"
#include "proxy/fault_proxy.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <variant>

namespace stompede {

namespace {

using config::fault_kind;
using call = server_fault_call;

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%%", f * 100.0);
  return buf;
}

call make(call::op what, bool on = false) {
  call c;
  c.what = what;
  c.on = on;
  return c;
}

user_fault to_user_fault(fault_kind k) {
  switch (k) {
  case fault_kind::user_close:
    return user_fault::close;
  case fault_kind::user_crash:
    return user_fault::crash;
  case fault_kind::user_stop_reading:
    return user_fault::stop_reading;
  case fault_kind::user_stop_heartbeats:
    return user_fault::stop_heartbeats;
  case fault_kind::user_malformed_frame:
    return user_fault::malformed_frame;
  case fault_kind::user_token_expiry:
    return user_fault::token_expiry;
  default:
    return user_fault::drop;
  }
}

/// The server calls of a server-side kind.
void server_calls(const config::fault_entry& f, fault_spec& s) {
  switch (f.kind) {
  case fault_kind::server_pause:
    s.apply.push_back(make(call::op::pause_reading, true));
    s.rollback.push_back(make(call::op::pause_reading, false));
    s.target = "the server (reads paused)";
    s.hit_counter = &server_fault_tally::paused_sessions;
    break;
  case fault_kind::server_delay_broadcasts: {
    auto c = make(call::op::delay_broadcasts);
    c.delay = f.delay;
    s.apply.push_back(c);
    s.rollback.push_back(make(call::op::delay_broadcasts));
    s.target = "every broadcast, delayed " + config::format_duration(f.delay);
    s.hit_counter = &server_fault_tally::delayed_broadcasts;
    break;
  }
  case fault_kind::server_drop_broadcasts: {
    auto c = make(call::op::drop_broadcasts);
    c.fraction = f.fraction;
    s.apply.push_back(c);
    s.rollback.push_back(make(call::op::drop_broadcasts));
    s.target = percent(f.fraction) + " of the broadcasts";
    s.hit_counter = &server_fault_tally::dropped_broadcasts;
    break;
  }
  case fault_kind::server_close_sessions: {
    auto c = make(call::op::close_sessions);
    c.fraction = f.fraction;
    c.abortive = f.abortive;
    s.apply.push_back(c);
    s.target = percent(f.fraction) + " of the server's sessions" +
               (f.abortive ? " (TCP reset)" : " (WebSocket close 1001)");
    s.hit_counter = &server_fault_tally::closed_sessions;
    break;
  }
  case fault_kind::server_refuse_connections:
    s.apply.push_back(make(call::op::refuse_connections, true));
    s.rollback.push_back(make(call::op::refuse_connections, false));
    s.target = "new connections (refused)";
    s.hit_counter = &server_fault_tally::refused_connections;
    break;
  case fault_kind::server_error: {
    auto c = make(call::op::error_sessions);
    c.fraction = f.fraction;
    c.message = f.message;
    s.apply.push_back(c);
    s.target = percent(f.fraction) + " of the server's sessions (ERROR \"" + f.message + "\")";
    s.hit_counter = &server_fault_tally::error_sessions;
    break;
  }
  case fault_kind::server_restart: {
    // Down: no new connections, every session cut; up again: a fresh listener.
    s.apply.push_back(make(call::op::refuse_connections, true));
    auto c = make(call::op::close_sessions);
    c.fraction = 1.0;
    c.abortive = true;
    s.apply.push_back(c);
    s.rollback.push_back(make(call::op::restart_listener));
    s.rollback.push_back(make(call::op::refuse_connections, false));
    s.target = "the whole server (down, then a fresh listener)";
    s.hit_counter = &server_fault_tally::closed_sessions;
    break;
  }
  case fault_kind::server_stall: {
    auto c = make(call::op::stall_io);
    c.delay = f.delay;
    s.apply.push_back(c);
    s.rollback.push_back(make(call::op::stall_io));
    s.target = "the server's IO threads, held " + config::format_duration(f.delay) +
               " every turn of their queues";
    s.hit_counter = &server_fault_tally::stalled_turns;
    break;
  }
  default:
    break;
  }
}

} // namespace

namespace {

bool has_cohort(const config::fault_entry& f) {
  return !f.rooms.empty() || !f.behaviour.empty() || !f.stage.empty();
}

/// The cohort of `f` as a user-fault order (fraction, rooms, behaviour, stage's index range).
user_fault_order cohort_order(const config::scenario& sc, const config::fault_entry& f,
                              const std::vector<std::string>& behaviour_labels) {
  user_fault_order o;
  o.kind = to_user_fault(f.kind);
  o.fraction = f.fraction;
  o.rooms = f.rooms;
  o.seed = sc.run.random_seed;
  if (!f.behaviour.empty()) {
    auto it = std::find(behaviour_labels.begin(), behaviour_labels.end(), f.behaviour);
    o.behaviour = it == behaviour_labels.end()
                      ? static_cast<int>(behaviour_labels.size()) // matches nobody
                      : static_cast<int>(it - behaviour_labels.begin());
  }
  if (!f.stage.empty()) {
    std::uint32_t before = 0;
    for (auto& st : sc.stages) {
      if (st.name == f.stage) {
        o.index_from = before;
        o.index_to = std::max(before, st.users);
        break;
      }
      before = std::max(before, st.users);
    }
  }
  return o;
}

/// The cohort in words after "users" / "sessions" ("" without one).
std::string cohort_words(const config::fault_entry& f, const char* of_what) {
  std::string who;
  if (!f.rooms.empty()) {
    who += std::string{" "} + of_what + " room" + (f.rooms.size() > 1 ? "s " : " ");
    for (std::size_t i = 0; i < f.rooms.size(); ++i)
      who += (i == 0 ? "" : ", ") + std::to_string(f.rooms[i]);
  }
  if (!f.behaviour.empty())
    who += " running \"" + f.behaviour + "\"";
  if (!f.stage.empty())
    who += " added by stage \"" + f.stage + "\"";
  return who;
}

} // namespace

std::vector<fault_spec> make_fault_specs(const config::scenario& sc,
                                         const std::vector<std::string>& behaviour_labels,
                                         std::uint32_t users) {
  std::vector<fault_spec> out;
  std::optional<std::vector<user_identity>> ids; // made once, when a cohort needs them
  for (const auto& f : sc.faults) {
    fault_spec s;
    s.name = f.name;
    s.kind = f.kind_name();
    s.at = f.at;
    s.every = f.every;
    s.times = f.times;
    s.duration = f.duration;
    auto o = cohort_order(sc, f, behaviour_labels);
    if (config::is_proxy_fault(f.kind)) {
      // The engine routes a cohort's users through their own proxy lane (fault_lanes).
      if (has_cohort(f)) {
        auto lane = o;
        lane.fraction = 1.0;
        s.proxy_cohort = lane;
      }
      if (f.kind == fault_kind::proxy_refuse) {
        s.proxy_refuse = true;
        s.target = "new connections through the fault proxy" +
                   (has_cohort(f) ? " of the users" + cohort_words(f, "in") : std::string{}) +
                   " (refused)";
      } else {
        s.toxic = toxic_spec(f);
        s.toxicity = f.fraction;
        s.target = percent(f.fraction) + " of the connections through the fault proxy" +
                   (has_cohort(f) ? " of the users" + cohort_words(f, "in") : std::string{}) +
                   " (" + s.toxic + ")";
      }
      out.push_back(std::move(s));
      continue;
    }
    if (!config::is_user_fault(f.kind)) {
      server_calls(f, s);
      if (has_cohort(f)) {
        std::vector<std::int64_t> members;
        if (!f.behaviour.empty() || !f.stage.empty()) {
          if (!ids)
            ids = make_identities(sc, users);
          auto by_user = o;
          by_user.rooms.clear(); // the server checks rooms itself
          by_user.fraction = 1.0;
          for (auto& id : *ids)
            if (in_cohort(by_user, id.index, id.room, id.behaviour))
              members.push_back(id.member_id);
          if (members.empty())
            members.push_back(0); // member 0 is nobody: a cohort of nobody still narrows it
        }
        for (auto* calls : {&s.apply, &s.rollback})
          for (auto& c : *calls) {
            c.rooms = f.rooms;
            c.members = members;
          }
        const bool broadcasts = f.kind == fault_kind::server_delay_broadcasts ||
                                f.kind == fault_kind::server_drop_broadcasts;
        if (!broadcasts) {
          s.target += ", sessions of the users" + cohort_words(f, "in");
        } else {
          // Broadcasts match by room and by sender.
          auto rooms_only = f;
          rooms_only.behaviour.clear();
          rooms_only.stage.clear();
          auto senders_only = f;
          senders_only.rooms.clear();
          std::string who = cohort_words(rooms_only, "in");
          if (!senders_only.behaviour.empty() || !senders_only.stage.empty())
            who += " sent by users" + cohort_words(senders_only, "in");
          s.target += ", broadcasts" + who;
        }
      }
      out.push_back(std::move(s));
      continue;
    }
    s.user = o;
    s.target = percent(f.fraction) + " of the connected users" + cohort_words(f, "in");
    out.push_back(std::move(s));
  }
  return out;
}

metrics::experiment_settings make_experiment_settings(const config::scenario& sc) {
  metrics::experiment_settings x;
  for (auto& text : sc.experiment.hypothesis) {
    auto parsed = metrics::parse_threshold(text);
    if (auto* t = std::get_if<metrics::threshold>(&parsed))
      x.hypothesis.push_back(std::move(*t));
  }
  auto secs = [](std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; };
  x.baseline_s = secs(sc.experiment.baseline);
  x.recovery_deadline_s = secs(sc.experiment.recovery_deadline);
  x.hold_during_faults = sc.experiment.hold_during_faults;
  x.first_fault_s = 0.0;
  bool any = false;
  for (auto& f : sc.faults) {
    auto at = secs(f.at);
    x.first_fault_s = any ? std::min(x.first_fault_s, at) : at;
    any = true;
  }
  return x;
}

bool has_server_faults(const config::scenario& sc) {
  return std::any_of(sc.faults.begin(), sc.faults.end(), [](const config::fault_entry& f) {
    return !config::is_user_fault(f.kind) && !config::is_proxy_fault(f.kind);
  });
}

bool has_proxy_faults(const config::scenario& sc) {
  return std::any_of(sc.faults.begin(), sc.faults.end(),
                     [](const config::fault_entry& f) { return config::is_proxy_fault(f.kind); });
}

std::string toxic_spec(const config::fault_entry& f) {
  return f.toxic.empty() ? f.proxy_toxic : f.proxy_toxic + ":" + f.toxic;
}

std::vector<config::diagnostic> check_fault_toxics(const config::scenario& sc) {
  std::vector<config::diagnostic> out;
  for (std::size_t i = 0; i < sc.faults.size(); ++i) {
    const auto& f = sc.faults[i];
    if (f.kind != fault_kind::proxy_toxic)
      continue;
    std::string why;
    if (proxy::parse_toxic(toxic_spec(f), why))
      continue;
    const std::string p = "fault[" + std::to_string(i) + "]";
    std::string key = f.toxic.empty() ? p + ".kind" : p + ".toxic";
    config::source_position where;
    if (auto it = sc.positions.find(key); it != sc.positions.end())
      where = it->second;
    else if (auto jt = sc.positions.find(p); jt != sc.positions.end())
      where = jt->second;
    if (where.file.empty())
      where.file = sc.source;
    out.push_back({where.file, where.line, where.column, key,
                   "the fault proxy refuses \"" + toxic_spec(f) + "\": " + why});
  }
  return out;
}

} // namespace stompede
