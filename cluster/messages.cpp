#include "cluster/messages.hpp"

#include "actors/metrics_actor.hpp" // worker_delta and its field lists
#include "actors/supervisor.hpp"    // supervisor_stats

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

namespace stompede::cluster {

void configure_link(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.add_message_type<worker_plan>("stompede::worker_plan");
  cfg.add_message_type<worker_delta>("stompede::worker_delta");
  cfg.add_message_type<supervisor_stats>("stompede::supervisor_stats");
}

} // namespace stompede::cluster
