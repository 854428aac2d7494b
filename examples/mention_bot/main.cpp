// stompede with one more behaviour: register it, then run the ordinary command line.
//   stompede-mention-bot run examples/mention_bot/scenario.toml
#include "app/cli.hpp"
#include "mention_bot.hpp"

int main(int argc, char** argv) {
  stompede::register_behaviour(mention_bot_behaviour());
  return stompede::cli_main(argc, argv);
}
