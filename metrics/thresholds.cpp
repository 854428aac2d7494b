#include "metrics/thresholds.hpp"

#include "metrics/report_figures.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace stompede::metrics {

namespace {

enum class metric_kind { histogram, counter, level };

struct metric_def {
  const char* name;
  metric_kind kind;
};

// Histograms are compared in milliseconds; counters as counts.
constexpr metric_def metric_defs[] = {
    {"rtt", metric_kind::histogram},
    {"rtt_uncorrected", metric_kind::histogram},
    {"fanout", metric_kind::histogram},
    {"send_lateness", metric_kind::histogram},
    {"ws_connect", metric_kind::histogram},
    {"stomp_connect", metric_kind::histogram},
    {"reconnect_time", metric_kind::histogram},
    {"sent", metric_kind::counter},
    {"received", metric_kind::counter},
    {"round_trips", metric_kind::counter},
    {"lost", metric_kind::counter},
    {"unresolved", metric_kind::counter},
    {"late_sends", metric_kind::counter},
    {"errors", metric_kind::counter},
    {"connect_attempts", metric_kind::counter},
    {"reconnects", metric_kind::counter},
    {"reconnect_successes", metric_kind::counter},
    {"give_ups", metric_kind::counter},
    {"connected", metric_kind::level},
};

// Metrics with a rate(): the fraction of what could have gone wrong that did.
constexpr const char* rate_metrics[] = {"lost", "round_trips", "late_sends", "unresolved",
                                        "errors"};

const metric_def* find_metric(std::string_view name) {
  if (name.substr(0, 7) == "errors.") {
    if (!error_type_from_label(name.substr(7)))
      return nullptr;
    static constexpr metric_def typed{"errors.<type>", metric_kind::counter};
    return &typed;
  }
  for (auto& d : metric_defs)
    if (name == d.name)
      return &d;
  return nullptr;
}

bool has_rate(std::string_view metric) {
  if (metric.substr(0, 7) == "errors.")
    return true;
  for (auto* m : rate_metrics)
    if (metric == m)
      return true;
  return false;
}

std::string known_metrics_text() {
  std::string s;
  for (auto& d : metric_defs)
    s += (s.empty() ? "" : ", ") + std::string{d.name};
  return s + ", errors.<type>";
}

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

const histogram& histogram_of(const load_histograms& h, const std::string& m) {
  if (m == "rtt")
    return h.round_trip_intended_us;
  if (m == "rtt_uncorrected")
    return h.round_trip_actual_us;
  if (m == "fanout")
    return h.fanout_us;
  if (m == "send_lateness")
    return h.send_lateness_us;
  if (m == "ws_connect")
    return h.ws_connect_us;
  if (m == "stomp_connect")
    return h.stomp_connect_us;
  return h.reconnect_time_ms;
}

/// Milliseconds per recorded unit of the histogram.
double ms_per_unit(const std::string& m) {
  return m == "reconnect_time" ? 1.0 : 1e-3;
}

std::uint64_t count_of(const load_counters& c, const std::string& m) {
  if (m.rfind("errors.", 0) == 0)
    return c.error_count(*error_type_from_label(std::string_view{m}.substr(7)));
  if (m == "sent")
    return c.messages_sent;
  if (m == "received")
    return c.messages_received;
  if (m == "round_trips")
    return c.own_received;
  if (m == "lost")
    return c.lost;
  if (m == "unresolved")
    return c.unresolved;
  if (m == "late_sends")
    return c.late_sends;
  if (m == "errors")
    return c.errors_total();
  if (m == "connect_attempts")
    return c.connect_attempts;
  if (m == "reconnects")
    return c.reconnect_attempts;
  if (m == "reconnect_successes")
    return c.reconnect_successes;
  return c.give_ups;
}

/// The denominator of rate(m).
std::uint64_t rate_base(const load_counters& c, const std::string& m) {
  if (m == "lost" || m == "round_trips")
    return c.own_received + c.lost;
  if (m == "late_sends" || m == "unresolved")
    return c.messages_sent;
  return c.connect_attempts; // errors, errors.<type>
}

bool compare(double v, threshold_op op, double limit) {
  switch (op) {
  case threshold_op::lt:
    return v < limit;
  case threshold_op::le:
    return v <= limit;
  case threshold_op::gt:
    return v > limit;
  case threshold_op::ge:
    return v >= limit;
  case threshold_op::eq:
    return v == limit;
  case threshold_op::ne:
    return v != limit;
  }
  return false;
}

} // namespace

std::vector<std::string> threshold_metric_names() {
  std::vector<std::string> out;
  for (auto& d : metric_defs)
    out.emplace_back(d.name);
  out.emplace_back("errors.<type>");
  return out;
}

std::variant<threshold, threshold_parse_error> parse_threshold(std::string_view text) {
  threshold t;
  t.text = std::string{text};
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0)
      ++i;
  };
  auto fail = [](std::size_t at, std::string msg) {
    return threshold_parse_error{at, std::move(msg)};
  };
  skip();
  std::size_t word_at = i;
  while (i < text.size() && ident_char(text[i]))
    ++i;
  std::string word{text.substr(word_at, i - word_at)};
  if (word.empty())
    return fail(word_at, "expected a metric such as rtt or lost, or a function such as "
                         "p95(rtt); write e.g. \"p95(rtt) < 200ms\"");
  skip();
  std::size_t metric_at = word_at;
  if (i < text.size() && text[i] == '(') {
    // function(metric)
    const std::string& f = word;
    if (f == "rate" || f == "per_s" || f == "avg" || f == "min" || f == "max" || f == "count") {
      t.function = f;
    } else if (f.size() > 1 && f[0] == 'p' &&
               f.find_first_not_of("0123456789.", 1) == std::string::npos) {
      std::string digits = f.substr(1);
      double p = std::atof(digits.c_str());
      if (digits == "999")
        p = 99.9;
      if (!(p > 0.0 && p <= 100.0))
        return fail(word_at, "a percentile must be between p0 and p100, got " + f);
      t.function = "p";
      t.percentile = p;
    } else {
      return fail(word_at, "unknown function \"" + f +
                               "\"; expected pNN (p50, p95, p99, p999), avg, min, max, count, "
                               "rate or per_s");
    }
    ++i;
    skip();
    metric_at = i;
    while (i < text.size() && ident_char(text[i]))
      ++i;
    t.metric = std::string{text.substr(metric_at, i - metric_at)};
    skip();
    if (i >= text.size() || text[i] != ')')
      return fail(i, "expected \")\" after the metric");
    ++i;
    skip();
  } else {
    t.metric = word;
  }
  const metric_def* def = find_metric(t.metric);
  if (def == nullptr) {
    if (t.metric.rfind("errors.", 0) == 0)
      return fail(metric_at,
                  "unknown error type \"" + t.metric.substr(7) + "\" (docs/metrics.md lists them)");
    return fail(metric_at,
                "unknown metric \"" + t.metric + "\"; expected one of " + known_metrics_text());
  }
  if (def->kind == metric_kind::level && !t.function.empty())
    return fail(word_at, "\"" + t.metric +
                             "\" is a level (the fraction of the wanted users "
                             "that are connected): compare it as it is, e.g. \"connected >= 95%\"");
  bool hist_fn = t.function == "p" || t.function == "avg" || t.function == "min" ||
                 t.function == "max" || t.function == "count";
  if (def->kind == metric_kind::histogram && !hist_fn)
    return fail(metric_at, "\"" + t.metric + "\" is a latency: use it as p95(" + t.metric +
                               "), avg(" + t.metric + "), max(" + t.metric + "), ...");
  if (def->kind == metric_kind::counter && hist_fn)
    return fail(word_at, "\"" + t.metric + "\" is a count: compare it as it is, or as rate(" +
                             t.metric + ") or per_s(" + t.metric + ")");
  if (t.function == "rate" && !has_rate(t.metric))
    return fail(word_at, "rate() is defined for lost, round_trips, late_sends, unresolved, "
                         "errors and errors.<type>, not \"" +
                             t.metric + "\"");
  // Operator.
  std::size_t op_at = i;
  auto two = text.substr(i, 2);
  if (two == "<=")
    t.op = threshold_op::le, i += 2;
  else if (two == ">=")
    t.op = threshold_op::ge, i += 2;
  else if (two == "==")
    t.op = threshold_op::eq, i += 2;
  else if (two == "!=")
    t.op = threshold_op::ne, i += 2;
  else if (i < text.size() && text[i] == '<')
    t.op = threshold_op::lt, ++i;
  else if (i < text.size() && text[i] == '>')
    t.op = threshold_op::gt, ++i;
  else
    return fail(op_at, "expected a comparison (<, <=, >, >=, ==, !=) after the metric");
  skip();
  // Limit: a number and an optional unit.
  std::size_t num_at = i;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.'))
    ++i;
  std::string num{text.substr(num_at, i - num_at)};
  char* end = nullptr;
  double v = num.empty() ? 0.0 : std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size())
    return fail(num_at, "expected a non-negative number as the limit");
  std::size_t unit_at = i;
  while (i < text.size() && (std::isalpha(static_cast<unsigned char>(text[i])) != 0 ||
                             text[i] == '%' || text[i] == '/'))
    ++i;
  std::string unit{text.substr(unit_at, i - unit_at)};
  skip();
  if (i != text.size())
    return fail(i, "unexpected text after the limit");
  bool duration = def->kind == metric_kind::histogram && t.function != "count";
  if (duration) {
    if (unit.empty() || unit == "ms")
      t.limit = v;
    else if (unit == "us")
      t.limit = v / 1000.0;
    else if (unit == "s")
      t.limit = v * 1000.0;
    else if (unit == "m")
      t.limit = v * 60000.0;
    else
      return fail(unit_at,
                  "expected a duration unit (us, ms, s, m) after the limit, got \"" + unit + "\"");
  } else if (t.function == "rate" || def->kind == metric_kind::level) {
    if (unit == "%")
      t.limit = v / 100.0;
    else if (unit.empty())
      t.limit = v;
    else
      return fail(unit_at,
                  "a rate is a fraction (0.001) or a percentage (0.1%), got \"" + unit + "\"");
    // Above 1 (100%) a limit is met always or never.
    if (t.limit > 1.0)
      return fail(num_at, "\"" + (t.function == "rate" ? "rate(" + t.metric + ")" : t.metric) +
                              "\" is a fraction from 0 to 1 (0% to 100%), got " + num + unit);
  } else if (t.function == "per_s") {
    if (!unit.empty() && unit != "/s")
      return fail(unit_at, "per_s() is compared with a number per second, got \"" + unit + "\"");
    t.limit = v;
  } else {
    if (!unit.empty())
      return fail(unit_at, "a count has no unit, got \"" + unit + "\"");
    t.limit = v;
  }
  return t;
}

threshold_result evaluate(const threshold& t, const load_snapshot& total, double duration_s) {
  threshold_result r;
  r.check = t;
  const auto& c = total.counters;
  if (t.metric == "connected") {
    const auto& g = total.gauges;
    if (g.target_users > 0) {
      r.value = static_cast<double>(g.connected_users) / static_cast<double>(g.target_users);
      r.has_value = true;
    }
  } else if (t.function.empty()) {
    r.value = static_cast<double>(count_of(c, t.metric));
    r.has_value = true;
  } else if (t.function == "rate") {
    auto base = rate_base(c, t.metric);
    auto n = count_of(c, t.metric);
    if (base > 0) {
      r.value = std::min(1.0, static_cast<double>(n) / static_cast<double>(base));
      r.has_value = true;
    } else if (n > 0) {
      r.value = 1.0; // errors with no connect attempt at all (login failures)
      r.has_value = true;
    }
  } else if (t.function == "per_s") {
    if (duration_s > 0) {
      r.value = static_cast<double>(count_of(c, t.metric)) / duration_s;
      r.has_value = true;
    }
  } else {
    const auto& h = histogram_of(total.histograms, t.metric);
    auto scale = ms_per_unit(t.metric);
    if (t.function == "count") {
      r.value = static_cast<double>(h.count());
      r.has_value = true;
    } else if (!h.empty()) {
      r.has_value = true;
      if (t.function == "avg")
        r.value = h.mean() * scale;
      else if (t.function == "min")
        r.value = static_cast<double>(h.min()) * scale;
      else if (t.function == "max")
        r.value = static_cast<double>(h.max()) * scale;
      else
        r.value = static_cast<double>(h.quantile(t.percentile / 100.0)) * scale;
    }
  }
  r.pass = r.has_value && compare(r.value, t.op, t.limit);
  return r;
}

std::vector<threshold_result> evaluate_all(const std::vector<threshold>& ts,
                                           const load_snapshot& total, double duration_s) {
  std::vector<threshold_result> out;
  out.reserve(ts.size());
  for (auto& t : ts)
    out.push_back(evaluate(t, total, duration_s));
  return out;
}

bool all_passed(const std::vector<threshold_result>& results) noexcept {
  for (auto& r : results)
    if (!r.pass)
      return false;
  return true;
}

bool is_level_metric(std::string_view metric) noexcept {
  return metric == "connected";
}

std::string format_threshold_value(const threshold_result& r) {
  if (!r.has_value)
    return "no data";
  const auto& f = r.check.function;
  if (f == "rate" || is_level_metric(r.check.metric))
    return fixed(r.value * 100.0, 3) + "%";
  if (f == "per_s")
    return fixed(r.value, 1) + "/s";
  if (f == "p" || f == "avg" || f == "min" || f == "max")
    return fixed(r.value, 2) + " ms";
  return fixed(r.value, 0);
}

std::string format_threshold_table(const std::vector<threshold_result>& results) {
  if (results.empty())
    return {};
  std::size_t passed = 0;
  std::string out = "thresholds\n";
  for (auto& r : results) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "  %-4s  %-36s %s\n", r.pass ? "PASS" : "FAIL",
                  r.check.text.c_str(), format_threshold_value(r).c_str());
    out += buf;
    passed += r.pass ? 1 : 0;
  }
  out += "  " + std::to_string(passed) + " of " + std::to_string(results.size()) +
         " thresholds passed\n";
  return out;
}

} // namespace stompede::metrics
