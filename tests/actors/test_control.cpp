#include "actors/control.hpp"

#include <catch2/catch.hpp>

using namespace stompede;

TEST_CASE("control: HTTP requests become commands", "[control]") {
  unsigned status = 0;
  std::string error;
  auto t = parse_control_request("POST", "/target?users=250", status, error);
  REQUIRE(t);
  CHECK(status == 200);
  CHECK(t->kind == control_command::set_target);
  CHECK(t->users == 250);
  CHECK(describe(*t) == "target=250");
  CHECK(parse_control_request("POST", "/pause", status, error)->kind == control_command::pause);
  CHECK(parse_control_request("POST", "/resume", status, error)->kind == control_command::resume);
  auto skip = parse_control_request("POST", "/end-stage", status, error);
  REQUIRE(skip);
  CHECK(describe(*skip) == "end-stage");
  CHECK_FALSE(parse_control_request("GET", "/pause", status, error));
  CHECK(status == 405);
  CHECK_FALSE(parse_control_request("POST", "/target?users=-1", status, error));
  CHECK(status == 400);
  CHECK_FALSE(parse_control_request("POST", "/target", status, error));
  CHECK(status == 400);
  CHECK_FALSE(parse_control_request("POST", "/stop-everything", status, error));
  CHECK(status == 404);
}

TEST_CASE("control: console keys", "[control]") {
  CHECK(command_for_key('p', 100, false)->kind == control_command::pause);
  CHECK(command_for_key('p', 100, true)->kind == control_command::resume);
  CHECK(command_for_key('n', 100, false)->kind == control_command::end_stage);
  auto up = command_for_key('+', 100, false);
  REQUIRE(up);
  CHECK(up->kind == control_command::set_target);
  CHECK(up->users == 110);
  CHECK(command_for_key('-', 100, false)->users == 90);
  CHECK(command_for_key('+', 3, false)->users == 4); // at least one
  CHECK(command_for_key('-', 0, false)->users == 0);
  CHECK_FALSE(command_for_key('x', 100, false));
}
