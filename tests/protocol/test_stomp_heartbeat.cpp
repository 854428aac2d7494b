#include "protocol/stomp_heartbeat.hpp"

#include <catch2/catch.hpp>

using namespace stompede::stomp;
using std::chrono::milliseconds;

TEST_CASE("parse_heartbeat accepts x,y and rejects everything else", "[stomp][heartbeat]") {
  CHECK(parse_heartbeat("0,0") == heartbeat_spec{0, 0});
  CHECK(parse_heartbeat("10000,5000") == heartbeat_spec{10000, 5000});
  CHECK(parse_heartbeat("4294967295,1") == heartbeat_spec{4294967295u, 1});
  for (const char* bad : {"", ",", "1", "1,", ",1", " 1,1", "1, 1", "-1,0", "+1,0", "1,2,3", "a,b",
                          "4294967296,0", "1.5,0"}) {
    INFO(bad);
    CHECK_FALSE(parse_heartbeat(bad));
  }
  CHECK(to_string(heartbeat_spec{10000, 0}) == "10000,0");
}

TEST_CASE("heart-beat negotiation table", "[stomp][heartbeat]") {
  struct row {
    heartbeat_spec ours, theirs;
    double grace;
    long send, expect, dead;
  };
  const row table[] = {
      {{0, 0}, {0, 0}, 2.0, 0, 0, 0},         // nobody wants any
      {{10000, 10000}, {0, 0}, 2.0, 0, 0, 0}, // missing header == 0,0
      {{10000, 10000}, {10000, 10000}, 2.0, 10000, 10000, 20000},
      {{10000, 10000}, {5000, 20000}, 2.0, 20000, 10000, 20000}, // maxima win
      {{1000, 0}, {30000, 500}, 2.0, 1000, 0, 0},                // we do not want theirs
      {{0, 1000}, {30000, 500}, 2.0, 0, 30000, 60000},           // we cannot send
      {{4000, 4000}, {4000, 4000}, 1.5, 4000, 4000, 6000},
      {{4000, 3333}, {3333, 4000}, 1.5, 4000, 3333, 5000}, // rounded up
      {{4000, 4000}, {4000, 4000}, 0.5, 4000, 4000, 4000}, // grace below 1 counts as 1
  };
  for (const auto& r : table) {
    auto p = negotiate(r.ours, r.theirs, r.grace);
    INFO(r.ours.send_ms << "," << r.ours.recv_ms << " vs " << r.theirs.send_ms << ","
                        << r.theirs.recv_ms);
    CHECK(p.send_every == milliseconds{r.send});
    CHECK(p.expect_every == milliseconds{r.expect});
    CHECK(p.dead_after == milliseconds{r.dead});
  }
}
