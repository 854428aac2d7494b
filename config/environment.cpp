#include "config/environment.hpp"

#include <fstream>

extern char** environ; // POSIX; declared here because <unistd.h> only has it with _GNU_SOURCE

namespace stompede::config {

env_map process_environment() {
  env_map out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry{*e};
    auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      continue;
    out.emplace(std::string{entry.substr(0, eq)}, std::string{entry.substr(eq + 1)});
  }
  return out;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
    return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

/// Reads the value part of a `.env` line (what follows `=`, untrimmed) into `out`. A quoted value
/// ends at its closing quote (inside double quotes `\"` and `\\` are escapes) and may be
/// followed only by a comment; an unquoted one ends at a `#` after a space or tab. False with
/// `why` and the 0-based offset of the problem in `column`.
bool dotenv_value(std::string_view text, std::string& out, std::string& why, std::size_t& column) {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
    ++i;
  out.clear();
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
    const char quote = text[i];
    const std::size_t open = i++;
    bool closed = false;
    while (i < text.size()) {
      const char c = text[i++];
      if (c == quote) {
        closed = true;
        break;
      }
      if (quote == '"' && c == '\\' && i < text.size() && (text[i] == '"' || text[i] == '\\'))
        out += text[i++];
      else
        out += c;
    }
    if (!closed) {
      why = std::string{"the value opens a "} + (quote == '"' ? "double" : "single") +
            " quote but does not close it on this line";
      column = open;
      return false;
    }
    const std::size_t after = text.find_first_not_of(" \t\r", i);
    if (after != std::string_view::npos && text[after] != '#') {
      why = "expected nothing or a # comment after the closing quote";
      column = after;
      return false;
    }
    return true;
  }
  // An unquoted value ends at a comment: a '#' after a space or tab.
  std::string_view value = text;
  for (std::size_t k = 1; k < value.size(); ++k)
    if (value[k] == '#' && (value[k - 1] == ' ' || value[k - 1] == '\t')) {
      value = value.substr(0, k);
      break;
    }
  out = std::string{trim(value)};
  return true;
}

} // namespace

env_map read_dotenv(const std::string& path, std::vector<diagnostic>& problems) {
  env_map out;
  std::ifstream in{path};
  if (!in)
    return out;
  std::string raw;
  std::uint32_t line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view full = raw;
    // Editors on Windows start a UTF-8 file with a byte order mark; it is not part of the name.
    if (line_no == 1 && full.substr(0, 3) == "\xEF\xBB\xBF")
      full.remove_prefix(3);
    std::string_view line = trim(full);
    if (line.empty() || line.front() == '#')
      continue;
    if (line.substr(0, 7) == "export ")
      line = trim(line.substr(7));
    auto eq = line.find('=');
    std::string_view name = eq == std::string_view::npos ? line : trim(line.substr(0, eq));
    if (eq == std::string_view::npos || !valid_name(name)) {
      problems.push_back({path, line_no, 1, {}, "expected NAME=value"});
      continue;
    }
    std::string value, why;
    std::size_t at = 0;
    if (!dotenv_value(line.substr(eq + 1), value, why, at)) {
      const auto column = static_cast<std::uint32_t>(line.data() - full.data() + eq + 1 + at + 1);
      problems.push_back({path, line_no, column, std::string{name}, why});
      continue;
    }
    out[std::string{name}] = std::move(value);
  }
  return out;
}

env_map merge_env(env_map base, const env_map& dotenv) {
  for (const auto& [k, v] : dotenv)
    base.emplace(k, v); // emplace keeps what base already has: the real environment wins
  return base;
}

bool expand_variables(std::string_view text, const env_map& env, std::string& out,
                      std::string& why) {
  out.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      why = "unclosed \"${\" (write \"$${\" for a literal \"${\")";
      return false;
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::string_view fallback;
    bool has_default = false;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
      has_default = true;
    }
    if (!valid_name(name)) {
      why = "\"${" + std::string{inner} +
            "}\" is not a variable reference (expected ${NAME} or "
            "${NAME:-default})";
      return false;
    }
    auto it = env.find(std::string{name});
    // Like the shell's ":-": an empty variable takes the default too.
    if (it != env.end() && !(has_default && it->second.empty()))
      out += it->second;
    else if (has_default)
      out += fallback;
    else {
      why = "environment variable " + std::string{name} +
            " is not set (set it, put it in .env, or write ${" + std::string{name} + ":-default})";
      return false;
    }
    i = close + 1;
  }
  return true;
}

} // namespace stompede::config
