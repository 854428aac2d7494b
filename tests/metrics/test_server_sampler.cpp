#include "metrics/server_sampler.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace stompede::metrics;

TEST_CASE("server metrics: Prometheus text with types, labels and timestamps") {
  auto samples = parse_prometheus_text("# HELP chat_sessions Open sessions\n"
                                       "# TYPE chat_sessions gauge\n"
                                       "chat_sessions 42\n"
                                       "# TYPE chat_messages_total counter\n"
                                       "chat_messages_total 1.5e3 1700000000000\r\n"
                                       "chat_errors_total{type=\"a}b\",x=\"y\"} 7\n"
                                       "garbage line\n"
                                       "no_value \n");
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].series == "chat_sessions");
  CHECK(samples[0].type == "gauge");
  CHECK(samples[0].value == 42.0);
  CHECK_FALSE(samples[0].has_labels);
  CHECK(samples[1].type == "counter");
  CHECK(samples[1].value == 1500.0);
  CHECK(samples[2].name == "chat_errors_total");
  CHECK(samples[2].series == "chat_errors_total{type=\"a}b\",x=\"y\"}");
  CHECK(samples[2].has_labels);
  CHECK(samples[2].type == "untyped");
  CHECK(samples[2].value == 7.0);
}

TEST_CASE("server metrics: CPU and RSS of a process from /proc") {
  double cpu = -1, rss = -1;
  REQUIRE(read_process_usage(getpid(), cpu, rss));
  CHECK(cpu >= 0.0);
  CHECK(rss > 1024.0 * 1024.0); // this test binary is resident in more than a MiB
  CHECK_FALSE(read_process_usage(4194305, cpu, rss));
}

TEST_CASE("server metrics: nothing to sample starts nothing") {
  CHECK(server_sampler::start(server_sampler_config{}) == nullptr);
}
