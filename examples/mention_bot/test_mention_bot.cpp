// The example behaviour against the embedded server: bots ask, answer and time the answers.
#include "actors/engine.hpp"
#include "config/loader.hpp"
#include "mention_bot.hpp"
#include "server/server.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

TEST_CASE("mention_bot: questions are answered and timed", "[example][e2e]") {
  using namespace stompede;
  register_behaviour(mention_bot_behaviour());
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 100;
  cfg.room_size = 10;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto text = "[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() +
              "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
              "[rooms]\nmembers_per_room = 10\n[output]\nprometheus = \"\"\n"
              "[[stage]]\nusers = 20\nramp = \"300ms\"\nduration = \"3s\"\n"
              "[[behaviour]]\nname = \"mention_bot\"\nevery = \"300ms\"\nroom_size = 10\n";
  auto r = config::load_scenario_text(text, "mention_bot.toml", {}, {});
  REQUIRE(r.ok());
  REQUIRE(check_behaviours(*r.value).empty());
  auto dir =
      (std::filesystem::temp_directory_path() / ("stompede-example-" + std::to_string(getpid())))
          .string();
  engine_options o;
  o.out_dir = dir;
  o.quiet = true;
  o.handle_signals = false;
  o.embedded_server_in_process = true;
  REQUIRE(run_load_test(*r.value, o) == exit_completed);
  srv.stop();
  std::ifstream in(dir + "/summary.json");
  auto summary = nlohmann::json::parse(in);
  CHECK(summary["counters"]["errors_total"] == 0);
  auto& bot = summary["behaviours"].at(0);
  CHECK(bot["label"] == "mention_bot");
  CHECK(bot["sessions"] == 20);
  auto questions = bot["counters"]["questions"].get<std::uint64_t>();
  auto answers = bot["counters"]["answers"].get<std::uint64_t>();
  CHECK(questions > 0);
  CHECK(answers > 0);
  CHECK(answers <= questions);
  auto timed = bot["latencies"]["answer_ms"]["count"].get<std::uint64_t>();
  CHECK(timed > 0);
  CHECK(timed <= answers);
  // Every question is counted once: answered in time, or unanswered (given up after 30 s, or
  // still waiting when its session ended).
  const auto unanswered = bot["counters"].contains("unanswered")
                              ? bot["counters"]["unanswered"].get<std::uint64_t>()
                              : 0;
  CHECK(timed + unanswered == questions);
  std::filesystem::remove_all(dir);
}
