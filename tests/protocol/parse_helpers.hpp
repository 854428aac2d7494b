#pragma once

#include "protocol/stomp_parser.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace stompede::stomp::test {

/// Everything a parser produced for one stream, as owning values, so that results of
/// differently sliced feeds can be compared.
struct outcome {
  std::vector<frame> frames;
  std::size_t heartbeats = 0;
  std::error_code error;
  std::size_t error_offset = 0;

  bool operator==(const outcome& o) const {
    if (frames.size() != o.frames.size() || heartbeats != o.heartbeats || error != o.error ||
        error_offset != o.error_offset)
      return false;
    for (std::size_t i = 0; i < frames.size(); ++i)
      if (frames[i].cmd != o.frames[i].cmd || frames[i].headers != o.frames[i].headers ||
          frames[i].body != o.frames[i].body)
        return false;
    return true;
  }
};

/// Drains the parser into `o`; false once it reported an error.
inline bool drain(parser& p, outcome& o) {
  frame_view f;
  for (;;) {
    switch (p.next(f)) {
    case parse_status::frame:
      o.frames.push_back(frame::from_view(f));
      break;
    case parse_status::heartbeat:
      ++o.heartbeats;
      break;
    case parse_status::need_more:
      return true;
    case parse_status::error:
      o.error = p.error();
      o.error_offset = p.error_offset();
      return false;
    }
  }
}

/// Feeds `wire` in slices of the given sizes (the last slice takes the rest). With `release`,
/// the parser gives its buffer back after every slice it drained (as a quiet session does).
inline outcome parse_sliced(std::string_view wire, const std::vector<std::size_t>& cuts,
                            parser_limits limits = {}, bool release = false) {
  parser p{limits};
  outcome o;
  std::size_t at = 0;
  for (std::size_t c : cuts) {
    if (at >= wire.size())
      break;
    std::size_t n = std::min(c, wire.size() - at);
    p.feed(wire.substr(at, n));
    at += n;
    if (!drain(p, o))
      return o;
    if (release)
      p.release_buffer();
  }
  if (at < wire.size()) {
    p.feed(wire.substr(at));
    drain(p, o);
  }
  return o;
}

inline outcome parse_whole(std::string_view wire, parser_limits limits = {}) {
  return parse_sliced(wire, {wire.size()}, limits);
}

inline outcome parse_bytewise(std::string_view wire, parser_limits limits = {}) {
  return parse_sliced(wire, std::vector<std::size_t>(wire.size(), 1), limits);
}

} // namespace stompede::stomp::test
