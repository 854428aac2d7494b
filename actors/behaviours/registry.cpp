#include "actors/behaviours/registry.hpp"

#include "actors/behaviours/builtins.hpp"
#include "config/diagnostic.hpp"
#include "config/duration.hpp"
#include "config/scenario.hpp"

#include <algorithm>
#include <map>
#include <sstream>

namespace stompede {

namespace {

std::map<std::string, behaviour_info, std::less<>>& registry() {
  static std::map<std::string, behaviour_info, std::less<>> r;
  return r;
}

bool builtins_registered = false;

const char* type_text(param_type t) {
  switch (t) {
  case param_type::string:
    return "a string";
  case param_type::integer:
    return "an integer";
  case param_type::number:
    return "a number";
  case param_type::boolean:
    return "true or false";
  case param_type::duration:
    return "a duration string such as \"500ms\" or \"10s\"";
  }
  return "a value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (auto& k : known) {
    auto d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? std::string{} : "; did you mean \"" + best + "\"?";
}

config::diagnostic at(const config::source_position& p, const std::string& key, std::string msg) {
  return {p.file, p.line, p.column, key, std::move(msg)};
}

/// The value of a parameter written as `p` (already type-checked) for the runtime.
behaviour_params::value to_value(const config::behaviour_param& p) {
  behaviour_params::value v;
  v.key = p.key;
  v.text = p.text;
  v.number = p.number;
  v.boolean = p.boolean;
  if (p.type == config::behaviour_param::kind::string)
    if (auto d = config::parse_duration(p.text, nullptr))
      v.duration = *d;
  return v;
}

/// A declared default as a value.
behaviour_params::value default_value(const param_spec& s) {
  behaviour_params::value v;
  v.key = s.key;
  v.text = s.fallback;
  switch (s.type) {
  case param_type::integer:
  case param_type::number:
    v.number = std::strtod(s.fallback.c_str(), nullptr);
    break;
  case param_type::boolean:
    v.boolean = s.fallback == "true";
    break;
  case param_type::duration:
    if (auto d = config::parse_duration(s.fallback, nullptr))
      v.duration = *d;
    break;
  case param_type::string:
    break;
  }
  return v;
}

} // namespace

// ---------------------------------------------------------------- behaviour_params

const behaviour_params::value* behaviour_params::find(std::string_view key) const {
  for (auto& v : values)
    if (v.key == key)
      return &v;
  return nullptr;
}

std::string behaviour_params::get_string(std::string_view key, std::string_view fallback) const {
  auto* v = find(key);
  return v ? v->text : std::string{fallback};
}

std::int64_t behaviour_params::get_int(std::string_view key, std::int64_t fallback) const {
  auto* v = find(key);
  return v ? static_cast<std::int64_t>(v->number) : fallback;
}

double behaviour_params::get_double(std::string_view key, double fallback) const {
  auto* v = find(key);
  return v ? v->number : fallback;
}

bool behaviour_params::get_bool(std::string_view key, bool fallback) const {
  auto* v = find(key);
  return v ? v->boolean : fallback;
}

std::chrono::milliseconds behaviour_params::get_duration(std::string_view key,
                                                         std::chrono::milliseconds fallback) const {
  auto* v = find(key);
  return v ? v->duration : fallback;
}

// ---------------------------------------------------------------- registry

void register_behaviour(behaviour_info info) {
  auto name = info.name;
  registry()[name] = std::move(info);
}

const behaviour_info* find_behaviour(std::string_view name) {
  register_builtin_behaviours();
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> behaviour_names() {
  register_builtin_behaviours();
  std::vector<std::string> out;
  for (auto& [k, v] : registry())
    out.push_back(k);
  return out;
}

void register_builtin_behaviours() {
  if (builtins_registered)
    return;
  builtins_registered = true;
  for (auto& info : builtin_behaviours())
    if (registry().count(info.name) == 0)
      register_behaviour(std::move(info));
}

std::vector<config::diagnostic> check_behaviours(const config::scenario& sc) {
  std::vector<config::diagnostic> out;
  for (std::size_t i = 0; i < sc.behaviours.size(); ++i) {
    const auto& e = sc.behaviours[i];
    const std::string p = "behaviour[" + std::to_string(i) + "]";
    if (e.name.empty())
      continue; // config's own validation says so
    auto name_pos = e.where;
    if (auto it = sc.positions.find(p + ".name"); it != sc.positions.end())
      name_pos = it->second;
    const auto* info = find_behaviour(e.name);
    if (info == nullptr) {
      auto names = behaviour_names();
      auto hint = did_you_mean(e.name, names);
      std::string msg = "unknown behaviour \"" + e.name + "\"" +
                        (hint.empty() ? std::string{";"} : hint) + " known:";
      for (auto& n : names)
        msg += " " + n;
      out.push_back(at(name_pos, p + ".name", msg));
      continue;
    }
    std::vector<std::string> keys;
    for (auto& s : info->params)
      keys.push_back(s.key);
    for (const auto& prm : e.params) {
      const std::string key = p + "." + prm.key;
      auto spec = std::find_if(info->params.begin(), info->params.end(),
                               [&](const param_spec& s) { return s.key == prm.key; });
      if (spec == info->params.end()) {
        std::string msg = "behaviour \"" + e.name + "\" has no parameter \"" + prm.key + "\"" +
                          did_you_mean(prm.key, keys);
        if (keys.empty())
          msg += " (it takes none)";
        else {
          msg += " parameters:";
          for (auto& k : keys)
            msg += " " + k;
        }
        out.push_back(at(prm.where, key, msg));
        continue;
      }
      using kind = config::behaviour_param::kind;
      bool ok = true;
      std::string why;
      switch (spec->type) {
      case param_type::string:
        ok = prm.type == kind::string;
        break;
      case param_type::integer:
        ok = prm.type == kind::integer && prm.number >= 0;
        if (prm.type == kind::integer && prm.number < 0)
          why = "must not be negative";
        break;
      case param_type::number:
        ok = (prm.type == kind::integer || prm.type == kind::floating) && prm.number >= 0;
        if ((prm.type == kind::integer || prm.type == kind::floating) && prm.number < 0)
          why = "must not be negative";
        break;
      case param_type::boolean:
        ok = prm.type == kind::boolean;
        break;
      case param_type::duration:
        if (prm.type != kind::string)
          ok = false;
        else if (!config::parse_duration(prm.text, &why)) {
          ok = false;
          why += ", got \"" + prm.text + "\"";
        }
        break;
      }
      if (!ok)
        out.push_back(at(prm.where, key,
                         why.empty() ? std::string{"expected "} + type_text(spec->type) + " (" +
                                           spec->doc + ")"
                                     : why));
    }
    for (auto& s : info->params)
      if (s.fallback == "required" &&
          std::none_of(e.params.begin(), e.params.end(),
                       [&](const config::behaviour_param& x) { return x.key == s.key; }))
        out.push_back(at(e.where, p + "." + s.key,
                         "behaviour \"" + e.name + "\" needs " + s.key + " (" + s.doc + ")"));
  }
  return out;
}

behaviour_params make_params(const config::behaviour_entry& e, const behaviour_info& info) {
  behaviour_params out;
  for (auto& s : info.params) {
    auto it = std::find_if(e.params.begin(), e.params.end(),
                           [&](const config::behaviour_param& p) { return p.key == s.key; });
    if (it != e.params.end())
      out.values.push_back(to_value(*it));
    else if (s.fallback != "required")
      out.values.push_back(default_value(s));
  }
  return out;
}

std::vector<behaviour_slot> make_behaviour_slots(const config::scenario& sc) {
  register_builtin_behaviours();
  std::vector<behaviour_slot> out;
  auto entries = sc.behaviours;
  if (entries.empty())
    entries.push_back(seed_entry(sc.behaviour));
  for (auto& e : entries) {
    behaviour_slot slot;
    slot.label = e.metric_label();
    if (e.name == "steps") {
      slot.make = make_steps_factory(std::make_shared<const config::behaviour_entry>(e));
    } else if (const auto* info = find_behaviour(e.name)) {
      slot.params = make_params(e, *info);
      slot.make = info->make;
    }
    out.push_back(std::move(slot));
  }
  return out;
}

} // namespace stompede
