#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

/// Every default of a scenario, in one place. docs/scenario.md lists the same values; the
/// seed (the original Go tool) is the source of most of them.
namespace stompede::config::defaults {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// ---- [target]
/// The seed's target: the chat server's plain WebSocket endpoint (no SockJS).
inline constexpr std::string_view target_url = "ws://127.0.0.1:8080/ws-stomp";
/// REST base of the seed's target (login, room creation).
inline constexpr std::string_view target_http_url = "http://127.0.0.1:8080";
/// Use the configured URLs, not the built-in reference server.
inline constexpr bool target_embedded = false;
/// STOMP `host` header; empty sends the URL's host (RabbitMQ wants the vhost, e.g. "/").
inline constexpr std::string_view target_host = "";
/// Outgoing heart-beat period offered in CONNECT (the seed's `heart-beat:10000,10000`).
inline constexpr ms heartbeat_send = 10s;
/// Incoming heart-beat period asked for in CONNECT.
inline constexpr ms heartbeat_recv = 10s;
/// A peer is dead after the negotiated receive period times this factor (STOMP's error margin).
inline constexpr double heartbeat_grace = 1.5;
/// TCP connect + TLS + WebSocket upgrade must finish within this.
inline constexpr ms connect_timeout = 10s;
/// STOMP CONNECT must be answered (CONNECTED or ERROR) within this.
inline constexpr ms handshake_timeout = 10s;
/// Largest inbound STOMP frame accepted; a bigger one is a protocol error (the server's own
/// limit is 512 KiB, so 1 MiB leaves room without letting a peer force big allocations).
inline constexpr std::uint64_t max_frame_bytes = 1024 * 1024;
/// Only loopback and private (RFC 1918) targets are allowed unless the operator says so.
inline constexpr bool i_own_this_target = false;

// ---- [auth]
/// "none" | "token" | "login"; the seed's default target needs a login.
inline constexpr std::string_view auth_mode = "login";
/// Per-user account name; `%d`-style conversion gets the member id (the seed's pattern).
inline constexpr std::string_view auth_email = "user%05d@test.com";
/// Member id of the first user (the seed's START_MEMBER_ID).
inline constexpr std::int64_t auth_start_id = 1;
/// REST logins in flight at once before the first stage (the seed logs 50 in at a time).
inline constexpr std::uint32_t auth_concurrency = 50;
/// REST login path, relative to target.http_url.
inline constexpr std::string_view auth_login_path = "/v1/auth/login";

// ---- [rooms]
/// "existing" | "per_users" | "create"; the seed places users in rooms by index.
inline constexpr std::string_view rooms_mode = "per_users";
/// Room of every user in "existing" mode (0 = not set).
inline constexpr std::int64_t rooms_room_id = 0;
/// Users per room: user index i goes to room i / members_per_room + 1 (MAX_MEMBERS_PER_ROOM).
inline constexpr std::uint32_t rooms_members_per_room = 100;
/// REST path that creates a group room in "create" mode.
inline constexpr std::string_view rooms_create_path = "/v1/chat/rooms/group";

// ---- [destinations]
/// The seed subscribes here (the server broadcasts on /topic/chat.room.{room}; both exist).
inline constexpr std::string_view subscribe = "/topic/chat/room/{room}";
/// Where a chat message is sent.
inline constexpr std::string_view send = "/publish/{room}";
/// content-type of a SEND.
inline constexpr std::string_view content_type = "application/json";
/// The chat server's ChatMessage; {content} is JSON-escaped by the sender.
inline constexpr std::string_view body =
    R"({"roomId":{room},"senderId":{member},"type":"TEXT","content":"{content}",)"
    R"("fileUrl":null,"fileName":null,"fileSize":null,"createdAt":"{created_at}"})";

// ---- [[stage]]
/// Users of a stage start one by one, spread over this (the seed's 10 s).
inline constexpr ms stage_ramp = 10s;
/// ...but at least this far apart (the seed's 10 ms).
inline constexpr ms stage_min_start_gap = 10ms;

// ---- [behaviour]
/// "seed_mix" | "listener".
inline constexpr std::string_view behaviour_kind = "seed_mix";
/// Base send interval (the seed's MESSAGE_INTERVAL_MS).
inline constexpr ms behaviour_interval = 1s;
/// Share of active users (send every interval).
inline constexpr double active_weight = 0.1;
/// Share of moderate users.
inline constexpr double moderate_weight = 0.3;
/// Share of passive users.
inline constexpr double passive_weight = 0.6;
/// Interval multiplier of active users.
inline constexpr double active_multiplier = 1.0;
/// Interval multiplier of moderate users.
inline constexpr double moderate_multiplier = 3.0;
/// Interval multiplier of passive users.
inline constexpr double passive_multiplier = 10.0;

// ---- [reconnect]
/// The seed's ENABLE_RECONNECT default.
inline constexpr bool reconnect_enabled = false;
/// The seed's MAX_RECONNECT_ATTEMPTS.
inline constexpr std::uint32_t reconnect_max_attempts = 5;
/// The seed's INITIAL_BACKOFF_MS.
inline constexpr ms reconnect_initial = 1s;
/// The seed's MAX_BACKOFF_MS.
inline constexpr ms reconnect_max = 30s;
/// Backoff growth per attempt.
inline constexpr double reconnect_multiplier = 2.0;
/// ±50% randomisation of every backoff (no thundering herd).
inline constexpr double reconnect_jitter = 0.5;
/// A session up this long resets the attempt counter.
inline constexpr ms reconnect_healthy_reset = 30s;

// ---- [tls]
/// Certificates are verified unless a scenario says otherwise.
inline constexpr bool tls_verify = true;

// ---- [output]
/// Results folder; `{timestamp}` is replaced at run time.
inline constexpr std::string_view output_dir = "results/{timestamp}";
/// Prometheus exposer address; "" disables it. Loopback only unless allowed explicitly.
inline constexpr std::string_view output_prometheus = "127.0.0.1:2112";
/// Binding the exposer to a non-loopback address needs this flag.
inline constexpr bool output_allow_public_metrics = false;
/// Write load_test_result.csv (the seed's report).
inline constexpr bool output_csv = true;
/// A round trip not back within this counts as lost (the seed's 30 s).
inline constexpr ms round_trip_timeout = 30s;

// ---- [run]
/// IO threads; 0 means one per core.
inline constexpr std::uint32_t io_threads = 0;
/// Users per supervisor shard.
inline constexpr std::uint32_t users_per_shard = 1000;
/// Random seed for behaviour assignment and jitter; 0 picks one at start (and reports it).
inline constexpr std::uint64_t random_seed = 0;

} // namespace stompede::config::defaults
