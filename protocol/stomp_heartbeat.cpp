#include "protocol/stomp_heartbeat.hpp"
