// A chat user who now and then mentions another member of its room with a question
// ("@member-7 ping Q3.12"), answers whoever mentions it, and times how long its own questions
// take to be answered. Everything it does goes through the behaviour_context.

#include "mention_bot.hpp"

#include <charconv>
#include <map>
#include <string>

namespace {

using namespace stompede;
using namespace std::chrono;

/// Reads the number at the start of `s`; false when there is none.
bool number_at(std::string_view s, std::uint64_t& out) {
  return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{};
}

class mention_bot final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    ctx.deliver_room_messages(true); // this bot reads its room
    auto every = ctx.params().get_duration("every");
    // A random first question so that bots do not ask in lockstep; then drift-free.
    ctx.every(every, milliseconds{static_cast<std::int64_t>(
                         ctx.random() % static_cast<std::uint64_t>(every.count()))});
  }

  void on_timer(behaviour_context& ctx, const timer_event&) override {
    // With [rooms] mode "per_users", user i is in room i / room_size + 1: the members of our
    // room are the room_size member ids from the first one of the room.
    auto size = static_cast<std::uint64_t>(ctx.params().get_int("room_size"));
    auto first = ctx.member_id() - static_cast<std::int64_t>(ctx.user_index() % size);
    auto other = first + static_cast<std::int64_t>(ctx.random() % size);
    forget_old_questions(ctx);
    if (other == ctx.member_id())
      return;
    auto q = ++questions_;
    asked_[q] = ctx.now();
    ctx.say("@member-" + std::to_string(other) + " ping Q" + std::to_string(ctx.member_id()) + "." +
            std::to_string(q));
    ctx.count("questions");
  }

  void on_message(behaviour_context& ctx, const message_view& m) override {
    auto body = m.body();
    // Someone asks us: answer with their question's id.
    auto asked = "@member-" + std::to_string(ctx.member_id()) + " ping Q";
    if (auto at = body.find(asked); at != std::string_view::npos) {
      auto id = body.substr(at + asked.size());
      id = id.substr(0, id.find_first_not_of("0123456789."));
      ctx.say("answer A" + std::string{id});
      ctx.count("answers");
      return;
    }
    // An answer to one of our questions: how long it took.
    auto mine = "answer A" + std::to_string(ctx.member_id()) + ".";
    if (auto at = body.find(mine); at != std::string_view::npos) {
      std::uint64_t q = 0;
      if (!number_at(body.substr(at + mine.size()), q))
        return;
      if (auto it = asked_.find(q); it != asked_.end()) {
        ctx.record_latency("answer", duration_cast<microseconds>(ctx.now() - it->second));
        asked_.erase(it);
      }
    }
  }

  // The session ends (the run's end, a ramp down, a failure): the questions still waiting are
  // unanswered too, so that every question is counted once, as timed or as unanswered.
  void on_before_disconnect(behaviour_context& ctx) override {
    give_up_all(ctx);
  }
  void on_error(behaviour_context& ctx, std::error_code) override {
    give_up_all(ctx);
  }

private:
  void give_up_all(behaviour_context& ctx) {
    if (!asked_.empty())
      ctx.count("unanswered", asked_.size());
    asked_.clear();
  }

  /// Questions unanswered for 30 s are given up (and counted), so the map stays small.
  void forget_old_questions(behaviour_context& ctx) {
    while (!asked_.empty() && ctx.now() - asked_.begin()->second > seconds{30}) {
      asked_.erase(asked_.begin());
      ctx.count("unanswered");
    }
  }

  std::uint64_t questions_ = 0;
  std::map<std::uint64_t, behaviour_context::clock::time_point> asked_;
};

} // namespace

stompede::behaviour_info mention_bot_behaviour() {
  return {"mention_bot",
          "mentions room members with questions, answers mentions, times the answers",
          {{"every", stompede::param_type::duration, "2s", "time between questions"},
           {"room_size", stompede::param_type::integer, "100",
            "members per room (the scenario's [rooms] members_per_room)"}},
          [](stompede::behaviour_context&) { return std::make_unique<mention_bot>(); }};
}
