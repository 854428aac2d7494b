#include "metrics/counters.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace stompede::metrics;

TEST_CASE("counters: labels round-trip and are unique") {
  CHECK(error_type_count == 23);
  for (std::size_t i = 0; i < error_type_count; ++i) {
    auto e = static_cast<error_type>(i);
    auto label = to_label(e);
    REQUIRE(!label.empty());
    REQUIRE(error_type_from_label(label) == e);
  }
  CHECK(to_label(error_type::connect_refused) == "connect_refused");
  CHECK(to_label(error_type::fd_exhausted) == "fd_exhausted");
  CHECK(to_label(error_type::behaviour_error) == "behaviour_error");
  CHECK(to_label(error_type::other) == "other");
  CHECK(!error_type_from_label("no_such_error").has_value());
}

TEST_CASE("counters: += adds every field, - gives the delta") {
  load_counters a;
  a.messages_sent = 10;
  a.messages_received = 100;
  a.own_received = 9;
  a.lost = 1;
  a.bytes_out = 5000;
  a.add_error(error_type::tls_error, 2);
  a.add_error(error_type::other);

  load_counters b;
  b.messages_sent = 5;
  b.give_ups = 3;
  b.add_error(error_type::tls_error);

  load_counters sum = a;
  sum += b;
  CHECK(sum.messages_sent == 15);
  CHECK(sum.messages_received == 100);
  CHECK(sum.give_ups == 3);
  CHECK(sum.error_count(error_type::tls_error) == 3);
  CHECK(sum.errors_total() == 4);
  CHECK(sum == a + b);

  auto delta = sum - a;
  CHECK(delta == b);
  CHECK(delta.messages_received == 0);
  CHECK(delta.error_count(error_type::other) == 0);

  // A field that went backwards (a counter source restarted) gives 0, not a wrapped value.
  auto backwards = b - a;
  CHECK(backwards.messages_sent == 0);
  CHECK(backwards.give_ups == 3);
}
