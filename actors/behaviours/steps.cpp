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
      : entry_(std::move(e)) {}

  void on_connected(behaviour_context& ctx) override {
    stack_.push_back({&entry_->steps, 0, 1});
    run(ctx);
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
    if (waiting_ == nullptr || !matches(*waiting_, m))
      return;
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
  };

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

  void stop_waiting(behaviour_context& ctx) {
    waiting_ = nullptr;
    ctx.deliver_room_messages(false);
  }

  /// Runs steps until one blocks (sleep, wait), the steps end, or a bounded number of steps
  /// ran (a loop without any blocking step then continues on the next turn of the IO thread).
  void run(behaviour_context& ctx) {
    for (int budget = 256; budget > 0; --budget) {
      if (stack_.empty())
        return; // done: the session stays connected, listening, until the stage ends
      auto& f = stack_.back();
      if (f.pc >= f.steps->size()) {
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
      waiting_ = &st;
      wait_started_ = ctx.now();
      ctx.deliver_room_messages(true);
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
      stack_.push_back({&st.steps, 0, st.times});
      return true;
    case kind::chance:
      if (ctx.random_unit() < st.probability)
        stack_.push_back({&st.steps, 0, 1});
      else if (!st.otherwise.empty())
        stack_.push_back({&st.otherwise, 0, 1});
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
};

} // namespace

behaviour_factory make_steps_factory(std::shared_ptr<const config::behaviour_entry> entry) {
  return [entry](behaviour_context&) { return std::make_unique<steps_behaviour>(entry); };
}

} // namespace stompede
