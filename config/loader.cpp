#include "config/loader.hpp"

#include "config/duration.hpp"
#include "config/validate.hpp"
#include "metrics/thresholds.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <fstream>

#include <set>
#include <sstream>
#include <sys/stat.h>
#include <variant>

namespace stompede::config {

namespace {

// ---------------------------------------------------------------- helpers

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// The closest of `known` to `word` when it is close enough to be a typo, else "".
std::string closest(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& k : known) {
    std::size_t d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

const char* type_name(toml::node_type t) {
  switch (t) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  default:
    return "nothing";
  }
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

/// Parses `text` as one TOML value into `holder["v"]`; false when it is not a TOML value.
bool parse_toml_value(const std::string& text, toml::table& holder) {
  try {
    holder = toml::parse("v = " + text);
    return holder.size() == 1 && holder.contains("v");
  } catch (const toml::parse_error&) {
    return false;
  }
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string{"."} : path.substr(0, slash == 0 ? 1 : slash);
}

// ---------------------------------------------------------------- overrides

/// Sets `key` (dotted, with `[N]` indexes) to `value_text` in `root`, creating tables on the
/// way; records where the value came from. Used by --set and by the seed's env variables.
struct override_sink {
  std::map<std::string, source_position>& positions;
  std::map<std::string, std::string>& raw;
  std::set<std::string>& literal;
};

bool valid_bare_key(const std::string& s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

void apply_override(toml::table& root, const std::string& key, const std::string& value_text,
                    const source_position& where, bool from_env, override_sink sink,
                    std::vector<diagnostic>& problems) {
  auto fail = [&](const std::string& k, const std::string& msg) {
    problems.push_back({where.file, where.line, where.column, k, msg});
  };
  std::vector<std::string> segments;
  {
    std::string seg;
    std::istringstream ss{key};
    while (std::getline(ss, seg, '.'))
      segments.push_back(seg);
    if (key.empty() || key.back() == '.')
      segments.push_back({});
  }
  toml::table* cur = &root;
  std::string path;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    std::string name = segments[i];
    long index = -1;
    if (auto lb = name.find('['); lb != std::string::npos) {
      if (name.back() != ']') {
        fail(key, "expected key[N] with a closing \"]\"");
        return;
      }
      std::string digits = name.substr(lb + 1, name.size() - lb - 2);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        fail(key, "expected a number between \"[\" and \"]\"");
        return;
      }
      if (digits.size() > 9) {
        fail(key, "the index " + digits + " is too large");
        return;
      }
      index = std::stol(digits);
      name = name.substr(0, lb);
    }
    if (!valid_bare_key(name)) {
      fail(key, "expected a dotted key such as target.url or stage[0].users");
      return;
    }
    path = join_path(path, name);
    const bool last = i + 1 == segments.size();
    if (index >= 0) {
      auto* arr = cur->get_as<toml::array>(name);
      if (arr == nullptr) {
        fail(key, "\"" + path + "\" is not an array of tables");
        return;
      }
      if (static_cast<std::size_t>(index) >= arr->size()) {
        fail(key, path + "[" + std::to_string(index) + "] does not exist (there are " +
                      std::to_string(arr->size()) + ")");
        return;
      }
      path += "[" + std::to_string(index) + "]";
      auto* elem = arr->get(static_cast<std::size_t>(index))->as_table();
      if (elem == nullptr || last) {
        fail(key, "expected a key inside " + path);
        return;
      }
      cur = elem;
      continue;
    }
    if (last) {
      toml::table holder;
      if (parse_toml_value(value_text, holder))
        holder.get("v")->visit([&](auto&& v) { cur->insert_or_assign(name, v); });
      else
        cur->insert_or_assign(name, value_text);
      sink.positions[path] = where;
      sink.raw[path] = value_text;
      if (from_env) // a value from the environment is taken as it is, never ${...}-expanded
        sink.literal.insert(path);
      return;
    }
    auto* node = cur->get(name);
    if (node == nullptr) {
      cur->insert(name, toml::table{});
      sink.positions.emplace(path, where);
      node = cur->get(name);
    }
    if (!node->is_table()) {
      fail(key, "\"" + path + "\" is " + type_name(node->type()) + ", not a table");
      return;
    }
    cur = node->as_table();
  }
}

// ---------------------------------------------------------------- reader

/// Turns the TOML tree into a scenario, collecting every problem.
class reader {
public:
  reader(std::string file, const env_map& env, std::vector<diagnostic>& problems, scenario& s)
      : file_(std::move(file)), env_(env), problems_(problems), s_(s) {}

  std::map<std::string, source_position> override_pos;
  std::map<std::string, std::string> override_raw;
  std::set<std::string> literal_paths;

  override_sink sink() {
    return {override_pos, override_raw, literal_paths};
  }

  void read(const toml::table& root) {
    check_keys(root, "",
               {"target", "auth", "rooms", "destinations", "stage", "behaviour", "reconnect", "tls",
                "output", "run", "thresholds", "control", "server_metrics", "experiment", "fault"});
    if (auto* t = table(root, "", "target"))
      read_target(*t);
    if (auto* t = table(root, "", "auth"))
      read_auth(*t);
    if (auto* t = table(root, "", "rooms"))
      read_rooms(*t);
    if (auto* t = table(root, "", "destinations"))
      read_destinations(*t);
    read_stages(root);
    if (auto* b = root.get("behaviour"); b != nullptr && b->is_array())
      read_behaviours(*b->as_array());
    else if (auto* t = table(root, "", "behaviour"))
      read_behaviour(*t);
    if (auto* t = table(root, "", "reconnect"))
      read_reconnect(*t);
    if (auto* t = table(root, "", "tls"))
      read_tls(*t);
    if (auto* t = table(root, "", "output"))
      read_output(*t);
    if (auto* t = table(root, "", "run"))
      read_run(*t);
    if (auto* t = table(root, "", "thresholds"))
      read_thresholds(*t);
    if (auto* t = table(root, "", "control"))
      read_control(*t);
    if (auto* t = table(root, "", "server_metrics"))
      read_server_metrics(*t);
    if (auto* t = table(root, "", "experiment"))
      read_experiment(*t);
    read_faults(root);
  }

private:
  source_position pos(const std::string& path, const toml::source_region& src) const {
    if (auto it = override_pos.find(path); it != override_pos.end())
      return it->second;
    if (src.begin.line == 0)
      return {file_, 0, 0};
    return {file_, src.begin.line, src.begin.column};
  }

  void error(const std::string& path, const toml::source_region& src, std::string msg) {
    auto p = pos(path, src);
    problems_.push_back({p.file, p.line, p.column, path, std::move(msg)});
  }

  /// `t[key]`, recording its position; nullptr when absent.
  const toml::node* field(const toml::table& t, const std::string& prefix, const char* key,
                          std::string& path) {
    path = join_path(prefix, key);
    auto* n = t.get(key);
    if (n != nullptr)
      s_.positions[path] = pos(path, n->source());
    return n;
  }

  void check_keys(const toml::table& t, const std::string& prefix,
                  const std::vector<std::string>& known,
                  const std::vector<std::string>& skip = {}) {
    for (auto&& [k, v] : t) {
      const std::string name{k.str()};
      if (std::find(known.begin(), known.end(), name) != known.end() ||
          std::find(skip.begin(), skip.end(), name) != skip.end())
        continue;
      const std::string path = join_path(prefix, name);
      std::string msg =
          "unknown key \"" + name + "\"" +
          (prefix.empty() ? std::string{" at the top level"} : " in [" + prefix + "]");
      if (auto best = closest(name, known); !best.empty())
        msg += "; did you mean \"" + best + "\"?";
      else {
        msg += "; expected one of:";
        for (const auto& kk : known)
          msg += " " + kk;
      }
      source_region_or(path, k.source(), v.source(), std::move(msg));
    }
  }

  void source_region_or(const std::string& path, const toml::source_region& a,
                        const toml::source_region& b, std::string msg) {
    error(path, a.begin.line != 0 ? a : b, std::move(msg));
  }

  const toml::table* table(const toml::table& t, const std::string& prefix, const char* key) {
    std::string path;
    auto* n = field(t, prefix, key, path);
    if (n == nullptr)
      return nullptr;
    if (!n->is_table()) {
      error(path, n->source(), std::string{"expected a table, got "} + type_name(n->type()));
      return nullptr;
    }
    return n->as_table();
  }

  /// Expands a string node; false (and a diagnostic) on a missing variable.
  bool text_of(const toml::node& n, const std::string& path, std::string& out) {
    const std::string& raw = n.as_string()->get();
    if (literal_paths.count(path) != 0) {
      out = raw;
      return true;
    }
    std::string why;
    if (!expand_variables(raw, env_, out, why)) {
      error(path, n.source(), why);
      return false;
    }
    return true;
  }

  /// `n`, or when it is a string with `${...}`, its expansion read as a TOML value (so that
  /// numbers, booleans and sizes can come from the environment); `expansion` gets the expanded
  /// text. nullptr after a diagnostic.
  const toml::node* resolved(const toml::node& n, const std::string& path, toml::table& holder,
                             std::string* expansion = nullptr) {
    if (!n.is_string() || n.as_string()->get().find("${") == std::string::npos)
      return &n;
    std::string text;
    if (!text_of(n, path, text))
      return nullptr;
    if (!parse_toml_value(text, holder))
      holder = toml::table{{"v", text}};
    if (expansion != nullptr)
      *expansion = std::move(text);
    return holder.get("v");
  }

  void type_error(const std::string& path, const toml::node& n, const char* expected) {
    error(path, n.source(), std::string{"expected "} + expected + ", got " + type_name(n.type()));
  }

  /// type_error for `n0`, whose value is `n`; when `n` is the expansion of `${...}` in `n0`, the
  /// message quotes the expanded text, since that is what was not a value of the key's type.
  void type_error(const std::string& path, const toml::node& n0, const toml::node& n,
                  const std::string& expansion, const char* expected) {
    if (&n == &n0) {
      type_error(path, n0, expected);
      return;
    }
    error(path, n0.source(),
          std::string{"expected "} + expected + ", got " + quoted(expansion) + " (from " +
              quoted(n0.as_string()->get()) + ")");
  }

  void str(const toml::table& t, const std::string& prefix, const char* key, std::string& out) {
    std::string path;
    auto* n = field(t, prefix, key, path);
    if (n == nullptr)
      return;
    if (n->is_string()) {
      text_of(*n, path, out);
      return;
    }
    // `--set target.host=1` means the text "1".
    if (auto it = override_raw.find(path);
        it != override_raw.end() && !n->is_array() && !n->is_table()) {
      out = it->second;
      return;
    }
    type_error(path, *n, "a string");
  }

  void sec(const toml::table& t, const std::string& prefix, const char* key, secret& out) {
    std::string value;
    if (t.get(key) == nullptr)
      return;
    str(t, prefix, key, value);
    out = secret{std::move(value)};
  }

  void boolean(const toml::table& t, const std::string& prefix, const char* key, bool& out) {
    std::string path;
    auto* n0 = field(t, prefix, key, path);
    if (n0 == nullptr)
      return;
    toml::table holder;
    std::string expansion;
    auto* n = resolved(*n0, path, holder, &expansion);
    if (n == nullptr)
      return;
    if (auto* b = n->as_boolean())
      out = b->get();
    else
      type_error(path, *n0, *n, expansion, "true or false");
  }

  template<class Int>
  void integer(const toml::table& t, const std::string& prefix, const char* key, Int& out,
               std::int64_t min = 0) {
    std::string path;
    auto* n0 = field(t, prefix, key, path);
    if (n0 == nullptr)
      return;
    toml::table holder;
    std::string expansion;
    auto* n = resolved(*n0, path, holder, &expansion);
    if (n == nullptr)
      return;
    auto* i = n->as_integer();
    if (i == nullptr) {
      type_error(path, *n0, *n, expansion, min >= 0 ? "a non-negative integer" : "an integer");
      return;
    }
    const std::int64_t v = i->get();
    if (v < min) {
      error(path, n0->source(),
            min == 0 ? "must not be negative, got " + std::to_string(v)
                     : "expected at least " + std::to_string(min) + ", got " + std::to_string(v));
      return;
    }
    if (static_cast<std::uint64_t>(v) >
        static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
      error(path, n0->source(), "too large: " + std::to_string(v));
      return;
    }
    out = static_cast<Int>(v);
  }

  void real(const toml::table& t, const std::string& prefix, const char* key, double& out) {
    std::string path;
    auto* n0 = field(t, prefix, key, path);
    if (n0 == nullptr)
      return;
    toml::table holder;
    std::string expansion;
    auto* n = resolved(*n0, path, holder, &expansion);
    if (n == nullptr)
      return;
    double v = 0;
    if (auto* f = n->as_floating_point())
      v = f->get();
    else if (auto* i = n->as_integer())
      v = static_cast<double>(i->get());
    else {
      type_error(path, *n0, *n, expansion, "a number");
      return;
    }
    if (!std::isfinite(v)) {
      error(path, n0->source(), "expected a finite number");
      return;
    }
    if (v < 0) {
      error(path, n0->source(), "must not be negative");
      return;
    }
    out = v;
  }

  void duration(const toml::table& t, const std::string& prefix, const char* key,
                std::chrono::milliseconds& out) {
    std::string path;
    auto* n = field(t, prefix, key, path);
    if (n == nullptr)
      return;
    if (n->is_integer() || n->is_floating_point()) {
      const bool negative =
          n->is_integer() ? n->as_integer()->get() < 0 : n->as_floating_point()->get() < 0;
      error(path, n->source(),
            negative ? "a duration must not be negative"
                     : "expected a duration string such as \"500ms\" or \"10s\" (a bare number "
                       "has no unit)");
      return;
    }
    if (!n->is_string()) {
      type_error(path, *n, "a duration string such as \"500ms\" or \"10s\"");
      return;
    }
    std::string text;
    if (!text_of(*n, path, text))
      return;
    std::string why;
    if (auto d = parse_duration(text, &why))
      out = *d;
    else
      error(path, n->source(), why + ", got " + quoted(text));
  }

  void size(const toml::table& t, const std::string& prefix, const char* key, std::uint64_t& out) {
    std::string path;
    auto* n0 = field(t, prefix, key, path);
    if (n0 == nullptr)
      return;
    // "${MAX_FRAME:-2048}" gives bytes like a bare 2048 does.
    toml::table holder;
    std::string expansion;
    auto* n = resolved(*n0, path, holder, &expansion);
    if (n == nullptr)
      return;
    if (n->is_integer()) {
      if (n->as_integer()->get() < 0)
        error(path, n0->source(),
              "a size must not be negative" +
                  (n == n0 ? std::string{} : ", got " + quoted(expansion)));
      else
        out = static_cast<std::uint64_t>(n->as_integer()->get());
      return;
    }
    if (!n->is_string()) {
      type_error(path, *n0, *n, expansion, "a size such as \"512KiB\" or a byte count");
      return;
    }
    std::string text;
    if (n != n0)
      text = n->as_string()->get();
    else if (!text_of(*n, path, text))
      return;
    std::string why;
    if (auto v = parse_size(text, &why))
      out = *v;
    else
      error(path, n0->source(), why + ", got " + quoted(text));
  }

  template<class E>
  void choice(const toml::table& t, const std::string& prefix, const char* key, E& out,
              std::initializer_list<std::pair<const char*, E>> choices) {
    std::string path;
    if (t.get(key) == nullptr)
      return;
    std::string text;
    std::size_t before = problems_.size();
    str(t, prefix, key, text);
    if (problems_.size() != before)
      return;
    std::vector<std::string> names;
    for (auto& [name, value] : choices) {
      if (text == name) {
        out = value;
        return;
      }
      names.emplace_back(name);
    }
    std::string msg = "expected one of";
    for (std::size_t i = 0; i < names.size(); ++i)
      msg += (i == 0 ? " " : ", ") + quoted(names[i]);
    msg += ", got " + quoted(text);
    if (auto best = closest(text, names); !best.empty())
      msg += "; did you mean " + quoted(best) + "?";
    path = join_path(prefix, key);
    error(path, t.get(key)->source(), msg);
  }

  void headers(const toml::table& t, const std::string& prefix, const char* key,
               std::vector<header>& out) {
    auto* ht = table(t, prefix, key);
    if (ht == nullptr)
      return;
    const std::string hp = join_path(prefix, key);
    out.clear();
    for (auto&& [k, v] : *ht) {
      const std::string name{k.str()};
      std::string value;
      std::size_t before = problems_.size();
      str(*ht, hp, name.c_str(), value);
      if (problems_.size() == before)
        out.push_back({name, secret{std::move(value)}});
    }
  }

  void string_list(const toml::table& t, const std::string& prefix, const char* key,
                   std::vector<std::string>& out) {
    std::string path;
    auto* n = field(t, prefix, key, path);
    if (n == nullptr)
      return;
    auto* arr = n->as_array();
    if (arr == nullptr) {
      type_error(path, *n, "an array of strings");
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& e = *arr->get(i);
      const std::string ep = path + "[" + std::to_string(i) + "]";
      std::string text;
      if (!e.is_string())
        type_error(ep, e, "a string");
      else if (text_of(e, ep, text))
        out.push_back(std::move(text));
    }
  }

  void int_list(const toml::table& t, const std::string& prefix, const char* key,
                std::vector<std::int64_t>& out) {
    std::string path;
    auto* n = field(t, prefix, key, path);
    if (n == nullptr)
      return;
    auto* arr = n->as_array();
    if (arr == nullptr) {
      type_error(path, *n, "an array of integers");
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& e0 = *arr->get(i);
      const std::string ep = path + "[" + std::to_string(i) + "]";
      toml::table holder;
      std::string expansion;
      auto* e = resolved(e0, ep, holder, &expansion);
      if (e == nullptr)
        continue;
      if (!e->is_integer())
        type_error(ep, e0, *e, expansion, "an integer");
      else if (e->as_integer()->get() < 0)
        error(ep, e0.source(), "must not be negative");
      else
        out.push_back(e->as_integer()->get());
    }
  }

  void heartbeat(const toml::table& t, const std::string& prefix) {
    std::string path;
    auto* n = field(t, prefix, "heartbeat", path);
    if (n == nullptr)
      return;
    const char* expected =
        "expected \"SEND,RECEIVE\" such as \"10s,10s\" or \"10000,10000\" (milliseconds), "
        "\"0,0\" for none";
    if (!n->is_string()) {
      type_error(path, *n, expected + 9);
      return;
    }
    std::string text;
    if (!text_of(*n, path, text))
      return;
    auto comma = text.find(',');
    if (comma == std::string::npos) {
      error(path, n->source(), std::string{expected} + ", got " + quoted(text));
      return;
    }
    std::chrono::milliseconds parts[2];
    std::string halves[2] = {text.substr(0, comma), text.substr(comma + 1)};
    for (int i = 0; i < 2; ++i) {
      std::string h = halves[i];
      h.erase(0, h.find_first_not_of(' '));
      h.erase(h.find_last_not_of(' ') + 1);
      // Plain numbers are milliseconds here, as in STOMP's own heart-beat header.
      if (!h.empty() && h.find_first_not_of("0123456789") == std::string::npos && h.size() < 16) {
        parts[i] = std::chrono::milliseconds{std::stoll(h)};
        continue;
      }
      std::string why;
      auto d = parse_duration(h, &why);
      if (!d) {
        error(path, n->source(), why + ", got " + quoted(text));
        return;
      }
      parts[i] = *d;
    }
    s_.target.heartbeat_send = parts[0];
    s_.target.heartbeat_recv = parts[1];
  }

  // ---- tables

  void read_target(const toml::table& t) {
    const std::string p = "target";
    check_keys(t, p,
               {"url", "http_url", "embedded", "embedded_cert_file", "embedded_key_file",
                "connect_headers", "upgrade_headers", "host", "heartbeat", "heartbeat_grace",
                "connect_timeout", "handshake_timeout", "max_frame", "compression",
                "delayed_acks", "source_addresses", "i_own_this_target"});
    auto& c = s_.target;
    str(t, p, "url", c.url);
    str(t, p, "http_url", c.http_url);
    boolean(t, p, "embedded", c.embedded);
    str(t, p, "embedded_cert_file", c.embedded_cert_file);
    str(t, p, "embedded_key_file", c.embedded_key_file);
    headers(t, p, "connect_headers", c.connect_headers);
    headers(t, p, "upgrade_headers", c.upgrade_headers);
    str(t, p, "host", c.host);
    heartbeat(t, p);
    real(t, p, "heartbeat_grace", c.heartbeat_grace);
    duration(t, p, "connect_timeout", c.connect_timeout);
    duration(t, p, "handshake_timeout", c.handshake_timeout);
    size(t, p, "max_frame", c.max_frame);
    boolean(t, p, "compression", c.compression);
    boolean(t, p, "delayed_acks", c.delayed_acks);
    string_list(t, p, "source_addresses", c.source_addresses);
    boolean(t, p, "i_own_this_target", c.i_own_this_target);
  }

  void read_auth(const toml::table& t) {
    const std::string p = "auth";
    check_keys(t, p,
               {"mode", "token", "email", "start_id", "password", "concurrency", "login_path",
                "stomp_login", "stomp_passcode"});
    auto& c = s_.auth;
    choice(t, p, "mode", c.mode,
           {{"none", auth_mode::none}, {"token", auth_mode::token}, {"login", auth_mode::login}});
    sec(t, p, "token", c.token);
    str(t, p, "email", c.email);
    integer(t, p, "start_id", c.start_id);
    sec(t, p, "password", c.password);
    integer(t, p, "concurrency", c.concurrency);
    str(t, p, "login_path", c.login_path);
    sec(t, p, "stomp_login", c.stomp_login);
    sec(t, p, "stomp_passcode", c.stomp_passcode);
  }

  void read_rooms(const toml::table& t) {
    const std::string p = "rooms";
    check_keys(t, p, {"mode", "room_id", "members_per_room", "member_ids", "create_path"});
    auto& c = s_.rooms;
    choice(t, p, "mode", c.mode,
           {{"existing", rooms_mode::existing},
            {"per_users", rooms_mode::per_users},
            {"create", rooms_mode::create}});
    integer(t, p, "room_id", c.room_id);
    integer(t, p, "members_per_room", c.members_per_room);
    int_list(t, p, "member_ids", c.member_ids);
    str(t, p, "create_path", c.create_path);
  }

  void read_destinations(const toml::table& t) {
    const std::string p = "destinations";
    check_keys(t, p, {"subscribe", "send", "content_type", "body"});
    auto& c = s_.destinations;
    str(t, p, "subscribe", c.subscribe);
    str(t, p, "send", c.send);
    str(t, p, "content_type", c.content_type);
    str(t, p, "body", c.body);
  }

  /// Calls `f(table, path, index)` for each entry of the array of tables `root[key]` ([[stage]],
  /// [[fault]]) and records its position; anything else under that key is an error.
  template<class F>
  void each_table(const toml::table& root, const char* key, F&& f) {
    std::string path;
    auto* n = field(root, "", key, path);
    if (n == nullptr)
      return;
    auto* arr = n->as_array();
    if (arr == nullptr) {
      error(path, n->source(),
            std::string{"expected [["} + key + "]] (an array of tables), got " +
                type_name(n->type()));
      return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& e = *arr->get(i);
      const std::string p = std::string{key} + "[" + std::to_string(i) + "]";
      s_.positions[p] = pos(p, e.source());
      auto* t = e.as_table();
      if (t == nullptr) {
        type_error(p, e, "a table");
        continue;
      }
      f(*t, p, i);
    }
  }

  void read_stages(const toml::table& root) {
    each_table(root, "stage", [&](const toml::table& t, const std::string& p, std::size_t i) {
      check_keys(t, p,
                 {"name", "users", "duration", "ramp", "min_start_gap", "arrival_rate",
                  "session_length", "session_length_max", "wait_for"});
      stage st;
      str(t, p, "name", st.name);
      if (st.name.empty())
        st.name = "stage " + std::to_string(i + 1);
      integer(t, p, "users", st.users);
      duration(t, p, "duration", st.duration);
      duration(t, p, "ramp", st.ramp);
      duration(t, p, "min_start_gap", st.min_start_gap);
      real(t, p, "arrival_rate", st.arrival_rate);
      duration(t, p, "session_length", st.session_length);
      duration(t, p, "session_length_max", st.session_length_max);
      choice(t, p, "wait_for", st.wait_for,
             {{"nothing", wait_for::nothing}, {"all_subscribed", wait_for::all_subscribed}});
      s_.stages.push_back(std::move(st));
    });
  }

  void read_behaviour(const toml::table& t) {
    const std::string p = "behaviour";
    check_keys(t, p,
               {"kind", "interval", "active_weight", "moderate_weight", "passive_weight",
                "active_multiplier", "moderate_multiplier", "passive_multiplier"});
    auto& c = s_.behaviour;
    choice(t, p, "kind", c.kind,
           {{"seed_mix", behaviour_kind::seed_mix}, {"listener", behaviour_kind::listener}});
    duration(t, p, "interval", c.interval);
    real(t, p, "active_weight", c.active_weight);
    real(t, p, "moderate_weight", c.moderate_weight);
    real(t, p, "passive_weight", c.passive_weight);
    real(t, p, "active_multiplier", c.active_multiplier);
    real(t, p, "moderate_multiplier", c.moderate_multiplier);
    real(t, p, "passive_multiplier", c.passive_multiplier);
  }

  // ------------------------------------------------------------ [[behaviour]] and steps

  void read_behaviours(const toml::array& arr) {
    s_.positions["behaviour"] = pos("behaviour", arr.source());
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const auto& e = *arr.get(i);
      const std::string p = "behaviour[" + std::to_string(i) + "]";
      s_.positions[p] = pos(p, e.source());
      auto* t = e.as_table();
      if (t == nullptr) {
        type_error(p, e, "a table");
        continue;
      }
      behaviour_entry b;
      b.where = s_.positions[p];
      str(*t, p, "name", b.name);
      str(*t, p, "label", b.label);
      real(*t, p, "weight", b.weight);
      str(*t, p, "data", b.data_file);
      if (auto* st = t->get("steps")) {
        if (b.name.empty())
          b.name = "steps";
        if (b.name != "steps")
          error(p + ".steps", st->source(),
                "steps belong to an entry with name = \"steps\" (or no name), not \"" + b.name +
                    "\"");
        else
          read_steps(*st, p + ".steps", b.steps, 0);
      } else if (b.name == "steps") {
        error(p, e.source(), "name = \"steps\" needs a steps list");
      }
      if (!b.data_file.empty())
        read_data(b, p + ".data", t->get("data")->source());
      for (auto&& [k, v] : *t) {
        const std::string key{k.str()};
        if (key == "name" || key == "label" || key == "weight" || key == "steps" || key == "data")
          continue;
        const std::string path = p + "." + key;
        s_.positions[path] = pos(path, v.source());
        behaviour_param bp;
        bp.key = key;
        bp.where = s_.positions[path];
        toml::table holder;
        auto* n = resolved(v, path, holder);
        if (n == nullptr)
          continue;
        if (auto* sv = n->as_string()) {
          bp.type = behaviour_param::kind::string;
          if (n == &v) {
            if (!text_of(v, path, bp.text))
              continue;
          } else {
            bp.text = sv->get();
          }
        } else if (auto* iv = n->as_integer()) {
          bp.type = behaviour_param::kind::integer;
          bp.number = static_cast<double>(iv->get());
          bp.text = std::to_string(iv->get());
        } else if (auto* fv = n->as_floating_point()) {
          bp.type = behaviour_param::kind::floating;
          bp.number = fv->get();
          std::ostringstream os;
          os << fv->get();
          bp.text = os.str();
        } else if (auto* bv = n->as_boolean()) {
          bp.type = behaviour_param::kind::boolean;
          bp.boolean = bv->get();
          bp.text = bv->get() ? "true" : "false";
        } else {
          type_error(path, v, "a string, number or boolean");
          continue;
        }
        b.params.push_back(std::move(bp));
      }
      s_.behaviours.push_back(std::move(b));
    }
  }

  /// Reads `data = "file.csv"`: a header row of column names, then one row per record.
  void read_data(behaviour_entry& b, const std::string& path, const toml::source_region& src) {
    std::string text;
    if (!read_file(b.data_file, text)) {
      error(path, src, "cannot read \"" + b.data_file + "\"");
      return;
    }
    auto split = [](const std::string& line) {
      std::vector<std::string> out;
      std::string cur;
      bool quoted_field = false;
      for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted_field) {
          if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
            cur += '"';
            ++i;
          } else if (c == '"') {
            quoted_field = false;
          } else {
            cur += c;
          }
        } else if (c == '"') {
          quoted_field = true;
        } else if (c == ',') {
          out.push_back(std::move(cur));
          cur.clear();
        } else if (c != '\r') {
          cur += c;
        }
      }
      out.push_back(std::move(cur));
      return out;
    };
    std::istringstream in{text};
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty() || line == "\r")
        continue;
      auto fields = split(line);
      if (b.data_columns.empty()) {
        b.data_columns = std::move(fields);
        continue;
      }
      if (fields.size() != b.data_columns.size()) {
        error(path, src,
              b.data_file + ":" + std::to_string(number) + ": expected " +
                  std::to_string(b.data_columns.size()) + " fields, got " +
                  std::to_string(fields.size()));
        return;
      }
      b.data_rows.push_back(std::move(fields));
    }
    if (b.data_rows.empty())
      error(path, src, "\"" + b.data_file + "\" has no data rows (the first row names columns)");
  }

  /// The step kinds by their action key.
  static const std::vector<std::string>& step_actions() {
    static const std::vector<std::string> a{"send",      "chat",        "wait",     "sleep",
                                            "subscribe", "unsubscribe", "ack",      "nack",
                                            "repeat",    "chance",      "reconnect"};
    return a;
  }

  void read_steps(const toml::node& n, const std::string& path, std::vector<step>& out, int depth) {
    auto* arr = n.as_array();
    if (arr == nullptr) {
      type_error(path, n, "an array of steps ({ send = ... }, { sleep = ... }, ...)");
      return;
    }
    if (depth > 8) {
      error(path, n.source(), "steps nested more than 8 deep");
      return;
    }
    if (arr->empty())
      error(path, n.source(), "expected at least one step");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& e = *arr->get(i);
      const std::string p = path + "[" + std::to_string(i) + "]";
      s_.positions[p] = pos(p, e.source());
      auto* t = e.as_table();
      if (t == nullptr) {
        type_error(p, e, "a step table such as { sleep = \"1s\" }");
        continue;
      }
      step st;
      st.where = s_.positions[p];
      if (read_step(*t, p, st, depth))
        out.push_back(std::move(st));
    }
  }

  bool read_step(const toml::table& t, const std::string& p, step& st, int depth) {
    std::string action;
    for (auto&& [k, v] : t) {
      const std::string key{k.str()};
      if (std::find(step_actions().begin(), step_actions().end(), key) == step_actions().end())
        continue;
      if (!action.empty()) {
        error(p, v.source(), "one action per step: \"" + action + "\" and \"" + key + "\" given");
        return false;
      }
      action = key;
    }
    if (action.empty()) {
      std::string msg = "a step needs one action:";
      for (auto& a : step_actions())
        msg += " " + a;
      error(p, t.source(), msg);
      return false;
    }
    auto allowed = [&](std::vector<std::string> keys) {
      keys.push_back(action);
      check_keys(t, p, keys);
    };
    const std::size_t before = problems_.size();
    if (action == "send") {
      st.type = step::kind::send;
      allowed({"to", "content_type", "receipt"});
      str(t, p, "send", st.text);
      str(t, p, "to", st.destination);
      str(t, p, "content_type", st.content_type);
      boolean(t, p, "receipt", st.receipt);
      check_template(st.text, p + ".send", t.get("send")->source());
      if (t.get("to") != nullptr)
        check_template(st.destination, p + ".to", t.get("to")->source());
    } else if (action == "chat") {
      st.type = step::kind::chat;
      allowed({});
      bool on = true;
      boolean(t, p, "chat", on);
      if (!on)
        error(p + ".chat", t.get("chat")->source(), "expected chat = true");
    } else if (action == "wait") {
      st.type = step::kind::wait;
      allowed({"destination", "header", "body", "timeout"});
      str(t, p, "wait", st.name);
      str(t, p, "destination", st.destination);
      str(t, p, "body", st.text);
      std::string h;
      str(t, p, "header", h);
      if (!h.empty()) {
        auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0)
          error(p + ".header", t.get("header")->source(),
                "expected \"name:pattern\", got " + quoted(h));
        else {
          st.header = h.substr(0, colon);
          st.header_pattern = h.substr(colon + 1);
        }
      }
      st.duration = std::chrono::milliseconds{10000};
      duration(t, p, "timeout", st.duration);
      if (st.name.empty() && problems_.size() == before)
        error(p + ".wait", t.get("wait")->source(),
              "expected a name for the wait (its counters and latency are recorded under it)");
      if (st.duration.count() <= 0 && problems_.size() == before)
        error(p + ".timeout", t.get("timeout")->source(), "expected a timeout above zero");
    } else if (action == "sleep") {
      st.type = step::kind::sleep;
      allowed({"jitter"});
      duration(t, p, "sleep", st.duration);
      duration(t, p, "jitter", st.jitter);
      // sleep ± jitter must stay a pause: below zero it would be cut to none, skewing the mean.
      if (st.jitter > st.duration && problems_.size() == before)
        error(p + ".jitter", t.get("jitter")->source(),
              "expected a jitter of at most the sleep (" + format_duration(st.duration) +
                  "): the pause is sleep ± jitter");
    } else if (action == "subscribe") {
      st.type = step::kind::subscribe;
      allowed({"ack_mode"});
      str(t, p, "subscribe", st.destination);
      st.ack_mode = "auto";
      choice_text(t, p, "ack_mode", st.ack_mode, {"auto", "client", "client-individual"});
      check_template(st.destination, p + ".subscribe", t.get("subscribe")->source());
    } else if (action == "unsubscribe") {
      st.type = step::kind::unsubscribe;
      allowed({});
      str(t, p, "unsubscribe", st.destination);
      check_template(st.destination, p + ".unsubscribe", t.get("unsubscribe")->source());
    } else if (action == "ack" || action == "nack") {
      st.type = step::kind::ack;
      st.negative = action == "nack";
      allowed({});
      bool on = true;
      boolean(t, p, action.c_str(), on);
      if (!on)
        error(p + "." + action, t.get(action)->source(), "expected " + action + " = true");
    } else if (action == "repeat") {
      st.type = step::kind::repeat;
      allowed({"steps"});
      const auto* n0 = t.get("repeat");
      toml::table holder;
      std::string expansion;
      const auto* n = resolved(*n0, p + ".repeat", holder, &expansion);
      if (n != nullptr && n->is_string() && n->as_string()->get() == "forever")
        st.times = 0;
      else if (n != nullptr && n->is_string() && n->as_string()->get() == "stage") {
        st.times = 0;
        st.until_stage_end = true;
      } else if (n != nullptr && n->is_integer() && n->as_integer()->get() >= 1)
        st.times = static_cast<std::uint64_t>(n->as_integer()->get());
      else if (n != nullptr)
        error(p + ".repeat", n0->source(),
              "expected a count of at least 1 or \"forever\" (until the session ends) or "
              "\"stage\" (until the stage ends)" +
                  (n == n0 ? std::string{} : ", got " + quoted(expansion)));
      if (auto* sn = t.get("steps"))
        read_steps(*sn, p + ".steps", st.steps, depth + 1);
      else
        error(p, t.source(), "repeat needs steps = [...]");
    } else if (action == "chance") {
      st.type = step::kind::chance;
      allowed({"steps", "otherwise"});
      real(t, p, "chance", st.probability);
      if (st.probability > 1.0)
        error(p + ".chance", t.get("chance")->source(), "expected a probability from 0 to 1");
      if (auto* sn = t.get("steps"))
        read_steps(*sn, p + ".steps", st.steps, depth + 1);
      else
        error(p, t.source(), "chance needs steps = [...]");
      if (auto* on = t.get("otherwise"))
        read_steps(*on, p + ".otherwise", st.otherwise, depth + 1);
    } else if (action == "reconnect") {
      st.type = step::kind::reconnect;
      allowed({});
      bool on = true;
      boolean(t, p, "reconnect", on);
      if (!on)
        error(p + ".reconnect", t.get("reconnect")->source(), "expected reconnect = true");
    }
    return problems_.size() == before;
  }

  void choice_text(const toml::table& t, const std::string& prefix, const char* key,
                   std::string& out, const std::vector<std::string>& choices) {
    if (t.get(key) == nullptr)
      return;
    std::string text;
    std::size_t before = problems_.size();
    str(t, prefix, key, text);
    if (problems_.size() != before)
      return;
    if (std::find(choices.begin(), choices.end(), text) != choices.end()) {
      out = text;
      return;
    }
    std::string msg = "expected one of";
    for (std::size_t i = 0; i < choices.size(); ++i)
      msg += (i == 0 ? " " : ", ") + quoted(choices[i]);
    error(join_path(prefix, key), t.get(key)->source(), msg + ", got " + quoted(text));
  }

  /// Step templates: {user} {member} {room} {seq} {timestamp} {random} {data.COLUMN}; any
  /// other {word} is an error (braces around anything else, JSON, are text).
  void check_template(const std::string& text, const std::string& path,
                      const toml::source_region& src) {
    static const std::vector<std::string> known{"user",      "member", "room",      "seq",
                                                "timestamp", "random", "created_at"};
    for (std::size_t at = text.find('{'); at != std::string::npos; at = text.find('{', at + 1)) {
      auto close = text.find('}', at);
      if (close == std::string::npos)
        break;
      std::string word = text.substr(at + 1, close - at - 1);
      bool is_word = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
      });
      if (!is_word)
        continue;
      if (std::find(known.begin(), known.end(), word) != known.end())
        continue;
      if (word.rfind("data.", 0) == 0)
        continue; // checked against the CSV columns once the entry is read
      std::string msg = "unknown placeholder {" + word + "}; known:";
      for (auto& k : known)
        msg += " {" + k + "}";
      msg += " {data.COLUMN}";
      error(path, src, msg);
    }
  }

  void read_reconnect(const toml::table& t) {
    const std::string p = "reconnect";
    check_keys(
        t, p,
        {"enabled", "max_attempts", "initial", "max", "multiplier", "jitter", "healthy_reset"});
    auto& c = s_.reconnect;
    boolean(t, p, "enabled", c.enabled);
    integer(t, p, "max_attempts", c.max_attempts);
    duration(t, p, "initial", c.initial);
    duration(t, p, "max", c.max);
    real(t, p, "multiplier", c.multiplier);
    real(t, p, "jitter", c.jitter);
    duration(t, p, "healthy_reset", c.healthy_reset);
  }

  void read_tls(const toml::table& t) {
    const std::string p = "tls";
    check_keys(t, p, {"verify", "ca_file", "cert_file", "key_file", "server_name"});
    auto& c = s_.tls;
    boolean(t, p, "verify", c.verify);
    str(t, p, "ca_file", c.ca_file);
    str(t, p, "cert_file", c.cert_file);
    str(t, p, "key_file", c.key_file);
    str(t, p, "server_name", c.server_name);
  }

  void read_output(const toml::table& t) {
    const std::string p = "output";
    check_keys(t, p,
               {"dir", "prometheus", "allow_public_metrics", "csv", "round_trip_timeout", "html",
                "prometheus_linger"});
    auto& c = s_.output;
    str(t, p, "dir", c.dir);
    str(t, p, "prometheus", c.prometheus);
    boolean(t, p, "allow_public_metrics", c.allow_public_metrics);
    boolean(t, p, "csv", c.csv);
    duration(t, p, "round_trip_timeout", c.round_trip_timeout);
    boolean(t, p, "html", c.html);
    duration(t, p, "prometheus_linger", c.prometheus_linger);
  }

  void read_thresholds(const toml::table& t) {
    const std::string p = "thresholds";
    check_keys(t, p, {"checks", "abort_on_fail", "abort_grace"});
    auto& c = s_.thresholds;
    boolean(t, p, "abort_on_fail", c.abort_on_fail);
    duration(t, p, "abort_grace", c.abort_grace);
    expressions(t, p, "checks", c.checks, false);
  }

  /// An array of threshold expressions (`[thresholds] checks`, `[experiment] hypothesis`),
  /// each parsed here so that a mistake points at its column.
  void expressions(const toml::table& t, const std::string& p, const char* key,
                   std::vector<std::string>& out, bool levels_allowed) {
    std::string path;
    auto* n = field(t, p, key, path);
    if (n == nullptr)
      return;
    auto* arr = n->as_array();
    if (arr == nullptr) {
      type_error(path, *n, "an array of expressions such as [\"p95(rtt) < 200ms\"]");
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& e = *arr->get(i);
      const std::string ep = path + "[" + std::to_string(i) + "]";
      std::string text;
      if (!e.is_string()) {
        type_error(ep, e, "a string such as \"p95(rtt) < 200ms\"");
        continue;
      }
      if (!text_of(e, ep, text))
        continue;
      s_.positions[ep] = pos(ep, e.source());
      auto parsed = metrics::parse_threshold(text);
      if (auto* bad = std::get_if<metrics::threshold_parse_error>(&parsed)) {
        // Point at the offending token: the string's opening quote plus the offset (exact for
        // strings without escapes or ${...}).
        auto where = pos(ep, e.source());
        if (where.line != 0 && override_pos.count(ep) == 0 && override_pos.count(path) == 0)
          where.column += static_cast<std::uint32_t>(1 + bad->offset);
        problems_.push_back(
            {where.file, where.line, where.column, ep, bad->message + " in \"" + text + "\""});
        continue;
      }
      if (!levels_allowed &&
          metrics::is_level_metric(std::get<metrics::threshold>(parsed).metric)) {
        error(ep, e.source(),
              "\"" + std::get<metrics::threshold>(parsed).metric +
                  "\" is a level of the moment, not a total of the run: use it in "
                  "[experiment] hypothesis, which checks it per phase");
        continue;
      }
      out.push_back(std::move(text));
    }
  }

  void read_experiment(const toml::table& t) {
    const std::string p = "experiment";
    check_keys(t, p,
               {"hypothesis", "baseline", "recovery_deadline", "hold_during_faults", "admin_url",
                "admin_token"});
    auto& c = s_.experiment;
    c.enabled = true;
    expressions(t, p, "hypothesis", c.hypothesis, true);
    duration(t, p, "baseline", c.baseline);
    duration(t, p, "recovery_deadline", c.recovery_deadline);
    boolean(t, p, "hold_during_faults", c.hold_during_faults);
    str(t, p, "admin_url", c.admin_url);
    sec(t, p, "admin_token", c.admin_token);
  }

  void read_faults(const toml::table& root) {
    each_table(root, "fault", [&](const toml::table& t, const std::string& p, std::size_t i) {
      check_keys(t, p,
                 {"name", "kind", "at", "every", "times", "duration", "fraction", "rooms",
                  "behaviour", "stage", "delay", "message", "abortive", "toxic"});
      fault_entry f;
      std::string kind_path;
      auto* kn = field(t, p, "kind", kind_path);
      if (kn == nullptr) {
        error(kind_path, t.source(),
              "required: what the fault does, e.g. \"user.drop\" or "
              "\"server.close_sessions\" (docs/faults.md lists them)");
        return;
      }
      std::string kind_text;
      bool proxy_kind = false;
      if (kn->is_string() && text_of(*kn, kind_path, kind_text)) {
        if (kind_text == "net.refuse") {
          f.kind = fault_kind::proxy_refuse;
          proxy_kind = true;
        }
        for (auto& [name, toxic_kind] : proxy_fault_kinds()) {
          if (name == kind_text) {
            f.kind = fault_kind::proxy_toxic;
            f.proxy_toxic = toxic_kind;
            proxy_kind = true;
          }
        }
      }
      std::size_t before = problems_.size();
      if (!proxy_kind)
        choice(t, p, "kind", f.kind,
               {{"user.drop", fault_kind::user_drop},
                {"user.close", fault_kind::user_close},
                {"user.crash", fault_kind::user_crash},
                {"user.stop_reading", fault_kind::user_stop_reading},
                {"user.stop_heartbeats", fault_kind::user_stop_heartbeats},
                {"user.malformed_frame", fault_kind::user_malformed_frame},
                {"user.token_expiry", fault_kind::user_token_expiry},
                {"server.pause", fault_kind::server_pause},
                {"server.delay_broadcasts", fault_kind::server_delay_broadcasts},
                {"server.stall", fault_kind::server_stall},
                {"server.drop_broadcasts", fault_kind::server_drop_broadcasts},
                {"server.close_sessions", fault_kind::server_close_sessions},
                {"server.refuse_connections", fault_kind::server_refuse_connections},
                {"server.error", fault_kind::server_error},
                {"server.restart", fault_kind::server_restart},
                {"net.latency", fault_kind::proxy_toxic},
                {"net.bandwidth", fault_kind::proxy_toxic},
                {"net.slow_close", fault_kind::proxy_toxic},
                {"net.timeout", fault_kind::proxy_toxic},
                {"net.reset_peer", fault_kind::proxy_toxic},
                {"net.limit_data", fault_kind::proxy_toxic},
                {"net.slicer", fault_kind::proxy_toxic},
                {"net.partition", fault_kind::proxy_toxic},
                {"net.refuse", fault_kind::proxy_refuse},
                {"stomp.frame_delay", fault_kind::proxy_toxic},
                {"stomp.frame_drop", fault_kind::proxy_toxic},
                {"stomp.heartbeat_stall", fault_kind::proxy_toxic},
                {"stomp.frame_split", fault_kind::proxy_toxic},
                {"stomp.throttle", fault_kind::proxy_toxic},
                {"stomp.ws_close", fault_kind::proxy_toxic},
                {"stomp.inject_error", fault_kind::proxy_toxic}});
      if (problems_.size() != before)
        return;
      str(t, p, "name", f.name);
      if (f.name.empty())
        f.name = f.kind_name() + "#" + std::to_string(i + 1);
      duration(t, p, "at", f.at);
      duration(t, p, "every", f.every);
      integer(t, p, "times", f.times);
      duration(t, p, "duration", f.duration);
      real(t, p, "fraction", f.fraction);
      int_list(t, p, "rooms", f.rooms);
      str(t, p, "behaviour", f.behaviour);
      str(t, p, "stage", f.stage);
      duration(t, p, "delay", f.delay);
      str(t, p, "message", f.message);
      boolean(t, p, "abortive", f.abortive);
      str(t, p, "toxic", f.toxic);
      s_.faults.push_back(std::move(f));
    });
  }

  void read_control(const toml::table& t) {
    const std::string p = "control";
    check_keys(t, p, {"listen", "keys"});
    str(t, p, "listen", s_.control.listen);
    boolean(t, p, "keys", s_.control.keys);
  }

  void read_server_metrics(const toml::table& t) {
    const std::string p = "server_metrics";
    check_keys(t, p, {"pid", "prometheus_url", "names"});
    auto& c = s_.server_metrics;
    integer(t, p, "pid", c.pid);
    str(t, p, "prometheus_url", c.prometheus_url);
    string_list(t, p, "names", c.names);
  }

  void read_run(const toml::table& t) {
    const std::string p = "run";
    check_keys(t, p, {"io_threads", "users_per_shard", "random_seed"});
    auto& c = s_.run;
    integer(t, p, "io_threads", c.io_threads);
    integer(t, p, "users_per_shard", c.users_per_shard);
    integer(t, p, "random_seed", c.random_seed);
  }

  std::string file_;
  const env_map& env_;
  std::vector<diagnostic>& problems_;
  scenario& s_;
};

/// Shared tail of every loader: overrides, conversion, validation.
load_result finish(toml::table& root, const std::string& name,
                   const std::vector<std::string>& overrides, const env_map& env,
                   std::vector<diagnostic> problems,
                   const std::vector<std::pair<std::string, std::pair<std::string, std::string>>>&
                       env_settings = {}) {
  scenario s;
  s.source = name;
  reader r{name, env, problems, s};
  // Settings from the seed's environment variables (TOML text prepared by load_from_env).
  for (const auto& [var, kv] : env_settings)
    apply_override(root, kv.first, kv.second, {"env " + var, 0, 0}, true, r.sink(), problems);
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    const std::string& o = overrides[i];
    const source_position where{"--set", static_cast<std::uint32_t>(i + 1), 1};
    auto eq = o.find('=');
    if (eq == std::string::npos) {
      problems.push_back({where.file, where.line, where.column, o, "expected key=value"});
      continue;
    }
    std::string key = o.substr(0, eq);
    key.erase(0, key.find_first_not_of(' '));
    key.erase(key.find_last_not_of(' ') + 1);
    apply_override(root, key, o.substr(eq + 1), where, false, r.sink(), problems);
  }
  r.read(root);
  bool read_clean = problems.empty();
  if (read_clean) {
    for (auto& d : validate(s))
      problems.push_back(std::move(d));
  }
  load_result out;
  if (problems.empty())
    out.value = std::move(s);
  else if (read_clean)
    out.unchecked = std::move(s);
  out.problems = std::move(problems);
  return out;
}

load_result load_text(const std::string& text, const std::string& name,
                      const std::vector<std::string>& overrides, const env_map& env,
                      const std::string& dotenv_path) {
  std::vector<diagnostic> problems;
  env_map all = env;
  if (!dotenv_path.empty())
    all = merge_env(env, read_dotenv(dotenv_path, problems));
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    problems.push_back({name,
                        src.begin.line,
                        src.begin.column,
                        {},
                        "malformed TOML: " + std::string{e.description()}});
    load_result out;
    out.problems = std::move(problems);
    return out;
  }
  return finish(root, name, overrides, all, std::move(problems));
}

} // namespace

load_result load_scenario_text(const std::string& text, const std::string& name,
                               const std::vector<std::string>& overrides, const env_map& env,
                               const std::string& dotenv_path) {
  try {
    return load_text(text, name, overrides, env, dotenv_path);
  } catch (const std::exception& e) {
    load_result out;
    out.problems.push_back({name, 0, 0, {}, std::string{"cannot load: "} + e.what()});
    return out;
  }
}

load_result load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                          const env_map& env, const std::string& dotenv_path) {
  std::string text;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    load_result out;
    out.problems.push_back({path, 0, 0, {}, "is a directory, not a scenario file"});
    return out;
  }
  if (!read_file(path, text)) {
    load_result out;
    out.problems.push_back({path, 0, 0, {}, "cannot read the scenario file"});
    return out;
  }
  const std::string dotenv = dotenv_path.empty() ? parent_dir(path) + "/.env" : dotenv_path;
  return load_scenario_text(text, path, overrides, env, dotenv);
}

// ---------------------------------------------------------------- the seed's environment

namespace {

/// The seed's built-in plan (its config.go `Stages`) and defaults, as a scenario.
constexpr const char* seed_scenario = R"(
[target]
url = "ws://127.0.0.1:8080/ws-stomp"
http_url = "http://127.0.0.1:8080"

[[stage]]
name = "warm-up"
users = 1000
duration = "60s"

[[stage]]
name = "medium load"
users = 3000
duration = "300s"

[[stage]]
name = "high load"
users = 5000
duration = "300s"

[[stage]]
name = "peak load"
users = 10000
duration = "600s"
)";

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

/// The seed accepts true/false; be kind to 1/0, yes/no, on/off as well.
std::string bool_text(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "1" || v == "yes" || v == "on" || v == "true")
    return "true";
  if (v == "0" || v == "no" || v == "off" || v == "false" || v.empty())
    return "false";
  return "\"" + v + "\""; // not a boolean: the reader reports it with the variable's name
}

/// A TOML string literal of `v`, for values that must stay strings.
std::string toml_string(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

/// Integers stay bare (so the reader types them); anything else becomes a string that the
/// reader then rejects with the variable's name.
std::string int_text(const std::string& v) {
  // "-1" stays a number, so that the key's own check says what is wrong with it.
  const bool negative = v.size() > 1 && v[0] == '-' && all_digits(v.substr(1));
  return all_digits(v) || negative ? v : toml_string(v);
}

std::string ms_text(const std::string& v) {
  return all_digits(v) ? toml_string(v + "ms") : toml_string(v);
}

} // namespace

load_result load_from_env(const env_map& env, const std::vector<std::string>& overrides,
                          const std::string& dotenv_path) {
  try {
    std::vector<diagnostic> problems;
    env_map all = env;
    if (!dotenv_path.empty())
      all = merge_env(env, read_dotenv(dotenv_path, problems));
    auto get = [&](const char* name) -> const std::string* {
      auto it = all.find(name);
      return it == all.end() || it->second.empty() ? nullptr : &it->second;
    };
    std::vector<std::pair<std::string, std::pair<std::string, std::string>>> set;
    auto put = [&](const char* var, std::string key, std::string value) {
      set.push_back({var, {std::move(key), std::move(value)}});
    };

    if (auto* v = get("SERVER_URL")) {
      // The seed takes host:port without a scheme; accept a full URL too.
      std::string hostport = *v;
      std::string ws = "ws", http = "http";
      for (auto [scheme, w, h] :
           {std::tuple{"wss://", "wss", "https"}, std::tuple{"ws://", "ws", "http"},
            std::tuple{"https://", "wss", "https"}, std::tuple{"http://", "ws", "http"}}) {
        std::string sch = scheme;
        if (hostport.compare(0, sch.size(), sch) == 0) {
          hostport = hostport.substr(sch.size());
          ws = w;
          http = h;
          break;
        }
      }
      // A scheme the loop above did not know is still in front.
      const bool unknown_scheme = hostport.find("://") != std::string::npos;
      // A path, when given, is the WebSocket endpoint's; the seed's is /ws-stomp.
      std::string path = "/ws-stomp";
      if (auto slash = hostport.find('/'); slash != std::string::npos) {
        if (slash + 1 < hostport.size())
          path = hostport.substr(slash);
        hostport = hostport.substr(0, slash);
      }
      if (unknown_scheme) {
        problems.push_back({"env SERVER_URL", 0, 0, "",
                            "expected host:port or a ws://, wss://, http:// or https:// URL, got " +
                                quoted(redact_url(*v))});
      } else {
        put("SERVER_URL", "target.url", toml_string(ws + "://" + hostport + path));
        put("SERVER_URL", "target.http_url", toml_string(http + "://" + hostport));
      }
    }
    if (auto* v = get("TOKEN")) {
      put("TOKEN", "auth.mode", "\"token\"");
      put("TOKEN", "auth.token", toml_string(*v));
    } else {
      if (auto* v = get("EMAIL"))
        put("EMAIL", "auth.email", toml_string(*v));
      if (auto* v = get("PASSWORD"))
        put("PASSWORD", "auth.password", toml_string(*v));
    }
    if (auto* v = get("START_MEMBER_ID"))
      put("START_MEMBER_ID", "auth.start_id", int_text(*v));
    if (auto* v = get("ROOM_ID")) {
      put("ROOM_ID", "rooms.mode", "\"existing\"");
      put("ROOM_ID", "rooms.room_id", int_text(*v));
    } else if (auto* v = get("CREATE_NEW_ROOM"); v != nullptr && bool_text(*v) == "true") {
      put("CREATE_NEW_ROOM", "rooms.mode", "\"create\"");
      if (auto* ids = get("MEMBER_IDS"))
        put("MEMBER_IDS", "rooms.member_ids", "[" + *ids + "]");
    }
    if (auto* v = get("MAX_MEMBERS_PER_ROOM"))
      put("MAX_MEMBERS_PER_ROOM", "rooms.members_per_room", int_text(*v));
    if (auto* v = get("ENABLE_RECONNECT"))
      put("ENABLE_RECONNECT", "reconnect.enabled", bool_text(*v));
    if (auto* v = get("MAX_RECONNECT_ATTEMPTS"))
      put("MAX_RECONNECT_ATTEMPTS", "reconnect.max_attempts", int_text(*v));
    if (auto* v = get("INITIAL_BACKOFF_MS"))
      put("INITIAL_BACKOFF_MS", "reconnect.initial", ms_text(*v));
    if (auto* v = get("MAX_BACKOFF_MS"))
      put("MAX_BACKOFF_MS", "reconnect.max", ms_text(*v));
    if (auto* v = get("MESSAGE_INTERVAL_MS"))
      put("MESSAGE_INTERVAL_MS", "behaviour.interval", ms_text(*v));

    toml::table root =
        toml::parse(std::string_view{seed_scenario}, std::string_view{"seed defaults"});
    if (auto* v = get("MAX_USERS")) {
      if (!all_digits(*v)) {
        problems.push_back({"env MAX_USERS", 0, 0, "",
                            "expected a non-negative integer, got " + quoted(*v)});
      } else if (v->size() > 9) {
        problems.push_back({"env MAX_USERS", 0, 0, "", "too large: " + quoted(*v)});
      } else if (const std::int64_t cap = std::stoll(*v); cap == 0) {
        // One line for the variable, not one per seed stage it would have capped.
        problems.push_back({"env MAX_USERS", 0, 0, "", "expected at least 1 user, got \"0\""});
      } else {
        auto* stages = root.get_as<toml::array>("stage");
        for (std::size_t i = 0; i < stages->size(); ++i) {
          auto* users = stages->get(i)->as_table()->get_as<std::int64_t>("users");
          if (users->get() > cap)
            put("MAX_USERS", "stage[" + std::to_string(i) + "].users", std::to_string(cap));
        }
      }
    }
    auto out = finish(root, "seed defaults", overrides, all, std::move(problems), set);
    for (auto& d : out.problems) {
      if (d.file != "seed defaults")
        continue;
      d.file = "env"; // the built-in defaults have no file a user could open
      d.line = d.column = 0;
      if (d.key == "auth.password")
        d.message += " (set PASSWORD, or TOKEN)";
    }
    return out;
  } catch (const std::exception& e) {
    load_result out;
    out.problems.push_back({"env", 0, 0, {}, std::string{"cannot load: "} + e.what()});
    return out;
  }
}

} // namespace stompede::config
