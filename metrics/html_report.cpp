#include "metrics/html_report.hpp"

#include "metrics/metrics_error.hpp"
#include "metrics/report_figures.hpp"
#include "metrics/summary_json.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace stompede::metrics {

namespace {

using nlohmann::json;

/// JSON that is safe inside <script>: no "</" (closing tag) and no "<!--".
std::string script_safe(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') {
      out += "\\u003c";
      continue;
    }
    out += s[i];
  }
  return out;
}

json data_json(const html_report_input& in) {
  json cols = json::object();
  auto col = [&](const char* name, auto get) {
    json a = json::array();
    for (auto& r : in.rows)
      a.push_back(get(r));
    cols[name] = std::move(a);
  };
  col("t", [](const timeseries_row& r) { return r.elapsed_s; });
  col("target", [](const timeseries_row& r) { return r.target_users; });
  col("connected", [](const timeseries_row& r) { return r.connected; });
  col("reconnecting", [](const timeseries_row& r) { return r.reconnecting; });
  col("sent", [](const timeseries_row& r) { return r.sent_per_s; });
  col("received", [](const timeseries_row& r) { return r.received_per_s; });
  col("rtt50", [](const timeseries_row& r) { return r.rtt_p50_ms; });
  col("rtt95", [](const timeseries_row& r) { return r.rtt_p95_ms; });
  col("rtt99", [](const timeseries_row& r) { return r.rtt_p99_ms; });
  col("fan50", [](const timeseries_row& r) { return r.fanout_p50_ms; });
  col("fan95", [](const timeseries_row& r) { return r.fanout_p95_ms; });
  col("fan99", [](const timeseries_row& r) { return r.fanout_p99_ms; });
  col("errors", [](const timeseries_row& r) { return r.errors_per_s; });
  col("reconnects", [](const timeseries_row& r) { return r.reconnects_per_s; });
  col("lost", [](const timeseries_row& r) { return r.lost; });
  col("arrivals", [](const timeseries_row& r) { return r.arrivals; });
  col("dropped", [](const timeseries_row& r) { return r.arrivals_dropped; });
  col("completed", [](const timeseries_row& r) { return r.sessions_completed; });
  // Per behaviour: users and sends per second, by label (in the order of the entries).
  json behaviours = json::array();
  if (!in.rows.empty()) {
    for (std::size_t b = 0; b < in.rows.back().behaviours.size(); ++b) {
      json users = json::array(), sent = json::array();
      for (auto& r : in.rows) {
        bool has = b < r.behaviours.size();
        users.push_back(has ? r.behaviours[b].users : 0);
        sent.push_back(has ? r.behaviours[b].sent_per_s : 0.0);
      }
      behaviours.push_back(json{{"label", in.rows.back().behaviours[b].label},
                                {"users", std::move(users)},
                                {"sent", std::move(sent)}});
    }
  }
  // Errors by type, per second, for the types that occurred at all.
  json by_type = json::object();
  for (std::size_t e = 0; e < error_type_count; ++e) {
    bool any = false;
    for (auto& r : in.rows)
      any = any || r.errors[e] > 0;
    if (!any)
      continue;
    json a = json::array();
    double prev = 0.0;
    for (auto& r : in.rows) {
      double dt = r.elapsed_s - prev;
      prev = r.elapsed_s;
      a.push_back(dt > 0 ? static_cast<double>(r.errors[e]) / dt
                         : static_cast<double>(r.errors[e]));
    }
    by_type[std::string{to_label(static_cast<error_type>(e))}] = std::move(a);
  }
  json events = json::array();
  for (auto& r : in.rows)
    if (!r.events.empty())
      events.push_back(json{{"t", r.elapsed_s}, {"text", r.events}});
  json windows = json::array();
  for (std::size_t i = 0; i < in.stages.size(); ++i) {
    const auto& s = in.stages[i];
    // A stage lasts until the next one starts (its figures end at its last full second).
    double end = i + 1 < in.stages.size() ? in.stages[i + 1].start_s : s.end_s;
    windows.push_back(
        json{{"kind", "stage"},
             {"label", s.name.empty() ? "stage " + std::to_string(s.index + 1) : s.name},
             {"start", s.start_s},
             {"end", end}});
  }
  for (auto& w : in.windows)
    windows.push_back(
        json{{"kind", w.kind}, {"label", w.label}, {"start", w.start_s}, {"end", w.end_s}});
  json server = json::array();
  for (auto& s : in.server) {
    json pts = json::array();
    for (auto& [t, v] : s.points)
      pts.push_back(json::array({t, v}));
    server.push_back(json{{"name", s.name}, {"unit", s.unit}, {"points", std::move(pts)}});
  }
  return json{{"duration", in.run.duration_s},        {"rows", std::move(cols)},
              {"errors_by_type", std::move(by_type)}, {"events", std::move(events)},
              {"windows", std::move(windows)},        {"server", std::move(server)},
              {"behaviours", std::move(behaviours)}};
}

void table_row(std::string& out, const std::string& label, const std::string& value) {
  out += "<tr><th>" + html_escape(label) + "</th><td>" + html_escape(value) + "</td></tr>\n";
}

std::string summary_table(const html_report_input& in) {
  // The stdout table's lines; the errors by type have a table of their own below.
  std::string t = "<table class=\"kv\" id=\"summary-table\">\n";
  for (const auto& r : summary_rows(in.total, in.run))
    if (!r.error_detail)
      table_row(t, r.label, r.value);
  return t + "</table>\n";
}

std::string errors_table(const html_report_input& in) {
  std::string t = "<table class=\"kv\" id=\"errors-table\">\n";
  bool any = false;
  for (std::size_t i = 0; i < error_type_count; ++i) {
    auto e = static_cast<error_type>(i);
    if (auto n = in.total.counters.error_count(e); n > 0) {
      table_row(t, std::string{to_label(e)}, std::to_string(n));
      any = true;
    }
  }
  if (!any)
    t += "<tr><td>no errors</td></tr>\n";
  return t + "</table>\n";
}

std::string thresholds_table(const html_report_input& in) {
  if (in.thresholds.empty())
    return "<p>No thresholds in this scenario.</p>\n";
  std::string t = "<table id=\"thresholds-table\"><tr><th>result</th><th>threshold</th>"
                  "<th>measured</th></tr>\n";
  for (auto& r : in.thresholds)
    t += std::string{"<tr class=\""} + (r.pass ? "pass" : "fail") + "\"><td>" +
         (r.pass ? "PASS" : "FAIL") + "</td><td><code>" + html_escape(r.check.text) +
         "</code></td><td>" + html_escape(format_threshold_value(r)) + "</td></tr>\n";
  return t + "</table>\n";
}

std::string stages_table(const html_report_input& in) {
  if (in.stages.empty())
    return {};
  std::string t = "<table><tr><th>#</th><th>stage</th><th>from</th><th>to</th><th>users</th>"
                  "<th>sent/s</th><th>rtt p50</th><th>rtt p99</th><th>lost</th></tr>\n";
  for (auto& s : in.stages) {
    run_info sr = in.run;
    sr.duration_s = s.end_s - s.start_s;
    auto f = compute_figures(s.snapshot, sr);
    t += "<tr><td>" + std::to_string(s.index) + "</td><td>" + html_escape(s.name) + "</td><td>" +
         fixed(s.start_s, 1) + " s</td><td>" + fixed(s.end_s, 1) + " s</td><td>" +
         std::to_string(s.target_users) + "</td><td>" + fixed(f.sent_per_s, 1) + "</td><td>" +
         fixed(f.latency_p50_ms, 2) + " ms</td><td>" + fixed(f.latency_p99_ms, 2) + " ms</td><td>" +
         std::to_string(f.lost) + "</td></tr>\n";
  }
  return t + "</table>\n";
}

// One row per behaviour of `list`: users at the end, sessions, sent, received, its own counters
// and latencies (p50 / p95 / p99).
void behaviour_rows(std::string& t, const std::string& stage,
                    const std::vector<behaviour_figures>& list) {
  for (const auto& b : list) {
    std::string own;
    for (const auto& [name, n] : b.counters)
      own += (own.empty() ? "" : ", ") + name + " " + std::to_string(n);
    for (const auto& [name, h] : b.latencies) {
      if (h.empty())
        continue;
      own += (own.empty() ? "" : ", ") + name + " p50/p95/p99 " +
             fixed(static_cast<double>(h.quantile(0.50)) / 1000.0, 2) + " / " +
             fixed(static_cast<double>(h.quantile(0.95)) / 1000.0, 2) + " / " +
             fixed(static_cast<double>(h.quantile(0.99)) / 1000.0, 2) + " ms";
    }
    t += "<tr><td>" + html_escape(stage) + "</td><td>" + html_escape(b.label) + "</td><td>" +
         std::to_string(b.connected) + "</td><td>" + std::to_string(b.sessions) + "</td><td>" +
         std::to_string(b.messages_sent) + "</td><td>" + std::to_string(b.messages_received) +
         "</td><td>" + html_escape(own) + "</td></tr>\n";
  }
}

std::string behaviours_table(const html_report_input& in) {
  if (in.total.behaviours.empty())
    return {};
  std::string t = "<table id=\"behaviours-table\"><tr><th>stage</th><th>behaviour</th>"
                  "<th>users at end</th><th>sessions</th><th>sent</th><th>received</th>"
                  "<th>its own figures</th></tr>\n";
  behaviour_rows(t, "whole run", in.total.behaviours);
  for (auto& s : in.stages)
    behaviour_rows(t, s.name.empty() ? "stage " + std::to_string(s.index + 1) : s.name,
                   s.snapshot.behaviours);
  return t + "</table>\n";
}

constexpr const char* style = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 40px;color:#222;background:#fff}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.note{color:#a33}.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.verdict.pass{background:#2a7a2a}.verdict.fail{background:#b22}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
table.kv th{font-weight:500;color:#555}tr.fail td{color:#b22;font-weight:600}tr.pass td:first-child{color:#2a7a2a;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:10px}figure.chart{margin:0;border:1px solid #ddd;border-radius:4px;padding:6px}
figcaption{font-weight:600;margin-bottom:2px}svg{display:block;max-width:100%;height:auto}
.grid{stroke:#eee}.axis{stroke:#888}.ytick{font-size:10px;text-anchor:end;fill:#555}.xtick{font-size:10px;text-anchor:middle;fill:#555}
.line{fill:none;stroke-width:1.6}.win-stage.s0{fill:#f3f6fb}.win-stage.s1{fill:#e6edf7}.win-fault{fill:#fbe3e3;opacity:.8}
.win-pause{fill:#f5f0d8;opacity:.8}.winlabel{font-size:10px;fill:#6b7a90}.event{stroke:#c70;stroke-dasharray:3 3}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.nodata{font-size:12px;fill:#999}pre{background:#f7f7f7;padding:10px;overflow:auto;font-size:12px}
#report-error{display:none;background:#b22;color:#fff;padding:8px;margin-top:10px}
)css";

// Draws every chart from the JSON in #report-data as SVG; no library, no network.
constexpr const char* script = R"js(
(function () {
  'use strict';
  var banner = document.getElementById('report-error');
  window.addEventListener('error', function (e) {
    banner.style.display = 'block';
    banner.textContent = 'The charts could not be drawn: ' + e.message;
  });
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#7f7f7f', '#bcbd22', '#17becf'];
  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function niceStep(range, n) {
    var raw = range / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    if (a >= 100 || v === Math.round(v)) return v.toFixed(0);
    return v.toFixed(a < 1 ? 2 : 1);
  }
  var drawn = 0;
  function chart(container, title, unit, series) {
    var W = 560, H = 230, m = {l: 52, r: 12, t: 12, b: 26};
    var box = document.createElement('figure');
    box.className = 'chart';
    var cap = document.createElement('figcaption');
    cap.textContent = title + (unit ? ' (' + unit + ')' : '');
    box.appendChild(cap);
    var svg = el('svg', {viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img'});
    box.appendChild(svg);
    el('title', {}, svg).textContent = title;
    var xmax = data.duration > 0 ? data.duration : 1, ymax = 0, points = 0;
    series.forEach(function (s) {
      for (var i = 0; i < s.xs.length; i++) {
        xmax = Math.max(xmax, s.xs[i]);
        if (isFinite(s.ys[i])) { ymax = Math.max(ymax, s.ys[i]); points++; }
      }
    });
    if (!(ymax > 0)) ymax = 1;
    var ystep = niceStep(ymax, 4);
    ymax = Math.ceil(ymax / ystep - 1e-9) * ystep;
    function X(x) { return m.l + (W - m.l - m.r) * x / xmax; }
    function Y(y) { return H - m.b - (H - m.t - m.b) * y / ymax; }
    var stageNo = 0;
    data.windows.forEach(function (w) {
      var x0 = X(Math.max(0, w.start)), x1 = X(Math.min(xmax, w.end));
      if (!(x1 > x0)) return;
      var cls = 'win win-' + w.kind + (w.kind === 'stage' ? ' s' + (stageNo++ % 2) : '');
      var r = el('rect', {x: x0, y: m.t, width: x1 - x0, height: H - m.t - m.b, 'class': cls}, svg);
      el('title', {}, r).textContent = w.kind + ': ' + w.label;
      if (w.kind === 'stage' && x1 - x0 > 30)
        el('text', {x: x0 + 3, y: m.t + 10, 'class': 'winlabel'}, svg).textContent = w.label;
    });
    for (var y = 0; y <= ymax + ystep / 2; y += ystep) {
      el('line', {x1: m.l, x2: W - m.r, y1: Y(y), y2: Y(y), 'class': 'grid'}, svg);
      el('text', {x: m.l - 4, y: Y(y) + 4, 'class': 'ytick'}, svg).textContent = fmt(y);
    }
    var xstep = niceStep(xmax, 6);
    for (var x = 0; x <= xmax + xstep / 100; x += xstep) {
      el('text', {x: X(x), y: H - m.b + 16, 'class': 'xtick'}, svg).textContent = fmt(x) + 's';
      el('line', {x1: X(x), x2: X(x), y1: H - m.b, y2: H - m.b + 4, 'class': 'axis'}, svg);
    }
    el('line', {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, 'class': 'axis'}, svg);
    el('line', {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, 'class': 'axis'}, svg);
    data.events.forEach(function (e) {
      var l = el('line', {x1: X(e.t), x2: X(e.t), y1: m.t, y2: H - m.b, 'class': 'event'}, svg);
      el('title', {}, l).textContent = e.t.toFixed(0) + ' s: ' + e.text;
    });
    var legend = document.createElement('div');
    legend.className = 'legend';
    series.forEach(function (s, i) {
      var color = palette[i % palette.length], d = '';
      for (var k = 0; k < s.xs.length; k++) {
        if (!isFinite(s.ys[k])) continue;
        d += (d ? 'L' : 'M') + X(s.xs[k]).toFixed(1) + ',' + Y(s.ys[k]).toFixed(1);
      }
      if (d) el('path', {d: d, 'class': 'line', stroke: color, 'data-series': s.name}, svg);
      var item = document.createElement('span');
      var swatch = document.createElement('i');
      swatch.style.background = color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    if (points === 0)
      el('text', {x: W / 2, y: H / 2, 'class': 'nodata', 'text-anchor': 'middle'}, svg)
          .textContent = 'no data';
    box.appendChild(legend);
    container.appendChild(box);
    drawn++;
  }
  var r = data.rows, t = r.t;
  function s(name, ys) { return {name: name, xs: t, ys: ys}; }
  var load = document.getElementById('charts-load');
  chart(load, 'Users', 'users', [s('target', r.target), s('connected', r.connected),
                                 s('reconnecting', r.reconnecting)]);
  chart(load, 'Messages', 'per second', [s('sent', r.sent), s('received', r.received)]);
  chart(load, 'Round trip (corrected)', 'ms', [s('p50', r.rtt50), s('p95', r.rtt95),
                                               s('p99', r.rtt99)]);
  chart(load, 'Fan-out', 'ms', [s('p50', r.fan50), s('p95', r.fan95), s('p99', r.fan99)]);
  var types = Object.keys(data.errors_by_type);
  chart(load, 'Errors by type', 'per second', types.length
      ? types.map(function (k) { return s(k, data.errors_by_type[k]); })
      : [s('errors', r.errors)]);
  chart(load, 'Reconnects and lost messages', 'per second / per interval',
        [s('reconnect attempts/s', r.reconnects), s('lost', r.lost)]);
  if (r.arrivals.some(function (v) { return v > 0; }))
    chart(load, 'Open model: arrivals', 'per interval',
          [s('arrivals', r.arrivals), s('dropped', r.dropped), s('completed', r.completed)]);
  if (data.behaviours.length > 1 || (data.behaviours.length === 1 &&
                                     data.behaviours[0].label !== 'seed_mix')) {
    chart(load, 'Users by behaviour', 'users', data.behaviours.map(function (b) {
      return s(b.label, b.users);
    }));
    chart(load, 'Sent by behaviour', 'per second', data.behaviours.map(function (b) {
      return s(b.label, b.sent);
    }));
  }
  var server = document.getElementById('charts-server');
  data.server.forEach(function (q) {
    chart(server, q.name, q.unit, [{name: q.name,
                                    xs: q.points.map(function (p) { return p[0]; }),
                                    ys: q.points.map(function (p) { return p[1]; })}]);
  });
  if (data.server.length === 0)
    server.textContent = 'Not sampled in this run ([server_metrics] in the scenario).';
  document.body.setAttribute('data-charts', String(drawn));
})();
)js";

} // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string html_report_text(const html_report_input& in) {
  bool passed = all_passed(in.thresholds);
  std::string title = "stompede report" + (in.run.scenario.empty() ? "" : ": " + in.run.scenario);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  // Nothing may load from anywhere: the page is complete as it is.
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n";
  h += "<title>" + html_escape(title) + "</title>\n<style>" + style + "</style>\n</head>\n<body>\n";
  h += "<h1>" + html_escape(title) + "</h1>\n<p>" + std::to_string(in.run.total_users) +
       " users at peak, " + fixed(in.run.duration_s, 1) + " s";
  if (!in.thresholds.empty())
    h += std::string{" &middot; thresholds: <span class=\"verdict "} +
         (passed ? "pass\">PASSED" : "fail\">FAILED") + "</span>";
  h += "</p>\n";
  if (!in.note.empty())
    h += "<p class=\"note\">" + html_escape(in.note) + "</p>\n";
  h += "<div id=\"report-error\"></div>\n";
  h += "<h2>Thresholds</h2>\n" + thresholds_table(in);
  h += "<h2>Load</h2>\n<p>Shaded: stages";
  h += in.windows.empty() ? "" : ", faults and pauses";
  h += ". Dashed lines: changes made while the run went on.</p>\n";
  h += "<div class=\"charts\" id=\"charts-load\"></div>\n";
  h += "<h2>Server under test</h2>\n<div class=\"charts\" id=\"charts-server\"></div>\n";
  h += "<h2>Summary</h2>\n" + summary_table(in);
  h += "<h2>Errors by type</h2>\n" + errors_table(in);
  auto st = stages_table(in);
  if (!st.empty())
    h += "<h2>Stages</h2>\n" + st;
  auto bt = behaviours_table(in);
  if (!bt.empty())
    h += "<h2>Behaviours</h2>\n" + bt;
  h += "<h2>Scenario as run</h2>\n<pre id=\"scenario\">" + html_escape(in.scenario_toml) +
       "</pre>\n";
  h += "<script type=\"application/json\" id=\"report-data\">" +
       script_safe(data_json(in).dump(-1, ' ', false, json::error_handler_t::replace)) +
       "</script>\n";
  h += std::string{"<script>"} + script + "</script>\n</body></html>\n";
  return h;
}

std::error_code write_html_report(const std::string& path, const html_report_input& in) {
  std::string text;
  try {
    text = html_report_text(in);
  } catch (const std::exception&) {
    return metrics_errc::write_failed;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return metrics_errc::open_failed;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out)
    return metrics_errc::write_failed;
  return {};
}

} // namespace stompede::metrics
