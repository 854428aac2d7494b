#pragma once

#include "config/diagnostic.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace stompede::config {

/// Environment variables by name. Passed explicitly so that loading never depends on the
/// process environment by accident (and tests can give their own).
using env_map = std::map<std::string, std::string>;

/// The process environment (`environ`) as a map; the only function here that reads it.
env_map process_environment();

/// Reads a `.env` file: `NAME=value` lines, `#` comments, optional `export `, values optionally
/// in single or double quotes, as dotenv does: a quoted value ends at its closing quote (`\"`
/// and `\\` are escapes inside double quotes) and may be followed by a `# comment`; an unquoted
/// value ends at a `#` after a space or tab. A leading UTF-8 byte order mark is skipped. A
/// missing file gives an empty map and no diagnostic; a malformed line gives a diagnostic with
/// file, line and column.
env_map read_dotenv(const std::string& path, std::vector<diagnostic>& problems);

/// `base` with every variable of `dotenv` that `base` lacks: the real environment wins.
env_map merge_env(env_map base, const env_map& dotenv);

/// Expands `${VAR}` and `${VAR:-default}` in `text` from `env`; `$${` gives a literal `${`.
/// Returns false with `why` set for a missing variable without default or an unclosed `${`.
bool expand_variables(std::string_view text, const env_map& env, std::string& out,
                      std::string& why);

} // namespace stompede::config
