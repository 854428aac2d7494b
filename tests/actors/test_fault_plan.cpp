// From [[fault]] entries to what the injector runs: a server fault's cohort becomes the rooms
// and the member ids its calls carry (the behaviour's or stage's users, worked out the way the
// engine assigns them), with the server's tally counter for its hits; a proxy fault's cohort
// becomes the users of its proxy lanes.
#include "actors/fault_plan.hpp"
#include "actors/server_faults.hpp"
#include "actors/user_plan.hpp"
#include "config/loader.hpp"

#include <catch2/catch.hpp>

using namespace stompede;

namespace {

config::scenario load(const std::string& faults) {
  auto r = config::load_scenario_text(R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
http_url = "http://127.0.0.1:8080"
[auth]
mode = "login"
password = "p"
start_id = 1
[rooms]
members_per_room = 10
[[stage]]
name = "first"
users = 20
duration = "30s"
[[stage]]
name = "more"
users = 30
duration = "30s"
[[behaviour]]
name = "seed_mix"
label = "talk"
[[behaviour]]
name = "listener"
label = "quiet"
[experiment]
hypothesis = ["connected >= 50%"]
baseline = "1s"
admin_token = "t"
)" + faults,
                                      "f.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

} // namespace

TEST_CASE("a server fault's cohort names its rooms and its users' member ids", "[actors][faults]") {
  auto sc = load(R"(
[[fault]]
name = "err"
kind = "server.error"
at = "5s"
behaviour = "quiet"
stage = "more"
[[fault]]
name = "drop"
kind = "server.drop_broadcasts"
at = "10s"
duration = "2s"
rooms = [2, 3]
[[fault]]
name = "restart"
kind = "server.restart"
at = "20s"
duration = "2s"
)");
  auto specs = make_fault_specs(sc, {"talk", "quiet"}, 30);
  REQUIRE(specs.size() == 3);
  // The quiet users among those the second stage added (indices 20..29).
  std::vector<std::int64_t> expect;
  for (auto& id : make_identities(sc, 30))
    if (id.index >= 20 && id.behaviour == 1)
      expect.push_back(id.member_id);
  REQUIRE_FALSE(expect.empty());
  REQUIRE(specs[0].apply.size() == 1);
  CHECK(specs[0].apply[0].members == expect);
  CHECK(specs[0].apply[0].rooms.empty());
  CHECK(specs[0].hit_counter == &server_fault_tally::error_sessions);
  CHECK_THAT(specs[0].target, Catch::Contains("sessions of the users running \"quiet\" added by "
                                              "stage \"more\""));
  // Rooms go to the server as they are, on the apply and on the rollback call.
  REQUIRE(specs[1].rollback.size() == 1);
  CHECK(specs[1].apply[0].rooms == std::vector<std::int64_t>{2, 3});
  CHECK(specs[1].rollback[0].rooms == std::vector<std::int64_t>{2, 3});
  CHECK(specs[1].apply[0].members.empty());
  CHECK(specs[1].hit_counter == &server_fault_tally::dropped_broadcasts);
  CHECK_THAT(specs[1].target, Catch::Contains("broadcasts in rooms 2, 3"));
  // No cohort: the whole server.
  CHECK(specs[2].apply[1].rooms.empty());
  CHECK(specs[2].apply[1].members.empty());
  CHECK(specs[2].hit_counter == &server_fault_tally::closed_sessions);
}

TEST_CASE("a server stall sets the turn's hold and takes it off again, on the whole server",
          "[actors][faults]") {
  auto sc = load(R"(
[[fault]]
name = "stall"
kind = "server.stall"
at = "5s"
duration = "2s"
delay = "40ms"
)");
  auto specs = make_fault_specs(sc, {"talk", "quiet"}, 30);
  REQUIRE(specs.size() == 1);
  auto& s = specs[0];
  REQUIRE(s.apply.size() == 1);
  REQUIRE(s.rollback.size() == 1);
  CHECK(s.apply[0].what == server_fault_call::op::stall_io);
  CHECK(s.apply[0].delay == std::chrono::milliseconds(40));
  CHECK(s.rollback[0].what == server_fault_call::op::stall_io);
  CHECK(s.rollback[0].delay.count() == 0);
  CHECK(s.apply[0].rooms.empty());
  CHECK(s.apply[0].members.empty());
  CHECK(s.hit_counter == &server_fault_tally::stalled_turns);
  CHECK(hit_counter(s.apply[0]) == &server_fault_tally::stalled_turns);
  // Over a separate server's admin endpoint.
  CHECK(admin_fault_target(s.apply[0]) == "/admin/faults/stall?ms=40");
  CHECK(admin_fault_target(s.rollback[0]) == "/admin/faults/stall?ms=0");
  CHECK(admin_fault_body(s.apply[0]).empty());
}

TEST_CASE("a cohort of nobody narrows a server fault to nobody, not to everyone",
          "[actors][faults]") {
  auto sc = load(R"(
[[fault]]
kind = "server.close_sessions"
at = "5s"
behaviour = "quiet"
)");
  // Fewer users than the quiet behaviour's first member: nobody runs it.
  auto specs = make_fault_specs(sc, {"talk", "quiet"}, 1);
  REQUIRE(specs.size() == 1);
  CHECK(specs[0].apply[0].members == std::vector<std::int64_t>{0});
}

TEST_CASE("a proxy fault's cohort is the users of its lanes", "[actors][faults]") {
  auto sc = load(R"(
[[fault]]
kind = "net.latency"
at = "5s"
duration = "2s"
rooms = [2]
toxic = "downstream:latency=50ms"
[[fault]]
kind = "net.refuse"
at = "9s"
duration = "2s"
)");
  auto specs = make_fault_specs(sc, {"talk", "quiet"}, 30);
  REQUIRE(specs.size() == 2);
  REQUIRE(specs[0].proxy_cohort);
  CHECK(specs[0].proxy_cohort->fraction == 1.0);
  CHECK(in_cohort(*specs[0].proxy_cohort, 12, 2, 0));
  CHECK_FALSE(in_cohort(*specs[0].proxy_cohort, 3, 1, 0));
  CHECK_THAT(specs[0].target, Catch::Contains("of the users in room 2"));
  CHECK_FALSE(specs[1].proxy_cohort);
  CHECK(specs[1].proxy_refuse);
}
