// stompede's engine through the fault proxy to the embedded server: what the proxy does to the
// bytes must be what the users see. Assertions are counts, plus a lower bound that the latency
// toxic guarantees.

#include "actors/engine.hpp"
#include "proxy/fault_proxy.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace stompede;
using namespace stompede::e2e;

std::unique_ptr<proxy::fault_proxy> proxy_for(server::server& srv) {
  proxy::proxy_options o;
  o.upstream_port = srv.port();
  std::string err;
  auto p = proxy::fault_proxy::start(o, err);
  INFO(err);
  REQUIRE(p);
  return p;
}

proxy::toxic_id add(proxy::fault_proxy& p, const std::string& spec) {
  std::string err;
  auto t = proxy::parse_toxic(spec, err);
  INFO(err);
  REQUIRE(t);
  return p.add_toxic(*t);
}

/// A scenario whose users connect through the proxy (logins go to the server directly).
config::scenario through(server::server& srv, proxy::fault_proxy& p, const std::string& extra) {
  std::string text = "[target]\nurl = \"ws://" + p.address() + "/ws-stomp\"\nhttp_url = \"" +
                     srv.http_url() +
                     "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
                     "[rooms]\nmembers_per_room = 10\n[output]\nprometheus = \"\"\n" +
                     extra;
  auto r = config::load_scenario_text(text, "proxy-e2e.toml", {}, {});
  for (auto& pr : r.problems)
    FAIL(pr.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

} // namespace

TEST_CASE("through split frames and added latency every message still round-trips, slower",
          "[e2e][proxy]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto p = proxy_for(srv);
  const auto down = add(*p, "frame_split:downstream:parts=3");
  const auto up = add(*p, "frame_split:upstream:parts=2");
  const auto lat = add(*p, "latency:upstream:latency=100ms");
  auto sc = through(srv, *p, R"(
[[stage]]
users = 10
ramp = "500ms"
duration = "2s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("proxy-split");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  p->stop();
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  const auto sent = c["messages_sent"].get<std::uint64_t>();
  CHECK(sent > 20);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  CHECK(c["round_trips"].get<std::uint64_t>() + c["unresolved"].get<std::uint64_t>() == sent);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 10);
  // Every SEND waited 100 ms on its way to the server.
  CHECK(summary["histograms"]["round_trip_uncorrected_ms"]["min"].get<double>() >= 100.0);
  CHECK(p->counters(down)->frames_split >= sent);
  CHECK(p->counters(up)->frames_split >= sent);
  CHECK(p->counters(lat)->connections_affected == 10);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an injected ERROR frame ends each stompede session with stomp_error_frame",
          "[e2e][proxy]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto p = proxy_for(srv);
  const auto id = add(*p, "inject_error:delay=1s,error_message=injected by the proxy");
  auto sc = through(srv, *p, R"(
[[stage]]
users = 8
ramp = "200ms"
duration = "2500ms"
[behaviour]
interval = "200ms"
[reconnect]
enabled = false
)");
  auto dir = temp_dir("proxy-error");
  const int code = run_load_test(sc, quiet_options(dir));
  INFO("exit code " << code);
  p->stop();
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 8);
  CHECK(c["errors"]["stomp_error_frame"].get<std::uint64_t>() == 8);
  CHECK(p->counters(id)->frames_injected == 8);
  // What the server said is kept for the reader.
  CHECK(summary["run"]["server_error"] == "injected by the proxy");
  std::filesystem::remove_all(dir);
}
