#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

using namespace std::chrono_literals;
using namespace stompede::config;

namespace {

const std::string minimal = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"

[auth]
mode = "none"

[[stage]]
users = 10
duration = "10s"
)";

load_result load(const std::string& text, const std::vector<std::string>& overrides = {},
                 const env_map& env = {}) {
  return load_scenario_text(text, "t.toml", overrides, env);
}

std::string all(const load_result& r) {
  std::string out;
  for (const auto& d : r.problems)
    out += d.to_string() + "\n";
  return out;
}

} // namespace

TEST_CASE("a minimal scenario loads with defaults", "[config][loader]") {
  auto r = load(minimal);
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.target.url == "ws://127.0.0.1:8080/ws-stomp");
  REQUIRE(s.stages.size() == 1);
  CHECK(s.stages[0].users == 10);
  CHECK(s.stages[0].duration == 10s);
  CHECK(s.stages[0].ramp == 10s);
  CHECK(s.stages[0].name == "stage 1");
  CHECK(s.behaviour.interval == 1s);
  CHECK(s.reconnect.max == 30s);
  CHECK(s.positions.at("stage[0].users").line == 8);
}

TEST_CASE("malformed TOML reports file:line:column", "[config][loader]") {
  auto r = load("[target]\nurl = \"ws://x\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].file == "t.toml");
  CHECK(r.problems[0].line == 2);
  CHECK(r.problems[0].column > 0);
  CHECK_THAT(r.problems[0].to_string(), Catch::StartsWith("t.toml:2:"));
  CHECK_THAT(r.problems[0].message, Catch::Contains("malformed TOML"));
}

TEST_CASE("wrong types are reported with position and expectation", "[config][loader]") {
  auto r = load(minimal + "\n[reconnect]\nenabled = \"yes\"\nmax_attempts = 1.5\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].to_string() ==
        "t.toml:12:11: reconnect.enabled: expected true or false, got a string");
  CHECK(r.problems[1].key == "reconnect.max_attempts");
  CHECK_THAT(r.problems[1].message, Catch::Contains("expected a non-negative integer"));
}

TEST_CASE("negative durations and bare numbers are rejected", "[config][loader]") {
  auto r = load(minimal + "ramp = \"-5s\"\n\n[behaviour]\ninterval = 1000\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].key == "stage[0].ramp");
  CHECK_THAT(r.problems[0].message, Catch::Contains("negative"));
  CHECK(r.problems[1].key == "behaviour.interval");
  CHECK_THAT(r.problems[1].message, Catch::Contains("bare number"));
}

TEST_CASE("a duration finer than 1 ms is refused where it is written", "[config][loader]") {
  auto r = load(minimal + "min_start_gap = \"0.4ms\"\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].to_string() ==
        "t.toml:10:17: stage[0].min_start_gap: finer than the 1 ms resolution of durations "
        "(give whole milliseconds), got \"0.4ms\"");
}

TEST_CASE("[reconnect] ranges are checked with enabled = false too", "[config][loader]") {
  auto r = load(minimal + R"(
[reconnect]
enabled = false
max_attempts = 0
initial = "0s"
max = "1s"
multiplier = 0.5
jitter = 1.5
)");
  REQUIRE_FALSE(r.ok());
  const std::string text = all(r);
  INFO(text);
  REQUIRE(r.problems.size() == 3);
  CHECK_THAT(text, Catch::Contains("t.toml:14:11: reconnect.initial: expected a duration greater "
                                   "than zero, got 0s"));
  CHECK_THAT(text, Catch::Contains("t.toml:16:14: reconnect.multiplier: expected at least 1.0"));
  CHECK_THAT(text, Catch::Contains("t.toml:17:10: reconnect.jitter: expected a fraction from 0 "
                                   "to 1"));
  // max below initial, also switched off.
  auto m = load(minimal + "\n[reconnect]\ninitial = \"5s\"\nmax = \"2s\"\n");
  REQUIRE_FALSE(m.ok());
  REQUIRE(m.problems.size() == 1);
  CHECK(m.problems[0].key == "reconnect.max");
  // max_attempts = 0 only means "never" while reconnecting is off.
  CHECK(load(minimal + "\n[reconnect]\nmax_attempts = 0\n").ok());
  auto on = load(minimal + "\n[reconnect]\nenabled = true\nmax_attempts = 0\n");
  REQUIRE_FALSE(on.ok());
  CHECK(on.problems[0].key == "reconnect.max_attempts");
}

TEST_CASE("negative integers are rejected", "[config][loader]") {
  auto r = load(minimal + "\n[run]\nusers_per_shard = -3\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.problems[0].key == "run.users_per_shard");
  CHECK_THAT(r.problems[0].message, Catch::Contains("negative"));
}

TEST_CASE("unknown keys are errors with a did-you-mean", "[config][loader]") {
  auto r = load(minimal + "\n[reconnect]\nmax_atempts = 3\n\n[wat]\nx = 1\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 2);
  // Top-level keys are checked first.
  CHECK(r.problems[0].key == "wat");
  CHECK_THAT(r.problems[0].message, Catch::Contains("expected one of"));
  CHECK(r.problems[1].to_string() ==
        "t.toml:12:1: reconnect.max_atempts: unknown key \"max_atempts\" in [reconnect]; "
        "did you mean \"max_attempts\"?");
}

TEST_CASE("an unknown enum value suggests the closest", "[config][loader]") {
  auto r = load(minimal + "\n[behaviour]\nkind = \"listner\"\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.problems[0].message, Catch::Contains("did you mean \"listener\"?"));
}

TEST_CASE("every problem is reported, not just the first", "[config][loader]") {
  auto r = load("[target]\nurll = 1\n[auth]\nmode = \"nope\"\n[[stage]]\nusers = -1\n"
                "duration = 5\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.problems.size() == 4);
}

TEST_CASE("[[behaviour]] entries need a name", "[config][loader]") {
  auto b = load(minimal + "\n[[behaviour]]\nkind = \"listener\"\n");
  REQUIRE_FALSE(b.ok());
  CHECK(b.problems[0].key == "behaviour[0].name");
}

TEST_CASE("${VAR} expands in strings, numbers and booleans", "[config][loader]") {
  auto r = load(minimal + "\n[reconnect]\nenabled = \"${RECONNECT}\"\nmax_attempts = "
                          "\"${ATTEMPTS:-7}\"\ninitial = \"${INITIAL:-2s}\"\n",
                {}, {{"RECONNECT", "true"}});
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->reconnect.enabled);
  CHECK(r.value->reconnect.max_attempts == 7);
  CHECK(r.value->reconnect.initial == 2s);
}

TEST_CASE("${VAR} gives sizes, floats and integer lists too", "[config][loader]") {
  // max_frame is a size: a bare byte count or a unit, from a variable as from a literal.
  auto bytes = load(R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
max_frame = "${MF:-2048}"
heartbeat_grace = "${GRACE:-2}"
[auth]
mode = "none"
[[stage]]
users = "${USERS}"
duration = "10s"
arrival_rate = "${RATE:-0.5}"
session_length = "5s"
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "user.drop"
at = "10s"
rooms = ["${ROOM:-1}"]
)",
                    {}, {{"USERS", "10"}});
  INFO(all(bytes));
  REQUIRE(bytes.ok());
  CHECK(bytes.value->target.max_frame == 2048u);
  CHECK(bytes.value->target.heartbeat_grace == 2.0);
  CHECK(bytes.value->stages[0].users == 10u);
  CHECK(bytes.value->stages[0].arrival_rate == 0.5);
  REQUIRE(bytes.value->faults.size() == 1);
  CHECK(bytes.value->faults[0].rooms == std::vector<std::int64_t>{1});
  auto unit = load(minimal, {"target.max_frame=${MF}"}, {{"MF", "64KiB"}});
  INFO(all(unit));
  REQUIRE(unit.ok());
  CHECK(unit.value->target.max_frame == 64u * 1024);
}

TEST_CASE("a ${VAR} that is not a value of the key's type names the expanded text",
          "[config][loader]") {
  auto r = load(R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
max_frame = "${MF:-big}"
[auth]
mode = "none"
[[stage]]
users = 10
duration = "10s"
[reconnect]
enabled = "${ON:-maybe}"
max_attempts = "${ATTEMPTS:-five}"
multiplier = "${MULT:-x2}"
)");
  REQUIRE_FALSE(r.ok());
  const std::string text = all(r);
  INFO(text);
  REQUIRE(r.problems.size() == 4);
  CHECK_THAT(text, Catch::Contains("t.toml:3:13: target.max_frame: expected a size such as "));
  CHECK_THAT(text, Catch::Contains(", got \"big\"\n"));
  CHECK_THAT(text, Catch::Contains("t.toml:10:11: reconnect.enabled: expected true or false, got "
                                   "\"maybe\" (from \"${ON:-maybe}\")"));
  CHECK_THAT(text, Catch::Contains("t.toml:11:16: reconnect.max_attempts: expected a "
                                   "non-negative integer, got \"five\" (from "
                                   "\"${ATTEMPTS:-five}\")"));
  CHECK_THAT(text, Catch::Contains("t.toml:12:14: reconnect.multiplier: expected a number, got "
                                   "\"x2\" (from \"${MULT:-x2}\")"));
}

TEST_CASE("a missing variable is an error at its position", "[config][loader]") {
  auto m = load("[target]\nurl = \"ws://127.0.0.1:${PORT}/ws\"\n[auth]\nmode = \"none\"\n"
                "[[stage]]\nusers = 1\nduration = \"1s\"\n");
  REQUIRE_FALSE(m.ok());
  REQUIRE(m.problems.size() == 1);
  CHECK(m.problems[0].line == 2);
  CHECK(m.problems[0].column == 7);
  CHECK(m.problems[0].key == "target.url");
  CHECK_THAT(m.problems[0].message, Catch::Contains("PORT is not set"));
}

TEST_CASE("a .env file next to the scenario fills variables and env wins", "[config][loader]") {
  {
    std::ofstream f{"test_config_scenario.toml"};
    f << "[target]\nurl = \"ws://127.0.0.1:${PORT}/ws\"\nhost = \"${VHOST}\"\n[auth]\nmode = "
         "\"none\"\n[[stage]]\nusers = 1\nduration = \"1s\"\n";
    std::ofstream e{"test_config_scenario.env"};
    e << "PORT=9999\nVHOST=from-file\n";
  }
  auto r = load_scenario("test_config_scenario.toml", {}, {{"VHOST", "from-env"}},
                         "test_config_scenario.env");
  std::remove("test_config_scenario.toml");
  std::remove("test_config_scenario.env");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->target.url == "ws://127.0.0.1:9999/ws");
  CHECK(r.value->target.host == "from-env");
}

TEST_CASE("${VAR} from a .env file drops quotes and comments", "[config][loader]") {
  {
    std::ofstream e{"test_config_quoted.env"};
    e << "VHOST=\"quoted\" # the vhost\n";
  }
  auto r =
      load_scenario_text(minimal, "t.toml", {"target.host=${VHOST}"}, {}, "test_config_quoted.env");
  std::remove("test_config_quoted.env");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->target.host == "quoted");
}

TEST_CASE("a stage name used twice is refused at the second name", "[config][loader]") {
  const std::string head = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
[auth]
mode = "none"
)";
  auto r = load(head + R"([[stage]]
name = "a"
users = 10
duration = "10s"
[[stage]]
name = "a"
users = 20
duration = "10s"
[experiment]
hypothesis = ["lost == 0"]
[[fault]]
kind = "user.drop"
at = "15s"
stage = "a"
)");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK_THAT(r.problems[0].to_string(),
             Catch::StartsWith("t.toml:10:8: stage[1].name: the name \"a\" is already used by "
                               "stage[0]; stage names must be unique"));
  // A default name ("stage 2") cannot be taken by an explicit one either.
  auto d = load(head + R"([[stage]]
name = "stage 2"
users = 10
duration = "10s"
[[stage]]
users = 20
duration = "10s"
)");
  REQUIRE_FALSE(d.ok());
  REQUIRE(d.problems.size() == 1);
  CHECK_THAT(d.problems[0].to_string(),
             Catch::StartsWith("t.toml:9:1: stage[1].name: this stage's default name "
                               "\"stage 2\" is already the name of stage[0]"));
  auto e = load(head + R"([[stage]]
users = 10
duration = "10s"
[[stage]]
name = "stage 1"
users = 20
duration = "10s"
)");
  REQUIRE_FALSE(e.ok());
  REQUIRE(e.problems.size() == 1);
  CHECK_THAT(e.problems[0].to_string(),
             Catch::StartsWith("t.toml:9:8: stage[1].name: the name \"stage 1\" is already "
                               "used by stage[0] (its default name)"));
  // Distinct names, given or default, are fine.
  auto ok = load(head + R"([[stage]]
users = 10
duration = "10s"
[[stage]]
name = "b"
users = 20
duration = "10s"
[[stage]]
users = 20
duration = "10s"
)");
  INFO(all(ok));
  CHECK(ok.ok());
}

TEST_CASE("the embedded server needs auth.mode = \"login\"", "[config][loader]") {
  const std::string stage = "[[stage]]\nusers = 1\nduration = \"1s\"\n";
  for (const char* mode : {"none", "token"}) {
    INFO(mode);
    auto r = load("[target]\nembedded = true\n[auth]\nmode = \"" + std::string{mode} +
                  "\"\ntoken = \"t\"\n" + stage);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].to_string() ==
          "t.toml:4:8: auth.mode: the embedded server (target.embedded = true) accepts only the "
          "tokens its own login hands out, so every session with auth.mode = \"" +
              std::string{mode} +
              "\" would be refused at CONNECT: set auth.mode = \"login\" with a password (any "
              "password logs in there)");
  }
  auto login =
      load("[target]\nembedded = true\n[auth]\nmode = \"login\"\npassword = \"pw\"\n" + stage);
  INFO(all(login));
  CHECK(login.ok());
  // The default mode is "login".
  CHECK(load("[target]\nembedded = true\n[auth]\npassword = \"pw\"\n" + stage).ok());
}

TEST_CASE("a missing scenario file is one diagnostic", "[config][loader]") {
  auto r = load_scenario("/nonexistent/scenario.toml", {}, {});
  REQUIRE(r.problems.size() == 1);
  CHECK_THAT(r.problems[0].to_string(), Catch::Contains("cannot read"));
}

TEST_CASE("overrides set values, typed when TOML, else text", "[config][loader]") {
  auto r = load(minimal, {"stage[0].users=50", "target.url=ws://127.0.0.2:9000/x",
                          "reconnect.enabled=true", "behaviour.interval=250ms", "target.host=1",
                          "target.connect_headers.X-Trace=abc", "auth.token=${TOK:-t0}"});
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.stages[0].users == 50);
  CHECK(s.target.url == "ws://127.0.0.2:9000/x");
  CHECK(s.reconnect.enabled);
  CHECK(s.behaviour.interval == 250ms);
  CHECK(s.target.host == "1");
  REQUIRE(s.target.connect_headers.size() == 1);
  CHECK(s.target.connect_headers[0].value.reveal() == "abc");
  CHECK(s.auth.token.reveal() == "t0");
  CHECK(s.positions.at("stage[0].users").file == "--set");
}

TEST_CASE("a bad override key is an error naming the override", "[config][loader]") {
  auto r = load(minimal, {"reconnect.enabled=true", "target.urll=ws://x", "stage[3].users=1",
                          "novalue", "targt.url=x"});
  REQUIRE_FALSE(r.ok());
  std::string text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("--set:2:1: target.urll: unknown key \"urll\" in [target]; "
                                   "did you mean \"url\"?"));
  CHECK_THAT(text, Catch::Contains("--set:3:1: stage[3].users: stage[3] does not exist"));
  CHECK_THAT(text, Catch::Contains("--set:4:1: novalue: expected key=value"));
  CHECK_THAT(text, Catch::Contains("--set:5:1: targt: unknown key \"targt\" at the top level; "
                                   "did you mean \"target\"?"));
}

TEST_CASE("heartbeat takes durations or STOMP milliseconds", "[config][loader]") {
  auto r = load(minimal, {"target.heartbeat=\"5s,0\""});
  REQUIRE(r.ok());
  CHECK(r.value->target.heartbeat_send == 5s);
  CHECK(r.value->target.heartbeat_recv == 0ms);
  auto bad = load(minimal, {"target.heartbeat=10s"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.problems[0].key == "target.heartbeat");
}

TEST_CASE("sizes take units or bytes", "[config][loader]") {
  auto r = load(minimal, {"target.max_frame=\"512KiB\""});
  REQUIRE(r.ok());
  CHECK(r.value->target.max_frame == 512u * 1024);
  auto bytes = load(minimal, {"target.max_frame=4096"});
  REQUIRE(bytes.ok());
  CHECK(bytes.value->target.max_frame == 4096u);
}

TEST_CASE("thresholds: each expression is checked before the run, at its column",
          "[config][loader][thresholds]") {
  auto r = load(minimal + "[thresholds]\nchecks = [\"lost == 0\", \"p95(latency) < 2s\"]\n"
                          "abort_on_fail = true\n");
  REQUIRE(r.problems.size() == 1);
  const auto& d = r.problems[0];
  CHECK(d.file == "t.toml");
  CHECK(d.line == 11);
  CHECK(d.column == 29); // the 'l' of "latency": the string opens at column 24
  CHECK(d.key == "thresholds.checks[1]");
  CHECK(d.message.find("unknown metric \"latency\"") != std::string::npos);
  auto ok =
      load(minimal + "[thresholds]\nchecks = [\"p95(rtt) < 200ms\", \"rate(errors) < 0.1%\"]\n"
                     "abort_on_fail = true\nabort_grace = \"5s\"\n");
  INFO(all(ok));
  REQUIRE(ok.ok());
  CHECK(ok.value->thresholds.checks.size() == 2);
  CHECK(ok.value->thresholds.abort_on_fail);
  CHECK(ok.value->thresholds.abort_grace == 5s);
  auto typo = load(minimal + "[thresholds]\ncheck = [\"lost == 0\"]\n");
  REQUIRE(typo.problems.size() == 1);
  CHECK(typo.problems[0].message.find("did you mean \"checks\"") != std::string::npos);
}

TEST_CASE("control and server_metrics keys are read and checked", "[config][loader]") {
  auto ok = load(minimal + "[control]\nlisten = \"127.0.0.1:0\"\nkeys = false\n"
                           "[server_metrics]\npid = 1\nprometheus_url = "
                           "\"http://127.0.0.1:9/metrics\"\nnames = [\"a\"]\n");
  INFO(all(ok));
  REQUIRE(ok.ok());
  CHECK(ok.value->control.listen == "127.0.0.1:0");
  CHECK_FALSE(ok.value->control.keys);
  CHECK(ok.value->server_metrics.pid == 1);
  CHECK(ok.value->server_metrics.names == std::vector<std::string>{"a"});
  auto open = load(minimal + "[control]\nlisten = \"0.0.0.0:7000\"\n");
  REQUIRE(open.problems.size() == 1);
  CHECK(open.problems[0].key == "control.listen");
  auto bad = load(minimal + "[server_metrics]\nprometheus_url = \"ftp://x/metrics\"\n");
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].key == "server_metrics.prometheus_url");
}

TEST_CASE("a missing stage key is called required, a directory is no scenario",
          "[config][loader]") {
  auto r = load("[target]\nurl = \"ws://127.0.0.1:8080/ws-stomp\"\n[auth]\nmode = \"none\"\n"
                "[[stage]]\nname = \"x\"\n");
  REQUIRE_FALSE(r.ok());
  const auto text = all(r);
  CHECK(text.find("stage[0].users: required") != std::string::npos);
  CHECK(text.find("stage[0].duration: required") != std::string::npos);
  // Given but zero is another message.
  auto z = load(minimal + "[[stage]]\nusers = 0\nduration = \"0s\"\n");
  CHECK(all(z).find("stage[1].users: expected at least 1 user") != std::string::npos);
  CHECK(all(z).find("stage[1].duration: expected a duration greater than zero") !=
        std::string::npos);
  auto d = load_scenario("/", {}, {});
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].to_string().find("is a directory") != std::string::npos);
}

TEST_CASE("credential-like headers print masked; a server's echo of a secret is scrubbed",
          "[config][secret]") {
  for (const char* name : {"Authorization", "X-Bearer", "X-Csrf-Token", "X-XSRF", "X-Session-Id",
                           "X-Api-Key", "jwt", "login", "passcode", "X-Signature"})
    CHECK(is_sensitive_header(name));
  for (const char* name : {"content-type", "host", "X-Request-Id", "accept-version"})
    CHECK_FALSE(is_sensitive_header(name));
  auto r =
      load(minimal + "[target.connect_headers]\nAuthorization = \"Bearer tok-12345\"\n", {}, {});
  REQUIRE(r.ok());
  auto sc = *r.value;
  sc.auth.password = secret{"pw-canary"};
  sc.auth.stomp_login = secret{"ab"}; // too short to mask: ordinary text stays
  CHECK(scrub_secrets("bad password pw-canary for ab", sc) == "bad password *** for ab");
  CHECK(scrub_secrets("token tok-12345 refused", sc) == "token *** refused");
  CHECK(scrub_secrets("Bearer tok-12345", sc) == "***");
}

TEST_CASE("numbers must be finite", "[config][loader]") {
  for (const char* v : {"nan", "inf", "-inf"}) {
    auto r = load(minimal + "[reconnect]\nmultiplier = " + v + "\n");
    INFO(v);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(all(r), Catch::Contains("t.toml:11:") &&
                           Catch::Contains("reconnect.multiplier: expected a finite number"));
  }
}

TEST_CASE("an override's index past 64 bits is refused in one line", "[config][loader]") {
  auto r = load(minimal, {"stage[99999999999999999999].users=3"});
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK_THAT(all(r), Catch::Contains("--set") && Catch::Contains("too large") &&
                         !Catch::Contains("stol"));
}

TEST_CASE("a scenario that only fails semantic checks is kept for later checks",
          "[config][loader]") {
  auto r = load(minimal, {"stage[0].users=0"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.unchecked.has_value());
  auto bad_type = load(minimal, {"stage[0].users=\"ten\""});
  REQUIRE_FALSE(bad_type.ok());
  CHECK_FALSE(bad_type.unchecked.has_value());
}
