#include "protocol/stomp_error.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using stompede::stomp::errc;

TEST_CASE("every errc has a distinct label and a message", "[stomp][error]") {
  std::set<std::string> labels;
  for (int i = 0; i <= static_cast<int>(errc::unknown_subscription); ++i) {
    auto e = static_cast<errc>(i);
    std::string label = stompede::stomp::to_label(e);
    CHECK(label != "unknown");
    CHECK(labels.insert(label).second);
    std::error_code ec = e;
    CHECK(ec.category().name() == std::string{"stomp"});
    CHECK_FALSE(ec.message().empty());
  }
  CHECK(std::string{stompede::stomp::to_label(errc::invalid_escape)} == "invalid_escape");
  std::error_code ok = errc::ok;
  CHECK_FALSE(ok);
  std::error_code bad = errc::missing_nul;
  CHECK(bad);
}
