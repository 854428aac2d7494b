#include "config/loader.hpp"

#include "config/print.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>

using namespace stompede::config;

namespace {

std::vector<std::string> scenario_files(const std::string& dir = STOMPEDE_SCENARIOS_DIR) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0)
        out.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("every file in scenarios/ loads and validates", "[config][scenarios]") {
  const auto files = scenario_files();
  REQUIRE(files.size() >= 3);
  // An empty environment: every ${VAR} in the examples must have a default.
  for (const auto& f : files) {
    auto r = load_scenario(f, {}, {}, "/nonexistent/.env");
    std::string text;
    for (const auto& d : r.problems)
      text += d.to_string() + "\n";
    INFO(f << "\n" << text);
    CHECK(r.ok());
    if (r.ok())
      CHECK_FALSE(to_toml(*r.value).empty());
  }
}

TEST_CASE("every file in scenarios/experiments/ is an embedded experiment that loads",
          "[config][scenarios]") {
  const auto files = scenario_files(STOMPEDE_SCENARIOS_DIR "/experiments");
  REQUIRE(files.size() >= 3);
  for (const auto& f : files) {
    auto r = load_scenario(f, {}, {}, "/nonexistent/.env");
    std::string text;
    for (const auto& d : r.problems)
      text += d.to_string() + "\n";
    INFO(f << "\n" << text);
    REQUIRE(r.ok());
    CHECK(r.value->target.embedded);
    CHECK(r.value->experiment.enabled);
    CHECK_FALSE(r.value->faults.empty());
  }
}

TEST_CASE("the quickstart is embedded and short", "[config][scenarios]") {
  auto r = load_scenario(STOMPEDE_SCENARIOS_DIR "/quickstart.toml", {}, {}, "/nonexistent/.env");
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.target.embedded);
  std::chrono::milliseconds total{0};
  for (const auto& st : s.stages)
    total += st.ramp + st.duration;
  CHECK(total < std::chrono::seconds{60});
  CHECK(s.reconnect.enabled);
}
