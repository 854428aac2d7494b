#include "actors/user_plan.hpp"

#include "actors/login.hpp"
#include "protocol/url.hpp"

#include <cmath>

namespace stompede {

sender_class classify_sender(std::uint32_t index, const config::behaviour_config& b) {
  double total = b.active_weight + b.moderate_weight + b.passive_weight;
  if (total <= 0)
    return sender_class::passive;
  // 61 is coprime with 100: indexes 0..99 visit every percentile once.
  double u = (static_cast<double>((static_cast<std::uint64_t>(index) * 61) % 100) + 0.5) / 100.0;
  if (u < b.active_weight / total)
    return sender_class::active;
  if (u < (b.active_weight + b.moderate_weight) / total)
    return sender_class::moderate;
  return sender_class::passive;
}

std::chrono::milliseconds send_interval(std::uint32_t index, const config::behaviour_config& b) {
  if (b.kind == config::behaviour_kind::listener)
    return std::chrono::milliseconds{0};
  double m = 1.0;
  switch (classify_sender(index, b)) {
  case sender_class::active:
    m = b.active_multiplier;
    break;
  case sender_class::moderate:
    m = b.moderate_multiplier;
    break;
  case sender_class::passive:
    m = b.passive_multiplier;
    break;
  }
  auto ms = std::llround(static_cast<double>(b.interval.count()) * m);
  return std::chrono::milliseconds{ms > 0 ? ms : 0};
}

std::int64_t room_of(std::uint32_t index, const config::rooms_config& r,
                     std::int64_t created_room) {
  switch (r.mode) {
  case config::rooms_mode::existing:
    return r.room_id;
  case config::rooms_mode::create:
    return created_room;
  case config::rooms_mode::per_users:
  default:
    return static_cast<std::int64_t>(index / std::max<std::uint32_t>(1, r.members_per_room)) + 1;
  }
}

std::vector<std::uint16_t> assign_behaviours(const std::vector<double>& weights, std::uint32_t n) {
  std::vector<std::uint16_t> out(n, 0);
  if (weights.size() <= 1)
    return out;
  double total = 0;
  for (auto w : weights)
    total += w;
  // Smooth weighted round robin: every prefix of users holds each entry's share to within one
  // user, and the assignment depends on nothing but the weights.
  std::vector<double> current(weights.size(), 0.0);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::size_t best = 0;
    for (std::size_t b = 0; b < weights.size(); ++b) {
      current[b] += weights[b];
      if (current[b] > current[best])
        best = b;
    }
    current[best] -= total;
    out[i] = static_cast<std::uint16_t>(best);
  }
  return out;
}

std::vector<user_identity> make_identities(const config::scenario& sc, std::uint32_t n,
                                           std::int64_t created_room) {
  std::vector<user_identity> ids;
  ids.reserve(n);
  std::vector<double> weights;
  for (auto& b : sc.behaviours)
    weights.push_back(b.weight);
  auto which = assign_behaviours(weights, n);
  std::vector<std::uint32_t> ordinal(std::max<std::size_t>(1, weights.size()), 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    user_identity id;
    id.index = i;
    id.member_id = sc.auth.start_id + i;
    id.room = room_of(i, sc.rooms, created_room);
    id.behaviour = which[i];
    id.behaviour_index = ordinal[which[i]]++;
    if (sc.auth.mode == config::auth_mode::token)
      id.token = sc.auth.token.reveal();
    auto& src = sc.target.source_addresses;
    if (!src.empty())
      id.source_address = src[i % src.size()];
    ids.push_back(std::move(id));
  }
  return ids;
}

session_settings make_session_settings(const config::scenario& sc) {
  session_settings s;
  if (auto u = net::parse_url(sc.target.url))
    s.ws.target = *u;
  for (auto& h : sc.target.upgrade_headers)
    s.ws.headers.emplace_back(h.name, h.value.reveal());
  s.ws.tls.verify = sc.tls.verify;
  s.ws.tls.ca_file = sc.tls.ca_file;
  s.ws.tls.cert_file = sc.tls.cert_file;
  s.ws.tls.key_file = sc.tls.key_file;
  s.ws.tls.server_name = sc.tls.server_name;
  s.ws.connect_timeout = sc.target.connect_timeout;
  s.ws.handshake_timeout = sc.target.connect_timeout;
  s.ws.max_message_bytes = static_cast<std::size_t>(sc.target.max_frame);
  s.ws.compression = sc.target.compression;
  s.ws.delayed_acks = sc.target.delayed_acks;
  s.limits.max_frame_bytes = static_cast<std::size_t>(sc.target.max_frame);
  s.limits.max_body_bytes = static_cast<std::size_t>(sc.target.max_frame);
  s.stomp.host = sc.target.host.empty() ? s.ws.target.host : sc.target.host;
  s.stomp.login = sc.auth.stomp_login.reveal();
  s.stomp.passcode = sc.auth.stomp_passcode.reveal();
  for (auto& h : sc.target.connect_headers)
    s.stomp.connect_headers.emplace_back(h.name, h.value.reveal());
  s.stomp.heartbeat.send_ms = static_cast<std::uint32_t>(sc.target.heartbeat_send.count());
  s.stomp.heartbeat.recv_ms = static_cast<std::uint32_t>(sc.target.heartbeat_recv.count());
  s.stomp.heartbeat_grace = sc.target.heartbeat_grace;
  s.subscribe_destination = message_template{sc.destinations.subscribe};
  s.send_destination = message_template{sc.destinations.send};
  s.body = message_template{sc.destinations.body};
  s.content_type = sc.destinations.content_type;
  s.stomp_connect_timeout = sc.target.handshake_timeout;
  s.round_trip_timeout = sc.output.round_trip_timeout;
  s.relogin = make_login_settings(sc);
  s.room_rest = make_room_rest_settings(sc);
  s.behaviours = make_behaviour_slots(sc);
  s.random_seed = sc.run.random_seed;
  return s;
}

} // namespace stompede
