// [experiment] and [[fault]]: loaded, validated with file:line:column, printed with the token
// redacted; network and protocol kinds refused while the proxy is not wired in.
#include "config/loader.hpp"
#include "config/print.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace stompede::config;

namespace {

const std::string base = R"([target]
embedded = true

[auth]
mode = "login"
password = "pw"

[[stage]]
name = "steady"
users = 20
ramp = "2s"
duration = "60s"
)";

load_result load(const std::string& text, const env_map& env = {}) {
  return load_scenario_text(base + text, "x.toml", {}, env);
}

std::string all(const load_result& r) {
  std::string out;
  for (const auto& d : r.problems)
    out += d.to_string() + "\n";
  return out;
}

} // namespace

TEST_CASE("an experiment with user and server faults loads", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["p99(rtt) < 200ms", "connected >= 95%", "lost == 0"]
baseline = "5s"
recovery_deadline = "20s"

[[fault]]
name = "cut 30%"
kind = "server.close_sessions"
at = "10s"
fraction = 0.3
abortive = true

[[fault]]
kind = "user.stop_reading"
at = "20s"
every = "15s"
times = 2
duration = "5s"
fraction = 0.5
rooms = [1, 2]
stage = "steady"

[rooms]
members_per_room = 10
)");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.experiment.enabled);
  CHECK(s.experiment.hypothesis.size() == 3);
  CHECK(s.experiment.baseline == 5s);
  CHECK(s.experiment.recovery_deadline == 20s);
  REQUIRE(s.faults.size() == 2);
  CHECK(s.faults[0].name == "cut 30%");
  CHECK(s.faults[0].kind == fault_kind::server_close_sessions);
  CHECK(s.faults[0].abortive);
  CHECK(s.faults[1].name == "user.stop_reading#2");
  CHECK(s.faults[1].every == 15s);
  CHECK(s.faults[1].times == 2);
  CHECK(s.faults[1].rooms == std::vector<std::int64_t>{1, 2});
  auto text = to_toml(s);
  CHECK_THAT(text, Catch::Contains("[experiment]"));
  CHECK_THAT(text, Catch::Contains("kind = \"user.stop_reading\""));
  // What `stompede check` prints loads again to the same faults.
  auto again = load_scenario_text(text, "printed.toml", {}, {});
  INFO(all(again));
  REQUIRE(again.ok());
  CHECK(again.value->faults.size() == 2);
  CHECK(again.value->faults[1].fraction == 0.5);
}

TEST_CASE("fault mistakes point at file:line:column", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["p99(rt) < 200ms"]

[[fault]]
kind = "user.dorp"
at = "10s"
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  // line 15 of the whole text: the hypothesis; column of the unknown metric inside the string.
  CHECK_THAT(text, Catch::Contains("x.toml:15:20: experiment.hypothesis[0]: unknown metric"));
  CHECK_THAT(text, Catch::Contains("x.toml:18:8: fault[0].kind:"));
  CHECK_THAT(text, Catch::Contains("did you mean \"user.drop\"?"));
}

TEST_CASE("network and protocol kinds load with their proxy spec", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
kind = "net.latency"
at = "10s"
duration = "5s"
toxic = "downstream:latency=100ms"
fraction = 0.5

[[fault]]
kind = "net.refuse"
at = "20s"
duration = "2s"

[[fault]]
kind = "stomp.frame_drop"
at = "30s"
duration = "2s"
rooms = [1]

[[fault]]
kind = "server.restart"
at = "40s"
duration = "2s"
rooms = [1]
)");
  REQUIRE_FALSE(r.ok());
  // Proxy faults take a cohort (their users get a proxy lane); the restart has none.
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].key == "fault[3].rooms");
  CHECK_THAT(r.problems[0].message, Catch::Contains("no cohort"));
  auto ok = load(R"(
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "net.latency"
at = "10s"
duration = "5s"
toxic = "downstream:latency=100ms"
[[fault]]
kind = "stomp.throttle"
at = "20s"
duration = "5s"
toxic = "downstream:rate=5,destination=/topic/chat/room/3"
)");
  INFO(all(ok));
  REQUIRE(ok.ok());
  CHECK(ok.value->faults[0].kind == fault_kind::proxy_toxic);
  CHECK(ok.value->faults[0].proxy_toxic == "latency");
  CHECK(ok.value->faults[0].name == "net.latency#1");
  CHECK(ok.value->faults[1].kind == fault_kind::proxy_toxic);
  CHECK(ok.value->faults[1].proxy_toxic == "frame_throttle");
  CHECK(ok.value->faults[1].name == "stomp.throttle#2");
  CHECK_THAT(to_toml(*ok.value), Catch::Contains("kind = \"net.latency\""));
  CHECK_THAT(to_toml(*ok.value), Catch::Contains("toxic = \"downstream:latency=100ms\""));
}

TEST_CASE("experiment rules are checked", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]
baseline = "20s"

[[fault]]
kind = "server.pause"
at = "10s"
rooms = [1]

[[fault]]
kind = "user.drop"
at = "90s"
fraction = 1.5
every = "1s"
duration = "2s"
behaviour = "nobody"
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("fault[0].duration: \"server.pause\" lasts until"));
  // A server fault's cohort is fine (sessions of those rooms' members).
  CHECK_THAT(text, !Catch::Contains("fault[0].rooms:"));
  CHECK_THAT(text, Catch::Contains("fault[1].fraction: expected a fraction in (0, 1]"));
  CHECK_THAT(text, Catch::Contains("fault[1].every: occurrences would overlap"));
  CHECK_THAT(text, Catch::Contains("fault[1].at: the run ends at"));
  CHECK_THAT(text, Catch::Contains("fault[1].behaviour: no [[behaviour]] entry"));
  CHECK_THAT(text, Catch::Contains("experiment.baseline: the baseline phase"));
}

TEST_CASE("server.stall takes a delay of 1ms to 1s and no cohort", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
kind = "server.stall"
at = "10s"
duration = "2s"

[[fault]]
kind = "server.stall"
at = "20s"
duration = "2s"
delay = "2s"
rooms = [1]
fraction = 0.5

[[fault]]
kind = "server.pause"
at = "30s"
duration = "2s"
delay = "20ms"
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("fault[0].delay: server.stall needs how long each turn"));
  CHECK_THAT(text, Catch::Contains("fault[1].delay: server.stall needs"));
  CHECK_THAT(text, Catch::Contains("fault[1].rooms: \"server.stall\" holds the whole server's "
                                   "threads; it has no cohort"));
  CHECK_THAT(text, Catch::Contains("fault[1].fraction: \"server.stall\""));
  CHECK_THAT(text, Catch::Contains("fault[2].delay: delay is a parameter of "
                                   "server.delay_broadcasts and server.stall only"));
  CHECK(r.problems.size() == 5);
  auto ok = load(R"(
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "server.stall"
at = "10s"
duration = "2s"
delay = "50ms"
)");
  INFO(all(ok));
  REQUIRE(ok.ok());
  REQUIRE(ok.value->faults.size() == 1);
  CHECK(ok.value->faults[0].kind == fault_kind::server_stall);
  CHECK(ok.value->faults[0].delay == 50ms);
  // `stompede check` prints it so that it loads again the same.
  auto again = load_scenario_text(to_toml(*ok.value), "printed.toml", {}, {});
  INFO(all(again));
  REQUIRE(again.ok());
  CHECK(again.value->faults[0].kind == fault_kind::server_stall);
  CHECK(again.value->faults[0].delay == 50ms);
}

TEST_CASE("faults need an experiment, and a level needs the experiment", "[config][experiment]") {
  auto r = load("\n[[fault]]\nkind = \"user.drop\"\nat = \"10s\"\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(all(r), Catch::Contains("add an [experiment] table"));
  auto t = load("\n[thresholds]\nchecks = [\"connected >= 95%\"]\n");
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(all(t), Catch::Contains("is a level of the moment"));
}

TEST_CASE("server faults on a separate server need the admin token, printed as ***",
          "[config][experiment]") {
  const std::string separate = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
http_url = "http://127.0.0.1:8080"
[auth]
mode = "login"
password = "pw"
[[stage]]
users = 5
duration = "60s"
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "server.refuse_connections"
at = "20s"
duration = "5s"
)";
  auto r = load_scenario_text(separate, "s.toml", {}, {});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(all(r), Catch::Contains("experiment.admin_token"));
  auto ok = load_scenario_text(separate + "", "s.toml", {"experiment.admin_token=\"${ADMIN}\""},
                               {{"ADMIN", "s3cret-t0ken"}});
  INFO(all(ok));
  REQUIRE(ok.ok());
  CHECK(ok.value->experiment.admin_token.reveal() == "s3cret-t0ken");
  auto printed = to_toml(*ok.value);
  CHECK(printed.find("s3cret-t0ken") == std::string::npos);
  CHECK_THAT(printed, Catch::Contains("admin_token = \"***\""));
}

TEST_CASE("a fraction is refused on the kinds that act on all they reach", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
kind = "server.pause"
at = "10s"
duration = "2s"
fraction = 0.5

[[fault]]
kind = "server.refuse_connections"
at = "15s"
duration = "2s"
fraction = 0.5

[[fault]]
kind = "server.restart"
at = "20s"
duration = "2s"
fraction = 0.5

[[fault]]
kind = "server.delay_broadcasts"
at = "25s"
duration = "2s"
delay = "100ms"
fraction = 0.5

[[fault]]
kind = "net.refuse"
at = "30s"
duration = "2s"
fraction = 0.5
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  // line 13 is the text's first (empty) line: fraction of fault[0] is on line 21.
  CHECK_THAT(text, Catch::Contains("x.toml:21:12: fault[0].fraction: \"server.pause\" pauses "
                                   "every session (of its cohort); it takes no fraction"));
  CHECK_THAT(text, Catch::Contains("fault[1].fraction: \"server.refuse_connections\" refuses"));
  CHECK_THAT(text, Catch::Contains("fault[2].fraction: \"server.restart\" takes the whole server "
                                   "down; it takes no fraction"));
  CHECK_THAT(text, Catch::Contains("fault[3].fraction: \"server.delay_broadcasts\" delays"));
  CHECK_THAT(text, Catch::Contains("fault[4].fraction: \"net.refuse\" refuses"));
  CHECK(r.problems.size() == 5);
  // Their cohorts of rooms, behaviours and stages are honoured (the server and the proxy lanes
  // narrow them); a fraction of 1 is the whole cohort, as without one.
  auto ok = load(R"(
[experiment]
hypothesis = ["lost == 0"]
[rooms]
members_per_room = 10
[[fault]]
kind = "server.pause"
at = "10s"
duration = "2s"
rooms = [1]
fraction = 1.0
[[fault]]
kind = "server.refuse_connections"
at = "15s"
duration = "2s"
stage = "steady"
[[fault]]
kind = "net.refuse"
at = "20s"
duration = "2s"
rooms = [2]
[[fault]]
kind = "server.drop_broadcasts"
at = "25s"
duration = "2s"
fraction = 0.5
)");
  INFO(all(ok));
  CHECK(ok.ok());
}

TEST_CASE("message and toxic are refused where the kind does not use them",
          "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
kind = "server.pause"
at = "10s"
duration = "2s"
message = "going down"

[[fault]]
kind = "user.drop"
at = "15s"
message = "INJECTED_FAULT"

[[fault]]
kind = "net.refuse"
at = "20s"
duration = "2s"
toxic = "downstream:latency=100ms"

[[fault]]
kind = "server.pause"
at = "25s"
duration = "2s"
abortive = false
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  // Written, even as its default, on a kind that does not take it.
  CHECK_THAT(text, Catch::Contains("fault[3].abortive: abortive is a parameter of "
                                   "server.close_sessions only"));
  CHECK_THAT(text, Catch::Contains("x.toml:21:11: fault[0].message: message is a parameter of "
                                   "server.error only"));
  // Also when it is the default's text: the file asked for a message that nothing sends.
  CHECK_THAT(text, Catch::Contains("fault[1].message: message is a parameter of server.error"));
  CHECK_THAT(text, Catch::Contains("x.toml:32:9: fault[2].toxic: \"net.refuse\" switches the "
                                   "fault proxy's refusal of new connections on and off; it "
                                   "takes no toxic"));
  CHECK(r.problems.size() == 4);
  auto ok = load(R"(
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "server.error"
at = "10s"
message = "going down"
)");
  INFO(all(ok));
  REQUIRE(ok.ok());
  CHECK(ok.value->faults[0].message == "going down");
  // What `stompede check` prints (message only for server.error) loads again.
  auto again = load_scenario_text(to_toml(*ok.value), "printed.toml", {}, {});
  INFO(all(again));
  CHECK(again.ok());
}

TEST_CASE("a repeat needs a period above zero; times needs every", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
kind = "user.drop"
at = "10s"
every = "0s"

[[fault]]
kind = "user.drop"
at = "20s"
times = 3
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("x.toml:20:9: fault[0].every: expected a repeat period greater "
                                   "than zero, got 0s (leave every out for one occurrence)"));
  CHECK_THAT(text, Catch::Contains("fault[1].times: times counts repetitions: it needs every"));
  CHECK(r.problems.size() == 2);
  const std::string once = "\n[experiment]\nhypothesis = [\"lost == 0\"]\n[[fault]]\n"
                           "kind = \"user.drop\"\nat = \"10s\"\n";
  // every without times repeats until the run ends (times = 0).
  auto repeat = load(once + "every = \"5s\"\n");
  INFO(all(repeat));
  REQUIRE(repeat.ok());
  CHECK(repeat.value->faults[0].every == 5s);
  CHECK(repeat.value->faults[0].times == 0);
  // --set reaches it too, at the override.
  auto zero = load_scenario_text(base + once, "x.toml", {"fault[0].every=\"0s\""}, {});
  CHECK_THAT(all(zero), Catch::Contains("--set:1:1: fault[0].every: expected a repeat period"));
}

TEST_CASE("fault names are unique, default names included", "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["lost == 0"]

[[fault]]
name = "cut"
kind = "user.drop"
at = "10s"

[[fault]]
name = "cut"
kind = "server.close_sessions"
at = "20s"

[[fault]]
kind = "user.drop"
at = "30s"

[[fault]]
name = "user.drop#3"
kind = "user.close"
at = "40s"
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("x.toml:23:8: fault[1].name: the name \"cut\" is already used "
                                   "by fault[0]; fault names must be unique"));
  CHECK_THAT(text, Catch::Contains("fault[3].name: the name \"user.drop#3\" is already used by "
                                   "fault[2] (its default name)"));
  CHECK(r.problems.size() == 2);
}

TEST_CASE("a fraction or percentage above 100% is refused in the hypothesis",
          "[config][experiment]") {
  auto r = load(R"(
[experiment]
hypothesis = ["connected >= 150%", "rate(round_trips) >= 1.5", "connected >= 100%"]

[[fault]]
kind = "user.drop"
at = "10s"
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  // The column of the limit inside the string.
  CHECK_THAT(text, Catch::Contains("x.toml:15:29: experiment.hypothesis[0]: \"connected\" is a "
                                   "fraction from 0 to 1 (0% to 100%), got 150%"));
  CHECK_THAT(text, Catch::Contains("experiment.hypothesis[1]: \"rate(round_trips)\" is a fraction "
                                   "from 0 to 1 (0% to 100%), got 1.5"));
  CHECK(r.problems.size() == 2);
  auto t = load("\n[thresholds]\nchecks = [\"rate(errors) < 200%\"]\n");
  CHECK_THAT(all(t), Catch::Contains("thresholds.checks[0]: \"rate(errors)\" is a fraction"));
}
