// [[behaviour]] entries and their declarative steps: what the loader reads, and every mistake
// reported at its file:line:column before a run starts.
#include "config/loader.hpp"
#include "config/print.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace stompede::config;

namespace {

const std::string head = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
[auth]
mode = "none"
[[stage]]
users = 10
duration = "10s"
)";

load_result load(const std::string& text) {
  return load_scenario_text(head + text, "b.toml", {}, {});
}

std::string all(const load_result& r) {
  std::string out;
  for (const auto& d : r.problems)
    out += d.to_string() + "\n";
  return out;
}

} // namespace

TEST_CASE("behaviour entries: names, weights, labels and typed parameters", "[config][behaviour]") {
  auto r = load(R"(
[[behaviour]]
name = "seed_mix"
weight = 3
interval = "500ms"

[[behaviour]]
name = "burst"
label = "bursty"
size = 7
probability = 0.5
loud = true
)");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& b = r.value->behaviours;
  REQUIRE(b.size() == 2);
  CHECK(b[0].name == "seed_mix");
  CHECK(b[0].weight == 3.0);
  CHECK(b[0].metric_label() == "seed_mix");
  REQUIRE(b[0].params.size() == 1);
  CHECK(b[0].params[0].key == "interval");
  CHECK(b[0].params[0].text == "500ms");
  CHECK(b[0].params[0].where.line == 12);
  CHECK(b[1].metric_label() == "bursty");
  REQUIRE(b[1].params.size() == 3);
  // toml++ keeps keys sorted: loud, probability, size.
  CHECK(b[1].params[0].type == behaviour_param::kind::boolean);
  CHECK(b[1].params[1].type == behaviour_param::kind::floating);
  CHECK(b[1].params[2].type == behaviour_param::kind::integer);
  CHECK(b[1].params[2].number == 7.0);
}

TEST_CASE("behaviour entries: a duplicate label and a missing name are refused",
          "[config][behaviour]") {
  auto r = load("[[behaviour]]\nname = \"burst\"\n[[behaviour]]\nname = \"burst\"\n"
                "[[behaviour]]\nweight = 1\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 2);
  CHECK_THAT(all(r), Catch::Contains("b.toml:11:8: behaviour[1].name: the label \"burst\" is "
                                     "already used by behaviour[0]"));
  CHECK_THAT(all(r), Catch::Contains("behaviour[2].name: required"));
}

TEST_CASE("steps: every kind is read, nested steps included", "[config][behaviour][steps]") {
  auto r = load(R"(
[[behaviour]]
label = "flow"
steps = [
  { subscribe = "/topic/t.{room}", ack_mode = "client" },
  { send = "hello {user} #{seq}", to = "/topic/t.{room}", receipt = true },
  { wait = "echo", destination = "/topic/t.*", header = "content-type:text/*", body = "*hello*", timeout = "2s" },
  { ack = true },
  { sleep = "1s", jitter = "250ms" },
  { repeat = 3, steps = [ { chat = true } ] },
  { chance = 0.25, steps = [ { nack = true } ], otherwise = [ { reconnect = true } ] },
  { unsubscribe = "/topic/t.{room}" },
  { repeat = "forever", steps = [ { sleep = "1s" } ] },
  { repeat = "stage", steps = [ { chat = true } ] },
]
)");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& e = r.value->behaviours.at(0);
  CHECK(e.name == "steps");
  REQUIRE(e.steps.size() == 10);
  using k = step::kind;
  CHECK(e.steps[0].type == k::subscribe);
  CHECK(e.steps[0].ack_mode == "client");
  CHECK(e.steps[1].type == k::send);
  CHECK(e.steps[1].receipt);
  CHECK(e.steps[2].type == k::wait);
  CHECK(e.steps[2].header == "content-type");
  CHECK(e.steps[2].header_pattern == "text/*");
  CHECK(e.steps[2].duration == 2s);
  CHECK(e.steps[3].type == k::ack);
  CHECK(e.steps[4].jitter == 250ms);
  CHECK(e.steps[5].times == 3);
  CHECK(e.steps[5].steps.at(0).type == k::chat);
  CHECK(e.steps[6].probability == 0.25);
  CHECK(e.steps[6].steps.at(0).negative);
  CHECK(e.steps[6].otherwise.at(0).type == k::reconnect);
  CHECK(e.steps[8].times == 0);
  CHECK_FALSE(e.steps[8].until_stage_end);
  CHECK(e.steps[9].times == 0);
  CHECK(e.steps[9].until_stage_end);
  CHECK(e.steps[4].where.line == 16);
  // The printed scenario reads back to the same steps.
  auto again = load_scenario_text(to_toml(*r.value), "again.toml", {}, {});
  INFO(all(again));
  REQUIRE(again.ok());
  auto body = [](const std::string& t) { return t.substr(t.find('\n')); }; // past the header
  CHECK(body(to_toml(*again.value)) == body(to_toml(*r.value)));
}

TEST_CASE("steps: mistakes are reported at their line and column", "[config][behaviour][steps]") {
  auto r = load(R"(
[[behaviour]]
steps = [
  { send = "hi {usr}" },
  { sleep = "1s", jitter = "soon" },
  { repeat = 0, steps = [ { chat = true } ] },
  { wait = "w", send = "x" },
  { frobnicate = 1 },
  { wait = "w", timeout = 5 },
  { chance = 1.5, steps = [ { sleep = "1s" } ] },
  { subscribe = "/topic/x", ack_mode = "sometimes" },
  { sleep = "1s", color = "red" },
  { sleep = "100ms", jitter = "1s" },
]
)");
  REQUIRE_FALSE(r.ok());
  auto text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("b.toml:11:12: behaviour[0].steps[0].send: unknown "
                                   "placeholder {usr}"));
  CHECK_THAT(text, Catch::Contains("b.toml:12:28: behaviour[0].steps[1].jitter:"));
  CHECK_THAT(text, Catch::Contains("b.toml:13:14: behaviour[0].steps[2].repeat: expected a "
                                   "count of at least 1 or \"forever\""));
  CHECK_THAT(text, Catch::Contains("behaviour[0].steps[3]: one action per step"));
  CHECK_THAT(text, Catch::Contains("b.toml:15:3: behaviour[0].steps[4]: a step needs one action"));
  CHECK_THAT(text, Catch::Contains("behaviour[0].steps[5].timeout: expected a duration string"));
  CHECK_THAT(text, Catch::Contains("behaviour[0].steps[6].chance: expected a probability"));
  CHECK_THAT(text, Catch::Contains("behaviour[0].steps[7].ack_mode: expected one of"));
  CHECK_THAT(text, Catch::Contains("behaviour[0].steps[8].color: unknown key \"color\""));
  CHECK_THAT(text, Catch::Contains("b.toml:20:31: behaviour[0].steps[9].jitter: expected a "
                                   "jitter of at most the sleep (100ms)"));
}

TEST_CASE("steps: a CSV data file feeds {data.COLUMN}", "[config][behaviour][steps]") {
  const std::string path = "/tmp/stompede-test-steps-" + std::to_string(::getpid()) + ".csv";
  {
    std::ofstream out(path);
    out << "name,greeting\nann,\"hello, world\"\nbob,hi\n";
  }
  auto r = load("[[behaviour]]\ndata = \"" + path +
                "\"\nsteps = [ { send = \"{data.greeting} from {data.name}\" } ]\n");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& e = r.value->behaviours.at(0);
  CHECK(e.data_columns == std::vector<std::string>{"name", "greeting"});
  REQUIRE(e.data_rows.size() == 2);
  CHECK(e.data_rows[0][1] == "hello, world");
  auto bad =
      load("[[behaviour]]\ndata = \"" + path + "\"\nsteps = [ { send = \"{data.surname}\" } ]\n");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(all(bad), Catch::Contains("has no column \"surname\"; columns: name greeting"));
  auto missing =
      load("[[behaviour]]\ndata = \"/nonexistent/x.csv\"\nsteps = [ { chat = true } ]\n");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(all(missing), Catch::Contains("b.toml:9:8: behaviour[0].data: cannot read"));
  std::remove(path.c_str());
}
