#include "protocol/stomp_client.hpp"

#include <algorithm>
#include <charconv>

namespace stompede::stomp {

namespace {

/// Removes the first element equal to `v`, if any (order is not kept).
void erase_one(std::vector<std::string>& set, std::string_view v) {
  auto it = std::find(set.begin(), set.end(), v);
  if (it == set.end())
    return;
  if (it != set.end() - 1)
    *it = std::move(set.back());
  set.pop_back();
}

// Frames are written straight into the caller's buffer: no intermediate `frame`, so a SEND
// costs the growth of `out` and nothing else.
void begin_frame(std::string& out, command c) {
  out.append(to_string(c));
  out.push_back('\n');
}

void header(std::string& out, std::string_view name, std::string_view value) {
  escape_to(name, out);
  out.push_back(':');
  escape_to(value, out);
  out.push_back('\n');
}

void raw_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.push_back(':');
  out.append(value);
  out.push_back('\n');
}

void end_frame(std::string& out, std::string_view body = {}) {
  out.push_back('\n');
  out.append(body);
  out.push_back('\0');
}

std::string_view first_line(std::string_view s, std::size_t cap) {
  auto nl = s.find_first_of("\r\n");
  if (nl != std::string_view::npos)
    s = s.substr(0, nl);
  return s.substr(0, cap);
}

client_event make_event(client_event::kind_t kind, const frame_view& f) {
  client_event ev;
  ev.kind = kind;
  ev.frame = &f;
  return ev;
}

client_event violation(const frame_view& f, errc e) {
  client_event ev = make_event(client_event::protocol_violation, f);
  ev.error_code = make_error_code(e);
  return ev;
}

} // namespace

client_session::client_session(client_options opts) : opts_(std::move(opts)) {}

void client_session::connect(std::string& out) {
  // CONNECT headers are never escaped (ST-06): a passcode "pa:ss" goes out as is.
  begin_frame(out, opts_.use_stomp_command ? command::stomp : command::connect);
  raw_header(out, "accept-version", "1.2");
  raw_header(out, "host", opts_.host);
  if (!opts_.login.empty())
    raw_header(out, "login", opts_.login);
  if (!opts_.passcode.empty())
    raw_header(out, "passcode", opts_.passcode);
  raw_header(out, "heart-beat", to_string(opts_.heartbeat));
  for (const auto& [n, v] : opts_.connect_headers)
    raw_header(out, n, v);
  end_frame(out);
  state_ = client_state::connecting;
  plan_ = {};
  pending_receipts_.clear();
  disconnect_receipt_.clear();
}

void client_session::subscribe(std::string& out, std::string_view id, std::string_view destination,
                               std::string_view ack,
                               const std::vector<std::pair<std::string, std::string>>& extra) {
  begin_frame(out, command::subscribe);
  header(out, "id", id);
  header(out, "destination", destination);
  header(out, "ack", ack);
  for (const auto& [n, v] : extra)
    header(out, n, v);
  end_frame(out);
  if (std::find(subscriptions_.begin(), subscriptions_.end(), id) == subscriptions_.end())
    subscriptions_.emplace_back(id);
}

void client_session::unsubscribe(std::string& out, std::string_view id) {
  begin_frame(out, command::unsubscribe);
  header(out, "id", id);
  end_frame(out);
  erase_one(subscriptions_, id);
}

void client_session::send(std::string& out, std::string_view destination, std::string_view body,
                          std::string_view content_type, std::optional<std::string_view> receipt,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  begin_frame(out, command::send);
  header(out, "destination", destination);
  if (!content_type.empty())
    header(out, "content-type", content_type);
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, body.size());
  out.append("content-length:");
  out.append(digits, static_cast<std::size_t>(r.ptr - digits));
  out.push_back('\n');
  if (receipt) {
    header(out, "receipt", *receipt);
    pending_receipts_.emplace_back(*receipt);
  }
  for (const auto& [n, v] : extra)
    header(out, n, v);
  end_frame(out, body);
}

void client_session::ack(std::string& out, std::string_view ack_id) {
  begin_frame(out, command::ack);
  header(out, "id", ack_id);
  end_frame(out);
}

void client_session::nack(std::string& out, std::string_view ack_id) {
  begin_frame(out, command::nack);
  header(out, "id", ack_id);
  end_frame(out);
}

void client_session::disconnect(std::string& out, std::string_view receipt) {
  begin_frame(out, command::disconnect);
  if (!receipt.empty()) {
    header(out, "receipt", receipt);
    disconnect_receipt_.assign(receipt.data(), receipt.size());
    pending_receipts_.emplace_back(receipt);
  }
  end_frame(out);
  state_ = client_state::disconnecting;
}

client_event client_session::on_frame(const frame_view& f) {
  if (state_ == client_state::closed || state_ == client_state::idle)
    return violation(f, errc::unexpected_frame);

  switch (f.cmd) {
  case command::connected: {
    if (state_ != client_state::connecting) {
      state_ = client_state::closed;
      return violation(f, errc::unexpected_frame);
    }
    // We offer 1.2 only; 1.1 differs from it in no way this client relies on, so a server
    // that answers 1.1 is tolerated. A CONNECTED without version is a 1.0 server.
    auto version = f.get("version");
    if (!version) {
      state_ = client_state::closed;
      return violation(f, errc::missing_header);
    }
    if (*version != "1.2" && *version != "1.1") {
      state_ = client_state::closed;
      return violation(f, errc::unsupported_version);
    }
    heartbeat_spec theirs{}; // a missing heart-beat header means 0,0 (ST-03)
    if (auto hb = f.get("heart-beat")) {
      auto parsed = parse_heartbeat(*hb);
      if (!parsed) {
        state_ = client_state::closed;
        return violation(f, errc::malformed_header);
      }
      theirs = *parsed;
    }
    plan_ = negotiate(opts_.heartbeat, theirs, opts_.heartbeat_grace);
    state_ = client_state::connected;
    // The credentials served the CONNECT only: a connected session keeps no copy of them.
    std::string().swap(opts_.login);
    std::string().swap(opts_.passcode);
    std::vector<std::pair<std::string, std::string>>().swap(opts_.connect_headers);
    client_event ev = make_event(client_event::connected, f);
    ev.heartbeat = plan_;
    ev.text = f.get("server").value_or(std::string_view{});
    return ev;
  }
  case command::message: {
    if (state_ == client_state::connecting) {
      state_ = client_state::closed;
      return violation(f, errc::unexpected_frame);
    }
    client_event ev = make_event(client_event::message, f);
    ev.text = f.get("subscription").value_or(std::string_view{});
    return ev;
  }
  case command::receipt: {
    if (state_ == client_state::connecting) {
      state_ = client_state::closed;
      return violation(f, errc::unexpected_frame);
    }
    // Only RECEIPT frames answer receipts: brokers copy `receipt` into MESSAGEs (ST-20).
    auto id = f.get("receipt-id");
    if (!id) {
      state_ = client_state::closed;
      return violation(f, errc::missing_header);
    }
    client_event ev = make_event(client_event::receipt, f);
    ev.text = *id;
    erase_one(pending_receipts_, *id);
    if (state_ == client_state::disconnecting && !disconnect_receipt_.empty() &&
        *id == disconnect_receipt_) {
      ev.disconnect_done = true;
      state_ = client_state::closed;
    }
    return ev;
  }
  case command::error: {
    // ERROR is terminal (ST-18), whatever the server does with the connection afterwards.
    state_ = client_state::closed;
    client_event ev = make_event(client_event::error, f);
    ev.error_code = make_error_code(errc::error_frame);
    ev.text = first_line(f.get("message").value_or(f.body), 256);
    return ev;
  }
  default:
    state_ = client_state::closed;
    return violation(f, errc::unexpected_frame);
  }
}

} // namespace stompede::stomp
