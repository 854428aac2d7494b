// STOMP 1.2 header escaping. Properties: escape then unescape gives the input back for any
// bytes; an input that unescapes cleanly comes back unchanged through escape + unescape; a
// refused input is refused at a backslash, and what was appended before it is the clean
// unescaping of the prefix.

#include "fuzz_support.hpp"

#include "protocol/stomp_frame.hpp"

#include <string>

using namespace stompede;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);

  std::string escaped;
  stomp::escape_to(s, escaped);
  fuzz::require(escaped.find_first_of("\r\n:") == std::string::npos,
                "escaped text holds CR, LF or a colon");
  std::string back;
  fuzz::require(stomp::unescape_to(escaped, back), "escaped text does not unescape");
  fuzz::require(back == s, "escape + unescape is not the identity");

  std::string out = "prefix";
  const std::size_t bad = stomp::unescape_at(s, out);
  if (bad == stomp::unescape_ok) {
    const std::string once = out.substr(6);
    std::string again;
    escaped.clear();
    stomp::escape_to(once, escaped);
    fuzz::require(stomp::unescape_to(escaped, again) && again == once,
                  "unescaped value does not survive escape + unescape");
    fuzz::require(once.size() <= s.size(), "unescaping grew the value");
  } else {
    fuzz::require(bad < s.size() && s[bad] == '\\', "refusal does not point at a backslash");
    std::string prefix;
    fuzz::require(stomp::unescape_at(s.substr(0, bad), prefix) == stomp::unescape_ok,
                  "the text before the first bad escape does not unescape");
    fuzz::require(out.compare(6, std::string::npos, prefix) == 0,
                  "the output before a refusal is not the prefix's unescaping");
  }
  return 0;
}
