#include "config/diagnostic.hpp"

namespace stompede::config {

std::string diagnostic::to_string() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line != 0) {
      out += ':' + std::to_string(line);
      if (column != 0)
        out += ':' + std::to_string(column);
    }
    out += ": ";
  }
  if (!key.empty())
    out += key + ": ";
  out += message;
  return out;
}

} // namespace stompede::config
