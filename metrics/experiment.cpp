#include "metrics/experiment.hpp"

#include "metrics/metrics_error.hpp"
#include "metrics/report_figures.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace stompede::metrics {

namespace {

using nlohmann::json;

double connected_share(const load_gauges& g) {
  if (g.target_users <= 0)
    return -1.0;
  return static_cast<double>(g.connected_users) / static_cast<double>(g.target_users);
}

bool counted_phase(const std::string& director_phase) {
  return director_phase != "drain" && director_phase != "done" && director_phase != "idle";
}

} // namespace

experiment_tracker::experiment_tracker(experiment_settings settings)
    : settings_(std::move(settings)) {}

fault_record* experiment_tracker::find(std::uint32_t id) {
  for (auto& f : faults_)
    if (f.id == id)
      return &f;
  return nullptr;
}

void experiment_tracker::fault_started(fault_record r) {
  if (find(r.id) != nullptr)
    return;
  interval_names_ += (interval_names_.empty() ? "" : "+") + r.name;
  faults_.push_back(std::move(r));
  if (faults_.back().end_s >= 0.0)
    fault_ended(faults_.back().id, faults_.back().end_s, faults_.back().ended_by,
                faults_.back().error, faults_.back().hit);
}

void experiment_tracker::fault_hit(std::uint32_t id, std::int64_t hit) {
  if (auto* f = find(id); f != nullptr && hit >= 0)
    f->hit = hit;
}

void experiment_tracker::fault_ended(std::uint32_t id, double at_s, const std::string& ended_by,
                                     const std::string& error, std::int64_t hit) {
  auto* found = find(id);
  if (found == nullptr)
    return;
  auto& f = *found;
  bool first_end = std::none_of(recoveries_.begin(), recoveries_.end(),
                                [id](const fault_recovery& r) { return r.fault == id; });
  f.end_s = at_s;
  if (!ended_by.empty())
    f.ended_by = ended_by;
  if (!error.empty() && f.error.empty())
    f.error = error;
  if (hit >= 0)
    f.hit = hit;
  if (!first_end)
    return;
  fault_recovery rec;
  rec.fault = id;
  rec.name = f.name;
  rec.fault_end_s = at_s;
  recoveries_.push_back(rec);
  pending_.push_back(recoveries_.size() - 1);
  last_ended_ = id;
}

std::string experiment_tracker::active_names() const {
  std::string out;
  for (auto& f : faults_)
    if (f.end_s < 0.0)
      out += (out.empty() ? "" : "+") + f.name;
  return out;
}

std::string experiment_tracker::take_interval_names() {
  auto out = std::move(interval_names_);
  interval_names_ = active_names();
  return out;
}

experiment_phase& experiment_tracker::phase(const std::string& kind, std::int64_t fault) {
  for (auto& p : phases_)
    if (p.kind == kind && p.fault == fault)
      return p;
  experiment_phase p;
  p.kind = kind;
  p.fault = fault;
  const auto* f = fault < 0 ? nullptr : find(static_cast<std::uint32_t>(fault));
  p.name = f == nullptr ? kind : kind + " " + f->name;
  if (f != nullptr && f->occurrence > 1)
    p.name += " (" + std::to_string(f->occurrence) + ")";
  p.enforced =
      kind == "baseline" || kind == "after" || (kind == "during" && settings_.hold_during_faults);
  phases_.push_back(std::move(p));
  return phases_.back();
}

void experiment_tracker::add(experiment_phase& p, const load_snapshot& iv) {
  if (p.intervals == 0)
    p.start_s = iv.elapsed_s - iv.interval_s;
  p.end_s = iv.elapsed_s;
  ++p.intervals;
  p.figures.counters += iv.counters;
  p.figures.histograms.merge(iv.histograms);
  p.figures.interval_s += iv.interval_s;
  p.figures.elapsed_s = iv.elapsed_s;
  auto share = connected_share(iv.gauges);
  if (p.intervals == 1 || (share >= 0.0 && (p.min_connected < 0.0 || share < p.min_connected))) {
    p.figures.gauges = iv.gauges;
    p.min_connected = share;
  }
}

bool experiment_tracker::holds(const load_snapshot& iv) const {
  for (auto& t : settings_.hypothesis) {
    auto r = evaluate(t, iv, iv.interval_s > 0 ? iv.interval_s : 1.0);
    if (!r.pass)
      return false;
  }
  return true;
}

void experiment_tracker::settle_pending(double ended_before, double t1, bool holds_now) {
  std::vector<std::size_t> still;
  for (auto i : pending_) {
    auto& rec = recoveries_[i];
    if (rec.fault_end_s >= ended_before) {
      still.push_back(i);
    } else if (holds_now) {
      rec.recovered = true;
      rec.recovery_s = std::max(0.0, t1 - rec.fault_end_s);
    } else if (t1 - rec.fault_end_s > settings_.recovery_deadline_s) {
      rec.note = "did not recover within " + fixed(settings_.recovery_deadline_s, 1) + " s";
    } else {
      still.push_back(i);
    }
  }
  pending_ = std::move(still);
}

void experiment_tracker::on_interval(const load_snapshot& iv) {
  if (!counted_phase(iv.gauges.phase_name))
    return;
  const double t1 = iv.elapsed_s;
  const double t0 = t1 - iv.interval_s;
  // The most recent fault active at any time during the interval (a fault that started just
  // before the interval's figures were collected already shows in them).
  std::int64_t active = -1;
  double latest = -1.0;
  for (auto& f : faults_)
    if (f.start_s < t1 && (f.end_s < 0.0 || f.end_s >= t0) && f.start_s >= latest) {
      active = f.id;
      latest = f.start_s;
    }
  if (active >= 0) {
    // Faults that ended before this interval began recover in it when the hypothesis holds,
    // even while a later fault is on: recovery is from a fault's end to the hypothesis holding.
    // One that ended within this interval is judged from the next one.
    if (!pending_.empty())
      settle_pending(t0, t1, holds(iv));
    add(phase("during", active), iv);
    return;
  }
  if (!pending_.empty()) {
    const bool ok = holds(iv);
    settle_pending(std::numeric_limits<double>::infinity(), t1, ok);
    add(phase(ok || pending_.empty() ? "after" : "recovering", last_ended_), iv);
    return;
  }
  // Before any fault: also an interval whose figures were taken just before the first fault
  // started but that was handed over just after (a fault due on a whole second).
  if (std::none_of(faults_.begin(), faults_.end(),
                   [t1](const fault_record& f) { return f.start_s < t1; })) {
    if ((t0 + t1) / 2.0 >= settings_.first_fault_s - settings_.baseline_s)
      add(phase("baseline", -1), iv);
    return;
  }
  if (last_ended_ >= 0)
    add(phase("after", last_ended_), iv);
}

experiment_result experiment_tracker::finish(double end_s) {
  experiment_result r;
  std::vector<std::uint32_t> open;
  for (auto& f : faults_)
    if (f.end_s < 0.0)
      open.push_back(f.id);
  for (auto id : open)
    fault_ended(id, end_s, "end of run");
  for (auto i : pending_) {
    auto& rec = recoveries_[i];
    if (rec.note.empty())
      rec.note = "the run ended " + fixed(std::max(0.0, end_s - rec.fault_end_s), 1) +
                 " s after the fault, before the hypothesis held again";
  }
  pending_.clear();
  r.settings = settings_;
  r.faults = faults_;
  std::stable_sort(r.faults.begin(), r.faults.end(),
                   [](const fault_record& a, const fault_record& b) { return a.id < b.id; });
  r.recoveries = recoveries_;
  // Phases in order of time.
  r.phases = phases_;
  std::stable_sort(
      r.phases.begin(), r.phases.end(),
      [](const experiment_phase& a, const experiment_phase& b) { return a.start_s < b.start_s; });
  bool has_baseline = false;
  for (auto& p : r.phases) {
    has_baseline = has_baseline || p.kind == "baseline";
    auto duration = p.figures.interval_s > 0 ? p.figures.interval_s : 1.0;
    p.checks = evaluate_all(settings_.hypothesis, p.figures, duration);
    p.held = p.intervals > 0 && all_passed(p.checks);
    if (p.enforced && p.kind != "recovering" && !p.held) {
      std::string why;
      for (auto& c : p.checks)
        if (!c.pass)
          why += (why.empty() ? "" : ", ") + c.check.text + " was " + format_threshold_value(c);
      r.reasons.push_back(p.name + ": " + why);
    }
  }
  if (!has_baseline)
    r.reasons.push_back("baseline: no interval of the run fell in the baseline phase");
  for (auto& rec : r.recoveries)
    if (!rec.recovered)
      r.reasons.push_back(rec.name + ": " + rec.note);
  for (auto& f : r.faults)
    if (!f.error.empty())
      r.reasons.push_back(f.name + ": " + f.error);
  r.held = r.reasons.empty();
  r.status = r.held ? "completed" : "deviated";
  return r;
}

namespace {

json check_json(const threshold_result& c) {
  json j{{"check", c.check.text}, {"pass", c.pass}, {"shown", format_threshold_value(c)}};
  if (c.has_value)
    j["value"] = c.value;
  else
    j["value"] = nullptr;
  return j;
}

json phase_json(const experiment_phase& p) {
  const auto& c = p.figures.counters;
  const auto& h = p.figures.histograms;
  auto q = [](const histogram& hist, double quantile) -> json {
    if (hist.empty())
      return nullptr;
    return static_cast<double>(hist.quantile(quantile)) / 1000.0;
  };
  json checks = json::array();
  for (auto& ch : p.checks)
    checks.push_back(check_json(ch));
  json j{{"name", p.name},
         {"kind", p.kind},
         {"start_s", p.start_s},
         {"end_s", p.end_s},
         {"intervals", p.intervals},
         {"enforced", p.enforced},
         {"held", p.held},
         {"checks", std::move(checks)},
         {"metrics",
          {{"messages_sent", c.messages_sent},
           {"messages_received", c.messages_received},
           {"round_trips", c.own_received},
           {"lost", c.lost},
           {"unresolved", c.unresolved},
           {"errors", c.errors_total()},
           {"connect_attempts", c.connect_attempts},
           {"reconnect_attempts", c.reconnect_attempts},
           {"reconnect_successes", c.reconnect_successes},
           {"give_ups", c.give_ups},
           {"rtt_p50_ms", q(h.round_trip_intended_us, 0.50)},
           {"rtt_p99_ms", q(h.round_trip_intended_us, 0.99)},
           {"reconnect_time_p50_ms",
            h.reconnect_time_ms.empty()
                ? json(nullptr)
                : json(static_cast<double>(h.reconnect_time_ms.quantile(0.5)))},
           {"reconnect_time_p99_ms",
            h.reconnect_time_ms.empty()
                ? json(nullptr)
                : json(static_cast<double>(h.reconnect_time_ms.quantile(0.99)))},
           {"min_connected", p.min_connected < 0 ? json(nullptr) : json(p.min_connected)}}}};
  if (p.fault >= 0)
    j["fault"] = p.fault;
  return j;
}

} // namespace

std::string experiment_json_text(const experiment_result& r, const std::string& accounting_json) {
  json hyp = json::array();
  for (auto& t : r.settings.hypothesis)
    hyp.push_back(t.text);
  json faults = json::array();
  for (auto& f : r.faults) {
    json j{{"id", f.id},
           {"name", f.name},
           {"kind", f.kind},
           {"entry", f.entry},
           {"occurrence", f.occurrence},
           {"start_s", f.start_s},
           {"end_s", f.end_s < 0 ? json(nullptr) : json(f.end_s)},
           {"target", f.target},
           {"hit", f.hit < 0 ? json(nullptr) : json(f.hit)},
           {"ended_by", f.ended_by},
           {"rolled_back", f.end_s >= 0 && f.error.empty()}};
    if (!f.error.empty())
      j["error"] = f.error;
    faults.push_back(std::move(j));
  }
  json phases = json::array();
  for (auto& p : r.phases)
    phases.push_back(phase_json(p));
  json rec = json::array();
  for (auto& x : r.recoveries) {
    json j{{"fault", x.fault},
           {"name", x.name},
           {"fault_end_s", x.fault_end_s},
           {"recovered", x.recovered},
           {"recovery_s", x.recovered ? json(x.recovery_s) : json(nullptr)}};
    if (!x.note.empty())
      j["note"] = x.note;
    rec.push_back(std::move(j));
  }
  json out{{"status", r.status},
           {"held", r.held},
           {"reasons", r.reasons},
           {"hypothesis", std::move(hyp)},
           {"baseline_s", r.settings.baseline_s},
           {"recovery_deadline_s", r.settings.recovery_deadline_s},
           {"hold_during_faults", r.settings.hold_during_faults},
           {"faults", std::move(faults)},
           {"phases", std::move(phases)},
           {"recoveries", std::move(rec)}};
  if (!accounting_json.empty()) {
    try {
      out["accounting"] = json::parse(accounting_json);
    } catch (const std::exception&) {
      // not JSON: left out
    }
  }
  return out.dump(2) + "\n";
}

std::error_code write_experiment_json(const std::string& path, const experiment_result& r,
                                      const std::string& summary_path) {
  std::string accounting;
  if (!summary_path.empty()) {
    std::ifstream in(summary_path);
    if (in) {
      try {
        auto s = json::parse(in);
        if (s.contains("accounting"))
          accounting = s["accounting"].dump();
      } catch (const std::exception&) {
        // no accounting figures to copy
      }
    }
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return metrics_errc::open_failed;
  out << experiment_json_text(r, accounting);
  out.flush();
  if (!out)
    return metrics_errc::write_failed;
  return {};
}

std::string format_experiment_summary(const experiment_result& r) {
  std::ostringstream o;
  o << "experiment: the hypothesis " << (r.held ? "HELD" : "DID NOT HOLD") << "\n";
  o << "  faults\n";
  for (auto& f : r.faults) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "    %-28s %7.1fs - %7.1fs  %s%s\n", f.name.c_str(), f.start_s,
                  f.end_s, f.target.c_str(),
                  f.hit >= 0 ? (", hit " + std::to_string(f.hit)).c_str() : "");
    o << buf;
    if (!f.error.empty())
      o << "      error: " << f.error << "\n";
  }
  o << "  phases\n";
  for (auto& p : r.phases) {
    const char* verdict = p.intervals == 0 ? "n/a"
                          : p.held         ? "held"
                          : p.enforced     ? "FAILED"
                                           : "failed (not enforced)";
    char buf[512];
    std::snprintf(buf, sizeof buf, "    %-36s %7.1fs - %7.1fs  %s\n", p.name.c_str(), p.start_s,
                  p.end_s, verdict);
    o << buf;
    for (auto& c : p.checks) {
      std::snprintf(buf, sizeof buf, "      %-4s %-34s %s\n", c.pass ? "ok" : "FAIL",
                    c.check.text.c_str(), format_threshold_value(c).c_str());
      o << buf;
    }
  }
  if (!r.recoveries.empty()) {
    o << "  recovery\n";
    for (auto& x : r.recoveries) {
      if (x.recovered)
        o << "    " << x.name << ": " << fixed(x.recovery_s, 1) << " s after the fault ended\n";
      else
        o << "    " << x.name << ": " << x.note << "\n";
    }
  }
  for (auto& why : r.reasons)
    o << "  why: " << why << "\n";
  return o.str();
}

} // namespace stompede::metrics
