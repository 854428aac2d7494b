#pragma once

// What the server's integration tests say to the chat server: a login that must succeed and
// a ChatMessage body.

#include "tests/server/test_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

namespace stompede::server::test {

/// Logs member `member` in with the default password; the test fails unless it succeeds.
inline std::string login(std::uint16_t port, int member) {
  char email[64];
  std::snprintf(email, sizeof email, "user%05d@test.com", member);
  const auto r =
      http_call(port, http::verb::post, "/v1/auth/login",
                std::string(R"({"email":")") + email + R"(","password":"password123!"})");
  REQUIRE(r.status == 200);
  const auto j = nlohmann::json::parse(r.body);
  REQUIRE(j["result"] == "SUCCESS");
  REQUIRE(j["data"]["memberInfo"]["memberId"] == member);
  return j["data"]["tokenInfo"]["accessToken"].get<std::string>();
}

/// A TEXT ChatMessage of `sender` to `room`.
inline std::string chat_body(std::uint64_t room, int sender, const std::string& content) {
  nlohmann::json j = {{"roomId", room},      {"senderId", sender},
                      {"type", "TEXT"},      {"content", content},
                      {"fileUrl", nullptr},  {"fileName", nullptr},
                      {"fileSize", nullptr}, {"createdAt", "2024-01-01T00:00:00Z"}};
  return j.dump();
}

} // namespace stompede::server::test
