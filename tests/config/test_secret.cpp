#include "config/secret.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using stompede::config::secret;

TEST_CASE("a secret prints as *** and reveals only on request", "[config][secret]") {
  secret s{"canary-7f3a"};
  std::ostringstream os;
  os << s;
  CHECK(os.str() == "***");
  CHECK(s.redacted() == "***");
  CHECK(to_string(s) == "***");
  CHECK(s.reveal() == "canary-7f3a");
  CHECK_FALSE(s.empty());
}

TEST_CASE("an empty secret prints as nothing", "[config][secret]") {
  secret s;
  CHECK(s.empty());
  CHECK(s.redacted().empty());
  CHECK(secret{"a"} != secret{"b"});
}
