#include "config/print.hpp"

#include "config/duration.hpp"

#include <cstdio>
#include <sstream>

namespace stompede::config {

namespace {

std::string str(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
        out += buf;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

/// Set by to_toml_with_secrets for the length of one call on this thread.
thread_local bool reveal_secrets = false;

std::string sec(const secret& s) {
  return str(reveal_secrets ? s.reveal() : s.redacted());
}

/// A URL with the values of credential-like query parameters and any userinfo as `***`
/// (redact_url); as it is for to_toml_with_secrets.
std::string url(const std::string& u) {
  return str(reveal_secrets ? u : redact_url(u));
}

std::string dur(std::chrono::milliseconds d) {
  return str(format_duration(d));
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  std::string out = buf;
  if (out.find_first_of(".eEn") == std::string::npos)
    out += ".0"; // a TOML float needs a fraction or an exponent
  return out;
}

std::string boolean(bool b) {
  return b ? "true" : "false";
}

/// A header name as a TOML key: bare when it can be, quoted otherwise.
std::string key(const std::string& k) {
  bool bare = !k.empty();
  for (char c : k)
    bare = bare && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-');
  return bare ? k : str(k);
}

void headers(std::ostringstream& o, const char* table, const std::vector<header>& hs) {
  if (hs.empty())
    return;
  o << "\n[" << table << "]\n";
  for (const auto& h : hs)
    o << key(h.name) << " = "
      << (is_sensitive_header(h.name) ? sec(h.value) : str(h.value.reveal())) << "\n";
}

std::string print_steps(const std::vector<step>& steps);

std::string print_step(const step& st) {
  std::ostringstream o;
  o << "{ ";
  switch (st.type) {
  case step::kind::send:
    o << "send = " << str(st.text);
    if (!st.destination.empty())
      o << ", to = " << str(st.destination);
    if (!st.content_type.empty())
      o << ", content_type = " << str(st.content_type);
    if (st.receipt)
      o << ", receipt = true";
    break;
  case step::kind::chat:
    o << "chat = true";
    break;
  case step::kind::wait:
    o << "wait = " << str(st.name);
    if (!st.destination.empty())
      o << ", destination = " << str(st.destination);
    if (!st.header.empty())
      o << ", header = " << str(st.header + ":" + st.header_pattern);
    if (!st.text.empty())
      o << ", body = " << str(st.text);
    o << ", timeout = " << dur(st.duration);
    break;
  case step::kind::sleep:
    o << "sleep = " << dur(st.duration);
    if (st.jitter.count() > 0)
      o << ", jitter = " << dur(st.jitter);
    break;
  case step::kind::subscribe:
    o << "subscribe = " << str(st.destination) << ", ack_mode = " << str(st.ack_mode);
    break;
  case step::kind::unsubscribe:
    o << "unsubscribe = " << str(st.destination);
    break;
  case step::kind::ack:
    o << (st.negative ? "nack = true" : "ack = true");
    break;
  case step::kind::repeat:
    o << "repeat = ";
    if (st.until_stage_end)
      o << "\"stage\"";
    else if (st.times == 0)
      o << "\"forever\"";
    else
      o << st.times;
    o << ", steps = " << print_steps(st.steps);
    break;
  case step::kind::chance:
    o << "chance = " << num(st.probability) << ", steps = " << print_steps(st.steps);
    if (!st.otherwise.empty())
      o << ", otherwise = " << print_steps(st.otherwise);
    break;
  case step::kind::reconnect:
    o << "reconnect = true";
    break;
  }
  o << " }";
  return o.str();
}

std::string print_steps(const std::vector<step>& steps) {
  std::string out = "[";
  for (std::size_t i = 0; i < steps.size(); ++i)
    out += (i == 0 ? " " : ", ") + print_step(steps[i]);
  return out + " ]";
}

} // namespace

std::string to_toml(const scenario& s) {
  std::ostringstream o;
  o << "# Effective scenario";
  if (!s.source.empty())
    o << " loaded from " << s.source;
  o << "; secrets are shown as \"***\".\n";

  const auto& t = s.target;
  o << "\n[target]\n"
    << "url = " << url(t.url) << "\n"
    << "http_url = " << url(t.http_url) << "\n"
    << "embedded = " << boolean(t.embedded) << "\n"
    << "embedded_cert_file = " << str(t.embedded_cert_file) << "\n"
    << "embedded_key_file = " << str(t.embedded_key_file) << "\n"
    << "host = " << str(t.host) << "\n"
    << "heartbeat = "
    << str(format_duration(t.heartbeat_send) + "," + format_duration(t.heartbeat_recv)) << "\n"
    << "heartbeat_grace = " << num(t.heartbeat_grace) << "\n"
    << "connect_timeout = " << dur(t.connect_timeout) << "\n"
    << "handshake_timeout = " << dur(t.handshake_timeout) << "\n"
    << "max_frame = " << str(format_size(t.max_frame)) << "\n"
    << "compression = " << boolean(t.compression) << "\n"
    << "delayed_acks = " << boolean(t.delayed_acks) << "\n"
    << "source_addresses = [";
  for (std::size_t i = 0; i < t.source_addresses.size(); ++i)
    o << (i == 0 ? "" : ", ") << str(t.source_addresses[i]);
  o << "]\n"
    << "i_own_this_target = " << boolean(t.i_own_this_target) << "\n";
  headers(o, "target.connect_headers", t.connect_headers);
  headers(o, "target.upgrade_headers", t.upgrade_headers);

  const auto& a = s.auth;
  o << "\n[auth]\n"
    << "mode = " << str(to_string(a.mode)) << "\n"
    << "token = " << sec(a.token) << "\n"
    << "email = " << str(a.email) << "\n"
    << "start_id = " << a.start_id << "\n"
    << "password = " << sec(a.password) << "\n"
    << "concurrency = " << a.concurrency << "\n"
    << "login_path = " << str(a.login_path) << "\n"
    << "stomp_login = " << sec(a.stomp_login) << "\n"
    << "stomp_passcode = " << sec(a.stomp_passcode) << "\n";

  const auto& r = s.rooms;
  o << "\n[rooms]\n"
    << "mode = " << str(to_string(r.mode)) << "\n"
    << "room_id = " << r.room_id << "\n"
    << "members_per_room = " << r.members_per_room << "\n"
    << "member_ids = [";
  for (std::size_t i = 0; i < r.member_ids.size(); ++i)
    o << (i == 0 ? "" : ", ") << r.member_ids[i];
  o << "]\n"
    << "create_path = " << str(r.create_path) << "\n";

  const auto& d = s.destinations;
  o << "\n[destinations]\n"
    << "subscribe = " << str(d.subscribe) << "\n"
    << "send = " << str(d.send) << "\n"
    << "content_type = " << str(d.content_type) << "\n"
    << "body = " << str(d.body) << "\n";

  for (const auto& st : s.stages) {
    o << "\n[[stage]]\n"
      << "name = " << str(st.name) << "\n"
      << "users = " << st.users << "\n"
      << "duration = " << dur(st.duration) << "\n"
      << "ramp = " << dur(st.ramp) << "\n"
      << "min_start_gap = " << dur(st.min_start_gap) << "\n";
    if (st.arrival_rate > 0)
      o << "arrival_rate = " << num(st.arrival_rate) << "\n"
        << "session_length = " << dur(st.session_length) << "\n";
    if (st.arrival_rate > 0 && st.session_length_max.count() > 0)
      o << "session_length_max = " << dur(st.session_length_max) << "\n";
    o << "wait_for = " << str(to_string(st.wait_for)) << "\n";
  }

  for (const auto& e : s.behaviours) {
    o << "\n[[behaviour]]\n"
      << "name = " << str(e.name) << "\n";
    if (!e.label.empty())
      o << "label = " << str(e.label) << "\n";
    o << "weight = " << num(e.weight) << "\n";
    if (!e.data_file.empty())
      o << "data = " << str(e.data_file) << "\n";
    for (const auto& p : e.params) {
      o << p.key << " = ";
      switch (p.type) {
      case behaviour_param::kind::string:
        o << str(p.text);
        break;
      case behaviour_param::kind::floating:
        o << num(p.number);
        break;
      default:
        o << p.text;
      }
      o << "\n";
    }
    if (!e.steps.empty())
      o << "steps = " << print_steps(e.steps) << "\n";
  }

  const auto& b = s.behaviour;
  if (s.behaviours.empty())
    o << "\n[behaviour]\n"
      << "kind = " << str(to_string(b.kind)) << "\n"
      << "interval = " << dur(b.interval) << "\n"
      << "active_weight = " << num(b.active_weight) << "\n"
      << "moderate_weight = " << num(b.moderate_weight) << "\n"
      << "passive_weight = " << num(b.passive_weight) << "\n"
      << "active_multiplier = " << num(b.active_multiplier) << "\n"
      << "moderate_multiplier = " << num(b.moderate_multiplier) << "\n"
      << "passive_multiplier = " << num(b.passive_multiplier) << "\n";

  const auto& rc = s.reconnect;
  o << "\n[reconnect]\n"
    << "enabled = " << boolean(rc.enabled) << "\n"
    << "max_attempts = " << rc.max_attempts << "\n"
    << "initial = " << dur(rc.initial) << "\n"
    << "max = " << dur(rc.max) << "\n"
    << "multiplier = " << num(rc.multiplier) << "\n"
    << "jitter = " << num(rc.jitter) << "\n"
    << "healthy_reset = " << dur(rc.healthy_reset) << "\n";

  const auto& tl = s.tls;
  o << "\n[tls]\n"
    << "verify = " << boolean(tl.verify) << "\n"
    << "ca_file = " << str(tl.ca_file) << "\n"
    << "cert_file = " << str(tl.cert_file) << "\n"
    << "key_file = " << str(tl.key_file) << "\n"
    << "server_name = " << str(tl.server_name) << "\n";

  const auto& ou = s.output;
  o << "\n[output]\n"
    << "dir = " << str(ou.dir) << "\n"
    << "prometheus = " << str(ou.prometheus) << "\n"
    << "allow_public_metrics = " << boolean(ou.allow_public_metrics) << "\n"
    << "csv = " << boolean(ou.csv) << "\n"
    << "round_trip_timeout = " << dur(ou.round_trip_timeout) << "\n"
    << "html = " << boolean(ou.html) << "\n"
    << "prometheus_linger = " << dur(ou.prometheus_linger) << "\n";

  o << "\n[run]\n"
    << "io_threads = " << s.run.io_threads << "\n"
    << "users_per_shard = " << s.run.users_per_shard << "\n"
    << "random_seed = " << s.run.random_seed << "\n";

  const auto& th = s.thresholds;
  o << "\n[thresholds]\n"
    << "checks = [";
  for (std::size_t i = 0; i < th.checks.size(); ++i)
    o << (i == 0 ? "" : ", ") << str(th.checks[i]);
  o << "]\n"
    << "abort_on_fail = " << boolean(th.abort_on_fail) << "\n"
    << "abort_grace = " << dur(th.abort_grace) << "\n";

  o << "\n[control]\n"
    << "listen = " << str(s.control.listen) << "\n"
    << "keys = " << boolean(s.control.keys) << "\n";

  const auto& sm = s.server_metrics;
  o << "\n[server_metrics]\n"
    << "pid = " << sm.pid << "\n"
    << "prometheus_url = " << url(sm.prometheus_url) << "\n"
    << "names = [";
  for (std::size_t i = 0; i < sm.names.size(); ++i)
    o << (i == 0 ? "" : ", ") << str(sm.names[i]);
  o << "]\n";

  const auto& x = s.experiment;
  if (x.enabled) {
    o << "\n[experiment]\n"
      << "hypothesis = [";
    for (std::size_t i = 0; i < x.hypothesis.size(); ++i)
      o << (i == 0 ? "" : ", ") << str(x.hypothesis[i]);
    o << "]\n"
      << "baseline = " << dur(x.baseline) << "\n"
      << "recovery_deadline = " << dur(x.recovery_deadline) << "\n"
      << "hold_during_faults = " << boolean(x.hold_during_faults) << "\n"
      << "admin_url = " << url(x.admin_url) << "\n"
      << "admin_token = " << sec(x.admin_token) << "\n";
  }
  for (const auto& f : s.faults) {
    o << "\n[[fault]]\n"
      << "name = " << str(f.name) << "\n"
      << "kind = " << str(f.kind_name()) << "\n"
      << "at = " << dur(f.at) << "\n";
    if (f.every.count() > 0)
      o << "every = " << dur(f.every) << "\n"
        << "times = " << f.times << "\n";
    o << "duration = " << dur(f.duration) << "\n"
      << "fraction = " << num(f.fraction) << "\n";
    if (!f.rooms.empty()) {
      o << "rooms = [";
      for (std::size_t i = 0; i < f.rooms.size(); ++i)
        o << (i == 0 ? "" : ", ") << f.rooms[i];
      o << "]\n";
    }
    if (!f.behaviour.empty())
      o << "behaviour = " << str(f.behaviour) << "\n";
    if (!f.stage.empty())
      o << "stage = " << str(f.stage) << "\n";
    if (f.kind == fault_kind::server_delay_broadcasts || f.kind == fault_kind::server_stall)
      o << "delay = " << dur(f.delay) << "\n";
    if (f.kind == fault_kind::server_error)
      o << "message = " << str(f.message) << "\n";
    if (f.kind == fault_kind::server_close_sessions)
      o << "abortive = " << boolean(f.abortive) << "\n";
    if (f.kind == fault_kind::proxy_toxic)
      o << "toxic = " << str(f.toxic) << "\n";
  }

  return o.str();
}

std::string to_toml_with_secrets(const scenario& s) {
  reveal_secrets = true;
  auto out = to_toml(s);
  reveal_secrets = false;
  return out;
}

} // namespace stompede::config
