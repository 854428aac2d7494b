#pragma once

// mention_bot: a custom behaviour written the way a stompede user writes one.

#include "actors/behaviours/registry.hpp"

/// The behaviour's name, parameters and factory, ready for stompede::register_behaviour.
stompede::behaviour_info mention_bot_behaviour();
