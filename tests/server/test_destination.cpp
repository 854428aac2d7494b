#include "server/destination.hpp"

#include <catch2/catch.hpp>

using namespace stompede::server;

TEST_CASE("chat destinations are parsed strictly", "[server][destination]") {
  auto d = parse_destination("/topic/chat.room.12");
  CHECK(d.kind == destination_kind::room_topic_dot);
  CHECK(d.id == 12);
  d = parse_destination("/topic/chat/room/7");
  CHECK(d.kind == destination_kind::room_topic_slash);
  CHECK(d.id == 7);
  d = parse_destination("/topic/user.42.room-summary");
  CHECK(d.kind == destination_kind::user_summary);
  CHECK(d.id == 42);
  d = parse_destination("/publish/3");
  CHECK(d.kind == destination_kind::publish);
  CHECK(d.id == 3);
  for (const char* bad :
       {"/topic/chat.room.", "/topic/chat.room.01", "/topic/chat.room.1x", "/topic/chat.room.-1",
        "/publish/", "/publish/1/2", "/topic/user..room-summary", "/topic/user.1.room-summaryx",
        "/topic/chat.room.1234567890123456789", "/queue/x"}) {
    INFO(bad);
    CHECK(parse_destination(bad).kind == destination_kind::unknown);
  }
  CHECK(room_topic_dot(5) == "/topic/chat.room.5");
  CHECK(room_topic_slash(5) == "/topic/chat/room/5");
  CHECK(user_summary_topic(9) == "/topic/user.9.room-summary");
}

TEST_CASE("broker topics", "[server][destination]") {
  CHECK(is_broker_topic("/topic/x"));
  CHECK(is_broker_topic("/topic/a.b:c"));
  CHECK_FALSE(is_broker_topic("/topic/"));
  CHECK_FALSE(is_broker_topic("/queue/x"));
  CHECK_FALSE(is_broker_topic(std::string("/topic/a\nb")));
  CHECK_FALSE(is_broker_topic("/topic/" + std::string(300, 'a')));
}
