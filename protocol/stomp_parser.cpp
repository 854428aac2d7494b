#include "protocol/stomp_parser.hpp"

#include <cstring>
#include <limits>

namespace stompede::stomp {

namespace {

constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

// The earliest limit crossing wins, so that the error reported for a stream does not depend
// on how the stream was sliced; on a tie the frame limit wins for the same reason.
struct crossing {
  std::size_t at = none;
  errc code = errc::ok;

  void offer(std::size_t pos, errc e) noexcept {
    if (pos < at) {
      at = pos;
      code = e;
    }
  }
};

std::size_t find(const char* b, std::size_t from, std::size_t to, char c) noexcept {
  const void* p = std::memchr(b + from, c, to - from);
  return p == nullptr ? none : static_cast<std::size_t>(static_cast<const char*>(p) - b);
}

// Strict content-length: 1*DIGIT, fits in 64 bits. No sign, no spaces, no hex.
bool parse_length(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty())
    return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
      return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

} // namespace

parser::parser(parser_limits limits) : limits_(limits) {}

void parser::feed(std::string_view bytes) {
  if (error_)
    return; // a broken stream stays broken until reset(): buffer nothing more
  if (consume_pending_) {
    pos_ = consume_to_;
    consume_pending_ = false;
  }
  views_stale_ = true;
  if (pos_ == buf_.size()) {
    base_ += pos_;
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 0 &&
             (pos_ >= buf_.size() - pos_ || buf_.size() + bytes.size() > buf_.capacity())) {
    // Compact only when it pays: the kept tail is at most as long as what is dropped, or the
    // buffer would grow anyway. Keeps byte-by-byte feeding of a long frame linear.
    buf_.erase(0, pos_);
    base_ += pos_;
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

std::size_t parser::buffered() const noexcept {
  return buf_.size() - (consume_pending_ ? consume_to_ : pos_);
}

void parser::release_buffer() noexcept {
  if (error_ || buffered() != 0)
    return;
  if (consume_pending_) {
    pos_ = consume_to_;
    consume_pending_ = false;
  }
  base_ += pos_;
  pos_ = 0;
  std::string().swap(buf_);
  // The header views and unescaped values of the last frame go too (~500 bytes kept per
  // connection otherwise); the next frame allocates them again.
  std::vector<header_view>().swap(headers_);
  std::string().swap(scratch_);
  views_stale_ = true;
}

void parser::reset() {
  buf_.clear();
  pos_ = base_ = consume_to_ = 0;
  consume_pending_ = false;
  phase_ = phase::idle;
  line_ = lines_ = body_ = nul_scan_ = 0;
  has_length_ = views_stale_ = false;
  length_ = 0;
  headers_.clear();
  scratch_.clear();
  error_ = {};
  error_offset_ = 0;
}

parse_status parser::fail(errc e, std::size_t at) {
  error_ = make_error_code(e);
  error_offset_ = base_ + at;
  phase_ = phase::idle;
  return parse_status::error;
}

parse_status parser::next(frame_view& out) {
  if (error_)
    return parse_status::error;
  if (consume_pending_) {
    pos_ = consume_to_;
    consume_pending_ = false;
  }

  if (phase_ == phase::idle) {
    if (pos_ == buf_.size())
      return parse_status::need_more;
    const char c = buf_[pos_];
    if (c == '\n') {
      ++pos_;
      return parse_status::heartbeat;
    }
    if (c == '\r') {
      if (pos_ + 1 == buf_.size())
        return parse_status::need_more;
      if (buf_[pos_ + 1] == '\n') {
        pos_ += 2;
        return parse_status::heartbeat;
      }
    }
    phase_ = phase::headers;
    line_ = lines_ = 0;
  }

  if (phase_ == phase::headers) {
    parse_status s = scan_headers();
    if (s != parse_status::frame)
      return s;
    s = parse_block();
    if (s != parse_status::frame)
      return s;
    phase_ = phase::body;
    nul_scan_ = body_;
    views_stale_ = false;
  }

  const char* b = buf_.data() + pos_;
  const std::size_t avail = buf_.size() - pos_;
  std::size_t end = 0; // index of the terminating NUL, relative to pos_
  if (has_length_) {
    end = body_ + static_cast<std::size_t>(length_);
    if (avail <= end)
      return parse_status::need_more;
    if (b[end] != '\0')
      return fail(errc::missing_nul, pos_ + end);
  } else {
    end = find(b, nul_scan_, avail, '\0');
    crossing x;
    const std::size_t seen = end == none ? avail : end + 1; // frame bytes known so far
    if (seen > limits_.max_frame_bytes)
      x.offer(limits_.max_frame_bytes, errc::frame_too_large);
    const std::size_t body_known = (end == none ? avail : end) - body_;
    if (body_known > limits_.max_body_bytes)
      x.offer(body_ + limits_.max_body_bytes, errc::body_too_large);
    if (x.at != none)
      return fail(x.code, pos_ + x.at);
    if (end == none) {
      nul_scan_ = avail;
      return parse_status::need_more;
    }
  }

  if (views_stale_)
    parse_block(); // buf_ may have moved since the headers were parsed; cannot fail twice
  out.cmd = cmd_;
  out.headers = headers_.data();
  out.header_count = headers_.size();
  out.body = std::string_view{b + body_, end - body_};
  consume_pending_ = true;
  consume_to_ = pos_ + end + 1;
  phase_ = phase::idle;
  return parse_status::frame;
}

// Finds the blank line that ends the header block, enforcing the frame, header count and
// line length limits on every byte as it arrives (complete lines and the partial tail alike).
parse_status parser::scan_headers() {
  const char* b = buf_.data() + pos_;
  const std::size_t avail = buf_.size() - pos_;
  const std::size_t max_line = limits_.max_header_line;
  for (;;) {
    const std::size_t ls = line_;
    const std::size_t le = find(b, ls, avail, '\n');
    crossing x;
    if (le == none) {
      const std::size_t t = avail - ls;
      // A command line that can no longer become a command fails now, not when (if ever) its
      // line ends: garbage after a frame is an error as soon as its first wrong byte arrives.
      // (A final CR may be the start of a CRLF.)
      if (lines_ == 0) {
        std::string_view partial{b + ls, t};
        if (!partial.empty() && partial.back() == '\r')
          partial.remove_suffix(1);
        if (!could_be_command(partial))
          return fail(errc::unknown_command, pos_);
      }
      if (avail > limits_.max_frame_bytes)
        x.offer(limits_.max_frame_bytes, errc::frame_too_large);
      const bool header_line = t >= 2 || (t == 1 && b[ls] != '\r');
      if (lines_ >= 1 && header_line && lines_ - 1 >= limits_.max_headers)
        x.offer(ls, errc::too_many_headers);
      // The byte at ls + max_line is content unless it is the CR of a CRLF still to come.
      if (t > max_line + 1 || (t == max_line + 1 && b[ls + max_line] != '\r'))
        x.offer(ls + max_line, errc::header_line_too_long);
      if (x.at != none)
        return fail(x.code, pos_ + x.at);
      line_ = ls;
      return parse_status::need_more;
    }
    const std::size_t content_end = (le > ls && b[le - 1] == '\r') ? le - 1 : le;
    const std::size_t len = content_end - ls;
    // The command is known as soon as its line is, and an unknown one takes precedence over
    // the line's length, as it does before the line ends (above).
    if (lines_ == 0 && !parse_command(std::string_view{b + ls, len}))
      return fail(errc::unknown_command, pos_);
    if (le >= limits_.max_frame_bytes)
      x.offer(limits_.max_frame_bytes, errc::frame_too_large);
    if (lines_ >= 1 && len > 0 && lines_ - 1 >= limits_.max_headers)
      x.offer(ls, errc::too_many_headers);
    if (len > max_line)
      x.offer(ls + max_line, errc::header_line_too_long);
    if (x.at != none)
      return fail(x.code, pos_ + x.at);
    if (lines_ >= 1 && len == 0) {
      body_ = le + 1;
      return parse_status::frame;
    }
    ++lines_;
    line_ = le + 1;
  }
}

// Builds the command and header views of the complete header block [pos_, pos_ + body_).
parse_status parser::parse_block() {
  const char* b = buf_.data() + pos_;
  const std::size_t block = body_;

  std::size_t le = find(b, 0, block, '\n');
  std::size_t ce = (le > 0 && b[le - 1] == '\r') ? le - 1 : le;
  auto cmd = parse_command(std::string_view{b, ce});
  if (!cmd)
    return fail(errc::unknown_command, pos_);
  cmd_ = *cmd;
  const bool raw = is_unescaped(cmd_);

  headers_.clear();
  if (headers_.capacity() == 0)
    headers_.reserve(8); // a chat MESSAGE has 5-8 headers: one allocation, not four
  scratch_.clear();
  has_length_ = false;
  length_ = 0;

  auto unescaped = [&](std::size_t from, std::size_t to, std::string_view& out) -> std::size_t {
    std::string_view s{b + from, to - from};
    if (raw || std::memchr(s.data(), '\\', s.size()) == nullptr) {
      out = s;
      return none;
    }
    // Unescaping only shrinks, so the block size bounds the scratch: reserved at the frame's
    // first escaped value (no view into it exists yet), views into it stay valid while it fills.
    // A frame without escapes never touches it.
    if (scratch_.empty() && scratch_.capacity() < block)
      scratch_.reserve(block);
    const std::size_t start = scratch_.size();
    const std::size_t bad = unescape_at(s, scratch_);
    if (bad != none)
      return from + bad;
    out = std::string_view{scratch_.data() + start, scratch_.size() - start};
    return none;
  };

  std::size_t ls = le + 1;
  for (;;) {
    le = find(b, ls, block, '\n');
    ce = (le > ls && b[le - 1] == '\r') ? le - 1 : le;
    if (ce == ls)
      break; // the blank line
    const std::size_t colon = find(b, ls, ce, ':');
    if (colon == none || colon == ls)
      return fail(errc::malformed_header, pos_ + ls);
    header_view h;
    if (std::size_t bad = unescaped(ls, colon, h.name); bad != none)
      return fail(errc::invalid_escape, pos_ + bad);
    if (h.name.empty())
      return fail(errc::malformed_header, pos_ + ls);
    if (std::size_t bad = unescaped(colon + 1, ce, h.value); bad != none)
      return fail(errc::invalid_escape, pos_ + bad);
    if (!has_length_ && h.name == "content-length") {
      if (!parse_length(h.value, length_))
        return fail(errc::invalid_content_length, pos_ + colon + 1);
      has_length_ = true;
    }
    headers_.push_back(h);
    ls = le + 1;
  }

  if (has_length_) {
    // Compared before a single body byte is buffered (ST-12); the arithmetic cannot overflow
    // because length_ is checked against the limits first.
    crossing x;
    if (length_ > limits_.max_frame_bytes || block + length_ + 1 > limits_.max_frame_bytes)
      x.offer(limits_.max_frame_bytes, errc::frame_too_large);
    if (length_ > limits_.max_body_bytes)
      x.offer(block + limits_.max_body_bytes, errc::body_too_large);
    if (x.at != none)
      return fail(x.code, pos_ + x.at);
  }
  return parse_status::frame;
}

} // namespace stompede::stomp
