#include "protocol/transport_error.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using stompede::net::transport_errc;

TEST_CASE("transport_errc values have distinct labels and messages", "[transport_error]") {
  std::set<std::string> labels;
  for (int v = 0; v <= static_cast<int>(transport_errc::request_timeout); ++v) {
    const auto e = static_cast<transport_errc>(v);
    const std::string label = stompede::net::to_label(e);
    CHECK(label != "unknown");
    CHECK(labels.insert(label).second);
    const std::error_code ec = e;
    CHECK(ec.category().name() == std::string("stompede.transport"));
    CHECK_FALSE(ec.message().empty());
  }
  CHECK(std::string(stompede::net::to_label(transport_errc::idle_timeout)) == "idle_timeout");
  const std::error_code ok = transport_errc::ok;
  CHECK_FALSE(ok);
}
