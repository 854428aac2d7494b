// The declarative behaviour: a `steps = [...]` list of a `[[behaviour]]` entry, run by a small
// interpreter on the session's IO thread. Steps were checked when the scenario was loaded.

#include "actors/behaviours/builtins.hpp"
#include "actors/message_template.hpp"
#include "config/scenario.hpp"

#include <algorithm>

namespace stompede {

namespace {

using std::chrono::milliseconds;

/// A message kept past its `on_message` call (for a later ACK step).
class stored_message final : public message_view {
public:
  stored_message() = default;
  explicit stored_message(const message_view& m)
      : destination_(m.destination()), subscription_(m.subscription()) {
    if (auto a = m.header("ack"))
      ack_ = std::string{*a};
    if (auto id = m.header("message-id"))
      message_id_ = std::string{*id};
  }
  std::string_view destination() const override {
    return destination_;
  }
  std::string_view subscription() const override {
    return subscription_;
  }
  std::string_view body() const override {
    return {};
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    if (name == "ack" && !ack_.empty())
      return std::string_view{ack_};
    if (name == "message-id" && !message_id_.empty())
      return std::string_view{message_id_};
    return std::nullopt;
  }
  bool from_room() const override {
    return false;
  }

private:
  std::string destination_, subscription_, ack_, message_id_;
};

class steps_behaviour final : public behaviour {
public:
  explicit steps_behaviour(std::shared_ptr<const config::behaviour_entry> e)
      : entry_(std::move(e)) {
    collect_waits(entry_->steps);
  }

  void on_connected(behaviour_context& ctx) override {
    // Steps that wait see room messages all along: a reply that comes before its wait step
    // starts is kept (bounded) rather than lost.
    if (!waits_.empty())
      ctx.deliver_room_messages(true);
    stack_.push_back({&entry_->steps, 0, 1, false, 0});
    run(ctx);
  }

  void on_stage_changed(behaviour_context& ctx, std::uint32_t) override {
    ++stage_epoch_;
    // The outermost `repeat = "stage"` begun in an earlier stage ends now, whatever step of it
    // is under way (a sleep or a wait is cut short); the steps go on after it.
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      if (!stack_[i].until_stage_end || stack_[i].epoch == stage_epoch_)
        continue;
      if (timer_ != 0) {
        ctx.cancel(timer_);
        timer_ = 0;
      }
      if (waiting_ != nullptr) {
        ctx.count(waiting_->name + "_interrupted");
        waiting_ = nullptr;
      }
      stack_.resize(i);
      ctx.count("stage_ends");
      run(ctx);
      return;
    }
  }

  void on_timer(behaviour_context& ctx, const timer_event& e) override {
    if (e.id != timer_)
      return;
    timer_ = 0;
    if (waiting_ != nullptr) {
      ctx.count(waiting_->name + "_timeout");
      stop_waiting(ctx);
    }
    run(ctx);
  }

  void on_message(behaviour_context& ctx, const message_view& m) override {
    if (waiting_ == nullptr || !matches(*waiting_, m)) {
      keep(ctx, m);
      return;
    }
    ctx.record_latency(waiting_->name, std::chrono::duration_cast<std::chrono::microseconds>(
                                           ctx.now() - wait_started_));
    ctx.count(waiting_->name + "_matched");
    last_ = stored_message{m};
    has_last_ = true;
    stop_waiting(ctx);
    if (timer_ != 0) {
      ctx.cancel(timer_);
      timer_ = 0;
    }
    run(ctx);
  }

private:
  struct frame {
    const std::vector<config::step>* steps;
    std::size_t pc;
    /// Passes left through `steps` (0 = forever).
    std::uint64_t left;
    /// `repeat = "stage"`: passes until the stage of `epoch` ends.
    bool until_stage_end;
    std::uint64_t epoch;
  };

  /// A message that matched some wait step while no wait wanted it.
  struct kept_message {
    /// Which of `waits_` it matches (bit i = waits_[i]).
    std::uint64_t waits;
    behaviour_context::clock::time_point at;
    stored_message message;
  };

  /// Most messages kept for later wait steps.
  static constexpr std::size_t max_kept = 16;

  void collect_waits(const std::vector<config::step>& steps) {
    for (const auto& st : steps) {
      if (st.type == config::step::kind::wait && waits_.size() < 64)
        waits_.push_back(&st);
      collect_waits(st.steps);
      collect_waits(st.otherwise);
    }
  }

  /// Keeps `m` (bounded, oldest out first) when a wait step of the entry would match it.
  void keep(behaviour_context& ctx, const message_view& m) {
    std::uint64_t mask = 0;
    for (std::size_t i = 0; i < waits_.size(); ++i)
      if (matches(*waits_[i], m))
        mask |= std::uint64_t{1} << i;
    if (mask == 0)
      return;
    if (kept_.size() == max_kept)
      kept_.erase(kept_.begin());
    kept_.push_back({mask, ctx.now(), stored_message{m}});
  }

  /// Takes the oldest kept message for wait step `st` that arrived within its timeout.
  bool take_kept(behaviour_context& ctx, const config::step& st) {
    auto i =
        static_cast<std::size_t>(std::find(waits_.begin(), waits_.end(), &st) - waits_.begin());
    if (i >= waits_.size())
      return false;
    auto oldest = ctx.now() - st.duration;
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if ((it->waits & (std::uint64_t{1} << i)) == 0 || it->at < oldest)
        continue;
      ctx.record_latency(st.name, std::chrono::microseconds{0});
      ctx.count(st.name + "_matched");
      ctx.count(st.name + "_early");
      last_ = std::move(it->message);
      has_last_ = true;
      kept_.erase(it);
      return true;
    }
    return false;
  }

  static bool matches(const config::step& w, const message_view& m) {
    if (!w.destination.empty() && !pattern_match(w.destination, m.destination()))
      return false;
    if (!w.header.empty()) {
      auto h = m.header(w.header);
      if (!h || !pattern_match(w.header_pattern, *h))
        return false;
    }
    return w.text.empty() || pattern_match(w.text, m.body());
  }

  void stop_waiting(behaviour_context&) {
    waiting_ = nullptr;
  }

  /// Runs steps until one blocks (sleep, wait), the steps end, or a bounded number of steps
  /// ran (a loop without any blocking step then continues on the next turn of the IO thread).
  void run(behaviour_context& ctx) {
    for (int budget = 256; budget > 0; --budget) {
      if (stack_.empty())
        return; // done: the session stays connected, listening, until the stage ends
      auto& f = stack_.back();
      if (f.pc >= f.steps->size()) {
        if (f.until_stage_end && f.epoch != stage_epoch_) {
          stack_.pop_back(); // its stage is over
          continue;
        }
        if (f.left == 1) {
          stack_.pop_back();
          continue;
        }
        if (f.left > 1)
          f.left--;
        f.pc = 0;
        continue;
      }
      const auto& st = (*f.steps)[f.pc++];
      if (!execute(ctx, st))
        return;
    }
    timer_ = ctx.after(milliseconds{0});
  }

  /// Executes one step; false when the steps must pause (or the session is going).
  bool execute(behaviour_context& ctx, const config::step& st) {
    using kind = config::step::kind;
    switch (st.type) {
    case kind::send: {
      auto dest = st.destination.empty() ? ctx.room_destination() : render(ctx, st.destination);
      ctx.send(dest, render(ctx, st.text), st.content_type.empty() ? "text/plain" : st.content_type,
               st.receipt);
      ctx.count("sent");
      return true;
    }
    case kind::chat:
      ctx.send_chat(ctx.now());
      return true;
    case kind::wait:
      if (take_kept(ctx, st))
        return true; // it came before the wait began
      waiting_ = &st;
      wait_started_ = ctx.now();
      timer_ = ctx.after(st.duration);
      return false;
    case kind::sleep: {
      auto d = st.duration;
      if (st.jitter.count() > 0) {
        auto span = static_cast<std::uint64_t>(2 * st.jitter.count() + 1);
        d += milliseconds{static_cast<std::int64_t>(ctx.random() % span) - st.jitter.count()};
      }
      timer_ = ctx.after(std::max(d, milliseconds{0}));
      return false;
    }
    case kind::subscribe: {
      auto dest = render(ctx, st.destination);
      subscriptions_.emplace_back(dest, ctx.subscribe(dest, st.ack_mode));
      return true;
    }
    case kind::unsubscribe: {
      auto dest = render(ctx, st.destination);
      auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                             [&](auto& s) { return s.first == dest; });
      if (it != subscriptions_.end()) {
        ctx.unsubscribe(it->second);
        subscriptions_.erase(it);
      }
      return true;
    }
    case kind::ack:
      if (has_last_) {
        if (st.negative)
          ctx.nack(last_);
        else
          ctx.ack(last_);
        has_last_ = false;
      }
      return true;
    case kind::repeat:
      stack_.push_back({&st.steps, 0, st.times, st.until_stage_end, stage_epoch_});
      return true;
    case kind::chance:
      if (ctx.random_unit() < st.probability)
        stack_.push_back({&st.steps, 0, 1, false, 0});
      else if (!st.otherwise.empty())
        stack_.push_back({&st.otherwise, 0, 1, false, 0});
      return true;
    case kind::reconnect:
      ctx.count("reconnects");
      ctx.restart_session();
      stack_.clear();
      return false;
    }
    return true;
  }

  /// Renders a step template: {user} {member} {room} {seq} {timestamp} {random} {created_at}
  /// {data.COLUMN}; anything else in braces is text.
  std::string render(behaviour_context& ctx, const std::string& text) {
    std::string out;
    out.reserve(text.size() + 32);
    bool counted = false;
    for (std::size_t i = 0; i < text.size();) {
      if (text[i] != '{') {
        out += text[i++];
        continue;
      }
      auto close = text.find('}', i);
      if (close == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      std::string_view word{text.data() + i + 1, close - i - 1};
      using namespace std::chrono;
      if (word == "user")
        out += std::to_string(ctx.user_index());
      else if (word == "member")
        out += std::to_string(ctx.member_id());
      else if (word == "room")
        out += std::to_string(ctx.room());
      else if (word == "seq") {
        if (!counted) {
          ++seq_;
          counted = true;
        }
        out += std::to_string(seq_);
      } else if (word == "timestamp")
        out += std::to_string(
            duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
      else if (word == "random")
        out += std::to_string(ctx.random() % 1000000);
      else if (word == "created_at")
        out += iso8601_now();
      else if (word.substr(0, 5) == "data." && !entry_->data_rows.empty()) {
        auto col =
            std::find(entry_->data_columns.begin(), entry_->data_columns.end(), word.substr(5)) -
            entry_->data_columns.begin();
        const auto& row = entry_->data_rows[ctx.behaviour_index() % entry_->data_rows.size()];
        if (static_cast<std::size_t>(col) < row.size())
          out += row[static_cast<std::size_t>(col)];
      } else {
        out.append(text, i, close - i + 1);
      }
      i = close + 1;
    }
    return out;
  }

  std::shared_ptr<const config::behaviour_entry> entry_;
  std::vector<frame> stack_;
  const config::step* waiting_ = nullptr;
  behaviour_context::clock::time_point wait_started_{};
  timer_id timer_ = 0;
  std::vector<std::pair<std::string, std::string>> subscriptions_;
  stored_message last_;
  bool has_last_ = false;
  std::uint64_t seq_ = 0;
  /// The entry's wait steps, and messages kept for them.
  std::vector<const config::step*> waits_;
  std::vector<kept_message> kept_;
  /// Stage changes seen by this session.
  std::uint64_t stage_epoch_ = 0;
};

} // namespace

behaviour_factory make_steps_factory(std::shared_ptr<const config::behaviour_entry> entry) {
  return [entry](behaviour_context&) { return std::make_unique<steps_behaviour>(entry); };
}

} // namespace stompede
