#include "config/duration.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace stompede::config;

TEST_CASE("durations parse with units", "[config][duration]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("10s") == 10s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("1m30s") == 90s);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("bad durations are rejected with a reason", "[config][duration]") {
  std::string why;
  CHECK_FALSE(parse_duration("10", &why));
  CHECK_THAT(why, Catch::Contains("unit is required"));
  CHECK_FALSE(parse_duration("-5s", &why));
  CHECK_THAT(why, Catch::Contains("negative"));
  CHECK_FALSE(parse_duration("3d", &why));
  CHECK_THAT(why, Catch::Contains("unknown unit"));
  CHECK_FALSE(parse_duration("", &why));
  CHECK_FALSE(parse_duration("s", &why));
  CHECK_FALSE(parse_duration("1e99h", &why));
}

TEST_CASE("a duration finer than 1 ms is refused, not rounded", "[config][duration]") {
  std::string why;
  CHECK_FALSE(parse_duration("0.4ms", &why));
  CHECK(why == "finer than the 1 ms resolution of durations (give whole milliseconds)");
  CHECK_FALSE(parse_duration("1.5ms", &why));
  CHECK_FALSE(parse_duration("1.0005s", &why));
  CHECK_FALSE(parse_duration("1m0.0001s", &why));
  CHECK_THAT(why, Catch::StartsWith("\"0.0001s\" is finer"));
  // Decimals that are whole milliseconds, decided on the digits, not on a double.
  CHECK(parse_duration("1.001s") == 1001ms);
  CHECK(parse_duration("0.001s") == 1ms);
  CHECK(parse_duration("2.50ms") == std::nullopt);
  CHECK(parse_duration("2.0ms") == 2ms);
  CHECK(parse_duration("0.0001h") == 360ms);
  CHECK(parse_duration("0.00001m") == std::nullopt);
  CHECK(parse_duration("1.0000000000s") == 1s);
}

TEST_CASE("durations format back to what parses", "[config][duration]") {
  for (auto d : {0ms, 500ms, 1000ms, 90'000ms, 3'723'004ms}) {
    INFO(format_duration(d));
    CHECK(parse_duration(format_duration(d)) == d);
  }
  CHECK(format_duration(90s) == "1m30s");
}

TEST_CASE("sizes parse in decimal and binary units", "[config][duration]") {
  CHECK(parse_size("512KiB") == 512u * 1024);
  CHECK(parse_size("1MiB") == 1024u * 1024);
  CHECK(parse_size("4KB") == 4000u);
  CHECK(parse_size("100B") == 100u);
  std::string why;
  CHECK_FALSE(parse_size("12", &why));
  CHECK_FALSE(parse_size("-1KiB", &why));
  CHECK_THAT(why, Catch::Contains("negative"));
  CHECK_FALSE(parse_size("1TiB", &why));
  CHECK(format_size(1024 * 1024) == "1MiB");
  CHECK(format_size(1000) == "1000B");
}
