// Parse and encode cost of a typical chat MESSAGE (about 300 bytes, JSON body). Prints ns per
// frame (thread CPU time and wall time); asserts nothing about time. Each measurement runs for
// about 0.4 s.
#include "protocol/stomp_client.hpp"
#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <time.h>

using namespace stompede::stomp;
using clock_type = std::chrono::steady_clock;

namespace {

volatile std::size_t sink = 0;

// CPU time of this thread: on a shared, loaded machine wall time mostly measures the others.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template<class F>
void measure(const char* name, std::size_t frames_per_call, F&& fn) {
  for (int i = 0; i < 1000; ++i)
    fn(); // warm-up: buffers reach their steady-state capacity
  const auto budget = std::chrono::milliseconds{400};
  std::size_t calls = 0;
  const auto start = clock_type::now();
  const double cpu_start = thread_cpu_ns();
  auto now = start;
  while (now - start < budget) {
    for (int i = 0; i < 1000; ++i)
      fn();
    calls += 1000;
    now = clock_type::now();
  }
  const double cpu = thread_cpu_ns() - cpu_start;
  const double wall = std::chrono::duration<double, std::nano>(now - start).count();
  const auto n = static_cast<double>(calls * frames_per_call);
  std::printf("%-44s %8.1f ns/frame cpu %8.1f ns/frame wall  (%zu frames)\n", name, cpu / n,
              wall / n, calls * frames_per_call);
}

} // namespace

int main() {
  const std::string body =
      R"({"type":"CHAT","roomId":"room-42","senderId":"user-1234","senderName":"loadtest-user-1234",)"
      R"("content":"hello from stompede, message number 000123","sentAt":1717171717171})";
  frame m{command::message};
  m.add("destination", "/topic/chat/room-42")
      .add("content-type", "application/json")
      .add("subscription", "sub-0")
      .add("message-id", "T_sub-0@@session-abc123@@456")
      .add("redelivered", "false");
  m.body = body;
  const std::string wire = encode(m);
  std::printf("MESSAGE frame: %zu bytes (body %zu)\n", wire.size(), body.size());

  // Same frame with an escaped header value: exercises the unescape scratch.
  frame me = m;
  me.headers[3].second = "ID:vm-1:2:3";
  const std::string wire_esc = encode(me);

  parser p;
  frame_view f;
  measure("parse, one frame per feed", 1, [&] {
    p.feed(wire);
    if (p.next(f) != parse_status::frame)
      std::abort();
    sink = sink + f.body.size() + f.header_count;
    p.next(f); // need_more: consumes the frame
  });

  measure("parse, escaped message-id, one per feed", 1, [&] {
    p.feed(wire_esc);
    if (p.next(f) != parse_status::frame)
      std::abort();
    sink = sink + f.get("message-id")->size();
    p.next(f);
  });

  std::string batch;
  for (int i = 0; i < 64; ++i)
    batch += wire + "\n";
  measure("parse, 64 frames + EOLs per feed", 64, [&] {
    p.feed(batch);
    for (;;) {
      auto s = p.next(f);
      if (s == parse_status::need_more)
        break;
      if (s == parse_status::error)
        std::abort();
      sink = sink + f.body.size();
    }
  });

  std::string out;
  measure("encode MESSAGE (frame -> reused buffer)", 1, [&] {
    out.clear();
    encode(m, out);
    sink = sink + out.size();
  });

  client_session session{client_options{}};
  measure("client_session::send (reused buffer)", 1, [&] {
    out.clear();
    session.send(out, "/app/chat.send", body);
    sink = sink + out.size();
  });
  return 0;
}
