#include "config/print.hpp"

#include "config/loader.hpp"

#include <catch2/catch.hpp>

using namespace stompede::config;

TEST_CASE("printing never shows a secret", "[config][print]") {
  const std::string canary = "canary-5b1e9d";
  auto r = load_scenario_text(R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
[target.connect_headers]
Authorization = "Bearer ${CANARY}"
X-Plain = "visible"
[target.upgrade_headers]
Cookie = "${CANARY}"
[auth]
mode = "login"
password = "${CANARY}"
token = "${CANARY}"
stomp_login = "${CANARY}"
stomp_passcode = "${CANARY}"
[[stage]]
users = 1
duration = "1s"
)",
                              "redaction.toml", {}, {{"CANARY", canary}});
  INFO((r.problems.empty() ? std::string{} : r.problems[0].to_string()));
  REQUIRE(r.ok());
  CHECK(r.value->auth.password.reveal() == canary);
  const auto text = to_toml(*r.value);
  CHECK(text.find("canary") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("password = \"***\""));
  CHECK_THAT(text, Catch::Contains("Authorization = \"***\""));
  CHECK_THAT(text, Catch::Contains("X-Plain = \"visible\""));
}

TEST_CASE("printed scenarios load back to the same values", "[config][print]") {
  auto r = load_scenario_text(R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
heartbeat = "5s,0s"
max_frame = "512KiB"
compression = true
[auth]
mode = "none"
[destinations]
body = "{\"text\":\"{content}\"\n}"
[[stage]]
name = "a \"quoted\" name"
users = 7
duration = "1m30s"
arrival_rate = 2.5
session_length = "20s"
[behaviour]
active_weight = 1
)",
                              "a.toml", {}, {});
  REQUIRE(r.ok());
  auto text = to_toml(*r.value);
  auto back = load_scenario_text(text, "printed.toml", {}, {});
  INFO(text);
  INFO((back.problems.empty() ? std::string{} : back.problems[0].to_string()));
  REQUIRE(back.ok());
  const auto& a = *r.value;
  const auto& b = *back.value;
  CHECK(a.target.heartbeat_send == b.target.heartbeat_send);
  CHECK(a.target.heartbeat_recv == b.target.heartbeat_recv);
  CHECK(a.target.max_frame == b.target.max_frame);
  CHECK(b.target.compression);
  CHECK(a.destinations.body == b.destinations.body);
  CHECK(a.stages[0].name == b.stages[0].name);
  CHECK(a.stages[0].duration == b.stages[0].duration);
  CHECK(a.stages[0].arrival_rate == b.stages[0].arrival_rate);
  CHECK(a.behaviour.active_weight == b.behaviour.active_weight);
  const auto again = to_toml(b);
  CHECK(again.substr(again.find('\n')) == text.substr(text.find('\n')));
}

TEST_CASE("delayed_acks loads, prints back, and is refused with compression", "[config][print]") {
  const std::string head = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
delayed_acks = true
)";
  const std::string tail = R"([auth]
mode = "none"
[[stage]]
name = "s"
users = 1
duration = "1s"
)";
  auto r = load_scenario_text(head + tail, "a.toml", {}, {});
  REQUIRE(r.ok());
  CHECK(r.value->target.delayed_acks);
  auto text = to_toml(*r.value);
  CHECK_THAT(text, Catch::Contains("delayed_acks = true"));
  auto back = load_scenario_text(text, "printed.toml", {}, {});
  REQUIRE(back.ok());
  CHECK(back.value->target.delayed_acks);
  auto both = load_scenario_text(head + "compression = true\n" + tail, "b.toml", {}, {});
  REQUIRE_FALSE(both.ok());
  REQUIRE(both.problems.size() == 1);
  CHECK(both.problems[0].key == "target.delayed_acks");
  CHECK_THAT(both.problems[0].message, Catch::Contains("not with compression"));
}

TEST_CASE("a token in a URL's query prints as ***; the engine keeps the real URL",
          "[config][print]") {
  const std::string canary = "canary-91c4e2";
  auto r = load_scenario_text(R"([target]
url = "ws://127.0.0.1:8080/ws?access_token=${CANARY}&room=1"
http_url = "http://127.0.0.1:8080/?Token=${CANARY}"
[auth]
mode = "none"
[[stage]]
users = 1
duration = "1s"
[server_metrics]
prometheus_url = "http://127.0.0.1:9090/metrics?jwt=${CANARY}"
[experiment]
hypothesis = ["lost == 0"]
admin_url = "http://127.0.0.1:8080?key=${CANARY}"
[[fault]]
kind = "user.drop"
at = "10s"
)",
                              "url.toml", {}, {{"CANARY", canary}});
  INFO((r.problems.empty() ? std::string{} : r.problems[0].to_string()));
  REQUIRE(r.ok());
  CHECK(r.value->target.url == "ws://127.0.0.1:8080/ws?access_token=" + canary + "&room=1");
  const auto text = to_toml(*r.value);
  INFO(text);
  CHECK(text.find("canary") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("url = \"ws://127.0.0.1:8080/ws?access_token=***&room=1\""));
  CHECK_THAT(text, Catch::Contains("http_url = \"http://127.0.0.1:8080/?Token=***\""));
  CHECK_THAT(text, Catch::Contains("prometheus_url = \"http://127.0.0.1:9090/metrics?jwt=***\""));
  CHECK_THAT(text, Catch::Contains("admin_url = \"http://127.0.0.1:8080?key=***\""));
  // What the results folder holds still loads with check.
  auto back = load_scenario_text(text, "printed.toml", {}, {});
  INFO((back.problems.empty() ? std::string{} : back.problems[0].to_string()));
  CHECK(back.ok());
  // Workers get the real URL over their link.
  CHECK_THAT(to_toml_with_secrets(*r.value), Catch::Contains("access_token=" + canary));
  // A server echoing the URL's token back is scrubbed like any other secret.
  CHECK(scrub_secrets("bad token " + canary, *r.value) == "bad token ***");
}

TEST_CASE("redact_url hides credential-like query values and userinfo", "[config][print]") {
  CHECK(redact_url("wss://host/ws?access_token=SECRET") == "wss://host/ws?access_token=***");
  CHECK(redact_url("wss://host/ws?room=1&TOKEN=a&Auth=b&key=c&password=d&jwt=e&x=2") ==
        "wss://host/ws?room=1&TOKEN=***&Auth=***&key=***&password=***&jwt=***&x=2");
  CHECK(redact_url("wss://host/ws?api_key=a;client_secret=b&sig=c") ==
        "wss://host/ws?api_key=***;client_secret=***&sig=***");
  CHECK(redact_url("wss://host/ws?access%5Ftoken=a#token=frag") ==
        "wss://host/ws?access%5Ftoken=***#token=frag");
  CHECK(redact_url("wss://user:p@ss@host:9443/ws?room=1") == "wss://***@host:9443/ws?room=1");
  CHECK(redact_url("https://token@host?token=") == "https://***@host?token=");
  CHECK(redact_url("ws://127.0.0.1:8080/ws-stomp") == "ws://127.0.0.1:8080/ws-stomp");
  CHECK(redact_url("ws://host/a@b?room=1") == "ws://host/a@b?room=1");
  CHECK(redact_url("") == "");
}

TEST_CASE("errors that quote a URL hide its credentials", "[config][print]") {
  auto r = load_scenario_text(R"([target]
url = "ws://127.0.0.1:8080/ws"
[auth]
mode = "none"
[[stage]]
users = 1
duration = "1s"
[server_metrics]
prometheus_url = "https://127.0.0.1:9090/metrics?token=canary-3f9"
)",
                              "url.toml", {}, {});
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].to_string() ==
        "url.toml:9:18: server_metrics.prometheus_url: expected an http:// URL such as "
        "\"http://127.0.0.1:8080/metrics\", got \"https://127.0.0.1:9090/metrics?token=***\"");
  auto seed =
      load_from_env({{"SERVER_URL", "ftp://host/x?password=canary-3f9"}, {"TOKEN", "t"}}, {}, "");
  REQUIRE_FALSE(seed.ok());
  CHECK(seed.problems[0].message.find("canary") == std::string::npos);
  CHECK_THAT(seed.problems[0].message, Catch::Contains("password=***"));
}
