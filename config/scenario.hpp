#pragma once

#include "config/defaults.hpp"
#include "config/secret.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stompede::config {

/// Where a key came from: a scenario file, "--set" (line = the override's number), or the
/// environment ("env", line 0).
struct source_position {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

/// One extra header; the value is a secret because it may well be `Authorization`.
/// Printing shows the value only for names that `is_sensitive_header()` does not flag.
struct header {
  std::string name;
  secret value;
};

/// True for header names whose values are credentials (Authorization, Cookie, passcode, ...).
bool is_sensitive_header(const std::string& name);

/// True for URL query parameter names whose values are credentials, case-insensitive:
/// `access_token`, `token`, `auth`, `key`, `password`, `jwt`, and every name that
/// `is_sensitive_header()` flags (`api_key`, `client_secret`, `signature`, ...), plus `pwd`,
/// `pass` and `sig`.
bool is_sensitive_query_parameter(const std::string& name);

/// `url` for printing: the values of credential-like query parameters
/// (`is_sensitive_query_parameter`) and any `user:password@` userinfo replaced by `***`
/// (`wss://host/ws?access_token=***&room=1`, `https://***@host/`). Everything else is kept as
/// written, so the result is still a URL of the same shape. Only for text meant for people or
/// files; the URL that is connected to stays the real one.
std::string redact_url(const std::string& url);

/// `[target]`: what is loaded and how to talk to it.
struct target_config {
  /// ws:// or wss:// STOMP endpoint; the engine overwrites it when `embedded`.
  std::string url{defaults::target_url};
  /// http(s):// base for REST calls (login, room creation); overwritten when `embedded`.
  std::string http_url{defaults::target_http_url};
  /// Run against the built-in reference server; the engine fills in both URLs.
  bool embedded = defaults::target_embedded;
  /// With `embedded`: PEM certificate chain and key the built-in server serves wss:// and
  /// https:// with (both or neither; empty = plain ws:// and http://).
  std::string embedded_cert_file;
  std::string embedded_key_file;
  /// Extra STOMP CONNECT headers.
  std::vector<header> connect_headers;
  /// Extra HTTP headers on the WebSocket upgrade request.
  std::vector<header> upgrade_headers;
  /// STOMP `host` header; empty sends the URL's host.
  std::string host{defaults::target_host};
  /// Heart-beat we send (cx); 0 = none.
  std::chrono::milliseconds heartbeat_send = defaults::heartbeat_send;
  /// Heart-beat we ask for (cy); 0 = none.
  std::chrono::milliseconds heartbeat_recv = defaults::heartbeat_recv;
  /// Dead after the negotiated receive period times this.
  double heartbeat_grace = defaults::heartbeat_grace;
  /// TCP + TLS + WebSocket upgrade deadline.
  std::chrono::milliseconds connect_timeout = defaults::connect_timeout;
  /// STOMP CONNECT -> CONNECTED deadline.
  std::chrono::milliseconds handshake_timeout = defaults::handshake_timeout;
  /// Largest inbound frame in bytes.
  std::uint64_t max_frame = defaults::max_frame_bytes;
  /// Offer permessage-deflate on the WebSocket upgrade (~300 KB per connection when agreed).
  bool compression = false;
  /// Delay TCP ACKs of what the client reads (TCP_QUICKACK off before each read).
  bool delayed_acks = false;
  /// Local addresses to bind client sockets to, round robin (empty: the kernel picks).
  std::vector<std::string> source_addresses;
  /// Allows a target that is neither loopback nor private.
  bool i_own_this_target = defaults::i_own_this_target;
};

/// How users authenticate.
enum class auth_mode { none, token, login };

/// `[auth]`.
struct auth_config {
  auth_mode mode = auth_mode::login;
  /// Bearer token shared by every user (mode token).
  secret token;
  /// Account per user: a printf pattern with one integer conversion that gets the member id,
  /// or a fixed address that every user shares (mode login).
  std::string email{defaults::auth_email};
  /// Member id of user index 0.
  std::int64_t start_id = defaults::auth_start_id;
  /// Password of every account (mode login).
  secret password;
  /// Logins in flight at once.
  std::uint32_t concurrency = defaults::auth_concurrency;
  /// REST login path relative to target.http_url.
  std::string login_path{defaults::auth_login_path};
  /// STOMP `login` header (brokers such as RabbitMQ); empty: not sent.
  secret stomp_login;
  /// STOMP `passcode` header; empty: not sent.
  secret stomp_passcode;
};

/// How users are placed in rooms.
enum class rooms_mode { existing, per_users, create };

/// `[rooms]`.
struct rooms_config {
  rooms_mode mode = rooms_mode::per_users;
  /// The room of every user (mode existing).
  std::int64_t room_id = defaults::rooms_room_id;
  /// User index i goes to room i / members_per_room + 1 (mode per_users).
  std::uint32_t members_per_room = defaults::rooms_members_per_room;
  /// Other members of the room created over REST (mode create).
  std::vector<std::int64_t> member_ids;
  /// REST path of room creation relative to target.http_url.
  std::string create_path{defaults::rooms_create_path};
};

/// `[destinations]`: templates with {room}, {member}, {content}, {created_at}.
struct destinations_config {
  std::string subscribe{defaults::subscribe};
  std::string send{defaults::send};
  std::string content_type{defaults::content_type};
  /// SEND body; {content} is substituted JSON-escaped.
  std::string body{defaults::body};
};

/// What a stage waits for before its clock starts.
enum class wait_for { nothing, all_subscribed };

/// One `[[stage]]`: a population held for a time, reached by a ramp.
struct stage {
  std::string name;
  /// Target population (closed model), or the cap of concurrent sessions (open model).
  std::uint32_t users = 0;
  /// How long the stage lasts after its ramp.
  std::chrono::milliseconds duration{0};
  /// New users of this stage start spread over this.
  std::chrono::milliseconds ramp = defaults::stage_ramp;
  /// ...at least this far apart.
  std::chrono::milliseconds min_start_gap = defaults::stage_min_start_gap;
  /// Open model: new sessions per second (0 = closed model).
  double arrival_rate = 0.0;
  /// Open model: how long each session lives (the shortest length when
  /// `session_length_max` is set).
  std::chrono::milliseconds session_length{0};
  /// Open model: each session lives a length drawn uniformly from [session_length, this];
  /// 0 = every session lives `session_length`.
  std::chrono::milliseconds session_length_max{0};
  /// Start the clock only when every user of the ramp has subscribed.
  config::wait_for wait_for = wait_for::nothing;
};

/// The user behaviour.
enum class behaviour_kind { seed_mix, listener };

/// `[behaviour]`: the seed's mix of active / moderate / passive senders, or listen only.
struct behaviour_config {
  behaviour_kind kind = behaviour_kind::seed_mix;
  std::chrono::milliseconds interval = defaults::behaviour_interval;
  double active_weight = defaults::active_weight;
  double moderate_weight = defaults::moderate_weight;
  double passive_weight = defaults::passive_weight;
  double active_multiplier = defaults::active_multiplier;
  double moderate_multiplier = defaults::moderate_multiplier;
  double passive_multiplier = defaults::passive_multiplier;
};

/// One step of a declarative `[[behaviour]]` (`steps = [...]`); see docs/behaviours.md.
struct step {
  enum class kind {
    /// A plain SEND of the `text` template to `destination` (default: the room's).
    send,
    /// The seed's measured chat message to the room (round trip timed).
    chat,
    /// Wait for a message matching `destination`, `header`/`header_pattern`, `body` (glob
    /// patterns with `*` and `?`) for at most `duration`; timed and counted under `name`.
    wait,
    /// Sleep `duration` ± `jitter`.
    sleep,
    subscribe,
    unsubscribe,
    /// ACK (or NACK with `negative`) the last message a `wait` matched.
    ack,
    /// Run `steps` `times` times (0 = until the session ends; with `until_stage_end`, until
    /// the stage the repeat began in ends).
    repeat,
    /// Run `steps` with `probability`, else `otherwise`.
    chance,
    /// Close the session and connect again.
    reconnect,
  } type = kind::sleep;
  std::string destination;
  std::string text;
  std::string content_type;
  std::string header;
  std::string header_pattern;
  std::string name;
  std::string ack_mode;
  std::chrono::milliseconds duration{0};
  std::chrono::milliseconds jitter{0};
  std::uint64_t times = 0;
  double probability = 1.0;
  bool receipt = false;
  bool negative = false;
  /// `repeat = "stage"`: until the stage ends.
  bool until_stage_end = false;
  std::vector<step> steps;
  std::vector<step> otherwise;
  /// Where the step is written.
  source_position where;
};

/// One parameter of a `[[behaviour]]` entry, as written.
struct behaviour_param {
  enum class kind { string, integer, floating, boolean };
  std::string key;
  kind type = kind::string;
  /// Strings (expanded), and numbers and booleans as written.
  std::string text;
  double number = 0;
  bool boolean = false;
  source_position where;
};

/// One `[[behaviour]]` entry: a registered behaviour (or `steps`), its share of the users and
/// its parameters.
struct behaviour_entry {
  /// Registry name ("seed_mix", "burst", ..., "steps").
  std::string name;
  /// Metrics label; empty = `name`. Unique among the entries.
  std::string label;
  /// Relative share of the users.
  double weight = 1.0;
  /// Every other key of the entry.
  std::vector<behaviour_param> params;
  /// Declarative steps (name "steps").
  std::vector<step> steps;
  /// CSV data for step templates (`data = "file.csv"`): header row, then rows.
  std::string data_file;
  std::vector<std::string> data_columns;
  std::vector<std::vector<std::string>> data_rows;
  source_position where;

  const std::string& metric_label() const {
    return label.empty() ? name : label;
  }
};

/// `[reconnect]`: supervisor restarts after min(max, initial * multiplier^n) +- jitter.
struct reconnect_config {
  bool enabled = defaults::reconnect_enabled;
  std::uint32_t max_attempts = defaults::reconnect_max_attempts;
  std::chrono::milliseconds initial = defaults::reconnect_initial;
  std::chrono::milliseconds max = defaults::reconnect_max;
  double multiplier = defaults::reconnect_multiplier;
  double jitter = defaults::reconnect_jitter;
  std::chrono::milliseconds healthy_reset = defaults::reconnect_healthy_reset;
};

/// `[tls]` (used for wss:// and https://).
struct tls_config {
  bool verify = defaults::tls_verify;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  /// SNI and verification name; empty: the URL's host.
  std::string server_name;
};

/// `[output]`.
struct output_config {
  /// Results folder; "{timestamp}" is replaced at run time.
  std::string dir{defaults::output_dir};
  /// Prometheus exposer "host:port"; "" disables it.
  std::string prometheus{defaults::output_prometheus};
  bool allow_public_metrics = defaults::output_allow_public_metrics;
  bool csv = defaults::output_csv;
  std::chrono::milliseconds round_trip_timeout = defaults::round_trip_timeout;
  /// Write the single-file offline report.html.
  bool html = true;
  /// After the reports are written, keep serving the final values on the Prometheus endpoint
  /// this long (a scraper's last look at the finished run: phase "done" and the final totals);
  /// a signal ends the wait.
  std::chrono::milliseconds prometheus_linger{0};
};

/// `[thresholds]`: pass/fail criteria such as "p95(rtt) < 200ms" (metrics/thresholds.hpp).
struct thresholds_config {
  /// The expressions, each already parsed once by the loader.
  std::vector<std::string> checks;
  /// Stop the run as soon as a threshold fails on the totals so far.
  bool abort_on_fail = false;
  /// No early abort before this much of the run has passed.
  std::chrono::milliseconds abort_grace{10000};
};

/// `[control]`: changing a run while it goes on.
struct control_config {
  /// Loopback "HOST:PORT" of the HTTP control endpoint (port 0 picks one); "" = none.
  std::string listen;
  /// Console keys when stdin is a terminal.
  bool keys = true;
};

/// `[server_metrics]`: the server under test, sampled beside the load once a second.
struct server_metrics_config {
  /// A local process to sample (CPU, RSS from /proc); 0 = none.
  std::int64_t pid = 0;
  /// The server's Prometheus endpoint (http://...); "" = none.
  std::string prometheus_url;
  /// Series to keep from the scrape (metric names, exact); empty = every gauge and counter
  /// sample without labels (at most 12).
  std::vector<std::string> names;
};

/// `[experiment]`: a steady-state hypothesis checked before, during and after scheduled
/// faults (docs/faults.md).
struct experiment_config {
  /// True when the scenario has an `[experiment]` table.
  bool enabled = false;
  /// The hypothesis: threshold expressions (metrics/thresholds.hpp) that must hold in the
  /// baseline phase and again after each fault ("p99(rtt) < 200ms", "connected >= 95%").
  std::vector<std::string> hypothesis;
  /// The phase right before the first fault in which the hypothesis is first checked.
  std::chrono::milliseconds baseline{10000};
  /// After a fault ends, the hypothesis must hold again within this.
  std::chrono::milliseconds recovery_deadline{30000};
  /// Also require the hypothesis to hold while faults are active.
  bool hold_during_faults = false;
  /// The admin endpoint of a separately run `stompede serve` (server faults when the target is
  /// not embedded); empty = [target] http_url.
  std::string admin_url;
  /// Its bearer token (`stompede serve` admin_token), a secret.
  secret admin_token;
};

/// What a `[[fault]]` does.
enum class fault_kind {
  // user side: the chosen users' sessions
  user_drop,
  user_close,
  user_crash,
  user_stop_reading,
  user_stop_heartbeats,
  user_malformed_frame,
  user_token_expiry,
  // server side: the embedded server's fault interface
  server_pause,
  server_delay_broadcasts,
  server_drop_broadcasts,
  server_close_sessions,
  server_refuse_connections,
  server_error,
  server_restart,
  server_stall,
  // network and protocol: a toxic of the built-in fault proxy (`proxy_toxic` names it)
  proxy_toxic,
  // the fault proxy refuses new connections
  proxy_refuse,
};

/// True for kinds done by the built-in fault proxy (net.* and stomp.*).
bool is_proxy_fault(fault_kind k) noexcept;

/// The fault proxy's toxic kinds as `[[fault]] kind` spells them, with the toxic's name:
/// {"net.latency", "latency"}, ..., {"stomp.frame_drop", "frame_drop"}, ...
const std::vector<std::pair<std::string, std::string>>& proxy_fault_kinds();

/// True for kinds that act on users (and take a user cohort).
bool is_user_fault(fault_kind k) noexcept;
/// True for kinds that last until rolled back (their `duration` is required).
bool is_lasting_fault(fault_kind k) noexcept;

/// One `[[fault]]` entry: what, when, for how long, on whom.
struct fault_entry {
  /// Label in reports; default "<kind>#<n>" (1-based entry number).
  std::string name;
  fault_kind kind = fault_kind::user_drop;
  /// First start, on the run's clock (seconds since the run started).
  std::chrono::milliseconds at{0};
  /// Repeat period; 0 = once.
  std::chrono::milliseconds every{0};
  /// Occurrences with `every` (0 = until the run ends).
  std::uint32_t times = 0;
  /// How long each occurrence lasts before it is rolled back (0 = an instant).
  std::chrono::milliseconds duration{0};
  /// Cohort: this fraction of the users (or of the server's sessions / broadcasts).
  double fraction = 1.0;
  /// Cohort: only users of these rooms (empty = any).
  std::vector<std::int64_t> rooms;
  /// Cohort: only users running this `[[behaviour]]` label (empty = any).
  std::string behaviour;
  /// Cohort: only users that this `[[stage]]` (name) added (empty = any).
  std::string stage;
  /// server.delay_broadcasts: the delay; server.stall: how long each turn of the server's IO
  /// threads is held.
  std::chrono::milliseconds delay{0};
  /// server.error: the ERROR frame's message header.
  std::string message{"INJECTED_FAULT"};
  /// server.close_sessions: TCP reset instead of a WebSocket close.
  bool abortive = false;
  /// Network and protocol kinds: the proxy's toxic kind ("latency", "frame_drop", ...) and the
  /// rest of its spec ("downstream:latency=100ms,jitter=10ms"; docs/faults.md).
  std::string proxy_toxic;
  std::string toxic;
  /// The kind as written ("user.drop", "net.latency", ...).
  std::string kind_name() const;
};

/// The TOML spelling of a fault kind ("user.drop", "server.pause", ...).
const char* to_string(fault_kind k) noexcept;

/// `[run]`.
struct run_config {
  /// 0 = one per core.
  std::uint32_t io_threads = defaults::io_threads;
  std::uint32_t users_per_shard = defaults::users_per_shard;
  /// 0 = pick one at start.
  std::uint64_t random_seed = defaults::random_seed;
};

/// A whole scenario, as loaded and validated.
struct scenario {
  /// The scenario file, or "" when built from the environment.
  std::string source;
  target_config target;
  auth_config auth;
  rooms_config rooms;
  destinations_config destinations;
  std::vector<stage> stages;
  behaviour_config behaviour;
  /// `[[behaviour]]` entries; empty = one behaviour from `[behaviour]` (the seed's mix or
  /// listen only).
  std::vector<behaviour_entry> behaviours;
  reconnect_config reconnect;
  tls_config tls;
  output_config output;
  run_config run;
  thresholds_config thresholds;
  control_config control;
  server_metrics_config server_metrics;
  experiment_config experiment;
  std::vector<fault_entry> faults;
  /// Where each key was set: "target.url", "stage[0].users", ... (0-based stage index).
  std::map<std::string, source_position> positions;
};

/// The TOML spelling of each enum value.
const char* to_string(auth_mode m) noexcept;
const char* to_string(rooms_mode m) noexcept;
const char* to_string(wait_for w) noexcept;
const char* to_string(behaviour_kind k) noexcept;

/// `text` (a server's error message, a failure line) with every secret value of `sc` in it
/// replaced by `***`: the token, password, STOMP login and passcode, the admin token, the
/// values of credential-like headers and what `redact_url` hides in the scenario's URLs. What a
/// server echoes back never carries a secret into logs or reports.
std::string scrub_secrets(std::string text, const scenario& sc);

/// The most users any stage holds: what identities, logins, rooms and open files are planned for.
std::uint32_t peak_users(const scenario& sc) noexcept;

} // namespace stompede::config
