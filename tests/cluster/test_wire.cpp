// What crosses the controller-worker link, without a network: every field of a worker's
// per-second delta and of its plan survives CAF's binary serialization; the scenario handed to
// a worker keeps its secrets (and only that text does); the split of users matches the stage
// director's split of targets.

#include "actors/metrics_actor.hpp"
#include "actors/population_plan.hpp"
#include "cluster/agent.hpp"
#include "cluster/messages.hpp"
#include "config/loader.hpp"
#include "config/print.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <catch2/catch.hpp>

#include <set>

using namespace stompede;

namespace {

template<class T>
T round_trip(T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE(!sink(x));
  T y;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE(!source(y));
  return y;
}

} // namespace

TEST_CASE("a worker's delta crosses the link field for field", "[cluster][wire]") {
  worker_delta d;
  d.target_users = 7;
  d.reconnecting = 2;
  auto& c = d.io.counters;
  c.messages_sent = 11;
  c.messages_received = 12;
  c.own_received = 13;
  c.lost = 14;
  c.unresolved = 15;
  c.bytes_out = 16;
  c.give_ups = 17;
  c.connects_abandoned = 18;
  c.add_error(metrics::error_type::tls_error, 3);
  c.add_error(metrics::error_type::other, 4);
  int i = 1;
  d.io.histograms.for_each([&i](const char*, metrics::histogram& h) {
    h.record(i * 1000);
    h.record(-i); // negatives travel too
    ++i;
  });
  d.io.open_sessions = 5;
  d.io.subscribed_sessions = 4;
  d.io.in_flight = 3;
  d.io.tls_failure = "certificate has expired";
  metrics::behaviour_figures b;
  b.label = "replier";
  b.sessions = 2;
  b.connected = 1;
  b.count("replies", 9);
  b.record("answer", 1234);
  d.io.behaviours.push_back(b);
  // Message accounting's records, with values past 32 bits where the field holds them.
  auto& l = d.io.ledger;
  l.sent.push_back({4'000'000'000u, 5'000'000'000ull, -3, 1'700'000'000'000'001});
  l.deliveries.push_back({7, 8, 9, true});
  l.deliveries.push_back({10, 11, 12, false});
  l.sessions.push_back({13, metrics::session_record::ended_failed, 14, 1'700'000'000'000'002});
  l.server_seq_checked = 21;
  l.server_seq_gaps = 22;
  l.server_seq_regressions = 23;
  d.io.thread = 6;
  d.io.taken_at_us = 1'700'000'000'000'003;

  auto e = round_trip(d);
  CHECK(e.target_users == 7);
  CHECK(e.reconnecting == 2);
  CHECK(e.io.counters == d.io.counters);
  CHECK(e.io.histograms == d.io.histograms);
  CHECK(e.io.histograms.fanout_us.negative() == 1);
  CHECK(e.io.open_sessions == 5);
  CHECK(e.io.subscribed_sessions == 4);
  CHECK(e.io.in_flight == 3);
  CHECK(e.io.tls_failure == "certificate has expired");
  REQUIRE(e.io.behaviours.size() == 1);
  CHECK(e.io.behaviours[0].label == "replier");
  CHECK(e.io.behaviours[0].connected == 1);
  CHECK(e.io.behaviours[0].counter("replies") == 9);
  REQUIRE(e.io.behaviours[0].latency("answer") != nullptr);
  CHECK(e.io.behaviours[0].latency("answer")->max() == 1234);
  auto& m = e.io.ledger;
  REQUIRE(m.sent.size() == 1);
  CHECK(m.sent[0].sender == 4'000'000'000u);
  CHECK(m.sent[0].seq == 5'000'000'000ull);
  CHECK(m.sent[0].room == -3);
  CHECK(m.sent[0].t_us == 1'700'000'000'000'001);
  REQUIRE(m.deliveries.size() == 2);
  CHECK(m.deliveries[0].seq == 7);
  CHECK(m.deliveries[0].sender == 8);
  CHECK(m.deliveries[0].receiver == 9);
  CHECK(m.deliveries[0].behind);
  CHECK_FALSE(m.deliveries[1].behind);
  CHECK(m.deliveries[1].receiver == 12);
  REQUIRE(m.sessions.size() == 1);
  CHECK(m.sessions[0].user == 13);
  CHECK(m.sessions[0].kind == metrics::session_record::ended_failed);
  CHECK(m.sessions[0].room == 14);
  CHECK(m.sessions[0].t_us == 1'700'000'000'000'002);
  CHECK(m.server_seq_checked == 21);
  CHECK(m.server_seq_gaps == 22);
  CHECK(m.server_seq_regressions == 23);
  CHECK(e.io.thread == 6);
  CHECK(e.io.taken_at_us == 1'700'000'000'000'003);
}

TEST_CASE("a worker's plan carries the scenario with its secrets", "[cluster][wire]") {
  auto loaded = config::load_scenario_text("[target]\nurl = \"ws://127.0.0.1:1/ws\"\n"
                                           "[auth]\nmode = \"login\"\npassword = \"s3cret!\"\n"
                                           "[[stage]]\nusers = 5\nduration = \"1s\"\n",
                                           "plan.toml", {}, {});
  REQUIRE(loaded.ok());
  // The printed scenario (reports, check) hides the password; the worker's copy has it.
  CHECK(config::to_toml(*loaded.value).find("s3cret!") == std::string::npos);
  cluster::worker_plan p;
  p.scenario_toml = config::to_toml_with_secrets(*loaded.value);
  p.index = 1;
  p.count = 3;
  p.source_address = "127.0.0.3";
  p.target_url = "ws://127.0.0.1:2/ws";
  auto q = round_trip(p);
  CHECK(q.index == 1);
  CHECK(q.count == 3);
  CHECK(q.source_address == "127.0.0.3");
  CHECK(q.target_url == "ws://127.0.0.1:2/ws");
  auto again = config::load_scenario_text(q.scenario_toml, "worker plan", {}, {});
  for (auto& problem : again.problems)
    FAIL(problem.to_string());
  REQUIRE(again.ok());
  CHECK(again.value->auth.password.reveal() == "s3cret!");
  CHECK(again.value->stages.at(0).users == 5);
}

TEST_CASE("workers' slices partition the users as the director splits the targets",
          "[cluster][wire]") {
  for (std::uint32_t count : {1u, 2u, 3u, 4u, 7u}) {
    for (std::uint32_t peak : {0u, 1u, 5u, 10u, 101u}) {
      std::set<std::uint32_t> all;
      std::uint32_t cap = (peak + count - 1) / count;
      for (std::uint32_t k = 0; k < count; ++k)
        for (std::uint32_t j = 0; j < cluster::slice_size(peak, k, count); ++j)
          all.insert(cluster::global_index(j, k, count));
      REQUIRE(all.size() == peak);
      if (peak > 0)
        CHECK(*all.rbegin() == peak - 1);
      // At any target T <= peak, worker k is asked for exactly its users below T.
      for (std::uint32_t t = 0; t <= peak; ++t) {
        auto split = split_target(t, count, cap);
        for (std::uint32_t k = 0; k < count; ++k)
          CHECK(split[k] == cluster::slice_size(t, k, count));
      }
    }
  }
}
