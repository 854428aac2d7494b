#include "server/connection.hpp"

#include "server/destination.hpp"
#include "server/http_api.hpp"
#include "protocol/utf8.hpp"
#include "protocol/ws_frame.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <limits>
#include <utility>
#include <vector>

namespace stompede::server::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

constexpr std::size_t max_subscriptions = 256;
/// Room previews keep this many characters (code points, never a byte sequence cut in half).
constexpr std::size_t preview_chars = 100;

/// The first `max_chars` code points of the valid UTF-8 `text`.
std::string utf8_prefix(const std::string& text, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    // A code point starts at every byte that is not a continuation byte (10xxxxxx).
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && chars++ == max_chars)
      return text.substr(0, i);
  }
  return text;
}

/// JSON text of a document built from client input; bytes that are not UTF-8 become U+FFFD
/// instead of an exception.
template<class Json>
std::string dump_lenient(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}
constexpr std::size_t read_chunk = 16 * 1024;

std::string escaped(std::string_view s) {
  std::string out;
  stomp::escape_to(s, out);
  return out;
}

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

bool valid_type(const std::string& t) {
  return t == "TEXT" || t == "IMAGE" || t == "VIDEO" || t == "FILE" || t == "AUDIO" ||
         t == "SYSTEM";
}

// A JSON value as a room id: a non-negative integer or its decimal string.
bool json_id(const nlohmann::json& v, std::uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0)
      return false;
    out = static_cast<std::uint64_t>(i);
    return true;
  }
  if (v.is_string())
    return parse_id(v.get<std::string>(), out);
  return false;
}

// Picks the STOMP subprotocol the client offered (ws@8 and browsers fail without an answer).
std::string pick_subprotocol(std::string_view offered) {
  for (std::string_view p : {"v12.stomp", "v11.stomp", "v10.stomp"}) {
    std::size_t pos = 0;
    while (pos < offered.size()) {
      auto comma = offered.find(',', pos);
      if (comma == std::string_view::npos)
        comma = offered.size();
      auto item = offered.substr(pos, comma - pos);
      while (!item.empty() && item.front() == ' ')
        item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ')
        item.remove_suffix(1);
      if (item == p)
        return std::string(p);
      pos = comma + 1;
    }
  }
  return {};
}

// RFC 6455 4.2.1: the key is 16 bytes in base64, which is 22 characters and "==".
bool valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==")
    return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
  });
}

} // namespace

connection::connection(server_core& core, io_shard& shard, net::ip::tcp::socket socket)
    : core_(core), shard_(shard), ws_(std::move(socket), core.tls_context()),
      deadline_(clock::now() + core.config().connect_timeout) {
  core_.stats.connections.fetch_add(1, std::memory_order_relaxed);
}

connection::~connection() = default;

void connection::start() {
  if (!ws_.next_layer().is_tls()) {
    do_read_http();
    return;
  }
  // Bounded like the rest of the connection phase: tick() aborts after connect_timeout.
  ws_.next_layer().async_handshake([self = shared_from_this()](beast::error_code ec) {
    if (self->finalized_)
      return;
    if (ec) {
      self->core_.stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      self->finalize();
      return;
    }
    self->do_read_http();
  });
}

// --- HTTP -----------------------------------------------------------------------------------

void connection::do_read_http() {
  req_ = std::make_unique<http::request_parser<http::string_body>>();
  req_->header_limit(16 * 1024);
  req_->body_limit(64 * 1024);
  if (buf_.size() > 0) {
    // Pipelined: the next request has begun.
    deadline_ = clock::now() + core_.config().connect_timeout;
    read_http_request();
    return;
  }
  // Idle (a fresh connection, or keep-alive between requests) until the request's first byte,
  // which starts its own deadline: a connection in use is never cut for its age.
  ws_.next_layer().async_read_some(
      buf_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
        if (self->finalized_)
          return;
        if (ec) {
          self->finalize();
          return;
        }
        self->buf_.commit(n);
        self->deadline_ = clock::now() + self->core_.config().connect_timeout;
        self->read_http_request();
      });
}

void connection::read_http_request() {
  http::async_read(
      ws_.next_layer(), buf_, *req_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_http(ec); });
}

void connection::on_http(beast::error_code ec) {
  if (finalized_)
    return;
  if (ec) {
    if (ec == http::error::header_limit) {
      write_http(431, "application/json",
                 error_json("REQUEST_HEADER_FIELDS_TOO_LARGE", "request headers too large"), false);
    } else if (ec == http::error::body_limit) {
      write_http(413, "application/json", error_json("PAYLOAD_TOO_LARGE", "request too large"),
                 false);
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      // A request that cannot be parsed (garbage, conflicting Content-Length, ...): 400, then
      // the close (RFC 9112 6.3).
      write_http(400, "application/json", error_json("BAD_REQUEST", "malformed HTTP request"),
                 false);
    } else {
      finalize();
    }
    return;
  }
  auto& req = req_->get();
  if (admin_only_ && std::string_view{req.target()}.substr(0, 7) != "/admin/") {
    core_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
    core_.stats.fault_refused_connections.fetch_add(1, std::memory_order_relaxed);
    abort(true);
    return;
  }
  if (websocket::is_upgrade(req)) {
    upgrade();
    return;
  }
  if (const std::string_view target = req.target();
      target.substr(0, target.find('?')) == "/ws-stomp") {
    // The WebSocket endpoint, but no valid upgrade: say what it takes.
    if (!http::token_list{req[http::field::upgrade]}.exists("websocket")) {
      write_http(426, "application/json",
                 error_json("UPGRADE_REQUIRED", "/ws-stomp takes a WebSocket upgrade only"), false,
                 {{"Upgrade", "websocket"}});
    } else {
      write_http(400, "application/json",
                 error_json("BAD_REQUEST", "a WebSocket upgrade is a GET over HTTP/1.1 with "
                                           "Connection: Upgrade"),
                 false);
    }
    return;
  }
  api_request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    r.authorization = std::string(it->value());
  }
  r.body = std::move(req.body());
  const bool keep = req.keep_alive();
  auto res = handle_api(core_, r);
  std::vector<std::pair<std::string, std::string>> extra;
  if (!res.allow.empty())
    extra.emplace_back("Allow", std::move(res.allow));
  write_http(res.status, std::move(res.content_type), std::move(res.body), keep, std::move(extra));
}

void connection::write_http(unsigned status, std::string content_type, std::string body,
                            bool keep_alive,
                            std::vector<std::pair<std::string, std::string>> extra) {
  res_ = std::make_unique<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res_->set(http::field::server, "stompede");
  res_->set(http::field::content_type, content_type);
  if (status == 401)
    res_->set(http::field::www_authenticate, "Bearer"); // RFC 9110 15.5.2, RFC 6750 3
  for (auto& [name, value] : extra)
    res_->set(name, std::move(value));
  res_->keep_alive(keep_alive);
  if (keep_alive) {
    const auto idle = std::chrono::duration_cast<std::chrono::seconds>(
        core_.config().connect_timeout);
    res_->set("Keep-Alive", "timeout=" + std::to_string(std::max<long long>(1, idle.count())));
  }
  res_->body() = std::move(body);
  res_->prepare_payload();
  http::async_write(ws_.next_layer(), *res_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                      self->res_.reset();
                      if (ec || !keep_alive || self->finalized_) {
                        beast::error_code ignored;
                        self->ws_.next_layer().shutdown(net::ip::tcp::socket::shutdown_send,
                                                        ignored);
                        self->finalize();
                        return;
                      }
                      // Idle from now on: closed when no request begins in time.
                      self->deadline_ = clock::now() + self->core_.config().connect_timeout;
                      self->do_read_http();
                    });
}

namespace {

// The Host header's name names this server whatever DNS says: an IP address or localhost.
bool host_names_this_server(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos)
      return false;
    name = name.substr(1, close - 1);
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost")
    return true;
  boost::system::error_code ec;
  net::ip::make_address(lower, ec);
  return !ec;
}

} // namespace

bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& allowed, bool tls) {
  for (const auto& a : allowed)
    if (a == "*" || a == origin)
      return true;
  // Same origin: the Origin's authority is the Host the request was sent to. A page on a DNS
  // name its attacker re-points at this server (DNS rebinding) would pass that test, so the
  // Host must be a name DNS cannot move (an address, localhost), or the connection TLS with an
  // https Origin (the browser then checked this server's certificate for that name).
  for (std::string_view scheme : {"http://", "https://"})
    if (!host.empty() && origin.size() == scheme.size() + host.size() &&
        origin.substr(0, scheme.size()) == scheme && origin.substr(scheme.size()) == host)
      return host_names_this_server(host) || (tls && scheme == "https://");
  return false;
}

void connection::upgrade() {
  auto& req = req_->get();
  const std::string_view target = req.target();
  if (target.substr(0, target.find('?')) != "/ws-stomp") {
    write_http(404, "application/json", error_json("NOT_FOUND", "WebSocket endpoint is /ws-stomp"),
               false);
    return;
  }
  if (!valid_websocket_key(req[http::field::sec_websocket_key])) {
    write_http(400, "application/json",
               error_json("BAD_REQUEST", "Sec-WebSocket-Key must be 16 bytes in base64"), false);
    return;
  }
  if (auto it = req.find(http::field::origin); it != req.end()) {
    auto host = req.find(http::field::host);
    if (!origin_allowed(it->value(), host == req.end() ? std::string_view{} : host->value(),
                        core_.config().allowed_origins, ws_.next_layer().is_tls())) {
      core_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
      write_http(403, "application/json",
                 error_json("FORBIDDEN_ORIGIN", "this origin may not open the WebSocket"), false);
      return;
    }
  }
  if (core_.upgraded_sessions.fetch_add(1, std::memory_order_relaxed) >=
      core_.config().max_sessions) {
    core_.upgraded_sessions.fetch_sub(1, std::memory_order_relaxed);
    core_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
    write_http(503, "application/json", error_json("TOO_MANY_SESSIONS", "server full"), false);
    return;
  }
  counted_upgrade_ = true; // released in release_session_place()
  if (core_.config().mode == server_mode::chat) {
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      std::string reason;
      if (!authenticate(it->value(), reason)) {
        core_.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
        release_session_place();
        write_http(401, "application/json", error_json("INVALID_TOKEN", reason), false);
        return;
      }
      upgrade_member_ = member_;
      member_ = 0;
    }
  }
  std::string proto;
  if (auto it = req.find(http::field::sec_websocket_protocol); it != req.end()) {
    proto = pick_subprotocol(it->value());
  }
  const auto& cfg = core_.config();
  websocket::stream_base::timeout t =
      websocket::stream_base::timeout::suggested(beast::role_type::server);
  t.handshake_timeout = cfg.connect_timeout;
  ws_.set_option(t);
  ws_.set_option(websocket::stream_base::decorator([proto](websocket::response_type& res) {
    res.set(http::field::server, "stompede");
    if (!proto.empty())
      res.set(http::field::sec_websocket_protocol, proto);
  }));
  // No practical WebSocket message limit: messages are read in chunks and the STOMP parser bounds each
  // frame to max_frame_bytes, so an oversized frame gets an ERROR naming the limit instead of
  // a bare 1009 close, and memory stays bounded however long the message is.
  // The limit sits at 2^63 - 1 rather than none: a frame length with the most significant
  // bit set (RFC 6455 5.2 forbids it) then fails the connection at once (close 1009) instead
  // of waiting for data that never comes.
  ws_.read_message_max(std::numeric_limits<std::size_t>::max() / 2);
  // Any inbound frame is life (pitfalls ST-03), a ping or pong too: Beast answers pings inside
  // the read, which completes only with data, so the read's completion alone would miss them.
  ws_.control_callback([this](websocket::frame_type, beast::string_view) {
    last_read_ = clock::now();
  });
  ws_.write_buffer_bytes(512);
  ws_.auto_fragment(false);
  ws_.text(true);
  phase_ = phase::ws_handshake;
  ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
    if (self->finalized_)
      return;
    self->req_.reset();
    if (ec) {
      self->finalize();
      return;
    }
    self->buf_.clear();
    self->buf_.shrink_to_fit();
    stomp::parser_limits limits;
    limits.max_frame_bytes = self->core_.config().max_frame_bytes;
    limits.max_body_bytes = self->core_.config().max_frame_bytes;
    self->parser_.emplace(limits);
    self->phase_ = phase::stomp_connect;
    self->last_read_ = self->last_write_ = clock::now();
    self->do_read_ws();
  });
}

// --- STOMP ----------------------------------------------------------------------------------

void connection::do_read_ws() {
  if (finalized_ || reading_ || phase_ == phase::closing || phase_ == phase::closed)
    return;
  if (core_.reads_paused_for(member_)) {
    if (!read_paused_)
      core_.stats.paused_sessions.fetch_add(1, std::memory_order_relaxed);
    read_paused_ = true; // the shard's tick resumes reading
    return;
  }
  reading_ = true;
  ws_.async_read_some(buf_, read_chunk,
                      [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                        self->on_read_ws(ec, n);
                      });
}

void connection::on_read_ws(beast::error_code ec, std::size_t n) {
  reading_ = false;
  if (finalized_)
    return;
  if (ec) {
    finalize();
    return;
  }
  last_read_ = clock::now();
  ++shard_.reads;
  core_.stats.bytes_in.fetch_add(n, std::memory_order_relaxed);
  const auto data = buf_.cdata();
  parser_->feed(std::string_view(static_cast<const char*>(data.data()), data.size()));
  buf_.consume(buf_.size());
  if (buf_.capacity() > read_chunk)
    buf_.shrink_to_fit();
  stomp::frame_view f;
  while (phase_ == phase::stomp_connect || phase_ == phase::connected) {
    const auto st = parser_->next(f);
    if (st == stomp::parse_status::frame) {
      handle_frame(f);
    } else if (st == stomp::parse_status::heartbeat) {
      continue;
    } else if (st == stomp::parse_status::error) {
      const auto e = static_cast<stomp::errc>(parser_->error().value());
      fail(parser_->error().message(), stomp::to_label(e));
      return;
    } else {
      break;
    }
  }
  do_read_ws();
}

void connection::handle_frame(const stomp::frame_view& f) {
  core_.stats.frames_in.fetch_add(1, std::memory_order_relaxed);
  const auto receipt = f.get("receipt");
  if (!stomp::may_have_body(f.cmd) && !f.body.empty()) {
    fail("frame must not have a body", "unexpected_body", {}, receipt);
    return;
  }
  if (phase_ == phase::stomp_connect) {
    if (f.cmd != stomp::command::connect && f.cmd != stomp::command::stomp) {
      fail("expected CONNECT", "not_connected", {}, receipt);
      return;
    }
    on_connect(f);
    return;
  }
  using stomp::command;
  switch (f.cmd) {
  case command::connect:
  case command::stomp:
    fail("already connected", "already_connected", {}, receipt);
    return;
  case command::send:
    on_send(f);
    break;
  case command::subscribe:
    on_subscribe(f);
    break;
  case command::unsubscribe:
    on_unsubscribe(f);
    break;
  case command::ack:
  case command::nack:
    // Nothing is held for redelivery (see on_subscribe); the id is still required (STOMP 1.2).
    if (!f.get("id")) {
      fail(f.cmd == command::ack ? "ACK needs id" : "NACK needs id", "missing_header", {},
           receipt);
      return;
    }
    break;
  case command::disconnect:
    if (receipt) {
      stomp::frame r(command::receipt);
      r.add("receipt-id", std::string(*receipt));
      send_frame(stomp::encode(r));
    }
    close_after_flush(1000);
    return;
  case command::begin:
  case command::commit:
  case command::abort:
    fail("transactions are not supported", "unsupported", {}, receipt);
    return;
  default:
    fail("unexpected frame from a client", "unexpected_frame", {}, receipt);
    return;
  }
  if (receipt && phase_ == phase::connected) {
    stomp::frame r(command::receipt);
    r.add("receipt-id", std::string(*receipt));
    send_frame(stomp::encode(r));
  }
}

bool connection::authenticate(std::string_view token, std::string& reason) {
  constexpr std::string_view bearer = "Bearer ";
  if (token.size() >= bearer.size() && token.compare(0, bearer.size(), bearer) == 0) {
    token.remove_prefix(bearer.size());
  }
  jwt_claims claims;
  if (auto ec = core_.jwt.verify(token, token_kind::access, claims)) {
    reason = ec.message();
    return false;
  }
  if (!core_.rooms.member_exists(claims.member_id)) {
    reason = "no such member";
    return false;
  }
  member_ = claims.member_id;
  return true;
}

void connection::on_connect(const stomp::frame_view& f) {
  const auto receipt = f.get("receipt");
  if (auto v = f.get("accept-version")) {
    bool has12 = false;
    std::size_t pos = 0;
    while (pos <= v->size()) {
      auto comma = v->find(',', pos);
      if (comma == std::string_view::npos)
        comma = v->size();
      if (v->substr(pos, comma - pos) == "1.2")
        has12 = true;
      pos = comma + 1;
    }
    if (!has12) {
      // STOMP 1.2 "Protocol Negotiation": the ERROR lists the versions the server speaks.
      core_.stats.count_error("unsupported_version");
      send_error_and_close("Supported protocol versions are 1.2", {}, receipt, "1.2");
      return;
    }
  }
  stomp::heartbeat_spec theirs;
  if (auto hb = f.get("heart-beat")) {
    auto parsed = stomp::parse_heartbeat(*hb);
    if (!parsed) {
      fail("malformed heart-beat header", "malformed_header", {}, receipt);
      return;
    }
    theirs = *parsed;
  }
  const auto& cfg = core_.config();
  if (cfg.mode == server_mode::chat) {
    // First header wins, for the check and for everything after it.
    std::optional<std::string_view> token = f.get("Authorization");
    if (!token)
      token = f.get("authorization");
    if (!token)
      token = f.get("passcode");
    if (token) {
      std::string reason;
      if (!authenticate(*token, reason)) {
        core_.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
        fail("auth", "auth", reason, receipt);
        return;
      }
    } else if (upgrade_member_ != 0) {
      member_ = upgrade_member_;
    } else {
      core_.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
      fail("auth", "auth", "no token on CONNECT or on the upgrade request", receipt);
      return;
    }
  }
  if (core_.refused_at_connect(member_)) {
    // A refuse fault on a cohort: as if the listener had refused the connection (TCP reset).
    core_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
    core_.stats.fault_refused_connections.fetch_add(1, std::memory_order_relaxed);
    abort(true);
    return;
  }
  const stomp::heartbeat_spec ours{cfg.heartbeat_send_ms, cfg.heartbeat_recv_ms};
  plan_ = stomp::negotiate(ours, theirs, cfg.heartbeat_grace);
  stomp::frame c(stomp::command::connected);
  c.add("version", "1.2");
  c.add("heart-beat", stomp::to_string(ours));
  c.add("server", "stompede/0.1");
  if (member_ != 0)
    c.add("user-name", std::to_string(member_));
  phase_ = phase::connected;
  counted_session_ = true;
  core_.stats.sessions.fetch_add(1, std::memory_order_relaxed);
  core_.stats.sessions_total.fetch_add(1, std::memory_order_relaxed);
  send_frame(stomp::encode(c));
  if (receipt) {
    stomp::frame r(stomp::command::receipt);
    r.add("receipt-id", std::string(*receipt));
    send_frame(stomp::encode(r));
  }
}

void connection::on_subscribe(const stomp::frame_view& f) {
  const auto receipt = f.get("receipt");
  const auto dest = f.get("destination");
  const auto id = f.get("id");
  if (!dest || !id) {
    fail("SUBSCRIBE needs destination and id", "missing_header", {}, receipt);
    return;
  }
  for (const auto& s : subs_) {
    if (s.id == *id) {
      fail("duplicate subscription id", "duplicate_subscription", {}, receipt);
      return;
    }
  }
  if (subs_.size() >= max_subscriptions) {
    fail("too many subscriptions", "too_many_subscriptions", {}, receipt);
    return;
  }
  // client and client-individual: every MESSAGE carries an `ack` header (its message-id) for
  // the client's ACK/NACK. The server keeps nothing unacknowledged and redelivers nothing, as
  // a broker without persistence would after an ACK: ACK and NACK are accepted and dropped.
  bool ack_header = false;
  if (const auto ack = f.get("ack"); ack && *ack != "auto") {
    if (*ack != "client" && *ack != "client-individual") {
      fail("invalid ack mode", "malformed_header", "ack is auto, client or client-individual",
           receipt);
      return;
    }
    ack_header = true;
  }
  bool personal = false;
  std::uint64_t room = 0;
  if (core_.config().mode == server_mode::chat) {
    const auto d = parse_destination(*dest);
    switch (d.kind) {
    case destination_kind::room_topic_dot:
    case destination_kind::room_topic_slash:
      if (!core_.rooms.is_member(d.id, member_)) {
        fail("UNAUTHORIZED_ROOM_MEMBER", "unauthorized_room_member", {}, receipt);
        return;
      }
      room = d.id;
      break;
    case destination_kind::user_summary:
      if (d.id != member_) {
        fail("UNAUTHORIZED_TOPIC", "unauthorized_topic", {}, receipt);
        return;
      }
      personal = true;
      break;
    default:
      // Other /topic destinations are plain topics, as the service's broker relay allows.
      if (d.kind == destination_kind::publish || !is_broker_topic(*dest)) {
        fail("UNKNOWN_DESTINATION", "unknown_destination", {}, receipt);
        return;
      }
    }
  } else if (!is_broker_topic(*dest)) {
    fail("UNKNOWN_DESTINATION", "unknown_destination", {}, receipt);
    return;
  }
  subscription s{std::string(*id), std::string(*dest), personal, room};
  core_.topics.add(s.destination,
                   subscriber{shared_from_this(), escaped(s.id), shard_.index, true, ack_header});
  core_.stats.subscriptions.fetch_add(1, std::memory_order_relaxed);
  if (personal)
    core_.personal_subscriptions.fetch_add(1, std::memory_order_relaxed);
  if (room != 0)
    core_.rooms.view(room, member_, +1);
  subs_.push_back(std::move(s));
}

void connection::on_unsubscribe(const stomp::frame_view& f) {
  const auto id = f.get("id");
  if (!id) {
    fail("UNSUBSCRIBE needs id", "missing_header", {}, f.get("receipt"));
    return;
  }
  for (auto it = subs_.begin(); it != subs_.end(); ++it) {
    if (it->id == *id) {
      drop_subscription(*it);
      subs_.erase(it);
      return;
    }
  }
}

void connection::on_send(const stomp::frame_view& f) {
  const auto dest = f.get("destination");
  if (!dest) {
    fail("SEND needs destination", "missing_header", {}, f.get("receipt"));
    return;
  }
  if (core_.config().mode == server_mode::chat) {
    on_send_chat(f, *dest);
  } else {
    on_send_broker(f, *dest);
  }
}

void connection::on_send_chat(const stomp::frame_view& f, std::string_view destination) {
  const auto receipt = f.get("receipt");
  const auto d = parse_destination(destination);
  if (d.kind != destination_kind::publish) {
    fail("UNKNOWN_DESTINATION", "unknown_destination", {}, receipt);
    return;
  }
  const auto body = nlohmann::json::parse(f.body.begin(), f.body.end(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    fail("INVALID_MESSAGE", "invalid_message", "body is not a JSON object", receipt);
    return;
  }
  std::uint64_t room = 0, sender = 0;
  auto it = body.find("roomId");
  if (it == body.end() || !json_id(*it, room) || room != d.id) {
    fail("ROOM_ID_MISMATCH", "invalid_message", "roomId differs from the destination", receipt);
    return;
  }
  it = body.find("senderId");
  if (it == body.end() || !json_id(*it, sender) || sender != member_) {
    fail("SENDER_MISMATCH", "invalid_message", "senderId is not the connected member", receipt);
    return;
  }
  it = body.find("type");
  if (it == body.end() || !it->is_string() || !valid_type(it->get<std::string>())) {
    fail("INVALID_MESSAGE_TYPE", "invalid_message",
         "type is one of TEXT IMAGE VIDEO FILE AUDIO SYSTEM", receipt);
    return;
  }
  const std::string type = it->get<std::string>();
  const auto content = body.find("content");
  if (content != body.end() && !content->is_null() && !content->is_string()) {
    fail("INVALID_MESSAGE", "invalid_message", "content is not a string", receipt);
    return;
  }
  if (!core_.rooms.is_member(room, member_)) {
    fail("UNAUTHORIZED_ROOM_MEMBER", "unauthorized_room_member", {}, receipt);
    return;
  }
  // From the seq to the hand-over to every IO thread: no other sender of the room in between.
  auto order = core_.rooms.publish_order(room);
  const std::uint64_t seq = core_.rooms.next_seq(room);
  core_.rooms.mark_read(room, member_, seq); // one's own message is read
  core_.stats.messages.fetch_add(1, std::memory_order_relaxed);
  nlohmann::ordered_json out;
  out["roomId"] = room;
  out["senderId"] = sender;
  out["type"] = type;
  out["seq"] = seq;
  std::string created;
  it = body.find("createdAt");
  if (it != body.end() && it->is_string() && it->get_ref<const std::string&>().size() <= 64) {
    created = it->get<std::string>();
  } else {
    created = iso_now();
  }
  out["createdAt"] = created;
  std::string preview;
  it = content;
  if (it != body.end() && !it->is_null()) {
    out["content"] = *it;
    preview = utf8_prefix(it->get_ref<const std::string&>(), preview_chars);
  }
  for (const char* k : {"fileUrl", "fileName", "fileSize"}) {
    it = body.find(k);
    if (it != body.end() && !it->is_null())
      out[k] = *it;
  }
  if (core_.maybe_drop_broadcast(room, member_))
    return;
  const std::string message_id = std::to_string(room) + "-" + std::to_string(seq);
  std::string wire = dump_lenient(out);
  const bool summaries = core_.config().room_summaries;
  if (summaries)
    core_.rooms.set_last(room, preview, created);
  server_core& core = core_;
  auto work = [&core, room, message_id, wire = std::move(wire), summaries, preview, created] {
    core.publish(room_topic_dot(room), message_id, "application/json", wire, room);
    core.publish(room_topic_slash(room), message_id, "application/json", wire, room);
    if (!summaries || core.personal_subscriptions.load(std::memory_order_relaxed) == 0)
      return;
    // Same shape as the room lists; only unreadCount differs between members.
    const std::string head = "{\"roomId\":" + std::to_string(room) + ",\"unreadCount\":";
    nlohmann::ordered_json s;
    s["chatRoomType"] = room_type_name(core.rooms.type_of(room));
    s["lastMessagePreview"] = preview;
    s["lastMessageAt"] = created;
    std::string tail = dump_lenient(s);
    tail[0] = ',';
    // Counted under the room's lock, published after it: a delivery may end a session (a
    // slow consumer), whose ending takes the same lock to leave the room.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> unread_of;
    core.rooms.for_each_member_unread(
        room, [&](std::uint64_t m, std::uint64_t unread) { unread_of.emplace_back(m, unread); });
    for (const auto& [m, unread] : unread_of)
      core.publish(user_summary_topic(m), message_id + "-s", "application/json",
                   head + std::to_string(unread) + tail, room);
  };
  const auto delay = core_.broadcast_delay(room, member_);
  if (delay > 0) {
    // A delayed broadcast (a fault) keeps its seq, so messages sent during the change of the
    // delay may arrive out of seq order: that is the fault's effect.
    order.unlock();
    auto timer = std::make_shared<net::steady_timer>(shard_.ioc);
    timer->expires_after(std::chrono::milliseconds(delay));
    timer->async_wait([timer, work = std::move(work)](beast::error_code ec) {
      if (!ec)
        work();
    });
  } else {
    work();
  }
}

void connection::on_send_broker(const stomp::frame_view& f, std::string_view destination) {
  if (!is_broker_topic(destination)) {
    fail("UNKNOWN_DESTINATION", "unknown_destination", {}, f.get("receipt"));
    return;
  }
  core_.stats.messages.fetch_add(1, std::memory_order_relaxed);
  if (core_.maybe_drop_broadcast(0, 0))
    return;
  const std::string id =
      "m-" + std::to_string(core_.message_ids.fetch_add(1, std::memory_order_relaxed) + 1);
  const auto ct = f.get("content-type");
  server_core& core = core_;
  auto work = [&core, topic = std::string(destination), id,
               ct = ct ? std::string(*ct) : std::string(), body = std::string(f.body)]() mutable {
    core.publish(topic, id, ct, std::move(body), 0);
  };
  const auto delay = core_.broadcast_delay(0, 0);
  if (delay > 0) {
    auto timer = std::make_shared<net::steady_timer>(shard_.ioc);
    timer->expires_after(std::chrono::milliseconds(delay));
    timer->async_wait([timer, work = std::move(work)](beast::error_code ec) mutable {
      if (!ec)
        work();
    });
  } else {
    work();
  }
}

// --- writing --------------------------------------------------------------------------------

void connection::send_frame(std::string wire) {
  const bool binary = !valid_utf8(wire); // an ERROR or RECEIPT echoing a client's bytes
  const bool eol = wire == "\n";
  enqueue(outbound{nullptr, std::move(wire), binary, eol});
}

void connection::deliver(const std::shared_ptr<const broadcast_frame>& frame,
                         const subscriber& to) {
  if (phase_ != phase::connected || finalized_)
    return;
  if (to.ack_header) // the subscription id then its ack header, between the shared parts
    enqueue(outbound{frame, to.sub_id + frame->ack_header, frame->binary || !to.sub_id_utf8,
                     false});
  else
    enqueue(outbound{frame, to.sub_id, frame->binary || !to.sub_id_utf8, false});
}

void connection::enqueue(outbound o) {
  if (finalized_ || phase_ == phase::closed || close_started_)
    return;
  const std::size_t n = o.bytes();
  if (writing_ && queued_bytes_ + (pending_.size() - pending_written_) + n >
                      core_.config().max_queue_bytes) {
    // Spring's sendBufferSizeLimit: a session that cannot keep up is cut, not buffered. A TCP
    // reset: a graceful close would leave the kernel sending its backlog for seconds more.
    core_.stats.slow_consumer_closes.fetch_add(1, std::memory_order_relaxed);
    abort(true);
    return;
  }
  queued_bytes_ += n;
  queue_.push_back(std::move(o));
  if (writing_ || flush_pending_)
    return; // the write in flight, or the shard's flush pass, takes it
  flush_pending_ = true;
  shard_.dirty.push_back(shared_from_this());
  if (!shard_.flush_posted) {
    // Posted handlers run after the completions the reactor already queued, so a flush pass
    // sees every frame those reads produced: batching grows with the load, by itself.
    shard_.flush_posted = true;
    shard_.flush_mark = shard_.reads;
    shard_.flush_deferrals = 0;
    net::post(shard_.ioc, [&shard = shard_] { flush_dirty(shard); });
  }
}

void flush_dirty(io_shard& shard) {
  constexpr unsigned max_deferrals = 32;
  if (shard.reads != shard.flush_mark && shard.flush_deferrals < max_deferrals) {
    // More input arrived while this pass waited: let it add to the batches first.
    shard.flush_mark = shard.reads;
    ++shard.flush_deferrals;
    net::post(shard.ioc, [&shard] { flush_dirty(shard); });
    return;
  }
  shard.flush_posted = false;
  shard.flushing.swap(shard.dirty);
  for (auto& c : shard.flushing) {
    c->flush_pending_ = false;
    if (!c->writing_ && !c->queue_.empty())
      c->do_write();
  }
  shard.flushing.clear();
}

void connection::do_write() {
  if (finalized_)
    return;
  if (queue_.empty()) {
    writing_ = false;
    if (phase_ == phase::closing && !close_started_) {
      close_started_ = true; // nothing is written after the close frame
      ws_.async_close(websocket::close_reason(close_code_),
                      [self = shared_from_this()](beast::error_code) { self->finalize(); });
    }
    return;
  }
  if (!ws_.next_layer().is_tls()) {
    write_frames();
    return;
  }
  writing_ = true;
  write_started_ = clock::now();
  const outbound& o = queue_.front();
  auto handler = with_write_memory(write_memory_, [self = shared_from_this()](
                                                     beast::error_code ec, std::size_t n) {
    self->on_write(ec, n);
  });
  in_flight_count_ = 1;
  if (queue_.size() > 1 && core_.config().coalesce_frames && !o.eol) {
    // Several frames are waiting: one WebSocket message, one syscall, no copies. Heart-beat
    // EOLs stay out of batches (an EOL inside a message is still a heart-beat, but keeping
    // them alone keeps the accounting simple).
    constexpr std::size_t max_batch_bytes = 64 * 1024;
    write_bufs_.clear();
    std::size_t bytes = 0;
    std::size_t count = 0;
    for (const auto& q : queue_) {
      if (count > 0 &&
          (bytes + q.bytes() > max_batch_bytes || q.eol || q.binary != o.binary))
        break;
      if (q.shared) {
        write_bufs_.push_back(net::buffer(q.shared->prefix));
        write_bufs_.push_back(net::buffer(q.text));
        write_bufs_.push_back(net::buffer(q.shared->suffix));
      } else {
        write_bufs_.push_back(net::buffer(q.text));
      }
      bytes += q.bytes();
      ++count;
    }
    in_flight_count_ = count;
    ws_.binary(o.binary);
    ws_.async_write(write_bufs_, std::move(handler));
    return;
  }
  ws_.binary(o.binary);
  if (o.shared) {
    const std::array<net::const_buffer, 3> bufs{net::buffer(o.shared->prefix), net::buffer(o.text),
                                                net::buffer(o.shared->suffix)};
    ws_.async_write(bufs, std::move(handler));
  } else {
    ws_.async_write(net::buffer(o.text), std::move(handler));
  }
}

namespace {

/// One IO thread's layout of a plain connection's write: the iovecs, the frame headers they
/// point at, and where each queued frame and the WebSocket message holding it end.
struct write_scratch {
  static constexpr std::size_t max_iov = 1024; // IOV_MAX on Linux
  static constexpr std::size_t max_bytes = 256 * 1024;
  iovec iov[max_iov];
  char headers[max_iov][ws::max_header_bytes];
  std::size_t frame_end[max_iov];     // byte offset where each frame ends
  std::size_t message_start[max_iov]; // where the WebSocket message holding it starts
  std::size_t message_end[max_iov];   // and ends
};

write_scratch& scratch() {
  thread_local const auto s = std::make_unique<write_scratch>();
  return *s;
}

void add(write_scratch& sc, std::size_t& iovs, std::size_t& total, const std::string& bytes) {
  if (bytes.empty())
    return;
  sc.iov[iovs].iov_base = const_cast<char*>(bytes.data());
  sc.iov[iovs].iov_len = bytes.size();
  ++iovs;
  total += bytes.size();
}

} // namespace

void connection::write_frames() {
  auto& stream = ws_.next_layer();
  if (stream.beast_writing()) {
    // A pong or close frame of Beast's is being written: the frames follow it.
    writing_ = true;
    write_started_ = clock::now();
    stream.when_beast_idle([weak = weak_from_this()] {
      const auto self = weak.lock();
      if (!self || self->finalized_)
        return;
      self->writing_ = false;
      self->do_write();
    });
    return;
  }
  constexpr std::size_t max_message_bytes = 64 * 1024;
  auto& sc = scratch();
  const bool coalesce = core_.config().coalesce_frames;
  const int fd = stream.socket().native_handle();
  while (!queue_.empty()) {
    // Lay out as much of the queue as one sendmsg takes: each frame in a WebSocket message of
    // its own, or (coalescing) runs of frames of one kind in one message. No byte is copied.
    std::size_t iovs = 0, total = 0, entries = 0;
    auto it = queue_.begin();
    while (it != queue_.end() && iovs + 4 <= write_scratch::max_iov &&
           total < write_scratch::max_bytes) {
      auto end = std::next(it);
      std::size_t len = it->bytes();
      std::size_t need = 1 + (it->shared ? 3 : 1);
      if (coalesce && !it->eol) {
        while (end != queue_.end() && !end->eol && end->binary == it->binary &&
               len + end->bytes() <= max_message_bytes &&
               iovs + need + 3 <= write_scratch::max_iov) {
          len += end->bytes();
          need += end->shared ? 3 : 1;
          ++end;
        }
      }
      const std::size_t message_start = total;
      const auto h = ws::encode_header(sc.headers[iovs], true, it->binary ? ws::binary : ws::text,
                                       len, nullptr);
      sc.iov[iovs].iov_base = sc.headers[iovs];
      sc.iov[iovs].iov_len = h;
      ++iovs;
      total += h;
      const std::size_t first = entries;
      for (; it != end; ++it) {
        if (it->shared) {
          add(sc, iovs, total, it->shared->prefix);
          add(sc, iovs, total, it->text);
          add(sc, iovs, total, it->shared->suffix);
        } else {
          add(sc, iovs, total, it->text);
        }
        sc.frame_end[entries++] = total;
      }
      for (std::size_t k = first; k < entries; ++k) {
        sc.message_start[k] = message_start;
        sc.message_end[k] = total;
      }
    }
    msghdr msg{};
    msg.msg_iov = sc.iov;
    msg.msg_iovlen = iovs;
    ssize_t n;
    do {
      n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      finalize();
      return;
    }
    const std::size_t sent = n < 0 ? 0 : static_cast<std::size_t>(n);
    if (sent > 0) {
      core_.stats.bytes_out.fetch_add(sent, std::memory_order_relaxed);
      last_write_ = clock::now();
    }
    std::size_t done = 0; // frames written whole
    while (done < entries && sc.frame_end[done] <= sent)
      ++done;
    std::size_t taken = done; // frames leaving the queue: written whole, or kept in pending_
    if (sent < total && done < entries && sent > sc.message_start[done]) {
      // The socket took part of a WebSocket message: its other bytes must follow before
      // anything else, so they are kept (copied) and its frames leave the queue.
      const std::size_t from = sent, to = sc.message_end[done];
      pending_.clear();
      pending_.reserve(to - from);
      std::size_t at = 0;
      for (std::size_t i = 0; i < iovs && at < to; ++i) {
        const std::size_t len = sc.iov[i].iov_len;
        const std::size_t lo = std::max(at, from), hi = std::min(at + len, to);
        if (lo < hi)
          pending_.append(static_cast<const char*>(sc.iov[i].iov_base) + (lo - at), hi - lo);
        at += len;
      }
      pending_written_ = 0;
      while (taken < entries && sc.message_end[taken] == to)
        ++taken;
    }
    auto q = queue_.begin();
    for (std::size_t k = 0; k < taken; ++k, ++q) {
      queued_bytes_ -= q->bytes();
      if (k < done && !q->eol)
        core_.stats.frames_out.fetch_add(1, std::memory_order_relaxed);
      else if (k >= done && !q->eol)
        ++pending_frames_;
    }
    queue_.erase(queue_.begin(), q);
    if (sent == total)
      continue;
    // Wait until the socket takes more; Beast's own writes wait too.
    writing_ = true;
    write_started_ = clock::now();
    stream.hold_beast_writes();
    stream.socket().async_wait(
        net::ip::tcp::socket::wait_write,
        with_write_memory(write_memory_, [self = shared_from_this()](beast::error_code ec) {
          self->on_writable(ec);
        }));
    return;
  }
  writing_ = false;
  if (phase_ == phase::closing)
    do_write(); // the queue is written: the close handshake starts
}

void connection::on_writable(beast::error_code ec) {
  if (finalized_)
    return;
  if (ec) {
    finalize();
    return;
  }
  auto& stream = ws_.next_layer();
  while (pending_written_ < pending_.size()) {
    const auto n = ::send(stream.socket().native_handle(), pending_.data() + pending_written_,
                          pending_.size() - pending_written_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      stream.socket().async_wait(
          net::ip::tcp::socket::wait_write,
          with_write_memory(write_memory_, [self = shared_from_this()](beast::error_code e) {
            self->on_writable(e);
          }));
      return;
    }
    if (n < 0) {
      finalize();
      return;
    }
    pending_written_ += static_cast<std::size_t>(n);
    core_.stats.bytes_out.fetch_add(static_cast<std::size_t>(n), std::memory_order_relaxed);
    last_write_ = clock::now();
  }
  core_.stats.frames_out.fetch_add(pending_frames_, std::memory_order_relaxed);
  pending_frames_ = 0;
  pending_written_ = 0;
  std::string().swap(pending_);
  writing_ = false;
  stream.release_beast_writes(); // a pong or close frame that waited goes first
  do_write();
}

void connection::on_write(beast::error_code ec, std::size_t n) {
  if (finalized_)
    return;
  if (ec) {
    finalize();
    return;
  }
  for (std::size_t i = 0; i < in_flight_count_ && !queue_.empty(); ++i) {
    const outbound& o = queue_.front();
    queued_bytes_ -= o.bytes();
    if (!o.eol)
      core_.stats.frames_out.fetch_add(1, std::memory_order_relaxed);
    queue_.pop_front();
  }
  in_flight_count_ = 0;
  core_.stats.bytes_out.fetch_add(n, std::memory_order_relaxed);
  last_write_ = clock::now();
  do_write();
}

// --- ending ---------------------------------------------------------------------------------

void connection::fail(const std::string& message, const std::string& category, std::string detail,
                      std::optional<std::string_view> receipt) {
  if (phase_ == phase::closing || phase_ == phase::closed || finalized_)
    return;
  core_.stats.count_error(category);
  send_error_and_close(message, std::move(detail), receipt);
}

void connection::send_error_and_close(const std::string& message, std::string detail,
                                      std::optional<std::string_view> receipt,
                                      std::string_view version) {
  if (phase_ == phase::closing || phase_ == phase::closed || finalized_)
    return;
  stomp::frame e(stomp::command::error);
  if (!version.empty())
    e.add("version", std::string(version));
  e.add("message", message);
  if (receipt)
    e.add("receipt-id", std::string(*receipt));
  e.add("content-type", "text/plain");
  e.body = detail.empty() ? message : std::move(detail);
  // Once ERROR is queued the session takes no more broadcasts and reads nothing more.
  if (phase_ == phase::connected)
    unsubscribe_all();
  send_frame(stomp::encode(e));
  close_after_flush(1000);
}

void connection::close_after_flush(std::uint16_t code) {
  if (finalized_ || phase_ == phase::closing || phase_ == phase::closed)
    return;
  if (phase_ == phase::http || phase_ == phase::ws_handshake) {
    finalize();
    return;
  }
  unsubscribe_all();
  // A closing session is no longer a STOMP session, even while its close handshake lingers.
  release_session_place();
  phase_ = phase::closing;
  close_code_ = code;
  closing_deadline_ = clock::now() + std::chrono::seconds(5);
  if (!writing_)
    do_write(); // an empty queue starts the close handshake
}

void connection::abort(bool reset) {
  if (finalized_)
    return;
  if (reset) {
    beast::error_code ignored;
    ws_.next_layer().set_option(net::socket_base::linger(true, 0), ignored);
  }
  finalize();
}

void connection::release_session_place() {
  if (counted_session_) {
    counted_session_ = false;
    core_.stats.sessions.fetch_sub(1, std::memory_order_relaxed);
  }
  if (counted_upgrade_) {
    counted_upgrade_ = false;
    core_.upgraded_sessions.fetch_sub(1, std::memory_order_relaxed);
  }
}

void connection::drop_subscription(const subscription& s) {
  core_.topics.remove(s.destination, this, escaped(s.id));
  core_.stats.subscriptions.fetch_sub(1, std::memory_order_relaxed);
  if (s.personal)
    core_.personal_subscriptions.fetch_sub(1, std::memory_order_relaxed);
  if (s.room != 0)
    core_.rooms.view(s.room, member_, -1);
}

void connection::unsubscribe_all() {
  for (const auto& s : subs_)
    drop_subscription(s);
  subs_.clear();
}

void connection::finalize() {
  if (finalized_)
    return;
  finalized_ = true;
  unsubscribe_all();
  release_session_place();
  phase_ = phase::closed;
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
  // A Beast write held behind this connection's own now fails on the closed socket, so its
  // operation (which holds this connection) completes.
  ws_.next_layer().release_beast_writes();
  queue_.clear();
  queued_bytes_ = 0;
  std::string().swap(pending_);
  pending_written_ = pending_frames_ = 0;
  core_.stats.connections.fetch_sub(1, std::memory_order_relaxed);
  core_.on_connection_closed(*this);
}

void connection::tick(clock::time_point now) {
  if (finalized_)
    return;
  switch (phase_) {
  case phase::http:
  case phase::ws_handshake:
  case phase::stomp_connect:
    if (now > deadline_)
      abort(false);
    return;
  case phase::closing:
    if (now > closing_deadline_)
      abort(false);
    return;
  case phase::closed:
    return;
  case phase::connected:
    break;
  }
  if (read_paused_ && !core_.reads_paused_for(member_)) {
    read_paused_ = false;
    last_read_ = now;
    do_read_ws();
  }
  if (writing_ && now - write_started_ > core_.config().slow_consumer_timeout) {
    core_.stats.slow_consumer_closes.fetch_add(1, std::memory_order_relaxed);
    abort(true); // as at the queue bound: the backlog is dropped with the connection
    return;
  }
  if (plan_.dead_after.count() > 0 && !read_paused_ && now - last_read_ > plan_.dead_after) {
    // The peer is probably gone, but a live one that merely went quiet learns why.
    core_.stats.heartbeat_timeouts.fetch_add(1, std::memory_order_relaxed);
    send_error_and_close("heart-beat timeout",
                         "nothing received for " + std::to_string(plan_.dead_after.count()) + " ms",
                         std::nullopt);
    return;
  }
  if (plan_.send_every.count() > 0 && !writing_ && queue_.empty() &&
      now - last_write_ >= plan_.send_every) {
    send_frame("\n");
  }
}

} // namespace stompede::server::detail
