#include "protocol/stomp_client.hpp"
