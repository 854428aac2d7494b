#include "server/room_registry.hpp"

#include <catch2/catch.hpp>

using namespace stompede::server;

TEST_CASE("automatic rooms follow the seed's placement", "[server][rooms]") {
  room_registry r(250, true, 100);
  CHECK(r.auto_room_count() == 3);
  // user index i (member i+1) -> room i/100 + 1
  CHECK(r.auto_room_of(1) == 1);
  CHECK(r.auto_room_of(100) == 1);
  CHECK(r.auto_room_of(101) == 2);
  CHECK(r.auto_room_of(250) == 3);
  CHECK(r.auto_room_of(251) == 0);
  CHECK(r.is_member(1, 100));
  CHECK_FALSE(r.is_member(1, 101));
  CHECK(r.is_member(3, 201));
  CHECK_FALSE(r.is_member(4, 1));
  std::vector<std::uint64_t> members;
  r.for_each_member(3, [&](std::uint64_t m) { members.push_back(m); });
  CHECK(members.size() == 50);
}

TEST_CASE("group, private and join", "[server][rooms]") {
  room_registry r(1000, true, 100);
  std::uint64_t g = 0;
  REQUIRE(r.create_group(5, {500, 900}, g) == room_result::ok);
  CHECK(g == 11); // after the 10 automatic rooms
  CHECK(r.is_member(g, 5));
  CHECK(r.is_member(g, 900));
  CHECK_FALSE(r.is_member(g, 6));
  CHECK(r.join(g, 6) == room_result::ok);
  CHECK(r.is_member(g, 6));
  CHECK(r.join(9999, 6) == room_result::no_such_room);
  std::vector<std::uint64_t> too_many(51, 2);
  std::uint64_t unused = 0;
  CHECK(r.create_group(5, too_many, unused) == room_result::too_many_members);
  CHECK(r.create_group(5, {1001}, unused) == room_result::no_such_member);

  std::uint64_t p1 = 0, p2 = 0;
  REQUIRE(r.private_room(3, 4, p1) == room_result::ok);
  REQUIRE(r.private_room(4, 3, p2) == room_result::ok);
  CHECK(p1 == p2);
  CHECK(r.join(p1, 7) == room_result::not_group);
  CHECK(r.rooms_of(3).size() == 2); // auto room 1 + the private room
  CHECK(r.next_seq(g) == 1);
  CHECK(r.next_seq(g) == 2);
  CHECK(r.next_seq(424242) == 0);
}

TEST_CASE("without automatic rooms nobody is in a room", "[server][rooms]") {
  room_registry r(100, false, 100);
  CHECK(r.auto_room_count() == 0);
  CHECK_FALSE(r.room_exists(1));
  CHECK_FALSE(r.is_member(1, 1));
}

TEST_CASE("automatic rooms can start at another first member", "[server][rooms]") {
  // A scenario with auth.start_id = 1001: user index i is member 1001 + i, in room i/100 + 1.
  room_registry r(1250, true, 100, 1001);
  CHECK(r.auto_room_count() == 3);
  CHECK(r.auto_room_of(1000) == 0);
  CHECK(r.auto_room_of(1001) == 1);
  CHECK(r.auto_room_of(1100) == 1);
  CHECK(r.auto_room_of(1101) == 2);
  CHECK(r.auto_room_of(1250) == 3);
  CHECK(r.is_member(1, 1001));
  CHECK_FALSE(r.is_member(1, 1));
  std::vector<std::uint64_t> members;
  r.for_each_member(3, [&](std::uint64_t m) { members.push_back(m); });
  CHECK(members.size() == 50);
  CHECK(members.front() == 1201);
}
